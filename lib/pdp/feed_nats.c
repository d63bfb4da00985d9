/*
 * The NATS feed: an ordered JetStream consumer on the key-value bucket's
 * stream, started after the revision the point already holds (from its
 * snapshot) or from the beginning when that position is gone.  Messages are
 * staged as they come and published as one table when the consumer has
 * caught up.  The ticker re-subscribes when needed and reports the point's
 * applied revision to "<bucket>-points".
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <nats/nats.h>

#include "table.h"

#define BUILD_EVERY_MS 100 /* during a long catch-up, publish this often */
#define REPORT_EVERY_MS 5000 /* and at once when the revision changes */
#define RESUB_EVERY_MS 200
#define VERIFY_EVERY_MS 10000

typedef struct nats_feed {
  cu_pdp_feed base;
  custos_pdp *p;
  natsConnection *nc;
  jsCtx *js;
  kvStore *points;
  natsSubscription *sub;
  char stream[128];  /* "KV_<bucket>" */
  char subject[160]; /* "$KV.<bucket>.>" */
  size_t prefix;     /* length of "$KV.<bucket>." */
  char point_key[96];
  /* handler thread, under the writer lock */
  uint64_t block_rev, hb_rev;
  int64_t last_build_ms;
  _Atomic int64_t last_msg_ms; /* handler writes, ticker reads */
  /* ticker thread */
  int64_t last_try_ms, last_verify_ms, last_report_ms, sub_ms;
  uint64_t reported_rev;
} nats_feed;

/* Applies one message of the bucket's stream; runs on the client's
 * delivery thread, one message at a time per subscription. */
static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg,
                   void *closure) {
  (void)nc;
  (void)sub;
  nats_feed *f = closure;
  custos_pdp *p = f->p;
  jsMsgMetaData *meta = NULL;
  if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) {
    natsMsg_Destroy(msg);
    return;
  }
  const char *subject = natsMsg_GetSubject(msg);
  const char *key = strlen(subject) > f->prefix ? subject + f->prefix : "";
  const char *op = NULL;
  int deleted = natsMsgHeader_Get(msg, "KV-Operation", &op) == NATS_OK && op &&
                (strcmp(op, "DEL") == 0 || strcmp(op, "PURGE") == 0);
  const char *data = natsMsg_GetData(msg);
  size_t len = (size_t)natsMsg_GetDataLength(msg);
  atomic_store(&f->last_msg_ms, cu_pdp_now_ms());

  cu_pdp_writer_lock(p);
  uint64_t seq;
  int64_t created;
  cu_pdp_feed_pos(p, &seq, &created);
  if (strcmp(key, "hb") == 0) {
    json_t *o = json_loadb(data ? data : "", len, 0, NULL);
    json_int_t rev = 0;
    if (o && json_unpack(o, "{s:I}", "revision", &rev) == 0 && rev > 0 &&
        (uint64_t)rev > f->hb_rev)
      f->hb_rev = (uint64_t)rev;
    json_decref(o);
  } else {
    cu_pdp_block b;
    memset(&b, 0, sizeof b);
    if (cu_pdp_kv_key_parse(key, &b) == 0 &&
        (deleted || cu_pdp_kv_value_parse(data ? data : "", len, &b) == 0)) {
      if (deleted)
        b.effect = CUSTOS_PDP_EFFECT_NONE;
      /* A failed stage (out of memory) leaves this block out; the next
       * full load repairs it, and status shows the point behind. */
      if (cu_pdp_stage(p, &b) == CUSTOS_OK &&
          (uint64_t)b.revision > f->block_rev)
        f->block_rev = (uint64_t)b.revision;
    }
  }
  cu_pdp_set_feed_pos(p, meta->Sequence.Stream, created);
  int64_t now = cu_pdp_now_ms();
  uint64_t rev = f->block_rev > f->hb_rev ? f->block_rev : f->hb_rev;
  if (meta->NumPending == 0 || now - f->last_build_ms >= BUILD_EVERY_MS) {
    if (cu_pdp_publish(p, rev) == CUSTOS_OK)
      f->last_build_ms = now;
  }
  cu_pdp_writer_unlock(p);
  cu_pdp_heard(p, f->hb_rev);
  jsMsgMetaData_Destroy(meta);
  natsMsg_Destroy(msg);
}

static void drop_sub(nats_feed *f) {
  if (f->sub) {
    natsSubscription_Unsubscribe(f->sub);
    natsSubscription_Destroy(f->sub);
    f->sub = NULL;
  }
}

/* Subscribes from the held position, or from the start when the stream is
 * not the one the position belongs to.  Quietly retried by the ticker. */
