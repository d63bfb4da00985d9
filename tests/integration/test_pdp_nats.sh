# The decision point over NATS with a real nats-server (JetStream on, a
# temporary store, a free port on 127.0.0.1), started and stopped here:
# a block reaches every watcher; a broker restart loses no change; a
# watcher restarted from its snapshot resumes from its revision without a
# full reload; a watcher cut off beyond the lag bound fails open or closed
# as configured.
source "$(dirname "$0")/lib.sh"
command -v nats-server >/dev/null || { not_ok "nats-server not installed (scripts/install-deps)"; finish; }
command -v curl >/dev/null || { not_ok "curl not installed"; finish; }

W=$T/ws
NPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=nats://127.0.0.1:$NPORT
NATS_PID=""
PUB_PID=""
declare -A SRV_PID SRV_PORT

cleanup() {
  for pid in "${SRV_PID[@]}" $PUB_PID $NATS_PID; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${SRV_PID[@]}" $PUB_PID $NATS_PID; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$T"
}
trap cleanup EXIT

# wait_for SECONDS COMMAND...: retries COMMAND every 50 ms.
wait_for() {
  local n=$(($1 * 20))
  shift
  while [ "$n" -gt 0 ]; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.05
    n=$((n - 1))
  done
  return 1
}

start_nats() {
  nats-server -js -a 127.0.0.1 -p "$NPORT" -sd "$T/js" >>"$T/nats.log" 2>&1 &
  NATS_PID=$!
  wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$NPORT" || { not_ok "nats-server did not start"; cat "$T/nats.log"; }
}
stop_nats() {
  kill "$NATS_PID"
  wait "$NATS_PID" 2>/dev/null || true
  NATS_PID=""
}

# start_point NAME [serve options...]: a watcher with its own snapshot.
start_point() {
  local name=$1
  shift
  # A restarted point must not be taken for up by its last run's line.
  rm -f "$T/$name.out"
  "$CUSTOS" serve --nats "$URL" --listen 127.0.0.1:0 --point "$name" \
    --snapshot "$T/$name.snap" --max-lag 1000 "$@" >"$T/$name.out" 2>"$T/$name.err" &
  SRV_PID[$name]=$!
  wait_for 10 grep -q "listening on port" "$T/$name.out" || { not_ok "$name did not start"; cat "$T/$name.err"; }
  SRV_PORT[$name]=$(awk '{print $4}' "$T/$name.out")
}
stop_point() {
  kill "${SRV_PID[$1]}"
  wait "${SRV_PID[$1]}" 2>/dev/null || true
  unset "SRV_PID[$1]"
}
get() { curl -s --max-time 5 "http://127.0.0.1:${SRV_PORT[$1]}$2"; }
check_url() { echo "/v1/check?subscription=$1&service=$2&region=azure:westeurope&operation=${3:-create}"; }
rev() { sqlite3 "$W/custos.db" "SELECT MAX(revision) FROM pdp_blocks"; }

S1=5d0c9a3e-1b2f-4e6a-8c7d-9e0f1a2b3c4d
S2=0a1b2c3d-4e5f-4a6b-8c9d-0e1f2a3b4c5d
S3=7f6e5d4c-3b2a-4190-8f7e-6d5c4b3a2918
OK=6b5a4f3e-2d1c-4b0a-9f8e-7d6c5b4a3f2e

expect_exit 0 "init" -- "$CUSTOS" -w "$W" init
start_nats
"$CUSTOS" -w "$W" publish --nats "$URL" --heartbeat 100 >"$T/pub.out" 2>"$T/pub.err" &
PUB_PID=$!
start_point closed --fail storage=closed
start_point open
start_point third

# 1. A block published reaches every watcher.
expect_exit 0 "put a block" -- "$CUSTOS" -w "$W" block put $S1 storage westeurope --effect deny-all --owner aup --case CASE-11
expect_exit 0 "effective everywhere" -- "$CUSTOS" -w "$W" block effective --nats "$URL" --wait 10
expect_grep "effective everywhere (3 of 3 points)" "$T/out" "all three points applied revision $(rev)"
for p in closed open third; do
  get $p "$(check_url $S1 storage read)" >"$T/c.json"
  expect_grep '"decision":"deny"' "$T/c.json" "$p denies the blocked subscription"
  expect_grep '"case":"CASE-11"' "$T/c.json" "$p names the case"
  get $p "$(check_url $OK storage read)" >"$T/c.json"
  expect_grep '"decision":"allow"' "$T/c.json" "$p allows everyone else"
