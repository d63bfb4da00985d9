/*
 * The log folder: tile paths, entries, group commit into tlog-tiles checked
 * against the in-memory tree, proofs from tiles, proof bundles, folder
 * verification, and I/O failure injected at every write, fsync and rename
 * step of a commit (the folder stays valid at its last checkpoint).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tlog/tlog.h"

static char tmpdir[256];
static cu_log_skey key;

static int setup(void **state) {
  (void)state;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/custos-tlog-XXXXXX");
  if (!mkdtemp(tmpdir))
    return -1;
  return cu_log_skey_generate("custos.test/log", CU_LOG_SIG_ED25519, &key,
                              NULL) == CUSTOS_OK
             ? 0
             : -1;
}

static int teardown(void **state) {
  (void)state;
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  cu_log_skey_wipe(&key);
  return system(cmd) == 0 ? 0 : -1;
}

static void fresh(const char *name, char *dir, size_t n) {
  snprintf(dir, n, "%s/%s", tmpdir, name);
  assert_int_equal(cu_log_dir_init(dir, &key, NULL), CUSTOS_OK);
}

static size_t make_entry(uint64_t i, char *buf, size_t n) {
  /* Entries of varying length, some of them empty. */
  int k = snprintf(buf, n, "entry %llu %.*s", (unsigned long long)i,
                   (int)(i % 97), "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
  return i % 50 == 7 ? 0 : (size_t)k;
}

static void test_tile_paths(void **state) {
  (void)state;
  char p[128];
  assert_int_equal(cu_log_tile_path(p, sizeof p, 0, 1234067, 0), CUSTOS_OK);
  assert_string_equal(p, "tile/0/x001/x234/067");
  assert_int_equal(cu_log_tile_path(p, sizeof p, 1, 5, 17), CUSTOS_OK);
  assert_string_equal(p, "tile/1/005.p/17");
  assert_int_equal(cu_log_tile_path(p, sizeof p, -1, 1000, 256), CUSTOS_OK);
  assert_string_equal(p, "tile/entries/x001/000");
  int l;
  uint64_t k;
  unsigned w;
  assert_int_equal(cu_log_tile_path_parse("tile/entries/x001/x234/067.p/9", &l,
                                          &k, &w),
                   CUSTOS_OK);
  assert_int_equal(l, -1);
  assert_int_equal(k, 1234067);
  assert_int_equal(w, 9);
  static const char *const bad[] = {"tile/0/1", "tile/0/x001", "tile/00/001",
                                    "tile/0/x000/001", "tile/0/001.p/0",
                                    "tile/0/001.p/256", "tile/0/001.p/09",
                                    "tile/64/001", "tile/0/001x"};
  for (size_t i = 0; i < CU_ARRAY_LEN(bad); i++)
    assert_int_not_equal(cu_log_tile_path_parse(bad[i], &l, &k, &w),
                         CUSTOS_OK);
}

static void test_entries(void **state) {
  (void)state;
  cu_log_entry e;
  memset(&e, 0, sizeof e);
  e.index = 42;
  e.time = 1754481600;
  snprintf(e.type, sizeof e.type, "source.register");
  snprintf(e.actor, sizeof e.actor, "ana%%\nmaria");
  snprintf(e.case_id, sizeof e.case_id, "C-1");
  cu_buf b;
  cu_buf_init(&b, CU_LOG_ENTRY_MAX);
  assert_int_equal(cu_log_entry_encode(&e, "{\"a\":1}", 7, &b, NULL), CUSTOS_OK);
  assert_non_null(strstr(b.data, "actor ana%25%0Amaria\n"));
  cu_log_entry out;
  assert_int_equal(cu_log_entry_decode((uint8_t *)b.data, b.len, &out, NULL),
                   CUSTOS_OK);
  assert_string_equal(out.actor, "ana%\nmaria");
  assert_int_equal(out.index, 42);
  assert_int_equal(out.payload_size, 7);
  assert_memory_equal(out.payload, "{\"a\":1}", 7);
  /* Non-canonical encodings of the same entry are refused. */
  char *alt = strdup(b.data);
  char *a = strstr(alt, "ana%25");
  a[5] = '5';
  a[4] = '2'; /* unchanged: sanity */
  assert_int_equal(cu_log_entry_decode((uint8_t *)alt, b.len, &out, NULL),
                   CUSTOS_OK);
  a[1] = '%';
  assert_int_not_equal(cu_log_entry_decode((uint8_t *)alt, b.len, &out, NULL),
                       CUSTOS_OK);
  free(alt);
  /* A large payload is kept by digest only. */
  static char big[CU_LOG_INLINE_MAX + 1];
  memset(big, 'z', sizeof big);
  cu_buf_reset(&b);
  e.case_id[0] = '\0';
  assert_int_equal(cu_log_entry_encode(&e, big, sizeof big, &b, NULL),
                   CUSTOS_OK);
  assert_true(b.len < 1024);
  assert_int_equal(cu_log_entry_decode((uint8_t *)b.data, b.len, &out, NULL),
                   CUSTOS_OK);
  assert_null(out.payload);
  assert_int_equal(out.payload_size, sizeof big);
  assert_string_equal(out.case_id, "");
  cu_buf_free(&b);
}

