/* The tables the ledger owns: rollups with their provenance, the values
 * they refer to by number, what each source covers (for restatements) and
 * the resources seen, with customer free text through the policy; beside
 * the daily rollups, monthly ones for queries by month or coarser. */
#include "ledgerInt.h"

static const cu_migration steps[] = {
    {1, /* Each distinct value once: kind is account, unit, subscription,
         * service (attr1 category, attr2 subcategory), meter, region
         * (attr1 country), qty_unit, currency or charge. */
     "CREATE TABLE usage_dims("
     " id INTEGER PRIMARY KEY, kind TEXT NOT NULL, value TEXT NOT NULL,"
     " attr1 TEXT NOT NULL DEFAULT '', attr2 TEXT NOT NULL DEFAULT '',"
     " UNIQUE(kind, value, attr1, attr2));"
     /* Amounts: quantity in 10^-9 of qty_unit, costs in 10^-10 of the
      * currency.  day and period are days since 1970-01-01 (UTC). */
     "CREATE TABLE usage_rollups("
     " source_id INTEGER NOT NULL, account INTEGER NOT NULL,"
     " period INTEGER NOT NULL, day INTEGER NOT NULL, unit INTEGER NOT NULL,"
     " subscription INTEGER NOT NULL, service INTEGER NOT NULL,"
     " meter INTEGER NOT NULL, region INTEGER NOT NULL,"
     " qty_unit INTEGER NOT NULL, currency INTEGER NOT NULL,"
     " charge INTEGER NOT NULL, quantity INTEGER NOT NULL,"
     " billed INTEGER NOT NULL, effective INTEGER NOT NULL,"
     " rows INTEGER NOT NULL, first_line INTEGER NOT NULL,"
     " last_line INTEGER NOT NULL);"
     CU_LEDGER_IDX_UNIT CU_LEDGER_IDX_ACCOUNT
     /* Which (account, billing period) pairs a source covers; a later
      * source covering the same pair supersedes it. */
     "CREATE TABLE usage_coverage("
     " source_id INTEGER NOT NULL, account INTEGER NOT NULL,"
     " period INTEGER NOT NULL, rows INTEGER NOT NULL,"
     " billed INTEGER NOT NULL, superseded_by INTEGER,"
     " PRIMARY KEY(source_id, account, period));"
     "CREATE INDEX usage_coverage_pair ON usage_coverage(account, period);"
     "CREATE TABLE usage_sources("
     " source_id INTEGER PRIMARY KEY, format TEXT NOT NULL,"
     " rows INTEGER NOT NULL, rejected INTEGER NOT NULL,"
     " rounded INTEGER NOT NULL, rollups INTEGER NOT NULL,"
     " resources INTEGER NOT NULL, first_day INTEGER, last_day INTEGER,"
     " unknown_columns TEXT NOT NULL);"
     "CREATE TABLE usage_resources("
     " source_id INTEGER NOT NULL, subscription INTEGER NOT NULL,"
     " resource_id TEXT NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL,"
     " tags TEXT NOT NULL, first_day INTEGER NOT NULL,"
     " last_day INTEGER NOT NULL, rows INTEGER NOT NULL);"
     "CREATE INDEX usage_resources_sub ON usage_resources(subscription);"},
    {2, /* Monthly rollups beside the daily ones (see CU_LEDGER_MONTHLY_FILL),
         * filled from the daily rollups a workspace already holds. */
     "CREATE TABLE usage_monthly("
     " unit INTEGER NOT NULL, month INTEGER NOT NULL,"
     " account INTEGER NOT NULL, period INTEGER NOT NULL,"
     " source_id INTEGER NOT NULL, subscription INTEGER NOT NULL,"
     " service INTEGER NOT NULL, meter INTEGER NOT NULL,"
     " region INTEGER NOT NULL, qty_unit INTEGER NOT NULL,"
     " currency INTEGER NOT NULL, charge INTEGER NOT NULL,"
     " qh INTEGER NOT NULL, ql INTEGER NOT NULL, bh INTEGER NOT NULL,"
     " bl INTEGER NOT NULL, eh INTEGER NOT NULL, el INTEGER NOT NULL,"
     " rows INTEGER NOT NULL,"
     " PRIMARY KEY(unit, month, account, period, source_id, subscription,"
     " service, meter, region, qty_unit, currency, charge)) WITHOUT ROWID;"
     CU_LEDGER_MONTHLY_FILL("")},
};

const cu_schema cu_ledger_schema = {"ledger", steps, CU_ARRAY_LEN(steps)};
