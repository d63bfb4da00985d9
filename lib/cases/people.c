/*
 * People and their keys.  Every action names its actor; approvals are
 * Ed25519 signatures in the C2SP signed-note form, so anyone can check
 * them offline with the person's verifier key.  In the embedded default the
 * private keys live in the workspace (keys/people/, 0600); a provider that
 * keeps them elsewhere signs the same note text there.
 */
#include <limits.h>
#include <string.h>

#include "cases.h"
#include "tlog/tlog.h"

static const char *const roles[] = {CU_ROLES};

/* Checks that list is a comma-separated list of known roles. */
static custos_rc check_roles(const char *list, custos_diag *d) {
  const char *p = list;
  if (!*p)
    goto bad;
  while (*p) {
    const char *comma = strchr(p, ',');
    size_t n = comma ? (size_t)(comma - p) : strlen(p);
    bool known = false;
    for (size_t i = 0; i < CU_ARRAY_LEN(roles); i++)
      known = known || (strlen(roles[i]) == n && memcmp(roles[i], p, n) == 0);
    if (!known)
      goto bad;
    p += n + (comma ? 1 : 0);
    if (comma && !*p)
      goto bad;
  }
  return CUSTOS_OK;
bad:
  cu_diag_field(d, "role", list, strlen(list));
  cu_diag_hint(d, "use reviewer, approver, enforcer or auditor, or several "
                  "separated by commas");
  return cu_diag_set(d, CUSTOS_EINVAL, "unknown role");
}

static bool has_role(const char *list, const char *role) {
  size_t n = strlen(role);
  for (const char *p = list; p && *p;) {
    const char *comma = strchr(p, ',');
    size_t k = comma ? (size_t)(comma - p) : strlen(p);
    if (k == n && memcmp(p, role, n) == 0)
      return true;
    p = comma ? comma + 1 : NULL;
  }
  return false;
}

static custos_rc key_path(cu_ws *ws, const char *name, char *out, size_t n,
                          custos_diag *d) {
  char rel[PATH_MAX];
  snprintf(rel, sizeof rel, "keys/people/%s.key", name);
  if (cu_ws_path(ws, rel, out, n) != CUSTOS_OK)
    return cu_diag_set(d, CUSTOS_EINVAL, "workspace path too long");
  return CUSTOS_OK;
}

custos_rc cu_person_add(cu_ws *ws, const char *name, const char *rolelist,
                        char *vkey, custos_diag *d) {
  if (!cu_log_name_valid(name, strlen(name)) || strlen(name) > 64 ||
      strchr(name, '/') || name[0] == '.') {
    cu_diag_field(d, "name", name, strlen(name));
    cu_diag_hint(d, "use a short name without spaces, '+', '/' or control "
                    "characters, e.g. ilse.varn");
    return cu_diag_set(d, CUSTOS_EINVAL, "invalid person name");
  }
  custos_rc rc = check_roles(rolelist, d);
  if (rc != CUSTOS_OK)
    return rc;
  char path[PATH_MAX], dir[PATH_MAX];
  rc = key_path(ws, name, path, sizeof path, d);
  if (rc == CUSTOS_OK && cu_ws_path(ws, "keys/people", dir, sizeof dir))
    rc = cu_diag_set(d, CUSTOS_EINVAL, "workspace path too long");
  if (rc == CUSTOS_OK)
    rc = cu_mkdirs(dir, 0700, d);
  if (rc != CUSTOS_OK)
    return rc;
  rc = cu_ws_begin(ws, d);
  if (rc != CUSTOS_OK)
    return rc;
  sqlite3_stmt *st = NULL;
  rc = cu_ws_prepare(ws, "SELECT 1 FROM people WHERE name = ?1", &st, d);
  if (rc == CUSTOS_OK) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
      cu_diag_field(d, "name", name, strlen(name));
      rc = cu_diag_set(d, CUSTOS_EEXIST, "person already exists");
    }
    sqlite3_finalize(st);
  }
  cu_log_skey sk;
  char skey[CU_VKEY_MAX + 64], vk[CU_VKEY_MAX];
  memset(&sk, 0, sizeof sk);
  if (rc == CUSTOS_OK)
    rc = cu_log_skey_generate(name, 0x01, &sk, d);
  if (rc == CUSTOS_OK && (cu_log_skey_format(&sk, skey, sizeof skey) ||
                          cu_log_vkey_format(&sk.pub, vk, sizeof vk)))
    rc = cu_diag_set(d, CUSTOS_EINTERNAL, "cannot format the key");
  cu_log_skey_wipe(&sk);
  if (rc == CUSTOS_OK) {
    /* The key file first: a crash before the commit leaves an unused key
     * that the next attempt overwrites; never a person without a key. */
    strcat(skey, "\n");
    rc = cu_file_write_atomic(path, skey, strlen(skey), 0600, d);
  }
  memset(skey, 0, sizeof skey);
  if (rc == CUSTOS_OK)
    rc = cu_ws_prepare(ws,
                       "INSERT INTO people(name, roles, vkey, created_at,"
                       " created_by) VALUES(?1,?2,?3,?4,?5)",
                       &st, d);
  if (rc == CUSTOS_OK) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, rolelist, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, vk, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, cu_time_now());
    sqlite3_bind_text(st, 5, cu_ws_actor(ws), -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
      rc = cu_ws_dberr(ws, "cannot store person", d);
    sqlite3_finalize(st);
  }
  if (rc == CUSTOS_OK)
    rc = cu_ws_event_json(ws, "person.add", NULL,
                          json_pack("{s:s,s:s,s:s}", "name", name, "roles",
                                    rolelist, "vkey", vk),
                          NULL, d);
  if (rc != CUSTOS_OK) {
    cu_ws_rollback(ws);
    return rc;
  }
  rc = cu_ws_commit(ws, d);
  if (rc == CUSTOS_OK && vkey)
    snprintf(vkey, CU_VKEY_MAX, "%s", vk);
  return rc;
}

