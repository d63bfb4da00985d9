/* The tables the enforce module owns: plans, approvals, outcomes. */
#include "enforce.h"

static const cu_migration steps[] = {
    {1, "CREATE TABLE plans("
        " hash TEXT PRIMARY KEY, case_id TEXT NOT NULL,"
        " decision_id INTEGER NOT NULL, kind TEXT NOT NULL"
        "  CHECK (kind IN ('enforce','reinstate')),"
        " body BLOB NOT NULL, targets INTEGER NOT NULL,"
        " status TEXT NOT NULL CHECK (status IN ('proposed','approved',"
        "  'applying','applied','superseded')),"
        " created_at INTEGER NOT NULL, created_by TEXT NOT NULL);"
        "CREATE INDEX plans_case ON plans(case_id);"
        "CREATE TABLE approvals("
        " plan_hash TEXT NOT NULL REFERENCES plans(hash),"
        " person TEXT NOT NULL, note TEXT NOT NULL, at INTEGER NOT NULL,"
        " PRIMARY KEY(plan_hash, person));"
        "CREATE TABLE outcomes("
        " plan_hash TEXT NOT NULL REFERENCES plans(hash), idx INTEGER NOT NULL,"
        " subscription TEXT NOT NULL, service TEXT NOT NULL,"
        " region TEXT NOT NULL, status TEXT NOT NULL"
        "  CHECK (status IN ('blocked','lifted','failed')),"
        " revision INTEGER, error TEXT, at INTEGER NOT NULL,"
        " actor TEXT NOT NULL, PRIMARY KEY(plan_hash, idx));"},
};

const cu_schema cu_enforce_schema = {"enforce", steps, CU_ARRAY_LEN(steps)};
