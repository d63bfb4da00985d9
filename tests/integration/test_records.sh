# Mail and document ingest, search and show through the real binary: every
# small case file is accepted and accounted for, duplicates list every
# place, searches are recorded, and bad queries are refused with a hint.
source "$(dirname "$0")/lib.sh"
M=$DATA/mail
W=$T/ws
expect_exit 0 "init" -- "$CUSTOS" -w "$W" init
expect_exit 0 "ingest mail folder" -- "$CUSTOS" -w "$W" --json ingest mail "$M" --custodian account-team
expect_grep '"expected": 19' "$T/out" "19 messages found"
expect_grep '"accepted": 19' "$T/out" "19 accepted"
expect_grep '"failed": 0' "$T/out" "none failed"
expect_grep '"duplicates": 1' "$T/out" "the reordered copy is a duplicate"
expect_grep '"sources": 4' "$T/out" "folder, maildir, .mbox folder and mbox are four sources"
expect_exit 0 "ingest again" -- "$CUSTOS" -w "$W" ingest mail "$M" --custodian account-team
expect_grep "skipped 4 source(s)" "$T/out" "re-ingest is a no-op that says so"

# counts reconcile for every source
db() { sqlite3 "$W/custos.db" "$1"; }
bad=$(db "SELECT count(*) FROM sources WHERE class='mail' AND expected <> accepted + rejected")
if [ "$bad" = 0 ]; then ok "expected = accepted + failed for every source"; else not_ok "$bad sources do not reconcile"; fi

# a duplicate is never hidden: show lists both places
dup=$(db "SELECT id FROM records WHERE message_id='dup1@nimbus.example'")
expect_exit 0 "show duplicate" -- "$CUSTOS" -w "$W" show "$dup"
expect_grep "dup/a.eml" "$T/out" "first place listed"
expect_grep "dup/b.eml" "$T/out" "second place listed"
a_sha=$(sha256sum "$M/dup/b.eml" | cut -d' ' -f1)
expect_grep "$a_sha" "$T/out" "each place carries the SHA-256 of its copy"
# mbox custody: the raw SHA-256 of the un-quoted message bytes and offset
q1=$(db "SELECT id FROM records WHERE message_id='q1@nimbus.example'")
expect_exit 0 "show mbox record" -- "$CUSTOS" -w "$W" --json show "$q1"
expect_grep '"offset": 0' "$T/out" "mbox place has its offset"
expect_grep 'From the invoice it is clear.' "$T/out" "mboxrd quoting undone"
want=$(sed -n '2,10p' "$M/quoting.mbox" | sed 's/^>\(>*From \)/\1/' | sha256sum | cut -d' ' -f1)
expect_grep "\"raw_sha256\": \"$want\"" "$T/out" "raw SHA-256 covers the un-quoted bytes"
# the reply with a missing parent shows the ghost
orphan=$(db "SELECT id FROM records WHERE message_id='orphan@nimbus.example'")
expect_exit 0 "show orphan" -- "$CUSTOS" -w "$W" show "$orphan"
expect_grep "parent <never-archived@nimbus.example> (missing)" "$T/out" "missing parent shown as a ghost"
raw=$(db "SELECT id FROM records WHERE message_id='mb1@nimbus.example'")
expect_exit 0 "show raw" -- "$CUSTOS" -w "$W" show "$raw"
expect_grep "flags       raw" "$T/out" "unparsable structure kept with flag raw"
expect_exit 4 "show unknown record" -- "$CUSTOS" -w "$W" show 99999

