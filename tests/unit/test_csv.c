/*
 * Unit tests of the streaming CSV reader: RFC 4180 quoting, line ends, BOM,
 * gzip, caps, every error with its exact position, allocation failure at
 * every allocation, and a randomized write-then-read round trip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "core/csv.h"

/* ---- helpers ------------------------------------------------------------- */

/* Reads all of in[0..n) and renders it as "[unquoted]{quoted}" fields, one
 * record per line, into out (a growing malloc'd string the caller frees). */
static custos_rc dump_opts(const void *in, size_t n, const cu_csv_opts *o,
                           char **out, custos_diag *d) {
  cu_csv *c = NULL;
  custos_rc rc = cu_csv_open_mem("t.csv", in, n, o, &c, d);
  size_t cap = 256, len = 0;
  char *s = malloc(cap);
  assert_non_null(s);
  s[0] = '\0';
  while (rc == CUSTOS_OK) {
    bool eof;
    rc = cu_csv_next(c, &eof, d);
    if (rc != CUSTOS_OK || eof)
      break;
    for (size_t i = 0; i < cu_csv_nfields(c); i++) {
      size_t fl;
      const char *f = cu_csv_field(c, i, &fl);
      assert_int_equal(f[fl], '\0');
      while (len + fl + 4 > cap) {
        cap *= 2;
        s = realloc(s, cap);
        assert_non_null(s);
      }
      bool q = cu_csv_quoted(c, i);
      s[len++] = q ? '{' : '[';
      memcpy(s + len, f, fl);
      len += fl;
      s[len++] = q ? '}' : ']';
      s[len] = '\0';
    }
    s[len++] = '\n';
    s[len] = '\0';
  }
  cu_csv_close(c);
  *out = s;
  return rc;
}

static custos_rc dump(const char *in, char **out, custos_diag *d) {
  return dump_opts(in, strlen(in), NULL, out, d);
}

static void expect(const char *in, const char *want) {
  custos_diag d;
  custos_diag_clear(&d);
  char *got;
  custos_rc rc = dump(in, &got, &d);
  if (rc != CUSTOS_OK) {
    char msg[2048];
    fprintf(stderr, "%s\n", custos_diag_format(&d, msg, sizeof msg));
  }
  assert_int_equal(rc, CUSTOS_OK);
  assert_string_equal(got, want);
  free(got);
}

/* Expects in to fail with rc at line:column, and the formatted diag to
 * contain needle. */
static void expect_error_opts(const char *in, const cu_csv_opts *o,
                              custos_rc want, uint64_t line, uint64_t col,
                              const char *needle) {
  custos_diag d;
  custos_diag_clear(&d);
  char *got;
  custos_rc rc = dump_opts(in, strlen(in), o, &got, &d);
  free(got);
  char msg[2048];
  custos_diag_format(&d, msg, sizeof msg);
  if (rc != want || d.line != line || d.column != col ||
      (needle && !strstr(msg, needle)))
    fprintf(stderr, "input %s\n got rc %d: %s\n", in, rc, msg);
  assert_int_equal(rc, want);
  assert_int_equal(d.rc, want);
  assert_int_equal(d.line, line);
  assert_int_equal(d.column, col);
  assert_string_equal(d.input, "t.csv");
  assert_true(d.hint[0] != '\0');
  if (needle)
    assert_non_null(strstr(msg, needle));
}

static void expect_error(const char *in, custos_rc want, uint64_t line,
                         uint64_t col, const char *needle) {
  expect_error_opts(in, NULL, want, line, col, needle);
}

/* gzip-compresses in[0..n) as one member into a malloc'd buffer. */
static unsigned char *gzip_mem(const void *in, size_t n, size_t *outn) {
  z_stream z;
  memset(&z, 0, sizeof z);
  assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8,
                                Z_DEFAULT_STRATEGY),
                   Z_OK);
  size_t cap = deflateBound(&z, (uLong)n) + 64;
  unsigned char *out = malloc(cap);
  assert_non_null(out);
  z.next_in = (unsigned char *)(uintptr_t)in;
  z.avail_in = (uInt)n;
  z.next_out = out;
  z.avail_out = (uInt)cap;
  assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
  *outn = z.total_out;
  deflateEnd(&z);
  return out;
}

/* ---- RFC 4180 -------------------------------------------------------------
 */

static void test_basic(void **state) {
  (void)state;
  expect("a,b,c\n1,2,3\n", "[a][b][c]\n[1][2][3]\n");
  expect("", "");
  expect("x", "[x]\n");
  expect("a,b\nc,d", "[a][b]\n[c][d]\n");            /* no final newline */
  expect("a\n\nb\n", "[a]\n[]\n[b]\n");               /* empty line */
  expect(",\"\",\n", "[]{}[]\n");                     /* empty vs quoted "" */
  expect("a,\n", "[a][]\n");
  expect("a,", "[a][]\n");
  expect("\n", "[]\n");
}

static void test_quoted(void **state) {
  (void)state;
  expect("\"a,b\",\"say \"\"hi\"\"\",\"x\ny\"\n",
         "{a,b}{say \"hi\"}{x\ny}\n");
  expect("\"\"\"\"\n", "{\"}\n");
  expect("\"\"\"\"\"\"\n", "{\"\"}\n");
  expect("\"a\"\"\",b\n", "{a\"}[b]\n");
  expect("\"abc\"", "{abc}\n");                       /* at end of input */
  expect("\"\"", "{}\n");
  expect("\"a\",\"b\"\n\"c\"\n", "{a}{b}\n{c}\n");
}

static void test_crlf(void **state) {
  (void)state;
  expect("a,b\r\nc,d\r\n", "[a][b]\n[c][d]\n");
  expect("\"a\"\r\n\"b\"\r\n", "{a}\n{b}\n");
  expect("\"x\r\ny\"\r\nz\r\n", "{x\r\ny}\n[z]\n");
  expect("a\r\n\r\nb", "[a]\n[]\n[b]\n");
  expect("a,b\r", "[a][b]\n");                        /* CR at the end */
  expect("a\rb\n", "[a\rb]\n");                       /* lone CR is data */
}

static void test_bom(void **state) {
  (void)state;
  expect("\xef\xbb\xbf" "a,b\n", "[a][b]\n");
  expect("\xef\xbb\xbf", "");
  expect("\xef\xbb\xbf\r\n", "[]\n");
  expect_error("\xef\xbb", CUSTOS_EUTF8, 1, 1, NULL); /* half a BOM */
}

static void test_bom_position(void **state) {
  (void)state;
  const char *in = "\xef\xbb\xbfid,name\n";
  cu_csv *c;
  assert_int_equal(cu_csv_open_mem("t.csv", in, strlen(in), NULL, &c, NULL),
                   CUSTOS_OK);
  bool eof;
  assert_int_equal(cu_csv_next(c, &eof, NULL), CUSTOS_OK);
  assert_false(eof);
  assert_string_equal(cu_csv_field(c, 0, NULL), "id");
  uint64_t line, col;
  cu_csv_field_pos(c, 1, &line, &col);
  assert_int_equal(line, 1);
  assert_int_equal(col, 4);
  cu_csv_close(c);
}

