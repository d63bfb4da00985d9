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

/* Closes ws and removes dir with everything in it. */
static inline int fixture_ws_close(const char *dir, cu_ws *ws) {
  cu_ws_close(ws);
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

#endif
