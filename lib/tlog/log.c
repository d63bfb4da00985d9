/*
 * The workspace's log: its key (keys/log.key), its folder (log/), and the
 * group commit that turns the events outbox into leaves (leaf index ==
 * event seq).  One process writes at a time, under an flock on log.lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tlog.h"

#define KEY_FILE "keys/log.key"
#define LOG_DIR "log"
#define LOCK_FILE "log.lock"
/* Events per batch: one checkpoint each; bounds the memory of a batch. */
#define SYNC_BATCH 65536

static custos_rc ws_path(cu_ws *ws, const char *rel, char *out, size_t n,
                         custos_diag *d) {
  if (cu_ws_path(ws, rel, out, n) != CUSTOS_OK)
    return cu_diag_set(d, CUSTOS_EINVAL, "workspace path too long");
  return CUSTOS_OK;
}

/* Takes the log's exclusive lock; *fd is released with close(). */
static custos_rc lock_log(cu_ws *ws, int *fd, custos_diag *d) {
  char path[PATH_MAX];
  custos_rc rc = ws_path(ws, LOCK_FILE, path, sizeof path, d);
  if (rc != CUSTOS_OK)
    return rc;
  *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (*fd < 0) {
    cu_diag_at(d, path, 0, 0);
    return cu_diag_set(d, CUSTOS_EIO, "cannot open the log lock: %s",
                       strerror(errno));
  }
  while (flock(*fd, LOCK_EX) != 0) {
    if (errno == EINTR)
      continue;
    int e = errno;
    close(*fd);
    cu_diag_at(d, path, 0, 0);
    return cu_diag_set(d, CUSTOS_EIO, "cannot lock the log: %s", strerror(e));
  }
  return CUSTOS_OK;
}

static custos_rc load_skey(cu_ws *ws, cu_log_skey *out, custos_diag *d) {
  char path[PATH_MAX];
  custos_rc rc = ws_path(ws, KEY_FILE, path, sizeof path, d);
  if (rc != CUSTOS_OK)
    return rc;
  char *text = NULL;
  size_t n = 0;
  rc = cu_file_read(path, 4096, &text, &n, d);
  if (rc == CUSTOS_ENOTFOUND)
    cu_diag_hint(d, "create the log's key with `custos log key`");
  if (rc != CUSTOS_OK)
    return rc;
  while (n > 0 && text[n - 1] == '\n')
    n--;
  rc = cu_log_skey_parse(text, n, out, d);
  if (rc != CUSTOS_OK)
    cu_diag_at(d, path, 0, 0);
  memset(text, 0, n);
  cu_free(text);
  return rc;
}

custos_rc cu_log_vkey_get(cu_ws *ws, cu_log_vkey *out, custos_diag *d) {
  cu_log_skey k;
  custos_rc rc = load_skey(ws, &k, d);
  if (rc == CUSTOS_OK)
    *out = k.pub;
  cu_log_skey_wipe(&k);
  return rc;
}

/* Creates the key and the empty log when missing; the caller holds the
 * lock.  *key (the caller wipes it) gets the signer key. */
static custos_rc ensure_locked(cu_ws *ws, const char *origin, cu_log_skey *key,
                               custos_diag *d) {
  char path[PATH_MAX], logdir[PATH_MAX];
  custos_rc rc = ws_path(ws, KEY_FILE, path, sizeof path, d);
  if (rc == CUSTOS_OK)
    rc = ws_path(ws, LOG_DIR, logdir, sizeof logdir, d);
  if (rc != CUSTOS_OK)
    return rc;
  struct stat sb;
  if (stat(path, &sb) == 0) {
    rc = load_skey(ws, key, d);
    if (rc == CUSTOS_OK && origin && strcmp(origin, key->pub.name) != 0) {
      cu_diag_field(d, "origin", key->pub.name, strlen(key->pub.name));
      cu_diag_hint(d, "a log keeps its origin for life");
      rc = cu_diag_set(d, CUSTOS_EEXIST, "the log already has another origin");
    }
  } else {
    /* A unique origin per workspace: a schema-less URL under the reserved
     * .invalid domain, with 64 random bits. */
    char gen[64];
    if (!origin) {
      uint8_t r[8];
      char hex[17];
      rc = cu_random(r, sizeof r);
      if (rc != CUSTOS_OK)
        return cu_diag_set(d, rc, "cannot draw random bytes for the origin");
      cu_hex_encode(r, sizeof r, hex);
      snprintf(gen, sizeof gen, "custos.invalid/log/%s", hex);
      origin = gen;
    }
    rc = cu_log_skey_generate(origin, CU_LOG_SIG_ED25519, key, d);
    char text[512];
    if (rc == CUSTOS_OK && cu_log_skey_format(key, text, sizeof text) !=
                               CUSTOS_OK)
      rc = cu_diag_set(d, CUSTOS_EINTERNAL, "key too long");
    if (rc == CUSTOS_OK) {
      size_t n = strlen(text);
      text[n++] = '\n';
      rc = cu_file_write_atomic(path, text, n, 0600, d);
    }
    memset(text, 0, sizeof text);
  }
  if (rc == CUSTOS_OK)
    rc = cu_log_dir_init(logdir, key, d);
  return rc;
}

