/*
 * Fuzz target for the proof verifiers: the input is read as a tlog-proof
 * bundle, and also as raw sizes, roots and proof hashes fed to the RFC 9162
 * inclusion and consistency verifiers.  Nothing may crash or be accepted
 * that does not verify.
 */
#include <stdint.h>
#include <string.h>

#include "tlog/tlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t take_u64(const uint8_t **p, size_t *n) {
  uint64_t v = 0;
  for (int i = 0; i < 8 && *n > 0; i++, (*p)++, (*n)--)
    v = v << 8 | **p;
  return v;
}

/* GCC does not let (void) discard a warn_unused_result value. */
static volatile unsigned sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char vk[] =
      "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
  cu_log_vkey key;
  if (cu_log_vkey_parse(vk, strlen(vk), &key, NULL) != CUSTOS_OK)
    return 0;
  cu_buf entry;
  cu_buf_init(&entry, CU_LOG_ENTRY_MAX);
  uint64_t index;
  cu_log_checkpoint cp;
  sink += (unsigned)cu_log_proof_verify((const char *)data, size, &key, &index, &cp,
                            &entry, NULL);
  cu_buf_free(&entry);

  /* Raw verifier inputs: two sizes (small ones more often), two roots,
   * then proof hashes. */
  const uint8_t *p = data;
  size_t n = size;
  uint64_t a = take_u64(&p, &n), b = take_u64(&p, &n);
  if (n < 64)
    return 0;
  if (a & 1)
    a = (a >> 1) % 4096;
  if (b & 1)
    b = (b >> 1) % 4096;
  const uint8_t *r1 = p, *r2 = p + 32;
  p += 64;
  n -= 64;
  cu_log_hash proof[CU_LOG_MAX_PROOF];
  size_t np = n / 32 < CU_LOG_MAX_PROOF ? n / 32 : CU_LOG_MAX_PROOF;
  memcpy(proof, p, np * 32);
  sink += (unsigned)cu_log_verify_inclusion(a, b, r1, 32, proof, np, r2, 32, NULL);
  sink += (unsigned)cu_log_verify_consistency(a, b, proof, np, r1, 32, r2, 32, NULL);
  return 0;
}
