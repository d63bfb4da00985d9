/*
 * gen/world: the fictional provider's customers.  Builds the accounts,
 * subscriptions and usage series once (memory grows with accounts, never
 * with rows) and derives units, quantities and names from the seed on
 * demand.  Account 0 is the demo story's ministry; the next few are its
 * peers, other government customers with large storage.
 */
#include <stdio.h>
#include <string.h>

#include "gen/genInt.h"

/* ---- dates ------------------------------------------------------------- */

void cu_gen_civil(int32_t days, int *y, int *m, int *dd) {
  int64_t z = (int64_t)days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = (unsigned)(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *dd = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = (int)((int64_t)yoe + era * 400 + (*m <= 2));
}

int cu_gen_days_in_month(int y, int m) {
  static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
    return 29;
  return dim[m - 1];
}

static int32_t civil_days(int y, int m, int d) {
  return (int32_t)cu_days_from_civil(y, (unsigned)m, (unsigned)d);
}

/* ---- names --------------------------------------------------------------- */

static const char *const syll_a[] = {"Kor", "Val", "Bren", "Ost", "Mar",
                                     "Tel", "Dun", "Sar", "Qui", "Hal",
                                     "Ver", "Lum", "Cas", "Ner", "Pol",
                                     "Zan", "Ard", "Fel", "Gor", "Isk"};
static const char *const syll_b[] = {"ath", "ora", "enix", "ivo", "anta",
                                     "ex",  "orin", "is", "ada", "une",
                                     "ith", "ova", "ar", "emis", "ulon"};
static const char *const biz_word[] = {
    "Logistics", "Analytics",  "Health",    "Bank",      "Retail",
    "Energy",    "Media",      "Systems",   "Insurance", "Foods",
    "Telecom",   "Robotics",   "Pharma",    "Software",  "Mobility",
    "Shipping",  "Games",      "Capital",   "Labs",      "Networks"};
static const char *const biz_suffix[] = {"Ltd", "AG", "SA", "plc", "Group",
                                         "Holdings", "Cooperative", "GmbH"};
static const char *const ministries[] = {
    "Finance", "Health", "Transport", "Education", "Justice",
    "Agriculture", "the Interior", "Foreign Affairs", "Labour", "Culture"};
static const char *const agencies[] = {
    "Tax Authority", "Statistics Office", "Land Registry",
    "Meteorological Service", "Social Insurance Agency", "Customs Service",
    "Road Authority", "Patent Office"};
static const char *const unit_names[] = {
    "Finance",        "IT Operations",     "Research",      "Logistics",
    "Customer Services", "Procurement",    "Human Resources", "Data Platform",
    "Regional Office North", "Regional Office South", "Legal", "Marketing",
    "Security Office", "Analytics",        "Field Operations", "Web Services"};
static const char *const sub_purpose[] = {
    "web", "data", "erp", "analytics", "backup", "ml", "portal",
    "archive", "crm", "iot", "payments", "search", "media", "dev"};
static const char *const sub_env[] = {"prod", "prod", "test", "dev", "shared"};

/* Sector weights for ordinary accounts, same order as cu_gen_sectors. */
static const unsigned sector_weight[] = {8, 2, 10, 15, 15, 10, 8, 8, 20, 4};

static unsigned pick_weighted(cu_gen_rng *r, const unsigned *wt, size_t n) {
  unsigned total = 0;
  for (size_t i = 0; i < n; i++)
    total += wt[i];
  unsigned x = cu_gen_rng_below(r, total);
  for (size_t i = 0; i < n; i++) {
    if (x < wt[i])
      return (unsigned)i;
    x -= wt[i];
  }
  return (unsigned)(n - 1);
}

static void slugify(const char *s, char *out, size_t n, size_t maxlen) {
  size_t k = 0;
  bool dash = false;
  for (; *s && k + 1 < n && k < maxlen; s++) {
    char c = *s;
    if (c >= 'A' && c <= 'Z')
      c = (char)(c - 'A' + 'a');
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      if (dash && k > 0)
        out[k++] = '-';
      dash = false;
      if (k + 1 < n)
        out[k++] = c;
    } else {
      dash = true;
    }
  }
  out[k] = '\0';
}