static void test_utf8_valid(void **state) {
  (void)state;
  expect("caf\xc3\xa9,\xe6\x97\xa5\xe6\x9c\xac,\xf0\x9f\x98\x80\n",
         "[caf\xc3\xa9][\xe6\x97\xa5\xe6\x9c\xac][\xf0\x9f\x98\x80]\n");
  expect("\"\xc3\xa9,\xc3\xa9\"\n", "{\xc3\xa9,\xc3\xa9}\n");
  /* not checked when switched off */
  cu_csv_opts o;
  cu_csv_opts_default(&o);
  o.check_utf8 = false;
  char *got;
  assert_int_equal(dump_opts("a\xff,b\n", 5, &o, &got, NULL), CUSTOS_OK);
  assert_string_equal(got, "[a\xff][b]\n");
  free(got);
}

static void test_delim(void **state) {
  (void)state;
  cu_csv_opts o;
  cu_csv_opts_default(&o);
  o.delim = ';';
  char *got;
  const char *in = "a;\"b;c\";d,e\n";
  assert_int_equal(dump_opts(in, strlen(in), &o, &got, NULL), CUSTOS_OK);
  assert_string_equal(got, "[a]{b;c}[d,e]\n");
  free(got);
  o.delim = '"';
  cu_csv *c = NULL;
  assert_int_equal(cu_csv_open_mem("t.csv", in, 1, &o, &c, NULL),
                   CUSTOS_EINVAL);
  assert_null(c);
}

/* ---- positions ----------------------------------------------------------- */

static void test_positions(void **state) {
  (void)state;
  const char *in = "h1,h2\n\"multi\nline\",x\nlast,\"q\"\n"
                   "a,\"b\r\n\"\"c\"\"\",d,e\n";
  cu_csv *c;
  bool eof;
  uint64_t line, col;
  assert_int_equal(cu_csv_open_mem("t.csv", in, strlen(in), NULL, &c, NULL),
                   CUSTOS_OK);
  assert_string_equal(cu_csv_name(c), "t.csv");
  assert_int_equal(cu_csv_size(c), strlen(in));
  assert_int_equal(cu_csv_next(c, &eof, NULL), CUSTOS_OK);
  assert_int_equal(cu_csv_record(c), 1);
  assert_int_equal(cu_csv_line(c), 1);
  assert_int_equal(cu_csv_offset(c), 6);
  assert_int_equal(cu_csv_next(c, &eof, NULL), CUSTOS_OK);
  assert_int_equal(cu_csv_record(c), 2);
  assert_int_equal(cu_csv_line(c), 2);
  cu_csv_field_pos(c, 0, &line, &col);
  assert_int_equal(line, 2);
  assert_int_equal(col, 1);
  cu_csv_field_pos(c, 1, &line, &col);
  assert_int_equal(line, 3);
  assert_int_equal(col, 7);
  assert_int_equal(cu_csv_next(c, &eof, NULL), CUSTOS_OK);
  assert_int_equal(cu_csv_record(c), 3);
  assert_int_equal(cu_csv_line(c), 4);
  cu_csv_field_pos(c, 1, &line, &col);
  assert_int_equal(line, 4);
  assert_int_equal(col, 6);
  assert_int_equal(cu_csv_next(c, &eof, NULL), CUSTOS_OK);
  assert_int_equal(cu_csv_line(c), 5);
  const uint64_t want[][2] = {{5, 1}, {5, 3}, {6, 8}, {6, 10}};
  for (size_t i = 0; i < 4; i++) {
    cu_csv_field_pos(c, i, &line, &col);
    assert_int_equal(line, want[i][0]);
    assert_int_equal(col, want[i][1]);
  }
  assert_string_equal(cu_csv_field(c, 1, NULL), "b\r\n\"c\"");
  assert_int_equal(cu_csv_next(c, &eof, NULL), CUSTOS_OK);
  assert_true(eof);
  assert_int_equal(cu_csv_offset(c), strlen(in));
  /* eof is sticky */
  assert_int_equal(cu_csv_next(c, &eof, NULL), CUSTOS_OK);
  assert_true(eof);
  cu_csv_close(c);
}

/* ---- errors -------------------------------------------------------------- */

static void test_errors(void **state) {
  (void)state;
  expect_error("a,b\nc,\"de\nf\n", CUSTOS_EPARSE, 2, 3,
               "t.csv:2:3: field '2' value '\"de\\x0af\\x0a': unterminated");
  expect_error("\"", CUSTOS_EPARSE, 1, 1, "unterminated quoted field");
  expect_error("ab\"c\n", CUSTOS_EPARSE, 1, 3,
               "quote inside an unquoted field");
  expect_error("x,ab\"\n", CUSTOS_EPARSE, 1, 5, "field '2'");
  expect_error("\"ab\"c\n", CUSTOS_EPARSE, 1, 5,
               "unexpected text after a closing quote");
  expect_error("\"ab\" ,c\n", CUSTOS_EPARSE, 1, 5, NULL);
  expect_error("\"a\nb\"x\n", CUSTOS_EPARSE, 2, 3, NULL);
  expect_error("\"ab\"\rx\n", CUSTOS_EPARSE, 1, 5, NULL);
  expect_error("ok\nx,y\xff\n", CUSTOS_EUTF8, 2, 4,
               "t.csv:2:4: field '2' value 'y\\xff': invalid UTF-8 (");
  expect_error("ab\xc3", CUSTOS_EUTF8, 1, 3, NULL);       /* cut at end */
  expect_error("\xc0\xaf\n", CUSTOS_EUTF8, 1, 1, NULL);   /* overlong */
  expect_error("a\xe0\x80\x80\n", CUSTOS_EUTF8, 1, 2, NULL);
  expect_error("\xed\xa0\x80\n", CUSTOS_EUTF8, 1, 1, NULL); /* surrogate */
  expect_error("\xf4\x90\x80\x80\n", CUSTOS_EUTF8, 1, 1, NULL);
  expect_error("\xc3\xa9\xc3(\n", CUSTOS_EUTF8, 1, 3, NULL);
  expect_error("\"a\nb\xfe\"\n", CUSTOS_EUTF8, 2, 2, NULL); /* in quotes */
}

static void test_error_is_sticky(void **state) {
  (void)state;
  const char *in = "a\"b\nc\n";
  cu_csv *c;
  bool eof;
  assert_int_equal(cu_csv_open_mem("t.csv", in, strlen(in), NULL, &c, NULL),
                   CUSTOS_OK);
  assert_int_equal(cu_csv_next(c, &eof, NULL), CUSTOS_EPARSE);
  assert_int_equal(cu_csv_nfields(c), 0);
  assert_int_equal(cu_csv_next(c, &eof, NULL), CUSTOS_EINVAL);
  cu_csv_close(c);
  assert_int_equal(cu_csv_next(NULL, &eof, NULL), CUSTOS_EINVAL);
  cu_csv_close(NULL);
}

