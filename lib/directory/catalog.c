/*
 * The region and service catalogue compiled into the binary from the data folder.
 * Regions resolve from any alias through one hash table; an alias that two
 * regions claim is marked ambiguous and resolves to nothing, so a billing
 * row is never silently put in the wrong country.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/csv.h"
#include "directory.h"

extern const unsigned char cu_data_regions_csv[];
extern const size_t cu_data_regions_csv_len;
extern const unsigned char cu_data_services_csv[];
extern const size_t cu_data_services_csv_len;
extern const unsigned char cu_data_service_names_csv[];
extern const size_t cu_data_service_names_csv_len;

#define AMBIGUOUS ((size_t)-1)

typedef struct alias_slot {
  char *key;    /* normalised alias, NULL when free */
  size_t index; /* region index or AMBIGUOUS */
} alias_slot;

typedef struct cat_pair {
  char *category, *subcategory;
} cat_pair;

typedef struct svc_name {
  char *name;
  size_t cat; /* index into categories */
} svc_name;

struct cu_catalog {
  cu_region *regions;
  size_t nregions, regions_cap;
  alias_slot *slots;
  size_t nslots; /* power of two */
  cat_pair *cats;
  size_t ncats, cats_cap;
  svc_name *services;
  size_t nservices, services_cap;
  char digest[2 * CU_SHA256_LEN + 1];
};

/* Lower case, without spaces and underscores, into out (cap outn). */
static size_t normalise(const char *s, size_t n, char *out, size_t outn) {
  size_t o = 0;
  for (size_t i = 0; i < n && o + 1 < outn; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == ' ' || c == '_' || c == '\t')
      continue;
    out[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
  }
  out[o] = '\0';
  return o;
}

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ULL; /* FNV-1a */
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ULL;
  }
  return h;
}

static custos_rc add_alias(cu_catalog *c, const char *s, size_t n,
                           size_t index) {
  char key[256];
  if (normalise(s, n, key, sizeof key) == 0)
    return CUSTOS_OK;
  size_t mask = c->nslots - 1;
  for (size_t i = hash_str(key) & mask;; i = (i + 1) & mask) {
    alias_slot *sl = &c->slots[i];
    if (!sl->key) {
      sl->key = cu_strdup(key);
      if (!sl->key)
        return CUSTOS_ENOMEM;
      sl->index = index;
      return CUSTOS_OK;
    }
    if (strcmp(sl->key, key) == 0) {
      if (sl->index != index)
        sl->index = AMBIGUOUS;
      return CUSTOS_OK;
    }
  }
}

static custos_rc catalog_error(custos_diag *d, cu_csv *csv, const char *msg) {
  cu_diag_at(d, cu_csv_name(csv), cu_csv_line(csv), 0);
  return cu_diag_set(d, CUSTOS_EPARSE, "catalogue: %s", msg);
}

typedef custos_rc (*row_fn)(cu_catalog *c, cu_csv *csv, size_t i,
                            custos_diag *d);

/*
 * Reads one embedded CSV file: checks its header against want, then calls
 * fn for every data row (numbered from 0), which has exactly nwant fields.
 */
static custos_rc each_row(const char *name, const unsigned char *data,
                          size_t len, const char *const *want, size_t nwant,
                          row_fn fn, cu_catalog *c, custos_diag *d) {
  cu_csv *csv = NULL;
  custos_rc rc = cu_csv_open_mem(name, data, len, NULL, &csv, d);
  if (rc != CUSTOS_OK)
    return rc;
  bool eof = false;
  rc = cu_csv_next(csv, &eof, d);
  if (rc == CUSTOS_OK && (eof || cu_csv_nfields(csv) != nwant))
    rc = catalog_error(d, csv, "unexpected header");
  for (size_t i = 0; rc == CUSTOS_OK && i < nwant; i++)
    if (strcmp(cu_csv_field(csv, i, NULL), want[i]) != 0)
      rc = catalog_error(d, csv, "unexpected header");
  for (size_t i = 0; rc == CUSTOS_OK; i++) {
    rc = cu_csv_next(csv, &eof, d);
    if (rc != CUSTOS_OK || eof)
      break;
    if (cu_csv_nfields(csv) != nwant)
      rc = catalog_error(d, csv, "wrong number of fields");
    else
      rc = fn(c, csv, i, d);
  }
  cu_csv_close(csv);
  return rc;
}

