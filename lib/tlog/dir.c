/*
 * The log folder in C2SP tlog-tiles layout: group commit of a batch of
 * entries (tiles, entry bundles, partials, then the signed checkpoint, each
 * file written to a temporary sibling, fsynced and renamed, directories
 * fsynced), reading entries and subtree hashes back, verification of a whole
 * folder without a database, and repair after a crash.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tlog.h"

#define LEVELS 8 /* 256^8 = 2^64 leaves */
#define BATCH_MAX_BYTES (256u << 20)
#define BUNDLE_MAX ((size_t)CU_LOG_TILE_WIDTH * (2 + CU_LOG_ENTRY_MAX))
#define REL_MAX 96

/* ---- fault injection -------------------------------------------------- */

static long fail_after = -1;

void cu_log_fail_io_after(long n) { fail_after = n; }

/* One write, fsync or rename step; false when the test hook fails it. */
static bool io_step(void) {
  if (fail_after < 0)
    return true;
  if (fail_after == 0)
    return false;
  fail_after--;
  return true;
}

static custos_rc io_error(custos_diag *d, const char *path, const char *what,
                          int e) {
  cu_diag_at(d, path, 0, 0);
  cu_diag_hint(d, "the log keeps its last checkpoint; fix the disk, then run "
                  "`custos log fsck`");
  return cu_diag_set(d, e == ENOENT ? CUSTOS_ENOTFOUND : CUSTOS_EIO, "%s: %s",
                     what, strerror(e));
}

/* ---- the right edge of the tree --------------------------------------- */

/* x >> s for any s (a shift by 64 or more is 0, not undefined). */
static uint64_t shr(uint64_t x, unsigned s) { return s >= 64 ? 0 : x >> s; }

/* The hashes of the current (partial) tile at every level. */
typedef struct builder {
  uint64_t size;
  unsigned w[LEVELS];
  cu_log_hash h[LEVELS][CU_LOG_TILE_WIDTH];
} builder;

/* MTH of count (a power of two) consecutive hashes. */
static void perfect_root(const cu_log_hash *h, unsigned count, uint8_t out[32]) {
  cu_log_hash tmp[CU_LOG_TILE_WIDTH / 2];
  if (count == 1) {
    memcpy(out, h[0].b, 32);
    return;
  }
  for (unsigned i = 0; i < count / 2; i++)
    cu_log_node_hash(h[2 * i].b, h[2 * i + 1].b, tmp[i].b);
  for (unsigned n = count / 2; n > 1; n /= 2)
    for (unsigned i = 0; i < n / 2; i++)
      cu_log_node_hash(tmp[2 * i].b, tmp[2 * i + 1].b, tmp[i].b);
  memcpy(out, tmp[0].b, 32);
}

typedef custos_rc (*full_fn)(void *ctx, int level, uint64_t index,
                             const cu_log_hash *h, custos_diag *d);

/* Adds a leaf; on_full sees every tile that becomes full. */
static custos_rc builder_push(builder *b, const uint8_t leaf[32],
                              full_fn on_full, void *ctx, custos_diag *d) {
  uint8_t cur[32];
  memcpy(cur, leaf, 32);
  for (int t = 0; t < LEVELS; t++) {
    memcpy(b->h[t][b->w[t]++].b, cur, 32);
    if (b->w[t] < CU_LOG_TILE_WIDTH)
      break;
    uint64_t k = shr(b->size, 8u * (unsigned)(t + 1));
    custos_rc rc = on_full(ctx, t, k, b->h[t], d);
    if (rc != CUSTOS_OK)
      return rc;
    perfect_root(b->h[t], CU_LOG_TILE_WIDTH, cur);
    b->w[t] = 0;
  }
  b->size++;
  return CUSTOS_OK;
}

/* The root of the tree the builder describes. */
static void builder_root(const builder *b, uint8_t out[32]) {
  cu_log_hash piece[LEVELS * 8];
  unsigned np = 0;
  if (b->size == 0) {
    cu_log_empty_root(out);
    return;
  }
  for (int t = LEVELS - 1; t >= 0; t--) {
    unsigned off = 0;
    for (int bit = 7; bit >= 0; bit--)
      if (b->w[t] & (1u << bit)) {
        perfect_root(b->h[t] + off, 1u << bit, piece[np++].b);
        off += 1u << bit;
      }
  }
  uint8_t acc[32];
  memcpy(acc, piece[np - 1].b, 32);
  for (unsigned i = np - 1; i-- > 0;)
    cu_log_node_hash(piece[i].b, acc, acc);
  memcpy(out, acc, 32);
}

/* Width of the edge tile of level t (-1: entries) at size n, and its
 * index. */
static unsigned edge_width(uint64_t n, int t, uint64_t *k) {
  int l = t < 0 ? 0 : t;
  *k = shr(n, 8u * (unsigned)(l + 1));
  return (unsigned)((n >> (8 * l)) & 255);
}

/* ---- small file helpers ----------------------------------------------- */

