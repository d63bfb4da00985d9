/*
 * The writer's master set of blocks and the immutable lookup table that
 * readers use: a Bloom filter of the subscriptions with blocks, then an
 * open-addressing hash of their 128-bit keys (load at most 3/4) whose
 * 32-byte slots hold a single block inline, or point at a run of rules;
 * service, region, owner and case names interned to small ids.
 */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "table.h"

static uint64_t hash_str(uint64_t h, const char *s, int fold) {
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (fold && c >= 'A' && c <= 'Z')
      c = (unsigned char)(c + 32);
    h = (h ^ c) * 0x100000001b3u;
  }
  return (h ^ 0xff) * 0x100000001b3u;
}

static int same(const char *a, const char *b, int fold) {
  if (!fold)
    return strcmp(a, b) == 0;
  for (;; a++, b++) {
    unsigned char x = (unsigned char)*a, y = (unsigned char)*b;
    if (x >= 'A' && x <= 'Z')
      x = (unsigned char)(x + 32);
    if (y >= 'A' && y <= 'Z')
      y = (unsigned char)(y + 32);
    if (x != y)
      return 0;
    if (!x)
      return 1;
  }
}

/* ---- master ----------------------------------------------------------- */

static uint64_t target_hash(const cu_pdp_block *b, const uint64_t key[2]) {
  uint64_t h = cu_pdp_mix(key[0], key[1]) ^ 0xcbf29ce484222325u;
  h = hash_str(h, b->service, 0);
  h = hash_str(h, b->region, 0);
  return hash_str(h, b->owner, 0);
}

static cu_pdp_rec *rec_new(const cu_pdp_block *b, const uint64_t key[2],
                           uint64_t h) {
  size_t l[5] = {strlen(b->subscription) + 1, strlen(b->service) + 1,
                 strlen(b->region) + 1, strlen(b->owner) + 1,
                 strlen(b->case_id) + 1};
  cu_pdp_rec *r =
      cu_malloc(sizeof *r + l[0] + l[1] + l[2] + l[3] + l[4]);
  if (!r)
    return NULL;
  char *p = (char *)(r + 1);
  const char *src[5] = {b->subscription, b->service, b->region, b->owner,
                        b->case_id};
  const char **dst[5] = {&r->sub, &r->svc, &r->region, &r->owner,
                         &r->case_id};
  for (int i = 0; i < 5; i++) {
    memcpy(p, src[i], l[i]);
    *dst[i] = p;
    p += l[i];
  }
  r->key[0] = key[0];
  r->key[1] = key[1];
  r->h = h;
  r->effective = b->effective;
  r->created = b->created;
  r->revision = b->revision;
  r->effect = (uint8_t)b->effect;
  return r;
}

static int rec_is(const cu_pdp_rec *r, const cu_pdp_block *b,
                  const uint64_t key[2], uint64_t h) {
  return r->h == h && r->key[0] == key[0] && r->key[1] == key[1] &&
         strcmp(r->svc, b->service) == 0 &&
         strcmp(r->region, b->region) == 0 && strcmp(r->owner, b->owner) == 0;
}

static custos_rc index_grow(cu_pdp_master *m) {
  size_t ncap = m->icap ? m->icap * 2 : 64;
  uint32_t *idx = cu_calloc(ncap, sizeof *idx);
  if (!idx)
    return CUSTOS_ENOMEM;
  for (size_t i = 0; i < m->n; i++) {
    size_t j = m->recs[i]->h & (ncap - 1);
    while (idx[j])
      j = (j + 1) & (ncap - 1);
    idx[j] = (uint32_t)(i + 1);
  }
  cu_free(m->idx);
  m->idx = idx;
  m->icap = ncap;
  return CUSTOS_OK;
}

