#!/usr/bin/env bash
# Runs the transparency log benchmark in a release build and prints the
# machine's SHA-256 rate from `openssl speed` in the same run, as the limit
# for in-memory appends.  Usage: bench/tlog/run.sh [LEAVES]
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$src/build-bench
leaves=${1:-10000000}
cmake -B "$build" -S "$src" -DCMAKE_BUILD_TYPE=Release -DCUSTOS_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target bench_tlog custos >/dev/null
echo "== machine"
uname -srm
grep -m1 'model name' /proc/cpuinfo || true
grep -qw sha_ni /proc/cpuinfo && echo "cpu has SHA extensions (sha_ni)"
echo "== openssl speed (SHA-256, one core)"
openssl speed -seconds 2 -evp sha256 2>/dev/null | tail -2
work=$(mktemp -d "$src/build-bench/run.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "== bench_tlog ($leaves leaves)"
"$build/bench/tlog/bench_tlog" "$work/log" "$leaves"
echo "== custos log append (events in SQLite, then cu_log_sync per batch)"
"$build/custos" -q -w "$work/ws" init
start=$(date +%s.%N)
"$build/custos" -q -w "$work/ws" log append "bench" --count 200000 --batch 20000
end=$(date +%s.%N)
python3 -c "import sys; print('end to end: %.0f events/s (insert + sync of 200000 in batches of 20000)' % (200000/(float(sys.argv[2])-float(sys.argv[1]))))" "$start" "$end"
