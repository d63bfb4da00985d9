/*
 * SHA-256, HMAC-SHA256 and random bytes through OpenSSL libcrypto, which
 * picks the CPU's SHA instructions where they exist.  OpenSSL errors are
 * translated to CUSTOS_ECRYPTO here, at the module boundary.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "core.h"

/* The worker of an asynchronous context: it hashes one chunk at a time
 * while the caller goes on.  The digest state belongs to the worker while
 * busy is set and to the caller otherwise; the mutex orders the two. */
typedef struct hashq {
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  unsigned char *buf; /* the chunk being hashed */
  size_t cap, len;
  /* or the caller's bytes, hashed where they are, a piece at a time so
   * that abort need not wait for the rest */
  const unsigned char *ref;
  size_t reflen;
  unsigned waiting; /* callers in cu_sha256_wait_queued */
  bool busy, done, cancel;
} hashq;

/* Bytes of referenced memory hashed between looks at cancel. */
#define REF_PIECE ((size_t)4 << 20)

struct cu_sha256_ctx {
  EVP_MD_CTX *md;
  hashq *q; /* NULL for a synchronous context */
};

/* The SHA-256 implementation, fetched once: EVP_DigestInit_ex with
 * EVP_sha256() looks it up in OpenSSL's provider tables on every call,
 * which cost more than hashing a short message.  Kept for the life of the
 * process. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void) { sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL); }

void cu_sha256(const void *p, size_t n, uint8_t out[CU_SHA256_LEN]) {
  pthread_once(&sha256_once, sha256_fetch);
  /* SHA256() fetches the implementation on every call in OpenSSL 3 */
  if (!sha256_md || EVP_Digest(p, n, out, NULL, sha256_md, NULL) != 1)
    SHA256(p, n, out);
}

custos_rc cu_sha256_init(cu_sha256_ctx **ctx) {
  pthread_once(&sha256_once, sha256_fetch);
  cu_sha256_ctx *c = cu_malloc(sizeof *c);
  if (!c)
    return CUSTOS_ENOMEM;
  c->q = NULL;
  c->md = EVP_MD_CTX_new();
  if (!c->md)
    goto fail_md;
  if (EVP_DigestInit_ex(c->md, sha256_md ? sha256_md : EVP_sha256(), NULL) !=
      1)
    goto fail_init;
  *ctx = c;
  return CUSTOS_OK;
fail_init:
  EVP_MD_CTX_free(c->md);
fail_md:
  cu_free(c);
  return CUSTOS_ECRYPTO;
}

static void *hashq_main(void *arg) {
  cu_sha256_ctx *c = arg;
  hashq *q = c->q;
  pthread_mutex_lock(&q->mu);
  for (;;) {
    while (!q->busy && !q->done)
      pthread_cond_wait(&q->cv, &q->mu);
    if (!q->busy)
      break;
    while (q->reflen > 0 && !q->cancel) {
      const unsigned char *p = q->ref;
      size_t n = q->reflen < REF_PIECE ? q->reflen : REF_PIECE;
      pthread_mutex_unlock(&q->mu);
      EVP_DigestUpdate(c->md, p, n);
      pthread_mutex_lock(&q->mu);
      q->ref += n;
      q->reflen -= n;
      if (q->waiting)
        pthread_cond_broadcast(&q->cv);
    }
    if (q->len > 0) {
      pthread_mutex_unlock(&q->mu);
      EVP_DigestUpdate(c->md, q->buf, q->len);
      pthread_mutex_lock(&q->mu);
    }
    q->ref = NULL;
    q->reflen = q->len = 0;
    q->busy = false;
    pthread_cond_broadcast(&q->cv);
  }
  pthread_mutex_unlock(&q->mu);
  return NULL;
}

custos_rc cu_sha256_init_async(cu_sha256_ctx **ctx) {
  custos_rc rc = cu_sha256_init(ctx);
  if (rc != CUSTOS_OK)
    return rc;
  cu_sha256_ctx *c = *ctx;
  hashq *q = cu_calloc(1, sizeof *q);
  if (!q)
    return CUSTOS_OK; /* synchronous then */
  if (pthread_mutex_init(&q->mu, NULL) != 0)
    goto fail_mu;
  if (pthread_cond_init(&q->cv, NULL) != 0)
    goto fail_cv;
  c->q = q;
  if (pthread_create(&q->th, NULL, hashq_main, c) != 0)
    goto fail_th;
  return CUSTOS_OK;
fail_th:
  c->q = NULL;
  pthread_cond_destroy(&q->cv);
fail_cv:
  pthread_mutex_destroy(&q->mu);
fail_mu:
  cu_free(q);
  return CUSTOS_OK;
}

/* Waits until the worker is idle; the caller holds q->mu. */
static void hashq_idle(hashq *q) {
  while (q->busy)
    pthread_cond_wait(&q->cv, &q->mu);
}

