/*
 * The block state in the workspace: the one call the enforcement module
 * makes inside its transaction to put or lift a block.  Each change gets
 * the next revision, an outbox row for the NATS publisher and an event for
 * the transparency log, all in the caller's transaction.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "directory/directory.h"
#include "pdp.h"

static custos_rc bad(custos_diag *d, const char *field, const char *value,
                     const char *hint, const char *msg) {
  cu_diag_field(d, field, value, strlen(value));
  if (hint)
    cu_diag_hint(d, "%s", hint);
  return cu_diag_set(d, CUSTOS_EINVAL, "%s", msg);
}

/* Printable, no white space other than ' ', within the array. */
static int printable(const char *s, size_t max) {
  size_t n = strlen(s);
  if (n == 0 || n >= max)
    return 0;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
      return 0;
  return cu_utf8_invalid_at(s, n) == n;
}

custos_rc cu_pdp_block_normalise(cu_pdp_block *b, custos_diag *d) {
  uint64_t key[2];
  size_t n = strlen(b->subscription);
  if (cu_pdp_sub_key(b->subscription, n, key) != 0)
    return bad(d, "subscription", b->subscription,
               "give the subscription id (a GUID, or printable without "
               "spaces, at most 128 bytes)",
               "malformed subscription id");
  char canon[37];
  if (cu_pdp_guid_canon(b->subscription, n, canon) == 0)
    memcpy(b->subscription, canon, sizeof canon);
  if (!printable(b->service, sizeof b->service) || strchr(b->service, '\t'))
    return bad(d, "service", b->service,
               "name the service (at most 64 bytes) or '*' for all",
               "malformed service");
  for (char *p = b->service; *p; p++)
    *p = (char)tolower((unsigned char)*p);
  if (strcmp(b->region, "*") != 0) {
    const cu_catalog *cat = NULL;
    custos_rc rc = cu_catalog_get(&cat, d);
    if (rc != CUSTOS_OK)
      return rc;
    const cu_region *r = cu_catalog_region(cat, b->region, strlen(b->region));
    if (!r)
      return bad(d, "region", b->region,
                 "use a region of the catalogue (custos directory regions) "
                 "or '*' for all",
                 "unknown region");
    snprintf(b->region, sizeof b->region, "%s", r->id);
  }
  size_t on = strlen(b->owner);
  int owner_ok = on > 0 && on < sizeof b->owner;
  for (size_t i = 0; i < on && owner_ok; i++)
    owner_ok = (b->owner[i] >= 'a' && b->owner[i] <= 'z') ||
               (b->owner[i] >= '0' && b->owner[i] <= '9') || b->owner[i] == '-';
  if (!owner_ok)
    return bad(d, "owner", b->owner,
               "name the owner in lower case: aup, legal, billing, ...",
               "malformed owner");
  return CUSTOS_OK;
}