static custos_rc read_file_into(const char *path, uint8_t *buf, size_t cap,
                                size_t *len, custos_diag *d) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return io_error(d, path, "cannot open", errno);
  size_t n = 0;
  for (;;) {
    if (n == cap) {
      char extra;
      ssize_t r = read(fd, &extra, 1);
      close(fd);
      if (r != 0) {
        cu_diag_at(d, path, 0, 0);
        return cu_diag_set(d, CUSTOS_EVERIFY, "file is larger than expected");
      }
      break;
    }
    ssize_t r = read(fd, buf + n, cap - n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      int e = errno;
      close(fd);
      return io_error(d, path, "cannot read", e);
    }
    if (r == 0) {
      close(fd);
      break;
    }
    n += (size_t)r;
  }
  *len = n;
  return CUSTOS_OK;
}

static custos_rc join(char *out, size_t n, const char *dir, const char *rel,
                      custos_diag *d) {
  int k = snprintf(out, n, "%s/%s", dir, rel);
  if (k < 0 || (size_t)k >= n)
    return cu_diag_set(d, CUSTOS_EINVAL, "path too long: %s/%s", dir, rel);
  return CUSTOS_OK;
}

/* Writes data to path through a temporary sibling that is fsynced and
 * renamed into place.  The caller fsyncs the directory. */
static custos_rc write_file(const char *path, const void *data, size_t n,
                            unsigned mode, custos_diag *d) {
  char tmp[PATH_MAX + 32];
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
  if (fd < 0)
    return io_error(d, tmp, "cannot create", errno);
  const char *p = data;
  size_t left = n;
  while (left > 0) {
    ssize_t w = io_step() ? write(fd, p, left) : (errno = EIO, -1);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0) {
      int e = w < 0 ? errno : EIO;
      close(fd);
      return io_error(d, tmp, "cannot write", e);
    }
    p += w;
    left -= (size_t)w;
  }
  /* An fsync error is final: the kernel may have dropped the pages, so the
   * batch fails and nothing is retried on this descriptor. */
  int e = 0;
  if (!io_step())
    e = EIO;
  else if (fsync(fd) != 0)
    e = errno;
  if (e) {
    close(fd);
    return io_error(d, tmp, "cannot fsync", e);
  }
  if (close(fd) != 0)
    return io_error(d, tmp, "cannot close", errno);
  if (!io_step())
    e = EIO;
  else if (rename(tmp, path) != 0)
    e = errno;
  if (e)
    return io_error(d, path, "cannot rename into place", e);
  return CUSTOS_OK;
}

static custos_rc sync_dir(const char *path, custos_diag *d) {
  if (!io_step())
    return io_error(d, path, "cannot fsync directory", EIO);
  return cu_fsync_dir(path, d);
}

/* ---- the handle ------------------------------------------------------- */

typedef struct pfile {
  char rel[REL_MAX];
  uint8_t *data;
  size_t len;
} pfile;

typedef struct cached_tile {
  int level;
  uint64_t index;
  unsigned w; /* 0: empty slot */
  cu_log_hash h[CU_LOG_TILE_WIDTH];
} cached_tile;

struct cu_log_dir {
  char dir[PATH_MAX];
  cu_log_vkey vkey;
  cu_log_checkpoint cp;
  char *note;
  bool failed;
  builder *b; /* loaded on the first append */
  cu_buf bundle;
  unsigned bundle_w;
  pfile *files;
  size_t nfiles, capfiles, pending_bytes;
  cached_tile cache[4];
  unsigned cache_next;
};

const cu_log_checkpoint *cu_log_dir_checkpoint(const cu_log_dir *ld) {
  return &ld->cp;
}

const char *cu_log_dir_checkpoint_note(const cu_log_dir *ld) {
  return ld->note;
}

uint64_t cu_log_dir_pending_size(const cu_log_dir *ld) {
  return ld->b ? ld->b->size : ld->cp.size;
}

static void drop_files(cu_log_dir *ld) {
  for (size_t i = 0; i < ld->nfiles; i++)
    cu_free(ld->files[i].data);
  ld->nfiles = 0;
  ld->pending_bytes = 0;
}

void cu_log_dir_close(cu_log_dir *ld) {
  if (!ld)
    return;
  drop_files(ld);
  cu_free(ld->files);
  cu_free(ld->b);
  cu_buf_free(&ld->bundle);
  cu_free(ld->note);
  cu_free(ld);
}

/* Reads and verifies dir/checkpoint. */
static custos_rc read_checkpoint(const char *dir, const cu_log_vkey *vkey,
                                 const cu_log_vkey *wit, size_t nwit,
                                 cu_log_checkpoint *cp, char **note_out,
                                 custos_diag *d) {
  char path[PATH_MAX];
  custos_rc rc = join(path, sizeof path, dir, "checkpoint", d);
  if (rc != CUSTOS_OK)
    return rc;
  char *note = NULL;
  size_t n = 0;
  rc = cu_file_read(path, CU_LOG_NOTE_MAX, &note, &n, d);
  if (rc == CUSTOS_ENOTFOUND)
    cu_diag_hint(d, "this folder holds no tlog-tiles log (no checkpoint)");
  if (rc != CUSTOS_OK)
    return rc;
  rc = cu_log_checkpoint_open(note, n, vkey, wit, nwit, cp, d);
  if (rc != CUSTOS_OK) {
    cu_diag_at(d, path, d ? d->line : 0, 0);
    cu_free(note);
    return rc;
  }
  if (note_out)
    *note_out = note;
  else
    cu_free(note);
  return CUSTOS_OK;
}