static void ordinary_name(cu_gen_rng *r, cu_gen_account *a) {
  const cu_gen_country *c = &cu_gen_countries[a->country];
  const char *sector = cu_gen_sectors[a->sector];
  if (strcmp(sector, "government") == 0) {
    if (cu_gen_rng_below(r, 2))
      snprintf(a->name, sizeof a->name, "Ministry of %s of %s",
               CU_GEN_PICK(r, ministries), c->name);
    else
      snprintf(a->name, sizeof a->name, "%s %s", c->adj,
               CU_GEN_PICK(r, agencies));
  } else if (strcmp(sector, "defence") == 0) {
    static const char *const def[] = {"Defence Procurement Agency",
                                      "Coast Guard", "Military Academy",
                                      "Defence Research Institute"};
    snprintf(a->name, sizeof a->name, "%s %s", c->adj, CU_GEN_PICK(r, def));
  } else if (strcmp(sector, "education") == 0) {
    snprintf(a->name, sizeof a->name, "University of %s%s",
             CU_GEN_PICK(r, syll_a), CU_GEN_PICK(r, syll_b));
  } else if (strcmp(sector, "health") == 0 && cu_gen_rng_below(r, 2)) {
    snprintf(a->name, sizeof a->name, "%s%s General Hospital",
             CU_GEN_PICK(r, syll_a), CU_GEN_PICK(r, syll_b));
  } else {
    snprintf(a->name, sizeof a->name, "%s%s %s %s", CU_GEN_PICK(r, syll_a),
             CU_GEN_PICK(r, syll_b), CU_GEN_PICK(r, biz_word),
             CU_GEN_PICK(r, biz_suffix));
  }
}

/* ---- units ----------------------------------------------------------------- */

void cu_gen_unit(const cu_gen_world *w, size_t a, unsigned k, char *id,
                 size_t idn, char *name, size_t namen, int *parent) {
  const cu_gen_account *ac = &w->acc[a];
  if (ac->role == GEN_ROLE_DEMO) {
    static const char *const ids[] = {CU_GEN_DEMO_UNIT_HQ, CU_GEN_DEMO_UNIT_SIG,
                                      CU_GEN_DEMO_UNIT_CYB};
    static const char *const names[] = {"Ministry Headquarters",
                                        "Signals Directorate (Unit 8400)",
                                        "Cyber Defence Command"};
    snprintf(id, idn, "%s", ids[k]);
    snprintf(name, namen, "%s", names[k]);
    *parent = k == 0 ? -1 : 0;
    return;
  }
  snprintf(id, idn, "%s-u%u", ac->id, k);
  if (k == 0) {
    snprintf(name, namen, "%s", ac->role == GEN_ROLE_PEER ? "Central Office"
                                                         : "Headquarters");
    *parent = -1;
    return;
  }
  uint64_t h = cu_gen_hash(w->seed, GEN_S_WORLD, a, 1000 + k);
  snprintf(name, namen, "%s", unit_names[h % CU_ARRAY_LEN(unit_names)]);
  *parent = (int)((h >> 20) % k);
}

/* ---- the story ------------------------------------------------------------ */

typedef struct demo_sub {
  const char *id, *name, *region;
  unsigned unit;
  int y, m, d;
} demo_sub;

