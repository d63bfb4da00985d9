/*
 * Mail ingest: finds the containers behind each path (mbox, Apple Mail
 * .mbox folder, maildir with Maildir++ subfolders, EML file or folder),
 * registers each as one source, and stores its messages in batches that
 * commit with the position reached, so a killed ingest resumes there.
 * Every message found is accounted for: accepted (new record or another
 * place of an existing one) or failed (unreadable, with a reject row).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "records_int.h"

#define MAX_FILES 20000000u  /* files in one folder source */
#define MAX_NAMES ((size_t)4 << 30) /* bytes of their names */

/* ---- lists of relative file names ------------------------------------- */

typedef struct names {
  cu_buf arena;   /* NUL-separated names */
  size_t *off;
  size_t n, cap;
} names;

static void names_init(names *nm) {
  memset(nm, 0, sizeof *nm);
  cu_buf_init(&nm->arena, MAX_NAMES);
}

static void names_free(names *nm) {
  cu_buf_free(&nm->arena);
  cu_free(nm->off);
  memset(nm, 0, sizeof *nm);
}

static const char *names_at(const names *nm, size_t i) {
  return nm->arena.data + nm->off[i];
}

static custos_rc names_add(names *nm, const char *s) {
  if (nm->n == nm->cap) {
    if (nm->cap >= MAX_FILES)
      return CUSTOS_ETOOBIG;
    size_t nc = nm->cap ? nm->cap * 2 : 256;
    size_t *no = cu_realloc(nm->off, nc * sizeof *no);
    if (!no)
      return CUSTOS_ENOMEM;
    nm->off = no;
    nm->cap = nc;
  }
  size_t at = nm->arena.len;
  custos_rc rc = cu_buf_append(&nm->arena, s, strlen(s) + 1);
  if (rc != CUSTOS_OK)
    return rc;
  nm->off[nm->n++] = at;
  return CUSTOS_OK;
}

static int cmp_names(const void *a, const void *b, void *arena) {
  return strcmp((const char *)arena + *(const size_t *)a,
                (const char *)arena + *(const size_t *)b);
}

static void names_sort(names *nm) {
  if (nm->n > 1)
    qsort_r(nm->off, nm->n, sizeof *nm->off, cmp_names, nm->arena.data);
}

/* ---- containers ------------------------------------------------------- */

typedef enum ckind { C_MBOX, C_MAILDIR, C_EMLDIR, C_EML } ckind;

typedef struct container {
  ckind kind;
  char path[PATH_MAX]; /* the file (mbox, EML) or the folder */
  names files;         /* EMLDIR: relative names, filled by expand */
} container;

typedef struct clist {
  container *c;
  size_t n, cap;
} clist;

static custos_rc clist_add(clist *l, ckind kind, const char *path,
                           container **out) {
  if (l->n == l->cap) {
    size_t nc = l->cap ? l->cap * 2 : 8;
    if (nc > 1000000)
      return CUSTOS_ETOOBIG;
    container *no = cu_realloc(l->c, nc * sizeof *no);
    if (!no)
      return CUSTOS_ENOMEM;
    l->c = no;
    l->cap = nc;
  }
  container *c = &l->c[l->n++];
  memset(c, 0, sizeof *c);
  c->kind = kind;
  snprintf(c->path, sizeof c->path, "%s", path);
  names_init(&c->files);
  if (out)
    *out = c;
  return CUSTOS_OK;
}

static void clist_free(clist *l) {
  for (size_t i = 0; i < l->n; i++)
    names_free(&l->c[i].files);
  cu_free(l->c);
}

