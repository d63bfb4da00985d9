/* Unit tests of store: workspace creation, open, migrations, refusal of a
 * newer schema, transactions and the event outbox. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* Fills b with the bytes of row i of the WAL tests. */
static void walbuf_row(unsigned char *b, size_t n, int i, int round) {
  for (size_t k = 0; k < n; k++)
    b[k] = (unsigned char)(k * 31u + (unsigned)i * 7u + (unsigned)round);
}

/* Writes rows 0..n-1 (round r) into walt, inserting or updating. */
static void walbuf_write(cu_ws *ws, int n, int round, bool update) {
  unsigned char b[3000];
  sqlite3_stmt *st = NULL;
  assert_int_equal(
      cu_ws_prepare(ws,
                    update ? "UPDATE walt SET x=?2 WHERE id=?1"
                           : "INSERT INTO walt(id, x) VALUES(?1,?2)",
                    &st, NULL),
      CUSTOS_OK);
  for (int i = 0; i < n; i++) {
    walbuf_row(b, sizeof b, i, round);
    sqlite3_reset(st);
    sqlite3_bind_int(st, 1, i);
    sqlite3_bind_blob(st, 2, b, sizeof b, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
  }
  sqlite3_finalize(st);
}

/* Checks through db (another connection, SQLite's default VFS) that walt
 * holds rows 0..n-1 of round r, byte for byte. */
static void walbuf_check(sqlite3 *db, int n, int round) {
  unsigned char b[3000];
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT id, x FROM walt ORDER BY id",
                                      -1, &st, NULL),
                   SQLITE_OK);
  int i = 0;
  for (; sqlite3_step(st) == SQLITE_ROW; i++) {
    assert_int_equal(sqlite3_column_int(st, 0), i);
    walbuf_row(b, sizeof b, i, round);
    assert_int_equal(sqlite3_column_bytes(st, 1), (int)sizeof b);
    assert_memory_equal(sqlite3_column_blob(st, 1), b, sizeof b);
  }
  assert_int_equal(i, n);
  sqlite3_finalize(st);
  assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st,
                                      NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
  sqlite3_finalize(st);
}

/* A workspace of its own under the test directory, and walt in it. */
static cu_ws *walbuf_ws(const char *name) {
  char wdir[128];
  snprintf(wdir, sizeof wdir, "%.*s/%s", (int)(strlen(dir) - 3), dir, name);
  assert_int_equal(cu_ws_create(wdir, NULL), CUSTOS_OK);
  cu_ws *ws = NULL;
  assert_int_equal(cu_ws_open(wdir, &ws, NULL), CUSTOS_OK);
  assert_int_equal(cu_ws_exec(ws,
                              "PRAGMA wal_autocheckpoint=0;"
                              "CREATE TABLE walt(id INTEGER PRIMARY KEY,"
                              " x BLOB)",
                              NULL),
                   CUSTOS_OK);
  return ws;
}

/* The workspace VFS gathers WAL writes (walbuf.c): far fewer writes than
 * frames, and another connection sees every committed byte: after a
 * commit with a sync, after one without (synchronous=NORMAL: the commit
 * frame is written out at once), and after a transaction that spilled
 * pages into the WAL and wrote them again (reads of the WAL in between). */
