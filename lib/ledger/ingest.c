/*
 * Usage ingest: stream an export through the CSV reader, normalise each
 * row and add it to an in-memory rollup, then store the rollups (far fewer
 * than rows) with the source in one transaction.  Nothing touches the
 * database until the whole file has been read, so a refused file or a
 * killed process leaves the workspace as it was.
 *
 * Speed comes from caching: a row's key fields other than its charge
 * period start, as raw bytes, are looked up in a hash table whose entries
 * point at their normalised dimensions, so regions, units and categories
 * are normalised once per distinct raw key, not once per row.  The charge
 * day is parsed per row (with the last one remembered) and picks the
 * rollup of those dimensions on that day: exports have one row per
 * resource and day, so a raw key that included the day would be new on
 * nearly every row.
 */
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/csv.h"
#include "ledgerInt.h"

#define MAX_ARENA ((size_t)16 << 30) /* bytes of keys and entries per file */
#define MAX_KEEP_REJECTS 1000        /* rejects stored per source */
#define MAX_SHOW_REJECTS 20
#define INGEST_CACHE_KIB 262144       /* SQLite page cache while writing */

/* ---- arena and hash table --------------------------------------------- */

/* Two streams share the arena's chunks and its cap: one for the entries
 * (keys, sets, resources), which the rows of a day look up again in the
 * order they were made, and one for the rollups, written once, nearly
 * one per row, and read again only by the write phase.  Kept apart, the
 * entries lie together instead of between rollups. */
typedef struct arena {
  char *cur;  /* entries */
  size_t left;
  char *rcur; /* rollups, at multiples of 64 bytes */
  size_t rleft;
  size_t total;
  void **chunks;
  size_t nchunks, capchunks;
} arena;

#define ARENA_CHUNK ((size_t)4 << 20)

/* A new chunk of sz bytes, kept for arena_free; NULL when out of memory
 * or beyond the cap. */
static char *arena_chunk(arena *a, size_t sz) {
  if (a->total + sz > MAX_ARENA)
    return NULL;
  if (a->nchunks == a->capchunks) {
    size_t nc = a->capchunks ? a->capchunks * 2 : 64;
    void **p = cu_realloc(a->chunks, nc * sizeof *p);
    if (!p)
      return NULL;
    a->chunks = p;
    a->capchunks = nc;
  }
  char *c = cu_malloc(sz);
  if (!c)
    return NULL;
  /* Its pages are made in one call, not by a fault on each first
   * touch: a rollup is a fresh cache line of the arena on nearly every
   * row.  Only a hint: where the kernel lacks it, the faults remain. */
#ifdef MADV_POPULATE_WRITE
  (void)madvise((void *)(((uintptr_t)c + 4095) & ~(uintptr_t)4095),
                (sz - 4096) & ~(size_t)4095, MADV_POPULATE_WRITE);
#endif
  a->chunks[a->nchunks++] = c;
  a->total += sz;
  return c;
}

static void *arena_alloc(arena *a, size_t n) {
  n = (n + 15) & ~(size_t)15;
  if (n > a->left) {
    size_t sz = n > ARENA_CHUNK ? n : ARENA_CHUNK;
    char *c = arena_chunk(a, sz);
    if (!c)
      return NULL;
    a->cur = c;
    a->left = sz;
  }
  void *r = a->cur;
  a->cur += n;
  a->left -= n;
  return r;
}

/* As arena_alloc, for n a multiple of 16, but at a multiple of 64 bytes:
 * a set's first line is then whole. */
static void *arena_alloc_line(arena *a, size_t n) {
  size_t pad = (size_t)(-(uintptr_t)a->cur) & 63;
  if (pad + n <= a->left) {
    a->cur += pad;
    a->left -= pad;
    return arena_alloc(a, n);
  }
  /* n + 48 > left too, so this starts a chunk, which malloc aligns to
   * 16 bytes only (pad is at most 48). */
  char *p = arena_alloc(a, n + 48);
  return p ? p + ((size_t)(-(uintptr_t)p) & 63) : NULL;
}

static void arena_free(arena *a) {
  for (size_t i = 0; i < a->nchunks; i++)
    cu_free(a->chunks[i]);
  cu_free(a->chunks);
  memset(a, 0, sizeof *a);
}

/* Every entry of every table starts with this. */
typedef struct hent {
  uint64_t h;
  uint32_t klen;
  uint32_t pad;
} hent;

/* A slot keeps its entry's hash beside the pointer, so that a probe
 * reads the hashes of a run of slots on one cache line instead of
 * following each slot's pointer to an entry that is most likely not in
 * the cache. */
typedef struct hslot {
  uint64_t h;
  hent *e; /* NULL: empty */
} hslot;

typedef struct htab {
  hslot *s;
  size_t cap, n; /* cap a power of two */
} htab;

static uint64_t load64(const unsigned char *s) {
  uint64_t v;
  memcpy(&v, s, 8);
  return v;
}

/* One step of a lane: a bijection of h for each v and of v for each h,
 * so that two inputs that differ in one word leave the lane different. */
static uint64_t hash_step(uint64_t h, uint64_t v) {
  h = (h ^ v) * 0xbf58476d1ce4e5b9ull;
  return h ^ (h >> 31);
}

/* The hash of the n bytes at p, for the tables below (never stored).
 * Keys of 32 bytes and more (raw keys and resource ids, 100 to 250
 * bytes) go through four lanes, one 8-byte word each per 32-byte block,
 * whose multiplies do not wait for each other; the last block is the
 * input's last 32 bytes, which may overlap the one before.  The lanes
 * start apart and are folded with different odd multipliers, so that
 * words swapped between lanes do not give the same hash.  Shorter keys
 * take one lane, a word at a time.  Each ends with the same mixing of
 * all 64 bits, so that the low bits a table indexes by depend on every
 * input byte. */
static uint64_t hash_bytes(const void *p, size_t n) {
  const unsigned char *s = p;
  uint64_t h = 0x9e3779b97f4a7c15ull ^ (n * 0xff51afd7ed558ccdull);
  if (n >= 32) {
    uint64_t a = h, b = h ^ 0x243f6a8885a308d3ull;
    uint64_t c = h ^ 0x13198a2e03707344ull, d = h ^ 0xa4093822299f31d0ull;
    const unsigned char *last = s + n - 32;
    for (; s < last; s += 32) {
      a = hash_step(a, load64(s));
      b = hash_step(b, load64(s + 8));
      c = hash_step(c, load64(s + 16));
      d = hash_step(d, load64(s + 24));
    }
    a = hash_step(a, load64(last));
    b = hash_step(b, load64(last + 8));
    c = hash_step(c, load64(last + 16));
    d = hash_step(d, load64(last + 24));
    h = a * 0x9fb21c651e98df25ull + b * 0xd6e8feb86659fd93ull +
        c * 0xc2b2ae3d27d4eb4full + d * 0x165667b19e3779f9ull;
  } else {
    for (; n >= 8; s += 8, n -= 8)
      h = hash_step(h, load64(s));
    uint64_t v = 0;
    memcpy(&v, s, n);
    h ^= v;
  }
  h *= 0x94d049bb133111ebull;
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 32;
  return h;
}

/* Finds key in t; returns the slot index (empty or matching). */
static size_t ht_find(const htab *t, uint64_t h, const void *key, size_t n,
                      size_t keyoff) {
  size_t mask = t->cap - 1;
  for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
    const hent *e = t->s[i].e;
    if (!e)
      return i;
    if (t->s[i].h == h && e->klen == n &&
        memcmp((const char *)e + keyoff, key, n) == 0)
      return i;
  }
}

static custos_rc ht_grow(htab *t) {
  size_t nc = t->cap ? t->cap * 2 : 1024;
  hslot *ns = cu_calloc(nc, sizeof *ns);
  if (!ns)
    return CUSTOS_ENOMEM;
  for (size_t i = 0; i < t->cap; i++) {
    if (!t->s[i].e)
      continue;
    size_t j = (size_t)t->s[i].h & (nc - 1);
    while (ns[j].e)
      j = (j + 1) & (nc - 1);
    ns[j] = t->s[i];
  }
  cu_free(t->s);
  t->s = ns;
  t->cap = nc;
  return CUSTOS_OK;
}

/* Puts e in the empty slot i that ht_find returned. */
static void ht_set(htab *t, size_t i, hent *e) {
  t->s[i].h = e->h;
  t->s[i].e = e;
  t->n++;
}

static void ht_free(htab *t) {
  cu_free(t->s);
  memset(t, 0, sizeof *t);
}

/* ---- entries ---------------------------------------------------------- */

/* An interned string: a value of one dimension. */
typedef struct istr {
  hent e;
  int64_t dim; /* usage_dims id once written, else 0 */
  const char *attr1, *attr2;
  const char *value; /* NUL-terminated, after the key */
  char s[];          /* key: kind byte, value, attributes */
} istr;

static const char *istr_value(const istr *x) { return x->value; }

enum { D_ACCOUNT, D_UNIT, D_SUB, D_SERVICE, D_METER, D_REGION, D_QTYU,
       D_CURRENCY, D_CHARGE, D_NDIMS };
static const char *const dim_kinds[D_NDIMS] = {
    "account", "unit", "subscription", "service", "meter",
    "region", "qty_unit", "currency", "charge"};

struct rollup;

/* The normalised dimensions of rollups, interned: the rollups of one
 * meter of one subscription on different days share one, and it holds
 * them in a small table of its own by day and period.  A row's lookup
 * then stays near memory it has just touched, and the rollups come out
 * grouped for storing.
 *
 * The table, rus, is caprus slots: first a window of win slots, rus[k]
 * the rollup of day base + k (or NULL), then an open-addressing table
 * (its size a power of two, day & (size - 1) the first slot tried) of
 * the rollups the window does not hold: those whose day lies outside it,
 * because the set's days are too sparse for a window over them (see
 * rollup_slot), and those of a day whose window slot holds the rollup
 * of another period.  A rollup is in that overflow table only when its
 * day is outside the window or its window slot is taken: so an empty
 * window slot means the day has no rollup yet.  A set's rows come in day
 * order in an export, so its window grows at one end, by copying
 * pointers, where a hash table grown by rehashing read the day of each
 * rollup from the arena (a cache miss each).  The write phase walks all
 * caprus slots and skips the empty ones. */
typedef struct dimset {
  hent e;
  /* Read on every row: kept on the set's first cache line. */
  struct rollup **rus;
  uint32_t nrus, caprus;
  int32_t base;        /* day of rus[0] */
  uint32_t win;        /* slots of the window; caprus - win overflow */
  uint32_t novf;       /* rollups in the overflow table */
  int32_t last_day;    /* the latest day of its rollups, when nrus */
  bool unknown_sub;    /* a subscription the directory does not know */
  istr *dim[D_NDIMS];  /* the key */
  size_t seq;          /* creation order */
  struct dimset *next; /* in creation order */
  /* In the order of each set's first rollup, which is the order in which
   * a walk of all rollups meets the sets. */
  struct dimset *ru_next;
} dimset;
#define DIMSET_KEYOFF offsetof(dimset, dim)
_Static_assert(offsetof(dimset, unknown_sub) < 64,
               "what a row reads of its set is on the set's first line");

/* A rollup of one dimension set (the set's table holds it), 64 bytes of
 * arena: there is one per row or nearly so in a daily export, and its
 * size was the ingest's peak memory and its cache misses.  Its set is
 * known to every reader from the table it was found in, so it keeps no
 * pointer to it; it keeps no list link either (see nwide in ingest).
 * Days and periods are days since the epoch of four-digit years, well
 * inside int32.  Its sums are int64 until an add would overflow one;
 * they then move, as int128, to the ingest's wide sums (rare: an int64
 * holds 922 million currency units at the cost scale), so that no sum
 * overflows and a sum may go beyond int64 and come back, as before. */
typedef struct rollup {
  int64_t qty, billed, effective; /* when wide is 0 */
  int64_t rows;
  uint64_t first_line, last_line;
  int32_t day, period; /* the key is the set, day and period */
  uint32_t wide;       /* 0, or 1 + the index of its sums in g->wides */
  uint32_t unused;
} rollup;
_Static_assert(sizeof(rollup) == 64, "a rollup is 64 bytes of arena");

/* A rollup's 64 bytes from the rollups' stream of the arena, a cache
 * line of their own; NULL when out of memory. */
static void *arena_alloc_rollup(arena *a) {
  if (a->rleft < sizeof(rollup)) {
    char *c = arena_chunk(a, ARENA_CHUNK);
    if (!c)
      return NULL;
    size_t pad = (size_t)(-(uintptr_t)c) & 63;
    a->rcur = c + pad;
    a->rleft = ARENA_CHUNK - pad;
  }
  void *r = a->rcur;
  a->rcur += sizeof(rollup);
  a->rleft -= sizeof(rollup);
  return r;
}

/* The sums of a rollup that an int64 could not hold. */
typedef struct wsums {
  __int128 qty, billed, effective;
} wsums;

/* A distinct raw key (every key field but the charge period start). */
struct resource;

typedef struct rawent {
  hent e;
  dimset *ds;       /* NULL when the key failed normalisation */
  struct resource *res; /* of the key's last row with one, or NULL */
  uint64_t mult;    /* block size of the unit */
  int64_t period;   /* when has_period */
  bool has_period;  /* else the period is the month of the day */
  bool late;        /* failure reported only after the day's checks */
  int bad;          /* field at fault */
  const char *reason;
  char key[];
} rawent;

/* The outcome of normalising a raw key but for its billing period start,
 * by the fields that decide it (undated_fields): a raw key comes back
 * each month with a new billing period start, and then only the period
 * is derived anew.  Only what the undated half finds when the period is
 * not at fault is kept: a key whose period is bad is normalised in full
 * and leaves no entry (the fields after the period were not looked at). */
typedef struct undent {
  hent e;
  dimset *ds;     /* NULL when the fields failed */
  /* The latest raw key of these fields (a month's): a raw key new in a
   * later month starts from its last resource (see add_resource). */
  struct rawent *last;
  uint64_t mult;  /* block size of the unit */
  bool early;     /* failed before the billing period start's check */
  int bad;        /* field at fault */
  const char *reason;
  char key[];
} undent;

typedef struct resource {
  hent e;
  istr *sub;
  const char *name, *type, *tags; /* raw, in the arena */
  size_t name_len, type_len, tags_len;
  int64_t first_day, last_day, rows;
  struct resource *next;
  char key[];
} resource;

/* A directory subscription: its unit. */
typedef struct dirsub {
  hent e;
  istr *unit;
  char key[];
} dirsub;

typedef struct reject {
  uint64_t line, col;
  char field[64];
  char value[128];
  const char *reason;
} reject;

/* ---- per-file state --------------------------------------------------- */

typedef struct ingest {
  cu_ws *ws;
  const cu_catalog *cat;
  const cu_ledger_opts *opts;
  const char *path;
  cu_ledger_adapter ad;
  arena ar;
  htab raws, undated, dimsets, strs, resources, dirsubs;
  dimset *ds_head, **ds_tail;
  dimset *dsr_head, **dsr_tail; /* sets with rollups, by first rollup */
  size_t ndimsets;
  /* The last month derived from a day. */
  int64_t mo_day, mo_period;
  /* Rollups whose sums do not all fit int64 now; write_rollups looks for
   * the first of them in the file only when there are any, which spares
   * it a walk of every rollup. */
  int64_t nwide;
  wsums *wides; /* see rollup; at most UINT32_MAX - 1 */
  uint32_t nwides, capwides;
  resource *res_head, **res_tail;
  istr *empty_unit;
  reject *rejects;
  size_t nrejects;
  int64_t rows, rejected, rounded, unknown_subs, nrollups, nresources;
  int64_t first_day, last_day;
  /* The file's SHA-256 and size, taken by the reader as it read. */
  bool hashed;
  uint8_t digest[CU_SHA256_LEN];
  uint64_t size;
} ingest;

static char last_rejects[MAX_SHOW_REJECTS * 600];

const char *cu_ledger_last_rejects(void) { return last_rejects; }

void cu_ledger_opts_default(cu_ledger_opts *o) {
  memset(o, 0, sizeof *o);
  o->max_reject_ratio = 0.001;
  o->format = CU_LEDGER_AUTO;
}

static custos_rc oom(custos_diag *d, const char *path) {
  cu_diag_at(d, path, 0, 0);
  cu_diag_hint(d, "split the export by billing period, or give custos more "
                  "memory");
  return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory rolling up usage");
}

/* Interns kind+value (with attributes for services and regions). */
static istr *intern(ingest *g, int kind, const char *s, size_t n,
                    const char *attr1, const char *attr2) {
  char tmp[1200];
  if (n > 1100)
    n = 1100;
  tmp[0] = (char)('0' + kind);
  memcpy(tmp + 1, s, n);
  size_t kl = n + 1;
  /* Services and regions are told apart by their attributes too. */
  if (attr1) {
    size_t a1 = strlen(attr1), a2 = attr2 ? strlen(attr2) : 0;
    if (kl + a1 + a2 + 2 < sizeof tmp) {
      tmp[kl++] = '\x1f';
      memcpy(tmp + kl, attr1, a1);
      kl += a1;
      tmp[kl++] = '\x1f';
      memcpy(tmp + kl, attr2 ? attr2 : "", a2);
      kl += a2;
    }
  }
  uint64_t h = hash_bytes(tmp, kl);
  if ((g->strs.n + 1) * 2 > g->strs.cap && ht_grow(&g->strs) != CUSTOS_OK)
    return NULL;
  size_t i = ht_find(&g->strs, h, tmp, kl, offsetof(istr, s));
  if (g->strs.s[i].e)
    return (istr *)g->strs.s[i].e;
  istr *x = arena_alloc(&g->ar, sizeof *x + kl + n + 2);
  if (!x)
    return NULL;
  x->e.h = h;
  x->e.klen = (uint32_t)kl;
  x->dim = 0;
  memcpy(x->s, tmp, kl);
  char *v = x->s + kl;
  memcpy(v, s, n);
  v[n] = '\0';
  x->value = v;
  x->attr1 = attr1;
  x->attr2 = attr2;
  ht_set(&g->strs, i, &x->e);
  return x;
}

static void add_reject(ingest *g, uint64_t line, uint64_t col,
                       const char *field, const char *value, size_t vlen,
                       const char *reason) {
  g->rejected++;
  if (g->nrejects >= MAX_KEEP_REJECTS || !g->rejects)
    return;
  reject *r = &g->rejects[g->nrejects++];
  r->line = line;
  r->col = col;
  snprintf(r->field, sizeof r->field, "%s", field);
  cu_escape_display(value ? value : "", value ? vlen : 0, r->value,
                    sizeof r->value);
  r->reason = reason;
}

/* The n bytes at s as a string in buf (cap bytes), cut to cap - 1 bytes;
 * a NUL among them ends the string there.  What snprintf's "%.*s" makes,
 * which cost more than the rest of a new raw key's interning. */
static const char *copy_str(char *buf, size_t cap, const char *s, size_t n) {
  if (n > cap - 1)
    n = cap - 1;
  memcpy(buf, s, n);
  buf[n] = '\0';
  return buf;
}

/* Keeps the outcome of a row's fields but its period at slot of
 * g->undated (which ht_find gave for key, and nothing has changed since). */
static custos_rc put_undated(ingest *g, size_t slot, uint64_t h,
                             const char *key, size_t kl, rawent *re,
                             dimset *ds, uint64_t mult, bool early, int bad,
                             const char *reason) {
  undent *u = arena_alloc(&g->ar, sizeof *u + kl);
  if (!u)
    return CUSTOS_ENOMEM;
  u->e.h = h;
  u->e.klen = (uint32_t)kl;
  u->ds = ds;
  u->last = re;
  u->mult = mult;
  u->early = early;
  u->bad = bad;
  u->reason = reason;
  memcpy(u->key, key, kl);
  ht_set(&g->undated, slot, &u->e);
  return CUSTOS_OK;
}

/* The fields cu_ledger_row_key_undated and new_raw read, but the billing
 * period start, each whole (the SKU and region name too, which a raw key
 * holds only behind an empty or null-word meter or region): with the
 * pricing flag, they decide the outcome of a row the reader let through. */
