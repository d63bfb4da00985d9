/* Unit tests of the NATS feed's live path against a real nats-server
 * (skipped when none is installed): a point is carried by its core
 * subscription once current (no JetStream consumer left on the server),
 * and a change stored while its live subscription could not hear it is
 * fetched when the next one shows the gap; a bucket made anew is loaded
 * whole. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "pdp/pdp.h"
#include "pdp/table.h"

#define BUCKET "unit-live"
#define SUB1 "3f2b6c1e-8a4d-4c2e-9b7a-1d2e3f4a5b6c"
#define SUB2 "0a1b2c3d-4e5f-4a6b-8c9d-0e1f2a3b4c5d"
#define SUB3 "7f6e5d4c-3b2a-4190-8f7e-6d5c4b3a2918"

typedef struct world {
  char dir[64];
  char url[64];
  pid_t server;
  natsConnection *nc;
  jsCtx *js;
  kvStore *kv;
  custos_pdp *p;
} world;

static int free_port(void) {
  FILE *f = popen("python3 -c 'import socket; s=socket.socket(); "
                  "s.bind((\"127.0.0.1\", 0)); print(s.getsockname()[1])'",
                  "r");
  int port = 0;
  if (!f)
    return 0;
  if (fscanf(f, "%d", &port) != 1)
    port = 0;
  pclose(f);
  return port;
}

/* Starts nats-server on port with the store in w->dir/js. */
static pid_t start_server(world *w, int port) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    char portarg[16], sd[96];
    snprintf(portarg, sizeof portarg, "%d", port);
    snprintf(sd, sizeof sd, "%s/js", w->dir);
    if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
      _exit(127);
    execlp("nats-server", "nats-server", "-js", "-a", "127.0.0.1", "-p",
           portarg, "-sd", sd, (char *)NULL);
    _exit(127);
  }
  return pid;
}

static void stop_server(world *w) {
  kill(w->server, SIGTERM);
  waitpid(w->server, NULL, 0);
}

/* The test's own connection to url and the bucket. */
static void connect_test(world *w, const char *url) {
  w->nc = NULL;
  for (int i = 0; i < 200 && !w->nc; i++) {
    if (natsConnection_ConnectTo(&w->nc, url) != NATS_OK) {
      w->nc = NULL;
      usleep(50000);
    }
  }
  assert_non_null(w->nc);
  assert_int_equal(natsConnection_JetStream(&w->js, w->nc, NULL), NATS_OK);
  assert_int_equal(cu_pdp_bind_bucket(w->js, BUCKET, true, &w->kv, NULL),
                   CUSTOS_OK);
}

static void disconnect_test(world *w) {
  kvStore_Destroy(w->kv);
  jsCtx_Destroy(w->js);
  natsConnection_Destroy(w->nc);
  w->kv = NULL;
  w->js = NULL;
  w->nc = NULL;
}

static int setup(void **state) {
  if (system("command -v nats-server >/dev/null 2>&1") != 0)
    return 0; /* the tests skip */
  world *w = calloc(1, sizeof *w);
  assert_non_null(w);
  snprintf(w->dir, sizeof w->dir, "/tmp/custos-live-XXXXXX");
  assert_non_null(mkdtemp(w->dir));
  int port = free_port();
  assert_true(port > 0);
  snprintf(w->url, sizeof w->url, "nats://127.0.0.1:%d", port);
  w->server = start_server(w, port);
  connect_test(w, w->url);
  custos_pdp_config c;
  custos_pdp_config_init(&c);
  c.nats_url = w->url;
  c.bucket = BUCKET;
  /* An id whose hash puts the first routine verification of the stream
   * about 10 s after open, past the end of each test, so that only what
   * a test shows can make the point verify. */
  c.point_id = "unit-live-146";
  c.tick_ms = 10;
  c.max_lag_ms = 60000; /* no heartbeats needed to stay subscribed */
  assert_int_equal(custos_pdp_open(&c, &w->p, NULL), CUSTOS_OK);
  *state = w;
  return 0;
}

static int teardown(void **state) {
  world *w = *state;
  if (!w)
    return 0;
  custos_pdp_close(w->p);
  disconnect_test(w);
  stop_server(w);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", w->dir);
  assert_int_equal(system(cmd), 0);
  free(w);
  return 0;
}

