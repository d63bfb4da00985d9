# An export cut short by another process while custos reads it: custos
# reads plain files through a memory map, where a page beyond the new end
# of the file raises SIGBUS.  custos must say so and leave the workspace
# as it was, and a later ingest of the complete file must succeed.
source "$(dirname "$0")/lib.sh"
expect_exit 0 "gen" -- "$CUSTOS" gen --seed 9 --scale 100000 --out "$T/g"
F=$T/big.csv
join_usage "$T/g" "$F"
W0=$T/ws0
W=$T/ws
"$CUSTOS" -w "$W0" init >/dev/null
"$CUSTOS" -w "$W0" ingest directory "$T"/g/directory/*.csv >/dev/null
dump() { sqlite3 "$W/custos.db" .dump | sha256sum; }
cp -a "$W0" "$W"
before=$(dump)

# SIGBUS delivered while the file is read: the message, exit status 1.
# The file is read in a few tens of milliseconds, so on a busy machine
# the signal may come too late: then again, on a fresh workspace.
for attempt in 1 2 3 4 5; do
  rm -rf "$W"
  cp -a "$W0" "$W"
  "$CUSTOS" -w "$W" ingest usage "$F" >/dev/null 2>"$T/bus.err" &
  pid=$!
  # Signal while the file is mapped, that is while it is read.
  for _ in $(seq 400); do
    grep -q "big.csv" "/proc/$pid/maps" 2>/dev/null && break
    sleep 0.005
  done
  kill -BUS "$pid" 2>/dev/null || true
  rc=0
  wait "$pid" || rc=$?
  [ "$rc" -ne 0 ] && break
done
if [ "$rc" -eq 1 ] && grep -q "became shorter while it was being read" "$T/bus.err"; then
  ok "SIGBUS: clear message, exit 1"
elif [ "$rc" -eq 0 ]; then
  not_ok "ingest finished before the signal five times: make the file larger on this machine"
else
  cat "$T/bus.err" >&2
  not_ok "SIGBUS: exit $rc without the message"
fi
if [ "$rc" -ne 0 ]; then
  [ "$(dump)" = "$before" ] && ok "SIGBUS: workspace unchanged" ||
    not_ok "SIGBUS: workspace changed"
fi

# A real truncation of a copy while it is read.  Whatever moment it
# lands at, custos ends with a clear message (the SIGBUS one, or the
# CSV reader's own for a record cut short) or a complete ingest of what
# the file held, and never half a source.
if [ "$rc" -ne 0 ]; then
  cp "$F" "$T/cut.csv"
  "$CUSTOS" -w "$W" ingest usage "$T/cut.csv" >/dev/null 2>"$T/cut.err" &
  pid=$!
  sleep 0.1
  truncate -s 100000 "$T/cut.csv"
  rc=0
  wait "$pid" || rc=$?
  if [ "$rc" -ne 0 ] && [ -s "$T/cut.err" ]; then
    [ "$(dump)" = "$before" ] && ok "truncated while read: refused, workspace unchanged" ||
      not_ok "truncated while read: refused but the workspace changed"
  elif [ "$rc" -eq 0 ]; then
    n=$(sqlite3 "$W/custos.db" "SELECT count(*) FROM usage_sources")
    [ "$n" = 1 ] && ok "truncation landed after the read: one complete source" ||
      not_ok "truncation: $n sources"
  else
    not_ok "truncated while read: exit $rc without a message"
  fi
fi
finish