static void test_open_missing(void **state) {
  (void)state;
  custos_diag d;
  custos_diag_clear(&d);
  cu_csv *c = (cu_csv *)&d;
  assert_int_equal(cu_csv_open("no/such/file.csv", NULL, &c, &d),
                   CUSTOS_ENOTFOUND);
  assert_null(c);
  assert_string_equal(d.input, "no/such/file.csv");
}

/* ---- caps ---------------------------------------------------------------- */

static void test_caps(void **state) {
  (void)state;
  cu_csv_opts o;
  cu_csv_opts_default(&o);
  o.max_field = 3;
  expect_error_opts("abc,de\nx,abcd\n", &o, CUSTOS_ETOOBIG, 2, 3,
                    "max_field (3 bytes)");
  expect_error_opts("\"a\"\"b\"\n\"abcd\"", &o, CUSTOS_ETOOBIG, 2, 1,
                    "max_field (3 bytes)");
  cu_csv_opts_default(&o);
  o.max_record = 10;
  expect_error_opts("1,2\naaaa,bbbb,cccc\n", &o, CUSTOS_ETOOBIG, 2, 1,
                    "max_record (10 bytes)");
  char *got;
  const char *in = "0123456789\r\n0123456789";
  assert_int_equal(dump_opts(in, strlen(in), &o, &got, NULL), CUSTOS_OK);
  assert_string_equal(got, "[0123456789]\n[0123456789]\n");
  free(got);
  cu_csv_opts_default(&o);
  o.max_fields = 2;
  expect_error_opts("a,b\nc,d,e\n", &o, CUSTOS_ETOOBIG, 2, 5,
                    "max_fields (2)");
}

/* A field larger than the initial read buffer still works up to the cap,
 * and an endless one fails early without reading everything. */
static void test_big_field(void **state) {
  (void)state;
  size_t n = (size_t)3 << 20;
  char *in = malloc(n + 16);
  assert_non_null(in);
  memcpy(in, "a,\"", 3);
  memset(in + 3, 'x', n);
  memcpy(in + 3 + n, "\",b\nc\n", 6);
  cu_csv_opts o;
  cu_csv_opts_default(&o);
  o.max_field = n;
  cu_csv *c;
  bool eof;
  size_t fl;
  assert_int_equal(cu_csv_open_mem("big.csv", in, n + 9, &o, &c, NULL),
                   CUSTOS_OK);
  assert_int_equal(cu_csv_next(c, &eof, NULL), CUSTOS_OK);
  assert_int_equal(cu_csv_nfields(c), 3);
  assert_non_null(cu_csv_field(c, 1, &fl));
  assert_int_equal(fl, n);
  assert_string_equal(cu_csv_field(c, 2, NULL), "b");
  assert_int_equal(cu_csv_next(c, &eof, NULL), CUSTOS_OK);
  assert_string_equal(cu_csv_field(c, 0, NULL), "c");
  cu_csv_close(c);

  /* one unterminated quote in front of megabytes: bounded by the caps */
  o.max_field = 1000;
  o.max_record = 2000;
  custos_diag d;
  custos_diag_clear(&d);
  memset(in, 'y', n);
  in[0] = '"';
  assert_int_equal(cu_csv_open_mem("big.csv", in, n, &o, &c, &d), CUSTOS_OK);
  assert_int_equal(cu_csv_next(c, &eof, &d), CUSTOS_ETOOBIG);
  assert_int_equal(d.line, 1);
  assert_int_equal(d.column, 1);
  assert_true(cu_csv_offset(c) < 10000);
  cu_csv_close(c);
  free(in);
}

/* ---- gzip ---------------------------------------------------------------- */

static char tmpdir[64];

