/*
 * Source registration, counts and rejects.  A source is one file as it was
 * received: class, custodian, path, SHA-256 and size.  Its row is written in
 * the same transaction as what is ingested from it, so a crash leaves either
 * both or neither.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "boundary.h"

static const char *const class_names[CU_CLASS_COUNT_] = {
    "directory", "usage", "mail", "document", "contract", "invoice"};

const char *cu_source_class_name(cu_source_class c) {
  return (unsigned)c < CU_CLASS_COUNT_ ? class_names[c] : NULL;
}

custos_rc cu_source_class_parse(const char *s, cu_source_class *out,
                                custos_diag *d) {
  for (unsigned i = 0; i < CU_CLASS_COUNT_; i++) {
    if (strcmp(s, class_names[i]) == 0) {
      *out = (cu_source_class)i;
      return CUSTOS_OK;
    }
  }
  cu_diag_field(d, "class", s, strlen(s));
  cu_diag_hint(d, "use one of directory, usage, mail, document, contract, "
                  "invoice; custos never ingests customer content");
  return cu_diag_set(d, CUSTOS_EINVAL, "unknown source class");
}

const char *cu_free_text_policy_name(cu_free_text_policy p) {
  switch (p) {
  case CU_FREE_TEXT_PSEUDONYMISE:
    return "pseudonymise";
  case CU_FREE_TEXT_KEEP:
    return "keep";
  case CU_FREE_TEXT_DROP:
    return "drop";
  }
  return "pseudonymise";
}

custos_rc cu_source_register(cu_ws *ws, cu_source_class cls,
                             const char *custodian, const char *path,
                             cu_source *out, int64_t *existing,
                             custos_diag *d) {
  memset(out, 0, sizeof *out);
  if (!custodian || !*custodian) {
    cu_diag_at(d, path, 0, 0);
    cu_diag_hint(d, "name who holds this record with --custodian NAME");
    return cu_diag_set(d, CUSTOS_EINVAL, "source has no custodian");
  }
  if (!cu_source_class_name(cls))
    return cu_diag_set(d, CUSTOS_EINVAL, "source has no class");
  uint8_t digest[CU_SHA256_LEN];
  uint64_t size = 0;
  custos_rc rc = cu_sha256_file(path, digest, &size, d);
  if (rc != CUSTOS_OK)
    return rc;
  return cu_source_register_hashed(ws, cls, custodian, path, digest, size, out,
                                   existing, d);
}

custos_rc cu_source_register_hashed(cu_ws *ws, cu_source_class cls,
                                    const char *custodian, const char *path,
                                    const uint8_t digest[CU_SHA256_LEN],
                                    uint64_t size, cu_source *out,
                                    int64_t *existing, custos_diag *d) {
  char hex[2 * CU_SHA256_LEN + 1];
  cu_hex_encode(digest, CU_SHA256_LEN, hex);
  return cu_source_register_digest(ws, cls, custodian, path, hex, size, out,
                                   existing, d);
}

custos_rc cu_source_register_digest(cu_ws *ws, cu_source_class cls,
                                    const char *custodian, const char *path,
                                    const char *sha256, uint64_t size,
                                    cu_source *out, int64_t *existing,
                                    custos_diag *d) {
  memset(out, 0, sizeof *out);
  if (!custodian || !*custodian) {
    cu_diag_at(d, path, 0, 0);
    cu_diag_hint(d, "name who holds this record with --custodian NAME");
    return cu_diag_set(d, CUSTOS_EINVAL, "source has no custodian");
  }
  if (!cu_source_class_name(cls))
    return cu_diag_set(d, CUSTOS_EINVAL, "source has no class");
  custos_rc rc = CUSTOS_OK;
  snprintf(out->sha256, sizeof out->sha256, "%s", sha256);
  out->size = size;
  out->cls = cls;
  snprintf(out->custodian, sizeof out->custodian, "%s", custodian);
  snprintf(out->path, sizeof out->path, "%s", path);
  out->registered_at = cu_time_now();
  snprintf(out->status, sizeof out->status, "open");

  sqlite3_stmt *st = NULL;
  rc = cu_ws_prepare(ws,
                     "SELECT id FROM sources WHERE sha256 = ?1 AND"
                     " status = 'complete'",
                     &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  sqlite3_bind_text(st, 1, out->sha256, -1, SQLITE_STATIC);
  int step = sqlite3_step(st);
  if (step == SQLITE_ROW) {
    if (existing)
      *existing = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return CUSTOS_EEXIST;
  }
  sqlite3_finalize(st);
  if (step != SQLITE_DONE)
    return cu_ws_dberr(ws, "cannot look up sources", d);

  rc = cu_ws_prepare(ws,
                     "INSERT INTO sources(class, custodian, path, sha256, size,"
                     " registered_at, actor, status, free_text)"
                     " VALUES(?1,?2,?3,?4,?5,?6,?7,'open',?8) RETURNING id",
                     &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  cu_free_text_policy pol = cu_boundary_policy(ws);
  sqlite3_bind_text(st, 1, class_names[cls], -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, out->custodian, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, out->path, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, out->sha256, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 5, (sqlite3_int64)out->size);
  sqlite3_bind_int64(st, 6, out->registered_at);
  sqlite3_bind_text(st, 7, cu_ws_actor(ws), -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 8, cu_free_text_policy_name(pol), -1, SQLITE_STATIC);
  if (sqlite3_step(st) != SQLITE_ROW) {
    rc = cu_ws_dberr(ws, "cannot register source", d);
    sqlite3_finalize(st);
    return rc;
  }
  out->id = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);

  json_t *ev = json_pack("{s:I,s:s,s:s,s:I,s:s,s:s,s:s}", "source",
                         (json_int_t)out->id, "class", class_names[cls],
                         "sha256", out->sha256, "size", (json_int_t)out->size,
                         "path", out->path, "custodian", out->custodian,
                         "free_text", cu_free_text_policy_name(pol));
  return cu_ws_event_json(ws, "source.register", NULL, ev, NULL, d);
}

custos_rc cu_source_complete(cu_ws *ws, const cu_source *src,
                             custos_diag *d) {
  sqlite3_stmt *st = NULL;
  custos_rc rc = cu_ws_prepare(ws,
                               "UPDATE sources SET expected=?2, accepted=?3,"
                               " rejected=?4, status='complete' WHERE id=?1",
                               &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  sqlite3_bind_int64(st, 1, src->id);
  sqlite3_bind_int64(st, 2, src->expected);
  sqlite3_bind_int64(st, 3, src->accepted);
  sqlite3_bind_int64(st, 4, src->rejected);
  if (sqlite3_step(st) != SQLITE_DONE)
    rc = cu_ws_dberr(ws, "cannot complete source", d);
  sqlite3_finalize(st);
  if (rc != CUSTOS_OK)
    return rc;
  json_t *ev = json_pack("{s:I,s:I,s:I,s:I}", "source", (json_int_t)src->id,
                         "expected", (json_int_t)src->expected, "accepted",
                         (json_int_t)src->accepted, "rejected",
                         (json_int_t)src->rejected);
  return cu_ws_event_json(ws, "source.complete", NULL, ev, NULL, d);
}

custos_rc cu_source_reject(cu_ws *ws, int64_t source_id, uint64_t line,
                           uint64_t column, const char *field,
                           const char *value, const char *reason,
                           custos_diag *d) {
  sqlite3_stmt *st = NULL;
  custos_rc rc = cu_ws_prepare(ws,
                               "INSERT INTO source_rejects(source_id, line,"
                               " col, field, value, reason)"
                               " VALUES(?1,?2,?3,?4,?5,?6)",
                               &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  sqlite3_bind_int64(st, 1, source_id);
  sqlite3_bind_int64(st, 2, (sqlite3_int64)line);
  sqlite3_bind_int64(st, 3, (sqlite3_int64)column);
  sqlite3_bind_text(st, 4, field ? field : "", -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, value ? value : "", -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 6, reason ? reason : "", -1, SQLITE_STATIC);
  if (sqlite3_step(st) != SQLITE_DONE)
    rc = cu_ws_dberr(ws, "cannot record rejected record", d);
  sqlite3_finalize(st);
  return rc;
}

custos_rc cu_source_get(cu_ws *ws, int64_t id, cu_source *out,
                        custos_diag *d) {
  sqlite3_stmt *st = NULL;
  custos_rc rc = cu_ws_prepare(
      ws,
      "SELECT class, custodian, path, sha256, size, registered_at, expected,"
      " accepted, rejected, status FROM sources WHERE id = ?1",
      &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  sqlite3_bind_int64(st, 1, id);
  int step = sqlite3_step(st);
  if (step == SQLITE_ROW) {
    memset(out, 0, sizeof *out);
    out->id = id;
    const char *cls = (const char *)sqlite3_column_text(st, 0);
    for (unsigned i = 0; i < CU_CLASS_COUNT_; i++)
      if (cls && strcmp(cls, class_names[i]) == 0)
        out->cls = (cu_source_class)i;
    snprintf(out->custodian, sizeof out->custodian, "%s",
             (const char *)sqlite3_column_text(st, 1));
    snprintf(out->path, sizeof out->path, "%s",
             (const char *)sqlite3_column_text(st, 2));
    snprintf(out->sha256, sizeof out->sha256, "%s",
             (const char *)sqlite3_column_text(st, 3));
    out->size = (uint64_t)sqlite3_column_int64(st, 4);
    out->registered_at = sqlite3_column_int64(st, 5);
    out->expected = sqlite3_column_int64(st, 6);
    out->accepted = sqlite3_column_int64(st, 7);
    out->rejected = sqlite3_column_int64(st, 8);
    snprintf(out->status, sizeof out->status, "%s",
             (const char *)sqlite3_column_text(st, 9));
  } else if (step == SQLITE_DONE) {
    rc = cu_diag_set(d, CUSTOS_ENOTFOUND, "no source %lld", (long long)id);
  } else {
    rc = cu_ws_dberr(ws, "cannot read source", d);
  }
  sqlite3_finalize(st);
  return rc;
}

cu_free_text_policy cu_boundary_policy(cu_ws *ws) {
  char v[32];
  bool found = false;
  if (cu_ws_meta_get(ws, "boundary.free_text", v, sizeof v, &found, NULL) !=
          CUSTOS_OK ||
      !found)
    return CU_FREE_TEXT_PSEUDONYMISE;
  return strcmp(v, "keep") == 0   ? CU_FREE_TEXT_KEEP
         : strcmp(v, "drop") == 0 ? CU_FREE_TEXT_DROP
                                  : CU_FREE_TEXT_PSEUDONYMISE;
}

custos_rc cu_boundary_set_policy(cu_ws *ws, cu_free_text_policy p,
                                 custos_diag *d) {
  custos_rc rc = cu_ws_meta_set(ws, "boundary.free_text",
                                cu_free_text_policy_name(p), d);
  if (rc != CUSTOS_OK)
    return rc;
  json_t *ev = json_pack("{s:s}", "free_text", cu_free_text_policy_name(p));
  return cu_ws_event_json(ws, "boundary.policy", NULL, ev, NULL, d);
}

custos_rc cu_boundary_free_text(cu_ws *ws, cu_free_text_policy p,
                                const char *s, size_t n, char *out,
                                size_t outn) {
  switch (p) {
  case CU_FREE_TEXT_DROP:
    if (outn < 1)
      return CUSTOS_ETOOBIG;
    out[0] = '\0';
    return CUSTOS_OK;
  case CU_FREE_TEXT_KEEP:
    if (outn < n + 1)
      return CUSTOS_ETOOBIG;
    memcpy(out, s, n);
    out[n] = '\0';
    return CUSTOS_OK;
  case CU_FREE_TEXT_PSEUDONYMISE:
    break;
  }
  if (outn < 35)
    return CUSTOS_ETOOBIG;
  uint8_t mac[CU_SHA256_LEN];
  custos_rc rc = cu_hmac_sha256(cu_ws_secret(ws), CU_SECRET_LEN, s, n, mac);
  if (rc != CUSTOS_OK)
    return rc;
  out[0] = 'p';
  out[1] = ':';
  cu_hex_encode(mac, 16, out + 2);
  return CUSTOS_OK;
}

custos_rc cu_source_find_open(cu_ws *ws, cu_source_class cls,
                              const char *sha256, cu_source *out,
                              custos_diag *d) {
  sqlite3_stmt *st = NULL;
  custos_rc rc = cu_ws_prepare(ws,
                               "SELECT max(id) FROM sources WHERE sha256 = ?1"
                               " AND class = ?2 AND status = 'open'",
                               &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  sqlite3_bind_text(st, 1, sha256, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, class_names[cls], -1, SQLITE_STATIC);
  int step = sqlite3_step(st);
  int64_t id = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  sqlite3_finalize(st);
  if (step != SQLITE_ROW)
    return cu_ws_dberr(ws, "cannot look up sources", d);
  if (id == 0)
    return CUSTOS_ENOTFOUND;
  return cu_source_get(ws, id, out, d);
}
