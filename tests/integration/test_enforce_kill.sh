# kill -9 in the middle of apply, several times, then a completing run:
# exactly one outcome per target, every block in place, the log valid.
source "$(dirname "$0")/lib.sh"
cd "$T"
export CUSTOS_WORKSPACE=$T/ws CUSTOS_ACTOR=reviewer.a
N=${ENFORCE_KILL_TARGETS:-3000}
python3 "$CUSTOS_SOURCE_DIR/tests/integration/make_fleet.py" "$N" "$T"
"$CUSTOS" -q init
"$CUSTOS" -q ingest directory accounts.csv units.csv subscriptions.csv contacts.csv
"$CUSTOS" -q ingest usage usage.csv
"$CUSTOS" -q case open --allegation "$DATA/enforce/allegation.md"
"$CUSTOS" -q evidence add case-0001 --claim 1 --usage --unit fleet-ops --by region
"$CUSTOS" -q finding case-0001 --claim 1 --judgement supported --rationale "storage in use" --evidence 1
for p in ilse.varn oren.task; do "$CUSTOS" -q person add $p --role approver; done
"$CUSTOS" -q person add mara.enf --role enforcer
"$CUSTOS" -q person add reviewer.a --role reviewer
"$CUSTOS" -q decide case-0001 --policy no-mass-surveillance --scope unit=fleet-ops \
  --scope category=Storage --effect deny-all --rationale "tracking archive"
expect_exit 0 "plan with $N targets" -- "$CUSTOS" --json plan case-0001 -o plan.json --max-targets $((N + 10))
expect_grep "\"targets\": $N" "$T/out" "$N targets"
"$CUSTOS" -q approve plan.json --as ilse.varn
"$CUSTOS" -q approve plan.json --as oren.task
outcomes() { sqlite3 "$T/ws/custos.db" "SELECT COUNT(*) FROM outcomes"; }
kills=0
for delay in 0.05 0.15 0.3 0.5 0.8; do
  "$CUSTOS" -q apply plan.json --as mara.enf >/dev/null 2>&1 &
  pid=$!
  sleep "$delay"
  if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
  wait "$pid" 2>/dev/null || true
  echo "# after kill at ${delay}s: $(outcomes) outcomes"
done
[ "$kills" -ge 1 ] && ok "apply was killed $kills time(s)" || not_ok "no kill landed"
expect_exit 0 "a completing run" -- "$CUSTOS" --json apply plan.json --as mara.enf
n_out=$(outcomes)
[ "$n_out" -eq "$N" ] && ok "exactly one outcome per target ($n_out)" || not_ok "$n_out outcomes for $N targets"
dups=$(sqlite3 "$T/ws/custos.db" "SELECT COUNT(*) FROM (SELECT subscription, service, region FROM outcomes GROUP BY 1,2,3 HAVING COUNT(*) > 1)")
[ "$dups" -eq 0 ] && ok "no target has two outcomes" || not_ok "$dups targets with two outcomes"
blocks=$(sqlite3 "$T/ws/custos.db" "SELECT COUNT(*) FROM pdp_blocks WHERE case_id='case-0001' AND effect <> 'none'")
[ "$blocks" -eq "$N" ] && ok "every target is blocked ($blocks)" || not_ok "$blocks blocks"
ev=$(sqlite3 "$T/ws/custos.db" "SELECT COUNT(*) FROM events WHERE type='enforce.outcome'")
[ "$ev" -eq "$N" ] && ok "one outcome entry per target in the log" || not_ok "$ev outcome events"
expect_exit 5 "the HQ subscription's VMs stay running" -- "$CUSTOS" check 5eed0000-0000-4000-8000-000000000007 "Azure Blob Storage" westeurope read
expect_exit 0 "HQ allowed" -- "$CUSTOS" check 5eed0000-0000-4000-8000-ffffffffffff "Virtual Machines" westeurope write
expect_exit 0 "log fsck" -- "$CUSTOS" log fsck
expect_exit 0 "log verify" -- "$CUSTOS" log verify "$T/ws/log" --vkey "$("$CUSTOS" log key)"
finish
