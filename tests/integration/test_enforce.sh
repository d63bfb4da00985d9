# Enforcement through the real binary on the generated demo story: each
# refusal (missing approval, repeated person, the decision's author, a
# person without the role, a tampered plan, a superseded plan, an approval
# of another plan) is refused with a clear message and recorded; apply is
# idempotent; block, lift and block again work any number of times; the
# decision point denies exactly the targets and allows the rest.
source "$(dirname "$0")/lib.sh"
cd "$T"
export CUSTOS_WORKSPACE=$T/ws CUSTOS_ACTOR=reviewer.a
SIG1=8400a1b2-0001-4c3e-9a51-5e0d00000001
CYB1=c7be0d11-0001-4f2a-8b33-a1d000000011
story_reviewed
for p in ilse.varn oren.task; do "$CUSTOS" -q person add $p --role approver; done
"$CUSTOS" -q person add reviewer.a --role reviewer,approver
"$CUSTOS" -q person add mara.enf --role enforcer
expect_exit 5 "an enforcer cannot decide" -- "$CUSTOS" decide case-0001 --as mara.enf \
  --policy no-mass-surveillance --scope unit=arv-mod-sig --effect deny-all --rationale r
expect_exit 4 "an unregistered person cannot decide" -- "$CUSTOS" decide case-0001 --as nobody \
  --policy no-mass-surveillance --scope unit=arv-mod-sig --effect deny-all --rationale r
"$CUSTOS" -q decide case-0001 --policy no-mass-surveillance --scope unit=arv-mod-sig \
  --scope category=Storage --scope "category=AI and Machine Learning" --scope region=westeurope \
  --effect deny-all --rationale "bulk storage and transcription of intercepted calls"
refusals() { sqlite3 "$T/ws/custos.db" "SELECT COUNT(*) FROM events WHERE type='plan.refused'"; }

expect_exit 5 "a plan larger than the guard" -- "$CUSTOS" plan case-0001 -o p0.json --max-targets 2
expect_grep "more than the guard of 2" "$T/err" "the guard names the limit"
expect_exit 3 "a malformed owner is refused at plan time" -- "$CUSTOS" plan case-0001 -o p0.json --owner AUP
expect_exit 0 "plan" -- "$CUSTOS" --json plan case-0001 -o p1.json
expect_grep '"targets": 4' "$T/out" "four targets"
expect_grep '"unaffected": 7' "$T/out" "seven services stay running"
grep -q "Microsoft Sentinel" p1.json && ok "the cyber unit's security services are listed as running" || not_ok "unaffected list"

r0=$(refusals)
expect_exit 5 "apply without approvals" -- "$CUSTOS" apply p1.json --as mara.enf
expect_grep "0 valid approval(s), 2 are required" "$T/err" "missing approvals named"
expect_exit 5 "the decision's author cannot approve" -- "$CUSTOS" approve p1.json --as reviewer.a
expect_exit 5 "an enforcer cannot approve" -- "$CUSTOS" approve p1.json --as mara.enf
expect_exit 4 "an unknown person cannot approve" -- "$CUSTOS" approve p1.json --as nobody
expect_exit 0 "first approval" -- "$CUSTOS" approve p1.json --as ilse.varn
expect_exit 5 "the same person twice" -- "$CUSTOS" approve p1.json --as ilse.varn
expect_grep "already approved" "$T/err" "repeated person named"
expect_exit 5 "apply with one approval" -- "$CUSTOS" apply p1.json --as mara.enf
sed 's/deny-all/deny-new/' p1.json >tampered.json
expect_exit 5 "a tampered plan cannot be approved" -- "$CUSTOS" approve tampered.json --as oren.task
expect_grep "does not match any plan" "$T/err" "tampering named"
expect_exit 5 "a tampered plan cannot be applied" -- "$CUSTOS" apply tampered.json --as mara.enf
# A newer plan supersedes p1: p1's approval does not carry over.
expect_exit 0 "a second plan" -- "$CUSTOS" -q plan case-0001 -o p2.json
expect_exit 5 "the superseded plan cannot be approved" -- "$CUSTOS" approve p1.json --as oren.task
expect_grep "superseded" "$T/err" "superseded named"
expect_exit 5 "the superseded plan cannot be applied" -- "$CUSTOS" apply p1.json --as mara.enf
expect_exit 0 "approval of the new plan" -- "$CUSTOS" approve p2.json --as oren.task
expect_exit 5 "one approval of p2 and one of p1 are not two of p2" -- "$CUSTOS" apply p2.json --as mara.enf
expect_exit 5 "a non-enforcer cannot apply" -- "$CUSTOS" apply p2.json --as ilse.varn
r1=$(refusals)
[ "$r1" -ge $((r0 + 11)) ] && ok "every refusal is recorded ($((r1 - r0)))" || not_ok "refusals recorded: $((r1 - r0))"
blank=$(sqlite3 "$T/ws/custos.db" "SELECT COUNT(*) FROM events WHERE type='plan.refused' AND json_extract(payload,'\$.reason') = ''")
[ "$blank" -eq 0 ] && ok "no refusal has a blank reason" || not_ok "$blank blank reasons"

