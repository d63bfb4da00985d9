/*
 * The decision point: lock-free checks against an immutable table that one
 * writer replaces with an atomic pointer swap, epoch-based reclamation of
 * old tables, staleness and fail modes, the snapshot file and the ticker
 * thread that drives the feed.  docs/internals.md explains the scheme.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/membarrier.h>
#include <sys/syscall.h>
#endif

#include "directory/directory.h"
#include "table.h"

#define READERS 512  /* reader slots per point */
#define TLS_CACHE 4  /* points a thread remembers its slot for */
#define FAIL_MAX 64  /* services with their own fail mode */
#define SNAPSHOT_MAX ((size_t)1 << 30)

/* One reader slot, alone on its cache line.  epoch is 0 while the owning
 * thread is outside a check, else the global epoch it saw on entry. */
typedef struct reader {
  _Atomic uint64_t epoch;
  _Atomic int used;
  char pad[64 - sizeof(uint64_t) - sizeof(int)];
} reader;

typedef struct fail_rule {
  char service[CU_PDP_NAME_MAX];
  custos_pdp_fail mode;
} fail_rule;

struct custos_pdp {
  /* ---- read by every check --------------------------------------- */
  _Atomic(cu_pdp_table *) table;
  _Atomic uint64_t epoch;
  _Atomic int stale;
  _Atomic uint64_t applied;
  uint64_t id; /* distinguishes points in the threads' slot caches */
  int fast_enter; /* readers skip the fence: the writer uses membarrier */
  int any_closed; /* some service (or the default) fails closed */
  custos_pdp_fail default_fail;
  size_t nfail;
  fail_rule fail[FAIL_MAX];
  const cu_catalog *catalog;
  _Atomic uint8_t *svc_fail; /* fail mode by service id, when any_closed */
  char pad0[64];
  reader readers[READERS];
  _Atomic int nreaders; /* high-water mark of used slots */
  _Atomic uint64_t overflow; /* checks running without a slot */

  /* ---- status ------------------------------------------------------ */
  _Atomic uint64_t published;
  _Atomic int64_t heard_ms; /* 0 = never */
  _Atomic int state;
  _Atomic uint64_t full_loads;
  uint64_t resumed_from;

  /* ---- writer ------------------------------------------------------ */
  pthread_mutex_t wlock;
  cu_pdp_master master;
  /* Service and region ids, stable while the point is open; written by
   * the writer (building a table) and by custos_pdp_*_id, under dict_mu.
   * Lock order: wlock, then dict_mu. */
  pthread_mutex_t dict_mu;
  cu_pdp_intern svcs, regions;
  _Atomic uint64_t leaked; /* tables kept because membarrier failed */
  size_t staged;
  uint64_t feed_seq;
  int64_t stream_created;
  _Atomic int dirty; /* changed since the last snapshot */
  int64_t snap_ms;

  /* ---- waiting for a revision (check_at only) ---------------------- */
  pthread_mutex_t wait_mu;
  pthread_cond_t wait_cv;
  _Atomic int waiters;

  /* ---- housekeeping ------------------------------------------------ */
  custos_pdp_config cfg;
  char *strs[6]; /* owned copies of the config strings */
  char point_id[96];
  cu_pdp_feed *feed;
  pthread_t ticker;
  int ticker_started;
  int no_feed; /* filled only through cu_pdp_apply: never stale */
  _Atomic int stopping;
};

static _Atomic uint64_t next_id = 1;

static _Thread_local struct {
  uint64_t id;
  reader *r;
} tls[TLS_CACHE];

int64_t cu_pdp_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- names ------------------------------------------------------------ */

static const char *const op_names[] = {NULL, "create", "read", "write",
                                       "delete"};
static const char *const effect_names[] = {"none", "deny-new", "read-only",
                                           "deny-all"};

const char *custos_pdp_op_name(custos_pdp_op op) {
  return (unsigned)op >= 1 && (unsigned)op <= 4 ? op_names[op] : "?";
}
const char *custos_pdp_effect_name(custos_pdp_effect e) {
  return (unsigned)e <= 3 ? effect_names[e] : "?";
}
const char *custos_pdp_reason_name(custos_pdp_reason r) {
  switch (r) {
  case CUSTOS_PDP_NO_BLOCK:
    return "no-block";
  case CUSTOS_PDP_BLOCKED:
    return "blocked";
  case CUSTOS_PDP_STALE_CLOSED:
    return "fail-closed";
  }
  return "?";
}
const char *custos_pdp_state_name(custos_pdp_feed_state s) {
  static const char *const n[] = {"starting", "live", "stale", "closed"};
  return (unsigned)s <= 3 ? n[s] : "?";
}
int custos_pdp_op_parse(const char *s, custos_pdp_op *out) {
  for (int i = 1; i <= 4; i++)
    if (strcmp(s, op_names[i]) == 0) {
      *out = (custos_pdp_op)i;
      return 0;
    }
  return -1;
}
int custos_pdp_effect_parse(const char *s, custos_pdp_effect *out) {
  for (int i = 1; i <= 3; i++)
    if (strcmp(s, effect_names[i]) == 0) {
      *out = (custos_pdp_effect)i;
      return 0;
    }
  return -1;
}

void custos_pdp_config_init(custos_pdp_config *c) {
  memset(c, 0, sizeof *c);
  c->max_lag_ms = 5000;
  c->poll_ms = 20;
  c->tick_ms = 20;
  c->snapshot_ms = 1000;
  c->default_fail = CUSTOS_PDP_FAIL_OPEN;
}

/* ---- readers and reclamation ----------------------------------------- */

