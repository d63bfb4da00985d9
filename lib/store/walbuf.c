/*
 * A VFS for the workspace database that gathers the writes of its WAL,
 * and those of a checkpoint into the database file, into large ones,
 * which a thread of their own then writes.  SQLite writes each WAL frame
 * as two calls, a 24-byte header and then the page, so a large commit
 * made two pwrite calls per 4 KiB, each leaving a partly written
 * page-cache page that the kernel first zeroes; a checkpoint copies the
 * WAL into the database file one 4 KiB page a call.  This VFS passes
 * everything to SQLite's default VFS but keeps consecutive writes in
 * buffers of WALBUF_CAP bytes, and the writer thread writes each as one
 * call while SQLite goes on with the next frames.  The files on disk are
 * the same; only the calls differ, and who makes them.
 *
 * Before anything that could look at a file (a read, a sync, a truncate,
 * a size, a file control, a lock, the shared memory, a fetch, the close,
 * a write that is not buffered), the file's buffer is handed over and
 * every write of the file waited for.  So is the write of a commit
 * frame's page, so that even without a sync at commit, as with
 * synchronous=NORMAL, no committed frame waits in memory when the WAL
 * index says it is there; and a write that failed fails that commit.
 * A process killed with frames in a buffer has not committed them:
 * SQLite syncs the WAL before a commit counts (synchronous=FULL), and the
 * sync waits for the buffers first.
 *
 * The database file's writes are buffered only inside a checkpoint's
 * copy (between SQLITE_FCNTL_CKPT_START and SQLITE_FCNTL_CKPT_DONE),
 * where SQLite writes the pages in order.  SQLite ignores what the file
 * control that ends the copy returns, and a partial checkpoint moves the
 * WAL's backfill mark right after it, with no sync in between; so a
 * buffered page write that failed there ends the process (see
 * ckpt_failed), and the WAL, still the authority for those pages, lets
 * the next connection finish the checkpoint.  Any other failed write
 * surfaces at the file's next write, read, sync, truncate or close.
 */
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"

/* Bytes a buffer holds.  SQLite's unix VFS writes at most 128 KiB - 1
 * bytes in one call (it masks the length to 17 bits: 0 bytes written,
 * "disk full", for a 1 MiB buffer), so this stays below that. */
#define WALBUF_CAP ((sqlite3_int64)120 << 10)
/* Buffers a file may have at once (filling, queued, being written): 1.9
 * MiB, enough for the writer to lag a few calls behind. */
#define WALBUF_NBUF 16
#define FRAME_HDR 24 /* a WAL frame header (SQLite's file format) */

typedef struct wfile wfile;

typedef struct wbuf {
  struct wbuf *next; /* in the writer's queue, or a file's spares */
  wfile *f;
  sqlite3_int64 off; /* where data goes in the file */
  sqlite3_int64 len; /* bytes in data */
  unsigned char data[WALBUF_CAP];
} wbuf;

struct wfile {
  sqlite3_file base;
  sqlite3_file *real; /* the default VFS's file, right after this */
  wbuf *cur;          /* filling, or NULL */
  wbuf *spare;        /* written and free (io.mu) */
  int nbuf;           /* buffers allocated (io.mu) */
  _Atomic int pending; /* buffers queued or being written */
  _Atomic int err;     /* the first failed write's code, not yet told */
  int fd;              /* a descriptor to start writeback, or -1 */
  const char *name;    /* the file's path (SQLite keeps it until close) */
  /* A WAL's read-ahead inside a checkpoint's copy (see read_ahead). */
  unsigned char *ra;
  sqlite3_int64 ra_off, ra_len, ra_size;
  unsigned ra_gen;
  bool wal;            /* a WAL, else the main database */
  bool in_ckpt;        /* the database inside a checkpoint's copy */
  bool commit_page;    /* the next write is a commit frame's page */
  char pad[1];
};
_Static_assert(sizeof(wfile) % 8 == 0, "the real file must stay aligned");