static const demo_sub demo_subs[] = {
    {CU_GEN_DEMO_SUB_HQ, "arv-hq-corporate", "westeurope", 0, 2022, 6, 14},
    {CU_GEN_DEMO_SUB_SIG1, "sig-archive-prod", "westeurope", 1, 2024, 2, 12},
    {CU_GEN_DEMO_SUB_SIG2, "sig-archive-02", "westeurope", 1, 2024, 8, 20},
    {CU_GEN_DEMO_SUB_SIG3, "sig-processing", "westeurope", 1, 2024, 2, 26},
    {CU_GEN_DEMO_SUB_CYB1, "cyb-soc-prod", "northeurope", 2, 2023, 5, 10},
    {CU_GEN_DEMO_SUB_CYB2, "cyb-lab", "westeurope", 2, 2023, 11, 2},
};

typedef struct demo_series {
  unsigned sub; /* index into demo_subs */
  const char *meter, *region;
  int start_y, start_m; /* first month of use */
  int64_t q0;
  int32_t growth, noise;
} demo_series;

/* The signals unit's storage grows from tens of TB to several PB; speech
 * and translation grow with it; the cyber unit is steady. */
static const demo_series demo_ser[] = {
    {0, "D4s v5", "westeurope", 2024, 3, 240, 5, 20},
    {0, "vCore", "westeurope", 2024, 3, 192, 0, 10},
    {1, "Hot LRS Data Stored", "westeurope", 2024, 3, 30000, 300, 4},
    {2, "Hot LRS Data Stored", "westeurope", 2024, 9, 200000, 280, 4},
    {3, "Speech to Text Standard Audio", "westeurope", 2024, 3, 500, 120, 40},
    {3, "Text Translation Standard Characters", "westeurope", 2024, 3,
     40000000, 120, 40},
    {4, "Defender for Servers Plan 2 Node", "northeurope", 2024, 3, 2880, 10,
     10},
    {4, "Analytics Logs Ingestion", "northeurope", 2024, 3, 80, 15, 60},
    {4, "Analytics Logs Ingestion", "westeurope", 2025, 1, 40, 10, 60},
    {5, "D4s v5", "westeurope", 2024, 3, 384, 5, 20},
    {5, "Defender for Servers Plan 2 Node", "westeurope", 2024, 3, 384, 5,
     10},
};

typedef struct peer_def {
  const char *code, *sector, *pattern, *region;
  int64_t q0;
  int32_t growth;
  bool speech;
} peer_def;

/* Other government customers with large storage, so a screening for large
 * storage never points at one customer only. */
static const peer_def peers[] = {
    {"XV", "government", "Ministry of the Interior of %s", "westeurope",
     400000, 40, false},
    {"QQ", "defence", "Ministry of Defence of %s", "swedencentral", 900000,
     20, false},
    {"XD", "government", "Public Broadcasting Authority of %s", "westeurope",
     250000, 30, true},
    {"QT", "government", "National Archives of %s", "northeurope", 1200000,
     15, false},
    {"XH", "government", "Ministry of Health of %s", "germanywestcentral",
     300000, 35, false},
    {"QR", "defence", "Ministry of Defence of %s", "uksouth", 600000, 25,
     false},
    {"XK", "government", "Census Bureau of %s", "francecentral", 350000, 10,
     false},
    {"XS", "government", "Ministry of Justice of %s", "westeurope", 200000,
     45, false},
};

static int country_index(const char *code) {
  for (size_t i = 0; i < cu_gen_ncountries; i++)
    if (strcmp(cu_gen_countries[i].code, code) == 0)
      return (int)i;
  return 0;
}

static int sector_index(const char *name) {
  for (size_t i = 0; i < cu_gen_nsectors; i++)
    if (strcmp(cu_gen_sectors[i], name) == 0)
      return (int)i;
  return 0;
}

static void make_guid(uint64_t seed, uint64_t a, uint64_t b, char *out,
                      size_t n) {
  uint64_t h1 = cu_gen_hash(seed, GEN_S_WORLD, a, b);
  uint64_t h2 = cu_gen_mix(h1 ^ 0x6775696400ULL);
  snprintf(out, n, "%08x-%04x-4%03x-%x%03x-%012llx", (unsigned)(h1 >> 32),
           (unsigned)((h1 >> 16) & 0xffff), (unsigned)(h1 & 0xfff),
           (unsigned)(8 + ((h2 >> 60) & 3)), (unsigned)((h2 >> 48) & 0xfff),
           (unsigned long long)(h2 & 0xffffffffffffULL));
}