custos_rc cu_log_dir_open(const char *dir, const cu_log_vkey *vkey,
                          cu_log_dir **out, custos_diag *d) {
  *out = NULL;
  cu_log_dir *ld = cu_calloc(1, sizeof *ld);
  if (!ld)
    return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory opening the log");
  int k = snprintf(ld->dir, sizeof ld->dir, "%s", dir);
  custos_rc rc = CUSTOS_OK;
  if (k < 0 || (size_t)k >= sizeof ld->dir) {
    rc = cu_diag_set(d, CUSTOS_EINVAL, "log path too long");
    goto fail;
  }
  ld->vkey = *vkey;
  cu_buf_init(&ld->bundle, BUNDLE_MAX);
  rc = read_checkpoint(dir, vkey, NULL, 0, &ld->cp, &ld->note, d);
  if (rc != CUSTOS_OK)
    goto fail;
  *out = ld;
  return CUSTOS_OK;
fail:
  cu_log_dir_close(ld);
  return rc;
}

/* Publishes a signed checkpoint for cp: temporary file, fsync, rename,
 * fsync of the folder. */
static custos_rc publish(const char *dir, const cu_log_checkpoint *cp,
                         const cu_log_skey *key, char **note_out,
                         custos_diag *d) {
  cu_buf text, note;
  cu_buf_init(&text, 4096);
  cu_buf_init(&note, 8192);
  char path[PATH_MAX];
  custos_rc rc = cu_log_checkpoint_text(cp, &text);
  if (rc == CUSTOS_OK)
    rc = cu_log_note_sign(text.data, text.len, key, 0, &note, d);
  if (rc == CUSTOS_OK)
    rc = join(path, sizeof path, dir, "checkpoint", d);
  if (rc == CUSTOS_OK)
    rc = write_file(path, note.data, note.len, 0644, d);
  if (rc == CUSTOS_OK)
    rc = sync_dir(dir, d);
  if (rc == CUSTOS_OK && note_out) {
    *note_out = cu_buf_take(&note);
    if (!*note_out)
      rc = cu_diag_set(d, CUSTOS_ENOMEM, "out of memory");
  }
  cu_buf_free(&text);
  cu_buf_free(&note);
  return rc;
}

custos_rc cu_log_dir_init(const char *dir, const cu_log_skey *key,
                          custos_diag *d) {
  char path[PATH_MAX];
  custos_rc rc = join(path, sizeof path, dir, "tile", d);
  if (rc == CUSTOS_OK)
    rc = cu_mkdirs(path, 0755, d);
  if (rc == CUSTOS_OK)
    rc = join(path, sizeof path, dir, "checkpoint", d);
  if (rc != CUSTOS_OK)
    return rc;
  struct stat sb;
  if (stat(path, &sb) == 0)
    return CUSTOS_OK;
  cu_log_checkpoint cp;
  memset(&cp, 0, sizeof cp);
  snprintf(cp.origin, sizeof cp.origin, "%s", key->pub.name);
  cu_log_empty_root(cp.root);
  return publish(dir, &cp, key, NULL, d);
}

/* ---- reading tiles ---------------------------------------------------- */

/* The committed tile (level t, index k) with at least need hashes: the full
 * tile below the edge, the edge's partial tile at the checkpoint size. */
static custos_rc read_tile(cu_log_dir *ld, int t, uint64_t k, unsigned need,
                           const cu_log_hash **out, custos_diag *d) {
  for (unsigned i = 0; i < CU_ARRAY_LEN(ld->cache); i++) {
    cached_tile *c = &ld->cache[i];
    if (c->w && c->level == t && c->index == k && c->w >= need) {
      *out = c->h;
      return CUSTOS_OK;
    }
  }
  uint64_t ek;
  unsigned ew = edge_width(ld->cp.size, t, &ek);
  unsigned w = k < ek ? CU_LOG_TILE_WIDTH : (k == ek ? ew : 0);
  if (w < need || w == 0)
    return cu_diag_set(d, CUSTOS_EINVAL,
                       "tile %d/%" PRIu64 " is beyond the checkpoint", t, k);
  char rel[REL_MAX], path[PATH_MAX];
  custos_rc rc = cu_log_tile_path(rel, sizeof rel, t, k, w);
  if (rc == CUSTOS_OK)
    rc = join(path, sizeof path, ld->dir, rel, d);
  if (rc != CUSTOS_OK)
    return rc;
  cached_tile *c = &ld->cache[ld->cache_next++ % CU_ARRAY_LEN(ld->cache)];
  c->w = 0;
  size_t len = 0;
  rc = read_file_into(path, (uint8_t *)c->h, sizeof c->h, &len, d);
  if (rc != CUSTOS_OK)
    return rc;
  if (len != (size_t)w * 32) {
    cu_diag_at(d, path, 0, 0);
    cu_diag_hint(d, "run `custos log fsck`; restore the log from a backup if "
                    "it persists");
    return cu_diag_set(d, CUSTOS_EVERIFY, "tile has %zu bytes, expected %u",
                       len, w * 32);
  }
  c->level = t;
  c->index = k;
  c->w = w;
  *out = c->h;
  return CUSTOS_OK;
}