static sqlite3_vfs walbuf_vfs;
static sqlite3_vfs *orig_vfs;
static bool registered;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static _Atomic uint64_t nwrites; /* writes passed to the real files */
static _Atomic uint64_t nreads;  /* reads passed to the WALs */

/* The writer thread and its queue, shared by every file. */
static struct {
  pthread_mutex_t mu;
  pthread_cond_t work; /* a buffer was queued */
  pthread_cond_t done; /* a buffer was written */
  wbuf *head, *tail;
} io = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
        PTHREAD_COND_INITIALIZER, NULL, NULL};
static pthread_once_t io_once = PTHREAD_ONCE_INIT;
/* Whether this thread is inside a checkpoint's copy (between the
 * database file's SQLITE_FCNTL_CKPT_START and _DONE), and which one. */
static _Thread_local bool in_copy;
static _Thread_local unsigned copy_gen;
static bool io_running; /* set once, before the first buffer is queued */
static pid_t io_pid;    /* the process the writer runs in */

static void note_err(wfile *f, int rc) {
  int none = SQLITE_OK;
  if (rc != SQLITE_OK)
    atomic_compare_exchange_strong(&f->err, &none, rc);
}

/* The error a write of f met and nobody was told of yet; cleared. */
static int take_err(wfile *f) {
  return atomic_exchange(&f->err, SQLITE_OK);
}

static void *writer_main(void *arg) {
  (void)arg;
  for (;;) {
    pthread_mutex_lock(&io.mu);
    while (!io.head)
      pthread_cond_wait(&io.work, &io.mu);
    wbuf *b = io.head;
    io.head = b->next;
    if (!io.head)
      io.tail = NULL;
    pthread_mutex_unlock(&io.mu);
    wfile *f = b->f;
    int rc = f->real->pMethods->xWrite(f->real, b->data, (int)b->len, b->off);
    atomic_fetch_add_explicit(&nwrites, 1, memory_order_relaxed);
#ifdef SYNC_FILE_RANGE_WRITE
    /* The sync that follows (a commit's, a checkpoint's) then finds the
     * pages on their way. */
    if (rc == SQLITE_OK && f->fd >= 0)
      (void)sync_file_range(f->fd, b->off, b->len, SYNC_FILE_RANGE_WRITE);
#endif
    note_err(f, rc);
    pthread_mutex_lock(&io.mu);
    b->len = 0;
    b->next = f->spare;
    f->spare = b;
    atomic_fetch_sub(&f->pending, 1);
    pthread_cond_broadcast(&io.done);
    pthread_mutex_unlock(&io.mu);
  }
  return NULL;
}

/* Starts the writer with every signal blocked (they are the main
 * thread's); without it, buffers are written where they fill. */
