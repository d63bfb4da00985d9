/*
 * Shared by the unit tests that need a workspace: a fresh one in a new
 * temporary folder, and its removal.  Header-only so each test stays one
 * executable built from one file.
 */
#ifndef CUSTOS_TEST_FIXTURE_H
#define CUSTOS_TEST_FIXTURE_H

#include <ftw.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "directory/directory.h"
#include "gen/gen.h"
#include "store/store.h"

static inline int fixture_rm_one(const char *path, const struct stat *sb,
                                 int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

/* Removes dir with everything in it.  0 on success, -1 on failure. */
static inline int fixture_rm_tree(const char *dir) {
  return nftw(dir, fixture_rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

/* Makes a new folder named after tag under $TMPDIR (else /tmp) and puts
 * its path into tmp (n bytes).  Needs <cmocka.h> before. */
static inline void fixture_tmp(const char *tag, char *tmp, size_t n) {
  const char *t = getenv("TMPDIR");
  snprintf(tmp, n, "%s/custos-%s-XXXXXX", t && *t ? t : "/tmp", tag);
  assert_non_null(mkdtemp(tmp));
}

/* Generates a world of 20,000 usage rows from seed into out (with the
 * faults of real exports when dirty), printing the diagnostic on
 * failure.  Needs <cmocka.h> before. */
static inline void fixture_gen(const char *out, uint64_t seed, bool dirty) {
  cu_gen_opts o;
  memset(&o, 0, sizeof o);
  o.seed = seed;
  o.rows = 20000;
  o.scale_name = "test";
  o.out = out;
  o.dirty = dirty;
  custos_diag d;
  custos_diag_clear(&d);
  custos_rc rc = cu_gen_run(&o, NULL, &d);
  if (rc != CUSTOS_OK) {
    char line[2048];
    fprintf(stderr, "%s\n", custos_diag_format(&d, line, sizeof line));
  }
  assert_int_equal(rc, CUSTOS_OK);
}

/* Creates dir (a /tmp folder named after tag, n >= 64 bytes) holding a
 * new workspace "ws", opened into *ws.  0 on success, -1 on failure. */
static inline int fixture_ws_open(const char *tag, char *dir, size_t n,
                                  cu_ws **ws) {
  snprintf(dir, n, "/tmp/custos-%s-XXXXXX", tag);
  if (!mkdtemp(dir))
    return -1;
  char wsdir[256];
  snprintf(wsdir, sizeof wsdir, "%s/ws", dir);
  if (cu_ws_create(wsdir, NULL) != CUSTOS_OK)
    return -1;
  return cu_ws_open(wsdir, ws, NULL) == CUSTOS_OK ? 0 : -1;
}

/* The one integer the query sql gives (its ?1 bound to arg unless NULL);
 * fails the test when it gives no row.  Needs <cmocka.h> before. */
static inline int64_t fixture_int(cu_ws *ws, const char *sql,
                                  const char *arg) {
  sqlite3_stmt *st = NULL;
  assert_int_equal(cu_ws_prepare(ws, sql, &st, NULL), CUSTOS_OK);
  if (arg)
    sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  int64_t v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

/* Creates the workspace ws_dir and ingests into it the directory files
 * the glob pattern pat names; fails the test, saying why, on any error.
 * Needs <cmocka.h> before. */
static inline cu_ws *fixture_ws_directory(const char *ws_dir,
                                          const char *pat) {
  custos_diag d;
  custos_diag_clear(&d);
  cu_ws *ws = NULL;
  glob_t g;
  cu_dir_stats ds;
  custos_rc rc = cu_ws_create(ws_dir, &d);
  if (rc == CUSTOS_OK)
    rc = cu_ws_open(ws_dir, &ws, &d);
  if (rc == CUSTOS_OK) {
    assert_int_equal(glob(pat, 0, NULL, &g), 0);
    rc = cu_dir_ingest(ws, (const char *const *)g.gl_pathv, g.gl_pathc,
                       "test", &ds, &d);
    globfree(&g);
  }
  if (rc != CUSTOS_OK) {
    char line[2048];
    fprintf(stderr, "%s\n", custos_diag_format(&d, line, sizeof line));
  }
  assert_int_equal(rc, CUSTOS_OK);
  return ws;
}

/* Closes ws and removes dir with everything in it. */
static inline int fixture_ws_close(const char *dir, cu_ws *ws) {
  cu_ws_close(ws);
  return fixture_rm_tree(dir);
}

#endif
