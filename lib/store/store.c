/*
 * The workspace: directory layout, database open with WAL and migrations,
 * the secret, transactions and the event outbox.  SQLite errors are
 * translated to custos_rc here so no other module sees SQLite codes.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"

struct cu_ws {
  sqlite3 *db;
  struct {
    const char *sql;
    sqlite3_stmt *st;
  } cache[CU_WS_CACHED];
  char dir[PATH_MAX];
  uint8_t secret[CU_SECRET_LEN];
  char actor[128];
  int in_tx;
  uint64_t tx_serial; /* transactions begun on this handle */
};

extern const cu_schema *const cu_schemas[];
extern const cu_open_hook cu_open_hooks[];
extern const size_t cu_nopen_hooks;
extern const size_t cu_nschemas;

sqlite3 *cu_ws_db(cu_ws *ws) { return ws->db; }
const char *cu_ws_dir(const cu_ws *ws) { return ws->dir; }
const uint8_t *cu_ws_secret(const cu_ws *ws) { return ws->secret; }
const char *cu_ws_actor(const cu_ws *ws) { return ws->actor; }

void cu_ws_set_actor(cu_ws *ws, const char *actor) {
  snprintf(ws->actor, sizeof ws->actor, "%s",
           actor && *actor ? actor : "unknown");
}

custos_rc cu_ws_path(const cu_ws *ws, const char *rel, char *out, size_t n) {
  int k = snprintf(out, n, "%s/%s", ws->dir, rel);
  return k < 0 || (size_t)k >= n ? CUSTOS_EINVAL : CUSTOS_OK;
}

custos_rc cu_ws_dberr(cu_ws *ws, const char *what, custos_diag *d) {
  int code = sqlite3_errcode(ws->db);
  custos_rc rc = (code == SQLITE_BUSY || code == SQLITE_LOCKED) ? CUSTOS_EBUSY
                 : code == SQLITE_FULL                           ? CUSTOS_EIO
                 : code == SQLITE_NOMEM                          ? CUSTOS_ENOMEM
                                                                 : CUSTOS_EDB;
  cu_diag_at(d, ws->dir, 0, 0);
  if (rc == CUSTOS_EBUSY)
    cu_diag_hint(d, "another custos command holds the workspace; retry when "
                    "it has finished");
  return cu_diag_set(d, rc, "%s: %s", what, sqlite3_errmsg(ws->db));
}

custos_rc cu_ws_prepare(cu_ws *ws, const char *sql, sqlite3_stmt **st,
                        custos_diag *d) {
  if (sqlite3_prepare_v2(ws->db, sql, -1, st, NULL) != SQLITE_OK)
    return cu_ws_dberr(ws, "cannot prepare statement", d);
  return CUSTOS_OK;
}

custos_rc cu_ws_cached(cu_ws *ws, const char *sql, sqlite3_stmt **st,
                       custos_diag *d) {
  size_t i = 0;
  for (; i < CU_WS_CACHED && ws->cache[i].sql; i++) {
    if (ws->cache[i].sql == sql) {
      sqlite3_reset(ws->cache[i].st);
      sqlite3_clear_bindings(ws->cache[i].st);
      *st = ws->cache[i].st;
      return CUSTOS_OK;
    }
  }
  if (NEVER(i == CU_WS_CACHED))
    return cu_diag_set(d, CUSTOS_EINTERNAL, "statement cache full");
  custos_rc rc = cu_ws_prepare(ws, sql, st, d);
  if (rc == CUSTOS_OK) {
    ws->cache[i].sql = sql;
    ws->cache[i].st = *st;
  }
  return rc;
}

custos_rc cu_ws_exec(cu_ws *ws, const char *sql, custos_diag *d) {
  if (sqlite3_exec(ws->db, sql, NULL, NULL, NULL) != SQLITE_OK)
    return cu_ws_dberr(ws, "database statement failed", d);
  return CUSTOS_OK;
}

custos_rc cu_ws_begin(cu_ws *ws, custos_diag *d) {
  if (NEVER(ws->in_tx))
    return cu_diag_set(d, CUSTOS_EINTERNAL, "nested transaction");
  custos_rc rc = cu_ws_exec(ws, "BEGIN IMMEDIATE", d);
  ws->tx_serial++;
  if (rc == CUSTOS_OK)
    ws->in_tx = 1;
  return rc;
}

uint64_t cu_ws_tx_serial(const cu_ws *ws) { return ws->tx_serial; }