static int setup_tmp(void **state) {
  (void)state;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/custos-csv-XXXXXX");
  return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmp(void **state) {
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  return system(cmd);
}

static void test_gzip_file(void **state) {
  (void)state;
  char path[128];
  snprintf(path, sizeof path, "%s/usage.csv.gz", tmpdir);
  /* two members, as `cat a.gz b.gz` makes */
  gzFile g = gzopen(path, "wb");
  assert_non_null(g);
  assert_true(gzputs(g, "\xef\xbb\xbfid,cost\n1,\"2,5\"\n") > 0);
  assert_int_equal(gzclose(g), Z_OK);
  g = gzopen(path, "ab");
  assert_non_null(g);
  assert_true(gzputs(g, "2,3\n") > 0);
  assert_int_equal(gzclose(g), Z_OK);

  cu_csv *c;
  custos_diag d;
  custos_diag_clear(&d);
  bool eof;
  assert_int_equal(cu_csv_open(path, NULL, &c, &d), CUSTOS_OK);
  assert_true(cu_csv_size(c) > 20);
  const char *want[] = {"id", "cost", "1", "2,5", "2", "3"};
  for (int r = 0; r < 3; r++) {
    assert_int_equal(cu_csv_next(c, &eof, &d), CUSTOS_OK);
    assert_false(eof);
    assert_int_equal(cu_csv_nfields(c), 2);
    assert_string_equal(cu_csv_field(c, 0, NULL), want[2 * r]);
    assert_string_equal(cu_csv_field(c, 1, NULL), want[2 * r + 1]);
  }
  assert_int_equal(cu_csv_next(c, &eof, &d), CUSTOS_OK);
  assert_true(eof);
  assert_int_equal(cu_csv_offset(c), cu_csv_size(c));
  cu_csv_close(c);

  /* the same content plain, from a file */
  snprintf(path, sizeof path, "%s/plain.csv", tmpdir);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  fputs("a,b\n", f);
  fclose(f);
  assert_int_equal(cu_csv_open(path, NULL, &c, &d), CUSTOS_OK);
  assert_int_equal(cu_csv_next(c, &eof, &d), CUSTOS_OK);
  assert_string_equal(cu_csv_field(c, 1, NULL), "b");
  assert_int_equal(cu_csv_offset(c), 4);
  assert_int_equal(cu_csv_size(c), 4);
  cu_csv_close(c);
}

static void test_gzip_mem(void **state) {
  (void)state;
  const char *in = "x,\"y\ny\"\n";
  size_t gn;
  unsigned char *gz = gzip_mem(in, strlen(in), &gn);
  char *got;
  custos_diag d;
  custos_diag_clear(&d);
  assert_int_equal(dump_opts(gz, gn, NULL, &got, &d), CUSTOS_OK);
  assert_string_equal(got, "[x]{y\ny}\n");
  free(got);

  /* truncated */
  assert_int_equal(dump_opts(gz, gn - 5, NULL, &got, &d), CUSTOS_EIO);
  assert_non_null(strstr(d.msg, "gzip"));
  free(got);
  /* corrupt */
  gz[gn / 2] ^= 0x55;
  gz[gn / 2 + 1] ^= 0x55;
  assert_int_equal(dump_opts(gz, gn, NULL, &got, &d), CUSTOS_EIO);
  free(got);
  /* only the magic */
  assert_int_equal(dump_opts("\x1f\x8b", 2, NULL, &got, &d), CUSTOS_EIO);
  free(got);
  free(gz);
}

/* ---- allocation failure -------------------------------------------------- */

/* Every allocation of open and read fails in turn; each run must end in
 * ENOMEM (or success once enough allocations succeed) and leak nothing,
 * which the sanitizer checks at exit. */
static void alloc_loop(const void *in, size_t n, const cu_csv_opts *o,
                       const char *want) {
  for (long k = 0;; k++) {
    cu_alloc_fail_after(k);
    char *got;
    custos_diag d;
    custos_diag_clear(&d);
    custos_rc rc = dump_opts(in, n, o, &got, &d);
    cu_alloc_fail_after(-1);
    if (rc == CUSTOS_OK) {
      assert_string_equal(got, want);
      free(got);
      break;
    }
    assert_int_equal(rc, CUSTOS_ENOMEM);
    free(got);
    assert_true(k < 1000);
  }
}

static void test_alloc_failure(void **state) {
  (void)state;
  /* many fields, so the field array grows several times */
  char in[512], want[1024];
  size_t n = 0, w = 0;
  for (int i = 0; i < 100; i++) {
    n += (size_t)snprintf(in + n, sizeof in - n, "%s\"%d\"", i ? "," : "",
                          i % 10);
    w += (size_t)snprintf(want + w, sizeof want - w, "{%d}", i % 10);
  }
  in[n++] = '\n';
  want[w++] = '\n';
  want[w] = '\0';
  alloc_loop(in, n, NULL, want);
  cu_csv_opts o;
  cu_csv_opts_default(&o);
  o.max_record = 400; /* a small buffer that grows */
  alloc_loop(in, n, &o, want);
  size_t gn;
  unsigned char *gz = gzip_mem(in, n, &gn);
  alloc_loop(gz, gn, NULL, want);
  free(gz);
}

/* ---- randomized round trip ---------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint32_t rnd(uint32_t n) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state % n);
}

static void test_round_trip(void **state) {
  (void)state;
  static const char *const atoms[] = {"a", "b", "Z", "0", " ", ",", "\"",
                                      "\n", "\r", "\r\n", "\xc3\xa9",
                                      "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                                      ";", "\t", "''"};
  for (int iter = 0; iter < 200; iter++) {
    size_t cap = 1 << 16, n = 0, wn = 0;
    char *csv = malloc(cap), *want = malloc(2 * cap);
    assert_non_null(csv);
    assert_non_null(want);
    uint32_t nrec = 1 + rnd(60);
    const char *eol = rnd(2) ? "\r\n" : "\n";
    for (uint32_t r = 0; r < nrec; r++) {
      uint32_t nf = 1 + rnd(8);
      size_t rec_start = n;
      for (uint32_t f = 0; f < nf; f++) {
        char val[256];
        size_t vl = 0;
        uint32_t na = rnd(4) == 0 ? 0 : rnd(12);
        for (uint32_t a = 0; a < na; a++) {
          const char *at = atoms[rnd(rnd(2) ? 5 : CU_ARRAY_LEN(atoms))];
          memcpy(val + vl, at, strlen(at));
          vl += strlen(at);
        }
        val[vl] = '\0';
        bool special = strpbrk(val, ",\"\r\n") != NULL;
        /* an unquoted lone empty field is an empty line: same record */
        bool quote = special || rnd(5) == 0;
        if (f)
          csv[n++] = ',';
        if (quote) {
          csv[n++] = '"';
          for (size_t i = 0; i < vl; i++) {
            if (val[i] == '"')
              csv[n++] = '"';
            csv[n++] = val[i];
          }
          csv[n++] = '"';
        } else {
          memcpy(csv + n, val, vl);
          n += vl;
        }
        want[wn++] = quote ? '{' : '[';
        memcpy(want + wn, val, vl);
        wn += vl;
        want[wn++] = quote ? '}' : ']';
      }
      /* without a line end, a last record of one unquoted empty field
       * would be no record at all */
      if (r + 1 < nrec || rnd(2) || n == rec_start) {
        memcpy(csv + n, eol, strlen(eol));
        n += strlen(eol);
      }
      want[wn++] = '\n';
    }
    want[wn] = '\0';
    assert_true(n < cap);

    cu_csv_opts o;
    cu_csv_opts_default(&o);
    char *got;
    custos_diag d;
    custos_diag_clear(&d);
    for (int variant = 0; variant < 3; variant++) {
      if (variant == 1)
        o.max_record = 4096; /* a small buffer: many refills */
      custos_rc rc;
      if (variant == 2) {
        size_t gn;
        unsigned char *gz = gzip_mem(csv, n, &gn);
        rc = dump_opts(gz, gn, &o, &got, &d);
        free(gz);
      } else {
        rc = dump_opts(csv, n, &o, &got, &d);
      }
      if (rc != CUSTOS_OK) {
        char msg[2048];
        fprintf(stderr, "iter %d: %s\n", iter,
                custos_diag_format(&d, msg, sizeof msg));
      }
      assert_int_equal(rc, CUSTOS_OK);
      if (strcmp(got, want) != 0) {
        size_t i = 0;
        while (got[i] == want[i])
          i++;
        fprintf(stderr, "iter %d variant %d: differs at %zu: got '%.40s' "
                "want '%.40s'\n", iter, variant, i, got + i, want + i);
      }
      assert_string_equal(got, want);
      free(got);
    }
    free(csv);
    free(want);
  }
}


/* ---- the fast path against the careful scanner ------------------------- */

/* Appends to a growing string; fails the test when out of memory. */
static void sb_add(char **s, size_t *len, size_t *cap, const char *fmt, ...) {
  va_list ap;
  for (;;) {
    va_start(ap, fmt);
    int k = vsnprintf(*s + *len, *cap - *len, fmt, ap);
    va_end(ap);
    assert_true(k >= 0);
    if ((size_t)k < *cap - *len) {
      *len += (size_t)k;
      return;
    }
    *cap = *cap * 2 + (size_t)k;
    *s = realloc(*s, *cap);
    assert_non_null(*s);
  }
}

/* Whether field i is one of sel[0..nsel), or nsel is 0 (all fields). */
static bool selected(const int *sel, size_t nsel, size_t i) {
  if (nsel == 0 || i == 0)
    return true;
  for (size_t k = 0; k < nsel; k++)
    if ((size_t)sel[k] == i)
      return true;
  return false;
}

/* Records read where they lie in a mapping (raw_fields on a file) by
 * trace_src, as far as it can tell: their bytes lie at their file offset
 * from one page-aligned address. */
static size_t in_place;