static void put(world *w, const char *sub, int64_t rev) {
  cu_pdp_block b;
  memset(&b, 0, sizeof b);
  snprintf(b.subscription, sizeof b.subscription, "%s", sub);
  snprintf(b.service, sizeof b.service, "storage");
  snprintf(b.region, sizeof b.region, "*");
  snprintf(b.owner, sizeof b.owner, "aup");
  snprintf(b.case_id, sizeof b.case_id, "CASE-%lld", (long long)rev);
  b.effect = CUSTOS_PDP_DENY_ALL;
  b.revision = rev;
  b.effective = 1;
  char key[512];
  assert_int_equal(cu_pdp_kv_key(&b, key, sizeof key), CUSTOS_OK);
  char *v = cu_pdp_kv_value(&b);
  assert_non_null(v);
  uint64_t seq = 0;
  assert_int_equal(kvStore_PutString(&seq, w->kv, key, v), NATS_OK);
  free(v);
}

/* Waits up to 10 s for the point to apply rev. */
static int applied(world *w, uint64_t rev) {
  for (int i = 0; i < 1000; i++) {
    if (cu_pdp_applied(w->p) >= rev)
      return 1;
    usleep(10000);
  }
  return 0;
}

static int denied(world *w, const char *sub) {
  custos_pdp_decision d;
  assert_int_equal(custos_pdp_check(w->p, sub, "storage", "*",
                                    CUSTOS_PDP_READ, &d),
                   CUSTOS_OK);
  return !d.allow;
}

/* Consumers on the bucket's stream, waiting up to 10 s for want. */
static int consumers(world *w, int want) {
  int n = -1;
  for (int i = 0; i < 200; i++) {
    jsStreamInfo *si = NULL;
    if (js_GetStreamInfo(&si, w->js, "KV_" BUCKET, NULL, NULL) == NATS_OK) {
      n = (int)si->State.Consumers;
      jsStreamInfo_Destroy(si);
    }
    if (n == want)
      break;
    usleep(50000);
  }
  return n;
}

static void test_live(void **state) {
  world *w = *state;
  if (!w)
    skip();
  put(w, SUB1, 1);
  assert_true(applied(w, 1));
  assert_true(denied(w, SUB1));
  /* Current: the live subscription carries the point alone. */
  assert_int_equal(consumers(w, 0), 0);
  put(w, SUB2, 2);
  assert_true(applied(w, 2));
  assert_true(denied(w, SUB2));
  assert_int_equal(consumers(w, 0), 0);
}

static void test_gap(void **state) {
  world *w = *state;
  if (!w)
    skip();
  put(w, SUB1, 1);
  assert_true(applied(w, 1));
  assert_int_equal(consumers(w, 0), 0);
  /* A change stored while the point cannot hear it: the same store
   * served on another port, then back on the point's. */
  disconnect_test(w);
  stop_server(w);
  int port2 = free_port();
  char url2[64];
  snprintf(url2, sizeof url2, "nats://127.0.0.1:%d", port2);
  w->server = start_server(w, port2);
  connect_test(w, url2);
  put(w, SUB2, 2);
  disconnect_test(w);
  stop_server(w);
  w->server = start_server(w, atoi(strrchr(w->url, ':') + 1));
  connect_test(w, w->url);
  usleep(500000); /* the point reconnects and subscribes again */
  assert_false(denied(w, SUB2));
  /* The next change shows the gap; the point fetches what it missed. */
  put(w, SUB3, 3);
  assert_true(applied(w, 3));
  assert_true(denied(w, SUB2));
  assert_true(denied(w, SUB3));
  assert_int_equal(consumers(w, 0), 0);
}

/* Waits up to 5 s (less than the 10 s between routine verifications) for
 * sub to be denied. */
static int denied_soon(world *w, const char *sub) {
  for (int i = 0; i < 500; i++) {
    if (denied(w, sub))
      return 1;
    usleep(10000);
  }
  return 0;
}

static void test_recreated(void **state) {
  world *w = *state;
  if (!w)
    skip();
  put(w, SUB1, 1);
  put(w, SUB2, 2);
  assert_true(applied(w, 2));
  assert_int_equal(consumers(w, 0), 0);
  /* The bucket made anew: its sequence starts again, below the point's
   * position, so the first live change makes the point verify the stream
   * and load it whole. */
  assert_int_equal(js_DeleteKeyValue(w->js, BUCKET), NATS_OK);
  kvStore_Destroy(w->kv);
  assert_int_equal(cu_pdp_bind_bucket(w->js, BUCKET, true, &w->kv, NULL),
                   CUSTOS_OK);
  put(w, SUB3, 3);
  assert_true(denied_soon(w, SUB3));
  assert_false(denied(w, SUB1));
  custos_pdp_status st;
  custos_pdp_status_get(w->p, &st);
  assert_int_equal(st.full_loads, 2);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_live, setup, teardown),
      cmocka_unit_test_setup_teardown(test_gap, setup, teardown),
      cmocka_unit_test_setup_teardown(test_recreated, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
