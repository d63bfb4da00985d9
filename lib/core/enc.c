/*
 * Encodings: hex, strict base64 and UTF-8 validation.  The base64 decoder is
 * strict on purpose: signed notes and keys must have exactly one encoding,
 * so padding is required and non-canonical trailing bits are refused.
 */
#include <string.h>

#include "core.h"

void cu_hex_encode(const uint8_t *p, size_t n, char *out) {
  static const char hexd[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = hexd[p[i] >> 4];
    out[2 * i + 1] = hexd[p[i] & 15];
  }
  out[2 * n] = '\0';
}

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

custos_rc cu_hex_decode(const char *s, size_t slen, uint8_t *out, size_t n) {
  if (slen != 2 * n)
    return CUSTOS_EPARSE;
  for (size_t i = 0; i < n; i++) {
    int h = hexval(s[2 * i]), l = hexval(s[2 * i + 1]);
    if (h < 0 || l < 0)
      return CUSTOS_EPARSE;
    out[i] = (uint8_t)(h << 4 | l);
  }
  return CUSTOS_OK;
}

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t cu_b64_encoded_len(size_t n) { return (n + 2) / 3 * 4; }

void cu_b64_encode(const uint8_t *p, size_t n, char *out) {
  size_t o = 0, i = 0;
  for (; i + 2 < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
    out[o++] = b64chars[v >> 18];
    out[o++] = b64chars[(v >> 12) & 63];
    out[o++] = b64chars[(v >> 6) & 63];
    out[o++] = b64chars[v & 63];
  }
  if (i < n) {
    uint32_t v = (uint32_t)p[i] << 16;
    if (i + 1 < n)
      v |= (uint32_t)p[i + 1] << 8;
    out[o++] = b64chars[v >> 18];
    out[o++] = b64chars[(v >> 12) & 63];
    out[o++] = i + 1 < n ? b64chars[(v >> 6) & 63] : '=';
    out[o++] = '=';
  }
  out[o] = '\0';
}

static int b64val(char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+')
    return 62;
  if (c == '/')
    return 63;
  return -1;
}

custos_rc cu_b64_decode(const char *s, size_t slen, uint8_t *out,
                        size_t outcap, size_t *outlen) {
  if (slen % 4 != 0)
    return CUSTOS_EPARSE;
  size_t o = 0;
  for (size_t i = 0; i < slen; i += 4) {
    int v[4], pad = 0;
    for (int k = 0; k < 4; k++) {
      char c = s[i + (size_t)k];
      if (c == '=') {
        /* padding only in the last quantum, last one or two places */
        if (i + 4 != slen || k < 2)
          return CUSTOS_EPARSE;
        pad++;
        v[k] = 0;
      } else {
        if (pad)
          return CUSTOS_EPARSE;
        v[k] = b64val(c);
        if (v[k] < 0)
          return CUSTOS_EPARSE;
      }
    }
    uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
                 (uint32_t)v[2] << 6 | (uint32_t)v[3];
    size_t nb = 3 - (size_t)pad;
    /* canonical: bits dropped by padding must be zero */
    if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
      return CUSTOS_EPARSE;
    if (o + nb > outcap)
      return CUSTOS_ETOOBIG;
    out[o++] = (uint8_t)(w >> 16);
    if (nb > 1)
      out[o++] = (uint8_t)(w >> 8);
    if (nb > 2)
      out[o++] = (uint8_t)w;
  }
  *outlen = o;
  return CUSTOS_OK;
}

size_t cu_utf8_invalid_at(const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return i;
    }
    if (i + len > n)
      return i;
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xc0) != 0x80)
        return i;
      cp = cp << 6 | (s[i + k] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return i;
    i += len;
  }
  return n;
}

int cu_parse_u64(const char *s, uint64_t *out) {
  if (!s || !*s)
    return -1;
  uint64_t v = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9')
      return -1;
    unsigned dgt = (unsigned)(*s - '0');
    if (v > (UINT64_MAX - dgt) / 10)
      return -1;
    v = v * 10 + dgt;
  }
  *out = v;
  return 0;
}