/* Stops and frees the worker of c after it has hashed what it was given. */
static void hashq_stop(cu_sha256_ctx *c) {
  hashq *q = c->q;
  if (!q)
    return;
  pthread_mutex_lock(&q->mu);
  hashq_idle(q);
  q->done = true;
  pthread_cond_broadcast(&q->cv);
  pthread_mutex_unlock(&q->mu);
  pthread_join(q->th, NULL);
  pthread_cond_destroy(&q->cv);
  pthread_mutex_destroy(&q->mu);
  cu_free(q->buf);
  cu_free(q);
  c->q = NULL;
}

void cu_sha256_update(cu_sha256_ctx *ctx, const void *p, size_t n) {
  hashq *q = ctx->q;
  if (!q) {
    EVP_DigestUpdate(ctx->md, p, n);
    return;
  }
  if (n == 0)
    return;
  pthread_mutex_lock(&q->mu);
  hashq_idle(q);
  if (n > q->cap) {
    unsigned char *nb = cu_realloc(q->buf, n);
    if (!nb) {
      /* The worker is idle: hash this chunk here instead. */
      pthread_mutex_unlock(&q->mu);
      EVP_DigestUpdate(ctx->md, p, n);
      return;
    }
    q->buf = nb;
    q->cap = n;
  }
  memcpy(q->buf, p, n);
  q->len = n;
  q->busy = true;
  pthread_cond_broadcast(&q->cv);
  pthread_mutex_unlock(&q->mu);
}

void cu_sha256_update_ref(cu_sha256_ctx *ctx, const void *p, size_t n) {
  hashq *q = ctx->q;
  if (!q) {
    EVP_DigestUpdate(ctx->md, p, n);
    return;
  }
  if (n == 0)
    return;
  pthread_mutex_lock(&q->mu);
  if (q->busy && q->ref && q->ref + q->reflen == (const unsigned char *)p) {
    /* the bytes right after those being hashed: the worker goes on */
    q->reflen += n;
    pthread_mutex_unlock(&q->mu);
    return;
  }
  hashq_idle(q);
  q->ref = p;
  q->reflen = n;
  q->busy = true;
  pthread_cond_broadcast(&q->cv);
  pthread_mutex_unlock(&q->mu);
}

size_t cu_sha256_queued(cu_sha256_ctx *ctx) {
  if (!ctx || !ctx->q)
    return 0;
  pthread_mutex_lock(&ctx->q->mu);
  size_t n = ctx->q->busy ? ctx->q->reflen : 0;
  pthread_mutex_unlock(&ctx->q->mu);
  return n;
}

void cu_sha256_wait_queued(cu_sha256_ctx *ctx, size_t n) {
  if (!ctx || !ctx->q)
    return;
  hashq *q = ctx->q;
  pthread_mutex_lock(&q->mu);
  q->waiting++;
  while (q->busy && q->reflen > n && !q->cancel)
    pthread_cond_wait(&q->cv, &q->mu);
  q->waiting--;
  pthread_mutex_unlock(&q->mu);
}

void cu_sha256_final(cu_sha256_ctx *ctx, uint8_t out[CU_SHA256_LEN]) {
  hashq_stop(ctx);
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx->md, out, &len);
  cu_sha256_abort(ctx);
}

void cu_sha256_abort(cu_sha256_ctx *ctx) {
  if (!ctx)
    return;
  if (ctx->q) {
    /* the result is not wanted: skip what referenced memory is left */
    pthread_mutex_lock(&ctx->q->mu);
    ctx->q->cancel = true;
    pthread_mutex_unlock(&ctx->q->mu);
  }
  hashq_stop(ctx);
  EVP_MD_CTX_free(ctx->md);
  cu_free(ctx);
}

custos_rc cu_sha256_file(const char *path, uint8_t out[CU_SHA256_LEN],
                         uint64_t *size, custos_diag *d) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    int e = errno;
    cu_diag_at(d, path, 0, 0);
    return cu_diag_set(d, e == ENOENT ? CUSTOS_ENOTFOUND : CUSTOS_EIO,
                       "cannot open: %s", strerror(e));
  }
  cu_sha256_ctx *ctx = NULL;
  custos_rc rc = cu_sha256_init(&ctx);
  if (rc != CUSTOS_OK) {
    fclose(f);
    return cu_diag_set(d, rc, "cannot start SHA-256");
  }
  static __thread unsigned char buf[1 << 16];
  uint64_t total = 0;
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
    cu_sha256_update(ctx, buf, n);
    total += n;
  }
  if (ferror(f)) {
    cu_sha256_abort(ctx);
    fclose(f);
    cu_diag_at(d, path, 0, 0);
    return cu_diag_set(d, CUSTOS_EIO, "read error");
  }
  fclose(f);
  cu_sha256_final(ctx, out);
  if (size)
    *size = total;
  return CUSTOS_OK;
}

