/*
 * The control plane's side of the NATS feed: drains the workspace's pdp
 * outbox to the key-value bucket in revision order (a key is only ever
 * replaced by a higher revision, by compare-and-set, so re-running after a
 * crash is harmless), puts the heartbeat, and reads the points' reports.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "table.h"

#define DRAIN_BATCH 500
#define CAS_TRIES 8

static custos_rc nats_err(custos_diag *d, const char *what, natsStatus s) {
  const char *last = nats_GetLastError(NULL);
  return cu_diag_set(d, CUSTOS_EIO, "%s: %s%s%s", what, natsStatus_GetText(s),
                     last ? ": " : "", last ? last : "");
}

/*
 * Republishes every change of the blocks bucket on a plain subject
 * (CU_PDP_LIVE_PREFIX "<bucket>.<key>") with its stream sequence in the
 * headers, so that points can follow live changes with a core
 * subscription instead of one JetStream consumer each (internals.md,
 * "Feeds").  An existing bucket made without it is updated where
 * the server allows (nats-server 2.9 refuses to change republishing on an
 * existing stream); otherwise it stays as it is and points keep following
 * it by their consumers.
 */
static void ensure_republish(jsCtx *js, const char *bucket, const char *src,
                             const char *dst) {
  char stream[160];
  snprintf(stream, sizeof stream, "KV_%s", bucket);
  jsStreamInfo *si = NULL;
  jsErrCode jerr = 0;
  if (js_GetStreamInfo(&si, js, stream, NULL, &jerr) != NATS_OK)
    return;
  jsRePublish *have = si->Config->RePublish;
  if (!have || !have->Destination || strcmp(have->Destination, dst) != 0) {
    jsRePublish rp;
    jsRePublish_Init(&rp);
    rp.Source = src;
    rp.Destination = dst;
    si->Config->RePublish = &rp;
    jsStreamInfo *nsi = NULL;
    if (js_UpdateStream(&nsi, js, si->Config, NULL, &jerr) == NATS_OK)
      jsStreamInfo_Destroy(nsi);
    si->Config->RePublish = have; /* freed with si, not rp */
  }
  jsStreamInfo_Destroy(si);
}

custos_rc cu_pdp_bind_bucket(jsCtx *js, const char *bucket, bool live,
                             kvStore **kv, custos_diag *d) {
  char src[160], dst[160];
  int k1 = snprintf(src, sizeof src, "$KV.%s.>", bucket);
  int k2 = snprintf(dst, sizeof dst, CU_PDP_LIVE_PREFIX "%s.>", bucket);
  if (k1 < 0 || (size_t)k1 >= sizeof src || k2 < 0 ||
      (size_t)k2 >= sizeof dst) {
    cu_diag_field(d, "bucket", bucket, strlen(bucket));
    return cu_diag_set(d, CUSTOS_EINVAL, "bucket name too long");
  }
  natsStatus s = js_KeyValue(kv, js, bucket);
  if (s == NATS_NOT_FOUND) {
    kvConfig c;
    kvConfig_Init(&c);
    c.Bucket = bucket;
    c.History = 1;
    c.StorageType = js_FileStorage;
    jsRePublish rp;
    jsRePublish_Init(&rp);
    rp.Source = src;
    rp.Destination = dst;
    if (live)
      c.RePublish = &rp;
    s = js_CreateKeyValue(kv, js, &c);
  } else if (s == NATS_OK && live) {
    ensure_republish(js, bucket, src, dst);
  }
  if (s != NATS_OK) {
    cu_diag_field(d, "bucket", bucket, strlen(bucket));
    return nats_err(d, "cannot open the key-value bucket", s);
  }
  return CUSTOS_OK;
}

/* Puts value under key unless the bucket already holds revision rev or a
 * later one.  Compare-and-set on the entry's sequence, so two publishers
 * cannot put an older block over a newer one. */
static natsStatus put_once(kvStore *kv, const char *key, const char *value,
                           int64_t rev) {
  natsStatus s = NATS_ERR;
  for (int i = 0; i < CAS_TRIES; i++) {
    kvEntry *e = NULL;
    uint64_t nrev = 0;
    s = kvStore_Get(&e, kv, key);
    if (s == NATS_NOT_FOUND) {
      s = kvStore_CreateString(&nrev, kv, key, value);
    } else if (s == NATS_OK) {
      cu_pdp_block b;
      memset(&b, 0, sizeof b);
      const char *v = kvEntry_ValueString(e);
      if (v && cu_pdp_kv_value_parse(v, strlen(v), &b) == 0 &&
          b.revision >= rev) {
        kvEntry_Destroy(e);
        return NATS_OK; /* already there, or superseded */
      }
      s = kvStore_UpdateString(&nrev, kv, key, value, kvEntry_Revision(e));
      kvEntry_Destroy(e);
    }
    if (s == NATS_OK || s == NATS_TIMEOUT || s == NATS_CONNECTION_CLOSED ||
        s == NATS_NO_SERVER)
      return s;
    /* Otherwise most likely "wrong last sequence": someone wrote between
     * our get and update.  Look again. */
  }
  return s;
}