/* Everything the reader says about in[0..n), or the file at path when not
 * NULL: each record's number, line, offset and fields (all, or with nsel
 * > 0 field 0 and those in sel, read after cu_csv_select) with their
 * quoting and position (unescaped here when the reader gives them
 * escaped, raw_fields), cu_csv_fields and cu_csv_record_bytes agreeing
 * with them, and the final error with its position, in one string the
 * caller frees. */
static char *trace_src(const char *path, const void *in, size_t n,
                       const cu_csv_opts *o, const int *sel, size_t nsel) {
  size_t len = 0, cap = 1024;
  char *s = malloc(cap);
  assert_non_null(s);
  s[0] = '\0';
  cu_csv *c = NULL;
  custos_diag d;
  custos_diag_clear(&d);
  custos_rc rc = path ? cu_csv_open(path, o, &c, &d)
                      : cu_csv_open_mem("t.csv", in, n, o, &c, &d);
  if (rc == CUSTOS_OK && nsel)
    rc = cu_csv_select(c, sel, nsel, &d);
  const bool raw = o && o->raw_fields;
  uint64_t prev_off = 0;
  char *un = NULL;
  while (rc == CUSTOS_OK) {
    bool eof;
    rc = cu_csv_next(c, &eof, &d);
    if (rc != CUSTOS_OK || eof)
      break;
    size_t nf = cu_csv_nfields(c), rn;
    bool one_line;
    const char *rb = cu_csv_record_bytes(c, &rn, &one_line);
    if (path && prev_off > 0 && ((uintptr_t)(rb - prev_off) & 4095) == 0)
      in_place++;
    prev_off = cu_csv_offset(c);
    sb_add(&s, &len, &cap, "#%llu@%llu+%llu:",
           (unsigned long long)cu_csv_record(c),
           (unsigned long long)cu_csv_line(c),
           (unsigned long long)cu_csv_offset(c));
    for (size_t i = 0; i < nf; i++) {
      if (!selected(sel, nsel, i))
        continue;
      size_t fl, vl;
      const char *f = cu_csv_field(c, i, &fl), *v;
      int idx = (int)i;
      uint64_t q, e, line, col;
      cu_csv_fields(c, &idx, 1, &v, &vl, &q, &e);
      assert_ptr_equal(v, f);
      assert_int_equal(vl, fl);
      /* cu_csv_fields_to says the same in the caller's slot, and
       * leaves the other slots alone */
      {
        const char *tv[8] = {0};
        size_t tl[8] = {0};
        uint64_t tq, te;
        int to = (int)(i % 8);
        cu_csv_fields_to(c, &idx, &to, 1, tv, tl, &tq, &te);
        assert_ptr_equal(tv[to], f);
        assert_int_equal(tl[to], fl);
        assert_true(tq == q << to && te == e << to);
        bool others = true;
        for (int k = 0; k < 8; k++)
          others = others && (k == to || (tv[k] == NULL && tl[k] == 0));
        assert_true(others);
      }
      assert_int_equal(q != 0, cu_csv_quoted(c, i));
      assert_int_equal(e != 0, cu_csv_escaped(c, i));
      assert_true(!e || (raw && q));
      assert_true(f >= rb && f + fl < rb + rn);
      if (!raw)
        assert_int_equal(f[fl], '\0');
      cu_csv_field_pos(c, i, &line, &col);
      if (one_line)
        assert_int_equal(col, (uint64_t)(f - rb) + 1 - (q != 0));
      if (e) {
        free(un);
        un = malloc(fl + 1);
        assert_non_null(un);
        size_t ul = cu_csv_unescape(un, f, fl);
        assert_true(ul < fl);
        f = un;
        fl = ul;
      }
      sb_add(&s, &len, &cap, "%s%.*s%s@%llu:%llu", q ? "{" : "[", (int)fl,
             f, q ? "}" : "]", (unsigned long long)line,
             (unsigned long long)col);
    }
    sb_add(&s, &len, &cap, "\n");
  }
  if (rc != CUSTOS_OK) {
    char msg[2048];
    sb_add(&s, &len, &cap, "error %d %s\n", (int)rc,
           custos_diag_format(&d, msg, sizeof msg));
  }
  free(un);
  cu_csv_close(c);
  return s;
}

/* The file at path read with selection sel (nsel fields) gives the same
 * trace copied, in place (raw_fields), in place with the narrow scan
 * and with the careful scanner; keep sets keep_buffers.  what names the
 * case when in place and copied differ. */
static void assert_mapped_modes(const char *path, bool keep, const int *sel,
                                size_t nsel, const char *what) {
  cu_csv_opts o;
  cu_csv_opts_default(&o);
  o.keep_buffers = keep;
  char *copied = trace_src(path, NULL, 0, &o, sel, nsel);
  o.raw_fields = true;
  char *direct = trace_src(path, NULL, 0, &o, sel, nsel);
  o.narrow_scan = true;
  char *narrow = trace_src(path, NULL, 0, &o, sel, nsel);
  o.raw_fields = false;
  o.slow_scan = true;
  char *slow = trace_src(path, NULL, 0, &o, sel, nsel);
  if (strcmp(direct, copied) != 0)
    fprintf(stderr, "%s: in place and copied differ\n", what);
  assert_string_equal(direct, copied);
  assert_string_equal(narrow, copied);
  assert_string_equal(slow, copied);
  free(copied);
  free(direct);
  free(narrow);
  free(slow);
}

static char *trace_sel(const void *in, size_t n, const cu_csv_opts *o,
                       const int *sel, size_t nsel) {
  return trace_src(NULL, in, n, o, sel, nsel);
}

/* Says the same of in with and without the fast path (both kinds: with
 * 32-byte vectors where the CPU has AVX2, and 16-byte ones), with the
 * default caps and with small ones, and the same of the selected fields when the
 * fast path makes only those (cu_csv_select). */
static void same_both_ways(const char *in, size_t n) {
  static const int sel_a[] = {2}, sel_b[] = {1, 3, 4}, sel_c[] = {5, 0, 19};
  static const struct {
    const int *cols;
    size_t n;
  } sels[] = {{NULL, 0}, {sel_a, 1}, {sel_b, 3}, {sel_c, 3}};
  for (int small = 0; small < 2; small++) {
    for (size_t k = 0; k < sizeof sels / sizeof sels[0]; k++) {
      cu_csv_opts o;
      cu_csv_opts_default(&o);
      if (small) {
        o.max_field = 70;
        o.max_record = 300;
        o.max_fields = 20;
      }
      char *fast = trace_sel(in, n, &o, sels[k].cols, sels[k].n);
      o.raw_fields = true; /* fields as they lie */
      char *raw = trace_sel(in, n, &o, sels[k].cols, sels[k].n);
      o.raw_fields = false;
      o.narrow_scan = true; /* the other fast path, where the CPU has AVX2 */
      char *narrow = trace_sel(in, n, &o, sels[k].cols, sels[k].n);
      o.slow_scan = true;
      char *slow = trace_sel(in, n, &o, sels[k].cols, sels[k].n);
      if (strcmp(fast, slow) != 0 || strcmp(narrow, slow) != 0 ||
          strcmp(raw, slow) != 0)
        fprintf(stderr,
                "input '%.*s' (selection %zu)\nfast:\n%s\nnarrow:\n%s\n"
                "raw:\n%s\nslow:\n%s\n",
                (int)n, in, k, fast, narrow, raw, slow);
      assert_string_equal(fast, slow);
      assert_string_equal(narrow, slow);
      assert_string_equal(raw, slow);
      free(fast);
      free(raw);
      free(narrow);
      free(slow);
    }
  }
}

