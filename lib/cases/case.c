/*
 * Cases, their status history, evidence and findings.  Each call that
 * changes a case is one transaction that also records its event, so the log
 * holds exactly what the database holds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cases.h"

static const char *const statuses[] = {CU_CASE_STATUSES};

static custos_rc step_done(cu_ws *ws, sqlite3_stmt *st, const char *what,
                           custos_diag *d) {
  int r = sqlite3_step(st);
  return r == SQLITE_DONE || r == SQLITE_ROW ? CUSTOS_OK
                                             : cu_ws_dberr(ws, what, d);
}

custos_rc cu_case_check(cu_ws *ws, const char *id, int *nclaims,
                        custos_diag *d) {
  sqlite3_stmt *st = NULL;
  custos_rc rc = cu_ws_prepare(
      ws, "SELECT (SELECT COUNT(*) FROM claims WHERE case_id = c.id)"
          " FROM cases c WHERE c.id = ?1",
      &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  int r = sqlite3_step(st);
  if (r == SQLITE_ROW) {
    if (nclaims)
      *nclaims = sqlite3_column_int(st, 0);
  } else if (r == SQLITE_DONE) {
    cu_diag_field(d, "case", id, strlen(id));
    cu_diag_hint(d, "`custos case list` lists the cases");
    rc = cu_diag_set(d, CUSTOS_ENOTFOUND, "no such case");
  } else {
    rc = cu_ws_dberr(ws, "cannot read case", d);
  }
  sqlite3_finalize(st);
  return rc;
}

custos_rc cu_case_set_status(cu_ws *ws, const char *id, const char *status,
                             const char *reason, custos_diag *d) {
  bool known = false;
  for (size_t i = 0; i < CU_ARRAY_LEN(statuses); i++)
    known = known || strcmp(statuses[i], status) == 0;
  if (!known) {
    cu_diag_field(d, "status", status, strlen(status));
    return cu_diag_set(d, CUSTOS_EINVAL, "unknown case status");
  }
  if (!reason || !*reason) {
    cu_diag_field(d, "reason", "", 0);
    cu_diag_hint(d, "say why the case moves to %s", status);
    return cu_diag_set(d, CUSTOS_EINVAL, "a status change needs a reason");
  }
  custos_rc rc = cu_case_check(ws, id, NULL, d);
  if (rc != CUSTOS_OK)
    return rc;
  sqlite3_stmt *st = NULL;
  rc = cu_ws_prepare(ws,
                     "INSERT INTO case_status(case_id, at, status, actor,"
                     " reason) VALUES(?1,?2,?3,?4,?5)",
                     &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, cu_time_now());
  sqlite3_bind_text(st, 3, status, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, cu_ws_actor(ws), -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, reason, -1, SQLITE_STATIC);
  rc = step_done(ws, st, "cannot record case status", d);
  sqlite3_finalize(st);
  if (rc != CUSTOS_OK)
    return rc;
  rc = cu_ws_prepare(ws, "UPDATE cases SET status = ?2 WHERE id = ?1", &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
  rc = step_done(ws, st, "cannot update case status", d);
  sqlite3_finalize(st);
  if (rc != CUSTOS_OK)
    return rc;
  return cu_ws_event_json(ws, "case.status", id,
                          json_pack("{s:s,s:s,s:s}", "case", id, "status",
                                    status, "reason", reason),
                          NULL, d);
}

custos_rc cu_case_open(cu_ws *ws, const char *path, const char *custodian,
                       char *id, custos_diag *d) {
  char *md = NULL;
  size_t n = 0;
  custos_rc rc = cu_file_read(path, CU_ALLEGATION_MAX_BYTES, &md, &n, d);
  if (rc == CUSTOS_ETOOBIG)
    cu_diag_hint(d, "an allegation file is at most 1 MiB of Markdown");
  if (rc != CUSTOS_OK)
    return rc;
  cu_allegation a;
  rc = cu_allegation_parse(path, md, n, &a, d);
  cu_free(md);
  if (rc != CUSTOS_OK)
    return rc;
  rc = cu_ws_begin(ws, d);
  if (rc != CUSTOS_OK)
    goto fail_parsed;
  cu_source src;
  int64_t existing = 0;
  rc = cu_source_register(ws, CU_CLASS_DOCUMENT, custodian, path, &src,
                          &existing, d);
  if (rc == CUSTOS_EEXIST) {
    cu_diag_at(d, path, 0, 0);
    cu_diag_hint(d, "this file was registered as source %lld; `custos case "
                    "list` shows its case",
                 (long long)existing);
    rc = cu_diag_set(d, CUSTOS_EEXIST, "allegation already registered");
  }
  if (rc != CUSTOS_OK)
    goto fail_tx;
  src.expected = src.accepted = (int64_t)a.nclaims;
  rc = cu_source_complete(ws, &src, d);
  if (rc != CUSTOS_OK)
    goto fail_tx;

  sqlite3_stmt *st = NULL;
  rc = cu_ws_prepare(ws, "SELECT COALESCE(MAX(seq), 0) + 1 FROM cases", &st,
                     d);
  if (rc != CUSTOS_OK)
    goto fail_tx;
  int64_t seq = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0)
                                               : 1;
  sqlite3_finalize(st);
  snprintf(id, CU_CASE_ID_MAX, "case-%04lld", (long long)seq);
  rc = cu_ws_prepare(ws,
                     "INSERT INTO cases(id, seq, title, publication,"
                     " published, text, source_id, opened_at, opened_by,"
                     " status) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,'open')",
                     &st, d);
  if (rc != CUSTOS_OK)
    goto fail_tx;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, seq);
  sqlite3_bind_text(st, 3, a.title, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, a.source, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, a.date, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 6, a.text, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 7, src.id);
  sqlite3_bind_int64(st, 8, cu_time_now());
  sqlite3_bind_text(st, 9, cu_ws_actor(ws), -1, SQLITE_STATIC);
  rc = step_done(ws, st, "cannot store case", d);
  sqlite3_finalize(st);
  if (rc != CUSTOS_OK)
    goto fail_tx;
  rc = cu_ws_prepare(ws, "INSERT INTO claims(case_id, n, text) VALUES(?1,?2,?3)",
                     &st, d);
  if (rc != CUSTOS_OK)
    goto fail_tx;
  json_t *claims = json_array();
  for (size_t i = 0; rc == CUSTOS_OK && i < a.nclaims; i++) {
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)(i + 1));
    sqlite3_bind_text(st, 3, a.claims[i], -1, SQLITE_STATIC);
    rc = step_done(ws, st, "cannot store claim", d);
    json_array_append_new(claims, json_string(a.claims[i]));
  }
  sqlite3_finalize(st);
  if (rc != CUSTOS_OK) {
    json_decref(claims);
    goto fail_tx;
  }
  rc = cu_ws_event_json(ws, "case.open", id,
                        json_pack("{s:s,s:s,s:s,s:s,s:I,s:s,s:o}", "case", id,
                                  "title", a.title, "source", a.source, "date",
                                  a.date, "source_id", (json_int_t)src.id,
                                  "sha256", src.sha256, "claims", claims),
                        NULL, d);
  if (rc == CUSTOS_OK)
    rc = cu_case_set_status(ws, id, "open", "allegation received", d);
  if (rc != CUSTOS_OK)
    goto fail_tx;
  rc = cu_ws_commit(ws, d);
  cu_allegation_free(&a);
  return rc;
fail_tx:
  cu_ws_rollback(ws);
fail_parsed:
  cu_allegation_free(&a);
  return rc;
}

static custos_rc check_claim(cu_ws *ws, const char *case_id, int claim,
                             custos_diag *d) {
  int n = 0;
  custos_rc rc = cu_case_check(ws, case_id, &n, d);
  if (rc != CUSTOS_OK)
    return rc;
  if (claim < 1 || claim > n) {
    char v[32];
    snprintf(v, sizeof v, "%d", claim);
    cu_diag_field(d, "claim", v, strlen(v));
    cu_diag_hint(d, "case %s has claims 1 to %d", case_id, n);
    return cu_diag_set(d, CUSTOS_ENOTFOUND, "no such claim");
  }
  return CUSTOS_OK;
}

custos_rc cu_evidence_add(cu_ws *ws, const char *case_id, int claim,
                          const cu_evidence *ev, int64_t *id,
                          custos_diag *d) {
  custos_rc rc = check_claim(ws, case_id, claim, d);
  if (rc != CUSTOS_OK)
    return rc;
  char *q = json_dumps(ev->query, JSON_COMPACT | JSON_SORT_KEYS);
  if (!q)
    return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory");
  rc = cu_ws_begin(ws, d);
  if (rc != CUSTOS_OK) {
    free(q);
    return rc;
  }
  int64_t seq = 0;
  rc = cu_ws_event_json(
      ws, "evidence.add", case_id,
      json_pack("{s:s,s:i,s:s,s:O,s:I,s:s,s:s?}", "case", case_id, "claim",
                claim, "kind", ev->kind, "query", ev->query, "results",
                (json_int_t)ev->results, "result_sha256", ev->result_sha256,
                "summary", ev->summary),
      &seq, d);
  sqlite3_stmt *st = NULL;
  if (rc == CUSTOS_OK)
    rc = cu_ws_prepare(ws,
                       "INSERT INTO evidence(case_id, claim, kind, query,"
                       " results, result_sha256, summary, added_by, added_at,"
                       " event_seq) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)"
                       " RETURNING id",
                       &st, d);
  if (rc == CUSTOS_OK) {
    sqlite3_bind_text(st, 1, case_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, claim);
    sqlite3_bind_text(st, 3, ev->kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, q, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, ev->results);
    sqlite3_bind_text(st, 6, ev->result_sha256, -1, SQLITE_STATIC);
    if (ev->summary)
      sqlite3_bind_text(st, 7, ev->summary, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, cu_ws_actor(ws), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 9, cu_time_now());
    sqlite3_bind_int64(st, 10, seq);
    if (sqlite3_step(st) == SQLITE_ROW)
      *id = sqlite3_column_int64(st, 0);
    else
      rc = cu_ws_dberr(ws, "cannot store evidence", d);
    sqlite3_finalize(st);
  }
  free(q);
  if (rc == CUSTOS_OK)
    rc = cu_ws_commit(ws, d);
  else
    cu_ws_rollback(ws);
  return rc;
}

custos_rc cu_finding_add(cu_ws *ws, const char *case_id, int claim,
                         const char *judgement, const char *rationale,
                         const int64_t *evidence, size_t nevidence,
                         int64_t *id, custos_diag *d) {
  if (strcmp(judgement, "supported") != 0 &&
      strcmp(judgement, "not-supported") != 0 &&
      strcmp(judgement, "inconclusive") != 0) {
    cu_diag_field(d, "judgement", judgement, strlen(judgement));
    cu_diag_hint(d, "use supported, not-supported or inconclusive");
    return cu_diag_set(d, CUSTOS_EINVAL, "unknown judgement");
  }
  if (!rationale || !*rationale) {
    cu_diag_field(d, "rationale", "", 0);
    cu_diag_hint(d, "say what the evidence shows, in a sentence or two");
    return cu_diag_set(d, CUSTOS_EINVAL, "a finding needs a rationale");
  }
  if (strcmp(judgement, "supported") == 0 && nevidence == 0) {
    cu_diag_field(d, "evidence", "", 0);
    cu_diag_hint(d, "pin evidence with `custos evidence add` and cite it "
                    "with --evidence ID");
    return cu_diag_set(d, CUSTOS_EINVAL,
                       "a supported finding must cite evidence");
  }
  custos_rc rc = check_claim(ws, case_id, claim, d);
  if (rc != CUSTOS_OK)
    return rc;
  rc = cu_ws_begin(ws, d);
  if (rc != CUSTOS_OK)
    return rc;
  sqlite3_stmt *st = NULL;
  json_t *ids = json_array();
  rc = cu_ws_prepare(ws, "SELECT 1 FROM evidence WHERE id=?1 AND case_id=?2",
                     &st, d);
  for (size_t i = 0; rc == CUSTOS_OK && i < nevidence; i++) {
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, evidence[i]);
    sqlite3_bind_text(st, 2, case_id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
      char v[32];
      snprintf(v, sizeof v, "%lld", (long long)evidence[i]);
      cu_diag_field(d, "evidence", v, strlen(v));
      cu_diag_hint(d, "cite evidence pinned to case %s", case_id);
      rc = cu_diag_set(d, CUSTOS_ENOTFOUND, "no such evidence in this case");
    }
    json_array_append_new(ids, json_integer(evidence[i]));
  }
  sqlite3_finalize(st);
  st = NULL;
  int64_t seq = 0;
  char *idtext = NULL;
  if (rc == CUSTOS_OK) {
    idtext = json_dumps(ids, JSON_COMPACT);
    rc = cu_ws_event_json(ws, "finding.add", case_id,
                          json_pack("{s:s,s:i,s:s,s:s,s:O}", "case", case_id,
                                    "claim", claim, "judgement", judgement,
                                    "rationale", rationale, "evidence", ids),
                          &seq, d);
  }
  if (rc == CUSTOS_OK)
    rc = cu_ws_prepare(ws,
                       "INSERT INTO findings(case_id, claim, judgement,"
                       " rationale, evidence, actor, at, event_seq)"
                       " VALUES(?1,?2,?3,?4,?5,?6,?7,?8) RETURNING id",
                       &st, d);
  if (rc == CUSTOS_OK) {
    sqlite3_bind_text(st, 1, case_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, claim);
    sqlite3_bind_text(st, 3, judgement, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, rationale, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, idtext ? idtext : "[]", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, cu_ws_actor(ws), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, cu_time_now());
    sqlite3_bind_int64(st, 8, seq);
    if (sqlite3_step(st) == SQLITE_ROW)
      *id = sqlite3_column_int64(st, 0);
    else
      rc = cu_ws_dberr(ws, "cannot store finding", d);
    sqlite3_finalize(st);
    st = NULL;
  }
  if (rc == CUSTOS_OK)
    rc = cu_ws_prepare(ws,
                       "UPDATE findings SET superseded_by = ?1 WHERE"
                       " case_id = ?2 AND claim = ?3 AND id <> ?1 AND"
                       " superseded_by IS NULL",
                       &st, d);
  if (rc == CUSTOS_OK) {
    sqlite3_bind_int64(st, 1, *id);
    sqlite3_bind_text(st, 2, case_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, claim);
    rc = step_done(ws, st, "cannot supersede finding", d);
    sqlite3_finalize(st);
  }
  json_decref(ids);
  free(idtext);
  /* The first finding moves an open case into review. */
  if (rc == CUSTOS_OK) {
    rc = cu_ws_prepare(ws, "SELECT status FROM cases WHERE id = ?1", &st, d);
    if (rc == CUSTOS_OK) {
      sqlite3_bind_text(st, 1, case_id, -1, SQLITE_STATIC);
      bool open = sqlite3_step(st) == SQLITE_ROW &&
                  strcmp((const char *)sqlite3_column_text(st, 0), "open") == 0;
      sqlite3_finalize(st);
      if (open)
        rc = cu_case_set_status(ws, case_id, "reviewing", "first finding", d);
    }
  }
  if (rc == CUSTOS_OK)
    rc = cu_ws_commit(ws, d);
  else
    cu_ws_rollback(ws);
  return rc;
}