static const int undated_fields[] = {
    LF_ACCOUNT,  LF_SUBACCOUNT, LF_SERVICE,    LF_CATEGORY,
    LF_SUBCATEGORY, LF_METER,   LF_SKU,        LF_REGION,
    LF_REGION_NAME, LF_QTY_UNIT, LF_PUNIT,     LF_CURRENCY,
    LF_CHARGE_CATEGORY, LF_PROVIDER};
#define UNDATED_FIELD_MAX 1024 /* cu_ledger_row_key_undated's limit */
#define UNDATED_KEY_MAX \
  (1 + CU_ARRAY_LEN(undated_fields) * (2 + UNDATED_FIELD_MAX))

/* The key of raw's entry in g->undated in buf (UNDATED_KEY_MAX bytes):
 * its length, or 0 when a field is too long for the table.  The reader
 * (take_row) refuses a row with any field cu_ledger_row_key_undated
 * checks for length (amounts among them) longer than that function
 * allows, so that none of them decides a key's outcome; the check here
 * only keeps buf in bounds. */
static size_t undated_key(const cu_ledger_raw *raw, bool use_pricing,
                          char *buf) {
  size_t kl = 0;
  buf[kl++] = use_pricing ? 'p' : 'c';
  for (size_t i = 0; i < CU_ARRAY_LEN(undated_fields); i++) {
    int f = undated_fields[i];
    size_t n = raw->v[f] ? raw->len[f] : 0;
    if (NEVER(n > UNDATED_FIELD_MAX))
      return 0;
    buf[kl++] = (char)(n & 0xff);
    buf[kl++] = (char)(n >> 8);
    if (n)
      memcpy(buf + kl, raw->v[f], n);
    kl += n;
  }
  return kl;
}

/* Builds the normalised dimensions of a raw key seen for the first time;
 * a key that fails normalisation gets no dimensions but its fault.  What
 * does not depend on the billing period start comes from g->undated when
 * a raw key of the same fields came before (in another month). */
static custos_rc new_raw(ingest *g, const cu_ledger_raw *raw, bool use_pricing,
                         rawent *re) {
  char ukey[UNDATED_KEY_MAX];
  size_t ul = undated_key(raw, use_pricing, ukey), uslot = 0;
  uint64_t uh = 0;
  if (ul) {
    if ((g->undated.n + 1) * 2 > g->undated.cap &&
        ht_grow(&g->undated) != CUSTOS_OK)
      return CUSTOS_ENOMEM;
    uh = hash_bytes(ukey, ul);
    uslot = ht_find(&g->undated, uh, ukey, ul, offsetof(undent, key));
    undent *u = (undent *)g->undated.s[uslot].e;
    if (u) {
      re->res = u->last ? u->last->res : NULL;
      u->last = re;
      /* As cu_ledger_row_key_undated: the account and service checks,
       * then the period, then the rest. */
      re->ds = NULL;
      re->has_period = false;
      re->period = 0;
      re->late = !u->early;
      re->bad = u->bad;
      re->reason = u->reason;
      if (u->early)
        return CUSTOS_OK;
      if (cu_ledger_row_period(raw, &re->has_period, &re->period, &re->bad,
                               &re->reason) != CUSTOS_OK)
        return CUSTOS_OK;
      re->ds = u->ds;
      re->mult = u->mult;
      return CUSTOS_OK;
    }
  }
  cu_ledger_key k;
  int bad = -1;
  const char *reason = NULL;
  bool late = false;
  custos_rc rc = cu_ledger_row_key_undated(&g->ad, g->cat, raw, use_pricing,
                                           &k, &late, &bad, &reason);
  re->ds = NULL;
  re->has_period = k.has_period;
  re->period = k.period;
  re->late = late;
  re->bad = bad;
  re->reason = reason;
  if (rc != CUSTOS_OK) {
    /* A bad period hides what the fields after it give. */
    if (ul && !(late && bad == LF_PERIOD_START))
      return put_undated(g, uslot, uh, ukey, ul, re, NULL, 0, !late, bad,
                         reason);
    return CUSTOS_OK;
  }
  re->mult = k.unit.multiplier;
  dimset probe;
  memset(&probe, 0, sizeof probe);
  const char *cat = k.len[LF_CATEGORY] ? NULL : k.category;
  const char *subcat = k.len[LF_SUBCATEGORY] ? NULL : k.subcategory;
  char catbuf[256], subbuf[256];
  if (!cat)
    cat = copy_str(catbuf, sizeof catbuf, k.s[LF_CATEGORY],
                   k.len[LF_CATEGORY]);
  if (!subcat)
    subcat = copy_str(subbuf, sizeof subbuf, k.s[LF_SUBCATEGORY],
                      k.len[LF_SUBCATEGORY]);
  /* Attributes must outlive this call: intern them as values first. */
  istr *cat_i = intern(g, 9, cat, strlen(cat), NULL, NULL);
  istr *sub_i = intern(g, 9, subcat, strlen(subcat), NULL, NULL);
  if (!cat_i || !sub_i)
    return CUSTOS_ENOMEM;
  probe.dim[D_ACCOUNT] =
      intern(g, D_ACCOUNT, k.s[LF_ACCOUNT], k.len[LF_ACCOUNT], NULL, NULL);
  probe.dim[D_SUB] =
      intern(g, D_SUB, k.s[LF_SUBACCOUNT], k.len[LF_SUBACCOUNT], NULL, NULL);
  probe.dim[D_SERVICE] =
      intern(g, D_SERVICE, k.s[LF_SERVICE], k.len[LF_SERVICE],
             istr_value(cat_i), istr_value(sub_i));
  probe.dim[D_METER] =
      intern(g, D_METER, k.s[LF_METER], k.len[LF_METER], NULL, NULL);
  probe.dim[D_REGION] = intern(g, D_REGION, k.region_id, strlen(k.region_id),
                               k.country, NULL);
  probe.dim[D_QTYU] =
      intern(g, D_QTYU, k.unit.name, strlen(k.unit.name), NULL, NULL);
  probe.dim[D_CURRENCY] =
      intern(g, D_CURRENCY, k.s[LF_CURRENCY], k.len[LF_CURRENCY], NULL, NULL);
  probe.dim[D_CHARGE] = intern(g, D_CHARGE, k.s[LF_CHARGE_CATEGORY],
                               k.len[LF_CHARGE_CATEGORY], NULL, NULL);
  for (int i = 0; i < D_NDIMS; i++)
    if (i != D_UNIT && !probe.dim[i])
      return CUSTOS_ENOMEM;
  /* The unit comes from the directory, through the subscription. */
  probe.dim[D_UNIT] = g->empty_unit;
  {
    const char *sv = istr_value(probe.dim[D_SUB]);
    size_t sl = strlen(sv);
    if (g->dirsubs.cap) {
      uint64_t h = hash_bytes(sv, sl);
      size_t i = ht_find(&g->dirsubs, h, sv, sl, offsetof(dirsub, key));
      if (g->dirsubs.s[i].e)
        probe.dim[D_UNIT] = ((dirsub *)g->dirsubs.s[i].e)->unit;
    }
  }
  uint64_t h = hash_bytes(probe.dim, sizeof probe.dim);
  if ((g->dimsets.n + 1) * 2 > g->dimsets.cap &&
      ht_grow(&g->dimsets) != CUSTOS_OK)
    return CUSTOS_ENOMEM;
  size_t i =
      ht_find(&g->dimsets, h, probe.dim, sizeof probe.dim, DIMSET_KEYOFF);
  dimset *ds = (dimset *)g->dimsets.s[i].e;
  if (!ds) {
    ds = arena_alloc_line(&g->ar, (sizeof *ds + 15) & ~(size_t)15);
    if (!ds)
      return CUSTOS_ENOMEM;
    *ds = probe;
    ds->e.h = h;
    ds->e.klen = (uint32_t)sizeof probe.dim;
    ds->unknown_sub =
        ds->dim[D_UNIT] == g->empty_unit && istr_value(ds->dim[D_SUB])[0];
    ht_set(&g->dimsets, i, &ds->e);
    ds->seq = g->ndimsets++;
    *g->ds_tail = ds;
    g->ds_tail = &ds->next;
  }
  re->ds = ds;
  if (ul)
    return put_undated(g, uslot, uh, ukey, ul, re, ds, re->mult, false, -1,
                       NULL);
  return CUSTOS_OK;
}

#define WIN_MIN 32 /* slots of a set's first window */
#define RUS_MAX ((uint64_t)1 << 30) /* slots of a set's table */

/* The first slot of day's rollup in an overflow table of cap slots. */
static uint32_t ovf_slot(int64_t day, uint32_t cap) {
  return (uint32_t)(uint64_t)day & (cap - 1);
}

/* The rollup of day and period in the overflow table of ds, or where it
 * would go. */
static rollup **ovf_find(dimset *ds, int64_t day, int64_t period) {
  uint32_t cap = ds->caprus - ds->win, mask = cap - 1;
  rollup **t = ds->rus + ds->win;
  uint32_t i = ovf_slot(day, cap);
  for (rollup *ru; (ru = t[i]) != NULL; i = (i + 1) & mask)
    if (ru->day == day && ru->period == period)
      break;
  return &t[i];
}

/* Puts ru in the window of ds when its slot there is free, else in the
 * overflow table, which has room. */
static void rus_put(dimset *ds, rollup *ru) {
  int64_t k = (int64_t)ru->day - ds->base;
  if (k >= 0 && k < (int64_t)ds->win && !ds->rus[k]) {
    ds->rus[k] = ru;
    return;
  }
  rollup **s = ovf_find(ds, ru->day, ru->period);
  assert(!*s);
  *s = ru;
  ds->novf++;
}

/* Remakes the table of ds with a window of win slots from day base (which
 * covers the old window) and an overflow table of ovf slots (0 or a power
 * of two with room for all the old one holds); false when out of memory,
 * with ds as it was.  Window slots are copied; only the rollups of the
 * overflow table, rare, are read to place them again. */
static bool ds_resize(dimset *ds, int64_t base, uint64_t win, uint64_t ovf) {
  assert(ds->win == 0 || (base <= ds->base &&
                          base + (int64_t)win >= ds->base + (int64_t)ds->win));
  assert(base >= INT32_MIN && base <= INT32_MAX);
  if (win + ovf > RUS_MAX)
    return false;
  rollup **ns = cu_calloc((size_t)(win + ovf), sizeof *ns);
  if (!ns)
    return false;
  rollup **old = ds->rus;
  uint32_t oldwin = ds->win, oldcap = ds->caprus;
  if (oldwin)
    memcpy(ns + (ds->base - base), old, oldwin * sizeof *ns);
  ds->rus = ns;
  ds->base = (int32_t)base;
  ds->win = (uint32_t)win;
  ds->caprus = (uint32_t)(win + ovf);
  ds->novf = 0;
  for (uint32_t i = oldwin; i < oldcap; i++)
    if (old[i])
      rus_put(ds, old[i]);
  cu_free(old);
  return true;
}

/* The slot for a new rollup of day in period in the table of ds, which
 * holds none: in the window, grown to cover day if the set's days are
 * dense enough for that (at most four slots a rollup, beyond the first
 * windows), or else in the overflow table, grown to stay at most half
 * full.  NULL when out of memory. */
static rollup **rollup_slot(dimset *ds, int64_t day, int64_t period) {
  int64_t base = ds->base;
  uint64_t win = ds->win, ovf = ds->caprus - ds->win;
  if (win == 0) {
    base = day;
    win = WIN_MIN;
  } else if (day < base || day >= base + (int64_t)win) {
    /* Doubled at least, towards day: a set's days come in order. */
    int64_t lo = day < base ? day : base;
    int64_t hi = day < base ? base + (int64_t)win : day + 1;
    uint64_t need = (uint64_t)(hi - lo), grown = win;
    while (grown < need)
      grown *= 2;
    int64_t nb = day < base ? hi - (int64_t)grown : lo;
    if (grown <= 4 * ((uint64_t)ds->nrus + 1) + 2 * WIN_MIN &&
        nb >= INT32_MIN) {
      base = nb;
      win = grown;
    }
  }
  if ((base != ds->base || win != ds->win) &&
      !ds_resize(ds, base, win, ovf))
    return NULL;
  int64_t k = day - ds->base;
  if (k >= 0 && k < (int64_t)ds->win && !ds->rus[k])
    return &ds->rus[k];
  if ((ds->novf + 1) * (uint64_t)2 > ovf &&
      !ds_resize(ds, ds->base, ds->win, ovf ? ovf * 2 : 16))
    return NULL;
  return ovf_find(ds, day, period);
}

/* The rollup of ds on day in period, or NULL with *slot where a new one
 * goes (rollup_new), or NULL in *slot too when out of memory. */
static rollup *rollup_find(dimset *ds, int64_t day, int64_t period,
                           rollup ***slot) {
  assert(day >= INT32_MIN && day <= INT32_MAX);
  assert(period >= INT32_MIN && period <= INT32_MAX);
  int64_t k = day - ds->base;
  bool in_win = k >= 0 && k < (int64_t)ds->win;
  /* A day after the set's latest has no rollup yet: its window slot,
   * when it has one, is free and need not be read (a set's rows come in
   * day order in an export, so that this is nearly every new rollup, and
   * the slot is then only written). */
  if (ds->nrus == 0 || day > ds->last_day) {
    assert(!in_win || !ds->rus[k]);
    assert(!ds->novf || !*ovf_find(ds, day, period));
    *slot = in_win ? &ds->rus[k] : rollup_slot(ds, day, period);
    return NULL;
  }
  rollup **s = NULL;
  if (in_win) {
    s = &ds->rus[k];
    if (*s && (*s)->period == period)
      return *s;
  }
  /* A free window slot means a new rollup (see dimset); else the rollup
   * may be in the overflow table. */
  if (!s || *s) {
    if (ds->novf) {
      rollup **o = ovf_find(ds, day, period);
      if (*o)
        return *o;
    }
    s = rollup_slot(ds, day, period);
  }
  *slot = s;
  return NULL;
}

/* Makes a rollup of ds as v says (its day and period, and its sums and
 * lines when its first row counts) at the slot s that rollup_find gave;
 * NULL when out of memory.  It is written whole, one cache line in one
 * go with stores that bypass the cache: nothing reads a rollup again in
 * the read phase but another row of its set and day (a few percent of
 * rows in a daily export), so the line need not be fetched first, nor
 * kept (read_file_timed fences these stores once at the end). */
static rollup *rollup_new(ingest *g, dimset *ds, rollup **s, const rollup *v) {
  rollup *ru = arena_alloc_rollup(&g->ar);
  if (!ru)
    return NULL;
  assert(((uintptr_t)ru & 63) == 0);
#if defined(__SSE2__)
  const __m128i *src = (const __m128i *)(const void *)v;
  __m128i *dst = (__m128i *)(void *)ru;
  _mm_stream_si128(dst, _mm_loadu_si128(src));
  _mm_stream_si128(dst + 1, _mm_loadu_si128(src + 1));
  _mm_stream_si128(dst + 2, _mm_loadu_si128(src + 2));
  _mm_stream_si128(dst + 3, _mm_loadu_si128(src + 3));
#else
  *ru = *v;
#endif
  assert(memcmp(ru, v, sizeof *ru) == 0);
  *s = ru;
  if (s >= ds->rus + ds->win)
    ds->novf++;
  if (ds->nrus == 0 || v->day > ds->last_day)
    ds->last_day = v->day;
  if (ds->nrus++ == 0) {
    *g->dsr_tail = ds;
    g->dsr_tail = &ds->ru_next;
  }
  g->nrollups++;
  return ru;
}

/* The length of field f of raw once its doubled quotes are collapsed,
 * when bit f of esc says the reader left them (see take_row). */
static size_t value_len(const cu_ledger_raw *raw, int f, uint32_t esc) {
  const char *s = raw->v[f];
  size_t n = s ? raw->len[f] : 0, q = 0;
  if (!((esc >> f) & 1))
    return n;
  for (size_t i = 0; i < n; i++)
    q += s[i] == '"';
  return n - q / 2; /* each quote inside is one of a pair */
}

/* Copies field f of raw (n bytes once unescaped, value_len) to dst and
 * NUL-terminates it. */
static void put_value(char *dst, const cu_ledger_raw *raw, int f,
                      uint32_t esc, size_t n) {
  if (n && ((esc >> f) & 1))
    (void)cu_csv_unescape(dst, raw->v[f], raw->len[f]);
  else if (n)
    memcpy(dst, raw->v[f], n);
  dst[n] = '\0';
}

/* The resource of raw's id (which hashes to h), made when new with the
 * row's day and ds's subscription; NULL when out of memory.  Its name,
 * type and tags are unescaped here when bit f of esc says that field f
 * still has its doubled quotes: only the first row of a resource needs
 * them, so the reader leaves them as they are. */
static resource *resource_get(ingest *g, const cu_ledger_raw *raw,
                              uint32_t esc, uint64_t h, const dimset *ds,
                              int32_t day) {
  const char *id = raw->v[LF_RESOURCE_ID];
  size_t n = raw->len[LF_RESOURCE_ID];
  if ((g->resources.n + 1) * 2 > g->resources.cap &&
      ht_grow(&g->resources) != CUSTOS_OK)
    return NULL;
  size_t i = ht_find(&g->resources, h, id, n, offsetof(resource, key));
  resource *r = (resource *)g->resources.s[i].e;
  if (!r) {
    size_t nl = value_len(raw, LF_RESOURCE_NAME, esc);
    size_t tl = value_len(raw, LF_RESOURCE_TYPE, esc);
    size_t gl = value_len(raw, LF_TAGS, esc);
    if (nl > 4096 || tl > 1024 || gl > 65536)
      nl = tl = gl = 0;
    r = arena_alloc(&g->ar, sizeof *r + n + nl + tl + gl + 4);
    if (!r)
      return NULL;
    memset(r, 0, sizeof *r);
    r->e.h = h;
    r->e.klen = (uint32_t)n;
    char *p = r->key;
    memcpy(p, id, n);
    p[n] = '\0';
    p += n + 1;
    r->name = p;
    r->name_len = nl;
    put_value(p, raw, LF_RESOURCE_NAME, esc, nl);
    p += nl + 1;
    r->type = p;
    r->type_len = tl;
    put_value(p, raw, LF_RESOURCE_TYPE, esc, tl);
    p += tl + 1;
    r->tags = p;
    r->tags_len = gl;
    put_value(p, raw, LF_TAGS, esc, gl);
    r->sub = ds->dim[D_SUB];
    r->first_day = r->last_day = day;
    ht_set(&g->resources, i, &r->e);
    *g->res_tail = r;
    g->res_tail = &r->next;
    g->nresources++;
  }
  return r;
}

/* Counts the row of raw (on day) for its resource, made when new.  *last
 * is the resource of the last row of the row's raw key, and most often
 * the row's (an export has a row per resource and day): the table is
 * looked in only when the id differs, and *last then becomes the row's.
 * So the id is hashed only then, not by the reader for every row, and
 * *esc (the row's escaped fields, on a line of the row that nothing else
 * reads) is read only then too.  A raw key new in a later month starts
 * from the last resource of the month before (new_raw), so that on the
 * 5 M-row benchmark file 224,352 rows look in the table (the first of
 * each set's and those of raw keys with several resources), not
 * 377,845. */
static custos_rc add_resource(ingest *g, const cu_ledger_raw *raw,
                              const uint32_t *esc, const dimset *ds,
                              int32_t day, resource **last) {
  const char *id = raw->v[LF_RESOURCE_ID];
  size_t n = raw->len[LF_RESOURCE_ID];
  resource *r = *last;
  if (!r || r->e.klen != n || memcmp(r->key, id, n) != 0) {
    r = resource_get(g, raw, *esc, hash_bytes(id, n), ds, day);
    if (!r)
      return CUSTOS_ENOMEM;
    *last = r;
  }
  /* Debug builds check the last resource against the table's. */
  assert(g->resources.s[ht_find(&g->resources, hash_bytes(id, n), id, n,
                                offsetof(resource, key))].e == &r->e);
  if (day < r->first_day)
    r->first_day = day;
  if (day > r->last_day)
    r->last_day = day;
  r->rows++;
  return CUSTOS_OK;
}

