/*
 * The streaming CSV reader (RFC 4180) behind every ingest.  Bytes land in
 * one large read buffer; a record is parsed in place with a 64-byte bitmask
 * scanner (delimiter, quote, newline, non-ASCII) and its fields stay
 * pointers into the buffer, unescaped and NUL-terminated in place.  With
 * raw_fields the selected fields of plain records are left as they lie,
 * and a mapped file is then parsed in the mapping itself ("direct", see
 * enter_direct) without being copied into the buffer.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
/* A second fast path with AVX2, chosen at run time (cpu_wide), where the
 * compiler can build it. */
#if defined(__x86_64__) && defined(__SSE2__) &&                              \
    (defined(__GNUC__) || defined(__clang__))
#define CSV_WIDE 1
#include <immintrin.h>
#else
#define CSV_WIDE 0
#endif

#include "csv.h"

/* The read buffer starts at this size (or at the record cap when that is
 * smaller) and grows, up to the record cap, only for a longer record. */
#define BUF_INIT ((size_t)1 << 20)
/* Bytes of a mapped file kept mapped behind the reader; a multiple of
 * the page size. */
#define MAP_LAG ((size_t)32 << 20)
/* Bytes of a mapped file given to the hash ahead of the reader: given
 * the whole file it would map all of it. */
#define HASH_AHEAD ((size_t)32 << 20)
/* The most bytes the reader may be ahead of the hash before it waits
 * for it.  The reader is the quicker of the two on plain records, and
 * left alone it would end well before the hash, with the pages between
 * them still mapped (they count as the process's memory) and one core
 * idle while the hash ends alone; waiting now and then gives the hash
 * the reader's share of the cores instead. */
#define HASH_BEHIND ((size_t)64 << 20)
/* In direct mode a new buffer number (a range of the mapping that
 * cu_csv_release lets go of as a whole) starts every this many bytes,
 * and at most SEG_RING of them are held at once (more make the last one
 * longer). */
#define SEG_BYTES ((size_t)1 << 20)
#define SEG_RING 64
/* With raw_fields a mapped file's bytes are copied (for the careful
 * scanner) this many at a time at least, and otherwise as many as the
 * buffer holds already, so that a rare unusual record does not copy a
 * whole buffer's worth of records that are then parsed in place. */
#define MAP_COPY_MIN ((size_t)64 << 10)
/* Compressed input is read in chunks of this size. */
#define ZBUF_SIZE ((size_t)256 << 10)
/* The scanner reads 64 bytes at a time, possibly past the data's end, and
 * the last field may be NUL-terminated one byte past it; callers may read
 * 64 bytes past a field's NUL (cu_csv_fields). */
#define PAD 72

/* Memory the caller gave, a regular file mapped, or any other file read. */
typedef enum src_kind { SRC_MEM, SRC_MAP, SRC_FD } src_kind;

/* A read buffer set aside with keep_buffers (see fill). */
typedef struct kbuf {
  uint8_t *p;
  size_t cap;   /* p has cap + PAD bytes */
  uint64_t num; /* its number, as cu_csv_buffer said */
  bool held;    /* the caller may still read records in it */
} kbuf;

/* Which of 64 bytes are a quote, the delimiter, LF, or >= 0x80. */
typedef struct masks {
  uint64_t q, d, n, h;
} masks;

typedef struct field {
  size_t off;    /* content start in buf */
  size_t len;    /* content length after unescaping */
  /* While parse_record runs, the doubled quotes inside (quoted fields
   * only), and 0 once it unescaped them; non-zero after the fast path
   * when the field is given out escaped (raw_fields). */
  size_t esc;
  uint64_t line; /* where the field starts, only for fields after the */
  uint64_t col;  /* record's first line break (see first_ml) */
  bool quoted;
} field;

struct cu_csv {
  cu_csv_opts o;
  char *name;

  /* raw input: a file descriptor or memory */
  src_kind kind;
  int fd;
  const uint8_t *mem;
  size_t mem_len;
  size_t mem_off;
  size_t map_dropped; /* the mapping's pages before this are let go */
  size_t hashed_to;   /* mapped bytes before this are given to the hash */
  bool hash_live;     /* the open succeeded: the hash may have the map */
  uint64_t raw_read; /* raw bytes taken from the input so far */
  uint64_t raw_size; /* 0 when unknown */
  bool raw_eof;

  /* gzip: compressed bytes in zbuf, inflated into buf */
  bool gz;
  bool z_init;
  z_stream z;
  uint8_t *zbuf;

  /* decoded bytes: buf[pos..len) is not yet consumed, cap + PAD allocated */
  uint8_t *buf;
  size_t pos;
  size_t len;
  size_t cap;
  size_t max_cap;
  bool eof; /* no more decoded bytes will come */
  /* With keep_buffers: buf's number, and the buffers given up before
   * it, held until released and then spare. */
  uint64_t bufnum;
  kbuf *pool;
  size_t npool, poolcap;
  bool bom_done;
  bool done;
  custos_rc err; /* sticky error */

  /* the current record */
  field *fields;
  size_t nf;
  size_t fcap;
  uint64_t line;     /* line at which the next record starts */
  uint64_t rec_line; /* line at which the current record starts */
  size_t rec_start;  /* its offset in buf */
  /* Fields before first_ml start on the record's first line, and their
   * position follows from their offset; later ones (after a line break
   * inside quotes) store it.  This keeps two stores off the hot path. */
  size_t first_ml;
  uint64_t record;

  /* The fields the caller reads (cu_csv_select), when it said: want[i]
   * for field i < nwant; sel lists them in order (field 0 first).
   * partial says that the current record's other fields were not made. */
  uint8_t *want;
  int *sel;
  size_t nwant, nsel;
  bool partial;
  /* The current record's fields are not in fields but made from ends as
   * asked for (lazy_field): a plain record read with raw_fields and a
   * selection. */
  bool lazy;
  bool wide; /* the fast path is fast_record_wide */

  /* the fast path's field ends, relative to the record's start; ends[-1]
   * is allocated too */
  uint32_t *ends;
  size_t ecap;
  /* The fast path's windows lie at multiples of 64 bytes from buf, so
   * that a record's first window is most often the one that held its
   * predecessor's LF: that window's masks (for buf and len as they
   * were), valid while win_ok, and only until anything but the fast
   * path moves pos or changes buf. */
  masks win;
  size_t win_base, win_len;
  const uint8_t *win_buf;
  bool win_ok;
  uint8_t *tmp; /* scratch for unescaping */
  size_t tcap;

  /* Direct mode (raw_fields, a mapped file): buf is the mapping, len is
   * safe_end (the scanner and callers read PAD bytes past it), and the
   * reader's own buffer waits in own (cap in own_cap).  Segments of the
   * mapping handed out with keep_buffers: segs[seg_head ..] (nsegs of
   * them, a ring) with the buffer number and first offset of each; the
   * current one started at seg_at. */
  bool direct;
  size_t safe_end;
  uint8_t *own;
  size_t own_cap;
  size_t seg_at;
  size_t left_at; /* the offset where direct mode was last left */
  struct {
    uint64_t num;
    size_t off;
  } segs[SEG_RING];
  size_t seg_head, nsegs;
};

void cu_csv_opts_default(cu_csv_opts *o) {
  if (!o)
    return;
  o->max_field = (size_t)1 << 20;
  o->max_record = (size_t)4 << 20;
  o->max_fields = 4096;
  o->delim = ',';
  o->check_utf8 = true;
  o->slow_scan = false;
  o->keep_buffers = false;
  o->keep_bytes = 0;
  o->narrow_scan = false;
  o->raw_fields = false;
  o->sha256 = NULL;
}

/* ---- the scanner --------------------------------------------------------- */

/*
 * Bit i of the mask says that p[i] is the delimiter, a quote, a newline or
 * (with check_utf8) a byte >= 0x80.  Inside a quoted field the delimiter
 * does not matter, and the caller passes the quote as "delimiter".
 */
#if defined(__SSE2__)
static inline uint64_t mask64(const uint8_t *p, uint8_t delim, bool hi) {
  const __m128i vd = _mm_set1_epi8((char)delim);
  const __m128i vq = _mm_set1_epi8('"');
  const __m128i vn = _mm_set1_epi8('\n');
  uint64_t m = 0;
  for (int i = 0; i < 4; i++) {
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * i));
    __m128i e = _mm_or_si128(_mm_cmpeq_epi8(x, vd), _mm_cmpeq_epi8(x, vq));
    e = _mm_or_si128(e, _mm_cmpeq_epi8(x, vn));
    if (hi)
      e = _mm_or_si128(e, x); /* movemask takes the top bit of each byte */
    m |= (uint64_t)(uint32_t)_mm_movemask_epi8(e) << (16 * i);
  }
  return m;
}
#else
static inline uint64_t mask64(const uint8_t *p, uint8_t delim, bool hi) {
  uint64_t m = 0;
  for (unsigned i = 0; i < 64; i++) {
    uint8_t b = p[i];
    if (b == delim || b == '"' || b == '\n' || (hi && b >= 0x80))
      m |= (uint64_t)1 << i;
  }
  return m;
}
#endif

