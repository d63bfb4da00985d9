/*
 * The report's model: everything a report or statement says, gathered once
 * from the workspace into one JSON object, so the HTML, the Markdown and the
 * statement cannot disagree with each other.
 */
#include <stdlib.h>
#include <string.h>

#include "cases/cases.h"
#include "directory/directory.h"
#include "ledger/ledger.h"
#include "reportInt.h"
#include "tlog/tlog.h"

/* The latest plan of the case, preferring an applied one, with approvals
 * and outcomes; NULL (no error) when the case has none. */
static custos_rc load_plan(cu_ws *ws, const char *case_id, json_t **out,
                           custos_diag *d) {
  *out = NULL;
  sqlite3_stmt *st = NULL;
  custos_rc rc = cu_ws_prepare(
      ws,
      "SELECT hash, kind, status, body, EXISTS(SELECT 1 FROM plans r"
      "  WHERE r.case_id = p.case_id AND r.kind = 'reinstate'"
      "  AND r.status = 'applied' AND r.rowid > p.rowid)"
      " FROM plans p WHERE case_id = ?1"
      " ORDER BY (kind = 'enforce' AND status = 'applied') DESC,"
      " (status = 'applied') DESC, rowid DESC LIMIT 1",
      &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  sqlite3_bind_text(st, 1, case_id, -1, SQLITE_STATIC);
  if (sqlite3_step(st) != SQLITE_ROW) {
    sqlite3_finalize(st);
    return CUSTOS_OK;
  }
  json_t *body = json_loadb(sqlite3_column_blob(st, 3),
                            (size_t)sqlite3_column_bytes(st, 3), 0, NULL);
  json_t *plan = json_pack("{s:s,s:s,s:s,s:o,s:[],s:[],s:b}", "hash",
                           (const char *)sqlite3_column_text(st, 0), "kind",
                           (const char *)sqlite3_column_text(st, 1), "status",
                           (const char *)sqlite3_column_text(st, 2), "body",
                           body ? body : json_object(), "approvals",
                           "outcomes", "reinstated",
                           sqlite3_column_int(st, 4) != 0);
  sqlite3_finalize(st);
  if (!plan)
    return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory");
  const char *hash = json_string_value(json_object_get(plan, "hash"));
  rc = cu_ws_prepare(ws,
                     "SELECT person, at FROM approvals WHERE plan_hash = ?1"
                     " ORDER BY at, person",
                     &st, d);
  if (rc == CUSTOS_OK) {
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW)
      json_array_append_new(
          json_object_get(plan, "approvals"),
          json_pack("{s:s,s:I}", "person",
                    (const char *)sqlite3_column_text(st, 0), "at",
                    (json_int_t)sqlite3_column_int64(st, 1)));
    sqlite3_finalize(st);
    rc = cu_ws_prepare(ws,
                       "SELECT idx, subscription, service, region, status,"
                       " revision, error, at, actor FROM outcomes"
                       " WHERE plan_hash = ?1 ORDER BY idx",
                       &st, d);
  }
  if (rc == CUSTOS_OK) {
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW)
      json_array_append_new(
          json_object_get(plan, "outcomes"),
          json_pack("{s:I,s:s,s:s,s:s,s:s,s:I,s:s?,s:I,s:s}", "idx",
                    (json_int_t)sqlite3_column_int64(st, 0), "subscription",
                    (const char *)sqlite3_column_text(st, 1), "service",
                    (const char *)sqlite3_column_text(st, 2), "region",
                    (const char *)sqlite3_column_text(st, 3), "status",
                    (const char *)sqlite3_column_text(st, 4), "revision",
                    (json_int_t)sqlite3_column_int64(st, 5), "error",
                    (const char *)sqlite3_column_text(st, 6), "at",
                    (json_int_t)sqlite3_column_int64(st, 7), "actor",
                    (const char *)sqlite3_column_text(st, 8)));
    sqlite3_finalize(st);
  }
  if (rc != CUSTOS_OK) {
    json_decref(plan);
    return rc;
  }
  *out = plan;
  return CUSTOS_OK;
}

/* Monthly usage of one unit by category, service and region: a recorded
 * query of the case. */
