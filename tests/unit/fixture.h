/*
 * Shared by the unit tests that need a workspace: a fresh one in a new
 * temporary folder, and its removal.  Header-only so each test stays one
 * executable built from one file.
 */
#ifndef CUSTOS_TEST_FIXTURE_H
#define CUSTOS_TEST_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

#include "store/store.h"

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

/* Closes ws and removes dir with everything in it. */
static inline int fixture_ws_close(const char *dir, cu_ws *ws) {
  cu_ws_close(ws);
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

#endif
