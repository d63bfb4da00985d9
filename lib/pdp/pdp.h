/*
 * pdp: the decision point inside the library.  Owns the block state tables
 * (pdp_blocks, pdp_outbox) that the enforcement module writes through
 * cu_pdp_put / cu_pdp_lift, the immutable lookup table that checks read,
 * the feeds that fill it (local workspace, NATS key-value) and the
 * publisher that drains the outbox to NATS.  Internal names cu_pdp_*.
 */
#ifndef CU_PDP_H
#define CU_PDP_H

#include <signal.h>
#include <stdbool.h>

#include "custos/pdp.h"
#include "store/store.h"

#define CU_PDP_SUB_MAX 129    /* subscription id, with NUL */
#define CU_PDP_NAME_MAX 65    /* service, region, with NUL */
#define CU_PDP_OWNER_MAX 32   /* owner, with NUL */
#define CU_PDP_CASE_MAX 64    /* case id, with NUL */
#define CU_PDP_DEFAULT_BUCKET "custos-blocks"
/* How often the publisher puts the heartbeat key.  Every point hears every
 * heartbeat, so this is fan-out the server and the points pay all the
 * time: at 200 ms, 1,000 points on two cores delayed the last point's
 * view of a block to a p99 of 194-215 ms; at 500 ms it was 92-104 ms.
 * A point sees its lag, and a missed live change, within this time; keep
 * it well below half of the points' max_lag_ms (default 5,000). */
#define CU_PDP_HEARTBEAT_MS 500

/* A block as the enforcement module states it (Kill Bill blocking state).
 * Target: subscription, service, region (service and region may be "*").
 * A target is blocked while any owner blocks it. */
typedef struct cu_pdp_block {
  char subscription[CU_PDP_SUB_MAX];
  char service[CU_PDP_NAME_MAX];
  char region[CU_PDP_NAME_MAX];
  char owner[CU_PDP_OWNER_MAX];
  custos_pdp_effect effect; /* NONE means lifted */
  char case_id[CU_PDP_CASE_MAX];
  int64_t effective; /* seconds since the epoch; 0 = now */
  int64_t created;   /* seconds since the epoch, set by put */
  int64_t revision;  /* set by put / lift */
} cu_pdp_block;

/* ---- state in the workspace (state.c) --------------------------------- */

/*
 * Normalises and checks b in place: subscription GUIDs to lower case with
 * dashes, service lower case, region "*" or resolved to its canonical id
 * through the catalogue, owner [a-z0-9-], case printable.  EINVAL with
 * diag naming the field and value.
 */
custos_rc cu_pdp_block_normalise(cu_pdp_block *b, custos_diag *d) CUSTOS_WUR;

/*
 * Puts (creates or replaces) owner's block on a target inside the caller's
 * open transaction: writes pdp_blocks with the next revision, an outbox row
 * for the NATS publisher and the event "block.put" with the actor.  b is
 * normalised first; b->revision and b->created get the stored values.
 * Putting exactly the block that is already in force changes nothing and
 * returns its revision (idempotent).  EINVAL with diag on a bad block.
 */
custos_rc cu_pdp_put(cu_ws *ws, cu_pdp_block *b, custos_diag *d) CUSTOS_WUR;

/*
 * Lifts owner's block on the target of b (subscription, service, region,
 * owner; other fields ignored) inside the caller's transaction: the row
 * stays as a tombstone with effect NONE and a new revision, plus outbox row
 * and event "block.lift".  Only the owner's own block is lifted; other
 * owners' blocks on the same target stay.  ENOTFOUND when owner has no
 * block in force there.  b->revision gets the new revision.
 */
custos_rc cu_pdp_lift(cu_ws *ws, cu_pdp_block *b, custos_diag *d) CUSTOS_WUR;

/* Latest revision in the workspace (0 when there is none). */
custos_rc cu_pdp_revision(cu_ws *ws, int64_t *rev, custos_diag *d) CUSTOS_WUR;

/* Calls fn for each block with revision > after in revision order (with
 * tombstones when all is true), at most limit rows.  fn returns non-zero to
 * stop.  Works on a bare database handle so feeds need no cu_ws. */
typedef int (*cu_pdp_block_fn)(void *ctx, const cu_pdp_block *b);
custos_rc cu_pdp_scan(sqlite3 *db, int64_t after, bool all, int64_t limit,
                      cu_pdp_block_fn fn, void *ctx, custos_diag *d)
    CUSTOS_WUR;

/* ---- keys and values on the wire (codec.c) ---------------------------- */

/* Subscription id to its 128-bit key: GUIDs by value, anything else by
 * SHA-256 truncated to 128 bits with the top bit set (see internals.md).
 * -1 when s is empty, too long or not printable. */
int cu_pdp_sub_key(const char *s, size_t n, uint64_t key[2]);

/* The canonical form of a GUID (lower case with dashes) into out; -1 when
 * s[0..n) is not a GUID. */
int cu_pdp_guid_canon(const char *s, size_t n, char out[37]);

/* The key-value key for a target: "b.<sub>.<svc>.<region>.<owner>" with
 * every byte outside [A-Za-z0-9_-] written as =XX.  EINVAL if out (n
 * bytes) is too small. */