/* This thread's slot in p, taking a free one on first use; NULL when all
 * are taken (the check then counts itself in p->overflow). */
static reader *my_slot(custos_pdp *p) {
  for (int i = 0; i < TLS_CACHE; i++)
    if (tls[i].id == p->id)
      return tls[i].r;
  reader *r = NULL;
  for (int i = 0; i < READERS && !r; i++) {
    int expect = 0;
    if (atomic_load_explicit(&p->readers[i].used, memory_order_relaxed) == 0 &&
        atomic_compare_exchange_strong(&p->readers[i].used, &expect, 1)) {
      r = &p->readers[i];
      int hw = atomic_load(&p->nreaders);
      while (hw < i + 1 &&
             !atomic_compare_exchange_weak(&p->nreaders, &hw, i + 1))
        ;
    }
  }
  if (!r)
    return NULL;
  int victim = 0;
  for (int i = 0; i < TLS_CACHE; i++)
    if (tls[i].id == 0) {
      victim = i;
      break;
    }
  /* Evicting a cached slot of another point keeps that slot taken; it is
   * lost to this thread, not unsafe. */
  tls[victim].id = p->id;
  tls[victim].r = r;
  return r;
}

void custos_pdp_thread_done(custos_pdp *p) {
  for (int i = 0; i < TLS_CACHE; i++)
    if (tls[i].id == p->id) {
      atomic_store(&tls[i].r->epoch, 0);
      atomic_store(&tls[i].r->used, 0);
      tls[i].id = 0;
      tls[i].r = NULL;
    }
}

/*
 * Readers can skip the store-load fence of entering when the writer can
 * force one on every running thread of the process with membarrier(2)
 * (the scheme of liburcu's "memb" flavour).  Registration is per
 * process, so a forked child registers again.
 */
static int membarrier_ready(void) {
#if defined(__linux__) && defined(SYS_membarrier)
  static _Atomic long registered; /* pid that registered */
  long me = (long)getpid();
  if (atomic_load(&registered) == me)
    return 1;
  if (syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0,
              0) != 0)
    return 0;
  atomic_store(&registered, me);
  return 1;
#else
  return 0;
#endif
}

static int membarrier_all(void) {
#if defined(__linux__) && defined(SYS_membarrier)
  return (int)syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
#else
  return -1;
#endif
}

/*
 * Entering: publish the epoch we saw, then load the table.  A writer that
 * swapped the table before our store either sees our epoch and waits, or
 * we see its new table.  That needs the store ordered before the load:
 * by a sequentially consistent store (a full fence on x86, which also
 * keeps one check's cache misses from overlapping the next one's), or,
 * with fast_enter, by the barrier the writer's membarrier() runs on this
 * thread; the compiler barrier keeps the order in the program.
 */
static inline cu_pdp_table *enter(custos_pdp *p, reader *r) {
  if (r && p->fast_enter) {
    atomic_store_explicit(
        &r->epoch, atomic_load_explicit(&p->epoch, memory_order_relaxed),
        memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst);
    return atomic_load_explicit(&p->table, memory_order_acquire);
  }
  if (r) {
    atomic_store(&r->epoch, atomic_load(&p->epoch));
  } else {
    atomic_fetch_add(&p->overflow, 1);
  }
  return atomic_load(&p->table);
}

static inline void leave(custos_pdp *p, reader *r) {
  if (r)
    atomic_store_explicit(&r->epoch, 0, memory_order_release);
  else
    atomic_fetch_sub_explicit(&p->overflow, 1, memory_order_release);
}

/* Waits until no reader can still hold a table unpublished before the
 * call; -1 when that cannot be known (membarrier failed).  Writer only. */
static int synchronize(custos_pdp *p) {
  uint64_t e = atomic_fetch_add(&p->epoch, 1) + 1;
  if (p->fast_enter && membarrier_all() != 0)
    return -1;
  int n = atomic_load(&p->nreaders);
  for (int i = 0; i < n; i++) {
    unsigned spins = 0;
    for (;;) {
      uint64_t v = atomic_load_explicit(&p->readers[i].epoch,
                                        memory_order_acquire);
      if (v == 0 || v >= e)
        break;
      if (++spins > 64)
        sched_yield();
    }
  }
  while (atomic_load_explicit(&p->overflow, memory_order_acquire) != 0)
    sched_yield();
  return 0;
}

/* Publishes t and frees the table it replaces once no reader holds it.
 * Should membarrier ever fail, the old table is leaked rather than freed
 * under a reader. */
static void swap_table(custos_pdp *p, cu_pdp_table *t) {
  cu_pdp_table *old = atomic_exchange(&p->table, t);
  if (synchronize(p) == 0)
    cu_pdp_table_free(old);
  else
    atomic_fetch_add(&p->leaked, 1);
}

static void set_applied(custos_pdp *p, uint64_t rev) {
  uint64_t cur = atomic_load(&p->applied);
  while (cur < rev && !atomic_compare_exchange_weak(&p->applied, &cur, rev))
    ;
  if (atomic_load(&p->waiters) > 0) {
    pthread_mutex_lock(&p->wait_mu);
    pthread_cond_broadcast(&p->wait_cv);
    pthread_mutex_unlock(&p->wait_mu);
  }
}

/* ---- writer ----------------------------------------------------------- */

void cu_pdp_writer_lock(custos_pdp *p) { pthread_mutex_lock(&p->wlock); }
void cu_pdp_writer_unlock(custos_pdp *p) { pthread_mutex_unlock(&p->wlock); }

custos_rc cu_pdp_stage(custos_pdp *p, const cu_pdp_block *b) {
  custos_rc rc = cu_pdp_master_set(&p->master, b);
  if (rc == CUSTOS_OK) {
    p->staged++;
    p->dirty = 1;
  }
  return rc;
}

