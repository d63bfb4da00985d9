/*
 * ledger internals shared by its files and its fuzz target: the adapters
 * that map an export's header to the fields custos needs, and the row
 * normaliser in its two halves (per-row amounts, per-distinct-key
 * normalisation).
 */
#ifndef CU_LEDGER_INT_H
#define CU_LEDGER_INT_H

#include "directory/directory.h"
#include "ledger.h"

/* The fields of one usage row custos reads, whatever the export calls them. */
enum cu_lf {
  LF_ACCOUNT,
  LF_SUBACCOUNT,
  LF_SERVICE,
  LF_CATEGORY,
  LF_SUBCATEGORY,
  LF_METER,
  LF_SKU,
  LF_REGION,
  LF_REGION_NAME,
  LF_CHARGE_START,
  LF_PERIOD_START,
  LF_QTY,
  LF_QTY_UNIT,
  LF_PQTY,
  LF_PUNIT,
  LF_BILLED,
  LF_EFFECTIVE,
  LF_CURRENCY,
  LF_CHARGE_CATEGORY,
  LF_PROVIDER,
  LF_RESOURCE_ID,
  LF_RESOURCE_NAME,
  LF_RESOURCE_TYPE,
  LF_TAGS,
  LF_COUNT
};


typedef struct cu_ledger_adapter {
  cu_ledger_format format;
  char name[32];              /* "focus-1.2", "azure-ea", "aws-cur-2.0" */
  const char *provider;       /* region prefix to try: "azure", "aws" or NULL */
  int col[LF_COUNT];          /* column index of each field, -1 when absent */
  const char *colname[LF_COUNT]; /* header name as custos knows it */
  size_t ncols;               /* columns in the header */
  char unknown[512];          /* unknown non-x_ columns, comma-separated */
} cu_ledger_adapter;

/*
 * Fills a from a header row (names[i] of lens[i] bytes, i < n).  want is
 * AUTO to detect the format.  EPARSE (with diag naming the input) when the
 * header is not one of the known exports or lacks a required column.
 */
custos_rc cu_ledger_adapter_init(cu_ledger_adapter *a, cu_ledger_format want,
                                 const char *const *names, const size_t *lens,
                                 size_t n, custos_diag *d) CUSTOS_WUR;

/* One row's fields as views into the reader's buffer (NULL/0 when the
 * column is absent). */
typedef struct cu_ledger_raw {
  const char *v[LF_COUNT];
  size_t len[LF_COUNT];
} cu_ledger_raw;

/* A row's amounts, before the unit's block multiplier. */
typedef struct cu_ledger_amounts {
  int64_t qty, billed, effective;
  bool use_pricing; /* quantity came from PricingQuantity/PricingUnit */
  bool rounded;
} cu_ledger_amounts;

/* cu_ledger_decimal without its fast paths: the reference they are
 * tested against. */
custos_rc cu_ledger_decimal_careful(const char *s, size_t n, int scale,
                                    int64_t *out, bool *rounded) CUSTOS_WUR;

/* Parses the amounts of r.  On failure *bad is the field at fault and
 * *reason a static sentence. */
custos_rc cu_ledger_row_amounts(const cu_ledger_raw *r, cu_ledger_amounts *am,
                                int *bad, const char **reason) CUSTOS_WUR;

/* A normalised rollup key.  Strings point into the raw row, the catalogue
 * or static storage: valid while those are. */
typedef struct cu_ledger_key {
  const char *s[LF_COUNT];
  size_t len[LF_COUNT];
  const char *region_id, *country, *category, *subcategory, *charge_category;
  cu_ledger_unit unit;
  int64_t day, period; /* days since the epoch, UTC */
  bool has_period;     /* period came from BillingPeriodStart */
} cu_ledger_key;

/* Normalises the key fields of r (use_pricing as the amounts found).
 * On failure *bad is the field at fault and *reason a static sentence. */
custos_rc cu_ledger_row_key(const cu_ledger_adapter *a, const cu_catalog *cat,
                            const cu_ledger_raw *r, bool use_pricing,
                            cu_ledger_key *k, int *bad,
                            const char **reason) CUSTOS_WUR;