custos_rc cu_ws_commit(cu_ws *ws, custos_diag *d) {
  custos_rc rc = cu_ws_exec(ws, "COMMIT", d);
  if (rc != CUSTOS_OK) {
    cu_ws_rollback(ws);
    return rc;
  }
  ws->in_tx = 0;
  return CUSTOS_OK;
}

void cu_ws_rollback(cu_ws *ws) {
  if (ws->in_tx || !sqlite3_get_autocommit(ws->db))
    sqlite3_exec(ws->db, "ROLLBACK", NULL, NULL, NULL);
  ws->in_tx = 0;
}

/* Reads the 32-byte secret; a workspace without it is not one. */
static custos_rc read_secret(cu_ws *ws, custos_diag *d) {
  char path[PATH_MAX];
  char *data = NULL;
  size_t len = 0;
  if (cu_ws_path(ws, "secret", path, sizeof path) != CUSTOS_OK)
    return cu_diag_set(d, CUSTOS_EINVAL, "workspace path too long");
  custos_rc rc = cu_file_read(path, 4096, &data, &len, d);
  if (rc != CUSTOS_OK)
    return rc;
  if (len != CU_SECRET_LEN) {
    cu_free(data);
    cu_diag_at(d, path, 0, 0);
    cu_diag_hint(d, "restore the secret from the workspace's backup");
    return cu_diag_set(d, CUSTOS_EPARSE,
                       "workspace secret has %zu bytes, expected %d", len,
                       CU_SECRET_LEN);
  }
  memcpy(ws->secret, data, CU_SECRET_LEN);
  cu_free(data);
  return CUSTOS_OK;
}

static const cu_schema *find_schema(const char *module) {
  for (size_t i = 0; i < cu_nschemas; i++)
    if (strcmp(cu_schemas[i]->module, module) == 0)
      return cu_schemas[i];
  return NULL;
}

/* Latest version of s: its last step's number. */
static int schema_latest(const cu_schema *s) {
  return s->nsteps ? s->steps[s->nsteps - 1].version : 0;
}

/*
 * Runs every pending migration in one transaction after refusing a
 * database that holds a module this custos does not know, or a newer
 * version of one it does.
 */
static custos_rc migrate(cu_ws *ws, custos_diag *d) {
  custos_rc rc = cu_ws_exec(ws,
                            "CREATE TABLE IF NOT EXISTS schema_version("
                            " module TEXT PRIMARY KEY, version INTEGER NOT NULL)",
                            d);
  if (rc != CUSTOS_OK)
    return rc;
  rc = cu_ws_begin(ws, d);
  if (rc != CUSTOS_OK)
    return rc;

  sqlite3_stmt *st = NULL;
  rc = cu_ws_prepare(ws, "SELECT module, version FROM schema_version", &st, d);
  if (rc != CUSTOS_OK)
    goto fail;
  int have[64] = {0};
  if (NEVER(cu_nschemas > CU_ARRAY_LEN(have))) {
    rc = cu_diag_set(d, CUSTOS_EINTERNAL, "too many schemas");
    goto fail;
  }
  int step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    const char *mod = (const char *)sqlite3_column_text(st, 0);
    int ver = sqlite3_column_int(st, 1);
    const cu_schema *s = find_schema(mod ? mod : "");
    if (!s || ver > schema_latest(s)) {
      cu_diag_at(d, ws->dir, 0, 0);
      cu_diag_field(d, "schema_version", mod ? mod : "", mod ? strlen(mod) : 0);
      cu_diag_hint(d, "open this workspace with the newer custos that wrote "
                      "it; this custos %s knows %s at version %d",
                   CUSTOS_VERSION, mod ? mod : "?", s ? schema_latest(s) : 0);
      rc = cu_diag_set(d, CUSTOS_ESCHEMA,
                       "workspace was written by a newer custos (module %s "
                       "at schema version %d)",
                       mod ? mod : "?", ver);
      goto fail;
    }
    for (size_t i = 0; i < cu_nschemas; i++)
      if (cu_schemas[i] == s)
        have[i] = ver;
  }
  if (step != SQLITE_DONE) {
    rc = cu_ws_dberr(ws, "cannot read schema versions", d);
    goto fail;
  }
  sqlite3_finalize(st);
  st = NULL;

  rc = cu_ws_prepare(ws,
                     "INSERT INTO schema_version(module, version) VALUES(?1,?2)"
                     " ON CONFLICT(module) DO UPDATE SET version = ?2",
                     &st, d);
  if (rc != CUSTOS_OK)
    goto fail;
  for (size_t i = 0; i < cu_nschemas; i++) {
    const cu_schema *s = cu_schemas[i];
    for (size_t k = 0; k < s->nsteps; k++) {
      if (s->steps[k].version <= have[i])
        continue;
      if (sqlite3_exec(ws->db, s->steps[k].sql, NULL, NULL, NULL) !=
          SQLITE_OK) {
        char what[160];
        snprintf(what, sizeof what, "migration %s to version %d failed",
                 s->module, s->steps[k].version);
        rc = cu_ws_dberr(ws, what, d);
        goto fail;
      }
      sqlite3_reset(st);
      sqlite3_bind_text(st, 1, s->module, -1, SQLITE_STATIC);
      sqlite3_bind_int(st, 2, s->steps[k].version);
      if (sqlite3_step(st) != SQLITE_DONE) {
        rc = cu_ws_dberr(ws, "cannot record schema version", d);
        goto fail;
      }
    }
  }
  sqlite3_finalize(st);
  return cu_ws_commit(ws, d);