static void io_start(void) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t th;
  pthread_attr_t at;
  if (pthread_attr_init(&at) == 0) {
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    io_running = pthread_create(&th, &at, writer_main, NULL) == 0;
    io_pid = getpid();
    pthread_attr_destroy(&at);
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Hands f's filling buffer to the writer (or writes it, without one). */
static int flush(wfile *f) {
  wbuf *b = f->cur;
  if (!b || b->len == 0)
    return SQLITE_OK;
  f->cur = NULL;
  pthread_once(&io_once, io_start);
  /* A child of fork has no writer: it writes its own files itself (a
   * file it opened; one it inherited is not its to use). */
  if (!io_running || getpid() != io_pid) {
    int rc = f->real->pMethods->xWrite(f->real, b->data, (int)b->len, b->off);
    atomic_fetch_add_explicit(&nwrites, 1, memory_order_relaxed);
    b->len = 0;
    f->cur = b;
    return rc;
  }
  atomic_fetch_add(&f->pending, 1);
  pthread_mutex_lock(&io.mu);
  b->next = NULL;
  if (io.tail)
    io.tail->next = b;
  else
    io.head = b;
  io.tail = b;
  pthread_cond_signal(&io.work);
  pthread_mutex_unlock(&io.mu);
  return SQLITE_OK;
}

/* Hands over f's buffer and waits until the writer has written all of
 * f's; the error a write met stays for the caller to take. */
static int drain(wfile *f) {
  int rc = flush(f);
  if (atomic_load(&f->pending) == 0)
    return rc;
  pthread_mutex_lock(&io.mu);
  while (atomic_load(&f->pending) > 0)
    pthread_cond_wait(&io.done, &io.mu);
  pthread_mutex_unlock(&io.mu);
  return rc;
}

/* drain, then the first error of f's writes (told once). */
static int settle(wfile *f) {
  int rc = drain(f);
  int err = take_err(f);
  return rc != SQLITE_OK ? rc : err;
}

/* A buffer to fill for f: its own, a spare, or a new one while f has
 * fewer than WALBUF_NBUF; else waits for the writer.  NULL when out of
 * memory. */
static wbuf *fill_buf(wfile *f) {
  if (f->cur)
    return f->cur;
  wbuf *b = NULL;
  bool alloc = false;
  pthread_mutex_lock(&io.mu);
  while (!f->spare && f->nbuf >= WALBUF_NBUF)
    pthread_cond_wait(&io.done, &io.mu);
  if (f->spare) {
    b = f->spare;
    f->spare = b->next;
  } else {
    f->nbuf++;
    alloc = true;
  }
  pthread_mutex_unlock(&io.mu);
  if (alloc) {
    b = sqlite3_malloc64(sizeof *b);
    if (!b) {
      pthread_mutex_lock(&io.mu);
      f->nbuf--;
      pthread_mutex_unlock(&io.mu);
      return NULL;
    }
    b->f = f;
  }
  b->len = 0;
  f->cur = b;
  return b;
}

static int w_close(sqlite3_file *p) {
  wfile *f = (wfile *)p;
  int rc = settle(f);
  int rc2 = f->real->pMethods->xClose(f->real);
  wbuf *b = f->cur;
  if (b)
    b->next = f->spare;
  else
    b = f->spare;
  while (b) {
    wbuf *n = b->next;
    sqlite3_free(b);
    b = n;
  }
  f->cur = f->spare = NULL;
  sqlite3_free(f->ra);
  f->ra = NULL;
  if (f->fd >= 0 && f->wal)
    close(f->fd); /* a database's is db_fd's */
  f->fd = -1;
  return rc != SQLITE_OK ? rc : rc2;
}

/*
 * Serves a read of the WAL inside a checkpoint's copy from WALBUF_CAP
 * bytes read at once: the copy reads the frames' pages 4 KiB a call, in
 * the WAL's order for the pages one commit wrote.  Safe there only: the
 * checkpointer holds the WAL's first read lock, so no writer restarts the
 * WAL over the frames it copies, and those frames are committed and do
 * not change; bytes past the file's size at the copy's first read are
 * never served.  False when the read is not so served.
 */
static bool read_ahead(wfile *f, void *out, int n, sqlite3_int64 off) {
  if (!f->wal || !in_copy || n <= 0 || n > WALBUF_CAP / 4)
    return false;
  if (f->ra_gen != copy_gen) {
    f->ra_len = 0;
    f->ra_gen = copy_gen;
    if (f->real->pMethods->xFileSize(f->real, &f->ra_size) != SQLITE_OK)
      f->ra_size = 0;
  }
  if (!(f->ra_len && off >= f->ra_off &&
        off + n <= f->ra_off + f->ra_len)) {
    f->ra_len = 0;
    sqlite3_int64 len = f->ra_size - off;
    if (len > WALBUF_CAP)
      len = WALBUF_CAP;
    if (len < n)
      return false;
    if (!f->ra && !(f->ra = sqlite3_malloc64((sqlite3_uint64)WALBUF_CAP)))
      return false;
    atomic_fetch_add_explicit(&nreads, 1, memory_order_relaxed);
    if (f->real->pMethods->xRead(f->real, f->ra, (int)len, off) != SQLITE_OK)
      return false;
    f->ra_off = off;
    f->ra_len = len;
  }
  memcpy(out, f->ra + (off - f->ra_off), (size_t)n);
  return true;
}

static int w_read(sqlite3_file *p, void *out, int n, sqlite3_int64 off) {
  wfile *f = (wfile *)p;
  int rc = settle(f);
  if (rc != SQLITE_OK)
    return rc;
  if (read_ahead(f, out, n, off))
    return SQLITE_OK;
  if (f->wal)
    atomic_fetch_add_explicit(&nreads, 1, memory_order_relaxed);
  return f->real->pMethods->xRead(f->real, out, n, off);
}

/* A write straight to the file, after those buffered before it. */
static int write_through(wfile *f, const void *data, int n,
                         sqlite3_int64 off) {
  int rc = settle(f);
  if (rc != SQLITE_OK)
    return rc;
  atomic_fetch_add_explicit(&nwrites, 1, memory_order_relaxed);
  return f->real->pMethods->xWrite(f->real, data, n, off);
}

static int w_write(sqlite3_file *p, const void *data, int n,
                   sqlite3_int64 off) {
  wfile *f = (wfile *)p;
  f->ra_len = 0;
  if (!f->wal && !f->in_ckpt)
    return write_through(f, data, n, off);
  bool commit = f->commit_page;
  f->commit_page = false;
  /* A frame header whose second word (the database size after the
   * commit) is not zero starts a commit frame. */
  if (f->wal && n == FRAME_HDR) {
    const unsigned char *h = data;
    f->commit_page = (h[4] | h[5] | h[6] | h[7]) != 0;
  }
  int err = take_err(f);
  if (err != SQLITE_OK)
    return err;
  wbuf *b = f->cur;
  if (b && b->len && (off != b->off + b->len || b->len + n > WALBUF_CAP)) {
    int rc = flush(f);
    if (rc != SQLITE_OK)
      return rc;
  }
  /* A write as large as a buffer, or without one (out of memory),
   * straight through. */
  if (n >= WALBUF_CAP || !(b = fill_buf(f)))
    return write_through(f, data, n, off);
  if (b->len == 0)
    b->off = off;
  memcpy(b->data + b->len, data, (size_t)n);
  b->len += n;
  return commit ? settle(f) : SQLITE_OK;
}

static int w_truncate(sqlite3_file *p, sqlite3_int64 size) {
  wfile *f = (wfile *)p;
  f->ra_len = 0;
  int rc = settle(f);
  return rc != SQLITE_OK ? rc : f->real->pMethods->xTruncate(f->real, size);
}

static int w_sync(sqlite3_file *p, int flags) {
  wfile *f = (wfile *)p;
  int rc = settle(f);
  return rc != SQLITE_OK ? rc : f->real->pMethods->xSync(f->real, flags);
}

static int w_size(sqlite3_file *p, sqlite3_int64 *size) {
  wfile *f = (wfile *)p;
  (void)drain(f);
  return f->real->pMethods->xFileSize(f->real, size);
}

static int w_lock(sqlite3_file *p, int lock) {
  wfile *f = (wfile *)p;
  (void)drain(f);
  return f->real->pMethods->xLock(f->real, lock);
}

static int w_unlock(sqlite3_file *p, int lock) {
  wfile *f = (wfile *)p;
  (void)drain(f);
  return f->real->pMethods->xUnlock(f->real, lock);
}

static int w_reserved(sqlite3_file *p, int *out) {
  wfile *f = (wfile *)p;
  (void)drain(f);
  return f->real->pMethods->xCheckReservedLock(f->real, out);
}

/*
 * A page write of a checkpoint's copy failed after SQLite was told it
 * was done.  SQLite ignores the result of SQLITE_FCNTL_CKPT_DONE, and a
 * partial checkpoint then moves the backfill mark over the page, after
 * which readers take it from the file; so the process ends here, before
 * that, and the WAL keeps the pages for the next checkpoint.
 */
static void ckpt_failed(int rc) {
  fprintf(stderr,
          "custos: a page write of the workspace database's checkpoint "
          "failed (SQLite error %d, %s); stopping before the checkpoint "
          "counts it.  The WAL still holds every page: free disk space or "
          "mend the disk, then run the command again.\n",
          rc, sqlite3_errstr(rc));
  abort();
}

/*
 * A descriptor of the database file at path, to start the writeback of
 * a checkpoint's pages as they are written (the sync that ends the copy
 * then finds them on their way), or -1.  Closing a descriptor of a file
 * releases every lock the process holds on it, SQLite's included, so
 * these are never closed: one per database file the process
 * checkpoints, for the process's life, at most DB_FDS.
 */
#define DB_FDS 16
static struct {
  pthread_mutex_t mu;
  size_t n;
  struct {
    dev_t dev;
    ino_t ino;
    int fd;
  } v[DB_FDS];
} dbfds = {PTHREAD_MUTEX_INITIALIZER, 0, {{0, 0, -1}}};

static int db_fd(const char *path) {
  struct stat st;
  if (!path || stat(path, &st) != 0)
    return -1;
  int fd = -1;
  pthread_mutex_lock(&dbfds.mu);
  for (size_t i = 0; i < dbfds.n && fd < 0; i++)
    if (dbfds.v[i].dev == st.st_dev && dbfds.v[i].ino == st.st_ino)
      fd = dbfds.v[i].fd;
  if (fd < 0 && dbfds.n < DB_FDS) {
    fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat fst;
    if (fd >= 0 && fstat(fd, &fst) == 0) {
      /* Kept under the file it opened, which is not the database's if
       * the path was renamed over meanwhile (then not used). */
      dbfds.v[dbfds.n].dev = fst.st_dev;
      dbfds.v[dbfds.n].ino = fst.st_ino;
      dbfds.v[dbfds.n].fd = fd;
      dbfds.n++;
      if (fst.st_dev != st.st_dev || fst.st_ino != st.st_ino)
        fd = -1;
    } else if (fd >= 0) {
      /* Left open, for the reason above, in a slot of its own that no
       * file matches, so that no more than DB_FDS are ever left. */
      dbfds.v[dbfds.n].dev = 0;
      dbfds.v[dbfds.n].ino = 0;
      dbfds.v[dbfds.n].fd = -1;
      dbfds.n++;
      fd = -1;
    }
  }
  pthread_mutex_unlock(&dbfds.mu);
  return fd;
}

static int w_fcntl(sqlite3_file *p, int op, void *arg) {
  wfile *f = (wfile *)p;
  if (op == SQLITE_FCNTL_CKPT_DONE && f->in_ckpt) {
    f->in_ckpt = false;
    in_copy = false;
    int rc = settle(f);
    if (rc != SQLITE_OK)
      ckpt_failed(rc);
  } else {
    (void)drain(f);
  }
  int rc = f->real->pMethods->xFileControl(f->real, op, arg);
  if (op == SQLITE_FCNTL_CKPT_START && !f->wal) {
    f->in_ckpt = true;
    in_copy = true;
    copy_gen++;
    if (f->fd < 0)
      f->fd = db_fd(f->name);
  }
  return rc;
}

static int w_sector(sqlite3_file *p) {
  wfile *f = (wfile *)p;
  return f->real->pMethods->xSectorSize(f->real);
}

static int w_devchar(sqlite3_file *p) {
  wfile *f = (wfile *)p;
  return f->real->pMethods->xDeviceCharacteristics(f->real);
}

static int w_shm_map(sqlite3_file *p, int pg, int pgsz, int extend,
                     void volatile **out) {
  wfile *f = (wfile *)p;
  (void)drain(f);
  return f->real->pMethods->xShmMap(f->real, pg, pgsz, extend, out);
}

static int w_shm_lock(sqlite3_file *p, int off, int n, int flags) {
  wfile *f = (wfile *)p;
  (void)drain(f);
  return f->real->pMethods->xShmLock(f->real, off, n, flags);
}

static void w_shm_barrier(sqlite3_file *p) {
  wfile *f = (wfile *)p;
  (void)drain(f);
  f->real->pMethods->xShmBarrier(f->real);
}

static int w_shm_unmap(sqlite3_file *p, int del) {
  wfile *f = (wfile *)p;
  (void)drain(f);
  return f->real->pMethods->xShmUnmap(f->real, del);
}

static int w_fetch(sqlite3_file *p, sqlite3_int64 off, int n, void **out) {
  wfile *f = (wfile *)p;
  (void)drain(f);
  return f->real->pMethods->xFetch(f->real, off, n, out);
}

static int w_unfetch(sqlite3_file *p, sqlite3_int64 off, void *ptr) {
  wfile *f = (wfile *)p;
  (void)drain(f);
  return f->real->pMethods->xUnfetch(f->real, off, ptr);
}

static const sqlite3_io_methods wal_methods = {
    .iVersion = 3,
    .xClose = w_close,
    .xRead = w_read,
    .xWrite = w_write,
    .xTruncate = w_truncate,
    .xSync = w_sync,
    .xFileSize = w_size,
    .xLock = w_lock,
    .xUnlock = w_unlock,
    .xCheckReservedLock = w_reserved,
    .xFileControl = w_fcntl,
    .xSectorSize = w_sector,
    .xDeviceCharacteristics = w_devchar,
    .xShmMap = w_shm_map,
    .xShmLock = w_shm_lock,
    .xShmBarrier = w_shm_barrier,
    .xShmUnmap = w_shm_unmap,
    .xFetch = w_fetch,
    .xUnfetch = w_unfetch,
};

/* A WAL or a main database is the default VFS's file behind a wfile,
 * unless its methods are older than the ones forwarded here; every other
 * file is the default VFS's own, opened in place (the space SQLite gives
 * is at least what that VFS needs). */
static int w_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *p,
                  int flags, int *out_flags) {
  (void)vfs;
  if (!(flags & (SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_DB)))
    return orig_vfs->xOpen(orig_vfs, name, p, flags, out_flags);
  wfile *f = (wfile *)p;
  memset(f, 0, sizeof *f);
  f->fd = -1;
  f->name = name;
  f->wal = (flags & SQLITE_OPEN_WAL) != 0;
  f->real = (sqlite3_file *)(f + 1);
  int rc = orig_vfs->xOpen(orig_vfs, name, f->real, flags, out_flags);
  if (rc != SQLITE_OK)
    return rc; /* base.pMethods stays NULL: no xClose */
  if (f->real->pMethods->iVersion < 3) {
    f->real->pMethods->xClose(f->real);
    return orig_vfs->xOpen(orig_vfs, name, p, flags, out_flags);
  }
  /* A descriptor of the WAL's own, only to start writing its pages back
   * early (closing it releases no lock: SQLite locks the database and the
   * shared memory, never the WAL). */
  if (f->wal && name)
    f->fd = open(name, O_RDONLY | O_CLOEXEC);
  f->base.pMethods = &wal_methods;
  return SQLITE_OK;
}

