/* Unit tests of store: workspace creation, open, migrations, refusal of a
 * newer schema, transactions and the event outbox. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "fixture.h"

#include "store/store.h"

static char dir[64];

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/custos-ws-XXXXXX");
  if (!mkdtemp(dir))
    return -1;
  strcat(dir, "/ws");
  return cu_ws_create(dir, NULL) == CUSTOS_OK ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%.*s'", (int)(strlen(dir) - 3), dir);
  return system(cmd) == 0 ? 0 : -1;
}

static void test_create_layout(void **state) {
  (void)state;
  struct stat sb;
  char p[128];
  static const char *const parts[] = {"custos.db", "secret", "log", "keys",
                                      "policies", "outbox"};
  for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
    snprintf(p, sizeof p, "%s/%s", dir, parts[i]);
    assert_int_equal(stat(p, &sb), 0);
  }
  snprintf(p, sizeof p, "%s/secret", dir);
  assert_int_equal(stat(p, &sb), 0);
  assert_int_equal(sb.st_size, 32);
  assert_int_equal(sb.st_mode & 0777, 0600);
  custos_diag d;
  custos_diag_clear(&d);
  assert_int_equal(cu_ws_create(dir, &d), CUSTOS_EEXIST);
  assert_string_equal(d.input, dir);
}

static void test_open_wal_and_events(void **state) {
  (void)state;
  cu_ws *ws = NULL;
  assert_int_equal(cu_ws_open(dir, &ws, NULL), CUSTOS_OK);
  sqlite3_stmt *st = NULL;
  assert_int_equal(cu_ws_prepare(ws, "PRAGMA journal_mode", &st, NULL),
                   CUSTOS_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
  sqlite3_finalize(st);
  /* init recorded one event; the next ones follow gap-free */
  assert_int_equal(fixture_int(ws, "SELECT COUNT(*) FROM events", NULL), 1);
  cu_ws_set_actor(ws, "reviewer-a");
  assert_int_equal(cu_ws_begin(ws, NULL), CUSTOS_OK);
  int64_t seq = -1;
  assert_int_equal(cu_ws_event(ws, "test.one", "case-1", "{}", 2, &seq, NULL),
                   CUSTOS_OK);
  assert_int_equal(seq, 1);
  assert_int_equal(cu_ws_event_json(ws, "test.two", NULL,
                                    json_pack("{s:i,s:s}", "b", 2, "a", "x"),
                                    &seq, NULL),
                   CUSTOS_OK);
  assert_int_equal(seq, 2);
  assert_int_equal(cu_ws_commit(ws, NULL), CUSTOS_OK);
  /* canonical JSON: compact with sorted keys */
  assert_int_equal(cu_ws_prepare(ws,
                                 "SELECT payload, actor FROM events WHERE seq=2",
                                 &st, NULL),
                   CUSTOS_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(st, 0),
                      "{\"a\":\"x\",\"b\":2}");
  assert_string_equal((const char *)sqlite3_column_text(st, 1), "reviewer-a");
  sqlite3_finalize(st);
  /* a rolled back event leaves no gap */
  assert_int_equal(cu_ws_begin(ws, NULL), CUSTOS_OK);
  assert_int_equal(cu_ws_event(ws, "test.gone", NULL, "{}", 2, &seq, NULL),
                   CUSTOS_OK);
  cu_ws_rollback(ws);
  assert_int_equal(cu_ws_begin(ws, NULL), CUSTOS_OK);
  assert_int_equal(cu_ws_event(ws, "test.three", NULL, "{}", 2, &seq, NULL),
                   CUSTOS_OK);
  assert_int_equal(cu_ws_commit(ws, NULL), CUSTOS_OK);
  assert_int_equal(seq, 3);
  assert_int_equal(fixture_int(ws, "SELECT COUNT(*) FROM events WHERE type='test.gone'", NULL),
                   0);
  cu_ws_close(ws);
  cu_ws_close(NULL);
}

