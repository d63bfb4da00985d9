/*
 * Out-of-memory fault injection in the usage ingest: whichever allocation
 * fails (the arena, the hash tables, a dimension set's rollup window or
 * overflow table, a resource, the reader's batches), the ingest fails
 * with CUSTOS_ENOMEM, stores nothing and leaks nothing (ASan builds), and
 * an ingest with memory to spare then stores the file.
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

#include "gen/gen.h"
#include "ledger/ledgerInt.h"

static void check(custos_rc rc, const custos_diag *d) {
  if (rc != CUSTOS_OK) {
    char line[2048];
    fprintf(stderr, "%s\n", custos_diag_format(d, line, sizeof line));
  }
  assert_int_equal(rc, CUSTOS_OK);
}

static void test_oom(void **state) {
  (void)state;
  char tmp[256], dir[300], ws_dir[300], pat[400];
  fixture_tmp("oom", tmp, sizeof tmp);
  snprintf(dir, sizeof dir, "%s/g", tmp);
  fixture_gen(dir, 3, false);
  custos_diag d;
  custos_diag_clear(&d);
  snprintf(pat, sizeof pat, "%s/directory/*.csv", dir);
  snprintf(ws_dir, sizeof ws_dir, "%s/probe", tmp);
  cu_ws *probe = fixture_ws_directory(ws_dir, pat);
  snprintf(ws_dir, sizeof ws_dir, "%s/ws", tmp);
  cu_ws *ws = fixture_ws_directory(ws_dir, pat);
  /* One month's export of the generated world. */
  char path[400];
  snprintf(path, sizeof path, "%s/usage/focus-2024-06.csv", dir);
  const char *file = path;
  cu_ledger_opts o;
  cu_ledger_opts_default(&o);
  o.custodian = "test";
  /* How many allocations a whole ingest makes, into a workspace of its
   * own. */
  cu_alloc_fail_after(LONG_MAX);
  check(cu_ledger_ingest(probe, &file, 1, &o, NULL, &d), &d);
  long total = cu_alloc_fail_after(-1);
  cu_ws_close(probe);
  assert_true(total > 100);
  /* Each allocation in turn fails. */
  int failed = 0;
  for (long k = 0; k < total; k++) {
    custos_diag_clear(&d);
    cu_alloc_fail_after(k);
    custos_rc rc = cu_ledger_ingest(ws, &file, 1, &o, NULL, &d);
    cu_alloc_fail_after(-1);
    if (rc == CUSTOS_OK)
      break;
    assert_int_equal(rc, CUSTOS_ENOMEM);
    assert_int_equal(
        fixture_int(ws, "SELECT count(*) FROM usage_blocks", NULL), 0);
    failed++;
  }
  assert_true(failed > 100);
  custos_diag_clear(&d);
  check(cu_ledger_ingest(ws, &file, 1, &o, NULL, &d), &d);
  assert_true(fixture_int(ws, "SELECT count(*) FROM usage_blocks", NULL) > 0);
  cu_ws_close(ws);
  fixture_rm_tree(tmp);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_oom),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
