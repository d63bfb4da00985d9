/*
 * Daily rollups stored packed: the rollups of one source, account, billing
 * period and unit in one blob of usage_blocks, its encoder, and the two
 * SQL objects every workspace connection gets to read and make such blobs:
 * the table-valued function custos_rollups(data), which the usage_rollups
 * view joins to usage_blocks, and the aggregate custos_pack_rollups(...),
 * with which the schema's migration packs an older workspace's rows.
 *
 * A block (version 1) is
 *   byte 1, varint count,
 *   then groups of rollups that share their seven dimension ids:
 *     varint n (1..rollups left), the seven ids as varints,
 *     n times: zigzag varints of the day minus the previous rollup's day
 *     (0 before the first), of quantity, of billed and of effective -
 *     billed (mostly 0: one byte), varints of rows, first_line and
 *     last_line - first_line.
 * Varints are LEB128 (7 bits a byte, low bits first, at most 10 bytes) of
 * the int64 values' two's complement bits, differences taken modulo 2^64,
 * so every int64 comes back exactly.  The decoder reads only inside the
 * blob and reports a truncated or malformed one as SQLITE_CORRUPT.
 */
#include <stdlib.h>
#include <string.h>

#include "ledgerInt.h"

#define BLOCK_VERSION 1
#define VARINT_MAX 10
#define NDIMS (CU_RU_DAY - CU_RU_SUB) /* ids that a group shares */
#define PACK_MAX_BYTES ((size_t)512 << 20) /* one blob the aggregate makes */

/* ---- encoding --------------------------------------------------------- */

static int64_t to_i64(uint64_t u) {
  int64_t v;
  memcpy(&v, &u, sizeof v);
  return v;
}

static uint64_t zigzag(int64_t v) {
  uint64_t u = (uint64_t)v;
  return (u << 1) ^ (0 - (u >> 63));
}

static int64_t unzigzag(uint64_t z) { return to_i64((z >> 1) ^ (0 - (z & 1))); }

/* Writes v at p, which has room for VARINT_MAX bytes; returns the end. */
static uint8_t *put_varint(uint8_t *p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  *p++ = (uint8_t)v;
  return p;
}

int cu_ledger_ru_cmp(const void *a, const void *b) {
  const int64_t *x = ((const cu_ledger_ru *)a)->v;
  const int64_t *y = ((const cu_ledger_ru *)b)->v;
  for (int i = 0; i < CU_RU_NFIELDS; i++)
    if (x[i] != y[i])
      return x[i] < y[i] ? -1 : 1;
  return 0;
}

static bool same_dims(const cu_ledger_ru *a, const cu_ledger_ru *b) {
  return memcmp(a->v + CU_RU_SUB, b->v + CU_RU_SUB,
                NDIMS * sizeof a->v[0]) == 0;
}

custos_rc cu_ledger_block_encode(const cu_ledger_ru *v, size_t n,
                                 cu_buf *out) {
  return cu_ledger_block_encode_stride(v, sizeof *v, n, out);
}

/* The rollup i of the n that begin at first, stride bytes apart. */
#define RU_AT(first, stride, i)                                                \
  ((const cu_ledger_ru *)(const void *)((const char *)(first) +                \
                                        (i) * (stride)))