custos_rc cu_log_dir_node(void *ctx, unsigned level, uint64_t index,
                          uint8_t out[32], custos_diag *d) {
  cu_log_dir *ld = ctx;
  if (level >= 64 || index >= (ld->cp.size >> level))
    return cu_diag_set(d, CUSTOS_EINVAL, "subtree %u/%" PRIu64
                                         " is beyond the checkpoint",
                       level, index);
  int t = (int)(level / 8);
  unsigned r = level % 8;
  uint64_t first = index << r;
  const cu_log_hash *h;
  custos_rc rc = read_tile(ld, t, first >> 8, (unsigned)(first & 255) + (1u << r),
                           &h, d);
  if (rc != CUSTOS_OK)
    return rc;
  perfect_root(h + (first & 255), 1u << r, out);
  return CUSTOS_OK;
}

/* Splits a bundle into its entries: off[i], len[i] for i < w; EVERIFY when
 * it does not hold exactly w entries. */
static custos_rc split_bundle(const uint8_t *p, size_t n, unsigned w,
                              size_t *off, size_t *len, const char *path,
                              custos_diag *d) {
  size_t pos = 0;
  for (unsigned i = 0; i < w; i++) {
    if (n - pos < 2)
      goto bad;
    size_t l = (size_t)p[pos] << 8 | p[pos + 1];
    pos += 2;
    if (n - pos < l)
      goto bad;
    off[i] = pos;
    len[i] = l;
    pos += l;
  }
  if (pos == n)
    return CUSTOS_OK;
bad:
  cu_diag_at(d, path, 0, 0);
  cu_diag_hint(d, "run `custos log fsck`; restore the log from a backup if "
                  "it persists");
  return cu_diag_set(d, CUSTOS_EVERIFY,
                     "entry bundle does not hold exactly %u entries", w);
}

/* Reads the committed bundle k into a new buffer (*data, caller frees). */
static custos_rc read_bundle(const char *dir, uint64_t size, uint64_t k,
                             uint8_t **data, size_t *n, unsigned *w,
                             char *path, size_t pathn, custos_diag *d) {
  uint64_t ek;
  unsigned ew = edge_width(size, -1, &ek);
  *w = k < ek ? CU_LOG_TILE_WIDTH : (k == ek ? ew : 0);
  if (*w == 0)
    return cu_diag_set(d, CUSTOS_ENOTFOUND, "entry bundle %" PRIu64
                                            " is beyond the checkpoint", k);
  char rel[REL_MAX];
  custos_rc rc = cu_log_tile_path(rel, sizeof rel, -1, k, *w);
  if (rc == CUSTOS_OK)
    rc = join(path, pathn, dir, rel, d);
  if (rc != CUSTOS_OK)
    return rc;
  char *buf = NULL;
  rc = cu_file_read(path, BUNDLE_MAX, &buf, n, d);
  *data = (uint8_t *)buf;
  return rc;
}

custos_rc cu_log_dir_entry(cu_log_dir *ld, uint64_t index, cu_buf *out,
                           custos_diag *d) {
  if (index >= ld->cp.size) {
    cu_diag_hint(d, "the log holds %" PRIu64 " entries", ld->cp.size);
    return cu_diag_set(d, CUSTOS_ENOTFOUND, "no entry %" PRIu64, index);
  }
  uint8_t *data = NULL;
  size_t n = 0, off[CU_LOG_TILE_WIDTH], len[CU_LOG_TILE_WIDTH];
  unsigned w;
  char path[PATH_MAX];
  custos_rc rc = read_bundle(ld->dir, ld->cp.size, index >> 8, &data, &n, &w,
                             path, sizeof path, d);
  if (rc == CUSTOS_OK)
    rc = split_bundle(data, n, w, off, len, path, d);
  const cu_log_hash *tile = NULL;
  if (rc == CUSTOS_OK)
    rc = read_tile(ld, 0, index >> 8, (unsigned)(index & 255) + 1, &tile, d);
  if (rc == CUSTOS_OK) {
    unsigned i = (unsigned)(index & 255);
    uint8_t h[32];
    cu_log_leaf_hash(data + off[i], len[i], h);
    if (memcmp(h, tile[i].b, 32) != 0) {
      cu_diag_at(d, path, 0, 0);
      rc = cu_diag_set(d, CUSTOS_EVERIFY,
                       "entry %" PRIu64 " does not match its leaf hash", index);
    } else {
      cu_buf_reset(out);
      rc = cu_buf_append(out, data + off[i], len[i]);
    }
  }
  cu_free(data);
  return rc;
}