static bool is_dir(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static bool is_file(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static bool join(char *out, size_t n, const char *a, const char *b) {
  int k = snprintf(out, n, "%s%s%s", a, *a && *b ? "/" : "", b);
  return k >= 0 && (size_t)k < n;
}

static bool is_maildir(const char *path) {
  char p[PATH_MAX];
  return (join(p, sizeof p, path, "cur") && is_dir(p)) ||
         (join(p, sizeof p, path, "new") && is_dir(p));
}

static bool starts_with_from(const char *path) {
  char head[5];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  ssize_t k = read(fd, head, sizeof head);
  close(fd);
  return k == 5 && memcmp(head, "From ", 5) == 0;
}

/* Walks the folder root/rel for a folder of EML files: nested maildirs,
 * .mbox folders and mbox files become containers of their own, every
 * other regular file (not hidden) is a message of top. */
static custos_rc walk(clist *l, size_t top, const char *root, const char *rel,
                      int depth, custos_diag *d) {
  char dir[PATH_MAX];
  if (!join(dir, sizeof dir, root, rel))
    return cu_diag_set(d, CUSTOS_ETOOBIG, "path too long: %s/%s", root, rel);
  if (depth > 64) {
    cu_diag_at(d, dir, 0, 0);
    return cu_diag_set(d, CUSTOS_ETOOBIG, "folders nested too deep");
  }
  DIR *dh = opendir(dir);
  if (!dh) {
    cu_diag_at(d, dir, 0, 0);
    return cu_diag_set(d, CUSTOS_EIO, "cannot read folder: %s",
                       strerror(errno));
  }
  names here;
  names_init(&here);
  custos_rc rc = CUSTOS_OK;
  struct dirent *e;
  while (rc == CUSTOS_OK && (e = readdir(dh)) != NULL)
    if (e->d_name[0] != '.')
      rc = names_add(&here, e->d_name);
  closedir(dh);
  names_sort(&here);
  for (size_t i = 0; i < here.n && rc == CUSTOS_OK; i++) {
    char r[PATH_MAX], full[PATH_MAX], sub[PATH_MAX];
    if (!join(r, sizeof r, rel, names_at(&here, i)) ||
        !join(full, sizeof full, root, r)) {
      rc = cu_diag_set(d, CUSTOS_ETOOBIG, "path too long under %s", dir);
      break;
    }
    if (is_dir(full)) {
      if (is_maildir(full))
        rc = clist_add(l, C_MAILDIR, full, NULL);
      else if (join(sub, sizeof sub, full, "mbox") && is_file(sub))
        rc = clist_add(l, C_MBOX, sub, NULL);
      else
        rc = walk(l, top, root, r, depth + 1, d);
    } else if (is_file(full)) {
      if (starts_with_from(full))
        rc = clist_add(l, C_MBOX, full, NULL);
      else
        rc = names_add(&l->c[top].files, r);
    }
  }
  names_free(&here);
  if (rc == CUSTOS_ETOOBIG || rc == CUSTOS_ENOMEM)
    if (!d || d->rc == CUSTOS_OK)
      cu_diag_set(d, rc, "too many files under %s", dir);
  return rc;
}

static custos_rc expand(clist *l, const char *path, custos_diag *d) {
  struct stat sb;
  if (stat(path, &sb) != 0) {
    cu_diag_at(d, path, 0, 0);
    return cu_diag_set(d, errno == ENOENT ? CUSTOS_ENOTFOUND : CUSTOS_EIO,
                       "cannot read: %s", strerror(errno));
  }
  char sub[PATH_MAX];
  if (S_ISREG(sb.st_mode))
    return clist_add(l, starts_with_from(path) ? C_MBOX : C_EML, path, NULL);
  if (!S_ISDIR(sb.st_mode)) {
    cu_diag_at(d, path, 0, 0);
    return cu_diag_set(d, CUSTOS_EINVAL, "not a file or folder");
  }
  if (is_maildir(path))
    return clist_add(l, C_MAILDIR, path, NULL);
  if (join(sub, sizeof sub, path, "mbox") && is_file(sub))
    return clist_add(l, C_MBOX, sub, NULL);
  custos_rc rc = clist_add(l, C_EMLDIR, path, NULL);
  if (rc != CUSTOS_OK)
    return rc;
  size_t top = l->n - 1;
  rc = walk(l, top, path, "", 0, d);
  if (rc == CUSTOS_OK && l->c[top].files.n == 0) {
    /* nothing but nested containers: drop the empty folder source */
    names_free(&l->c[top].files);
    memmove(&l->c[top], &l->c[top + 1], (l->n - top - 1) * sizeof *l->c);
    l->n--;
  }
  return rc;
}

/* Lists a maildir's messages: cur/ and new/ of the root and of every
 * Maildir++ subfolder (".Name"), sorted by name. */
static custos_rc list_maildir(const char *root, names *out, custos_diag *d) {
  names folders;
  names_init(&folders);
  custos_rc rc = names_add(&folders, "");
  DIR *dh = opendir(root);
  struct dirent *e;
  while (rc == CUSTOS_OK && dh && (e = readdir(dh)) != NULL) {
    char full[PATH_MAX];
    if (e->d_name[0] != '.' || strcmp(e->d_name, ".") == 0 ||
        strcmp(e->d_name, "..") == 0)
      continue;
    if (join(full, sizeof full, root, e->d_name) && is_maildir(full))
      rc = names_add(&folders, e->d_name);
  }
  if (dh)
    closedir(dh);
  static const char *const subs[] = {"cur", "new"};
  for (size_t f = 0; f < folders.n && rc == CUSTOS_OK; f++) {
    for (size_t s = 0; s < 2 && rc == CUSTOS_OK; s++) {
      char rel[PATH_MAX], full[PATH_MAX];
      if (!join(rel, sizeof rel, names_at(&folders, f), subs[s]) ||
          !join(full, sizeof full, root, rel))
        continue;
      DIR *sd = opendir(full);
      if (!sd)
        continue;
      while (rc == CUSTOS_OK && (e = readdir(sd)) != NULL) {
        char r[PATH_MAX];
        if (e->d_name[0] == '.')
          continue;
        if (!join(r, sizeof r, rel, e->d_name))
          continue;
        rc = names_add(out, r);
      }
      closedir(sd);
    }
  }
  names_free(&folders);
  if (rc != CUSTOS_OK) {
    cu_diag_at(d, root, 0, 0);
    return cu_diag_set(d, rc, "too many files in maildir");
  }
  names_sort(out);
  return CUSTOS_OK;
}

/* A folder's identity: SHA-256 over where it is (its real path) and its
 * sorted file names, maildir flags (":2,S" and the like, which change when
 * mail is read) left out.  The path is in it because names alone are not
 * unique: two custodians' exports named 1.eml, 2.eml ... were taken for
 * one source and the second skipped.  The same folder ingested again, or
 * resumed, is the same source; a copy elsewhere is another source whose
 * messages are duplicates (one record, one more place). */
static custos_rc folder_digest(const char *path, const names *nm,
                               bool maildir, char *hex, custos_diag *d) {
  cu_sha256_ctx *sh = NULL;
  custos_rc rc = cu_sha256_init(&sh);
  if (rc != CUSTOS_OK)
    return cu_diag_set(d, rc, "cannot start a hash");
  char real[PATH_MAX];
  const char *where = realpath(path, real) ? real : path;
  cu_sha256_update(sh, "custos-folder-v2\n", 17);
  cu_sha256_update(sh, where, strlen(where));
  cu_sha256_update(sh, "\n", 1);
  for (size_t i = 0; i < nm->n; i++) {
    const char *s = names_at(nm, i);
    size_t n = strlen(s);
    if (maildir) {
      const char *slash = strrchr(s, '/');
      const char *colon = strchr(slash ? slash : s, ':');
      if (colon)
        n = (size_t)(colon - s);
    }
    cu_sha256_update(sh, s, n);
    cu_sha256_update(sh, "\n", 1);
  }
  uint8_t dg[CU_SHA256_LEN];
  cu_sha256_final(sh, dg);
  cu_hex_encode(dg, CU_SHA256_LEN, hex);
  return CUSTOS_OK;
}

/* ---- checkpoints beside the writer ------------------------------------ */

/*
 * Copying the WAL into the database (a checkpoint) cost the writer some
 * 2 of its 18 CPU seconds at 200,000 messages, about half of it when the
 * workspace closed.  During a mail ingest a thread of its own does it
 * instead, on a connection of its own: SQLite's WAL hook tells it of
 * every commit, and it copies every frame committed so far while the
 * writer goes on with the next batch (a PASSIVE checkpoint does not wait
 * for the writer, and the writer does not wait for it; the thread is
 * one more than "only the calling thread touches the workspace", but it
 * touches nothing but the WAL).  A failed checkpoint is not an error:
 * the frames stay in the WAL, are copied by the next one, and a kill at
 * any moment leaves a database SQLite recovers as it would anyway.
 *
 * The WAL starts again from its beginning only when a transaction begins
 * with every frame copied, which never happens while the writer keeps
 * beginning batches during checkpoints.  So once it holds CKPT_BOUND
 * frames the writer waits for the checkpoint of its last commit before
 * the next batch, and the WAL stays below that plus one batch.
 */
#define CKPT_BOUND 262144 /* frames: 1 GiB of 4 KiB pages */

typedef struct ckpt {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  pthread_t th;
  sqlite3 *db;      /* the checkpointer's connection */
  sqlite3 *writer;  /* the workspace's connection, hooked */
  uint64_t asked;   /* commits reported by the WAL hook */
  uint64_t served;  /* commits whose frames a checkpoint has copied */
  int frames;       /* frames in the WAL after the last commit */
  bool stop;
  bool running;     /* the thread was started */
} ckpt;

static void *ckpt_main(void *arg) {
  ckpt *c = arg;
  pthread_setname_np(pthread_self(), "custos-ckpt");
  pthread_mutex_lock(&c->mu);
  for (;;) {
    while (!c->stop && c->served == c->asked)
      pthread_cond_wait(&c->cv, &c->mu);
    if (c->served == c->asked)
      break; /* stopped, and every commit copied */
    uint64_t upto = c->asked;
    pthread_mutex_unlock(&c->mu);
    (void)sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                    NULL, NULL);
    pthread_mutex_lock(&c->mu);
    c->served = upto;
    pthread_cond_broadcast(&c->cv);
  }
  pthread_mutex_unlock(&c->mu);
  return NULL;
}

/* The WAL hook, run by the writer inside every commit. */
static int ckpt_hook(void *arg, sqlite3 *db, const char *schema,
                     int frames) {
  ckpt *c = arg;
  (void)db;
  (void)schema;
  pthread_mutex_lock(&c->mu);
  c->frames = frames;
  c->asked++;
  pthread_cond_signal(&c->cv);
  pthread_mutex_unlock(&c->mu);
  return SQLITE_OK;
}

/* Starts checkpointing beside the writer of ws.  When anything fails the
 * writer checkpoints as before (every 65,536 frames, 256 MiB): slower,
 * not wrong, so nothing is reported. */
static void ckpt_start(ckpt *c, cu_ws *ws) {
  memset(c, 0, sizeof *c);
  c->writer = cu_ws_db(ws);
  sqlite3_wal_autocheckpoint(c->writer, 65536);
  const char *path = sqlite3_db_filename(c->writer, "main");
  if (!path || !*path)
    return;
  /* A connection finds the WAL at its first read; until then it has
   * none to checkpoint. */
  if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                      NULL) != SQLITE_OK)
    goto fail_db;
  if (sqlite3_exec(c->db, "PRAGMA schema_version", NULL, NULL, NULL) !=
      SQLITE_OK)
    goto fail_db;
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->cv, NULL);
  if (pthread_create(&c->th, NULL, ckpt_main, c) != 0)
    goto fail_thread;
  c->running = true;
  /* replaces the automatic checkpoint, which is a WAL hook too */
  sqlite3_wal_hook(c->writer, ckpt_hook, c);
  return;
