/*
 * Result messages and diagnostics.  The messages come from the same X-macro
 * as the enum, so a code and its text cannot drift apart.  A diagnostic
 * carries the input, position, field and value a person needs to find and
 * fix the problem.
 */
#include <stdio.h>
#include <string.h>

#include "core.h"

const char *custos_rc_message(custos_rc rc) {
  switch (rc) {
#define X(name, num, msg)                                                      \
  case CUSTOS_##name:                                                          \
    return msg;
    CUSTOS_RC_LIST(X)
#undef X
  case CUSTOS_RC_COUNT_:
    break;
  }
  return "unknown result code";
}

const char *custos_rc_name(custos_rc rc) {
  switch (rc) {
#define X(name, num, msg)                                                      \
  case CUSTOS_##name:                                                          \
    return "CUSTOS_" #name;
    CUSTOS_RC_LIST(X)
#undef X
  case CUSTOS_RC_COUNT_:
    break;
  }
  return "CUSTOS_UNKNOWN";
}

void custos_diag_clear(custos_diag *d) {
  if (d)
    memset(d, 0, sizeof *d);
}

custos_rc cu_diag_set(custos_diag *d, custos_rc rc, const char *fmt, ...) {
  if (!d)
    return rc;
  d->rc = rc;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(d->msg, sizeof d->msg, fmt, ap);
  va_end(ap);
  return rc;
}

void cu_diag_at(custos_diag *d, const char *input, uint64_t line,
                uint64_t column) {
  if (!d)
    return;
  snprintf(d->input, sizeof d->input, "%s", input ? input : "");
  d->line = line;
  d->column = column;
}

void cu_diag_field(custos_diag *d, const char *field, const char *value,
                   size_t value_len) {
  if (!d)
    return;
  snprintf(d->field, sizeof d->field, "%s", field ? field : "");
  if (value)
    cu_escape_display(value, value_len, d->value, sizeof d->value);
  else
    d->value[0] = '\0';
}

void cu_diag_hint(custos_diag *d, const char *fmt, ...) {
  if (!d)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(d->hint, sizeof d->hint, fmt, ap);
  va_end(ap);
}

void cu_escape_display(const char *s, size_t n, char *out, size_t outn) {
  static const char hexd[] = "0123456789abcdef";
  size_t o = 0;
  if (outn == 0)
    return;
  for (size_t i = 0; i < n;) {
    size_t bad = cu_utf8_invalid_at(s + i, n - i < 4 ? n - i : 4);
    size_t chunk = 1;
    char tmp[8];
    size_t tl = 0;
    unsigned char c = (unsigned char)s[i];
    if (bad == 0 || c < 0x20 || c == 0x7f || c == '\\') {
      if (c == '\\') {
        tmp[tl++] = '\\';
        tmp[tl++] = '\\';
      } else {
        tmp[tl++] = '\\';
        tmp[tl++] = 'x';
        tmp[tl++] = hexd[c >> 4];
        tmp[tl++] = hexd[c & 15];
      }
    } else {
      /* copy one whole UTF-8 character */
      chunk = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
      memcpy(tmp, s + i, chunk);
      tl = chunk;
    }
    if (outn < 4 || o + tl > outn - 4) { /* keep room for "..." and NUL */
      if (outn >= 4) {
        memcpy(out + o, "...", 3);
        o += 3;
      }
      break;
    }
    memcpy(out + o, tmp, tl);
    o += tl;
    i += chunk;
  }
  out[o < outn ? o : outn - 1] = '\0';
}

char *custos_diag_format(const custos_diag *d, char *out, size_t n) {
  size_t o = 0;
  if (n == 0)
    return out;
  out[0] = '\0';
#define APPEND(...)                                                            \
  do {                                                                         \
    if (o < n) {                                                               \
      int k_ = snprintf(out + o, n - o, __VA_ARGS__);                          \
      if (k_ > 0)                                                              \
        o += (size_t)k_;                                                       \
    }                                                                          \
  } while (0)
  if (d->input[0]) {
    APPEND("%s", d->input);
    if (d->line) {
      APPEND(":%llu", (unsigned long long)d->line);
      if (d->column)
        APPEND(":%llu", (unsigned long long)d->column);
    }
    APPEND(": ");
  }
  if (d->field[0])
    APPEND("field '%s' ", d->field);
  if (d->field[0] || d->value[0])
    APPEND("value '%s': ", d->value);
  APPEND("%s", d->msg[0] ? d->msg : custos_rc_message(d->rc));
  if (d->hint[0])
    APPEND(" (%s)", d->hint);
#undef APPEND
  return out;
}
