/*
 * Usage queries over the rollups.  One function, cu_ledger_query, runs
 * every one of them and puts it on the record with a digest of its
 * canonical result, so that what a reviewer looked at can be shown later.
 * The SQL is put together only from the constant fragments below; every
 * value a person gives is bound as a parameter.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "directory/directory.h"
#include "ledgerInt.h"

static const char *const dim_names[CU_DIM_COUNT_] = {
    "day",     "month",  "account", "unit",     "subscription", "category",
    "service", "meter",  "region",  "country",  "qty_unit",     "currency"};

/* For each dimension: the inner grouping expression, and whether the outer
 * query maps it from a usage_dims id to its value. */
static const struct {
  const char *expr;
  bool is_dim;
} dim_sql[CU_DIM_COUNT_] = {
    {"r.day", false},
    {"strftime('%Y-%m', r.day * 86400, 'unixepoch')", false},
    {"r.account", true},
    {"r.unit", true},
    {"r.subscription", true},
    {"sv.attr1", false},
    {"sv.value", false},
    {"r.meter", true},
    {"r.region", true},
    {"rg.attr1", false},
    {"r.qty_unit", true},
    {"r.currency", true},
};

const char *cu_ledger_dim_name(cu_ledger_dim d) {
  return (unsigned)d < CU_DIM_COUNT_ ? dim_names[d] : "?";
}

custos_rc cu_ledger_parse_by(const char *s, cu_ledger_query_spec *spec,
                             custos_diag *d) {
  spec->nby = 0;
  const char *p = s;
  while (*p) {
    const char *e = strchr(p, ',');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    bool found = false;
    for (int k = 0; k < CU_DIM_QTY_UNIT; k++) {
      if (strlen(dim_names[k]) == n && strncmp(dim_names[k], p, n) == 0) {
        bool dup = false;
        for (size_t j = 0; j < spec->nby; j++)
          dup = dup || spec->by[j] == (cu_ledger_dim)k;
        if (!dup)
          spec->by[spec->nby++] = (cu_ledger_dim)k;
        found = true;
      }
    }
    if (!found) {
      cu_diag_field(d, "by", p, n);
      cu_diag_hint(d, "group by day, month, account, unit, subscription, "
                      "category, service, meter, region or country");
      return cu_diag_set(d, CUSTOS_EINVAL, "unknown grouping");
    }
    p += n;
    if (*p == ',')
      p++;
  }
  return CUSTOS_OK;
}

void cu_ledger_result_free(cu_ledger_result *r) {
  if (!r)
    return;
  for (size_t i = 0; i < r->nrows; i++)
    for (size_t k = 0; k < r->ncols; k++)
      cu_free(r->rows[i].key[k]);
  cu_free(r->rows);
  json_decref(r->query);
  cu_free(r);
}

json_t *cu_ledger_result_json(const cu_ledger_result *r) {
  json_t *arr = json_array();
  if (!arr)
    return NULL;
  for (size_t i = 0; i < r->nrows; i++) {
    const cu_ledger_result_row *row = &r->rows[i];
    json_t *o = json_object();
    if (!o || json_array_append_new(arr, o) != 0) {
      json_decref(arr);
      return NULL;
    }
    char q[64], b[64], e[64];
    for (size_t k = 0; k < r->ncols; k++)
      json_object_set_new(o, dim_names[r->cols[k]],
                          json_string(row->key[k] ? row->key[k] : ""));
    json_object_set_new(
        o, "quantity",
        json_string(cu_ledger_decimal_format(row->quantity, CU_QTY_SCALE, q,
                                             sizeof q)));
    json_object_set_new(
        o, "billed_cost",
        json_string(cu_ledger_decimal_format(row->billed, CU_COST_SCALE, b,
                                             sizeof b)));
    json_object_set_new(
        o, "effective_cost",
        json_string(cu_ledger_decimal_format(row->effective, CU_COST_SCALE, e,
                                             sizeof e)));
    json_object_set_new(o, "rows", json_integer((json_int_t)row->rows));
  }
  return arr;
}

static custos_rc bad_filter(custos_diag *d, const char *field, const char *v,
                            const char *msg, const char *hint) {
  cu_diag_field(d, field, v, strlen(v));
  cu_diag_hint(d, "%s", hint);
  return cu_diag_set(d, CUSTOS_EINVAL, "%s", msg);
}

/* Whether t (seconds since the epoch, UTC) is midnight of a month's first
 * day. */
static bool month_start(int64_t t) {
  char s[16];
  cu_date_format(t, s, sizeof s);
  return t % 86400 == 0 && strcmp(s + 8, "01") == 0;
}

custos_rc cu_ledger_query(cu_ws *ws, const cu_ledger_query_spec *spec,
                          cu_ledger_result **out, custos_diag *d) {
  return cu_ledger_query_from(ws, spec, false, out, d);
}

