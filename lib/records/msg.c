/*
 * One message: the canonical content id (relaxed canonicalisation of a
 * fixed header subset and the body, after DKIM), parsing through GMime
 * (decoded headers, body text in UTF-8, attachments with SHA-256), and the
 * raw fallback for what GMime cannot parse.  Nothing here touches the
 * workspace; the ingest and the fuzz target share it.
 */
#include <errno.h>
#include <iconv.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <gmime/gmime.h>

#include "records.h"

/* ---- small helpers ---------------------------------------------------- */

static bool is_wsp(char c) { return c == ' ' || c == '\t'; }

/* Appends s[0..n) to b, cutting at b's cap on a UTF-8 boundary (then
 * *capped is set) and replacing NUL bytes by spaces, which FTS5 and the
 * display would otherwise stop at.  ENOMEM only. */
static custos_rc append_capped(cu_buf *b, const char *s, size_t n,
                               bool *capped) {
  size_t avail = b->max > b->len ? b->max - b->len : 0;
  if (n > avail) {
    n = avail;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
      n--;
    if (capped)
      *capped = true;
  }
  if (n == 0)
    return CUSTOS_OK;
  size_t start = b->len;
  custos_rc rc = cu_buf_append(b, s, n);
  if (rc != CUSTOS_OK)
    return rc == CUSTOS_ETOOBIG ? CUSTOS_OK : rc;
  if (memchr(b->data + start, '\0', n))
    for (size_t i = start; i < b->len; i++)
      if (b->data[i] == '\0')
        b->data[i] = ' ';
  return CUSTOS_OK;
}

static pthread_once_t gmime_once = PTHREAD_ONCE_INIT;
static GMimeParserOptions *popts;

static void gmime_init(void) {
  static const char *fallback[] = {"UTF-8", "windows-1252", NULL};
  g_mime_init();
  popts = g_mime_parser_options_new();
  g_mime_parser_options_set_fallback_charsets(popts, fallback);
}

/* windows-1252 code points of 0x80..0x9F (0 where undefined: kept as the
 * Latin-1 control, which is what the byte means there). */
static const uint16_t cp1252[32] = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0,      0x017D, 0,
    0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178};

static custos_rc from_cp1252(const char *s, size_t n, cu_buf *out,
                             bool *capped) {
  char tmp[1024];
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned c = (unsigned char)s[i];
    if (c >= 0x80 && c < 0xA0 && cp1252[c - 0x80])
      c = cp1252[c - 0x80];
    if (c < 0x80) {
      tmp[k++] = (char)c;
    } else if (c < 0x800) {
      tmp[k++] = (char)(0xC0 | (c >> 6));
      tmp[k++] = (char)(0x80 | (c & 0x3F));
    } else {
      tmp[k++] = (char)(0xE0 | (c >> 12));
      tmp[k++] = (char)(0x80 | ((c >> 6) & 0x3F));
      tmp[k++] = (char)(0x80 | (c & 0x3F));
    }
    if (k > sizeof tmp - 4 || i + 1 == n) {
      custos_rc rc = append_capped(out, tmp, k, capped);
      if (rc != CUSTOS_OK)
        return rc;
      k = 0;
    }
  }
  return CUSTOS_OK;
}

/* The length of the ASCII prefix of s[0..n), eight bytes at a time:
 * most text is all ASCII, and then it needs no other pass. */
static size_t ascii_len(const char *s, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, s + i, 8);
    if (w & UINT64_C(0x8080808080808080))
      break;
  }
  while (i < n && (unsigned char)s[i] < 0x80)
    i++;
  return i;
}

/* Charsets whose every byte sequence is valid, so a conversion from them
 * never fails even when the text is really UTF-8. */
static bool single_byte(const char *cs) {
  return g_ascii_strncasecmp(cs, "iso-8859-", 9) == 0 ||
         g_ascii_strncasecmp(cs, "iso8859-", 8) == 0 ||
         g_ascii_strncasecmp(cs, "windows-125", 11) == 0 ||
         g_ascii_strncasecmp(cs, "cp125", 5) == 0 ||
         g_ascii_strcasecmp(cs, "us-ascii") == 0 ||
         g_ascii_strcasecmp(cs, "ascii") == 0 ||
         g_ascii_strcasecmp(cs, "latin1") == 0;
}

/*
 * Idle iconv descriptors to UTF-8, kept for the next part in the same
 * charset: glibc loads a charset's gconv module on iconv_open and unloads
 * it on iconv_close, which cost more than the conversion of a typical
 * part (GMime's own cache closes them as well).  Shared by the threads
 * under a lock; a descriptor is taken out while in use.  They live until
 * the process exits, like GMime's tables.
 */
#define ICONV_IDLE 16

static struct {
  char cs[48];
  iconv_t cd;
} idle[ICONV_IDLE];
static size_t nidle;
static pthread_mutex_t idle_mu = PTHREAD_MUTEX_INITIALIZER;

static iconv_t iconv_take(const char *cs) {
  iconv_t cd = (iconv_t)-1;
  pthread_mutex_lock(&idle_mu);
  for (size_t i = 0; i < nidle; i++)
    if (strcmp(idle[i].cs, cs) == 0) {
      cd = idle[i].cd;
      idle[i] = idle[--nidle];
      break;
    }
  pthread_mutex_unlock(&idle_mu);
  if (cd != (iconv_t)-1) {
    iconv(cd, NULL, NULL, NULL, NULL); /* start afresh */
    return cd;
  }
  return iconv_open("UTF-8", cs);
}

static void iconv_give(const char *cs, iconv_t cd) {
  bool kept = false;
  if (strlen(cs) < sizeof idle[0].cs) {
    pthread_mutex_lock(&idle_mu);
    if (nidle < ICONV_IDLE) {
      snprintf(idle[nidle].cs, sizeof idle[0].cs, "%s", cs);
      idle[nidle++].cd = cd;
      kept = true;
    }
    pthread_mutex_unlock(&idle_mu);
  }
  if (!kept)
    iconv_close(cd);
}

/*
 * Converts s[0..n) from charset cs to UTF-8, appending to out (capped).
 * False when cs is unknown or s is not valid in it (then out holds a
 * partial result the caller drops), or on ENOMEM (*rc set); the same
 * outcomes as g_convert, which this replaces to keep descriptors open.
 */
static bool convert(const char *s, size_t n, const char *cs, cu_buf *out,
                    custos_rc *rc) {
  iconv_t cd = iconv_take(cs);
  if (cd == (iconv_t)-1)
    return false;
  char tmp[4096];
  char *in = (char *)(uintptr_t)s;
  size_t left = n;
  bool ok = true, capped = false;
  while (ok && left > 0) {
    char *o = tmp;
    size_t room = sizeof tmp;
    size_t k = iconv(cd, &in, &left, &o, &room);
    if (k == (size_t)-1 && errno != E2BIG)
      ok = false; /* EILSEQ, or EINVAL: a sequence cut at the end */
    if (o > tmp) {
      *rc = append_capped(out, tmp, (size_t)(o - tmp), &capped);
      if (*rc != CUSTOS_OK)
        ok = false;
    }
  }
  if (ok) {
    char *o = tmp;
    size_t room = sizeof tmp;
    if (iconv(cd, NULL, NULL, &o, &room) != (size_t)-1 && o > tmp)
      *rc = append_capped(out, tmp, (size_t)(o - tmp), &capped);
    ok = *rc == CUSTOS_OK;
  }
  iconv_give(cs, cd);
  return ok;
}