fail_thread:
  pthread_cond_destroy(&c->cv);
  pthread_mutex_destroy(&c->mu);
fail_db:
  sqlite3_close(c->db);
  c->db = NULL;
}

/* Writer side, between two batches: once the WAL holds CKPT_BOUND
 * frames, waits until the last commit is copied so that the next batch
 * writes the WAL from its start. */
static void ckpt_bound(ckpt *c) {
  if (!c || !c->running)
    return;
  pthread_mutex_lock(&c->mu);
  if (c->frames >= CKPT_BOUND)
    while (c->served != c->asked)
      pthread_cond_wait(&c->cv, &c->mu);
  pthread_mutex_unlock(&c->mu);
}

/* Lets the thread copy what is committed, stops it, and gives the writer
 * its automatic checkpoint back. */
static void ckpt_stop(ckpt *c) {
  if (c->running) {
    sqlite3_wal_hook(c->writer, NULL, NULL);
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->th, NULL);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    sqlite3_close(c->db);
    c->db = NULL;
    c->running = false;
  }
  if (c->writer)
    sqlite3_wal_autocheckpoint(c->writer, 65536);
}

/* ---- one source ------------------------------------------------------- */

typedef struct counts {
  int64_t position, expected, accepted, failed, duplicates, raw, bytes;
} counts;

