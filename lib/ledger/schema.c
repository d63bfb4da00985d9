/* The tables the ledger owns: rollups with their provenance (the daily
 * ones packed in blocks), the values they refer to by number, what each
 * source covers (for restatements) and the resources seen, with customer
 * free text through the policy; beside the daily rollups, monthly ones
 * for queries by month or coarser. */
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
     "CREATE INDEX usage_rollups_unit ON usage_rollups(unit, day);"
     "CREATE INDEX usage_rollups_account ON usage_rollups(account, period,"
     " source_id);"
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
    {3, /* The daily rollups packed: one row per source, account, billing
         * period and unit (or more, see CU_LEDGER_BLOCK_MAX) whose data
         * holds all its rollups (blocks.c).  A million rollups are then
         * some thousands of rows to insert and index instead of a million
         * rows of 18 columns and two indexes, which was most of the time
         * an ingest took.  usage_rollups stays, as a view with the
         * columns the table had, for the queries and the monthly fill. */
     "CREATE TABLE usage_blocks("
     " source_id INTEGER NOT NULL, account INTEGER NOT NULL,"
     " period INTEGER NOT NULL, unit INTEGER NOT NULL,"
     " data BLOB NOT NULL);"
     "INSERT INTO usage_blocks(source_id, account, period, unit, data)"
     " SELECT source_id, account, period, unit, custos_pack_rollups(day,"
     " subscription, service, meter, region, qty_unit, currency, charge,"
     " quantity, billed, effective, rows, first_line, last_line)"
     " FROM usage_rollups GROUP BY source_id, account, unit, period;"
     "DROP TABLE usage_rollups;"
     /* Queries find a unit's blocks, restatements those of an account,
      * period and source. */
     "CREATE INDEX usage_blocks_unit ON usage_blocks(unit);"
     "CREATE INDEX usage_blocks_account ON usage_blocks(account, period,"
     " source_id);"
     "CREATE VIEW usage_rollups AS SELECT b.source_id AS source_id,"
     " b.account AS account, b.period AS period, r.day AS day,"
     " b.unit AS unit, r.subscription AS subscription,"
     " r.service AS service, r.meter AS meter, r.region AS region,"
     " r.qty_unit AS qty_unit, r.currency AS currency, r.charge AS charge,"
     " r.quantity AS quantity, r.billed AS billed,"
     " r.effective AS effective, r.rows AS rows,"
     " r.first_line AS first_line, r.last_line AS last_line"
     " FROM usage_blocks b, custos_rollups(b.data) r;"},
};

const cu_schema cu_ledger_schema = {"ledger", steps, CU_ARRAY_LEN(steps)};
