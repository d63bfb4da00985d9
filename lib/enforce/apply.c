/*
 * Applying a plan.  Outcomes are recorded per target in batches; a target
 * with a recorded outcome is never touched again, so a run that was killed
 * is completed by the next one from what was recorded, not repeated
 * blindly.  The customer is told only what the outcomes say was done.
 */
#include <stdlib.h>
#include <string.h>

#include "cases/cases.h"
#include "directory/directory.h"
#include "enforceInt.h"
#include "notify/notify.h"
#include "pdp/pdp.h"

#define BATCH 1000

custos_rc cu_enforce_count_approvals(cu_ws *ws, const cu_loaded_plan *p,
                                     int64_t *valid, char *why, size_t whyn,
                                     custos_diag *d);

static custos_pdp_effect effect_of(const char *e) {
  return strcmp(e, "deny-new") == 0    ? CUSTOS_PDP_DENY_NEW
         : strcmp(e, "read-only") == 0 ? CUSTOS_PDP_READ_ONLY
                                       : CUSTOS_PDP_DENY_ALL;
}

static const char *effect_words(const char *e) {
  return strcmp(e, "deny-new") == 0    ? "no new use is accepted"
         : strcmp(e, "read-only") == 0 ? "they are read-only"
                                       : "all use is refused";
}

/* Which target indexes already have an outcome (bitmap of n). */
static custos_rc recorded(cu_ws *ws, const char *hash, size_t n,
                          unsigned char *done, int64_t *count,
                          custos_diag *d) {
  sqlite3_stmt *st = NULL;
  custos_rc rc = cu_ws_prepare(
      ws, "SELECT idx FROM outcomes WHERE plan_hash = ?1", &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
  *count = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    int64_t i = sqlite3_column_int64(st, 0);
    if (i >= 0 && (size_t)i < n && !done[i]) {
      done[i] = 1;
      (*count)++;
    }
  }
  sqlite3_finalize(st);
  return CUSTOS_OK;
}

/* Puts or lifts the block of one target and records its outcome, inside
 * the open transaction.  A refused block is a failed outcome, recorded;
 * only database errors end the run. */
