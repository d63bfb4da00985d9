/*
 * The NATS feed.  Live changes come through a core subscription on the
 * subject the blocks bucket republishes its changes on, applied strictly
 * in stream-sequence order; an ordered JetStream consumer on the bucket's
 * stream catches up (from the revision the point holds in its snapshot, or
 * from the beginning when that position is gone) and repairs any gap the
 * live subscription shows, and is dropped once the point is current.  A
 * bucket that does not republish is followed by the consumer alone.  The
 * ticker re-subscribes when needed and reports the point's applied
 * revision to "<bucket>-points".  docs/internals.md, "Feeds".
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <nats/nats.h>

#include "table.h"

#define BUILD_EVERY_MS 100 /* during a long catch-up, publish this often */
#define REPORT_EVERY_MS 5000 /* and soon when the revision changes: */
#define REPORT_SPREAD_MS 500 /* after an offset per point below this, */
#define REPORT_MIN_MS 1000   /* and at most this often */
#define RESUB_EVERY_MS 200
#define VERIFY_EVERY_MS 10000

typedef struct nats_feed {
  cu_pdp_feed base;
  custos_pdp *p;
  natsConnection *nc;
  jsCtx *js;
  kvStore *points;
  natsSubscription *sub;  /* ordered consumer: catch-up and repair */
  natsSubscription *live; /* core subscription on the republished changes */
  char stream[128];       /* "KV_<bucket>" */
  char subject[160];      /* "$KV.<bucket>.>" */
  size_t prefix;          /* length of "$KV.<bucket>." */
  char point_key[96];
  /* handler threads, under the writer lock */
  uint64_t block_rev, hb_rev;
  int64_t last_build_ms;
  _Atomic int64_t last_msg_ms; /* handlers write, ticker reads */
  /* set by the handlers, cleared by the ticker */
  _Atomic int caught_up;    /* the consumer is no longer needed */
  _Atomic int want_catchup; /* the live subscription missed a change */
  _Atomic int want_verify;  /* the live subscription went backwards */
  /* ticker thread */
  int64_t last_try_ms, last_verify_ms, last_report_ms, sub_ms;
  int64_t changed_ms;       /* when the revision moved past the reported */
  int64_t report_try_ms;    /* the last attempt, successful or not */
  int reported;             /* the point is in "<bucket>-points" */
  int64_t report_offset_ms; /* this point's place in REPORT_SPREAD_MS */
  uint64_t reported_rev;
  char report_subject[288]; /* "$KV.<bucket>-points.<point_key>" */
} nats_feed;

/* Stages one change of the bucket (key after "$KV.<bucket>.") under the
 * writer lock and moves the position to seq. */
static void stage_msg(nats_feed *f, const char *key, natsMsg *msg,
                      uint64_t seq, int64_t created) {
  custos_pdp *p = f->p;
  const char *op = NULL;
  int deleted = natsMsgHeader_Get(msg, "KV-Operation", &op) == NATS_OK && op &&
                (strcmp(op, "DEL") == 0 || strcmp(op, "PURGE") == 0);
  const char *data = natsMsg_GetData(msg);
  size_t len = (size_t)natsMsg_GetDataLength(msg);
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
  cu_pdp_set_feed_pos(p, seq, created);
}

/* Publishes what is staged when nothing more is waiting (pending 0) or a
 * long catch-up has not shown progress for BUILD_EVERY_MS; under the
 * writer lock. */
static void maybe_publish(nats_feed *f, uint64_t pending) {
  int64_t now = cu_pdp_now_ms();
  uint64_t rev = f->block_rev > f->hb_rev ? f->block_rev : f->hb_rev;
  if (pending == 0 || now - f->last_build_ms >= BUILD_EVERY_MS) {
    if (cu_pdp_publish(f->p, rev) == CUSTOS_OK)
      f->last_build_ms = now;
  }
}