static inline unsigned ctz64(uint64_t m) {
#if defined(__GNUC__) || defined(__clang__)
  return (unsigned)__builtin_ctzll(m);
#else
  unsigned n = 0;
  while (!(m & 1)) {
    m >>= 1;
    n++;
  }
  return n;
#endif
}

/* The scanner's memory of the last 64-byte window, so that several events
 * in one window cost one mask. */
typedef struct scanner {
  size_t base;
  uint64_t bits;
  uint8_t delim; /* what the window was computed for */
  bool valid;
} scanner;

/*
 * Offset of the first event at or after p, or end when there is none
 * before it.  p <= end; buf has PAD readable bytes after end.
 */
static inline size_t next_event(const cu_csv *c, scanner *s, size_t p,
                                size_t end, uint8_t delim) {
  if (s->valid && s->delim == delim && p - s->base < 64) {
    uint64_t m = s->bits & (~(uint64_t)0 << (p - s->base));
    if (m)
      return s->base + ctz64(m);
    p = s->base + 64;
    if (p > end)
      return end;
  }
  for (;;) {
    uint64_t m = mask64(c->buf + p, delim, c->o.check_utf8);
    size_t k = end - p;
    if (k < 64) {
      m &= k ? ~(uint64_t)0 >> (64 - k) : 0;
      m |= (uint64_t)1 << k;
    }
    s->base = p;
    s->bits = m;
    s->delim = delim;
    s->valid = true;
    if (m)
      return p + ctz64(m);
    p += 64;
  }
}

/* ---- UTF-8 --------------------------------------------------------------- */

enum { U8_OK, U8_MORE, U8_BAD };

/*
 * Validates the run of non-ASCII characters at *p.  On U8_OK *p is after
 * the run; on U8_BAD it is at the first byte of the invalid sequence;
 * U8_MORE means a character is cut by the end of the buffered data.
 */
static int utf8_run(const uint8_t *buf, size_t *p, size_t end, bool eof) {
  size_t i = *p;
  while (i < end && buf[i] >= 0x80) {
    uint8_t b = buf[i];
    size_t n;
    uint8_t lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (b >= 0xc2 && b <= 0xdf) {
      n = 2;
    } else if (b >= 0xe0 && b <= 0xef) {
      n = 3;
      if (b == 0xe0)
        lo = 0xa0; /* overlong */
      else if (b == 0xed)
        hi = 0x9f; /* surrogates */
    } else if (b >= 0xf0 && b <= 0xf4) {
      n = 4;
      if (b == 0xf0)
        lo = 0x90; /* overlong */
      else if (b == 0xf4)
        hi = 0x8f; /* above U+10FFFF */
    } else {
      *p = i;
      return U8_BAD;
    }
    size_t have = end - i < n ? end - i : n;
    for (size_t k = 1; k < have; k++) {
      uint8_t t = buf[i + k];
      bool ok = k == 1 ? t >= lo && t <= hi : (t & 0xc0) == 0x80;
      if (!ok) {
        *p = i;
        return U8_BAD;
      }
    }
    if (have < n) {
      *p = i;
      return eof ? U8_BAD : U8_MORE;
    }
    i += n;
  }
  *p = i;
  return U8_OK;
}

/* ---- diagnostics --------------------------------------------------------- */

/* Fills d with position, field number and a window of the value around
 * bad (an offset in buf between from and to). */
static void where(const cu_csv *c, custos_diag *d, uint64_t line,
                  uint64_t col, size_t fieldno, size_t from, size_t bad,
                  size_t to) {
  char num[32];
  snprintf(num, sizeof num, "%zu", fieldno);
  cu_diag_at(d, c->name, line, col);
  if (bad > from + 40)
    from = bad - 40;
  if (to > bad + 8)
    to = bad + 8;
  if (to > c->len)
    to = c->len;
  if (from > to)
    from = to;
  cu_diag_field(d, num, (const char *)c->buf + from, to - from);
}

/* EUTF8 for the sequence at offset bad of field fieldno (content from
 * offset from). */
static custos_rc utf8_error(const cu_csv *c, custos_diag *d, uint64_t line,
                            uint64_t col, size_t fieldno, size_t from,
                            size_t bad, size_t end) {
  (void)end;
  where(c, d, line, col, fieldno, from, bad, bad + 1);
  cu_diag_hint(d, "convert the file to UTF-8, e.g. with iconv -f LATIN1 "
                  "-t UTF-8");
  return cu_diag_set(d, CUSTOS_EUTF8, "invalid UTF-8");
}

/* ---- record parsing ------------------------------------------------------ */

/* Room for field index nf; ENOMEM leaves the array as it was. */
static custos_rc fields_reserve(cu_csv *c, size_t nf) {
  if (nf < c->fcap)
    return CUSTOS_OK;
  size_t ncap = c->fcap ? c->fcap * 2 : 32;
  if (ncap > c->o.max_fields)
    ncap = c->o.max_fields;
  if (ncap <= nf)
    ncap = nf + 1;
  field *f = cu_realloc(c->fields, ncap * sizeof *f);
  if (!f)
    return CUSTOS_ENOMEM;
  c->fields = f;
  c->fcap = ncap;
  return CUSTOS_OK;
}

/* Copies the rawlen bytes of a quoted field's content at s to dst (which
 * may be s) with its doubled quotes collapsed; returns the length after
 * that. */
static size_t unescape_to(uint8_t *dst, const uint8_t *s, size_t rawlen) {
  const uint8_t *r = memchr(s, '"', rawlen), *e = s + rawlen;
  if (!r) {
    memmove(dst, s, rawlen);
    return rawlen;
  }
  uint8_t *w = dst + (r - s);
  memmove(dst, s, (size_t)(r - s));
  while (r && r < e) {
    /* r is at the first quote of a pair */
    *w++ = '"';
    r += 2;
    const uint8_t *q = r < e ? memchr(r, '"', (size_t)(e - r)) : NULL;
    size_t n = (size_t)((q ? q : e) - r);
    memmove(w, r, n);
    w += n;
    r = q;
  }
  return (size_t)(w - dst);
}

/* Collapses the doubled quotes of a quoted field in place; returns the
 * field's length after that. */
static size_t unescape(uint8_t *s, size_t rawlen) {
  return unescape_to(s, s, rawlen);
}

size_t cu_csv_unescape(char *dst, const char *src, size_t n) {
  if (!dst || !src)
    return 0;
  return unescape_to((uint8_t *)dst, (const uint8_t *)src, n);
}

/*
 * Parses the record at c->pos.  Sets *more (and changes nothing else) when
 * the buffered data ends before the record does and more may come; the
 * caller then refills and calls again, and the record is parsed afresh.
 * On success the fields are unescaped and NUL-terminated in place and pos
 * moves past the record.
 */