custos_rc cu_ledger_block_encode_stride(const cu_ledger_ru *first,
                                        size_t stride, size_t n,
                                        cu_buf *out) {
  cu_buf_reset(out);
  custos_rc rc = cu_buf_reserve(out, 1 + VARINT_MAX);
  if (rc != CUSTOS_OK)
    return rc;
  uint8_t *p = (uint8_t *)out->data;
  *p++ = BLOCK_VERSION;
  p = put_varint(p, n);
  out->len = (size_t)((char *)p - out->data);
  uint64_t prev_day = 0;
  for (size_t i = 0; i < n;) {
    const cu_ledger_ru *gi = RU_AT(first, stride, i);
    size_t glen = 1;
    while (i + glen < n && same_dims(gi, RU_AT(first, stride, i + glen)))
      glen++;
    rc = cu_buf_reserve(out, (1 + NDIMS) * VARINT_MAX +
                                 glen * 7 * VARINT_MAX);
    if (rc != CUSTOS_OK)
      return rc;
    p = (uint8_t *)out->data + out->len;
    p = put_varint(p, glen);
    for (int k = CU_RU_SUB; k < CU_RU_DAY; k++)
      p = put_varint(p, (uint64_t)gi->v[k]);
    for (size_t j = i; j < i + glen; j++) {
      const int64_t *f = RU_AT(first, stride, j)->v;
      uint64_t day = (uint64_t)f[CU_RU_DAY];
      p = put_varint(p, zigzag(to_i64(day - prev_day)));
      prev_day = day;
      p = put_varint(p, zigzag(f[CU_RU_QUANTITY]));
      p = put_varint(p, zigzag(f[CU_RU_BILLED]));
      p = put_varint(p, zigzag(to_i64((uint64_t)f[CU_RU_EFFECTIVE] -
                                      (uint64_t)f[CU_RU_BILLED])));
      p = put_varint(p, (uint64_t)f[CU_RU_ROWS]);
      p = put_varint(p, (uint64_t)f[CU_RU_FIRST_LINE]);
      p = put_varint(p, (uint64_t)f[CU_RU_LAST_LINE] -
                            (uint64_t)f[CU_RU_FIRST_LINE]);
    }
    out->len = (size_t)((char *)p - out->data);
    i += glen;
  }
  out->data[out->len] = '\0';
  return CUSTOS_OK;
}

/* ---- decoding --------------------------------------------------------- */

/* A block being read: where it is, and what the rollups before told. */
typedef struct decoder {
  const uint8_t *p, *start, *end;
  uint64_t left;       /* rollups still to read, as the header counts them */
  uint64_t group_left; /* of those, in the current group */
  uint64_t day;        /* the previous rollup's, modulo 2^64 */
  int64_t dims[NDIMS];
  const char *err;     /* static sentence once the block is found bad */
} decoder;

static bool get_varint(decoder *dc, uint64_t *out) {
  uint64_t v = 0;
  for (int i = 0; i < VARINT_MAX; i++) {
    if (dc->p == dc->end) {
      dc->err = "truncated";
      return false;
    }
    uint8_t b = *dc->p++;
    if (i == VARINT_MAX - 1 && b > 1) {
      dc->err = "varint out of range";
      return false;
    }
    v |= (uint64_t)(b & 0x7f) << (7 * i);
    if (!(b & 0x80)) {
      *out = v;
      return true;
    }
  }
  dc->err = "varint longer than 10 bytes";
  return false;
}

static bool decoder_init(decoder *dc, const uint8_t *p, size_t n) {
  memset(dc, 0, sizeof *dc);
  dc->p = dc->start = p;
  dc->end = p + n;
  if (n == 0) {
    dc->err = "empty";
    return false;
  }
  if (*dc->p != BLOCK_VERSION) {
    dc->err = "unknown version";
    return false;
  }
  dc->p++;
  return get_varint(dc, &dc->left);
}

