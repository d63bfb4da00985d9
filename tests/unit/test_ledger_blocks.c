/*
 * Unit tests of the ledger's packed daily rollups: blocks come back from
 * custos_rollups exactly as encoded (every int64), custos_pack_rollups
 * makes the same blob whatever its input order, malformed blobs are
 * reported as corrupt and never read outside (random ones too, under
 * ASan), a corrupt block makes a usage query fail with that message, and
 * the migration packs a workspace of the old row table into the blocks
 * an ingest writes, with every rollup and query result unchanged.  A
 * failure anywhere in the write phase (a failed insert, memory running
 * out on any of its threads) stores nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixture.h"

#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "directory/directory.h"
#include "gen/gen.h"
#include "ledger/ledgerInt.h"

static void check(custos_rc rc, const custos_diag *d) {
  if (rc != CUSTOS_OK) {
    char line[2048];
    fprintf(stderr, "%s\n", custos_diag_format(d, line, sizeof line));
  }
  assert_int_equal(rc, CUSTOS_OK);
}

/* A connection with only the ledger's SQL objects. */
static sqlite3 *mem_db(void) {
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
  custos_diag d;
  custos_diag_clear(&d);
  check(cu_ledger_on_open(db, &d), &d);
  return db;
}

/* A small deterministic generator (xorshift64*). */
static uint64_t rnd_state = 88172645463325252ULL;
static uint64_t rnd(void) {
  rnd_state ^= rnd_state >> 12;
  rnd_state ^= rnd_state << 25;
  rnd_state ^= rnd_state >> 27;
  return rnd_state * 2685821657736338717ULL;
}

/* An int64 of any size, extremes often. */
static int64_t any_i64(void) {
  static const int64_t edge[] = {0, 1, -1, INT64_MAX, INT64_MIN, 127, 128,
                                 -64, -65, 19800, 1000000000};
  uint64_t r = rnd();
  if (r % 4 == 0)
    return edge[(r >> 8) % (sizeof edge / sizeof edge[0])];
  int64_t v;
  uint64_t u = rnd() >> (r % 64);
  memcpy(&v, &u, sizeof v);
  return v;
}

/* Rollups that share dimension ids in runs, with days and amounts of any
 * int64 value. */
static void fill(cu_ledger_ru *v, size_t n) {
  for (size_t i = 0; i < n; i++) {
    for (int k = 0; k < CU_RU_NFIELDS; k++)
      v[i].v[k] = any_i64();
    if (i && rnd() % 3)
      memcpy(v[i].v, v[i - 1].v, CU_RU_DAY * sizeof v[i].v[0]);
  }
}

/* The rows custos_rollups gives for blob, in its order, into out (room
 * for max); returns how many, or -1 with the step's error in *rc. */
static long decode_sql(sqlite3 *db, const void *blob, size_t n,
                       cu_ledger_ru *out, size_t max, int *rc) {
  static const int field[] = {
      CU_RU_DAY,      CU_RU_SUB,       CU_RU_SERVICE,    CU_RU_METER,
      CU_RU_REGION,   CU_RU_QTY_UNIT,  CU_RU_CURRENCY,   CU_RU_CHARGE,
      CU_RU_QUANTITY, CU_RU_BILLED,    CU_RU_EFFECTIVE,  CU_RU_ROWS,
      CU_RU_FIRST_LINE, CU_RU_LAST_LINE};
  sqlite3_stmt *st = NULL;
  assert_int_equal(
      sqlite3_prepare_v2(db,
                         "SELECT day, subscription, service, meter, region,"
                         " qty_unit, currency, charge, quantity, billed,"
                         " effective, rows, first_line, last_line"
                         " FROM custos_rollups(?1)",
                         -1, &st, NULL),
      SQLITE_OK);
  sqlite3_bind_blob64(st, 1, blob, n, SQLITE_STATIC);
  long got = 0;
  int step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    if (out && (size_t)got < max)
      for (int c = 0; c < 14; c++)
        out[got].v[field[c]] = sqlite3_column_int64(st, c);
    got++;
  }
  *rc = step;
  sqlite3_finalize(st);
  return step == SQLITE_DONE ? got : -1;
}

static void test_roundtrip(void **state) {
  (void)state;
  sqlite3 *db = mem_db();
  static const size_t sizes[] = {0, 1, 2, 7, 100, 3000};
  cu_ledger_ru *v = calloc(3000, sizeof *v), *w = calloc(3000, sizeof *w);
  assert_non_null(v);
  assert_non_null(w);
  cu_buf b;
  cu_buf_init(&b, (size_t)1 << 24);
  for (int round = 0; round < 20; round++) {
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
      size_t n = sizes[s];
      fill(v, n);
      /* Any order encodes; the block keeps it. */
      assert_int_equal(cu_ledger_block_encode(v, n, &b), CUSTOS_OK);
      int rc;
      assert_int_equal(decode_sql(db, b.data, b.len, w, n, &rc), (long)n);
      assert_memory_equal(v, w, n * sizeof *v);
    }
  }
  /* The sorted order takes less room than 18 integers of a row. */
  size_t n = 3000;
  for (size_t i = 0; i < n; i++) {
    memset(&v[i], 0, sizeof v[i]);
    v[i].v[CU_RU_SUB] = 1000 + (int64_t)(i / 30);
    v[i].v[CU_RU_SERVICE] = 40;
    v[i].v[CU_RU_DAY] = 19800 + (int64_t)(i % 30);
    v[i].v[CU_RU_QUANTITY] = 24000000000;
    v[i].v[CU_RU_BILLED] = 46080000000;
    v[i].v[CU_RU_EFFECTIVE] = 46080000000;
    v[i].v[CU_RU_ROWS] = 24;
    v[i].v[CU_RU_FIRST_LINE] = 100000 + (int64_t)i;
    v[i].v[CU_RU_LAST_LINE] = 900000 + (int64_t)i;
  }
  assert_int_equal(cu_ledger_block_encode(v, n, &b), CUSTOS_OK);
  assert_true(b.len < n * 30);
  cu_buf_free(&b);
  free(v);
  free(w);
  sqlite3_close(db);
}

/* The block format as its comment in blocks.c states it, written a byte
 * at a time: what the encoder's word-at-a-time varints must equal. */