static custos_rc parse_record(cu_csv *c, bool *more, custos_diag *d) {
  uint8_t *const buf = c->buf;
  const uint8_t delim = (uint8_t)c->o.delim;
  const size_t start = c->pos, end = c->len;
  const bool eof = c->eof;
  size_t p = start, ls = start; /* ls: where the current line starts */
  size_t rec_end;               /* where the line terminator starts */
  uint64_t line = c->line;
  size_t nf = 0, first_ml = SIZE_MAX;
  bool nl = false;      /* the record ends with a line break */
  bool any_esc = false; /* some field needs unescaping */
  uint64_t fline = line; /* where the current field starts */
  size_t fls = ls;       /* and where that line starts */
  size_t pending; /* content bytes of the field cut by the buffer's end */
  scanner sc = {0, 0, 0, false};
  custos_rc rc;

  *more = false;
  for (;;) {
    if (nf >= c->o.max_fields) {
      where(c, d, line, p - ls + 1, nf + 1, p, p, p);
      cu_diag_hint(d, "check the delimiter and the quoting of this line, or "
                      "raise max_fields");
      return cu_diag_set(d, CUSTOS_ETOOBIG,
                         "record has more than max_fields (%zu) fields",
                         c->o.max_fields);
    }
    rc = fields_reserve(c, nf);
    if (rc != CUSTOS_OK)
      return cu_diag_set(d, rc, "out of memory reading CSV");
    field *f = &c->fields[nf];
    fline = line;
    fls = ls;
    if (line != c->line) {
      if (first_ml == SIZE_MAX)
        first_ml = nf;
      f->line = line;
      f->col = p - ls + 1;
    }
    f->esc = 0;
    bool last; /* the record ends after this field */

    if (p < end && buf[p] == '"') {
      const size_t open = p;
      size_t q = p + 1, esc = 0;
      for (;;) {
        q = next_event(c, &sc, q, end, '"');
        if (q == end) {
          if (!eof) {
            pending = q - open - 1 - esc;
            goto need_more;
          }
          where(c, d, fline, open - fls + 1, nf + 1, open, open, end);
          cu_diag_hint(d, "close the quote, and double every quote inside a "
                          "quoted field (\"\")");
          return cu_diag_set(d, CUSTOS_EPARSE, "unterminated quoted field");
        }
        uint8_t b = buf[q];
        if (b == '"') {
          if (q + 1 == end && !eof) {
            pending = q - open - 1 - esc;
            goto need_more;
          }
          if (q + 1 < end && buf[q + 1] == '"') {
            esc++;
            q += 2;
            continue;
          }
          break;
        }
        if (b == '\n') {
          line++;
          ls = ++q;
          continue;
        }
        int u = utf8_run(buf, &q, end, eof);
        if (u == U8_MORE) {
          pending = q - open - 1 - esc;
          goto need_more;
        }
        if (u == U8_BAD)
          return utf8_error(c, d, line, q - ls + 1, nf + 1, open + 1, q, end);
      }
      /* q is at the closing quote */
      f->off = open + 1;
      f->len = q - open - 1 - esc;
      f->esc = esc;
      f->quoted = true;
      size_t a = q + 1;
      if (a == end) {
        last = true;
        rec_end = a;
        p = a;
      } else if (buf[a] == delim) {
        last = false;
        p = a + 1;
      } else if (buf[a] == '\n') {
        last = true;
        nl = true;
        rec_end = a;
        p = a + 1;
      } else if (buf[a] == '\r' && a + 1 == end && !eof) {
        pending = f->len;
        goto need_more;
      } else if (buf[a] == '\r' && (a + 1 == end || buf[a + 1] == '\n')) {
        last = true;
        nl = a + 1 < end;
        rec_end = a;
        p = a + 1 < end ? a + 2 : a + 1;
      } else {
        where(c, d, line, a - ls + 1, nf + 1, open, a, a + 1);
        cu_diag_hint(d, "quote the whole field and double every quote "
                        "inside it (\"\")");
        return cu_diag_set(d, CUSTOS_EPARSE,
                           "unexpected text after a closing quote");
      }
    } else {
      const size_t fs = p;
      size_t q = p;
      for (;;) {
        q = next_event(c, &sc, q, end, delim);
        if (q == end) {
          if (!eof) {
            pending = end - fs;
            goto need_more;
          }
          last = true;
          rec_end = end;
          p = end;
          break;
        }
        uint8_t b = buf[q];
        if (b == delim) {
          last = false;
          p = q + 1;
          break;
        }
        if (b == '\n') {
          last = true;
          nl = true;
          rec_end = q;
          p = q + 1;
          break;
        }
        if (b == '"') {
          where(c, d, line, q - ls + 1, nf + 1, fs, q, q + 1);
          cu_diag_hint(d, "quote the whole field and double every quote "
                          "inside it (\"\")");
          return cu_diag_set(d, CUSTOS_EPARSE,
                             "quote inside an unquoted field");
        }
        int u = utf8_run(buf, &q, end, eof);
        if (u == U8_MORE) {
          pending = end - fs;
          goto need_more;
        }
        if (u == U8_BAD)
          return utf8_error(c, d, line, q - ls + 1, nf + 1, fs, q, end);
      }
      /* a CR before the newline (or the end of input) belongs to it */
      size_t fe = last ? rec_end : p - 1;
      if (last && fe > fs && buf[fe - 1] == '\r') {
        fe--;
        rec_end = fe;
      }
      f->off = fs;
      f->len = fe - fs;
      f->quoted = false;
    }

    if (f->len > c->o.max_field) {
      size_t fs = f->off - f->quoted;
      where(c, d, fline, fs - fls + 1, nf + 1, f->off, f->off, f->off + 32);
      cu_diag_hint(d, "check for an unterminated quote, or raise max_field");
      return cu_diag_set(d, CUSTOS_ETOOBIG,
                         "field longer than max_field (%zu bytes)",
                         c->o.max_field);
    }
    /* NUL-terminate now (on the field's delimiter, closing quote or line
     * end; a refill puts the byte back) unless it needs unescaping. */
    if (f->esc == 0)
      buf[f->off + f->len] = '\0';
    else
      any_esc = true;
    nf++;
    if (last)
      break;
  }

  if (rec_end - start > c->o.max_record)
    goto too_long;
  if (nl)
    line++;

  /* The record is complete: unescape and terminate the fields with
   * doubled quotes in place (the other fields are terminated already). */
  for (size_t i = 0; any_esc && i < nf; i++) {
    field *f = &c->fields[i];
    if (f->esc) {
      (void)unescape(buf + f->off, f->len + f->esc);
      buf[f->off + f->len] = '\0';
      f->esc = 0; /* given out unescaped */
    }
  }
  c->nf = nf;
  c->partial = false;
  c->lazy = false;
  c->rec_line = c->line;
  c->rec_start = start;
  c->first_ml = first_ml;
  c->line = line;
  c->pos = p;
  c->record++;
  return CUSTOS_OK;

need_more:
  /* Undo the NULs, for the record is parsed again after the refill.  The
   * fields before the current one all ended with a delimiter. */
  for (size_t i = 0; i < nf; i++) {
    const field *f = &c->fields[i];
    if (f->esc == 0)
      buf[f->off + f->len] = f->quoted ? '"' : delim;
  }
  /* Nothing more is needed to tell that a cap is already exceeded, which
   * keeps memory bounded whatever the input. */
  if (pending > c->o.max_field + 1) {
    where(c, d, fline, p - fls + 1, nf + 1, p, p, p + 32);
    cu_diag_hint(d, "check for an unterminated quote, or raise max_field");
    return cu_diag_set(d, CUSTOS_ETOOBIG,
                       "field longer than max_field (%zu bytes)",
                       c->o.max_field);
  }
  if (end - start > c->o.max_record + 2) {
    rec_end = end;
    goto too_long;
  }
  *more = true;
  return CUSTOS_OK;

too_long:
  where(c, d, c->line, 1, 1, start, start, start + 32);
  cu_diag_hint(d, "check for an unterminated quote, or raise max_record");
  return cu_diag_set(d, CUSTOS_ETOOBIG,
                     "record longer than max_record (%zu bytes)",
                     c->o.max_record);
}


/* ---- the fast path ------------------------------------------------------- */

/*
 * Most records are plain: one line, every quote either opening a field,
 * closing it or doubled inside it, every field within its cap.  For them
 * one pass over 64-byte windows finds the quoted regions (the parity of
 * the quotes before each byte) and with them every field's end at once,
 * checking the quoting with a few mask operations instead of a branch per
 * byte class.  Anything else (a line break inside quotes, a record cut by
 * the end of the buffered data, a fault, a cap reached) is left to
 * parse_record, which then parses the record from its start as if the
 * fast path had not looked, so every diagnostic stays the careful one.
 */

/* Bit i of the result is the parity of bits 0..i of x. */
static inline uint64_t prefix_xor(uint64_t x) {
  x ^= x << 1;
  x ^= x << 2;
  x ^= x << 4;
  x ^= x << 8;
  x ^= x << 16;
  x ^= x << 32;
  return x;
}

#if defined(__SSE2__)
/* One 16-byte quarter of masks64, at bit offset sh. */
#define MASKS16(m, p, sh)                                                      \
  do {                                                                         \
    __m128i x_ = _mm_loadu_si128((const __m128i *)(const void *)(p));         \
    (m)->q |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(x_, vq))   \
              << (sh);                                                         \
    (m)->d |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(x_, vd))   \
              << (sh);                                                         \
    (m)->n |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(x_, vn))   \
              << (sh);                                                         \
    (m)->h |= (uint64_t)(uint32_t)_mm_movemask_epi8(x_) << (sh);              \
  } while (0)

