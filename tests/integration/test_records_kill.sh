# kill -9 during a mail ingest, then the same command again: the resumed
# run must end with exactly the records, places, threads and counts of an
# uninterrupted run, for a maildir and for an mbox.
source "$(dirname "$0")/lib.sh"
: "${CUSTOS_BUILD_DIR:?set CUSTOS_BUILD_DIR}"
GEN=$CUSTOS_BUILD_DIR/bench/records/bench_records_gen
N=${KILL_TEST_MESSAGES:-3000}
"$GEN" "$T/md" "$N" 7
# the same messages as an mbox (mboxrd quoting of body lines)
for f in "$T"/md/cur/*; do
  echo "From bench@nimbus.example Mon Jan  1 00:00:00 2024"
  sed 's/^\(>*From \)/>\1/' "$f"
  echo
done >"$T/all.mbox"
export CUSTOS_RECORDS_BATCH=50

dump() {
  sqlite3 "$1/custos.db" "
    SELECT r.content_id, r.raw_sha256, r.flags, r.size, r.message_id,
      (SELECT group_concat(p.path || '@' || p.offset || ':' || p.raw_sha256, ',')
         FROM record_places p WHERE p.record_id = r.id),
      (SELECT p.message_id FROM thread_nodes n JOIN thread_nodes p
         ON p.id = n.parent_id WHERE n.record_id = r.id),
      (SELECT count(*) FROM attachments a WHERE a.record_id = r.id)
    FROM records r ORDER BY r.content_id;
    SELECT class, sha256, expected, accepted, rejected, status FROM sources ORDER BY sha256;
    SELECT count(*) FROM thread_nodes;
    SELECT count(*) FROM records_fts WHERE records_fts MATCH 'storage';
    INSERT INTO records_fts(records_fts, rank) VALUES('integrity-check', 1);"
}

# check_kill NAME PATH
check_kill() {
  local name=$1 path=$2
  expect_exit 0 "$name: init reference" -- "$CUSTOS" -w "$T/ref-$name" init
  expect_exit 0 "$name: uninterrupted ingest" -- "$CUSTOS" -w "$T/ref-$name" ingest mail "$path" --custodian archive
  expect_exit 0 "$name: init killed" -- "$CUSTOS" -w "$T/kill-$name" init
  "$CUSTOS" -w "$T/kill-$name" -q ingest mail "$path" --custodian archive &
  local pid=$! pos=0
  for _ in $(seq 1 600); do
    pos=$(sqlite3 "$T/kill-$name/custos.db" "SELECT COALESCE(MAX(expected), 0) FROM records_progress" 2>/dev/null || echo 0)
    [ "${pos:-0}" -ge 200 ] && break
    sleep 0.05
  done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  local status
  status=$(sqlite3 "$T/kill-$name/custos.db" "SELECT status FROM sources ORDER BY id DESC LIMIT 1")
  if [ "$status" = open ] && [ "$pos" -lt "$N" ]; then
    ok "$name: killed mid-way ($pos of $N committed, source open)"
  else
    not_ok "$name: kill did not land mid-way (status $status, $pos)"
  fi
  expect_exit 0 "$name: resumed ingest" -- "$CUSTOS" -w "$T/kill-$name" ingest mail "$path" --custodian archive
  expect_grep "resumed 1 interrupted source(s)" "$T/out" "$name: the run says it resumed"
  dump "$T/ref-$name" >"$T/ref-$name.txt"
  dump "$T/kill-$name" >"$T/kill-$name.txt"
  if cmp -s "$T/ref-$name.txt" "$T/kill-$name.txt"; then
    ok "$name: same records, places, threads and counts"
  else
    not_ok "$name: resumed ingest differs"
    diff "$T/ref-$name.txt" "$T/kill-$name.txt" | head -10
  fi
  n=$(sqlite3 "$T/kill-$name/custos.db" "SELECT count(*) FROM records")
  if [ "$n" = "$N" ]; then ok "$name: $N records, none lost or doubled"; else not_ok "$name: $n records"; fi
}
check_kill maildir "$T/md"
check_kill mbox "$T/all.mbox"
finish