done
expect_exit 5 "custos check over NATS denies" -- "$CUSTOS" check --nats "$URL" $S1 storage westeurope read

# 2. A broker restart loses no change: changes made while it is down are
# published when it is back, and every watcher gets them.
stop_nats
expect_exit 0 "put while the broker is down" -- "$CUSTOS" -w "$W" block put $S2 "*" "*" --effect read-only --owner legal --case CASE-12
expect_exit 0 "lift while the broker is down" -- "$CUSTOS" -w "$W" block lift $S1 storage westeurope --owner aup
start_nats
expect_exit 0 "effective everywhere after the broker restart" -- "$CUSTOS" -w "$W" block effective --nats "$URL" --wait 20
for p in closed open third; do
  get $p "$(check_url $S2 ai write)" >"$T/c.json"
  expect_grep '"effect":"read-only"' "$T/c.json" "$p got the block put during the outage"
  get $p "$(check_url $S1 storage read)" >"$T/c.json"
  expect_grep '"decision":"allow"' "$T/c.json" "$p got the lift made during the outage"
done

# 3. A watcher restarted from its snapshot resumes from its revision.
before=$(rev)
stop_point third
expect_exit 0 "put while a watcher is down" -- "$CUSTOS" -w "$W" block put $S3 ai westeurope --effect deny-new --owner billing --case CASE-13
start_point third
expect_exit 0 "effective everywhere after the watcher restart" -- "$CUSTOS" -w "$W" block effective --nats "$URL" --wait 10
get third /v1/status >"$T/s.json"
expect_grep "\"resumed_from\":$before" "$T/s.json" "third resumed from revision $before"
expect_grep '"full_loads":0' "$T/s.json" "third did not reload everything"
get third "$(check_url $S3 ai create)" >"$T/c.json"
expect_grep '"owner":"billing"' "$T/c.json" "third has the block made while it was down"

# 4. Cut off beyond the lag bound (1000 ms): storage fails closed on the
# point configured so, open on the other.
stop_nats
# Wait for both points to notice (the bound is 1000 ms; a loaded machine
# may take longer to run their tickers), rather than sleeping a fixed time.
for p in closed open; do
  wait_for 15 bash -c "curl -s 'http://127.0.0.1:${SRV_PORT[$p]}/v1/status' | grep -q '\"state\":\"stale\"'" \
    || not_ok "$p point did not go stale"
done
get closed "$(check_url $OK storage read)" >"$T/c.json"
expect_grep '"reason":"fail-closed"' "$T/c.json" "cut-off point with storage=closed denies storage"
get closed "$(check_url $OK ai read)" >"$T/c.json"
expect_grep '"decision":"allow"' "$T/c.json" "cut-off point still allows services that fail open"
get open "$(check_url $OK storage read)" >"$T/c.json"
expect_grep '"decision":"allow"' "$T/c.json" "cut-off point failing open allows"
expect_grep '"stale":true' "$T/c.json" "and says the answer is stale"
get open "$(check_url $S3 ai create)" >"$T/c.json"
expect_grep '"decision":"deny"' "$T/c.json" "failing open still applies the blocks it has"
get open /v1/status >"$T/s.json"
expect_grep '"state":"stale"' "$T/s.json" "status reports the feed stale"
start_nats
wait_for 10 bash -c "curl -s 'http://127.0.0.1:${SRV_PORT[closed]}/v1/status' | grep -q '\"state\":\"live\"'" && ok "back to live after reconnecting" || not_ok "not live after reconnecting"
get closed "$(check_url $OK storage read)" >"$T/c.json"
expect_grep '"decision":"allow"' "$T/c.json" "fail-closed point allows again once live"
finish
