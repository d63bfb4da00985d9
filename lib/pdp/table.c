/*
 * The writer's master set of blocks and the immutable lookup table that
 * readers use: subscription keys in an open-addressing hash of 128-bit
 * keys (load at most 1/2), each slot pointing at its run of rules; service,
 * region, owner and case names interned to small ids.
 */
#include <string.h>

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

static void intern_free(cu_pdp_intern *in) {
  for (uint32_t i = 0; i < in->n; i++)
    cu_free(in->names[i]);
  cu_free(in->names);
  cu_free(in->slots);
}

uint32_t cu_pdp_intern_find(const cu_pdp_intern *in, const char *s) {
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

/* Sizes the slots for up to max names. */
static custos_rc intern_init(cu_pdp_intern *in, size_t max, int fold) {
  size_t cap = 16;
  while (cap < max * 2)
    cap *= 2;
  in->slots = cu_calloc(cap, sizeof *in->slots);
  if (!in->slots)
    return CUSTOS_ENOMEM;
  in->mask = (uint32_t)(cap - 1);
  in->fold = fold;
  return CUSTOS_OK;
}

/* The id of s, adding it; 0 on failure (ENOMEM or over limit). */
static uint32_t intern_add(cu_pdp_intern *in, const char *s, uint32_t limit) {
  uint32_t i = (uint32_t)hash_str(0xcbf29ce484222325u, s, in->fold) & in->mask;
  for (;;) {
    uint32_t id = in->slots[i];
    if (id == 0)
      break;
    if (same(in->names[id - 1], s, in->fold))
      return id;
    i = (i + 1) & in->mask;
  }
  if (in->n >= limit)
    return 0;
  char **names = cu_grow(in->names, &in->cap, in->n, sizeof *names);
  if (!names)
    return 0;
  in->names = names;
  char *copy = cu_strdup(s);
  if (!copy)
    return 0;
  in->names[in->n++] = copy;
  in->slots[i] = in->n;
  return in->n;
}

/* ---- table ------------------------------------------------------------ */

void cu_pdp_table_free(cu_pdp_table *t) {
  if (!t)
    return;
  cu_free(t->slots);
  cu_free(t->rules);
  intern_free(&t->svcs);
  intern_free(&t->regions);
  intern_free(&t->owners);
  intern_free(&t->cases);
  cu_free(t);
}

static cu_pdp_slot *slot_for(cu_pdp_table *t, const uint64_t key[2]) {
  uint64_t i = cu_pdp_mix(key[0], key[1]) & t->mask;
  for (;;) {
    cu_pdp_slot *s = &t->slots[i];
    if ((s->k0 == key[0] && s->k1 == key[1]) || (s->k0 | s->k1) == 0)
      return s;
    i = (i + 1) & t->mask;
  }
}

custos_rc cu_pdp_table_build(const cu_pdp_master *m, uint64_t revision,
                             int64_t now_s, cu_pdp_table **out) {
  *out = NULL;
  cu_pdp_table *t = cu_calloc(1, sizeof *t);
  if (!t)
    return CUSTOS_ENOMEM;
  custos_rc rc = CUSTOS_ENOMEM;
  t->revision = revision;
  t->nblocks = m->live;
  size_t cap = 16;
  while (cap < m->live * 2)
    cap *= 2;
  t->mask = cap - 1;
  t->slots = cu_calloc(cap, sizeof *t->slots);
  t->rules = cu_calloc(m->live ? m->live : 1, sizeof *t->rules);
  if (!t->slots || !t->rules)
    goto fail;
  size_t small = m->live < 4096 ? m->live : 4096;
  if (intern_init(&t->svcs, small, 1) != CUSTOS_OK ||
      intern_init(&t->regions, small, 1) != CUSTOS_OK ||
      intern_init(&t->owners, 64, 0) != CUSTOS_OK ||
      intern_init(&t->cases, m->live, 0) != CUSTOS_OK)
    goto fail;

  /* Pass 1: count the rules of each subscription. */
  for (size_t i = 0; i < m->n; i++) {
    const cu_pdp_rec *r = m->recs[i];
    if (!r->effect)
      continue;
    cu_pdp_slot *s = slot_for(t, r->key);
    s->k0 = r->key[0];
    s->k1 = r->key[1];
    s->n++;
  }
  /* Pass 2: give each slot its run. */
  uint32_t next = 0;
  for (size_t i = 0; i < cap; i++) {
    t->slots[i].first = next;
    next += t->slots[i].n;
    t->slots[i].n = 0;
  }
  /* Pass 3: fill the runs. */
  for (size_t i = 0; i < m->n; i++) {
    const cu_pdp_rec *r = m->recs[i];
    if (!r->effect)
      continue;
    cu_pdp_slot *s = slot_for(t, r->key);
    cu_pdp_rule *u = &t->rules[s->first + s->n++];
    uint32_t svc = 0, region = 0, owner, cs;
    if (strcmp(r->svc, "*") != 0) {
      svc = intern_add(&t->svcs, r->svc, CU_PDP_ABSENT - 1);
      if (!svc)
        goto fail_limit;
    }
    if (strcmp(r->region, "*") != 0) {
      region = intern_add(&t->regions, r->region, CU_PDP_ABSENT - 1);
      if (!region)
        goto fail_limit;
    }
    owner = intern_add(&t->owners, r->owner, CU_PDP_ABSENT - 1);
    cs = intern_add(&t->cases, r->case_id, UINT32_MAX - 1);
    if (!owner || !cs)
      goto fail_limit;
    u->svc = (uint16_t)svc;
    u->region = (uint16_t)region;
    u->owner = (uint16_t)owner;
    u->case_idx = cs;
    u->effect = r->effect;
    u->effective = r->effective;
    u->future = r->effective > now_s;
  }
  *out = t;
  return CUSTOS_OK;
fail_limit:
  rc = t->svcs.n >= CU_PDP_ABSENT - 1 || t->regions.n >= CU_PDP_ABSENT - 1 ||
               t->owners.n >= CU_PDP_ABSENT - 1
           ? CUSTOS_ETOOBIG
           : CUSTOS_ENOMEM;
fail:
  cu_pdp_table_free(t);
  return rc;
}