static void test_commit_verify(void **state) {
  (void)state;
  char dir[512];
  fresh("main", dir, sizeof dir);
  cu_log_tree *t;
  assert_int_equal(cu_log_tree_new(&t), CUSTOS_OK);
  static const unsigned batches[] = {1, 1, 254, 1, 255, 256, 300, 70000, 3};
  uint64_t next = 0;
  char buf[256];
  for (size_t bi = 0; bi < CU_ARRAY_LEN(batches); bi++) {
    cu_log_dir *ld;
    assert_int_equal(cu_log_dir_open(dir, &key.pub, &ld, NULL), CUSTOS_OK);
    for (unsigned i = 0; i < batches[bi]; i++, next++) {
      size_t n = make_entry(next, buf, sizeof buf);
      uint8_t leaf[32];
      cu_log_leaf_hash(buf, n, leaf);
      assert_int_equal(cu_log_tree_append(t, leaf), CUSTOS_OK);
      assert_int_equal(cu_log_dir_append(ld, buf, n, NULL), CUSTOS_OK);
    }
    custos_diag d;
    custos_diag_clear(&d);
    assert_int_equal(cu_log_dir_commit(ld, &key, &d), CUSTOS_OK);
    uint8_t root[32];
    cu_log_tree_root(t, next, root);
    assert_int_equal(cu_log_dir_checkpoint(ld)->size, next);
    assert_memory_equal(cu_log_dir_checkpoint(ld)->root, root, 32);
    cu_log_dir_close(ld);
    cu_log_verify_report rep;
    custos_diag_clear(&d);
    custos_rc rc = cu_log_dir_verify(dir, &key.pub, NULL, 0, &rep, &d);
    if (rc != CUSTOS_OK) {
      char line[2048];
      fail_msg("verify: %s", custos_diag_format(&d, line, sizeof line));
    }
    assert_int_equal(rep.opaque_entries, next);
  }
  /* Entries and proofs read back from the tiles. */
  cu_log_dir *ld;
  assert_int_equal(cu_log_dir_open(dir, &key.pub, &ld, NULL), CUSTOS_OK);
  cu_buf e;
  cu_buf_init(&e, CU_LOG_ENTRY_MAX);
  static const uint64_t probe[] = {0, 1, 255, 256, 257, 65535, 65536, 70000,
                                   71070};
  for (size_t i = 0; i < CU_ARRAY_LEN(probe); i++) {
    uint64_t idx = probe[i];
    if (idx >= next)
      continue;
    assert_int_equal(cu_log_dir_entry(ld, idx, &e, NULL), CUSTOS_OK);
    size_t n = make_entry(idx, buf, sizeof buf);
    assert_int_equal(e.len, n);
    assert_memory_equal(e.data, buf, n);
    cu_log_hash p1[CU_LOG_MAX_PROOF], p2[CU_LOG_MAX_PROOF];
    size_t n1, n2;
    for (uint64_t size = idx + 1; size <= next; size += 12345) {
      assert_int_equal(cu_log_prove_inclusion(cu_log_dir_node, ld, idx, size,
                                              p1, CU_LOG_MAX_PROOF, &n1, NULL),
                       CUSTOS_OK);
      assert_int_equal(cu_log_prove_inclusion(cu_log_tree_node, t, idx, size,
                                              p2, CU_LOG_MAX_PROOF, &n2, NULL),
                       CUSTOS_OK);
      assert_int_equal(n1, n2);
      assert_memory_equal(p1, p2, n1 * sizeof *p1);
      assert_int_equal(cu_log_prove_consistency(cu_log_dir_node, ld, idx + 1,
                                                size, p1, CU_LOG_MAX_PROOF,
                                                &n1, NULL),
                       CUSTOS_OK);
      assert_int_equal(cu_log_prove_consistency(cu_log_tree_node, t, idx + 1,
                                                size, p2, CU_LOG_MAX_PROOF,
                                                &n2, NULL),
                       CUSTOS_OK);
      assert_int_equal(n1, n2);
      assert_memory_equal(p1, p2, n1 * sizeof *p1);
    }
  }
  /* A proof bundle verifies offline and fails when altered. */
  cu_log_hash proof[CU_LOG_MAX_PROOF];
  size_t np;
  assert_int_equal(cu_log_dir_entry(ld, 300, &e, NULL), CUSTOS_OK);
  assert_int_equal(cu_log_prove_inclusion(cu_log_dir_node, ld, 300, next,
                                          proof, CU_LOG_MAX_PROOF, &np, NULL),
                   CUSTOS_OK);
  cu_buf pb, back;
  cu_buf_init(&pb, 1 << 20);
  cu_buf_init(&back, CU_LOG_ENTRY_MAX);
  const char *note = cu_log_dir_checkpoint_note(ld);
  assert_int_equal(cu_log_proof_format((uint8_t *)e.data, e.len, 300, proof,
                                       np, note, strlen(note), &pb),
                   CUSTOS_OK);
  uint64_t idx;
  cu_log_checkpoint cp;
  assert_int_equal(cu_log_proof_verify(pb.data, pb.len, &key.pub, &idx, &cp,
                                       &back, NULL),
                   CUSTOS_OK);
  assert_int_equal(idx, 300);
  char *alt = strdup(pb.data);
  strstr(alt, "index 300")[8] = '1';
  assert_int_equal(cu_log_proof_verify(alt, pb.len, &key.pub, &idx, &cp, &back,
                                       NULL),
                   CUSTOS_EVERIFY);
  free(alt);
  cu_buf_free(&pb);
  cu_buf_free(&back);
  cu_buf_free(&e);
  cu_log_dir_close(ld);
  cu_log_tree_free(t);

  /* A changed byte in a committed bundle is caught. */
  char path[700];
  snprintf(path, sizeof path, "%s/tile/entries/001", dir);
  FILE *f = fopen(path, "r+b");
  assert_non_null(f);
  fseek(f, 10, SEEK_SET);
  fputc('!', f);
  fclose(f);
  cu_log_verify_report rep;
  custos_diag d;
  custos_diag_clear(&d);
  assert_int_equal(cu_log_dir_verify(dir, &key.pub, NULL, 0, &rep, &d),
                   CUSTOS_EVERIFY);
  assert_non_null(strstr(d.input, "tile/0/001"));
}