/* Marks revision rev published. */
static custos_rc mark(cu_ws *ws, sqlite3_stmt *st, int64_t rev,
                      custos_diag *d) {
  sqlite3_reset(st);
  sqlite3_bind_int64(st, 1, rev);
  if (sqlite3_step(st) != SQLITE_DONE)
    return cu_ws_dberr(ws, "cannot mark a block published", d);
  return CUSTOS_OK;
}

/* One pass over the outbox.  *left gets whether unpublished rows remain,
 * *upto the highest revision below which everything is published. */
static custos_rc drain(cu_ws *ws, kvStore *kv, int64_t *count, int *left,
                       int64_t *upto, custos_diag *d) {
  sqlite3_stmt *sel = NULL, *upd = NULL;
  custos_rc rc = cu_ws_prepare(ws,
                               "SELECT revision, key, value FROM pdp_outbox"
                               " WHERE published = 0 ORDER BY revision LIMIT ?1",
                               &sel, d);
  if (rc != CUSTOS_OK)
    return rc;
  rc = cu_ws_prepare(ws, "UPDATE pdp_outbox SET published = 1 WHERE"
                         " revision = ?1",
                     &upd, d);
  if (rc != CUSTOS_OK)
    goto fail_sel;
  *left = 0;
  sqlite3_bind_int(sel, 1, DRAIN_BATCH);
  int64_t done[DRAIN_BATCH];
  size_t ndone = 0;
  int step;
  while ((step = sqlite3_step(sel)) == SQLITE_ROW) {
    int64_t rev = sqlite3_column_int64(sel, 0);
    const char *key = (const char *)sqlite3_column_text(sel, 1);
    const char *value = (const char *)sqlite3_column_text(sel, 2);
    natsStatus s = put_once(kv, key, value, rev);
    if (s != NATS_OK) {
      *left = 1; /* the broker is away: keep the rest for later */
      break;
    }
    done[ndone++] = rev;
  }
  if (step == SQLITE_ROW && ndone == DRAIN_BATCH)
    *left = 1;
  sqlite3_reset(sel);
  if (ndone) {
    rc = cu_ws_begin(ws, d);
    for (size_t i = 0; i < ndone && rc == CUSTOS_OK; i++)
      rc = mark(ws, upd, done[i], d);
    if (rc == CUSTOS_OK)
      rc = cu_ws_commit(ws, d);
    else
      cu_ws_rollback(ws);
    if (rc == CUSTOS_OK)
      *count += (int64_t)ndone;
  }
  sqlite3_finalize(upd);
  upd = NULL;
  if (rc == CUSTOS_OK) {
    /* Everything below the first unpublished revision is in the bucket. */
    rc = cu_ws_prepare(ws,
                       "SELECT COALESCE((SELECT MIN(revision) - 1 FROM"
                       " pdp_outbox WHERE published = 0),"
                       " (SELECT COALESCE(MAX(revision), 0) FROM pdp_outbox))",
                       &upd, d);
    if (rc == CUSTOS_OK && sqlite3_step(upd) == SQLITE_ROW)
      *upto = sqlite3_column_int64(upd, 0);
  }
  sqlite3_finalize(upd);
fail_sel:
  sqlite3_finalize(sel);
  return rc;
}

static void sleep_ms(uint32_t ms) {
  struct timespec ts = {.tv_sec = ms / 1000,
                        .tv_nsec = (long)(ms % 1000) * 1000000};
  nanosleep(&ts, NULL);
}