custos_rc cu_pdp_revision(cu_ws *ws, int64_t *rev, custos_diag *d) {
  static const char sql[] = "SELECT COALESCE(MAX(revision), 0) FROM pdp_blocks";
  sqlite3_stmt *st = NULL;
  custos_rc rc = cu_ws_cached(ws, sql, &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  if (sqlite3_step(st) == SQLITE_ROW)
    *rev = sqlite3_column_int64(st, 0);
  else
    rc = cu_ws_dberr(ws, "cannot read the block revision", d);
  sqlite3_reset(st);
  return rc;
}

/* Reads the current row of b's target and owner into cur; 1 found, 0 not,
 * negative on error (diag set). */
static int load_current(cu_ws *ws, const cu_pdp_block *b, cu_pdp_block *cur,
                        custos_diag *d) {
  static const char sql[] =
      "SELECT effect, case_id, effective, created, revision"
      " FROM pdp_blocks WHERE subscription = ?1 AND"
      " service = ?2 AND region = ?3 AND owner = ?4";
  sqlite3_stmt *st = NULL;
  if (cu_ws_cached(ws, sql, &st, d) != CUSTOS_OK)
    return -1;
  sqlite3_bind_text(st, 1, b->subscription, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, b->service, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, b->region, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, b->owner, -1, SQLITE_STATIC);
  int step = sqlite3_step(st);
  int found = 0;
  if (step == SQLITE_ROW) {
    *cur = *b;
    const char *e = (const char *)sqlite3_column_text(st, 0);
    if (!e || custos_pdp_effect_parse(e, &cur->effect) != 0)
      cur->effect = CUSTOS_PDP_EFFECT_NONE;
    snprintf(cur->case_id, sizeof cur->case_id, "%s",
             (const char *)sqlite3_column_text(st, 1));
    cur->effective = sqlite3_column_int64(st, 2);
    cur->created = sqlite3_column_int64(st, 3);
    cur->revision = sqlite3_column_int64(st, 4);
    found = 1;
  } else if (step != SQLITE_DONE) {
    cu_ws_dberr(ws, "cannot read the block", d);
    found = -1;
  }
  sqlite3_reset(st);
  return found;
}

/* Writes b (with its new revision) to pdp_blocks and pdp_outbox and
 * records the event. */
static custos_rc store(cu_ws *ws, cu_pdp_block *b, const char *event,
                       custos_diag *d) {
  int64_t rev = 0;
  custos_rc rc = cu_pdp_revision(ws, &rev, d);
  if (rc != CUSTOS_OK)
    return rc;
  b->revision = rev + 1;
  static const char put_sql[] =
      "INSERT INTO pdp_blocks(subscription, service, region, owner, effect,"
      " case_id, effective, created, revision) VALUES(?1,?2,?3,?4,?5,?6,?7,"
      "?8,?9) ON CONFLICT(subscription, service, region, owner) DO UPDATE"
      " SET effect = ?5, case_id = ?6, effective = ?7, created = ?8,"
      " revision = ?9";
  sqlite3_stmt *st = NULL;
  rc = cu_ws_cached(ws, put_sql, &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  const char *effect = b->effect == CUSTOS_PDP_EFFECT_NONE
                           ? "none"
                           : custos_pdp_effect_name(b->effect);
  sqlite3_bind_text(st, 1, b->subscription, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, b->service, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, b->region, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, b->owner, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, effect, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 6, b->case_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 7, b->effective);
  sqlite3_bind_int64(st, 8, b->created);
  sqlite3_bind_int64(st, 9, b->revision);
  if (sqlite3_step(st) != SQLITE_DONE)
    rc = cu_ws_dberr(ws, "cannot store the block", d);
  sqlite3_reset(st);
  if (rc != CUSTOS_OK)
    return rc;

  char key[512];
  rc = cu_pdp_kv_key(b, key, sizeof key);
  if (rc != CUSTOS_OK)
    return cu_diag_set(d, rc, "block key too long");
  char *value = cu_pdp_kv_value(b);
  if (!value)
    return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory storing a block");
  static const char outbox_sql[] =
      "INSERT INTO pdp_outbox(revision, key, value) VALUES(?1, ?2, ?3)";
  rc = cu_ws_cached(ws, outbox_sql, &st, d);
  if (rc == CUSTOS_OK) {
    sqlite3_bind_int64(st, 1, b->revision);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, value, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
      rc = cu_ws_dberr(ws, "cannot queue the block for publishing", d);
    sqlite3_reset(st);
  }
  free(value);
  if (rc != CUSTOS_OK)
    return rc;

  char when[32];
  cu_time_format(b->effective, when, sizeof when);
  return cu_ws_event_json(
      ws, event, b->case_id[0] ? b->case_id : NULL,
      json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I}", "subscription",
                b->subscription, "service", b->service, "region", b->region,
                "owner", b->owner, "effect", effect, "effective", when,
                "revision", (json_int_t)b->revision),
      NULL, d);
}

custos_rc cu_pdp_put(cu_ws *ws, cu_pdp_block *b, custos_diag *d) {
  if (NEVER(!cu_ws_in_tx(ws)))
    return cu_diag_set(d, CUSTOS_EINTERNAL, "cu_pdp_put outside a transaction");
  if (b->effect < CUSTOS_PDP_DENY_NEW || b->effect > CUSTOS_PDP_DENY_ALL)
    return cu_diag_set(d, CUSTOS_EINVAL,
                       "a block needs an effect: deny-new, read-only or "
                       "deny-all");
  custos_rc rc = cu_pdp_block_normalise(b, d);
  if (rc != CUSTOS_OK)
    return rc;
  if (!printable(b->case_id, sizeof b->case_id) || strchr(b->case_id, '\t'))
    return bad(d, "case", b->case_id,
               "every block names the case it enforces (at most 63 bytes)",
               "malformed case id");
  int64_t now = cu_time_now();
  if (b->effective <= 0)
    b->effective = now;
  b->created = now;
  cu_pdp_block cur;
  int found = load_current(ws, b, &cur, d);
  if (found < 0)
    return d ? d->rc : CUSTOS_EDB;
  if (found && cur.effect == b->effect &&
      strcmp(cur.case_id, b->case_id) == 0 &&
      (cur.effective == b->effective || b->effective == now)) {
    /* Already in force as asked: nothing changes, nothing to propagate. */
    *b = cur;
    return CUSTOS_OK;
  }
  return store(ws, b, "block.put", d);
}