static void subscribe(nats_feed *f) {
  custos_pdp *p = f->p;
  jsStreamInfo *si = NULL;
  jsErrCode jerr = 0;
  if (js_GetStreamInfo(&si, f->js, f->stream, NULL, &jerr) != NATS_OK)
    return;
  cu_pdp_writer_lock(p);
  uint64_t seq;
  int64_t created;
  cu_pdp_feed_pos(p, &seq, &created);
  uint64_t start = 1;
  if (seq > 0 && created == si->Created && si->State.LastSeq >= seq) {
    start = seq + 1;
  } else {
    /* The position is gone (new bucket, or a point that never had one):
     * load everything.  Readers keep the old table until the consumer has
     * caught up and the full new one is published. */
    if (seq > 0 || cu_pdp_applied(p) > 0)
      cu_pdp_stage_reset(p);
    cu_pdp_count_full_load(p);
    cu_pdp_set_feed_pos(p, 0, si->Created);
    f->block_rev = 0;
    f->hb_rev = 0;
  }
  cu_pdp_writer_unlock(p);
  jsStreamInfo_Destroy(si);

  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Ordered = true;
  so.Config.DeliverPolicy = start == 1 ? js_DeliverAll
                                       : js_DeliverByStartSequence;
  so.Config.OptStartSeq = start == 1 ? 0 : start;
  natsSubscription *sub = NULL;
  if (js_Subscribe(&sub, f->js, f->subject, on_msg, f, NULL, &so, &jerr) ==
      NATS_OK) {
    f->sub = sub;
    f->sub_ms = cu_pdp_now_ms();
  }
}

/*
 * The subscription is dead or deaf: the client gave it up (an ordered
 * consumer whose re-creation timed out on a busy server stays invalid),
 * or nothing came for half the staleness bound although the control plane
 * puts a heartbeat every 200 ms.  Resubscribing resumes from the held
 * position, so nothing is loaded twice.
 */
static int sub_lost(nats_feed *f, int64_t now) {
  if (!natsSubscription_IsValid(f->sub))
    return 1;
  int64_t last = atomic_load(&f->last_msg_ms);
  if (last < f->sub_ms)
    last = f->sub_ms;
  return now - last > (int64_t)cu_pdp_config(f->p)->max_lag_ms / 2;
}

/* The stream is still the one the position belongs to. */
static void verify(nats_feed *f) {
  jsStreamInfo *si = NULL;
  jsErrCode jerr = 0;
  natsStatus s = js_GetStreamInfo(&si, f->js, f->stream, NULL, &jerr);
  if (s != NATS_OK) {
    if (jerr == JSStreamNotFoundErr)
      drop_sub(f);
    return;
  }
  cu_pdp_writer_lock(f->p);
  uint64_t seq;
  int64_t created;
  cu_pdp_feed_pos(f->p, &seq, &created);
  int gone = created != si->Created || si->State.LastSeq < seq;
  if (gone)
    cu_pdp_set_feed_pos(f->p, 0, 0);
  cu_pdp_writer_unlock(f->p);
  jsStreamInfo_Destroy(si);
  if (gone)
    drop_sub(f);
}

static void report(nats_feed *f, int64_t now) {
  if (!f->points) {
    char bucket[160];
    snprintf(bucket, sizeof bucket, "%s-points", cu_pdp_config(f->p)->bucket);
    if (js_KeyValue(&f->points, f->js, bucket) != NATS_OK) {
      f->points = NULL;
      return;
    }
  }
  custos_pdp_status st;
  custos_pdp_status_get(f->p, &st);
  char value[256];
  snprintf(value, sizeof value,
           "{\"id\":\"%s\",\"lag_ms\":%lld,\"revision\":%llu,\"state\":\"%s\","
           "\"time_ms\":%lld}",
           f->point_key, (long long)st.lag_ms, (unsigned long long)st.revision,
           custos_pdp_state_name(st.state), (long long)now);
  uint64_t rev = 0;
  if (kvStore_PutString(&rev, f->points, f->point_key, value) == NATS_OK) {
    f->reported_rev = st.revision;
    f->last_report_ms = now;
  }
}

static void nats_tick(cu_pdp_feed *base) {
  nats_feed *f = (nats_feed *)base;
  int64_t now = cu_pdp_now_ms();
  if (natsConnection_Status(f->nc) != NATS_CONN_STATUS_CONNECTED)
    return;
  if (!f->sub) {
    if (now - f->last_try_ms >= RESUB_EVERY_MS) {
      f->last_try_ms = now;
      subscribe(f);
    }
  } else if (sub_lost(f, now)) {
    drop_sub(f);
  } else if (now - f->last_verify_ms >= VERIFY_EVERY_MS) {
    f->last_verify_ms = now;
    verify(f);
  }
  if (now - f->last_report_ms >= REPORT_EVERY_MS ||
      cu_pdp_applied(f->p) != f->reported_rev)
    report(f, now);
}