static inline void masks64(const uint8_t *p, uint8_t delim, masks *m) {
  const __m128i vd = _mm_set1_epi8((char)delim);
  const __m128i vq = _mm_set1_epi8('"');
  const __m128i vn = _mm_set1_epi8('\n');
  m->q = m->d = m->n = m->h = 0;
  MASKS16(m, p, 0);
  MASKS16(m, p + 16, 16);
  MASKS16(m, p + 32, 32);
  MASKS16(m, p + 48, 48);
}
#else
static inline void masks64(const uint8_t *p, uint8_t delim, masks *m) {
  m->q = m->d = m->n = m->h = 0;
  for (unsigned i = 0; i < 64; i++) {
    uint64_t bit = (uint64_t)1 << i;
    uint8_t b = p[i];
    if (b == '"')
      m->q |= bit;
    else if (b == delim)
      m->d |= bit;
    else if (b == '\n')
      m->n |= bit;
    else if (b >= 0x80)
      m->h |= bit;
  }
}
#endif

/*
 * Collapses the doubled quotes of the quoted field of raw bytes at s,
 * whose first quote is at q, in place; returns the field's length after
 * that.  A tag list has a doubled quote every few bytes, and a call per
 * quote costs more than the copying, so the bytes go sixteen at a time
 * into the scratch buffer (separate, so that no load reads a byte a store
 * has already moved) and back.  Out of memory for the scratch it falls
 * back to unescape.
 */
static size_t unescape_from(cu_csv *c, uint8_t *s, uint8_t *q, size_t raw) {
#if defined(__SSE2__)
  size_t n = raw - (size_t)(q - s);
  if (n + 16 > c->tcap) {
    uint8_t *t = cu_realloc(c->tmp, n + 16);
    if (!t)
      return unescape(s, raw);
    c->tmp = t;
    c->tcap = n + 16;
  }
  const __m128i vq = _mm_set1_epi8('"');
  const uint8_t *r = q, *e = s + raw;
  uint8_t *w = c->tmp;
  /* The last load may read past e, into the buffer's padding at most,
   * and the last store past the result, into the scratch's spare 16. */
  while (r < e) {
    size_t left = (size_t)(e - r);
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)r);
    unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, vq));
    if (left < 16)
      m &= (1u << left) - 1;
    _mm_storeu_si128((__m128i *)(void *)w, x);
    if (!m) {
      size_t k = left < 16 ? left : 16;
      w += k;
      r += k;
    } else {
      unsigned k = (unsigned)ctz64(m);
      w += k + 1;
      r += k + 2; /* past the pair's second quote */
    }
  }
  size_t k = (size_t)(w - c->tmp);
  memcpy(q, c->tmp, k);
  return (size_t)(q - s) + k;
#else
  (void)c;
  (void)q;
  return unescape(s, raw);
#endif
}

/* Makes f of the plain field in buf[fs..fe): unquoted, its doubled quotes
 * collapsed, NUL-terminated. */
static inline void make_field(cu_csv *c, uint8_t *buf, field *f, size_t fs,
                              size_t fe) {
  f->esc = 0;
  if (fe > fs && buf[fs] == '"') {
    size_t raw = fe - fs - 2;
    f->off = fs + 1;
    f->quoted = true;
    uint8_t *q = memchr(buf + fs + 1, '"', raw);
    f->len = q ? unescape_from(c, buf + fs + 1, q, raw) : raw;
  } else {
    f->off = fs;
    f->len = fe - fs;
    f->quoted = false;
  }
  buf[f->off + f->len] = '\0';
}

/* Makes f of the plain field in buf[fs..fe) as it lies (raw_fields):
 * unquoted, but neither unescaped nor terminated, so buf is only read;
 * esc says whether it has a doubled quote. */
static inline void make_field_raw(const uint8_t *buf, field *f, size_t fs,
                                  size_t fe) {
  if (fe > fs && buf[fs] == '"') {
    size_t raw = fe - fs - 2;
    f->off = fs + 1;
    f->len = raw;
    f->quoted = true;
    f->esc = memchr(buf + fs + 1, '"', raw) != NULL;
  } else {
    f->off = fs;
    f->len = fe - fs;
    f->quoted = false;
    f->esc = 0;
  }
}

/* Makes the fields sel[0..nsel) of the plain record at start with n
 * fields (the fast path's selection), ends as the fast path leaves them.
 * A function of its own, out of line, so that its loop has the
 * registers to itself. */
static __attribute__((noinline)) void
make_selected(cu_csv *c, uint8_t *buf, field *fields, const uint32_t *ends,
              const int *sel, size_t nsel, size_t start, size_t n) {
  for (size_t k = 0; k < nsel; k++) {
    size_t i = (size_t)sel[k];
    if (i >= n)
      break;
    /* ends[-1] for field 0: a signed index, as a size_t one would wrap
     * the pointer (undefined, and UBSan says so). */
    size_t fs = start + (uint32_t)(ends[(ptrdiff_t)i - 1] + 1);
    make_field(c, buf, &fields[i], fs, start + ends[i]);
  }
}

/* The fast path's record with raw_fields (lazy): its field i, which
 * lies between ends as make_selected would find it, made as asked for
 * (by the accessors) instead of when read, since a field made as it
 * lies is only read from buf. */
static inline field lazy_field(const cu_csv *c, size_t i) {
  field f;
  f.line = f.col = 0; /* not read: a plain record is one line */
  size_t fs = c->rec_start + (uint32_t)(c->ends[(ptrdiff_t)i - 1] + 1);
  make_field_raw(c->buf, &f, fs, c->rec_start + c->ends[i]);
  return f;
}

/* Room for need field ends, and for ends[-1]; false when out of
 * memory. */
static bool ends_reserve(cu_csv *c, size_t need) {
  if (need <= c->ecap)
    return true;
  size_t ncap = c->ecap ? c->ecap * 2 : 128;
  if (ncap < need)
    ncap = need;
  uint32_t *e = cu_realloc(c->ends ? c->ends - 1 : NULL,
                           (ncap + 1) * sizeof *e);
  if (!e)
    return false;
  c->ends = e + 1;
  c->ecap = ncap;
  return true;
}

/* Appends off plus the index of each bit of s to ends[n..], one at a
 * time. */
#define ENDS_EACH(ends, n, s, off)                                             \
  do {                                                                         \
    for (uint64_t t_ = (s); t_; t_ &= t_ - 1)                                  \
      (ends)[(n)++] = (off) + ctz64(t_);                                       \
  } while (0)

#define FAST_NAME fast_record
#define FAST_ATTR
#define FAST_MASKS masks64
#define FAST_ENDS ENDS_EACH
#define FAST_PREFIX_XOR prefix_xor
#include "csv_fast.h"
#undef FAST_NAME
#undef FAST_ATTR
#undef FAST_MASKS
#undef FAST_ENDS
#undef FAST_PREFIX_XOR

#if CSV_WIDE
#define WIDE_TARGET __attribute__((target("avx2,bmi,popcnt,pclmul")))

/* prefix_xor by one carry-less multiplication with all ones. */
static inline __attribute__((always_inline)) WIDE_TARGET uint64_t
prefix_xor_wide(uint64_t x) {
  __m128i p = _mm_clmulepi64_si128(_mm_cvtsi64_si128((long long)x),
                                   _mm_set1_epi8(-1), 0);
  return (uint64_t)_mm_cvtsi128_si64(p);
}

/* masks64 with 32-byte vectors. */
static inline __attribute__((always_inline)) WIDE_TARGET void
masks64_wide(const uint8_t *p, uint8_t delim, masks *m) {
  const __m256i vd = _mm256_set1_epi8((char)delim);
  const __m256i vq = _mm256_set1_epi8('"');
  const __m256i vn = _mm256_set1_epi8('\n');
  __m256i lo = _mm256_loadu_si256((const __m256i *)(const void *)p);
  __m256i hi = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32));
#define MASK32(x) ((uint64_t)(uint32_t)_mm256_movemask_epi8(x))
  m->q = MASK32(_mm256_cmpeq_epi8(lo, vq)) |
         MASK32(_mm256_cmpeq_epi8(hi, vq)) << 32;
  m->d = MASK32(_mm256_cmpeq_epi8(lo, vd)) |
         MASK32(_mm256_cmpeq_epi8(hi, vd)) << 32;
  m->n = MASK32(_mm256_cmpeq_epi8(lo, vn)) |
         MASK32(_mm256_cmpeq_epi8(hi, vn)) << 32;
  m->h = MASK32(lo) | MASK32(hi) << 32;
#undef MASK32
}

