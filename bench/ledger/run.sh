#!/usr/bin/env bash
# Usage ledger benchmark.  On one generated FOCUS 1.2 file of ROWS rows
# (default 5,000,000): custos ingest throughput (MB/s, rows/s, peak
# memory) and review-query latency over the rollups (p50, p99; a unit's
# series by month, region and service, and by day), then the
# same rollup by the sqlite3 shell (.import, GROUP BY) and by DuckDB
# (@duckdb/node-api, read_csv, GROUP BY), printed as ratios.  On a shared
# machine wall time depends on the neighbours, so CPU seconds (user +
# system) are printed too, and custos and DuckDB run in PAIRS alternating
# pairs (default 3) whose medians and median ratio are printed.
# Usage: [PAIRS=N] bench/ledger/run.sh BUILD_DIR [ROWS [SEED]] (BUILD_DIR a
# release build; SEED of custos gen, default 42)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: run.sh BUILD_DIR [ROWS]}" && pwd)
rows=${2:-5000000}
seed=${3:-42}
custos=$build/custos
tmp=${BENCH_TMP:-$(mktemp -d /tmp/custos-bench-ledger-XXXXXX)}
trap 'rm -rf "$tmp"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
load() { echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"; }
load

source "$here/focus-file.sh"
focus_file "$custos" "$seed" "$rows" "$tmp"
f=$tmp/focus.csv
bytes=$(stat -c %s "$f")
nrows=$(($(wc -l <"$f") - 1))
# MB is 10^6 bytes, MiB 2^20, as both are printed.
mb=$(echo "scale=1; $bytes / 1000000" | bc)
mib=$(echo "scale=1; $bytes / 1048576" | bc)
echo "file: $nrows rows, $mb MB = $mib MiB (FOCUS 1.2, custos gen --seed $seed)"

ws0=$tmp/ws0
"$custos" -w "$ws0" init >/dev/null
"$custos" -w "$ws0" ingest directory "$tmp"/g/directory/*.csv >/dev/null
if [ ! -d "$here/peer/node_modules/@duckdb/node-api" ]; then
  (cd "$here/peer" && npm install --no-audit --no-fund >/dev/null)
fi
# Before each contender: the kernel's dirty pages written out (the file
# was just written, and the sqlite3 shell writes a database of gigabytes;
# until they are out they cost whoever runs next, a third more time in
# one run) and the file back in the page cache, for every contender alike.
warm() {
  sync
  cat "$f" >/dev/null
}
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# custos and DuckDB in PAIRS alternating pairs (default 5): this machine's
# speed drifts by a fifth within minutes, so one run of each says little.
# A pair before them, printed but not counted, warms the machine up: the
# first runs after the file is written land on memory the machine has not
# touched yet, which costs about 9 us a page more on first touch here
# (docs/internals.md), and were a third slower for both contenders.
pairs=${PAIRS:-5}
ws=$tmp/ws
: >"$tmp/pairs"
for i in $(seq 0 "$pairs"); do
  rm -rf "$ws"
  cp -a "$ws0" "$ws"
  warm
  /usr/bin/time -f "%e %M %U %S" -o "$tmp/time" "$custos" -w "$ws" -q ingest usage "$f" >/dev/null
  read -r secs rss usr sys <"$tmp/time"
  cpu=$(echo "$usr $sys" | awk '{printf "%.2f", $1 + $2}')
  warm
  /usr/bin/time -f "%e %U %S" -o "$tmp/time" node "$here/peer/duckdb.mjs" "$f" >"$tmp/duck"
  read -r dk _ <"$tmp/duck"
  read -r dw dusr dsys <"$tmp/time"
  dcpu=$(echo "$dusr $dsys" | awk '{printf "%.2f", $1 + $2}')
  if [ "$i" = 0 ]; then
    echo "warm-up pair (not counted): custos $secs s (CPU $cpu s); duckdb $dk s" \
      "($dw s for its process, CPU $dcpu s)"
    continue
  fi
  echo "$secs $cpu $rss $dk $dw $dcpu" >>"$tmp/pairs"
  echo "pair $i: custos $secs s (CPU $cpu s, peak RSS $((rss / 1024)) MiB); duckdb $dk s" \
    "($dw s for its process, CPU $dcpu s); ratio $(echo "scale=2; $dk / $secs" | bc)x"
done
secs=$(cut -d' ' -f1 "$tmp/pairs" | median)
cpu=$(cut -d' ' -f2 "$tmp/pairs" | median)
rss=$(cut -d' ' -f3 "$tmp/pairs" | sort -n | tail -1)
dk=$(cut -d' ' -f4 "$tmp/pairs" | median)
dcpu=$(cut -d' ' -f6 "$tmp/pairs" | median)
ratio=$(awk '{printf "%.4f\n", $4 / $1}' "$tmp/pairs" | median)
wins=$(awk '$1 < $4' "$tmp/pairs" | wc -l)
# Bytes per unit per second; core_secs is the wall time times the cores.
core_secs=$(awk -v s="$secs" -v n="$(nproc)" 'BEGIN { print s * n }')
rate() { awk -v b="$bytes" -v u="$1" -v t="$2" 'BEGIN { printf "%d", b / u / t }'; }
echo "custos ingest (median of $pairs): $secs s," \
  "$(rate 1000000 "$secs") MB/s ($(rate 1048576 "$secs") MiB/s)," \
  "$(rate 1000000 "$core_secs") MB/s per core ($(rate 1048576 "$core_secs") MiB/s)," \
  "$(echo "scale=0; $nrows / $secs" | bc) rows/s, peak RSS $((rss / 1024)) MiB," \
  "$(sqlite3 "$ws/custos.db" 'SELECT sum(rollups) FROM usage_sources') rollups;" \
  "CPU $cpu s, $(rate 1000000 "$cpu") MB ($(rate 1048576 "$cpu") MiB) per CPU-second"
echo "duckdb (read_csv + GROUP BY, $(nproc) threads, median of $pairs): $dk s, CPU $dcpu s (process)"
load
"$build/bench/ledger/bench_ledger_query" "$ws" 500
"$build/bench/ledger/bench_ledger_query" "$ws" 200 days

# sqlite3 shell: .import then GROUP BY (same rollup key and sums).
warm
/usr/bin/time -f "%e %U %S" -o "$tmp/time" sqlite3 "$tmp/peer.db" <<SQL >/dev/null
.mode csv
.import '$f' u
CREATE TABLE r AS SELECT BillingAccountId, SubAccountId, ServiceName, SkuMeter,
  RegionId, substr(ChargePeriodStart, 1, 10) AS day,
  sum(ConsumedQuantity) AS q, sum(BilledCost) AS b, sum(EffectiveCost) AS e,
  count(*) AS n FROM u GROUP BY 1, 2, 3, 4, 5, 6;
SQL
read -r sq usr sys <"$tmp/time"
rm -f "$tmp/peer.db"
echo "sqlite3 shell (.import + GROUP BY): $sq s, CPU $(echo "$usr + $sys" | bc) s"

echo "ratios (peer time / custos time): sqlite3 $(echo "scale=2; $sq / $secs" | bc)x," \
  "duckdb $(printf '%.2f' "$ratio")x (median of the pairs' ratios; custos quicker in $wins of $pairs)"
load
