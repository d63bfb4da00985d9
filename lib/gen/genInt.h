/*
 * gen internals shared by the generator's files: the hash-based random
 * numbers, the output sink (plain or gzip, temp file renamed into place),
 * the catalogues (countries, regions, services, names) and the world model
 * (accounts, units, subscriptions) every writer derives its output from.
 */
#ifndef CU_GEN_INT_H
#define CU_GEN_INT_H

#include <stdio.h>

#include "gen/gen.h"

/* ---- random numbers ---------------------------------------------------- */

/*
 * Everything random is a pure function of the seed and a position, so each
 * file (and each row) is stable whatever else the generator writes:
 * cu_gen_hash mixes up to four words with splitmix64's finaliser, and a
 * cu_gen_rng is a splitmix64 stream started from such a hash.
 */
uint64_t cu_gen_mix(uint64_t x);
uint64_t cu_gen_hash(uint64_t seed, uint64_t a, uint64_t b, uint64_t c);

typedef struct cu_gen_rng {
  uint64_t s;
} cu_gen_rng;

void cu_gen_rng_init(cu_gen_rng *r, uint64_t seed, uint64_t stream);
uint64_t cu_gen_rng_next(cu_gen_rng *r);
/* Uniform in [0, n); n > 0. */
uint32_t cu_gen_rng_below(cu_gen_rng *r, uint32_t n);
/* Uniform in [lo, hi]. */
int64_t cu_gen_rng_range(cu_gen_rng *r, int64_t lo, int64_t hi);
/* A random element of a NULL-free string array. */
#define CU_GEN_PICK(r, arr) ((arr)[cu_gen_rng_below((r), CU_ARRAY_LEN(arr))])

/* Stream tags: one per file family, so adding rows to one file never shifts
 * another file's randomness. */
enum {
  GEN_S_WORLD = 1,
  GEN_S_SERIES,
  GEN_S_DAY,
  GEN_S_DIRTY,
  GEN_S_CONTACTS,
  GEN_S_MAIL,
  GEN_S_DOCS,
  GEN_S_RESTATE,
};

/* ---- output sink -------------------------------------------------------- */

/*
 * One output file.  Bytes go through a 1 MiB buffer to a temporary sibling
 * (plain stdio or zlib gzip with a zero header mtime) that cu_gen_sink_close
 * renames to its final name.  Errors are sticky: the first one is kept and
 * reported by cu_gen_sink_close, so writers can append without checking
 * every call.  The sink owns its buffer; close or abort frees it.
 */
typedef struct cu_gen_sink {
  char path[4096];
  char tmp[4096];
  char rel[256]; /* path relative to OUT, for the manifest */
  FILE *f;
  void *gz; /* gzFile */
  char *buf;
  size_t len, cap;
  uint64_t raw_bytes; /* bytes before compression */
  uint64_t rows;      /* data rows or messages, for the manifest */
  custos_rc rc;
  int err; /* errno of the first failure */
} cu_gen_sink;

/* Opens OUT/rel for writing (gzip when gz).  EIO/ENOMEM with diag. */
custos_rc cu_gen_sink_open(cu_gen_sink *s, const char *out, const char *rel,
                           bool gz, custos_diag *d) CUSTOS_WUR;
/* Flushes, closes and renames into place; returns the first error of the
 * sink's life.  On failure the temporary file is removed. */
custos_rc cu_gen_sink_close(cu_gen_sink *s, custos_diag *d) CUSTOS_WUR;
/* Closes and removes the temporary file; for error paths. */
void cu_gen_sink_abort(cu_gen_sink *s);
/* Size of the completed file on disk. */
uint64_t cu_gen_sink_disk_size(const cu_gen_sink *s);

