#!/usr/bin/env bash
# bench/enforce: apply of a plan with N targets (default 10,000), end to end
# through the real binary: approvals checked, one block and one outcome per
# target, one log entry per outcome, the log brought up to date and a
# checkpoint signed.  The peer is the sqlite3 shell writing the same number
# of outcome and event rows in one transaction (a floor for "write N records
# durably"), on the same machine in the same run.
# Usage: bench/enforce/run.sh [BUILD_DIR] [N] [RUNS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${1:-$src/build}
n=${2:-10000}
runs=${3:-3}
custos=$build/custos
[ -x "$custos" ] || { echo "build custos first: scripts/build" >&2; exit 2; }
tmp=$(mktemp -d /tmp/custos-bench-enforce-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export CUSTOS_ACTOR=bench.reviewer

prepare() { # prepare DIR: a workspace with an approved plan of $n targets
  local d=$1
  mkdir -p "$d"
  python3 "$src/tests/integration/make_fleet.py" "$n" "$d"
  export CUSTOS_WORKSPACE=$d/ws
  "$custos" -q init
  "$custos" -q ingest directory "$d"/accounts.csv "$d"/units.csv "$d"/subscriptions.csv "$d"/contacts.csv
  "$custos" -q ingest usage "$d/usage.csv"
  "$custos" -q case open --allegation "$src/tests/integration/data/enforce/allegation.md"
  "$custos" -q evidence add case-0001 --claim 1 --usage --unit fleet-ops --by region
  "$custos" -q finding case-0001 --claim 1 --judgement supported --rationale bench --evidence 1
  "$custos" -q person add a1 --role approver
  "$custos" -q person add a2 --role approver
  "$custos" -q person add e1 --role enforcer
  "$custos" -q person add bench.reviewer --role reviewer
  "$custos" -q decide case-0001 --policy no-mass-surveillance --scope unit=fleet-ops \
    --scope category=Storage --effect deny-all --rationale bench
  "$custos" -q plan case-0001 -o "$d/plan.json" --max-targets $((n + 1))
  "$custos" -q approve "$d/plan.json" --as a1
  "$custos" -q approve "$d/plan.json" --as a2
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
now() { date +%s.%N; }

echo "bench/enforce: apply of a plan with $n targets, $runs runs, $(nproc) cores"
custos_times=()
for r in $(seq 1 "$runs"); do
  prepare "$tmp/run$r"
  export CUSTOS_WORKSPACE=$tmp/run$r/ws
  t0=$(now)
  "$custos" -q apply "$tmp/run$r/plan.json" --as e1
  t1=$(now)
  custos_times+=("$(echo "$t1 - $t0" | bc)")
  outcomes=$(sqlite3 "$CUSTOS_WORKSPACE/custos.db" "SELECT COUNT(*) FROM outcomes")
  entries=$(sqlite3 "$CUSTOS_WORKSPACE/custos.db" "SELECT COUNT(*) FROM events WHERE type='enforce.outcome'")
  [ "$outcomes" -eq "$n" ] && [ "$entries" -eq "$n" ] || { echo "run $r: $outcomes outcomes, $entries entries" >&2; exit 1; }
done
c=$(printf '%s\n' "${custos_times[@]}" | median)

peer_times=()
for r in $(seq 1 "$runs"); do
  db=$tmp/peer$r.db
  sqlite3 "$db" "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
    CREATE TABLE outcomes(plan TEXT, idx INTEGER, subscription TEXT, service TEXT,
      region TEXT, status TEXT, revision INTEGER, at INTEGER, actor TEXT,
      PRIMARY KEY(plan, idx));
    CREATE TABLE events(seq INTEGER PRIMARY KEY, time INTEGER, type TEXT,
      actor TEXT, case_id TEXT, payload BLOB);" >/dev/null
  t0=$(now)
  sqlite3 "$db" "PRAGMA synchronous=FULL; BEGIN;
    WITH RECURSIVE i(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM i WHERE x < $n - 1)
    INSERT INTO outcomes SELECT 'p', x, printf('5eed0000-0000-4000-8000-%012x', x),
      'azure blob storage', 'azure:westeurope', 'blocked', x + 1, 0, 'e1' FROM i;
    INSERT INTO events(time, type, actor, case_id, payload)
      SELECT 0, 'enforce.outcome', 'e1', 'case-0001',
        json_object('plan','p','idx',idx,'subscription',subscription,'status',status)
      FROM outcomes;
    COMMIT;" >/dev/null
  t1=$(now)
  peer_times+=("$(echo "$t1 - $t0" | bc)")
done
p=$(printf '%s\n' "${peer_times[@]}" | median)

printf 'custos apply:  median %.3f s for %d targets (%.0f targets/s), runs: %s\n' "$c" "$n" "$(echo "$n / $c" | bc -l)" "${custos_times[*]}"
printf 'sqlite3 shell: median %.3f s to insert %d outcome rows and %d event rows\n' "$p" "$n" "$n"
printf 'ratio custos / sqlite3 floor: %.1fx   (target: apply under 2 s)\n' "$(echo "$c / $p" | bc -l)"
