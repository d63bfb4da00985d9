/*
 * Decisions: which policy applies, to exactly which scope, with which
 * effect and from when.  A scope is built from selectors checked against
 * the directory and the catalogue, so a decision never names a unit,
 * subscription or region that does not exist.
 */
#include <stdlib.h>
#include <string.h>

#include "cases.h"
#include "directory/directory.h"

static const char *const scope_keys[] = {"account",  "unit",    "subscription",
                                         "category", "service", "region",
                                         "country"};

void cu_scope_free(cu_scope *scope) {
  if (scope) {
    json_decref(scope->sel);
    scope->sel = NULL;
  }
}

/* Whether value names a row of the directory table for key. */
static custos_rc exists_in(cu_ws *ws, const char *key, const char *value,
                           bool *found, custos_diag *d) {
  const char *sql = strcmp(key, "account") == 0
                        ? "SELECT 1 FROM accounts WHERE id = ?1"
                    : strcmp(key, "unit") == 0
                        ? "SELECT 1 FROM units WHERE id = ?1"
                        : "SELECT 1 FROM subscriptions WHERE id = ?1";
  sqlite3_stmt *st = NULL;
  custos_rc rc = cu_ws_prepare(ws, sql, &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  sqlite3_bind_text(st, 1, value, -1, SQLITE_STATIC);
  *found = sqlite3_step(st) == SQLITE_ROW;
  sqlite3_finalize(st);
  return CUSTOS_OK;
}

custos_rc cu_scope_add(cu_ws *ws, cu_scope *scope, const char *selector,
                       custos_diag *d) {
  const char *eq = strchr(selector, '=');
  size_t klen = eq ? (size_t)(eq - selector) : 0;
  const char *key = NULL;
  for (size_t i = 0; eq && i < CU_ARRAY_LEN(scope_keys); i++)
    if (strlen(scope_keys[i]) == klen &&
        memcmp(scope_keys[i], selector, klen) == 0)
      key = scope_keys[i];
  if (!key || !eq[1]) {
    cu_diag_field(d, "scope", selector, strlen(selector));
    cu_diag_hint(d, "write KEY=VALUE with KEY one of account, unit, "
                    "subscription, category, service, region, country");
    return cu_diag_set(d, CUSTOS_EINVAL, "invalid scope selector");
  }
  const char *value = eq + 1;
  char canon[128];
  snprintf(canon, sizeof canon, "%s", value);
  bool found = true;
  custos_rc rc = CUSTOS_OK;
  if (strcmp(key, "account") == 0 || strcmp(key, "unit") == 0 ||
      strcmp(key, "subscription") == 0) {
    rc = exists_in(ws, key, value, &found, d);
  } else {
    const cu_catalog *cat = NULL;
    rc = cu_catalog_get(&cat, d);
    if (rc == CUSTOS_OK && strcmp(key, "region") == 0) {
      const cu_region *r = cu_catalog_region(cat, value, strlen(value));
      found = r != NULL;
      if (r)
        snprintf(canon, sizeof canon, "%s", r->id);
    } else if (rc == CUSTOS_OK && strcmp(key, "category") == 0) {
      found = cu_catalog_category_valid(cat, value, NULL);
    } else if (rc == CUSTOS_OK && strcmp(key, "country") == 0) {
      found = strlen(value) == 2 && value[0] >= 'A' && value[0] <= 'Z' &&
              value[1] >= 'A' && value[1] <= 'Z';
    }
    /* service: any name; the plan shows which usage it matches */
  }
  if (rc != CUSTOS_OK)
    return rc;
  if (!found) {
    cu_diag_field(d, key, value, strlen(value));
    cu_diag_hint(d, "`custos directory` lists accounts, units, regions and "
                    "service categories");
    return cu_diag_set(d, CUSTOS_ENOTFOUND, "scope names no such %s", key);
  }
  if (!scope->sel)
    scope->sel = json_object();
  json_t *arr = json_object_get(scope->sel, key);
  if (!arr) {
    arr = json_array();
    json_object_set_new(scope->sel, key, arr);
  }
  size_t i;
  json_t *v;
  json_array_foreach(arr, i, v) {
    if (strcmp(json_string_value(v), canon) == 0)
      return CUSTOS_OK;
  }
  if (json_array_append_new(arr, json_string(canon)) != 0)
    return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory");
  return CUSTOS_OK;
}

custos_rc cu_decision_add(cu_ws *ws, const char *case_id,
                          const cu_decision_in *in, int64_t *id,
                          custos_diag *d) {
  int nclaims = 0;
  custos_rc rc = cu_case_check(ws, case_id, &nclaims, d);
  if (rc != CUSTOS_OK)
    return rc;
  if (!in->rationale || !*in->rationale) {
    cu_diag_field(d, "rationale", "", 0);
    cu_diag_hint(d, "say why, in a sentence or two");
    return cu_diag_set(d, CUSTOS_EINVAL, "a decision needs a rationale");
  }
  if (strcmp(in->effect, "deny-new") != 0 &&
      strcmp(in->effect, "read-only") != 0 &&
      strcmp(in->effect, "deny-all") != 0) {
    cu_diag_field(d, "effect", in->effect, strlen(in->effect));
    cu_diag_hint(d, "use deny-new, read-only or deny-all");
    return cu_diag_set(d, CUSTOS_EINVAL, "unknown effect");
  }
  json_t *sel = in->scope ? in->scope->sel : NULL;
  if (!sel || !(json_object_get(sel, "account") ||
                json_object_get(sel, "unit") ||
                json_object_get(sel, "subscription"))) {
    cu_diag_field(d, "scope", "", 0);
    cu_diag_hint(d, "name the account, unit or subscriptions with --scope "
                    "unit=ID (and narrow it with category=, service=, "
                    "region=)");
    return cu_diag_set(d, CUSTOS_EINVAL,
                       "a decision must name whom it applies to");
  }
  /* The author is a registered reviewer, so that "the author of the
   * decision cannot approve its plan" compares people, not login names. */
  rc = cu_person_check(ws, cu_ws_actor(ws), "reviewer", d);
  if (rc != CUSTOS_OK) {
    cu_diag_hint(d, "decide as a registered reviewer: custos decide --as "
                    "PERSON, after custos person add PERSON --role reviewer");
    return rc;
  }
  int64_t version = 0;
  char sha[2 * CU_SHA256_LEN + 1], title[256];
  rc = cu_policy_get(ws, in->policy, &version, sha, title, sizeof title, d);
  if (rc != CUSTOS_OK)
    return rc;

  /* Every claim needs a current finding, and one must be supported. */
  sqlite3_stmt *st = NULL;
  rc = cu_ws_prepare(ws,
                     "SELECT k.n, (SELECT judgement FROM findings f WHERE"
                     " f.case_id = k.case_id AND f.claim = k.n AND"
                     " f.superseded_by IS NULL) FROM claims k"
                     " WHERE k.case_id = ?1 ORDER BY k.n",
                     &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  sqlite3_bind_text(st, 1, case_id, -1, SQLITE_STATIC);
  int supported = 0, missing = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *j = (const char *)sqlite3_column_text(st, 1);
    if (!j && !missing)
      missing = sqlite3_column_int(st, 0);
    if (j && strcmp(j, "supported") == 0)
      supported++;
  }
  sqlite3_finalize(st);
  if (missing) {
    cu_diag_hint(d, "record a finding for every claim with `custos finding`");
    return cu_diag_set(d, CUSTOS_EREFUSED, "claim %d of %s has no finding",
                       missing, case_id);
  }
  if (supported == 0) {
    cu_diag_hint(d, "a decision to enforce needs at least one supported "
                    "claim; close the case instead");
    return cu_diag_set(d, CUSTOS_EREFUSED, "no claim of %s is supported",
                       case_id);
  }
  char *scope_text = json_dumps(sel, JSON_COMPACT | JSON_SORT_KEYS);
  if (!scope_text)
    return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory");
  rc = cu_ws_begin(ws, d);
  if (rc != CUSTOS_OK) {
    free(scope_text);
    return rc;
  }
  char when[32];
  cu_time_format(in->effective_at, when, sizeof when);
  int64_t seq = 0;
  rc = cu_ws_event_json(
      ws, "decision.add", case_id,
      json_pack("{s:s,s:s,s:I,s:s,s:O,s:s,s:s,s:b,s:s}", "case", case_id,
                "policy", in->policy, "policy_version", (json_int_t)version,
                "policy_sha256", sha, "scope", sel, "effect", in->effect,
                "effective_at", when, "future", in->future, "rationale",
                in->rationale),
      &seq, d);
  if (rc == CUSTOS_OK)
    rc = cu_ws_prepare(ws,
                       "INSERT INTO decisions(case_id, policy_id,"
                       " policy_version, policy_sha256, scope, effect,"
                       " effective_at, future, rationale, author, at,"
                       " event_seq) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,"
                       "?11,?12) RETURNING id",
                       &st, d);
  if (rc == CUSTOS_OK) {
    sqlite3_bind_text(st, 1, case_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, in->policy, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, version);
    sqlite3_bind_text(st, 4, sha, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, scope_text, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, in->effect, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, in->effective_at);
    sqlite3_bind_int(st, 8, in->future ? 1 : 0);
    sqlite3_bind_text(st, 9, in->rationale, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, cu_ws_actor(ws), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 11, cu_time_now());
    sqlite3_bind_int64(st, 12, seq);
    if (sqlite3_step(st) == SQLITE_ROW)
      *id = sqlite3_column_int64(st, 0);
    else
      rc = cu_ws_dberr(ws, "cannot store decision", d);
    sqlite3_finalize(st);
  }
  free(scope_text);
  if (rc == CUSTOS_OK)
    rc = cu_case_set_status(ws, case_id, "decided", in->rationale, d);
  if (rc == CUSTOS_OK)
    rc = cu_ws_commit(ws, d);
  else
    cu_ws_rollback(ws);
  return rc;
}
