/* The tables the directory module owns. */
#include "directory.h"

static const cu_migration steps[] = {
    {1, "CREATE TABLE accounts("
        " id TEXT PRIMARY KEY, name TEXT NOT NULL, country TEXT NOT NULL,"
        " sector TEXT NOT NULL,"
        " source_id INTEGER NOT NULL, source_line INTEGER NOT NULL);"
        "CREATE TABLE units("
        " id TEXT PRIMARY KEY, account_id TEXT NOT NULL,"
        " parent_id TEXT, name TEXT NOT NULL,"
        " source_id INTEGER NOT NULL, source_line INTEGER NOT NULL);"
        "CREATE INDEX units_account ON units(account_id);"
        "CREATE INDEX units_parent ON units(parent_id);"
        "CREATE TABLE subscriptions("
        " id TEXT PRIMARY KEY, account_id TEXT NOT NULL,"
        " unit_id TEXT NOT NULL, name TEXT NOT NULL, region_id TEXT,"
        " created TEXT,"
        " source_id INTEGER NOT NULL, source_line INTEGER NOT NULL);"
        "CREATE INDEX subscriptions_unit ON subscriptions(unit_id);"
        "CREATE INDEX subscriptions_account ON subscriptions(account_id);"
        "CREATE TABLE contacts("
        " account_id TEXT NOT NULL, name TEXT NOT NULL, email TEXT NOT NULL,"
        " role TEXT NOT NULL,"
        " source_id INTEGER NOT NULL, source_line INTEGER NOT NULL,"
        " PRIMARY KEY(account_id, email, role));"
        "CREATE TABLE regions("
        " id TEXT PRIMARY KEY, provider TEXT NOT NULL, native TEXT NOT NULL,"
        " display_name TEXT NOT NULL, country TEXT NOT NULL);"
        "CREATE TABLE region_aliases("
        " alias TEXT PRIMARY KEY, region_id TEXT NOT NULL);"
        /* Names of (possibly invented) countries for reports. */
        "CREATE TABLE countries("
        " code TEXT PRIMARY KEY, name TEXT NOT NULL,"
        " source_id INTEGER NOT NULL, source_line INTEGER NOT NULL);"},
};

const cu_schema cu_directory_schema = {"directory", steps,
                                       CU_ARRAY_LEN(steps)};