custos_rc cu_log_key_ensure(cu_ws *ws, const char *origin, cu_log_vkey *out,
                            custos_diag *d) {
  int fd;
  custos_rc rc = lock_log(ws, &fd, d);
  if (rc != CUSTOS_OK)
    return rc;
  cu_log_skey key;
  memset(&key, 0, sizeof key);
  rc = ensure_locked(ws, origin, &key, d);
  if (rc == CUSTOS_OK && out)
    *out = key.pub;
  cu_log_skey_wipe(&key);
  close(fd);
  return rc;
}

/* Encodes the event of the current row of st (seq, time, type, actor,
 * case_id, payload) into out. */
static custos_rc encode_row(sqlite3_stmt *st, cu_buf *out, custos_diag *d) {
  cu_log_entry e;
  memset(&e, 0, sizeof e);
  e.index = (uint64_t)sqlite3_column_int64(st, 0);
  e.time = sqlite3_column_int64(st, 1);
  const char *s[3];
  char *dst[3] = {e.type, e.actor, e.case_id};
  for (int i = 0; i < 3; i++) {
    s[i] = (const char *)sqlite3_column_text(st, 2 + i);
    size_t n = s[i] ? (size_t)sqlite3_column_bytes(st, 2 + i) : 0;
    if (n > CU_LOG_FIELD_MAX) {
      cu_diag_hint(d, "log fields are limited to %d bytes", CU_LOG_FIELD_MAX);
      return cu_diag_set(d, CUSTOS_ETOOBIG,
                         "event %" PRIu64 " has a field too long for the log",
                         e.index);
    }
    if (n)
      memcpy(dst[i], s[i], n);
    dst[i][n] = '\0';
  }
  const void *payload = sqlite3_column_blob(st, 5);
  size_t pn = (size_t)sqlite3_column_bytes(st, 5);
  cu_buf_reset(out);
  return cu_log_entry_encode(&e, payload ? payload : "", pn, out, d);
}

static const char select_events[] =
    "SELECT seq, time, type, actor, case_id, payload FROM events"
    " WHERE seq >= ?1 ORDER BY seq LIMIT ?2";

/* Checks that the last committed leaf is the encoding of its event, so a
 * restored or replaced database is noticed before anything is appended. */
