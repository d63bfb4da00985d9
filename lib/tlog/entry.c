/*
 * Log entries: the canonical, versioned text encoding of one workspace
 * event as a leaf.  Everything that identifies the event (index, time, type,
 * actor, case, payload digest and size, and the payload itself when small)
 * is inside the leaf; decoding refuses any other encoding of the same entry.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "tlog.h"

static const char magic[] = CU_LOG_ENTRY_MAGIC "\n";

/* Percent-escapes '%', control characters and bytes that are not part of
 * valid UTF-8, so that every value is one printable line. */
static custos_rc put_escaped(cu_buf *b, const char *s, size_t n) {
  static const char hexd[] = "0123456789ABCDEF";
  for (size_t i = 0; i < n;) {
    unsigned char c = (unsigned char)s[i];
    size_t ok = cu_utf8_invalid_at(s + i, n - i < 4 ? n - i : 4);
    if (c == '%' || c < 0x20 || c == 0x7f || ok == 0) {
      char e[3] = {'%', hexd[c >> 4], hexd[c & 15]};
      custos_rc rc = cu_buf_append(b, e, 3);
      if (rc != CUSTOS_OK)
        return rc;
      i++;
      continue;
    }
    size_t len = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    custos_rc rc = cu_buf_append(b, s + i, len);
    if (rc != CUSTOS_OK)
      return rc;
    i += len;
  }
  return CUSTOS_OK;
}

static custos_rc put_field(cu_buf *b, const char *key, const char *v) {
  custos_rc rc = cu_buf_printf(b, "%s ", key);
  if (rc == CUSTOS_OK)
    rc = put_escaped(b, v, strlen(v));
  if (rc == CUSTOS_OK)
    rc = cu_buf_putc(b, '\n');
  return rc;
}

custos_rc cu_log_entry_encode(const cu_log_entry *e, const void *payload,
                              size_t n, cu_buf *out, custos_diag *d) {
  const char *names[] = {"type", "actor", "case"};
  const char *vals[] = {e->type, e->actor, e->case_id};
  for (int i = 0; i < 3; i++)
    if (strlen(vals[i]) > CU_LOG_FIELD_MAX) {
      cu_diag_field(d, names[i], vals[i], strlen(vals[i]));
      cu_diag_hint(d, "log fields are limited to %d bytes", CU_LOG_FIELD_MAX);
      return cu_diag_set(d, CUSTOS_ETOOBIG, "event field too long for the log");
    }
  uint8_t h[32];
  char hex[65];
  cu_sha256(payload, n, h);
  cu_hex_encode(h, 32, hex);
  bool inl = n <= CU_LOG_INLINE_MAX;
  size_t mark = out->len;
  custos_rc rc = cu_buf_puts(out, magic);
  if (rc == CUSTOS_OK)
    rc = cu_buf_printf(out, "index %" PRIu64 "\ntime %" PRId64 "\n", e->index,
                       e->time);
  if (rc == CUSTOS_OK)
    rc = put_field(out, "type", e->type);
  if (rc == CUSTOS_OK)
    rc = put_field(out, "actor", e->actor);
  if (rc == CUSTOS_OK && e->case_id[0])
    rc = put_field(out, "case", e->case_id);
  if (rc == CUSTOS_OK)
    rc = cu_buf_printf(out,
                       "payload-size %zu\npayload-sha256 %s\npayload %s\n\n",
                       n, hex, inl ? "inline" : "omitted");
  if (rc == CUSTOS_OK && inl)
    rc = cu_buf_append(out, payload, n);
  if (rc == CUSTOS_OK && out->len - mark > CU_LOG_ENTRY_MAX)
    rc = CUSTOS_ETOOBIG;
  if (rc != CUSTOS_OK) {
    out->len = mark;
    if (out->data)
      out->data[mark] = '\0';
    return cu_diag_set(d, rc, "cannot encode log entry %" PRIu64, e->index);
  }
  return CUSTOS_OK;
}

bool cu_log_entry_is_custos(const uint8_t *p, size_t n) {
  size_t ml = sizeof magic - 1;
  return n >= ml && memcmp(p, magic, ml) == 0;
}

/* Reads "key value\n" at *p; the value (escaped) into v. */
static bool take_line(const char **p, const char *end, const char *key,
                      const char **v, size_t *vn) {
  size_t kl = strlen(key);
  if ((size_t)(end - *p) < kl + 1 || memcmp(*p, key, kl) != 0 ||
      (*p)[kl] != ' ')
    return false;
  const char *s = *p + kl + 1;
  const char *eol = memchr(s, '\n', (size_t)(end - s));
  if (!eol)
    return false;
  *v = s;
  *vn = (size_t)(eol - s);
  *p = eol + 1;
  return true;
}

static int hexv(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                               : -1;
}

static bool unescape(const char *s, size_t n, char *out, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (o + 1 >= cap)
      return false;
    if (s[i] == '%') {
      if (i + 2 >= n)
        return false;
      int h = hexv(s[i + 1]), l = hexv(s[i + 2]);
      if (h < 0 || l < 0)
        return false;
      out[o++] = (char)(h << 4 | l);
      i += 2;
    } else {
      out[o++] = s[i];
    }
  }
  out[o] = '\0';
  return true;
}

static bool parse_u64(const char *s, size_t n, uint64_t *out) {
  if (n == 0 || n > 20 || (s[0] == '0' && n > 1))
    return false;
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return false;
    unsigned dg = (unsigned)(s[i] - '0');
    if (v > (UINT64_MAX - dg) / 10)
      return false;
    v = v * 10 + dg;
  }
  *out = v;
  return true;
}