/* Meter weights for ordinary customers, same order as cu_gen_meters. */
static const unsigned meter_weight[] = {14, 6, 6, 4, 8, 2, 2, 4, 4, 2,
                                        4,  14, 4, 4, 8, 4, 6, 3, 3, 4};

static int64_t pick_quantity(cu_gen_rng *r, const cu_gen_meter *m) {
  /* Spread over orders of magnitude: most customers are small. */
  int64_t lo = m->qlo, hi = m->qhi;
  unsigned steps = cu_gen_rng_below(r, 4);
  int64_t top = lo;
  for (unsigned i = 0; i <= steps && top < hi; i++)
    top = top * 10 > hi ? hi : top * 10;
  return cu_gen_rng_range(r, lo, top);
}

static void add_series(cu_gen_world *w, uint32_t sub, int meter, int region,
                       unsigned res, int start, int end, int64_t q0,
                       int32_t growth, int32_t noise) {
  cu_gen_series *s = &w->ser[w->nser++];
  s->sub = sub;
  s->meter = (uint16_t)meter;
  s->region = (uint8_t)region;
  s->res = (uint8_t)res;
  s->start = (uint16_t)start;
  s->end = (uint16_t)end;
  s->q0 = q0;
  s->growth = growth;
  s->noise = noise;
}

static uint64_t fixed_rows(const cu_gen_world *w) {
  uint64_t n = 0;
  for (size_t i = 0; i < w->nser; i++)
    n += (uint64_t)(w->ser[i].end - w->ser[i].start);
  return n;
}

