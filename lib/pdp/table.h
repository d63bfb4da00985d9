/*
 * Private to lib/pdp: the writer's master set of blocks and the immutable
 * lookup table built from it.  Only the writer (under the writer lock)
 * touches a master; a table is never changed after it is built, so any
 * number of readers use it without locks while it is published.
 */
#ifndef CU_PDP_TABLE_H
#define CU_PDP_TABLE_H

#include <nats/nats.h>

#include "pdp.h"

/* One block in the master set; strings live in the same allocation. */
typedef struct cu_pdp_rec {
  uint64_t key[2]; /* subscription key */
  uint64_t h;      /* hash of the whole target and owner */
  int64_t effective, created, revision;
  uint8_t effect; /* CUSTOS_PDP_EFFECT_NONE once lifted */
  const char *sub, *svc, *region, *owner, *case_id;
} cu_pdp_rec;

typedef struct cu_pdp_master {
  cu_pdp_rec **recs; /* every target ever seen, lifted ones included */
  size_t n, cap;
  uint32_t *idx; /* open addressing: position + 1, 0 empty */
  size_t icap;   /* power of two */
  size_t live;   /* records with an effect */
} cu_pdp_master;

/* Sets (or lifts, effect NONE) one block; copies the strings.  ENOMEM
 * leaves m as it was. */
custos_rc cu_pdp_master_set(cu_pdp_master *m, const cu_pdp_block *b)
    CUSTOS_WUR;
void cu_pdp_master_clear(cu_pdp_master *m);

/*
 * Interned names: id 1..n, 0 means "not there".  The point keeps one for
 * services and one for regions that only grows, so an id never changes
 * meaning while the point is open; each table holds a read-only copy
 * that shares the point's strings (shared = 1, names not freed).
 */
typedef struct cu_pdp_intern {
  uint32_t *slots; /* id, 0 empty */
  uint32_t mask;
  uint32_t n;
  char **names; /* names[id - 1] */
  size_t cap;
  int fold;   /* compare ASCII case-insensitively */
  int shared; /* a table's copy: the strings belong to the point */
} cu_pdp_intern;

void cu_pdp_intern_init(cu_pdp_intern *in, int fold);
uint32_t cu_pdp_intern_find(const cu_pdp_intern *in, const char *s);
/* The id of s, adding a copy of it; 0 on ENOMEM or when limit names are
 * there already. */
uint32_t cu_pdp_intern_add(cu_pdp_intern *in, const char *s, uint32_t limit);
void cu_pdp_intern_free(cu_pdp_intern *in);

#define CU_PDP_WILDCARD 0u
#define CU_PDP_ABSENT 0xffffu
#define CU_PDP_IDS_MAX (CU_PDP_ABSENT - 1) /* services, regions, owners */

/* A rule of a subscription with more than one block, or with a block not
 * yet in force.  n is the length of the run in its first rule. */
typedef struct cu_pdp_rule {
  uint16_t svc, region; /* CU_PDP_WILDCARD or an interned id */
  uint8_t effect;
  uint8_t future; /* effective was later than the build */
  uint16_t owner; /* index + 1 into the table's owners */
  uint32_t case_idx; /* index + 1 into the table's cases */
  uint32_t n;
  int64_t effective;
} cu_pdp_rule;

/*
 * One subscription, 32 bytes so that two share a cache line and none
 * straddles one.  The common case, one block in force, is inline: a hit
 * reads this slot and nothing else but the owner and case names on a
 * deny.  With more != 0 the rules are rules[more - 1 ...] instead and
 * the inline fields are unused.
 */
typedef struct cu_pdp_slot {
  uint64_t k0, k1; /* 0, 0 = empty */
  uint16_t svc, region;
  uint8_t effect;
  uint8_t unused;
  uint16_t owner;
  uint32_t case_idx;
  uint32_t more;
} cu_pdp_slot;