/* Charsets that code text in 7-bit bytes other than as ASCII (escape
 * sequences, shifts): such text must be converted even without a byte
 * over 0x7F, or the index would hold the escapes instead of the words. */
static bool seven_bit_coded(const char *cs) {
  return g_ascii_strncasecmp(cs, "iso-2022-", 9) == 0 ||
         g_ascii_strcasecmp(cs, "utf-7") == 0 ||
         g_ascii_strcasecmp(cs, "hz-gb-2312") == 0;
}

custos_rc cu_rec_to_utf8(const char *s, size_t n, const char *charset,
                         cu_buf *out, bool *fallback) {
  bool capped = false;
  pthread_once(&gmime_once, gmime_init); /* charset names come from GMime */
  /* UTF-8 is valid as a whole when it is after its ASCII prefix. */
  size_t a = ascii_len(s, n);
  bool eight = a < n;
  bool valid = !eight || cu_utf8_invalid_at(s + a, n - a) == n - a;
  const char *cs = charset && *charset ? g_mime_charset_iconv_name(charset)
                                       : NULL;
  if (!cs || !*cs) {
    if (valid)
      return append_capped(out, s, n, &capped);
    *fallback = true;
    return from_cp1252(s, n, out, &capped);
  }
  if (g_ascii_strcasecmp(cs, "utf-8") == 0 ||
      g_ascii_strcasecmp(cs, "utf8") == 0) {
    if (valid)
      return append_capped(out, s, n, &capped);
    *fallback = true;
    return from_cp1252(s, n, out, &capped);
  }
  if (single_byte(cs) && eight && valid) {
    /* Declared as a single-byte charset but valid UTF-8 with multi-byte
     * sequences: a mislabelled UTF-8 text is far likelier than Latin-1
     * that happens to form valid sequences. */
    *fallback = true;
    return append_capped(out, s, n, &capped);
  }
  if (!eight && !seven_bit_coded(cs) && (single_byte(cs) || valid))
    return append_capped(out, s, n, &capped);
  size_t start = out->len;
  custos_rc rc = CUSTOS_OK;
  if (convert(s, n, cs, out, &rc))
    return rc;
  if (rc != CUSTOS_OK)
    return rc;
  /* not that charset after all: forget what was converted */
  out->len = start;
  if (out->data)
    out->data[start] = '\0';
  *fallback = true;
  if (valid)
    return append_capped(out, s, n, &capped);
  return from_cp1252(s, n, out, &capped);
}

/* ---- HTML ------------------------------------------------------------- */

static bool tag_is(const char *t, size_t n, const char *name) {
  size_t k = strlen(name);
  return n >= k && g_ascii_strncasecmp(t, name, k) == 0 &&
         (n == k || !g_ascii_isalnum(t[k]));
}