static custos_rc load_series(cu_ws *ws, const char *case_id, const char *unit,
                             json_t *series, custos_diag *d) {
  cu_ledger_query_spec spec;
  memset(&spec, 0, sizeof spec);
  spec.unit = unit;
  spec.case_id = case_id;
  custos_rc rc = cu_ledger_parse_by("month,category,service,region", &spec, d);
  cu_ledger_result *res = NULL;
  if (rc == CUSTOS_OK)
    rc = cu_ledger_query(ws, &spec, &res, d);
  if (rc != CUSTOS_OK)
    return rc;
  int col[6] = {-1, -1, -1, -1, -1, -1};
  static const cu_ledger_dim want[6] = {CU_DIM_MONTH,   CU_DIM_CATEGORY,
                                        CU_DIM_SERVICE, CU_DIM_REGION,
                                        CU_DIM_QTY_UNIT, CU_DIM_CURRENCY};
  for (size_t k = 0; k < res->ncols; k++)
    for (int w = 0; w < 6; w++)
      if (res->cols[k] == want[w])
        col[w] = (int)k;
  json_t *rows = json_array();
  for (size_t i = 0; i < res->nrows; i++) {
    const cu_ledger_result_row *r = &res->rows[i];
    const char *v[6];
    for (int w = 0; w < 6; w++)
      v[w] = col[w] >= 0 ? r->key[col[w]] : "";
    json_array_append_new(
        rows, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:f,s:f}", "month", v[0],
                        "category", v[1], "service", v[2], "region", v[3],
                        "qty_unit", v[4], "currency", v[5], "quantity",
                        (double)r->quantity / 1e9, "billed",
                        (double)r->billed / 1e10));
  }
  json_array_append_new(series,
                        json_pack("{s:s,s:s,s:I,s:o}", "unit", unit,
                                  "result_sha256", res->sha256, "rows",
                                  (json_int_t)res->nrows, "data", rows));
  cu_ledger_result_free(res);
  return CUSTOS_OK;
}

/* Key entries of the case in the log, with a proof bundle each. */
static custos_rc load_log(cu_ws *ws, const char *case_id, json_t *model,
                          custos_diag *d) {
  custos_rc rc = cu_log_sync(ws, d);
  cu_buf note;
  cu_buf_init(&note, 1 << 16);
  cu_log_checkpoint cp;
  if (rc == CUSTOS_OK)
    rc = cu_log_checkpoint_get(ws, &note, &cp, d);
  cu_log_vkey vk;
  char vkey[512] = "";
  if (rc == CUSTOS_OK)
    rc = cu_log_vkey_get(ws, &vk, d);
  if (rc == CUSTOS_OK && cu_log_vkey_format(&vk, vkey, sizeof vkey))
    rc = cu_diag_set(d, CUSTOS_EINTERNAL, "cannot format the log key");
  json_t *entries = json_array();
  sqlite3_stmt *st = NULL;
  if (rc == CUSTOS_OK)
    rc = cu_ws_prepare(ws,
                       "SELECT seq, type, time, actor FROM events"
                       " WHERE case_id = ?1 AND type IN ('case.open',"
                       " 'evidence.add', 'finding.add', 'decision.add',"
                       " 'plan.create', 'plan.approve', 'plan.applied',"
                       " 'notice.sent') AND seq < ?2 ORDER BY seq",
                       &st, d);
  if (rc == CUSTOS_OK) {
    sqlite3_bind_text(st, 1, case_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)cp.size);
    while (rc == CUSTOS_OK && sqlite3_step(st) == SQLITE_ROW) {
      int64_t seq = sqlite3_column_int64(st, 0);
      cu_buf proof;
      cu_buf_init(&proof, 1 << 20);
      rc = cu_log_prove(ws, (uint64_t)seq, &proof, d);
      if (rc == CUSTOS_OK)
        json_array_append_new(
            entries,
            json_pack("{s:I,s:s,s:I,s:s,s:s}", "index", (json_int_t)seq,
                      "type", (const char *)sqlite3_column_text(st, 1), "time",
                      (json_int_t)sqlite3_column_int64(st, 2), "actor",
                      (const char *)sqlite3_column_text(st, 3), "proof",
                      proof.data ? proof.data : ""));
      cu_buf_free(&proof);
    }
    sqlite3_finalize(st);
  }
  if (rc == CUSTOS_OK) {
    char root[64];
    cu_b64_encode(cp.root, 32, root);
    json_object_set_new(model, "log",
                        json_pack("{s:s,s:I,s:s,s:s,s:s,s:o}", "origin",
                                  cp.origin, "size", (json_int_t)cp.size,
                                  "root", root, "checkpoint", note.data,
                                  "vkey", vkey, "entries", entries));
    entries = NULL;
  }
  json_decref(entries);
  cu_buf_free(&note);
  return rc;
}

