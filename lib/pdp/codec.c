/*
 * How blocks look outside the process: subscription ids as 128-bit keys,
 * and the key and value of a block in the NATS key-value bucket (also the
 * rows of the outbox).  Keys are readable: "b.<sub>.<svc>.<region>.<owner>"
 * with bytes outside [A-Za-z0-9_-] escaped as =XX.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "pdp.h"

static const signed char hexval[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,
    ['6'] = 7,  ['7'] = 8,  ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12,
    ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16, ['A'] = 11, ['B'] = 12,
    ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16};

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* Bytes of a string as a little-endian word: the first byte lowest. */
static inline uint64_t load8(const char *s) {
  uint64_t x;
  memcpy(&x, s, 8);
  return x;
}
static inline uint64_t load4(const char *s) {
  uint32_t x;
  memcpy(&x, s, 4);
  return x;
}

#define ONES 0x0101010101010101u
#define HIGH 0x8080808080808080u

/* Per byte of x (all below 0x80): high bit set when the byte >= c,
 * resp. <= c.  The high bit stops borrows crossing bytes. */
static inline uint64_t bytes_ge(uint64_t x, unsigned c) {
  return ((x | HIGH) - c * ONES) & HIGH;
}
static inline uint64_t bytes_le(uint64_t x, unsigned c) {
  return ((c * ONES | HIGH) - x) & HIGH;
}

/*
 * Eight hex digits (in string order in the bytes of x, first lowest) to
 * their value; sets *bad when one is not a hex digit.  Branch-free: the
 * check path parses a GUID in a few dozen instructions.
 */
static inline uint32_t hex8(uint64_t x, int *bad) {
  uint64_t lower = x | 0x20 * ONES;
  uint64_t ok = (bytes_ge(x, '0') & bytes_le(x, '9')) |
                (bytes_ge(lower, 'a') & bytes_le(lower, 'f'));
  *bad |= (ok != HIGH) | ((x & HIGH) != 0);
  /* '0'-'9' have bit 6 clear; letters have it set and low nibble 1-6. */
  uint64_t v = (x & 0x0f * ONES) + 9 * ((x >> 6) & ONES);
  v = ((v << 4) | (v >> 8)) & 0x00ff00ff00ff00ffu;
  v = ((v << 8) | (v >> 16)) & 0x0000ffff0000ffffu;
  return (uint32_t)((v << 16) | (v >> 32));
}
#endif

/* 32 hex digits, with dashes only at 8, 13, 18, 23 when n is 36. */
static int parse_guid(const char *s, size_t n, uint64_t key[2]) {
  if (n == 38 && s[0] == '{' && s[37] == '}') {
    s++;
    n = 36;
  }
  if (n == 36) {
    if (s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-')
      return -1;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* The common form, 8-4-4-4-12, eight digits at a time. */
    int bad = 0;
    uint64_t k0 = (uint64_t)hex8(load8(s), &bad) << 32 |
                  hex8(load4(s + 9) | load4(s + 14) << 32, &bad);
    uint64_t k1 =
        (uint64_t)hex8(load4(s + 19) | load4(s + 24) << 32, &bad) << 32 |
        hex8(load8(s + 28), &bad);
    if (bad)
      return -1;
    key[0] = k0;
    key[1] = k1;
    return 0;
#else
    static const unsigned char at[32] = {
        0,  1,  2,  3,  4,  5,  6,  7,  9,  10, 11, 12, 14, 15, 16, 17,
        19, 20, 21, 22, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35};
    uint64_t k0 = 0, k1 = 0;
    int bad = 0;
    for (int i = 0; i < 16; i++) {
      int a = hexval[(unsigned char)s[at[i]]];
      int b = hexval[(unsigned char)s[at[16 + i]]];
      bad |= (a == 0) | (b == 0);
      k0 = (k0 << 4) | (uint64_t)(a - 1);
      k1 = (k1 << 4) | (uint64_t)(b - 1);
    }
    if (bad)
      return -1;
    key[0] = k0;
    key[1] = k1;
    return 0;
#endif
  }
  if (n != 32)
    return -1;
  uint64_t k[2] = {0, 0};
  int digits = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (n == 36 && (i == 8 || i == 13 || i == 18 || i == 23)) {
      if (c != '-')
        return -1;
      continue;
    }
    int v = hexval[c];
    if (v == 0)
      return -1;
    k[digits >> 4] = (k[digits >> 4] << 4) | (uint64_t)(v - 1);
    digits++;
  }
  key[0] = k[0];
  key[1] = k[1];
  return 0;
}

int cu_pdp_guid_canon(const char *s, size_t n, char out[37]) {
  uint64_t k[2];
  if (parse_guid(s, n, k) != 0)
    return -1;
  snprintf(out, 37, "%08x-%04x-%04x-%04x-%04x%08x", (unsigned)(k[0] >> 32),
           (unsigned)(k[0] >> 16) & 0xffffu, (unsigned)k[0] & 0xffffu,
           (unsigned)(k[1] >> 48), (unsigned)(k[1] >> 32) & 0xffffu,
           (unsigned)k[1]);
  return 0;
}