static custos_rc put_cp(cu_buf *out, unsigned c) {
  char tmp[4];
  size_t k = 0;
  if (c == 0 || c > 0x10FFFF || (c >= 0xD800 && c < 0xE000))
    c = 0xFFFD;
  if (c < 0x80) {
    tmp[k++] = (char)c;
  } else if (c < 0x800) {
    tmp[k++] = (char)(0xC0 | (c >> 6));
    tmp[k++] = (char)(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    tmp[k++] = (char)(0xE0 | (c >> 12));
    tmp[k++] = (char)(0x80 | ((c >> 6) & 0x3F));
    tmp[k++] = (char)(0x80 | (c & 0x3F));
  } else {
    tmp[k++] = (char)(0xF0 | (c >> 18));
    tmp[k++] = (char)(0x80 | ((c >> 12) & 0x3F));
    tmp[k++] = (char)(0x80 | ((c >> 6) & 0x3F));
    tmp[k++] = (char)(0x80 | (c & 0x3F));
  }
  return append_capped(out, tmp, k, NULL);
}

custos_rc cu_rec_html_text(const char *s, size_t n, cu_buf *out) {
  static const struct {
    const char *name;
    unsigned cp;
  } ents[] = {{"amp", '&'},     {"lt", '<'},      {"gt", '>'},
              {"quot", '"'},    {"apos", '\''},   {"nbsp", 0xA0},
              {"eacute", 0xE9}, {"egrave", 0xE8}, {"uuml", 0xFC},
              {"ouml", 0xF6},   {"auml", 0xE4},   {"szlig", 0xDF},
              {"ndash", 0x2013}, {"mdash", 0x2014}, {"euro", 0x20AC},
              {"copy", 0xA9}};
  size_t i = 0, run = 0;
  custos_rc rc = CUSTOS_OK;
  while (i < n && rc == CUSTOS_OK) {
    char c = s[i];
    if (c == '<') {
      rc = append_capped(out, s + run, i - run, NULL);
      const char *gt = memchr(s + i, '>', n - i);
      size_t end = gt ? (size_t)(gt - s) + 1 : n;
      const char *t = s + i + 1;
      size_t tn = end - i - 1;
      bool closing = tn > 0 && t[0] == '/';
      const char *name = closing ? t + 1 : t;
      size_t nn = closing ? tn - 1 : tn;
      if (!closing && (tag_is(name, nn, "script") || tag_is(name, nn, "style"))) {
        /* skip to the matching end tag */
        const char *endtag = tag_is(name, nn, "script") ? "</script" : "</style";
        size_t j = end;
        while (j + 8 <= n && g_ascii_strncasecmp(s + j, endtag, strlen(endtag)))
          j++;
        gt = j < n ? memchr(s + j, '>', n - j) : NULL;
        end = gt ? (size_t)(gt - s) + 1 : n;
      } else if (rc == CUSTOS_OK) {
        bool block = tag_is(name, nn, "p") || tag_is(name, nn, "br") ||
                     tag_is(name, nn, "div") || tag_is(name, nn, "tr") ||
                     tag_is(name, nn, "li") || tag_is(name, nn, "h1") ||
                     tag_is(name, nn, "h2") || tag_is(name, nn, "h3") ||
                     tag_is(name, nn, "table");
        rc = append_capped(out, block ? "\n" : " ", 1, NULL);
      }
      i = run = end;
    } else if (c == '&') {
      rc = append_capped(out, s + run, i - run, NULL);
      const char *semi = memchr(s + i, ';', n - i < 12 ? n - i : 12);
      unsigned cp = 0;
      if (semi) {
        const char *e = s + i + 1;
        size_t en = (size_t)(semi - e);
        if (en > 1 && e[0] == '#') {
          char num[12];
          size_t k = 0;
          for (size_t j = 1; j < en && k < sizeof num - 1; j++)
            num[k++] = e[j];
          num[k] = '\0';
          cp = (num[0] == 'x' || num[0] == 'X')
                   ? (unsigned)strtoul(num + 1, NULL, 16)
                   : (unsigned)strtoul(num, NULL, 10);
          if (cp == 0)
            cp = 0xFFFD;
        } else {
          for (size_t k = 0; k < CU_ARRAY_LEN(ents); k++)
            if (strlen(ents[k].name) == en && memcmp(ents[k].name, e, en) == 0)
              cp = ents[k].cp;
        }
      }
      if (cp && rc == CUSTOS_OK) {
        rc = put_cp(out, cp == 0xA0 ? ' ' : cp);
        i = run = (size_t)(semi - s) + 1;
      } else {
        run = i;
        i++;
      }
    } else {
      i++;
    }
  }
  if (rc == CUSTOS_OK && run < n)
    rc = append_capped(out, s + run, n - run, NULL);
  return rc;
}

/* ---- raw header scanning ---------------------------------------------- */

/* One header field in the raw bytes: name and unfolded-later value. */
typedef struct rawhdr {
  const char *name;
  size_t nlen;
  const char *val; /* after the colon, still folded */
  size_t vlen;
} rawhdr;

/* Length of the line at s (up to and including its LF), bounded by n. */
static size_t line_len(const char *s, size_t n) {
  const char *lf = memchr(s, '\n', n);
  return lf ? (size_t)(lf - s) + 1 : n;
}

static bool blank_line(const char *s, size_t n) {
  return (n >= 1 && s[0] == '\n') || (n >= 2 && s[0] == '\r' && s[1] == '\n') ||
         n == 0;
}

/* Whether the line s[0..n) starts a header field: a name of printable
 * characters other than ':' followed by ':'. */
static size_t header_name_len(const char *s, size_t n) {
  size_t i = 0;
  while (i < n && (unsigned char)s[i] > 32 && (unsigned char)s[i] < 127 &&
         s[i] != ':')
    i++;
  size_t k = i;
  while (k < n && is_wsp(s[k]))
    k++; /* "Subject :" is tolerated */
  return i > 0 && k < n && s[k] == ':' ? i : 0;
}

/*
 * Splits data into the header block and the body.  Calls fn for each
 * field (up to a cap); returns the offset of the body.  *headers says
 * whether there was a header block at all (a message without headers has
 * its whole data as body).
 */
static size_t scan_headers(const char *data, size_t len,
                           void (*fn)(void *, const rawhdr *), void *ud,
                           bool *headers) {
  size_t i = 0, nfields = 0;
  *headers = false;
  /* an mbox postmark line left at the top of an EML file */
  if (len > 5 && memcmp(data, "From ", 5) == 0)
    i = line_len(data, len);
  size_t first = i;
  while (i < len) {
    size_t ll = line_len(data + i, len - i);
    if (blank_line(data + i, ll))
      return i + ll;
    size_t nl = header_name_len(data + i, ll);
    if (nl == 0) {
      if (i == first)
        return first; /* not a header block: all body */
      return i;       /* a broken header block ends here */
    }
    *headers = true;
    rawhdr h = {data + i, nl, NULL, 0};
    const char *colon = memchr(data + i, ':', ll);
    h.val = colon + 1;
    size_t j = i + ll;
    while (j < len && is_wsp(data[j]))
      j += line_len(data + j, len - j);
    h.vlen = (size_t)(data + j - h.val);
    if (fn && nfields++ < 10000)
      fn(ud, &h);
    i = j;
  }
  return len;
}

/* ---- canonical content id --------------------------------------------- */

static const char *const canon_headers[] = {"from", "to", "cc", "subject",
                                            "date"};
#define NCANON CU_ARRAY_LEN(canon_headers)

typedef struct canon_ctx {
  rawhdr h[NCANON][8]; /* up to 8 instances of each */
  size_t n[NCANON];
} canon_ctx;

static void canon_collect(void *ud, const rawhdr *h) {
  canon_ctx *c = ud;
  if (h->nlen < 2 || h->nlen > 7)
    return; /* the lengths of canon_headers */
  for (size_t k = 0; k < NCANON; k++)
    if ((h->name[0] | 0x20) == canon_headers[k][0] &&
        strlen(canon_headers[k]) == h->nlen &&
        g_ascii_strncasecmp(h->name, canon_headers[k], h->nlen) == 0 &&
        c->n[k] < 8)
      c->h[k][c->n[k]++] = *h;
}

/* The canonical form on its way to the hash, gathered in a buffer: one
 * hash update per line (and two per line end) cost more than the
 * canonicalisation itself. */
typedef struct sink {
  cu_sha256_ctx *sh;
  size_t k;
  char buf[8192];
} sink;

static void sink_flush(sink *o) {
  cu_sha256_update(o->sh, o->buf, o->k);
  o->k = 0;
}

static void sink_put(sink *o, const char *p, size_t n) {
  if (n > sizeof o->buf - o->k) {
    sink_flush(o);
    if (n > sizeof o->buf) {
      cu_sha256_update(o->sh, p, n);
      return;
    }
  }
  memcpy(o->buf + o->k, p, n);
  o->k += n;
}

static void sink_putc(sink *o, char c) {
  if (o->k == sizeof o->buf)
    sink_flush(o);
  o->buf[o->k++] = c;
}

/* Feeds s[0..n) to the hash with every run of WSP and line breaks as
 * one space and none at either end (relaxed header value). */
static void hash_relaxed_value(sink *o, const char *s, size_t n) {
  bool space = false, any = false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (is_wsp(c) || c == '\r' || c == '\n') {
      space = any;
      continue;
    }
    if (space) {
      sink_putc(o, ' ');
      space = false;
    }
    sink_putc(o, c);
    any = true;
  }
}

/* Relaxed body: trailing WSP of each line removed, WSP runs as one space,
 * CRLF line ends, trailing empty lines removed. */
static void hash_relaxed_body(sink *o, const char *s, size_t n) {
  size_t empty = 0; /* empty lines seen and not yet written */
  size_t i = 0;
  while (i < n) {
    size_t ll = line_len(s + i, n - i);
    size_t e = ll;
    if (e > 0 && s[i + e - 1] == '\n')
      e--;
    if (e > 0 && s[i + e - 1] == '\r')
      e--;
    while (e > 0 && is_wsp(s[i + e - 1]))
      e--;
    if (e == 0) {
      empty++;
    } else {
      for (; empty > 0; empty--)
        sink_put(o, "\r\n", 2);
      /* The line is written straight into the sink's buffer when it fits
       * there, without a room check per byte; a WSP run becomes one
       * space (none ends the line: they were cut above). */
      const char *p = s + i;
      if (e + 2 > sizeof o->buf - o->k)
        sink_flush(o);
      if (e + 2 <= sizeof o->buf) {
        char *d = o->buf + o->k;
        bool space = false;
        for (size_t j = 0; j < e; j++) {
          char c = p[j];
          if (!is_wsp(c)) {
            *d++ = c;
            space = false;
          } else if (!space) {
            *d++ = ' ';
            space = true;
          }
        }
        *d++ = '\r';
        *d++ = '\n';
        o->k = (size_t)(d - o->buf);
      } else {
        bool space = false;
        for (size_t j = 0; j < e; j++) {
          char c = p[j];
          if (!is_wsp(c)) {
            sink_putc(o, c);
            space = false;
          } else if (!space) {
            sink_putc(o, ' ');
            space = true;
          }
        }
        sink_put(o, "\r\n", 2);
      }
    }
    i += ll;
  }
}

/* cu_rec_content_id, also telling whether data has a header block (as
 * scan_headers does), which the parse would otherwise scan for again. */