/* The next rollup into *ru: 1, or 0 at the end, or -1 with dc->err. */
static int decoder_next(decoder *dc, cu_ledger_ru *ru) {
  if (dc->left == 0) {
    if (dc->p != dc->end) {
      dc->err = "more rollups than its count";
      return -1;
    }
    return 0;
  }
  uint64_t u;
  if (dc->group_left == 0) {
    if (!get_varint(dc, &dc->group_left))
      return -1;
    if (dc->group_left == 0 || dc->group_left > dc->left) {
      dc->err = "group size does not match the count";
      return -1;
    }
    for (int k = 0; k < NDIMS; k++) {
      if (!get_varint(dc, &u))
        return -1;
      dc->dims[k] = to_i64(u);
    }
  }
  int64_t *f = ru->v;
  memcpy(f + CU_RU_SUB, dc->dims, sizeof dc->dims);
  uint64_t w[7];
  for (int k = 0; k < 7; k++)
    if (!get_varint(dc, &w[k]))
      return -1;
  dc->day += (uint64_t)unzigzag(w[0]);
  f[CU_RU_DAY] = to_i64(dc->day);
  f[CU_RU_QUANTITY] = unzigzag(w[1]);
  f[CU_RU_BILLED] = unzigzag(w[2]);
  f[CU_RU_EFFECTIVE] =
      to_i64((uint64_t)f[CU_RU_BILLED] + (uint64_t)unzigzag(w[3]));
  f[CU_RU_ROWS] = to_i64(w[4]);
  f[CU_RU_FIRST_LINE] = to_i64(w[5]);
  f[CU_RU_LAST_LINE] = to_i64(w[5] + w[6]);
  dc->left--;
  dc->group_left--;
  return 1;
}

/* ---- custos_rollups(data): a block as rows ----------------------------- */

/* The columns, in the order of the usage_rollups view, and the field of
 * cu_ledger_ru each one shows. */
static const int col_field[] = {
    CU_RU_DAY,      CU_RU_SUB,        CU_RU_SERVICE,  CU_RU_METER,
    CU_RU_REGION,   CU_RU_QTY_UNIT,   CU_RU_CURRENCY, CU_RU_CHARGE,
    CU_RU_QUANTITY, CU_RU_BILLED,     CU_RU_EFFECTIVE, CU_RU_ROWS,
    CU_RU_FIRST_LINE, CU_RU_LAST_LINE};
#define COL_DATA ((int)CU_ARRAY_LEN(col_field))

typedef struct cursor {
  sqlite3_vtab_cursor base;
  uint8_t *copy; /* the block, copied: argv lives only through xFilter */
  size_t cap;
  decoder dc;
  cu_ledger_ru ru;
  sqlite3_int64 rowid;
  bool eof;
} cursor;

/* Declares a table-valued function's columns (sql), sets its
 * sqlite3_vtab_config option and makes its plain sqlite3_vtab. */
static int connect_as(sqlite3 *db, const char *sql, int config,
                      sqlite3_vtab **out) {
  int rc = sqlite3_declare_vtab(db, sql);
  if (rc != SQLITE_OK)
    return rc;
  sqlite3_vtab_config(db, config);
  sqlite3_vtab *vt = sqlite3_malloc(sizeof *vt);
  if (!vt)
    return SQLITE_NOMEM;
  memset(vt, 0, sizeof *vt);
  *out = vt;
  return SQLITE_OK;
}

static int vt_connect(sqlite3 *db, void *aux, int argc,
                      const char *const *argv, sqlite3_vtab **out,
                      char **err) {
  (void)aux;
  (void)argc;
  (void)argv;
  (void)err;
  /* It reads only its argument, so a view in the schema may use it
   * whatever trusted_schema says. */
  return connect_as(db,
                    "CREATE TABLE x(day INTEGER, subscription INTEGER,"
                    " service INTEGER, meter INTEGER, region INTEGER,"
                    " qty_unit INTEGER, currency INTEGER, charge INTEGER,"
                    " quantity INTEGER, billed INTEGER, effective INTEGER,"
                    " rows INTEGER, first_line INTEGER, last_line INTEGER,"
                    " data HIDDEN)",
                    SQLITE_VTAB_INNOCUOUS, out);
}

static int vt_disconnect(sqlite3_vtab *vt) {
  sqlite3_free(vt);
  return SQLITE_OK;
}

/* The plan of a table-valued function that needs its hidden argument,
 * column col, given by an equality: SQLITE_CONSTRAINT without it. */