custos_rc cu_ledger_query_from(cu_ws *ws, const cu_ledger_query_spec *spec,
                               bool force_daily, cu_ledger_result **out,
                               custos_diag *d) {
  *out = NULL;
  if (!ws || !spec)
    return cu_diag_set(d, CUSTOS_EINVAL, "no query");
  const cu_catalog *cat = NULL;
  custos_rc rc = cu_catalog_get(&cat, d);
  if (rc != CUSTOS_OK)
    return rc;
  const char *region_id = NULL;
  if (spec->region) {
    const cu_region *reg =
        cu_catalog_region(cat, spec->region, strlen(spec->region));
    if (!reg)
      return bad_filter(d, "region", spec->region, "unknown region",
                        "custos directory regions lists the regions");
    region_id = reg->id;
  }
  int64_t from = 0, to = 0;
  if (spec->from) {
    if (cu_ledger_time(spec->from, strlen(spec->from), &from) != CUSTOS_OK)
      return bad_filter(d, "from", spec->from, "not a date",
                        "write dates as YYYY-MM-DD");
  }
  if (spec->to) {
    if (cu_ledger_time(spec->to, strlen(spec->to), &to) != CUSTOS_OK)
      return bad_filter(d, "to", spec->to, "not a date",
                        "write dates as YYYY-MM-DD");
  }

  cu_ledger_result *res = cu_calloc(1, sizeof *res);
  if (!res)
    return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory");
  for (size_t i = 0; i < spec->nby && i < CU_DIM_QTY_UNIT; i++)
    res->cols[res->ncols++] = spec->by[i];
  res->cols[res->ncols++] = CU_DIM_QTY_UNIT;
  res->cols[res->ncols++] = CU_DIM_CURRENCY;

  /* The query as recorded: filters that were set, and the grouping. */
  json_t *q = json_object();
  json_t *by = json_array();
  if (!q || !by) {
    json_decref(q);
    json_decref(by);
    cu_ledger_result_free(res);
    return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory");
  }
  json_object_set_new(q, "by", by);
  for (size_t i = 0; i + 2 < res->ncols; i++)
    json_array_append_new(by, json_string(dim_names[res->cols[i]]));
  const struct {
    const char *name, *value;
  } filters[] = {{"account", spec->account},     {"unit", spec->unit},
                 {"subscription", spec->subscription},
                 {"category", spec->category}, {"service", spec->service},
                 {"region", region_id},        {"country", spec->country},
                 {"from", spec->from},         {"to", spec->to}};
  for (size_t i = 0; i < CU_ARRAY_LEN(filters); i++)
    if (filters[i].value)
      json_object_set_new(q, filters[i].name, json_string(filters[i].value));
  res->query = q;

  /* The monthly rollups answer a query that does not group by day and
   * whose time range, if any, is whole months: they hold the same sums per
   * source and dimension, so the result is the same, from about 30 times
   * fewer rows. */
  bool monthly = !force_daily && (!spec->from || month_start(from)) &&
                 (!spec->to || month_start(to));
  for (size_t i = 0; i < res->ncols; i++)
    monthly = monthly && res->cols[i] != CU_DIM_DAY;

  /* Inner query: group by ids, sum split amounts (exact in int64 for any
   * number of rows custos can hold), then map ids to values outside. */
  cu_buf sql;
  cu_buf_init(&sql, 16384);
  bool need_sv = spec->category || spec->service, need_rg = region_id ||
                                                            spec->country;
  for (size_t i = 0; i < res->ncols; i++) {
    need_sv = need_sv || res->cols[i] == CU_DIM_CATEGORY ||
              res->cols[i] == CU_DIM_SERVICE;
    need_rg = need_rg || res->cols[i] == CU_DIM_COUNTRY;
  }
  rc = cu_buf_puts(&sql, ", g.qh, g.ql, g.bh, g.bl, g.eh, g.el, g.n FROM"
                         " (SELECT ");
  for (size_t i = 0; i < res->ncols && rc == CUSTOS_OK; i++)
    rc = cu_buf_printf(&sql, "%s AS k%zu, ",
                       monthly && res->cols[i] == CU_DIM_MONTH
                           ? "strftime('%Y-%m', r.month * 86400, 'unixepoch')"
                           : dim_sql[res->cols[i]].expr,
                       i);
  if (rc == CUSTOS_OK && monthly)
    rc = cu_buf_puts(&sql, "sum(r.qh) AS qh, sum(r.ql) AS ql,"
                           " sum(r.bh) AS bh, sum(r.bl) AS bl,"
                           " sum(r.eh) AS eh, sum(r.el) AS el,"
                           " sum(r.rows) AS n FROM usage_monthly r");
  else if (rc == CUSTOS_OK)
    rc = cu_buf_puts(
        &sql, "sum(r.quantity / 1000000000) AS qh,"
              " sum(r.quantity % 1000000000) AS ql,"
              " sum(r.billed / 1000000000) AS bh,"
              " sum(r.billed % 1000000000) AS bl,"
              " sum(r.effective / 1000000000) AS eh,"
              " sum(r.effective % 1000000000) AS el,"
              " sum(r.rows) AS n FROM usage_rollups r");
  if (rc == CUSTOS_OK && need_sv)
    rc = cu_buf_puts(&sql, " JOIN usage_dims sv ON sv.id = r.service");
  if (rc == CUSTOS_OK && need_rg)
    rc = cu_buf_puts(&sql, " JOIN usage_dims rg ON rg.id = r.region");
  if (rc == CUSTOS_OK)
    rc = cu_buf_puts(&sql, " WHERE 1");
  if (rc == CUSTOS_OK && spec->account)
    rc = cu_buf_puts(&sql, " AND r.account = (SELECT id FROM usage_dims WHERE"
                           " kind = 'account' AND value = ?1)");
  if (rc == CUSTOS_OK && spec->unit)
    rc = cu_buf_puts(
        &sql, " AND r.unit IN (SELECT id FROM usage_dims WHERE kind = 'unit'"
              " AND value IN (WITH RECURSIVE t(id) AS (SELECT ?2 UNION"
              " SELECT u.id FROM units u JOIN t ON u.parent_id = t.id)"
              " SELECT id FROM t))");
  if (rc == CUSTOS_OK && spec->subscription)
    rc = cu_buf_puts(&sql,
                     " AND r.subscription = (SELECT id FROM usage_dims WHERE"
                     " kind = 'subscription' AND value = ?3)");
  if (rc == CUSTOS_OK && spec->category)
    rc = cu_buf_puts(&sql, " AND sv.attr1 = ?4");
  if (rc == CUSTOS_OK && spec->service)
    rc = cu_buf_puts(&sql, " AND sv.value = ?5");
  if (rc == CUSTOS_OK && region_id)
    rc = cu_buf_puts(&sql, " AND rg.value = ?6");
  if (rc == CUSTOS_OK && spec->country)
    rc = cu_buf_puts(&sql, " AND rg.attr1 = ?7");
  if (rc == CUSTOS_OK && spec->from)
    rc = cu_buf_puts(&sql, monthly ? " AND r.month >= ?8" : " AND r.day >= ?8");
  if (rc == CUSTOS_OK && spec->to)
    rc = cu_buf_puts(&sql, monthly ? " AND r.month < ?9" : " AND r.day < ?9");
  if (rc == CUSTOS_OK)
    rc = cu_buf_puts(&sql, " GROUP BY ");
  for (size_t i = 0; i < res->ncols && rc == CUSTOS_OK; i++)
    rc = cu_buf_printf(&sql, "%sk%zu", i ? ", " : "", i);
  if (rc == CUSTOS_OK)
    rc = cu_buf_puts(&sql, ") g");
  /* Outer: values for ids. */
  for (size_t i = 0; i < res->ncols && rc == CUSTOS_OK; i++)
    if (dim_sql[res->cols[i]].is_dim)
      rc = cu_buf_printf(&sql,
                         " JOIN usage_dims d%zu ON d%zu.id = g.k%zu", i, i, i);
  if (rc != CUSTOS_OK) {
    cu_buf_free(&sql);
    cu_ledger_result_free(res);
    return cu_diag_set(d, rc, "cannot build the usage query");
  }
  /* The select list: values for mapped ids, the rest as grouped. */
  cu_buf full;
  cu_buf_init(&full, 20000);
  rc = cu_buf_puts(&full, "SELECT ");
  for (size_t i = 0; i < res->ncols && rc == CUSTOS_OK; i++) {
    if (dim_sql[res->cols[i]].is_dim)
      rc = cu_buf_printf(&full, "%sd%zu.value", i ? ", " : "", i);
    else
      rc = cu_buf_printf(&full, "%sg.k%zu", i ? ", " : "", i);
  }
  if (rc == CUSTOS_OK)
    rc = cu_buf_puts(&full, sql.data);
  if (rc == CUSTOS_OK)
    rc = cu_buf_puts(&full, " ORDER BY ");
  for (size_t i = 0; i < res->ncols && rc == CUSTOS_OK; i++)
    rc = cu_buf_printf(&full, "%s%zu", i ? ", " : "", i + 1);
  cu_buf_free(&sql);
  if (rc != CUSTOS_OK) {
    cu_buf_free(&full);
    cu_ledger_result_free(res);
    return cu_diag_set(d, rc, "cannot build the usage query");
  }

  sqlite3_stmt *st = NULL;
  rc = cu_ws_prepare(ws, full.data, &st, d);
  cu_buf_free(&full);
  if (rc != CUSTOS_OK) {
    cu_ledger_result_free(res);
    return rc;
  }
  if (spec->account)
    sqlite3_bind_text(st, 1, spec->account, -1, SQLITE_STATIC);
  if (spec->unit)
    sqlite3_bind_text(st, 2, spec->unit, -1, SQLITE_STATIC);
  if (spec->subscription)
    sqlite3_bind_text(st, 3, spec->subscription, -1, SQLITE_STATIC);
  if (spec->category)
    sqlite3_bind_text(st, 4, spec->category, -1, SQLITE_STATIC);
  if (spec->service)
    sqlite3_bind_text(st, 5, spec->service, -1, SQLITE_STATIC);
  if (region_id)
    sqlite3_bind_text(st, 6, region_id, -1, SQLITE_STATIC);
  if (spec->country)
    sqlite3_bind_text(st, 7, spec->country, -1, SQLITE_STATIC);
  if (spec->from)
    sqlite3_bind_int64(st, 8, from / 86400);
  if (spec->to)
    sqlite3_bind_int64(st, 9, to / 86400);

  size_t cap = 0;
  int step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    if (res->nrows == cap) {
      size_t nc = cap ? cap * 2 : 64;
      if (nc > ((size_t)1 << 24)) {
        rc = cu_diag_set(d, CUSTOS_ETOOBIG, "query result too large");
        cu_diag_hint(d, "filter or group more coarsely");
        break;
      }
      cu_ledger_result_row *p = cu_realloc(res->rows, nc * sizeof *p);
      if (!p) {
        rc = cu_diag_set(d, CUSTOS_ENOMEM, "out of memory");
        break;
      }
      res->rows = p;
      cap = nc;
    }
    cu_ledger_result_row *row = &res->rows[res->nrows];
    memset(row, 0, sizeof *row);
    res->nrows++;
    for (size_t k = 0; k < res->ncols; k++) {
      char tmp[32];
      const char *v;
      if (res->cols[k] == CU_DIM_DAY) {
        cu_date_format(sqlite3_column_int64(st, (int)k) * 86400, tmp,
                       sizeof tmp);
        v = tmp;
      } else {
        v = (const char *)sqlite3_column_text(st, (int)k);
      }
      row->key[k] = cu_strdup(v ? v : "");
      if (!row->key[k]) {
        rc = cu_diag_set(d, CUSTOS_ENOMEM, "out of memory");
        break;
      }
    }
    if (rc != CUSTOS_OK)
      break;
    int c = (int)res->ncols;
    const __int128 g = 1000000000;
    row->quantity = (__int128)sqlite3_column_int64(st, c) * g +
                    sqlite3_column_int64(st, c + 1);
    row->billed = (__int128)sqlite3_column_int64(st, c + 2) * g +
                  sqlite3_column_int64(st, c + 3);
    row->effective = (__int128)sqlite3_column_int64(st, c + 4) * g +
                     sqlite3_column_int64(st, c + 5);
    row->rows = sqlite3_column_int64(st, c + 6);
  }
  if (rc == CUSTOS_OK && step != SQLITE_DONE)
    rc = cu_ws_dberr(ws, "cannot run the usage query", d);
  sqlite3_finalize(st);
  if (rc != CUSTOS_OK) {
    cu_ledger_result_free(res);
    return rc;
  }

  /* Digest of the canonical result, and the record. */
  json_t *rj = cu_ledger_result_json(res);
  char *txt = rj ? json_dumps(rj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref(rj);
  if (!txt) {
    cu_ledger_result_free(res);
    return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory");
  }
  uint8_t dg[CU_SHA256_LEN];
  cu_sha256(txt, strlen(txt), dg);
  free(txt);
  cu_hex_encode(dg, CU_SHA256_LEN, res->sha256);
  json_incref(res->query);
  rc = cu_ws_record_query(ws, "usage", spec->case_id, res->query,
                          (int64_t)res->nrows, res->sha256, d);
  if (rc != CUSTOS_OK) {
    cu_ledger_result_free(res);
    return rc;
  }
  *out = res;
  return CUSTOS_OK;
}

custos_rc cu_ledger_monthly_series(cu_ws *ws, const char *unit,
                                   const char *case_id,
                                   cu_ledger_result **out, custos_diag *d) {
  cu_ledger_query_spec spec;
  memset(&spec, 0, sizeof spec);
  spec.unit = unit;
  spec.case_id = case_id;
  spec.by[0] = CU_DIM_MONTH;
  spec.by[1] = CU_DIM_REGION;
  spec.by[2] = CU_DIM_SERVICE;
  spec.nby = 3;
  return cu_ledger_query(ws, &spec, out, d);
}
