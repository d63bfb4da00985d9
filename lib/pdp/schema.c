/*
 * The tables the decision point owns: the block state the enforcement
 * module writes (one row per target and owner, kept as a tombstone when
 * lifted so feeds see the lift by revision) and the outbox that the NATS
 * publisher drains.
 */
#include "pdp.h"

static const cu_migration steps[] = {
    {1, "CREATE TABLE pdp_blocks("
        " subscription TEXT NOT NULL, service TEXT NOT NULL,"
        " region TEXT NOT NULL, owner TEXT NOT NULL,"
        " effect TEXT NOT NULL," /* 'none' once lifted */
        " case_id TEXT NOT NULL, effective INTEGER NOT NULL,"
        " created INTEGER NOT NULL, revision INTEGER NOT NULL UNIQUE,"
        " PRIMARY KEY(subscription, service, region, owner));"
        "CREATE TABLE pdp_outbox("
        " revision INTEGER PRIMARY KEY, key TEXT NOT NULL,"
        " value TEXT NOT NULL, published INTEGER NOT NULL DEFAULT 0);"
        "CREATE INDEX pdp_outbox_pending ON pdp_outbox(published, revision);"},
};

const cu_schema cu_pdp_schema = {"pdp", steps, CU_ARRAY_LEN(steps)};