typedef struct ictx {
  cu_ws *ws;
  const cu_rec_opts *o;
  cu_rec_stats *st;
  cu_rec_writer *w;
  ckpt *ck;
  cu_source src;
  counts c;
  size_t in_batch;
  uint64_t batch_bytes;
  size_t max_message;
} ictx;

static custos_rc save_progress(ictx *x, custos_diag *d) {
  sqlite3_stmt *st = NULL;
  custos_rc rc = cu_ws_prepare(
      x->ws,
      "INSERT INTO records_progress(source_id, position, expected, accepted,"
      " failed, duplicates, raw, bytes) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)"
      " ON CONFLICT(source_id) DO UPDATE SET position=?2, expected=?3,"
      " accepted=?4, failed=?5, duplicates=?6, raw=?7, bytes=?8",
      &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  sqlite3_bind_int64(st, 1, x->src.id);
  sqlite3_bind_int64(st, 2, x->c.position);
  sqlite3_bind_int64(st, 3, x->c.expected);
  sqlite3_bind_int64(st, 4, x->c.accepted);
  sqlite3_bind_int64(st, 5, x->c.failed);
  sqlite3_bind_int64(st, 6, x->c.duplicates);
  sqlite3_bind_int64(st, 7, x->c.raw);
  sqlite3_bind_int64(st, 8, x->c.bytes);
  if (sqlite3_step(st) != SQLITE_DONE)
    rc = cu_ws_dberr(x->ws, "cannot record ingest progress", d);
  sqlite3_finalize(st);
  return rc;
}

static custos_rc load_progress(ictx *x, custos_diag *d) {
  sqlite3_stmt *st = NULL;
  custos_rc rc = cu_ws_prepare(
      x->ws,
      "SELECT position, expected, accepted, failed, duplicates, raw, bytes"
      " FROM records_progress WHERE source_id = ?1",
      &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  sqlite3_bind_int64(st, 1, x->src.id);
  int step = sqlite3_step(st);
  memset(&x->c, 0, sizeof x->c);
  if (step == SQLITE_ROW) {
    x->c.position = sqlite3_column_int64(st, 0);
    x->c.expected = sqlite3_column_int64(st, 1);
    x->c.accepted = sqlite3_column_int64(st, 2);
    x->c.failed = sqlite3_column_int64(st, 3);
    x->c.duplicates = sqlite3_column_int64(st, 4);
    x->c.raw = sqlite3_column_int64(st, 5);
    x->c.bytes = sqlite3_column_int64(st, 6);
  } else if (step != SQLITE_DONE) {
    rc = cu_ws_dberr(x->ws, "cannot read ingest progress", d);
  }
  sqlite3_finalize(st);
  return rc;
}

/*
 * Finds or registers the source for a container with digest sha.  Returns
 * EEXIST when a complete source has it (skip), and otherwise leaves
 * x->src and x->c set (fresh, or from an interrupted run), with the
 * registration committed so that a kill after it can resume.
 */
static custos_rc open_source(ictx *x, const char *path, const char *sha,
                             uint64_t size, custos_diag *d) {
  char hex[2 * CU_SHA256_LEN + 1];
  custos_rc rc = CUSTOS_OK;
  if (!sha) {
    uint8_t dg[CU_SHA256_LEN];
    rc = cu_sha256_file(path, dg, &size, d);
    if (rc != CUSTOS_OK)
      return rc;
    cu_hex_encode(dg, CU_SHA256_LEN, hex);
    sha = hex;
  }
  rc = cu_ws_begin(x->ws, d);
  if (rc != CUSTOS_OK)
    return rc;
  rc = cu_source_find_open(x->ws, x->o->cls, sha, &x->src, d);
  if (rc == CUSTOS_OK) {
    rc = load_progress(x, d);
    if (rc == CUSTOS_OK)
      x->st->resumed++;
    cu_ws_rollback(x->ws);
    return rc;
  }
  if (rc != CUSTOS_ENOTFOUND)
    goto fail;
  int64_t existing = 0;
  rc = cu_source_register_digest(x->ws, x->o->cls, x->o->custodian, path,
                                 sha, size, &x->src, &existing, d);
  if (rc != CUSTOS_OK)
    goto fail;
  memset(&x->c, 0, sizeof x->c);
  rc = save_progress(x, d);
  if (rc == CUSTOS_OK)
    rc = cu_rec_threads_dirty(x->ws, d);
  if (rc != CUSTOS_OK)
    goto fail;
  return cu_ws_commit(x->ws, d);
fail:
  cu_ws_rollback(x->ws);
  return rc;
}

/* Commits the batch with the position reached when it is full (or when
 * force), and starts the next one unless last. */
static custos_rc batch_step(ictx *x, bool force, bool last, custos_diag *d) {
  /* Larger batches make fewer, larger FTS5 segments (less merging) and
   * fewer commits, each of which writes the pages the batch changed in
   * every index again; a kill loses at most one batch of work, which the
   * next run redoes. */
  size_t max_msgs = x->o->batch_msgs ? x->o->batch_msgs : 50000;
  uint64_t max_bytes = x->o->batch_bytes ? x->o->batch_bytes : (128u << 20);
  if (!force && x->in_batch < max_msgs && x->batch_bytes < max_bytes)
    return CUSTOS_OK;
  custos_rc rc = cu_rec_writer_flush(x->w, d);
  if (rc == CUSTOS_OK)
    rc = save_progress(x, d);
  if (rc == CUSTOS_OK)
    rc = cu_ws_commit(x->ws, d);
  if (rc != CUSTOS_OK)
    return rc;
  x->in_batch = 0;
  x->batch_bytes = 0;
  if (x->o->progress)
    x->o->progress(x->o->progress_ud, x->st, x->src.path);
  if (last)
    return CUSTOS_OK;
  ckpt_bound(x->ck);
  return cu_ws_begin(x->ws, d);
}

static custos_rc finish_source(ictx *x, custos_diag *d) {
  if (x->c.expected != x->c.accepted + x->c.failed) {
    cu_diag_at(d, x->src.path, 0, 0);
    return cu_diag_set(d, CUSTOS_EINTERNAL,
                       "counts do not reconcile: %lld expected, %lld "
                       "accepted, %lld failed",
                       (long long)x->c.expected, (long long)x->c.accepted,
                       (long long)x->c.failed);
  }
  x->src.expected = x->c.expected;
  x->src.accepted = x->c.accepted;
  x->src.rejected = x->c.failed;
  custos_rc rc = cu_rec_writer_flush(x->w, d);
  if (rc == CUSTOS_OK)
    rc = save_progress(x, d);
  if (rc == CUSTOS_OK)
    rc = cu_source_complete(x->ws, &x->src, d);
  if (rc == CUSTOS_OK)
    rc = cu_ws_commit(x->ws, d);
  if (rc == CUSTOS_OK) {
    x->st->containers++;
    if (x->o->progress)
      x->o->progress(x->o->progress_ud, x->st, x->src.path);
  }
  return rc;
}

/*
 * The pipeline: a producer thread reads and parses messages (the splitter
 * or the files, SHA-256, GMime) while the calling thread stores them, so
 * both cores work.  The queue is bounded in jobs and in bytes, so memory
 * stays bounded whatever the input.  Only the calling thread touches the
 * workspace.
 */
#define QUEUE_JOBS 256
#define QUEUE_BYTES ((size_t)64 << 20)

typedef struct job {
  cu_rec_msg m;
  cu_rec_toks *toks; /* m's tokens for FTS5, or NULL: FTS5 makes them */
  bool failed;       /* unreadable: a reject, not a record */
  char why[256];
  char sha[2 * CU_SHA256_LEN + 1];
  char *path;        /* place inside the source (cu_malloc'ed) */
  uint64_t offset, length, total;
  int64_t position;  /* where to resume once this job is stored */
  struct job *next;  /* in the list of stored jobs the producer frees */
} job;

typedef struct queue {
  pthread_mutex_t mu;
  pthread_cond_t can_put, can_get;
  job *ring[QUEUE_JOBS];
  job *taken[QUEUE_JOBS]; /* the consumer's current run */
  size_t head, n, bytes;
  job *spent;    /* stored jobs, for the producer to free */
  bool done;     /* the producer has finished */
  bool stop;     /* the consumer gave up: the producer stops */
  custos_rc rc;  /* the producer's error */
  custos_diag d;
  /* what the producer reads */
  ictx *x;
  const container *c;
  cu_rec_tok *tok; /* the producer's tokenizer */
} queue;

static void job_free(job *j) {
  if (!j)
    return;
  cu_rec_toks_free(j->toks);
  cu_rec_msg_free(&j->m);
  cu_free(j->path);
  cu_free(j);
}

/*
 * The two threads hand jobs over in runs, not one by one: the consumer
 * sleeps until QUEUE_WAKE jobs are waiting (or the queue is full in
 * bytes, or the producer has finished) and then takes everything there
 * is; the producer sleeps only when the queue is full and is woken once
 * the consumer has emptied it.  Waking the other thread per message cost
 * a context switch per message, about a tenth of the ingest's CPU time.
 */
#define QUEUE_WAKE 32

static bool q_full(const queue *q) {
  return q->n == QUEUE_JOBS || (q->n > 0 && q->bytes >= QUEUE_BYTES);
}

static size_t job_weight(const job *j) {
  return j->m.body.len + j->m.attach_text.len + cu_rec_toks_size(j->toks) +
         4096;
}

static void job_free_list(job *j) {
  while (j) {
    job *next = j->next;
    job_free(j);
    j = next;
  }
}

/* Producer side: false when the consumer stopped.  Also frees the jobs
 * the consumer has stored, so that the writer, the busier thread, does
 * not spend its time in free(). */
static bool q_put(queue *q, job *j) {
  pthread_mutex_lock(&q->mu);
  while (!q->stop && q_full(q)) {
    pthread_cond_signal(&q->can_get);
    pthread_cond_wait(&q->can_put, &q->mu);
  }
  bool ok = !q->stop;
  if (ok) {
    q->ring[(q->head + q->n) % QUEUE_JOBS] = j;
    q->n++;
    q->bytes += job_weight(j);
    if (q->n >= QUEUE_WAKE || q_full(q))
      pthread_cond_signal(&q->can_get);
  }
  job *spent = q->spent;
  q->spent = NULL;
  pthread_mutex_unlock(&q->mu);
  job_free_list(spent);
  if (!ok)
    job_free(j);
  return ok;
}

/* Consumer side: hands the stored jobs out[0..k) to the producer. */
static void q_spent(queue *q, job **out, size_t k) {
  if (k == 0)
    return;
  for (size_t i = 0; i + 1 < k; i++)
    out[i]->next = out[i + 1];
  pthread_mutex_lock(&q->mu);
  out[k - 1]->next = q->spent;
  q->spent = out[0];
  pthread_mutex_unlock(&q->mu);
}

static void q_finish(queue *q, custos_rc rc, const custos_diag *d) {
  pthread_mutex_lock(&q->mu);
  q->done = true;
  q->rc = rc;
  if (d)
    q->d = *d;
  pthread_cond_signal(&q->can_get);
  pthread_mutex_unlock(&q->mu);
}

/* Consumer side: moves up to QUEUE_JOBS waiting jobs into out, in order;
 * 0 when the producer has finished and nothing is left.  Waits for a run
 * of QUEUE_WAKE jobs unless the queue is full or the producer is done. */
static size_t q_take(queue *q, job **out) {
  pthread_mutex_lock(&q->mu);
  while (!q->done && q->n < QUEUE_WAKE && !q_full(q))
    pthread_cond_wait(&q->can_get, &q->mu);
  size_t k = q->n;
  for (size_t i = 0; i < k; i++) {
    out[i] = q->ring[q->head];
    q->head = (q->head + 1) % QUEUE_JOBS;
    q->bytes -= job_weight(out[i]);
  }
  q->n = 0;
  if (k)
    pthread_cond_signal(&q->can_put);
  pthread_mutex_unlock(&q->mu);
  return k;
}

static void q_stop(queue *q) {
  pthread_mutex_lock(&q->mu);
  q->stop = true;
  pthread_cond_signal(&q->can_put);
  pthread_mutex_unlock(&q->mu);
}

static job *job_new(const char *path) {
  job *j = cu_calloc(1, sizeof *j);
  if (!j)
    return NULL;
  j->path = cu_strdup(path);
  if (!j->path) {
    cu_free(j);
    return NULL;
  }
  return j;
}

/* Producer side: tokenises the parsed message j for FTS5, which the
 * writer then only replays (tok.c).  Without memory for the tokens the
 * job goes without them and FTS5 tokenises on the writer, as before. */
static void tokenize(queue *q, job *j) {
  if (cu_rec_tok_msg(q->tok, &j->m, &j->toks) != CUSTOS_OK)
    j->toks = NULL;
}

static void *produce_mbox(void *arg) {
  queue *q = arg;
  pthread_setname_np(pthread_self(), "custos-parse");
  custos_diag d;
  custos_diag_clear(&d);
  cu_mbox *mb = NULL;
  custos_rc rc = cu_mbox_open(q->c->path, (uint64_t)q->x->c.position,
                              q->x->max_message, &mb, &d);
  while (rc == CUSTOS_OK) {
    cu_mbox_msg m;
    bool eof = false;
    rc = cu_mbox_next(mb, &m, &eof, &d);
    if (rc != CUSTOS_OK || eof)
      break;
    job *j = job_new("");
    if (!j) {
      rc = cu_diag_set(&d, CUSTOS_ENOMEM, "out of memory");
      break;
    }
    snprintf(j->sha, sizeof j->sha, "%s", m.sha256);
    j->offset = m.offset;
    j->length = m.length;
    j->total = m.total;
    j->position = (int64_t)cu_mbox_tell(mb);
    rc = cu_rec_msg_parse(m.data, m.len, m.truncated, m.total, &j->m, &d);
    if (rc != CUSTOS_OK) {
      job_free(j);
      break;
    }
    tokenize(q, j);
    if (!q_put(q, j))
      break;
  }
  cu_mbox_close(mb);
  q_finish(q, rc, &d);
  return NULL;
}

static void *produce_files(void *arg) {
  queue *q = arg;
  pthread_setname_np(pthread_self(), "custos-parse");
  custos_diag d;
  custos_diag_clear(&d);
  custos_rc rc = CUSTOS_OK;
  cu_buf buf;
  cu_buf_init(&buf, q->x->max_message);
  char *scratch = cu_malloc(65536);
  if (!scratch)
    rc = cu_diag_set(&d, CUSTOS_ENOMEM, "out of memory");
  const names *nm = &q->c->files;
  for (size_t i = (size_t)q->x->c.position; i < nm->n && rc == CUSTOS_OK;
       i++) {
    const char *rel = names_at(nm, i);
    char full[PATH_MAX];
    job *j = job_new(rel);
    if (!j) {
      rc = cu_diag_set(&d, CUSTOS_ENOMEM, "out of memory");
      break;
    }
    j->position = (int64_t)i + 1;
    custos_rc frc = CUSTOS_ETOOBIG;
    if (join(full, sizeof full, q->c->path, rel))
      frc = cu_rec_read_file(full, q->x->max_message, &buf, scratch, j->sha,
                             &j->total, j->why, sizeof j->why);
    else
      snprintf(j->why, sizeof j->why, "path too long");
    if (frc == CUSTOS_EIO || frc == CUSTOS_ETOOBIG) {
      j->failed = true;
    } else if (frc != CUSTOS_OK) {
      rc = cu_diag_set(&d, frc, "%s", j->why);
      job_free(j);
      break;
    } else {
      j->length = j->total;
      rc = cu_rec_msg_parse(buf.data ? buf.data : "", buf.len,
                            j->total > buf.len, j->total, &j->m, &d);
      if (rc != CUSTOS_OK) {
        job_free(j);
        break;
      }
      tokenize(q, j);
    }
    if (!q_put(q, j))
      break;
  }
  cu_free(scratch);
  cu_buf_free(&buf);
  q_finish(q, rc, &d);
  return NULL;
}

/* Stores one job: a record (or another place of one), or a reject. */
static custos_rc store_job(ictx *x, job *j, custos_diag *d) {
  custos_rc rc = CUSTOS_OK;
  x->c.expected++;
  x->st->expected++;
  if (j->failed) {
    x->c.failed++;
    x->st->failed++;
    rc = cu_source_reject(x->ws, x->src.id, 0, 0, "path", j->path, j->why, d);
  } else {
    cu_rec_item it = {"mail",    "message/rfc822", &j->m,     j->sha,
                      j->total,  x->src.id,        j->path,   j->offset,
                      j->length};
    bool dup = false;
    rc = cu_rec_writer_put_toks(x->w, &it, &j->toks, &dup, d);
    if (rc == CUSTOS_OK) {
      x->c.accepted++;
      x->st->accepted++;
      x->c.duplicates += dup;
      x->st->duplicates += dup;
      bool raw = (j->m.flags & CU_REC_RAW) != 0;
      x->c.raw += raw;
      x->st->raw += raw;
    }
  }
  x->in_batch++;
  x->batch_bytes += j->total;
  x->c.bytes += (int64_t)j->total;
  x->st->bytes += (int64_t)j->total;
  x->c.position = j->position;
  if (x->o->progress && (x->st->expected & 255) == 0)
    x->o->progress(x->o->progress_ud, x->st, x->src.path);
  return rc;
}

/* Runs producer over container c from x->c.position and stores what it
 * makes in batches; completes the source at the end. */
static custos_rc run(ictx *x, const container *c, void *(*producer)(void *),
                     custos_diag *d) {
  queue *q = cu_calloc(1, sizeof *q);
  if (!q)
    return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory");
  pthread_mutex_init(&q->mu, NULL);
  pthread_cond_init(&q->can_put, NULL);
  pthread_cond_init(&q->can_get, NULL);
  q->x = x;
  q->c = c;
  custos_diag_clear(&q->d);
  pthread_t th;
  custos_rc rc = cu_rec_tok_open(cu_ws_db(x->ws), &q->tok, d);
  if (rc != CUSTOS_OK)
    goto fail_q;
  rc = cu_ws_begin(x->ws, d);
  if (rc != CUSTOS_OK)
    goto fail_tok;
  if (pthread_create(&th, NULL, producer, q) != 0) {
    cu_ws_rollback(x->ws);
    rc = cu_diag_set(d, CUSTOS_EINTERNAL, "cannot start a thread");
    goto fail_tok;
  }
  size_t k;
  while (rc == CUSTOS_OK && (k = q_take(q, q->taken)) > 0) {
    for (size_t i = 0; i < k; i++) {
      if (rc == CUSTOS_OK)
        rc = store_job(x, q->taken[i], d);
      if (rc == CUSTOS_OK)
        rc = batch_step(x, false, false, d);
    }
    q_spent(q, q->taken, k);
  }
  q_stop(q);
  /* The producer may be waiting for room: keep emptying the queue until
   * it has seen the stop and finished. */
  pthread_join(th, NULL);
  while ((k = q_take(q, q->taken)) > 0)
    for (size_t i = 0; i < k; i++)
      job_free(q->taken[i]);
  job_free_list(q->spent);
  if (rc == CUSTOS_OK && q->rc != CUSTOS_OK) {
    rc = q->rc;
    if (d)
      *d = q->d;
  }
  if (rc == CUSTOS_OK)
    rc = finish_source(x, d);
  if (rc != CUSTOS_OK)
    cu_ws_rollback(x->ws);
fail_tok:
  cu_rec_tok_close(q->tok);
fail_q:
  pthread_cond_destroy(&q->can_get);
  pthread_cond_destroy(&q->can_put);
  pthread_mutex_destroy(&q->mu);
  cu_free(q);
  return rc;
}

static custos_rc ingest_mbox(ictx *x, const container *c, custos_diag *d) {
  custos_rc rc = open_source(x, c->path, NULL, 0, d);
  if (rc == CUSTOS_EEXIST) {
    x->st->skipped++;
    return CUSTOS_OK;
  }
  if (rc != CUSTOS_OK)
    return rc;
  return run(x, c, produce_mbox, d);
}

custos_rc cu_rec_read_file(const char *path, size_t cap, cu_buf *buf,
                           char *scratch, char *sha, uint64_t *total,
                           char *why, size_t whyn) {
  cu_buf_reset(buf);
  *total = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(why, whyn, "cannot open: %s", strerror(errno));
    return CUSTOS_EIO;
  }
  cu_sha256_ctx *sh = NULL;
  custos_rc rc = cu_sha256_init(&sh);
  if (rc != CUSTOS_OK) {
    close(fd);
    snprintf(why, whyn, "cannot start a hash");
    return rc;
  }
  struct stat sb;
  if (fstat(fd, &sb) == 0 && sb.st_size > 0)
    rc = cu_buf_reserve(buf, (size_t)sb.st_size < cap ? (size_t)sb.st_size
                                                      : cap);
  while (rc == CUSTOS_OK) {
    char *dst = scratch;
    size_t room = 65536;
    if (buf->len < cap) {
      size_t want = cap - buf->len < 65536 ? cap - buf->len : 65536;
      rc = cu_buf_reserve(buf, want);
      if (rc != CUSTOS_OK)
        break;
      dst = buf->data + buf->len;
      room = buf->cap - 1 - buf->len;
      if (room > cap - buf->len)
        room = cap - buf->len;
    }
    ssize_t k = read(fd, dst, room);
    if (k < 0 && errno == EINTR)
      continue;
    if (k < 0) {
      snprintf(why, whyn, "cannot read: %s", strerror(errno));
      rc = CUSTOS_EIO;
      break;
    }
    if (k == 0)
      break;
    cu_sha256_update(sh, dst, (size_t)k);
    *total += (uint64_t)k;
    if (dst != scratch) {
      buf->len += (size_t)k;
      buf->data[buf->len] = '\0';
    }
  }
  close(fd);
  uint8_t dg[CU_SHA256_LEN];
  cu_sha256_final(sh, dg);
  cu_hex_encode(dg, CU_SHA256_LEN, sha);
  if (rc == CUSTOS_ENOMEM)
    snprintf(why, whyn, "out of memory");
  return rc;
}

static custos_rc ingest_files(ictx *x, container *c, custos_diag *d) {
  char sha[2 * CU_SHA256_LEN + 1];
  names *nm = &c->files;
  bool single = c->kind == C_EML;
  custos_rc rc = CUSTOS_OK;
  if (c->kind == C_MAILDIR)
    rc = list_maildir(c->path, nm, d);
  else if (single)
    rc = names_add(nm, "");
  if (rc == CUSTOS_OK && !single)
    rc = folder_digest(c->path, nm, c->kind == C_MAILDIR, sha, d);
  if (rc != CUSTOS_OK)
    return rc;
  rc = open_source(x, c->path, single ? NULL : sha, 0, d);
  if (rc == CUSTOS_EEXIST) {
    x->st->skipped++;
    return CUSTOS_OK;
  }
  if (rc != CUSTOS_OK)
    return rc;
  return run(x, c, produce_files, d);
}

custos_rc cu_rec_ingest_mail(cu_ws *ws, const char *const *paths, size_t n,
                             const cu_rec_opts *o, cu_rec_stats *st,
                             custos_diag *d) {
  clist l = {0};
  ictx x;
  memset(&x, 0, sizeof x);
  x.ws = ws;
  x.o = o;
  x.st = st;
  x.max_message = o->max_message ? o->max_message : CU_REC_MAX_MESSAGE;
  custos_rc rc = CUSTOS_OK;
  if (o->cls != CU_CLASS_MAIL) {
    rc = cu_diag_set(d, CUSTOS_EINVAL, "mail is ingested as class mail");
    goto fail;
  }
  for (size_t i = 0; i < n && rc == CUSTOS_OK; i++)
    rc = expand(&l, paths[i], d);
  if (rc != CUSTOS_OK)
    goto fail;
  /* A large page cache keeps the FTS5 segments and indexes being built in
   * memory between batch commits instead of writing and re-reading them.
   * FTS5's pending terms are flushed as a segment at every commit and
   * whenever they pass 'hashsize' bytes: 64 MiB holds a whole batch of
   * mail (50,000 messages of the benchmark's, some 45 MiB) so a batch
   * makes one segment, not two. */
  rc = cu_ws_exec(ws, "PRAGMA cache_size = -262144", d);
  if (rc == CUSTOS_OK)
    rc = cu_ws_exec(ws,
                    "INSERT INTO records_fts(records_fts, rank)"
                    " VALUES('hashsize', 67108864)",
                    d);
  if (rc == CUSTOS_OK)
    rc = cu_rec_writer_open(ws, &x.w, d);
  if (rc != CUSTOS_OK)
    goto fail;
  /* Mail comes in the order of its files, not of its dates. */
  cu_rec_writer_defer(x.w, o->defer_bytes ? o->defer_bytes : (128u << 20));
  /* From here on the WAL is checkpointed after every commit by a thread
   * beside the writer, or, failing that, by the writer every 256 MiB
   * rather than every 4 MiB (a large index written in batches would
   * otherwise be copied into the database many times). */
  ckpt ck;
  ckpt_start(&ck, ws);
  x.ck = &ck;
  for (size_t i = 0; i < l.n && rc == CUSTOS_OK; i++) {
    if (l.c[i].kind == C_MBOX)
      rc = ingest_mbox(&x, &l.c[i], d);
    else
      rc = ingest_files(&x, &l.c[i], d);
  }
  /* The writer's statements are finalised before the thread rebuild,
   * which needs the database free of pending reads. */
  cu_rec_writer_close(x.w);
  x.w = NULL;
  ckpt_stop(&ck);
  if (rc == CUSTOS_OK)
    rc = cu_rec_threads_refresh(ws, d);
fail:
  cu_rec_writer_close(x.w);
  clist_free(&l);
  return rc;
}