/* ENDS_EACH without a branch per bit: eight ends at once, which a
 * window of a FOCUS record seldom exceeds, then four a round for as many
 * more as the population count says; the spare entries (at most seven,
 * past n) are written but not counted.  tzcnt of 0 is 64, which is
 * harmless.  (Four a round from the first, the number of rounds, one
 * or two, is a branch the CPU mispredicts often.) */
#define END1_(e_, j_, t_, off)                                                 \
  do {                                                                         \
    (e_)[j_] = (off) + (uint32_t)_tzcnt_u64(t_);                               \
    t_ = _blsr_u64(t_);                                                        \
  } while (0)
#define ENDS_WIDE(ends, n, s, off)                                             \
  do {                                                                         \
    uint64_t t_ = (s);                                                         \
    uint32_t *e_ = (ends) + (n);                                               \
    size_t c_ = (size_t)_mm_popcnt_u64(t_);                                    \
    END1_(e_, 0, t_, off);                                                     \
    END1_(e_, 1, t_, off);                                                     \
    END1_(e_, 2, t_, off);                                                     \
    END1_(e_, 3, t_, off);                                                     \
    END1_(e_, 4, t_, off);                                                     \
    END1_(e_, 5, t_, off);                                                     \
    END1_(e_, 6, t_, off);                                                     \
    END1_(e_, 7, t_, off);                                                     \
    for (size_t j_ = 8; j_ < c_; j_ += 4) {                                    \
      END1_(e_, j_, t_, off);                                                  \
      END1_(e_, j_ + 1, t_, off);                                              \
      END1_(e_, j_ + 2, t_, off);                                              \
      END1_(e_, j_ + 3, t_, off);                                              \
    }                                                                          \
    (n) += c_;                                                                 \
  } while (0)

#define FAST_NAME fast_record_wide
#define FAST_ATTR WIDE_TARGET
#define FAST_MASKS masks64_wide
#define FAST_ENDS ENDS_WIDE
#define FAST_PREFIX_XOR prefix_xor_wide
#include "csv_fast.h"
#undef FAST_NAME
#undef FAST_ATTR
#undef FAST_MASKS
#undef FAST_ENDS
#undef FAST_PREFIX_XOR

/* Whether this CPU runs fast_record_wide. */
static bool cpu_wide(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") &&
         __builtin_cpu_supports("popcnt") && __builtin_cpu_supports("pclmul");
}
#else
#define fast_record_wide fast_record
#endif

/* ---- input --------------------------------------------------------------- */

static custos_rc io_error(cu_csv *c, custos_diag *d, const char *what, int e) {
  cu_diag_at(d, c->name, 0, 0);
  cu_diag_hint(d, "check the path and its permissions");
  return cu_diag_set(d, e == ENOENT ? CUSTOS_ENOTFOUND : CUSTOS_EIO, "%s: %s",
                     what, strerror(e));
}

/* Gives the hash the mapped bytes up to HASH_AHEAD past at, the
 * reader's offset in the mapping. */
static void hash_ahead(cu_csv *c, size_t at) {
  size_t to = c->mem_len - at > HASH_AHEAD ? at + HASH_AHEAD : c->mem_len;
  if (to > c->hashed_to) {
    cu_sha256_update_ref(c->o.sha256, c->mem + c->hashed_to,
                         to - c->hashed_to);
    c->hashed_to = to;
  }
}

/*
 * Keeps the hash ahead of at (the reader's offset in the mapping), and
 * lets go of the pages the reader left long ago, the hash is done with
 * and no segment the caller holds (direct mode) lies in (the file stays
 * in the page cache), or the whole file would count as resident by the
 * end.
 */
static void map_advance(cu_csv *c, size_t at) {
  if (c->hash_live && at + HASH_AHEAD / 2 > c->hashed_to)
    hash_ahead(c, at);
  if (c->hash_live && at > HASH_BEHIND && c->hashed_to > at - HASH_BEHIND)
    cu_sha256_wait_queued(c->o.sha256, c->hashed_to - (at - HASH_BEHIND));
  if (at < c->map_dropped + 2 * MAP_LAG)
    return;
  size_t to = at - MAP_LAG;
  if (c->nsegs && c->segs[c->seg_head].off < to)
    to = c->segs[c->seg_head].off;
  if (c->hash_live) {
    size_t hashed = c->hashed_to - cu_sha256_queued(c->o.sha256);
    if (hashed < to)
      to = hashed;
  }
  to = to / MAP_LAG * MAP_LAG;
  if (to > c->map_dropped) {
    (void)madvise((void *)(uintptr_t)(c->mem + c->map_dropped),
                  to - c->map_dropped, MADV_DONTNEED);
    c->map_dropped = to;
  }
}

/* Reads up to n raw bytes (as stored) into dst; *got 0 means end. */
static custos_rc raw_read(cu_csv *c, uint8_t *dst, size_t n, size_t *got,
                          custos_diag *d) {
  *got = 0;
  if (c->raw_eof || n == 0)
    return CUSTOS_OK;
  if (c->kind != SRC_FD) {
    size_t k = c->mem_len - c->mem_off;
    if (k > n)
      k = n;
    memcpy(dst, c->mem + c->mem_off, k);
    c->mem_off += k;
    *got = k;
    if (c->kind == SRC_MAP)
      map_advance(c, c->mem_off);
  } else {
    ssize_t r;
    do {
      r = read(c->fd, dst, n > (size_t)SSIZE_MAX ? (size_t)SSIZE_MAX : n);
    } while (r < 0 && errno == EINTR);
    if (r < 0)
      return io_error(c, d, "cannot read", errno);
    *got = (size_t)r;
  }
  if (*got == 0)
    c->raw_eof = true;
  else if (c->o.sha256 && c->kind == SRC_FD)
    cu_sha256_update(c->o.sha256, dst, *got);
  c->raw_read += *got;
  return CUSTOS_OK;
}

static custos_rc gz_error(cu_csv *c, custos_diag *d, const char *what) {
  cu_diag_at(d, c->name, 0, 0);
  cu_diag_hint(d, "check the file with gzip -t; it may be truncated or not "
                  "gzip at all");
  return cu_diag_set(d, CUSTOS_EIO, "%s%s%s", what, c->z.msg ? ": " : "",
                     c->z.msg ? c->z.msg : "");
}

/*
 * Inflates into buf[len..cap), concatenating gzip members, until some
 * output is produced or the input ends (which sets eof).
 */
static custos_rc gz_fill(cu_csv *c, custos_diag *d) {
  size_t before = c->len;
  c->z.next_out = c->buf + c->len;
  c->z.avail_out = (uInt)(c->cap - c->len > UINT_MAX ? UINT_MAX
                                                     : c->cap - c->len);
  while (c->len == before) {
    if (c->z.avail_in == 0 && !c->raw_eof) {
      size_t got;
      custos_rc rc = raw_read(c, c->zbuf, ZBUF_SIZE, &got, d);
      if (rc != CUSTOS_OK)
        return rc;
      c->z.next_in = c->zbuf;
      c->z.avail_in = (uInt)got;
    }
    int zr = inflate(&c->z, Z_NO_FLUSH);
    c->len = (size_t)(c->z.next_out - c->buf);
    if (zr == Z_BUF_ERROR && c->z.avail_in == 0 && c->raw_eof) {
      /* the input ended inside a member (a clean end is Z_STREAM_END) */
      return gz_error(c, d, "truncated gzip data");
    }
    if (zr == Z_STREAM_END) {
      if (c->z.avail_in == 0 && !c->raw_eof) {
        size_t got;
        custos_rc rc = raw_read(c, c->zbuf, ZBUF_SIZE, &got, d);
        if (rc != CUSTOS_OK)
          return rc;
        c->z.next_in = c->zbuf;
        c->z.avail_in = (uInt)got;
      }
      if (c->z.avail_in == 0) {
        c->eof = true;
        return CUSTOS_OK;
      }
      /* another member follows (multi-member gzip, as from cat a.gz b.gz) */
      if (inflateReset(&c->z) != Z_OK)
        return gz_error(c, d, "cannot reset gzip stream");
      continue;
    }
    if (zr == Z_MEM_ERROR)
      return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory inflating %s",
                         c->name);
    if (zr != Z_OK && zr != Z_BUF_ERROR)
      return gz_error(c, d, "corrupt gzip data");
  }
  return CUSTOS_OK;
}

/*
 * With keep_buffers, instead of moving the unconsumed tail to the front
 * of buf (over records the caller may still read), sets buf aside as
 * held and continues in a spare buffer (or a new one) with the tail
 * copied to its front (with tail false, empty).  ENOMEM leaves the
 * reader as it was.
 */