static size_t ref_varint(uint8_t *p, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    p[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  p[n++] = (uint8_t)v;
  return n;
}

static uint64_t ref_zigzag(int64_t v) {
  return ((uint64_t)v << 1) ^ (0 - ((uint64_t)v >> 63));
}

static size_t ref_encode(const cu_ledger_ru *v, size_t n, uint8_t *out) {
  size_t o = 0;
  out[o++] = 1;
  o += ref_varint(out + o, n);
  uint64_t prev = 0;
  for (size_t i = 0; i < n;) {
    size_t g = 1;
    while (i + g < n && memcmp(v[i].v, v[i + g].v,
                               CU_RU_DAY * sizeof v[i].v[0]) == 0)
      g++;
    o += ref_varint(out + o, g);
    for (int k = CU_RU_SUB; k < CU_RU_DAY; k++)
      o += ref_varint(out + o, (uint64_t)v[i].v[k]);
    for (size_t j = i; j < i + g; j++) {
      const int64_t *f = v[j].v;
      uint64_t day = (uint64_t)f[CU_RU_DAY], d = day - prev;
      int64_t sd, se;
      uint64_t e = (uint64_t)f[CU_RU_EFFECTIVE] - (uint64_t)f[CU_RU_BILLED];
      memcpy(&sd, &d, sizeof sd);
      memcpy(&se, &e, sizeof se);
      prev = day;
      o += ref_varint(out + o, ref_zigzag(sd));
      o += ref_varint(out + o, ref_zigzag(f[CU_RU_QUANTITY]));
      o += ref_varint(out + o, ref_zigzag(f[CU_RU_BILLED]));
      o += ref_varint(out + o, ref_zigzag(se));
      o += ref_varint(out + o, (uint64_t)f[CU_RU_ROWS]);
      o += ref_varint(out + o, (uint64_t)f[CU_RU_FIRST_LINE]);
      o += ref_varint(out + o, (uint64_t)f[CU_RU_LAST_LINE] -
                                   (uint64_t)f[CU_RU_FIRST_LINE]);
    }
    i += g;
  }
  return o;
}

/* The encoder's bytes are the format's, byte for byte: random rollups,
 * and every value at and around each power of two (each varint length
 * and its edges, both signs), also through the strided entry. */
static void test_encode_bytes(void **state) {
  (void)state;
  enum { N = 2000 };
  cu_ledger_ru *v = calloc(N, sizeof *v);
  uint8_t *ref = malloc((size_t)N * 200);
  struct {
    int64_t pad[3];
    cu_ledger_ru ru;
  } *wide = calloc(N, sizeof *wide);
  assert_non_null(v);
  assert_non_null(ref);
  assert_non_null(wide);
  cu_buf b, b2;
  cu_buf_init(&b, (size_t)1 << 24);
  cu_buf_init(&b2, (size_t)1 << 24);
  for (int round = 0; round < 40; round++) {
    size_t n = round == 0 ? 0 : 1 + rnd() % N;
    if (round % 2) {
      fill(v, n);
    } else {
      /* Values 2^k - 1, 2^k and 2^k + 1 and their negatives. */
      for (size_t i = 0; i < n; i++)
        for (int k = 0; k < CU_RU_NFIELDS; k++) {
          uint64_t u = ((uint64_t)1 << (rnd() % 64)) + (rnd() % 3) - 1;
          if (rnd() % 2)
            u = 0 - u;
          memcpy(&v[i].v[k], &u, sizeof u);
        }
    }
    size_t len = ref_encode(v, n, ref);
    assert_int_equal(cu_ledger_block_encode(v, n, &b), CUSTOS_OK);
    assert_int_equal(b.len, len);
    assert_memory_equal(b.data, ref, len);
    for (size_t i = 0; i < n; i++)
      wide[i].ru = v[i];
    assert_int_equal(cu_ledger_block_encode_stride(&wide[0].ru, sizeof *wide,
                                                   n, &b2),
                     CUSTOS_OK);
    assert_int_equal(b2.len, len);
    assert_memory_equal(b2.data, ref, len);
  }
  cu_buf_free(&b);
  cu_buf_free(&b2);
  free(wide);
  free(ref);
  free(v);
}

/* custos_int_rows gives the rows its pointer makes, and none for any
 * other value of its argument (SQL cannot make the pointer). */
static void int_row(const void *arg, size_t i, int64_t *v) {
  for (int c = 0; c < CU_LEDGER_ROWS_COLS; c++)
    v[c] = *(const int64_t *)arg * (int64_t)i + c;
}

static void test_int_rows(void **state) {
  (void)state;
  sqlite3 *db = mem_db();
  int64_t mult = 1000;
  cu_ledger_rows rows = {500, int_row, &mult};
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_prepare_v2(db,
                                      "SELECT count(*), sum(c0), sum(c23),"
                                      " max(c5) FROM custos_int_rows(?1)",
                                      -1, &st, NULL),
                   SQLITE_OK);
  sqlite3_bind_pointer(st, 1, &rows, CU_LEDGER_ROWS_PTR, NULL);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int64(st, 0), 500);
  assert_int_equal(sqlite3_column_int64(st, 1), 1000 * 499 * 500 / 2);
  assert_int_equal(sqlite3_column_int64(st, 2), 1000 * 499 * 500 / 2 + 23 * 500);
  assert_int_equal(sqlite3_column_int64(st, 3), 1000 * 499 + 5);
  sqlite3_reset(st);
  /* The same statement with an integer, a blob, a pointer of another
   * type: no rows. */
  sqlite3_bind_int64(st, 1, (sqlite3_int64)(intptr_t)&rows);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int64(st, 0), 0);
  sqlite3_reset(st);
  sqlite3_bind_blob(st, 1, &rows, sizeof rows, SQLITE_STATIC);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int64(st, 0), 0);
  sqlite3_reset(st);
  sqlite3_bind_pointer(st, 1, &rows, "something_else", NULL);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int64(st, 0), 0);
  sqlite3_finalize(st);
  /* Not from the schema: a view over it cannot be used. */
  assert_int_equal(sqlite3_exec(db, "CREATE VIEW v AS SELECT c0 FROM"
                                    " custos_int_rows(1)", NULL, NULL, NULL),
                   SQLITE_OK);
  assert_int_not_equal(sqlite3_exec(db, "SELECT * FROM v", NULL, NULL, NULL),
                       SQLITE_OK);
  sqlite3_close(db);
}

/* custos_pack_rollups sorts: the same rows in any order make the same
 * blob, the one cu_ledger_block_encode makes of them sorted. */