static custos_rc load_directory(ingest *g, custos_diag *d) {
  sqlite3_stmt *st = NULL;
  custos_rc rc =
      cu_ws_prepare(g->ws, "SELECT id, unit_id FROM subscriptions", &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  int step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    const char *id = (const char *)sqlite3_column_text(st, 0);
    size_t n = (size_t)sqlite3_column_bytes(st, 0);
    const char *unit = (const char *)sqlite3_column_text(st, 1);
    size_t un = (size_t)sqlite3_column_bytes(st, 1);
    if (!id || !unit)
      continue;
    istr *u = intern(g, D_UNIT, unit, un, NULL, NULL);
    if (!u || ((g->dirsubs.n + 1) * 2 > g->dirsubs.cap &&
               ht_grow(&g->dirsubs) != CUSTOS_OK)) {
      sqlite3_finalize(st);
      return oom(d, g->path);
    }
    uint64_t h = hash_bytes(id, n);
    size_t i = ht_find(&g->dirsubs, h, id, n, offsetof(dirsub, key));
    if (g->dirsubs.s[i].e)
      continue;
    dirsub *s = arena_alloc(&g->ar, sizeof *s + n + 1);
    if (!s) {
      sqlite3_finalize(st);
      return oom(d, g->path);
    }
    s->e.h = h;
    s->e.klen = (uint32_t)n;
    memcpy(s->key, id, n);
    s->key[n] = '\0';
    s->unit = u;
    ht_set(&g->dirsubs, i, &s->e);
  }
  rc = step == SQLITE_DONE ? CUSTOS_OK
                           : cu_ws_dberr(g->ws, "cannot read subscriptions", d);
  sqlite3_finalize(st);
  return rc;
}

/* ---- reading on a second thread --------------------------------------- */

/*
 * The CSV scan, the amounts and the raw key of each row are the half of
 * the work that needs no per-file state, so a second thread (the reader)
 * does them and hands rows over in batches, in file order, to the thread
 * that aggregates (the caller's).  A row's fields stay where the CSV
 * reader put them, in buffers it keeps until the reader gives them back
 * (keep_buffers) once no batch in flight points into them; only the raw
 * key is copied, into the row's batch.  The aggregating thread
 * keeps everything that decides the result (rejects in file order, the
 * rollups, the resources), so the outcome is the one a single thread
 * gives.
 */

/* The fields only a resource's first row needs (resource_get), which
 * the reader hands over with their doubled quotes when they have any;
 * every other field's are collapsed into the batch's bytes. */
#define RES_FIELDS                                                           \
  ((1u << LF_RESOURCE_NAME) | (1u << LF_RESOURCE_TYPE) | (1u << LF_TAGS))

/* The fields that decide a row's rollup: everything but its amounts and
 * its resource. */
static const int key_fields[] = {
    LF_ACCOUNT, LF_SUBACCOUNT,   LF_SERVICE,  LF_CATEGORY,
    LF_SUBCATEGORY, LF_METER,    LF_SKU,      LF_REGION,
    LF_REGION_NAME, LF_CHARGE_START, LF_PERIOD_START, LF_QTY_UNIT,
    LF_PUNIT,   LF_CURRENCY,     LF_CHARGE_CATEGORY, LF_PROVIDER};

#define KEY_FIELD_MAX 1024 /* bytes of one key field */
/* Bytes of a raw key: a pricing flag, then each key field but the charge
 * period start as two length bytes and its bytes. */
#define RAW_KEY_MAX (1 + CU_ARRAY_LEN(key_fields) * (2 + KEY_FIELD_MAX))
#define BATCH_ROWS 1024
#define NBATCH 4 /* batches in flight between the threads */
#define BATCH_KEY_BYTES ((size_t)512 << 10) /* raw keys of one batch */

enum prow_kind {
  ROW_OK,     /* amounts and raw key ready */
  ROW_REJECT  /* refused by the reader: bad (or -1), reason */
};

/* One row as the reader hands it over.  raw's views point into the CSV
 * reader's buffers, its key into the batch's bytes; both stay valid
 * until the batch is given back. */
typedef struct prow {
  cu_ledger_raw raw;
  uint64_t line;              /* where the record starts */
  /* Where each field starts: on the record's line, at its offset from
   * rec (less its opening quote) when one_line, else (line, column) as
   * stored. */
  const char *rec;
  bool one_line;
  uint32_t quoted;            /* bit f: field f was quoted */
  /* Bit f: field f (a resource's name, type or tags: RES_FIELDS) has
   * its doubled quotes still, as the CSV reader gave it (raw_fields). */
  uint32_t esc;
  uint64_t fline[LF_COUNT];
  uint64_t fcol[LF_COUNT];
  cu_ledger_amounts am;
  const char *key;            /* the raw key, in the batch's bytes */
  size_t klen;
  uint64_t h;                 /* hash of the raw key */
  bool has_res;
  /* The day of the charge period start, or why there is none: parsed
   * here, used by the aggregating thread where a single thread would
   * parse it. */
  bool day_ok;
  int64_t day;
  int day_bad;
  const char *day_reason;
  enum prow_kind kind;
  int bad;
  const char *reason;
} prow;
_Static_assert(LF_COUNT <= 32, "prow.quoted has a bit per field");

typedef struct pbatch {
  prow *rows;
  size_t nrows;
  char *bytes; /* the raw keys */
  size_t nbytes, capbytes;
  size_t nrec;  /* bytes of the records its rows point into */
  uint64_t buf; /* the CSV buffer of its first row (cu_csv_buffer) */
  uint64_t offset; /* bytes of the file consumed after its last row */
} pbatch;

typedef struct preader {
  cu_csv *csv;
  const cu_ledger_adapter *ad;
  int cols[LF_COUNT], fields[LF_COUNT];
  int nused;
  size_t rec_cap; /* bytes of records one batch may point into */
  pbatch b[NBATCH];
  /* A ring: b[tail] .. count filled batches; the reader fills b[head]. */
  size_t head, tail, count;
  bool done;      /* the reader has published its last batch */
  bool stop;      /* the aggregating thread wants no more */
  custos_rc rc;   /* the reader's result, with d, once done */
  custos_diag d;
  double cpu; /* seconds of CPU the reader took, once done */
  /* The last row whose raw key is not hashed yet (see take_row), in
   * the batch being filled, or NULL. */
  prow *unhashed;
  /* The last charge period start parsed, and its day. */
  char cs_last[64];
  size_t cs_len;
  int64_t cs_day;
  pthread_mutex_t mu;
  pthread_cond_t cv;
} preader;