/* The display name and country of each region the plan names. */
static void add_region_names(json_t *model) {
  const cu_catalog *cat = NULL;
  if (cu_catalog_get(&cat, NULL) != CUSTOS_OK)
    return;
  json_t *names = json_object();
  for (size_t i = 0; i < cu_catalog_nregions(cat); i++) {
    const cu_region *r = cu_catalog_region_at(cat, i);
    json_object_set_new(names, r->id,
                        json_pack("{s:s,s:s}", "name", r->display_name,
                                  "country", r->country));
  }
  json_object_set_new(model, "regions", names);
}

custos_rc cu_report_model(cu_ws *ws, const char *case_id, json_t **out,
                          custos_diag *d) {
  json_t *c = NULL;
  custos_rc rc = cu_case_json(ws, case_id, &c, d);
  if (rc != CUSTOS_OK)
    return rc;
  json_t *model = json_pack("{s:o,s:[]}", "case", c, "series");
  json_t *plan = NULL;
  rc = load_plan(ws, case_id, &plan, d);
  if (rc == CUSTOS_OK && plan)
    json_object_set_new(model, "plan", plan);
  /* The units under review: those the latest decision names. */
  json_t *decs = json_object_get(c, "decisions");
  json_t *dec = json_array_get(decs, json_array_size(decs) - 1);
  json_t *units = json_object_get(json_object_get(dec, "scope"), "unit");
  size_t i;
  json_t *u;
  json_array_foreach(units, i, u) {
    if (rc != CUSTOS_OK)
      break;
    rc = load_series(ws, case_id, json_string_value(u),
                     json_object_get(model, "series"), d);
  }
  /* The account, with its name, from any scoped unit or the plan. */
  sqlite3_stmt *st = NULL;
  const char *unit0 = json_string_value(json_array_get(units, 0));
  if (rc == CUSTOS_OK && unit0)
    rc = cu_ws_prepare(ws,
                       "SELECT a.id, a.name, a.country, a.sector, u.name"
                       " FROM units u JOIN accounts a ON a.id = u.account_id"
                       " WHERE u.id = ?1",
                       &st, d);
  if (rc == CUSTOS_OK && st) {
    sqlite3_bind_text(st, 1, unit0, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
      json_object_set_new(
          model, "account",
          json_pack("{s:s,s:s,s:s,s:s,s:s}", "id",
                    (const char *)sqlite3_column_text(st, 0), "name",
                    (const char *)sqlite3_column_text(st, 1), "country",
                    (const char *)sqlite3_column_text(st, 2), "sector",
                    (const char *)sqlite3_column_text(st, 3), "unit_name",
                    (const char *)sqlite3_column_text(st, 4)));
    sqlite3_finalize(st);
  }
  if (rc == CUSTOS_OK && dec) {
    int64_t version = 0;
    char sha[65], title[256];
    const char *pid = json_string_value(json_object_get(dec, "policy"));
    rc = cu_policy_get(ws, pid ? pid : "", &version, sha, title, sizeof title,
                       d);
    /* The version that applied is the decision's; the file gives the
     * title. */
    if (rc == CUSTOS_OK)
      json_object_set_new(
          model, "policy",
          json_pack("{s:s,s:s,s:O}", "id", pid, "title", title, "version",
                    json_object_get(dec, "policy_version")));
  }
  add_region_names(model);
  if (rc == CUSTOS_OK)
    rc = load_log(ws, case_id, model, d);
  if (rc != CUSTOS_OK) {
    json_decref(model);
    return rc;
  }
  *out = model;
  return CUSTOS_OK;
}