static void test_fast_path(void **state) {
  (void)state;
  static const char *const cases[] = {
      "a,b\n",
      "a,\"b\"\r\n\"c\"\"d\",\n",
      "\"x\"\r,y\n",                    /* CR after a closing quote */
      "\"x\"\ry\n",
      "\"x\"y,z\n",                     /* text after a closing quote */
      "ab\"c,d\n",                      /* a quote inside a field */
      "\"a\nb\",c\nd,e\n",              /* a line break inside quotes */
      "\"unterminated,x\ny\n",
      "\xc3\xa9,\xe2\x82\xac,\xf0\x9f\x98\x80\n",
      "a,\xff\n",
      "a,\xe2\x82\n",
      "\"\xe2\x82\",b\n",
      "last,line,no,newline",
      "\"q\"",
      "\n\r\n,\n",
      "a\rb,c\r\n",
      "\"{\"\"k\"\":\"\"v\"\",\"\"k2\"\":\"\"v2\"\"}\",x\n",
      "\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\n",
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    same_both_ways(cases[i], strlen(cases[i]));

  /* Random records around the 64-byte windows, the caps and refills. */
  static const char *const atoms[] = {
      "a", "bc", "12.5", ",", ",", ",", "\"", "\"\"", "\"x,y\"", "\"\"\"\"",
      "\n", "\r\n", "\r", "\xc3\xa9", "\xff", "\xe2\x82", "\"p\nq\"",
      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "\"{\"\"k\"\":1}\""};
  static const char *const fields[] = {
      "", "a", "bc", "12.5", "\xc3\xa9", "\"x,y\"", "\"q\"\"r\"", "\"\"",
      "\"p\nq\"", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"};
  static const char *const seps[] = {",", ",", ",", ",", "\n", "\r\n"};
  char buf[4096];
  for (int iter = 0; iter < 3000; iter++) {
    size_t n = 0;
    int natoms = (int)rnd(120);
    bool plain = rnd(4) != 0;
    for (int k = 0; k < natoms; k++) {
      /* mostly well-formed records, now and then anything */
      const char *a =
          !plain ? atoms[rnd(sizeof atoms / sizeof atoms[0])]
          : k % 2 ? seps[rnd(sizeof seps / sizeof seps[0])]
                  : fields[rnd(sizeof fields / sizeof fields[0])];
      size_t al = strlen(a);
      if (n + al >= sizeof buf)
        break;
      memcpy(buf + n, a, al);
      n += al;
    }
    same_both_ways(buf, n);
  }
}

/* The fast path starts a record from the masks of the 64-byte window
 * that held the LF before it: records that start at every offset of a
 * window, several in one window, a record whose LF ends a window or
 * whose CR does, and faults (a stray quote, invalid UTF-8, a quote
 * left open) right after another record's LF, read as the careful
 * scanner reads them. */
static void test_fast_window(void **state) {
  (void)state;
  static const char *const tails[] = {
      "a,b\nc,d\ne,f\n\"g\",\"h\"\"i\"\n",
      "a\r\nb,c\r\n\"d\"\r\n",
      "a,b\nc\"d,e\n",
      "a,b\n\xc3\xa9,\xe2\x82\xac\n\xff,x\n",
      "a,b\n\"open,x\ny\n",
      "a,b\n\"x\"y,z\n",
      "\n\n,\n\"\"\n",
  };
  char in[512];
  for (size_t t = 0; t < sizeof tails / sizeof tails[0]; t++) {
    for (size_t lead = 0; lead < 70; lead++) {
      /* lead bytes of records before the tail, the last one's LF (or
       * CR LF) at lead - 1 */
      size_t n = 0;
      while (n < lead) {
        size_t k = lead - n > 30 ? 20 : lead - n;
        for (size_t j = 0; j + 1 < k; j++)
          in[n++] = j % 5 == 2 ? ',' : 'x';
        if (k >= 2 && t % 2)
          in[n - 1] = '\r';
        in[n++] = '\n';
      }
      size_t tl = strlen(tails[t]);
      memcpy(in + n, tails[t], tl);
      /* fewer variants than same_both_ways, as there are many inputs:
       * both fast paths, as they lie and made, against the careful
       * scanner */
      static const int sel1[] = {1};
      cu_csv_opts wo;
      cu_csv_opts_default(&wo);
      char *fast = trace_sel(in, n + tl, &wo, NULL, 0);
      wo.raw_fields = true;
      char *raw = trace_sel(in, n + tl, &wo, sel1, 1);
      wo.narrow_scan = true;
      char *narrow = trace_sel(in, n + tl, &wo, sel1, 1);
      wo.raw_fields = false;
      wo.narrow_scan = false;
      wo.slow_scan = true;
      char *slow = trace_sel(in, n + tl, &wo, NULL, 0);
      char *slow1 = trace_sel(in, n + tl, &wo, sel1, 1);
      assert_string_equal(fast, slow);
      assert_string_equal(raw, slow1);
      assert_string_equal(narrow, slow1);
      free(fast);
      free(raw);
      free(narrow);
      free(slow);
      free(slow1);
      /* and in place in a mapping, after 4 KiB of records so that the
       * reader is in the mapping by then */
      if (lead % 5 == 0) {
        char path[128];
        snprintf(path, sizeof path, "%s/window.csv", tmpdir);
        FILE *fp = fopen(path, "wb");
        assert_non_null(fp);
        for (int r = 0; r < 512; r++)
          fputs("1234567,\n", fp);
        assert_int_equal(fwrite(in, 1, n + tl, fp), n + tl);
        fclose(fp);
        assert_mapped_modes(path, false, sel1, 1, "window");
      }
    }
  }
}

/* Writes n bytes of records to path: mostly plain ones of random fields,
 * now and then anything (a line break inside quotes, a stray quote,
 * invalid UTF-8), so that a reader in place leaves the mapping and comes
 * back to it; the last bytes are whatever the cut leaves, or with end a
 * line break. */
static void write_records(const char *path, size_t n, int end) {
  static const char *const fields[] = {
      "", "a", "bc", "12.5", "\xc3\xa9", "\"x,y\"", "\"q\"\"r\"", "\"\"",
      "\"{\"\"k\"\":\"\"v\"\"}\"", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"};
  static const char *const odd[] = {"\"p\nq\"", "a\"b", "\xff", "\"x\"y"};
  char *buf = malloc(n + 64);
  assert_non_null(buf);
  size_t k = 0;
  while (k < n) {
    int nf = 1 + (int)rnd(24);
    for (int i = 0; i < nf && k < n; i++) {
      const char *a = rnd(30000) == 0 ? odd[rnd(4)] : fields[rnd(10)];
      size_t al = strlen(a);
      memcpy(buf + k, a, al);
      k += al;
      buf[k++] = i + 1 < nf ? ',' : '\n';
    }
  }
  if (end && n)
    buf[n - 1] = '\n';
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(buf, 1, n, f), n);
  fclose(f);
  free(buf);
}

/* A mapped file read in place (raw_fields with a selection) gives the
 * records, fields, positions and errors it gives when copied, and when
 * parsed with the careful scanner, whatever its size: records end right
 * at, before and after the end of a page-aligned mapping. */
static void test_raw_mapped(void **state) {
  (void)state;
  static const size_t sizes[] = {1,          4095,        4096,
                                 4097,       17 * 4096 - 1, 17 * 4096,
                                 17 * 4096 + 1, 33 * 4096 - 1, 33 * 4096,
                                 33 * 4096 + 1, 300 * 4096 - 1, 300 * 4096 + 1};
  static const int sel_b[] = {1, 3, 4}, sel_c[] = {5, 0, 19};
  char path[128];
  snprintf(path, sizeof path, "%s/mapped.csv", tmpdir);
  in_place = 0;
  for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
    for (int v = 0; v < 4; v++) {
      write_records(path, sizes[z], v & 1);
      for (int k = 0; k < 2; k++) {
        const int *sel = k ? sel_c : sel_b;
        char what[64];
        snprintf(what, sizeof what, "size %zu variant %d", sizes[z], v);
        assert_mapped_modes(path, v >= 2, sel, 3, what);
      }
    }
  }
  /* The larger files were read in place for the most part. */
  assert_true(in_place > 10000);
}

/* A selection: the selected fields of a wide record as without one, the
 * others left as they lie; bad columns refused; n 0 gives all again. */
static void test_select(void **state) {
  (void)state;
  char in[2048];
  size_t n = 0;
  for (int rec = 0; rec < 3; rec++) {
    for (int i = 0; i < 59; i++)
      n += (size_t)snprintf(in + n, sizeof in - n, "%s%s", i ? "," : "",
                            i % 7 == 3 ? "\"a,\"\"b\"" : i % 5 ? "v" : "");
    n += (size_t)snprintf(in + n, sizeof in - n, "\n");
  }
  cu_csv *c = NULL;
  custos_diag d;
  custos_diag_clear(&d);
  assert_int_equal(cu_csv_open_mem("w.csv", in, n, NULL, &c, &d), CUSTOS_OK);
  int bad[] = {-1};
  assert_int_equal(cu_csv_select(c, bad, 1, &d), CUSTOS_EINVAL);
  bad[0] = 4096;
  assert_int_equal(cu_csv_select(c, bad, 1, &d), CUSTOS_EINVAL);
  int cols[] = {58, 3, 10};
  assert_int_equal(cu_csv_select(c, cols, 3, &d), CUSTOS_OK);
  bool eof;
  assert_int_equal(cu_csv_next(c, &eof, &d), CUSTOS_OK);
  assert_int_equal(cu_csv_nfields(c), 59);
  const char *v[3];
  size_t len[3];
  uint64_t q;
  cu_csv_fields(c, cols, 3, v, len, &q, NULL);
  assert_string_equal(v[0], "v");
  assert_string_equal(v[1], "a,\"b");
  assert_string_equal(v[2], "a,\"b");
  assert_int_equal(q, 6);
  /* the same put in the caller's slots */
  {
    const char *tv[40] = {0};
    size_t tl[40] = {0};
    int to[] = {33, 0, 7};
    uint64_t tq, te;
    cu_csv_fields_to(c, cols, to, 3, tv, tl, &tq, &te);
    assert_string_equal(tv[33], "v");
    assert_string_equal(tv[0], "a,\"b");
    assert_string_equal(tv[7], "a,\"b");
    assert_int_equal(tl[33], 1);
    assert_int_equal(tl[0], 4);
    assert_int_equal(tl[7], 4);
    assert_int_equal(tq, (1u << 0) | (1u << 7));
    assert_int_equal(te, 0); /* made unescaped: no raw_fields */
    assert_null(tv[1]);
  }
  assert_string_equal(cu_csv_field(c, 0, NULL), "");
  /* field 4 ("v" after field 3's closing quote and comma) was not made:
   * the delimiter after it is still in place */
  size_t rn;
  const char *rb = cu_csv_record_bytes(c, &rn, NULL);
  assert_int_equal(rb[v[1] - rb + len[1] + 3], 'v');
  assert_int_equal(rb[v[1] - rb + len[1] + 4], ',');
  assert_int_equal(cu_csv_select(c, NULL, 0, &d), CUSTOS_OK);
  assert_int_equal(cu_csv_next(c, &eof, &d), CUSTOS_OK);
  assert_string_equal(cu_csv_field(c, 4, NULL), "v");
  assert_string_equal(cu_csv_field(c, 17, NULL), "a,\"b");
  cu_csv_close(c);
}

/* With keep_buffers, records stay where they were read until their buffer
 * is released, across many refills (small caps make small buffers), and
 * read the same as without; so too read in place from a mapped file
 * (raw_fields), where the "buffers" are ranges of the mapping. */
static void test_keep_buffers(void **state) {
  (void)state;
  enum { NREC = 3000, LAG = 40 };
  size_t cap = 1 << 20, n = 0;
  char *in = malloc(cap);
  assert_non_null(in);
  char ys[100];
  memset(ys, 'y', sizeof ys);
  for (int i = 0; i < NREC; i++)
    n += (size_t)snprintf(in + n, cap - n,
                          i % 11 == 5 ? "%d,\"q\"\"%d\nx\",%.*s\n"
                                      : "%d,\"q\"\"%d\",%.*s\n",
                          i, i * 3, i % 97, ys);
  char path[128];
  snprintf(path, sizeof path, "%s/kept.csv", tmpdir);
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(in, 1, n, fp), n);
  fclose(fp);
  for (int release = 0; release < 3; release++) {
    const bool mapped = release == 2;
    cu_csv_opts o;
    cu_csv_opts_default(&o);
    o.max_record = 300;
    cu_csv *a, *b;
    custos_diag d;
    custos_diag_clear(&d);
    assert_int_equal(cu_csv_open_mem("k.csv", in, n, &o, &b, &d), CUSTOS_OK);
    o.keep_buffers = true;
    o.raw_fields = mapped;
    if (mapped)
      assert_int_equal(cu_csv_open(path, &o, &a, &d), CUSTOS_OK);
    else
      assert_int_equal(cu_csv_open_mem("k.csv", in, n, &o, &a, &d),
                       CUSTOS_OK);
    static const char *v[NREC];
    static size_t len[NREC];
    static char copy[NREC][160];
    static uint64_t buf[NREC];
    int cols[] = {1};
    assert_int_equal(cu_csv_select(a, cols, 1, &d), CUSTOS_OK);
    for (int i = 0; i < NREC; i++) {
      bool ea, eb;
      assert_int_equal(cu_csv_next(a, &ea, &d), CUSTOS_OK);
      assert_int_equal(cu_csv_next(b, &eb, &d), CUSTOS_OK);
      assert_false(ea || eb);
      uint64_t q, e;
      cu_csv_fields(a, cols, 1, &v[i], &len[i], &q, &e);
      assert_int_equal(q, 1);
      size_t lb;
      const char *fb = cu_csv_field(b, 1, &lb);
      char un[160];
      assert_true(len[i] < sizeof un);
      size_t ul = e ? cu_csv_unescape(un, v[i], len[i]) : len[i];
      assert_int_equal(e, mapped && i % 11 != 5); /* not the careful path's */
      assert_int_equal(ul, lb);
      assert_memory_equal(e ? un : v[i], fb, lb);
      assert_true(len[i] < sizeof copy[i]);
      memcpy(copy[i], v[i], len[i]);
      buf[i] = cu_csv_buffer(a);
      assert_true(i == 0 || buf[i] >= buf[i - 1]);
      int from = release && i >= LAG ? i - LAG : 0;
      if (release && i >= LAG)
        cu_csv_release(a, buf[from]);
      for (int k = from; k <= i; k++)
        assert_memory_equal(v[k], copy[k], len[k]);
    }
    assert_true(buf[NREC - 1] > 10); /* many buffers were used */
    bool eof;
    assert_int_equal(cu_csv_next(a, &eof, &d), CUSTOS_OK);
    assert_true(eof);
    cu_csv_close(a);
    cu_csv_close(b);
  }
  free(in);
}

