/*
 * ledger: the usage ledger.  Billing exports (FOCUS 1.0-1.2, Azure cost
 * exports, AWS CUR 2.0) are read, normalised to one row shape and rolled up
 * in memory per account x unit x subscription x service x meter x region x
 * day; only the rollups are stored, with their provenance.  Every usage
 * query runs through cu_ledger_query, which puts it on the record.
 */
#ifndef CU_LEDGER_H
#define CU_LEDGER_H

#include "boundary/boundary.h"
#include "store/store.h"

/* Fixed-point scales of stored amounts: costs in 10^-10 of the currency
 * unit, quantities in 10^-9 of the canonical unit, both in int64.  Sums in
 * memory are int128. */
#define CU_COST_SCALE 10
#define CU_QTY_SCALE 9

/* ---- decimals --------------------------------------------------------- */

/*
 * Parses a decimal number ("12.5", "-0.0184", "8.080645164E+03", "1e-3")
 * into an integer scaled by 10^scale (0 <= scale <= 18).  Digits beyond the
 * scale are rounded half to even and *rounded (may be NULL) is set.
 * EPARSE for anything that is not a number, ETOOBIG when the result does
 * not fit in int64.
 */
custos_rc cu_ledger_decimal(const char *s, size_t n, int scale, int64_t *out,
                            bool *rounded) CUSTOS_WUR;

/* Writes v / 10^scale exactly as a decimal without trailing zeros ("12.5",
 * "-0.0184", "0") into out (>= 48 bytes); returns out. */
char *cu_ledger_decimal_format(__int128 v, int scale, char *out, size_t n);

/* ---- normalisation ---------------------------------------------------- */

/* A canonical unit of measure: "1K Requests" is requests times 1000. */
typedef struct cu_ledger_unit {
  char name[48];       /* "GB-month", "hours", "requests", "tokens"... */
  uint64_t multiplier; /* the block size, 1 when none */
} cu_ledger_unit;

/* Canonicalises a unit of measure as exports write it.  EPARSE when the
 * block size is not a positive integer that fits (e.g. "0 Hours"). */
custos_rc cu_ledger_unit_parse(const char *s, size_t n,
                               cu_ledger_unit *out) CUSTOS_WUR;

/* Parses a date or time in any form billing exports use (RFC 3339 with or
 * without T, Z, fraction or seconds; YYYY-MM-DD; MM/DD/YYYY with an
 * optional time) into seconds since the epoch, UTC. */
custos_rc cu_ledger_time(const char *s, size_t n, int64_t *out) CUSTOS_WUR;

/* Whether a field is null: empty, or NULL / null as exports write it. */
bool cu_ledger_is_null(const char *s, size_t n);

/* ---- adapters and the row normaliser ----------------------------------- */

typedef enum cu_ledger_format {
  CU_LEDGER_AUTO,
  CU_LEDGER_FOCUS,
  CU_LEDGER_AZURE,
  CU_LEDGER_AWS,
} cu_ledger_format;

/* "auto", "focus", "azure", "aws"; parse gives EINVAL for others. */
const char *cu_ledger_format_name(cu_ledger_format f);
custos_rc cu_ledger_format_parse(const char *s, cu_ledger_format *out,
                                 custos_diag *d) CUSTOS_WUR;

/* ---- ingest ----------------------------------------------------------- */

typedef struct cu_ledger_opts {
  const char *custodian;   /* required */
  double max_reject_ratio; /* default 0.001 */
  cu_ledger_format format; /* default auto */
  /* Called now and then while a file is read (may be NULL). */
  void (*progress)(void *ud, const char *path, uint64_t done, uint64_t total);
  void *progress_ud;
} cu_ledger_opts;

void cu_ledger_opts_default(cu_ledger_opts *o);

/* What one file gave; strings are static or copied. */
typedef struct cu_ledger_file_stats {
  char path[1024];
  char format[32];  /* "focus-1.2", "azure-mca", "aws-cur-2.0"... */
  int64_t source_id; /* 0 when skipped */
  bool skipped;      /* same SHA-256 already ingested */
  int64_t rows, rejected, rounded, rollups, resources;
  int64_t unknown_subscriptions; /* rows whose subscription the directory lacks */
  int64_t superseded;            /* (account, period) pairs this one replaced */
  char unknown_columns[512];     /* reported once, comma-separated */
  uint64_t bytes;
} cu_ledger_file_stats;

