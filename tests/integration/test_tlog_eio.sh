#!/usr/bin/env bash
# I/O errors while the log is written: strace injects EIO into write() and
# fsync() of `custos log append` at many points.  Each failing run must
# exit non-zero or leave a valid log; `log verify` passes after every run,
# and `log fsck` then completes the log with every event.
set -euo pipefail
: "${CUSTOS:?set CUSTOS to the custos binary}"
if ! command -v strace >/dev/null || ! strace -f -o /dev/null true 2>/dev/null; then
  echo "skip: strace is not available or ptrace is not permitted"
  exit 0
fi
# LeakSanitizer cannot run under ptrace.
export ASAN_OPTIONS=detect_leaks=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ws=$tmp/ws
"$CUSTOS" -q -w "$ws" init
key=$("$CUSTOS" -w "$ws" log key)
"$CUSTOS" -q -w "$ws" log append "before" --count 300 --batch 300 >/dev/null

failed=0
for call in write fsync; do
  for when in 1 2 3 5 8 13 21 34 55; do
    # One failing write (later writes, such as the diagnostic on stderr,
    # go through); every fsync from the chosen one on fails.
    plus=""
    [ "$call" = fsync ] && plus="+"
    echo "check: EIO on $call #$when$plus"
    if strace -f -qq -o /dev/null -e trace="$call" \
        -e inject="$call":error=EIO:when="$when$plus" \
        "$CUSTOS" -q -w "$ws" log append "eio $call $when" --count 700 \
        --batch 700 >/dev/null 2>"$tmp/err"; then
      :
    else
      failed=$((failed + 1))
      grep -q 'custos:' "$tmp/err" || { echo "FAIL: no diagnostic"; cat "$tmp/err"; exit 1; }
    fi
    "$CUSTOS" -q log verify "$ws/log" --vkey "$key" >/dev/null ||
      { echo "FAIL: log invalid after EIO on $call #$when"; exit 1; }
  done
done
echo "   $failed runs failed with a clear error"
[ "$failed" -gt 0 ] || { echo "FAIL: no injected error was noticed"; exit 1; }

echo "check: fsck completes the log with every recorded event"
"$CUSTOS" -w "$ws" log fsck
"$CUSTOS" log verify "$ws/log" --vkey "$key"
size=$("$CUSTOS" -w "$ws" log checkpoint --json |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["size"])')
events=$(sqlite3 "$ws/custos.db" 'SELECT COUNT(*) FROM events')
[ "$size" -eq "$events" ] || { echo "FAIL: log size $size != events $events"; exit 1; }
echo "ok"