static void test_pack(void **state) {
  (void)state;
  sqlite3 *db = mem_db();
  enum { N = 500 };
  cu_ledger_ru *v = calloc(N, sizeof *v);
  assert_non_null(v);
  fill(v, N);
  assert_int_equal(sqlite3_exec(db,
                                "CREATE TABLE t(i, day, subscription, service,"
                                " meter, region, qty_unit, currency, charge,"
                                " quantity, billed, effective, rows,"
                                " first_line, last_line)",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_prepare_v2(db,
                                      "INSERT INTO t VALUES(?1,?2,?3,?4,?5,"
                                      "?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)",
                                      -1, &st, NULL),
                   SQLITE_OK);
  static const int field[] = {
      CU_RU_DAY,      CU_RU_SUB,       CU_RU_SERVICE,    CU_RU_METER,
      CU_RU_REGION,   CU_RU_QTY_UNIT,  CU_RU_CURRENCY,   CU_RU_CHARGE,
      CU_RU_QUANTITY, CU_RU_BILLED,    CU_RU_EFFECTIVE,  CU_RU_ROWS,
      CU_RU_FIRST_LINE, CU_RU_LAST_LINE};
  for (int i = 0; i < N; i++) {
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, (int64_t)(rnd() % 1000000));
    for (int c = 0; c < 14; c++)
      sqlite3_bind_int64(st, c + 2, v[i].v[field[c]]);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
  }
  sqlite3_finalize(st);
  qsort(v, N, sizeof *v, cu_ledger_ru_cmp);
  cu_buf b;
  cu_buf_init(&b, (size_t)1 << 24);
  assert_int_equal(cu_ledger_block_encode(v, N, &b), CUSTOS_OK);
  static const char *const orders[] = {"i", "i DESC", "first_line",
                                       "quantity DESC"};
  for (size_t o = 0; o < sizeof orders / sizeof orders[0]; o++) {
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT custos_pack_rollups(day, subscription, service, meter,"
             " region, qty_unit, currency, charge, quantity, billed,"
             " effective, rows, first_line, last_line) FROM"
             " (SELECT * FROM t ORDER BY %s)",
             orders[o]);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_bytes(st, 0), (int)b.len);
    assert_memory_equal(sqlite3_column_blob(st, 0), b.data, b.len);
    sqlite3_finalize(st);
  }
  /* A value that is not an integer is an error, not a guess. */
  assert_int_not_equal(
      sqlite3_exec(db,
                   "SELECT custos_pack_rollups(1.5, 1, 1, 1, 1, 1, 1, 1, 1, 1,"
                   " 1, 1, 1, 1)",
                   NULL, NULL, NULL),
      SQLITE_OK);
  cu_buf_free(&b);
  free(v);
  sqlite3_close(db);
}

/* Expects the block to be reported as corrupt. */
static void expect_corrupt(sqlite3 *db, const void *blob, size_t n) {
  int rc = SQLITE_OK;
  assert_int_equal(decode_sql(db, blob, n, NULL, 0, &rc), -1);
  assert_int_equal(rc, SQLITE_CORRUPT);
  assert_non_null(strstr(sqlite3_errmsg(db), "malformed rollup block"));
}

static void test_corrupt(void **state) {
  (void)state;
  sqlite3 *db = mem_db();
  cu_ledger_ru v[3];
  memset(v, 0, sizeof v);
  for (int i = 0; i < 3; i++) {
    v[i].v[CU_RU_SUB] = i < 2 ? 5 : 6;
    v[i].v[CU_RU_DAY] = 19800 + i;
    v[i].v[CU_RU_QUANTITY] = -300 * i;
    v[i].v[CU_RU_ROWS] = 1;
  }
  cu_buf b;
  cu_buf_init(&b, 4096);
  assert_int_equal(cu_ledger_block_encode(v, 3, &b), CUSTOS_OK);
  uint8_t good[256];
  size_t n = b.len;
  assert_true(n < sizeof good);
  memcpy(good, b.data, n);
  int rc;
  assert_int_equal(decode_sql(db, good, n, NULL, 0, &rc), 3);
  /* Every proper prefix is truncated, the empty blob too. */
  for (size_t k = 0; k < n; k++)
    expect_corrupt(db, good, k);
  uint8_t x[300];
  /* Unknown version. */
  memcpy(x, good, n);
  x[0] = 2;
  expect_corrupt(db, x, n);
  /* A count above and below the rollups there are. */
  x[0] = 1;
  x[1] = 4;
  expect_corrupt(db, x, n);
  x[1] = 2;
  expect_corrupt(db, x, n);
  /* Trailing bytes. */
  memcpy(x, good, n);
  x[n] = 0;
  expect_corrupt(db, x, n + 1);
  /* A group of none, and one larger than the count. */
  memcpy(x, good, n);
  assert_int_equal(x[2], 2); /* the first group: two rollups */
  x[2] = 0;
  expect_corrupt(db, x, n);
  x[2] = 9;
  expect_corrupt(db, x, n);
  /* A varint of eleven bytes, and one beyond 64 bits in ten. */
  static const uint8_t long_varint[] = {1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                        0xff, 0xff, 0xff, 0xff, 0x01};
  expect_corrupt(db, long_varint, sizeof long_varint);
  static const uint8_t wide_varint[] = {1, 0xff, 0xff, 0xff, 0xff, 0xff,
                                        0xff, 0xff, 0xff, 0xff, 0x02};
  expect_corrupt(db, wide_varint, sizeof wide_varint);
  /* A huge count over a few bytes ends as truncated, at once. */
  static const uint8_t huge[] = {1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                 0xff, 0xff, 0xff, 0x01, 0x05};
  expect_corrupt(db, huge, sizeof huge);
  /* Not a blob: an error; NULL: no rows. */
  assert_int_not_equal(
      sqlite3_exec(db, "SELECT * FROM custos_rollups('abc')", NULL, NULL,
                   NULL),
      SQLITE_OK);
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_prepare_v2(db,
                                      "SELECT count(*) FROM"
                                      " custos_rollups(NULL)",
                                      -1, &st, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(st, 0), 0);
  sqlite3_finalize(st);
  /* Without its argument there is no plan. */
  assert_int_not_equal(sqlite3_prepare_v2(db, "SELECT * FROM custos_rollups",
                                          -1, &st, NULL),
                       SQLITE_OK);
  sqlite3_finalize(st);
  cu_buf_free(&b);
  sqlite3_close(db);
}

/* Random changes to valid blobs: each one decodes or is reported
 * corrupt, and nothing is read outside it (ASan watches the copy). */