static custos_rc check_tip(cu_ws *ws, cu_log_dir *ld, custos_diag *d) {
  uint64_t n = cu_log_dir_checkpoint(ld)->size;
  if (n == 0)
    return CUSTOS_OK;
  sqlite3_stmt *st = NULL;
  custos_rc rc = cu_ws_prepare(ws, select_events, &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  sqlite3_bind_int64(st, 1, (sqlite3_int64)(n - 1));
  sqlite3_bind_int64(st, 2, 1);
  cu_buf b;
  cu_buf_init(&b, CU_LOG_ENTRY_MAX);
  int step = sqlite3_step(st);
  if (step == SQLITE_ROW &&
      (uint64_t)sqlite3_column_int64(st, 0) == n - 1) {
    rc = encode_row(st, &b, d);
    uint8_t want[32], have[32];
    if (rc == CUSTOS_OK)
      rc = cu_log_dir_node(ld, 0, n - 1, have, d);
    if (rc == CUSTOS_OK) {
      cu_log_leaf_hash(b.data, b.len, want);
      if (memcmp(want, have, 32) != 0)
        rc = CUSTOS_ECONFLICT;
    }
  } else if (step == SQLITE_ROW || step == SQLITE_DONE) {
    rc = CUSTOS_ECONFLICT;
  } else {
    rc = cu_ws_dberr(ws, "cannot read events", d);
  }
  if (rc == CUSTOS_ECONFLICT) {
    cu_diag_at(d, cu_ws_dir(ws), 0, 0);
    cu_diag_hint(d, "the database does not hold the events the log "
                    "committed (restored from an older backup?); restore "
                    "the database that belongs to this log");
    rc = cu_diag_set(d, CUSTOS_ECONFLICT,
                     "the log's %" PRIu64 " entries do not match the "
                     "workspace's events",
                     n);
  }
  cu_buf_free(&b);
  sqlite3_finalize(st);
  return rc;
}

/* Appends up to SYNC_BATCH pending events and commits them as one batch.
 * *more is set when events remain. */
static custos_rc sync_batch(cu_ws *ws, cu_log_dir *ld, const cu_log_skey *key,
                            bool *more, custos_diag *d) {
  uint64_t next = cu_log_dir_pending_size(ld);
  sqlite3_stmt *st = NULL;
  custos_rc rc = cu_ws_prepare(ws, select_events, &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  sqlite3_bind_int64(st, 1, (sqlite3_int64)next);
  sqlite3_bind_int64(st, 2, SYNC_BATCH);
  cu_buf b;
  cu_buf_init(&b, CU_LOG_ENTRY_MAX);
  int step;
  uint64_t count = 0;
  while (rc == CUSTOS_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
    if ((uint64_t)sqlite3_column_int64(st, 0) != next) {
      cu_diag_hint(d, "events must be numbered without gaps from 0");
      rc = cu_diag_set(d, CUSTOS_ECONFLICT,
                       "event %" PRIu64 " is missing from the outbox", next);
      break;
    }
    rc = encode_row(st, &b, d);
    if (rc == CUSTOS_OK)
      rc = cu_log_dir_append(ld, b.data, b.len, d);
    if (rc == CUSTOS_ETOOBIG && count > 0) {
      rc = CUSTOS_OK; /* the batch is full: commit what we have */
      break;
    }
    next++;
    count++;
  }
  if (rc == CUSTOS_OK && step != SQLITE_ROW && step != SQLITE_DONE)
    rc = cu_ws_dberr(ws, "cannot read events", d);
  sqlite3_finalize(st);
  cu_buf_free(&b);
  if (rc == CUSTOS_OK)
    rc = cu_log_dir_commit(ld, key, d);
  *more = rc == CUSTOS_OK && count > 0;
  return rc;
}

custos_rc cu_log_sync(cu_ws *ws, custos_diag *d) {
  int fd;
  custos_rc rc = lock_log(ws, &fd, d);
  if (rc != CUSTOS_OK)
    return rc;
  cu_log_skey key;
  memset(&key, 0, sizeof key);
  char logdir[PATH_MAX];
  cu_log_dir *ld = NULL;
  rc = ensure_locked(ws, NULL, &key, d);
  if (rc == CUSTOS_OK)
    rc = ws_path(ws, LOG_DIR, logdir, sizeof logdir, d);
  if (rc == CUSTOS_OK)
    rc = cu_log_dir_open(logdir, &key.pub, &ld, d);
  if (rc == CUSTOS_OK)
    rc = check_tip(ws, ld, d);
  for (bool more = true; rc == CUSTOS_OK && more;)
    rc = sync_batch(ws, ld, &key, &more, d);
  cu_log_dir_close(ld);
  cu_log_skey_wipe(&key);
  close(fd);
  return rc;
}

/* Opens the workspace's log for reading. */
static custos_rc open_log(cu_ws *ws, cu_log_dir **ld, custos_diag *d) {
  cu_log_vkey vk;
  char logdir[PATH_MAX];
  custos_rc rc = cu_log_vkey_get(ws, &vk, d);
  if (rc == CUSTOS_OK)
    rc = ws_path(ws, LOG_DIR, logdir, sizeof logdir, d);
  if (rc == CUSTOS_OK)
    rc = cu_log_dir_open(logdir, &vk, ld, d);
  return rc;
}

custos_rc cu_log_entry_get(cu_ws *ws, uint64_t index, cu_log_entry *out,
                           cu_buf *raw, custos_diag *d) {
  cu_log_dir *ld = NULL;
  custos_rc rc = open_log(ws, &ld, d);
  if (rc == CUSTOS_OK)
    rc = cu_log_dir_entry(ld, index, raw, d);
  if (rc == CUSTOS_OK)
    rc = cu_log_entry_decode((const uint8_t *)raw->data, raw->len, out, d);
  cu_log_dir_close(ld);
  return rc;
}

custos_rc cu_log_checkpoint_get(cu_ws *ws, cu_buf *note, cu_log_checkpoint *cp,
                                custos_diag *d) {
  cu_log_dir *ld = NULL;
  custos_rc rc = open_log(ws, &ld, d);
  if (rc == CUSTOS_OK) {
    *cp = *cu_log_dir_checkpoint(ld);
    if (note) {
      cu_buf_reset(note);
      rc = cu_buf_puts(note, cu_log_dir_checkpoint_note(ld));
    }
  }
  cu_log_dir_close(ld);
  return rc;
}

/* The root of the tree of size within the checkpoint. */
static custos_rc root_at(cu_log_dir *ld, uint64_t size, uint8_t root[32],
                         custos_diag *d) {
  const cu_log_checkpoint *cp = cu_log_dir_checkpoint(ld);
  if (size == cp->size) {
    memcpy(root, cp->root, 32);
    return CUSTOS_OK;
  }
  if (size == 0) {
    cu_log_empty_root(root);
    return CUSTOS_OK;
  }
  return cu_log_range_root(cu_log_dir_node, ld, 0, size, root, d);
}

static custos_rc check_size(const cu_log_dir *ld, uint64_t *size,
                            custos_diag *d) {
  uint64_t n = cu_log_dir_checkpoint(ld)->size;
  if (*size == 0)
    *size = n;
  if (*size > n) {
    cu_diag_hint(d, "the log's checkpoint has size %" PRIu64, n);
    return cu_diag_set(d, CUSTOS_ENOTFOUND, "no tree of size %" PRIu64 " yet",
                       *size);
  }
  return CUSTOS_OK;
}

custos_rc cu_log_inclusion(cu_ws *ws, uint64_t index, uint64_t size,
                           cu_log_hash *proof, size_t *n, uint8_t root[32],
                           custos_diag *d) {
  cu_log_dir *ld = NULL;
  custos_rc rc = open_log(ws, &ld, d);
  if (rc == CUSTOS_OK)
    rc = check_size(ld, &size, d);
  if (rc == CUSTOS_OK && index >= size)
    rc = cu_diag_set(d, CUSTOS_ENOTFOUND,
                     "entry %" PRIu64 " is not in the tree of size %" PRIu64,
                     index, size);
  if (rc == CUSTOS_OK)
    rc = cu_log_prove_inclusion(cu_log_dir_node, ld, index, size, proof,
                                CU_LOG_MAX_PROOF, n, d);
  if (rc == CUSTOS_OK)
    rc = root_at(ld, size, root, d);
  cu_log_dir_close(ld);
  return rc;
}

custos_rc cu_log_consistency(cu_ws *ws, uint64_t a, uint64_t b,
                             cu_log_hash *proof, size_t *n, uint8_t root_a[32],
                             uint8_t root_b[32], custos_diag *d) {
  cu_log_dir *ld = NULL;
  custos_rc rc = open_log(ws, &ld, d);
  if (rc == CUSTOS_OK)
    rc = check_size(ld, &b, d);
  if (rc == CUSTOS_OK && (a == 0 || a > b))
    rc = cu_diag_set(d, CUSTOS_EINVAL,
                     "need 0 < A <= B for a consistency proof (A %" PRIu64
                     ", B %" PRIu64 ")",
                     a, b);
  if (rc == CUSTOS_OK)
    rc = cu_log_prove_consistency(cu_log_dir_node, ld, a, b, proof,
                                  CU_LOG_MAX_PROOF, n, d);
  if (rc == CUSTOS_OK)
    rc = root_at(ld, a, root_a, d);
  if (rc == CUSTOS_OK)
    rc = root_at(ld, b, root_b, d);
  cu_log_dir_close(ld);
  return rc;
}

custos_rc cu_log_prove(cu_ws *ws, uint64_t index, cu_buf *out,
                       custos_diag *d) {
  cu_log_dir *ld = NULL;
  cu_buf entry;
  cu_buf_init(&entry, CU_LOG_ENTRY_MAX);
  cu_log_hash proof[CU_LOG_MAX_PROOF];
  size_t n = 0;
  custos_rc rc = open_log(ws, &ld, d);
  if (rc == CUSTOS_OK)
    rc = cu_log_dir_entry(ld, index, &entry, d);
  if (rc == CUSTOS_OK)
    rc = cu_log_prove_inclusion(cu_log_dir_node, ld, index,
                                cu_log_dir_checkpoint(ld)->size, proof,
                                CU_LOG_MAX_PROOF, &n, d);
  if (rc == CUSTOS_OK) {
    const char *note = cu_log_dir_checkpoint_note(ld);
    rc = cu_log_proof_format((const uint8_t *)entry.data, entry.len, index,
                             proof, n, note, strlen(note), out);
    if (rc != CUSTOS_OK)
      cu_diag_set(d, rc, "cannot build the proof");
  }
  cu_buf_free(&entry);
  cu_log_dir_close(ld);
  return rc;
}

custos_rc cu_log_fsck(cu_ws *ws, cu_log_fsck_report *rep, custos_diag *d) {
  int fd;
  custos_rc rc = lock_log(ws, &fd, d);
  if (rc != CUSTOS_OK)
    return rc;
  cu_log_vkey vk;
  char logdir[PATH_MAX];
  rc = cu_log_vkey_get(ws, &vk, d);
  if (rc == CUSTOS_OK)
    rc = ws_path(ws, LOG_DIR, logdir, sizeof logdir, d);
  if (rc == CUSTOS_OK)
    rc = cu_log_dir_fsck(logdir, &vk, rep, d);
  close(fd);
  return rc;
}