static void test_wal_buffered(void **state) {
  (void)state;
  /* A workspace of its own: an earlier test leaves dir refused. */
  cu_ws *ws = walbuf_ws("wal");
  assert_non_null(cu_ws_vfs());
  char path[256];
  assert_int_equal(cu_ws_path(ws, "custos.db", path, sizeof path), CUSTOS_OK);
  sqlite3 *other = NULL;
  assert_int_equal(sqlite3_open_v2(path, &other, SQLITE_OPEN_READWRITE, NULL),
                   SQLITE_OK);
  /* 2000 rows of 3000 bytes: about 1500 frames of 4 KiB, each written
   * as two calls by SQLite. */
  uint64_t w0 = cu_ws_vfs_writes();
  assert_int_equal(cu_ws_begin(ws, NULL), CUSTOS_OK);
  walbuf_write(ws, 2000, 0, false);
  assert_int_equal(cu_ws_commit(ws, NULL), CUSTOS_OK);
  uint64_t writes = cu_ws_vfs_writes() - w0;
  assert_true(writes > 0);
  assert_true(writes < 200);
  walbuf_check(other, 2000, 0);
  /* No sync at commit: only the commit frame's own flush puts the frames
   * in the file before the WAL index counts them. */
  assert_int_equal(cu_ws_exec(ws, "PRAGMA synchronous=NORMAL", NULL),
                   CUSTOS_OK);
  assert_int_equal(cu_ws_begin(ws, NULL), CUSTOS_OK);
  walbuf_write(ws, 2000, 1, true);
  assert_int_equal(cu_ws_commit(ws, NULL), CUSTOS_OK);
  walbuf_check(other, 2000, 1);
  /* A page cache of 10 pages: the transaction writes pages to the WAL,
   * reads them back and writes them again in place. */
  assert_int_equal(cu_ws_exec(ws, "PRAGMA synchronous=FULL;"
                                  "PRAGMA cache_size=10", NULL),
                   CUSTOS_OK);
  assert_int_equal(cu_ws_begin(ws, NULL), CUSTOS_OK);
  walbuf_write(ws, 2000, 2, true);
  walbuf_check(cu_ws_db(ws), 2000, 2);
  walbuf_write(ws, 2000, 3, true);
  assert_int_equal(cu_ws_commit(ws, NULL), CUSTOS_OK);
  walbuf_check(other, 2000, 3);
  /* And after a checkpoint, from the database file alone; the
   * checkpoint's page writes are gathered too. */
  int nlog = 0, nckpt = 0;
  w0 = cu_ws_vfs_writes();
  uint64_t r0 = cu_ws_vfs_wal_reads();
  assert_int_equal(sqlite3_wal_checkpoint_v2(cu_ws_db(ws), NULL,
                                             SQLITE_CHECKPOINT_PASSIVE, &nlog,
                                             &nckpt),
                   SQLITE_OK);
  writes = cu_ws_vfs_writes() - w0;
  uint64_t reads = cu_ws_vfs_wal_reads() - r0;
  assert_true(nckpt > 1000);
  assert_true(writes > 0);
  assert_true(writes * 10 < (uint64_t)nckpt);
  /* Its reads of the WAL too (the last transaction updated the rows in
   * place, so the frames to copy are the pages of one commit and the
   * spilled ones). */
  assert_true(reads > 0);
  assert_true(reads * 10 < (uint64_t)nckpt);
  walbuf_check(other, 2000, 3);
  assert_int_equal(sqlite3_wal_checkpoint_v2(cu_ws_db(ws), NULL,
                                             SQLITE_CHECKPOINT_TRUNCATE, NULL,
                                             NULL),
                   SQLITE_OK);
  walbuf_check(other, 2000, 3);
  sqlite3_close(other);
  cu_ws_close(ws);
}

/* Caps the size of any file this process writes at its present size plus
 * extra bytes (RLIMIT_FSIZE); a write past it fails (EFBIG, SIGXFSZ
 * ignored).  Returns the limit it replaced. */
static struct rlimit cap_file_size(cu_ws *ws, const char *file, off_t extra) {
  char path[256];
  assert_int_equal(cu_ws_path(ws, file, path, sizeof path), CUSTOS_OK);
  struct stat sb;
  assert_int_equal(stat(path, &sb), 0);
  struct rlimit old, lim;
  assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
  lim = old;
  lim.rlim_cur = (rlim_t)(sb.st_size + extra);
  signal(SIGXFSZ, SIG_IGN);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
  return old;
}

/* A WAL write that fails once SQLite has handed it over (the VFS's
 * writer thread writes it later) fails the commit, and nothing of the
 * transaction is seen; the workspace goes on once there is room. */