expect_exit 0 "second approval" -- "$CUSTOS" approve p2.json --as ilse.varn
expect_exit 0 "apply" -- "$CUSTOS" --json apply p2.json --as mara.enf
expect_grep '"done": 4' "$T/out" "four outcomes"
expect_grep '"notices": 2' "$T/out" "two customer notices queued"
before=$(sqlite3 "$T/ws/custos.db" "SELECT COUNT(*) FROM events")
expect_exit 0 "apply again" -- "$CUSTOS" apply p2.json --as mara.enf
expect_grep "nothing to do" "$T/out" "second apply does nothing"
after=$(sqlite3 "$T/ws/custos.db" "SELECT COUNT(*) FROM events")
[ "$before" = "$after" ] && ok "second apply changes nothing" || not_ok "events $before -> $after"

expect_exit 5 "signals storage denied" -- "$CUSTOS" check $SIG1 "Azure Blob Storage" westeurope read
expect_grep "case-0001" "$T/out" "the denial names the case"
expect_exit 0 "cyber-defence security allowed" -- "$CUSTOS" check $CYB1 "Microsoft Sentinel" westeurope write
expect_exit 0 "signals storage elsewhere allowed" -- "$CUSTOS" check $SIG1 "Azure Blob Storage" northeurope read
# Notices list only what the outcomes say was done.
body=$(sqlite3 "$T/ws/custos.db" "SELECT body FROM notices WHERE channel='email' LIMIT 1")
echo "$body" | grep -q "Azure AI Speech in West Europe (NL)" && ok "notice lists a blocked service" || not_ok "notice body"
echo "$body" | grep -q "Microsoft Sentinel" && ok "notice lists what stays running" || not_ok "notice lacks unaffected"

# Block, lift, block again, three times over.
for round in 1 2 3; do
  "$CUSTOS" -q reinstate case-0001 --reason "round $round: appeal upheld for testing" -o r$round.json
  "$CUSTOS" -q approve r$round.json --as ilse.varn
  "$CUSTOS" -q approve r$round.json --as oren.task
  expect_exit 0 "round $round: reinstate" -- "$CUSTOS" apply r$round.json --as mara.enf
  expect_exit 0 "round $round: storage allowed again" -- "$CUSTOS" check $SIG1 "Azure Blob Storage" westeurope write
  if [ "$round" = 1 ]; then
    n=$(sqlite3 "$T/ws/custos.db" "SELECT COUNT(*) FROM notices WHERE key LIKE 'reinstate-%' AND channel='email'")
    [ "$n" -ge 1 ] && ok "the customer is told of the reinstatement ($n)" || not_ok "no reinstatement notice"
    "$CUSTOS" statement case-0001 >"$T/stmt.md"
    expect_grep "ceased and disabled 4" "$T/stmt.md" "after a lift the statement still says what was ceased"
    expect_grep "since been restored" "$T/stmt.md" "and that it was restored"
  fi
  "$CUSTOS" -q plan case-0001 -o b$round.json
  "$CUSTOS" -q approve b$round.json --as ilse.varn
  "$CUSTOS" -q approve b$round.json --as oren.task
  expect_exit 0 "round $round: block again" -- "$CUSTOS" apply b$round.json --as mara.enf
  expect_exit 5 "round $round: storage denied again" -- "$CUSTOS" check $SIG1 "Azure Blob Storage" westeurope read
done
in_force=$(sqlite3 "$T/ws/custos.db" "SELECT COUNT(*) FROM pdp_blocks WHERE case_id='case-0001' AND effect <> 'none'")
[ "$in_force" -eq 4 ] && ok "exactly the four targets are blocked after three rounds" || not_ok "$in_force blocks in force"
expect_exit 0 "the log verifies" -- "$CUSTOS" log verify "$T/ws/log" --vkey "$("$CUSTOS" log key)"
finish