static void content_id(const char *data, size_t len, uint64_t total,
                       char out[2 * CU_SHA256_LEN + 1], bool *headers) {
  canon_ctx c;
  memset(c.n, 0, sizeof c.n); /* c.h is read only where c.n says */
  size_t body = scan_headers(data, len, canon_collect, &c, headers);
  uint8_t dg[CU_SHA256_LEN];
  cu_sha256_ctx *sh = NULL;
  if (cu_sha256_init(&sh) != CUSTOS_OK) {
    /* Without a hash context the id falls back to the one-shot hash of
     * the bytes: still deterministic, only less tolerant of copies. */
    cu_sha256(data, len, dg);
    cu_hex_encode(dg, CU_SHA256_LEN, out);
    return;
  }
  sink o;
  o.sh = sh;
  o.k = 0;
  sink_put(&o, "custos-content-v1\n", 18);
  for (size_t k = 0; k < NCANON; k++) {
    for (size_t j = 0; j < c.n[k]; j++) {
      sink_put(&o, canon_headers[k], strlen(canon_headers[k]));
      sink_putc(&o, ':');
      hash_relaxed_value(&o, c.h[k][j].val, c.h[k][j].vlen);
      sink_put(&o, "\r\n", 2);
    }
  }
  sink_put(&o, "\r\n", 2);
  hash_relaxed_body(&o, data + body, len - body);
  if (total != len) {
    char t[40];
    int k = snprintf(t, sizeof t, "\ntotal:%llu", (unsigned long long)total);
    sink_put(&o, t, (size_t)k);
  }
  sink_flush(&o);
  cu_sha256_final(sh, dg);
  cu_hex_encode(dg, CU_SHA256_LEN, out);
}

void cu_rec_content_id(const char *data, size_t len, uint64_t total,
                       char out[2 * CU_SHA256_LEN + 1]) {
  bool headers;
  content_id(data, len, total, out, &headers);
}

/* ---- GMime ------------------------------------------------------------ */

void cu_rec_flags_format(unsigned flags, char *out, size_t n) {
  static const char *const names[] = {"raw",          "attachments",
                                      "charset",      "truncated",
                                      "parts-capped", "no-headers",
                                      "text-capped"};
  size_t k = 0;
  out[0] = '\0';
  for (unsigned i = 0; i < CU_ARRAY_LEN(names); i++) {
    if (!(flags & (1u << i)))
      continue;
    int w = snprintf(out + k, n - k, "%s%s", k ? "," : "", names[i]);
    if (w < 0 || (size_t)w >= n - k)
      break;
    k += (size_t)w;
  }
}

/* Copies s (NULL: "") capped at CU_REC_MAX_HEADER, valid UTF-8 made so
 * by the windows-1252 fallback.  NULL on OOM. */
static char *dup_text(const char *s, bool *fallback) {
  if (!s)
    s = "";
  size_t n = strlen(s);
  if (n > CU_REC_MAX_HEADER)
    n = CU_REC_MAX_HEADER;
  cu_buf b;
  cu_buf_init(&b, CU_REC_MAX_HEADER * 3);
  if (cu_rec_to_utf8(s, n, NULL, &b, fallback) != CUSTOS_OK) {
    cu_buf_free(&b);
    return NULL;
  }
  return cu_buf_take(&b);
}

/* "id1 id2 ..." from a References-like header; "" when none. */
static char *parse_refs(const char *text, bool first_only) {
  if (!text)
    return cu_strdup("");
  GMimeReferences *refs = g_mime_references_parse(popts, text);
  cu_buf b;
  cu_buf_init(&b, 64 * 1024);
  int n = refs ? g_mime_references_length(refs) : 0;
  custos_rc rc = cu_buf_puts(&b, "");
  for (int i = 0; i < n && rc == CUSTOS_OK; i++) {
    const char *id = g_mime_references_get_message_id(refs, i);
    if (!id || !*id || strchr(id, ' '))
      continue;
    if (b.len)
      rc = cu_buf_putc(&b, ' ');
    if (rc == CUSTOS_OK)
      rc = cu_buf_puts(&b, id);
    if (first_only)
      break;
  }
  if (refs)
    g_mime_references_free(refs);
  if (rc == CUSTOS_ETOOBIG)
    rc = CUSTOS_OK; /* a reference list that long is cut, not refused */
  if (rc != CUSTOS_OK) {
    cu_buf_free(&b);
    return NULL;
  }
  return cu_buf_take(&b);
}

/* "Name <addr>, ..." of an address list, groups flattened.  Written by
 * hand: GMime's formatter runs every domain through IDNA, which costs more
 * than the whole rest of the header handling. */
static void put_addrs(cu_buf *b, InternetAddressList *l, int depth) {
  int n = l ? internet_address_list_length(l) : 0;
  for (int i = 0; i < n; i++) {
    InternetAddress *ia = internet_address_list_get_address(l, i);
    if (INTERNET_ADDRESS_IS_GROUP(ia)) {
      if (depth < 4)
        put_addrs(b, internet_address_group_get_members(
                         INTERNET_ADDRESS_GROUP(ia)),
                  depth + 1);
      continue;
    }
    const char *name = internet_address_get_name(ia);
    const char *addr =
        internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
    /* a list longer than the cap is cut there */
    custos_rc rc = b->len ? cu_buf_puts(b, ", ") : CUSTOS_OK;
    if (rc == CUSTOS_OK && name && *name && addr && *addr)
      rc = cu_buf_printf(b, "%s <%s>", name, addr);
    else if (rc == CUSTOS_OK)
      rc = cu_buf_puts(b, name && *name ? name : addr ? addr : "");
    if (rc != CUSTOS_OK)
      return;
  }
}

static char *addr_list(InternetAddressList *a, InternetAddressList *b,
                       bool *fallback) {
  cu_buf t;
  cu_buf_init(&t, CU_REC_MAX_HEADER);
  put_addrs(&t, a, 0);
  put_addrs(&t, b, 0);
  char *out = dup_text(t.data, fallback);
  cu_buf_free(&t);
  return out;
}

static bool text_like(GMimeContentType *ct) {
  const char *t = g_mime_content_type_get_media_type(ct);
  const char *s = g_mime_content_type_get_media_subtype(ct);
  if (t && g_ascii_strcasecmp(t, "text") == 0)
    return true;
  if (!s)
    return false;
  return g_ascii_strcasecmp(s, "json") == 0 ||
         g_ascii_strcasecmp(s, "xml") == 0 ||
         g_ascii_strcasecmp(s, "csv") == 0;
}

/*
 * Decoded (transfer encoding undone) content of a leaf part, as the
 * returned bytes and *n.  A part without a transfer encoding to undo is
 * taken in place from the memory stream the parser gave it, which holds
 * the message's bytes: g_mime_data_wrapper_write_to_stream would copy
 * exactly that range (bound_start to bound_end) through two more GMime
 * objects and a growing array.  Any other part is decoded into a new
 * *stream, which then owns the bytes and which the caller unrefs when
 * not NULL.  The bytes live as long as the message.
 */
