/*
 * store: the workspace.  A workspace is a directory holding custos.db
 * (SQLite, WAL mode), the pseudonymisation secret, the log's tiles and the
 * keys.  This module opens and creates it, runs each module's schema
 * migrations on open, refuses a workspace written by a newer custos, and
 * gives the other modules their database handle, transactions and the
 * event outbox that feeds the transparency log.
 */
#ifndef CU_STORE_H
#define CU_STORE_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>

#include "core/core.h"

typedef struct cu_ws cu_ws;

#define CU_SECRET_LEN 32

/* One step of a module's schema: applied in order, each exactly once. */
typedef struct cu_migration {
  int version;     /* 1, 2, 3 ... without gaps */
  const char *sql; /* one or more statements, no user values */
} cu_migration;

/* The schema a module owns.  Registered in lib/store/schema.c. */
typedef struct cu_schema {
  const char *module;
  const cu_migration *steps;
  size_t nsteps;
} cu_schema;

/* Called on every workspace connection before its migrations; the list
 * is in schema.c beside the schemas. */
typedef custos_rc (*cu_open_hook)(sqlite3 *db, custos_diag *d);

/*
 * Creates a workspace at dir (which may exist, but must not already hold a
 * workspace): directories, secret, database with every schema.  EEXIST when
 * dir already is a workspace.  On failure nothing half-made is left that a
 * later init would trip over: the database is created last.
 */
custos_rc cu_ws_create(const char *dir, custos_diag *d) CUSTOS_WUR;

/*
 * Opens the workspace at dir, running pending migrations.  ENOWS when dir
 * is not a workspace, ESCHEMA when it was written by a newer custos.
 * *out is owned by the caller and freed with cu_ws_close.
 */
custos_rc cu_ws_open(const char *dir, cu_ws **out, custos_diag *d) CUSTOS_WUR;

/*
 * The name of the VFS every workspace connection uses (walbuf.c): SQLite's
 * default VFS with the writes to the WAL, and a checkpoint's to the
 * database file, gathered into large ones that a thread of their own
 * writes.  It is registered on the first call; NULL (the default VFS)
 * when that failed.
 * Other connections to the same database, through any VFS, see the same
 * files and locks.
 */
#define CU_WS_VFS "custos-walbuf"
const char *cu_ws_vfs(void);
/* Writes the VFS has passed to the files so far, and reads to the WALs
 * (for tests). */
uint64_t cu_ws_vfs_writes(void);
uint64_t cu_ws_vfs_wal_reads(void);

/* Closes ws; NULL is fine.  An open transaction is rolled back. */
void cu_ws_close(cu_ws *ws);

sqlite3 *cu_ws_db(cu_ws *ws);
const char *cu_ws_dir(const cu_ws *ws);
/* The 32-byte workspace secret; valid while ws is open. */
const uint8_t *cu_ws_secret(const cu_ws *ws);

/* The person or process acting (recorded with every event).  Defaults to
 * $CUSTOS_ACTOR, then $USER, then "unknown".  The string is copied. */
void cu_ws_set_actor(cu_ws *ws, const char *actor);
const char *cu_ws_actor(const cu_ws *ws);

/* Path of a file or folder inside the workspace into out; EINVAL if it
 * does not fit. */
custos_rc cu_ws_path(const cu_ws *ws, const char *rel, char *out, size_t n)
    CUSTOS_WUR;

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK.  rollback is safe to call when no
 * transaction is open. */
custos_rc cu_ws_begin(cu_ws *ws, custos_diag *d) CUSTOS_WUR;
/* How many transactions were begun on ws: what a caller learned inside
 * one transaction (the next free id, say) holds only while this is the
 * same, since other processes write between transactions. */
uint64_t cu_ws_tx_serial(const cu_ws *ws);
custos_rc cu_ws_commit(cu_ws *ws, custos_diag *d) CUSTOS_WUR;
void cu_ws_rollback(cu_ws *ws);

/* Prepares sql on the workspace database.  The statement is the caller's
 * to sqlite3_finalize.  EDB with diag naming what failed. */
custos_rc cu_ws_prepare(cu_ws *ws, const char *sql, sqlite3_stmt **st,
                        custos_diag *d) CUSTOS_WUR;

/*
 * Like cu_ws_prepare for statements run again and again (per target, per
 * event): the statement is prepared once and kept for the life of ws.  sql
 * must outlive ws (a string literal); it is looked up by address.  The
 * statement comes back reset with cleared bindings; the caller must not
 * finalize it, and should sqlite3_reset it when done so it holds no read
 * lock.  At most CU_WS_CACHED distinct statements.
 */
#define CU_WS_CACHED 32
custos_rc cu_ws_cached(cu_ws *ws, const char *sql, sqlite3_stmt **st,
                       custos_diag *d) CUSTOS_WUR;

/* Runs sql that has no parameters and returns no rows (schema, pragmas). */
custos_rc cu_ws_exec(cu_ws *ws, const char *sql, custos_diag *d) CUSTOS_WUR;

/* Translates the database's last error to EDB (or EBUSY) in diag. */
custos_rc cu_ws_dberr(cu_ws *ws, const char *what, custos_diag *d);

/*
 * Appends an event to the workspace's outbox, inside the caller's open
 * transaction, so the event commits or rolls back with the change it
 * records.  type is a short name ("source.register", "usage.query"...),
 * case_id may be NULL, payload is canonical JSON.  The transparency log
 * takes events from the outbox in order (see lib/tlog).  *seq (may be NULL)
 * gets the event's sequence number, 0-based, gap-free.
 */
custos_rc cu_ws_event(cu_ws *ws, const char *type, const char *case_id,
                      const char *payload, size_t payload_len, int64_t *seq,
                      custos_diag *d) CUSTOS_WUR;

/* Same as cu_ws_event with a JSON object, written canonically (compact,
 * keys sorted).  Takes ownership of obj (its reference is released); obj
 * NULL means the caller ran out of memory building it and gives ENOMEM. */
custos_rc cu_ws_event_json(cu_ws *ws, const char *type, const char *case_id,
                           json_t *obj, int64_t *seq,
                           custos_diag *d) CUSTOS_WUR;

/*
 * Records one review query (principle 3: who looked at what, for which
 * case, and what came back) as an event "query.<kind>" with the actor, the
 * case (may be NULL), the query as canonical JSON (obj, owned and released
 * by this call), the number of results and the SHA-256 of the canonical
 * result (hex).  Every usage query and every search goes through this one
 * function; it opens and commits its own transaction unless one is open.
 */
custos_rc cu_ws_record_query(cu_ws *ws, const char *kind, const char *case_id,
                             json_t *query, int64_t results,
                             const char *result_sha256,
                             custos_diag *d) CUSTOS_WUR;

/*
 * Workspace settings (the meta table).  get copies the value of key into
 * out (n bytes; truncated values are refused with ETOOBIG) and sets *found;
 * a missing key is not an error (*found false, out "").  set inserts or
 * replaces the value, inside the caller's transaction if one is open.
 */
custos_rc cu_ws_meta_get(cu_ws *ws, const char *key, char *out, size_t n,
                         bool *found, custos_diag *d) CUSTOS_WUR;
custos_rc cu_ws_meta_set(cu_ws *ws, const char *key, const char *value,
                         custos_diag *d) CUSTOS_WUR;

/* Whether a transaction is open on ws. */
bool cu_ws_in_tx(const cu_ws *ws);

#endif
