/*
 * Making a plan.  The plan is computed, not written by hand: the decision's
 * scope picks the subscriptions (units include their sub-units), a
 * recorded usage query lists what those customers actually use, and every
 * (subscription, service, region) is either a target or stays running.
 * The file is canonical JSON whose SHA-256 is the plan's identity.
 */
#include <stdlib.h>
#include <string.h>

#include "cases/cases.h"
#include "directory/directory.h"
#include "enforceInt.h"
#include "ledger/ledger.h"
#include "pdp/pdp.h"

/* The latest decision of a case, as JSON; ENOTFOUND/EREFUSED when none. */
custos_rc cu_enforce_decision(cu_ws *ws, const char *case_id, json_t **out,
                              custos_diag *d) {
  sqlite3_stmt *st = NULL;
  custos_rc rc = cu_ws_prepare(
      ws,
      "SELECT id, policy_id, policy_version, policy_sha256, scope, effect,"
      " effective_at, future, rationale, author FROM decisions"
      " WHERE case_id = ?1 ORDER BY id DESC LIMIT 1",
      &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  sqlite3_bind_text(st, 1, case_id, -1, SQLITE_STATIC);
  if (sqlite3_step(st) != SQLITE_ROW) {
    sqlite3_finalize(st);
    cu_diag_field(d, "case", case_id, strlen(case_id));
    cu_diag_hint(d, "record a decision first with `custos decide`");
    return cu_diag_set(d, CUSTOS_EREFUSED, "the case has no decision");
  }
  json_t *scope = json_loads((const char *)sqlite3_column_text(st, 4), 0,
                             NULL);
  char when[32];
  cu_time_format(sqlite3_column_int64(st, 6), when, sizeof when);
  json_t *o = json_pack(
      "{s:I,s:s,s:I,s:s,s:o,s:s,s:s,s:I,s:b,s:s,s:s}", "id",
      (json_int_t)sqlite3_column_int64(st, 0), "policy",
      (const char *)sqlite3_column_text(st, 1), "policy_version",
      (json_int_t)sqlite3_column_int64(st, 2), "policy_sha256",
      (const char *)sqlite3_column_text(st, 3), "scope",
      scope ? scope : json_object(), "effect",
      (const char *)sqlite3_column_text(st, 5), "effective_at", when,
      "effective_time", (json_int_t)sqlite3_column_int64(st, 6), "future",
      sqlite3_column_int(st, 7) != 0, "rationale",
      (const char *)sqlite3_column_text(st, 8), "author",
      (const char *)sqlite3_column_text(st, 9));
  sqlite3_finalize(st);
  if (!o)
    return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory");
  *out = o;
  return CUSTOS_OK;
}

typedef struct sub_info {
  char *id, *account, *unit, *unit_name, *name;
} sub_info;

typedef struct sub_set {
  sub_info *v;
  size_t n, cap;
  json_t *index; /* id -> position in v, so lookups stay O(1) */
} sub_set;

static void sub_set_free(sub_set *s) {
  for (size_t i = 0; i < s->n; i++) {
    cu_free(s->v[i].id);
    cu_free(s->v[i].account);
    cu_free(s->v[i].unit);
    cu_free(s->v[i].unit_name);
    cu_free(s->v[i].name);
  }
  cu_free(s->v);
  json_decref(s->index);
  memset(s, 0, sizeof *s);
}

static const sub_info *sub_find(const sub_set *s, const char *id) {
  json_t *i = s->index ? json_object_get(s->index, id) : NULL;
  return i ? &s->v[json_integer_value(i)] : NULL;
}

/* Runs sql (binding the JSON texts a1..a3, each may be NULL) and adds every
 * (id, account, unit, unit name, name) row to set. */
static custos_rc load_subs(cu_ws *ws, const char *sql, const char *a1,
                           const char *a2, const char *a3, sub_set *set,
                           custos_diag *d) {
  sqlite3_stmt *st = NULL;
  custos_rc rc = cu_ws_prepare(ws, sql, &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  const char *args[3] = {a1, a2, a3};
  for (int i = 0; i < 3; i++)
    if (args[i])
      sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_STATIC);
  while (rc == CUSTOS_OK && sqlite3_step(st) == SQLITE_ROW) {
    const char *id = (const char *)sqlite3_column_text(st, 0);
    if (sub_find(set, id))
      continue;
    sub_info *p = cu_grow(set->v, &set->cap, set->n, sizeof *p);
    if (!p) {
      rc = cu_diag_set(d, CUSTOS_ENOMEM, "out of memory");
      break;
    }
    set->v = p;
    if (!set->index)
      set->index = json_object();
    json_object_set_new(set->index, id, json_integer((json_int_t)set->n));
    sub_info *s = &set->v[set->n++];
    s->id = cu_strdup(id);
    s->account = cu_strdup((const char *)sqlite3_column_text(st, 1));
    s->unit = cu_strdup((const char *)sqlite3_column_text(st, 2));
    s->unit_name = cu_strdup((const char *)sqlite3_column_text(st, 3));
    s->name = cu_strdup((const char *)sqlite3_column_text(st, 4));
    if (!s->id || !s->account || !s->unit || !s->unit_name || !s->name)
      rc = cu_diag_set(d, CUSTOS_ENOMEM, "out of memory");
  }
  sqlite3_finalize(st);
  return rc;
}

static char *dump_or_null(json_t *sel, const char *key) {
  json_t *a = json_object_get(sel, key);
  return a ? json_dumps(a, JSON_COMPACT) : NULL;
}

static bool in_list(json_t *sel, const char *key, const char *v, bool ci) {
  json_t *a = json_object_get(sel, key);
  if (!a)
    return true; /* no such selector: no narrowing */
  size_t i;
  json_t *x;
  json_array_foreach(a, i, x) {
    const char *s = json_string_value(x);
    if (s && (ci ? strcasecmp(s, v) == 0 : strcmp(s, v) == 0))
      return true;
  }
  return false;
}

static int cmp_target(const void *a, const void *b) {
  json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
  static const char *const keys[] = {"subscription", "service", "region"};
  for (size_t i = 0; i < 3; i++) {
    int c = strcmp(json_string_value(json_object_get(x, keys[i])),
                   json_string_value(json_object_get(y, keys[i])));
    if (c)
      return c;
  }
  return 0;
}

/* Sorts a JSON array of targets in place, for a canonical plan. */
static custos_rc sort_targets(json_t *arr, custos_diag *d) {
  size_t n = json_array_size(arr);
  if (n < 2)
    return CUSTOS_OK;
  json_t **v = cu_calloc(n, sizeof *v);
  if (!v)
    return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory");
  for (size_t i = 0; i < n; i++)
    v[i] = json_incref(json_array_get(arr, i));
  qsort(v, n, sizeof *v, cmp_target);
  json_array_clear(arr);
  for (size_t i = 0; i < n; i++)
    json_array_append_new(arr, v[i]);
  cu_free(v);
  return CUSTOS_OK;
}

/*
 * Fills targets and unaffected for an enforcement plan from the usage
 * ledger: one recorded usage query per customer account.
 */
static custos_rc enforce_targets(cu_ws *ws, const char *case_id,
                                 json_t *decision, json_t *targets,
                                 json_t *unaffected, json_t *basis,
                                 cu_plan_stats *stats, custos_diag *d) {
  json_t *sel = json_object_get(decision, "scope");
  char *accounts = dump_or_null(sel, "account");
  char *units = dump_or_null(sel, "unit");
  char *subs = dump_or_null(sel, "subscription");
  sub_set scoped = {0}, customer = {0};
  custos_rc rc = load_subs(
      ws,
      "WITH RECURSIVE tree(id) AS ("
      " SELECT value FROM json_each(?2)"
      " UNION SELECT u.id FROM units u JOIN tree t ON u.parent_id = t.id)"
      " SELECT s.id, s.account_id, s.unit_id, u.name, s.name"
      " FROM subscriptions s JOIN units u ON u.id = s.unit_id"
      " WHERE (?1 IS NULL OR s.account_id IN (SELECT value FROM json_each(?1)))"
      " AND (?2 IS NULL OR s.unit_id IN (SELECT id FROM tree))"
      " AND (?3 IS NULL OR s.id IN (SELECT value FROM json_each(?3)))"
      " ORDER BY s.id",
      accounts, units, subs, &scoped, d);
  free(accounts);
  free(units);
  free(subs);
  if (rc != CUSTOS_OK)
    goto done;
  if (scoped.n == 0) {
    cu_diag_field(d, "scope", "", 0);
    cu_diag_hint(d, "the decision's scope names no subscription of the "
                    "directory; check it with `custos case show %s`",
                 case_id);
    rc = cu_diag_set(d, CUSTOS_EREFUSED, "the plan would block nothing");
    goto done;
  }
  stats->subscriptions = (int64_t)scoped.n;
  /* The same customers' other subscriptions: what must stay running. */
  json_t *accts = json_array();
  for (size_t i = 0; i < scoped.n; i++) {
    bool seen = false;
    size_t k;
    json_t *x;
    json_array_foreach(accts, k, x) {
      seen = seen || strcmp(json_string_value(x), scoped.v[i].account) == 0;
    }
    if (!seen)
      json_array_append_new(accts, json_string(scoped.v[i].account));
  }
  char *acct_text = json_dumps(accts, JSON_COMPACT);
  rc = load_subs(ws,
                 "SELECT s.id, s.account_id, s.unit_id, u.name, s.name"
                 " FROM subscriptions s JOIN units u ON u.id = s.unit_id"
                 " WHERE s.account_id IN (SELECT value FROM json_each(?1))"
                 " ORDER BY s.id",
                 acct_text, NULL, NULL, &customer, d);
  free(acct_text);
  json_t *seen = json_object();
  size_t ai;
  json_t *acct;
  json_array_foreach(accts, ai, acct) {
    if (rc != CUSTOS_OK)
      break;
    cu_ledger_query_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.account = json_string_value(acct);
    spec.case_id = case_id;
    rc = cu_ledger_parse_by("subscription,category,service,region", &spec,
                            d);
    cu_ledger_result *res = NULL;
    if (rc == CUSTOS_OK)
      rc = cu_ledger_query(ws, &spec, &res, d);
    if (rc != CUSTOS_OK)
      break;
    json_array_append_new(basis, json_pack("{s:s,s:O,s:s,s:I}", "account",
                                           spec.account, "query", res->query,
                                           "result_sha256", res->sha256,
                                           "rows", (json_int_t)res->nrows));
    int ci[4] = {-1, -1, -1, -1};
    static const cu_ledger_dim want[4] = {CU_DIM_SUBSCRIPTION, CU_DIM_CATEGORY,
                                          CU_DIM_SERVICE, CU_DIM_REGION};
    for (size_t k = 0; k < res->ncols; k++)
      for (int w = 0; w < 4; w++)
        if (res->cols[k] == want[w])
          ci[w] = (int)k;
    for (size_t r = 0; rc == CUSTOS_OK && r < res->nrows; r++) {
      const char *sub = res->rows[r].key[ci[0]];
      const char *cat = res->rows[r].key[ci[1]];
      const char *svc = res->rows[r].key[ci[2]];
      /* Usage without a location (global services) is blocked in every
       * region of the service. */
      const char *reg = *res->rows[r].key[ci[3]] ? res->rows[r].key[ci[3]]
                                                 : "*";
      const sub_info *in_scope = sub_find(&scoped, sub);
      const sub_info *info = in_scope ? in_scope : sub_find(&customer, sub);
      if (!info || !*svc)
        continue; /* usage of a subscription the directory lacks */
      const cu_catalog *catl = NULL;
      char country[3] = "";
      if (cu_catalog_get(&catl, NULL) == CUSTOS_OK) {
        const cu_region *rg = cu_catalog_region(catl, reg, strlen(reg));
        if (rg)
          memcpy(country, rg->country, 3);
      }
      bool hit = in_scope && in_list(sel, "category", cat, false) &&
                 in_list(sel, "service", svc, true) &&
                 in_list(sel, "region", reg, false) &&
                 in_list(sel, "country", country, false);
      json_t *list = hit ? targets : unaffected;
      /* one entry per (subscription, service, region): quantities in
       * several units give several rows */
      char key[2400];
      int kl = snprintf(key, sizeof key, "%s\x1f%s\x1f%s", sub, svc, reg);
      if (kl < 0 || (size_t)kl >= sizeof key) {
        rc = cu_diag_set(d, CUSTOS_ETOOBIG, "target names too long");
        break;
      }
      if (json_object_get(seen, key))
        continue;
      json_object_set_new(seen, key, json_true());
      json_t *t = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}",
                            "subscription", sub, "subscription_name",
                            info->name, "account", info->account, "unit",
                            info->unit, "unit_name", info->unit_name,
                            "category", cat, "service", svc, "region", reg,
                            "country", country);
      json_array_append_new(list, t);
    }
    cu_ledger_result_free(res);
  }
  json_decref(accts);
  json_decref(seen);
  if (rc == CUSTOS_OK)
    rc = sort_targets(targets, d);
  if (rc == CUSTOS_OK)
    rc = sort_targets(unaffected, d);