/* The key of a "$KV.<bucket>.<key>" subject; NULL for another subject. */
static const char *key_of(const nats_feed *f, const char *subject) {
  if (!subject || strncmp(subject, f->subject, f->prefix) != 0 ||
      !subject[f->prefix])
    return NULL;
  return subject + f->prefix;
}

/* Applies one message of the ordered consumer; runs on the client's
 * delivery thread.  The consumer's sequence may jump (the bucket keeps
 * one revision per key); anything at or below the held position came
 * through the live subscription already. */
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
  const char *key = key_of(f, natsMsg_GetSubject(msg));
  atomic_store(&f->last_msg_ms, cu_pdp_now_ms());

  cu_pdp_writer_lock(p);
  uint64_t seq;
  int64_t created;
  cu_pdp_feed_pos(p, &seq, &created);
  if (meta->Sequence.Stream > seq) {
    if (key)
      stage_msg(f, key, msg, meta->Sequence.Stream, created);
    else
      cu_pdp_set_feed_pos(p, meta->Sequence.Stream, created);
  }
  maybe_publish(f, meta->NumPending);
  uint64_t hb = f->hb_rev;
  cu_pdp_writer_unlock(p);
  if (meta->NumPending == 0)
    atomic_store(&f->caught_up, 1);
  cu_pdp_heard(p, hb);
  jsMsgMetaData_Destroy(meta);
  natsMsg_Destroy(msg);
}

/*
 * Applies one republished change; runs on the client's delivery thread.
 * The server republishes every message the stream stores, in sequence
 * order, so the next change is exactly the held position + 1: a lower
 * one is a duplicate (or the stream was made anew, which verify finds),
 * a higher one means changes were lost (a reconnect, a slow consumer)
 * and the consumer is started to fetch them.
 */
static void on_live(natsConnection *nc, natsSubscription *sub, natsMsg *msg,
                    void *closure) {
  (void)nc;
  nats_feed *f = closure;
  custos_pdp *p = f->p;
  const char *subject = NULL, *seqs = NULL;
  uint64_t next = 0;
  if (natsMsgHeader_Get(msg, "Nats-Subject", &subject) != NATS_OK ||
      natsMsgHeader_Get(msg, "Nats-Sequence", &seqs) != NATS_OK ||
      cu_parse_u64(seqs, &next) != 0) {
    natsMsg_Destroy(msg);
    return;
  }
  const char *key = key_of(f, subject);
  int pending = 0;
  if (natsSubscription_GetPending(sub, &pending, NULL) != NATS_OK)
    pending = 0;
  atomic_store(&f->last_msg_ms, cu_pdp_now_ms());

  cu_pdp_writer_lock(p);
  uint64_t seq;
  int64_t created;
  cu_pdp_feed_pos(p, &seq, &created);
  int in_order = next == seq + 1 && created != 0;
  if (in_order) {
    if (key)
      stage_msg(f, key, msg, next, created);
    else
      cu_pdp_set_feed_pos(p, next, created);
  }
  maybe_publish(f, (uint64_t)pending);
  uint64_t hb = f->hb_rev;
  cu_pdp_writer_unlock(p);
  if (in_order) {
    atomic_store(&f->caught_up, 1);
    cu_pdp_heard(p, hb);
  } else if (next > seq) {
    atomic_store(&f->want_catchup, 1);
  } else {
    atomic_store(&f->want_verify, 1);
  }
  natsMsg_Destroy(msg);
}

static void drop_sub(nats_feed *f) {
  if (f->sub) {
    natsSubscription_Unsubscribe(f->sub);
    natsSubscription_Destroy(f->sub);
    f->sub = NULL;
  }
}

static void drop_all(nats_feed *f) {
  drop_sub(f);
  if (f->live) {
    natsSubscription_Unsubscribe(f->live);
    natsSubscription_Destroy(f->live);
    f->live = NULL;
  }
}

