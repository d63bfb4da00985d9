/* The tables the boundary module owns: sources and their rejects. */
#include "boundary.h"

static const cu_migration steps[] = {
    {1, "CREATE TABLE sources("
        " id INTEGER PRIMARY KEY,"
        " class TEXT NOT NULL CHECK (class IN ('directory','usage','mail',"
        "  'document','contract','invoice')),"
        " custodian TEXT NOT NULL CHECK (custodian <> ''),"
        " path TEXT NOT NULL,"
        " sha256 TEXT NOT NULL,"
        " size INTEGER NOT NULL,"
        " registered_at INTEGER NOT NULL,"
        " actor TEXT NOT NULL,"
        " free_text TEXT NOT NULL,"
        " expected INTEGER NOT NULL DEFAULT 0,"
        " accepted INTEGER NOT NULL DEFAULT 0,"
        " rejected INTEGER NOT NULL DEFAULT 0,"
        " status TEXT NOT NULL);"
        "CREATE INDEX sources_sha256 ON sources(sha256);"
        "CREATE TABLE source_rejects("
        " source_id INTEGER NOT NULL REFERENCES sources(id),"
        " line INTEGER NOT NULL, col INTEGER NOT NULL,"
        " field TEXT NOT NULL, value TEXT NOT NULL, reason TEXT NOT NULL);"
        "CREATE INDEX source_rejects_source ON source_rejects(source_id);"},
};

const cu_schema cu_boundary_schema = {"boundary", steps, CU_ARRAY_LEN(steps)};
