/*
 * gen/sink: output files for the generator.  A sink buffers bytes, writes
 * them to a temporary sibling (plain, or gzip through zlib with the default
 * zero mtime in its header so the bytes depend on content only) and renames
 * it into place on close.  Errors are sticky and reported once, on close.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "gen/genInt.h"

#define SINK_BUF (1u << 20)

static void sink_fail(cu_gen_sink *s, custos_rc rc, int err) {
  if (s->rc == CUSTOS_OK) {
    s->rc = rc;
    s->err = err;
  }
}

custos_rc cu_gen_sink_open(cu_gen_sink *s, const char *out, const char *rel,
                           bool gz, custos_diag *d) {
  memset(s, 0, sizeof *s);
  int k1 = snprintf(s->path, sizeof s->path, "%s/%s", out, rel);
  int k2 = snprintf(s->tmp, sizeof s->tmp, "%s/%s.tmp", out, rel);
  int k3 = snprintf(s->rel, sizeof s->rel, "%s", rel);
  if (k1 < 0 || (size_t)k1 >= sizeof s->path || k2 < 0 ||
      (size_t)k2 >= sizeof s->tmp || k3 < 0 || (size_t)k3 >= sizeof s->rel)
    return cu_diag_set(d, CUSTOS_EINVAL, "output path too long: %s/%s", out,
                       rel);
  s->buf = cu_malloc(SINK_BUF);
  if (!s->buf)
    return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory opening %s", rel);
  s->cap = SINK_BUF;
  if (gz) {
    gzFile g = gzopen(s->tmp, "wb1");
    if (!g)
      goto fail_open;
    if (gzbuffer(g, 256u * 1024u) != 0) {
      gzclose(g);
      goto fail_open;
    }
    s->gz = g;
  } else {
    s->f = fopen(s->tmp, "wb");
    if (!s->f)
      goto fail_open;
  }
  return CUSTOS_OK;

fail_open : {
  int e = errno ? errno : EIO;
  cu_free(s->buf);
  s->buf = NULL;
  cu_diag_at(d, s->tmp, 0, 0);
  cu_diag_hint(d, "check that the output directory is writable");
  return cu_diag_set(d, CUSTOS_EIO, "cannot create: %s", strerror(e));
}
}

void cu_gen_sink_flush(cu_gen_sink *s) {
  if (s->len == 0 || s->rc != CUSTOS_OK) {
    s->len = 0;
    return;
  }
  if (s->gz) {
    int n = gzwrite((gzFile)s->gz, s->buf, (unsigned)s->len);
    if (n <= 0 || (size_t)n != s->len)
      sink_fail(s, CUSTOS_EIO, errno ? errno : EIO);
  } else if (fwrite(s->buf, 1, s->len, s->f) != s->len) {
    sink_fail(s, CUSTOS_EIO, errno ? errno : EIO);
  }
  s->len = 0;
}

static int sink_close_file(cu_gen_sink *s) {
  int bad = 0;
  if (s->gz) {
    bad = gzclose((gzFile)s->gz) != Z_OK;
    s->gz = NULL;
  } else if (s->f) {
    bad = fclose(s->f) != 0;
    s->f = NULL;
  }
  return bad;
}

custos_rc cu_gen_sink_close(cu_gen_sink *s, custos_diag *d) {
  cu_gen_sink_flush(s);
  if (sink_close_file(s))
    sink_fail(s, CUSTOS_EIO, errno ? errno : EIO);
  cu_free(s->buf);
  s->buf = NULL;
  if (s->rc == CUSTOS_OK && rename(s->tmp, s->path) != 0)
    sink_fail(s, CUSTOS_EIO, errno);
  if (s->rc != CUSTOS_OK) {
    unlink(s->tmp);
    cu_diag_at(d, s->path, 0, 0);
    cu_diag_hint(d, "check free disk space and permissions");
    return cu_diag_set(d, s->rc, "cannot write: %s", strerror(s->err));
  }
  return CUSTOS_OK;
}

void cu_gen_sink_abort(cu_gen_sink *s) {
  sink_close_file(s);
  cu_free(s->buf);
  s->buf = NULL;
  if (s->tmp[0])
    unlink(s->tmp);
}

uint64_t cu_gen_sink_disk_size(const cu_gen_sink *s) {
  struct stat sb;
  if (stat(s->path, &sb) != 0)
    return 0;
  return (uint64_t)sb.st_size;
}

void cu_gen_put(cu_gen_sink *s, const char *p, size_t n) {
  s->raw_bytes += n;
  while (n > 0) {
    if (s->len == s->cap)
      cu_gen_sink_flush(s);
    size_t k = s->cap - s->len;
    if (k > n)
      k = n;
    memcpy(s->buf + s->len, p, k);
    s->len += k;
    p += k;
    n -= k;
  }
}

void cu_gen_puts(cu_gen_sink *s, const char *p) { cu_gen_put(s, p, strlen(p)); }

void cu_gen_putc(cu_gen_sink *s, char c) {
  if (s->len == s->cap)
    cu_gen_sink_flush(s);
  s->buf[s->len++] = c;
  s->raw_bytes++;
}

void cu_gen_printf(cu_gen_sink *s, const char *fmt, ...) {
  char tmp[4096];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) {
    sink_fail(s, CUSTOS_EINTERNAL, EINVAL);
    return;
  }
  /* Every caller formats short lines; a longer one is a bug, not input. */
  if (NEVER((size_t)n >= sizeof tmp))
    n = (int)sizeof tmp - 1;
  cu_gen_put(s, tmp, (size_t)n);
}