static int plan_on_arg(sqlite3_index_info *ii, int col) {
  int at = -1;
  for (int i = 0; i < ii->nConstraint; i++) {
    const struct sqlite3_index_constraint *c = &ii->aConstraint[i];
    if (c->iColumn == col && c->op == SQLITE_INDEX_CONSTRAINT_EQ &&
        c->usable)
      at = i;
  }
  if (at < 0)
    return SQLITE_CONSTRAINT;
  ii->aConstraintUsage[at].argvIndex = 1;
  ii->aConstraintUsage[at].omit = 1;
  ii->idxNum = 1;
  ii->estimatedCost = 100.0;
  ii->estimatedRows = 100;
  return SQLITE_OK;
}

/* A plan needs the block: without an equality on data there is nothing
 * to read, and the planner must put usage_blocks first. */
static int vt_best_index(sqlite3_vtab *vt, sqlite3_index_info *ii) {
  (void)vt;
  return plan_on_arg(ii, COL_DATA);
}

static int vt_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **out) {
  (void)vt;
  cursor *c = sqlite3_malloc(sizeof *c);
  if (!c)
    return SQLITE_NOMEM;
  memset(c, 0, sizeof *c);
  c->eof = true;
  *out = &c->base;
  return SQLITE_OK;
}

static int vt_close(sqlite3_vtab_cursor *cur) {
  cursor *c = (cursor *)cur;
  sqlite3_free(c->copy);
  sqlite3_free(c);
  return SQLITE_OK;
}

/* Reports the block as corrupt, naming what is wrong and where. */
static int corrupt(cursor *c) {
  sqlite3_vtab *vt = c->base.pVtab;
  sqlite3_free(vt->zErrMsg);
  vt->zErrMsg = sqlite3_mprintf(
      "custos_rollups: malformed rollup block (%s at byte %lld of %lld)",
      c->dc.err ? c->dc.err : "bad",
      (long long)(c->dc.p - c->dc.start), (long long)(c->dc.end - c->dc.start));
  c->eof = true;
  return SQLITE_CORRUPT;
}

static int vt_next(sqlite3_vtab_cursor *cur) {
  cursor *c = (cursor *)cur;
  int r = decoder_next(&c->dc, &c->ru);
  if (r < 0)
    return corrupt(c);
  c->eof = r == 0;
  c->rowid++;
  return SQLITE_OK;
}

static int vt_filter(sqlite3_vtab_cursor *cur, int idx, const char *idxstr,
                     int argc, sqlite3_value **argv) {
  (void)idxstr;
  cursor *c = (cursor *)cur;
  c->eof = true;
  c->rowid = 0;
  if (idx != 1 || argc != 1 || sqlite3_value_type(argv[0]) == SQLITE_NULL)
    return SQLITE_OK;
  if (sqlite3_value_type(argv[0]) != SQLITE_BLOB) {
    sqlite3_vtab *vt = cur->pVtab;
    sqlite3_free(vt->zErrMsg);
    vt->zErrMsg = sqlite3_mprintf("custos_rollups: data is not a blob");
    return SQLITE_MISMATCH;
  }
  const void *p = sqlite3_value_blob(argv[0]);
  int n = sqlite3_value_bytes(argv[0]);
  size_t len = n > 0 && p ? (size_t)n : 0;
  if (len > c->cap) {
    uint8_t *q = sqlite3_realloc64(c->copy, len);
    if (!q)
      return SQLITE_NOMEM;
    c->copy = q;
    c->cap = len;
  }
  if (len)
    memcpy(c->copy, p, len);
  if (!decoder_init(&c->dc, c->copy, len))
    return corrupt(c);
  c->rowid = -1;
  return vt_next(cur);
}

static int vt_eof(sqlite3_vtab_cursor *cur) { return ((cursor *)cur)->eof; }

static int vt_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int i) {
  cursor *c = (cursor *)cur;
  if (i >= 0 && i < COL_DATA)
    sqlite3_result_int64(ctx, c->ru.v[col_field[i]]);
  return SQLITE_OK;
}

static int vt_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid) {
  *rowid = ((cursor *)cur)->rowid;
  return SQLITE_OK;
}

/* Eponymous only (no xCreate): it exists on every connection with the
 * module and cannot be made into a table of the schema. */