static const guint8 *part_bytes(GMimePart *part, size_t *n,
                                GMimeStream **stream) {
  *stream = NULL;
  *n = 0;
  GMimeDataWrapper *w = g_mime_part_get_content(part);
  if (!w)
    return (const guint8 *)"";
  GMimeContentEncoding enc = g_mime_data_wrapper_get_encoding(w);
  GMimeStream *src = w->stream;
  if (G_OBJECT_TYPE(w) == GMIME_TYPE_DATA_WRAPPER && src &&
      G_OBJECT_TYPE(src) == GMIME_TYPE_STREAM_MEM &&
      GMIME_STREAM_MEM(src)->buffer && enc != GMIME_CONTENT_ENCODING_BASE64 &&
      enc != GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE &&
      enc != GMIME_CONTENT_ENCODING_UUENCODE) {
    const GByteArray *buf = GMIME_STREAM_MEM(src)->buffer;
    gint64 end = src->bound_end != -1 ? src->bound_end : (gint64)buf->len;
    if (end > (gint64)buf->len)
      end = (gint64)buf->len;
    gint64 start = src->bound_start;
    if (start < 0 || start >= end)
      return (const guint8 *)"";
    *n = (size_t)(end - start);
    return buf->data + start;
  }
  *stream = g_mime_stream_mem_new();
  g_mime_data_wrapper_write_to_stream(w, *stream);
  const GByteArray *ba =
      g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(*stream));
  *n = ba->len;
  return ba->data ? ba->data : (const guint8 *)"";
}

static custos_rc add_attachment(cu_rec_msg *m, GMimePart *part,
                                GMimeContentType *ct, const guint8 *data,
                                size_t n, bool *fallback) {
  cu_rec_attach *na = cu_realloc(m->att, (m->natt + 1) * sizeof *na);
  if (!na)
    return CUSTOS_ENOMEM;
  m->att = na;
  cu_rec_attach *a = &m->att[m->natt];
  memset(a, 0, sizeof *a);
  m->natt++;
  char *type = g_mime_content_type_get_mime_type(ct);
  a->name = dup_text(g_mime_part_get_filename(part), fallback);
  a->type = cu_strdup(type ? type : "application/octet-stream");
  g_free(type);
  if (!a->name || !a->type)
    return CUSTOS_ENOMEM;
  a->size = n;
  uint8_t dg[CU_SHA256_LEN];
  cu_sha256(data, n, dg);
  cu_hex_encode(dg, CU_SHA256_LEN, a->sha256);
  m->flags |= CU_REC_HAS_ATTACH;
  bool capped = false;
  custos_rc rc = CUSTOS_OK;
  if (*a->name) {
    rc = append_capped(&m->attach_text, a->name, strlen(a->name), &capped);
    if (rc == CUSTOS_OK)
      rc = append_capped(&m->attach_text, "\n", 1, &capped);
  }
  if (rc == CUSTOS_OK && text_like(ct)) {
    const char *cs = g_mime_content_type_get_parameter(ct, "charset");
    rc = cu_rec_to_utf8((const char *)data, n, cs, &m->attach_text,
                        fallback);
    if (rc == CUSTOS_OK)
      rc = append_capped(&m->attach_text, "\n", 1, &capped);
  }
  if (capped)
    m->flags |= CU_REC_TEXT_CAPPED;
  return rc;
}

/* Adds an inline text/plain part (ct) to the body, or the text of a
 * text/html part to html, which becomes the body when there is no plain
 * text.  bytes[0..n) is the part's decoded content. */
static custos_rc add_text(cu_rec_msg *m, GMimeContentType *ct,
                          const guint8 *bytes, size_t n, cu_buf *html,
                          bool *fallback) {
  const char *cs = g_mime_content_type_get_parameter(ct, "charset");
  custos_rc rc = CUSTOS_OK;
  if (g_mime_content_type_is_type(ct, "text", "plain")) {
    if (m->body.len)
      rc = append_capped(&m->body, "\n", 1, NULL);
    if (rc == CUSTOS_OK)
      rc = cu_rec_to_utf8((const char *)bytes, n, cs, &m->body, fallback);
    return rc;
  }
  cu_buf tmp;
  cu_buf_init(&tmp, CU_REC_MAX_TEXT);
  rc = cu_rec_to_utf8((const char *)bytes, n, cs, &tmp, fallback);
  if (rc == CUSTOS_OK && tmp.len)
    rc = cu_rec_html_text(tmp.data, tmp.len, html);
  cu_buf_free(&tmp);
  return rc;
}

/* Walks the MIME tree: inline text/plain parts make the body, text/html
 * the body when there is no plain text, everything else an attachment. */
static custos_rc walk_parts(cu_rec_msg *m, GMimeMessage *msg, cu_buf *html,
                            bool *fallback) {
  GMimeObject *top = g_mime_message_get_mime_part(msg);
  if (!top)
    return CUSTOS_OK;
  GMimePartIter *it = g_mime_part_iter_new(top);
  custos_rc rc = CUSTOS_OK;
  size_t nparts = 0;
  bool leaves = false;
  bool more = true;
  if (GMIME_IS_PART(top)) {
    /* A single-part message: the iterator only walks children. */
    g_mime_part_iter_free(it);
    it = NULL;
  }
  GMimeObject *obj = it ? (g_mime_part_iter_is_valid(it)
                               ? g_mime_part_iter_get_current(it)
                               : NULL)
                        : top;
  while (obj && rc == CUSTOS_OK && more) {
    if (++nparts > CU_REC_MAX_PARTS) {
      m->flags |= CU_REC_PARTS_CAPPED;
      break;
    }
    if (GMIME_IS_PART(obj)) {
      leaves = true;
      GMimePart *part = GMIME_PART(obj);
      GMimeContentType *ct = g_mime_object_get_content_type(obj);
      GMimeStream *ms = NULL;
      size_t n = 0;
      const guint8 *bytes = part_bytes(part, &n, &ms);
      bool att = g_mime_part_is_attachment(part);
      if (!att && (g_mime_content_type_is_type(ct, "text", "plain") ||
                   g_mime_content_type_is_type(ct, "text", "html")))
        rc = add_text(m, ct, bytes, n, html, fallback);
      else
        rc = add_attachment(m, part, ct, bytes, n, fallback);
      if (ms)
        g_object_unref(ms);
    }
    if (!it)
      break;
    more = g_mime_part_iter_next(it);
    obj = more ? g_mime_part_iter_get_current(it) : NULL;
  }
  if (it)
    g_mime_part_iter_free(it);
  if (rc == CUSTOS_OK && GMIME_IS_MULTIPART(top) && !leaves)
    m->flags |= CU_REC_RAW; /* a multipart without parts: boundary lost */
  return rc;
}

/* Header values the raw path needs, taken from the hand scan. */
typedef struct raw_ctx {
  rawhdr subject, from, to, cc, date, msgid, irt, refs;
} raw_ctx;

static void raw_collect(void *ud, const rawhdr *h) {
  raw_ctx *c = ud;
  static const struct {
    const char *name;
    size_t off;
  } want[] = {{"subject", offsetof(raw_ctx, subject)},
              {"from", offsetof(raw_ctx, from)},
              {"to", offsetof(raw_ctx, to)},
              {"cc", offsetof(raw_ctx, cc)},
              {"date", offsetof(raw_ctx, date)},
              {"message-id", offsetof(raw_ctx, msgid)},
              {"in-reply-to", offsetof(raw_ctx, irt)},
              {"references", offsetof(raw_ctx, refs)}};
  for (size_t k = 0; k < CU_ARRAY_LEN(want); k++) {
    rawhdr *slot = (rawhdr *)((char *)c + want[k].off);
    if (!slot->name && strlen(want[k].name) == h->nlen &&
        g_ascii_strncasecmp(h->name, want[k].name, h->nlen) == 0)
      *slot = *h;
  }
}

/* A raw header value, unfolded and RFC 2047-decoded, as a g_malloc'ed
 * string (NULL when absent). */
