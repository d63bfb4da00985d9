/*
 * Decision point benchmarks (run through bench/pdp/run):
 *   bench_pdp check [BLOCKS] [SECONDS]   in-process checks per second on one
 *                                        thread, 50/50 hit/miss, with names
 *                                        and with ids resolved ahead
 *   bench_pdp prop URL WATCHERS PROCS N  NATS propagation to WATCHERS points
 *                                        in PROCS processes, N blocks
 *   bench_pdp resume URL BLOCKS DIR      full load vs resume from snapshot
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nats/nats.h>

#include "pdp/pdp.h"
#include "pdp/table.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of this thread: on a shared machine, checks per CPU second
 * are checks per second per core, whatever else runs. */
static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint64_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static void guid(char out[37]) {
  uint64_t a = next_rand(), b = next_rand();
  snprintf(out, 37, "%08x-%04x-4%03x-8%03x-%012llx", (unsigned)(a >> 32),
           (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xfff,
           (unsigned)(b >> 48) & 0xfff,
           (unsigned long long)(b & 0xffffffffffffull));
}

static cu_pdp_block block(const char *sub, int64_t rev) {
  static const char *const svcs[] = {"storage", "ai", "*"};
  cu_pdp_block b;
  memset(&b, 0, sizeof b);
  snprintf(b.subscription, sizeof b.subscription, "%s", sub);
  snprintf(b.service, sizeof b.service, "%s", svcs[rev % 3]);
  snprintf(b.region, sizeof b.region, "%s",
           rev % 2 ? "azure:westeurope" : "*");
  snprintf(b.owner, sizeof b.owner, "aup");
  snprintf(b.case_id, sizeof b.case_id, "CASE-%lld", (long long)(rev % 100));
  b.effect = CUSTOS_PDP_DENY_ALL;
  b.revision = rev;
  return b;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int bench_check(size_t nblocks, double secs) {
  custos_pdp_config c;
  custos_pdp_config_init(&c);
  custos_pdp *p = NULL;
  if (custos_pdp_open(&c, &p, NULL) != CUSTOS_OK)
    return 1;
  size_t nq = 1 << 20;
  char(*hit)[37] = malloc(nblocks * 37);
  char(*q)[37] = malloc(nq * 37);
  cu_pdp_block *bs = malloc(nblocks * sizeof *bs);
  if (!hit || !q || !bs)
    return 1;
  for (size_t i = 0; i < nblocks; i++) {
    guid(hit[i]);
    bs[i] = block(hit[i], (int64_t)i + 1);
  }
  double t0 = now_s();
  if (cu_pdp_apply(p, bs, nblocks, nblocks, NULL) != CUSTOS_OK)
    return 1;
  double build = now_s() - t0;
  free(bs);
  for (size_t i = 0; i < nq; i++) {
    if (i % 2)
      guid(q[i]); /* miss */
    else
      memcpy(q[i], hit[next_rand() % nblocks], 37);
  }
  static const char *const svc[] = {"storage", "ai", "security", "compute"};
  /* The same checks with the names resolved ahead (custos_pdp_check_id). */
  custos_pdp_key *keys = malloc(nq * sizeof *keys);
  uint32_t sid[4], rid;
  if (!keys || custos_pdp_region_id(p, "azure:westeurope", &rid) != CUSTOS_OK)
    return 1;
  for (int i = 0; i < 4; i++)
    if (custos_pdp_service_id(p, svc[i], &sid[i]) != CUSTOS_OK)
      return 1;
  for (size_t i = 0; i < nq; i++)
    if (custos_pdp_key_parse(q[i], &keys[i]) != CUSTOS_OK)
      return 1;
  custos_pdp_query *qs = malloc(nq * sizeof *qs);
  custos_pdp_decision *ds = malloc(64 * sizeof *ds);
  if (!qs || !ds)
    return 1;
  for (size_t i = 0; i < nq; i++) {
    qs[i].sub = keys[i];
    qs[i].service = sid[i & 3];
    qs[i].region = rid;
    qs[i].op = CUSTOS_PDP_WRITE;
  }
  static const char *const how[] = {"check (names)", "check_id (ids)",
                                    "check_many (ids, 64 at a time)"};
  for (int ids = 0; ids < 3; ids++) {
    double rates[5], cpu_rates[5];
    long denies = 0;
    for (int run = 0; run < 5; run++) {
      size_t n = 0;
      double start = now_s(), end = start + secs / 5, cpu0 = cpu_s();
      while (now_s() < end) {
        if (ids == 2) {
          for (size_t i = 0; i < 65536; i += 64, n += 64) {
            if (custos_pdp_check_many(p, &qs[n & (nq - 1)], 64, ds) !=
                CUSTOS_OK)
              return 1;
            for (int j = 0; j < 64; j++)
              denies += !ds[j].allow;
          }
          continue;
        }
        for (size_t i = 0; i < 65536; i++, n++) {
          custos_pdp_decision d;
          size_t k = n & (nq - 1); /* streamed: the table is what is random */
          custos_rc rc =
              ids ? custos_pdp_check_id(p, &keys[k], sid[n & 3], rid,
                                        CUSTOS_PDP_WRITE, &d)
                  : custos_pdp_check(p, q[k], svc[n & 3], "azure:westeurope",
                                     CUSTOS_PDP_WRITE, &d);
          if (rc != CUSTOS_OK)
            return 1;
          denies += !d.allow;
        }
      }
      rates[run] = (double)n / (now_s() - start);
      cpu_rates[run] = (double)n / (cpu_s() - cpu0);
    }
    qsort(rates, 5, sizeof rates[0], cmp_d);
    qsort(cpu_rates, 5, sizeof cpu_rates[0], cmp_d);
    printf("%s: %zu blocks (table built in %.0f ms), 50/50 hit/miss, 1 "
           "thread: median %.1f M checks/s (min %.1f, max %.1f), per CPU second "
           "%.1f M, %ld denies\n",
           how[ids], nblocks, build * 1000, rates[2] / 1e6,
           rates[0] / 1e6, rates[4] / 1e6, cpu_rates[2] / 1e6, denies);
  }
  free(keys);
  free(qs);
  free(ds);
  custos_pdp_close(p);
  free(hit);
  free(q);
  return 0;
}

/* ---- propagation ------------------------------------------------------ */

static int connect_kv(const char *url, natsConnection **nc, jsCtx **js,
                      kvStore **kv) {
  if (natsConnection_ConnectTo(nc, url) != NATS_OK ||
      natsConnection_JetStream(js, *nc, NULL) != NATS_OK)
    return -1;
  /* The buckets as the publisher makes them (custos publish). */
  if (cu_pdp_bind_bucket(*js, CU_PDP_DEFAULT_BUCKET, true, kv, NULL) !=
      CUSTOS_OK)
    return -1;
  kvStore *pts = NULL;
  if (cu_pdp_bind_bucket(*js, CU_PDP_DEFAULT_BUCKET "-points", false, &pts,
                         NULL) == CUSTOS_OK)
    kvStore_Destroy(pts);
  return 0;
}

static int put_block(kvStore *kv, int64_t rev) {
  char sub[37], key[512];
  guid(sub);
  cu_pdp_block b = block(sub, rev);
  b.effective = 1;
  if (cu_pdp_kv_key(&b, key, sizeof key) != CUSTOS_OK)
    return -1;
  char *v = cu_pdp_kv_value(&b);
  uint64_t r = 0;
  natsStatus s = kvStore_PutString(&r, kv, key, v);
  free(v);
  return s == NATS_OK ? 0 : -1;
}

typedef struct hb_arg {
  kvStore *kv;
  _Atomic int rev, stop;
} hb_arg;

/* The heartbeat interval, as `custos publish --heartbeat` (default
 * CU_PDP_HEARTBEAT_MS); BENCH_HB_MS sets another. */
static useconds_t hb_us(void) {
  const char *e = getenv("BENCH_HB_MS");
  int ms = e ? atoi(e) : 0;
  return (useconds_t)(ms > 0 ? ms : CU_PDP_HEARTBEAT_MS) * 1000;
}

static void *hb_main(void *arg) {
  hb_arg *a = arg;
  while (!atomic_load(&a->stop)) {
    char hb[64];
    uint64_t r = 0;
    snprintf(hb, sizeof hb, "{\"revision\":%d,\"time_ms\":%lld}",
             atomic_load(&a->rev), (long long)(now_s() * 1000));
    kvStore_PutString(&r, a->kv, "hb", hb);
    usleep(hb_us());
  }
  return NULL;
}

/* A child: n points; for each revision, the time its last point applied
 * it, written to fd as doubles. */
static int prop_child(const char *url, int n, int nblocks, int fd, int ready) {
  custos_pdp **ps = calloc((size_t)n, sizeof *ps);
  for (int i = 0; i < n; i++) {
    custos_pdp_config c;
    custos_pdp_config_init(&c);
    c.nats_url = url;
    char id[64];
    snprintf(id, sizeof id, "bench-%d-%d", (int)getpid(), i);
    c.point_id = id;
    c.tick_ms = 100;
    if (custos_pdp_open(&c, &ps[i], NULL) != CUSTOS_OK)
      return 1;
  }
  /* Ready when every point has seen the bucket (revision 0 heartbeat). */
  for (int i = 0; i < n; i++) {
    custos_pdp_status st;
    do {
      usleep(2000);
      custos_pdp_status_get(ps[i], &st);
    } while (st.state != CUSTOS_PDP_LIVE);
  }
  if (write(ready, "r", 1) != 1)
    return 1;
  /* Waits on each point's own signal (custos_pdp_check_at) rather than
   * polling: 250 points polled every 200 us cost their process thousands
   * of wake-ups a second, which the points' own work then waited for. */
  static const char *const nobody = "00000000-0000-4000-8000-000000000000";
  for (int rev = 1; rev <= nblocks; rev++) {
    for (int i = 0; i < n; i++) {
      custos_pdp_decision d;
      if (cu_pdp_applied(ps[i]) >= (uint64_t)rev)
        continue;
      if (custos_pdp_check_at(ps[i], nobody, "storage", "*", CUSTOS_PDP_READ,
                              (uint64_t)rev, 10000, &d) != CUSTOS_OK)
        return 1;
      if (cu_pdp_applied(ps[i]) < (uint64_t)rev) {
        custos_pdp_status st;
        custos_pdp_status_get(ps[i], &st);
        fprintf(stderr,
                "prop: point %d of process %d still at revision %llu of "
                "%d after 10 s (state %s, lag %lld ms, full loads %llu)\n",
                i, (int)getpid(), (unsigned long long)st.revision, rev,
                custos_pdp_state_name(st.state), (long long)st.lag_ms,
                (unsigned long long)st.full_loads);
        i--; /* wait on */
      }
    }
    double t = now_s();
    if (write(fd, &t, sizeof t) != sizeof t)
      return 1;
  }
  for (int i = 0; i < n; i++)
    custos_pdp_close(ps[i]);
  free(ps);
  return 0;
}

static int bench_prop(const char *url, int watchers, int procs, int nblocks) {
  /* Fork before this process touches NATS: the client's threads do not
   * survive a fork. */
  int pipes[64][2], ready[2];
  if (procs > 64 || pipe(ready) != 0)
    return 1;
  pid_t pids[64];
  for (int k = 0; k < procs; k++) {
    if (pipe(pipes[k]) != 0)
      return 1;
    pids[k] = fork();
    if (pids[k] == 0) {
      int n = watchers / procs + (k < watchers % procs);
      _exit(prop_child(url, n, nblocks, pipes[k][1], ready[1]));
    }
  }
  natsConnection *nc = NULL;
  jsCtx *js = NULL;
  kvStore *kv = NULL;
  if (connect_kv(url, &nc, &js, &kv) != 0)
    return 1;
  /* Heartbeats every 500 ms with the latest revision, as the publisher
   * does, from the start to the end. */
  hb_arg hb = {kv, 0, 0};
  pthread_t hbt;
  if (pthread_create(&hbt, NULL, hb_main, &hb) != 0)
    return 1;
  char c;
  for (int k = 0; k < procs; k++)
    if (read(ready[0], &c, 1) != 1)
      return 1;
  double *lat = calloc((size_t)nblocks, sizeof *lat);
  for (int rev = 1; rev <= nblocks; rev++) {
    double t0 = now_s();
    if (put_block(kv, rev) != 0)
      return 1;
    double last = 0;
    for (int k = 0; k < procs; k++) {
      double t;
      if (read(pipes[k][0], &t, sizeof t) != sizeof t)
        return 1;
      if (t > last)
        last = t;
    }
    lat[rev - 1] = (last - t0) * 1000;
    atomic_store(&hb.rev, rev);
    usleep(20000);
  }
  atomic_store(&hb.stop, 1);
  pthread_join(hbt, NULL);
  for (int k = 0; k < procs; k++)
    waitpid(pids[k], NULL, 0);
  qsort(lat, (size_t)nblocks, sizeof *lat, cmp_d);
  printf("propagation: %d watchers in %d processes, %d blocks: time until "
         "the last watcher applied a block p50 %.1f ms, p99 %.1f ms, max "
         "%.1f ms\n",
         watchers, procs, nblocks, lat[nblocks / 2],
         lat[(nblocks * 99) / 100 < nblocks ? (nblocks * 99) / 100
                                            : nblocks - 1],
         lat[nblocks - 1]);
  free(lat);
  kvStore_Destroy(kv);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  return 0;
}

/* ---- resume ----------------------------------------------------------- */

static double open_until_current(const char *url, const char *snap,
                                 uint64_t want, custos_pdp_status *st) {
  custos_pdp_config c;
  custos_pdp_config_init(&c);
  c.nats_url = url;
  c.snapshot = snap;
  c.point_id = "bench-resume";
  c.tick_ms = 5;
  custos_pdp *p = NULL;
  double t0 = now_s();
  if (custos_pdp_open(&c, &p, NULL) != CUSTOS_OK)
    return -1;
  do {
    usleep(500);
    custos_pdp_status_get(p, st);
  } while (st->revision < want || st->state != CUSTOS_PDP_LIVE);
  double t = now_s() - t0;
  custos_pdp_close(p); /* writes the snapshot */
  return t;
}

static int bench_resume(const char *url, int nblocks, const char *dir) {
  natsConnection *nc = NULL;
  jsCtx *js = NULL;
  kvStore *kv = NULL;
  if (connect_kv(url, &nc, &js, &kv) != 0)
    return 1;
  double t0 = now_s();
  for (int i = 1; i <= nblocks; i++)
    if (put_block(kv, i) != 0)
      return 1;
  char hb[64];
  snprintf(hb, sizeof hb, "{\"revision\":%d,\"time_ms\":1}", nblocks);
  uint64_t r = 0;
  kvStore_PutString(&r, kv, "hb", hb);
  printf("resume: %d blocks put to the bucket in %.1f s\n", nblocks,
         now_s() - t0);
  char snap[512];
  snprintf(snap, sizeof snap, "%s/bench-resume.snap", dir);
  unlink(snap);
  custos_pdp_status st;
  double full = open_until_current(url, snap, (uint64_t)nblocks, &st);
  printf("resume: full load of %llu blocks from the bucket: %.0f ms "
         "(full_loads %llu)\n",
         (unsigned long long)st.blocks, full * 1000,
         (unsigned long long)st.full_loads);
  /* One more block while the point is down. */
  put_block(kv, nblocks + 1);
  snprintf(hb, sizeof hb, "{\"revision\":%d,\"time_ms\":1}", nblocks + 1);
  kvStore_PutString(&r, kv, "hb", hb);
  double times[3];
  for (int i = 0; i < 3; i++) {
    times[i] = open_until_current(url, snap, (uint64_t)nblocks + 1, &st);
    if (st.full_loads != 0)
      printf("resume: unexpected full load\n");
  }
  qsort(times, 3, sizeof times[0], cmp_d);
  printf("resume: restart from snapshot (%llu blocks, resumed from revision "
         "%llu, full_loads %llu) until current: median %.0f ms\n",
         (unsigned long long)st.blocks, (unsigned long long)st.resumed_from,
         (unsigned long long)st.full_loads, times[1] * 1000);
  kvStore_Destroy(kv);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "check") == 0)
    return bench_check(argc > 2 ? (size_t)atol(argv[2]) : 1000000,
                       argc > 3 ? atof(argv[3]) : 5);
  if (argc == 6 && strcmp(argv[1], "prop") == 0)
    return bench_prop(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
  if (argc == 5 && strcmp(argv[1], "resume") == 0)
    return bench_resume(argv[2], atoi(argv[3]), argv[4]);
  fprintf(stderr, "usage: bench_pdp check [BLOCKS] [SECONDS] | prop URL "
                  "WATCHERS PROCS N | resume URL BLOCKS DIR\n");
  return 2;
}