/*
 * The same in two halves, so that a caller can normalise a row's key once
 * per distinct set of key fields other than the charge period start:
 * cu_ledger_row_key_undated checks and normalises everything but the day
 * (and the period when it must come from the day); cu_ledger_row_day and
 * cu_ledger_month_of do the rest per row.  *late tells whether a failure
 * of the undated half is one that cu_ledger_row_key reports only after a
 * bad charge period start (and a period out of range).
 */
custos_rc cu_ledger_row_key_undated(const cu_ledger_adapter *a,
                                    const cu_catalog *cat,
                                    const cu_ledger_raw *r, bool use_pricing,
                                    cu_ledger_key *k, bool *late, int *bad,
                                    const char **reason) CUSTOS_WUR;
/* The billing period start of r, the step of cu_ledger_row_key_undated
 * that follows its account and service checks: *has_period tells whether
 * r has one, and then *period is its day (else *period is left as is). */
custos_rc cu_ledger_row_period(const cu_ledger_raw *r, bool *has_period,
                               int64_t *period, int *bad,
                               const char **reason) CUSTOS_WUR;
/* The day (since the epoch, UTC) of r's charge period start. */
custos_rc cu_ledger_row_day(const cu_ledger_raw *r, int64_t *day, int *bad,
                            const char **reason) CUSTOS_WUR;
/* The first day of day's calendar month: the billing period of exports
 * without BillingPeriodStart. */
custos_rc cu_ledger_month_of(int64_t day, int64_t *period, int *bad,
                             const char **reason) CUSTOS_WUR;

/* Multiplies a quantity by a block size; false on overflow. */
bool cu_ledger_scale_qty(int64_t q, uint64_t mult, int64_t *out);

/* ---- daily rollups packed in blocks (blocks.c) ------------------------ */

/* The fields of one daily rollup in the order that sorts a block: the
 * seven dimension ids first, so that rollups sharing them are stored
 * together and their ids once. */
enum {
  CU_RU_SUB,
  CU_RU_SERVICE,
  CU_RU_METER,
  CU_RU_REGION,
  CU_RU_QTY_UNIT,
  CU_RU_CURRENCY,
  CU_RU_CHARGE,
  CU_RU_DAY,
  CU_RU_FIRST_LINE,
  CU_RU_LAST_LINE,
  CU_RU_ROWS,
  CU_RU_QUANTITY,
  CU_RU_BILLED,
  CU_RU_EFFECTIVE,
  CU_RU_NFIELDS
};

/* A daily rollup without what its block's row in usage_blocks holds
 * (source, account, period, unit).  Amounts at the scales of usage_dims'
 * comment: quantity 10^-9, costs 10^-10. */
typedef struct cu_ledger_ru {
  int64_t v[CU_RU_NFIELDS];
} cu_ledger_ru;

/* Most rollups ingest puts in one block; a larger group of one source,
 * account, period and unit takes several rows of usage_blocks, so that no
 * blob grows without bound (about 25 bytes a rollup). */
#define CU_LEDGER_BLOCK_MAX 65536

/* The order of rollups in a block (qsort comparator over cu_ledger_ru):
 * every field, in the enum's order, so that the same rollups make the
 * same blob whatever order they came in. */
int cu_ledger_ru_cmp(const void *a, const void *b);

/* Encodes the n rollups v (in any order; in cu_ledger_ru_cmp order they
 * take least room) as a block into out, which is reset first.  ETOOBIG
 * past out's cap, ENOMEM; out's content is then undefined. */
custos_rc cu_ledger_block_encode(const cu_ledger_ru *v, size_t n,
                                 cu_buf *out) CUSTOS_WUR;
/* The same for n rollups that lie stride bytes apart from first (inside
 * larger entries), so that they need not be copied together first. */
custos_rc cu_ledger_block_encode_stride(const cu_ledger_ru *first,
                                        size_t stride, size_t n,
                                        cu_buf *out) CUSTOS_WUR;

