/*
 * Query strings: split and percent-decode without allocating, then read
 * the parameters of each route with errors that name the parameter and
 * its value (for 400 responses).  This is what tests/fuzz/fuzz_http_query.c
 * exercises.
 */
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "pdp/pdp.h"

static int hexdig(unsigned char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Decodes s[0..n) into buf at *pos (NUL-terminated).  -1 bad escape,
 * -2 escaped NUL, -3 no room. */
static int decode(const char *s, size_t n, char *buf, size_t cap,
                  size_t *pos) {
  size_t k = *pos;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '%') {
      if (i + 2 >= n)
        return -1;
      int hi = hexdig((unsigned char)s[i + 1]);
      int lo = hexdig((unsigned char)s[i + 2]);
      if (hi < 0 || lo < 0)
        return -1;
      c = (unsigned char)(hi * 16 + lo);
      if (c == 0)
        return -2;
      i += 2;
    } else if (c == '+') {
      c = ' ';
    } else if (c == 0) {
      return -2; /* a raw NUL would cut the C string short */
    }
    if (k + 1 >= cap)
      return -3;
    buf[k++] = (char)c;
  }
  if (k >= cap)
    return -3;
  buf[k++] = '\0';
  *pos = k;
  return 0;
}

custos_rc cu_http_query_parse(const char *qs, size_t n, char *buf,
                              size_t bufcap, cu_http_param *out, size_t max,
                              size_t *count, custos_diag *d) {
  size_t np = 0, pos = 0, i = 0;
  *count = 0;
  while (i < n) {
    size_t j = i;
    while (j < n && qs[j] != '&')
      j++;
    if (j > i) {
      const char *piece = qs + i;
      size_t plen = j - i;
      const char *eq = memchr(piece, '=', plen);
      size_t nlen = eq ? (size_t)(eq - piece) : plen;
      if (np >= max) {
        cu_diag_field(d, "query", piece, plen);
        cu_diag_hint(d, "send at most %zu parameters", max);
        return cu_diag_set(d, CUSTOS_ETOOBIG, "too many query parameters");
      }
      size_t name_at = pos;
      int e = decode(piece, nlen, buf, bufcap, &pos);
      size_t value_at = pos;
      if (e == 0) {
        if (eq)
          e = decode(eq + 1, plen - nlen - 1, buf, bufcap, &pos);
        else
          e = decode("", 0, buf, bufcap, &pos);
      }
      if (e != 0) {
        char name[64];
        size_t k = nlen < sizeof name - 1 ? nlen : sizeof name - 1;
        memcpy(name, piece, k);
        name[k] = '\0';
        if (eq && k > 0 && !memchr(name, 0, k))
          cu_diag_field(d, name, eq + 1, plen - nlen - 1);
        else
          cu_diag_field(d, "parameter", piece, plen);
        if (e == -3)
          return cu_diag_set(d, CUSTOS_ETOOBIG, "query string too long");
        cu_diag_hint(d, "escape bytes as %%XX with two hex digits; %%00 is "
                        "not allowed");
        return cu_diag_set(d, CUSTOS_EPARSE, "malformed percent-escape");
      }
      out[np].name = buf + name_at;
      out[np].name_len = value_at - name_at - 1;
      out[np].value = buf + value_at;
      out[np].value_len = pos - value_at - 1;
      np++;
    }
    i = j + 1;
  }
  *count = np;
  return CUSTOS_OK;
}

static custos_rc bad(custos_diag *d, const cu_http_param *p, const char *name,
                     const char *msg, const char *hint) {
  const char *field = p ? p->name : name;
  cu_diag_field(d, field[0] ? field : "(empty name)", p ? p->value : "",
                p ? p->value_len : 0);
  if (hint)
    cu_diag_hint(d, "%s", hint);
  return cu_diag_set(d, CUSTOS_EINVAL, "%s", msg);
}

custos_rc cu_http_check_req_parse(const cu_http_param *p, size_t n,
                                  cu_http_check_req *req, custos_diag *d) {
  static const char *const names[] = {"subscription", "service", "region",
                                      "operation", "min_revision", "wait_ms"};
  const cu_http_param *seen[6] = {0};
  for (size_t i = 0; i < n; i++) {
    size_t k = 0;
    while (k < 6 && strcmp(p[i].name, names[k]) != 0)
      k++;
    if (k == 6)
      return bad(d, &p[i], NULL, "unknown parameter",
                 "known: subscription, service, region, operation, "
                 "min_revision, wait_ms");
    if (seen[k])
      return bad(d, &p[i], NULL, "parameter given twice", NULL);
    if (strlen(p[i].value) != p[i].value_len)
      return bad(d, &p[i], NULL, "parameter contains a NUL byte", NULL);
    seen[k] = &p[i];
  }
  memset(req, 0, sizeof *req);
  req->op = CUSTOS_PDP_CREATE;
  uint64_t key[2];
  if (!seen[0])
    return bad(d, NULL, "subscription", "missing parameter",
               "name the subscription (a GUID or provider id)");
  if (cu_pdp_sub_key(seen[0]->value, seen[0]->value_len, key) != 0)
    return bad(d, seen[0], NULL, "malformed subscription id",
               "a GUID, or printable without spaces, at most 128 bytes");
  req->subscription = seen[0]->value;
  if (!seen[1])
    return bad(d, NULL, "service", "missing parameter",
               "name the service, e.g. storage");
  if (seen[1]->value_len == 0 || seen[1]->value_len > 64)
    return bad(d, seen[1], NULL, "malformed service", "1 to 64 bytes");
  req->service = seen[1]->value;
  if (seen[2]) {
    if (seen[2]->value_len > 64)
      return bad(d, seen[2], NULL, "malformed region", "at most 64 bytes");
    req->region = seen[2]->value;
  }
  if (seen[3] && custos_pdp_op_parse(seen[3]->value, &req->op) != 0)
    return bad(d, seen[3], NULL, "unknown operation",
               "create, read, write or delete");
  if (seen[4] && cu_parse_u64(seen[4]->value, &req->min_revision) != 0)
    return bad(d, seen[4], NULL, "malformed revision",
               "a non-negative decimal number");
  if (seen[5]) {
    uint64_t w = 0;
    if (cu_parse_u64(seen[5]->value, &w) != 0 || w > CU_HTTP_WAIT_MAX)
      return bad(d, seen[5], NULL, "malformed wait",
                 "milliseconds from 0 to 10000");
    req->wait_ms = (uint32_t)w;
  }
  return CUSTOS_OK;
}