/* HMAC-SHA256 (RFC 2104) of the last key used, kept keyed: OpenSSL 3's
 * HMAC() fetches the MAC, makes a context and hashes the padded key on
 * every call, some 20,000 instructions, where the message of a
 * pseudonym takes two SHA-256 blocks.  inner and outer hold SHA-256 after
 * the key XOR ipad and XOR opad; a MAC copies them into work and goes on.
 * Keys longer than a block (hashed first by HMAC) are not kept.  The
 * mutex makes the one cache safe for any thread; the contexts live for
 * the process, like sha256_md. */
#define HMAC_BLOCK 64
static struct {
  pthread_mutex_t mu;
  bool keyed;
  uint8_t key[HMAC_BLOCK];
  size_t keylen;
  EVP_MD_CTX *inner, *outer, *work;
} hmac_last = {PTHREAD_MUTEX_INITIALIZER, false, {0}, 0, NULL, NULL, NULL};

/* Makes hmac_last keyed with key (keylen <= HMAC_BLOCK); false on an
 * OpenSSL failure, hmac_last then unkeyed.  Called with the mutex held. */
static bool hmac_rekey(const uint8_t *key, size_t keylen) {
  hmac_last.keyed = false;
  if (!hmac_last.inner)
    hmac_last.inner = EVP_MD_CTX_new();
  if (!hmac_last.outer)
    hmac_last.outer = EVP_MD_CTX_new();
  if (!hmac_last.work)
    hmac_last.work = EVP_MD_CTX_new();
  if (!hmac_last.inner || !hmac_last.outer || !hmac_last.work || !sha256_md)
    return false;
  uint8_t ipad[HMAC_BLOCK], opad[HMAC_BLOCK];
  for (size_t i = 0; i < HMAC_BLOCK; i++) {
    uint8_t k = i < keylen ? key[i] : 0;
    ipad[i] = (uint8_t)(k ^ 0x36);
    opad[i] = (uint8_t)(k ^ 0x5c);
  }
  if (EVP_DigestInit_ex(hmac_last.inner, sha256_md, NULL) != 1 ||
      EVP_DigestUpdate(hmac_last.inner, ipad, sizeof ipad) != 1 ||
      EVP_DigestInit_ex(hmac_last.outer, sha256_md, NULL) != 1 ||
      EVP_DigestUpdate(hmac_last.outer, opad, sizeof opad) != 1)
    return false;
  if (keylen)
    memcpy(hmac_last.key, key, keylen);
  hmac_last.keylen = keylen;
  hmac_last.keyed = true;
  return true;
}

/* The MAC from hmac_last's keyed states; false on an OpenSSL failure.
 * Called with the mutex held. */
static bool hmac_keyed(const void *p, size_t n, uint8_t out[CU_SHA256_LEN]) {
  uint8_t ih[CU_SHA256_LEN];
  unsigned int len = 0, olen = 0;
  EVP_MD_CTX *w = hmac_last.work;
  return EVP_MD_CTX_copy_ex(w, hmac_last.inner) == 1 &&
         EVP_DigestUpdate(w, p, n) == 1 &&
         EVP_DigestFinal_ex(w, ih, &len) == 1 && len == CU_SHA256_LEN &&
         EVP_MD_CTX_copy_ex(w, hmac_last.outer) == 1 &&
         EVP_DigestUpdate(w, ih, sizeof ih) == 1 &&
         EVP_DigestFinal_ex(w, out, &olen) == 1 && olen == CU_SHA256_LEN;
}

custos_rc cu_hmac_sha256(const uint8_t *key, size_t keylen, const void *p,
                         size_t n, uint8_t out[CU_SHA256_LEN]) {
  unsigned int len = 0;
  if (keylen > INT32_MAX)
    return CUSTOS_EINVAL;
  if (keylen <= HMAC_BLOCK) {
    pthread_once(&sha256_once, sha256_fetch);
    pthread_mutex_lock(&hmac_last.mu);
    bool ok = (hmac_last.keyed && hmac_last.keylen == keylen &&
               (keylen == 0 || memcmp(hmac_last.key, key, keylen) == 0)) ||
              hmac_rekey(key, keylen);
    ok = ok && hmac_keyed(p, n, out);
    pthread_mutex_unlock(&hmac_last.mu);
    if (ok)
      return CUSTOS_OK;
    /* A failed context: HMAC() below says whether OpenSSL can at all. */
  }
  if (!HMAC(EVP_sha256(), key, (int)keylen, p, n, out, &len) ||
      len != CU_SHA256_LEN)
    return CUSTOS_ECRYPTO;
  return CUSTOS_OK;
}

custos_rc cu_random(uint8_t *p, size_t n) {
  if (n > INT32_MAX)
    return CUSTOS_EINVAL;
  return RAND_bytes(p, (int)n) == 1 ? CUSTOS_OK : CUSTOS_ECRYPTO;
}
