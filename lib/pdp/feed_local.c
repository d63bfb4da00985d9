/*
 * The local feed: a decision point on the same machine as the workspace
 * reads pdp_blocks by revision every poll_ms on its ticker thread, through
 * its own SQLite connection (WAL lets it read while others write).
 */
#include <stdio.h>

#include <sqlite3.h>

#include "table.h"

#define BATCH 20000

typedef struct local_feed {
  cu_pdp_feed base;
  custos_pdp *p;
  sqlite3 *db;
  int64_t last_poll_ms;
  uint64_t max_rev; /* highest revision read in the current poll */
} local_feed;

static int take(void *ctx, const cu_pdp_block *b) {
  local_feed *f = ctx;
  if (cu_pdp_stage(f->p, b) != CUSTOS_OK)
    return 1;
  if ((uint64_t)b->revision > f->max_rev)
    f->max_rev = (uint64_t)b->revision;
  return 0;
}

/* Reads everything after the applied revision, in batches; publishes once
 * at the end so a long catch-up builds one table. */
static void poll_once(local_feed *f) {
  custos_pdp *p = f->p;
  cu_pdp_writer_lock(p);
  uint64_t from = cu_pdp_applied(p);
  f->max_rev = from;
  custos_rc rc = CUSTOS_OK;
  for (;;) {
    uint64_t before = f->max_rev;
    rc = cu_pdp_scan(f->db, (int64_t)f->max_rev, true, BATCH, take, f, NULL);
    if (rc != CUSTOS_OK || f->max_rev == before)
      break;
  }
  if (rc == CUSTOS_OK)
    rc = cu_pdp_publish(p, f->max_rev);
  cu_pdp_writer_unlock(p);
  if (rc == CUSTOS_OK)
    cu_pdp_heard(p, f->max_rev);
}

static void local_tick(cu_pdp_feed *base) {
  local_feed *f = (local_feed *)base;
  int64_t now = cu_pdp_now_ms();
  if (now - f->last_poll_ms < (int64_t)cu_pdp_config(f->p)->poll_ms)
    return;
  f->last_poll_ms = now;
  poll_once(f);
}

static void local_stop(cu_pdp_feed *base) {
  local_feed *f = (local_feed *)base;
  sqlite3_close_v2(f->db);
  cu_free(f);
}

custos_rc cu_pdp_feed_local_start(custos_pdp *p, cu_pdp_feed **out,
                                  custos_diag *d) {
  char path[4096];
  const char *ws = cu_pdp_config(p)->workspace;
  int k = snprintf(path, sizeof path, "%s/custos.db", ws);
  if (k < 0 || (size_t)k >= sizeof path)
    return cu_diag_set(d, CUSTOS_EINVAL, "workspace path too long");
  local_feed *f = cu_calloc(1, sizeof *f);
  if (!f)
    return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory starting the feed");
  f->base.tick = local_tick;
  f->base.stop = local_stop;
  f->p = p;
  if (sqlite3_open_v2(path, &f->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                      NULL) != SQLITE_OK) {
    cu_diag_at(d, ws, 0, 0);
    cu_diag_hint(d, "create one with `custos init`, or choose another with "
                    "-w DIR");
    custos_rc rc = cu_diag_set(d, CUSTOS_ENOWS, "not a custos workspace: %s",
                               sqlite3_errmsg(f->db));
    sqlite3_close_v2(f->db);
    cu_free(f);
    return rc;
  }
  sqlite3_busy_timeout(f->db, 100);
  /* The first poll runs here, so a point opened on a workspace answers
   * from its blocks as soon as open returns. */
  poll_once(f);
  f->last_poll_ms = cu_pdp_now_ms();
  *out = &f->base;
  return CUSTOS_OK;
}