/* Starts the ordered consumer after the held position (from the start when
 * there is none).  Quietly retried by the ticker. */
static void start_consumer(nats_feed *f) {
  cu_pdp_writer_lock(f->p);
  uint64_t seq;
  int64_t created;
  cu_pdp_feed_pos(f->p, &seq, &created);
  cu_pdp_writer_unlock(f->p);
  atomic_store(&f->caught_up, 0);
  atomic_store(&f->want_catchup, 0);
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Ordered = true;
  so.Config.DeliverPolicy = seq == 0 ? js_DeliverAll
                                     : js_DeliverByStartSequence;
  so.Config.OptStartSeq = seq == 0 ? 0 : seq + 1;
  natsSubscription *sub = NULL;
  jsErrCode jerr = 0;
  if (js_Subscribe(&sub, f->js, f->subject, on_msg, f, NULL, &so, &jerr) ==
      NATS_OK) {
    f->sub = sub;
    f->sub_ms = cu_pdp_now_ms();
  }
}

/* The subject the stream republishes every change on, NULL when it does
 * not (a bucket made before custos republished, or by hand). */
static const char *live_subject(const nats_feed *f, const jsStreamInfo *si) {
  const jsRePublish *rp = si->Config ? si->Config->RePublish : NULL;
  if (rp && rp->Destination && !rp->HeadersOnly &&
      (!rp->Source || strcmp(rp->Source, ">") == 0 ||
       strcmp(rp->Source, f->subject) == 0))
    return rp->Destination;
  return NULL;
}

/* Subscribes from the held position, or from the start when the stream is
 * not the one the position belongs to.  The live subscription comes first,
 * so that what the consumer has not delivered yet reaches it.  Quietly
 * retried by the ticker. */
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
  if (!(seq > 0 && created == si->Created && si->State.LastSeq >= seq)) {
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
  const char *dst = live_subject(f, si);
  if (dst) {
    natsSubscription *live = NULL;
    if (natsConnection_Subscribe(&live, f->nc, dst, on_live, f) == NATS_OK)
      f->live = live;
  }
  jsStreamInfo_Destroy(si);
  start_consumer(f);
  if (!f->sub)
    drop_all(f);
}

/*
 * The subscriptions are dead or deaf: the client gave one up (an ordered
 * consumer whose re-creation timed out on a busy server stays invalid),
 * or nothing came for half the staleness bound although the control plane
 * puts a heartbeat every 500 ms (CU_PDP_HEARTBEAT_MS).  Resubscribing resumes from the held
 * position, so nothing is loaded twice.
 */
static int sub_lost(nats_feed *f, int64_t now) {
  if ((f->sub && !natsSubscription_IsValid(f->sub)) ||
      (f->live && !natsSubscription_IsValid(f->live)))
    return 1;
  int64_t last = atomic_load(&f->last_msg_ms);
  if (last < f->sub_ms)
    last = f->sub_ms;
  return now - last > (int64_t)cu_pdp_config(f->p)->max_lag_ms / 2;
}

/* The stream is still the one the position belongs to; a point following
 * by its consumer alone resubscribes once the bucket republishes. */