void cu_gen_sink_flush(cu_gen_sink *s);
void cu_gen_put(cu_gen_sink *s, const char *p, size_t n);
void cu_gen_puts(cu_gen_sink *s, const char *p);
void cu_gen_putc(cu_gen_sink *s, char c);
void cu_gen_printf(cu_gen_sink *s, const char *fmt, ...) CUSTOS_PRINTF(2, 3);
/* Unsigned decimal. */
void cu_gen_put_u64(cu_gen_sink *s, uint64_t v);
/* v * 10^-scale as a plain decimal without trailing fractional zeros
 * ("12.5", "0", "-0.0000001"). */
void cu_gen_put_dec(cu_gen_sink *s, int64_t v, int scale);
/* The same value in E-notation ("1.25E+01"), as some exports write it. */
void cu_gen_put_dec_e(cu_gen_sink *s, int64_t v, int scale);
/* A CSV field, quoted when it holds a comma, quote, CR or LF. */
void cu_gen_put_csv(cu_gen_sink *s, const char *p);
/* Formats into a caller buffer the same way as cu_gen_put_dec. */
void cu_gen_fmt_dec(char *out, size_t n, int64_t v, int scale);

/* ---- catalogues ----------------------------------------------------------- */

typedef struct cu_gen_country {
  const char *code; /* user-assigned ISO 3166-1 alpha-2: XA..XZ, QM..QZ */
  const char *name; /* invented */
  const char *adj;  /* adjective used in names */
} cu_gen_country;

typedef struct cu_gen_region {
  const char *id;      /* native Azure region id */
  const char *name;    /* display name */
  const char *country; /* physical location, real ISO code */
} cu_gen_region;

/* What a meter's daily quantity means, which decides how it is generated. */
enum { GEN_Q_STORAGE, GEN_Q_RATE };

typedef struct cu_gen_meter {
  const char *service;     /* ServiceName */
  const char *category;    /* ServiceCategory (FOCUS 1.2) */
  const char *subcategory; /* ServiceSubcategory (FOCUS 1.2) */
  const char *meter;       /* SkuMeter */
  const char *sku;         /* SkuId */
  const char *rtype;       /* ResourceType */
  const char *arm;         /* provider/type in ResourceId */
  const char *rprefix;     /* resource name prefix */
  const char *cunit;       /* ConsumedUnit (canonical) */
  const char *punit;       /* PricingUnit */
  int64_t block;           /* consumed units per pricing unit */
  int64_t price;           /* list price per pricing unit, micro-USD */
  int kind;                /* GEN_Q_* */
  int64_t qlo, qhi;        /* typical daily quantity range (whole units,
                              GB stored for storage) */
} cu_gen_meter;

extern const cu_gen_country cu_gen_countries[];
extern const size_t cu_gen_ncountries;
extern const cu_gen_region cu_gen_regions[];
extern const size_t cu_gen_nregions;
extern const cu_gen_meter cu_gen_meters[];
extern const size_t cu_gen_nmeters;
extern const char *const cu_gen_sectors[];
extern const size_t cu_gen_nsectors;
extern const char *const cu_gen_first_names[];
extern const size_t cu_gen_nfirst;
extern const char *const cu_gen_last_names[];
extern const size_t cu_gen_nlast;

/* Catalogue indexes the story uses by name. */
int cu_gen_region_index(const char *id);
int cu_gen_meter_index(const char *meter);

/* Region aliases seen in real exports (--dirty): display name, upper case
 * id, or a short form; returns the canonical id when there is none. */
const char *cu_gen_region_alias(size_t region, uint64_t h);

/* The provider. */
#define GEN_PROVIDER "Stratus Cloud"
#define GEN_STAFF_DOMAIN "stratus.example"

/* ---- world -------------------------------------------------------------- */

enum { GEN_ROLE_DEMO, GEN_ROLE_PEER, GEN_ROLE_ORDINARY };

typedef struct cu_gen_account {
  char id[32];
  char name[96];
  char domain[64]; /* contact e-mail domain, ends in .example */
  uint16_t country;
  uint8_t sector;
  uint8_t role;
  uint8_t nunits;
  uint8_t nsubs;
  uint8_t discount; /* percent off list */
  uint32_t first_sub;
} cu_gen_account;

