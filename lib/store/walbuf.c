/*
 * A VFS for the workspace database that gathers the writes of its WAL
 * into large ones.  SQLite writes each WAL frame as two calls, a 24-byte
 * header and then the page, so a large commit made two pwrite calls per
 * 4 KiB, each leaving a partly written page-cache page that the kernel
 * first zeroes.  This VFS passes everything to SQLite's default VFS but
 * keeps consecutive WAL writes in a buffer (WALBUF_CAP) and writes them
 * as one call.  The file on disk is the same; only the calls differ.
 *
 * The buffer is written out before anything that could look at the file:
 * a read, a sync, a truncate, a size, a file control, the close, a write
 * that does not follow on, and the write of a commit frame's page (so
 * that even without a sync at commit, as with synchronous=NORMAL, no
 * committed frame waits in memory when the WAL index says it is there).
 * A process killed with frames in the buffer has not committed them:
 * SQLite syncs the WAL before a commit counts (synchronous=FULL), and the
 * sync writes the buffer first.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "store.h"

/* Bytes held per WAL file.  SQLite's unix VFS writes at most 128 KiB - 1
 * bytes in one call (it masks the length to 17 bits: 0 bytes written,
 * "disk full", for a 1 MiB buffer), so this stays below that. */
#define WALBUF_CAP ((sqlite3_int64)120 << 10)
#define FRAME_HDR 24 /* a WAL frame header (SQLite's file format) */

typedef struct wfile {
  sqlite3_file base;
  sqlite3_file *real;  /* the default VFS's file, right after this */
  unsigned char *buf;  /* WALBUF_CAP bytes once a write needed it */
  sqlite3_int64 off;   /* where buf's bytes go in the file */
  sqlite3_int64 len;   /* bytes in buf */
  bool commit_page;    /* the next write is a commit frame's page */
} wfile;
_Static_assert(sizeof(wfile) % 8 == 0, "the real file must stay aligned");

static sqlite3_vfs walbuf_vfs;
static sqlite3_vfs *orig_vfs;
static bool registered;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static _Atomic uint64_t nwrites; /* writes passed to the real files */

static int flush(wfile *f) {
  if (f->len == 0)
    return SQLITE_OK;
  int rc = f->real->pMethods->xWrite(f->real, f->buf, (int)f->len, f->off);
  atomic_fetch_add_explicit(&nwrites, 1, memory_order_relaxed);
  f->len = 0;
  return rc;
}

static int w_close(sqlite3_file *p) {
  wfile *f = (wfile *)p;
  int rc = flush(f);
  int rc2 = f->real->pMethods->xClose(f->real);
  sqlite3_free(f->buf);
  f->buf = NULL;
  return rc != SQLITE_OK ? rc : rc2;
}

static int w_read(sqlite3_file *p, void *out, int n, sqlite3_int64 off) {
  wfile *f = (wfile *)p;
  int rc = flush(f);
  if (rc != SQLITE_OK)
    return rc;
  return f->real->pMethods->xRead(f->real, out, n, off);
}

static int w_write(sqlite3_file *p, const void *data, int n,
                   sqlite3_int64 off) {
  wfile *f = (wfile *)p;
  bool commit = f->commit_page;
  f->commit_page = false;
  /* A frame header whose second word (the database size after the
   * commit) is not zero starts a commit frame. */
  if (n == FRAME_HDR) {
    const unsigned char *h = data;
    f->commit_page = (h[4] | h[5] | h[6] | h[7]) != 0;
  }
  if (f->len && (off != f->off + f->len || f->len + n > WALBUF_CAP)) {
    int rc = flush(f);
    if (rc != SQLITE_OK)
      return rc;
  }
  if (!f->buf && n < WALBUF_CAP)
    f->buf = sqlite3_malloc64((sqlite3_uint64)WALBUF_CAP);
  if (!f->buf || n >= WALBUF_CAP) {
    /* Without a buffer (out of memory) or for a write as large as it,
     * straight through. */
    atomic_fetch_add_explicit(&nwrites, 1, memory_order_relaxed);
    return f->real->pMethods->xWrite(f->real, data, n, off);
  }
  if (f->len == 0)
    f->off = off;
  memcpy(f->buf + f->len, data, (size_t)n);
  f->len += n;
  return commit ? flush(f) : SQLITE_OK;
}