/* Seconds of CPU time of the calling thread. */
static double thread_cpu(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
    return 0;
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Copies the current record's used fields into b and fills its row; false
 * (b untouched) when b lacks the room.  Runs on the reader.
 */
static bool take_row(preader *p, pbatch *b) {
  cu_csv *csv = p->csv;
  size_t nf = cu_csv_nfields(csv);
  prow *r = &b->rows[b->nrows];
  if (b->nrows == 0)
    b->buf = cu_csv_buffer(csv);
  r->line = cu_csv_line(csv);
  r->bad = -1;
  r->reason = NULL;
  r->am.rounded = false;
  if (nf != p->ad->ncols) {
    r->kind = ROW_REJECT;
    r->reason = nf < p->ad->ncols ? "row has fewer fields than the header"
                                  : "row has more fields than the header";
    b->nrows++;
    return true;
  }
  /* The record stays where the CSV reader put it (keep_buffers) until
   * the batch comes back; a batch points into at most about a record
   * cap of them, so that the buffers held stay few. */
  size_t rn;
  const char *rb = cu_csv_record_bytes(csv, &rn, &r->one_line);
  /* The fields straight into the row, and their bits by field number:
   * p->fields holds them below 32 (LF_COUNT). */
  uint64_t quoted, escaped;
  cu_csv_fields_to(csv, p->cols, p->fields, (size_t)p->nused, r->raw.v,
                   r->raw.len, &quoted, &escaped);
  /* Fields with doubled quotes (rare but for the resource's, which stay
   * so) are unescaped into the batch's bytes, each with 16 spare bytes
   * after it for the key's wide copies below. */
  const uint32_t unesc = (uint32_t)escaped & ~(uint32_t)RES_FIELDS;
  size_t need = RAW_KEY_MAX;
  for (uint32_t t = unesc; t; t &= t - 1)
    need += r->raw.len[__builtin_ctz(t)] + 16;
  if (b->nrows &&
      (b->nrec + rn > p->rec_cap || need > b->capbytes - b->nbytes))
    return false;
  b->nrec += rn;
  r->rec = rb;
  r->quoted = 0;
  r->esc = (uint32_t)escaped & (uint32_t)RES_FIELDS;
  if (unesc) {
    for (uint32_t t = unesc; t; t &= t - 1) {
      int f = __builtin_ctz(t);
      char *w = b->bytes + b->nbytes;
      r->raw.len[f] = cu_csv_unescape(w, r->raw.v[f], r->raw.len[f]);
      r->raw.v[f] = w;
      b->nbytes += r->raw.len[f] + 16;
    }
    /* A field's column no longer follows from where its value lies. */
    r->one_line = false;
  }
  if (r->one_line) {
    r->quoted = (uint32_t)quoted;
  } else {
    for (int u = 0; u < p->nused; u++) {
      int f = p->fields[u];
      cu_csv_field_pos(csv, (size_t)p->cols[u], &r->fline[f], &r->fcol[f]);
    }
  }
  r->kind = ROW_REJECT;
  if (cu_ledger_row_amounts(&r->raw, &r->am, &r->bad, &r->reason) !=
      CUSTOS_OK) {
    r->am.rounded = false; /* counted only for amounts that parsed */
    b->nrows++;
    return true;
  }
  /* The raw key: length-prefixed key fields; fallbacks only when the
   * primary field is empty or a null word. */
  char *kb = b->bytes + b->nbytes;
  size_t kl = 0;
  kb[kl++] = r->am.use_pricing ? 'p' : 'c';
  /* Every field a raw key's normalisation checks the length of is
   * checked here, row by row, first in field order as
   * cu_ledger_row_key_undated does, so that a row the key leaves a field
   * of out (a SKU behind a meter, an amount) is refused on its own
   * bytes, not on those of its key's first row. */
  /* No length is above the lengths or-ed together, so that one test
   * (the or-ing vectorised) clears nearly every row. */
  size_t any = 0;
  for (int f = 0; f < LF_RESOURCE_ID; f++)
    any |= r->raw.len[f];
  uint32_t over = 0;
  for (int f = 0; any > KEY_FIELD_MAX && f < LF_RESOURCE_ID; f++)
    over |= (uint32_t)(r->raw.v[f] && r->raw.len[f] > KEY_FIELD_MAX) << f;
  if (over) {
    r->bad = __builtin_ctz(over);
    r->reason = "field longer than 1024 bytes";
    b->nrows++;
    return true;
  }
  /* A null word as meter or region falls back to the SKU or region name
   * as for an empty one, so those are then in the key. */
  const bool meter = r->raw.v[LF_METER] &&
                     !cu_ledger_is_null(r->raw.v[LF_METER], r->raw.len[LF_METER]);
  const bool region =
      r->raw.v[LF_REGION] &&
      !cu_ledger_is_null(r->raw.v[LF_REGION], r->raw.len[LF_REGION]);
  /* Unrolled, each field's tests below fold away. */
#pragma GCC unroll 16
  for (size_t kf = 0; kf < CU_ARRAY_LEN(key_fields); kf++) {
    const int f = key_fields[kf];
    size_t n = r->raw.v[f] ? r->raw.len[f] : 0;
    if ((f == LF_SKU && meter) || (f == LF_REGION_NAME && region))
      n = 0;
    if (f == LF_CHARGE_START)
      continue; /* parsed per row by the aggregating thread */
    kb[kl] = (char)(n & 0xff);
    kb[kl + 1] = (char)(n >> 8);
    kl += 2;
    /* Key fields are short: 16-byte copies, which may read up to 15
     * bytes past the field (into the CSV reader's buffer, csv.h, or an
     * unescaped field's spare bytes) and write as far past the key
     * (into the batch's spare bytes: a field of n <= KEY_FIELD_MAX
     * bytes writes no further than one of KEY_FIELD_MAX would), cost
     * less than a call. */
    const char *src = r->raw.v[f];
    for (size_t o = 0; o < n; o += 16)
      memcpy(kb + kl + o, src + o, 16);
    kl += n;
  }
  assert(kl <= RAW_KEY_MAX);
  b->nbytes += kl;
  r->key = kb;
  r->klen = kl;
  /* The key's bytes were stored just now, a few at a time: read back
   * at once, a word that spans two stores would wait for both to
   * reach the cache.  So a row's key is hashed with the next row's, or
   * as its batch is handed over (publish). */
  if (p->unhashed)
    p->unhashed->h = hash_bytes(p->unhashed->key, p->unhashed->klen);
  p->unhashed = r;
  r->kind = ROW_OK;
  /* Exports have a row per resource and day, so the charge period start
   * repeats from row to row. */
  const char *cs = r->raw.v[LF_CHARGE_START];
  size_t csl = cs ? r->raw.len[LF_CHARGE_START] : 0;
  r->day_ok = true;
  if (csl && csl == p->cs_len && memcmp(cs, p->cs_last, csl) == 0) {
    r->day = p->cs_day;
  } else if (cu_ledger_row_day(&r->raw, &r->day, &r->day_bad,
                               &r->day_reason) != CUSTOS_OK) {
    r->day_ok = false;
  } else {
    p->cs_day = r->day;
    p->cs_len = 0;
    if (csl <= sizeof p->cs_last) {
      memcpy(p->cs_last, cs, csl);
      p->cs_len = csl;
    }
  }
  const char *id = r->raw.v[LF_RESOURCE_ID];
  size_t idl = r->raw.len[LF_RESOURCE_ID];
  r->has_res = id && !cu_ledger_is_null(id, idl) && idl <= 2048;
  b->nrows++;
  return true;
}

/* Hands b (the one at head) to the aggregating thread and waits for room
 * for the next; false when that thread wants no more.  Then lets the CSV
 * reader reuse the buffers that no batch in flight points into (the
 * batches are in file order, so the oldest one's first row tells). */
static bool publish(preader *p, bool last) {
  if (p->unhashed) {
    p->unhashed->h = hash_bytes(p->unhashed->key, p->unhashed->klen);
    p->unhashed = NULL;
  }
  pthread_mutex_lock(&p->mu);
  p->b[p->head].offset = cu_csv_offset(p->csv);
  p->head = (p->head + 1) % NBATCH;
  p->count++;
  p->done = last;
  pthread_cond_broadcast(&p->cv);
  while (!last && !p->stop && p->count == NBATCH)
    pthread_cond_wait(&p->cv, &p->mu);
  bool go = !p->stop;
  uint64_t keep = p->count ? p->b[p->tail].buf : cu_csv_buffer(p->csv);
  pthread_mutex_unlock(&p->mu);
  if (go && !last) {
    cu_csv_release(p->csv, keep);
    pbatch *b = &p->b[p->head];
    b->nrows = 0;
    b->nbytes = 0;
    b->nrec = 0;
  }
  return go;
}

static void *reader_main(void *arg) {
  preader *p = arg;
  pbatch *b = &p->b[p->head];
  b->nrows = b->nbytes = b->nrec = 0;
  for (;;) {
    bool eof = false;
    custos_rc rc = cu_csv_next(p->csv, &eof, &p->d);
    if (rc != CUSTOS_OK || eof) {
      p->rc = rc; /* read after the lock in publish */
      p->cpu = thread_cpu();
      publish(p, true);
      return NULL;
    }
    size_t l0;
    if (cu_csv_nfields(p->csv) == 1 &&
        (cu_csv_field(p->csv, 0, &l0), l0 == 0) && !cu_csv_quoted(p->csv, 0))
      continue; /* empty line (fields have no NUL: raw_fields) */
    if (!take_row(p, b)) {
      if (!publish(p, false))
        return NULL;
      b = &p->b[p->head];
      bool ok = take_row(p, b); /* an empty batch holds any record */
      assert(ok);
      (void)ok;
    }
    if (b->nrows == BATCH_ROWS) {
      if (!publish(p, false))
        return NULL;
      b = &p->b[p->head];
    }
  }
}

static void reject_row(ingest *g, const prow *r, int f, const char *reason) {
  uint64_t line = r->line, col = 0;
  if (f >= 0 && g->ad.col[f] >= 0 && r->one_line) {
    col = (uint64_t)(r->raw.v[f] - r->rec) + 1 - ((r->quoted >> f) & 1);
  } else if (f >= 0 && g->ad.col[f] >= 0) {
    line = r->fline[f];
    col = r->fcol[f];
  }
  add_reject(g, line, col, f >= 0 ? g->ad.colname[f] : "",
             f >= 0 ? r->raw.v[f] : NULL, f >= 0 ? r->raw.len[f] : 0, reason);
}

/* Loads ahead of time what add_row will need for row i of b: the rows
 * are hashed already, but each is at the end of a chain of pointers
 * (table slot, raw entry, dimension set, its rollup table) that would
 * otherwise miss the cache one link after the other, row after row.
 * Each call starts each link for a later row, the deeper links for rows
 * nearer i, whose earlier links have arrived by then; a stage reads only
 * what an earlier stage fetched, so that the prefetching itself does not
 * wait.  The row itself comes first: the reader wrote it on the other
 * core.  Only hints: any pointer it follows is valid, and what it finds
 * need not be the row's. */
#define AHEAD_ROW 20
#define AHEAD_SLOT 12
#define AHEAD_ENTRY 6
#define AHEAD_SET 3
#define AHEAD_TABLE 1
/* The entry of h in t as far as the hashes tell (the key is not
 * compared), or NULL. */
static const hent *ht_probe(const htab *t, uint64_t h) {
  size_t mask = t->cap - 1, i = (size_t)h & mask;
  while (t->s[i].e && t->s[i].h != h)
    i = (i + 1) & mask;
  return t->s[i].e;
}

/* Fetches the n bytes at p (n > 0). */
static void prefetch_lines(const void *p, size_t n) {
  const char *c = p;
  for (size_t o = 0; o < n; o += 64)
    __builtin_prefetch(c + o);
  __builtin_prefetch(c + n - 1);
}

/* The raw entries that prefetch_row's probes found (or NULL), by row
 * modulo its size: the later stages and add_row take them from here, so
 * that a row's slot is probed once, not at every stage. */
#define PROBE_RING 8
_Static_assert(PROBE_RING > AHEAD_ENTRY, "a probe stays until its row");

static void prefetch_row(const ingest *g, const pbatch *b, size_t i,
                         const hent **ring) {
  const size_t n = b->nrows;
  const htab *raws = &g->raws;
  if (i + AHEAD_ROW < n) {
    /* The parts of the row that add_row reads. */
    const prow *r = &b->rows[i + AHEAD_ROW];
    __builtin_prefetch(&r->raw.v[LF_RESOURCE_ID]);
    __builtin_prefetch(&r->raw.len[LF_RESOURCE_ID]);
    __builtin_prefetch(&r->line);
    __builtin_prefetch(&r->am);
    /* Field by field: a row is not aligned to lines, and its amounts to
     * its kind may lie on three. */
    __builtin_prefetch(&r->key);
    __builtin_prefetch(&r->day);
    __builtin_prefetch(&r->kind);
  }
  if (!raws->cap)
    return;
  if (i + AHEAD_SLOT < n) {
    const prow *r = &b->rows[i + AHEAD_SLOT];
    if (r->kind == ROW_OK) {
      __builtin_prefetch(&raws->s[r->h & (raws->cap - 1)]);
      /* The row's raw key and resource id, which the lookups compare. */
      prefetch_lines(r->key, r->klen);
      if (r->has_res)
        prefetch_lines(r->raw.v[LF_RESOURCE_ID], r->raw.len[LF_RESOURCE_ID]);
    }
  }
  if (i + AHEAD_ENTRY < n) {
    const prow *r = &b->rows[i + AHEAD_ENTRY];
    /* An entry that matches has the row's key length. */
    const hent *e = r->kind == ROW_OK ? ht_probe(raws, r->h) : NULL;
    ring[(i + AHEAD_ENTRY) % PROBE_RING] = e;
    if (e)
      prefetch_lines(e, offsetof(rawent, key) + r->klen);
  }
  if (i + AHEAD_SET < n) {
    const prow *r = &b->rows[i + AHEAD_SET];
    const rawent *re = (const rawent *)ring[(i + AHEAD_SET) % PROBE_RING];
    if (re && re->ds)
      __builtin_prefetch(re->ds);
    /* The resource that add_resource compares first, with its id. */
    if (re && re->res && r->has_res)
      prefetch_lines(re->res, offsetof(resource, key) +
                                  r->raw.len[LF_RESOURCE_ID]);
  }
  if (i + AHEAD_TABLE < n) {
    const prow *r = &b->rows[i + AHEAD_TABLE];
    const rawent *re =
        r->day_ok ? (const rawent *)ring[(i + AHEAD_TABLE) % PROBE_RING]
                  : NULL;
    const dimset *ds = re ? re->ds : NULL;
    int64_t k = ds ? r->day - ds->base : -1;
    if (k >= 0 && k < (int64_t)ds->win)
      __builtin_prefetch(&ds->rus[k], 1);
  }
}

static bool in_int64(__int128 v) { return v <= INT64_MAX && v >= INT64_MIN; }

/* Whether a sum of ru is out of the int64 range that write_rollups stores
 * (it may come back in range with later rows: sums are int128). */
static bool is_wide(const ingest *g, const rollup *ru) {
  if (!ru->wide)
    return false;
  const wsums *w = &g->wides[ru->wide - 1];
  return !in_int64(w->qty) || !in_int64(w->billed) || !in_int64(w->effective);
}

/* Adds q, b and e to the sums of ru, moving them to g->wides when an
 * int64 would overflow; false when out of memory (or wide sums). */
static bool ru_add(ingest *g, rollup *ru, int64_t q, int64_t b, int64_t e) {
  if (!ru->wide) {
    int64_t nq, nb, ne;
    bool over = __builtin_add_overflow(ru->qty, q, &nq);
    over |= __builtin_add_overflow(ru->billed, b, &nb);
    over |= __builtin_add_overflow(ru->effective, e, &ne);
    if (!over) {
      ru->qty = nq;
      ru->billed = nb;
      ru->effective = ne;
      return true;
    }
    if (g->nwides == g->capwides) {
      if (g->capwides >= UINT32_MAX / 2)
        return false;
      uint32_t nc = g->capwides ? g->capwides * 2 : 16;
      wsums *p = cu_realloc(g->wides, nc * sizeof *p);
      if (!p)
        return false;
      g->wides = p;
      g->capwides = nc;
    }
    wsums *w = &g->wides[g->nwides++];
    w->qty = ru->qty;
    w->billed = ru->billed;
    w->effective = ru->effective;
    ru->wide = g->nwides;
  }
  bool was_wide = is_wide(g, ru);
  wsums *w = &g->wides[ru->wide - 1];
  w->qty += q;
  w->billed += b;
  w->effective += e;
  g->nwide += (int64_t)is_wide(g, ru) - (int64_t)was_wide;
  return true;
}

/* Makes the entry of r's raw key, new, at the empty slot of g->raws that
 * ht_find gave; NULL when out of memory. */
static rawent *new_rawent(ingest *g, const prow *r, size_t slot) {
  rawent *re = arena_alloc(&g->ar, sizeof *re + r->klen);
  if (!re)
    return NULL;
  re->e.h = r->h;
  re->e.klen = (uint32_t)r->klen;
  re->res = NULL;
  memcpy(re->key, r->key, r->klen);
  if (new_raw(g, &r->raw, r->am.use_pricing, re) != CUSTOS_OK)
    return NULL;
  ht_set(&g->raws, slot, &re->e);
  return re;
}

/* Adds one row the reader handed over to its rollup and resource; row
 * faults become rejects, only running out of memory fails. */
static custos_rc add_row(ingest *g, const prow *r, const hent *hint,
                         custos_diag *d) {
  const cu_ledger_raw *raw = &r->raw;
  int bad = -1;
  const char *reason = NULL;
  /* As on one thread: amounts that parsed are counted as rounded even
   * when a later field rejects the row. */
  if (r->am.rounded)
    g->rounded++;
  if (r->kind == ROW_REJECT) {
    reject_row(g, r, r->bad, r->reason);
    return CUSTOS_OK;
  }
  /* The entry the probe ahead found is the row's when its key is; else
   * (a new key, or one made since the probe) the table tells. */
  rawent *re = (rawent *)hint;
  if (!re || re->e.h != r->h || re->e.klen != r->klen ||
      memcmp(re->key, r->key, r->klen) != 0) {
    if ((g->raws.n + 1) * 2 > g->raws.cap && ht_grow(&g->raws) != CUSTOS_OK)
      return oom(d, g->path);
    size_t slot =
        ht_find(&g->raws, r->h, r->key, r->klen, offsetof(rawent, key));
    re = (rawent *)g->raws.s[slot].e;
    if (!re)
      re = new_rawent(g, r, slot);
    if (!re)
      return oom(d, g->path);
  }
  /* Debug builds check the probe's entry against the table's. */
  assert(g->raws.s[ht_find(&g->raws, r->h, r->key, r->klen,
                           offsetof(rawent, key))].e == &re->e);
  /* Faults in the order cu_ledger_row_key finds them. */
  if (!re->ds && !re->late) {
    reject_row(g, r, re->bad, re->reason);
    return CUSTOS_OK;
  }
  if (!r->day_ok) {
    reject_row(g, r, r->day_bad, r->day_reason);
    return CUSTOS_OK;
  }
  int64_t day = r->day, period = re->period;
  if (!re->has_period) {
    if (day != g->mo_day || g->mo_period == INT64_MIN) {
      if (cu_ledger_month_of(day, &period, &bad, &reason) != CUSTOS_OK) {
        reject_row(g, r, bad, reason);
        return CUSTOS_OK;
      }
      g->mo_day = day;
      g->mo_period = period;
    }
    period = g->mo_period;
  }
  if (!re->ds) {
    reject_row(g, r, re->bad, re->reason);
    return CUSTOS_OK;
  }
  rollup **rslot = NULL;
  rollup *ru = rollup_find(re->ds, day, period, &rslot);
  if (!ru && !rslot)
    return oom(d, g->path);
  int64_t q;
  bool q_ok = cu_ledger_scale_qty(r->am.qty, re->mult, &q), made = false;
  if (!ru) {
    /* A new rollup, nearly every row: made with the row's sums, which
     * no add can overflow from zero, or empty when the quantity is
     * refused (the rollup is made either way, as it always was). */
    rollup v = {.day = (int32_t)day, .period = (int32_t)period};
    if (q_ok) {
      v.qty = q;
      v.billed = r->am.billed;
      v.effective = r->am.effective;
      v.rows = 1;
      v.first_line = v.last_line = r->line;
    }
    ru = rollup_new(g, re->ds, rslot, &v);
    if (!ru)
      return oom(d, g->path);
    made = q_ok;
  }
  if (!q_ok) {
    reject_row(g, r, r->am.use_pricing ? LF_PQTY : LF_QTY,
               "quantity times the unit's block size is too large");
    return CUSTOS_OK;
  }
  if (!made) {
    if (!ru_add(g, ru, q, r->am.billed, r->am.effective))
      return oom(d, g->path);
    if (!ru->rows)
      ru->first_line = r->line;
    ru->last_line = r->line;
    ru->rows++;
  }
  const dimset *ds = re->ds;
  if (ds->unknown_sub)
    g->unknown_subs++;
  if (day < g->first_day || g->first_day == INT64_MIN)
    g->first_day = day;
  if (day > g->last_day || g->last_day == INT64_MIN)
    g->last_day = day;
  if (r->has_res &&
      add_resource(g, raw, &r->esc, ds, (int32_t)day, &re->res) != CUSTOS_OK)
    return oom(d, g->path);
  return CUSTOS_OK;
}

/* Seconds of wall time, and of CPU time of the whole process. */
static void phase_clock(double *wall, double *cpu) {
  struct timespec ts;
  struct rusage ru;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  *wall = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
  *cpu = 0;
  if (getrusage(RUSAGE_SELF, &ru) == 0)
    *cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static custos_rc read_file_timed(ingest *g, double *reader_cpu,
                                 custos_diag *d);

/* Reads the whole file into the rollups.  Errors of the file as a whole
 * (unreadable, not CSV, unknown header) fail; row errors become rejects.
 * With CUSTOS_LEDGER_TIMES set, says on stderr how long that took (a
 * benchmark knob, docs/internals.md). */
static custos_rc read_file(ingest *g, custos_diag *d) {
  const char *env = getenv("CUSTOS_LEDGER_TIMES");
  double rd = 0;
  if (!env || !*env)
    return read_file_timed(g, &rd, d);
  double w0, c0, w1, c1, m0 = thread_cpu();
  phase_clock(&w0, &c0);
  custos_rc rc = read_file_timed(g, &rd, d);
  phase_clock(&w1, &c1);
  fprintf(stderr,
          "custos: read %s: %.3f s wall, %.3f s CPU (reader %.3f, "
          "aggregator %.3f)\n",
          g->path, w1 - w0, c1 - c0, rd, thread_cpu() - m0);
  return rc;
}

static custos_rc read_file_timed(ingest *g, double *reader_cpu,
                                 custos_diag *d) {
  cu_csv *csv = NULL;
  cu_csv_opts o;
  cu_csv_opts_default(&o);
  o.keep_buffers = true; /* the batches point into them */
  /* Fields stay as they lie, in the file's mapping, and are unescaped
   * only where needed (take_row, resource_get). */
  o.raw_fields = true;
  /* The batches in flight and the one being filled, each holding up to
   * a record cap's bytes (rec_cap below). */
  o.keep_bytes = (NBATCH + 1) * o.max_record;
  custos_rc rc = cu_sha256_init_async(&o.sha256);
  if (rc != CUSTOS_OK)
    return cu_diag_set(d, rc, "cannot start the file's SHA-256");
  rc = cu_csv_open(g->path, &o, &csv, d);
  if (rc != CUSTOS_OK) {
    cu_sha256_abort(o.sha256);
    return rc;
  }
  preader p;
  memset(&p, 0, sizeof p);
  bool eof = false;
  rc = cu_csv_next(csv, &eof, d);
  if (rc != CUSTOS_OK)
    goto fail_header;
  if (eof) {
    cu_diag_at(d, g->path, 1, 1);
    rc = cu_diag_set(d, CUSTOS_EPARSE, "empty file: no header");
    goto fail_header;
  }
  {
    size_t nf = cu_csv_nfields(csv);
    const char **names = cu_calloc(nf, sizeof *names);
    size_t *lens = cu_calloc(nf, sizeof *lens);
    if (!names || !lens) {
      cu_free(names);
      cu_free(lens);
      rc = oom(d, g->path);
      goto fail_header;
    }
    for (size_t i = 0; i < nf; i++)
      names[i] = cu_csv_field(csv, i, &lens[i]);
    rc = cu_ledger_adapter_init(&g->ad, g->opts->format,
                                (const char *const *)names, lens, nf, d);
    cu_free(names);
    cu_free(lens);
    if (rc != CUSTOS_OK) {
      cu_diag_at(d, g->path, 1, 0);
      goto fail_header;
    }
  }
  p.csv = csv;
  p.ad = &g->ad;
  for (int f = 0; f < LF_COUNT; f++)
    if (g->ad.col[f] >= 0) {
      p.cols[p.nused] = g->ad.col[f];
      p.fields[p.nused++] = f;
    }
  /* FOCUS 1.2 has 59 columns, of which custos reads about 24. */
  rc = cu_csv_select(csv, p.cols, (size_t)p.nused, d);
  if (rc != CUSTOS_OK)
    goto fail_header;
  /* A batch holds any record the reader accepts (and more up to about
   * a record cap's bytes) with room for its raw keys.  Keys are short
   * (a few hundred bytes), so that a batch mostly fills up by rows. */
  p.rec_cap = o.max_record;
  for (int i = 0; i < NBATCH; i++) {
    p.b[i].rows = cu_calloc(BATCH_ROWS, sizeof *p.b[i].rows);
    /* and for the unescaped fields of any record (take_row) */
    p.b[i].capbytes =
        BATCH_KEY_BYTES + RAW_KEY_MAX + o.max_record + 16 * LF_COUNT + 16;
    p.b[i].bytes = cu_malloc(p.b[i].capbytes);
    if (!p.b[i].rows || !p.b[i].bytes) {
      rc = oom(d, g->path);
      goto fail_batches;
    }
  }
  if (pthread_mutex_init(&p.mu, NULL) != 0) {
    rc = cu_diag_set(d, CUSTOS_ENOMEM, "cannot start the usage reader");
    goto fail_batches;
  }
  if (pthread_cond_init(&p.cv, NULL) != 0) {
    rc = cu_diag_set(d, CUSTOS_ENOMEM, "cannot start the usage reader");
    goto fail_mutex;
  }
  pthread_t th;
  if (pthread_create(&th, NULL, reader_main, &p) != 0) {
    rc = cu_diag_set(d, CUSTOS_ENOMEM, "cannot start the usage reader");
    goto fail_cond;
  }
  for (;;) {
    pthread_mutex_lock(&p.mu);
    while (p.count == 0 && !p.done)
      pthread_cond_wait(&p.cv, &p.mu);
    bool more = p.count > 0;
    pthread_mutex_unlock(&p.mu);
    if (!more)
      break;
    const pbatch *b = &p.b[p.tail];
    const hent *ring[PROBE_RING] = {NULL}; /* no row of b probed yet */
    for (size_t i = 0; i < b->nrows && rc == CUSTOS_OK; i++) {
      g->rows++;
      if ((g->rows & 0xffff) == 0 && g->opts->progress)
        g->opts->progress(g->opts->progress_ud, g->path, b->offset,
                          cu_csv_size(csv));
      prefetch_row(g, b, i, ring);
      rc = add_row(g, &b->rows[i], ring[i % PROBE_RING], d);
    }
    pthread_mutex_lock(&p.mu);
    p.tail = (p.tail + 1) % NBATCH;
    p.count--;
    if (rc != CUSTOS_OK)
      p.stop = true;
    pthread_cond_broadcast(&p.cv);
    pthread_mutex_unlock(&p.mu);
    if (rc != CUSTOS_OK)
      break;
  }
#if defined(__SSE2__)
  /* The rollups were written with stores that bypass the cache
   * (rollup_new): ordered here before any other thread may read them. */
  _mm_sfence();
#endif
  pthread_join(th, NULL);
  *reader_cpu = p.cpu;
  if (rc == CUSTOS_OK && p.rc != CUSTOS_OK) {
    rc = p.rc;
    if (d)
      *d = p.d;
  }
  if (rc == CUSTOS_OK) {
    if (g->opts->progress)
      g->opts->progress(g->opts->progress_ud, g->path, cu_csv_offset(csv),
                        cu_csv_size(csv));
    /* The digest counts only when the reader took the whole file; else
     * the source registration hashes it again, as for other sources. */
    if (cu_csv_size(csv) && cu_csv_offset(csv) == cu_csv_size(csv)) {
      cu_sha256_final(o.sha256, g->digest);
      o.sha256 = NULL;
      g->size = cu_csv_offset(csv);
      g->hashed = true;
    }
  }
fail_cond:
  pthread_cond_destroy(&p.cv);
fail_mutex:
  pthread_mutex_destroy(&p.mu);
fail_batches:
  for (int i = 0; i < NBATCH; i++) {
    cu_free(p.b[i].rows);
    cu_free(p.b[i].bytes);
  }
fail_header:
  /* The hash may still read the reader's mapping of the file. */
  cu_sha256_abort(o.sha256);
  cu_csv_close(csv);
  return rc;
}

/* ---- writing ---------------------------------------------------------- */

/* Where the write phase spends its time, for CUSTOS_LEDGER_TIMES (a
 * benchmark knob, docs/internals.md).  Each mark charges the wall time
 * since the previous mark to one part.  Gathering, sorting, encoding and
 * the monthly sums alternate per block on the packer thread (see
 * write_rollups), which keeps a timer of its own, added in at the end: those
 * parts, and full (the packer waiting for room), overlap insert and wait
 * (the inserting thread waiting for blocks).
 * Their marks read only the monotonic clock (vDSO, no system call); the
 * CPU time is taken where the parts follow each other once (wt_mark_cpu). */
enum { WT_DIMS, WT_GATHER, WT_SORT, WT_ENCODE, WT_FULL, WT_INSERT, WT_WAIT,
       WT_MONTHLY, WT_COVERAGE, WT_RESOURCES, WT_SOURCE, WT_COMMIT,
       WT_CHECKPOINT, WT_N };
static const char *const wt_names[WT_N] = {
    "dims", "gather", "sort", "encode", "full", "insert", "wait", "monthly",
    "coverage", "resources", "source", "commit", "checkpoint"};

typedef struct wtimer {
  bool on;
  double w;          /* the last mark's wall clock */
  double c;          /* the last CPU mark's process CPU time */
  double wall[WT_N]; /* seconds charged to each part */
  double cpu[WT_N];  /* CPU seconds, of the parts marked with CPU */
  double rollups_cpu; /* CPU of gather to monthly, both threads */
  double packer_cpu;  /* of which the packer thread's */
  double resources_cpu; /* the resources thread's */
  double w0, c0;     /* at the start */
} wtimer;

static double mono_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void wt_start(wtimer *t) {
  const char *env = getenv("CUSTOS_LEDGER_TIMES");
  memset(t, 0, sizeof *t);
  t->on = env && *env;
  if (t->on) {
    phase_clock(&t->w, &t->c);
    t->w0 = t->w;
    t->c0 = t->c;
  }
}

/* Charges the wall time since the last mark to part. */
static void wt_mark(wtimer *t, int part) {
  if (!t || !t->on)
    return;
  double now = mono_now();
  t->wall[part] += now - t->w;
  t->w = now;
}

/* The same, and the CPU time since the last CPU mark to part too. */
static void wt_mark_cpu(wtimer *t, int part) {
  if (!t || !t->on)
    return;
  double w, c;
  phase_clock(&w, &c);
  t->wall[part] += w - t->w;
  t->cpu[part] += c - t->c;
  t->w = w;
  t->c = c;
}

/* Says on stderr where the write phase went. */
static void wt_report(const wtimer *t, const char *path) {
  if (!t->on)
    return;
  double w, c;
  phase_clock(&w, &c);
  char line[1024];
  size_t o = 0;
  for (int i = 0; i < WT_N && o < sizeof line; i++) {
    int k = t->cpu[i] > 0
                ? snprintf(line + o, sizeof line - o, "%s%s %.3f (%.3f CPU)",
                           i ? ", " : "", wt_names[i], t->wall[i], t->cpu[i])
                : snprintf(line + o, sizeof line - o, "%s%s %.3f",
                           i ? ", " : "", wt_names[i], t->wall[i]);
    if (k < 0)
      break;
    o += (size_t)k;
  }
  fprintf(stderr,
          "custos: write %s: %.3f s wall, %.3f s CPU (%s; gather to monthly "
          "%.3f CPU, packer %.3f; resources thread %.3f CPU)\n",
          path, w - t->w0, c - t->c0, line, t->rollups_cpu, t->packer_cpu,
          t->resources_cpu);
}

typedef struct writer {
  sqlite3_stmt *dim_ins, *dim_get, *res_ins;
  sqlite3_stmt *cov_del, *cov_mdel, *cov_sup;
} writer;

static void writer_free(writer *w) {
  sqlite3_finalize(w->dim_ins);
  sqlite3_finalize(w->dim_get);
  sqlite3_finalize(w->res_ins);
  sqlite3_finalize(w->cov_del);
  sqlite3_finalize(w->cov_mdel);
  sqlite3_finalize(w->cov_sup);
}

static custos_rc dim_id(ingest *g, writer *w, int kind, istr *x,
                        custos_diag *d) {
  if (x->dim)
    return CUSTOS_OK;
  const char *a1 = x->attr1 ? x->attr1 : "", *a2 = x->attr2 ? x->attr2 : "";
  sqlite3_reset(w->dim_ins);
  sqlite3_bind_text(w->dim_ins, 1, dim_kinds[kind], -1, SQLITE_STATIC);
  sqlite3_bind_text(w->dim_ins, 2, istr_value(x), -1, SQLITE_STATIC);
  sqlite3_bind_text(w->dim_ins, 3, a1, -1, SQLITE_STATIC);
  sqlite3_bind_text(w->dim_ins, 4, a2, -1, SQLITE_STATIC);
  if (sqlite3_step(w->dim_ins) != SQLITE_DONE)
    return cu_ws_dberr(g->ws, "cannot store usage values", d);
  /* A new value's id is the row just inserted; only one stored before
   * (the insert ignored) needs the look-up. */
  if (sqlite3_changes(cu_ws_db(g->ws)) == 1) {
    x->dim = sqlite3_last_insert_rowid(cu_ws_db(g->ws));
    return CUSTOS_OK;
  }
  sqlite3_reset(w->dim_get);
  sqlite3_bind_text(w->dim_get, 1, dim_kinds[kind], -1, SQLITE_STATIC);
  sqlite3_bind_text(w->dim_get, 2, istr_value(x), -1, SQLITE_STATIC);
  sqlite3_bind_text(w->dim_get, 3, a1, -1, SQLITE_STATIC);
  sqlite3_bind_text(w->dim_get, 4, a2, -1, SQLITE_STATIC);
  if (sqlite3_step(w->dim_get) != SQLITE_ROW)
    return cu_ws_dberr(g->ws, "cannot read usage values", d);
  x->dim = sqlite3_column_int64(w->dim_get, 0);
  /* Not left running while the rest of the ingest writes. */
  sqlite3_reset(w->dim_get);
  return CUSTOS_OK;
}

/* Fails with the first rollup of the file (by first line: rollups are made
 * in the order of their first rows) whose sums do not fit int64; add_row
 * counted them in g->nwide, so a file without one costs nothing here. */
static custos_rc all_fit(ingest *g, custos_diag *d) {
  if (g->nwide == 0)
    return CUSTOS_OK;
  const rollup *first = NULL;
  for (const dimset *ds = g->dsr_head; ds; ds = ds->ru_next)
    for (uint32_t s = 0; s < ds->caprus; s++) {
      const rollup *ru = ds->rus[s];
      if (ru && is_wide(g, ru) && (!first || ru->first_line < first->first_line))
        first = ru;
    }
  if (!ALWAYS(first != NULL))
    return CUSTOS_OK;
  cu_diag_at(d, g->path, first->first_line, 0);
  cu_diag_hint(d, "one rollup sums to more than custos stores (int64 at its "
                  "scale); split the export");
  return cu_diag_set(d, CUSTOS_ETOOBIG, "rollup total too large");
}

/* Coverage of one (account, period) pair by this source. */
typedef struct cover {
  istr *account;
  int64_t period, rows;
  __int128 billed;
} cover;

static int cover_cmp(const void *a, const void *b) {
  const cover *x = a, *y = b;
  if (x->account != y->account)
    return x->account->dim < y->account->dim ? -1 : 1;
  return x->period < y->period ? -1 : x->period > y->period;
}

/* A growable array of coverage, as write_rollups finds it: one entry per
 * block, so a pair may come more than once. */
typedef struct cvlist {
  cover *v;
  size_t n, cap;
} cvlist;

/* Puts the coverage of one account, cl->v[from] on, in cover_cmp's
 * order and merges its equal pairs: the packer calls it as each account
 * is done (its units' blocks come by period, one unit after another), so
 * that write_coverage finds cl in order, where it sorted 150 k entries
 * (one per block at 5 M rows) on the inserting thread. */
static void cover_settle(cvlist *cl, size_t from) {
  if (cl->n - from < 2)
    return;
  cover *v = cl->v + from;
  size_t n = cl->n - from, m = 0;
  qsort(v, n, sizeof *v, cover_cmp);
  for (size_t i = 0; i < n; i++) {
    if (m && cover_cmp(&v[m - 1], &v[i]) == 0) {
      v[m - 1].rows += v[i].rows;
      v[m - 1].billed += v[i].billed;
    } else {
      v[m++] = v[i];
    }
  }
  cl->n = from + m;
}

/* Records the coverage of one block in cl; ENOMEM with diag. */
static custos_rc add_cover(ingest *g, cvlist *cl, istr *account,
                           int64_t period, int64_t rows, __int128 billed,
                           custos_diag *d) {
  cover *p = cu_grow(cl->v, &cl->cap, cl->n, sizeof *p);
  if (!p)
    return oom(d, g->path);
  cl->v = p;
  cl->v[cl->n++] = (cover){account, period, rows, billed};
  return CUSTOS_OK;
}

#define CV_BATCH 64 /* pairs per look-up of older coverage */

/* Coverage row i of cv under source src, as custos_int_rows' row. */
typedef struct cvrows {
  const cover *cv;
  int64_t src;
} cvrows;

static void cover_row(const void *arg, size_t i, int64_t *v) {
  const cvrows *r = arg;
  const cover *c = &r->cv[i];
  v[0] = r->src;
  v[1] = c->account->dim;
  v[2] = c->period;
  v[3] = c->rows;
  v[4] = (int64_t)c->billed;
}

/* Inserts the n coverage rows of cv (billed in int64) under source src
 * in their order, in one INSERT ... SELECT from custos_int_rows: bound
 * parameters, 64 rows a statement, cost about as much as the insert. */
static custos_rc insert_cover(ingest *g, const cover *cv, size_t n,
                              int64_t src, custos_diag *d) {
  sqlite3_stmt *st = NULL;
  custos_rc rc = cu_ws_prepare(g->ws,
                               "INSERT OR FAIL INTO usage_coverage(source_id,"
                               " account, period, rows, billed) SELECT c0,"
                               " c1, c2, c3, c4 FROM custos_int_rows(?1)",
                               &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  cvrows r = {cv, src};
  cu_ledger_rows rows = {n, cover_row, &r};
  sqlite3_bind_pointer(st, 1, &rows, CU_LEDGER_ROWS_PTR, NULL);
  if (sqlite3_step(st) != SQLITE_DONE)
    rc = cu_ws_dberr(g->ws, "cannot store usage coverage", d);
  sqlite3_finalize(st);
  return rc;
}

/* The live coverage rows (source_id not superseded) of the pairs of cv,
 * asked for CV_BATCH pairs at a time, in the order of the index on
 * (account, period) which one pair's own look-up gave: by account,
 * period and rowid. */
typedef struct oldcov {
  int64_t account, period, source;
} oldcov;

#define OLD_MAX 64 /* live rows taken per pair, as before */

/* Prepares the look-up of the live coverage of n pairs into *st. */
static custos_rc prepare_cover_lookup(cu_ws *ws, size_t n, sqlite3_stmt **st,
                                      custos_diag *d) {
  cu_buf sql;
  cu_buf_init(&sql, 64 * 1024);
  /* The pairs as the outer loop (CROSS JOIN keeps it there), each a
   * search of the index: a row-value IN list made SQLite 3.40 scan the
   * whole index. */
  custos_rc rc = cu_buf_puts(&sql, "SELECT c.account, c.period, c.source_id"
                                   " FROM (VALUES");
  for (size_t i = 0; i < n && rc == CUSTOS_OK; i++)
    rc = cu_buf_puts(&sql, i ? ",(?,?)" : "(?,?)");
  if (rc == CUSTOS_OK)
    rc = cu_buf_puts(&sql, ") v CROSS JOIN usage_coverage c WHERE"
                           " c.account = v.column1 AND c.period = v.column2"
                           " AND c.superseded_by IS NULL"
                           " ORDER BY c.account, c.period, c.rowid");
  if (rc == CUSTOS_OK)
    rc = cu_ws_prepare(ws, sql.data, st, d);
  else
    rc = cu_diag_set(d, rc, "cannot build a coverage look-up");
  cu_buf_free(&sql);
  return rc;
}

/* Reads into old (room for *nold_cap, grown as needed) the live coverage
 * rows of the n pairs of cv through st (prepared for n pairs).  EDB or
 * ENOMEM with diag. */
static custos_rc lookup_cover(ingest *g, sqlite3_stmt *st, const cover *cv,
                              size_t n, oldcov **old, size_t *nold,
                              size_t *cap, custos_diag *d) {
  sqlite3_reset(st);
  for (size_t i = 0; i < n; i++) {
    sqlite3_bind_int64(st, (int)(2 * i + 1), cv[i].account->dim);
    sqlite3_bind_int64(st, (int)(2 * i + 2), cv[i].period);
  }
  *nold = 0;
  int step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    oldcov *p = cu_grow(*old, cap, *nold, sizeof *p);
    if (!p) {
      sqlite3_reset(st);
      return oom(d, g->path);
    }
    *old = p;
    p[(*nold)++] = (oldcov){sqlite3_column_int64(st, 0),
                            sqlite3_column_int64(st, 1),
                            sqlite3_column_int64(st, 2)};
  }
  custos_rc rc = CUSTOS_OK;
  if (step != SQLITE_DONE)
    rc = cu_ws_dberr(g->ws, "cannot read usage coverage", d);
  sqlite3_reset(st);
  return rc;
}

/* Supersedes what older sources stored of each (account, period) pair
 * of cl (sorted and merged here) and records this source's coverage.  The
 * rows of this source go in after every pair is superseded, in one
 * statement: a pair's rows are its own, and no pair's supersede reads or
 * changes them (nor does any look-up: it asks for other pairs, or for
 * other sources), so they get the rowids they got a batch at a time. */
static custos_rc write_coverage(ingest *g, writer *w, int64_t src,
                                cvlist *cl, int64_t *superseded,
                                json_t *replaced, custos_diag *d) {
  custos_rc rc = CUSTOS_OK;
  cover *cv = cl->v;
  size_t n = 0;
  sqlite3_stmt *look = NULL, *any = NULL;
  oldcov *old = NULL;
  size_t nold_all = 0, cap_old = 0, at_old = 0;
  /* In order already when the packer settled each account. */
  bool sorted = true;
  for (size_t i = 1; i < cl->n && sorted; i++)
    sorted = cover_cmp(&cv[i - 1], &cv[i]) < 0;
  if (!sorted)
    qsort(cv, cl->n, sizeof *cv, cover_cmp);
  for (size_t i = 0; i < cl->n; i++) {
    if (n && cover_cmp(&cv[n - 1], &cv[i]) == 0) {
      cv[n - 1].rows += cv[i].rows;
      cv[n - 1].billed += cv[i].billed;
    } else {
      cv[n++] = cv[i];
    }
  }
  if (n)
    rc = cu_ws_prepare(g->ws,
                       "SELECT 1 FROM usage_coverage WHERE account BETWEEN"
                       " ?1 AND ?2 AND source_id <> ?3 LIMIT 1",
                       &any, d);
  for (size_t i = 0; i < n && rc == CUSTOS_OK; i++) {
    int64_t acct = cv[i].account->dim;
    if (i % CV_BATCH == 0) {
      /* The next pairs' live rows.  A pair's supersede below changes
       * only its own rows, so the look-up of the later pairs stands. */
      size_t k = n - i < CV_BATCH ? n - i : CV_BATCH;
      /* No coverage of another source between the batch's least and
       * greatest account (the pairs are sorted by account): then no
       * pair has a live row, as in a new workspace or for a new
       * account, and one search of the index spares the look-up. */
      sqlite3_reset(any);
      sqlite3_bind_int64(any, 1, acct);
      sqlite3_bind_int64(any, 2, cv[i + k - 1].account->dim);
      sqlite3_bind_int64(any, 3, src);
      int step = sqlite3_step(any);
      sqlite3_reset(any);
      if (step != SQLITE_ROW && step != SQLITE_DONE) {
        rc = cu_ws_dberr(g->ws, "cannot read usage coverage", d);
        goto out;
      }
      nold_all = at_old = 0;
      if (step == SQLITE_DONE)
        k = 0;
      if (k && (!look || k < CV_BATCH)) {
        sqlite3_finalize(look);
        look = NULL;
        rc = prepare_cover_lookup(g->ws, k, &look, d);
        if (rc != CUSTOS_OK)
          goto out;
      }
      if (k)
        rc = lookup_cover(g, look, cv + i, k, &old, &nold_all, &cap_old, d);
      if (rc != CUSTOS_OK)
        goto out;
    }
    int64_t olds[OLD_MAX];
    size_t nold = 0;
    for (; at_old < nold_all && old[at_old].account == acct &&
           old[at_old].period == cv[i].period;
         at_old++)
      if (nold < OLD_MAX)
        olds[nold++] = old[at_old].source;
    for (size_t k = 0; k < nold; k++) {
      sqlite3_reset(w->cov_del);
      sqlite3_bind_int64(w->cov_del, 1, acct);
      sqlite3_bind_int64(w->cov_del, 2, cv[i].period);
      sqlite3_bind_int64(w->cov_del, 3, olds[k]);
      sqlite3_reset(w->cov_mdel);
      sqlite3_bind_int64(w->cov_mdel, 1, acct);
      sqlite3_bind_int64(w->cov_mdel, 2, cv[i].period);
      sqlite3_bind_int64(w->cov_mdel, 3, olds[k]);
      sqlite3_reset(w->cov_sup);
      sqlite3_bind_int64(w->cov_sup, 1, src);
      sqlite3_bind_int64(w->cov_sup, 2, olds[k]);
      sqlite3_bind_int64(w->cov_sup, 3, acct);
      sqlite3_bind_int64(w->cov_sup, 4, cv[i].period);
      /* The monthly rollups first: their delete finds them through the
       * daily rollups it is about to remove. */
      if (sqlite3_step(w->cov_mdel) != SQLITE_DONE ||
          sqlite3_step(w->cov_del) != SQLITE_DONE ||
          sqlite3_step(w->cov_sup) != SQLITE_DONE) {
        rc = cu_ws_dberr(g->ws, "cannot supersede usage", d);
        goto out;
      }
      (*superseded)++;
      char day[16];
      cu_date_format(cv[i].period * 86400, day, sizeof day);
      if (json_array_size(replaced) < 1000)
        json_array_append_new(
            replaced, json_pack("{s:s,s:s,s:I}", "account",
                                istr_value(cv[i].account), "period", day,
                                "source", (json_int_t)olds[k]));
    }
    if (cv[i].billed > INT64_MAX || cv[i].billed < INT64_MIN) {
      cu_diag_at(d, g->path, 0, 0);
      rc = cu_diag_set(d, CUSTOS_ETOOBIG, "billing period total too large");
      goto out;
    }
  }
  if (rc == CUSTOS_OK && n)
    rc = insert_cover(g, cv, n, src, d);
out:
  sqlite3_finalize(any);
  sqlite3_finalize(look);
  cu_free(old);
  return rc;
}

/* Rollups are stored grouped by account and unit, the rollups of one
 * billing period in one block (or a few, see CU_LEDGER_BLOCK_MAX).  The
 * dimension sets of an account and unit are in the order of their ids as
 * a block keeps them (cu_ledger_ru_cmp), so that a rollup's place in a
 * block is its set's rank, day and the rest.  Ties keep creation order. */
static const int rank_dims[] = {D_SUB,    D_SERVICE,  D_METER, D_REGION,
                                D_QTYU,   D_CURRENCY, D_CHARGE};

static int dimset_cmp(const void *a, const void *b) {
  const dimset *x = *(const dimset *const *)a, *y = *(const dimset *const *)b;
  int64_t p = x->dim[D_ACCOUNT]->dim, q = y->dim[D_ACCOUNT]->dim;
  if (p == q) {
    p = x->dim[D_UNIT]->dim;
    q = y->dim[D_UNIT]->dim;
  }
  for (size_t k = 0; k < CU_ARRAY_LEN(rank_dims) && p == q; k++) {
    p = x->dim[rank_dims[k]]->dim;
    q = y->dim[rank_dims[k]]->dim;
  }
  if (p == q)
    return x->seq < y->seq ? -1 : x->seq > y->seq;
  return p < q ? -1 : 1;
}

/* Whether x and y have the same ids in a block. */
static bool same_rank(const dimset *x, const dimset *y) {
  for (size_t k = 0; k < CU_ARRAY_LEN(rank_dims); k++)
    if (x->dim[rank_dims[k]]->dim != y->dim[rank_dims[k]]->dim)
      return false;
  return true;
}

/* Prepares head (an INSERT ... VALUES without its rows) with n rows of
 * ncols bound values each into *st; what the blocks are written with. */
static custos_rc prepare_rows_insert(cu_ws *ws, const char *head,
                                     size_t ncols, size_t n,
                                     sqlite3_stmt **st, custos_diag *d) {
  cu_buf sql;
  cu_buf_init(&sql, 64 * 1024);
  custos_rc rc = cu_buf_puts(&sql, head);
  for (size_t i = 0; i < n && rc == CUSTOS_OK; i++) {
    rc = cu_buf_puts(&sql, i ? ",(?" : "(?");
    for (size_t c = 1; c < ncols && rc == CUSTOS_OK; c++)
      rc = cu_buf_puts(&sql, ",?");
    if (rc == CUSTOS_OK)
      rc = cu_buf_puts(&sql, ")");
  }
  if (rc == CUSTOS_OK)
    rc = cu_ws_prepare(ws, sql.data, st, d);
  else
    rc = cu_diag_set(d, rc, "cannot build a rollup insert");
  cu_buf_free(&sql);
  return rc;
}

/* A rollup on its way into a block: the block's period, its dimension
 * set (for the monthly sums) and its fields as the block keeps them.
 * Everything after the sort reads these, not the rollup, which would be
 * a cache miss per rollup once more. */
typedef struct bent {
  int64_t period;
  size_t rank; /* of its dimension set's ids among the account and unit's */
  const dimset *ds;
  cu_ledger_ru ru;
} bent;

/* By period, then in a block's order: the rank stands for the ids. */
static int bent_cmp(const void *a, const void *b) {
  const bent *x = a, *y = b;
  if (x->period != y->period)
    return x->period < y->period ? -1 : 1;
  if (x->rank != y->rank)
    return x->rank < y->rank ? -1 : 1;
  for (int i = CU_RU_DAY; i < CU_RU_NFIELDS; i++)
    if (x->ru.v[i] != y->ru.v[i])
      return x->ru.v[i] < y->ru.v[i] ? -1 : 1;
  return 0;
}

/* fits() has checked that each amount is an int64. */
static void bent_fill(bent *e, const ingest *g, const dimset *ds,
                      const rollup *r, size_t rank) {
  int64_t *f = e->ru.v;
  e->period = r->period;
  e->rank = rank;
  e->ds = ds;
  f[CU_RU_SUB] = ds->dim[D_SUB]->dim;
  f[CU_RU_SERVICE] = ds->dim[D_SERVICE]->dim;
  f[CU_RU_METER] = ds->dim[D_METER]->dim;
  f[CU_RU_REGION] = ds->dim[D_REGION]->dim;
  f[CU_RU_QTY_UNIT] = ds->dim[D_QTYU]->dim;
  f[CU_RU_CURRENCY] = ds->dim[D_CURRENCY]->dim;
  f[CU_RU_CHARGE] = ds->dim[D_CHARGE]->dim;
  f[CU_RU_DAY] = r->day;
  f[CU_RU_FIRST_LINE] = (int64_t)r->first_line;
  f[CU_RU_LAST_LINE] = (int64_t)r->last_line;
  f[CU_RU_ROWS] = r->rows;
  f[CU_RU_QUANTITY] = r->qty;
  f[CU_RU_BILLED] = r->billed;
  f[CU_RU_EFFECTIVE] = r->effective;
  if (r->wide) {
    const wsums *w = &g->wides[r->wide - 1];
    f[CU_RU_QUANTITY] = (int64_t)w->qty;
    f[CU_RU_BILLED] = (int64_t)w->billed;
    f[CU_RU_EFFECTIVE] = (int64_t)w->effective;
  }
}

/* Sorts the entries of one account and unit into bent_cmp's order
 * without qsort, whose merge buffer was a fresh allocation (and, for a
 * large account, fresh pages) on every call and which moved 136-byte
 * entries at every step.  The entries are ordered by index with a stable
 * radix sort on each of day, rank and period (least significant first),
 * each field as its offset from the field's least value, one pass per
 * byte that offset needs (two for a day or period, one or two for a
 * rank), then copied once into their order.  Entries equal in all three
 * (only dimension sets with the same ids, rare) are then ordered by the
 * rest with bent_cmp, so the order is bent_cmp's. */
typedef struct bsort {
  bent *out;          /* the sorted copy */
  uint32_t *idx, *tmp; /* orders of the entries */
  uint64_t *keys;     /* per entry: day, rank and period, as offsets */
  size_t cap;         /* entries each array holds */
} bsort;

static void bsort_free(bsort *s) {
  cu_free(s->out);
  cu_free(s->idx);
  cu_free(s->tmp);
  cu_free(s->keys);
  memset(s, 0, sizeof *s);
}

/* Makes room for n entries; false when out of memory (s stays valid). */
static bool bsort_reserve(bsort *s, size_t n) {
  if (n <= s->cap)
    return true;
  if (n > UINT32_MAX)
    return false;
  bent *out = cu_realloc(s->out, n * sizeof *out);
  if (out)
    s->out = out;
  uint32_t *idx = cu_realloc(s->idx, n * sizeof *idx);
  if (idx)
    s->idx = idx;
  uint32_t *tmp = cu_realloc(s->tmp, n * sizeof *tmp);
  if (tmp)
    s->tmp = tmp;
  uint64_t *keys = cu_realloc(s->keys, n * 3 * sizeof *keys);
  if (keys)
    s->keys = keys;
  if (!out || !idx || !tmp || !keys)
    return false;
  s->cap = n;
  return true;
}

#define BSORT_SMALL 16 /* entries below which an insertion sort is used */

/* Whether the keys x (day, rank, period offsets) sort before y's. */
static bool bkey_less(const uint64_t *x, const uint64_t *y) {
  if (x[2] != y[2])
    return x[2] < y[2];
  if (x[1] != y[1])
    return x[1] < y[1];
  return x[0] < y[0];
}

/* Orders a (n entry indexes) by field f of the keys k, stably, with one
 * radix pass per byte of span (the bits any key of f has); b is as large
 * as a.  Returns the one of a and b that holds the order. */
static uint32_t *bsort_field(const uint64_t *k, int f, uint64_t span, size_t n,
                             uint32_t *a, uint32_t *b) {
  for (int shift = 0; shift < 64 && (span >> shift) != 0; shift += 8) {
    size_t count[257];
    memset(count, 0, sizeof count);
    for (size_t i = 0; i < n; i++)
      count[((k[a[i] * 3 + (size_t)f] >> shift) & 0xff) + 1]++;
    for (int c = 0; c < 256; c++)
      count[c + 1] += count[c];
    for (size_t i = 0; i < n; i++)
      b[count[(k[a[i] * 3 + (size_t)f] >> shift) & 0xff]++] = a[i];
    uint32_t *t = a;
    a = b;
    b = t;
  }
  return a;
}

/* Whether e (n entries) comes as bsort_run's runs: of one rank each, the
 * ranks rising, and each run by period and day, no two entries alike in
 * period, rank and day.  *lo is then the least period. */
static bool bsort_runs(const bent *e, size_t n, int64_t *lo) {
  int64_t least = e[0].period;
  for (size_t i = 1; i < n; i++) {
    const bent *x = &e[i - 1], *y = &e[i];
    if (y->rank == x->rank
            ? y->period < x->period ||
                  (y->period == x->period &&
                   y->ru.v[CU_RU_DAY] <= x->ru.v[CU_RU_DAY])
            : y->rank < x->rank)
      return false;
    if (y->period < least)
      least = y->period;
  }
  *lo = least;
  return true;
}

#define BSORT_PERIODS 16 /* periods the quick path counts */

/* The quick path of bsort_run, for entries that come as its runs (see
 * bsort_runs): a stable counting sort by period, when they have at most
 * BSORT_PERIODS periods (an account and unit has one per billing period
 * of the file).  The radix passes' 257 counters, cleared and summed twice
 * for a few hundred entries, cost more than the entries.  Returns e
 * itself when it has one period (nothing moves), s->out otherwise, or
 * NULL when there are too many periods. */
static const bent *bsort_periods(bsort *s, const bent *e, size_t n) {
  int64_t per[BSORT_PERIODS];
  size_t cnt[BSORT_PERIODS], at[BSORT_PERIODS];
  uint32_t *slot = s->idx; /* each entry's period, as an index of per */
  uint32_t np = 0, j = 0;
  for (size_t i = 0; i < n; i++) {
    int64_t p = e[i].period;
    if (np == 0 || per[j] != p) {
      for (j = 0; j < np && per[j] != p; j++)
        ;
      if (j == np) {
        if (np == BSORT_PERIODS)
          return NULL;
        per[np] = p;
        cnt[np++] = 0;
      }
    }
    cnt[j]++;
    slot[i] = j;
  }
  if (np == 1)
    return e;
  /* Where each period's entries begin: by period, least first. */
  for (uint32_t a = 0; a < np; a++) {
    at[a] = 0;
    for (uint32_t b = 0; b < np; b++)
      if (per[b] < per[a])
        at[a] += cnt[b];
  }
  for (size_t i = 0; i < n; i++)
    s->out[at[slot[i]]++] = e[i];
  return s->out;
}

/* Sorts the n entries of e (n <= s->cap) into bent_cmp's order and
 * returns them: e itself when they are in it already, else s->out.
 *
 * The gather hands the entries over as runs of one rank each, the ranks
 * rising, and a run in its set's table order: by day, and so by period
 * and day unless a day has rollups of two periods or the set's table has
 * an overflow part (both rare).  When every run is so, sorting by period
 * alone, stably, gives bent_cmp's order: the entries of one period keep
 * theirs, which is by rank and then day, and no two are alike in all
 * three.  That is one field's radix passes (or a count of a few periods,
 * bsort_periods) instead of three, and neither the other fields' keys
 * nor the look for equal keys. */
static const bent *bsort_run(bsort *s, const bent *e, size_t n) {
  if (n <= 1)
    return e;
  uint64_t *k = s->keys;
  uint32_t *a = s->idx, *b = s->tmp;
  int64_t plo;
  if (bsort_runs(e, n, &plo)) {
    const bent *out = bsort_periods(s, e, n);
    if (!out && n >= BSORT_SMALL) {
      uint64_t span = 0;
      for (size_t i = 0; i < n; i++) {
        /* Modulo 2^64, the offset of the period from the least. */
        k[i * 3 + 2] = (uint64_t)e[i].period - (uint64_t)plo;
        span |= k[i * 3 + 2];
        a[i] = (uint32_t)i;
      }
      a = bsort_field(k, 2, span, n, a, b);
      for (size_t i = 0; i < n; i++)
        s->out[i] = e[a[i]];
      out = s->out;
    }
    if (out) {
#ifndef NDEBUG
      for (size_t i = 1; i < n; i++)
        assert(bent_cmp(&out[i - 1], &out[i]) < 0);
#endif
      return out;
    }
  }
  int64_t lo[3] = {e[0].ru.v[CU_RU_DAY], (int64_t)e[0].rank, e[0].period};
  for (size_t i = 1; i < n; i++) {
    int64_t v[3] = {e[i].ru.v[CU_RU_DAY], (int64_t)e[i].rank, e[i].period};
    for (int f = 0; f < 3; f++)
      if (v[f] < lo[f])
        lo[f] = v[f];
  }
  uint64_t span[3] = {0, 0, 0};
  for (size_t i = 0; i < n; i++) {
    int64_t v[3] = {e[i].ru.v[CU_RU_DAY], (int64_t)e[i].rank, e[i].period};
    for (int f = 0; f < 3; f++) {
      /* Modulo 2^64, the offset of v from the least value. */
      k[i * 3 + f] = (uint64_t)v[f] - (uint64_t)lo[f];
      span[f] |= k[i * 3 + f];
    }
    a[i] = (uint32_t)i;
  }
  if (n < BSORT_SMALL) {
    /* Few entries: the 256 counters of a radix pass would cost more. */
    for (size_t i = 1; i < n; i++) {
      uint32_t x = a[i];
      size_t j = i;
      for (; j > 0 && bkey_less(&k[(size_t)x * 3], &k[(size_t)a[j - 1] * 3]);
           j--)
        a[j] = a[j - 1];
      a[j] = x;
    }
  } else {
    for (int f = 0; f < 3; f++) {
      uint32_t *sorted = bsort_field(k, f, span[f], n, a, b);
      b = sorted == a ? b : a;
      a = sorted;
    }
  }
  for (size_t i = 0; i < n; i++)
    s->out[i] = e[a[i]];
  for (size_t i = 0, j; i < n; i = j) {
    const uint64_t *ki = &k[(size_t)a[i] * 3];
    for (j = i + 1; j < n; j++) {
      const uint64_t *kj = &k[(size_t)a[j] * 3];
      if (kj[0] != ki[0] || kj[1] != ki[1] || kj[2] != ki[2])
        break;
    }
    if (j - i > 1)
      qsort(s->out + i, j - i, sizeof *s->out, bent_cmp);
  }
  return s->out;
}

/* A monthly rollup of the file: its dimension set, month and period, and
 * its amounts as sums of their parts above and below 10^9 (see
 * CU_LEDGER_MONTHLY_FILL, whose results these equal). */
typedef struct mrollup {
  const dimset *ds;
  int64_t month, period;
  int64_t part[6]; /* qty / 10^9, qty % 10^9, billed..., effective... */
  int64_t rows;
  /* The rank of the set's ids among its account and unit's (see
   * bent): with unit and account equal, it orders as the seven ids do. */
  int64_t rank;
  /* usage_monthly's key but the source: unit, month, account, period,
   * then the ids of subscription to charge.  Taken once when the rollup
   * is made, while its set is in the cache, for the insert and for the
   * careful sort. */
  int64_t key[11];
} mrollup;

#define MU_COLS 19 /* usage_monthly's */
_Static_assert(MU_COLS <= CU_LEDGER_ROWS_COLS, "custos_int_rows' columns");

/* The order of usage_monthly's key (source_id is the same for all), of
 * two pointers to monthly rollups. */
static int mrollup_cmp(const void *a, const void *b) {
  const int64_t *kx = (*(const mrollup *const *)a)->key;
  const int64_t *ky = (*(const mrollup *const *)b)->key;
  for (int i = 0; i < 11; i++)
    if (kx[i] != ky[i])
      return kx[i] < ky[i] ? -1 : 1;
  return 0;
}

static void mrollup_key(mrollup *m) {
  const dimset *ds = m->ds;
  int64_t k[11] = {ds->dim[D_UNIT]->dim,     m->month,
                   ds->dim[D_ACCOUNT]->dim,  m->period,
                   ds->dim[D_SUB]->dim,      ds->dim[D_SERVICE]->dim,
                   ds->dim[D_METER]->dim,    ds->dim[D_REGION]->dim,
                   ds->dim[D_QTYU]->dim,     ds->dim[D_CURRENCY]->dim,
                   ds->dim[D_CHARGE]->dim};
  memcpy(m->key, k, sizeof k);
}

/* A growable array of monthly rollups. */
typedef struct mlist {
  mrollup *v;
  size_t n, cap;
} mlist;

/* The first day of the month of each day of the file (g->first_day to
 * g->last_day), made once: cu_ledger_month_of formats and parses a date
 * (2,000 instructions), and the blocks' days, sorted within a block only,
 * left the month cached in add_monthly twice per block. */
typedef struct monthtab {
  int64_t lo;   /* the day of v[0] */
  size_t n;     /* days in v; 0 for no table */
  int64_t *v;
} monthtab;

#define MONTHTAB_MAX ((size_t)1 << 16) /* days (179 years) */

/* Fills mt for the days of g, or leaves it empty (n 0) when they are
 * too many, memory is short or a day has no month (add_monthly then
 * asks cu_ledger_month_of, which reports it).  The caller frees mt->v. */
static void month_table(const ingest *g, monthtab *mt) {
  memset(mt, 0, sizeof *mt);
  if (g->first_day == INT64_MIN || g->last_day < g->first_day ||
      (uint64_t)g->last_day - (uint64_t)g->first_day >= MONTHTAB_MAX)
    return;
  size_t n = (size_t)(g->last_day - g->first_day) + 1;
  int64_t *v = cu_malloc(n * sizeof *v);
  if (!v)
    return;
  int64_t m0 = 0, m1 = 0;
  for (size_t i = 0; i < n; i++) {
    int64_t day = g->first_day + (int64_t)i;
    int bad;
    const char *reason;
    if ((i == 0 || day >= m1) &&
        (cu_ledger_month_of(day, &m0, &bad, &reason) != CUSTOS_OK ||
         cu_ledger_month_of(m0 + 31, &m1, &bad, &reason) != CUSTOS_OK)) {
      cu_free(v);
      return;
    }
    v[i] = m0;
  }
  mt->lo = g->first_day;
  mt->n = n;
  mt->v = v;
}

/* Adds the rollup of e to the monthly rollups: to the last one when that
 * has the same dimension set, month and period (a dimension set's rollups
 * come sorted by day), else as a new one.  The month comes from mt, or
 * for a day outside it from cu_ledger_month_of, with *m0 and *m1 caching
 * the month of the last day asked and the next month's first day.
 * ENOMEM or EPARSE with diag. */
static custos_rc add_monthly(ingest *g, mlist *ml, const bent *e,
                             const monthtab *mt, int64_t *m0, int64_t *m1,
                             custos_diag *d) {
  const int64_t *f = e->ru.v;
  int64_t day = f[CU_RU_DAY];
  int64_t month;
  if (day >= mt->lo && (uint64_t)day - (uint64_t)mt->lo < mt->n) {
    month = mt->v[day - mt->lo];
#ifndef NDEBUG
    int64_t careful;
    int bad;
    const char *reason;
    assert(cu_ledger_month_of(day, &careful, &bad, &reason) == CUSTOS_OK &&
           careful == month);
#endif
  } else {
    if (day < *m0 || day >= *m1) {
      int bad;
      const char *reason;
      if (cu_ledger_month_of(day, m0, &bad, &reason) != CUSTOS_OK ||
          cu_ledger_month_of(*m0 + 31, m1, &bad, &reason) != CUSTOS_OK) {
        cu_diag_at(d, g->path, (uint64_t)f[CU_RU_FIRST_LINE], 0);
        return cu_diag_set(d, CUSTOS_EPARSE, "%s", reason);
      }
    }
    month = *m0;
  }
  mrollup *last = ml->n ? &ml->v[ml->n - 1] : NULL;
  if (!last || last->ds != e->ds || last->month != month ||
      last->period != e->period) {
    mrollup *p = cu_grow(ml->v, &ml->cap, ml->n, sizeof *p);
    if (!p)
      return oom(d, g->path);
    ml->v = p;
    last = &ml->v[ml->n++];
    memset(last, 0, sizeof *last);
    last->ds = e->ds;
    last->month = month;
    last->period = e->period;
    last->rank = (int64_t)e->rank;
    mrollup_key(last);
  }
  const int64_t g9 = 1000000000;
  int64_t q = f[CU_RU_QUANTITY], b = f[CU_RU_BILLED], c = f[CU_RU_EFFECTIVE];
  last->part[0] += q / g9;
  last->part[1] += q % g9;
  last->part[2] += b / g9;
  last->part[3] += b % g9;
  last->part[4] += c / g9;
  last->part[5] += c % g9;
  last->rows += f[CU_RU_ROWS];
  return CUSTOS_OK;
}

/* The values of monthly rollup i of ord, under source src, in the order
 * of write_monthly's columns: custos_int_rows' rows. */
typedef struct mrows {
  mrollup *const *ord;
  int64_t src;
} mrows;

static void monthly_row(const void *arg, size_t i, int64_t *v) {
  const mrows *r = arg;
  const mrollup *m = r->ord[i];
  const int64_t *k = m->key;
  int64_t row[MU_COLS] = {k[0],      k[1],      k[2],      k[3],
                          r->src,    k[4],      k[5],      k[6],
                          k[7],      k[8],      k[9],      k[10],
                          m->part[0], m->part[1], m->part[2], m->part[3],
                          m->part[4], m->part[5], m->rows};
  memcpy(v, row, sizeof row);
}

/* A monthly rollup's place in usage_monthly's key as one unsigned 128-bit
 * number (hi, lo) and its index in the list. */
typedef struct mkey {
  uint64_t lo, hi;
  uint32_t i;
} mkey;

/* Sets k[0..n) to the places of the n monthly rollups of v, whose key
 * fields unit, month, account, period and rank (see mrollup: the rank
 * stands for the seven ids after the period, as it orders them within
 * one unit and account) are written as offsets from their least values,
 * each in as many bits as its largest offset needs, one after the other.
 * Two rollups' numbers then compare as their keys do, and are equal when
 * their keys are.  False when the fields need more than 128 bits. */
static bool mkey_fill(const mrollup *v, size_t n, mkey *k) {
  int64_t lo[5];
  for (int f = 0; f < 5; f++)
    lo[f] = INT64_MAX;
  for (size_t i = 0; i < n; i++) {
    const int64_t x[5] = {v[i].key[0], v[i].key[1], v[i].key[2],
                          v[i].key[3], v[i].rank};
    for (int f = 0; f < 5; f++)
      if (x[f] < lo[f])
        lo[f] = x[f];
  }
  uint64_t span[5] = {0, 0, 0, 0, 0};
  for (size_t i = 0; i < n; i++) {
    const int64_t x[5] = {v[i].key[0], v[i].key[1], v[i].key[2],
                          v[i].key[3], v[i].rank};
    for (int f = 0; f < 5; f++)
      span[f] |= (uint64_t)x[f] - (uint64_t)lo[f];
  }
  int bits[5], total = 0;
  for (int f = 0; f < 5; f++) {
    bits[f] = span[f] ? 64 - __builtin_clzll(span[f]) : 0;
    total += bits[f];
  }
  if (total > 128)
    return false;
  for (size_t i = 0; i < n; i++) {
    const int64_t x[5] = {v[i].key[0], v[i].key[1], v[i].key[2],
                          v[i].key[3], v[i].rank};
    unsigned __int128 u = 0;
    for (int f = 0; f < 5; f++)
      u = (u << bits[f]) | ((uint64_t)x[f] - (uint64_t)lo[f]);
    k[i] = (mkey){(uint64_t)u, (uint64_t)(u >> 64), (uint32_t)i};
  }
  return true;
}

/* Sorts the n places of k by number with an LSD radix sort, a pass per
 * byte that differs between them; tmp holds n.  Returns the one of k
 * and tmp that holds the order. */
static mkey *mkey_sort(mkey *k, mkey *tmp, size_t n) {
  for (int b = 0; b < 16; b++) {
    size_t count[257];
    memset(count, 0, sizeof count);
    int sh = (b & 7) * 8;
    for (size_t i = 0; i < n; i++)
      count[(((b < 8 ? k[i].lo : k[i].hi) >> sh) & 0xff) + 1]++;
    bool one = false;
    for (int c = 0; c < 256 && !one; c++)
      one = count[c + 1] == n;
    if (one)
      continue; /* every number has the same byte here */
    for (int c = 0; c < 256; c++)
      count[c + 1] += count[c];
    for (size_t i = 0; i < n; i++)
      tmp[count[((b < 8 ? k[i].lo : k[i].hi) >> sh) & 0xff]++] = k[i];
    mkey *t = k;
    k = tmp;
    tmp = t;
  }
  return k;
}

/* Puts the monthly rollups of ml in key order into *ord (an array of
 * *nord pointers into ml, the caller frees it), equal keys (two
 * dimension sets with the same ids) merged first into one of the entries
 * of ml, which keep their places.  The order comes from a radix sort of
 * the keys as numbers (mkey_fill), where qsort's 3 M comparisons of
 * eleven ids at 5 M rows were the packer's last step, which the
 * inserting thread waited for; keys that need more than 128 bits are
 * ordered by qsort.  ENOMEM with diag. */
static custos_rc order_monthly(ingest *g, mlist *ml, mrollup ***ord_out,
                               size_t *nord, custos_diag *d) {
  *ord_out = NULL;
  *nord = 0;
  if (ml->n == 0)
    return CUSTOS_OK;
  /* Sorted by pointer: an element moves 8 bytes, not 176. */
  mrollup **ord = cu_malloc(ml->n * sizeof *ord);
  mkey *k = NULL, *tmp = NULL;
  if (ml->n <= UINT32_MAX) {
    k = cu_malloc(ml->n * sizeof *k);
    tmp = cu_malloc(ml->n * sizeof *tmp);
  }
  if (!ord || (ml->n <= UINT32_MAX && (!k || !tmp))) {
    cu_free(ord);
    cu_free(k);
    cu_free(tmp);
    return oom(d, g->path);
  }
  size_t n = 1;
  if (k && mkey_fill(ml->v, ml->n, k)) {
    const mkey *s = mkey_sort(k, tmp, ml->n);
    ord[0] = &ml->v[s[0].i];
    for (size_t i = 1; i < ml->n; i++) {
      mrollup *m = &ml->v[s[i].i];
      if (s[i].lo == s[i - 1].lo && s[i].hi == s[i - 1].hi) {
        mrollup *last = ord[n - 1];
        for (int j = 0; j < 6; j++)
          last->part[j] += m->part[j];
        last->rows += m->rows;
      } else {
        ord[n++] = m;
      }
    }
  } else {
    for (size_t i = 0; i < ml->n; i++)
      ord[i] = &ml->v[i];
    qsort(ord, ml->n, sizeof *ord, mrollup_cmp);
    for (size_t i = 1; i < ml->n; i++) {
      mrollup *last = ord[n - 1];
      if (mrollup_cmp(&last, &ord[i]) == 0) {
        for (int j = 0; j < 6; j++)
          last->part[j] += ord[i]->part[j];
        last->rows += ord[i]->rows;
      } else {
        ord[n++] = ord[i];
      }
    }
  }
#ifndef NDEBUG
  /* In the key's order, and no two keys alike: what qsort gave. */
  for (size_t i = 1; i < n; i++)
    assert(mrollup_cmp(&ord[i - 1], &ord[i]) < 0);
#endif
  cu_free(k);
  cu_free(tmp);
  *ord_out = ord;
  *nord = n;
  return CUSTOS_OK;
}

/* Stores the n monthly rollups of ord, in that order, under source src,
 * in one INSERT ... SELECT from custos_int_rows, which hands SQLite each
 * row's values as it reaches them: binding 19 parameters per row, 64 rows
 * a statement, cost about as much as the rows' insert. */
static custos_rc write_monthly(ingest *g, mrollup *const *ord, size_t n,
                               int64_t src, custos_diag *d) {
  if (n == 0)
    return CUSTOS_OK;
  sqlite3_stmt *st = NULL;
  custos_rc rc = cu_ws_prepare(
      g->ws,
      "INSERT OR FAIL INTO usage_monthly(unit, month, account, period,"
      " source_id,"
      " subscription, service, meter, region, qty_unit, currency, charge, qh,"
      " ql, bh, bl, eh, el, rows) SELECT c0, c1, c2, c3, c4, c5, c6, c7, c8,"
      " c9, c10, c11, c12, c13, c14, c15, c16, c17, c18 FROM"
      " custos_int_rows(?1)",
      &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  mrows r = {ord, src};
  cu_ledger_rows rows = {n, monthly_row, &r};
  sqlite3_bind_pointer(st, 1, &rows, CU_LEDGER_ROWS_PTR, NULL);
  if (sqlite3_step(st) != SQLITE_DONE) {
    rc = cu_ws_dberr(g->ws, "cannot store monthly usage rollups", d);
    cu_diag_at(d, g->path, 0, 0);
  }
  sqlite3_finalize(st);
  return rc;
}

/* The resources' stored text, made ahead of their insert: the resource
 * id and name through the free-text policy and the tags as JSON.  This is
 * the write phase's one piece of CPU work that needs no database, so a
 * thread of its own makes it from the start of the write phase (the
 * dimension ids, the blocks and the monthly rollups), taking a core
 * whenever the packer or the inserting thread leaves one free, and the
 * insert (write_resources) joins it; without the thread (it could not
 * start) the insert makes them itself. */
typedef struct resrow {
  char *id, *name, *tags; /* tags NULL for none, stored as {} */
} resrow;

typedef struct resprep {
  cu_free_text_policy pol;
  resource *cur; /* the next to prepare */
  resrow *rows;  /* one per resource, in list order */
  size_t n, next; /* resources, and rows prepared */
  custos_rc rc;  /* the first failure, at rows[next]; it stops there */
  ingest *g;
  pthread_t th;
  bool running;  /* th started and not yet joined */
  /* Set when the write fails before the resources: the thread stops at
   * the next resource instead of preparing them all for nothing. */
  atomic_bool stop;
  double cpu;    /* th's CPU seconds, once joined */
} resprep;

/* Waits for rp's thread, if it runs. */
static void resprep_join(resprep *rp) {
  if (rp->running)
    pthread_join(rp->th, NULL);
  rp->running = false;
}

/* Stops and joins rp's thread and frees what it prepared. */
static void resprep_free(resprep *rp) {
  atomic_store_explicit(&rp->stop, true, memory_order_relaxed);
  resprep_join(rp);
  for (size_t i = 0; i < rp->next; i++) {
    cu_free(rp->rows[i].id);
    cu_free(rp->rows[i].name);
    cu_free(rp->rows[i].tags);
  }
  cu_free(rp->rows);
  memset(rp, 0, sizeof *rp);
}

static void resprep_run(ingest *g, resprep *rp, size_t k);

static void *resprep_main(void *arg) {
  resprep *rp = arg;
  resprep_run(rp->g, rp, SIZE_MAX);
  rp->cpu = thread_cpu();
  return NULL;
}

/* Sets rp up for the resources of g and starts its thread (or leaves the
 * work to write_resources when it cannot start); ENOMEM with diag. */
static custos_rc resprep_start(ingest *g, resprep *rp, custos_diag *d) {
  memset(rp, 0, sizeof *rp);
  atomic_init(&rp->stop, false);
  rp->g = g;
  rp->pol = cu_boundary_policy(g->ws);
  rp->cur = g->res_head;
  for (resource *r = g->res_head; r; r = r->next)
    rp->n++;
  if (rp->n) {
    rp->rows = cu_calloc(rp->n, sizeof *rp->rows);
    if (!rp->rows)
      return oom(d, g->path);
    rp->running = pthread_create(&rp->th, NULL, resprep_main, rp) == 0;
  }
  return CUSTOS_OK;
}

/* Prepares the rows of up to k more resources; on a failure rp->rc says
 * which (rows[next] then holds nothing) and no more are prepared. */
static void resprep_run(ingest *g, resprep *rp, size_t k) {
  for (; k > 0 && rp->cur && rp->rc == CUSTOS_OK &&
         !atomic_load_explicit(&rp->stop, memory_order_relaxed);
       k--) {
    const resource *r = rp->cur;
    char idp[4096], namep[4096];
    char *tags = NULL;
    custos_rc rc = cu_ledger_resource_id(g->ws, rp->pol, r->key, r->e.klen,
                                         idp, sizeof idp);
    if (rc == CUSTOS_ETOOBIG) {
      rc = cu_boundary_free_text(g->ws, CU_FREE_TEXT_PSEUDONYMISE, r->key,
                                 r->e.klen, idp, sizeof idp);
    }
    if (rc == CUSTOS_OK)
      rc = cu_boundary_free_text(g->ws, rp->pol, r->name, r->name_len, namep,
                                 sizeof namep);
    if (rc == CUSTOS_OK && r->tags_len &&
        !cu_ledger_is_null(r->tags, r->tags_len))
      rc = cu_ledger_tags(g->ws, rp->pol, r->tags, r->tags_len, &tags);
    if (rc == CUSTOS_OK && cu_ledger_is_null(r->name, r->name_len))
      namep[0] = '\0';
    resrow *row = &rp->rows[rp->next];
    if (rc == CUSTOS_OK) {
      row->id = cu_strdup(idp);
      row->name = cu_strdup(namep);
      if (!row->id || !row->name)
        rc = CUSTOS_ENOMEM;
    }
    if (rc != CUSTOS_OK) {
      cu_free(tags);
      cu_free(row->id);
      cu_free(row->name);
      row->id = row->name = NULL;
      rp->rc = rc;
      return;
    }
    row->tags = tags;
    rp->next++;
    rp->cur = rp->cur->next;
  }
}

/* Waits for rp's thread (or prepares the resources itself) and stores
 * the resources under source src, with the first failure to prepare one
 * reported where the insert meets it, as when each was prepared just
 * before its insert. */
static custos_rc write_resources(ingest *g, writer *w, resprep *rp,
                                 int64_t src, custos_diag *d) {
  resprep_join(rp);
  resprep_run(g, rp, SIZE_MAX);
  size_t i = 0;
  for (resource *r = g->res_head; r; r = r->next, i++) {
    if (i == rp->next) {
      /* Out of memory (the copies of the text, or the tags' JSON) is
       * not the text's fault: say so, with the usual hint. */
      if (rp->rc == CUSTOS_ENOMEM)
        return oom(d, g->path);
      cu_diag_at(d, g->path, 0, 0);
      return cu_diag_set(d, rp->rc, "cannot pseudonymise a resource's free "
                                    "text");
    }
    const resrow *row = &rp->rows[i];
    sqlite3_stmt *st = w->res_ins;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, src);
    sqlite3_bind_int64(st, 2, r->sub->dim);
    sqlite3_bind_text(st, 3, row->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, row->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, r->type, (int)r->type_len, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, row->tags ? row->tags : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, r->first_day);
    sqlite3_bind_int64(st, 8, r->last_day);
    sqlite3_bind_int64(st, 9, r->rows);
    if (sqlite3_step(st) != SQLITE_DONE)
      return cu_ws_dberr(g->ws, "cannot store usage resources", d);
  }
  return CUSTOS_OK;
}

/*
 * The write of the rollups runs on two threads, as SQLite allows only the
 * connection's thread to insert: a packer gathers each account and
 * unit's rollups, sorts them, sums the monthly rollups and the coverage
 * and encodes the blocks, which the calling thread inserts as they come,
 * through a ring of PACK_SLOTS blocks (a bound on the memory ahead).
 * Both threads handle the blocks in one order, the order of the single
 * thread before, so the stored bytes are the same, and so is the first
 * error: the inserting thread reports the packer's failure only once it
 * has inserted every block packed before it.
 */
#define PACK_SLOTS 256
/* Blocks the inserting thread takes at a time and the packer makes ahead
 * before waking it: a wake per block was a futex call and a context
 * switch on each side, more CPU than the insert. */
#define PACK_RUN 32
#define BLK_COLS 5
#define BLK_BATCH 16 /* blocks per INSERT, when as many are ready */

/* A packed block: its key and its data. */
typedef struct pblock {
  int64_t acct, period, unit;
  cu_buf blob;
} pblock;

typedef struct packer {
  ingest *g;
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv_ins;  /* head passed tail + PACK_RUN, or done */
  pthread_cond_t cv_pack; /* tail moved, or cancel */
  bool ins_waiting, pack_waiting; /* on cv_ins, cv_pack */
  pblock slot[PACK_SLOTS];
  /* Blocks packed and inserted so far: the packer owns the slots from
   * head to tail + PACK_SLOTS, the inserting thread those from tail to
   * head. */
  size_t head, tail;
  bool done;   /* the packer has stopped (rc says how) */
  bool cancel; /* the inserting thread has failed: stop */
  /* Set by the packer; the inserting thread reads them after done. */
  custos_rc rc;
  custos_diag d;
  mlist ml;
  mrollup **ord; /* ml in key order, see order_monthly */
  size_t nord;
  cvlist cl;
  wtimer t;   /* wall time of gather, sort, encode and monthly */
  double cpu; /* the packer thread's CPU seconds */
} packer;

/* Waits for a free slot; NULL when cancelled.  Runs on the packer. */
static pblock *pack_slot(packer *p) {
  pthread_mutex_lock(&p->mu);
  while (!p->cancel && p->head - p->tail == PACK_SLOTS) {
    p->pack_waiting = true;
    pthread_cond_wait(&p->cv_pack, &p->mu);
  }
  p->pack_waiting = false;
  pblock *b = p->cancel ? NULL : &p->slot[p->head % PACK_SLOTS];
  pthread_mutex_unlock(&p->mu);
  return b;
}

/* Hands the slot pack_slot gave to the inserting thread. */
static void pack_publish(packer *p) {
  pthread_mutex_lock(&p->mu);
  p->head++;
  /* One wake per wait: the inserting thread, once woken, may take a
   * while to run, and every block published meanwhile signalled it
   * again (7,177 signals against 304 in one run under valgrind). */
  if (p->ins_waiting && p->head - p->tail >= PACK_RUN) {
    pthread_cond_signal(&p->cv_ins);
    p->ins_waiting = false;
  }
  pthread_mutex_unlock(&p->mu);
}

/* Packs every rollup of the file into blocks in storage order (see
 * write_rollups), then orders the monthly rollups; the packer thread. */
static custos_rc pack_all(packer *p, custos_diag *d) {
  ingest *g = p->g;
  wtimer *t = &p->t;
  dimset **dss = cu_malloc(g->ndimsets * sizeof *dss);
  bent *ents = NULL;
  size_t cap = 0;
  bsort bs;
  memset(&bs, 0, sizeof bs);
  monthtab mt;
  month_table(g, &mt);
  custos_rc rc = CUSTOS_OK;
  if (!dss) {
    rc = oom(d, g->path);
    goto out;
  }
  size_t i = 0;
  for (dimset *ds = g->ds_head; ds; ds = ds->next)
    dss[i++] = ds;
  qsort(dss, g->ndimsets, sizeof *dss, dimset_cmp);
  wt_mark(t, WT_SORT);
  size_t done = 0, cover_from = 0;
  int64_t m0 = 0, m1 = 0;
  /* One account and unit at a time: its rollups by period and in block
   * order, cut into blocks where the period changes. */
  for (size_t k = 0, kend; k < g->ndimsets && rc == CUSTOS_OK; k = kend) {
    int64_t acct = dss[k]->dim[D_ACCOUNT]->dim, unit = dss[k]->dim[D_UNIT]->dim;
    if (k > 0 && dss[k - 1]->dim[D_ACCOUNT]->dim != acct) {
      cover_settle(&p->cl, cover_from);
      cover_from = p->cl.n;
    }
    size_t m = 0;
    for (kend = k; kend < g->ndimsets &&
                   dss[kend]->dim[D_ACCOUNT]->dim == acct &&
                   dss[kend]->dim[D_UNIT]->dim == unit;
         kend++)
      m += dss[kend]->nrus;
    if (m > cap) {
      bent *e2 = cu_realloc(ents, m * sizeof *e2);
      if (!e2) {
        rc = oom(d, g->path);
        break;
      }
      ents = e2;
      cap = m;
    }
    /* The rollups lie in the arena in the file's order: fetch a few
     * ahead, each is a cache miss. */
    size_t e = 0, rank = 0;
    for (size_t j = k; j < kend; j++) {
      if (j > k && !same_rank(dss[j - 1], dss[j]))
        rank++;
      rollup *const *rus = dss[j]->rus;
      uint32_t cap_j = dss[j]->caprus;
      for (uint32_t s = 0; s < cap_j; s++) {
        if (s + 8 < cap_j && rus[s + 8])
          __builtin_prefetch(rus[s + 8]);
        if (rus[s] && ALWAYS(e < m))
          bent_fill(&ents[e++], g, dss[j], rus[s], rank);
      }
    }
    wt_mark(t, WT_GATHER);
    if (!bsort_reserve(&bs, e)) {
      rc = oom(d, g->path);
      break;
    }
    const bent *sorted = bsort_run(&bs, ents, e);
    wt_mark(t, WT_SORT);
    for (size_t a = 0, b; a < e && rc == CUSTOS_OK; a = b) {
      for (b = a; b < e && sorted[b].period == sorted[a].period &&
                  b - a < CU_LEDGER_BLOCK_MAX;
           b++) {
        rc = add_monthly(g, &p->ml, &sorted[b], &mt, &m0, &m1, d);
        if (rc != CUSTOS_OK)
          break;
      }
      wt_mark(t, WT_MONTHLY);
      int64_t rows = 0;
      __int128 billed = 0;
      for (size_t j = a; j < b; j++) {
        rows += sorted[j].ru.v[CU_RU_ROWS];
        billed += sorted[j].ru.v[CU_RU_BILLED];
      }
      if (rc == CUSTOS_OK)
        rc = add_cover(g, &p->cl, dss[k]->dim[D_ACCOUNT], sorted[a].period,
                       rows, billed, d);
      if (rc != CUSTOS_OK)
        break;
      wt_mark(t, WT_MONTHLY);
      pblock *pb = pack_slot(p);
      wt_mark(t, WT_FULL);
      if (!pb) {
        rc = CUSTOS_EINTERNAL; /* not reported: the inserter's error is */
        break;
      }
      rc = cu_ledger_block_encode_stride(&sorted[a].ru, sizeof *sorted,
                                         b - a, &pb->blob);
      if (rc != CUSTOS_OK) {
        cu_diag_at(d, g->path, 0, 0);
        rc = cu_diag_set(d, rc, "cannot pack usage rollups");
        break;
      }
      pb->acct = acct;
      pb->period = sorted[a].period;
      pb->unit = unit;
      pack_publish(p);
      wt_mark(t, WT_ENCODE);
      done += b - a;
    }
  }
  assert(rc != CUSTOS_OK || done == (size_t)g->nrollups);
  (void)done; /* only the assertion reads it */
  cover_settle(&p->cl, cover_from);
  if (rc == CUSTOS_OK)
    rc = order_monthly(g, &p->ml, &p->ord, &p->nord, d);
  wt_mark(t, WT_MONTHLY);
out:
  cu_free(mt.v);
  bsort_free(&bs);
  cu_free(ents);
  cu_free(dss);
  return rc;
}

static void *pack_main(void *arg) {
  packer *p = arg;
  p->t.w = mono_now();
  custos_rc rc = pack_all(p, &p->d);
  p->cpu = thread_cpu();
  pthread_mutex_lock(&p->mu);
  p->rc = rc;
  p->done = true;
  pthread_cond_signal(&p->cv_ins);
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

/* Stores every rollup of the file under source src in blocks, and the
 * monthly rollups summed from them; the blocks' coverage goes to cl (the
 * caller frees cl->v).  The range check runs first, in the file's order,
 * so the rollup it names is the first too large in the file whatever the
 * storage order. */
static custos_rc write_rollups(ingest *g, int64_t src, cvlist *cl,
                               resprep *rp, wtimer *t, custos_diag *d) {
  if (all_fit(g, d) != CUSTOS_OK)
    return CUSTOS_ETOOBIG;
  if (g->nrollups == 0)
    return CUSTOS_OK;
  /* ins[k] stores k blocks: one statement's cost was more than a
   * block's insert.  Only ins[1] and ins[BLK_BATCH] are made.  OR FAIL,
   * here and in the ledger's other multi-row inserts: with ABORT, SQLite
   * keeps a statement journal for each (in a temporary file once past 64
   * KiB) to undo the statement alone, where any error here rolls back the
   * whole transaction. */
  sqlite3_stmt *ins[BLK_BATCH + 1] = {NULL};
  const char *head_sql = "INSERT OR FAIL INTO usage_blocks(source_id,"
                         " account,"
                         " period, unit, data) VALUES";
  custos_rc rc = prepare_rows_insert(g->ws, head_sql, BLK_COLS, 1, &ins[1], d);
  if (rc == CUSTOS_OK)
    rc = prepare_rows_insert(g->ws, head_sql, BLK_COLS, BLK_BATCH,
                             &ins[BLK_BATCH], d);
  packer *p = rc == CUSTOS_OK ? cu_calloc(1, sizeof *p) : NULL;
  if (!p) {
    sqlite3_finalize(ins[1]);
    sqlite3_finalize(ins[BLK_BATCH]);
    return rc != CUSTOS_OK ? rc : oom(d, g->path);
  }
  p->g = g;
  p->t.on = t->on;
  for (size_t i = 0; i < PACK_SLOTS; i++)
    cu_buf_init(&p->slot[i].blob, (size_t)64 << 20);
  custos_diag_clear(&p->d);
  if (pthread_mutex_init(&p->mu, NULL) != 0) {
    rc = cu_diag_set(d, CUSTOS_ENOMEM, "cannot start the usage packer");
    goto fail_mutex;
  }
  if (pthread_cond_init(&p->cv_ins, NULL) != 0) {
    rc = cu_diag_set(d, CUSTOS_ENOMEM, "cannot start the usage packer");
    goto fail_cond;
  }
  if (pthread_cond_init(&p->cv_pack, NULL) != 0) {
    rc = cu_diag_set(d, CUSTOS_ENOMEM, "cannot start the usage packer");
    goto fail_cond2;
  }
  if (pthread_create(&p->th, NULL, pack_main, p) != 0) {
    rc = cu_diag_set(d, CUSTOS_ENOMEM, "cannot start the usage packer");
    goto fail_thread;
  }
  /* Insert what is packed, up to a run of slots at a time. */
  size_t tail = 0;
  for (;;) {
    pthread_mutex_lock(&p->mu);
    p->tail = tail;
    if (p->pack_waiting) {
      pthread_cond_signal(&p->cv_pack);
      p->pack_waiting = false;
    }
    while (p->head == tail && !p->done) {
      wt_mark(t, WT_INSERT);
      p->ins_waiting = true;
      pthread_cond_wait(&p->cv_ins, &p->mu);
      wt_mark(t, WT_WAIT);
    }
    p->ins_waiting = false;
    size_t head = p->head;
    pthread_mutex_unlock(&p->mu);
    if (head == tail)
      break; /* done, all inserted */
    if (head - tail > PACK_RUN)
      head = tail + PACK_RUN;
    while (tail < head && rc == CUSTOS_OK) {
      size_t k = head - tail >= BLK_BATCH ? BLK_BATCH : 1;
      sqlite3_stmt *st = ins[k];
      for (size_t j = 0; j < k; j++) {
        const pblock *b = &p->slot[(tail + j) % PACK_SLOTS];
        int at = (int)(j * BLK_COLS);
        sqlite3_bind_int64(st, at + 1, src);
        sqlite3_bind_int64(st, at + 2, b->acct);
        sqlite3_bind_int64(st, at + 3, b->period);
        sqlite3_bind_int64(st, at + 4, b->unit);
        sqlite3_bind_blob64(st, at + 5, b->blob.data, b->blob.len,
                            SQLITE_STATIC);
      }
      if (sqlite3_step(st) != SQLITE_DONE)
        rc = cu_ws_dberr(g->ws, "cannot store usage rollups", d);
      sqlite3_reset(st);
      tail += k;
    }
    if (rc != CUSTOS_OK)
      break;
  }
  pthread_mutex_lock(&p->mu);
  p->cancel = rc != CUSTOS_OK;
  pthread_cond_signal(&p->cv_pack);
  pthread_mutex_unlock(&p->mu);
  pthread_join(p->th, NULL);
  wt_mark(t, WT_INSERT);
  if (rc == CUSTOS_OK && p->rc != CUSTOS_OK) {
    rc = p->rc;
    if (d) /* d may be NULL, as everywhere */
      *d = p->d;
  }
  /* The resources' text on a thread of its own from here, beside the
   * monthly rollups' insert: started with the blocks, it took a share of
   * the two cores the packer and the inserting thread kept busy. */
  if (rc == CUSTOS_OK)
    rc = resprep_start(g, rp, d);
  if (rc == CUSTOS_OK)
    rc = write_monthly(g, p->ord, p->nord, src, d);
  wt_mark(t, WT_MONTHLY);
  for (int k = WT_GATHER; k <= WT_MONTHLY; k++)
    if (k != WT_INSERT && k != WT_WAIT)
      t->wall[k] += p->t.wall[k];
  t->packer_cpu = p->cpu;
  *cl = p->cl;
  p->cl = (cvlist){NULL, 0, 0};
fail_thread:
  pthread_cond_destroy(&p->cv_pack);
fail_cond2:
  pthread_cond_destroy(&p->cv_ins);
fail_cond:
  pthread_mutex_destroy(&p->mu);
fail_mutex:
  for (size_t i = 0; i < PACK_SLOTS; i++)
    cu_buf_free(&p->slot[i].blob);
  cu_free(p->ord);
  cu_free(p->ml.v);
  cu_free(p->cl.v);
  cu_free(p);
  sqlite3_finalize(ins[1]);
  sqlite3_finalize(ins[BLK_BATCH]);
  return rc;
}

static custos_rc write_all(ingest *g, cu_source *src,
                           cu_ledger_file_stats *fs, wtimer *t,
                           custos_diag *d) {
  writer w;
  memset(&w, 0, sizeof w);
  resprep rp;
  memset(&rp, 0, sizeof rp);
  custos_rc rc;
  struct {
    sqlite3_stmt **st;
    const char *sql;
  } prep[] = {
      {&w.dim_ins, "INSERT OR IGNORE INTO usage_dims(kind, value, attr1, attr2)"
                   " VALUES(?1,?2,?3,?4)"},
      {&w.dim_get, "SELECT id FROM usage_dims WHERE kind=?1 AND value=?2 AND"
                   " attr1=?3 AND attr2=?4"},
      {&w.res_ins, "INSERT INTO usage_resources(source_id, subscription,"
                   " resource_id, name, type, tags, first_day, last_day, rows)"
                   " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)"},
      {&w.cov_del, "DELETE FROM usage_blocks WHERE account=?1 AND period=?2"
                   " AND source_id=?3"},
      /* The monthly rollups' key begins with unit and month, so they are
       * found by the (unit, month) pairs of the daily rollups of the
       * superseded source; a delete by account, period and source alone
       * would scan the whole table. */
      {&w.cov_mdel, "DELETE FROM usage_monthly WHERE (unit, month) IN"
                    " (SELECT DISTINCT unit, " CU_LEDGER_MONTH_OF_DAY
                    " FROM usage_rollups WHERE account=?1 AND period=?2 AND"
                    " source_id=?3) AND account=?1 AND period=?2 AND"
                    " source_id=?3"},
      {&w.cov_sup, "UPDATE usage_coverage SET superseded_by=?1 WHERE"
                   " source_id=?2 AND account=?3 AND period=?4"},
  };
  for (size_t i = 0; i < CU_ARRAY_LEN(prep); i++) {
    rc = cu_ws_prepare(g->ws, prep[i].sql, prep[i].st, d);
    if (rc != CUSTOS_OK)
      goto out;
  }
  /* Dimension ids, then rollups.  The ids are given in the order a walk
   * of the rollups would meet the values, but through the sets in the
   * order of their first rollups: a set's later rollups add no value,
   * and a walk of a million rollups missed the cache on each. */
  for (dimset *ds = g->dsr_head; ds; ds = ds->ru_next)
    for (int k = 0; k < D_NDIMS; k++) {
      rc = dim_id(g, &w, k, ds->dim[k], d);
      if (rc != CUSTOS_OK)
        goto out;
    }
  wt_mark_cpu(t, WT_DIMS);
  json_t *replaced = json_array();
  if (!replaced) {
    rc = oom(d, g->path);
    goto out;
  }
  /* The rollups first: their blocks give the coverage by account and
   * period, which then supersedes older sources (whose blocks and
   * monthly rollups have other source ids). */
  cvlist cl = {NULL, 0, 0};
  rc = write_rollups(g, src->id, &cl, &rp, t, d);
  /* Without rollups to write, the resources are prepared here. */
  if (rc == CUSTOS_OK && !rp.g)
    rc = resprep_start(g, &rp, d);
  if (t->on) {
    double w0, c0;
    phase_clock(&w0, &c0);
    t->rollups_cpu = c0 - t->c;
    t->c = c0;
  }
  if (rc == CUSTOS_OK)
    rc = write_coverage(g, &w, src->id, &cl, &fs->superseded, replaced, d);
  cu_free(cl.v);
  wt_mark_cpu(t, WT_COVERAGE);
  if (rc != CUSTOS_OK) {
    json_decref(replaced);
    goto out;
  }
  /* Resources, with customer free text through the policy. */
  rc = write_resources(g, &w, &rp, src->id, d);
  t->resources_cpu = rp.cpu;
  if (rc != CUSTOS_OK) {
    json_decref(replaced);
    goto out;
  }
  wt_mark_cpu(t, WT_RESOURCES);
  /* The source's ledger record, its rejects and the event. */
  {
    sqlite3_stmt *st = NULL;
    rc = cu_ws_prepare(g->ws,
                       "INSERT INTO usage_sources(source_id, format, rows,"
                       " rejected, rounded, rollups, resources, first_day,"
                       " last_day, unknown_columns)"
                       " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
                       &st, d);
    if (rc != CUSTOS_OK) {
      json_decref(replaced);
      goto out;
    }
    sqlite3_bind_int64(st, 1, src->id);
    sqlite3_bind_text(st, 2, g->ad.name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, g->rows);
    sqlite3_bind_int64(st, 4, g->rejected);
    sqlite3_bind_int64(st, 5, g->rounded);
    sqlite3_bind_int64(st, 6, g->nrollups);
    sqlite3_bind_int64(st, 7, g->nresources);
    if (g->first_day != INT64_MIN) {
      sqlite3_bind_int64(st, 8, g->first_day);
      sqlite3_bind_int64(st, 9, g->last_day);
    }
    sqlite3_bind_text(st, 10, g->ad.unknown, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step != SQLITE_DONE) {
      json_decref(replaced);
      rc = cu_ws_dberr(g->ws, "cannot store the usage source", d);
      goto out;
    }
  }
  for (size_t i = 0; i < g->nrejects; i++) {
    const reject *r = &g->rejects[i];
    rc = cu_source_reject(g->ws, src->id, r->line, r->col, r->field, r->value,
                          r->reason, d);
    if (rc != CUSTOS_OK) {
      json_decref(replaced);
      goto out;
    }
  }
  json_t *ev = json_pack("{s:I,s:s,s:I,s:I,s:I,s:I,s:o}", "source",
                         (json_int_t)src->id, "format", g->ad.name, "rows",
                         (json_int_t)g->rows, "rejected",
                         (json_int_t)g->rejected, "rollups",
                         (json_int_t)g->nrollups, "superseded",
                         (json_int_t)fs->superseded, "replaced", replaced);
  rc = cu_ws_event_json(g->ws, "usage.ingest", NULL, ev, NULL, d);
  if (rc != CUSTOS_OK)
    goto out;
  src->expected = g->rows;
  src->accepted = g->rows - g->rejected;
  src->rejected = g->rejected;
  rc = cu_source_complete(g->ws, src, d);
  wt_mark_cpu(t, WT_SOURCE);
out:
  resprep_free(&rp);
  writer_free(&w);
  return rc;
}

/* The database's page cache setting, as PRAGMA cache_size gives it
 * (pages, or KiB when negative); SQLite's default when it cannot be read. */
static int64_t get_cache_size(cu_ws *ws) {
  sqlite3_stmt *st = NULL;
  int64_t v = -2000;
  if (cu_ws_prepare(ws, "PRAGMA cache_size", &st, NULL) != CUSTOS_OK)
    return v;
  if (sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

static custos_rc set_cache_size(cu_ws *ws, int64_t v, custos_diag *d) {
  char sql[64];
  snprintf(sql, sizeof sql, "PRAGMA cache_size=%lld", (long long)v);
  return cu_ws_exec(ws, sql, d);
}

/* The WAL hook while committing: notes the frames in the WAL. */
static int wal_frames(void *arg, sqlite3 *db, const char *schema,
                      int frames) {
  (void)db;
  (void)schema;
  *(int *)arg = frames;
  return SQLITE_OK;
}

/* Commits the ingest's transaction, then checkpoints as SQLite's automatic
 * checkpoint would have (PASSIVE, once the WAL holds wal_autocheckpoint
 * frames), but as a step of its own, which the timer can tell apart.  A
 * failed checkpoint is not an error: the WAL keeps the frames, and the
 * next checkpoint copies them. */
static custos_rc commit(cu_ws *ws, wtimer *t, custos_diag *d) {
  sqlite3 *db = cu_ws_db(ws);
  int every = 0, frames = 0;
  sqlite3_stmt *st = NULL;
  if (cu_ws_prepare(ws, "PRAGMA wal_autocheckpoint", &st, NULL) == CUSTOS_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    every = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  sqlite3_wal_hook(db, wal_frames, &frames);
  custos_rc rc = cu_ws_commit(ws, d);
  /* Puts SQLite's own hook back (with every <= 0, none). */
  sqlite3_wal_autocheckpoint(db, every);
  wt_mark_cpu(t, WT_COMMIT);
  if (rc == CUSTOS_OK && every > 0 && frames >= every)
    (void)sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL,
                                    NULL);
  wt_mark_cpu(t, WT_CHECKPOINT);
  return rc;
}

static void show_rejects(const ingest *g) {
  size_t o = 0;
  last_rejects[0] = '\0';
  for (size_t i = 0; i < g->nrejects && i < MAX_SHOW_REJECTS; i++) {
    const reject *r = &g->rejects[i];
    int k = snprintf(last_rejects + o, sizeof last_rejects - o,
                     "%s:%llu:%llu: field '%s' value '%s': %s\n", g->path,
                     (unsigned long long)r->line, (unsigned long long)r->col,
                     r->field, r->value, r->reason);
    if (k < 0 || (size_t)k >= sizeof last_rejects - o)
      break;
    o += (size_t)k;
  }
}

static custos_rc ingest_one(cu_ws *ws, const cu_catalog *cat, const char *path,
                            const cu_ledger_opts *opts,
                            cu_ledger_file_stats *fs, custos_diag *d) {
  ingest g;
  memset(&g, 0, sizeof g);
  g.ws = ws;
  g.cat = cat;
  g.opts = opts;
  g.path = path;
  g.ds_tail = &g.ds_head;
  g.dsr_tail = &g.dsr_head;
  g.res_tail = &g.res_head;
  g.first_day = g.last_day = INT64_MIN;
  g.mo_period = INT64_MIN;
  custos_rc rc = CUSTOS_OK;
  g.rejects = cu_calloc(MAX_KEEP_REJECTS, sizeof *g.rejects);
  g.empty_unit = intern(&g, D_UNIT, "", 0, NULL, NULL);
  if (!g.rejects || !g.empty_unit) {
    rc = oom(d, path);
    goto fail_alloc;
  }
  rc = load_directory(&g, d);
  if (rc != CUSTOS_OK)
    goto fail_alloc;
  rc = read_file(&g, d);
  if (rc != CUSTOS_OK)
    goto fail_alloc;
  snprintf(fs->format, sizeof fs->format, "%s", g.ad.name);
  snprintf(fs->unknown_columns, sizeof fs->unknown_columns, "%s",
           g.ad.unknown);
  fs->rows = g.rows;
  fs->rejected = g.rejected;
  fs->rounded = g.rounded;
  fs->rollups = g.nrollups;
  fs->resources = g.nresources;
  fs->unknown_subscriptions = g.unknown_subs;
  show_rejects(&g);
  if (g.rows == 0 || (double)g.rejected > opts->max_reject_ratio * (double)g.rows) {
    if (g.nrejects) {
      const reject *r = &g.rejects[0];
      cu_diag_at(d, path, r->line, r->col);
      cu_diag_field(d, r->field, r->value, strlen(r->value));
    } else {
      cu_diag_at(d, path, 0, 0);
    }
    cu_diag_hint(d, "%lld of %lld rows rejected (ratio %.6f, at most %g "
                    "allowed; --max-reject-ratio); nothing of this file was "
                    "stored",
                 (long long)g.rejected, (long long)g.rows,
                 g.rows ? (double)g.rejected / (double)g.rows : 0.0,
                 opts->max_reject_ratio);
    rc = cu_diag_set(d, CUSTOS_EREFUSED, "%s",
                     g.rows ? (g.nrejects ? g.rejects[0].reason
                                          : "too many rejected rows")
                            : "file has no rows");
    goto fail_alloc;
  }
  /* The rollups go in as one transaction; with SQLite's default page
   * cache (2 MB) the indexes of a large file spill to the WAL and are read
   * back many times before the commit.  Pages are allocated as used. */
  wtimer t;
  wt_start(&t);
  int64_t cache = get_cache_size(ws);
  rc = set_cache_size(ws, -INGEST_CACHE_KIB, d);
  if (rc != CUSTOS_OK)
    goto fail_alloc;
  rc = cu_ws_begin(ws, d);
  if (rc != CUSTOS_OK)
    goto fail_cache;
  cu_source src;
  int64_t existing = 0;
  if (g.hashed)
    rc = cu_source_register_hashed(ws, CU_CLASS_USAGE, opts->custodian, path,
                                   g.digest, g.size, &src, &existing, d);
  else
    rc = cu_source_register(ws, CU_CLASS_USAGE, opts->custodian, path, &src,
                            &existing, d);
  if (rc == CUSTOS_EEXIST) {
    cu_ws_rollback(ws);
    fs->skipped = true;
    fs->source_id = existing;
    rc = CUSTOS_OK;
    goto fail_cache;
  }
  if (rc != CUSTOS_OK)
    goto fail_tx;
  fs->source_id = src.id;
  fs->bytes = src.size;
  wt_mark_cpu(&t, WT_SOURCE);
  rc = write_all(&g, &src, fs, &t, d);
  if (rc != CUSTOS_OK)
    goto fail_tx;
  rc = commit(ws, &t, d);
  if (rc != CUSTOS_OK)
    goto fail_tx;
  wt_report(&t, path);
  goto fail_cache;
fail_tx:
  cu_ws_rollback(ws);
  fs->source_id = 0;
fail_cache:
  /* Back to the workspace's own size; a failure here changes nothing
   * stored, so it does not override the ingest's result. */
  (void)set_cache_size(ws, cache, NULL);
fail_alloc:
  ht_free(&g.raws);
  ht_free(&g.undated);
  for (dimset *ds = g.ds_head; ds; ds = ds->next)
    cu_free(ds->rus);
  ht_free(&g.dimsets);
  ht_free(&g.strs);
  ht_free(&g.resources);
  ht_free(&g.dirsubs);
  arena_free(&g.ar);
  cu_free(g.wides);
  cu_free(g.rejects);
  return rc;
}

custos_rc cu_ledger_ingest(cu_ws *ws, const char *const *paths, size_t npaths,
                           const cu_ledger_opts *opts,
                           cu_ledger_file_stats *stats, custos_diag *d) {
  if (!ws || !paths || !opts || !opts->custodian || !*opts->custodian)
    return cu_diag_set(d, CUSTOS_EINVAL, "usage ingest needs a custodian");
  if (!(opts->max_reject_ratio >= 0 && opts->max_reject_ratio <= 1))
    return cu_diag_set(d, CUSTOS_EINVAL,
                       "--max-reject-ratio must be between 0 and 1");
  last_rejects[0] = '\0';
  const cu_catalog *cat = NULL;
  custos_rc rc = cu_catalog_get(&cat, d);
  if (rc != CUSTOS_OK)
    return rc;
  rc = cu_catalog_sync(ws, d);
  if (rc != CUSTOS_OK)
    return rc;
  for (size_t i = 0; i < npaths; i++) {
    cu_ledger_file_stats local;
    cu_ledger_file_stats *fs = stats ? &stats[i] : &local;
    memset(fs, 0, sizeof *fs);
    snprintf(fs->path, sizeof fs->path, "%s", paths[i]);
    rc = ingest_one(ws, cat, paths[i], opts, fs, d);
    if (rc != CUSTOS_OK)
      return rc;
  }
  return CUSTOS_OK;
}