/* Fails the n-th I/O step of a commit for every n until the commit gets
 * through; after each failure the folder verifies at its old size, fsck
 * cleans up, and a fresh handle commits the batch. */
static void test_io_failure(void **state) {
  (void)state;
  char dir[512], buf[256];
  fresh("fail", dir, sizeof dir);
  cu_log_dir *ld;
  assert_int_equal(cu_log_dir_open(dir, &key.pub, &ld, NULL), CUSTOS_OK);
  for (uint64_t i = 0; i < 300; i++) {
    size_t n = make_entry(i, buf, sizeof buf);
    assert_int_equal(cu_log_dir_append(ld, buf, n, NULL), CUSTOS_OK);
  }
  assert_int_equal(cu_log_dir_commit(ld, &key, NULL), CUSTOS_OK);
  cu_log_dir_close(ld);
  long failures = 0;
  for (long k = 0;; k++) {
    assert_int_equal(cu_log_dir_open(dir, &key.pub, &ld, NULL), CUSTOS_OK);
    for (uint64_t i = 300; i < 900; i++) {
      size_t n = make_entry(i, buf, sizeof buf);
      assert_int_equal(cu_log_dir_append(ld, buf, n, NULL), CUSTOS_OK);
    }
    cu_log_fail_io_after(k);
    custos_diag d;
    custos_diag_clear(&d);
    custos_rc rc = cu_log_dir_commit(ld, &key, &d);
    cu_log_fail_io_after(-1);
    if (rc == CUSTOS_OK) {
      assert_int_equal(cu_log_dir_checkpoint(ld)->size, 900);
      cu_log_dir_close(ld);
      break;
    }
    failures++;
    assert_int_equal(rc, CUSTOS_EIO);
    assert_int_equal(cu_log_dir_append(ld, "x", 1, NULL), CUSTOS_EIO);
    cu_log_dir_close(ld);
    cu_log_verify_report rep;
    assert_int_equal(cu_log_dir_verify(dir, &key.pub, NULL, 0, &rep, NULL),
                     CUSTOS_OK);
    cu_log_fsck_report fr;
    assert_int_equal(cu_log_dir_fsck(dir, &key.pub, &fr, NULL), CUSTOS_OK);
    assert_int_equal(fr.size, rep.cp.size);
    /* Only the last step (the folder fsync after the checkpoint's rename)
     * can fail with the new checkpoint already in place; the batch was
     * not acknowledged, and either state is valid. */
    if (rep.cp.size == 900)
      break;
    assert_int_equal(rep.cp.size, 300);
  }
  printf("commit failed cleanly at %ld injected I/O steps\n", failures);
  assert_true(failures > 10);
  cu_log_verify_report rep;
  assert_int_equal(cu_log_dir_verify(dir, &key.pub, NULL, 0, &rep, NULL),
                   CUSTOS_OK);
  assert_int_equal(rep.cp.size, 900);
  cu_log_fsck_report fr;
  assert_int_equal(cu_log_dir_fsck(dir, &key.pub, &fr, NULL), CUSTOS_OK);
  assert_int_equal(fr.stray + fr.temp, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tile_paths),
      cmocka_unit_test(test_entries),
      cmocka_unit_test(test_commit_verify),
      cmocka_unit_test(test_io_failure),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