static custos_rc next_buffer(cu_csv *c, bool tail, custos_diag *d) {
  size_t k = 0;
  while (k < c->npool && (c->pool[k].held || c->pool[k].cap < c->cap))
    k++;
  if (k == c->npool) {
    if (c->npool == c->poolcap) {
      size_t ncap = c->poolcap ? c->poolcap * 2 : 8;
      kbuf *np = cu_realloc(c->pool, ncap * sizeof *np);
      if (!np)
        return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory reading %s",
                           c->name);
      c->pool = np;
      c->poolcap = ncap;
    }
    /* Zeroed, as the scanner reads the padding after the data. */
    uint8_t *nb = cu_calloc(1, c->cap + PAD);
    if (!nb)
      return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory reading %s",
                         c->name);
    c->pool[c->npool++] = (kbuf){nb, c->cap, 0, false};
  }
  kbuf *s = &c->pool[k];
  size_t n = tail ? c->len - c->pos : 0;
  memcpy(s->p, c->buf + c->pos, n);
  kbuf old = {c->buf, c->cap, c->bufnum, true};
  c->buf = s->p;
  c->cap = s->cap;
  *s = old;
  c->bufnum++;
  c->len = n;
  c->pos = 0;
  return CUSTOS_OK;
}

/*
 * Makes room and reads more decoded bytes after buf[len).  The unconsumed
 * tail (a partial record) moves to the front (with keep_buffers, to the
 * front of another buffer); a full buffer doubles, up to max_cap.  Sets
 * eof at the end of input.
 */
static custos_rc fill(cu_csv *c, custos_diag *d) {
  if (c->pos > 0 && c->o.keep_buffers) {
    custos_rc rc = next_buffer(c, true, d);
    if (rc != CUSTOS_OK)
      return rc;
  }
  if (c->pos > 0) {
    memmove(c->buf, c->buf + c->pos, c->len - c->pos);
    c->len -= c->pos;
    c->pos = 0;
  }
  if (c->len == c->cap) {
    if (NEVER(c->cap >= c->max_cap))
      return cu_diag_set(d, CUSTOS_EINTERNAL, "CSV buffer full");
    size_t ncap = c->cap * 2 < c->max_cap ? c->cap * 2 : c->max_cap;
    uint8_t *nb = cu_realloc(c->buf, ncap + PAD);
    if (!nb)
      return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory reading %s",
                         c->name);
    memset(nb + c->cap + PAD, 0, ncap - c->cap);
    c->buf = nb;
    c->cap = ncap;
  }
  if (c->gz)
    return gz_fill(c, d);
  size_t got, want = c->cap - c->len;
  if (c->o.raw_fields && c->kind == SRC_MAP) {
    size_t most = c->len > MAP_COPY_MIN ? c->len : MAP_COPY_MIN;
    if (want > most)
      want = most;
  }
  custos_rc rc = raw_read(c, c->buf + c->len, want, &got, d);
  if (rc != CUSTOS_OK)
    return rc;
  c->len += got;
  if (got == 0)
    c->eof = true;
  return CUSTOS_OK;
}

static void *z_alloc(void *opaque, uInt items, uInt size) {
  (void)opaque;
  return cu_calloc(items, size);
}

static void z_free(void *opaque, void *p) {
  (void)opaque;
  cu_free(p);
}

/* ---- open and close ------------------------------------------------------ */

/*
 * The common part of both opens: checks opts, allocates the reader and its
 * buffer and tells plain from gzip by the first two bytes.  The input
 * (fd or memory) is already set in *c; on failure the caller closes c.
 */
static custos_rc start(cu_csv *c, custos_diag *d) {
  size_t want = c->o.max_record;
  c->max_cap = want > SIZE_MAX / 2 ? SIZE_MAX / 2 : want + 4;
  c->cap = c->max_cap < BUF_INIT ? c->max_cap : BUF_INIT;
  c->buf = cu_malloc(c->cap + PAD);
  if (!c->buf)
    return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory opening %s", c->name);
  memset(c->buf, 0, c->cap + PAD);

  /* The magic: read until two bytes or the end. */
  size_t got = 0;
  while (got < 2) {
    size_t k;
    custos_rc rc = raw_read(c, c->buf + got, 2 - got, &k, d);
    if (rc != CUSTOS_OK)
      return rc;
    if (k == 0)
      break;
    got += k;
  }
  if (got == 2 && c->buf[0] == 0x1f && c->buf[1] == 0x8b) {
    c->gz = true;
    c->zbuf = cu_malloc(ZBUF_SIZE);
    if (!c->zbuf)
      return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory opening %s",
                         c->name);
    memcpy(c->zbuf, c->buf, 2);
    c->z.zalloc = z_alloc;
    c->z.zfree = z_free;
    c->z.next_in = c->zbuf;
    c->z.avail_in = 2;
    int zr = inflateInit2(&c->z, 16 + MAX_WBITS); /* gzip only */
    if (zr != Z_OK)
      return cu_diag_set(d, zr == Z_MEM_ERROR ? CUSTOS_ENOMEM : CUSTOS_EIO,
                         "cannot start gzip decoding of %s", c->name);
    c->z_init = true;
  } else {
    c->len = got;
    if (c->raw_eof)
      c->eof = true;
  }
  if (c->o.keep_buffers && c->o.keep_bytes) {
    /* Held records span held / cap + 2 buffers at most, and the reader
     * fills one more; a plain input of known size holds no more than its
     * size, so a small file does not get the spares of a large one. */
    size_t held = c->o.keep_bytes;
    if (!c->gz && c->raw_size && c->raw_size < held)
      held = (size_t)c->raw_size;
    size_t n = held / c->cap + 3;
    c->pool = cu_calloc(n, sizeof *c->pool);
    if (!c->pool)
      return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory opening %s",
                         c->name);
    c->poolcap = n;
    for (; c->npool < n; c->npool++) {
      /* Zeroed, as the scanner reads the padding after the data. */
      uint8_t *nb = cu_calloc(1, c->cap + PAD);
      if (!nb)
        return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory opening %s",
                           c->name);
      c->pool[c->npool] = (kbuf){nb, c->cap, 0, false};
    }
  }
  /* Input held in memory is hashed where it is, on the hash's own
   * thread while the records are parsed: memory all at once, a mapped
   * file a little ahead of the reader.  Last, for the open fails no
   * more. */
  if (c->o.sha256 && c->kind == SRC_MEM)
    cu_sha256_update_ref(c->o.sha256, c->mem, c->mem_len);
  if (c->o.sha256 && c->kind == SRC_MAP) {
    c->hash_live = true;
    hash_ahead(c, c->mem_off);
  }
  return CUSTOS_OK;
}

/* Allocates a reader with the options checked and the name copied. */
static custos_rc create(const char *name, const cu_csv_opts *opts,
                        cu_csv **out, custos_diag *d) {
  cu_csv_opts o;
  if (opts)
    o = *opts;
  else
    cu_csv_opts_default(&o);
  if (o.max_field == 0 || o.max_record == 0 || o.max_fields == 0 ||
      o.delim == '"' || o.delim == '\n' || o.delim == '\r' ||
      (unsigned char)o.delim >= 0x80) {
    cu_diag_at(d, name, 0, 0);
    cu_diag_hint(d, "caps must be positive and the delimiter an ASCII "
                    "character other than quote, CR and LF");
    return cu_diag_set(d, CUSTOS_EINVAL, "invalid CSV reader options");
  }
  cu_csv *c = cu_calloc(1, sizeof *c);
  if (!c)
    return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory opening %s", name);
  c->o = o;
#if CSV_WIDE
  c->wide = !o.narrow_scan && cpu_wide();
#endif
  c->fd = -1;
  c->line = 1;
  c->name = cu_strdup(name);
  if (!c->name) {
    cu_free(c);
    return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory opening %s", name);
  }
  *out = c;
  return CUSTOS_OK;
}