void cu_gen_put_u64(cu_gen_sink *s, uint64_t v) {
  char tmp[24];
  size_t i = sizeof tmp;
  do {
    tmp[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  cu_gen_put(s, tmp + i, sizeof tmp - i);
}

void cu_gen_fmt_dec(char *out, size_t n, int64_t v, int scale) {
  char digits[32];
  size_t nd = 0;
  bool neg = v < 0;
  uint64_t u = neg ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  do {
    digits[nd++] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  while (nd <= (size_t)scale)
    digits[nd++] = '0';
  /* digits are reversed: digits[0] is the last fractional digit. */
  size_t first = 0;
  while (first < (size_t)scale && digits[first] == '0')
    first++;
  char tmp[48];
  size_t k = 0;
  if (neg)
    tmp[k++] = '-';
  for (size_t i = nd; i > (size_t)scale; i--)
    tmp[k++] = digits[i - 1];
  if (first < (size_t)scale) {
    tmp[k++] = '.';
    for (size_t i = (size_t)scale; i > first; i--)
      tmp[k++] = digits[i - 1];
  }
  if (k >= n)
    k = n - 1;
  memcpy(out, tmp, k);
  out[k] = '\0';
}

void cu_gen_put_dec(cu_gen_sink *s, int64_t v, int scale) {
  char tmp[48];
  cu_gen_fmt_dec(tmp, sizeof tmp, v, scale);
  cu_gen_puts(s, tmp);
}

void cu_gen_put_dec_e(cu_gen_sink *s, int64_t v, int scale) {
  char digits[32], tmp[48];
  size_t nd = 0, k = 0;
  bool neg = v < 0;
  uint64_t u = neg ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  if (u == 0) {
    cu_gen_puts(s, "0E+00");
    return;
  }
  do {
    digits[nd++] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  int exp = (int)nd - 1 - scale;
  size_t last = 0; /* drop trailing zeros of the mantissa */
  while (last < nd - 1 && digits[last] == '0')
    last++;
  if (neg)
    tmp[k++] = '-';
  tmp[k++] = digits[nd - 1];
  if (nd - 1 > last) {
    tmp[k++] = '.';
    for (size_t i = nd - 1; i > last; i--)
      tmp[k++] = digits[i - 1];
  }
  tmp[k] = '\0';
  cu_gen_puts(s, tmp);
  cu_gen_printf(s, "E%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
}

void cu_gen_put_csv(cu_gen_sink *s, const char *p) {
  if (!strpbrk(p, ",\"\r\n")) {
    cu_gen_puts(s, p);
    return;
  }
  cu_gen_putc(s, '"');
  for (; *p; p++) {
    if (*p == '"')
      cu_gen_putc(s, '"');
    cu_gen_putc(s, *p);
  }
  cu_gen_putc(s, '"');
}
