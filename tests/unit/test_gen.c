/*
 * Unit tests of lib/gen: scale parsing, byte-for-byte determinism, exact
 * row counts, the demo story's presence and shape, and the --dirty faults.
 * Each test generates into its own temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <zlib.h>

#include "fixture.h"
#include "gen/gen.h"

static void make_tmp(char *out, size_t n) {
  const char *t = getenv("TMPDIR");
  snprintf(out, n, "%s/custos-gen-XXXXXX", t && *t ? t : "/tmp");
  assert_non_null(mkdtemp(out));
}

static void gen(const char *out, uint64_t seed, uint64_t rows, bool dirty,
                cu_gen_stats *st) {
  cu_gen_opts o;
  memset(&o, 0, sizeof o);
  o.seed = seed;
  o.rows = rows;
  o.scale_name = "test";
  o.out = out;
  o.dirty = dirty;
  o.force = true; /* mkdtemp made it */
  custos_diag d;
  custos_diag_clear(&d);
  custos_rc rc = cu_gen_run(&o, st, &d);
  if (rc != CUSTOS_OK) {
    char line[2048];
    fprintf(stderr, "%s\n", custos_diag_format(&d, line, sizeof line));
  }
  assert_int_equal(rc, CUSTOS_OK);
}

/* Whole file (gunzipped when it ends in .gz) into a new string. */
static char *slurp(const char *dir, const char *rel, size_t *len) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, rel);
  gzFile g = gzopen(path, "rb");
  if (!g)
    return NULL;
  size_t cap = 1 << 16, n = 0;
  char *p = malloc(cap + 1);
  assert_non_null(p);
  for (;;) {
    if (n == cap) {
      cap *= 2;
      p = realloc(p, cap + 1);
      assert_non_null(p);
    }
    int k = gzread(g, p + n, (unsigned)(cap - n));
    assert_true(k >= 0);
    if (k == 0)
      break;
    n += (size_t)k;
  }
  gzclose(g);
  p[n] = '\0';
  if (len)
    *len = n;
  return p;
}

static json_t *manifest(const char *dir) {
  char *text = slurp(dir, "MANIFEST.json", NULL);
  assert_non_null(text);
  json_error_t e;
  json_t *m = json_loads(text, 0, &e);
  free(text);
  assert_non_null(m);
  return m;
}

static void test_parse_scale(void **state) {
  (void)state;
  uint64_t rows = 0;
  custos_diag d;
  custos_diag_clear(&d);
  assert_int_equal(cu_gen_parse_scale("small", &rows, &d), CUSTOS_OK);
  assert_int_equal(rows, CU_GEN_ROWS_SMALL);
  assert_int_equal(cu_gen_parse_scale("huge", &rows, &d), CUSTOS_OK);
  assert_int_equal(rows, CU_GEN_ROWS_HUGE);
  assert_int_equal(cu_gen_parse_scale("50000", &rows, &d), CUSTOS_OK);
  assert_int_equal(rows, 50000);
  assert_int_equal(cu_gen_parse_scale("12", &rows, &d), CUSTOS_EINVAL);
  assert_int_equal(cu_gen_parse_scale("tiny", &rows, &d), CUSTOS_EINVAL);
  assert_int_equal(cu_gen_parse_scale("-5", &rows, &d), CUSTOS_EINVAL);
  assert_int_equal(cu_gen_parse_scale("", &rows, &d), CUSTOS_EINVAL);
  assert_string_equal(d.field, "scale");
}

static void test_deterministic(void **state) {
  (void)state;
  char a[512], b[512];
  make_tmp(a, sizeof a);
  make_tmp(b, sizeof b);
  cu_gen_stats sa, sb;
  gen(a, 7, CU_GEN_ROWS_SMALL, false, &sa);
  gen(b, 7, CU_GEN_ROWS_SMALL, false, &sb);
  assert_int_equal(sa.bytes, sb.bytes);
  json_t *ma = manifest(a), *mb = manifest(b);
  assert_true(json_equal(ma, mb));
  size_t i;
  json_t *f;
  json_array_foreach(json_object_get(ma, "files"), i, f) {
    const char *rel = json_string_value(json_object_get(f, "path"));
    char pa[4096], pb[4096];
    snprintf(pa, sizeof pa, "%s/%s", a, rel);
    snprintf(pb, sizeof pb, "%s/%s", b, rel);
    char *da = NULL, *db = NULL;
    size_t la = 0, lb = 0;
    custos_diag d;
    assert_int_equal(cu_file_read(pa, 1u << 30, &da, &la, &d), CUSTOS_OK);
    assert_int_equal(cu_file_read(pb, 1u << 30, &db, &lb, &d), CUSTOS_OK);
    assert_int_equal(la, lb);
    assert_int_equal(la, json_integer_value(json_object_get(f, "bytes")));
    assert_memory_equal(da, db, la);
    cu_free(da);
    cu_free(db);
  }
  /* A gzip member's header mtime (bytes 4..7) is zero. */
  char gzpath[4096];
  snprintf(gzpath, sizeof gzpath, "%s/usage/focus-2024-05.csv.gz", a);
  FILE *g = fopen(gzpath, "rb");
  assert_non_null(g);
  unsigned char hdr[10];
  assert_int_equal(fread(hdr, 1, 10, g), 10);
  fclose(g);
  assert_int_equal(hdr[0], 0x1f);
  assert_int_equal(hdr[1], 0x8b);
  assert_int_equal(hdr[4] | hdr[5] | hdr[6] | hdr[7], 0);
  json_decref(ma);
  json_decref(mb);

  /* Another seed gives another provider, with the same demo ids. */
  char c[512];
  make_tmp(c, sizeof c);
  gen(c, 8, CU_GEN_ROWS_SMALL, false, NULL);
  char *x = slurp(a, "directory/subscriptions.csv", NULL);
  char *y = slurp(c, "directory/subscriptions.csv", NULL);
  assert_string_not_equal(x, y);
  assert_non_null(strstr(y, CU_GEN_DEMO_SUB_SIG1));
  free(x);
  free(y);
  fixture_rm_tree(a);
  fixture_rm_tree(b);
  fixture_rm_tree(c);
}