/* Reads name's roles and verifier key. */
static custos_rc person_row(cu_ws *ws, const char *name, char *rolelist,
                            size_t rn, char *vkey, size_t vn,
                            custos_diag *d) {
  sqlite3_stmt *st = NULL;
  custos_rc rc = cu_ws_prepare(
      ws, "SELECT roles, vkey FROM people WHERE name = ?1", &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW) {
    snprintf(rolelist, rn, "%s", (const char *)sqlite3_column_text(st, 0));
    snprintf(vkey, vn, "%s", (const char *)sqlite3_column_text(st, 1));
  } else {
    cu_diag_field(d, "person", name, strlen(name));
    cu_diag_hint(d, "add them with `custos person add NAME --role ROLE`");
    rc = cu_diag_set(d, CUSTOS_ENOTFOUND, "no such person");
  }
  sqlite3_finalize(st);
  return rc;
}

custos_rc cu_person_check(cu_ws *ws, const char *name, const char *role,
                          custos_diag *d) {
  char rl[256], vk[CU_VKEY_MAX];
  custos_rc rc = person_row(ws, name, rl, sizeof rl, vk, sizeof vk, d);
  if (rc != CUSTOS_OK)
    return rc;
  if (!has_role(rl, role)) {
    cu_diag_field(d, "person", name, strlen(name));
    cu_diag_hint(d, "%s holds the roles %s", name, rl);
    return cu_diag_set(d, CUSTOS_EREFUSED, "person is not an %s", role);
  }
  return CUSTOS_OK;
}

custos_rc cu_person_vkey(cu_ws *ws, const char *name, char *vkey,
                         custos_diag *d) {
  char rl[256];
  return person_row(ws, name, rl, sizeof rl, vkey, CU_VKEY_MAX, d);
}

custos_rc cu_person_sign(cu_ws *ws, const char *name, const char *text,
                         cu_buf *out, custos_diag *d) {
  char rl[256], vk[CU_VKEY_MAX], path[PATH_MAX];
  custos_rc rc = person_row(ws, name, rl, sizeof rl, vk, sizeof vk, d);
  if (rc == CUSTOS_OK)
    rc = key_path(ws, name, path, sizeof path, d);
  char *keytext = NULL;
  size_t len = 0;
  if (rc == CUSTOS_OK)
    rc = cu_file_read(path, 4096, &keytext, &len, d);
  if (rc != CUSTOS_OK)
    return rc;
  while (len && (keytext[len - 1] == '\n' || keytext[len - 1] == '\r'))
    len--;
  cu_log_skey sk;
  rc = cu_log_skey_parse(keytext, len, &sk, d);
  memset(keytext, 0, len);
  cu_free(keytext);
  if (rc != CUSTOS_OK)
    return rc;
  /* The private key must belong to the registered verifier key. */
  char have[CU_VKEY_MAX];
  if (cu_log_vkey_format(&sk.pub, have, sizeof have) != CUSTOS_OK ||
      strcmp(have, vk) != 0) {
    cu_log_skey_wipe(&sk);
    cu_diag_at(d, path, 0, 0);
    return cu_diag_set(d, CUSTOS_EVERIFY,
                       "key file does not match %s's registered key", name);
  }
  rc = cu_log_note_sign(text, strlen(text), &sk, 0, out, d);
  cu_log_skey_wipe(&sk);
  return rc;
}

custos_rc cu_person_list_json(cu_ws *ws, json_t **out, custos_diag *d) {
  sqlite3_stmt *st = NULL;
  custos_rc rc = cu_ws_prepare(
      ws, "SELECT name, roles, vkey, created_at FROM people ORDER BY name",
      &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  json_t *arr = json_array();
  while (sqlite3_step(st) == SQLITE_ROW)
    json_array_append_new(
        arr, json_pack("{s:s,s:s,s:s,s:I}", "name",
                       (const char *)sqlite3_column_text(st, 0), "roles",
                       (const char *)sqlite3_column_text(st, 1), "vkey",
                       (const char *)sqlite3_column_text(st, 2), "created_at",
                       (json_int_t)sqlite3_column_int64(st, 3)));
  sqlite3_finalize(st);
  *out = arr;
  return CUSTOS_OK;
}