static void test_random_blobs(void **state) {
  (void)state;
  sqlite3 *db = mem_db();
  cu_ledger_ru v[40];
  cu_buf b;
  cu_buf_init(&b, 1 << 16);
  long decoded = 0, corrupt = 0;
  for (int round = 0; round < 4000; round++) {
    size_t n = (size_t)(rnd() % 40);
    fill(v, n);
    assert_int_equal(cu_ledger_block_encode(v, n, &b), CUSTOS_OK);
    size_t len = b.len;
    uint8_t *x = malloc(len + 16);
    assert_non_null(x);
    memcpy(x, b.data, len);
    int kind = (int)(rnd() % 4);
    if (kind == 0 && len) /* flip a byte */
      x[rnd() % len] ^= (uint8_t)(1 + rnd() % 255);
    else if (kind == 1 && len) /* cut */
      len = (size_t)(rnd() % len);
    else if (kind == 2) /* grow */
      for (int k = (int)(rnd() % 16); k > 0; k--)
        x[len++] = (uint8_t)rnd();
    else /* overwrite a few bytes */
      for (int k = 0; k < 3 && len; k++)
        x[rnd() % len] = (uint8_t)rnd();
    /* Exactly len bytes, so that a read past them is an ASan error. */
    uint8_t *y = malloc(len ? len : 1);
    assert_non_null(y);
    memcpy(y, x, len);
    free(x);
    int rc = SQLITE_OK;
    if (decode_sql(db, y, len, NULL, 0, &rc) >= 0) {
      decoded++;
    } else {
      assert_int_equal(rc, SQLITE_CORRUPT);
      corrupt++;
    }
    free(y);
  }
  assert_true(corrupt > 1000);
  assert_true(decoded > 100);
  cu_buf_free(&b);
  sqlite3_close(db);
}

/* ---- workspaces ------------------------------------------------------- */

/* A workspace in a new folder under tmp with the generated directory and
 * all usage files but restatements ingested.  tmp gets the folder. */
static cu_ws *ingested(char *tmp, size_t n, char *ws_dir, size_t wn) {
  fixture_tmp("blocks", tmp, n);
  char dir[400], pat[500];
  snprintf(dir, sizeof dir, "%s/g", tmp);
  fixture_gen(dir, 7, false);
  custos_diag d;
  custos_diag_clear(&d);
  snprintf(ws_dir, wn, "%s/ws", tmp);
  snprintf(pat, sizeof pat, "%s/directory/*.csv", dir);
  cu_ws *ws = fixture_ws_directory(ws_dir, pat);
  glob_t g;
  snprintf(pat, sizeof pat, "%s/usage/focus-*.csv*", dir);
  assert_int_equal(glob(pat, 0, NULL, &g), 0);
  const char *files[64];
  size_t nf = 0;
  for (size_t i = 0; i < g.gl_pathc && nf < 64; i++)
    if (!strstr(g.gl_pathv[i], "restated"))
      files[nf++] = g.gl_pathv[i];
  cu_ledger_opts lo;
  cu_ledger_opts_default(&lo);
  lo.custodian = "test";
  check(cu_ledger_ingest(ws, files, nf, &lo, NULL, &d), &d);
  globfree(&g);
  return ws;
}

/* Digests of a few daily queries, each into sha[i] (65 bytes). */
#define NQUERIES 4
static void digests(cu_ws *ws, char sha[NQUERIES][2 * CU_SHA256_LEN + 1]) {
  cu_ledger_query_spec s[NQUERIES];
  memset(s, 0, sizeof s);
  s[0].by[0] = CU_DIM_ACCOUNT;
  s[0].nby = 1;
  s[1].by[0] = CU_DIM_DAY;
  s[1].by[1] = CU_DIM_UNIT;
  s[1].nby = 2;
  s[2].by[0] = CU_DIM_MONTH;
  s[2].by[1] = CU_DIM_REGION;
  s[2].by[2] = CU_DIM_SERVICE;
  s[2].nby = 3;
  s[3].by[0] = CU_DIM_DAY;
  s[3].by[1] = CU_DIM_METER;
  s[3].nby = 2;
  s[3].from = "2024-04-03";
  s[3].to = "2024-05-17";
  for (int i = 0; i < NQUERIES; i++) {
    cu_ledger_result *r = NULL;
    custos_diag d;
    custos_diag_clear(&d);
    check(cu_ledger_query_from(ws, &s[i], true, &r, &d), &d);
    assert_true(r->nrows > 0);
    memcpy(sha[i], r->sha256, sizeof r->sha256);
    cu_ledger_result_free(r);
  }
}

/* A corrupt block makes a query fail with the decoder's message. */
static void test_query_corrupt(void **state) {
  (void)state;
  char tmp[256], ws_dir[300];
  cu_ws *ws = ingested(tmp, sizeof tmp, ws_dir, sizeof ws_dir);
  custos_diag d;
  custos_diag_clear(&d);
  /* The plan of a unit's query reads that unit's blocks by index. */
  sqlite3_stmt *st = NULL;
  check(cu_ws_prepare(ws,
                      "EXPLAIN QUERY PLAN SELECT r.day, sum(r.quantity)"
                      " FROM usage_rollups r WHERE r.unit = 3"
                      " GROUP BY r.day",
                      &st, &d),
        &d);
  bool by_index = false;
  while (sqlite3_step(st) == SQLITE_ROW)
    by_index = by_index || strstr((const char *)sqlite3_column_text(st, 3),
                                  "INDEX usage_blocks_unit");
  sqlite3_finalize(st);
  assert_true(by_index);
  check(cu_ws_exec(ws,
                   "UPDATE usage_blocks SET data = substr(data, 1,"
                   " length(data) - 1) WHERE rowid = (SELECT min(rowid) FROM"
                   " usage_blocks)",
                   &d),
        &d);
  cu_ledger_query_spec s;
  memset(&s, 0, sizeof s);
  s.by[0] = CU_DIM_DAY;
  s.nby = 1;
  cu_ledger_result *r = NULL;
  custos_diag_clear(&d);
  assert_int_not_equal(cu_ledger_query_from(ws, &s, true, &r, &d), CUSTOS_OK);
  assert_null(r);
  assert_non_null(strstr(d.msg, "malformed rollup block"));
  cu_ws_close(ws);
  fixture_rm_tree(tmp);
}

/* Appends the rows of the file at path to out, with its header only when
 * header is set. */
static void append_rows(FILE *out, const char *path, bool header) {
  FILE *in = fopen(path, "rb");
  assert_non_null(in);
  char line[1 << 16];
  bool first = true;
  while (fgets(line, sizeof line, in)) {
    if (!first || header)
      assert_int_equal(fputs(line, out) >= 0, 1);
    first = first && !strchr(line, '\n');
  }
  fclose(in);
}

/* Each account, unit and period of ws is one block, and each block holds
 * its rollups in the order custos_pack_rollups gives them. */
static void check_blocks(cu_ws *ws) {
  assert_int_equal(fixture_int(ws, "SELECT count(*) FROM (SELECT 1 FROM"
                                   " usage_blocks GROUP BY source_id,"
                                   " account, period, unit HAVING"
                                   " count(*) > 1)", NULL),
                   0);
  assert_int_equal(
      fixture_int(ws,
                  "SELECT count(*) FROM usage_blocks b WHERE b.data IS NOT"
                  " (SELECT custos_pack_rollups(r.day, r.subscription,"
                  " r.service, r.meter, r.region, r.qty_unit, r.currency,"
                  " r.charge, r.quantity, r.billed, r.effective, r.rows,"
                  " r.first_line, r.last_line) FROM custos_rollups(b.data) r)",
                  NULL),
      0);
}