# search
expect_exit 0 "search a word" -- "$CUSTOS" -w "$W" search lowmark --case case-1
expect_grep "7 record(s) match" "$T/out" "exact count"
expect_exit 0 "search phrase by date" -- "$CUSTOS" -w "$W" --json search '"storage in lowmark"' --sort date
expect_grep '"total": 2' "$T/out" "phrase count"
expect_exit 0 "search NEAR" -- "$CUSTOS" -w "$W" search 'NEAR(signals storage, 3)'
expect_grep "1 record(s) match" "$T/out" "NEAR count"
expect_exit 0 "search prefix with filter" -- "$CUSTOS" -w "$W" search 'transl*' --from ilse
expect_grep "2 record(s) match" "$T/out" "prefix with a sender filter"
expect_exit 0 "search attachment text" -- "$CUSTOS" -w "$W" search 'attachment:lowmark' --has-attachment
expect_grep "1 record(s) match" "$T/out" "text of a CSV attachment is indexed"
expect_exit 0 "search hyphenated" -- "$CUSTOS" -w "$W" search 'speech-to-text'
expect_grep "2 record(s) match" "$T/out" "a hyphenated word is a phrase"
expect_exit 0 "search pages" -- "$CUSTOS" -w "$W" --json search lowmark --limit 5 --offset 5
expect_grep '"returned": 2' "$T/out" "the last page"
cat >"$T/claims.txt" <<'Q'
# one query per claim
storage AND lowmark
transcription OR translation
velmar
Q
expect_exit 0 "batch" -- "$CUSTOS" -w "$W" --json search --batch "$T/claims.txt" --case case-1
n=$(grep -c '"query":' "$T/out")
if [ "$n" = 3 ]; then ok "one result per query"; else not_ok "batch gave $n results"; fi
expect_grep '"digest"' "$T/out" "results carry the digest of their ids"
expect_exit 3 "bad query refused" -- "$CUSTOS" -w "$W" search '(storage OR'
expect_grep "close every '('" "$T/err" "bad query has a hint"
recorded=$(db "SELECT count(*) FROM events WHERE type='query.search' AND case_id='case-1'")
if [ "$recorded" = 4 ]; then ok "searches recorded with their case"; else not_ok "$recorded searches recorded for case-1"; fi
db "SELECT payload FROM events WHERE type='query.search' ORDER BY seq DESC LIMIT 1" >"$T/ev"
expect_grep '"result_sha256"' "$T/ev" "the event holds the digest"

# documents: libmagic decides the type, not the name (notes.htm is HTML)
expect_exit 0 "ingest docs" -- "$CUSTOS" -w "$W" --json ingest docs "$DATA/docs" --class contract --custodian legal
expect_grep '"accepted": 4' "$T/out" "four documents"
expect_exit 0 "search pdf" -- "$CUSTOS" -w "$W" search 'invoice AND velmar'
expect_grep "Invoice 2025-114" "$T/out" "PDF text and title"
expect_exit 0 "search html" -- "$CUSTOS" -w "$W" search procurement
expect_grep "Sales call notes" "$T/out" "HTML title and text"
expect_exit 2 "docs with class mail" -- "$CUSTOS" -w "$W" ingest docs "$DATA/docs" --class mail
expect_exit 4 "missing path" -- "$CUSTOS" -w "$W" ingest mail "$T/nothing"

# a message over the parse cap: kept, flagged, hashed whole
big=$T/big.eml
{ printf 'From: a@nimbus.example\nSubject: big report\nMessage-ID: <big@nimbus.example>\n\n'
  for i in $(seq 1 3000); do echo "line $i of the long capacity report for Lowmark"; done; } >"$big"
CUSTOS_RECORDS_MAX_MESSAGE=4096 expect_exit 0 "big message" -- "$CUSTOS" -w "$W" --json ingest mail "$big"
id=$(db "SELECT id FROM records WHERE message_id='big@nimbus.example'")
expect_exit 0 "show big" -- "$CUSTOS" -w "$W" --json show "$id"
expect_grep "\"raw_sha256\": \"$(sha256sum "$big" | cut -d' ' -f1)\"" "$T/out" "raw SHA-256 covers the whole message"
expect_grep '"flags": "truncated"' "$T/out" "flagged truncated"
finish
