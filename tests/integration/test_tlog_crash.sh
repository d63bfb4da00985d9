#!/usr/bin/env bash
# Crash test of the log: kills `custos log append` with SIGKILL at random
# moments of a long append run, again and again; then `log fsck` and
# `log verify` must pass, every acknowledged entry must be there, and every
# checkpoint seen between crashes must be consistent with the final one.
set -euo pipefail
: "${CUSTOS:?set CUSTOS to the custos binary}"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ws=$tmp/ws
rounds=${CUSTOS_CRASH_ROUNDS:-30}

echo "check: init a workspace"
"$CUSTOS" -q -w "$ws" init
key=$("$CUSTOS" -w "$ws" log key)

echo "check: $rounds appends killed with SIGKILL at random moments"
acked=0
: >"$tmp/seen"
for i in $(seq 1 "$rounds"); do
  "$CUSTOS" -w "$ws" log append "crash round $i" --count 4000 --batch 150 \
    >"$tmp/out" 2>"$tmp/err" &
  pid=$!
  sleep "0.$((RANDOM % 60 + 5))"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  a=$(grep '^acknowledged ' "$tmp/out" | tail -n1 | cut -d' ' -f2 || true)
  if [ -n "$a" ] && [ "$a" -gt "$acked" ]; then acked=$a; fi
  # Remember the checkpoint as it is after the crash.
  "$CUSTOS" -w "$ws" log checkpoint --json >"$tmp/cp.json"
  python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["size"], j["root"])' \
    "$tmp/cp.json" >>"$tmp/seen"
done
echo "   highest acknowledged size: $acked"

echo "check: log fsck repairs and completes the log"
"$CUSTOS" -w "$ws" log fsck

echo "check: log verify passes on the bare folder"
cp -r "$ws/log" "$tmp/copy"
"$CUSTOS" log verify "$tmp/copy" --vkey "$key"

size=$("$CUSTOS" -w "$ws" log checkpoint --json |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["size"])')
events=$(sqlite3 "$ws/custos.db" 'SELECT COUNT(*) FROM events')
echo "check: every acknowledged entry is present ($acked <= $size, events $events)"
[ "$size" -ge "$acked" ] || { echo "FAIL: lost acknowledged entries"; exit 1; }
[ "$size" -eq "$events" ] || { echo "FAIL: log size $size != events $events"; exit 1; }
if [ "$acked" -gt 0 ]; then
  "$CUSTOS" -w "$ws" log show $((acked - 1)) --json | grep -q '"type": "log.note"'
fi

echo "check: every checkpoint seen after a crash is consistent with the last"
while read -r s root; do
  [ "$s" -gt 0 ] || continue
  got=$("$CUSTOS" -w "$ws" log consistency "$s" "$size" --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["root1"])')
  [ "$got" = "$root" ] || { echo "FAIL: root at $s changed"; exit 1; }
done <"$tmp/seen"
echo "ok"
