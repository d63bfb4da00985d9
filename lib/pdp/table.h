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

/* Interned names of one table: id 1..n, 0 means "not there". */
typedef struct cu_pdp_intern {
  uint32_t *slots; /* id, 0 empty */
  uint32_t mask;
  uint32_t n;
  char **names; /* names[id - 1] */
  size_t cap;
  int fold; /* compare ASCII case-insensitively */
} cu_pdp_intern;

uint32_t cu_pdp_intern_find(const cu_pdp_intern *in, const char *s);

#define CU_PDP_WILDCARD 0u
#define CU_PDP_ABSENT 0xffffu

typedef struct cu_pdp_rule {
  uint16_t svc, region; /* CU_PDP_WILDCARD or an interned id */
  uint8_t effect;
  uint8_t future; /* effective was later than the build */
  uint16_t owner; /* interned id */
  uint32_t case_idx;
  int64_t effective;
} cu_pdp_rule;

typedef struct cu_pdp_slot {
  uint64_t k0, k1; /* 0, 0 = empty */
  uint32_t first, n;
} cu_pdp_slot;

typedef struct cu_pdp_table {
  uint64_t revision;
  uint64_t nblocks;
  uint64_t mask;
  cu_pdp_slot *slots;
  cu_pdp_rule *rules;
  cu_pdp_intern svcs, regions, owners, cases;
} cu_pdp_table;

/* Builds a table from the live blocks of m; *out is the caller's, freed
 * with cu_pdp_table_free.  ENOMEM or ETOOBIG (more than 65534 services,
 * regions or owners) with nothing allocated. */
custos_rc cu_pdp_table_build(const cu_pdp_master *m, uint64_t revision,
                             int64_t now_s, cu_pdp_table **out) CUSTOS_WUR;
void cu_pdp_table_free(cu_pdp_table *t);

/* The slot of key in t, or NULL.  Reads only. */
static inline uint64_t cu_pdp_mix(uint64_t a, uint64_t b) {
  uint64_t h = a ^ (b * 0x9e3779b97f4a7c15u);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdu;
  h ^= h >> 33;
  return h;
}

static inline const cu_pdp_slot *cu_pdp_table_find(const cu_pdp_table *t,
                                                   uint64_t k0, uint64_t k1) {
  uint64_t i = cu_pdp_mix(k0, k1) & t->mask;
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

/* Connects to NATS at url with reconnection forever; with retry a server
 * that is not up yet is waited for in the background.  EIO with diag. */
custos_rc cu_pdp_nats_connect(const char *url, bool retry,
                              natsConnection **nc, custos_diag *d) CUSTOS_WUR;

#endif