/* A mapped file hashed where it lies gives the file's digest. */
static void test_mapped_sha256(void **state) {
  (void)state;
  char path[128];
  snprintf(path, sizeof path, "%s/hashed.csv", tmpdir);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  size_t n = 0;
  for (int i = 0; i < 20000; i++) {
    int k = fprintf(f, "%d,\"v\"\"%d\",x\n", i, i * 7);
    assert_true(k > 0);
    n += (size_t)k;
  }
  fclose(f);
  char *all = malloc(n);
  assert_non_null(all);
  f = fopen(path, "rb");
  assert_non_null(f);
  assert_int_equal(fread(all, 1, n, f), n);
  fclose(f);
  uint8_t want[CU_SHA256_LEN], got[CU_SHA256_LEN];
  cu_sha256(all, n, want);
  free(all);

  cu_csv_opts o;
  cu_csv_opts_default(&o);
  assert_int_equal(cu_sha256_init_async(&o.sha256), CUSTOS_OK);
  cu_csv *c;
  custos_diag d;
  custos_diag_clear(&d);
  assert_int_equal(cu_csv_open(path, &o, &c, &d), CUSTOS_OK);
  bool eof = false;
  size_t rows = 0;
  while (!eof) {
    assert_int_equal(cu_csv_next(c, &eof, &d), CUSTOS_OK);
    rows += !eof;
  }
  assert_int_equal(rows, 20000);
  assert_int_equal(cu_csv_offset(c), n);
  cu_sha256_final(o.sha256, got);
  cu_csv_close(c);
  assert_memory_equal(got, want, CU_SHA256_LEN);

  /* given up before the end: abort, then close */
  assert_int_equal(cu_sha256_init_async(&o.sha256), CUSTOS_OK);
  assert_int_equal(cu_csv_open(path, &o, &c, &d), CUSTOS_OK);
  assert_int_equal(cu_csv_next(c, &eof, &d), CUSTOS_OK);
  cu_sha256_abort(o.sha256);
  cu_csv_close(c);
}