void cu_pdp_stage_reset(custos_pdp *p) {
  cu_pdp_master_clear(&p->master);
  p->staged++;
  p->dirty = 1;
}

custos_rc cu_pdp_publish(custos_pdp *p, uint64_t rev) {
  uint64_t cur = atomic_load(&p->applied);
  if (rev < cur)
    rev = cur;
  if (p->staged) {
    cu_pdp_table *t = NULL;
    pthread_mutex_lock(&p->dict_mu);
    custos_rc rc = cu_pdp_table_build(&p->master, &p->svcs, &p->regions, rev,
                                      cu_pdp_now_ms() / 1000, &t);
    pthread_mutex_unlock(&p->dict_mu);
    if (rc != CUSTOS_OK)
      return rc;
    swap_table(p, t);
    p->staged = 0;
  }
  if (rev != cur)
    p->dirty = 1;
  set_applied(p, rev);
  return CUSTOS_OK;
}

void cu_pdp_heard(custos_pdp *p, uint64_t published) {
  atomic_store(&p->heard_ms, cu_pdp_now_ms());
  uint64_t cur = atomic_load(&p->published);
  while (cur < published &&
         !atomic_compare_exchange_weak(&p->published, &cur, published))
    ;
}

void cu_pdp_feed_pos(custos_pdp *p, uint64_t *seq, int64_t *created) {
  *seq = p->feed_seq;
  *created = p->stream_created;
}
void cu_pdp_set_feed_pos(custos_pdp *p, uint64_t seq, int64_t created) {
  p->feed_seq = seq;
  p->stream_created = created;
  p->dirty = 1;
}
void cu_pdp_count_full_load(custos_pdp *p) {
  atomic_fetch_add(&p->full_loads, 1);
}
const custos_pdp_config *cu_pdp_config(const custos_pdp *p) { return &p->cfg; }
uint64_t cu_pdp_applied(const custos_pdp *p) {
  return atomic_load(&((custos_pdp *)p)->applied);
}

custos_rc cu_pdp_apply(custos_pdp *p, const cu_pdp_block *blocks, size_t n,
                       uint64_t rev, custos_diag *d) {
  cu_pdp_writer_lock(p);
  custos_rc rc = CUSTOS_OK;
  for (size_t i = 0; i < n && rc == CUSTOS_OK; i++)
    rc = cu_pdp_stage(p, &blocks[i]);
  if (rc == CUSTOS_OK)
    rc = cu_pdp_publish(p, rev);
  cu_pdp_writer_unlock(p);
  if (rc != CUSTOS_OK)
    cu_diag_set(d, rc, "cannot apply %zu block(s) to the decision point", n);
  return rc;
}

/* ---- snapshot --------------------------------------------------------- */

/* Serialises the live blocks; caller holds the writer lock. */
static custos_rc snapshot_text(custos_pdp *p, cu_buf *b) {
  custos_rc rc = cu_buf_printf(
      b, "custos-pdp-snapshot 1\nrevision %llu\nstream %llu %lld\ntime %lld\n"
         "blocks %zu\n",
      (unsigned long long)atomic_load(&p->applied),
      (unsigned long long)p->feed_seq, (long long)p->stream_created,
      (long long)cu_pdp_now_ms(), p->master.live);
  for (size_t i = 0; i < p->master.n && rc == CUSTOS_OK; i++) {
    const cu_pdp_rec *r = p->master.recs[i];
    if (!r->effect)
      continue;
    rc = cu_buf_printf(b, "%s\t%s\t%s\t%s\t%s\t%s\t%lld\t%lld\t%lld\n",
                       r->sub, r->svc, r->region, r->owner,
                       custos_pdp_effect_name((custos_pdp_effect)r->effect),
                       r->case_id, (long long)r->effective,
                       (long long)r->created, (long long)r->revision);
  }
  if (rc == CUSTOS_OK) {
    uint8_t h[CU_SHA256_LEN];
    char hex[2 * CU_SHA256_LEN + 1];
    cu_sha256(b->data, b->len, h);
    cu_hex_encode(h, sizeof h, hex);
    rc = cu_buf_printf(b, "end %s\n", hex);
  }
  return rc;
}

static custos_rc snapshot_write(custos_pdp *p, custos_diag *d) {
  if (!p->cfg.snapshot)
    return CUSTOS_OK;
  cu_buf b;
  cu_buf_init(&b, SNAPSHOT_MAX);
  cu_pdp_writer_lock(p);
  custos_rc rc = snapshot_text(p, &b);
  if (rc == CUSTOS_OK)
    p->dirty = 0;
  cu_pdp_writer_unlock(p);
  if (rc == CUSTOS_OK)
    rc = cu_file_write_atomic(p->cfg.snapshot, b.data, b.len, 0600, d);
  else
    cu_diag_set(d, rc, "cannot serialise the snapshot");
  cu_buf_free(&b);
  return rc;
}

/* Splits line at tabs into n fields (in place); -1 when the count differs. */
static int split(char *line, char **f, int n) {
  int k = 0;
  f[k++] = line;
  for (char *s = line; *s; s++)
    if (*s == '\t') {
      if (k == n)
        return -1;
      *s = '\0';
      f[k++] = s + 1;
    }
  return k == n ? 0 : -1;
}

static int parse_i64(const char *s, int64_t *out) {
  char *end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end)
    return -1;
  *out = v;
  return 0;
}

/* Loads the snapshot into the master and publishes it.  A missing file is
 * not an error; a damaged one is ignored (the feed reloads everything). */