typedef struct cu_gen_sub {
  char id[40];
  char name[40];
  uint32_t account;
  uint8_t unit; /* index within the account's units */
  uint8_t region;
  int32_t created; /* days since the epoch */
} cu_gen_sub;

typedef struct cu_gen_series {
  uint32_t sub;
  uint16_t meter;
  uint8_t region;
  uint8_t res;   /* resource number within the subscription */
  uint16_t start; /* first day (index in the window) */
  uint16_t end;   /* one past the last day */
  int64_t q0;     /* daily quantity (whole units) at start */
  int32_t growth; /* per month, in permille */
  int32_t noise;  /* daily noise, in permille either way */
} cu_gen_series;

typedef struct cu_gen_world {
  uint64_t seed;
  uint64_t rows;
  bool dirty;
  cu_gen_account *acc;
  size_t nacc;
  cu_gen_sub *sub;
  size_t nsub;
  cu_gen_series *ser;
  size_t nser;
  int32_t day0; /* days since the epoch of 2024-03-01 */
  int ndays;
} cu_gen_world;

/* Builds the world for seed and row target: accounts, subscriptions and the
 * usage series, sized so the series produce exactly `rows` usage rows.  The
 * world owns its arrays; free with cu_gen_world_free.  ENOMEM with diag. */
custos_rc cu_gen_world_build(cu_gen_world *w, uint64_t seed, uint64_t rows,
                             bool dirty, custos_diag *d) CUSTOS_WUR;
void cu_gen_world_free(cu_gen_world *w);

/* Unit k of account a: id, name and parent (k == 0 is the root, parent
 * index -1).  Parents always have a smaller index. */
void cu_gen_unit(const cu_gen_world *w, size_t a, unsigned k, char *id,
                 size_t idn, char *name, size_t namen, int *parent);

/* Daily quantity of series s on window day `day`, in micro-units of the
 * meter's ConsumedUnit (storage already turned into GB-Month). */
int64_t cu_gen_series_qty(const cu_gen_world *w, const cu_gen_series *s,
                          int day, uint64_t salt);

/* Average GB stored on the demo's signals subscriptions in month m (0 =
 * 2024-03), for mail and documents that talk about it. */
int64_t cu_gen_demo_storage_gb(const cu_gen_world *w, int m);

/* ---- the writers ---------------------------------------------------------- */

/* Each writer adds its files to the manifest list through this hook. */
typedef struct cu_gen_ctx {
  const cu_gen_opts *o;
  cu_gen_world *w;
  cu_gen_stats *st;
  void *files; /* json_t array of {path, bytes, rows} */
} cu_gen_ctx;

/* Records a completed sink in the manifest and the stats. */
custos_rc cu_gen_ctx_done(cu_gen_ctx *c, cu_gen_sink *s, custos_diag *d)
    CUSTOS_WUR;
/* Reports progress, throttled by the caller's callback. */
void cu_gen_ctx_progress(cu_gen_ctx *c);

custos_rc cu_gen_directory(cu_gen_ctx *c, custos_diag *d) CUSTOS_WUR;
custos_rc cu_gen_usage(cu_gen_ctx *c, custos_diag *d) CUSTOS_WUR;
custos_rc cu_gen_mail(cu_gen_ctx *c, custos_diag *d) CUSTOS_WUR;
custos_rc cu_gen_docs(cu_gen_ctx *c, custos_diag *d) CUSTOS_WUR;
custos_rc cu_gen_allegation(cu_gen_ctx *c, custos_diag *d) CUSTOS_WUR;

/* Civil date helpers over days since the epoch. */
void cu_gen_civil(int32_t days, int *y, int *m, int *dd);
int cu_gen_days_in_month(int y, int m);

#endif
