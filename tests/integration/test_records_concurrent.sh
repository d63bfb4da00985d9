# Two mail ingests into one workspace at the same time, each committing
# every message: both complete, every message is stored once with its own
# record id, and the counts reconcile.  The two folders have the same file
# names (m1.eml ... m300.eml) but other messages: a folder's identity used
# to be its file names alone, and the second folder was skipped as if it
# had been ingested already.
source "$(dirname "$0")/lib.sh"
W=$T/ws
expect_exit 0 "init" -- "$CUSTOS" -w "$W" init
for box in a b; do
  mkdir -p "$T/$box"
  for i in $(seq 1 300); do
    printf 'From: clerk%s@ministry.example\nTo: desk@provider.example\nSubject: %s note %d\nDate: Mon, 3 Mar 2025 10:00:00 +0000\nMessage-ID: <%s%d@ministry.example>\n\nBody %s %d about storage quotas.\n' \
      "$box" "$box" "$i" "$box" "$i" "$box" "$i" >"$T/$box/m$i.eml"
  done
done
export CUSTOS_RECORDS_BATCH=1
for box in a b; do
  (rc=0; "$CUSTOS" -w "$W" --json ingest mail "$T/$box" --custodian "$box" >"$T/$box.out" 2>"$T/$box.err" || rc=$?; echo $rc >"$T/$box.rc") &
done
wait
for box in a b; do
  if [ "$(cat "$T/$box.rc")" = 0 ]; then ok "ingest $box completed beside the other"; else not_ok "ingest $box failed"; cat "$T/$box.err"; fi
  expect_grep '"accepted": 300' "$T/$box.out" "ingest $box stored its 300 messages"
done
db() { sqlite3 "$W/custos.db" "$1"; }
[ "$(db 'SELECT count(*) FROM records')" = 600 ] && ok "600 records" || not_ok "records: $(db 'SELECT count(*) FROM records')"
[ "$(db 'SELECT count(DISTINCT message_id) FROM records')" = 600 ] && ok "each message once" || not_ok "messages"
[ "$(db 'SELECT count(*) FROM record_places')" = 600 ] && ok "one place each" || not_ok "places"
finish