static const char *const region_hdr[] = {"region_id", "provider",
                                         "display_name", "country", "aliases"};

static custos_rc region_row(cu_catalog *c, cu_csv *csv, size_t i,
                            custos_diag *d) {
  (void)i;
  cu_region *p = cu_grow(c->regions, &c->regions_cap, c->nregions, sizeof *p);
  if (!p)
    return CUSTOS_ENOMEM;
  c->regions = p;
  cu_region *r = &c->regions[c->nregions];
  memset(r, 0, sizeof *r);
  const char *id = cu_csv_field(csv, 0, NULL);
  const char *colon = strchr(id, ':');
  const char *country = cu_csv_field(csv, 3, NULL);
  if (!colon || strlen(country) != 2)
    return catalog_error(d, csv, "bad region id or country");
  r->id = cu_strdup(id);
  r->provider = cu_strdup(cu_csv_field(csv, 1, NULL));
  r->native = cu_strdup(colon + 1);
  r->display_name = cu_strdup(cu_csv_field(csv, 2, NULL));
  memcpy(r->country, country, 3);
  c->nregions++;
  if (!r->id || !r->provider || !r->native || !r->display_name)
    return CUSTOS_ENOMEM;
  return CUSTOS_OK;
}

/* Second pass over regions.csv: every alias of region i. */
static custos_rc alias_row(cu_catalog *c, cu_csv *csv, size_t i,
                           custos_diag *d) {
  (void)d;
  if (NEVER(i >= c->nregions))
    return CUSTOS_EINTERNAL;
  const cu_region *r = &c->regions[i];
  custos_rc rc = add_alias(c, r->native, strlen(r->native), i);
  if (rc == CUSTOS_OK)
    rc = add_alias(c, r->display_name, strlen(r->display_name), i);
  size_t alen;
  const char *a = cu_csv_field(csv, 4, &alen);
  while (rc == CUSTOS_OK && alen > 0) {
    const char *bar = memchr(a, '|', alen);
    size_t k = bar ? (size_t)(bar - a) : alen;
    rc = add_alias(c, a, k, i);
    if (!bar)
      break;
    a = bar + 1;
    alen -= k + 1;
  }
  return rc;
}

static custos_rc load_regions(cu_catalog *c, custos_diag *d) {
  custos_rc rc = each_row("data/regions.csv", cu_data_regions_csv,
                          cu_data_regions_csv_len, region_hdr, 5, region_row,
                          c, d);
  if (rc != CUSTOS_OK)
    return rc;
  size_t want = 16;
  while (want < c->nregions * 16)
    want *= 2;
  c->slots = cu_calloc(want, sizeof *c->slots);
  if (!c->slots)
    return CUSTOS_ENOMEM;
  c->nslots = want;
  /* Canonical ids first: they never collide, by construction. */
  for (size_t i = 0; i < c->nregions; i++) {
    rc = add_alias(c, c->regions[i].id, strlen(c->regions[i].id), i);
    if (rc != CUSTOS_OK)
      return rc;
  }
  return each_row("data/regions.csv", cu_data_regions_csv,
                  cu_data_regions_csv_len, region_hdr, 5, alias_row, c, d);
}

static custos_rc category_row(cu_catalog *c, cu_csv *csv, size_t i,
                              custos_diag *d) {
  (void)i;
  (void)d;
  cat_pair *p = cu_grow(c->cats, &c->cats_cap, c->ncats, sizeof *p);
  if (!p)
    return CUSTOS_ENOMEM;
  c->cats = p;
  cat_pair *k = &c->cats[c->ncats++];
  k->category = cu_strdup(cu_csv_field(csv, 0, NULL));
  k->subcategory = cu_strdup(cu_csv_field(csv, 1, NULL));
  return k->category && k->subcategory ? CUSTOS_OK : CUSTOS_ENOMEM;
}

