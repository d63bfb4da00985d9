# kill -9 in the middle of a usage ingest leaves the workspace as it was,
# and a full ingest afterwards gives the same result as an uninterrupted
# run.  The file is read before anything is written, and everything is
# written in one transaction, so there is no moment at which a kill can
# leave half a source behind.
source "$(dirname "$0")/lib.sh"
expect_exit 0 "gen" -- "$CUSTOS" gen --seed 5 --scale 100000 --out "$T/g"
F=$T/big.csv
join_usage "$T/g" "$F"
W=$T/ws
"$CUSTOS" -w "$W" init >/dev/null
"$CUSTOS" -w "$W" ingest directory "$T"/g/directory/*.csv >/dev/null
"$CUSTOS" -w "$W" ingest usage "$T/g/usage/focus-2024-03.csv" >/dev/null
dump() { sqlite3 "$W/custos.db" .dump | sha256sum; }
before=$(dump)
# Uninterrupted reference run in a copy.
cp -r "$W" "$T/ref"
t0=$(date +%s.%N)
"$CUSTOS" -w "$T/ref" ingest usage "$F" >/dev/null
took=$(echo "$(date +%s.%N) - $t0" | bc)
"$CUSTOS" -w "$T/ref" -q usage --by account,service,region,month --format csv >"$T/ref.csv"
[ -s "$T/ref.csv" ] && ok "reference run" || not_ok "reference run"
# Five random moments within the time an uninterrupted run takes, the
# last ones late, where the write transaction runs.
for frac in $((RANDOM % 30)) $((RANDOM % 60)) $((40 + RANDOM % 40)) $((70 + RANDOM % 25)) $((85 + RANDOM % 14)); do
  delay=$(echo "scale=3; $took * $frac / 100" | bc)
  "$CUSTOS" -w "$W" -q ingest usage "$F" >/dev/null 2>&1 &
  pid=$!
  sleep "$delay"
  if kill -9 "$pid" 2>/dev/null; then
    wait "$pid" 2>/dev/null || true
    if [ "$(dump)" = "$before" ]; then
      ok "killed after ${delay}s: workspace unchanged"
    else
      # On a loaded machine the kill can land after the commit: then the
      # whole source must be there, exactly as in the reference run.
      "$CUSTOS" -w "$W" -q usage --by account,service,region,month --format csv >"$T/mid.csv"
      if cmp -s "$T/ref.csv" "$T/mid.csv"; then
        ok "killed after ${delay}s, after the commit: the source is complete"
        break
      fi
      not_ok "killed after ${delay}s: workspace changed and incomplete"
    fi
  else
    wait "$pid" 2>/dev/null || true
    ok "ingest finished within ${delay}s (nothing to kill)"
    break
  fi
done
if [ "$(dump)" = "$before" ]; then
  expect_exit 0 "full ingest after the kills" -- "$CUSTOS" -w "$W" ingest usage "$F"
fi
"$CUSTOS" -w "$W" -q usage --by account,service,region,month --format csv >"$T/after.csv"
if cmp -s "$T/ref.csv" "$T/after.csv"; then
  ok "same result as the uninterrupted run"
else
  not_ok "result differs from the uninterrupted run"
fi
finish