custos_rc cu_pdp_master_set(cu_pdp_master *m, const cu_pdp_block *b) {
  uint64_t key[2];
  if (cu_pdp_sub_key(b->subscription, strlen(b->subscription), key) != 0)
    return CUSTOS_EINVAL;
  if (m->n >= UINT32_MAX - 1)
    return CUSTOS_ETOOBIG;
  if ((m->n + 1) * 2 > m->icap && index_grow(m) != CUSTOS_OK)
    return CUSTOS_ENOMEM;
  uint64_t h = target_hash(b, key);
  size_t j = h & (m->icap - 1);
  while (m->idx[j]) {
    cu_pdp_rec *r = m->recs[m->idx[j] - 1];
    if (rec_is(r, b, key, h)) {
      cu_pdp_rec *nr = rec_new(b, key, h);
      if (!nr)
        return CUSTOS_ENOMEM;
      m->live += (size_t)(b->effect != 0) - (size_t)(r->effect != 0);
      m->recs[m->idx[j] - 1] = nr;
      cu_free(r);
      return CUSTOS_OK;
    }
    j = (j + 1) & (m->icap - 1);
  }
  if (b->effect == CUSTOS_PDP_EFFECT_NONE)
    return CUSTOS_OK; /* lifting what was never there */
  cu_pdp_rec **recs = cu_grow(m->recs, &m->cap, m->n, sizeof *recs);
  if (!recs)
    return CUSTOS_ENOMEM;
  m->recs = recs;
  cu_pdp_rec *r = rec_new(b, key, h);
  if (!r)
    return CUSTOS_ENOMEM;
  m->recs[m->n++] = r;
  m->idx[j] = (uint32_t)m->n;
  m->live++;
  return CUSTOS_OK;
}

void cu_pdp_master_clear(cu_pdp_master *m) {
  for (size_t i = 0; i < m->n; i++)
    cu_free(m->recs[i]);
  cu_free(m->recs);
  cu_free(m->idx);
  memset(m, 0, sizeof *m);
}

/* ---- interned names --------------------------------------------------- */

void cu_pdp_intern_init(cu_pdp_intern *in, int fold) {
  memset(in, 0, sizeof *in);
  in->fold = fold;
}

void cu_pdp_intern_free(cu_pdp_intern *in) {
  if (!in->shared)
    for (uint32_t i = 0; i < in->n; i++)
      cu_free(in->names[i]);
  cu_free(in->names);
  cu_free(in->slots);
  memset(in, 0, sizeof *in);
}

uint32_t cu_pdp_intern_find(const cu_pdp_intern *in, const char *s) {
  if (!in->slots)
    return 0;
  uint32_t i = (uint32_t)hash_str(0xcbf29ce484222325u, s, in->fold) & in->mask;
  for (;;) {
    uint32_t id = in->slots[i];
    if (id == 0)
      return 0;
    if (same(in->names[id - 1], s, in->fold))
      return id;
    i = (i + 1) & in->mask;
  }
}

/* Doubles the slots (load stays at most 1/2). */
static custos_rc intern_grow(cu_pdp_intern *in) {
  size_t cap = in->slots ? ((size_t)in->mask + 1) * 2 : 16;
  uint32_t *slots = cu_calloc(cap, sizeof *slots);
  if (!slots)
    return CUSTOS_ENOMEM;
  for (uint32_t id = 1; id <= in->n; id++) {
    size_t i = hash_str(0xcbf29ce484222325u, in->names[id - 1], in->fold) &
               (cap - 1);
    while (slots[i])
      i = (i + 1) & (cap - 1);
    slots[i] = id;
  }
  cu_free(in->slots);
  in->slots = slots;
  in->mask = (uint32_t)(cap - 1);
  return CUSTOS_OK;
}

uint32_t cu_pdp_intern_add(cu_pdp_intern *in, const char *s, uint32_t limit) {
  uint32_t id = cu_pdp_intern_find(in, s);
  if (id)
    return id;
  if (in->n >= limit)
    return 0;
  if (((size_t)in->n + 1) * 2 > (in->slots ? (size_t)in->mask + 1 : 0) &&
      intern_grow(in) != CUSTOS_OK)
    return 0;
  char **names = cu_grow(in->names, &in->cap, in->n, sizeof *names);
  if (!names)
    return 0;
  in->names = names;
  char *copy = cu_strdup(s);
  if (!copy)
    return 0;
  uint32_t i = (uint32_t)hash_str(0xcbf29ce484222325u, s, in->fold) & in->mask;
  while (in->slots[i])
    i = (i + 1) & in->mask;
  in->names[in->n++] = copy;
  in->slots[i] = in->n;
  return in->n;
}

