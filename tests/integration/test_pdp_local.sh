# The decision point on one machine: custos block put/lift/list, custos
# check and custos serve on the workspace's blocks (local feed), and every
# HTTP error the API documents.
source "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || { not_ok "curl not installed"; finish; }
W=$T/ws
SRV=""
trap '[ -z "$SRV" ] || { kill "$SRV"; wait "$SRV" 2>/dev/null; }; rm -rf "$T"' EXIT
S=3f2b6c1e-8a4d-4c2e-9b7a-1d2e3f4a5b6c
OTHER=9c8b7a6f-5e4d-4c3b-8a29-1f0e9d8c7b6a

expect_exit 0 "init" -- "$CUSTOS" -w "$W" init
expect_exit 0 "put deny-all on storage in West Europe" -- "$CUSTOS" -w "$W" block put ${S^^} storage "West Europe" --effect deny-all --owner aup --case CASE-7
expect_grep "$S storage azure:westeurope deny-all" "$T/out" "subscription and region normalised"
expect_exit 0 "put deny-new everywhere by legal" -- "$CUSTOS" -w "$W" block put $S '*' '*' --effect deny-new --owner legal --case CASE-7
expect_exit 0 "same put again" -- "$CUSTOS" -w "$W" --json block put $S '*' '*' --effect deny-new --owner legal --case CASE-7
expect_grep '"revision": 2' "$T/out" "repeating a put changes nothing"
expect_exit 3 "unknown region refused" -- "$CUSTOS" -w "$W" block put $S storage atlantis-central-9 --effect deny-all --owner aup --case CASE-7
expect_grep "atlantis-central-9" "$T/err" "error names the region"
expect_exit 2 "effect required" -- "$CUSTOS" -w "$W" block put $S storage westeurope --owner aup --case CASE-7

expect_exit 5 "storage read denied" -- "$CUSTOS" -w "$W" check $S storage westeurope read
expect_grep "owner aup" "$T/out" "deny names the owner"
expect_exit 0 "ai read allowed (deny-new only)" -- "$CUSTOS" -w "$W" check $S ai azure:northeurope read
expect_exit 5 "ai create denied by legal" -- "$CUSTOS" -w "$W" check $S ai azure:northeurope create
expect_exit 0 "another subscription allowed" -- "$CUSTOS" -w "$W" check $OTHER storage westeurope create
expect_exit 4 "legal cannot lift aup's block" -- "$CUSTOS" -w "$W" block lift $S storage westeurope --owner legal
expect_exit 0 "aup lifts its block" -- "$CUSTOS" -w "$W" block lift $S storage westeurope --owner aup
expect_exit 5 "still blocked by legal for create" -- "$CUSTOS" -w "$W" check $S storage westeurope create
expect_exit 0 "storage read allowed after the lift" -- "$CUSTOS" -w "$W" check $S storage westeurope read
expect_exit 0 "list" -- "$CUSTOS" -w "$W" --json block list --all
expect_grep '"effect": "lifted"' "$T/out" "list --all shows the lift"
n=$(sqlite3 "$W/custos.db" "SELECT COUNT(*) FROM events WHERE type LIKE 'block.%' AND actor = 'integration-test'")
[ "$n" = 3 ] && ok "every put and lift recorded with the actor" || not_ok "events: $n, wanted 3"

"$CUSTOS" -w "$W" serve --listen 127.0.0.1:0 --threads 2 >"$T/serve.out" 2>"$T/serve.err" &
SRV=$!
for _ in $(seq 100); do grep -q "listening" "$T/serve.out" && break; sleep 0.05; done
P=$(awk '{print $4}' "$T/serve.out")
B="http://127.0.0.1:$P"
code() { curl -s -o "$T/body" -w "%{http_code}" "$@"; }
[ "$(code "$B/v1/check?subscription=$S&service=storage&region=westeurope&operation=create")" = 200 ] && ok "check 200" || not_ok "check status"
expect_grep '"decision":"deny"' "$T/body" "HTTP check denies"
expect_exit 0 "put through the CLI while serving" -- "$CUSTOS" -w "$W" block put $OTHER ai westeurope --effect deny-all --owner aup --case CASE-8
r=$(sqlite3 "$W/custos.db" "SELECT MAX(revision) FROM pdp_blocks")
code "$B/v1/check?subscription=$OTHER&service=ai&region=westeurope&operation=read&min_revision=$r&wait_ms=2000" >/dev/null
expect_grep '"decision":"deny"' "$T/body" "min_revision waits for the new block"
expect_grep '"stale":false' "$T/body" "and answers fresh"
code "$B/v1/check?subscription=$OTHER&service=ai&operation=read&min_revision=999&wait_ms=50" >/dev/null
expect_grep '"stale":true' "$T/body" "an unreachable revision answers stale"
[ "$(code "$B/v1/status")" = 200 ] && ok "status 200" || not_ok "status"
expect_grep "\"revision\":$r" "$T/body" "status shows the applied revision"
[ "$(code "$B/v1/check?subscription=$S&service=storage&operation=fly")" = 400 ] && ok "bad operation 400" || not_ok "bad operation"
expect_grep '"parameter":"operation","status":400,"value":"fly"' "$T/body" "400 names parameter and value"
[ "$(code "$B/v1/check?service=storage")" = 400 ] && ok "missing subscription 400" || not_ok "missing subscription"
[ "$(code "$B/v1/check?subscription=$S&service=storage&colour=red")" = 400 ] && ok "unknown parameter 400" || not_ok "unknown parameter"
[ "$(code "$B/v1/check?subscription=%zz&service=storage")" = 400 ] && ok "bad escape 400" || not_ok "bad escape"
[ "$(code "$B/v2/anything")" = 404 ] && ok "unknown path 404" || not_ok "404"
[ "$(code -X POST "$B/v1/check")" = 405 ] && ok "POST 405" || not_ok "405"
long=$(head -c 3000 /dev/zero | tr '\0' a)
[ "$(code "$B/v1/check?subscription=$long")" = 414 ] && ok "long URL 414" || not_ok "414"
[ "$(code -X GET -H 'Content-Length: 5000' --data-binary @<(head -c 5000 /dev/zero) "$B/v1/status")" = 413 ] && ok "large body 413" || not_ok "413"
# keep-alive: two requests over one connection
curl -s -v "$B/v1/status" "$B/v1/status" >/dev/null 2>"$T/v"
expect_grep "Re-using existing connection" "$T/v" "keep-alive reuses the connection"
finish
