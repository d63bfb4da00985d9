/*
 * The Merkle tree of RFC 6962 / RFC 9162: leaf and node hashes, the compact
 * range, the in-memory tree, proof generation over any source of subtree
 * hashes, and the RFC 9162 verification algorithms.  Pure computation: no
 * files, no database.
 */
#include <assert.h>
#include <string.h>

/* The Merkle hashes go through OpenSSL's low-level SHA-256 (same SHA-NI
 * code as EVP): in OpenSSL 3.0 the one-shot SHA256() fetches the algorithm
 * from the provider on every call, which costs more than hashing 65 bytes.
 * The low-level calls are deprecated in 3.0, hence the suppression, kept
 * to this file; revisit when OpenSSL removes them. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include "tlog.h"

void cu_log_leaf_hash(const void *entry, size_t n, uint8_t out[32]) {
  static const uint8_t zero = 0x00;
  SHA256_CTX c;
  SHA256_Init(&c);
  SHA256_Update(&c, &zero, 1);
  SHA256_Update(&c, entry, n);
  SHA256_Final(out, &c);
}

void cu_log_node_hash(const uint8_t l[32], const uint8_t r[32],
                      uint8_t out[32]) {
  uint8_t buf[65];
  SHA256_CTX c;
  buf[0] = 0x01;
  memcpy(buf + 1, l, 32);
  memcpy(buf + 33, r, 32);
  SHA256_Init(&c);
  SHA256_Update(&c, buf, sizeof buf);
  SHA256_Final(out, &c);
}

void cu_log_empty_root(uint8_t out[32]) { cu_sha256("", 0, out); }

custos_rc cu_log_hash_b64(const char *s, size_t n, cu_log_hash *out) {
  uint8_t tmp[33];
  size_t len = 0;
  if (n != 44)
    return CUSTOS_EPARSE;
  custos_rc rc = cu_b64_decode(s, n, tmp, sizeof tmp, &len);
  if (rc != CUSTOS_OK || len != 32)
    return CUSTOS_EPARSE;
  memcpy(out->b, tmp, 32);
  return CUSTOS_OK;
}

/* ---- compact range ---------------------------------------------------- */

void cu_log_crange_init(cu_log_crange *c) {
  c->size = 0;
  c->n = 0;
}

void cu_log_crange_append(cu_log_crange *c, const uint8_t leaf[32]) {
  /* The range holds one hash per set bit of size, largest subtree first;
   * appending merges as many equal-height subtrees as size has trailing
   * one bits. */
  assert(c->n < 64);
  memcpy(c->h[c->n++].b, leaf, 32);
  for (uint64_t s = c->size; s & 1; s >>= 1) {
    cu_log_node_hash(c->h[c->n - 2].b, c->h[c->n - 1].b, c->h[c->n - 2].b);
    c->n--;
  }
  c->size++;
}

void cu_log_crange_root(const cu_log_crange *c, uint8_t out[32]) {
  if (c->n == 0) {
    cu_log_empty_root(out);
    return;
  }
  uint8_t acc[32];
  memcpy(acc, c->h[c->n - 1].b, 32);
  for (unsigned i = c->n - 1; i-- > 0;)
    cu_log_node_hash(c->h[i].b, acc, acc);
  memcpy(out, acc, 32);
}

/* ---- proofs over a node source ---------------------------------------- */

/* Largest power of two <= x, x > 0. */
static uint64_t highbit(uint64_t x) { return (uint64_t)1 << (63 - __builtin_clzll(x)); }

/* Largest power of two < x, x > 1. */
static uint64_t split_point(uint64_t x) { return highbit(x - 1); }

static unsigned log2u(uint64_t pow2) { return (unsigned)__builtin_ctzll(pow2); }