/* A read-only copy of src that shares its strings. */
static custos_rc intern_share(cu_pdp_intern *dst, const cu_pdp_intern *src) {
  cu_pdp_intern_init(dst, src->fold);
  dst->shared = 1;
  if (!src->slots)
    return CUSTOS_OK;
  dst->slots = cu_malloc(((size_t)src->mask + 1) * sizeof *dst->slots);
  dst->names = cu_malloc((src->n ? src->n : 1) * sizeof *dst->names);
  if (!dst->slots || !dst->names)
    return CUSTOS_ENOMEM;
  memcpy(dst->slots, src->slots, ((size_t)src->mask + 1) * sizeof *dst->slots);
  memcpy(dst->names, src->names, src->n * sizeof *dst->names);
  dst->mask = src->mask;
  dst->n = src->n;
  dst->cap = src->n;
  return CUSTOS_OK;
}

/* ---- table ------------------------------------------------------------ */

/* Big arrays are read at random by every check: ask for huge pages so a
 * lookup does not also miss the TLB.  Only a hint. */
static void *alloc_hot(size_t n, size_t size) {
  if (n > SIZE_MAX / size)
    return NULL;
  size_t len = n * size;
  /* Zeroed only after the hint: cu_calloc writes every page, and pages
   * already there stay small. */
  void *p = cu_malloc(len);
  if (!p)
    return NULL;
#ifdef MADV_HUGEPAGE
  size_t huge = (size_t)2 << 20;
  if (len >= 2 * huge) {
    uintptr_t a = ((uintptr_t)p + huge - 1) & ~(uintptr_t)(huge - 1);
    uintptr_t e = ((uintptr_t)p + len) & ~(uintptr_t)(huge - 1);
    if (e > a)
      (void)madvise((void *)a, e - a, MADV_HUGEPAGE);
  }
#endif
  memset(p, 0, len);
  return p;
}

void cu_pdp_table_free(cu_pdp_table *t) {
  if (!t)
    return;
  cu_free(t->slots);
  cu_free(t->bloom);
  cu_free(t->rules);
  cu_pdp_intern_free(&t->svcs);
  cu_pdp_intern_free(&t->regions);
  cu_free(t->owners);
  cu_free(t->cases);
  cu_free(t);
}

static cu_pdp_slot *slot_for(cu_pdp_table *t, const uint64_t key[2],
                             uint64_t h) {
  uint64_t i = h & t->mask;
  for (;;) {
    cu_pdp_slot *s = &t->slots[i];
    if ((s->k0 == key[0] && s->k1 == key[1]) || (s->k0 | s->k1) == 0)
      return s;
    i = (i + 1) & t->mask;
  }
}

#define FUTURE_FLAG 0x80000000u /* during the build, in slot.more */

/* Fixed-width, zero-padded copies of interned names, so a deny copies a
 * constant number of bytes. */
static void *name_array(const cu_pdp_intern *in, size_t width) {
  char *a = cu_calloc(in->n ? in->n : 1, width);
  if (!a)
    return NULL;
  for (uint32_t i = 0; i < in->n; i++) {
    size_t l = strlen(in->names[i]);
    memcpy(a + i * width, in->names[i], l < width ? l : width - 1);
  }
  return a;
}