/* ---- appending -------------------------------------------------------- */

static custos_rc add_file(cu_log_dir *ld, int level, uint64_t index,
                          unsigned width, const void *data, size_t n,
                          custos_diag *d) {
  if (ld->nfiles == ld->capfiles) {
    size_t nc = ld->capfiles ? ld->capfiles * 2 : 64;
    pfile *p = cu_realloc(ld->files, nc * sizeof *p);
    if (!p)
      return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory in a log batch");
    ld->files = p;
    ld->capfiles = nc;
  }
  pfile *f = &ld->files[ld->nfiles];
  if (cu_log_tile_path(f->rel, sizeof f->rel, level, index, width) !=
      CUSTOS_OK)
    return cu_diag_set(d, CUSTOS_EINTERNAL, "tile path");
  f->data = cu_malloc(n ? n : 1);
  if (!f->data)
    return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory in a log batch");
  memcpy(f->data, data, n);
  f->len = n;
  ld->nfiles++;
  ld->pending_bytes += n;
  return CUSTOS_OK;
}

static custos_rc tile_full(void *ctx, int level, uint64_t index,
                           const cu_log_hash *h, custos_diag *d) {
  return add_file(ctx, level, index, 0, h, CU_LOG_TILE_WIDTH * 32, d);
}

/* Loads the edge tiles and the edge bundle of the committed tree. */
static custos_rc load_edge(cu_log_dir *ld, custos_diag *d) {
  builder *b = cu_calloc(1, sizeof *b);
  if (!b)
    return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory opening the log");
  uint64_t n = ld->cp.size;
  custos_rc rc = CUSTOS_OK;
  b->size = n;
  for (int t = 0; t < LEVELS && (n >> (8 * t)) > 0 && rc == CUSTOS_OK; t++) {
    uint64_t k;
    unsigned w = edge_width(n, t, &k);
    const cu_log_hash *h;
    if (w == 0)
      continue;
    rc = read_tile(ld, t, k, w, &h, d);
    if (rc == CUSTOS_OK) {
      memcpy(b->h[t], h, w * sizeof *h);
      b->w[t] = w;
    }
  }
  cu_buf_reset(&ld->bundle);
  ld->bundle_w = 0;
  if (rc == CUSTOS_OK && (n & 255)) {
    uint8_t *data = NULL;
    size_t len = 0, off[CU_LOG_TILE_WIDTH], el[CU_LOG_TILE_WIDTH];
    unsigned w;
    char path[PATH_MAX];
    rc = read_bundle(ld->dir, n, n >> 8, &data, &len, &w, path, sizeof path,
                     d);
    if (rc == CUSTOS_OK)
      rc = split_bundle(data, len, w, off, el, path, d);
    for (unsigned i = 0; rc == CUSTOS_OK && i < w; i++) {
      uint8_t h[32];
      cu_log_leaf_hash(data + off[i], el[i], h);
      if (memcmp(h, b->h[0][i].b, 32) != 0) {
        cu_diag_at(d, path, 0, 0);
        rc = cu_diag_set(d, CUSTOS_EVERIFY,
                         "entry bundle does not match its tile");
      }
    }
    if (rc == CUSTOS_OK)
      rc = cu_buf_append(&ld->bundle, data, len);
    ld->bundle_w = w;
    cu_free(data);
  }
  if (rc != CUSTOS_OK) {
    cu_free(b);
    return rc;
  }
  ld->b = b;
  return CUSTOS_OK;
}

static custos_rc refuse_failed(custos_diag *d) {
  cu_diag_hint(d, "open the log again; it keeps its last checkpoint");
  return cu_diag_set(d, CUSTOS_EIO, "an earlier log write failed");
}

custos_rc cu_log_dir_append(cu_log_dir *ld, const void *entry, size_t n,
                            custos_diag *d) {
  if (ld->failed)
    return refuse_failed(d);
  if (n > CU_LOG_ENTRY_MAX)
    return cu_diag_set(d, CUSTOS_ETOOBIG, "log entry of %zu bytes is larger "
                                          "than 65535", n);
  if (ld->pending_bytes + ld->bundle.len + n > BATCH_MAX_BYTES)
    return cu_diag_set(d, CUSTOS_ETOOBIG, "log batch is full; commit first");
  custos_rc rc = CUSTOS_OK;
  if (!ld->b)
    rc = load_edge(ld, d);
  if (rc != CUSTOS_OK)
    return rc;
  uint8_t leaf[32];
  uint8_t len[2] = {(uint8_t)(n >> 8), (uint8_t)n};
  uint64_t index = ld->b->size;
  cu_log_leaf_hash(entry, n, leaf);
  size_t mark = ld->bundle.len;
  rc = cu_buf_append(&ld->bundle, len, 2);
  if (rc == CUSTOS_OK)
    rc = cu_buf_append(&ld->bundle, entry, n);
  if (rc == CUSTOS_OK && ld->bundle_w + 1 == CU_LOG_TILE_WIDTH)
    rc = add_file(ld, -1, index >> 8, 0, ld->bundle.data, ld->bundle.len, d);
  if (rc == CUSTOS_OK)
    rc = builder_push(ld->b, leaf, tile_full, ld, d);
  if (rc != CUSTOS_OK) {
    /* The builder may be half-updated: poison the handle. */
    ld->failed = true;
    ld->bundle.len = mark;
    return cu_diag_set(d, rc == CUSTOS_ENOMEM ? rc : rc,
                       "cannot append to the log batch");
  }
  if (++ld->bundle_w == CU_LOG_TILE_WIDTH) {
    cu_buf_reset(&ld->bundle);
    ld->bundle_w = 0;
  }
  return CUSTOS_OK;
}

