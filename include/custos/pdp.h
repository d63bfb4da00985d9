/*
 * custos decision point for enforcement points: open a feed of blocks,
 * answer "may this subscription do this operation on this service in this
 * region?" from memory without locks, and report how current the answer is.
 * See docs/internals.md ("Decision point") for how the table is swapped.
 */
#ifndef CUSTOS_PDP_H
#define CUSTOS_PDP_H

#include "custos/custos.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct custos_pdp custos_pdp;

/*
 * Operations a front end asks about.  Their numbers are ABI.
 *   CREATE  make a new resource or allocation (account, bucket, deployment,
 *           job, capacity increase)
 *   READ    read existing data or metadata
 *   WRITE   change or add data in an existing resource, or make the service
 *           do new work (upload, overwrite, AI inference)
 *   DELETE  delete data or resources
 */
typedef enum custos_pdp_op {
  CUSTOS_PDP_CREATE = 1,
  CUSTOS_PDP_READ = 2,
  CUSTOS_PDP_WRITE = 3,
  CUSTOS_PDP_DELETE = 4
} custos_pdp_op;

/* What a block refuses: DENY_NEW refuses CREATE; READ_ONLY refuses CREATE,
 * WRITE and DELETE; DENY_ALL refuses everything.  Ordered by strength. */
typedef enum custos_pdp_effect {
  CUSTOS_PDP_EFFECT_NONE = 0,
  CUSTOS_PDP_DENY_NEW = 1,
  CUSTOS_PDP_READ_ONLY = 2,
  CUSTOS_PDP_DENY_ALL = 3
} custos_pdp_effect;

/* Why a check answered as it did. */
typedef enum custos_pdp_reason {
  CUSTOS_PDP_NO_BLOCK = 0,    /* allowed: no block refuses the operation */
  CUSTOS_PDP_BLOCKED = 1,     /* denied by a block (owner, case, effect) */
  CUSTOS_PDP_STALE_CLOSED = 2, /* denied: feed stale, service fails closed */
} custos_pdp_reason;

/* What a service does while the feed is older than max_lag_ms. */
typedef enum custos_pdp_fail {
  CUSTOS_PDP_FAIL_OPEN = 0,  /* answer from the last table */
  CUSTOS_PDP_FAIL_CLOSED = 1 /* deny every operation on the service */
} custos_pdp_fail;

typedef enum custos_pdp_feed_state {
  CUSTOS_PDP_STARTING = 0, /* nothing heard from the feed yet */
  CUSTOS_PDP_LIVE = 1,     /* heard within max_lag_ms */
  CUSTOS_PDP_STALE = 2,    /* not heard for longer than max_lag_ms */
  CUSTOS_PDP_CLOSED = 3
} custos_pdp_feed_state;

/*
 * How to open a decision point.  Exactly one of workspace (local feed: the
 * blocks of a workspace on this machine) and nats_url (NATS JetStream
 * key-value feed) is set; with neither the point starts empty (tests).
 * Strings are copied by custos_pdp_open.
 */
typedef struct custos_pdp_config {
  const char *workspace;   /* local feed: workspace directory */
  const char *nats_url;    /* NATS feed: "nats://127.0.0.1:4222" */
  const char *bucket;      /* key-value bucket, default "custos-blocks" */
  const char *point_id;    /* reported to the control plane; default
                              "<hostname>-<pid>" */
  const char *snapshot;    /* local snapshot file, or NULL for none */
  uint32_t max_lag_ms;     /* staleness bound, default 5000 */
  uint32_t poll_ms;        /* local feed poll interval, default 20 */
  uint32_t tick_ms;        /* housekeeping period (staleness, status
                              reports, snapshots), default 20 */
  uint32_t snapshot_ms;    /* snapshot at most this often, default 1000 */
  custos_pdp_fail default_fail; /* for services not in fail_services */
  const char *fail_services;    /* "storage=closed,ai=closed,dns=open" */
} custos_pdp_config;

/* Fills c with the defaults (everything NULL/0 except the numbers above). */
void custos_pdp_config_init(custos_pdp_config *c);

/*
 * The answer of a check.  owner and case_id are copies (empty when
 * allowed), so the struct stays valid after the table changes.
 */
typedef struct custos_pdp_decision {
  int allow;                 /* 1 allow, 0 deny */
  custos_pdp_reason reason;
  custos_pdp_effect effect;  /* effect of the denying block */
  int stale;                 /* feed stale, or min revision not reached */
  uint64_t revision;         /* revision the answer was taken from */
  char owner[32];
  char case_id[64];
} custos_pdp_decision;

typedef struct custos_pdp_status {
  uint64_t revision;        /* applied control-plane revision */
  uint64_t published;       /* latest revision the control plane announced */
  int64_t lag_ms;           /* since the feed was last heard, -1 never */
  custos_pdp_feed_state state;
  uint64_t blocks;          /* active blocks in the table */
  uint64_t full_loads;      /* times the point loaded everything */
  uint64_t resumed_from;    /* revision a restart resumed from, 0 none */
  char point_id[96];
} custos_pdp_status;