static size_t find_category(const cu_catalog *c, const char *cat,
                            const char *sub) {
  for (size_t i = 0; i < c->ncats; i++)
    if (strcmp(c->cats[i].category, cat) == 0 &&
        (!sub || strcmp(c->cats[i].subcategory, sub) == 0))
      return i;
  return AMBIGUOUS;
}

static custos_rc service_row(cu_catalog *c, cu_csv *csv, size_t i,
                             custos_diag *d) {
  (void)i;
  size_t k = find_category(c, cu_csv_field(csv, 2, NULL),
                           cu_csv_field(csv, 3, NULL));
  if (k == AMBIGUOUS)
    return catalog_error(d, csv, "service name with an unknown category");
  svc_name *p = cu_grow(c->services, &c->services_cap, c->nservices, sizeof *p);
  if (!p)
    return CUSTOS_ENOMEM;
  c->services = p;
  svc_name *s = &c->services[c->nservices++];
  s->name = cu_strdup(cu_csv_field(csv, 0, NULL));
  s->cat = k;
  return s->name ? CUSTOS_OK : CUSTOS_ENOMEM;
}

static custos_rc load_categories(cu_catalog *c, custos_diag *d) {
  static const char *const cat_hdr[] = {"category", "subcategory",
                                        "description"};
  static const char *const svc_hdr[] = {"service_name", "provider",
                                        "category", "subcategory"};
  custos_rc rc = each_row("data/services.csv", cu_data_services_csv,
                          cu_data_services_csv_len, cat_hdr, 3, category_row,
                          c, d);
  if (rc != CUSTOS_OK)
    return rc;
  return each_row("data/service_names.csv", cu_data_service_names_csv,
                  cu_data_service_names_csv_len, svc_hdr, 4, service_row, c,
                  d);
}

static cu_catalog *the_catalog;
static pthread_mutex_t catalog_lock = PTHREAD_MUTEX_INITIALIZER;

custos_rc cu_catalog_get(const cu_catalog **out, custos_diag *d) {
  pthread_mutex_lock(&catalog_lock);
  if (the_catalog) {
    *out = the_catalog;
    pthread_mutex_unlock(&catalog_lock);
    return CUSTOS_OK;
  }
  /* Partly built catalogues are deliberately leaked on failure: the
   * process is about to report the error and exit, and a half-built
   * catalogue is never published. */
  cu_catalog *c = cu_calloc(1, sizeof *c);
  custos_rc rc = c ? CUSTOS_OK : CUSTOS_ENOMEM;
  if (rc == CUSTOS_OK)
    rc = load_regions(c, d);
  if (rc == CUSTOS_OK)
    rc = load_categories(c, d);
  if (rc == CUSTOS_OK) {
    cu_sha256_ctx *h = NULL;
    rc = cu_sha256_init(&h);
    if (rc == CUSTOS_OK) {
      uint8_t dg[CU_SHA256_LEN];
      cu_sha256_update(h, cu_data_regions_csv, cu_data_regions_csv_len);
      cu_sha256_update(h, cu_data_services_csv, cu_data_services_csv_len);
      cu_sha256_final(h, dg);
      cu_hex_encode(dg, CU_SHA256_LEN, c->digest);
    }
  }
  if (rc != CUSTOS_OK) {
    pthread_mutex_unlock(&catalog_lock);
    if (rc == CUSTOS_ENOMEM)
      cu_diag_set(d, rc, "out of memory loading the region catalogue");
    return rc;
  }
  the_catalog = c;
  *out = c;
  pthread_mutex_unlock(&catalog_lock);
  return CUSTOS_OK;
}

const cu_region *cu_catalog_region(const cu_catalog *c, const char *s,
                                   size_t n) {
  char key[256];
  if (n >= sizeof key || normalise(s, n, key, sizeof key) == 0)
    return NULL;
  size_t mask = c->nslots - 1;
  for (size_t i = hash_str(key) & mask;; i = (i + 1) & mask) {
    const alias_slot *sl = &c->slots[i];
    if (!sl->key)
      return NULL;
    if (strcmp(sl->key, key) == 0)
      return sl->index == AMBIGUOUS ? NULL : &c->regions[sl->index];
  }
}

size_t cu_catalog_nregions(const cu_catalog *c) { return c->nregions; }