static void test_wal_write_fails(void **state) {
  (void)state;
  cu_ws *ws = walbuf_ws("walfull");
  assert_int_equal(cu_ws_begin(ws, NULL), CUSTOS_OK);
  walbuf_write(ws, 200, 0, false);
  assert_int_equal(cu_ws_commit(ws, NULL), CUSTOS_OK);
  /* 2000 rows of 3000 bytes need about 6 MB of WAL; 1 MB more is let. */
  struct rlimit old = cap_file_size(ws, "custos.db-wal", 1 << 20);
  assert_int_equal(cu_ws_begin(ws, NULL), CUSTOS_OK);
  assert_int_equal(cu_ws_exec(ws, "DELETE FROM walt", NULL), CUSTOS_OK);
  walbuf_write(ws, 2000, 1, false);
  custos_diag d;
  custos_diag_clear(&d);
  custos_rc rc = cu_ws_commit(ws, &d);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
  assert_int_not_equal(rc, CUSTOS_OK);
  cu_ws_rollback(ws);
  walbuf_check(cu_ws_db(ws), 200, 0);
  assert_int_equal(cu_ws_begin(ws, NULL), CUSTOS_OK);
  walbuf_write(ws, 200, 2, true);
  assert_int_equal(cu_ws_commit(ws, NULL), CUSTOS_OK);
  walbuf_check(cu_ws_db(ws), 200, 2);
  cu_ws_close(ws);
}

/* Runs a checkpoint of the workspace at wdir in a child process whose
 * files may grow by extra bytes at most; its wait status. */
static int checkpoint_capped(const char *wdir, off_t extra) {
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    /* A connection of the child's own: one made before fork is not its
     * to use. */
    cu_ws *ws = NULL;
    if (cu_ws_open(wdir, &ws, NULL) != CUSTOS_OK)
      _exit(2);
    (void)cap_file_size(ws, "custos.db", extra);
    int rc = sqlite3_wal_checkpoint_v2(cu_ws_db(ws), NULL,
                                       SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    _exit(rc == SQLITE_OK ? 0 : 3);
  }
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  return status;
}

/* A checkpoint whose gathered page writes fail: when a later page write
 * can tell SQLite, the checkpoint fails; when the last buffer fails as
 * the copy ends (SQLite does not hear of it there), the process ends
 * before the checkpoint counts the pages.  Either way the WAL still holds
 * every page, and the next checkpoint copies them. */
static void test_checkpoint_write_fails(void **state) {
  (void)state;
  struct {
    int rows;     /* of 3000 bytes, in the WAL */
    off_t extra;  /* bytes the database may grow by */
    bool aborts;
  } cases[] = {{2000, 64 << 10, false}, {10, 0, true}};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    /* A new workspace each: the pages must grow the file. */
    char name[32], wdir[128];
    snprintf(name, sizeof name, "ckptfull%zu", k);
    snprintf(wdir, sizeof wdir, "%.*s/%s", (int)(strlen(dir) - 3), dir, name);
    cu_ws *ws = walbuf_ws(name);
    assert_int_equal(cu_ws_begin(ws, NULL), CUSTOS_OK);
    walbuf_write(ws, cases[k].rows, (int)k, false);
    assert_int_equal(cu_ws_commit(ws, NULL), CUSTOS_OK);
    int status = checkpoint_capped(wdir, cases[k].extra);
    if (cases[k].aborts) {
      if (!WIFSIGNALED(status))
        fail_msg("case %zu: the child exited with %d", k, WEXITSTATUS(status));
      assert_int_equal(WTERMSIG(status), SIGABRT);
    } else {
      assert_true(WIFEXITED(status));
      assert_int_equal(WEXITSTATUS(status), 3);
    }
    walbuf_check(cu_ws_db(ws), cases[k].rows, (int)k);
    int nlog = -1, nckpt = -1;
    assert_int_equal(sqlite3_wal_checkpoint_v2(cu_ws_db(ws), NULL,
                                               SQLITE_CHECKPOINT_PASSIVE,
                                               &nlog, &nckpt),
                     SQLITE_OK);
    assert_int_equal(nckpt, nlog);
    walbuf_check(cu_ws_db(ws), cases[k].rows, (int)k);
    cu_ws_close(ws);
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
      cmocka_unit_test(test_wal_buffered),
      cmocka_unit_test(test_wal_write_fails),
      cmocka_unit_test(test_checkpoint_write_fails),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