/* One file of several billing periods (the plain monthly exports joined,
 * in reverse order): each account, unit and period is one block, and
 * each block holds its rollups in the order custos_pack_rollups gives
 * them, which is what the ingest's sort (a radix sort by period, rank and
 * day, an insertion sort for few rollups) must produce. */
static void test_joined_periods(void **state) {
  (void)state;
  char tmp[256], ws_dir[300], pat[400], joined[400];
  cu_ws *ws = ingested(tmp, sizeof tmp, ws_dir, sizeof ws_dir);
  cu_ws_close(ws);
  snprintf(ws_dir, sizeof ws_dir, "%s/ws2", tmp);
  snprintf(pat, sizeof pat, "%s/g/directory/*.csv", tmp);
  ws = fixture_ws_directory(ws_dir, pat);
  custos_diag d;
  custos_diag_clear(&d);
  glob_t g;
  snprintf(pat, sizeof pat, "%s/g/usage/focus-*.csv", tmp);
  assert_int_equal(glob(pat, 0, NULL, &g), 0);
  assert_true(g.gl_pathc >= 3);
  snprintf(joined, sizeof joined, "%s/joined.csv", tmp);
  FILE *out = fopen(joined, "wb");
  assert_non_null(out);
  for (size_t i = g.gl_pathc; i-- > 0;)
    append_rows(out, g.gl_pathv[i], i == g.gl_pathc - 1);
  assert_int_equal(fclose(out), 0);
  globfree(&g);
  cu_ledger_opts lo;
  cu_ledger_opts_default(&lo);
  lo.custodian = "test";
  const char *files[1] = {joined};
  check(cu_ledger_ingest(ws, files, 1, &lo, NULL, &d), &d);
  assert_true(fixture_int(ws, "SELECT count(DISTINCT period) FROM"
                              " usage_blocks", NULL) >= 3);
  assert_true(fixture_int(ws, "SELECT max(n) FROM (SELECT count(*) n FROM"
                              " usage_rollups GROUP BY account, unit)",
                          NULL) >= 100);
  check_blocks(ws);
  cu_ws_close(ws);
  fixture_rm_tree(tmp);
}

/* A FOCUS 1.2 row of the test directory's acct-1 and s-1: service svc
 * (Azure Blob Storage or Virtual Machines), charge day day of billing
 * period month (both "2025-MM"). */
static void small_row(FILE *out, const char *svc, const char *month,
                      int day) {
  bool vm = strcmp(svc, "Virtual Machines") == 0;
  int mo = atoi(month + 5);
  fprintf(out,
          "acct-1,Customer Agreement,s-1,Subscription,Stratus Cloud,%s,%s,"
          "%s,sku-%d,%s,westeurope,West Europe,Usage,"
          "%s-%02dT00:00:00Z,%s-%02dT00:00:00Z,%s-01T00:00:00Z,"
          "2025-%02d-01T00:00:00Z,%d,%s,%d,%s,1.5,1.5,USD,INV-1,"
          "/subscriptions/s-1/resourceGroups/rg-1/providers/x/y/r%d,r%d,"
          "Thing,,rg-1\n",
          svc, vm ? "Compute" : "Storage",
          vm ? "Virtual Machines" : "Object Storage", vm ? 2 : 1,
          vm ? "D4s v5" : "Hot LRS Data Stored", month, day, month, day + 1,
          month, mo + 1, day, vm ? "Hours" : "GB-Month", day,
          vm ? "Hours" : "GB-Month", vm, vm);
}

/* Eight rollups of two services over two months, in no order. */
static const struct {
  const char *svc, *month;
  int day;
} small_rows_tab[] = {
    {"Azure Blob Storage", "2025-06", 2}, {"Virtual Machines", "2025-05", 3},
    {"Virtual Machines", "2025-06", 1},   {"Azure Blob Storage", "2025-05", 1},
    {"Azure Blob Storage", "2025-06", 1}, {"Azure Blob Storage", "2025-05", 3},
    {"Virtual Machines", "2025-06", 2},   {"Virtual Machines", "2025-05", 1},
};

static void small_rows(FILE *out) {
  for (size_t i = 0; i < CU_ARRAY_LEN(small_rows_tab); i++)
    small_row(out, small_rows_tab[i].svc, small_rows_tab[i].month,
              small_rows_tab[i].day);
}

/* Ingests rows written by rows(out) into ws as file name under tmp and
 * checks the blocks against custos_pack_rollups. */
/* A workspace in a new folder under tmp (n bytes) holding the test
 * directory of tests/integration/data. */
static cu_ws *small_ws(char *tmp, size_t n) {
  char ws_dir[300];
  fixture_tmp("blocks", tmp, n);
  snprintf(ws_dir, sizeof ws_dir, "%s/ws", tmp);
  return fixture_ws_directory(
      ws_dir, CUSTOS_SOURCE_DIR "/tests/integration/data/directory/[asu]*.csv");
}

static void ingest_rows(cu_ws *ws, const char *tmp, const char *name,
                        void (*rows)(FILE *)) {
  char file[400];
  snprintf(file, sizeof file, "%s/%s", tmp, name);
  FILE *out = fopen(file, "wb");
  assert_non_null(out);
  fputs("BillingAccountId,BillingAccountType,SubAccountId,SubAccountType,"
        "ProviderName,ServiceName,ServiceCategory,ServiceSubcategory,SkuId,"
        "SkuMeter,RegionId,RegionName,ChargeCategory,ChargePeriodStart,"
        "ChargePeriodEnd,BillingPeriodStart,BillingPeriodEnd,"
        "ConsumedQuantity,ConsumedUnit,PricingQuantity,PricingUnit,"
        "BilledCost,EffectiveCost,BillingCurrency,InvoiceId,ResourceId,"
        "ResourceName,ResourceType,Tags,x_ResourceGroupName\n",
        out);
  rows(out);
  assert_int_equal(fclose(out), 0);
  cu_ledger_opts lo;
  cu_ledger_opts_default(&lo);
  lo.custodian = "test";
  const char *files[1] = {file};
  custos_diag d;
  custos_diag_clear(&d);
  check(cu_ledger_ingest(ws, files, 1, &lo, NULL, &d), &d);
  check_blocks(ws);
}

static void meter_row(FILE *out, int m, const char *cm, int day,
                      const char *bm);