static const sqlite3_module rollups_module = {
    .iVersion = 0,
    .xConnect = vt_connect,
    .xBestIndex = vt_best_index,
    .xDisconnect = vt_disconnect,
    .xOpen = vt_open,
    .xClose = vt_close,
    .xFilter = vt_filter,
    .xNext = vt_next,
    .xEof = vt_eof,
    .xColumn = vt_column,
    .xRowid = vt_rowid,
};

/* ---- custos_int_rows(p): rows of integers from the caller's memory ---- */

/* An INSERT ... SELECT from this table-valued function stores rows that
 * the caller makes one at a time (cu_ledger_rows), which spares a bound
 * parameter per value of each row: the monthly rollups' 19 integers.  p is
 * a pointer bound with sqlite3_bind_pointer under CU_LEDGER_ROWS_PTR;
 * any other value, as SQL text can give, has no rows. */
typedef struct rows_cursor {
  sqlite3_vtab_cursor base;
  const cu_ledger_rows *src; /* NULL for none */
  size_t i;
  int64_t v[CU_LEDGER_ROWS_COLS]; /* row i */
} rows_cursor;

static int rows_connect(sqlite3 *db, void *aux, int argc,
                        const char *const *argv, sqlite3_vtab **out,
                        char **err) {
  (void)aux;
  (void)argc;
  (void)argv;
  (void)err;
  /* Only the ingest's own statements use it, never the schema. */
  return connect_as(
      db,
      "CREATE TABLE x(c0 INTEGER, c1 INTEGER, c2 INTEGER, c3 INTEGER,"
      " c4 INTEGER, c5 INTEGER, c6 INTEGER, c7 INTEGER, c8 INTEGER,"
      " c9 INTEGER, c10 INTEGER, c11 INTEGER, c12 INTEGER, c13 INTEGER,"
      " c14 INTEGER, c15 INTEGER, c16 INTEGER, c17 INTEGER, c18 INTEGER,"
      " c19 INTEGER, c20 INTEGER, c21 INTEGER, c22 INTEGER, c23 INTEGER,"
      " src HIDDEN)",
      SQLITE_VTAB_DIRECTONLY, out);
}

/* A plan needs the rows' pointer, as custos_rollups needs its block. */
static int rows_best_index(sqlite3_vtab *vt, sqlite3_index_info *ii) {
  (void)vt;
  return plan_on_arg(ii, CU_LEDGER_ROWS_COLS);
}

static int rows_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **out) {
  (void)vt;
  rows_cursor *c = sqlite3_malloc(sizeof *c);
  if (!c)
    return SQLITE_NOMEM;
  memset(c, 0, sizeof *c);
  *out = &c->base;
  return SQLITE_OK;
}

static int rows_close(sqlite3_vtab_cursor *cur) {
  sqlite3_free(cur);
  return SQLITE_OK;
}

static int rows_next(sqlite3_vtab_cursor *cur) {
  rows_cursor *c = (rows_cursor *)cur;
  if (c->src && ++c->i < c->src->n)
    c->src->row(c->src->arg, c->i, c->v);
  return SQLITE_OK;
}

static int rows_filter(sqlite3_vtab_cursor *cur, int idx, const char *idxstr,
                       int argc, sqlite3_value **argv) {
  (void)idxstr;
  rows_cursor *c = (rows_cursor *)cur;
  c->src = idx == 1 && argc == 1
               ? sqlite3_value_pointer(argv[0], CU_LEDGER_ROWS_PTR)
               : NULL;
  c->i = 0;
  if (c->src && c->src->n)
    c->src->row(c->src->arg, 0, c->v);
  return SQLITE_OK;
}

static int rows_eof(sqlite3_vtab_cursor *cur) {
  const rows_cursor *c = (const rows_cursor *)cur;
  return !c->src || c->i >= c->src->n;
}

static int rows_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx,
                       int i) {
  const rows_cursor *c = (const rows_cursor *)cur;
  if (i >= 0 && i < CU_LEDGER_ROWS_COLS)
    sqlite3_result_int64(ctx, c->v[i]);
  return SQLITE_OK;
}

