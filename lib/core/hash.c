/*
 * SHA-256, HMAC-SHA256 and random bytes through OpenSSL libcrypto, which
 * picks the CPU's SHA instructions where they exist.  OpenSSL errors are
 * translated to CUSTOS_ECRYPTO here, at the module boundary.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "core.h"

struct cu_sha256_ctx {
  EVP_MD_CTX *md;
};

void cu_sha256(const void *p, size_t n, uint8_t out[CU_SHA256_LEN]) {
  SHA256(p, n, out);
}

custos_rc cu_sha256_init(cu_sha256_ctx **ctx) {
  cu_sha256_ctx *c = cu_malloc(sizeof *c);
  if (!c)
    return CUSTOS_ENOMEM;
  c->md = EVP_MD_CTX_new();
  if (!c->md)
    goto fail_md;
  if (EVP_DigestInit_ex(c->md, EVP_sha256(), NULL) != 1)
    goto fail_init;
  *ctx = c;
  return CUSTOS_OK;
fail_init:
  EVP_MD_CTX_free(c->md);
fail_md:
  cu_free(c);
  return CUSTOS_ECRYPTO;
}

void cu_sha256_update(cu_sha256_ctx *ctx, const void *p, size_t n) {
  EVP_DigestUpdate(ctx->md, p, n);
}

void cu_sha256_final(cu_sha256_ctx *ctx, uint8_t out[CU_SHA256_LEN]) {
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx->md, out, &len);
  cu_sha256_abort(ctx);
}

void cu_sha256_abort(cu_sha256_ctx *ctx) {
  if (!ctx)
    return;
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

custos_rc cu_hmac_sha256(const uint8_t *key, size_t keylen, const void *p,
                         size_t n, uint8_t out[CU_SHA256_LEN]) {
  unsigned int len = 0;
  if (keylen > INT32_MAX)
    return CUSTOS_EINVAL;
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