static void test_row_counts(void **state) {
  (void)state;
  static const uint64_t targets[] = {CU_GEN_ROWS_MIN, 30011, 120000};
  for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
    char a[512];
    make_tmp(a, sizeof a);
    cu_gen_stats st;
    gen(a, 3, targets[t], false, &st);
    assert_int_equal(st.usage_rows, targets[t]);
    json_t *m = manifest(a);
    uint64_t sum = 0;
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(m, "files"), i, f) {
      const char *rel = json_string_value(json_object_get(f, "path"));
      if (strncmp(rel, "usage/", 6) == 0)
        sum += (uint64_t)json_integer_value(json_object_get(f, "rows"));
    }
    assert_int_equal(sum, targets[t]);
    assert_true(st.accounts >= 1990);
    json_decref(m);
    fixture_rm_tree(a);
  }
}

/* Sum of ConsumedQuantity (column 24, 1-based) over lines holding all of
 * the needles, as a double: good enough for a growth check. */
static double sum_qty(const char *text, const char *n1, const char *n2,
                      size_t *count) {
  double sum = 0;
  *count = 0;
  for (const char *p = text; p && *p;) {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    char line[4096];
    if (len < sizeof line) {
      memcpy(line, p, len);
      line[len] = '\0';
      if (strstr(line, n1) && strstr(line, n2)) {
        /* No quoted commas before column 24 in these rows. */
        char *q = line;
        for (int col = 1; col < 24 && q; col++) {
          q = strchr(q, ',');
          if (q)
            q++;
        }
        assert_non_null(q);
        sum += strtod(q, NULL);
        (*count)++;
      }
    }
    p = nl ? nl + 1 : NULL;
  }
  return sum;
}