fail:
  sqlite3_finalize(st);
  cu_ws_rollback(ws);
  return rc;
}

static custos_rc open_db(cu_ws *ws, int create, custos_diag *d) {
  char path[PATH_MAX];
  if (cu_ws_path(ws, "custos.db", path, sizeof path) != CUSTOS_OK)
    return cu_diag_set(d, CUSTOS_EINVAL, "workspace path too long");
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
              (create ? SQLITE_OPEN_CREATE : 0);
  if (sqlite3_open_v2(path, &ws->db, flags, cu_ws_vfs()) != SQLITE_OK) {
    custos_rc rc = cu_ws_dberr(ws, "cannot open workspace database", d);
    cu_diag_at(d, path, 0, 0);
    return rc;
  }
  sqlite3_extended_result_codes(ws->db, 0);
  sqlite3_busy_timeout(ws->db, 10000);
  custos_rc rc = cu_ws_exec(ws,
                            "PRAGMA journal_mode=WAL;"
                            "PRAGMA synchronous=FULL;"
                            "PRAGMA foreign_keys=ON;"
                            /* Reads through a memory map and a larger
                             * page cache: a search reads megabytes of
                             * index, and a pread per page cost it more
                             * system time than the search itself (writes
                             * still go through the WAL). */
                            "PRAGMA mmap_size=4294967296;"
                            "PRAGMA cache_size=-32768;",
                            d);
  /* The modules' functions first: a migration may use them (the
   * ledger's packs its rollups with one). */
  for (size_t i = 0; i < cu_nopen_hooks && rc == CUSTOS_OK; i++)
    rc = cu_open_hooks[i](ws->db, d);
  if (rc == CUSTOS_OK)
    rc = migrate(ws, d);
  return rc;
}

static cu_ws *ws_new(const char *dir, custos_diag *d) {
  cu_ws *ws = cu_calloc(1, sizeof *ws);
  if (!ws) {
    cu_diag_set(d, CUSTOS_ENOMEM, "out of memory opening workspace");
    return NULL;
  }
  size_t n = strlen(dir);
  while (n > 1 && dir[n - 1] == '/')
    n--;
  if (n >= sizeof ws->dir) {
    cu_free(ws);
    cu_diag_set(d, CUSTOS_EINVAL, "workspace path too long");
    return NULL;
  }
  memcpy(ws->dir, dir, n);
  ws->dir[n] = '\0';
  const char *actor = getenv("CUSTOS_ACTOR");
  if (!actor || !*actor)
    actor = getenv("USER");
  cu_ws_set_actor(ws, actor);
  return ws;
}

void cu_ws_close(cu_ws *ws) {
  if (!ws)
    return;
  if (ws->db) {
    cu_ws_rollback(ws);
    for (size_t i = 0; i < CU_WS_CACHED; i++)
      sqlite3_finalize(ws->cache[i].st);
    sqlite3_close_v2(ws->db);
  }
  memset(ws->secret, 0, sizeof ws->secret);
  cu_free(ws);
}