static void test_record_query(void **state) {
  (void)state;
  cu_ws *ws = NULL;
  assert_int_equal(cu_ws_open(dir, &ws, NULL), CUSTOS_OK);
  cu_ws_set_actor(ws, "reviewer-b");
  int64_t before = fixture_int(ws, "SELECT COUNT(*) FROM events", NULL);
  assert_int_equal(cu_ws_record_query(ws, "usage", "case-7",
                                      json_pack("{s:s}", "unit", "u-1"), 3,
                                      "00ff", NULL),
                   CUSTOS_OK);
  assert_false(cu_ws_in_tx(ws));
  assert_int_equal(fixture_int(ws, "SELECT COUNT(*) FROM events", NULL), before + 1);
  sqlite3_stmt *st = NULL;
  assert_int_equal(cu_ws_prepare(ws,
                                 "SELECT type, actor, case_id, payload FROM"
                                 " events ORDER BY seq DESC LIMIT 1",
                                 &st, NULL),
                   CUSTOS_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(st, 0), "query.usage");
  assert_string_equal((const char *)sqlite3_column_text(st, 1), "reviewer-b");
  assert_string_equal((const char *)sqlite3_column_text(st, 2), "case-7");
  assert_string_equal((const char *)sqlite3_column_text(st, 3),
                      "{\"kind\":\"usage\",\"query\":{\"unit\":\"u-1\"},"
                      "\"result_sha256\":\"00ff\",\"results\":3}");
  sqlite3_finalize(st);
  cu_ws_close(ws);
}

static void set_version(const char *sql) {
  sqlite3 *db = NULL;
  char p[128];
  snprintf(p, sizeof p, "%s/custos.db", dir);
  assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
}

static void test_newer_schema_refused(void **state) {
  (void)state;
  custos_diag d;
  cu_ws *ws = NULL;
  set_version("UPDATE schema_version SET version = 999 WHERE module='store'");
  custos_diag_clear(&d);
  assert_int_equal(cu_ws_open(dir, &ws, &d), CUSTOS_ESCHEMA);
  assert_null(ws);
  assert_non_null(strstr(d.msg, "newer custos"));
  assert_non_null(strstr(d.hint, "newer custos"));
  set_version("UPDATE schema_version SET version = 1 WHERE module='store';"
              "INSERT INTO schema_version VALUES('from-the-future', 1)");
  custos_diag_clear(&d);
  assert_int_equal(cu_ws_open(dir, &ws, &d), CUSTOS_ESCHEMA);
  assert_non_null(strstr(d.msg, "from-the-future"));
  set_version("DELETE FROM schema_version WHERE module='from-the-future'");
  assert_int_equal(cu_ws_open(dir, &ws, NULL), CUSTOS_OK);
  cu_ws_close(ws);
}

static void test_missing_workspace(void **state) {
  (void)state;
  custos_diag d;
  custos_diag_clear(&d);
  cu_ws *ws = NULL;
  assert_int_equal(cu_ws_open("/tmp/custos-no-such-ws", &ws, &d),
                   CUSTOS_ENOWS);
  assert_non_null(strstr(d.hint, "custos init"));
  /* a damaged secret is refused with a clear message */
  char p[128];
  snprintf(p, sizeof p, "%s/secret", dir);
  FILE *f = fopen(p, "wb");
  assert_non_null(f);
  fputs("short", f);
  fclose(f);
  custos_diag_clear(&d);
  assert_int_equal(cu_ws_open(dir, &ws, &d), CUSTOS_EPARSE);
  assert_non_null(strstr(d.msg, "secret"));
}

static void test_open_oom(void **state) {
  (void)state;
  /* Every allocation failure during open is reported, never a crash. */
  char fresh[128];
  snprintf(fresh, sizeof fresh, "%s-oom", dir);
  assert_int_equal(cu_ws_create(fresh, NULL), CUSTOS_OK);
  for (long n = 0; n < 20; n++) {
    cu_ws *ws = NULL;
    cu_alloc_fail_after(n);
    custos_rc rc = cu_ws_open(fresh, &ws, NULL);
    cu_alloc_fail_after(-1);
    if (rc == CUSTOS_OK) {
      cu_ws_close(ws);
      break;
    }
    assert_int_equal(rc, CUSTOS_ENOMEM);
    assert_null(ws);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_create_layout),
      cmocka_unit_test(test_open_wal_and_events),
      cmocka_unit_test(test_open_oom),
      cmocka_unit_test(test_record_query),
      cmocka_unit_test(test_newer_schema_refused),
      cmocka_unit_test(test_missing_workspace),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