static void nats_stop(cu_pdp_feed *base) {
  nats_feed *f = (nats_feed *)base;
  drop_sub(f);
  if (f->points) {
    /* A point that closes cleanly leaves the fleet: nobody waits for it. */
    kvStore_Delete(f->points, f->point_key);
    kvStore_Destroy(f->points);
  }
  jsCtx_Destroy(f->js);
  natsConnection_Destroy(f->nc);
  cu_free(f);
}

custos_rc cu_pdp_nats_connect(const char *url, bool retry,
                              natsConnection **nc, custos_diag *d) {
  natsOptions *o = NULL;
  natsStatus s = natsOptions_Create(&o);
  if (s == NATS_OK)
    s = natsOptions_SetURL(o, url);
  if (s == NATS_OK)
    s = natsOptions_SetTimeout(o, 2000);
  if (s == NATS_OK)
    s = natsOptions_SetMaxReconnect(o, -1);
  if (s == NATS_OK)
    s = natsOptions_SetReconnectWait(o, 100);
  if (s == NATS_OK)
    s = natsOptions_UseGlobalMessageDelivery(o, true);
  if (s == NATS_OK && retry)
    s = natsOptions_SetRetryOnFailedConnect(o, true, NULL, NULL);
  if (s == NATS_OK) {
    s = natsConnection_Connect(nc, o);
    if (s == NATS_NOT_YET_CONNECTED && retry)
      s = NATS_OK;
  }
  natsOptions_Destroy(o);
  if (s != NATS_OK) {
    cu_diag_at(d, url, 0, 0);
    cu_diag_hint(d, "start nats-server with -js, or check the URL");
    return cu_diag_set(d, CUSTOS_EIO, "cannot connect to NATS: %s",
                       natsStatus_GetText(s));
  }
  return CUSTOS_OK;
}

custos_rc cu_pdp_feed_nats_start(custos_pdp *p, cu_pdp_feed **out,
                                 custos_diag *d) {
  const custos_pdp_config *cfg = cu_pdp_config(p);
  nats_feed *f = cu_calloc(1, sizeof *f);
  if (!f)
    return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory starting the feed");
  f->base.tick = nats_tick;
  f->base.stop = nats_stop;
  f->p = p;
  int k1 = snprintf(f->stream, sizeof f->stream, "KV_%s", cfg->bucket);
  int k2 = snprintf(f->subject, sizeof f->subject, "$KV.%s.>", cfg->bucket);
  if (k1 < 0 || (size_t)k1 >= sizeof f->stream || k2 < 0 ||
      (size_t)k2 >= sizeof f->subject) {
    cu_free(f);
    cu_diag_field(d, "bucket", cfg->bucket, strlen(cfg->bucket));
    return cu_diag_set(d, CUSTOS_EINVAL, "bucket name too long");
  }
  f->prefix = (size_t)k2 - 1;
  /* Spread the periodic requests of many points over time. */
  uint32_t jitter = 2166136261u;
  for (const char *c = cfg->point_id; *c; c++)
    jitter = (jitter ^ (unsigned char)*c) * 16777619u;
  int64_t now = cu_pdp_now_ms();
  f->last_verify_ms = now - (int64_t)(jitter % VERIFY_EVERY_MS);
  f->last_report_ms = now - (int64_t)(jitter % REPORT_EVERY_MS);
  /* Point ids become keys: anything outside [A-Za-z0-9_-] turns to '_'. */
  snprintf(f->point_key, sizeof f->point_key, "%s", cfg->point_id);
  for (char *c = f->point_key; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
          (*c >= '0' && *c <= '9') || *c == '_' || *c == '-'))
      *c = '_';
  custos_rc rc = cu_pdp_nats_connect(cfg->nats_url, true, &f->nc, d);
  if (rc != CUSTOS_OK)
    goto fail;
  if (natsConnection_JetStream(&f->js, f->nc, NULL) != NATS_OK) {
    rc = cu_diag_set(d, CUSTOS_ENOMEM, "cannot make a JetStream context");
    goto fail_conn;
  }
  *out = &f->base;
  return CUSTOS_OK;
fail_conn:
  natsConnection_Destroy(f->nc);
fail:
  cu_free(f);
  return rc;
}
