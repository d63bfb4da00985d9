# custos show reads every place's copy again: a message in an mbox, a file
# in a maildir and a single message file are verified while untouched,
# reported changed after one byte changed, and unavailable once removed.
source "$(dirname "$0")/lib.sh"
M=$DATA/mail
W=$T/ws
mkdir -p "$T/in"
cp -r "$M/quoting.mbox" "$M/maildir" "$M/encoded-word.eml" "$T/in/"
cd "$T/in"
expect_exit 0 "init" -- "$CUSTOS" -w "$W" init
for x in quoting.mbox maildir encoded-word.eml; do
  expect_exit 0 "ingest $x" -- "$CUSTOS" -w "$W" ingest mail "$x" --custodian sales
done
db() { sqlite3 "$W/custos.db" "$1"; }
mbox_id=$(db "SELECT id FROM records WHERE message_id='q2@nimbus.example'")
file_id=$(db "SELECT r.id FROM records r JOIN record_places p ON p.record_id = r.id JOIN sources s ON s.id = p.source_id WHERE s.path = 'maildir' LIMIT 1")
eml_id=$(db "SELECT r.id FROM records r JOIN record_places p ON p.record_id = r.id JOIN sources s ON s.id = p.source_id WHERE s.path = 'encoded-word.eml'")
file_rel=$(db "SELECT p.path FROM record_places p WHERE p.record_id = $file_id")
for id in "$mbox_id" "$file_id" "$eml_id"; do
  expect_exit 0 "show $id untouched" -- "$CUSTOS" -w "$W" --json show "$id"
  expect_grep '"check": "verified"' "$T/out" "record $id: the copy is what was collected"
done
expect_exit 0 "show as text" -- "$CUSTOS" -w "$W" show "$mbox_id"
expect_grep "copy      verified" "$T/out" "the text view says so"

# one byte changed in each copy (the mbox message's body, not its From line)
sed -i 's/transcription jobs/transcription Jobs/' quoting.mbox
sed -i '$ s/.$/X/' "maildir/$file_rel"
printf ' ' >>encoded-word.eml
for id in "$mbox_id" "$file_id" "$eml_id"; do
  expect_exit 0 "show $id changed" -- "$CUSTOS" -w "$W" --json show "$id"
  expect_grep '"check": "changed"' "$T/out" "record $id: a changed copy is reported"
  expect_grep "the copy there now has SHA-256" "$T/out" "record $id: with the digest it has now"
done
# the other messages of the changed mbox are still what was collected
q1=$(db "SELECT id FROM records WHERE message_id='q1@nimbus.example'")
expect_exit 0 "show another message of that mbox" -- "$CUSTOS" -w "$W" --json show "$q1"
expect_grep '"check": "verified"' "$T/out" "an untouched message in a changed mbox stays verified"

# text before an mbox's first "From " line is a record of its own at
# offset 0 (here in a .mbox folder, which is an mbox whatever it starts with)
mkdir -p Lead.mbox
{ printf 'stray text before the first message\n\n'; cat "$M/quoting.mbox"; } >Lead.mbox/mbox
expect_exit 0 "ingest a .mbox folder with leading text" -- "$CUSTOS" -w "$W" ingest mail Lead.mbox --custodian sales
lead=$(db "SELECT p.record_id FROM record_places p JOIN sources s ON s.id = p.source_id WHERE s.path LIKE 'Lead.mbox%' AND p.offset = 0")
expect_exit 0 "show the leading text" -- "$CUSTOS" -w "$W" --json show "$lead"
expect_grep '"check": "verified"' "$T/out" "leading text of an mbox is verified as split out"

rm -rf maildir encoded-word.eml quoting.mbox
for id in "$mbox_id" "$file_id" "$eml_id"; do
  expect_exit 0 "show $id removed" -- "$CUSTOS" -w "$W" --json show "$id"
  expect_grep '"check": "unavailable"' "$T/out" "record $id: a missing copy is unavailable"
done
finish