custos_rc cu_ws_open(const char *dir, cu_ws **out, custos_diag *d) {
  char path[PATH_MAX];
  struct stat sb;
  *out = NULL;
  cu_ws *ws = ws_new(dir, d);
  if (!ws)
    return d ? d->rc : CUSTOS_ENOMEM;
  if (cu_ws_path(ws, "custos.db", path, sizeof path) != CUSTOS_OK ||
      stat(path, &sb) != 0) {
    cu_diag_at(d, dir, 0, 0);
    cu_diag_hint(d, "create one with `custos init -w %s`, or choose another "
                    "with -w DIR or CUSTOS_WORKSPACE",
                 dir);
    custos_rc rc = cu_diag_set(d, CUSTOS_ENOWS, "not a custos workspace");
    cu_ws_close(ws);
    return rc;
  }
  custos_rc rc = read_secret(ws, d);
  if (rc == CUSTOS_OK)
    rc = open_db(ws, 0, d);
  if (rc != CUSTOS_OK) {
    cu_ws_close(ws);
    return rc;
  }
  *out = ws;
  return CUSTOS_OK;
}

custos_rc cu_ws_create(const char *dir, custos_diag *d) {
  char path[PATH_MAX];
  struct stat sb;
  cu_ws *ws = ws_new(dir, d);
  if (!ws)
    return d ? d->rc : CUSTOS_ENOMEM;
  custos_rc rc = CUSTOS_OK;
  if (cu_ws_path(ws, "custos.db", path, sizeof path) != CUSTOS_OK) {
    rc = cu_diag_set(d, CUSTOS_EINVAL, "workspace path too long");
    goto fail;
  }
  if (stat(path, &sb) == 0) {
    cu_diag_at(d, dir, 0, 0);
    cu_diag_hint(d, "use it as it is, or choose an empty directory");
    rc = cu_diag_set(d, CUSTOS_EEXIST, "a workspace already exists here");
    goto fail;
  }
  static const char *const subdirs[] = {"", "log", "keys", "policies",
                                        "outbox"};
  for (size_t i = 0; i < CU_ARRAY_LEN(subdirs); i++) {
    if (cu_ws_path(ws, subdirs[i], path, sizeof path) != CUSTOS_OK) {
      rc = cu_diag_set(d, CUSTOS_EINVAL, "workspace path too long");
      goto fail;
    }
    rc = cu_mkdirs(path, 0700, d);
    if (rc != CUSTOS_OK)
      goto fail;
  }
  /* The secret is written before the database: a workspace is only
   * recognised once custos.db exists, so a crash here leaves a directory
   * that a second init completes. */
  if (cu_ws_path(ws, "secret", path, sizeof path) != CUSTOS_OK) {
    rc = cu_diag_set(d, CUSTOS_EINVAL, "workspace path too long");
    goto fail;
  }
  if (stat(path, &sb) != 0) {
    rc = cu_random(ws->secret, CU_SECRET_LEN);
    if (rc != CUSTOS_OK) {
      cu_diag_set(d, rc, "cannot draw random bytes for the workspace secret");
      goto fail;
    }
    rc = cu_file_write_atomic(path, ws->secret, CU_SECRET_LEN, 0600, d);
    if (rc != CUSTOS_OK)
      goto fail;
  }
  rc = read_secret(ws, d);
  if (rc != CUSTOS_OK)
    goto fail;
  rc = open_db(ws, 1, d);
  if (rc != CUSTOS_OK)
    goto fail_db;
  rc = cu_ws_begin(ws, d);
  if (rc != CUSTOS_OK)
    goto fail_db;
  char now[32];
  cu_time_format(cu_time_now(), now, sizeof now);
  rc = cu_ws_event_json(ws, "workspace.init", NULL,
                        json_pack("{s:s,s:s}", "created", now, "custos",
                                  CUSTOS_VERSION),
                        NULL, d);
  if (rc != CUSTOS_OK)
    goto fail_db;
  rc = cu_ws_commit(ws, d);
  if (rc == CUSTOS_OK)
    goto fail;
fail_db:
  /* A database that did not get its schema and first event is not a
   * workspace: remove it so that init can be run again. */
  {
    char db[PATH_MAX];
    static const char *const names[] = {"custos.db", "custos.db-wal",
                                        "custos.db-shm"};
    if (ws->db) {
      cu_ws_rollback(ws);
      for (size_t i = 0; i < CU_WS_CACHED; i++) {
        sqlite3_finalize(ws->cache[i].st);
        ws->cache[i].st = NULL;
        ws->cache[i].sql = NULL;
      }
      sqlite3_close_v2(ws->db);
      ws->db = NULL;
    }
    for (size_t i = 0; i < CU_ARRAY_LEN(names); i++)
      if (cu_ws_path(ws, names[i], db, sizeof db) == CUSTOS_OK)
        unlink(db);
  }
fail:
  cu_ws_close(ws);
  return rc;
}