custos_rc cu_log_range_root(cu_log_node_fn fn, void *ctx, uint64_t lo,
                            uint64_t hi, uint8_t out[32], custos_diag *d) {
  cu_log_hash piece[64];
  unsigned np = 0;
  if (lo >= hi)
    return cu_diag_set(d, CUSTOS_EINVAL, "empty range [%llu, %llu)",
                       (unsigned long long)lo, (unsigned long long)hi);
  /* MTH(D[lo:hi]) splits at the largest power of two below the width; the
   * left part is a perfect subtree, so the range is a right fold over the
   * perfect subtrees of its binary decomposition. */
  for (uint64_t pos = lo; pos < hi;) {
    uint64_t k = highbit(hi - pos);
    if (pos % k != 0)
      return cu_diag_set(d, CUSTOS_EINVAL,
                         "range [%llu, %llu) is not aligned to its subtrees",
                         (unsigned long long)lo, (unsigned long long)hi);
    custos_rc rc = fn(ctx, log2u(k), pos >> log2u(k), piece[np].b, d);
    if (rc != CUSTOS_OK)
      return rc;
    np++;
    pos += k;
  }
  uint8_t acc[32];
  memcpy(acc, piece[np - 1].b, 32);
  for (unsigned i = np - 1; i-- > 0;)
    cu_log_node_hash(piece[i].b, acc, acc);
  memcpy(out, acc, 32);
  return CUSTOS_OK;
}

static void reverse(cu_log_hash *p, size_t n) {
  for (size_t i = 0; i < n / 2; i++) {
    cu_log_hash t = p[i];
    p[i] = p[n - 1 - i];
    p[n - 1 - i] = t;
  }
}

custos_rc cu_log_prove_inclusion(cu_log_node_fn fn, void *ctx, uint64_t index,
                                 uint64_t size, cu_log_hash *proof, size_t cap,
                                 size_t *n, custos_diag *d) {
  *n = 0;
  if (index >= size)
    return cu_diag_set(d, CUSTOS_EINVAL,
                       "index %llu is not in a tree of size %llu",
                       (unsigned long long)index, (unsigned long long)size);
  /* PATH(m, D[lo:hi]) descends towards the leaf; each step contributes the
   * sibling subtree, and the proof lists them from the leaf upwards. */
  uint64_t lo = 0, hi = size;
  while (hi - lo > 1) {
    uint64_t k = split_point(hi - lo);
    if (*n >= cap)
      return cu_diag_set(d, CUSTOS_ETOOBIG, "inclusion proof too long");
    custos_rc rc;
    if (index < lo + k) {
      rc = cu_log_range_root(fn, ctx, lo + k, hi, proof[*n].b, d);
      hi = lo + k;
    } else {
      rc = cu_log_range_root(fn, ctx, lo, lo + k, proof[*n].b, d);
      lo = lo + k;
    }
    if (rc != CUSTOS_OK)
      return rc;
    (*n)++;
  }
  reverse(proof, *n);
  return CUSTOS_OK;
}

custos_rc cu_log_prove_consistency(cu_log_node_fn fn, void *ctx, uint64_t m,
                                   uint64_t size, cu_log_hash *proof,
                                   size_t cap, size_t *n, custos_diag *d) {
  *n = 0;
  if (m == 0 || m > size)
    return cu_diag_set(d, CUSTOS_EINVAL,
                       "no consistency proof from size %llu to size %llu",
                       (unsigned long long)m, (unsigned long long)size);
  /* SUBPROOF(m, D[lo:hi], b) of RFC 6962 section 2.1.2, unrolled: the
   * hashes found on the way down come last, in reverse order. */
  uint64_t lo = 0, hi = size;
  bool whole = true;
  size_t k_out = 0;
  custos_rc rc;
  while (m != hi - lo) {
    uint64_t k = split_point(hi - lo);
    if (k_out >= cap)
      return cu_diag_set(d, CUSTOS_ETOOBIG, "consistency proof too long");
    if (m <= k) {
      rc = cu_log_range_root(fn, ctx, lo + k, hi, proof[k_out].b, d);
      hi = lo + k;
    } else {
      rc = cu_log_range_root(fn, ctx, lo, lo + k, proof[k_out].b, d);
      lo = lo + k;
      m -= k;
      whole = false;
    }
    if (rc != CUSTOS_OK)
      return rc;
    k_out++;
  }
  if (!whole) {
    if (k_out >= cap)
      return cu_diag_set(d, CUSTOS_ETOOBIG, "consistency proof too long");
    rc = cu_log_range_root(fn, ctx, lo, hi, proof[k_out].b, d);
    if (rc != CUSTOS_OK)
      return rc;
    k_out++;
  }
  /* The subtree hash (if any) is first, then the siblings bottom-up. */
  reverse(proof, k_out);
  *n = k_out;
  return CUSTOS_OK;
}