/* Adds dir and its ancestors below root to the set of folders to fsync. */
static custos_rc note_dirs(char (*dirs)[REL_MAX], size_t *nd, size_t cap,
                           const char *rel) {
  char tmp[REL_MAX];
  snprintf(tmp, sizeof tmp, "%s", rel);
  for (char *s = strrchr(tmp, '/'); s; s = strrchr(tmp, '/')) {
    *s = '\0';
    bool seen = false;
    for (size_t i = 0; i < *nd && !seen; i++)
      seen = strcmp(dirs[i], tmp) == 0;
    if (seen)
      break; /* its ancestors are in the set already */
    if (*nd == cap)
      return CUSTOS_ETOOBIG;
    snprintf(dirs[(*nd)++], REL_MAX, "%s", tmp);
  }
  return CUSTOS_OK;
}

/* Removes the partial tiles of a tile that is now full (best effort: what
 * a crash leaves here, fsck removes). */
static void remove_partials(const char *dir, const char *rel) {
  char path[PATH_MAX];
  if (snprintf(path, sizeof path, "%s/%s.p", dir, rel) >= (int)sizeof path)
    return;
  DIR *dp = opendir(path);
  if (!dp)
    return;
  struct dirent *e;
  while ((e = readdir(dp)) != NULL) {
    char f[PATH_MAX + 300];
    if (e->d_name[0] == '.')
      continue;
    snprintf(f, sizeof f, "%s/%s", path, e->d_name);
    unlink(f);
  }
  closedir(dp);
  rmdir(path);
}

custos_rc cu_log_dir_commit(cu_log_dir *ld, const cu_log_skey *key,
                            custos_diag *d) {
  if (ld->failed)
    return refuse_failed(d);
  if (!ld->b || ld->b->size == ld->cp.size)
    return CUSTOS_OK;
  builder *b = ld->b;
  size_t nfull = ld->nfiles;
  custos_rc rc = CUSTOS_OK;
  /* The partial tiles and bundle of the new size. */
  for (int t = 0; t < LEVELS && (b->size >> (8 * t)) > 0 && rc == CUSTOS_OK;
       t++) {
    uint64_t k;
    unsigned w = edge_width(b->size, t, &k);
    if (w)
      rc = add_file(ld, t, k, w, b->h[t], w * 32u, d);
  }
  if (rc == CUSTOS_OK && ld->bundle_w)
    rc = add_file(ld, -1, b->size >> 8, ld->bundle_w, ld->bundle.data,
                  ld->bundle.len, d);

  /* Phase 1 and 2: every file durable under its final name. */
  char path[PATH_MAX];
  static char dirs[512][REL_MAX];
  size_t nd = 0;
  for (size_t i = 0; i < ld->nfiles && rc == CUSTOS_OK; i++) {
    pfile *f = &ld->files[i];
    char parent[PATH_MAX];
    rc = join(path, sizeof path, ld->dir, f->rel, d);
    if (rc != CUSTOS_OK)
      break;
    snprintf(parent, sizeof parent, "%s", path);
    *strrchr(parent, '/') = '\0';
    rc = cu_mkdirs(parent, 0755, d);
    if (rc == CUSTOS_OK)
      rc = write_file(path, f->data, f->len, 0644, d);
    if (rc == CUSTOS_OK &&
        note_dirs(dirs, &nd, CU_ARRAY_LEN(dirs), f->rel) != CUSTOS_OK)
      rc = cu_diag_set(d, CUSTOS_ETOOBIG, "too many folders in one batch");
  }
  /* Phase 3: the folders that gained names, deepest first. */
  for (size_t i = nd; i-- > 0 && rc == CUSTOS_OK;) {
    rc = join(path, sizeof path, ld->dir, dirs[i], d);
    if (rc == CUSTOS_OK)
      rc = sync_dir(path, d);
  }
  /* Phase 4: the checkpoint, the commit point of the batch. */
  cu_log_checkpoint cp = ld->cp;
  char *note = NULL;
  cp.size = b->size;
  builder_root(b, cp.root);
  if (rc == CUSTOS_OK)
    rc = publish(ld->dir, &cp, key, &note, d);
  if (rc != CUSTOS_OK) {
    ld->failed = true;
    drop_files(ld);
    return rc;
  }
  cu_free(ld->note);
  ld->note = note;
  ld->cp = cp;
  for (size_t i = 0; i < nfull; i++)
    remove_partials(ld->dir, ld->files[i].rel);
  drop_files(ld);
  for (unsigned i = 0; i < CU_ARRAY_LEN(ld->cache); i++)
    ld->cache[i].w = 0;
  return CUSTOS_OK;
}