static custos_rc one_target(cu_ws *ws, const cu_loaded_plan *p, size_t idx,
                            json_t *t, sqlite3_stmt *ins, int64_t *rev,
                            bool *failed, custos_diag *d) {
  json_t *dec = json_object_get(p->body, "decision");
  bool lift = strcmp(p->kind, "reinstate") == 0;
  cu_pdp_block b;
  memset(&b, 0, sizeof b);
  const char *sub = json_string_value(json_object_get(t, "subscription"));
  const char *svc = json_string_value(json_object_get(t, "service"));
  const char *reg = json_string_value(json_object_get(t, "region"));
  const char *own = json_string_value(json_object_get(p->body, "owner"));
  /* A name the decision point cannot hold is a failed outcome, never a
   * block on a shortened name. */
  bool fits = sub && svc && reg && own &&
              strlen(sub) < sizeof b.subscription &&
              strlen(svc) < sizeof b.service &&
              strlen(reg) < sizeof b.region && strlen(own) < sizeof b.owner;
  custos_diag bd;
  custos_diag_clear(&bd);
  custos_rc brc = CUSTOS_OK;
  if (fits) {
    snprintf(b.subscription, sizeof b.subscription, "%s", sub);
    snprintf(b.service, sizeof b.service, "%s", svc);
    snprintf(b.region, sizeof b.region, "%s", reg);
    snprintf(b.owner, sizeof b.owner, "%s", own);
    snprintf(b.case_id, sizeof b.case_id, "%s", p->case_id);
    b.effect = effect_of(json_string_value(json_object_get(dec, "effect")));
    b.effective = json_integer_value(json_object_get(dec, "effective_time"));
    brc = lift ? cu_pdp_lift(ws, &b, &bd) : cu_pdp_put(ws, &b, &bd);
  } else {
    snprintf(b.subscription, sizeof b.subscription, "%.128s", sub ? sub : "");
    snprintf(b.service, sizeof b.service, "%.64s", svc ? svc : "");
    snprintf(b.region, sizeof b.region, "%.64s", reg ? reg : "");
    cu_diag_field(&bd, "service", svc ? svc : "", svc ? strlen(svc) : 0);
    brc = cu_diag_set(&bd, CUSTOS_ETOOBIG,
                      "a name is longer than the decision point holds");
  }
  if (brc == CUSTOS_EDB || brc == CUSTOS_EBUSY || brc == CUSTOS_EIO ||
      brc == CUSTOS_ENOMEM) {
    *d = bd;
    return brc;
  }
  char err[1024] = "";
  if (brc != CUSTOS_OK)
    custos_diag_format(&bd, err, sizeof err);
  *failed = brc != CUSTOS_OK;
  if (brc == CUSTOS_OK)
    *rev = b.revision;
  const char *status = *failed ? "failed" : lift ? "lifted" : "blocked";
  sqlite3_reset(ins);
  sqlite3_bind_text(ins, 1, p->hash, -1, SQLITE_STATIC);
  sqlite3_bind_int64(ins, 2, (sqlite3_int64)idx);
  sqlite3_bind_text(ins, 3, b.subscription, -1, SQLITE_STATIC);
  sqlite3_bind_text(ins, 4, b.service, -1, SQLITE_STATIC);
  sqlite3_bind_text(ins, 5, b.region, -1, SQLITE_STATIC);
  sqlite3_bind_text(ins, 6, status, -1, SQLITE_STATIC);
  if (*failed)
    sqlite3_bind_null(ins, 7);
  else
    sqlite3_bind_int64(ins, 7, b.revision);
  if (*failed)
    sqlite3_bind_text(ins, 8, err, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null(ins, 8);
  sqlite3_bind_int64(ins, 9, cu_time_now());
  sqlite3_bind_text(ins, 10, cu_ws_actor(ws), -1, SQLITE_STATIC);
  if (sqlite3_step(ins) != SQLITE_DONE)
    return cu_ws_dberr(ws, "cannot record outcome", d);
  return cu_ws_event_json(
      ws, "enforce.outcome", p->case_id,
      json_pack("{s:s,s:I,s:s,s:s,s:s,s:s,s:I,s:s?}", "plan", p->hash, "idx",
                (json_int_t)idx, "subscription", b.subscription, "service",
                b.service, "region", b.region, "status", status, "revision",
                (json_int_t)(*failed ? 0 : b.revision), "error",
                *failed ? err : NULL),
      NULL, d);
}

/* A region as a customer reads it: "West Europe (NL)". */
static void region_words(const char *id, char *out, size_t n) {
  const cu_catalog *cat = NULL;
  const cu_region *r = NULL;
  if (cu_catalog_get(&cat, NULL) == CUSTOS_OK)
    r = cu_catalog_region(cat, id, strlen(id));
  if (r)
    snprintf(out, n, "%s (%s)", r->display_name, r->country);
  else
    snprintf(out, n, "%s", id);
}

/* The customer notice for one account, from recorded outcomes only. */
static custos_rc notice_body(cu_ws *ws, const cu_loaded_plan *p,
                             const char *account, const char *contact,
                             cu_buf *b, int64_t *listed, custos_diag *d) {
  json_t *dec = json_object_get(p->body, "decision");
  bool lift = strcmp(p->kind, "reinstate") == 0;
  char provider[256], appeal[2048], title[256], sha[65];
  int64_t version = 0;
  custos_rc rc = cu_setting_get(ws, "notify.provider", provider,
                                sizeof provider, d);
  if (rc == CUSTOS_OK)
    rc = cu_setting_get(ws, "notify.appeal", appeal, sizeof appeal, d);
  if (rc == CUSTOS_OK)
    rc = cu_policy_get(ws, json_string_value(json_object_get(dec, "policy")),
                       &version, sha, title, sizeof title, d);
  if (rc != CUSTOS_OK)
    return rc;
  /* The version that applied is the decision's, not today's file's. */
  version = json_integer_value(json_object_get(dec, "policy_version"));
  char acct_name[256] = "";
  sqlite3_stmt *st = NULL;
  rc = cu_ws_prepare(ws, "SELECT name FROM accounts WHERE id=?1", &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW)
    snprintf(acct_name, sizeof acct_name, "%s",
             (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  const char *when = json_string_value(json_object_get(dec, "effective_at"));
  rc = cu_buf_printf(b, "Dear %s,\n\n", contact);
  if (rc == CUSTOS_OK && !lift)
    rc = cu_buf_printf(
        b,
        "under our acceptable use policy \"%s\" (version %lld) we have "
        "ceased and disabled the following services of %s. From %s, %s.\n\n",
        title, (long long)version, acct_name, when,
        effect_words(json_string_value(json_object_get(dec, "effect"))));
  else if (rc == CUSTOS_OK)
    rc = cu_buf_printf(b,
                       "we have lifted the restrictions we placed on the "
                       "following services of %s under case %s. They are "
                       "available again.\n\n",
                       acct_name, p->case_id);
  /* The list comes from the outcomes table: what was done, not what was
   * meant. */
  rc = rc == CUSTOS_OK
           ? cu_ws_prepare(ws,
                           "SELECT o.idx, o.status FROM outcomes o"
                           " WHERE o.plan_hash = ?1 ORDER BY o.idx",
                           &st, d)
           : rc;
  json_t *targets = json_object_get(p->body, "targets");
  int64_t n = 0;
  /* A notice stays readable (and under its size cap) for any plan: the
   * first LISTED services one by one, the rest counted per service and
   * region. */
  enum { LISTED = 200 };
  json_t *rest = json_object();
  if (rc == CUSTOS_OK) {
    sqlite3_bind_text(st, 1, p->hash, -1, SQLITE_STATIC);
    while (rc == CUSTOS_OK && sqlite3_step(st) == SQLITE_ROW) {
      if (strcmp((const char *)sqlite3_column_text(st, 1), "failed") == 0)
        continue;
      json_t *t = json_array_get(targets, (size_t)sqlite3_column_int64(st, 0));
      const char *ta = json_string_value(json_object_get(t, "account"));
      if (!t || (ta && strcmp(ta, account) != 0))
        continue;
      char rw[128];
      region_words(json_string_value(json_object_get(t, "region")), rw,
                   sizeof rw);
      const char *svc = json_string_value(json_object_get(t, "service"));
      n++;
      if (n > LISTED) {
        char key[256];
        snprintf(key, sizeof key, "%s in %s", svc, rw);
        json_int_t k = json_integer_value(json_object_get(rest, key));
        json_object_set_new(rest, key, json_integer(k + 1));
        continue;
      }
      const char *sname =
          json_string_value(json_object_get(t, "subscription_name"));
      rc = cu_buf_printf(b, "  - %s in %s, subscription %s%s%s%s\n", svc, rw,
                         json_string_value(json_object_get(t, "subscription")),
                         sname ? " (" : "", sname ? sname : "",
                         sname ? ")" : "");
    }
    sqlite3_finalize(st);
  }
  if (rc == CUSTOS_OK && n > LISTED) {
    rc = cu_buf_printf(b, "  and %lld more:\n", (long long)(n - LISTED));
    const char *key;
    json_t *v;
    json_object_foreach(rest, key, v) {
      if (rc == CUSTOS_OK)
        rc = cu_buf_printf(b, "    %s: %lld subscription(s)\n", key,
                           (long long)json_integer_value(v));
    }
  }
  json_decref(rest);
  json_t *un = json_object_get(p->body, "unaffected");
  if (rc == CUSTOS_OK && !lift && json_array_size(un) > 0) {
    rc = cu_buf_printf(b, "\nThe following services of %s are not affected "
                          "and continue to run:\n",
                       acct_name);
    size_t i, shown = 0;
    json_t *t;
    json_array_foreach(un, i, t) {
      if (rc != CUSTOS_OK || shown == 200)
        break;
      char rw[128];
      region_words(json_string_value(json_object_get(t, "region")), rw,
                   sizeof rw);
      rc = cu_buf_printf(b, "  - %s in %s, subscription %s\n",
                         json_string_value(json_object_get(t, "service")), rw,
                         json_string_value(json_object_get(t, "subscription")));
      shown++;
    }
    if (rc == CUSTOS_OK && json_array_size(un) > shown)
      rc = cu_buf_printf(b, "  and %zu more\n", json_array_size(un) - shown);
  }
  if (rc == CUSTOS_OK && !lift)
    rc = cu_buf_printf(b,
                       "\nNo data has been deleted. Our review used our own "
                       "business records only; we did not access your "
                       "content.\n\nHow to appeal: %s\n",
                       appeal);
  if (rc == CUSTOS_OK)
    rc = cu_buf_printf(b, "\nCase reference: %s (plan %.16s)\n\n%s\n",
                       p->case_id, p->hash, provider);
  if (rc != CUSTOS_OK && rc != CUSTOS_EDB)
    rc = cu_diag_set(d, rc, "cannot build the notice");
  *listed = n;
  return rc;
}

/* Queues the customer notices (inside the open transaction): one e-mail
 * per primary or legal contact of each account with outcomes, and one
 * webhook notice when a webhook is configured. */
static custos_rc queue_notices(cu_ws *ws, const cu_loaded_plan *p,
                               int64_t *queued, custos_diag *d) {
  json_t *accounts = json_array();
  size_t i;
  json_t *t;
  json_array_foreach(json_object_get(p->body, "targets"), i, t) {
    const char *a = json_string_value(json_object_get(t, "account"));
    bool seen = !a;
    size_t k;
    json_t *x;
    json_array_foreach(accounts, k, x) {
      seen = seen || strcmp(json_string_value(x), a) == 0;
    }
    if (!seen)
      json_array_append_new(accounts, json_string(a));
  }
  custos_rc rc = CUSTOS_OK;
  bool lift = strcmp(p->kind, "reinstate") == 0;
  json_array_foreach(accounts, i, t) {
    const char *account = json_string_value(t);
    sqlite3_stmt *st = NULL;
    rc = cu_ws_prepare(ws,
                       "SELECT name, email FROM contacts WHERE account_id=?1"
                       " AND role IN ('primary','legal') ORDER BY role, email",
                       &st, d);
    if (rc != CUSTOS_OK)
      break;
    sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
    while (rc == CUSTOS_OK && sqlite3_step(st) == SQLITE_ROW) {
      const char *name = (const char *)sqlite3_column_text(st, 0);
      const char *email = (const char *)sqlite3_column_text(st, 1);
      cu_buf body;
      cu_buf_init(&body, CU_NOTICE_MAX_BODY);
      int64_t listed = 0;
      rc = notice_body(ws, p, account, name, &body, &listed, d);
      if (rc == CUSTOS_OK && listed > 0) {
        char key[200], subject[200], eh[2 * CU_SHA256_LEN + 1];
        uint8_t edg[CU_SHA256_LEN];
        cu_sha256(email, strlen(email), edg);
        cu_hex_encode(edg, CU_SHA256_LEN, eh);
        snprintf(key, sizeof key, "%s-%.16s-%.32s", p->kind, p->hash, eh);
        snprintf(subject, sizeof subject,
                 lift ? "Services restored (%s)"
                      : "Notice: services ceased and disabled (%s)",
                 p->case_id);
        cu_notice n = {p->case_id, CU_CHANNEL_EMAIL, email, subject,
                       body.data, key};
        int64_t id = 0;
        rc = cu_notice_queue(ws, &n, &id, d);
        if (rc == CUSTOS_OK && id)
          (*queued)++;
      }
      cu_buf_free(&body);
    }
    sqlite3_finalize(st);
    if (rc != CUSTOS_OK)
      break;
  }
  json_decref(accounts);
  cu_notify_config cfg;
  if (rc == CUSTOS_OK)
    rc = cu_notify_config_get(ws, &cfg, d);
  if (rc == CUSTOS_OK && cfg.webhook_url[0]) {
    sqlite3_stmt *st = NULL;
    json_t *outs = json_array();
    rc = cu_ws_prepare(ws,
                       "SELECT subscription, service, region, status,"
                       " revision FROM outcomes WHERE plan_hash=?1"
                       " ORDER BY idx",
                       &st, d);
    if (rc == CUSTOS_OK) {
      sqlite3_bind_text(st, 1, p->hash, -1, SQLITE_STATIC);
      while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(
            outs, json_pack("{s:s,s:s,s:s,s:s,s:I}", "subscription",
                            (const char *)sqlite3_column_text(st, 0),
                            "service",
                            (const char *)sqlite3_column_text(st, 1), "region",
                            (const char *)sqlite3_column_text(st, 2), "status",
                            (const char *)sqlite3_column_text(st, 3),
                            "revision",
                            (json_int_t)sqlite3_column_int64(st, 4)));
      sqlite3_finalize(st);
    }
    json_t *msg = json_pack(
        "{s:s,s:s,s:s,s:O,s:o}", "case", p->case_id, "plan", p->hash, "kind",
        p->kind, "decision", json_object_get(p->body, "decision"), "outcomes",
        outs);
    char *body = msg ? json_dumps(msg, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(msg);
    char key[128];
    snprintf(key, sizeof key, "webhook-%s-%.16s", p->kind, p->hash);
    if (rc == CUSTOS_OK && body) {
      cu_notice n = {p->case_id, CU_CHANNEL_WEBHOOK, "", p->kind, body, key};
      int64_t id = 0;
      rc = cu_notice_queue(ws, &n, &id, d);
      if (rc == CUSTOS_OK && id)
        (*queued)++;
    }
    free(body);
  }
  return rc;
}

static custos_rc set_plan_status(cu_ws *ws, const char *hash,
                                 const char *status, custos_diag *d) {
  sqlite3_stmt *st = NULL;
  custos_rc rc =
      cu_ws_prepare(ws, "UPDATE plans SET status=?2 WHERE hash=?1", &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
  if (sqlite3_step(st) != SQLITE_DONE)
    rc = cu_ws_dberr(ws, "cannot update plan", d);
  sqlite3_finalize(st);
  return rc;
}

/* The last step, once every target has an outcome. */
static custos_rc finish(cu_ws *ws, const cu_loaded_plan *p,
                        cu_apply_stats *st, custos_diag *d) {
  custos_rc rc = cu_ws_begin(ws, d);
  if (rc != CUSTOS_OK)
    return rc;
  int64_t ok = 0, failed = 0;
  sqlite3_stmt *q = NULL;
  rc = cu_ws_prepare(ws,
                     "SELECT SUM(status <> 'failed'), SUM(status = 'failed')"
                     " FROM outcomes WHERE plan_hash = ?1",
                     &q, d);
  if (rc == CUSTOS_OK) {
    sqlite3_bind_text(q, 1, p->hash, -1, SQLITE_STATIC);
    if (sqlite3_step(q) == SQLITE_ROW) {
      ok = sqlite3_column_int64(q, 0);
      failed = sqlite3_column_int64(q, 1);
    }
    sqlite3_finalize(q);
  }
  if (rc == CUSTOS_OK)
    rc = set_plan_status(ws, p->hash, "applied", d);
  if (rc == CUSTOS_OK)
    rc = queue_notices(ws, p, &st->notices, d);
  bool lift = strcmp(p->kind, "reinstate") == 0;
  char reason[256];
  snprintf(reason, sizeof reason, "plan %.16s applied: %lld %s, %lld failed",
           p->hash, (long long)ok, lift ? "lifted" : "blocked",
           (long long)failed);
  /* A plan of which no target took effect enforced nothing: the case
   * keeps its status and the outcomes say why. */
  if (rc == CUSTOS_OK && ok > 0)
    rc = cu_case_set_status(ws, p->case_id, lift ? "reinstated" : "enforced",
                            reason, d);
  if (rc == CUSTOS_OK)
    rc = cu_ws_event_json(ws, "plan.applied", p->case_id,
                          json_pack("{s:s,s:s,s:I,s:I,s:I}", "plan", p->hash,
                                    "kind", p->kind, "done", (json_int_t)ok,
                                    "failed", (json_int_t)failed, "notices",
                                    (json_int_t)st->notices),
                          NULL, d);
  if (rc != CUSTOS_OK) {
    cu_ws_rollback(ws);
    return rc;
  }
  return cu_ws_commit(ws, d);
}

custos_rc cu_plan_apply(cu_ws *ws, const char *path, const char *person,
                        cu_apply_progress_fn progress, void *ud,
                        cu_apply_stats *st, custos_diag *d) {
  memset(st, 0, sizeof *st);
  cu_loaded_plan p;
  custos_rc rc = cu_enforce_load(ws, path, &p, d);
  if (rc != CUSTOS_OK)
    goto out;
  json_t *targets = json_object_get(p.body, "targets");
  size_t n = json_array_size(targets);
  st->targets = (int64_t)n;
  if (strcmp(p.status, "applied") == 0) {
    st->already = (int64_t)n; /* nothing to do, nothing recorded */
    goto out;
  }
  /* The checks, and the switch to "applying", are one write transaction:
   * a plan superseded or a decision replaced at the same moment is seen
   * here, not after the blocks went out. */
  rc = cu_ws_begin(ws, d);
  if (rc == CUSTOS_OK)
    rc = cu_enforce_plan_status(ws, p.hash, p.status, sizeof p.status, d);
  if (rc == CUSTOS_OK && strcmp(p.status, "applied") == 0) {
    cu_ws_rollback(ws);
    st->already = (int64_t)n;
    goto out;
  }
  if (rc == CUSTOS_OK)
    rc = cu_person_check(ws, person, "enforcer", d);
  if (rc == CUSTOS_OK && strcmp(p.status, "superseded") == 0) {
    cu_diag_hint(d, "a newer plan of %s replaced it", p.case_id);
    rc = cu_diag_set(d, CUSTOS_EREFUSED, "the plan was superseded");
  }
  json_t *latest = NULL;
  if (rc == CUSTOS_OK)
    rc = cu_enforce_decision(ws, p.case_id, &latest, d);
  if (rc == CUSTOS_OK &&
      json_integer_value(json_object_get(latest, "id")) != p.decision_id) {
    cu_diag_hint(d, "the case has a newer decision; make its plan with "
                    "`custos plan %s`",
                 p.case_id);
    rc = cu_diag_set(d, CUSTOS_EREFUSED, "the plan is for an older decision");
  }
  json_decref(latest);
  int64_t valid = 0;
  char why[1024], req[16];
  if (rc == CUSTOS_OK)
    rc = cu_enforce_count_approvals(ws, &p, &valid, why, sizeof why, d);
  if (rc == CUSTOS_OK)
    rc = cu_setting_get(ws, "enforce.required_approvals", req, sizeof req, d);
  if (rc == CUSTOS_OK && valid < atoi(req)) {
    cu_diag_field(d, "approvals", why, strlen(why));
    cu_diag_hint(d, "approvers sign with `custos approve PLAN --as PERSON`; "
                    "the author of the decision cannot approve");
    rc = cu_diag_set(d, CUSTOS_EREFUSED,
                     "the plan has %lld valid approval(s), %s are required",
                     (long long)valid, req);
  }
  if (rc == CUSTOS_EREFUSED || rc == CUSTOS_ENOTFOUND) {
    /* cu_enforce_refuse rolls the checks back and records the refusal */
    rc = cu_enforce_refuse(ws, p.case_id, p.hash, "apply", rc, d);
    goto out;
  }
  unsigned char *done = NULL;
  if (rc == CUSTOS_OK) {
    done = cu_calloc(n ? n : 1, 1);
    if (!done)
      rc = cu_diag_set(d, CUSTOS_ENOMEM, "out of memory");
  }
  if (rc == CUSTOS_OK)
    rc = recorded(ws, p.hash, n, done, &st->already, d);
  if (rc != CUSTOS_OK) {
    cu_ws_rollback(ws);
    cu_free(done);
    goto out;
  }
  cu_ws_set_actor(ws, person);
  if (st->already == 0) {
    rc = set_plan_status(ws, p.hash, "applying", d);
    if (rc == CUSTOS_OK)
      rc = cu_ws_event_json(ws, "plan.apply", p.case_id,
                            json_pack("{s:s,s:s,s:I}", "plan", p.hash,
                                      "enforcer", person, "targets",
                                      (json_int_t)n),
                            NULL, d);
  }
  if (rc == CUSTOS_OK)
    rc = cu_ws_commit(ws, d);
  else
    cu_ws_rollback(ws);
  sqlite3_stmt *ins = NULL;
  if (rc == CUSTOS_OK)
    rc = cu_ws_prepare(ws,
                       "INSERT INTO outcomes(plan_hash, idx, subscription,"
                       " service, region, status, revision, error, at, actor)"
                       " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
                       &ins, d);
  size_t i = 0;
  while (rc == CUSTOS_OK && i < n) {
    rc = cu_ws_begin(ws, d);
    /* outcomes another enforcer recorded meanwhile stay theirs */
    int64_t theirs = 0;
    if (rc == CUSTOS_OK)
      rc = recorded(ws, p.hash, n, done, &theirs, d);
    st->already += theirs;
    size_t in_batch = 0;
    for (; rc == CUSTOS_OK && i < n && in_batch < BATCH; i++) {
      if (done[i])
        continue;
      bool failed = false;
      rc = one_target(ws, &p, i, json_array_get(targets, i), ins,
                      &st->revision, &failed, d);
      in_batch++;
      st->done++;
      st->failed += failed;
    }
    if (rc == CUSTOS_OK) {
      rc = cu_ws_commit(ws, d);
    } else {
      cu_ws_rollback(ws);
      st->done -= (int64_t)in_batch;
    }
    if (progress)
      progress(ud, st->done + st->already, (int64_t)n);
  }
  sqlite3_finalize(ins);
  cu_free(done);
  if (rc == CUSTOS_OK)
    rc = finish(ws, &p, st, d);
out:
  cu_enforce_unload(&p);
  return rc;
}

custos_rc cu_plan_list_json(cu_ws *ws, const char *case_id, json_t **out,
                            custos_diag *d) {
  sqlite3_stmt *st = NULL;
  custos_rc rc = cu_ws_prepare(
      ws,
      "SELECT hash, case_id, kind, status, targets, created_at, created_by,"
      " (SELECT group_concat(person, ',') FROM approvals a"
      "   WHERE a.plan_hash = p.hash),"
      " (SELECT COUNT(*) FROM outcomes o WHERE o.plan_hash = p.hash"
      "   AND o.status <> 'failed'),"
      " (SELECT COUNT(*) FROM outcomes o WHERE o.plan_hash = p.hash"
      "   AND o.status = 'failed')"
      " FROM plans p WHERE ?1 IS NULL OR case_id = ?1 ORDER BY created_at, hash",
      &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  if (case_id)
    sqlite3_bind_text(st, 1, case_id, -1, SQLITE_STATIC);
  json_t *arr = json_array();
  while (sqlite3_step(st) == SQLITE_ROW)
    json_array_append_new(
        arr,
        json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:s,s:s?,s:I,s:I}", "hash",
                  (const char *)sqlite3_column_text(st, 0), "case",
                  (const char *)sqlite3_column_text(st, 1), "kind",
                  (const char *)sqlite3_column_text(st, 2), "status",
                  (const char *)sqlite3_column_text(st, 3), "targets",
                  (json_int_t)sqlite3_column_int64(st, 4), "created_at",
                  (json_int_t)sqlite3_column_int64(st, 5), "created_by",
                  (const char *)sqlite3_column_text(st, 6), "approvals",
                  (const char *)sqlite3_column_text(st, 7), "done",
                  (json_int_t)sqlite3_column_int64(st, 8), "failed",
                  (json_int_t)sqlite3_column_int64(st, 9)));
  sqlite3_finalize(st);
  *out = arr;
  return CUSTOS_OK;
}