static int rows_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid) {
  *rowid = (sqlite3_int64)((const rows_cursor *)cur)->i;
  return SQLITE_OK;
}

static const sqlite3_module int_rows_module = {
    .iVersion = 0,
    .xConnect = rows_connect,
    .xBestIndex = rows_best_index,
    .xDisconnect = vt_disconnect,
    .xOpen = rows_open,
    .xClose = rows_close,
    .xFilter = rows_filter,
    .xNext = rows_next,
    .xEof = rows_eof,
    .xColumn = rows_column,
    .xRowid = rows_rowid,
};

/* ---- custos_pack_rollups(...): rows into a block ------------------------ */

/* The aggregate's arguments, in the order of the columns of
 * custos_rollups. */
#define PACK_NARGS COL_DATA
#define PACK_MAX_ROLLUPS (PACK_MAX_BYTES / sizeof(cu_ledger_ru))

typedef struct pack_state {
  cu_ledger_ru *v;
  size_t n, cap;
  bool failed;
} pack_state;

static void pack_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  pack_state *s = sqlite3_aggregate_context(ctx, sizeof *s);
  if (!s) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  if (s->failed || NEVER(argc != PACK_NARGS))
    return;
  if (s->n == s->cap) {
    size_t nc = s->cap ? s->cap * 2 : 256;
    cu_ledger_ru *p = NULL;
    if (s->cap < PACK_MAX_ROLLUPS)
      p = sqlite3_realloc64(s->v, nc * sizeof *p);
    if (!p) {
      s->failed = true;
      if (s->cap < PACK_MAX_ROLLUPS)
        sqlite3_result_error_nomem(ctx);
      else
        sqlite3_result_error(ctx, "custos_pack_rollups: block too large", -1);
      return;
    }
    s->v = p;
    s->cap = nc;
  }
  cu_ledger_ru *ru = &s->v[s->n];
  for (int i = 0; i < PACK_NARGS; i++) {
    if (sqlite3_value_type(argv[i]) != SQLITE_INTEGER) {
      s->failed = true;
      sqlite3_result_error(ctx, "custos_pack_rollups: a value is not an "
                                "integer", -1);
      return;
    }
    ru->v[col_field[i]] = sqlite3_value_int64(argv[i]);
  }
  s->n++;
}

static void pack_final(sqlite3_context *ctx) {
  pack_state *s = sqlite3_aggregate_context(ctx, 0);
  if (s && s->failed) {
    sqlite3_free(s->v);
    return;
  }
  size_t n = s ? s->n : 0;
  if (n)
    qsort(s->v, n, sizeof *s->v, cu_ledger_ru_cmp);
  cu_buf b;
  cu_buf_init(&b, PACK_MAX_BYTES);
  custos_rc rc = cu_ledger_block_encode(s ? s->v : NULL, n, &b);
  if (rc == CUSTOS_OK)
    sqlite3_result_blob64(ctx, b.data, b.len, SQLITE_TRANSIENT);
  else if (rc == CUSTOS_ENOMEM)
    sqlite3_result_error_nomem(ctx);
  else
    sqlite3_result_error(ctx, "custos_pack_rollups: block too large", -1);
  cu_buf_free(&b);
  if (s)
    sqlite3_free(s->v);
}

custos_rc cu_ledger_on_open(sqlite3 *db, custos_diag *d) {
  int rc = sqlite3_create_module_v2(db, "custos_rollups", &rollups_module,
                                    NULL, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_create_module_v2(db, "custos_int_rows", &int_rows_module,
                                  NULL, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_create_function_v2(
        db, "custos_pack_rollups", PACK_NARGS,
        SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL, NULL,
        pack_step, pack_final, NULL);
  if (rc != SQLITE_OK)
    return cu_diag_set(d, CUSTOS_EDB, "cannot register the rollup blocks: %s",
                       sqlite3_errstr(rc));
  return CUSTOS_OK;
}