custos_rc cu_gen_world_build(cu_gen_world *w, uint64_t seed, uint64_t rows,
                             bool dirty, custos_diag *d) {
  memset(w, 0, sizeof *w);
  w->seed = seed;
  w->rows = rows;
  w->dirty = dirty;
  w->day0 = civil_days(CU_GEN_FIRST_YEAR, CU_GEN_FIRST_MONTH, 1);
  {
    int y = CU_GEN_FIRST_YEAR, m = CU_GEN_FIRST_MONTH + CU_GEN_MONTHS;
    y += (m - 1) / 12;
    m = (m - 1) % 12 + 1;
    w->ndays = (int)(civil_days(y, m, 1) - w->day0);
  }
  size_t npeers = 4 + (size_t)(rows / 2000000);
  if (npeers > CU_ARRAY_LEN(peers))
    npeers = CU_ARRAY_LEN(peers);
  size_t nacc = 1990 + (size_t)(rows / 2000);
  w->acc = cu_calloc(nacc, sizeof *w->acc);
  if (!w->acc)
    goto fail_oom;
  w->nacc = nacc;

  /* Accounts and their subscription counts. */
  cu_gen_rng r;
  cu_gen_rng_init(&r, seed, GEN_S_WORLD);
  size_t nsub = 0;
  for (size_t a = 0; a < nacc; a++) {
    cu_gen_account *ac = &w->acc[a];
    if (a == 0) {
      ac->role = GEN_ROLE_DEMO;
      snprintf(ac->id, sizeof ac->id, "%s", CU_GEN_DEMO_ACCOUNT);
      snprintf(ac->name, sizeof ac->name, "%s",
               "Ministry of Defence of the Republic of Arvelia");
      snprintf(ac->domain, sizeof ac->domain, "mod.arvelia.example");
      ac->country = (uint16_t)country_index(CU_GEN_DEMO_COUNTRY);
      ac->sector = (uint8_t)sector_index("defence");
      ac->nunits = 3;
      ac->nsubs = (uint8_t)CU_ARRAY_LEN(demo_subs);
      ac->discount = 18;
    } else if (a <= npeers) {
      const peer_def *p = &peers[a - 1];
      ac->role = GEN_ROLE_PEER;
      snprintf(ac->id, sizeof ac->id, "acct-%06u", (unsigned)a);
      ac->country = (uint16_t)country_index(p->code);
      ac->sector = (uint8_t)sector_index(p->sector);
      snprintf(ac->name, sizeof ac->name, p->pattern,
               cu_gen_countries[ac->country].name);
      char slug[40];
      slugify(ac->name, slug, sizeof slug, 28);
      snprintf(ac->domain, sizeof ac->domain, "%s.example", slug);
      ac->nunits = 3;
      ac->nsubs = 2;
      ac->discount = 15;
    } else {
      ac->role = GEN_ROLE_ORDINARY;
      snprintf(ac->id, sizeof ac->id, "acct-%06u", (unsigned)a);
      /* Skip Arvelia for ordinary customers now and then, not always:
       * Arvelian companies exist too. */
      ac->country = (uint16_t)cu_gen_rng_below(&r, (uint32_t)cu_gen_ncountries);
      ac->sector = (uint8_t)pick_weighted(&r, sector_weight,
                                          CU_ARRAY_LEN(sector_weight));
      ordinary_name(&r, ac);
      char slug[40];
      slugify(ac->name, slug, sizeof slug, 24);
      snprintf(ac->domain, sizeof ac->domain, "%s-%u.example", slug, (unsigned)a);
      ac->nunits = (uint8_t)(1 + cu_gen_rng_below(&r, 5));
      ac->nsubs = (uint8_t)(1 + cu_gen_rng_below(&r, 4));
      ac->discount = (uint8_t)cu_gen_rng_below(&r, 4) * 5;
    }
    ac->first_sub = (uint32_t)nsub;
    nsub += ac->nsubs;
  }

  w->sub = cu_calloc(nsub, sizeof *w->sub);
  if (!w->sub)
    goto fail_oom;
  w->nsub = nsub;
  int32_t created_lo = civil_days(2018, 1, 1);
  int32_t created_hi = civil_days(2024, 2, 28);
  for (size_t a = 0; a < nacc; a++) {
    const cu_gen_account *ac = &w->acc[a];
    /* A home region per account: customers cluster. */
    int home = (int)(cu_gen_hash(seed, GEN_S_WORLD, a, 7) % cu_gen_nregions);
    for (unsigned k = 0; k < ac->nsubs; k++) {
      cu_gen_sub *s = &w->sub[ac->first_sub + k];
      s->account = (uint32_t)a;
      if (ac->role == GEN_ROLE_DEMO) {
        const demo_sub *ds = &demo_subs[k];
        snprintf(s->id, sizeof s->id, "%s", ds->id);
        snprintf(s->name, sizeof s->name, "%s", ds->name);
        s->unit = (uint8_t)ds->unit;
        s->region = (uint8_t)cu_gen_region_index(ds->region);
        s->created = civil_days(ds->y, ds->m, ds->d);
        continue;
      }
      make_guid(seed, a, k, s->id, sizeof s->id);
      if (ac->role == GEN_ROLE_PEER) {
        s->unit = (uint8_t)(1 + k);
        s->region = (uint8_t)cu_gen_region_index(peers[a - 1].region);
        snprintf(s->name, sizeof s->name, "%s", k ? "records-archive"
                                                   : "case-management");
        s->created = civil_days(2021, 1 + (int)(a % 12), 1 + (int)k);
        continue;
      }
      s->unit = (uint8_t)cu_gen_rng_below(&r, ac->nunits);
      s->region = (uint8_t)(cu_gen_rng_below(&r, 100) < 80
                                ? home
                                : (int)cu_gen_rng_below(
                                      &r, (uint32_t)cu_gen_nregions));
      snprintf(s->name, sizeof s->name, "%s-%s", CU_GEN_PICK(&r, sub_purpose),
               CU_GEN_PICK(&r, sub_env));
      s->created = (int32_t)cu_gen_rng_range(&r, created_lo, created_hi);
    }
  }

  /* Usage series: the story, the peers, then ordinary customers sized so
   * the total comes to exactly `rows`. */
  size_t nord_acc = nacc - 1 - npeers;
  size_t cap_ser = CU_ARRAY_LEN(demo_ser) + 2 * npeers + nord_acc +
                   (size_t)(rows / 300) + 16;
  w->ser = cu_calloc(cap_ser, sizeof *w->ser);
  if (!w->ser)
    goto fail_oom;
  for (size_t i = 0; i < CU_ARRAY_LEN(demo_ser); i++) {
    const demo_series *ds = &demo_ser[i];
    int start = (int)(civil_days(ds->start_y, ds->start_m, 1) - w->day0);
    add_series(w, w->acc[0].first_sub + ds->sub, cu_gen_meter_index(ds->meter),
               cu_gen_region_index(ds->region), (unsigned)i, start, w->ndays,
               ds->q0, ds->growth, ds->noise);
  }
  int hot = cu_gen_meter_index("Hot LRS Data Stored");
  int cool = cu_gen_meter_index("Cool LRS Data Stored");
  int speech = cu_gen_meter_index("Speech to Text Standard Audio");
  for (size_t p = 0; p < npeers; p++) {
    const cu_gen_account *ac = &w->acc[1 + p];
    const cu_gen_sub *s = &w->sub[ac->first_sub + 1];
    add_series(w, ac->first_sub + 1, p % 2 ? cool : hot, s->region, 0, 0,
               w->ndays, peers[p].q0, peers[p].growth, 4);
    if (peers[p].speech)
      add_series(w, ac->first_sub, speech, s->region, 1, 0, w->ndays, 60, 20,
                 50);
  }
  uint64_t fixed = fixed_rows(w);
  if (fixed > rows) {
    cu_gen_world_free(w);
    return cu_diag_set(d, CUSTOS_EINVAL,
                       "scale of %llu usage rows is below the %llu rows of "
                       "the demo story",
                       (unsigned long long)rows, (unsigned long long)fixed);
  }
  uint64_t budget = rows - fixed;
  uint64_t nser = nord_acc;
  if (budget / 300 > nser)
    nser = budget / 300;
  if (nser > budget)
    nser = budget;
  if (nser + w->nser > cap_ser)
    nser = cap_ser - w->nser;
  cu_gen_rng_init(&r, seed, GEN_S_SERIES);
  uint64_t mean = nser ? budget / nser : 0, sum = 0;
  size_t first_ord = w->nser;
  for (uint64_t j = 0; j < nser; j++) {
    /* Every ordinary account gets at least one series when there are
     * enough; the rest go to random accounts. */
    size_t a = 1 + npeers +
               (size_t)(j < nord_acc ? j : cu_gen_rng_below(&r, (uint32_t)nord_acc));
    const cu_gen_account *ac = &w->acc[a];
    uint32_t sub = ac->first_sub + cu_gen_rng_below(&r, ac->nsubs);
    int meter = (int)pick_weighted(&r, meter_weight, CU_ARRAY_LEN(meter_weight));
    int region = cu_gen_rng_below(&r, 100) < 85
                     ? w->sub[sub].region
                     : (int)cu_gen_rng_below(&r, (uint32_t)cu_gen_nregions);
    int64_t len = cu_gen_rng_range(&r, 1, 2 * (int64_t)mean - 1);
    if (len > w->ndays)
      len = w->ndays;
    int start = (int)cu_gen_rng_range(&r, 0, w->ndays - len);
    const cu_gen_meter *m = &cu_gen_meters[meter];
    int32_t growth = (int32_t)cu_gen_rng_range(&r, -20, 60);
    int32_t noise = m->kind == GEN_Q_STORAGE ? 5 : 60;
    add_series(w, sub, meter, region, cu_gen_rng_below(&r, 4), start,
               start + (int)len, pick_quantity(&r, m), growth, noise);
    sum += (uint64_t)len;
  }
  /* Trim or stretch the ordinary series so the total is exact. */
  for (size_t i = first_ord; sum != budget && i < w->nser; i++) {
    cu_gen_series *s = &w->ser[i];
    if (sum > budget) {
      uint64_t cut = sum - budget, have = (uint64_t)(s->end - s->start) - 1;
      if (cut > have)
        cut = have;
      s->end = (uint16_t)(s->end - cut);
      sum -= cut;
    } else {
      uint64_t add = budget - sum,
               room = (uint64_t)(w->ndays - (s->end - s->start));
      if (add > room)
        add = room;
      /* Grow backwards first, then forwards. */
      uint64_t back = add < s->start ? add : s->start;
      s->start = (uint16_t)(s->start - back);
      s->end = (uint16_t)(s->end + (add - back));
      sum += add;
    }
  }
  return CUSTOS_OK;

fail_oom:
  cu_gen_world_free(w);
  return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory building the world");
}