/*
 * Ingests usage files, each its own all-or-nothing source: the file is read
 * and rolled up in memory, then registered and stored in one transaction.
 * When more than max_reject_ratio of its rows fail, nothing of that file is
 * stored and REFUSED is returned with diag naming the first rejected row;
 * files before it stay ingested.  A file with the SHA-256 of a completed
 * source is skipped.  stats (array of npaths, may be NULL) gets per-file
 * figures.  A source that covers an (account, billing period) of an
 * earlier source replaces that source's rollups for the pair (restatement).
 */
custos_rc cu_ledger_ingest(cu_ws *ws, const char *const *paths, size_t npaths,
                           const cu_ledger_opts *opts,
                           cu_ledger_file_stats *stats,
                           custos_diag *d) CUSTOS_WUR;

/*
 * The rejects of the last failed or refused call, for display: at most
 * 20 lines "FILE:LINE:COLUMN: field 'F' value 'V': reason", owned by the
 * library until the next ingest.  "" when none.
 */
const char *cu_ledger_last_rejects(void);

/* ---- queries ---------------------------------------------------------- */

/* Dimensions a query may group by. */
typedef enum cu_ledger_dim {
  CU_DIM_DAY,
  CU_DIM_MONTH,
  CU_DIM_ACCOUNT,
  CU_DIM_UNIT,
  CU_DIM_SUBSCRIPTION,
  CU_DIM_CATEGORY,
  CU_DIM_SERVICE,
  CU_DIM_METER,
  CU_DIM_REGION,
  CU_DIM_COUNTRY,
  CU_DIM_QTY_UNIT, /* always added: quantities of different units differ */
  CU_DIM_CURRENCY, /* always added: costs of different currencies differ */
  CU_DIM_COUNT_
} cu_ledger_dim;

const char *cu_ledger_dim_name(cu_ledger_dim d);

typedef struct cu_ledger_query_spec {
  /* filters; NULL = any */
  const char *account, *unit, *subscription, *category, *service, *region,
      *country;
  const char *from, *to; /* dates, inclusive from, exclusive to */
  cu_ledger_dim by[CU_DIM_COUNT_];
  size_t nby;
  const char *case_id; /* recorded with the query; may be NULL */
} cu_ledger_query_spec;

/* Parses "month,region" into spec->by; EINVAL naming the bad word. */
custos_rc cu_ledger_parse_by(const char *s, cu_ledger_query_spec *spec,
                             custos_diag *d) CUSTOS_WUR;

typedef struct cu_ledger_result_row {
  char *key[CU_DIM_COUNT_]; /* one per spec->by plus qty unit and currency */
  __int128 quantity, billed, effective;
  int64_t rows;
} cu_ledger_result_row;

typedef struct cu_ledger_result {
  cu_ledger_dim cols[CU_DIM_COUNT_];
  size_t ncols;
  cu_ledger_result_row *rows;
  size_t nrows;
  char sha256[2 * CU_SHA256_LEN + 1]; /* of the canonical result */
  json_t *query;                      /* the query as recorded (borrowed) */
} cu_ledger_result;

/*
 * Runs a usage query over the rollups of sources not superseded, and
 * records it (cu_ws_record_query, kind "usage") with its canonical JSON,
 * row count and result digest.  Every usage query of custos goes through
 * here.  *out is the caller's, freed with cu_ledger_result_free.
 */
custos_rc cu_ledger_query(cu_ws *ws, const cu_ledger_query_spec *spec,
                          cu_ledger_result **out, custos_diag *d) CUSTOS_WUR;

/* The case report's series: unit by month, region and service. */
custos_rc cu_ledger_monthly_series(cu_ws *ws, const char *unit,
                                   const char *case_id,
                                   cu_ledger_result **out,
                                   custos_diag *d) CUSTOS_WUR;

void cu_ledger_result_free(cu_ledger_result *r);

/* The canonical JSON of a result (array of row objects, amounts as decimal
 * strings), as digested.  New reference, NULL on OOM. */
json_t *cu_ledger_result_json(const cu_ledger_result *r);

#endif