done:
  sub_set_free(&scoped);
  sub_set_free(&customer);
  return rc;
}

typedef struct lift_ctx {
  const char *case_id, *owner;
  json_t *targets;
} lift_ctx;

static int collect_block(void *ctx, const cu_pdp_block *b) {
  lift_ctx *c = ctx;
  if (strcmp(b->case_id, c->case_id) != 0 || strcmp(b->owner, c->owner) != 0)
    return 0;
  json_array_append_new(
      c->targets,
      json_pack("{s:s,s:s,s:s,s:I}", "subscription", b->subscription,
                "service", b->service, "region", b->region, "revision",
                (json_int_t)b->revision));
  return 0;
}

custos_rc cu_plan_make(cu_ws *ws, const char *case_id, const cu_plan_opts *o,
                       cu_buf *text, char hash[CU_PLAN_HASH_LEN + 1],
                       cu_plan_stats *st, custos_diag *d) {
  memset(st, 0, sizeof *st);
  const char *owner = o->owner && *o->owner ? o->owner : "aup";
  int64_t max = o->max_targets > 0 ? o->max_targets : 100;
  if (o->reinstate && (!o->reason || !*o->reason)) {
    cu_diag_field(d, "reason", "", 0);
    return cu_diag_set(d, CUSTOS_EINVAL, "a reinstatement needs a reason");
  }
  bool owner_ok = strlen(owner) < 32;
  for (const char *c = owner; *c; c++)
    owner_ok = owner_ok && ((*c >= 'a' && *c <= 'z') ||
                            (*c >= '0' && *c <= '9') || *c == '-');
  if (!owner_ok) {
    cu_diag_field(d, "owner", owner, strlen(owner));
    cu_diag_hint(d, "name the owner in lower case: aup, legal, billing ...");
    return cu_diag_set(d, CUSTOS_EINVAL, "malformed owner");
  }
  custos_rc rc = cu_case_check(ws, case_id, NULL, d);
  if (rc != CUSTOS_OK)
    return rc;
  /* A plan half applied is completed first, never overtaken. */
  sqlite3_stmt *ap = NULL;
  rc = cu_ws_prepare(ws,
                     "SELECT hash FROM plans WHERE case_id = ?1 AND"
                     " status = 'applying' LIMIT 1",
                     &ap, d);
  if (rc != CUSTOS_OK)
    return rc;
  sqlite3_bind_text(ap, 1, case_id, -1, SQLITE_STATIC);
  if (sqlite3_step(ap) == SQLITE_ROW) {
    cu_diag_field(d, "plan", (const char *)sqlite3_column_text(ap, 0), 16);
    cu_diag_hint(d, "complete it first: custos apply PLAN --as ENFORCER");
    rc = cu_diag_set(d, CUSTOS_EREFUSED, "a plan of %s is being applied",
                     case_id);
  }
  sqlite3_finalize(ap);
  if (rc != CUSTOS_OK)
    return rc;
  json_t *decision = NULL;
  rc = cu_enforce_decision(ws, case_id, &decision, d);
  if (rc != CUSTOS_OK)
    return rc;
  json_t *targets = json_array(), *unaffected = json_array(),
         *basis = json_array();
  if (o->reinstate) {
    lift_ctx lc = {case_id, owner, targets};
    rc = cu_pdp_scan(cu_ws_db(ws), 0, false, INT64_MAX, collect_block, &lc,
                     d);
    /* The account of each subscription, so that the customer is told. */
    sqlite3_stmt *q = NULL;
    if (rc == CUSTOS_OK)
      rc = cu_ws_prepare(ws,
                         "SELECT account_id, name FROM subscriptions"
                         " WHERE id = ?1",
                         &q, d);
    size_t ti;
    json_t *tt;
    json_array_foreach(targets, ti, tt) {
      if (rc != CUSTOS_OK)
        break;
      sqlite3_reset(q);
      sqlite3_bind_text(q, 1, json_string_value(json_object_get(tt, "subscription")),
                        -1, SQLITE_TRANSIENT);
      if (sqlite3_step(q) == SQLITE_ROW) {
        json_object_set_new(tt, "account",
                            json_string((const char *)sqlite3_column_text(q, 0)));
        json_object_set_new(tt, "subscription_name",
                            json_string((const char *)sqlite3_column_text(q, 1)));
      }
    }
    sqlite3_finalize(q);
    if (rc == CUSTOS_OK)
      rc = sort_targets(targets, d);
    if (rc == CUSTOS_OK && json_array_size(targets) == 0)
      rc = cu_diag_set(d, CUSTOS_EREFUSED,
                       "%s holds no block of owner %s to lift", case_id,
                       owner);
  } else {
    rc = enforce_targets(ws, case_id, decision, targets, unaffected, basis,
                         st, d);
  }
  st->targets = (int64_t)json_array_size(targets);
  st->unaffected = (int64_t)json_array_size(unaffected);
  if (rc == CUSTOS_OK && st->targets == 0)
    rc = cu_diag_set(d, CUSTOS_EREFUSED,
                     "the decision's scope matches no service in use");
  if (rc == CUSTOS_OK && st->targets > max) {
    cu_diag_field(d, "targets", NULL, 0);
    cu_diag_hint(d, "check the scope; if %lld targets are meant, raise the "
                    "guard with --max-targets %lld",
                 (long long)st->targets, (long long)st->targets);
    rc = cu_diag_set(d, CUSTOS_EREFUSED,
                     "the plan has %lld targets, more than the guard of %lld",
                     (long long)st->targets, (long long)max);
  }
  /* Plans of a case are numbered, so a later plan with the same targets
   * (block, lift, block again) is a new plan with its own hash. */
  int64_t seq = 1;
  if (rc == CUSTOS_OK) {
    sqlite3_stmt *q = NULL;
    rc = cu_ws_prepare(ws, "SELECT COUNT(*) + 1 FROM plans WHERE case_id=?1",
                       &q, d);
    if (rc == CUSTOS_OK) {
      sqlite3_bind_text(q, 1, case_id, -1, SQLITE_STATIC);
      if (sqlite3_step(q) == SQLITE_ROW)
        seq = sqlite3_column_int64(q, 0);
      else
        rc = cu_ws_dberr(ws, "cannot number the plan", d);
      sqlite3_finalize(q);
    }
  }
  json_t *plan = NULL;
  char now[32];
  cu_time_format(cu_time_now(), now, sizeof now);
  if (rc == CUSTOS_OK) {
    plan = json_pack("{s:s,s:I,s:s,s:s,s:O,s:s,s:I,s:o,s:o,s:o,s:s,s:s,s:s?}",
                     "format", CU_PLAN_FORMAT, "seq", (json_int_t)seq, "kind",
                     o->reinstate ? "reinstate" : "enforce", "case", case_id,
                     "decision", decision, "owner", owner, "max_targets",
                     (json_int_t)max, "targets", targets, "unaffected",
                     unaffected, "basis", basis, "created_at", now,
                     "created_by", cu_ws_actor(ws), "reason",
                     o->reinstate ? o->reason : NULL);
    targets = unaffected = basis = NULL;
    if (!plan)
      rc = cu_diag_set(d, CUSTOS_ENOMEM, "out of memory");
  }
  json_decref(targets);
  json_decref(unaffected);
  json_decref(basis);
  char *body = NULL;
  if (rc == CUSTOS_OK) {
    body = json_dumps(plan, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (!body)
      rc = cu_diag_set(d, CUSTOS_ENOMEM, "out of memory");
  }
  if (rc == CUSTOS_OK) {
    cu_buf_reset(text);
    rc = cu_buf_puts(text, body);
    if (rc == CUSTOS_OK)
      rc = cu_buf_putc(text, '\n');
    if (rc != CUSTOS_OK)
      rc = cu_diag_set(d, rc, "plan too large");
  }
  free(body);
  if (rc == CUSTOS_OK) {
    uint8_t dg[CU_SHA256_LEN];
    cu_sha256(text->data, text->len, dg);
    cu_hex_encode(dg, CU_SHA256_LEN, hash);
    rc = cu_enforce_store_plan(ws, case_id, plan, text, hash, st, d);
  }
  json_decref(plan);
  json_decref(decision);
  return rc;
}

custos_rc cu_enforce_store_plan(cu_ws *ws, const char *case_id, json_t *plan,
                                const cu_buf *text, const char *hash,
                                const cu_plan_stats *st, custos_diag *d) {
  custos_rc rc = cu_ws_begin(ws, d);
  if (rc != CUSTOS_OK)
    return rc;
  const char *kind = json_string_value(json_object_get(plan, "kind"));
  json_int_t decision = json_integer_value(
      json_object_get(json_object_get(plan, "decision"), "id"));
  sqlite3_stmt *s = NULL;
  rc = cu_ws_prepare(ws,
                     "UPDATE plans SET status = 'superseded' WHERE case_id = ?1"
                     " AND status IN ('proposed','approved') AND hash <> ?2",
                     &s, d);
  if (rc == CUSTOS_OK) {
    sqlite3_bind_text(s, 1, case_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, hash, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
      rc = cu_ws_dberr(ws, "cannot supersede plans", d);
    sqlite3_finalize(s);
  }
  if (rc == CUSTOS_OK)
    rc = cu_ws_prepare(ws,
                       "INSERT INTO plans(hash, case_id, decision_id, kind,"
                       " body, targets, status, created_at, created_by)"
                       " VALUES(?1,?2,?3,?4,?5,?6,'proposed',?7,?8)"
                       " ON CONFLICT(hash) DO NOTHING",
                       &s, d);
  if (rc == CUSTOS_OK) {
    sqlite3_bind_text(s, 1, hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, case_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, decision);
    sqlite3_bind_text(s, 4, kind, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 5, text->data, (int)text->len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, st->targets);
    sqlite3_bind_int64(s, 7, cu_time_now());
    sqlite3_bind_text(s, 8, cu_ws_actor(ws), -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
      rc = cu_ws_dberr(ws, "cannot store plan", d);
    sqlite3_finalize(s);
  }
  if (rc == CUSTOS_OK)
    rc = cu_ws_event_json(
        ws, "plan.create", case_id,
        json_pack("{s:s,s:s,s:I,s:I,s:I,s:O}", "plan", hash, "kind", kind,
                  "decision", decision, "targets", (json_int_t)st->targets,
                  "unaffected", (json_int_t)st->unaffected, "max_targets",
                  json_object_get(plan, "max_targets")),
        NULL, d);
  if (rc == CUSTOS_OK) {
    char reason[160];
    snprintf(reason, sizeof reason, "%s plan %.16s with %lld targets", kind,
             hash, (long long)st->targets);
    rc = cu_case_set_status(ws, case_id, "planned", reason, d);
  }
  if (rc != CUSTOS_OK) {
    cu_ws_rollback(ws);
    return rc;
  }
  return cu_ws_commit(ws, d);
}