static custos_rc snapshot_load(custos_pdp *p, custos_diag *d) {
  char *data = NULL;
  size_t len = 0;
  custos_diag tmp;
  custos_diag_clear(&tmp);
  custos_rc rc = cu_file_read(p->cfg.snapshot, SNAPSHOT_MAX, &data, &len, &tmp);
  if (rc == CUSTOS_ENOTFOUND)
    return CUSTOS_OK;
  if (rc != CUSTOS_OK) {
    if (d)
      *d = tmp;
    return rc;
  }
  /* The last line is "end <sha256 of everything before it>". */
  const char *endl = NULL;
  if (len > 70 && data[len - 1] == '\n') {
    endl = data + len - 1;
    while (endl > data && endl[-1] != '\n')
      endl--;
  }
  int ok = endl && strncmp(endl, "end ", 4) == 0;
  if (ok) {
    uint8_t h[CU_SHA256_LEN], want[CU_SHA256_LEN];
    cu_sha256(data, (size_t)(endl - data), h);
    ok = cu_hex_decode(endl + 4, 2 * CU_SHA256_LEN, want, sizeof want) ==
             CUSTOS_OK &&
         memcmp(h, want, sizeof h) == 0;
  }
  unsigned long long rev = 0, seq = 0, count = 0;
  long long created = 0, when = 0;
  char *s = data;
  if (ok) {
    int used = 0;
    ok = sscanf(s,
                "custos-pdp-snapshot 1\nrevision %llu\nstream %llu %lld\n"
                "time %lld\nblocks %llu\n%n",
                &rev, &seq, &created, &when, &count, &used) == 5 &&
         used > 0;
    s += used;
  }
  cu_pdp_writer_lock(p);
  cu_pdp_block b;
  while (ok && s < endl) {
    char *nl = memchr(s, '\n', (size_t)(endl - s));
    if (!nl)
      break;
    *nl = '\0';
    char *f[9];
    int64_t eff = 0, cre = 0, brev = 0;
    memset(&b, 0, sizeof b);
    ok = split(s, f, 9) == 0 && parse_i64(f[6], &eff) == 0 &&
         parse_i64(f[7], &cre) == 0 && parse_i64(f[8], &brev) == 0 &&
         custos_pdp_effect_parse(f[4], &b.effect) == 0 &&
         strlen(f[0]) < sizeof b.subscription &&
         strlen(f[1]) < sizeof b.service && strlen(f[2]) < sizeof b.region &&
         strlen(f[3]) < sizeof b.owner && strlen(f[5]) < sizeof b.case_id;
    if (ok) {
      strcpy(b.subscription, f[0]);
      strcpy(b.service, f[1]);
      strcpy(b.region, f[2]);
      strcpy(b.owner, f[3]);
      strcpy(b.case_id, f[5]);
      b.effective = eff;
      b.created = cre;
      b.revision = brev;
      ok = cu_pdp_stage(p, &b) == CUSTOS_OK;
    }
    s = nl + 1;
  }
  if (ok && p->master.live == count) {
    rc = cu_pdp_publish(p, rev);
    if (rc == CUSTOS_OK) {
      p->feed_seq = seq;
      p->stream_created = created;
      p->resumed_from = rev;
      p->dirty = 0;
      atomic_store(&p->heard_ms, (int64_t)when);
      atomic_store(&p->published, (uint64_t)rev);
    }
  } else {
    cu_pdp_master_clear(&p->master);
    p->staged = 0;
    rc = CUSTOS_OK; /* damaged: start empty, the feed loads everything */
  }
  cu_pdp_writer_unlock(p);
  cu_free(data);
  if (rc != CUSTOS_OK)
    cu_diag_set(d, rc, "cannot load the snapshot");
  return rc;
}

/* ---- ticker ----------------------------------------------------------- */

static void update_staleness(custos_pdp *p) {
  if (p->no_feed)
    atomic_store(&p->heard_ms, cu_pdp_now_ms());
  int64_t heard = atomic_load(&p->heard_ms);
  int64_t lag = heard ? cu_pdp_now_ms() - heard : -1;
  int stale = heard == 0 || lag > (int64_t)p->cfg.max_lag_ms;
  atomic_store(&p->stale, stale);
  atomic_store(&p->state, heard == 0 ? CUSTOS_PDP_STARTING
                          : stale    ? CUSTOS_PDP_STALE
                                     : CUSTOS_PDP_LIVE);
}

static void *ticker_main(void *arg) {
  custos_pdp *p = arg;
  struct timespec ts = {.tv_sec = p->cfg.tick_ms / 1000,
                        .tv_nsec = (long)(p->cfg.tick_ms % 1000) * 1000000};
  while (!atomic_load(&p->stopping)) {
    update_staleness(p);
    if (p->feed)
      p->feed->tick(p->feed);
    int64_t now = cu_pdp_now_ms();
    if (p->cfg.snapshot && p->dirty && now - p->snap_ms >= p->cfg.snapshot_ms) {
      p->snap_ms = now;
      if (snapshot_write(p, NULL) != CUSTOS_OK)
        p->snap_ms = now; /* retried at the next interval */
    }
    nanosleep(&ts, NULL);
  }
  return NULL;
}

/* ---- open, close, check ----------------------------------------------- */