/* Rows for custos_int_rows(p) (blocks.c): n rows of at most
 * CU_LEDGER_ROWS_COLS integers, columns c0, c1, ..., each row made when
 * SQLite reaches it by row(arg, i, v), which sets v[0..] to row i's
 * values.  p is a pointer to this bound with
 * sqlite3_bind_pointer(st, k, rows, CU_LEDGER_ROWS_PTR, NULL), which must
 * stay valid while the statement runs. */
typedef struct cu_ledger_rows {
  size_t n;
  void (*row)(const void *arg, size_t i, int64_t *v);
  const void *arg;
} cu_ledger_rows;
#define CU_LEDGER_ROWS_COLS 24
#define CU_LEDGER_ROWS_PTR "custos_int_rows"

/* Registers custos_rollups(data), custos_int_rows(p) and
 * custos_pack_rollups(...) on db: the open hook of the ledger
 * (lib/store/schema.c), run before the migrations, which use the first
 * and the last.  EDB with diag on failure. */
custos_rc cu_ledger_on_open(sqlite3 *db, custos_diag *d) CUSTOS_WUR;

/* Monthly rollups: the daily rollups of one source summed per calendar
 * month (month is the first day of the day's month, days since the
 * epoch), with every other dimension kept, so that restatement deletes
 * them by (account, period, source) exactly as it deletes daily ones.
 * Amounts are kept as the sums of their parts above and below 10^9
 * (quantity / 10^9 and quantity % 10^9, the same for both costs), which
 * is what a query sums: a month's totals may exceed int64, its parts do
 * not, and the sums equal those over the daily rows exactly.  The key
 * begins with unit and month, so a unit's series is one range. */
#define CU_LEDGER_MONTH_OF_DAY                                                 \
  "unixepoch(day * 86400, 'unixepoch', 'start of month') / 86400"
#define CU_LEDGER_MONTHLY_FILL(where)                                          \
  "INSERT INTO usage_monthly(unit, month, account, period, source_id,"         \
  " subscription, service, meter, region, qty_unit, currency, charge, qh, ql," \
  " bh, bl, eh, el, rows)"                                                     \
  " SELECT unit, " CU_LEDGER_MONTH_OF_DAY " AS m, account, period, source_id," \
  " subscription, service, meter, region, qty_unit, currency, charge,"        \
  " sum(quantity / 1000000000), sum(quantity % 1000000000),"                  \
  " sum(billed / 1000000000), sum(billed % 1000000000),"                      \
  " sum(effective / 1000000000), sum(effective % 1000000000), sum(rows)"      \
  " FROM usage_rollups " where " GROUP BY unit, m, account, period,"          \
  " source_id, subscription, service, meter, region, qty_unit, currency,"     \
  " charge;"

/*
 * cu_ledger_query with the choice of table made by the caller: force_daily
 * reads the daily rollups even where the monthly ones would answer, which
 * lets tests compare the two.  Same contract as cu_ledger_query.
 */
custos_rc cu_ledger_query_from(cu_ws *ws, const cu_ledger_query_spec *spec,
                               bool force_daily, cu_ledger_result **out,
                               custos_diag *d) CUSTOS_WUR;

/* ---- boundary of free text in usage rows ------------------------------ */

/* Resource id with its customer-chosen parts (resource group, names, the
 * resource part of an ARN) put through the free-text policy.  Writes at
 * most outn bytes (NUL included); ETOOBIG when it does not fit. */
custos_rc cu_ledger_resource_id(cu_ws *ws, cu_free_text_policy p,
                                const char *s, size_t n, char *out,
                                size_t outn) CUSTOS_WUR;
/* Tags (a JSON object, with or without its outer braces) with every value
 * put through the policy, as canonical JSON; keys are kept.  A value that
 * is not an object is treated as one opaque value under the key "".
 * *out is the caller's (cu_free). */
custos_rc cu_ledger_tags(cu_ws *ws, cu_free_text_policy p, const char *s,
                         size_t n, char **out) CUSTOS_WUR;

#endif