/*
 * Opens a decision point and starts its feed (a background thread for the
 * local feed; the NATS client's threads for NATS).  Loads the snapshot
 * first when there is one, so checks answer at once after a restart.
 * *out is the caller's, freed with custos_pdp_close.  EINVAL on a bad
 * config (diag names the field), EIO when the snapshot is unreadable
 * (a corrupt snapshot is ignored with a full reload, not an error).
 */
custos_rc custos_pdp_open(const custos_pdp_config *cfg, custos_pdp **out,
                          custos_diag *d) CUSTOS_WUR;

/* Stops the feed, writes the snapshot, frees everything.  NULL is fine.
 * No check may run on p during or after the call. */
void custos_pdp_close(custos_pdp *p);

/*
 * Decides (subscription, service, region, op).  Lock-free and wait-free
 * for the caller; safe from any number of threads.  subscription is a GUID
 * (any case, with or without dashes or braces) or another id of at most
 * 128 printable bytes; service and region are names, or region may be NULL
 * when the front end has none.  EINVAL when an argument is malformed (out
 * is then untouched).
 */
custos_rc custos_pdp_check(custos_pdp *p, const char *subscription,
                           const char *service, const char *region,
                           custos_pdp_op op, custos_pdp_decision *out)
    CUSTOS_WUR;

/*
 * Checks with names resolved ahead of time.  A front end that checks the
 * same services and regions again and again resolves them once to ids,
 * and a subscription to its key, and then checks without parsing or
 * hashing a string: about the cost of one or two cache misses.
 *
 * Ids belong to the point that gave them and keep their meaning until it
 * is closed, whatever blocks come and go; asking again for the same name
 * (in any case) gives the same id.  A point holds at most 65534 names of
 * each kind, of which callers may add 49150; the rest is kept for the
 * names of blocks.  Ids are never freed: resolve the names a front end
 * knows, and check names that come from outside with custos_pdp_check.  A region id is that of the region's canonical name when
 * the catalogue knows the name as an alias ("westeurope" is
 * "azure:westeurope"), as for custos_pdp_check.  NULL or "" gives
 * CUSTOS_PDP_NO_REGION.  EINVAL for a malformed name, ETOOBIG when the
 * point holds too many names.  Thread-safe; takes a short lock.
 */
typedef struct custos_pdp_key {
  uint64_t k[2];
} custos_pdp_key;

#define CUSTOS_PDP_NO_REGION 0xffffu

/* The key of a subscription id (as custos_pdp_check accepts it).  EINVAL
 * when it is malformed. */
custos_rc custos_pdp_key_parse(const char *subscription, custos_pdp_key *out)
    CUSTOS_WUR;
custos_rc custos_pdp_service_id(custos_pdp *p, const char *service,
                                uint32_t *id) CUSTOS_WUR;
custos_rc custos_pdp_region_id(custos_pdp *p, const char *region,
                               uint32_t *id) CUSTOS_WUR;

/* custos_pdp_check with a key and ids from p.  EINVAL for a zero key, an
 * id that cannot be one, or a bad op. */
custos_rc custos_pdp_check_id(custos_pdp *p, const custos_pdp_key *sub,
                              uint32_t service, uint32_t region,
                              custos_pdp_op op, custos_pdp_decision *out)
    CUSTOS_WUR;

/* One check of custos_pdp_check_many. */
typedef struct custos_pdp_query {
  custos_pdp_key sub;
  uint32_t service, region; /* ids from p */
  custos_pdp_op op;
} custos_pdp_query;

/*
 * n checks at once, out[i] answering q[i], all from the same table.  For
 * front ends that gather requests: the checks' cache misses overlap, so
 * with a table far larger than the cache this answers several times as
 * many checks per second as n single calls.  EINVAL (out untouched) when
 * any query is malformed.
 */
custos_rc custos_pdp_check_many(custos_pdp *p, const custos_pdp_query *q,
                                size_t n, custos_pdp_decision *out)
    CUSTOS_WUR;

/*
 * Like custos_pdp_check, but first waits up to wait_ms for the point to
 * have applied at least revision min_revision.  When it has not by then,
 * it answers from what it has and sets out->stale.  Only this wait sleeps;
 * it never delays other checks.
 */
custos_rc custos_pdp_check_at(custos_pdp *p, const char *subscription,
                              const char *service, const char *region,
                              custos_pdp_op op, uint64_t min_revision,
                              uint32_t wait_ms, custos_pdp_decision *out)
    CUSTOS_WUR;

/* Current status; safe from any thread. */
void custos_pdp_status_get(custos_pdp *p, custos_pdp_status *out);

/*
 * A thread that checked and will not check again (or ends) may give back
 * its reader slot; the next check from it takes a slot again.  Optional:
 * slots of ended threads are otherwise kept until close.
 */
void custos_pdp_thread_done(custos_pdp *p);

/* Names and parsers: "create", "deny-new", "blocked", "live", ... */
const char *custos_pdp_op_name(custos_pdp_op op);
const char *custos_pdp_effect_name(custos_pdp_effect e);
const char *custos_pdp_reason_name(custos_pdp_reason r);
const char *custos_pdp_state_name(custos_pdp_feed_state s);
/* 0 on success, -1 for an unknown name. */
int custos_pdp_op_parse(const char *s, custos_pdp_op *out);
int custos_pdp_effect_parse(const char *s, custos_pdp_effect *out);

#ifdef __cplusplus
}
#endif

#endif
