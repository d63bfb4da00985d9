# Enforcement under concurrency through the real binary: the same approver
# approving one plan eight times at once gives one approval and seven
# recorded refusals (never a database error), and three enforcers applying
# one plan at once give exactly one outcome per target.
source "$(dirname "$0")/lib.sh"
cd "$T"
export CUSTOS_WORKSPACE=$T/ws CUSTOS_ACTOR=reviewer.a
story_reviewed
for p in ilse.varn oren.task; do "$CUSTOS" -q person add $p --role approver; done
"$CUSTOS" -q person add reviewer.a --role reviewer
for p in mara.enf tom.enf una.enf; do "$CUSTOS" -q person add $p --role enforcer; done
"$CUSTOS" -q decide case-0001 --policy no-mass-surveillance --scope unit=arv-mod-sig \
  --scope category=Storage --effect deny-all --rationale "bulk storage of intercepted calls"
expect_exit 0 "plan" -- "$CUSTOS" --json plan case-0001 -o p1.json
n=$(python3 -c 'import json,sys; print(len(json.load(open("p1.json"))["targets"]))')
[ "$n" -gt 0 ] && ok "the plan has $n targets" || not_ok "the plan has no targets"

for k in 1 2 3 4 5 6 7 8; do
  (rc=0; "$CUSTOS" approve p1.json --as ilse.varn >"a$k.out" 2>"a$k.err" || rc=$?; echo $rc >"a$k.rc") &
done
wait
okays=$(cat a*.rc | grep -cx 0 || true)
refused=$(cat a*.rc | grep -cx 5 || true)
[ "$okays" = 1 ] && ok "one of eight simultaneous approvals stands" || not_ok "$okays approvals stood"
[ "$refused" = 7 ] && ok "seven are refused" || { not_ok "$refused refused"; cat a*.err | head; }
if grep -l "already approved" a*.err | wc -l | grep -qx 7; then
  ok "each refusal names the repeated person"
else
  not_ok "refusals without the reason"; cat a*.err | head
fi
db() { sqlite3 "$T/ws/custos.db" "$1"; }
[ "$(db "SELECT COUNT(*) FROM approvals")" = 1 ] && ok "one approval stored" || not_ok "approvals: $(db 'SELECT COUNT(*) FROM approvals')"
[ "$(db "SELECT COUNT(*) FROM events WHERE type='plan.refused'")" = 7 ] && ok "seven refusals recorded" || not_ok "refusals recorded: $(db "SELECT COUNT(*) FROM events WHERE type='plan.refused'")"
expect_exit 0 "second approval" -- "$CUSTOS" approve p1.json --as oren.task

for p in mara.enf tom.enf una.enf; do
  (rc=0; "$CUSTOS" apply p1.json --as $p >"$p.out" 2>"$p.err" || rc=$?; echo $rc >"$p.rc") &
done
wait
bad=0
for p in mara.enf tom.enf una.enf; do
  [ "$(cat $p.rc)" = 0 ] || { bad=1; cat $p.err; }
done
[ $bad = 0 ] && ok "three simultaneous applies all end well" || not_ok "an apply failed"
[ "$(db "SELECT COUNT(*) FROM outcomes")" = "$n" ] && ok "exactly one outcome per target" || not_ok "outcomes: $(db 'SELECT COUNT(*) FROM outcomes') for $n targets"
[ "$(db "SELECT COUNT(DISTINCT idx) FROM outcomes")" = "$n" ] && ok "every target has its outcome" || not_ok "targets without outcome"
[ "$(db "SELECT status FROM plans WHERE status='applied'")" = applied ] && ok "the plan is applied" || not_ok "plan status"
finish