/* Appends to arr one object per row of st, with the given column names. */
static custos_rc rows_json(cu_ws *ws, sqlite3_stmt *st,
                           const char *const *names, size_t ncols,
                           json_t *arr, custos_diag *d) {
  int r;
  while ((r = sqlite3_step(st)) == SQLITE_ROW) {
    json_t *o = json_object();
    for (size_t i = 0; i < ncols; i++) {
      json_t *v;
      switch (sqlite3_column_type(st, (int)i)) {
      case SQLITE_INTEGER:
        v = json_integer(sqlite3_column_int64(st, (int)i));
        break;
      case SQLITE_NULL:
        v = json_null();
        break;
      default:
        v = json_string((const char *)sqlite3_column_text(st, (int)i));
      }
      /* JSON text columns (queries, evidence lists) are embedded as JSON */
      if (json_is_string(v) && (strcmp(names[i], "query") == 0 ||
                                strcmp(names[i], "evidence") == 0 ||
                                strcmp(names[i], "scope") == 0)) {
        json_t *parsed = json_loads(json_string_value(v), 0, NULL);
        if (parsed) {
          json_decref(v);
          v = parsed;
        }
      }
      json_object_set_new(o, names[i], v);
    }
    json_array_append_new(arr, o);
  }
  return r == SQLITE_DONE ? CUSTOS_OK : cu_ws_dberr(ws, "cannot read case", d);
}