/* ---- RFC 9162 verification -------------------------------------------- */

static custos_rc fail(custos_diag *d, const char *what) {
  cu_diag_hint(d, "the proof, the sizes or the roots do not belong together; "
                  "fetch them again from the log");
  return cu_diag_set(d, CUSTOS_EVERIFY, "%s", what);
}

custos_rc cu_log_verify_inclusion(uint64_t index, uint64_t size,
                                  const uint8_t *leaf, size_t leaf_len,
                                  const cu_log_hash *proof, size_t n,
                                  const uint8_t *root, size_t root_len,
                                  custos_diag *d) {
  if (leaf_len != 32)
    return fail(d, "inclusion proof: leaf hash is not 32 bytes");
  if (root_len != 32)
    return fail(d, "inclusion proof: root hash is not 32 bytes");
  if (index >= size)
    return fail(d, "inclusion proof: index is not below the tree size");
  uint64_t fn = index, sn = size - 1;
  uint8_t r[32];
  memcpy(r, leaf, 32);
  for (size_t i = 0; i < n; i++) {
    if (sn == 0)
      return fail(d, "inclusion proof has more hashes than the tree needs");
    if ((fn & 1) || fn == sn) {
      cu_log_node_hash(proof[i].b, r, r);
      if (!(fn & 1))
        while (!(fn & 1) && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
    } else {
      cu_log_node_hash(r, proof[i].b, r);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0)
    return fail(d, "inclusion proof has fewer hashes than the tree needs");
  if (memcmp(r, root, 32) != 0)
    return fail(d, "inclusion proof does not lead to the root");
  return CUSTOS_OK;
}

custos_rc cu_log_verify_consistency(uint64_t size1, uint64_t size2,
                                    const cu_log_hash *proof, size_t n,
                                    const uint8_t *root1, size_t root1_len,
                                    const uint8_t *root2, size_t root2_len,
                                    custos_diag *d) {
  if (size1 == 0)
    return fail(d, "consistency proof from the empty tree proves nothing");
  if (size1 > size2)
    return fail(d, "consistency proof: size1 is larger than size2");
  if (size1 == size2) {
    /* RFC 9162: equal sizes need an empty proof and equal roots; the roots
     * are compared as the opaque strings they are. */
    if (n != 0)
      return fail(d, "consistency proof between equal sizes must be empty");
    if (root1_len != root2_len || memcmp(root1, root2, root1_len) != 0)
      return fail(d, "trees of equal size have different roots");
    return CUSTOS_OK;
  }
  if (root1_len != 32 || root2_len != 32)
    return fail(d, "consistency proof: a root hash is not 32 bytes");
  if (n == 0)
    return fail(d, "consistency proof is empty");
  /* When size1 is a power of two, the old root is itself the first node of
   * the path and the proof leaves it out. */
  const uint8_t *first = proof[0].b;
  size_t start = 1;
  if ((size1 & (size1 - 1)) == 0) {
    first = root1;
    start = 0;
  }
  uint64_t fn = size1 - 1, sn = size2 - 1;
  while (fn & 1) {
    fn >>= 1;
    sn >>= 1;
  }
  uint8_t fr[32], sr[32];
  memcpy(fr, first, 32);
  memcpy(sr, first, 32);
  for (size_t i = start; i < n; i++) {
    const uint8_t *c = proof[i].b;
    if (sn == 0)
      return fail(d, "consistency proof has more hashes than the trees need");
    if ((fn & 1) || fn == sn) {
      cu_log_node_hash(c, fr, fr);
      cu_log_node_hash(c, sr, sr);
      if (!(fn & 1))
        while (!(fn & 1) && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
    } else {
      cu_log_node_hash(sr, c, sr);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0)
    return fail(d, "consistency proof has fewer hashes than the trees need");
  if (memcmp(fr, root1, 32) != 0)
    return fail(d, "consistency proof does not lead to the first root");
  if (memcmp(sr, root2, 32) != 0)
    return fail(d, "consistency proof does not lead to the second root");
  return CUSTOS_OK;
}

/* ---- in-memory tree --------------------------------------------------- */

typedef struct level {
  cu_log_hash *h;
  uint64_t len, cap;
} level;

struct cu_log_tree {
  uint64_t size;
  level lv[64];
};

custos_rc cu_log_tree_new(cu_log_tree **out) {
  *out = cu_calloc(1, sizeof **out);
  return *out ? CUSTOS_OK : CUSTOS_ENOMEM;
}

void cu_log_tree_free(cu_log_tree *t) {
  if (!t)
    return;
  for (unsigned i = 0; i < 64; i++)
    cu_free(t->lv[i].h);
  cu_free(t);
}

uint64_t cu_log_tree_size(const cu_log_tree *t) { return t->size; }

static custos_rc reserve_level(level *l) {
  if (l->len < l->cap)
    return CUSTOS_OK;
  uint64_t ncap = l->cap ? l->cap * 2 : 1024;
  if (ncap > SIZE_MAX / sizeof(cu_log_hash))
    return CUSTOS_ENOMEM;
  cu_log_hash *p = cu_realloc(l->h, (size_t)ncap * sizeof(cu_log_hash));
  if (!p)
    return CUSTOS_ENOMEM;
  l->h = p;
  l->cap = ncap;
  return CUSTOS_OK;
}

custos_rc cu_log_tree_append(cu_log_tree *t, const uint8_t leaf[32]) {
  /* The new leaf completes one subtree per trailing zero bit of the new
   * size; make room on every level first so failure changes nothing. */
  uint64_t ns = t->size + 1;
  unsigned levels = 1 + (unsigned)__builtin_ctzll(ns);
  if (levels > 64)
    levels = 64;
  for (unsigned i = 0; i < levels; i++) {
    custos_rc rc = reserve_level(&t->lv[i]);
    if (rc != CUSTOS_OK)
      return rc;
  }
  memcpy(t->lv[0].h[t->lv[0].len++].b, leaf, 32);
  for (unsigned i = 1; i < levels; i++) {
    level *below = &t->lv[i - 1];
    cu_log_node_hash(below->h[below->len - 2].b, below->h[below->len - 1].b,
                     t->lv[i].h[t->lv[i].len].b);
    t->lv[i].len++;
  }
  t->size = ns;
  return CUSTOS_OK;
}

custos_rc cu_log_tree_node(void *ctx, unsigned lvl, uint64_t index,
                           uint8_t out[32], custos_diag *d) {
  cu_log_tree *t = ctx;
  if (lvl >= 64 || index >= t->lv[lvl].len)
    return cu_diag_set(d, CUSTOS_EINVAL,
                       "no subtree at level %u index %llu in a tree of %llu",
                       lvl, (unsigned long long)index,
                       (unsigned long long)t->size);
  memcpy(out, t->lv[lvl].h[index].b, 32);
  return CUSTOS_OK;
}

void cu_log_tree_root(cu_log_tree *t, uint64_t size, uint8_t out[32]) {
  assert(size <= t->size);
  if (size == 0) {
    cu_log_empty_root(out);
    return;
  }
  custos_rc rc = cu_log_range_root(cu_log_tree_node, t, 0, size, out, NULL);
  (void)rc;
  assert(rc == CUSTOS_OK);
}