static char *raw_value(const rawhdr *h) {
  if (!h->name)
    return NULL;
  size_t n = h->vlen > CU_REC_MAX_HEADER ? CU_REC_MAX_HEADER : h->vlen;
  char *v = g_strndup(h->val, n);
  for (char *p = v; *p; p++)
    if (*p == '\r' || *p == '\n')
      *p = ' ';
  g_strstrip(v);
  char *dec = g_mime_utils_header_decode_text(popts, v);
  g_free(v);
  return dec;
}

/* Fills m from the hand scan and the raw bytes as text: for messages
 * GMime cannot parse and messages without headers. */
static custos_rc parse_raw(const char *data, size_t len, cu_rec_msg *m,
                           bool *fallback) {
  raw_ctx c;
  memset(&c, 0, sizeof c);
  bool headers;
  size_t body = scan_headers(data, len, raw_collect, &c, &headers);
  if (!headers)
    m->flags |= CU_REC_NO_HEADERS;
  char *subject = raw_value(&c.subject), *from = raw_value(&c.from);
  char *to = raw_value(&c.to), *cc = raw_value(&c.cc);
  char *date = raw_value(&c.date), *msgid = raw_value(&c.msgid);
  char *irt = raw_value(&c.irt), *refs = raw_value(&c.refs);
  char *tocc = g_strjoin(to && cc ? ", " : "", to ? to : "", cc ? cc : "",
                         NULL);
  char *mid = msgid ? g_mime_utils_decode_message_id(msgid) : NULL;
  m->subject = dup_text(subject, fallback);
  m->from = dup_text(from, fallback);
  m->to = dup_text(tocc, fallback);
  m->message_id = dup_text(mid, fallback);
  m->in_reply_to = parse_refs(irt, true);
  m->refs = parse_refs(refs, false);
  if (date) {
    GDateTime *dt = g_mime_utils_header_decode_date(date);
    if (dt) {
      m->date = g_date_time_to_unix(dt);
      g_date_time_unref(dt);
    }
  }
  g_free(subject), g_free(from), g_free(to), g_free(cc), g_free(date);
  g_free(msgid), g_free(irt), g_free(refs), g_free(tocc), g_free(mid);
  if (!m->subject || !m->from || !m->to || !m->message_id ||
      !m->in_reply_to || !m->refs)
    return CUSTOS_ENOMEM;
  return cu_rec_to_utf8(data + body, len - body, NULL, &m->body, fallback);
}

/* ---- plain single-part messages without the object tree --------------- */

/*
 * Most mail is one text/plain (or text/html) part under a plain header
 * block, and for it GMime's object tree is nearly all of the parse cost:
 * a GMimeHeader object per field, header lists, content-type and
 * disposition objects, six address lists, a part, a data wrapper and
 * streams, built and freed again per message (about half of the parse
 * thread's time).  Such a message is read here from the raw header block
 * with the same GMime functions the object tree would apply to the same
 * values, so the record is the same.  Anything this does not recognise
 * as plain goes to GMime whole: a field repeated, a control character in
 * the header block, a name with other characters than letters, digits,
 * '-' and '_', a space before the colon, a header block not ended by an
 * empty line, a Content-Disposition, a content type other than
 * text/plain and text/html, uuencode, an encoded word or a byte over
 * 0x7F in a field other than Subject, From, To and Cc, or an address
 * list that does not parse whole.  cu_rec_msg_fast() turns it off; the
 * message fuzz target and test_records compare the two.
 */
enum {
  FH_FROM, FH_TO, FH_CC, FH_SUBJECT, FH_DATE, FH_MSGID, FH_IRT, FH_REFS,
  FH_CTYPE, FH_CTE, FH_CDISP, FH_N
};

static const char *const fast_names[FH_N] = {
    "from",         "to",         "cc",
    "subject",      "date",       "message-id",
    "in-reply-to",  "references", "content-type",
    "content-transfer-encoding",  "content-disposition"};

static bool fast_on = true;

bool cu_rec_msg_fast(bool on) {
  bool was = fast_on;
  fast_on = on;
  return was;
}

static bool fast_name_char(char c) {
  return g_ascii_isalnum(c) || c == '-' || c == '_';
}

/* Checks that the line s[0..n) (its LF included) holds no control
 * characters but tabs, ended by LF or CRLF.  Bytes over 0x7F are let
 * through: raw UTF-8 names in From and To are common, and GMime keeps
 * them in the raw value as they are. */
static bool fast_line_ok(const char *s, size_t n) {
  if (n == 0 || s[n - 1] != '\n')
    return false; /* the header block ends without an empty line */
  size_t e = n - 1;
  if (e > 0 && s[e - 1] == '\r')
    e--;
  for (size_t i = 0; i < e; i++) {
    unsigned char c = (unsigned char)s[i];
    if ((c < 0x20 && c != '\t') || c == 0x7F)
      return false;
  }
  return true;
}

/* Scans the header block of data[0..len) from start for the fields of
 * fast_names; *body is where the body starts.  False when the block is
 * not plain in the sense above. */
static bool fast_headers(const char *data, size_t len, size_t start,
                         rawhdr h[FH_N], size_t *body) {
  memset(h, 0, FH_N * sizeof *h);
  rawhdr *cur = NULL;
  size_t i = start;
  while (i < len) {
    size_t ll = line_len(data + i, len - i);
    if (!fast_line_ok(data + i, ll))
      return false;
    if (blank_line(data + i, ll)) {
      *body = i + ll;
      return true;
    }
    if (is_wsp(data[i])) {
      /* a continuation: not first, and not white space alone, which
       * parsers may take for the end of the block */
      size_t k = 0;
      while (k < ll && (is_wsp(data[i + k]) || data[i + k] == '\r'))
        k++;
      if (i == start || k + 1 >= ll)
        return false;
      if (cur)
        cur->vlen = (size_t)(data + i + ll - cur->val);
      i += ll;
      continue;
    }
    size_t nl = 0;
    while (nl < ll && fast_name_char(data[i + nl]))
      nl++;
    if (nl == 0 || data[i + nl] != ':')
      return false;
    cur = NULL;
    for (size_t k = 0; k < FH_N; k++)
      if (strlen(fast_names[k]) == nl &&
          g_ascii_strncasecmp(data + i, fast_names[k], nl) == 0) {
        if (h[k].name)
          return false; /* repeated: GMime's rules for which one counts */
        cur = &h[k];
        cur->name = data + i;
        cur->nlen = nl;
        cur->val = data + i + nl + 1;
        cur->vlen = ll - nl - 1;
      }
    i += ll;
  }
  return false;
}

/* g_mime_utils_header_decode_text(popts, s), which takes s over as the
 * result.  Text in ASCII without "=?" has nothing to decode and comes
 * back as it was; GMime would copy it word by word through a GString
 * (some 4,000 instructions a field). */
static char *decode_text(char *s) {
  size_t n = strlen(s);
  if (ascii_len(s, n) == n && !strstr(s, "=?"))
    return s;
  char *v = g_mime_utils_header_decode_text(popts, s);
  g_free(s);
  return v;
}

/* A field's value unfolded (g_mime_utils_header_unfold), g_malloc'ed;
 * NULL when the field is absent.  This is what GMime decodes once for
 * the subject: an encoded word that decodes to another one stays
 * encoded. */
static char *fast_value(const rawhdr *h) {
  if (!h->name)
    return NULL;
  char *raw = g_strndup(h->val, h->vlen);
  char *unfolded = g_mime_utils_header_unfold(raw);
  g_free(raw);
  return unfolded;
}