custos_rc cu_pdp_kv_key(const cu_pdp_block *b, char *out, size_t n) CUSTOS_WUR;
/* The reverse; fills the target fields of b.  -1 on a malformed key. */
int cu_pdp_kv_key_parse(const char *key, cu_pdp_block *b);
/* The value: canonical JSON of effect, case, effective, created, revision.
 * Caller frees with free() (jansson's allocator).  NULL on OOM. */
char *cu_pdp_kv_value(const cu_pdp_block *b);
/* The reverse; fills the non-target fields of b.  -1 when malformed. */
int cu_pdp_kv_value_parse(const char *v, size_t n, cu_pdp_block *b);

/* ---- the decision point (pdp.c) --------------------------------------- */

/* Applies blocks to p's writer-side state and publishes a new table with
 * revision rev (monotonic: a lower rev leaves the revision as it is).
 * Blocks with effect NONE are lifts.  Serialised with the feed by the
 * writer mutex; checks never wait for it.  For feeds, tests and benches. */
custos_rc cu_pdp_apply(custos_pdp *p, const cu_pdp_block *blocks, size_t n,
                       uint64_t rev, custos_diag *d) CUSTOS_WUR;

/* Writer-side primitives used by the feeds while they hold the writer
 * lock (cu_pdp_writer_lock).  stage adds one change; publish builds and
 * swaps the table when anything is staged, and sets the revision. */
void cu_pdp_writer_lock(custos_pdp *p);
void cu_pdp_writer_unlock(custos_pdp *p);
custos_rc cu_pdp_stage(custos_pdp *p, const cu_pdp_block *b) CUSTOS_WUR;
custos_rc cu_pdp_publish(custos_pdp *p, uint64_t rev) CUSTOS_WUR;
/* Drops all writer-side state (before a full reload); the readers keep the
 * old table until the next publish. */
void cu_pdp_stage_reset(custos_pdp *p);
/* The feed heard from the control plane now (resets the lag) and learnt
 * that it has published up to revision published (0 = unknown). */
void cu_pdp_heard(custos_pdp *p, uint64_t published);
/* Feed's resume position kept in the snapshot: NATS stream sequence and
 * stream creation time; read and written under the writer lock. */
void cu_pdp_feed_pos(custos_pdp *p, uint64_t *seq, int64_t *stream_created);
void cu_pdp_set_feed_pos(custos_pdp *p, uint64_t seq, int64_t stream_created);
void cu_pdp_count_full_load(custos_pdp *p);
const custos_pdp_config *cu_pdp_config(const custos_pdp *p);
uint64_t cu_pdp_applied(const custos_pdp *p);
/* Milliseconds since the epoch (CLOCK_REALTIME). */
int64_t cu_pdp_now_ms(void);

/* ---- feeds (feed_local.c, feed_nats.c) -------------------------------- */

/* A feed runs beside the decision point: started after the snapshot is
 * loaded, ticked from the point's ticker thread, stopped before the point
 * is freed (see struct cu_pdp_feed in table.h). */
typedef struct cu_pdp_feed cu_pdp_feed;
custos_rc cu_pdp_feed_local_start(custos_pdp *p, cu_pdp_feed **out,
                                  custos_diag *d) CUSTOS_WUR;
custos_rc cu_pdp_feed_nats_start(custos_pdp *p, cu_pdp_feed **out,
                                 custos_diag *d) CUSTOS_WUR;

/* ---- publisher and fleet status (publish.c) --------------------------- */

typedef struct cu_pdp_pub_opts {
  const char *nats_url;
  const char *bucket;     /* default CU_PDP_DEFAULT_BUCKET */
  uint32_t heartbeat_ms;  /* default CU_PDP_HEARTBEAT_MS */
  uint32_t poll_ms;       /* outbox poll, default 10 */
  bool once;              /* drain, send one heartbeat, return */
  volatile sig_atomic_t *stop; /* non-zero: return (signal handler) */
} cu_pdp_pub_opts;

/*
 * Drains the workspace's pdp outbox to the NATS bucket in revision order,
 * idempotently (a key is only replaced by a higher revision, with
 * compare-and-set), and puts the heartbeat key "hb" every heartbeat_ms.
 * Creates the buckets when missing.  Runs until *stop or, with once, until
 * the outbox is empty.  *published (may be NULL) gets the count.
 */
custos_rc cu_pdp_publish_run(cu_ws *ws, const cu_pdp_pub_opts *o,
                             int64_t *published, custos_diag *d) CUSTOS_WUR;

/* One enforcement point as it reported itself in the points bucket. */
typedef struct cu_pdp_point {
  char id[96];
  uint64_t revision;
  int64_t time_ms; /* when it reported, its clock */
  int64_t lag_ms;
  char state[16];
} cu_pdp_point;

/* Reads every point's last report from "<bucket>-points".  *out is an
 * array the caller frees with cu_free; *n its length. */
custos_rc cu_pdp_points(const char *nats_url, const char *bucket,
                        cu_pdp_point **out, size_t *n,
                        custos_diag *d) CUSTOS_WUR;

#endif