/* Days 1 to 3 of April of one meter, each billed in April's period and
 * (later in the file) in March's. */
static void two_period_rows(FILE *out) {
  for (int day = 1; day <= 3; day++)
    meter_row(out, 0, "2025-04", day, "2025-04");
  for (int day = 1; day <= 3; day++)
    meter_row(out, 0, "2025-04", day, "2025-03");
}

/* One account and unit with fewer rollups than the radix sort takes
 * (BSORT_SMALL), over two billing periods and two services, in a file
 * whose rows are in neither's order: the count of periods must order
 * them by period (or a period is cut into several blocks), then by the
 * dimension set's rank and the day (or a block differs from the one
 * custos_pack_rollups makes).  Then six rollups of one meter whose days
 * have rollups of two periods, the later period's row first, so that
 * the set's table holds them out of period order and the insertion
 * sort orders them. */
static void test_small_groups(void **state) {
  (void)state;
  char tmp[256];
  cu_ws *ws = small_ws(tmp, sizeof tmp);
  ingest_rows(ws, tmp, "small.csv", small_rows);
  assert_int_equal(fixture_int(ws, "SELECT count(*) FROM usage_rollups", NULL),
                   (int64_t)CU_ARRAY_LEN(small_rows_tab));
  assert_int_equal(fixture_int(ws, "SELECT count(DISTINCT service) FROM"
                                   " usage_rollups", NULL),
                   2);
  assert_int_equal(fixture_int(ws, "SELECT count(*) FROM usage_blocks", NULL),
                   2);
  ingest_rows(ws, tmp, "two.csv", two_period_rows);
  assert_int_equal(fixture_int(ws, "SELECT count(*) FROM usage_blocks", NULL),
                   4);
  cu_ws_close(ws);
  fixture_rm_tree(tmp);
}

/* A FOCUS 1.2 row of the test directory's acct-1 and s-1 for Virtual
 * Machines, meter m (its own SKU), charged on day day of month cm
 * ("2025-MM") in the billing period of month bm. */
static void meter_row(FILE *out, int m, const char *cm, int day,
                      const char *bm) {
  fprintf(out,
          "acct-1,Customer Agreement,s-1,Subscription,Stratus Cloud,"
          "Virtual Machines,Compute,Virtual Machines,sku-m%d,meter %d,"
          "westeurope,West Europe,Usage,%s-%02dT00:00:00Z,"
          "%s-%02dT01:00:00Z,%s-01T00:00:00Z,%s-28T00:00:00Z,1,Hours,1,"
          "Hours,1.5,1.5,USD,INV-1,/subscriptions/s-1/resourceGroups/rg-1/"
          "providers/x/y/r%d,r%d,Thing,,rg-1\n",
          m, m, cm, day, cm, day, bm, bm, m, m);
}

/* 40 meters on each of 28 days of one period: one block of 1,120
 * rollups, whose rollups come from the gather in the order the sort's
 * quick path takes. */
static void big_block_rows(FILE *out) {
  for (int day = 1; day <= 28; day++)
    for (int m = 0; m < 40; m++)
      meter_row(out, m, "2025-03", day, "2025-03");
}

/* Twenty days of four meters whose rollups are not in period order in
 * their sets' tables (days late in April billed in March's period, and
 * days of April with rollups of both periods, which go to the tables'
 * overflow parts), so the sort takes its careful path, with more rollups
 * than its insertion sort takes. */
static void mixed_period_rows(FILE *out) {
  for (int day = 1; day <= 20; day++)
    for (int m = 0; m < 4; m++) {
      meter_row(out, m, "2025-04", day, day > 15 ? "2025-03" : "2025-04");
      if (day % 3 == 0)
        meter_row(out, m, "2025-04", day, "2025-03");
    }
}

/* The blocks of both paths of the sort (bsort_run), and of a large
 * group, equal custos_pack_rollups' blocks of the same rollups. */
static void test_sort_paths(void **state) {
  (void)state;
  char tmp[256];
  cu_ws *ws = small_ws(tmp, sizeof tmp);
  ingest_rows(ws, tmp, "big.csv", big_block_rows);
  assert_int_equal(fixture_int(ws, "SELECT count(*) FROM usage_blocks", NULL),
                   1);
  assert_int_equal(fixture_int(ws, "SELECT count(*) FROM usage_rollups", NULL),
                   40 * 28);
  ingest_rows(ws, tmp, "mixed.csv", mixed_period_rows);
  assert_int_equal(fixture_int(ws, "SELECT count(*) FROM usage_rollups WHERE"
                                   " source_id = (SELECT max(source_id) FROM"
                                   " usage_blocks)",
                               NULL),
                   4 * 20 + 4 * 5);
  cu_ws_close(ws);
  fixture_rm_tree(tmp);
}

/* The ingest checkpoints its own commit as SQLite's automatic checkpoint
 * would (ingest.c commit()): once the WAL holds wal_autocheckpoint frames
 * (here 1) the database file holds every page right after the ingest,
 * and the automatic checkpoint is back at its setting. */
static void test_ingest_checkpoints(void **state) {
  (void)state;
  char tmp[256], ws_dir[300], pat[400];
  cu_ws *ws = ingested(tmp, sizeof tmp, ws_dir, sizeof ws_dir);
  custos_diag d;
  custos_diag_clear(&d);
  check(cu_ws_exec(ws, "PRAGMA wal_autocheckpoint=1", &d), &d);
  /* A restatement: the first month's export without its last row. */
  snprintf(pat, sizeof pat, "%s/g/usage/focus-*.csv", tmp);
  glob_t g;
  assert_int_equal(glob(pat, 0, NULL, &g), 0);
  assert_true(g.gl_pathc >= 1);
  FILE *in = fopen(g.gl_pathv[0], "rb");
  assert_non_null(in);
  static char buf[64 << 20];
  size_t n = fread(buf, 1, sizeof buf, in);
  fclose(in);
  globfree(&g);
  assert_true(n > 2 && n < sizeof buf);
  size_t end = n - 1;
  while (end > 0 && buf[end - 1] != '\n')
    end--;
  char re[400];
  snprintf(re, sizeof re, "%s/restated.csv", tmp);
  FILE *out = fopen(re, "wb");
  assert_non_null(out);
  assert_int_equal(fwrite(buf, 1, end, out), end);
  assert_int_equal(fclose(out), 0);
  int64_t before = fixture_int(ws, "PRAGMA page_count", NULL);
  cu_ledger_opts lo;
  cu_ledger_opts_default(&lo);
  lo.custodian = "test";
  const char *files[1] = {re};
  cu_ledger_file_stats fs;
  check(cu_ledger_ingest(ws, files, 1, &lo, &fs, &d), &d);
  assert_true(fs.superseded > 0);
  int64_t pages = fixture_int(ws, "PRAGMA page_count", NULL);
  int64_t size = fixture_int(ws, "PRAGMA page_size", NULL);
  assert_true(pages > before);
  char path[400];
  snprintf(path, sizeof path, "%s/custos.db", ws_dir);
  struct stat sb;
  assert_int_equal(stat(path, &sb), 0);
  assert_int_equal((int64_t)sb.st_size, pages * size);
  assert_int_equal(fixture_int(ws, "PRAGMA wal_autocheckpoint", NULL), 1);
  cu_ws_close(ws);
  fixture_rm_tree(tmp);
}