custos_rc cu_csv_open(const char *path, const cu_csv_opts *opts, cu_csv **out,
                      custos_diag *d) {
  if (!out)
    return cu_diag_set(d, CUSTOS_EINVAL, "cu_csv_open: no output");
  *out = NULL;
  if (!path)
    return cu_diag_set(d, CUSTOS_EINVAL, "cu_csv_open: no path");
  cu_csv *c = NULL;
  custos_rc rc = create(path, opts, &c, d);
  if (rc != CUSTOS_OK)
    return rc;
  c->kind = SRC_FD;
  c->fd = open(path, O_RDONLY | O_CLOEXEC);
  if (c->fd < 0) {
    rc = io_error(c, d, "cannot open", errno);
    goto fail_close;
  }
  struct stat st;
  if (fstat(c->fd, &st) == 0 && S_ISREG(st.st_mode)) {
    c->raw_size = (uint64_t)st.st_size;
#ifdef POSIX_FADV_SEQUENTIAL
    (void)posix_fadvise(c->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    /* A regular file is mapped: the records are copied out of the page
     * cache without a system call per chunk, and the hash reads the
     * mapping itself instead of a copy.  The compromise: a file cut
     * short by someone else while it is read ends the process with
     * SIGBUS, where read() would have seen a short file. */
    if (st.st_size > 0 && (uint64_t)st.st_size <= SIZE_MAX / 2) {
      void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE,
                     c->fd, 0);
      if (m != MAP_FAILED) {
        (void)madvise(m, (size_t)st.st_size, MADV_SEQUENTIAL);
        c->kind = SRC_MAP;
        c->mem = m;
        c->mem_len = (size_t)st.st_size;
        c->safe_end = c->mem_len > PAD ? c->mem_len - PAD : 0;
      }
    }
  }
  rc = start(c, d);
  if (rc != CUSTOS_OK)
    goto fail_close;
  *out = c;
  return CUSTOS_OK;

fail_close:
  cu_csv_close(c);
  return rc;
}

custos_rc cu_csv_open_mem(const char *name, const void *data, size_t n,
                          const cu_csv_opts *opts, cu_csv **out,
                          custos_diag *d) {
  if (!out)
    return cu_diag_set(d, CUSTOS_EINVAL, "cu_csv_open_mem: no output");
  *out = NULL;
  if (!data && n > 0)
    return cu_diag_set(d, CUSTOS_EINVAL, "cu_csv_open_mem: no data");
  cu_csv *c = NULL;
  custos_rc rc = create(name ? name : "<memory>", opts, &c, d);
  if (rc != CUSTOS_OK)
    return rc;
  c->kind = SRC_MEM;
  c->mem = data;
  c->mem_len = n;
  c->raw_size = n;
  rc = start(c, d);
  if (rc != CUSTOS_OK)
    goto fail_close;
  *out = c;
  return CUSTOS_OK;

fail_close:
  cu_csv_close(c);
  return rc;
}

void cu_csv_close(cu_csv *c) {
  if (!c)
    return;
  if (c->z_init)
    inflateEnd(&c->z);
  if (c->kind == SRC_MAP)
    munmap((void *)(uintptr_t)c->mem, c->mem_len);
  if (c->fd >= 0)
    close(c->fd);
  cu_free(c->zbuf);
  cu_free(c->direct ? c->own : c->buf);
  for (size_t k = 0; k < c->npool; k++)
    cu_free(c->pool[k].p);
  cu_free(c->pool);
  cu_free(c->fields);
  cu_free(c->ends ? c->ends - 1 : NULL);
  cu_free(c->tmp);
  cu_free(c->want);
  cu_free(c->sel);
  cu_free(c->name);
  cu_free(c);
}

/* ---- direct mode --------------------------------------------------------- */

/*
 * With raw_fields and a selection the fast path only reads buf, so a
 * mapped file can be parsed where it lies: buf becomes the mapping, up to
 * safe_end (PAD bytes before the mapping's end, so that no load goes past
 * it), and the copy the reader makes otherwise, with its cache traffic, is
 * saved.  A record the fast path does not take (unusual, cut by safe_end)
 * sends the reader back to its own buffer (leave_direct), filled from the
 * mapping at that record, where parse_record sees it as it always would;
 * the next time that buffer runs dry the reader goes back to the mapping
 * (enter_direct) if it is before safe_end and past that record.
 */

/* Whether the reader may parse in the mapping now. */
static inline bool can_direct(const cu_csv *c) {
  return c->o.raw_fields && c->kind == SRC_MAP && !c->gz && c->nsel &&
         !c->o.slow_scan && c->bom_done;
}

/* With keep_buffers, starts a new buffer number for the mapping from pos
 * on (see cu_csv_release); keeps the hash ahead and lets old pages go. */
static void new_segment(cu_csv *c) {
  c->seg_at = c->pos;
  if (c->o.keep_buffers && c->nsegs < SEG_RING) {
    c->bufnum++;
    size_t k = (c->seg_head + c->nsegs++) % SEG_RING;
    c->segs[k].num = c->bufnum;
    c->segs[k].off = c->pos;
  }
  map_advance(c, c->pos);
}

/*
 * Instead of a fill: continues in the mapping at the offset of the
 * unconsumed bytes of buf (a partial record at most, dropped: the mapping
 * has them), when that is before safe_end and past where direct mode was
 * last left.  The reader's own buffer waits in own; with keep_buffers a
 * spare one, buf being set aside as held as a fill would.  False (the
 * reader as it was) otherwise, or out of memory for the spare.
 */
static bool enter_direct(cu_csv *c) {
  size_t at = c->mem_off - (c->len - c->pos);
  if (at >= c->safe_end || at <= c->left_at)
    return false;
  if (c->o.keep_buffers && c->pos > 0 &&
      next_buffer(c, false, NULL) != CUSTOS_OK)
    return false;
  c->own = c->buf;
  c->own_cap = c->cap;
  c->buf = (uint8_t *)(uintptr_t)c->mem;
  c->pos = at;
  c->len = c->safe_end;
  c->raw_read = c->safe_end;
  c->direct = true;
  new_segment(c);
  return true;
}

/* Back to the reader's own buffer, empty, to be filled from the mapping
 * at pos (where a record the fast path did not take starts). */
static void leave_direct(cu_csv *c) {
  size_t at = c->pos;
  c->direct = false;
  c->buf = c->own;
  c->cap = c->own_cap;
  c->own = NULL;
  c->pos = c->len = 0;
  c->mem_off = at;
  c->raw_read = at;
  c->raw_eof = false;
  c->eof = false;
  c->left_at = at;
  if (c->o.keep_buffers)
    c->bufnum++; /* the mapping's segment stays held as it was */
}

/* ---- reading ------------------------------------------------------------- */

custos_rc cu_csv_next(cu_csv *c, bool *eof, custos_diag *d) {
  if (!c || !eof)
    return cu_diag_set(d, CUSTOS_EINVAL, "cu_csv_next: no reader");
  *eof = false;
  if (c->err != CUSTOS_OK) {
    cu_diag_at(d, c->name, 0, 0);
    return cu_diag_set(d, CUSTOS_EINVAL, "CSV reader used after an error");
  }
  c->nf = 0;
  custos_rc rc;
  for (;;) {
    if (c->done) {
      *eof = true;
      return CUSTOS_OK;
    }
    if (!c->bom_done && (c->len - c->pos >= 3 || c->eof)) {
      if (c->len - c->pos >= 3 && memcmp(c->buf + c->pos, "\xef\xbb\xbf", 3) == 0)
        c->pos += 3;
      c->bom_done = true;
    }
    if (c->direct) {
      if (c->pos < c->len && can_direct(c)) {
        if (c->pos - c->seg_at >= SEG_BYTES)
          new_segment(c);
        if (c->wide ? fast_record_wide(c) : fast_record(c))
          return CUSTOS_OK;
      }
      c->win_ok = false; /* the fast path's window is in the mapping */
      leave_direct(c);
      continue;
    }
    if (c->bom_done && c->pos < c->len) {
      if (!c->o.slow_scan &&
          (c->wide ? fast_record_wide(c) : fast_record(c)))
        return CUSTOS_OK;
      bool more;
      rc = parse_record(c, &more, d);
      if (rc != CUSTOS_OK)
        goto fail;
      if (!more)
        return CUSTOS_OK;
    } else if (c->bom_done && c->eof) {
      c->done = true;
      continue;
    }
    /* Either moves the bytes the fast path's window held. */
    c->win_ok = false;
    if (can_direct(c) && enter_direct(c))
      continue;
    rc = fill(c, d);
    if (rc != CUSTOS_OK)
      goto fail;
  }

fail:
  c->err = rc;
  c->nf = 0;
  return rc;
}

