/*
 * The mbox splitter: one pass over an mbox of any size with one read
 * buffer and at most one message (up to its cap) in memory.  Handles
 * mboxo and mboxrd quoting, CRLF files, lines longer than the buffer, and
 * text before the first "From " line.  See records.h for the exact rules.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "records.h"

#define READ_CHUNK (1u << 20)
#define LOOKAHEAD 4096 /* bytes kept in view at a line start */

struct cu_mbox {
  char name[512];
  int fd;              /* -1 for memory */
  const char *mem;     /* memory input */
  size_t memlen;
  char *rbuf;          /* read buffer (file input) */
  const char *buf;     /* current window */
  size_t blen, bpos;   /* window length and read position */
  uint64_t base;       /* file offset of buf[0] */
  bool eof;            /* no more to read into the window */
  bool line_start;     /* bpos is at the start of a line */
  bool prev_blank;     /* the previous line was empty (or start of input) */
  /* the message being built */
  cu_buf msg;
  cu_sha256_ctx *sh;
  uint64_t total;
  bool open;           /* a message is in progress */
  bool from_line;      /* it started with a From line */
  uint64_t start;      /* its offset */
  char pending[2];     /* a held empty line ("\n" or "\r\n") */
  size_t npending;
  bool done;
};

static custos_rc mb_new(const char *name, size_t max_msg, cu_mbox **out,
                        custos_diag *d) {
  cu_mbox *mb = cu_calloc(1, sizeof *mb);
  if (!mb)
    return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory opening an mbox");
  snprintf(mb->name, sizeof mb->name, "%s", name);
  mb->fd = -1;
  mb->line_start = true;
  mb->prev_blank = true;
  cu_buf_init(&mb->msg, max_msg ? max_msg : CU_REC_MAX_MESSAGE);
  *out = mb;
  return CUSTOS_OK;
}

custos_rc cu_mbox_open_mem(const char *name, const void *data, size_t n,
                           size_t max_msg, cu_mbox **out, custos_diag *d) {
  custos_rc rc = mb_new(name, max_msg, out, d);
  if (rc != CUSTOS_OK)
    return rc;
  (*out)->mem = data;
  (*out)->memlen = n;
  (*out)->buf = data;
  (*out)->blen = n;
  (*out)->eof = true;
  return CUSTOS_OK;
}