/*
 * Parsed values kept for the next message with the same value: mail
 * from one source repeats a handful of Content-Type values ("text/plain;
 * charset=utf-8") and of senders and recipients, and parsing one and
 * freeing the GMime objects again cost some 20,000 instructions a
 * message for the content type and more for the addresses.  A parse
 * depends on nothing but the value and popts, and the objects are only
 * read, so a kept one serves any thread (each takes a reference).
 * Values of KEPT_VAL bytes or more are parsed every time.  The objects
 * live until the process exits, like GMime's tables.
 */
#define KEPT_VAL 120

typedef struct kept {
  char val[KEPT_VAL];
  gpointer obj; /* a GObject */
} kept;

typedef struct kept_set {
  pthread_mutex_t mu;
  size_t n, next; /* slots, and the one to replace next */
  kept *k;
} kept_set;

static kept ct_slots[8], addr_slots[16];
static kept_set ct_kept = {PTHREAD_MUTEX_INITIALIZER, 8, 0, ct_slots};
static kept_set addr_kept = {PTHREAD_MUTEX_INITIALIZER, 16, 0, addr_slots};

/* A new reference to the object kept in s for the value v, or NULL. */
static gpointer kept_find(kept_set *s, const char *v) {
  gpointer obj = NULL;
  pthread_mutex_lock(&s->mu);
  for (size_t i = 0; i < s->n && !obj; i++)
    if (s->k[i].obj && strcmp(s->k[i].val, v) == 0)
      obj = g_object_ref(s->k[i].obj);
  pthread_mutex_unlock(&s->mu);
  return obj;
}

/* Keeps a reference to obj, parsed from v (shorter than KEPT_VAL), in
 * place of the oldest kept one. */
static void kept_put(kept_set *s, const char *v, gpointer obj) {
  pthread_mutex_lock(&s->mu);
  kept *slot = &s->k[s->next++ % s->n];
  gpointer old = slot->obj;
  snprintf(slot->val, sizeof slot->val, "%s", v);
  slot->obj = g_object_ref(obj);
  pthread_mutex_unlock(&s->mu);
  if (old)
    g_object_unref(old);
}

/* The parsed content type of the unfolded value v, a new reference. */
static GMimeContentType *content_type(const char *v) {
  bool keep = strlen(v) < KEPT_VAL;
  GMimeContentType *ct = keep ? kept_find(&ct_kept, v) : NULL;
  if (ct)
    return ct;
  ct = g_mime_content_type_parse(popts, v);
  if (ct && keep)
    kept_put(&ct_kept, v, ct);
  return ct;
}

/* The parsed address list of the raw value v, a new reference; NULL
 * when it does not parse whole. */
static InternetAddressList *address_list(const char *v) {
  bool keep = strlen(v) < KEPT_VAL;
  InternetAddressList *l = keep ? kept_find(&addr_kept, v) : NULL;
  if (l)
    return l;
  l = internet_address_list_parse(popts, v);
  if (l && keep)
    kept_put(&addr_kept, v, l);
  return l;
}

/* The addresses of an address field h into *l (NULL when absent or
 * empty), parsed from the raw value as GMime's message does: a name
 * folded over two lines keeps its line break.  False when part of the
 * value does not parse: GMime's message then keeps the addresses before
 * the error (a parse that is not public API), so such a message goes to
 * GMime. */
static bool fast_addrs(const rawhdr *h, InternetAddressList **l) {
  *l = NULL;
  if (!h->name)
    return true;
  char *v = g_strndup(h->val, h->vlen);
  *l = address_list(v);
  bool ok = *l != NULL || v[strspn(v, " \t\r\n")] == '\0';
  g_free(v);
  return ok;
}

/* Whether a field other than Subject, From, To and Cc is outside what
 * the fast path reads: an encoded word or a byte over 0x7F in its value,
 * which GMime may decode or convert before it reads the field. */
static bool unusual_value(const rawhdr *h) {
  if (!h->name)
    return false;
  for (size_t i = 0; i < h->vlen; i++)
    if ((unsigned char)h->val[i] > 0x7F)
      return true;
  return g_strstr_len(h->val, (gssize)h->vlen, "=?") != NULL;
}

/* The decoded content of the body data[0..n): in place for the encodings
 * GMime reads in place (part_bytes), else decoded into *own (cu_malloc'ed,
 * the caller frees it) with the decoder GMime's data wrapper runs; one
 * step over the whole content gives what its filter gives chunk by
 * chunk. */
static custos_rc fast_decode(GMimeContentEncoding enc, const char *s,
                             size_t n, const guint8 **out, size_t *outn,
                             char **own) {
  *own = NULL;
  if (enc != GMIME_CONTENT_ENCODING_BASE64 &&
      enc != GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE) {
    *out = (const guint8 *)s;
    *outn = n;
    return CUSTOS_OK;
  }
  GMimeEncoding st;
  g_mime_encoding_init_decode(&st, enc);
  size_t cap = g_mime_encoding_outlen(&st, n) + 16;
  *own = cu_malloc(cap);
  if (!*own)
    return CUSTOS_ENOMEM;
  size_t k = g_mime_encoding_step(&st, s, n, *own);
  k += g_mime_encoding_flush(&st, "", 0, *own + k);
  *out = (const guint8 *)*own;
  *outn = k;
  return CUSTOS_OK;
}

/*
 * Fills m from data[0..len) when it is a plain single-part message
 * (*done set); otherwise leaves m as it was for GMime.  skip is the
 * length of an mbox postmark line GMime is not shown.  ENOMEM only.
 */
