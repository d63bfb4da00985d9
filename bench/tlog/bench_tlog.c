/*
 * bench_tlog: appends per second in memory, durable appends per second with
 * group commit into tlog-tiles, inclusion and consistency proofs at 10
 * million entries, checkpoint signing and verification.  Prints one line per
 * figure; never asserted by tests.  Usage: bench_tlog [DIR] [LEAVES]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tlog/tlog.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A deterministic pseudo-random generator (splitmix64). */
static uint64_t rng = 42;
static uint64_t next_rand(void) {
  uint64_t z = (rng += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

/* A custos entry of a typical size (about 330 bytes). */
static size_t make_entry(uint64_t i, cu_buf *b) {
  cu_log_entry e;
  memset(&e, 0, sizeof e);
  e.index = i;
  e.time = 1754481600 + (int64_t)(i / 1000);
  snprintf(e.type, sizeof e.type, "usage.query");
  snprintf(e.actor, sizeof e.actor, "analyst@provider.example");
  snprintf(e.case_id, sizeof e.case_id, "C-2025-0007");
  char payload[128];
  int n = snprintf(payload, sizeof payload,
                   "{\"query\":\"storage by region\",\"result_sha256\":"
                   "\"%016" PRIx64 "\",\"rows\":%" PRIu64 "}",
                   next_rand(), i % 977);
  cu_buf_reset(b);
  if (cu_log_entry_encode(&e, payload, (size_t)n, b, NULL) != CUSTOS_OK)
    exit(1);
  return b->len;
}

static void die(const char *what, const custos_diag *d) {
  char line[2048];
  fprintf(stderr, "bench_tlog: %s: %s\n", what,
          d ? custos_diag_format(d, line, sizeof line) : "");
  exit(1);
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "bench-tlog-dir";
  uint64_t leaves = argc > 2 ? strtoull(argv[2], NULL, 10) : 10000000;
  cu_buf b;
  cu_buf_init(&b, CU_LOG_ENTRY_MAX);
  custos_diag d;

  /* 1. In memory: leaf hash of an entry + tree append, one core. */
  enum { NE = 4096 };
  static uint8_t entries[NE][400];
  static size_t elen[NE];
  for (int i = 0; i < NE; i++) {
    elen[i] = make_entry((uint64_t)i, &b);
    memcpy(entries[i], b.data, elen[i]);
  }
  cu_log_tree *t;
  if (cu_log_tree_new(&t) != CUSTOS_OK)
    die("tree", NULL);
  double t0 = now();
  for (uint64_t i = 0; i < leaves; i++) {
    uint8_t leaf[32];
    cu_log_leaf_hash(entries[i % NE], elen[i % NE], leaf);
    if (cu_log_tree_append(t, leaf) != CUSTOS_OK)
      die("append", NULL);
  }
  double dt = now() - t0;
  printf("memory append (leaf hash of a %zu-byte entry + tree): %.0f "
         "appends/s (%" PRIu64 " in %.2f s)\n",
         elen[0], (double)leaves / dt, leaves, dt);
  cu_log_crange cr;
  cu_log_crange_init(&cr);
  uint8_t leaf[32] = {1};
  t0 = now();
  for (uint64_t i = 0; i < leaves; i++)
    cu_log_crange_append(&cr, leaf);
  dt = now() - t0;
  printf("memory append of a leaf hash (compact range, no storage): %.0f "
         "appends/s\n",
         (double)leaves / dt);

  /* 2. Proofs at the full size. */
  uint8_t root[32];
  cu_log_tree_root(t, leaves, root);
  enum { NP = 200000 };
  cu_log_hash proof[CU_LOG_MAX_PROOF];
  size_t np = 0;
  double gen = 0, ver = 0;
  for (int i = 0; i < NP; i++) {
    uint64_t idx = next_rand() % leaves;
    uint8_t lh[32];
    if (cu_log_tree_node(t, 0, idx, lh, NULL) != CUSTOS_OK)
      die("node", NULL);
    t0 = now();
    if (cu_log_prove_inclusion(cu_log_tree_node, t, idx, leaves, proof,
                               CU_LOG_MAX_PROOF, &np, NULL) != CUSTOS_OK)
      die("prove", NULL);
    double t1 = now();
    if (cu_log_verify_inclusion(idx, leaves, lh, 32, proof, np, root, 32,
                                NULL) != CUSTOS_OK)
      die("verify", NULL);
    gen += t1 - t0;
    ver += now() - t1;
  }
  printf("inclusion proof at %" PRIu64 " entries (%zu hashes): generate %.2f "
         "us, verify %.2f us\n",
         leaves, np, gen / NP * 1e6, ver / NP * 1e6);
  gen = ver = 0;
  for (int i = 0; i < NP / 10; i++) {
    uint64_t m = 1 + next_rand() % leaves;
    uint8_t r1[32];
    cu_log_tree_root(t, m, r1);
    t0 = now();
    if (cu_log_prove_consistency(cu_log_tree_node, t, m, leaves, proof,
                                 CU_LOG_MAX_PROOF, &np, NULL) != CUSTOS_OK)
      die("consistency", NULL);
    double t1 = now();
    if (cu_log_verify_consistency(m, leaves, proof, np, r1, 32, root, 32,
                                  NULL) != CUSTOS_OK)
      die("verify consistency", NULL);
    gen += t1 - t0;
    ver += now() - t1;
  }
  printf("consistency proof at %" PRIu64 " entries: generate %.2f us, verify "
         "%.2f us\n",
         leaves, gen / (NP / 10) * 1e6, ver / (NP / 10) * 1e6);
  cu_log_tree_free(t);

  /* 3. Checkpoint signing and verification. */
  cu_log_skey key;
  if (cu_log_skey_generate("bench.custos.invalid/log", CU_LOG_SIG_ED25519,
                           &key, NULL) != CUSTOS_OK)
    die("key", NULL);
  cu_log_checkpoint cp;
  memset(&cp, 0, sizeof cp);
  snprintf(cp.origin, sizeof cp.origin, "%s", key.pub.name);
  cp.size = leaves;
  memcpy(cp.root, root, 32);
  cu_buf text, note;
  cu_buf_init(&text, 4096);
  cu_buf_init(&note, 8192);
  if (cu_log_checkpoint_text(&cp, &text) != CUSTOS_OK)
    die("text", NULL);
  enum { NS = 20000 };
  t0 = now();
  for (int i = 0; i < NS; i++) {
    cu_buf_reset(&note);
    if (cu_log_note_sign(text.data, text.len, &key, 0, &note, NULL) !=
        CUSTOS_OK)
      die("sign", NULL);
  }
  double sign = (now() - t0) / NS;
  t0 = now();
  for (int i = 0; i < NS; i++) {
    cu_log_checkpoint out;
    if (cu_log_checkpoint_open(note.data, note.len, &key.pub, NULL, 0, &out,
                               NULL) != CUSTOS_OK)
      die("open", NULL);
  }
  double open = (now() - t0) / NS;
  printf("checkpoint: sign %.1f us, parse+verify %.1f us\n", sign * 1e6,
         open * 1e6);

  /* 4. Durable appends with group commit into tlog-tiles. */
  char cmd[4200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0)
    die("rm", NULL);
  custos_diag_clear(&d);
  if (cu_log_dir_init(dir, &key, &d) != CUSTOS_OK)
    die("init", &d);
  static const uint64_t batches[] = {100, 1000, 10000, 50000};
  uint64_t next = 0;
  for (size_t bi = 0; bi < sizeof batches / sizeof batches[0]; bi++) {
    uint64_t batch = batches[bi];
    uint64_t total = batch < 1000 ? 20000 : batch < 10000 ? 100000 : 500000;
    t0 = now();
    uint64_t commits = 0;
    for (uint64_t done = 0; done < total; done += batch) {
      cu_log_dir *ld;
      custos_diag_clear(&d);
      if (cu_log_dir_open(dir, &key.pub, &ld, &d) != CUSTOS_OK)
        die("open", &d);
      for (uint64_t i = 0; i < batch; i++) {
        size_t n = make_entry(next++, &b);
        if (cu_log_dir_append(ld, b.data, n, &d) != CUSTOS_OK)
          die("append", &d);
      }
      if (cu_log_dir_commit(ld, &key, &d) != CUSTOS_OK)
        die("commit", &d);
      cu_log_dir_close(ld);
      commits++;
    }
    dt = now() - t0;
    printf("durable append, group commit of %" PRIu64 ": %.0f entries/s, "
           "%.1f checkpoints/s (%" PRIu64 " entries)\n",
           batch, (double)total / dt, (double)commits / dt, total);
  }
  cu_log_verify_report rep;
  t0 = now();
  custos_diag_clear(&d);
  if (cu_log_dir_verify(dir, &key.pub, NULL, 0, &rep, &d) != CUSTOS_OK)
    die("verify", &d);
  dt = now() - t0;
  printf("folder verification: %.0f entries/s (%" PRIu64 " entries)\n",
         (double)rep.cp.size / dt, rep.cp.size);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0)
    die("rm", NULL);
  cu_log_skey_wipe(&key);
  cu_buf_free(&b);
  cu_buf_free(&text);
  cu_buf_free(&note);
  return 0;
}