/* A workspace of schema step 2 (daily rollups as rows) migrates to the
 * blocks: the same rollups, the blobs an ingest writes, the same
 * results. */
static void test_migration(void **state) {
  (void)state;
  char tmp[256], ws_dir[300];
  cu_ws *ws = ingested(tmp, sizeof tmp, ws_dir, sizeof ws_dir);
  char before[NQUERIES][2 * CU_SHA256_LEN + 1];
  digests(ws, before);
  int64_t n = fixture_int(ws, "SELECT count(*) FROM usage_rollups", NULL);
  assert_true(n > 1000);
  custos_diag d;
  custos_diag_clear(&d);
  /* Back to step 2: the table and indexes as schema step 1 made them. */
  check(cu_ws_exec(
            ws,
            "CREATE TABLE kept_rollups AS SELECT * FROM usage_rollups;"
            "CREATE TABLE kept_blocks AS SELECT source_id, account, period,"
            " unit, data FROM usage_blocks;"
            "DROP VIEW usage_rollups;"
            "DROP TABLE usage_blocks;"
            "CREATE TABLE usage_rollups("
            " source_id INTEGER NOT NULL, account INTEGER NOT NULL,"
            " period INTEGER NOT NULL, day INTEGER NOT NULL,"
            " unit INTEGER NOT NULL, subscription INTEGER NOT NULL,"
            " service INTEGER NOT NULL, meter INTEGER NOT NULL,"
            " region INTEGER NOT NULL, qty_unit INTEGER NOT NULL,"
            " currency INTEGER NOT NULL, charge INTEGER NOT NULL,"
            " quantity INTEGER NOT NULL, billed INTEGER NOT NULL,"
            " effective INTEGER NOT NULL, rows INTEGER NOT NULL,"
            " first_line INTEGER NOT NULL, last_line INTEGER NOT NULL);"
            "CREATE INDEX usage_rollups_unit ON usage_rollups(unit, day);"
            "CREATE INDEX usage_rollups_account ON usage_rollups(account,"
            " period, source_id);"
            "INSERT INTO usage_rollups SELECT * FROM kept_rollups"
            " ORDER BY random();"
            "UPDATE schema_version SET version = 2 WHERE module = 'ledger';",
            &d),
        &d);
  assert_int_equal(fixture_int(ws, "SELECT count(*) FROM usage_rollups", NULL), n);
  cu_ws_close(ws);
  ws = NULL;
  check(cu_ws_open(ws_dir, &ws, &d), &d);
  assert_int_equal(fixture_int(ws, "SELECT version FROM schema_version WHERE"
                             " module = 'ledger'", NULL),
                   3);
  assert_int_equal(fixture_int(ws, "SELECT count(*) FROM sqlite_master WHERE"
                             " name = 'usage_rollups' AND type = 'view'", NULL),
                   1);
  assert_int_equal(fixture_int(ws, "SELECT count(*) FROM sqlite_master WHERE"
                             " name LIKE 'usage_rollups_%'", NULL),
                   0);
  assert_int_equal(fixture_int(ws, "SELECT count(*) FROM usage_rollups", NULL), n);
  assert_int_equal(fixture_int(ws, "SELECT count(*) FROM (SELECT * FROM"
                             " kept_rollups EXCEPT SELECT * FROM"
                             " usage_rollups)", NULL),
                   0);
  assert_int_equal(fixture_int(ws, "SELECT count(*) FROM (SELECT * FROM"
                             " usage_rollups EXCEPT SELECT * FROM"
                             " kept_rollups)", NULL),
                   0);
  /* Byte for byte the blocks the ingest wrote. */
  assert_int_equal(fixture_int(ws, "SELECT count(*) FROM usage_blocks", NULL),
                   fixture_int(ws, "SELECT count(*) FROM kept_blocks", NULL));
  assert_int_equal(fixture_int(ws, "SELECT count(*) FROM (SELECT source_id,"
                             " account, period, unit, data FROM usage_blocks"
                             " EXCEPT SELECT * FROM kept_blocks)", NULL),
                   0);
  char after[NQUERIES][2 * CU_SHA256_LEN + 1];
  digests(ws, after);
  for (int i = 0; i < NQUERIES; i++)
    assert_string_equal(before[i], after[i]);
  cu_ws_close(ws);
  fixture_rm_tree(tmp);
}

/* Nothing of a usage source in ws: the ingest rolled back entirely. */
static void check_nothing_stored(cu_ws *ws) {
  static const char *const q[] = {
      "SELECT count(*) FROM usage_blocks",
      "SELECT count(*) FROM usage_monthly",
      "SELECT count(*) FROM usage_coverage",
      "SELECT count(*) FROM usage_resources",
      "SELECT count(*) FROM usage_sources",
      "SELECT count(*) FROM usage_dims",
      "SELECT count(*) FROM sources WHERE class = 'usage'",
  };
  for (size_t i = 0; i < CU_ARRAY_LEN(q); i++)
    assert_int_equal(fixture_int(ws, q[i], NULL), 0);
}

/* Failures in the write phase, wherever its three threads are: a failed
 * insert (a temporary trigger aborts it) of the dimension values (the
 * resources thread has just started), of the first block or one deep in
 * the file (the packer ahead, often waiting for room in its ring), of
 * the coverage and of the resources; then running out of memory at
 * allocations spread over the end of the ingest (on whichever thread
 * meets them).  Each fails with the error of the step, stores nothing
 * and leaves no thread behind (or the test hangs); the workspace then
 * takes the file as if nothing had happened. */
