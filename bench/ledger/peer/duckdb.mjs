// DuckDB peer of bench/ledger: reads the same FOCUS file with read_csv and
// computes the same rollup (per account, subscription, service, meter,
// region, day: sums of quantity, billed and effective cost, row count).
// Prints the seconds it took.  Usage: node duckdb.mjs FILE
import { DuckDBInstance } from '@duckdb/node-api';

const file = process.argv[2];
const t0 = process.hrtime.bigint();
const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
const reader = await con.runAndReadAll(
  `SELECT count(*) FROM (
     SELECT BillingAccountId, SubAccountId, ServiceName, SkuMeter, RegionId,
            CAST(ChargePeriodStart AS DATE) AS day,
            sum(CAST(ConsumedQuantity AS DECIMAL(38,9))) AS q,
            sum(CAST(BilledCost AS DECIMAL(38,10))) AS b,
            sum(CAST(EffectiveCost AS DECIMAL(38,10))) AS e, count(*) AS n
     FROM read_csv('${file}', header = true, all_varchar = true)
     GROUP BY ALL)`);
const groups = reader.getRows()[0][0];
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(`${secs.toFixed(3)} ${groups}`);
