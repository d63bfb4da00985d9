/*
 * The list of schemas that make up a workspace database, one per module
 * that owns tables.  Migrations run in this order; add a module at the end.
 */
#include "store.h"

static const cu_migration store_steps[] = {
    {1, "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        /* The event outbox: every recorded step, gap-free, in order.  The
         * transparency log turns these into leaves. */
        "CREATE TABLE events("
        " seq INTEGER PRIMARY KEY,"
        " time INTEGER NOT NULL,"
        " type TEXT NOT NULL,"
        " actor TEXT NOT NULL,"
        " case_id TEXT,"
        " payload BLOB NOT NULL);"},
};

static const cu_schema store_schema = {"store", store_steps,
                                       CU_ARRAY_LEN(store_steps)};

extern const cu_schema cu_boundary_schema;
extern const cu_schema cu_directory_schema;
extern const cu_schema cu_cases_schema;
extern const cu_schema cu_notify_schema;
extern const cu_schema cu_enforce_schema;
extern const cu_schema cu_ledger_schema;
extern const cu_schema cu_pdp_schema;
extern const cu_schema cu_records_schema;

const cu_schema *const cu_schemas[] = {
    &store_schema,
    &cu_boundary_schema,
    &cu_directory_schema,
    &cu_cases_schema,
    &cu_notify_schema,
    &cu_enforce_schema,
    &cu_ledger_schema,
    &cu_pdp_schema,
    &cu_records_schema,
};
const size_t cu_nschemas = CU_ARRAY_LEN(cu_schemas);

/* What a module sets up on every connection it will use (SQL functions,
 * FTS5 ranking functions, virtual tables), before the migrations, which
 * may use them: a hook only registers, it reads no table. */
extern custos_rc cu_records_on_open(sqlite3 *db, custos_diag *d);
extern custos_rc cu_ledger_on_open(sqlite3 *db, custos_diag *d);

const cu_open_hook cu_open_hooks[] = {cu_records_on_open, cu_ledger_on_open};
const size_t cu_nopen_hooks = CU_ARRAY_LEN(cu_open_hooks);
