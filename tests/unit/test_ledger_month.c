/*
 * Unit tests of the ledger's monthly rollups: every query the monthly
 * rollups can answer gives, from them, exactly the result the daily
 * rollups give (every key and sum, and the digest), on clean and on
 * --dirty generated data, before and after a restatement; and the monthly
 * rollups an ingest writes equal those the schema's migration would make.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixture.h"

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void gen(const char *out, bool dirty) { fixture_gen(out, 11, dirty); }

/* Runs spec both ways, asserts that the results are the same row for row
 * and returns the digest (into sha, 65 bytes). */
static void both_ways(cu_ws *ws, const cu_ledger_query_spec *spec,
                      char *sha) {
  custos_diag d;
  custos_diag_clear(&d);
  cu_ledger_result *m = NULL, *y = NULL;
  check(cu_ledger_query(ws, spec, &m, &d), &d);
  check(cu_ledger_query_from(ws, spec, true, &y, &d), &d);
  assert_int_equal(m->ncols, y->ncols);
  assert_int_equal(m->nrows, y->nrows);
  assert_true(m->nrows > 0);
  for (size_t i = 0; i < m->nrows; i++) {
    for (size_t k = 0; k < m->ncols; k++)
      assert_string_equal(m->rows[i].key[k], y->rows[i].key[k]);
    assert_true(m->rows[i].quantity == y->rows[i].quantity);
    assert_true(m->rows[i].billed == y->rows[i].billed);
    assert_true(m->rows[i].effective == y->rows[i].effective);
    assert_int_equal(m->rows[i].rows, y->rows[i].rows);
  }
  assert_string_equal(m->sha256, y->sha256);
  strcpy(sha, m->sha256);
  cu_ledger_result_free(m);
  cu_ledger_result_free(y);
}

/* The queries compared: groupings by month or coarser, with and without
 * filters and whole-month ranges; digest of the June 2025 one in june. */
static void compare_all(cu_ws *ws, char *june) {
  static const char *const bys[] = {
      "month,region,service", "account,service,region,month",
      "category,country",     "subscription,meter",
      "unit",                 "",
      "month"};
  char sha[2 * CU_SHA256_LEN + 1];
  custos_diag d;
  custos_diag_clear(&d);
  for (size_t i = 0; i < sizeof bys / sizeof bys[0]; i++) {
    cu_ledger_query_spec s;
    memset(&s, 0, sizeof s);
    check(cu_ledger_parse_by(bys[i], &s, &d), &d);
    both_ways(ws, &s, sha);
    s.from = "2024-05-01";
    s.to = "2025-01-01";
    both_ways(ws, &s, sha);
  }
  cu_ledger_query_spec s;
  memset(&s, 0, sizeof s);
  check(cu_ledger_parse_by("account,service,month", &s, &d), &d);
  s.from = "2025-06-01";
  s.to = "2025-07-01";
  both_ways(ws, &s, june);
  /* A unit's series, the review query, for every unit with usage. */
  sqlite3_stmt *st = NULL;
  check(cu_ws_prepare(ws,
                      "SELECT DISTINCT d.value FROM usage_dims d JOIN"
                      " usage_monthly m ON m.unit = d.id WHERE d.kind ="
                      " 'unit' AND d.value <> '' ORDER BY 1",
                      &st, &d),
        &d);
  int n = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    char unit[256];
    snprintf(unit, sizeof unit, "%s", sqlite3_column_text(st, 0));
    memset(&s, 0, sizeof s);
    check(cu_ledger_parse_by("month,region,service", &s, &d), &d);
    s.unit = unit;
    both_ways(ws, &s, sha);
    n++;
  }
  sqlite3_finalize(st);
  assert_true(n > 0);
}

/* The monthly rollups as ingests left them equal those made from the
 * daily rollups in one go, as the migration makes them. */
static void same_as_migration(cu_ws *ws) {
  custos_diag d;
  custos_diag_clear(&d);
  check(cu_ws_exec(ws,
                   "CREATE TEMP TABLE kept AS SELECT * FROM usage_monthly;"
                   "DELETE FROM usage_monthly;" CU_LEDGER_MONTHLY_FILL(""),
                   &d),
        &d);
  assert_true(fixture_int(ws, "SELECT count(*) FROM kept", NULL) > 0);
  assert_int_equal(fixture_int(ws, "SELECT count(*) FROM (SELECT * FROM kept"
                             " EXCEPT SELECT * FROM usage_monthly)", NULL),
                   0);
  assert_int_equal(fixture_int(ws, "SELECT count(*) FROM (SELECT * FROM"
                             " usage_monthly EXCEPT SELECT * FROM kept)", NULL),
                   0);
  check(cu_ws_exec(ws, "DROP TABLE kept;", &d), &d);
}