custos_rc cu_pdp_lift(cu_ws *ws, cu_pdp_block *b, custos_diag *d) {
  if (NEVER(!cu_ws_in_tx(ws)))
    return cu_diag_set(d, CUSTOS_EINTERNAL,
                       "cu_pdp_lift outside a transaction");
  custos_rc rc = cu_pdp_block_normalise(b, d);
  if (rc != CUSTOS_OK)
    return rc;
  cu_pdp_block cur;
  int found = load_current(ws, b, &cur, d);
  if (found < 0)
    return d ? d->rc : CUSTOS_EDB;
  if (!found || cur.effect == CUSTOS_PDP_EFFECT_NONE) {
    cu_diag_field(d, "owner", b->owner, strlen(b->owner));
    cu_diag_hint(d, "only the owner of a block lifts it; see custos block "
                    "list");
    return cu_diag_set(d, CUSTOS_ENOTFOUND,
                       "no block of this owner is in force on %s %s %s",
                       b->subscription, b->service, b->region);
  }
  cur.effect = CUSTOS_PDP_EFFECT_NONE;
  cur.created = cu_time_now();
  rc = store(ws, &cur, "block.lift", d);
  if (rc == CUSTOS_OK)
    *b = cur;
  return rc;
}

custos_rc cu_pdp_scan(sqlite3 *db, int64_t after, bool all, int64_t limit,
                      cu_pdp_block_fn fn, void *ctx, custos_diag *d) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db,
                         "SELECT subscription, service, region, owner, effect,"
                         " case_id, effective, created, revision FROM"
                         " pdp_blocks WHERE revision > ?1 AND (?2 OR effect"
                         " <> 'none') ORDER BY revision LIMIT ?3",
                         -1, &st, NULL) != SQLITE_OK)
    return cu_diag_set(d, CUSTOS_EDB, "cannot read blocks: %s",
                       sqlite3_errmsg(db));
  sqlite3_bind_int64(st, 1, after);
  sqlite3_bind_int(st, 2, all ? 1 : 0);
  sqlite3_bind_int64(st, 3, limit);
  custos_rc rc = CUSTOS_OK;
  int step;
  cu_pdp_block b;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    memset(&b, 0, sizeof b);
    snprintf(b.subscription, sizeof b.subscription, "%s",
             (const char *)sqlite3_column_text(st, 0));
    snprintf(b.service, sizeof b.service, "%s",
             (const char *)sqlite3_column_text(st, 1));
    snprintf(b.region, sizeof b.region, "%s",
             (const char *)sqlite3_column_text(st, 2));
    snprintf(b.owner, sizeof b.owner, "%s",
             (const char *)sqlite3_column_text(st, 3));
    const char *e = (const char *)sqlite3_column_text(st, 4);
    if (!e || custos_pdp_effect_parse(e, &b.effect) != 0)
      b.effect = CUSTOS_PDP_EFFECT_NONE;
    snprintf(b.case_id, sizeof b.case_id, "%s",
             (const char *)sqlite3_column_text(st, 5));
    b.effective = sqlite3_column_int64(st, 6);
    b.created = sqlite3_column_int64(st, 7);
    b.revision = sqlite3_column_int64(st, 8);
    if (fn(ctx, &b) != 0)
      break;
  }
  if (step != SQLITE_ROW && step != SQLITE_DONE)
    rc = cu_diag_set(d, step == SQLITE_BUSY ? CUSTOS_EBUSY : CUSTOS_EDB,
                     "cannot read blocks: %s", sqlite3_errmsg(db));
  sqlite3_finalize(st);
  return rc;
}