static custos_rc parse_plain(const char *data, size_t len, size_t skip,
                             cu_rec_msg *m, bool *fallback, bool *done) {
  *done = false;
  rawhdr h[FH_N];
  size_t body;
  if (!fast_on || !fast_headers(data, len, skip, h, &body))
    return CUSTOS_OK;
  if (h[FH_CDISP].name)
    return CUSTOS_OK;
  for (size_t k = FH_DATE; k <= FH_CTE; k++)
    if (unusual_value(&h[k]))
      return CUSTOS_OK;
  GMimeContentType *ct = NULL;
  if (h[FH_CTYPE].name) {
    char *v = fast_value(&h[FH_CTYPE]);
    ct = v ? content_type(v) : NULL;
    g_free(v);
  } else {
    ct = g_mime_content_type_new("text", "plain");
  }
  if (!ct)
    return CUSTOS_OK;
  GMimeContentEncoding enc = GMIME_CONTENT_ENCODING_DEFAULT;
  if (h[FH_CTE].name) {
    char *v = fast_value(&h[FH_CTE]);
    enc = v ? g_mime_content_encoding_from_string(v)
            : GMIME_CONTENT_ENCODING_DEFAULT;
    g_free(v);
  }
  if ((!g_mime_content_type_is_type(ct, "text", "plain") &&
       !g_mime_content_type_is_type(ct, "text", "html")) ||
      enc == GMIME_CONTENT_ENCODING_UUENCODE) {
    g_object_unref(ct);
    return CUSTOS_OK;
  }
  InternetAddressList *lf = NULL, *lt = NULL, *lc = NULL;
  if (!fast_addrs(&h[FH_FROM], &lf) || !fast_addrs(&h[FH_TO], &lt) ||
      !fast_addrs(&h[FH_CC], &lc)) {
    if (lf)
      g_object_unref(lf);
    if (lt)
      g_object_unref(lt);
    g_object_unref(ct);
    return CUSTOS_OK;
  }
  *done = true;
  char *subject = fast_value(&h[FH_SUBJECT]);
  char *date = fast_value(&h[FH_DATE]), *msgid = fast_value(&h[FH_MSGID]);
  char *irt = fast_value(&h[FH_IRT]), *refs = fast_value(&h[FH_REFS]);
  if (date) {
    GDateTime *dt = g_mime_utils_header_decode_date(date);
    if (dt) {
      m->date = g_date_time_to_unix(dt);
      g_date_time_unref(dt);
    }
  }
  subject = subject ? decode_text(subject) : NULL;
  m->subject = dup_text(subject, fallback);
  m->from = addr_list(lf, NULL, fallback);
  m->to = addr_list(lt, lc, fallback);
  if (lf)
    g_object_unref(lf);
  if (lt)
    g_object_unref(lt);
  if (lc)
    g_object_unref(lc);
  char *mid = msgid ? g_mime_utils_decode_message_id(msgid) : NULL;
  m->message_id = dup_text(mid, fallback);
  g_free(mid);
  m->in_reply_to = parse_refs(irt, true);
  m->refs = parse_refs(refs, false);
  g_free(subject), g_free(date), g_free(msgid), g_free(irt), g_free(refs);
  custos_rc rc = CUSTOS_OK;
  if (!m->subject || !m->from || !m->to || !m->message_id ||
      !m->in_reply_to || !m->refs)
    rc = CUSTOS_ENOMEM;
  const guint8 *bytes = NULL;
  size_t n = 0;
  char *own = NULL;
  if (rc == CUSTOS_OK)
    rc = fast_decode(enc, data + body, len - body, &bytes, &n, &own);
  if (rc == CUSTOS_OK) {
    cu_buf html;
    cu_buf_init(&html, CU_REC_MAX_TEXT);
    rc = add_text(m, ct, bytes, n, &html, fallback);
    if (rc == CUSTOS_OK && m->body.len == 0 && html.len)
      rc = append_capped(&m->body, html.data, html.len, NULL);
    cu_buf_free(&html);
  }
  cu_free(own);
  g_object_unref(ct);
  return rc;
}

void cu_rec_msg_free(cu_rec_msg *m) {
  if (!m)
    return;
  cu_free(m->message_id);
  cu_free(m->in_reply_to);
  cu_free(m->refs);
  cu_free(m->subject);
  cu_free(m->from);
  cu_free(m->to);
  cu_buf_free(&m->body);
  cu_buf_free(&m->attach_text);
  for (size_t i = 0; i < m->natt; i++) {
    cu_free(m->att[i].name);
    cu_free(m->att[i].type);
  }
  cu_free(m->att);
  memset(m, 0, sizeof *m);
}

custos_rc cu_rec_msg_parse(const char *data, size_t len, bool truncated,
                           uint64_t total, cu_rec_msg *m, custos_diag *d) {
  memset(m, 0, sizeof *m);
  cu_buf_init(&m->body, CU_REC_MAX_TEXT);
  cu_buf_init(&m->attach_text, CU_REC_MAX_TEXT);
  pthread_once(&gmime_once, gmime_init);
  bool headers;
  content_id(data, len, total, m->content_id, &headers);
  if (truncated)
    m->flags |= CU_REC_TRUNCATED;
  bool fallback = false;
  custos_rc rc = CUSTOS_OK;

  GMimeMessage *msg = NULL;
  /* GMime reads the caller's bytes in place: the stream does not own the
   * array, which only borrows data (g_byte_array_free(.., FALSE) below
   * hands it back untouched), so the message is not copied once more.
   * The parts' content refers to the stream, so the array lives as long
   * as msg. */
  GByteArray *view = NULL;
  if (headers) {
    size_t skip = 0;
    if (len > 5 && memcmp(data, "From ", 5) == 0)
      skip = line_len(data, len);
    bool done = false;
    rc = parse_plain(data, len, skip, m, &fallback, &done);
    if (done || rc != CUSTOS_OK)
      goto done;
    view = g_byte_array_new_take((guint8 *)(uintptr_t)(data + skip),
                                 len - skip);
    GMimeStream *s = g_mime_stream_mem_new_with_byte_array(view);
    g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(s), FALSE);
    GMimeParser *p = g_mime_parser_new_with_stream(s);
    g_mime_parser_set_format(p, GMIME_FORMAT_MESSAGE);
    msg = g_mime_parser_construct_message(p, popts);
    g_object_unref(p);
    g_object_unref(s);
  }
  if (!msg) {
    if (view)
      g_byte_array_free(view, FALSE);
    if (headers)
      m->flags |= CU_REC_RAW;
    rc = parse_raw(data, len, m, &fallback);
    goto done;
  }
  GDateTime *dt = g_mime_message_get_date(msg);
  m->date = dt ? g_date_time_to_unix(dt) : 0;
  m->subject = dup_text(g_mime_message_get_subject(msg), &fallback);
  m->from = addr_list(g_mime_message_get_from(msg), NULL, &fallback);
  m->to = addr_list(g_mime_message_get_to(msg), g_mime_message_get_cc(msg),
                    &fallback);
  m->message_id = dup_text(g_mime_message_get_message_id(msg), &fallback);
  m->in_reply_to = parse_refs(
      g_mime_object_get_header(GMIME_OBJECT(msg), "In-Reply-To"), true);
  m->refs = parse_refs(
      g_mime_object_get_header(GMIME_OBJECT(msg), "References"), false);
  if (!m->subject || !m->from || !m->to || !m->message_id ||
      !m->in_reply_to || !m->refs) {
    rc = CUSTOS_ENOMEM;
  } else {
    cu_buf html;
    cu_buf_init(&html, CU_REC_MAX_TEXT);
    rc = walk_parts(m, msg, &html, &fallback);
    if (rc == CUSTOS_OK && m->body.len == 0 && html.len)
      rc = append_capped(&m->body, html.data, html.len, NULL);
    cu_buf_free(&html);
    if (rc == CUSTOS_OK && (m->flags & CU_REC_RAW)) {
      /* GMime made a message but lost its parts (a multipart without its
       * boundary): index the raw body so its words are still found. */
      size_t body = scan_headers(data, len, NULL, NULL, &headers);
      cu_buf_reset(&m->body);
      rc = cu_rec_to_utf8(data + body, len - body, NULL, &m->body,
                          &fallback);
    }
  }
  g_object_unref(msg);
  g_byte_array_free(view, FALSE);
done:
  if (fallback)
    m->flags |= CU_REC_CHARSET;
  if (m->body.len >= m->body.max || m->attach_text.len >= m->attach_text.max)
    m->flags |= CU_REC_TEXT_CAPPED;
  if (rc == CUSTOS_OK && (!m->body.data || !m->attach_text.data)) {
    /* give empty buffers a terminated "" so callers can bind them */
    if (!m->body.data)
      rc = cu_buf_puts(&m->body, "");
    if (rc == CUSTOS_OK && !m->attach_text.data)
      rc = cu_buf_puts(&m->attach_text, "");
  }
  if (rc != CUSTOS_OK)
    return cu_diag_set(d, rc, "out of memory parsing a message");
  return CUSTOS_OK;
}