static void run(bool dirty) {
  char tmp[256], dir[300], ws_dir[300], pat[400];
  const char *t = getenv("TMPDIR");
  snprintf(tmp, sizeof tmp, "%s/custos-month-XXXXXX", t && *t ? t : "/tmp");
  assert_non_null(mkdtemp(tmp));
  snprintf(dir, sizeof dir, "%s/clean", tmp);
  gen(dir, false);
  if (dirty) {
    snprintf(dir, sizeof dir, "%s/dirty", tmp);
    gen(dir, true);
  }
  snprintf(ws_dir, sizeof ws_dir, "%s/ws", tmp);
  /* The clean world's directory: --dirty writes NULL parents it refuses. */
  snprintf(pat, sizeof pat, "%s/clean/directory/*.csv", tmp);
  cu_ws *ws = fixture_ws_directory(ws_dir, pat);
  custos_diag d;
  custos_diag_clear(&d);
  glob_t g;
  /* Every month but the restated one's restatement, then that. */
  snprintf(pat, sizeof pat, "%s/usage/focus-*.csv*", dir);
  assert_int_equal(glob(pat, 0, NULL, &g), 0);
  const char *files[64], *restated = NULL;
  size_t nf = 0;
  for (size_t i = 0; i < g.gl_pathc && nf < 64; i++) {
    if (strstr(g.gl_pathv[i], "restated"))
      restated = g.gl_pathv[i];
    else
      files[nf++] = g.gl_pathv[i];
  }
  cu_ledger_opts o;
  cu_ledger_opts_default(&o);
  o.custodian = "test";
  check(cu_ledger_ingest(ws, files, nf, &o, NULL, &d), &d);
  assert_true(fixture_int(ws, "SELECT count(*) FROM usage_monthly", NULL) * 2 <
              fixture_int(ws, "SELECT count(*) FROM usage_rollups", NULL));
  char before[2 * CU_SHA256_LEN + 1], after[2 * CU_SHA256_LEN + 1];
  compare_all(ws, before);
  same_as_migration(ws);
  assert_int_equal(dirty, restated != NULL);
  if (restated) {
    cu_ledger_file_stats fs;
    check(cu_ledger_ingest(ws, &restated, 1, &o, &fs, &d), &d);
    assert_true(fs.superseded > 0);
    compare_all(ws, after);
    assert_string_not_equal(before, after);
    /* Nothing of a superseded (source, account, period) is left in
     * either table. */
    static const char *const left[] = {
        "SELECT count(*) FROM usage_monthly m JOIN usage_coverage c ON"
        " c.source_id = m.source_id AND c.account = m.account AND"
        " c.period = m.period WHERE c.superseded_by IS NOT NULL",
        "SELECT count(*) FROM usage_rollups m JOIN usage_coverage c ON"
        " c.source_id = m.source_id AND c.account = m.account AND"
        " c.period = m.period WHERE c.superseded_by IS NOT NULL"};
    for (size_t i = 0; i < 2; i++)
      assert_int_equal(fixture_int(ws, left[i], NULL), 0);
    same_as_migration(ws);
  }
  /* The queries above did read the monthly rollups: with those altered,
   * the two ways part. */
  check(cu_ws_exec(ws, "UPDATE usage_monthly SET ql = ql + 1;", &d), &d);
  cu_ledger_query_spec s;
  memset(&s, 0, sizeof s);
  cu_ledger_result *m = NULL, *y = NULL;
  check(cu_ledger_query(ws, &s, &m, &d), &d);
  check(cu_ledger_query_from(ws, &s, true, &y, &d), &d);
  assert_string_not_equal(m->sha256, y->sha256);
  cu_ledger_result_free(m);
  cu_ledger_result_free(y);
  globfree(&g);
  cu_ws_close(ws);
  fixture_rm_tree(tmp);
}

static void test_clean(void **state) {
  (void)state;
  run(false);
}

static void test_dirty(void **state) {
  (void)state;
  run(true);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_clean),
      cmocka_unit_test(test_dirty),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