static void test_write_failures(void **state) {
  (void)state;
  char tmp[256], dir[300], ws_dir[300], pat[400], joined[400];
  fixture_tmp("blocks", tmp, sizeof tmp);
  snprintf(dir, sizeof dir, "%s/g", tmp);
  fixture_gen(dir, 7, false);
  custos_diag d;
  custos_diag_clear(&d);
  glob_t g;
  snprintf(pat, sizeof pat, "%s/usage/focus-*.csv", dir);
  assert_int_equal(glob(pat, 0, NULL, &g), 0);
  snprintf(joined, sizeof joined, "%s/joined.csv", tmp);
  FILE *out = fopen(joined, "wb");
  assert_non_null(out);
  for (size_t i = 0; i < g.gl_pathc; i++)
    append_rows(out, g.gl_pathv[i], i == 0);
  assert_int_equal(fclose(out), 0);
  globfree(&g);
  snprintf(ws_dir, sizeof ws_dir, "%s/ws", tmp);
  snprintf(pat, sizeof pat, "%s/directory/*.csv", dir);
  cu_ws *ws = fixture_ws_directory(ws_dir, pat);
  cu_ledger_opts lo;
  cu_ledger_opts_default(&lo);
  lo.custodian = "test";
  const char *files[1] = {joined};

  static const struct {
    const char *table, *when, *msg;
  } faults[] = {
      {"usage_dims", "", "cannot store usage values"},
      {"usage_blocks", "", "cannot store usage rollups"},
      /* Slow (a join of 250,000 rows per block), so that the packer has
       * filled its ring and waits for room when the insert fails. */
      {"usage_blocks",
       "WHEN (SELECT count(*) FROM temp.slow a, temp.slow b) > 0 AND"
       " (SELECT count(*) FROM usage_blocks) >= 300",
       "cannot store usage rollups"},
      {"usage_coverage", "", "cannot store usage coverage"},
      {"usage_resources", "WHEN (SELECT count(*) FROM usage_resources) >= 5",
       "cannot store usage resources"},
  };
  check(cu_ws_exec(ws,
                   "CREATE TEMP TABLE slow AS WITH RECURSIVE c(x) AS"
                   " (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 500)"
                   " SELECT x FROM c",
                   &d),
        &d);
  for (size_t i = 0; i < CU_ARRAY_LEN(faults); i++) {
    char sql[512];
    snprintf(sql, sizeof sql,
             "CREATE TEMP TRIGGER fault BEFORE INSERT ON main.%s %s BEGIN"
             " SELECT RAISE(ABORT, 'injected fault'); END",
             faults[i].table, faults[i].when);
    check(cu_ws_exec(ws, sql, &d), &d);
    custos_diag_clear(&d);
    assert_int_equal(cu_ledger_ingest(ws, files, 1, &lo, NULL, &d),
                     CUSTOS_EDB);
    assert_non_null(strstr(d.msg, faults[i].msg));
    assert_non_null(strstr(d.msg, "injected fault"));
    check_nothing_stored(ws);
    check(cu_ws_exec(ws, "DROP TRIGGER temp.fault", &d), &d);
  }

  /* The allocations of a whole ingest, in a workspace of its own. */
  char ws2_dir[300];
  snprintf(ws2_dir, sizeof ws2_dir, "%s/ws2", tmp);
  cu_ws *ws2 = fixture_ws_directory(ws2_dir, pat);
  cu_alloc_fail_after(LONG_MAX);
  check(cu_ledger_ingest(ws2, files, 1, &lo, NULL, &d), &d);
  long total = cu_alloc_fail_after(-1);
  /* More blocks than the packer's ring holds, several times over. */
  assert_true(fixture_int(ws2, "SELECT count(*) FROM usage_blocks", NULL) >
              4 * 256);
  cu_ws_close(ws2);
  /* Every allocation from the n-th on fails, n stepping back from the
   * end through the write phase (the last thousand or so) into the
   * read. */
  for (long back = 1; back < total / 3; back = back * 5 / 4 + 1) {
    custos_diag_clear(&d);
    cu_alloc_fail_after(total - back);
    custos_rc rc = cu_ledger_ingest(ws, files, 1, &lo, NULL, &d);
    cu_alloc_fail_after(-1);
    if (rc != CUSTOS_ENOMEM) {
      char line[2048];
      fprintf(stderr, "failing from %ld before the end: %s\n", back,
              custos_diag_format(&d, line, sizeof line));
    }
    assert_int_equal(rc, CUSTOS_ENOMEM);
    assert_int_equal(d.rc, CUSTOS_ENOMEM);
    assert_null(strstr(d.msg, "pseudonymise")); /* not the text's fault */
    check_nothing_stored(ws);
  }

  /* Then the file goes in, exactly as into the other workspace, with
   * every rollup in a block (none lost between the threads). */
  check(cu_ledger_ingest(ws, files, 1, &lo, NULL, &d), &d);
  check_blocks(ws);
  assert_int_equal(fixture_int(ws, "SELECT sum((SELECT count(*) FROM"
                                   " custos_rollups(b.data))) FROM"
                                   " usage_blocks b", NULL),
                   fixture_int(ws, "SELECT rollups FROM usage_sources", NULL));
  char sql[2048];
  /* The resources' free text aside: each workspace has its own key. */
  static const char *const tables[] = {
      "usage_blocks", "usage_monthly", "usage_coverage", "usage_dims",
      ("(SELECT source_id, subscription, type, first_day, last_day, rows"
       " FROM %s.usage_resources)")};
  snprintf(sql, sizeof sql, "ATTACH '%s/custos.db' AS other", ws2_dir);
  check(cu_ws_exec(ws, sql, &d), &d);
  for (size_t i = 0; i < CU_ARRAY_LEN(tables); i++) {
    char a[256], b[256];
    if (strchr(tables[i], '%')) {
      snprintf(a, sizeof a, tables[i], "main");
      snprintf(b, sizeof b, tables[i], "other");
    } else {
      snprintf(a, sizeof a, "main.%s", tables[i]);
      snprintf(b, sizeof b, "other.%s", tables[i]);
    }
    snprintf(sql, sizeof sql,
             "SELECT (SELECT count(*) FROM %s) = (SELECT count(*) FROM %s)"
             " AND NOT EXISTS (SELECT * FROM %s EXCEPT SELECT * FROM %s)",
             a, b, a, b);
    assert_int_equal(fixture_int(ws, sql, NULL), 1);
  }
  check(cu_ws_exec(ws, "DETACH other", &d), &d);
  cu_ws_close(ws);
  fixture_rm_tree(tmp);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip),    cmocka_unit_test(test_pack),
      cmocka_unit_test(test_encode_bytes), cmocka_unit_test(test_int_rows),
      cmocka_unit_test(test_corrupt),      cmocka_unit_test(test_random_blobs),
      cmocka_unit_test(test_query_corrupt), cmocka_unit_test(test_migration),
      cmocka_unit_test(test_ingest_checkpoints),
      cmocka_unit_test(test_joined_periods),
      cmocka_unit_test(test_small_groups),
      cmocka_unit_test(test_sort_paths),
      cmocka_unit_test(test_write_failures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