custos_rc cu_ws_event(cu_ws *ws, const char *type, const char *case_id,
                      const char *payload, size_t payload_len, int64_t *seq,
                      custos_diag *d) {
  static const char sql[] =
      "INSERT INTO events(seq, time, type, actor, case_id, payload)"
      " VALUES((SELECT COALESCE(MAX(seq) + 1, 0) FROM events),"
      " ?1, ?2, ?3, ?4, ?5) RETURNING seq";
  sqlite3_stmt *st = NULL;
  custos_rc rc = cu_ws_cached(ws, sql, &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  sqlite3_bind_int64(st, 1, cu_time_now());
  sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, ws->actor, -1, SQLITE_STATIC);
  if (case_id)
    sqlite3_bind_text(st, 4, case_id, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, 4);
  sqlite3_bind_blob(st, 5, payload, (int)payload_len, SQLITE_STATIC);
  if (sqlite3_step(st) != SQLITE_ROW) {
    rc = cu_ws_dberr(ws, "cannot record event", d);
  } else if (seq) {
    *seq = sqlite3_column_int64(st, 0);
  }
  sqlite3_reset(st);
  return rc;
}

custos_rc cu_ws_event_json(cu_ws *ws, const char *type, const char *case_id,
                           json_t *obj, int64_t *seq, custos_diag *d) {
  if (!obj)
    return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory recording %s", type);
  char *text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(obj);
  if (!text)
    return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory recording %s", type);
  custos_rc rc = cu_ws_event(ws, type, case_id, text, strlen(text), seq, d);
  free(text);
  return rc;
}

bool cu_ws_in_tx(const cu_ws *ws) { return ws->in_tx != 0; }

custos_rc cu_ws_record_query(cu_ws *ws, const char *kind, const char *case_id,
                             json_t *query, int64_t results,
                             const char *result_sha256, custos_diag *d) {
  char type[64];
  snprintf(type, sizeof type, "query.%s", kind);
  json_t *ev = json_pack("{s:o,s:I,s:s,s:s}", "query", query, "results",
                         (json_int_t)results, "result_sha256", result_sha256,
                         "kind", kind);
  if (!ev)
    return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory recording a query");
  bool own = !ws->in_tx;
  custos_rc rc = CUSTOS_OK;
  if (own) {
    rc = cu_ws_begin(ws, d);
    if (rc != CUSTOS_OK) {
      json_decref(ev);
      return rc;
    }
  }
  rc = cu_ws_event_json(ws, type, case_id, ev, NULL, d);
  if (own) {
    if (rc == CUSTOS_OK)
      rc = cu_ws_commit(ws, d);
    else
      cu_ws_rollback(ws);
  }
  return rc;
}

custos_rc cu_ws_meta_get(cu_ws *ws, const char *key, char *out, size_t n,
                         bool *found, custos_diag *d) {
  static const char sql[] = "SELECT value FROM meta WHERE key = ?1";
  sqlite3_stmt *st = NULL;
  custos_rc rc = cu_ws_cached(ws, sql, &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  int step = sqlite3_step(st);
  *found = step == SQLITE_ROW;
  if (n)
    out[0] = '\0';
  if (step == SQLITE_ROW) {
    const char *v = (const char *)sqlite3_column_text(st, 0);
    size_t len = v ? strlen(v) : 0;
    if (len >= n)
      rc = cu_diag_set(d, CUSTOS_ETOOBIG, "setting %s is too long", key);
    else
      memcpy(out, v ? v : "", len + 1);
  } else if (step != SQLITE_DONE) {
    rc = cu_ws_dberr(ws, "cannot read a setting", d);
  }
  sqlite3_reset(st);
  return rc;
}

custos_rc cu_ws_meta_set(cu_ws *ws, const char *key, const char *value,
                         custos_diag *d) {
  static const char sql[] = "INSERT INTO meta(key, value) VALUES(?1, ?2)"
                            " ON CONFLICT(key) DO UPDATE SET value = ?2";
  sqlite3_stmt *st = NULL;
  custos_rc rc = cu_ws_cached(ws, sql, &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
  if (sqlite3_step(st) != SQLITE_DONE)
    rc = cu_ws_dberr(ws, "cannot store a setting", d);
  sqlite3_reset(st);
  return rc;
}