/* A fork while another thread holds one of the locks here would leave
 * the child a lock nobody releases: fork waits for them. */
static void fork_prepare(void) {
  pthread_mutex_lock(&io.mu);
  pthread_mutex_lock(&dbfds.mu);
}

static void fork_release(void) {
  pthread_mutex_unlock(&dbfds.mu);
  pthread_mutex_unlock(&io.mu);
}

static void register_vfs(void) {
  (void)pthread_atfork(fork_prepare, fork_release, fork_release);
  orig_vfs = sqlite3_vfs_find(NULL);
  if (!orig_vfs)
    return;
  walbuf_vfs = *orig_vfs;
  walbuf_vfs.pNext = NULL;
  walbuf_vfs.zName = CU_WS_VFS;
  /* wfile is a multiple of 8 bytes, so the real file stays aligned. */
  walbuf_vfs.szOsFile = (int)sizeof(wfile) + orig_vfs->szOsFile;
  walbuf_vfs.xOpen = w_open;
  registered = sqlite3_vfs_register(&walbuf_vfs, 0) == SQLITE_OK;
}

const char *cu_ws_vfs(void) {
  pthread_once(&once, register_vfs);
  return registered ? CU_WS_VFS : NULL;
}

uint64_t cu_ws_vfs_writes(void) {
  return atomic_load_explicit(&nwrites, memory_order_relaxed);
}

uint64_t cu_ws_vfs_wal_reads(void) {
  return atomic_load_explicit(&nreads, memory_order_relaxed);
}