custos_rc cu_mbox_open(const char *path, uint64_t start, size_t max_msg,
                       cu_mbox **out, custos_diag *d) {
  cu_mbox *mb = NULL;
  custos_rc rc = mb_new(path, max_msg, &mb, d);
  if (rc != CUSTOS_OK)
    return rc;
  mb->rbuf = cu_malloc(READ_CHUNK + LOOKAHEAD);
  if (!mb->rbuf) {
    rc = cu_diag_set(d, CUSTOS_ENOMEM, "out of memory opening an mbox");
    goto fail_mb;
  }
  mb->fd = open(path, O_RDONLY | O_CLOEXEC);
  if (mb->fd < 0) {
    cu_diag_at(d, path, 0, 0);
    rc = cu_diag_set(d, errno == ENOENT ? CUSTOS_ENOTFOUND : CUSTOS_EIO,
                     "cannot open mbox: %s", strerror(errno));
    goto fail_mb;
  }
  if (start && lseek(mb->fd, (off_t)start, SEEK_SET) < 0) {
    cu_diag_at(d, path, 0, 0);
    rc = cu_diag_set(d, CUSTOS_EIO, "cannot seek in mbox: %s",
                     strerror(errno));
    goto fail_mb;
  }
  mb->base = start;
  mb->buf = mb->rbuf;
#ifdef POSIX_FADV_SEQUENTIAL
  (void)posix_fadvise(mb->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
  *out = mb;
  return CUSTOS_OK;
fail_mb:
  cu_mbox_close(mb);
  return rc;
}

void cu_mbox_close(cu_mbox *mb) {
  if (!mb)
    return;
  if (mb->fd >= 0)
    close(mb->fd);
  cu_free(mb->rbuf);
  cu_buf_free(&mb->msg);
  cu_sha256_abort(mb->sh);
  cu_free(mb);
}

uint64_t cu_mbox_tell(const cu_mbox *mb) {
  return mb->open ? mb->start : mb->base + mb->bpos;
}

/* Makes at least want bytes visible from bpos unless the input ends. */
static custos_rc fill(cu_mbox *mb, size_t want, custos_diag *d) {
  while (!mb->eof && mb->blen - mb->bpos < want) {
    size_t keep = mb->blen - mb->bpos;
    memmove(mb->rbuf, mb->rbuf + mb->bpos, keep);
    mb->base += mb->bpos;
    mb->bpos = 0;
    mb->blen = keep;
    ssize_t k = read(mb->fd, mb->rbuf + keep, READ_CHUNK + LOOKAHEAD - keep);
    if (k < 0) {
      if (errno == EINTR)
        continue;
      cu_diag_at(d, mb->name, 0, 0);
      return cu_diag_set(d, CUSTOS_EIO, "cannot read mbox at byte %llu: %s",
                         (unsigned long long)mb->base, strerror(errno));
    }
    if (k == 0)
      mb->eof = true;
    mb->blen += (size_t)k;
  }
  return CUSTOS_OK;
}

/* Adds s[0..n) (already un-quoted) to the message in progress. */
static custos_rc put(cu_mbox *mb, const char *s, size_t n) {
  if (n == 0)
    return CUSTOS_OK;
  cu_sha256_update(mb->sh, s, n);
  mb->total += n;
  if (mb->msg.len < mb->msg.max) {
    size_t room = mb->msg.max - mb->msg.len;
    custos_rc rc = cu_buf_append(&mb->msg, s, n < room ? n : room);
    if (rc != CUSTOS_OK)
      return rc;
  }
  return CUSTOS_OK;
}

static custos_rc begin(cu_mbox *mb, uint64_t at, bool from_line,
                       custos_diag *d) {
  cu_buf_reset(&mb->msg);
  cu_sha256_abort(mb->sh);
  mb->sh = NULL;
  custos_rc rc = cu_sha256_init(&mb->sh);
  if (rc != CUSTOS_OK)
    return cu_diag_set(d, rc, "cannot start a hash");
  mb->total = 0;
  mb->open = true;
  mb->from_line = from_line;
  mb->start = at;
  mb->npending = 0;
  return CUSTOS_OK;
}

/* Completes the message in progress into *m; end is the offset where the
 * next one starts. */
static void finish(cu_mbox *mb, cu_mbox_msg *m, uint64_t end) {
  uint8_t dg[CU_SHA256_LEN];
  cu_sha256_final(mb->sh, dg);
  mb->sh = NULL;
  cu_hex_encode(dg, CU_SHA256_LEN, m->sha256);
  m->data = mb->msg.data ? mb->msg.data : "";
  m->len = mb->msg.len;
  m->offset = mb->start;
  m->length = end - mb->start;
  m->total = mb->total;
  m->truncated = mb->total > mb->msg.len;
  mb->open = false;
}

/* Whether a segment without a From line holds anything but blank lines. */
static bool only_blank(const cu_mbox *mb) {
  for (size_t i = 0; i < mb->msg.len; i++)
    if (mb->msg.data[i] != '\n' && mb->msg.data[i] != '\r')
      return false;
  return mb->total == mb->msg.len;
}

custos_rc cu_mbox_next(cu_mbox *mb, cu_mbox_msg *m, bool *eof,
                       custos_diag *d) {
  custos_rc rc = CUSTOS_OK;
  memset(m, 0, sizeof *m);
  *eof = false;
  if (mb->done) {
    *eof = true;
    return CUSTOS_OK;
  }
  if (!mb->open) {
    rc = begin(mb, mb->base + mb->bpos, false, d);
    if (rc != CUSTOS_OK)
      return rc;
  }
  for (;;) {
    if (mb->fd >= 0) {
      rc = fill(mb, mb->line_start ? LOOKAHEAD : 1, d);
      if (rc != CUSTOS_OK)
        return rc;
    }
    if (mb->bpos >= mb->blen) {
      /* end of input: the held empty line was the separator */
      uint64_t end = mb->base + mb->bpos;
      mb->done = true;
      if (!mb->from_line && only_blank(mb)) {
        mb->open = false;
        *eof = true;
        return CUSTOS_OK;
      }
      finish(mb, m, end);
      return CUSTOS_OK;
    }
    const char *p = mb->buf + mb->bpos;
    size_t avail = mb->blen - mb->bpos;
    const char *lf = memchr(p, '\n', avail);
    size_t n = lf ? (size_t)(lf - p) + 1 : avail;
    bool complete = lf != NULL || mb->eof;
    uint64_t at = mb->base + mb->bpos;
    if (mb->line_start) {
      bool blank = (n == 1 && p[0] == '\n') ||
                   (n == 2 && p[0] == '\r' && p[1] == '\n');
      if (n >= 5 && memcmp(p, "From ", 5) == 0 && mb->prev_blank) {
        /* a separator: the held empty line belonged to it */
        bool empty_segment = !mb->from_line && only_blank(mb);
        if (!empty_segment || mb->from_line) {
          mb->npending = 0;
          finish(mb, m, at);
          /* the next call starts the new message at this line */
          return CUSTOS_OK;
        }
        /* skip the From line and start the real first message */
        rc = begin(mb, at, true, d);
        if (rc != CUSTOS_OK)
          return rc;
        mb->bpos += n;
        mb->line_start = complete;
        mb->prev_blank = false;
        continue;
      }
      if (mb->npending) {
        rc = put(mb, mb->pending, mb->npending);
        mb->npending = 0;
        if (rc != CUSTOS_OK)
          break;
      }
      if (blank) {
        memcpy(mb->pending, p, n);
        mb->npending = n;
        mb->bpos += n;
        mb->prev_blank = true;
        continue;
      }
      mb->prev_blank = false;
      /* mboxrd: ">From ", ">>From " ... lose one '>' */
      size_t q = 0;
      while (q < n && p[q] == '>')
        q++;
      if (q > 0 && n - q >= 5 && memcmp(p + q, "From ", 5) == 0) {
        p++;
        n--;
        mb->bpos++;
      }
    }
    rc = put(mb, p, n);
    if (rc != CUSTOS_OK)
      break;
    mb->bpos += n;
    mb->line_start = lf != NULL;
  }
  return cu_diag_set(d, rc, "out of memory reading an mbox");
}