/* ---- verification of a whole folder ----------------------------------- */

typedef struct vctx {
  const char *dir;
  cu_log_verify_report *rep;
} vctx;

/* Compares computed hashes with the tile file at (level, index, width). */
static custos_rc check_tile(const char *dir, int level, uint64_t index,
                            unsigned width, const cu_log_hash *h,
                            custos_diag *d) {
  char rel[REL_MAX], path[PATH_MAX];
  static cu_log_hash disk[CU_LOG_TILE_WIDTH];
  size_t len = 0;
  custos_rc rc = cu_log_tile_path(rel, sizeof rel, level, index, width);
  if (rc == CUSTOS_OK)
    rc = join(path, sizeof path, dir, rel, d);
  if (rc == CUSTOS_OK)
    rc = read_file_into(path, (uint8_t *)disk, sizeof disk, &len, d);
  if (rc == CUSTOS_ENOTFOUND) {
    cu_diag_hint(d, "the folder is incomplete; copy the whole log folder");
    return cu_diag_set(d, CUSTOS_EVERIFY, "tile is missing");
  }
  if (rc != CUSTOS_OK)
    return rc;
  unsigned w = width ? width : CU_LOG_TILE_WIDTH;
  if (len != w * 32u || memcmp(disk, h, len) != 0) {
    cu_diag_at(d, path, 0, 0);
    cu_diag_hint(d, "the log was altered or damaged");
    return cu_diag_set(d, CUSTOS_EVERIFY,
                       "tile does not match the hashes recomputed from the "
                       "entries");
  }
  return CUSTOS_OK;
}

static custos_rc verify_full(void *ctx, int level, uint64_t index,
                             const cu_log_hash *h, custos_diag *d) {
  vctx *v = ctx;
  v->rep->tiles++;
  return check_tile(v->dir, level, index, 0, h, d);
}

custos_rc cu_log_dir_verify(const char *dir, const cu_log_vkey *vkey,
                            const cu_log_vkey *wit, size_t nwit,
                            cu_log_verify_report *rep, custos_diag *d) {
  memset(rep, 0, sizeof *rep);
  custos_rc rc = read_checkpoint(dir, vkey, wit, nwit, &rep->cp, NULL, d);
  if (rc != CUSTOS_OK)
    return rc;
  builder *b = cu_calloc(1, sizeof *b);
  if (!b)
    return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory verifying the log");
  vctx v = {dir, rep};
  uint64_t n = rep->cp.size;
  size_t off[CU_LOG_TILE_WIDTH], len[CU_LOG_TILE_WIDTH];
  for (uint64_t k = 0; k * CU_LOG_TILE_WIDTH < n && rc == CUSTOS_OK; k++) {
    uint8_t *data = NULL;
    size_t dn = 0;
    unsigned w;
    char path[PATH_MAX];
    rc = read_bundle(dir, n, k, &data, &dn, &w, path, sizeof path, d);
    if (rc == CUSTOS_ENOTFOUND) {
      cu_diag_hint(d, "the folder is incomplete; copy the whole log folder");
      rc = cu_diag_set(d, CUSTOS_EVERIFY, "entry bundle is missing");
    }
    if (rc == CUSTOS_OK)
      rc = split_bundle(data, dn, w, off, len, path, d);
    rep->tiles += rc == CUSTOS_OK;
    for (unsigned i = 0; i < w && rc == CUSTOS_OK; i++) {
      const uint8_t *e = data + off[i];
      uint8_t leaf[32];
      uint64_t index = k * CU_LOG_TILE_WIDTH + i;
      if (cu_log_entry_is_custos(e, len[i])) {
        cu_log_entry ent;
        rc = cu_log_entry_decode(e, len[i], &ent, d);
        if (rc == CUSTOS_OK && ent.index != index)
          rc = cu_diag_set(d, CUSTOS_EVERIFY,
                           "entry %" PRIu64 " claims index %" PRIu64, index,
                           ent.index);
        if (rc != CUSTOS_OK) {
          cu_diag_at(d, path, 0, 0);
          rc = CUSTOS_EVERIFY;
          if (d)
            d->rc = rc;
          break;
        }
        rep->custos_entries++;
      } else {
        rep->opaque_entries++;
      }
      cu_log_leaf_hash(e, len[i], leaf);
      rc = builder_push(b, leaf, verify_full, &v, d);
    }
    cu_free(data);
  }
  /* The partial tiles of the checkpoint's size. */
  for (int t = 0; t < LEVELS && (n >> (8 * t)) > 0 && rc == CUSTOS_OK; t++) {
    uint64_t k;
    unsigned w = edge_width(n, t, &k);
    if (w) {
      rc = check_tile(dir, t, k, w, b->h[t], d);
      rep->tiles++;
    }
  }
  if (rc == CUSTOS_OK) {
    uint8_t root[32];
    builder_root(b, root);
    if (memcmp(root, rep->cp.root, 32) != 0) {
      cu_diag_at(d, dir, 0, 0);
      cu_diag_hint(d, "the entries were altered after the checkpoint was "
                      "signed");
      rc = cu_diag_set(d, CUSTOS_EVERIFY,
                       "the root recomputed from the entries differs from "
                       "the signed checkpoint");
    }
  }
  cu_free(b);
  return rc;
}