custos_rc cu_csv_select(cu_csv *c, const int *cols, size_t n,
                        custos_diag *d) {
  if (!c || (n && !cols))
    return cu_diag_set(d, CUSTOS_EINVAL, "cu_csv_select: no reader");
  size_t nwant = 1;
  for (size_t k = 0; k < n; k++) {
    if (cols[k] < 0 || (size_t)cols[k] >= c->o.max_fields)
      return cu_diag_set(d, CUSTOS_EINVAL,
                         "cu_csv_select: column %d out of range", cols[k]);
    if ((size_t)cols[k] + 1 > nwant)
      nwant = (size_t)cols[k] + 1;
  }
  uint8_t *want = NULL;
  int *sel = NULL;
  size_t nsel = 0;
  if (n) {
    want = cu_calloc(nwant, 1);
    sel = cu_calloc(nwant, sizeof *sel);
    if (!want || !sel) {
      cu_free(want);
      cu_free(sel);
      return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory reading %s",
                         c->name);
    }
    want[0] = 1; /* a caller tells an empty line by its field 0 */
    for (size_t k = 0; k < n; k++)
      want[cols[k]] = 1;
    for (size_t i = 0; i < nwant; i++)
      if (want[i])
        sel[nsel++] = (int)i;
  }
  cu_free(c->want);
  cu_free(c->sel);
  c->want = want;
  c->sel = sel;
  c->nwant = n ? nwant : 0;
  c->nsel = nsel;
  return CUSTOS_OK;
}

size_t cu_csv_nfields(const cu_csv *c) { return c ? c->nf : 0; }

/* Whether field i of the current record was made (see cu_csv_select). */
static inline bool made(const cu_csv *c, size_t i) {
  return !c->partial || (i < c->nwant && c->want[i]);
}

const char *cu_csv_field(const cu_csv *c, size_t i, size_t *len) {
  if (!c || NEVER(i >= c->nf) || NEVER(!made(c, i))) {
    if (len)
      *len = 0;
    return "";
  }
  const field lf = c->lazy ? lazy_field(c, i) : c->fields[i], *f = &lf;
  if (len)
    *len = f->len;
  return (const char *)c->buf + f->off;
}

/* cu_csv_fields of a lazy record: each field found from ends, as
 * lazy_field does, and whether it has a doubled quote only when asked;
 * field idx[k] goes to slot to[k], or k when to is NULL (inlined into
 * each caller, where the test folds away). */
static inline __attribute__((always_inline)) void
lazy_fields(const cu_csv *c, const int *idx, const int *to, size_t n,
            const char **v, size_t *len, uint64_t *quoted,
            uint64_t *escaped) {
  uint64_t q = 0, e = 0;
  /* In locals, as the stores into len could change c. */
  const size_t nf = c->nf;
  const uint32_t *const ends = c->ends;
  const char *const rec = (const char *)c->buf + c->rec_start;
  for (size_t k = 0; k < n; k++) {
    /* a negative index is a large one */
    size_t i = (size_t)idx[k], t = to ? (size_t)to[k] : k;
    assert(i >= nf || made(c, i));
    if (NEVER(i >= nf)) {
      v[t] = "";
      len[t] = 0;
      continue;
    }
    /* ends[-1] + 1 is 0: the offsets from the record's start */
    uint32_t fs = ends[(ptrdiff_t)i - 1] + 1, fe = ends[i];
    const char *f = rec + fs;
    if (fe > fs && *f == '"') {
      size_t raw = fe - fs - 2;
      v[t] = f + 1;
      len[t] = raw;
      if (ALWAYS(t < 64)) {
        q |= (uint64_t)1 << t;
        if (escaped && memchr(f + 1, '"', raw))
          e |= (uint64_t)1 << t;
      }
    } else {
      v[t] = f;
      len[t] = fe - fs;
    }
  }
  *quoted = q;
  if (escaped)
    *escaped = e;
}

/* cu_csv_fields and cu_csv_fields_to (to NULL: slot k for field idx[k]),
 * inlined into each. */
static inline __attribute__((always_inline)) void
fields_to(const cu_csv *c, const int *idx, const int *to, size_t n,
          const char **v, size_t *len, uint64_t *quoted, uint64_t *escaped) {
  if (c && c->lazy) {
    lazy_fields(c, idx, to, n, v, len, quoted, escaped);
    return;
  }
  uint64_t q = 0, e = 0;
  /* In locals, as the stores into len could change c->nf. */
  const size_t nf = c ? c->nf : 0;
  const field *const fields = c ? c->fields : NULL;
  const char *const buf = c ? (const char *)c->buf : NULL;
  for (size_t k = 0; k < n; k++) {
    size_t i = (size_t)idx[k], t = to ? (size_t)to[k] : k;
    /* The hot path of every ingest: whether the field was made is only
     * asserted. */
    assert(!c || idx[k] < 0 || i >= nf || made(c, i));
    if (!c || NEVER(idx[k] < 0 || i >= nf)) {
      v[t] = "";
      len[t] = 0;
      continue;
    }
    const field *f = &fields[i];
    v[t] = buf + f->off;
    len[t] = f->len;
    if (f->quoted && ALWAYS(t < 64)) {
      q |= (uint64_t)1 << t;
      e |= (uint64_t)(f->esc != 0) << t;
    }
  }
  *quoted = q;
  if (escaped)
    *escaped = e;
}

void cu_csv_fields(const cu_csv *c, const int *idx, size_t n, const char **v,
                   size_t *len, uint64_t *quoted, uint64_t *escaped) {
  fields_to(c, idx, NULL, n, v, len, quoted, escaped);
}

void cu_csv_fields_to(const cu_csv *c, const int *idx, const int *to,
                      size_t n, const char **v, size_t *len,
                      uint64_t *quoted, uint64_t *escaped) {
  if (NEVER(!to)) {
    fields_to(c, idx, NULL, n, v, len, quoted, escaped);
    return;
  }
  fields_to(c, idx, to, n, v, len, quoted, escaped);
}

bool cu_csv_escaped(const cu_csv *c, size_t i) {
  if (!c || NEVER(i >= c->nf) || NEVER(!made(c, i)))
    return false;
  return (c->lazy ? lazy_field(c, i) : c->fields[i]).esc != 0;
}

const char *cu_csv_record_bytes(const cu_csv *c, size_t *n, bool *one_line) {
  if (!c || c->nf == 0) {
    *n = 0;
    if (one_line)
      *one_line = true;
    return "";
  }
  /* The last field's NUL lies past the record's end when the input ended
   * without a line break (never so for a record of the fast path, whose
   * last field may not have been made). */
  size_t end = c->pos;
  if (!c->partial) {
    const field *f = &c->fields[c->nf - 1];
    if (f->off + f->len + 1 > end)
      end = f->off + f->len + 1;
  }
  *n = end - c->rec_start;
  if (one_line)
    *one_line = c->first_ml == SIZE_MAX;
  return (const char *)c->buf + c->rec_start;
}

uint64_t cu_csv_buffer(const cu_csv *c) { return c ? c->bufnum : 0; }

void cu_csv_release(cu_csv *c, uint64_t buf) {
  if (!c)
    return;
  for (size_t k = 0; k < c->npool; k++)
    if (c->pool[k].num < buf)
      c->pool[k].held = false;
  if (c->nsegs == 0)
    return;
  /* Segments of the mapping (direct mode): the caller holds nothing
   * before the first one left, whose pages may go once hashed. */
  while (c->nsegs && c->segs[c->seg_head].num < buf) {
    c->seg_head = (c->seg_head + 1) % SEG_RING;
    c->nsegs--;
  }
  map_advance(c, c->direct ? c->pos : c->mem_off);
}

bool cu_csv_quoted(const cu_csv *c, size_t i) {
  if (!c || NEVER(i >= c->nf) || NEVER(!made(c, i)))
    return false;
  return (c->lazy ? lazy_field(c, i) : c->fields[i]).quoted;
}

uint64_t cu_csv_line(const cu_csv *c) { return c ? c->rec_line : 0; }

void cu_csv_field_pos(const cu_csv *c, size_t i, uint64_t *line,
                      uint64_t *column) {
  uint64_t l = 0, k = 0;
  if (c && ALWAYS(i < c->nf) && ALWAYS(made(c, i))) {
    const field lf = c->lazy ? lazy_field(c, i) : c->fields[i], *f = &lf;
    if (i < c->first_ml) {
      l = c->rec_line;
      k = f->off - f->quoted - c->rec_start + 1;
    } else {
      l = f->line;
      k = f->col;
    }
  }
  if (line)
    *line = l;
  if (column)
    *column = k;
}

uint64_t cu_csv_record(const cu_csv *c) { return c ? c->record : 0; }

uint64_t cu_csv_offset(const cu_csv *c) {
  if (!c)
    return 0;
  if (c->gz)
    return c->raw_read - c->z.avail_in;
  return c->raw_read - (c->len - c->pos);
}

uint64_t cu_csv_size(const cu_csv *c) { return c ? c->raw_size : 0; }

const char *cu_csv_name(const cu_csv *c) { return c ? c->name : ""; }
