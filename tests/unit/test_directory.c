/* Unit tests of directory: the region catalogue and its aliases, FOCUS
 * categories, and ingest through the library (tree checks, replacement by
 * a newer export, all-or-nothing). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"

#include "directory/directory.h"

static char dir[64];
static cu_ws *ws;

static int setup(void **state) {
  (void)state;
  if (fixture_ws_open("dir", dir, sizeof dir, &ws) != 0)
    return -1;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  return fixture_ws_close(dir, ws);
}

static void write_file(const char *name, const char *text, char *path,
                       size_t n) {
  snprintf(path, n, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void test_regions(void **state) {
  (void)state;
  const cu_catalog *cat = NULL;
  assert_int_equal(cu_catalog_get(&cat, NULL), CUSTOS_OK);
  static const struct {
    const char *alias, *id, *country;
  } cases[] = {
      {"westeurope", "azure:westeurope", "NL"},
      {"West Europe", "azure:westeurope", "NL"},
      {"WEST_EUROPE", "azure:westeurope", "NL"},
      {"azure:westeurope", "azure:westeurope", "NL"},
      {"weu", "azure:westeurope", "NL"},
      {"europe-west4", "gcp:europe-west4", "NL"},
      {"eu-amsterdam-1", "oci:eu-amsterdam-1", "NL"},
      {"northeurope", "azure:northeurope", "IE"},
      {"eu-west-1", "aws:eu-west-1", "IE"},
      {"us-east-1", "aws:us-east-1", "US"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const cu_region *r =
        cu_catalog_region(cat, cases[i].alias, strlen(cases[i].alias));
    assert_non_null(r);
    assert_string_equal(r->id, cases[i].id);
    assert_string_equal(r->country, cases[i].country);
  }
  assert_null(cu_catalog_region(cat, "atlantis-central-9", 18));
  assert_null(cu_catalog_region(cat, "", 0));
  assert_true(cu_catalog_nregions(cat) > 150);
  /* every region is reachable from its canonical id */
  for (size_t i = 0; i < cu_catalog_nregions(cat); i++) {
    const cu_region *r = cu_catalog_region_at(cat, i);
    assert_ptr_equal(cu_catalog_region(cat, r->id, strlen(r->id)), r);
  }
}

static void test_categories(void **state) {
  (void)state;
  const cu_catalog *cat = NULL;
  assert_int_equal(cu_catalog_get(&cat, NULL), CUSTOS_OK);
  assert_true(cu_catalog_category_valid(cat, "Storage", NULL));
  assert_true(cu_catalog_category_valid(cat, "Storage", "Object Storage"));
  assert_true(cu_catalog_category_valid(cat, "AI and Machine Learning", NULL));
  assert_true(cu_catalog_category_valid(cat, "Security", NULL));
  assert_false(cu_catalog_category_valid(cat, "Storage", "Bots"));
  assert_false(cu_catalog_category_valid(cat, "Customer Content", NULL));
  const char *c = NULL, *s = NULL;
  assert_true(cu_catalog_service(cat, "Azure Blob Storage", &c, &s));
  assert_string_equal(c, "Storage");
}

static void test_ingest_and_replace(void **state) {
  (void)state;
  char a[128], u[128], s[128], u2[128], cyc[128];
  write_file("a.csv",
             "\xef\xbb\xbf"
             "account_id,name,country,sector\r\n"
             "acct-1,Ministry of Roads,XB,government\r\n",
             a, sizeof a);
  write_file("u.csv",
             "name,unit_id,account_id,parent_unit_id,extra\n"
             "Inspections,u-1b,acct-1,u-1a,x\n" /* child before parent */
             "Bridges,u-1a,acct-1,u-1,x\n"
             "HQ,u-1,acct-1,NULL,x\n", /* NULL as exports write it */
             u, sizeof u);
  write_file("s.csv",
             "subscription_id,account_id,unit_id,name,region\n"
             "s-1,acct-1,u-1b,main,West Europe\n",
             s, sizeof s);
  const char *paths[] = {s, u, a};
  cu_dir_stats st;
  custos_diag d;
  custos_diag_clear(&d);
  assert_int_equal(cu_dir_ingest(ws, paths, 3, "ops", &st, &d), CUSTOS_OK);
  assert_int_equal(st.accounts, 1);
  assert_int_equal(st.units, 3);
  assert_int_equal(st.subscriptions, 1);
  assert_int_equal(st.files, 3);

  sqlite3_stmt *q = NULL;
  assert_int_equal(cu_ws_prepare(ws,
                                 "SELECT region_id FROM subscriptions"
                                 " WHERE id='s-1'",
                                 &q, NULL),
                   CUSTOS_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(q, 0),
                      "azure:westeurope");
  sqlite3_finalize(q);

  /* a newer export re-parents a unit: accepted, replaces the row */
  write_file("u2.csv",
             "unit_id,account_id,parent_unit_id,name\n"
             "u-1b,acct-1,u-1,Inspections (moved)\n",
             u2, sizeof u2);
  const char *p2[] = {u2};
  assert_int_equal(cu_dir_ingest(ws, p2, 1, "ops", &st, NULL), CUSTOS_OK);
  assert_int_equal(cu_ws_prepare(ws,
                                 "SELECT parent_id, name FROM units"
                                 " WHERE id='u-1b'",
                                 &q, NULL),
                   CUSTOS_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(q, 0), "u-1");
  sqlite3_finalize(q);

  /* a newer export that closes a cycle through existing units: refused */
  write_file("cyc.csv",
             "unit_id,account_id,parent_unit_id,name\n"
             "u-1,acct-1,u-1b,HQ under its own grandchild\n",
             cyc, sizeof cyc);
  const char *p3[] = {cyc};
  custos_diag_clear(&d);
  assert_int_equal(cu_dir_ingest(ws, p3, 1, "ops", &st, &d),
                   CUSTOS_ECONFLICT);
  assert_string_equal(d.input, cyc);
  assert_int_equal(d.line, 2);
  assert_non_null(strstr(d.msg, "cycle"));
  /* and u-1 is still a root */
  assert_int_equal(cu_ws_prepare(ws,
                                 "SELECT parent_id IS NULL FROM units"
                                 " WHERE id='u-1'",
                                 &q, NULL),
                   CUSTOS_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(q, 0), 1);
  sqlite3_finalize(q);
}

static void test_missing_column_and_header(void **state) {
  (void)state;
  char p[128];
  write_file("short.csv",
             "unit_id,account_id,parent_unit_id,name\n"
             "u-5,acct-1\n",
             p, sizeof p);
  const char *paths[] = {p};
  cu_dir_stats st;
  custos_diag d;
  custos_diag_clear(&d);
  assert_int_equal(cu_dir_ingest(ws, paths, 1, "ops", &st, &d),
                   CUSTOS_EPARSE);
  assert_int_equal(d.line, 2);
  write_file("nohdr.csv", "foo,bar\n1,2\n", p, sizeof p);
  custos_diag_clear(&d);
  assert_int_equal(cu_dir_ingest(ws, paths, 1, "ops", &st, &d),
                   CUSTOS_EPARSE);
  assert_non_null(strstr(d.msg, "not a directory file"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_regions),
      cmocka_unit_test(test_categories),
      cmocka_unit_test(test_ingest_and_replace),
      cmocka_unit_test(test_missing_column_and_header),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