/* Reads the n bytes at in with keep_buffers and keep_bytes keep,
 * letting go of the records older than lag behind; returns the
 * allocations the reading made (after the open). */
static long read_counting(const char *in, size_t n, size_t keep, int lag) {
  cu_csv_opts o;
  cu_csv_opts_default(&o);
  o.max_record = 300;
  o.keep_buffers = true;
  o.keep_bytes = keep;
  cu_csv *c;
  custos_diag d;
  custos_diag_clear(&d);
  assert_int_equal(cu_csv_open_mem("k.csv", in, n, &o, &c, &d), CUSTOS_OK);
  uint64_t seen[64];
  cu_alloc_fail_after(LONG_MAX);
  for (int i = 0;; i++) {
    bool eof;
    assert_int_equal(cu_csv_next(c, &eof, &d), CUSTOS_OK);
    if (eof)
      break;
    seen[i % 64] = cu_csv_buffer(c);
    if (i >= lag)
      cu_csv_release(c, seen[(i - lag) % 64]);
  }
  long made = cu_alloc_fail_after(-1);
  cu_csv_close(c);
  return made;
}

/* With keep_bytes, how many allocations a read makes does not depend on
 * how soon the caller lets records go (without, holding more records
 * takes more buffers). */
static void test_keep_bytes(void **state) {
  (void)state;
  size_t cap = 1 << 20, n = 0;
  char *in = malloc(cap);
  assert_non_null(in);
  for (int i = 0; i < 3000; i++)
    n += (size_t)snprintf(in + n, cap - n, "%d,\"q\"\"%d\",%*d\n", i, i * 3,
                          i % 97, i);
  enum { LAG = 40 };
  long early = read_counting(in, n, 0, 0), late = read_counting(in, n, 0, LAG);
  assert_true(late > early);
  size_t keep = (LAG + 1) * 300;
  assert_int_equal(read_counting(in, n, keep, 0),
                   read_counting(in, n, keep, LAG));
  free(in);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_basic),
      cmocka_unit_test(test_quoted),
      cmocka_unit_test(test_crlf),
      cmocka_unit_test(test_bom),
      cmocka_unit_test(test_bom_position),
      cmocka_unit_test(test_utf8_valid),
      cmocka_unit_test(test_delim),
      cmocka_unit_test(test_positions),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_error_is_sticky),
      cmocka_unit_test(test_open_missing),
      cmocka_unit_test(test_caps),
      cmocka_unit_test(test_big_field),
      cmocka_unit_test(test_gzip_file),
      cmocka_unit_test(test_gzip_mem),
      cmocka_unit_test(test_alloc_failure),
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_fast_path),
      cmocka_unit_test(test_fast_window),
      cmocka_unit_test(test_select),
      cmocka_unit_test(test_raw_mapped),
      cmocka_unit_test(test_mapped_sha256),
      cmocka_unit_test(test_keep_buffers),
      cmocka_unit_test(test_keep_bytes),
  };
  return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
