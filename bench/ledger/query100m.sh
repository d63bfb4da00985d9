#!/usr/bin/env bash
# Review-query latency at 100 M source rows.  Ingests one generated FOCUS
# 1.2 file of 1 M rows (custos gen --seed 1), then stores its daily and
# monthly rollups 97 more times as from 97 further sources with SQL (the
# rollups of 98 M source rows; ingesting 98 files would take an hour),
# and runs bench_ledger_query there: the case report's series of a unit
# by month, region and service, from the monthly rollups and, for
# comparison, from the daily ones.
# Usage: bench/ledger/query100m.sh BUILD_DIR [COPIES [RUNS]]
# (BUILD_DIR a release build; COPIES default 97; RUNS default 200;
# BENCH_TMP to keep the workspace, about 10 GiB, in a given directory.)
set -euo pipefail
build=$(cd "${1:?usage: query100m.sh BUILD_DIR [COPIES [RUNS]]}" && pwd)
copies=${2:-97}
runs=${3:-200}
custos=$build/custos
if [ -n "${BENCH_TMP:-}" ]; then
  tmp=$BENCH_TMP
  mkdir -p "$tmp"
else
  tmp=$(mktemp -d /tmp/custos-bench-100m-XXXXXX)
  trap 'rm -rf "$tmp"' EXIT
fi
load() { echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
load

source "$(dirname "$0")/focus-file.sh"
focus_file "$custos" 1 1000000 "$tmp"
f=$tmp/focus.csv
ws=$tmp/ws
"$custos" -w "$ws" init >/dev/null
"$custos" -w "$ws" ingest directory "$tmp"/g/directory/*.csv >/dev/null
"$custos" -w "$ws" -q ingest usage "$f" >/dev/null
rm -rf "$f" "$tmp/g"
db=$ws/custos.db
# The daily rollups are packed in usage_blocks, which the sqlite3 shell
# can copy but not unpack (custos_rollups is custos's): counts come from
# usage_sources, times the sources the blocks hold.
src=$(sqlite3 "$db" 'SELECT min(source_id) FROM usage_blocks')
per=$(sqlite3 "$db" 'SELECT rollups FROM usage_sources')
daily() {
  echo "$((per * $(sqlite3 "$db" 'SELECT count(DISTINCT source_id) FROM usage_blocks')))"
}
echo "ingested: $(sqlite3 "$db" 'SELECT rows FROM usage_sources') rows," \
  "$(daily) daily rollups in $(sqlite3 "$db" 'SELECT count(*) FROM usage_blocks')" \
  "blocks and $(sqlite3 "$db" 'SELECT count(*) FROM usage_monthly') monthly rollups"

# The copies: source ids above any the workspace has, one transaction per
# copy.
start=$(date +%s)
top=$(sqlite3 "$db" 'SELECT max(source_id) FROM usage_blocks')
{
  echo "PRAGMA cache_size = -1048576;"
  for k in $(seq 1 "$copies"); do
    s=$((top + k))
    echo "BEGIN;"
    echo "INSERT INTO usage_blocks(source_id, account, period, unit, data)"
    echo " SELECT $s, account, period, unit, data FROM usage_blocks"
    echo " WHERE source_id = $src;"
    echo "INSERT INTO usage_monthly SELECT unit, month, account, period, $s,"
    echo " subscription, service, meter, region, qty_unit, currency, charge,"
    echo " qh, ql, bh, bl, eh, el, rows FROM usage_monthly"
    echo " WHERE source_id = $src;"
    echo "COMMIT;"
  done
  echo "PRAGMA wal_checkpoint(TRUNCATE);"
} | sqlite3 "$db" >/dev/null
echo "copied: $copies copies in $(($(date +%s) - start)) s;" \
  "$(daily) daily rollups in $(sqlite3 "$db" 'SELECT count(*) FROM usage_blocks')" \
  "blocks and $(sqlite3 "$db" 'SELECT count(*) FROM usage_monthly') monthly" \
  "rollups, database $(($(stat -c %s "$db") / 1048576)) MiB"

# Warm the cache with one pass, then measure.
"$build/bench/ledger/bench_ledger_query" "$ws" 20 >/dev/null
load
"$build/bench/ledger/bench_ledger_query" "$ws" "$runs"
load
"$build/bench/ledger/bench_ledger_query" "$ws" 20 daily >/dev/null
"$build/bench/ledger/bench_ledger_query" "$ws" "$runs" daily
load