static custos_rc bad(custos_diag *d, const char *what) {
  cu_diag_hint(d, "the entry is damaged or was written by another program");
  return cu_diag_set(d, CUSTOS_EPARSE, "malformed log entry: %s", what);
}

custos_rc cu_log_entry_decode(const uint8_t *p, size_t n, cu_log_entry *out,
                              custos_diag *d) {
  const char *s = (const char *)p, *end = s + n;
  if (!cu_log_entry_is_custos(p, n))
    return bad(d, "no custos/log-entry/v1 line");
  s += sizeof magic - 1;
  const char *v;
  size_t vn;
  cu_log_entry e;
  memset(&e, 0, sizeof e);
  uint64_t u;
  if (!take_line(&s, end, "index", &v, &vn) || !parse_u64(v, vn, &e.index))
    return bad(d, "index");
  if (!take_line(&s, end, "time", &v, &vn))
    return bad(d, "time");
  bool neg = vn > 0 && v[0] == '-';
  if (!parse_u64(v + neg, vn - neg, &u) || u > INT64_MAX)
    return bad(d, "time");
  e.time = neg ? -(int64_t)u : (int64_t)u;
  if (!take_line(&s, end, "type", &v, &vn) ||
      !unescape(v, vn, e.type, sizeof e.type))
    return bad(d, "type");
  if (!take_line(&s, end, "actor", &v, &vn) ||
      !unescape(v, vn, e.actor, sizeof e.actor))
    return bad(d, "actor");
  if (take_line(&s, end, "case", &v, &vn) &&
      !unescape(v, vn, e.case_id, sizeof e.case_id))
    return bad(d, "case");
  if (!take_line(&s, end, "payload-size", &v, &vn) ||
      !parse_u64(v, vn, &e.payload_size))
    return bad(d, "payload-size");
  if (!take_line(&s, end, "payload-sha256", &v, &vn) ||
      cu_hex_decode(v, vn, e.payload_sha256, 32) != CUSTOS_OK)
    return bad(d, "payload-sha256");
  if (!take_line(&s, end, "payload", &v, &vn))
    return bad(d, "payload");
  bool inl = vn == 6 && memcmp(v, "inline", 6) == 0;
  if (!inl && !(vn == 7 && memcmp(v, "omitted", 7) == 0))
    return bad(d, "payload is neither inline nor omitted");
  if (s >= end || *s != '\n')
    return bad(d, "no blank line after the header");
  s++;
  size_t rest = (size_t)(end - s);
  if (inl) {
    if (rest != e.payload_size)
      return bad(d, "payload length differs from payload-size");
    uint8_t h[32];
    cu_sha256(s, rest, h);
    if (memcmp(h, e.payload_sha256, 32) != 0)
      return bad(d, "payload does not match payload-sha256");
    e.payload = (const uint8_t *)s;
  } else if (rest != 0) {
    return bad(d, "bytes after an omitted payload");
  }

  /* Canonical form: encoding the decoded fields gives the same bytes.  For
   * an omitted payload only the header can be compared. */
  cu_buf b;
  cu_buf_init(&b, CU_LOG_ENTRY_MAX);
  custos_rc rc;
  if (inl) {
    rc = cu_log_entry_encode(&e, e.payload, rest, &b, NULL);
  } else {
    if (e.payload_size <= CU_LOG_INLINE_MAX) {
      cu_buf_free(&b);
      return bad(d, "small payload omitted");
    }
    /* Re-encode with an empty payload and patch the three payload lines. */
    rc = cu_log_entry_encode(&e, "", 0, &b, NULL);
    if (rc == CUSTOS_OK) {
      char *ps = strstr(b.data, "payload-size ");
      char hex[65];
      cu_hex_encode(e.payload_sha256, 32, hex);
      b.len = (size_t)(ps - b.data);
      rc = cu_buf_printf(&b,
                         "payload-size %" PRIu64
                         "\npayload-sha256 %s\npayload omitted\n\n",
                         e.payload_size, hex);
    }
  }
  bool same = rc == CUSTOS_OK && b.len == n && memcmp(b.data, p, n) == 0;
  cu_buf_free(&b);
  if (!same)
    return bad(d, "not in canonical form");
  *out = e;
  return CUSTOS_OK;
}

json_t *cu_log_entry_json(const cu_log_entry *e) {
  char t[32], hex[65];
  cu_time_format(e->time, t, sizeof t);
  cu_hex_encode(e->payload_sha256, 32, hex);
  json_t *o = json_pack("{s:I,s:I,s:s,s:s,s:s,s:s,s:I}", "index",
                        (json_int_t)e->index, "time", (json_int_t)e->time,
                        "time_utc", t, "type", e->type, "actor", e->actor,
                        "payload_sha256", hex, "payload_size",
                        (json_int_t)e->payload_size);
  if (!o)
    return NULL;
  json_object_set_new(o, "case", e->case_id[0] ? json_string(e->case_id)
                                               : json_null());
  json_t *pl = json_null();
  if (e->payload) {
    json_error_t err;
    pl = json_loadb((const char *)e->payload, (size_t)e->payload_size,
                    JSON_DECODE_ANY, &err);
    if (!pl) {
      char *b64 = cu_malloc(cu_b64_encoded_len((size_t)e->payload_size) + 1);
      if (b64) {
        cu_b64_encode(e->payload, (size_t)e->payload_size, b64);
        pl = json_pack("{s:s}", "base64", b64);
        cu_free(b64);
      }
    }
  }
  json_object_set_new(o, "payload", pl ? pl : json_null());
  return o;
}