/* ---- repair ----------------------------------------------------------- */

typedef struct fctx {
  const char *root;
  uint64_t size;
  cu_log_fsck_report *rep;
  custos_diag *d;
} fctx;

/* Decides what to do with one file of the tile tree. */
static custos_rc fsck_file(fctx *f, const char *rel, const char *path) {
  if (strstr(rel, ".tmp.")) {
    if (unlink(path) != 0)
      return io_error(f->d, path, "cannot remove", errno);
    f->rep->temp++;
    return CUSTOS_OK;
  }
  int level;
  uint64_t k;
  unsigned w;
  if (cu_log_tile_path_parse(rel, &level, &k, &w) != CUSTOS_OK)
    return CUSTOS_OK; /* not ours to judge */
  int t = level < 0 ? 0 : level;
  if (t >= LEVELS)
    return CUSTOS_OK;
  unsigned __int128 start = (unsigned __int128)k << (8 * (t + 1));
  unsigned __int128 span = (unsigned __int128)(w ? w : CU_LOG_TILE_WIDTH)
                           << (8 * t);
  bool beyond = start + span > f->size;
  bool obsolete = false;
  if (!beyond && w) {
    /* A partial below the edge whose full tile is committed. */
    uint64_t ek;
    edge_width(f->size, level, &ek);
    obsolete = k < ek;
  }
  if (!beyond && !obsolete)
    return CUSTOS_OK;
  if (unlink(path) != 0)
    return io_error(f->d, path, "cannot remove", errno);
  if (beyond)
    f->rep->stray++;
  else
    f->rep->obsolete++;
  return CUSTOS_OK;
}

static custos_rc fsck_walk(fctx *f, const char *rel, int depth) {
  char path[PATH_MAX];
  custos_rc rc = join(path, sizeof path, f->root, rel, f->d);
  if (rc != CUSTOS_OK)
    return rc;
  DIR *dp = opendir(path);
  if (!dp)
    return io_error(f->d, path, "cannot open folder", errno);
  struct dirent *e;
  while ((e = readdir(dp)) != NULL && rc == CUSTOS_OK) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    char crel[PATH_MAX], cpath[PATH_MAX];
    snprintf(crel, sizeof crel, "%s/%s", rel, e->d_name);
    rc = join(cpath, sizeof cpath, f->root, crel, f->d);
    struct stat sb;
    if (rc != CUSTOS_OK || lstat(cpath, &sb) != 0)
      continue;
    if (S_ISDIR(sb.st_mode)) {
      if (depth < 12)
        rc = fsck_walk(f, crel, depth + 1);
      if (rc == CUSTOS_OK && strstr(e->d_name, ".p"))
        rmdir(cpath); /* empty partial folders go; full ones stay */
    } else if (S_ISREG(sb.st_mode)) {
      rc = fsck_file(f, crel, cpath);
    }
  }
  closedir(dp);
  return rc;
}

custos_rc cu_log_dir_fsck(const char *dir, const cu_log_vkey *vkey,
                          cu_log_fsck_report *rep, custos_diag *d) {
  memset(rep, 0, sizeof *rep);
  char path[PATH_MAX];
  custos_rc rc = join(path, sizeof path, dir, "checkpoint.tmp.x", d);
  if (rc != CUSTOS_OK)
    return rc;
  /* A temporary checkpoint left by a crash is never the commit point. */
  DIR *dp = opendir(dir);
  if (!dp)
    return io_error(d, dir, "cannot open folder", errno);
  struct dirent *e;
  while ((e = readdir(dp)) != NULL)
    if (strncmp(e->d_name, "checkpoint.tmp.", 15) == 0) {
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
      if (unlink(path) == 0)
        rep->temp++;
    }
  closedir(dp);
  cu_log_checkpoint cp;
  rc = read_checkpoint(dir, vkey, NULL, 0, &cp, NULL, d);
  if (rc != CUSTOS_OK)
    return rc;
  rep->size = cp.size;
  fctx f = {dir, cp.size, rep, d};
  rc = join(path, sizeof path, dir, "tile", d);
  struct stat sb;
  if (rc == CUSTOS_OK && stat(path, &sb) == 0)
    rc = fsck_walk(&f, "tile", 0);
  if (rc != CUSTOS_OK)
    return rc;
  cu_log_verify_report vr;
  return cu_log_dir_verify(dir, vkey, NULL, 0, &vr, d);
}