static void verify(nats_feed *f) {
  jsStreamInfo *si = NULL;
  jsErrCode jerr = 0;
  natsStatus s = js_GetStreamInfo(&si, f->js, f->stream, NULL, &jerr);
  if (s != NATS_OK) {
    if (jerr == JSStreamNotFoundErr)
      drop_all(f);
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
  int upgrade = !f->live && live_subject(f, si) != NULL;
  jsStreamInfo_Destroy(si);
  if (gone || upgrade)
    drop_all(f);
}

/*
 * Puts the point's report in "<bucket>-points" as a plain publish on the
 * key's subject: the stream stores it all the same, and not waiting for
 * the acknowledgement keeps a fleet's reports from costing the server a
 * reply each and the ticker a round trip.  A report lost on the way is
 * repaired by the next periodic one.
 */
static void report(nats_feed *f, int64_t now) {
  f->report_try_ms = now;
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
  if (natsConnection_PublishString(f->nc, f->report_subject, value) ==
      NATS_OK) {
    f->reported_rev = st.revision;
    f->last_report_ms = now;
    f->changed_ms = 0;
    f->reported = 1;
  }
}

/* When the next report is due: every REPORT_EVERY_MS, and after a change
 * of revision once this point's offset has passed, but not sooner than
 * REPORT_MIN_MS after the last report.  A fleet that applies a block at
 * the same moment then reports it spread over REPORT_SPREAD_MS instead of
 * in one burst while the next block is on its way, and a run of blocks
 * costs each point one report a second, not one per block. */
static int64_t report_due(nats_feed *f, int64_t now) {
  /* A point joins the list as soon as it follows the bucket, so that
   * `custos block effective` cannot conclude without it; it tries once a
   * second until the points bucket is there. */
  if (!f->reported && (f->sub || f->live))
    return f->report_try_ms + REPORT_MIN_MS;
  int64_t due = f->last_report_ms + REPORT_EVERY_MS;
  if (due < f->report_try_ms + REPORT_MIN_MS)
    due = f->report_try_ms + REPORT_MIN_MS; /* after a failed attempt */
  if (cu_pdp_applied(f->p) != f->reported_rev) {
    if (!f->changed_ms)
      f->changed_ms = now;
    int64_t soon = f->changed_ms + f->report_offset_ms;
    if (soon < f->report_try_ms + REPORT_MIN_MS)
      soon = f->report_try_ms + REPORT_MIN_MS;
    if (soon < due)
      due = soon;
  }
  return due;
}

static void nats_tick(cu_pdp_feed *base) {
  nats_feed *f = (nats_feed *)base;
  int64_t now = cu_pdp_now_ms();
  if (natsConnection_Status(f->nc) != NATS_CONN_STATUS_CONNECTED)
    return;
  if (!f->sub && !f->live) {
    if (now - f->last_try_ms >= RESUB_EVERY_MS) {
      f->last_try_ms = now;
      subscribe(f);
    }
  } else if (sub_lost(f, now)) {
    drop_all(f);
  } else {
    /* The live subscription carries the point once it is current; the
     * consumer comes back only to fetch what the live one missed. */
    if (f->sub && f->live && atomic_load(&f->caught_up)) {
      /* What the live subscription reported missing meanwhile, the
       * consumer has fetched; a change really lost shows again with the
       * next message (a heartbeat every 500 ms). */
      drop_sub(f);
      atomic_store(&f->want_catchup, 0);
    } else if (!f->sub && atomic_load(&f->want_catchup)) {
      start_consumer(f);
    }
    /* A live change below the position is expected while the consumer
     * runs ahead of the live subscription; without one, the stream may
     * have been made anew. */
    int odd = atomic_exchange(&f->want_verify, 0) && !f->sub;
    if (odd || now - f->last_verify_ms >= VERIFY_EVERY_MS) {
      f->last_verify_ms = now;
      verify(f);
    }
  }
  if (now >= report_due(f, now))
    report(f, now);
}

static void nats_stop(cu_pdp_feed *base) {
  nats_feed *f = (nats_feed *)base;
  drop_all(f);
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
  f->report_offset_ms = (int64_t)((jitter >> 8) % REPORT_SPREAD_MS);
  /* Point ids become keys: anything outside [A-Za-z0-9_-] turns to '_'. */
  snprintf(f->point_key, sizeof f->point_key, "%s", cfg->point_id);
  for (char *c = f->point_key; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
          (*c >= '0' && *c <= '9') || *c == '_' || *c == '-'))
      *c = '_';
  snprintf(f->report_subject, sizeof f->report_subject, "$KV.%s-points.%s",
           cfg->bucket, f->point_key);
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