int cu_pdp_sub_key(const char *s, size_t n, uint64_t key[2]) {
  if (n == 0 || n >= CU_PDP_SUB_MAX)
    return -1;
  if (parse_guid(s, n, key) == 0)
    return (key[0] | key[1]) ? 0 : -1; /* the nil GUID names nothing */
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
      return -1;
  /* Not a GUID: a collision-resistant hash stands for the id.  Two ids
   * share a key with probability about 2^-127, far below a hardware
   * fault; see docs/internals.md. */
  uint8_t h[CU_SHA256_LEN];
  cu_sha256(s, n, h);
  uint64_t a = 0, b = 0;
  for (int i = 0; i < 8; i++) {
    a = (a << 8) | h[i];
    b = (b << 8) | h[8 + i];
  }
  key[0] = a | 0x8000000000000000u;
  key[1] = b;
  return 0;
}

static int plain(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static size_t put_token(const char *s, char *out, size_t pos, size_t n) {
  static const char hx[] = "0123456789ABCDEF";
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (plain(c)) {
      if (pos + 1 < n)
        out[pos] = (char)c;
      pos++;
    } else {
      if (pos + 3 < n) {
        out[pos] = '=';
        out[pos + 1] = hx[c >> 4];
        out[pos + 2] = hx[c & 15];
      }
      pos += 3;
    }
  }
  return pos;
}

custos_rc cu_pdp_kv_key(const cu_pdp_block *b, char *out, size_t n) {
  const char *parts[4] = {b->subscription, b->service, b->region, b->owner};
  size_t pos = 0;
  if (n < 3)
    return CUSTOS_EINVAL;
  out[pos++] = 'b';
  for (int i = 0; i < 4; i++) {
    if (pos + 1 < n)
      out[pos] = '.';
    pos++;
    pos = put_token(parts[i], out, pos, n);
  }
  if (pos >= n)
    return CUSTOS_EINVAL;
  out[pos] = '\0';
  return CUSTOS_OK;
}

static int get_token(const char **ps, char *out, size_t n) {
  const char *s = *ps;
  size_t k = 0;
  while (*s && *s != '.') {
    unsigned char c = (unsigned char)*s;
    if (c == '=') {
      int hi = hexval[(unsigned char)s[1]], lo = 0;
      if (hi)
        lo = hexval[(unsigned char)s[2]];
      if (!hi || !lo)
        return -1;
      c = (unsigned char)(((hi - 1) << 4) | (lo - 1));
      s += 3;
    } else if (plain(c)) {
      s++;
    } else {
      return -1;
    }
    if (k + 1 >= n || c == 0)
      return -1;
    out[k++] = (char)c;
  }
  if (k == 0)
    return -1;
  out[k] = '\0';
  *ps = s;
  return 0;
}

int cu_pdp_kv_key_parse(const char *key, cu_pdp_block *b) {
  if (key[0] != 'b' || key[1] != '.')
    return -1;
  const char *s = key + 2;
  char *parts[4] = {b->subscription, b->service, b->region, b->owner};
  size_t sizes[4] = {sizeof b->subscription, sizeof b->service,
                     sizeof b->region, sizeof b->owner};
  for (int i = 0; i < 4; i++) {
    if (get_token(&s, parts[i], sizes[i]) != 0)
      return -1;
    if (i < 3) {
      if (*s != '.')
        return -1;
      s++;
    }
  }
  return *s == '\0' ? 0 : -1;
}

char *cu_pdp_kv_value(const cu_pdp_block *b) {
  json_t *o = json_pack("{s:s,s:s,s:I,s:I,s:I}", "effect",
                        b->effect == CUSTOS_PDP_EFFECT_NONE
                            ? "none"
                            : custos_pdp_effect_name(b->effect),
                        "case", b->case_id, "effective",
                        (json_int_t)b->effective, "created",
                        (json_int_t)b->created, "revision",
                        (json_int_t)b->revision);
  if (!o)
    return NULL;
  char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(o);
  return s;
}

int cu_pdp_kv_value_parse(const char *v, size_t n, cu_pdp_block *b) {
  json_error_t err;
  json_t *o = json_loadb(v, n, JSON_REJECT_DUPLICATES, &err);
  if (!o)
    return -1;
  const char *effect = NULL, *case_id = NULL;
  json_int_t eff = 0, created = 0, rev = 0;
  int rc = json_unpack(o, "{s:s,s:s,s:I,s:I,s:I}", "effect", &effect, "case",
                       &case_id, "effective", &eff, "created", &created,
                       "revision", &rev);
  if (rc == 0) {
    if (strcmp(effect, "none") == 0)
      b->effect = CUSTOS_PDP_EFFECT_NONE;
    else if (custos_pdp_effect_parse(effect, &b->effect) != 0)
      rc = -1;
    if (strlen(case_id) >= sizeof b->case_id || rev <= 0)
      rc = -1;
  }
  if (rc == 0) {
    snprintf(b->case_id, sizeof b->case_id, "%s", case_id);
    b->effective = eff;
    b->created = created;
    b->revision = rev;
  }
  json_decref(o);
  return rc == 0 ? 0 : -1;
}