static int w_truncate(sqlite3_file *p, sqlite3_int64 size) {
  wfile *f = (wfile *)p;
  int rc = flush(f);
  return rc != SQLITE_OK ? rc : f->real->pMethods->xTruncate(f->real, size);
}

static int w_sync(sqlite3_file *p, int flags) {
  wfile *f = (wfile *)p;
  int rc = flush(f);
  return rc != SQLITE_OK ? rc : f->real->pMethods->xSync(f->real, flags);
}

static int w_size(sqlite3_file *p, sqlite3_int64 *size) {
  wfile *f = (wfile *)p;
  int rc = flush(f);
  return rc != SQLITE_OK ? rc : f->real->pMethods->xFileSize(f->real, size);
}

static int w_lock(sqlite3_file *p, int lock) {
  wfile *f = (wfile *)p;
  return f->real->pMethods->xLock(f->real, lock);
}

static int w_unlock(sqlite3_file *p, int lock) {
  wfile *f = (wfile *)p;
  return f->real->pMethods->xUnlock(f->real, lock);
}

static int w_reserved(sqlite3_file *p, int *out) {
  wfile *f = (wfile *)p;
  return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int w_fcntl(sqlite3_file *p, int op, void *arg) {
  wfile *f = (wfile *)p;
  int rc = flush(f);
  return rc != SQLITE_OK ? rc
                         : f->real->pMethods->xFileControl(f->real, op, arg);
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
  return f->real->pMethods->xShmMap(f->real, pg, pgsz, extend, out);
}

static int w_shm_lock(sqlite3_file *p, int off, int n, int flags) {
  wfile *f = (wfile *)p;
  return f->real->pMethods->xShmLock(f->real, off, n, flags);
}

static void w_shm_barrier(sqlite3_file *p) {
  wfile *f = (wfile *)p;
  f->real->pMethods->xShmBarrier(f->real);
}

static int w_shm_unmap(sqlite3_file *p, int del) {
  wfile *f = (wfile *)p;
  return f->real->pMethods->xShmUnmap(f->real, del);
}

static int w_fetch(sqlite3_file *p, sqlite3_int64 off, int n, void **out) {
  wfile *f = (wfile *)p;
  int rc = flush(f);
  return rc != SQLITE_OK ? rc
                         : f->real->pMethods->xFetch(f->real, off, n, out);
}

static int w_unfetch(sqlite3_file *p, sqlite3_int64 off, void *ptr) {
  wfile *f = (wfile *)p;
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

/* Every file but a WAL is the default VFS's own, opened in place (the
 * space SQLite gives is at least what that VFS needs).  A WAL is the
 * default VFS's file behind a wfile, unless its methods are older than
 * the ones forwarded here. */
static int w_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *p,
                  int flags, int *out_flags) {
  (void)vfs;
  if (!(flags & SQLITE_OPEN_WAL))
    return orig_vfs->xOpen(orig_vfs, name, p, flags, out_flags);
  wfile *f = (wfile *)p;
  memset(f, 0, sizeof *f);
  f->real = (sqlite3_file *)(f + 1);
  int rc = orig_vfs->xOpen(orig_vfs, name, f->real, flags, out_flags);
  if (rc != SQLITE_OK)
    return rc; /* base.pMethods stays NULL: no xClose */
  if (f->real->pMethods->iVersion < 3) {
    f->real->pMethods->xClose(f->real);
    return orig_vfs->xOpen(orig_vfs, name, p, flags, out_flags);
  }
  f->base.pMethods = &wal_methods;
  return SQLITE_OK;
}

static void register_vfs(void) {
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