static custos_rc parse_fail(custos_pdp *p, const char *spec, custos_diag *d) {
  const char *s = spec;
  while (s && *s) {
    const char *comma = strchr(s, ',');
    size_t n = comma ? (size_t)(comma - s) : strlen(s);
    const char *eq = memchr(s, '=', n);
    if (!eq || eq == s || p->nfail >= FAIL_MAX ||
        (size_t)(eq - s) >= CU_PDP_NAME_MAX) {
      cu_diag_field(d, "fail_services", s, n);
      cu_diag_hint(d, "write SERVICE=open|closed, comma-separated, at most "
                      "%d services",
                   FAIL_MAX);
      return cu_diag_set(d, CUSTOS_EINVAL, "malformed fail mode");
    }
    fail_rule *f = &p->fail[p->nfail];
    size_t k = (size_t)(eq - s);
    for (size_t i = 0; i < k; i++) {
      char c = s[i];
      f->service[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    f->service[k] = '\0';
    size_t vn = n - k - 1;
    if (vn == 4 && strncmp(eq + 1, "open", 4) == 0) {
      f->mode = CUSTOS_PDP_FAIL_OPEN;
    } else if (vn == 6 && strncmp(eq + 1, "closed", 6) == 0) {
      f->mode = CUSTOS_PDP_FAIL_CLOSED;
      p->any_closed = 1;
    } else {
      cu_diag_field(d, "fail_services", s, n);
      cu_diag_hint(d, "the mode is open or closed");
      return cu_diag_set(d, CUSTOS_EINVAL, "malformed fail mode");
    }
    p->nfail++;
    s = comma ? comma + 1 : NULL;
  }
  return CUSTOS_OK;
}

static custos_pdp_fail fail_mode(const custos_pdp *p, const char *service) {
  for (size_t i = 0; i < p->nfail; i++)
    if (strcasecmp(p->fail[i].service, service) == 0)
      return p->fail[i].mode;
  return p->default_fail;
}

static char *dup_opt(custos_pdp *p, int i, const char *s) {
  if (!s)
    return NULL;
  p->strs[i] = cu_strdup(s);
  return p->strs[i];
}

custos_rc custos_pdp_open(const custos_pdp_config *cfg, custos_pdp **out,
                          custos_diag *d) {
  *out = NULL;
  if (!cfg)
    return cu_diag_set(d, CUSTOS_EINVAL, "no configuration");
  if (cfg->workspace && cfg->nats_url) {
    cu_diag_hint(d, "choose one feed");
    return cu_diag_set(d, CUSTOS_EINVAL,
                       "both a workspace and a NATS URL were given");
  }
  custos_pdp *p = cu_calloc(1, sizeof *p);
  if (!p)
    return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory opening a point");
  custos_rc rc = CUSTOS_ENOMEM;
  p->cfg = *cfg;
  p->cfg.workspace = dup_opt(p, 0, cfg->workspace);
  p->cfg.nats_url = dup_opt(p, 1, cfg->nats_url);
  p->cfg.bucket = dup_opt(p, 2, cfg->bucket ? cfg->bucket
                                            : CU_PDP_DEFAULT_BUCKET);
  p->cfg.snapshot = dup_opt(p, 3, cfg->snapshot);
  p->cfg.fail_services = NULL;
  p->cfg.point_id = NULL;
  if ((cfg->workspace && !p->cfg.workspace) ||
      (cfg->nats_url && !p->cfg.nats_url) || !p->cfg.bucket ||
      (cfg->snapshot && !p->cfg.snapshot)) {
    cu_diag_set(d, rc, "out of memory opening a point");
    goto fail_alloc;
  }
  if (!p->cfg.max_lag_ms)
    p->cfg.max_lag_ms = 5000;
  if (!p->cfg.poll_ms)
    p->cfg.poll_ms = 20;
  if (!p->cfg.tick_ms)
    p->cfg.tick_ms = 20;
  if (!p->cfg.snapshot_ms)
    p->cfg.snapshot_ms = 1000;
  if (cfg->point_id && *cfg->point_id) {
    snprintf(p->point_id, sizeof p->point_id, "%s", cfg->point_id);
  } else {
    char host[64] = "point";
    gethostname(host, sizeof host - 1);
    snprintf(p->point_id, sizeof p->point_id, "%s-%ld", host, (long)getpid());
  }
  p->cfg.point_id = p->point_id;
  p->default_fail = cfg->default_fail;
  p->any_closed = cfg->default_fail == CUSTOS_PDP_FAIL_CLOSED;
  rc = parse_fail(p, cfg->fail_services, d);
  if (rc != CUSTOS_OK)
    goto fail_alloc;
  rc = cu_catalog_get(&p->catalog, d);
  if (rc != CUSTOS_OK)
    goto fail_alloc;
  if (p->any_closed) {
    p->svc_fail = cu_calloc((size_t)CU_PDP_ABSENT + 1, sizeof *p->svc_fail);
    if (!p->svc_fail) {
      rc = cu_diag_set(d, CUSTOS_ENOMEM, "out of memory opening a point");
      goto fail_alloc;
    }
  }
  p->id = atomic_fetch_add(&next_id, 1);
  p->fast_enter = membarrier_ready();
  atomic_init(&p->epoch, 1);
  cu_pdp_intern_init(&p->svcs, 1);
  cu_pdp_intern_init(&p->regions, 1);
  pthread_mutex_init(&p->dict_mu, NULL);
  pthread_mutex_init(&p->wlock, NULL);
  pthread_mutex_init(&p->wait_mu, NULL);
  pthread_cond_init(&p->wait_cv, NULL);

  cu_pdp_table *t = NULL;
  rc = cu_pdp_table_build(&p->master, &p->svcs, &p->regions, 0, 0, &t);
  if (rc != CUSTOS_OK) {
    cu_diag_set(d, rc, "out of memory opening a point");
    goto fail_sync;
  }
  atomic_store(&p->table, t);
  if (p->cfg.snapshot) {
    rc = snapshot_load(p, d);
    if (rc != CUSTOS_OK)
      goto fail_table;
  }
  if (p->cfg.workspace)
    rc = cu_pdp_feed_local_start(p, &p->feed, d);
  else if (p->cfg.nats_url)
    rc = cu_pdp_feed_nats_start(p, &p->feed, d);
  else
    p->no_feed = 1;
  if (rc != CUSTOS_OK)
    goto fail_table;
  update_staleness(p);
  if (pthread_create(&p->ticker, NULL, ticker_main, p) != 0) {
    rc = cu_diag_set(d, CUSTOS_EIO, "cannot start the point's thread");
    goto fail_feed;
  }
  p->ticker_started = 1;
  *out = p;
  return CUSTOS_OK;

fail_feed:
  if (p->feed)
    p->feed->stop(p->feed);
fail_table:
  cu_pdp_table_free(atomic_load(&p->table));
  cu_pdp_master_clear(&p->master);
fail_sync:
  pthread_cond_destroy(&p->wait_cv);
  pthread_mutex_destroy(&p->wait_mu);
  pthread_mutex_destroy(&p->wlock);
  pthread_mutex_destroy(&p->dict_mu);
  cu_pdp_intern_free(&p->svcs);
  cu_pdp_intern_free(&p->regions);
fail_alloc:
  for (size_t i = 0; i < CU_ARRAY_LEN(p->strs); i++)
    cu_free(p->strs[i]);
  cu_free((void *)p->svc_fail);
  cu_free(p);
  return rc;
}

void custos_pdp_close(custos_pdp *p) {
  if (!p)
    return;
  atomic_store(&p->stopping, 1);
  if (p->ticker_started)
    pthread_join(p->ticker, NULL);
  if (p->feed)
    p->feed->stop(p->feed);
  if (p->cfg.snapshot && p->dirty)
    (void)snapshot_write(p, NULL);
  custos_pdp_thread_done(p);
  cu_pdp_table_free(atomic_load(&p->table));
  cu_pdp_master_clear(&p->master);
  pthread_cond_destroy(&p->wait_cv);
  pthread_mutex_destroy(&p->wait_mu);
  pthread_mutex_destroy(&p->wlock);
  pthread_mutex_destroy(&p->dict_mu);
  cu_pdp_intern_free(&p->svcs);
  cu_pdp_intern_free(&p->regions);
  for (size_t i = 0; i < CU_ARRAY_LEN(p->strs); i++)
    cu_free(p->strs[i]);
  cu_free((void *)p->svc_fail);
  cu_free(p);
}

/* Operations each effect refuses, as bit masks of custos_pdp_op. */
static const uint8_t refused[4] = {
    0, 1u << CUSTOS_PDP_CREATE,
    (1u << CUSTOS_PDP_CREATE) | (1u << CUSTOS_PDP_WRITE) |
        (1u << CUSTOS_PDP_DELETE),
    (1u << CUSTOS_PDP_CREATE) | (1u << CUSTOS_PDP_READ) |
        (1u << CUSTOS_PDP_WRITE) | (1u << CUSTOS_PDP_DELETE)};

static inline int refuses(uint8_t effect, custos_pdp_op op) {
  return (refused[effect & 3] >> op) & 1;
}

/* Region id in t: exact (case-folded) name first, then any alias the
 * catalogue knows.  Only reached for subscriptions that have blocks. */
static uint32_t region_id(const custos_pdp *p, const cu_pdp_table *t,
                          const char *region) {
  if (!region || !*region)
    return CU_PDP_ABSENT;
  uint32_t id = cu_pdp_intern_find(&t->regions, region);
  if (id)
    return id;
  const cu_region *r = cu_catalog_region(p->catalog, region, strlen(region));
  if (r)
    id = cu_pdp_intern_find(&t->regions, r->id);
  return id ? id : CU_PDP_ABSENT;
}

_Static_assert(sizeof(((custos_pdp_decision *)0)->owner) == CU_PDP_OWNER_MAX,
               "owner width");
_Static_assert(sizeof(((custos_pdp_decision *)0)->case_id) == CU_PDP_CASE_MAX,
               "case width");

static inline void allow(custos_pdp_decision *out) {
  out->allow = 1;
  out->reason = CUSTOS_PDP_NO_BLOCK;
  out->effect = CUSTOS_PDP_EFFECT_NONE;
  out->owner[0] = '\0';
  out->case_id[0] = '\0';
}

/* The names are only copied here, on a deny: fixed widths, no strlen. */
static inline void deny(const cu_pdp_table *t, uint8_t effect, uint16_t owner,
                        uint32_t case_idx, custos_pdp_decision *out) {
  out->allow = 0;
  out->reason = CUSTOS_PDP_BLOCKED;
  out->effect = (custos_pdp_effect)effect;
  memcpy(out->owner, t->owners[owner - 1], CU_PDP_OWNER_MAX);
  memcpy(out->case_id, t->cases[case_idx - 1], CU_PDP_CASE_MAX);
}

/* Decides for the blocks of slot s; svc and reg are ids in t (ABSENT for
 * names no block uses). */
static void decide(const cu_pdp_table *t, const cu_pdp_slot *s, uint32_t svc,
                   uint32_t reg, custos_pdp_op op, custos_pdp_decision *out) {
  if (!s->more) {
    if ((s->svc && s->svc != svc) || (s->region && s->region != reg) ||
        !refuses(s->effect, op))
      allow(out);
    else
      deny(t, s->effect, s->owner, s->case_idx, out);
    return;
  }
  const cu_pdp_rule *run = &t->rules[s->more - 1], *best = NULL;
  int64_t now = 0;
  for (uint32_t i = 0; i < run->n; i++) {
    const cu_pdp_rule *u = &run[i];
    if ((u->svc && u->svc != svc) || (u->region && u->region != reg) ||
        !refuses(u->effect, op))
      continue;
    if (u->future) {
      if (!now)
        now = cu_pdp_now_ms() / 1000;
      if (u->effective > now)
        continue;
    }
    if (!best || u->effect > best->effect ||
        (u->effect == best->effect && u->owner < best->owner))
      best = u;
  }
  if (best)
    deny(t, best->effect, best->owner, best->case_idx, out);
  else
    allow(out);
}

static inline void fail_closed(custos_pdp_decision *out) {
  out->allow = 0;
  out->reason = CUSTOS_PDP_STALE_CLOSED;
  out->effect = CUSTOS_PDP_DENY_ALL;
  out->owner[0] = '\0';
  out->case_id[0] = '\0';
}

static custos_rc check(custos_pdp *p, const char *sub, const char *service,
                       const char *region, custos_pdp_op op, int behind,
                       custos_pdp_decision *out) {
  uint64_t k[2];
  if (!sub || !service || !*service || (unsigned)op - 1u > 3u)
    return CUSTOS_EINVAL;
  if (cu_pdp_sub_key(sub, strnlen(sub, CU_PDP_SUB_MAX), k) != 0)
    return CUSTOS_EINVAL;
  int stale = atomic_load_explicit(&p->stale, memory_order_relaxed) | behind;
  out->stale = stale;
  out->revision = atomic_load_explicit(&p->applied, memory_order_relaxed);
  if (stale && p->any_closed && fail_mode(p, service) == CUSTOS_PDP_FAIL_CLOSED) {
    fail_closed(out);
    return CUSTOS_OK;
  }
  reader *r = my_slot(p);
  const cu_pdp_table *t = enter(p, r);
  uint64_t h = cu_pdp_mix(k[0], k[1]);
  const cu_pdp_slot *s =
      cu_pdp_bloom_has(t, h) ? cu_pdp_table_find(t, h, k[0], k[1]) : NULL;
  if (s) {
    uint32_t svc = cu_pdp_intern_find(&t->svcs, service);
    decide(t, s, svc ? svc : CU_PDP_ABSENT, region_id(p, t, region), op, out);
  } else {
    allow(out);
  }
  leave(p, r);
  return CUSTOS_OK;
}

custos_rc custos_pdp_check(custos_pdp *p, const char *subscription,
                           const char *service, const char *region,
                           custos_pdp_op op, custos_pdp_decision *out) {
  return check(p, subscription, service, region, op, 0, out);
}

custos_rc custos_pdp_key_parse(const char *subscription, custos_pdp_key *out) {
  if (!subscription ||
      cu_pdp_sub_key(subscription, strnlen(subscription, CU_PDP_SUB_MAX),
                     out->k) != 0)
    return CUSTOS_EINVAL;
  return CUSTOS_OK;
}

/* Names callers may add to a point's dictionaries: the rest is kept for
 * the names of blocks, so a front end that interns whatever it is sent
 * cannot stop the point from taking new blocks. */
#define CALLER_IDS_MAX (CU_PDP_IDS_MAX - 16384)

custos_rc custos_pdp_service_id(custos_pdp *p, const char *service,
                                uint32_t *id) {
  if (!service || !*service || strnlen(service, CU_PDP_NAME_MAX) >=
                                   CU_PDP_NAME_MAX)
    return CUSTOS_EINVAL;
  custos_pdp_fail mode = fail_mode(p, service);
  pthread_mutex_lock(&p->dict_mu);
  uint32_t v = cu_pdp_intern_add(&p->svcs, service, CALLER_IDS_MAX);
  if (v && p->svc_fail)
    atomic_store_explicit(&p->svc_fail[v], (uint8_t)mode,
                          memory_order_relaxed);
  pthread_mutex_unlock(&p->dict_mu);
  if (!v)
    return p->svcs.n >= CALLER_IDS_MAX ? CUSTOS_ETOOBIG : CUSTOS_ENOMEM;
  *id = v;
  return CUSTOS_OK;
}

custos_rc custos_pdp_region_id(custos_pdp *p, const char *region,
                               uint32_t *id) {
  if (!region || !*region) {
    *id = CUSTOS_PDP_NO_REGION;
    return CUSTOS_OK;
  }
  if (strnlen(region, CU_PDP_NAME_MAX) >= CU_PDP_NAME_MAX)
    return CUSTOS_EINVAL;
  /* As region_id: the name itself when a block uses it, else its
   * canonical id when the catalogue knows it as an alias. */
  pthread_mutex_lock(&p->dict_mu);
  uint32_t v = cu_pdp_intern_find(&p->regions, region);
  if (!v) {
    const cu_region *r =
        cu_catalog_region(p->catalog, region, strlen(region));
    v = cu_pdp_intern_add(&p->regions, r ? r->id : region, CALLER_IDS_MAX);
  }
  pthread_mutex_unlock(&p->dict_mu);
  if (!v)
    return p->regions.n >= CALLER_IDS_MAX ? CUSTOS_ETOOBIG : CUSTOS_ENOMEM;
  *id = v;
  return CUSTOS_OK;
}

custos_rc custos_pdp_check_id(custos_pdp *p, const custos_pdp_key *sub,
                              uint32_t service, uint32_t region,
                              custos_pdp_op op, custos_pdp_decision *out) {
  if (!sub || (sub->k[0] | sub->k[1]) == 0 || service - 1u >= CU_PDP_IDS_MAX ||
      region - 1u > CU_PDP_IDS_MAX || (unsigned)op - 1u > 3u)
    return CUSTOS_EINVAL;
  int stale = atomic_load_explicit(&p->stale, memory_order_relaxed);
  out->stale = stale;
  out->revision = atomic_load_explicit(&p->applied, memory_order_relaxed);
  if (stale && p->svc_fail &&
      atomic_load_explicit(&p->svc_fail[service], memory_order_relaxed) ==
          CUSTOS_PDP_FAIL_CLOSED) {
    fail_closed(out);
    return CUSTOS_OK;
  }
  reader *r = my_slot(p);
  const cu_pdp_table *t = enter(p, r);
  uint64_t h = cu_pdp_mix(sub->k[0], sub->k[1]);
  const cu_pdp_slot *s =
      cu_pdp_bloom_has(t, h) ? cu_pdp_table_find(t, h, sub->k[0], sub->k[1])
                             : NULL;
  if (s)
    decide(t, s, service, region, op, out);
  else
    allow(out);
  leave(p, r);
  return CUSTOS_OK;
}

/* Queries of check_many in flight at once: enough to keep several cache
 * misses outstanding, few enough for their lines to stay in L1. */
#define BATCH 16

custos_rc custos_pdp_check_many(custos_pdp *p, const custos_pdp_query *q,
                                size_t n, custos_pdp_decision *out) {
  if (n && (!q || !out))
    return CUSTOS_EINVAL;
  for (size_t i = 0; i < n; i++)
    if ((q[i].sub.k[0] | q[i].sub.k[1]) == 0 ||
        q[i].service - 1u >= CU_PDP_IDS_MAX ||
        q[i].region - 1u > CU_PDP_IDS_MAX || (unsigned)q[i].op - 1u > 3u)
      return CUSTOS_EINVAL;
  int stale = atomic_load_explicit(&p->stale, memory_order_relaxed);
  uint64_t rev = atomic_load_explicit(&p->applied, memory_order_relaxed);
  reader *r = my_slot(p);
  const cu_pdp_table *t = enter(p, r);
  for (size_t base = 0; base < n; base += BATCH) {
    size_t m = n - base < BATCH ? n - base : BATCH;
    const custos_pdp_query *b = q + base;
    uint64_t h[BATCH];
    /* Stage 1: hash, and start loading each filter block. */
    for (size_t i = 0; i < m; i++) {
      h[i] = cu_pdp_mix(b[i].sub.k[0], b[i].sub.k[1]);
      __builtin_prefetch(t->bloom[(h[i] >> 32) >> (32 - t->bloom_bits)]);
    }
    /* Stage 2: for the subscriptions that may have blocks, start loading
     * their slots. */
    uint32_t maybe = 0;
    for (size_t i = 0; i < m; i++)
      if (cu_pdp_bloom_has(t, h[i])) {
        maybe |= 1u << i;
        __builtin_prefetch(&t->slots[h[i] & t->mask]);
      }
    /* Stage 3: decide. */
    for (size_t i = 0; i < m; i++) {
      custos_pdp_decision *o = &out[base + i];
      o->stale = stale;
      o->revision = rev;
      if (stale && p->svc_fail &&
          atomic_load_explicit(&p->svc_fail[b[i].service],
                               memory_order_relaxed) ==
              CUSTOS_PDP_FAIL_CLOSED) {
        fail_closed(o);
        continue;
      }
      const cu_pdp_slot *s =
          maybe >> i & 1
              ? cu_pdp_table_find(t, h[i], b[i].sub.k[0], b[i].sub.k[1])
              : NULL;
      if (s)
        decide(t, s, b[i].service, b[i].region, b[i].op, o);
      else
        allow(o);
    }
  }
  leave(p, r);
  return CUSTOS_OK;
}

custos_rc custos_pdp_check_at(custos_pdp *p, const char *subscription,
                              const char *service, const char *region,
                              custos_pdp_op op, uint64_t min_revision,
                              uint32_t wait_ms, custos_pdp_decision *out) {
  int behind = 0;
  if (atomic_load(&p->applied) < min_revision) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += wait_ms / 1000;
    until.tv_nsec += (long)(wait_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000;
    }
    atomic_fetch_add(&p->waiters, 1);
    pthread_mutex_lock(&p->wait_mu);
    while (atomic_load(&p->applied) < min_revision) {
      if (pthread_cond_timedwait(&p->wait_cv, &p->wait_mu, &until) ==
          ETIMEDOUT)
        break;
    }
    pthread_mutex_unlock(&p->wait_mu);
    atomic_fetch_sub(&p->waiters, 1);
    behind = atomic_load(&p->applied) < min_revision;
  }
  return check(p, subscription, service, region, op, behind, out);
}

void custos_pdp_status_get(custos_pdp *p, custos_pdp_status *out) {
  memset(out, 0, sizeof *out);
  out->revision = atomic_load(&p->applied);
  out->published = atomic_load(&p->published);
  if (out->published < out->revision)
    out->published = out->revision;
  int64_t heard = atomic_load(&p->heard_ms);
  out->lag_ms = heard ? cu_pdp_now_ms() - heard : -1;
  if (out->lag_ms < -1)
    out->lag_ms = 0;
  out->state = (custos_pdp_feed_state)atomic_load(&p->state);
  if (atomic_load(&p->stopping))
    out->state = CUSTOS_PDP_CLOSED;
  reader *r = my_slot(p);
  const cu_pdp_table *t = enter(p, r);
  out->blocks = t->nblocks;
  leave(p, r);
  out->full_loads = atomic_load(&p->full_loads);
  out->resumed_from = p->resumed_from;
  snprintf(out->point_id, sizeof out->point_id, "%s", p->point_id);
}
