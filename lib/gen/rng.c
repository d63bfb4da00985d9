/*
 * gen/rng: the generator's randomness.  Hash-based (splitmix64's finaliser)
 * so that any row's numbers follow from the seed and its position alone;
 * that is what keeps files byte-stable when other files change.
 */
#include "gen/genInt.h"

uint64_t cu_gen_mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t cu_gen_hash(uint64_t seed, uint64_t a, uint64_t b, uint64_t c) {
  uint64_t h = cu_gen_mix(seed ^ 0x636f7374756f73ULL); /* "custos" */
  h = cu_gen_mix(h ^ a);
  h = cu_gen_mix(h ^ (b * 0xff51afd7ed558ccdULL));
  return cu_gen_mix(h ^ (c * 0xc4ceb9fe1a85ec53ULL));
}

void cu_gen_rng_init(cu_gen_rng *r, uint64_t seed, uint64_t stream) {
  r->s = cu_gen_hash(seed, stream, 0x5eed, 0);
}

uint64_t cu_gen_rng_next(cu_gen_rng *r) {
  r->s += 0x9e3779b97f4a7c15ULL;
  uint64_t z = r->s;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint32_t cu_gen_rng_below(cu_gen_rng *r, uint32_t n) {
  /* Lemire's multiply-shift; the tiny bias does not matter for fiction,
   * but the result must not depend on the platform, and it does not. */
  return (uint32_t)(((cu_gen_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

int64_t cu_gen_rng_range(cu_gen_rng *r, int64_t lo, int64_t hi) {
  if (hi <= lo)
    return lo;
  uint64_t span = (uint64_t)(hi - lo) + 1;
  return lo + (int64_t)(cu_gen_rng_next(r) % span);
}