custos_rc cu_pdp_table_build(const cu_pdp_master *m, cu_pdp_intern *svcs,
                             cu_pdp_intern *regions, uint64_t revision,
                             int64_t now_s, cu_pdp_table **out) {
  *out = NULL;
  cu_pdp_table *t = cu_calloc(1, sizeof *t);
  if (!t)
    return CUSTOS_ENOMEM;
  custos_rc rc = CUSTOS_ENOMEM;
  uint32_t *pos = NULL;
  cu_pdp_intern owners, cases;
  cu_pdp_intern_init(&owners, 0);
  cu_pdp_intern_init(&cases, 0);
  t->revision = revision;
  t->nblocks = m->live;
  /* Load at most 3/4: the filter keeps misses away, and a hit's probe
   * stays mostly within its cache line. */
  size_t cap = 16;
  while (cap * 3 < m->live * 4)
    cap *= 2;
  t->mask = cap - 1;
  /* About 16 filter bits per subscription with a block. */
  while (((size_t)1 << t->bloom_bits) * 16 < m->live && t->bloom_bits < 30)
    t->bloom_bits++;
  t->slots = alloc_hot(cap, sizeof *t->slots);
  t->bloom = alloc_hot((size_t)1 << t->bloom_bits, sizeof *t->bloom);
  pos = cu_calloc(cap, sizeof *pos);
  if (!t->slots || !t->bloom || !pos)
    goto fail;

  /* Pass 1: count the blocks of each subscription in slot.more, and
   * mark the ones with a block not yet in force. */
  for (size_t i = 0; i < m->n; i++) {
    const cu_pdp_rec *r = m->recs[i];
    if (!r->effect)
      continue;
    uint64_t h = cu_pdp_mix(r->key[0], r->key[1]);
    cu_pdp_slot *s = slot_for(t, r->key, h);
    s->k0 = r->key[0];
    s->k1 = r->key[1];
    s->more++;
    if (r->effective > now_s)
      s->more |= FUTURE_FLAG;
    uint32_t *w = t->bloom[(h >> 32) >> (32 - t->bloom_bits)];
    for (int b = 0; b < 8; b++)
      w[b] |= cu_pdp_bloom_bit(h, b);
  }
  /* Pass 2: runs for the subscriptions that cannot be inline. */
  size_t nrules = 0;
  for (size_t i = 0; i < cap; i++) {
    uint32_t c = t->slots[i].more;
    if (c > 1) { /* more than one, or flagged */
      pos[i] = (uint32_t)nrules;
      nrules += c & ~FUTURE_FLAG;
    }
  }
  t->rules = cu_calloc(nrules ? nrules : 1, sizeof *t->rules);
  if (!t->rules)
    goto fail;
  /* Pass 3: fill. */
  for (size_t i = 0; i < m->n; i++) {
    const cu_pdp_rec *r = m->recs[i];
    if (!r->effect)
      continue;
    cu_pdp_slot *s = slot_for(t, r->key, cu_pdp_mix(r->key[0], r->key[1]));
    uint32_t svc = 0, region = 0, owner, cs;
    if (strcmp(r->svc, "*") != 0) {
      svc = cu_pdp_intern_add(svcs, r->svc, CU_PDP_IDS_MAX);
      if (!svc)
        goto fail_limit;
    }
    if (strcmp(r->region, "*") != 0) {
      region = cu_pdp_intern_add(regions, r->region, CU_PDP_IDS_MAX);
      if (!region)
        goto fail_limit;
    }
    owner = cu_pdp_intern_add(&owners, r->owner, CU_PDP_IDS_MAX);
    cs = cu_pdp_intern_add(&cases, r->case_id, UINT32_MAX - 1);
    if (!owner || !cs)
      goto fail_limit;
    if (s->more == 1) {
      s->svc = (uint16_t)svc;
      s->region = (uint16_t)region;
      s->owner = (uint16_t)owner;
      s->case_idx = cs;
      s->effect = r->effect;
      s->more = 0;
      continue;
    }
    cu_pdp_rule *u = &t->rules[pos[s - t->slots]++];
    u->svc = (uint16_t)svc;
    u->region = (uint16_t)region;
    u->owner = (uint16_t)owner;
    u->case_idx = cs;
    u->effect = r->effect;
    u->effective = r->effective;
    u->future = r->effective > now_s;
  }
  /* Pass 4: point the slots with runs at them. */
  for (size_t i = 0; i < cap; i++) {
    uint32_t c = t->slots[i].more & ~FUTURE_FLAG;
    if (c) {
      uint32_t first = pos[i] - c;
      t->rules[first].n = c;
      t->slots[i].more = first + 1;
    }
  }
  t->owners = name_array(&owners, CU_PDP_OWNER_MAX);
  t->cases = name_array(&cases, CU_PDP_CASE_MAX);
  if (!t->owners || !t->cases || intern_share(&t->svcs, svcs) != CUSTOS_OK ||
      intern_share(&t->regions, regions) != CUSTOS_OK)
    goto fail;
  cu_free(pos);
  cu_pdp_intern_free(&owners);
  cu_pdp_intern_free(&cases);
  *out = t;
  return CUSTOS_OK;
fail_limit:
  rc = svcs->n >= CU_PDP_IDS_MAX || regions->n >= CU_PDP_IDS_MAX ||
               owners.n >= CU_PDP_IDS_MAX
           ? CUSTOS_ETOOBIG
           : CUSTOS_ENOMEM;
fail:
  cu_free(pos);
  cu_pdp_intern_free(&owners);
  cu_pdp_intern_free(&cases);
  cu_pdp_table_free(t);
  return rc;
}