custos_rc cu_pdp_publish_run(cu_ws *ws, const cu_pdp_pub_opts *o,
                             int64_t *published, custos_diag *d) {
  const char *bucket = o->bucket ? o->bucket : CU_PDP_DEFAULT_BUCKET;
  uint32_t hb_ms = o->heartbeat_ms ? o->heartbeat_ms : CU_PDP_HEARTBEAT_MS;
  uint32_t poll_ms = o->poll_ms ? o->poll_ms : 10;
  char points_name[160];
  int k = snprintf(points_name, sizeof points_name, "%s-points", bucket);
  if (k < 0 || (size_t)k >= sizeof points_name)
    return cu_diag_set(d, CUSTOS_EINVAL, "bucket name too long");
  int64_t count = 0;
  natsConnection *nc = NULL;
  jsCtx *js = NULL;
  kvStore *kv = NULL, *points = NULL;
  custos_rc rc = cu_pdp_nats_connect(o->nats_url, false, &nc, d);
  if (rc != CUSTOS_OK)
    return rc;
  if (natsConnection_JetStream(&js, nc, NULL) != NATS_OK) {
    rc = cu_diag_set(d, CUSTOS_ENOMEM, "cannot make a JetStream context");
    goto fail_conn;
  }
  rc = cu_pdp_bind_bucket(js, bucket, true, &kv, d);
  if (rc == CUSTOS_OK)
    rc = cu_pdp_bind_bucket(js, points_name, false, &points, d);
  if (rc != CUSTOS_OK)
    goto fail_js;

  int64_t last_hb = 0;
  for (;;) {
    int left = 0;
    int64_t upto = 0;
    rc = drain(ws, kv, &count, &left, &upto, d);
    if (rc == CUSTOS_EBUSY) {
      rc = CUSTOS_OK; /* a writer holds the workspace: next time */
      left = 1;
    }
    if (rc != CUSTOS_OK)
      break;
    int64_t now = cu_pdp_now_ms();
    int stop = (o->stop && *o->stop) || (o->once && !left);
    if (now - last_hb >= hb_ms || stop) {
      char hb[96];
      snprintf(hb, sizeof hb, "{\"revision\":%lld,\"time_ms\":%lld}",
               (long long)upto, (long long)now);
      uint64_t r = 0;
      if (kvStore_PutString(&r, kv, "hb", hb) == NATS_OK)
        last_hb = now;
    }
    if (stop)
      break;
    if (!left)
      sleep_ms(poll_ms);
  }
  kvStore_Destroy(points);
  kvStore_Destroy(kv);
fail_js:
  jsCtx_Destroy(js);
fail_conn:
  natsConnection_Destroy(nc);
  if (published)
    *published = count;
  return rc;
}

custos_rc cu_pdp_points(const char *nats_url, const char *bucket,
                        cu_pdp_point **out, size_t *n, custos_diag *d) {
  *out = NULL;
  *n = 0;
  char name[160];
  int k = snprintf(name, sizeof name, "%s-points",
                   bucket ? bucket : CU_PDP_DEFAULT_BUCKET);
  if (k < 0 || (size_t)k >= sizeof name)
    return cu_diag_set(d, CUSTOS_EINVAL, "bucket name too long");
  natsConnection *nc = NULL;
  jsCtx *js = NULL;
  kvStore *kv = NULL;
  kvKeysList keys = {0};
  custos_rc rc = cu_pdp_nats_connect(nats_url, false, &nc, d);
  if (rc != CUSTOS_OK)
    return rc;
  natsStatus s = natsConnection_JetStream(&js, nc, NULL);
  if (s == NATS_OK)
    s = js_KeyValue(&kv, js, name);
  if (s == NATS_NOT_FOUND) {
    rc = CUSTOS_OK; /* no point has ever reported */
    goto done;
  }
  if (s == NATS_OK)
    s = kvStore_Keys(&keys, kv, NULL);
  if (s == NATS_NOT_FOUND) {
    s = NATS_OK;
    keys.Count = 0;
  }
  if (s != NATS_OK) {
    rc = nats_err(d, "cannot list the points", s);
    goto done;
  }
  cu_pdp_point *pts = keys.Count ? cu_calloc((size_t)keys.Count, sizeof *pts)
                                 : NULL;
  if (keys.Count && !pts) {
    rc = cu_diag_set(d, CUSTOS_ENOMEM, "out of memory listing points");
    goto done;
  }
  size_t m = 0;
  for (int i = 0; i < keys.Count; i++) {
    /* The key list is read by a watcher, and a point that reports while
     * it runs is listed twice. */
    int seen = 0;
    for (int j = 0; j < i && !seen; j++)
      seen = strcmp(keys.Keys[j], keys.Keys[i]) == 0;
    kvEntry *e = NULL;
    if (seen || kvStore_Get(&e, kv, keys.Keys[i]) != NATS_OK)
      continue;
    const char *v = kvEntry_ValueString(e);
    json_t *j = v ? json_loads(v, 0, NULL) : NULL;
    json_int_t rev = 0, t = 0, lag = 0;
    const char *state = "";
    if (j && json_unpack(j, "{s:I,s:I,s:I,s:s}", "revision", &rev, "time_ms",
                         &t, "lag_ms", &lag, "state", &state) == 0) {
      snprintf(pts[m].id, sizeof pts[m].id, "%s", keys.Keys[i]);
      pts[m].revision = (uint64_t)rev;
      pts[m].time_ms = t;
      pts[m].lag_ms = lag;
      snprintf(pts[m].state, sizeof pts[m].state, "%s", state);
      m++;
    }
    json_decref(j);
    kvEntry_Destroy(e);
  }
  *out = pts;
  *n = m;
done:
  kvKeysList_Destroy(&keys);
  kvStore_Destroy(kv);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  return rc;
}
