/*
 * Loading a plan file against the workspace, refusals on the record, and
 * approvals: a C2SP signed note by a registered approver over the text
 * "custos plan approval", the case and the plan hash.
 */
#include <stdlib.h>
#include <string.h>

#include "cases/cases.h"
#include "enforceInt.h"
#include "tlog/tlog.h"

void cu_enforce_unload(cu_loaded_plan *p) {
  cu_free(p->text);
  json_decref(p->body);
  memset(p, 0, sizeof *p);
}

custos_rc cu_enforce_refuse(cu_ws *ws, const char *case_id, const char *plan,
                            const char *action, custos_rc rc,
                            custos_diag *d) {
  char line[1024] = "";
  if (d)
    custos_diag_format(d, line, sizeof line);
  custos_diag scratch;
  custos_diag_clear(&scratch);
  cu_ws_rollback(ws);
  if (cu_ws_begin(ws, &scratch) == CUSTOS_OK) {
    if (cu_ws_event_json(ws, "plan.refused", case_id,
                         json_pack("{s:s?,s:s,s:s,s:s}", "plan", plan,
                                   "action", action, "reason", line,
                                   "code", custos_rc_name(rc)),
                         NULL, &scratch) != CUSTOS_OK ||
        cu_ws_commit(ws, &scratch) != CUSTOS_OK)
      cu_ws_rollback(ws); /* the refusal stands even if its record fails */
  }
  return rc;
}