const cu_region *cu_catalog_region_at(const cu_catalog *c, size_t i) {
  return i < c->nregions ? &c->regions[i] : NULL;
}

bool cu_catalog_category_valid(const cu_catalog *c, const char *category,
                               const char *subcategory) {
  return find_category(c, category, subcategory) != AMBIGUOUS;
}

bool cu_catalog_service(const cu_catalog *c, const char *service_name,
                        const char **category, const char **subcategory) {
  for (size_t i = 0; i < c->nservices; i++) {
    if (strcmp(c->services[i].name, service_name) == 0) {
      *category = c->cats[c->services[i].cat].category;
      *subcategory = c->cats[c->services[i].cat].subcategory;
      return true;
    }
  }
  return false;
}

size_t cu_catalog_ncategories(const cu_catalog *c) { return c->ncats; }

void cu_catalog_category_at(const cu_catalog *c, size_t i,
                            const char **category, const char **subcategory) {
  *category = c->cats[i].category;
  *subcategory = c->cats[i].subcategory;
}

custos_rc cu_catalog_sync(cu_ws *ws, custos_diag *d) {
  const cu_catalog *c = NULL;
  custos_rc rc = cu_catalog_get(&c, d);
  if (rc != CUSTOS_OK)
    return rc;
  char have[2 * CU_SHA256_LEN + 1];
  bool found = false;
  rc = cu_ws_meta_get(ws, "catalog.sha256", have, sizeof have, &found, d);
  if (rc != CUSTOS_OK)
    return rc;
  if (found && strcmp(have, c->digest) == 0)
    return CUSTOS_OK;

  rc = cu_ws_begin(ws, d);
  if (rc != CUSTOS_OK)
    return rc;
  rc = cu_ws_exec(ws, "DELETE FROM region_aliases; DELETE FROM regions;", d);
  sqlite3_stmt *ins = NULL, *al = NULL;
  if (rc == CUSTOS_OK)
    rc = cu_ws_prepare(ws,
                       "INSERT INTO regions(id, provider, native,"
                       " display_name, country) VALUES(?1,?2,?3,?4,?5)",
                       &ins, d);
  if (rc == CUSTOS_OK)
    rc = cu_ws_prepare(ws,
                       "INSERT INTO region_aliases(alias, region_id)"
                       " VALUES(?1,?2)",
                       &al, d);
  for (size_t i = 0; rc == CUSTOS_OK && i < c->nregions; i++) {
    const cu_region *r = &c->regions[i];
    sqlite3_reset(ins);
    sqlite3_bind_text(ins, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(ins, 2, r->provider, -1, SQLITE_STATIC);
    sqlite3_bind_text(ins, 3, r->native, -1, SQLITE_STATIC);
    sqlite3_bind_text(ins, 4, r->display_name, -1, SQLITE_STATIC);
    sqlite3_bind_text(ins, 5, r->country, -1, SQLITE_STATIC);
    if (sqlite3_step(ins) != SQLITE_DONE)
      rc = cu_ws_dberr(ws, "cannot store region", d);
  }
  for (size_t i = 0; rc == CUSTOS_OK && i < c->nslots; i++) {
    const alias_slot *sl = &c->slots[i];
    if (!sl->key || sl->index == AMBIGUOUS)
      continue;
    sqlite3_reset(al);
    sqlite3_bind_text(al, 1, sl->key, -1, SQLITE_STATIC);
    sqlite3_bind_text(al, 2, c->regions[sl->index].id, -1, SQLITE_STATIC);
    if (sqlite3_step(al) != SQLITE_DONE)
      rc = cu_ws_dberr(ws, "cannot store region alias", d);
  }
  sqlite3_finalize(ins);
  sqlite3_finalize(al);
  if (rc == CUSTOS_OK)
    rc = cu_ws_meta_set(ws, "catalog.sha256", c->digest, d);
  if (rc == CUSTOS_OK)
    rc = cu_ws_event_json(ws, "catalog.sync", NULL,
                          json_pack("{s:s,s:I}", "sha256", c->digest,
                                    "regions", (json_int_t)c->nregions),
                          NULL, d);
  if (rc != CUSTOS_OK) {
    cu_ws_rollback(ws);
    return rc;
  }
  return cu_ws_commit(ws, d);
}
