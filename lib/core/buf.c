/*
 * Bounded growable buffers.  Every buffer that grows from outside input has
 * a hard cap; reaching it fails with CUSTOS_ETOOBIG and leaves the buffer as
 * it was, so the caller can report the input and place that was too large.
 */
#include <stdio.h>
#include <string.h>

#include "core.h"

void cu_buf_init(cu_buf *b, size_t max) {
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  b->max = max;
}

void cu_buf_free(cu_buf *b) {
  cu_free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

void cu_buf_reset(cu_buf *b) {
  b->len = 0;
  if (b->data)
    b->data[0] = '\0';
}

custos_rc cu_buf_reserve(cu_buf *b, size_t extra) {
  if (extra > b->max || b->len > b->max - extra)
    return CUSTOS_ETOOBIG;
  size_t need = b->len + extra + 1; /* room for the NUL */
  if (need <= b->cap)
    return CUSTOS_OK;
  size_t ncap = b->cap ? b->cap : 64;
  while (ncap < need)
    ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
  if (ncap > b->max + 1)
    ncap = b->max + 1;
  char *p = cu_realloc(b->data, ncap);
  if (!p)
    return CUSTOS_ENOMEM;
  b->data = p;
  b->cap = ncap;
  return CUSTOS_OK;
}

custos_rc cu_buf_append(cu_buf *b, const void *p, size_t n) {
  custos_rc rc = cu_buf_reserve(b, n);
  if (rc != CUSTOS_OK)
    return rc;
  if (n)
    memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return CUSTOS_OK;
}

custos_rc cu_buf_puts(cu_buf *b, const char *s) {
  return cu_buf_append(b, s, strlen(s));
}

custos_rc cu_buf_putc(cu_buf *b, char c) { return cu_buf_append(b, &c, 1); }

custos_rc cu_buf_vprintf(cu_buf *b, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0)
    return CUSTOS_EINVAL;
  custos_rc rc = cu_buf_reserve(b, (size_t)n);
  if (rc != CUSTOS_OK)
    return rc;
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
  return CUSTOS_OK;
}

custos_rc cu_buf_printf(cu_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  custos_rc rc = cu_buf_vprintf(b, fmt, ap);
  va_end(ap);
  return rc;
}

char *cu_buf_take(cu_buf *b) {
  char *p = b->data;
  if (!p)
    p = cu_strdup("");
  b->data = NULL;
  b->len = b->cap = 0;
  return p;
}