custos_rc cu_enforce_load(cu_ws *ws, const char *path, cu_loaded_plan *p,
                          custos_diag *d) {
  memset(p, 0, sizeof *p);
  custos_rc rc = cu_file_read(path, CU_PLAN_MAX_BYTES, &p->text, &p->len, d);
  if (rc != CUSTOS_OK)
    return rc;
  uint8_t dg[CU_SHA256_LEN];
  cu_sha256(p->text, p->len, dg);
  cu_hex_encode(dg, CU_SHA256_LEN, p->hash);
  sqlite3_stmt *st = NULL;
  rc = cu_ws_prepare(ws,
                     "SELECT case_id, kind, status, decision_id, body"
                     " FROM plans WHERE hash = ?1",
                     &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  sqlite3_bind_text(st, 1, p->hash, -1, SQLITE_STATIC);
  bool found = sqlite3_step(st) == SQLITE_ROW;
  if (found) {
    snprintf(p->case_id, sizeof p->case_id, "%s",
             (const char *)sqlite3_column_text(st, 0));
    snprintf(p->kind, sizeof p->kind, "%s",
             (const char *)sqlite3_column_text(st, 1));
    snprintf(p->status, sizeof p->status, "%s",
             (const char *)sqlite3_column_text(st, 2));
    p->decision_id = sqlite3_column_int64(st, 3);
    /* The hash names the stored bytes; compare them anyway, as the
     * cheapest proof that nothing changed. */
    found = (size_t)sqlite3_column_bytes(st, 4) == p->len &&
            memcmp(sqlite3_column_blob(st, 4), p->text, p->len) == 0;
  }
  sqlite3_finalize(st);
  if (!found) {
    cu_diag_at(d, path, 0, 0);
    cu_diag_field(d, "sha256", p->hash, strlen(p->hash));
    cu_diag_hint(d, "the file is not a plan made in this workspace, or it "
                    "was changed after `custos plan` wrote it; make the plan "
                    "again");
    cu_diag_set(d, CUSTOS_EVERIFY, "plan file does not match any plan");
    return cu_enforce_refuse(ws, NULL, p->hash, "load", CUSTOS_EVERIFY, d);
  }
  json_error_t err;
  p->body = json_loadb(p->text, p->len, 0, &err);
  if (!p->body)
    return cu_diag_set(d, CUSTOS_EPARSE, "stored plan unreadable: %s",
                       err.text);
  return CUSTOS_OK;
}

/* The exact text an approver signs. */
void cu_enforce_approval_text(const char *case_id, const char *hash,
                              char *out, size_t n);
void cu_enforce_approval_text(const char *case_id, const char *hash,
                              char *out, size_t n) {
  snprintf(out, n, "custos plan approval\n%s\n%s\n", case_id, hash);
}

custos_rc cu_enforce_plan_status(cu_ws *ws, const char *hash, char *out,
                                 size_t n, custos_diag *d) {
  sqlite3_stmt *st = NULL;
  custos_rc rc =
      cu_ws_prepare(ws, "SELECT status FROM plans WHERE hash=?1", &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW)
    snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
  else
    rc = cu_diag_set(d, CUSTOS_ENOTFOUND, "plan %.16s is gone", hash);
  sqlite3_finalize(st);
  return rc;
}

/* The author of the plan's decision. */
static custos_rc decision_author(cu_ws *ws, int64_t decision, char *out,
                                 size_t n, custos_diag *d) {
  sqlite3_stmt *st = NULL;
  custos_rc rc = cu_ws_prepare(ws, "SELECT author FROM decisions WHERE id=?1",
                               &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  sqlite3_bind_int64(st, 1, decision);
  out[0] = '\0';
  if (sqlite3_step(st) == SQLITE_ROW)
    snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  return CUSTOS_OK;
}

custos_rc cu_plan_approve(cu_ws *ws, const char *path, const char *person,
                          custos_diag *d) {
  cu_loaded_plan p;
  custos_rc rc = cu_enforce_load(ws, path, &p, d);
  if (rc != CUSTOS_OK) {
    cu_enforce_unload(&p);
    return rc;
  }
  /* The checks and the approval are one write transaction, so that two
   * approvers at the same moment cannot both pass a check that the other's
   * approval would fail (the same person twice, a plan superseded in
   * between): the second waits, then sees the first. */
  rc = cu_ws_begin(ws, d);
  if (rc == CUSTOS_OK)
    rc = cu_enforce_plan_status(ws, p.hash, p.status, sizeof p.status, d);
  char author[256];
  if (rc == CUSTOS_OK)
    rc = decision_author(ws, p.decision_id, author, sizeof author, d);
  if (rc == CUSTOS_OK && strcmp(p.status, "proposed") != 0 &&
      strcmp(p.status, "approved") != 0) {
    cu_diag_field(d, "plan", p.hash, 16);
    cu_diag_hint(d, "only a current plan can be approved; make a new one "
                    "with `custos plan %s`",
                 p.case_id);
    rc = cu_diag_set(d, CUSTOS_EREFUSED, "the plan is %s", p.status);
  }
  if (rc == CUSTOS_OK)
    rc = cu_person_check(ws, person, "approver", d);
  if (rc == CUSTOS_OK && strcmp(person, author) == 0) {
    cu_diag_field(d, "person", person, strlen(person));
    cu_diag_hint(d, "the author of a decision cannot approve its plan; ask "
                    "another approver");
    rc = cu_diag_set(d, CUSTOS_EREFUSED, "%s made the decision", person);
  }
  sqlite3_stmt *st = NULL;
  if (rc == CUSTOS_OK)
    rc = cu_ws_prepare(ws,
                       "SELECT 1 FROM approvals WHERE plan_hash=?1 AND"
                       " person=?2",
                       &st, d);
  if (rc == CUSTOS_OK) {
    sqlite3_bind_text(st, 1, p.hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, person, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
      cu_diag_field(d, "person", person, strlen(person));
      cu_diag_hint(d, "each approval must come from a different person");
      rc = cu_diag_set(d, CUSTOS_EREFUSED, "%s already approved this plan",
                       person);
    }
    sqlite3_finalize(st);
  }
  if (rc == CUSTOS_EREFUSED || rc == CUSTOS_ENOTFOUND) {
    /* cu_enforce_refuse rolls the checks back and records the refusal */
    rc = cu_enforce_refuse(ws, p.case_id, p.hash, "approve", rc, d);
    cu_enforce_unload(&p);
    return rc;
  }
  char text[256];
  cu_enforce_approval_text(p.case_id, p.hash, text, sizeof text);
  cu_buf note;
  cu_buf_init(&note, 8192);
  if (rc == CUSTOS_OK)
    rc = cu_person_sign(ws, person, text, &note, d);
  if (rc != CUSTOS_OK)
    cu_ws_rollback(ws);
  if (rc == CUSTOS_OK) {
    rc = cu_ws_prepare(ws,
                       "INSERT INTO approvals(plan_hash, person, note, at)"
                       " VALUES(?1,?2,?3,?4)",
                       &st, d);
    if (rc == CUSTOS_OK) {
      sqlite3_bind_text(st, 1, p.hash, -1, SQLITE_STATIC);
      sqlite3_bind_text(st, 2, person, -1, SQLITE_STATIC);
      sqlite3_bind_text(st, 3, note.data, (int)note.len, SQLITE_STATIC);
      sqlite3_bind_int64(st, 4, cu_time_now());
      if (sqlite3_step(st) != SQLITE_DONE)
        rc = cu_ws_dberr(ws, "cannot store approval", d);
      sqlite3_finalize(st);
    }
    if (rc == CUSTOS_OK)
      rc = cu_ws_event_json(ws, "plan.approve", p.case_id,
                            json_pack("{s:s,s:s,s:s}", "plan", p.hash,
                                      "person", person, "note", note.data),
                            NULL, d);
    if (rc == CUSTOS_OK && strcmp(p.status, "proposed") == 0) {
      char req[16];
      int64_t have = 0;
      rc = cu_setting_get(ws, "enforce.required_approvals", req, sizeof req,
                          d);
      if (rc == CUSTOS_OK)
        rc = cu_ws_prepare(ws,
                           "SELECT COUNT(*) FROM approvals WHERE plan_hash=?1",
                           &st, d);
      if (rc == CUSTOS_OK) {
        sqlite3_bind_text(st, 1, p.hash, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
          have = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
      }
      if (rc == CUSTOS_OK && have >= atoi(req)) {
        rc = cu_ws_prepare(ws,
                           "UPDATE plans SET status='approved' WHERE hash=?1",
                           &st, d);
        if (rc == CUSTOS_OK) {
          sqlite3_bind_text(st, 1, p.hash, -1, SQLITE_STATIC);
          if (sqlite3_step(st) != SQLITE_DONE)
            rc = cu_ws_dberr(ws, "cannot update plan", d);
          sqlite3_finalize(st);
        }
        char reason[128];
        snprintf(reason, sizeof reason, "plan %.16s approved by %lld people",
                 p.hash, (long long)have);
        if (rc == CUSTOS_OK)
          rc = cu_case_set_status(ws, p.case_id, "approved", reason, d);
      }
    }
    if (rc == CUSTOS_OK)
      rc = cu_ws_commit(ws, d);
    else
      cu_ws_rollback(ws);
  }
  cu_buf_free(&note);
  cu_enforce_unload(&p);
  return rc;
}

/* Counts the plan's valid approvals: signed notes over the right text that
 * verify with the person's registered key, from distinct approvers who did
 * not author the decision.  Invalid ones are named in *why. */
custos_rc cu_enforce_count_approvals(cu_ws *ws, const cu_loaded_plan *p,
                                     int64_t *valid, char *why, size_t whyn,
                                     custos_diag *d);
custos_rc cu_enforce_count_approvals(cu_ws *ws, const cu_loaded_plan *p,
                                     int64_t *valid, char *why, size_t whyn,
                                     custos_diag *d) {
  *valid = 0;
  why[0] = '\0';
  char author[256], text[256];
  custos_rc rc = decision_author(ws, p->decision_id, author, sizeof author, d);
  if (rc != CUSTOS_OK)
    return rc;
  cu_enforce_approval_text(p->case_id, p->hash, text, sizeof text);
  sqlite3_stmt *st = NULL;
  rc = cu_ws_prepare(ws,
                     "SELECT a.person, a.note, p.vkey, p.roles FROM approvals a"
                     " LEFT JOIN people p ON p.name = a.person"
                     " WHERE a.plan_hash = ?1 ORDER BY a.person",
                     &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  sqlite3_bind_text(st, 1, p->hash, -1, SQLITE_STATIC);
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *person = (const char *)sqlite3_column_text(st, 0);
    const char *note = (const char *)sqlite3_column_text(st, 1);
    const char *vk = (const char *)sqlite3_column_text(st, 2);
    const char *roles = (const char *)sqlite3_column_text(st, 3);
    const char *bad = NULL;
    cu_log_vkey key;
    cu_log_note n;
    memset(&n, 0, sizeof n);
    /* The same role test as everywhere (a substring would also accept a
     * role named, say, "non-approver"). */
    if (!vk || !roles ||
        cu_person_check(ws, person, "approver", NULL) != CUSTOS_OK)
      bad = "no longer an approver";
    else if (strcmp(person, author) == 0)
      bad = "author of the decision";
    else if (cu_log_vkey_parse(vk, strlen(vk), &key, NULL) != CUSTOS_OK ||
             cu_log_note_parse(note, strlen(note), &n, NULL) != CUSTOS_OK ||
             strcmp(n.text, text) != 0 ||
             cu_log_note_verify(&n, &key, 1, NULL, NULL) != CUSTOS_OK)
      bad = "signature does not verify";
    cu_log_note_free(&n);
    if (bad) {
      size_t k = strlen(why);
      snprintf(why + k, whyn - k, "%s%s: %s", k ? "; " : "", person, bad);
    } else {
      (*valid)++;
    }
  }
  sqlite3_finalize(st);
  return CUSTOS_OK;
}