typedef struct cu_pdp_table {
  uint64_t revision;
  uint64_t nblocks;
  uint64_t mask;
  cu_pdp_slot *slots;
  /* A split-block Bloom filter of the subscriptions that have blocks:
   * 1 << bloom_bits blocks of 8 words, one bit set per word.  Most
   * subscriptions have no block; their checks stop here, in about two
   * bytes per blocked subscription that mostly stay in cache, without
   * touching the slots (0.1 % false positives). */
  uint32_t (*bloom)[8];
  uint32_t bloom_bits;
  cu_pdp_rule *rules;
  cu_pdp_intern svcs, regions; /* copies of the point's */
  char (*owners)[CU_PDP_OWNER_MAX];
  char (*cases)[CU_PDP_CASE_MAX];
} cu_pdp_table;

/*
 * Builds a table from the live blocks of m, adding their service and
 * region names to svcs and regions (the point's; the caller serialises
 * writers of them).  *out is the caller's, freed with cu_pdp_table_free.
 * ENOMEM or ETOOBIG (more than CU_PDP_IDS_MAX services, regions or
 * owners) with nothing allocated but names added to svcs and regions.
 */
custos_rc cu_pdp_table_build(const cu_pdp_master *m, cu_pdp_intern *svcs,
                             cu_pdp_intern *regions, uint64_t revision,
                             int64_t now_s, cu_pdp_table **out) CUSTOS_WUR;
void cu_pdp_table_free(cu_pdp_table *t);

static inline uint64_t cu_pdp_mix(uint64_t a, uint64_t b) {
  uint64_t h = a ^ (b * 0x9e3779b97f4a7c15u);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdu;
  h ^= h >> 33;
  return h;
}

/* Bit i of a key's filter block: one word each, from the low half of h
 * (the block comes from the high half, the slot from the low bits). */
static inline uint32_t cu_pdp_bloom_bit(uint64_t h, int i) {
  static const uint32_t odd[8] = {0x8f1bbcdbu, 0x6ed9eba1u, 0x5a827999u,
                                  0xca62c1d7u, 0x3c6ef373u, 0xa54ff53bu,
                                  0x510e527fu, 0x1f83d9abu};
  return 1u << (((uint32_t)h * odd[i]) >> 27);
}

static inline int cu_pdp_bloom_has(const cu_pdp_table *t, uint64_t h) {
  const uint32_t *w = t->bloom[(h >> 32) >> (32 - t->bloom_bits)];
  uint32_t miss = 0;
  for (int i = 0; i < 8; i++)
    miss |= ~w[i] & cu_pdp_bloom_bit(h, i);
  return miss == 0;
}

/* The slot of the key whose hash is h in t, or NULL.  Reads only. */
static inline const cu_pdp_slot *cu_pdp_table_find(const cu_pdp_table *t,
                                                   uint64_t h, uint64_t k0,
                                                   uint64_t k1) {
  uint64_t i = h & t->mask;
  for (;;) {
    const cu_pdp_slot *s = &t->slots[i];
    if (s->k0 == k0 && s->k1 == k1)
      return s;
    if ((s->k0 | s->k1) == 0)
      return NULL;
    i = (i + 1) & t->mask;
  }
}

/* A feed: its ticker runs on the point's ticker thread, stop before the
 * point is freed.  Each feed embeds this as its first member. */
struct cu_pdp_feed {
  void (*tick)(cu_pdp_feed *f);
  void (*stop)(cu_pdp_feed *f);
};

/* Live changes of bucket B are republished on CU_PDP_LIVE_PREFIX "B.>". */
#define CU_PDP_LIVE_PREFIX "custos.pdp."

/* Binds *kv to bucket, creating it (history 1, file storage) when missing;
 * with live, makes sure the bucket republishes its changes for the points'
 * live subscriptions (publish.c).  The caller destroys *kv. */
custos_rc cu_pdp_bind_bucket(jsCtx *js, const char *bucket, bool live,
                             kvStore **kv, custos_diag *d) CUSTOS_WUR;

/* Connects to NATS at url with reconnection forever; with retry a server
 * that is not up yet is waited for in the background.  EIO with diag. */
custos_rc cu_pdp_nats_connect(const char *url, bool retry,
                              natsConnection **nc, custos_diag *d) CUSTOS_WUR;

#endif
