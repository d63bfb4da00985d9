# Directory ingest through the real binary: good CSV and JSON files, and
# each kind of bad file refused with file:line and the value, leaving the
# workspace exactly as it was.
source "$(dirname "$0")/lib.sh"
D=$DATA/directory
W=$T/ws
expect_exit 0 "init" -- "$CUSTOS" -w "$W" init
expect_exit 0 "ingest good CSV files in any order" -- \
  "$CUSTOS" -w "$W" ingest directory "$D/contacts.csv" "$D/subscriptions.csv" \
  "$D/units.csv" "$D/accounts.csv" --custodian customer-operations
expect_grep "2 accounts, 4 units, 3 subscriptions, 2 contacts" "$T/out" "counts reported"
expect_exit 0 "ingest JSON" -- "$CUSTOS" -w "$W" --json ingest directory "$D/directory.json"
expect_grep '"subscriptions": 1' "$T/out" "JSON counts"
expect_exit 0 "same file again" -- "$CUSTOS" -w "$W" ingest directory "$D/units.csv"
expect_grep "skipped 1 file(s) already ingested" "$T/out" "re-ingest is a no-op that says so"

expect_exit 0 "show account" -- "$CUSTOS" -w "$W" --json directory show acct-1
expect_grep '"region": "azure:westeurope"' "$T/out" "alias weu resolved to azure:westeurope"
expect_exit 0 "resolve alias" -- "$CUSTOS" directory resolve "West Europe"
expect_grep "NL" "$T/out" "West Europe is in the Netherlands"
expect_exit 0 "sources" -- "$CUSTOS" -w "$W" --json sources
expect_grep '"class": "directory"' "$T/out" "sources are registered with their class"
expect_grep '"custodian": "customer-operations"' "$T/out" "sources keep their custodian"

snapshot() { sqlite3 "$W/custos.db" .dump | sha256sum; }
before=$(snapshot)
# check_bad FILE CODE PLACE VALUE: refused with place and value, and the
# workspace is byte for byte what it was.
check_bad() {
  local f=$1 code=$2 place=$3 value=$4
  expect_exit "$code" "refuse $f" -- "$CUSTOS" -w "$W" ingest directory "$D/$f"
  expect_grep "$D/$f:$place" "$T/err" "$f: error names file:line"
  [ -z "$value" ] || expect_grep "$value" "$T/err" "$f: error names the value"
  if [ "$(snapshot)" = "$before" ]; then ok "$f: workspace unchanged"; else not_ok "$f: workspace changed"; fi
}
check_bad bad-unterminated.csv 3 "2:8" ""
expect_grep "unterminated" "$T/err" "unterminated quote is named"
check_bad bad-missing-parent.csv 4 "3:" "u-nowhere"
check_bad bad-cycle.csv 3 "2:" "u-22"
expect_grep "cycle" "$T/err" "cycle is named"
check_bad bad-duplicate.csv 3 "4:1" "acct-5"
expect_grep "bad-duplicate.csv:2" "$T/err" "duplicate names the first line"
check_bad bad-region.csv 4 "3:" "atlantis-central-9"
check_bad bad-utf8.csv 3 "2:" ""
expect_grep "UTF-8" "$T/err" "invalid UTF-8 is named"
expect_exit 3 "refuse bad-country.json" -- "$CUSTOS" -w "$W" ingest directory "$D/bad-country.json"
expect_grep "accounts[0].country" "$T/err" "JSON error names the path"
expect_grep "'xb'" "$T/err" "JSON error names the value"
expect_exit 3 "refuse bad-syntax.json" -- "$CUSTOS" -w "$W" ingest directory "$D/bad-syntax.json"
expect_grep "bad-syntax.json:1:" "$T/err" "JSON syntax error names line and column"
# A good file with a bad one in the same call: neither is stored.
expect_exit 4 "good and bad together" -- "$CUSTOS" -w "$W" ingest directory "$D/bad-region.csv" "$D/bad-missing-parent.csv"
if [ "$(snapshot)" = "$before" ]; then ok "mixed call: workspace unchanged"; else not_ok "mixed call changed the workspace"; fi

expect_exit 2 "missing kind" -- "$CUSTOS" -w "$W" ingest
expect_exit 2 "unknown kind" -- "$CUSTOS" -w "$W" ingest customer-content "$D/accounts.csv"
expect_exit 3 "class for customer content refused" -- "$CUSTOS" -w "$W" ingest directory --class customer-content "$D/accounts.csv"
expect_exit 4 "no workspace" -- "$CUSTOS" -w "$T/none" sources
expect_grep "custos init" "$T/err" "no-workspace error says what to do"
finish