static void test_demo_story(void **state) {
  (void)state;
  char a[512];
  make_tmp(a, sizeof a);
  gen(a, 11, CU_GEN_ROWS_SMALL, false, NULL);
  char *acc = slurp(a, "directory/accounts.csv", NULL);
  assert_non_null(strstr(acc, "\nacct-arv-mod,Ministry of Defence of the "
                              "Republic of Arvelia,XA,defence\n"));
  free(acc);
  char *units = slurp(a, "directory/units.csv", NULL);
  assert_non_null(strstr(units, "\narv-mod-hq,acct-arv-mod,,"));
  assert_non_null(strstr(units, "\narv-mod-sig,acct-arv-mod,arv-mod-hq,"
                                "Signals Directorate (Unit 8400)\n"));
  assert_non_null(strstr(units, "\narv-mod-cyb,acct-arv-mod,arv-mod-hq,"
                                "Cyber Defence Command\n"));
  free(units);
  char *subs = slurp(a, "directory/subscriptions.csv", NULL);
  assert_non_null(strstr(subs, CU_GEN_DEMO_SUB_SIG1 ",acct-arv-mod,"
                               "arv-mod-sig,"));
  assert_non_null(strstr(subs, CU_GEN_DEMO_SUB_CYB1 ",acct-arv-mod,"
                               "arv-mod-cyb,"));
  free(subs);

  /* Storage grows month after month in westeurope: the last month is far
   * above the first. */
  char *first = slurp(a, "usage/focus-2024-03.csv", NULL);
  char *last = slurp(a, "usage/focus-2025-08.csv.gz", NULL);
  assert_non_null(first);
  assert_non_null(last);
  size_t n1, n2;
  double q1 = sum_qty(first, CU_GEN_DEMO_SUB_SIG1,
                      "Azure Blob Storage,Object Storage", &n1);
  double q2 = sum_qty(last, CU_GEN_DEMO_SUB_SIG1,
                      "Azure Blob Storage,Object Storage", &n2);
  assert_int_equal(n1, 31);
  assert_int_equal(n2, 31);
  assert_true(q2 > 20 * q1);
  /* In GB-Month summed over a month: tens of TB at first. */
  assert_true(q1 > 10000 && q1 < 100000);
  size_t ns;
  sum_qty(last, CU_GEN_DEMO_SUB_SIG3, "Azure AI Speech", &ns);
  assert_int_equal(ns, 31);
  sum_qty(last, CU_GEN_DEMO_SUB_SIG3, "Azure AI Translator", &ns);
  assert_int_equal(ns, 31);
  sum_qty(last, CU_GEN_DEMO_SUB_CYB1, "Microsoft Sentinel", &ns);
  assert_true(ns >= 31);
  sum_qty(last, CU_GEN_DEMO_SUB_CYB2, "Microsoft Defender for Cloud", &ns);
  assert_int_equal(ns, 31);
  assert_non_null(strstr(last, "," CU_GEN_DEMO_SUB_SIG1 ",sig-archive-prod,"));
  free(first);
  free(last);

  char *al = slurp(a, "allegation.md", NULL);
  assert_int_equal(strncmp(al, "# Allegation: ", 14), 0);
  assert_non_null(strstr(al, "\nDate: 2025-08-06\n"));
  assert_non_null(strstr(al, "\n## Claims\n\n1. "));
  assert_non_null(strstr(al, "\n3. "));
  free(al);

  json_t *m = manifest(a);
  json_t *demo = json_object_get(m, "demo");
  assert_string_equal(json_string_value(json_object_get(demo, "account")),
                      CU_GEN_DEMO_ACCOUNT);
  json_decref(m);
  char *plan = slurp(a, "docs/account-plans/acct-arv-mod.md", NULL);
  assert_non_null(plan);
  free(plan);
  char *mbox = slurp(a, "mail/finance.mbox", NULL);
  assert_int_equal(strncmp(mbox, "From ", 5), 0);
  assert_non_null(strstr(mbox, "\n>From our side"));
  assert_non_null(strstr(mbox, "\n>>From our side"));
  assert_non_null(strstr(mbox, "charset=ISO-8859-1"));
  assert_non_null(strstr(mbox, "Subject: Re: =?UTF-8?B?"));
  free(mbox);
  fixture_rm_tree(a);
}

static void test_dirty(void **state) {
  (void)state;
  char a[512];
  make_tmp(a, sizeof a);
  cu_gen_stats st;
  gen(a, 7, CU_GEN_ROWS_SMALL, true, &st);
  assert_true(st.restated_rows > 0);
  assert_int_equal(st.usage_rows, CU_GEN_ROWS_SMALL + st.restated_rows);
  size_t n;
  char *bom = slurp(a, "usage/focus-2024-04.csv", &n);
  assert_int_equal(memcmp(bom, "\xEF\xBB\xBF", 3), 0);
  assert_non_null(strstr(bom, "\r\n"));
  free(bom);
  char *t = slurp(a, "usage/focus-2024-03.csv", NULL);
  assert_non_null(strstr(t, ",NULL,"));
  assert_true(strstr(t, ",GB-Months,") || strstr(t, ",GB/Month,") ||
              strstr(t, ",GB-Mo,"));
  assert_non_null(strstr(t, "E+0"));
  assert_non_null(strstr(t, ".000Z,"));
  assert_non_null(strstr(t, " 00:00:00,"));
  assert_non_null(strstr(t, ",\"\"\"env\"\""));
  free(t);
  char *r = slurp(a, "usage/focus-2025-06-restated.csv", NULL);
  assert_non_null(r);
  free(r);
  char *acc = slurp(a, "directory/accounts.csv", NULL);
  assert_int_equal(memcmp(acc, "\xEF\xBB\xBF", 3), 0);
  free(acc);
  fixture_rm_tree(a);
}

static void test_refuses_nonempty(void **state) {
  (void)state;
  char a[512], f[600];
  make_tmp(a, sizeof a);
  snprintf(f, sizeof f, "%s/keep.txt", a);
  FILE *fp = fopen(f, "w");
  assert_non_null(fp);
  fputs("x\n", fp);
  fclose(fp);
  cu_gen_opts o;
  memset(&o, 0, sizeof o);
  o.seed = 1;
  o.rows = CU_GEN_ROWS_SMALL;
  o.out = a;
  custos_diag d;
  custos_diag_clear(&d);
  assert_int_equal(cu_gen_run(&o, NULL, &d), CUSTOS_EEXIST);
  fixture_rm_tree(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_scale),
      cmocka_unit_test(test_deterministic),
      cmocka_unit_test(test_row_counts),
      cmocka_unit_test(test_demo_story),
      cmocka_unit_test(test_dirty),
      cmocka_unit_test(test_refuses_nonempty),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