static custos_rc query_into(cu_ws *ws, const char *sql, const char *id,
                            const char *const *names, size_t ncols,
                            json_t *arr, custos_diag *d) {
  sqlite3_stmt *st = NULL;
  custos_rc rc = cu_ws_prepare(ws, sql, &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  if (id)
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  rc = rows_json(ws, st, names, ncols, arr, d);
  sqlite3_finalize(st);
  return rc;
}

custos_rc cu_case_json(cu_ws *ws, const char *id, json_t **out,
                       custos_diag *d) {
  custos_rc rc = cu_case_check(ws, id, NULL, d);
  if (rc != CUSTOS_OK)
    return rc;
  static const char *const cn[] = {"id",     "title",     "source",
                                   "date",   "text",      "source_id",
                                   "opened", "opened_by", "status"};
  static const char *const kn[] = {"n", "text"};
  static const char *const en[] = {"id",      "claim",         "kind",
                                   "query",   "results",       "result_sha256",
                                   "summary", "added_by",      "added_at",
                                   "event"};
  static const char *const fn[] = {"id",  "claim", "judgement", "rationale",
                                   "evidence", "actor", "at", "superseded_by",
                                   "event"};
  static const char *const dn[] = {
      "id",        "policy", "policy_version", "policy_sha256", "scope",
      "effect", "effective_at", "future", "rationale", "author", "at",
      "event"};
  static const char *const sn[] = {"at", "status", "actor", "reason"};
  json_t *c = json_array(), *claims = json_array(), *ev = json_array(),
         *fi = json_array(), *de = json_array(), *hi = json_array();
  rc = query_into(ws,
                  "SELECT id, title, publication, published, text, source_id,"
                  " opened_at, opened_by, status FROM cases WHERE id = ?1",
                  id, cn, CU_ARRAY_LEN(cn), c, d);
  if (rc == CUSTOS_OK)
    rc = query_into(ws, "SELECT n, text FROM claims WHERE case_id=?1 ORDER BY n",
                    id, kn, 2, claims, d);
  if (rc == CUSTOS_OK)
    rc = query_into(ws,
                    "SELECT id, claim, kind, query, results, result_sha256,"
                    " summary, added_by, added_at, event_seq FROM evidence"
                    " WHERE case_id = ?1 ORDER BY id",
                    id, en, CU_ARRAY_LEN(en), ev, d);
  if (rc == CUSTOS_OK)
    rc = query_into(ws,
                    "SELECT id, claim, judgement, rationale, evidence, actor,"
                    " at, superseded_by, event_seq FROM findings"
                    " WHERE case_id = ?1 ORDER BY id",
                    id, fn, CU_ARRAY_LEN(fn), fi, d);
  if (rc == CUSTOS_OK)
    rc = query_into(ws,
                    "SELECT id, policy_id, policy_version, policy_sha256,"
                    " scope, effect, effective_at, future, rationale, author,"
                    " at, event_seq FROM decisions WHERE case_id = ?1"
                    " ORDER BY id",
                    id, dn, CU_ARRAY_LEN(dn), de, d);
  if (rc == CUSTOS_OK)
    rc = query_into(ws,
                    "SELECT at, status, actor, reason FROM case_status"
                    " WHERE case_id = ?1 ORDER BY rowid",
                    id, sn, CU_ARRAY_LEN(sn), hi, d);
  if (rc != CUSTOS_OK || json_array_size(c) != 1) {
    json_decref(c);
    json_decref(claims);
    json_decref(ev);
    json_decref(fi);
    json_decref(de);
    json_decref(hi);
    return rc != CUSTOS_OK ? rc : cu_diag_set(d, CUSTOS_EINTERNAL, "case");
  }
  json_t *o = json_incref(json_array_get(c, 0));
  json_decref(c);
  json_object_set_new(o, "claims", claims);
  json_object_set_new(o, "evidence", ev);
  json_object_set_new(o, "findings", fi);
  json_object_set_new(o, "decisions", de);
  json_object_set_new(o, "history", hi);
  *out = o;
  return CUSTOS_OK;
}

custos_rc cu_case_list_json(cu_ws *ws, json_t **out, custos_diag *d) {
  static const char *const n[] = {"id", "title", "status", "opened", "claims"};
  json_t *arr = json_array();
  custos_rc rc = query_into(
      ws,
      "SELECT id, title, status, opened_at,"
      " (SELECT COUNT(*) FROM claims k WHERE k.case_id = c.id)"
      " FROM cases c ORDER BY seq DESC",
      NULL, n, CU_ARRAY_LEN(n), arr, d);
  if (rc != CUSTOS_OK) {
    json_decref(arr);
    return rc;
  }
  *out = arr;
  return CUSTOS_OK;
}