void cu_gen_world_free(cu_gen_world *w) {
  cu_free(w->acc);
  cu_free(w->sub);
  cu_free(w->ser);
  w->acc = NULL;
  w->sub = NULL;
  w->ser = NULL;
  w->nacc = w->nsub = w->nser = 0;
}

/* ---- quantities ------------------------------------------------------------- */

/* Level (whole units) of series s `t` days after its start: compound monthly
 * growth, linear between month steps, all in integers. */
static int64_t level(const cu_gen_series *s, int t) {
  int months = t / 30, frac = t % 30;
  int64_t q = s->q0;
  for (int i = 0; i < months; i++)
    q = q * (1000 + s->growth) / 1000;
  int64_t next = q * (1000 + s->growth) / 1000;
  return q + (next - q) * frac / 30;
}

int64_t cu_gen_series_qty(const cu_gen_world *w, const cu_gen_series *s,
                          int day, uint64_t salt) {
  const cu_gen_meter *m = &cu_gen_meters[s->meter];
  int64_t q = level(s, day - s->start);
  uint64_t h = cu_gen_hash(w->seed ^ salt, GEN_S_DAY,
                           (uint64_t)(s - w->ser), (uint64_t)day);
  int64_t n = (int64_t)(h % (uint64_t)(2 * s->noise + 1)) - s->noise;
  /* micro-units: q * 1e6 * (1000 + n) / 1000 */
  int64_t micro = q * 1000 * (1000 + n) + (int64_t)((h >> 32) % 1000);
  if (m->kind == GEN_Q_STORAGE) {
    int y, mo, dd;
    cu_gen_civil(w->day0 + day, &y, &mo, &dd);
    micro /= cu_gen_days_in_month(y, mo);
  }
  if (m->block > 1) /* counted things are whole */
    micro -= micro % 1000000;
  if (micro <= 0)
    micro = 1000000;
  return micro;
}

int64_t cu_gen_demo_storage_gb(const cu_gen_world *w, int month) {
  int64_t gb = 0;
  int y = CU_GEN_FIRST_YEAR, m = CU_GEN_FIRST_MONTH + month;
  y += (m - 1) / 12;
  m = (m - 1) % 12 + 1;
  int day = (int)(civil_days(y, m, 15) - w->day0);
  const cu_gen_account *ac = &w->acc[0];
  for (size_t i = 0; i < CU_ARRAY_LEN(demo_ser); i++) {
    const cu_gen_series *s = &w->ser[i];
    if (cu_gen_meters[s->meter].kind != GEN_Q_STORAGE || day < s->start ||
        day >= s->end || w->sub[s->sub].unit != 1 ||
        w->sub[s->sub].account != 0 || ac->role != GEN_ROLE_DEMO)
      continue;
    gb += level(s, day - s->start);
  }
  return gb;
}
