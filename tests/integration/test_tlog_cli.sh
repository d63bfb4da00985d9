#!/usr/bin/env bash
# custos log from the command line: help everywhere, proofs that verify
# offline, and refusals with clear errors for wrong or malformed keys, a
# tampered folder, a missing witness cosignature and entries that do not
# exist.
set -euo pipefail
: "${CUSTOS:?set CUSTOS to the custos binary}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ws=$tmp/ws

expect() { # expect CODE PATTERN CMD...: exit code and message on stderr
  local code=$1 pat=$2
  shift 2
  set +e
  "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  set -e
  if [ "$rc" -ne "$code" ] || ! grep -q -- "$pat" "$tmp/err"; then
    echo "FAIL: $* gave $rc (want $code, '$pat')"
    cat "$tmp/err"
    exit 1
  fi
}

echo "check: --help for every subcommand"
for s in key checkpoint sync append show prove consistency verify fsck; do
  "$CUSTOS" log "$s" --help | grep -q "usage: custos log $s"
done

echo "check: init, notes, verify, proofs"
"$CUSTOS" -q -w "$ws" init
key=$("$CUSTOS" -w "$ws" log key --origin ignored.example 2>/dev/null || true)
[ -z "$key" ] || { echo "FAIL: origin changed after creation"; exit 1; }
key=$("$CUSTOS" -w "$ws" log key)
"$CUSTOS" -q -w "$ws" log append "note" --count 700 --batch 300 >/dev/null
"$CUSTOS" log verify "$ws/log" --vkey "$key" | grep -q '^size 702$'  # workspace.init, policy.version, 700 notes
echo "$key" >"$tmp/vkey"
"$CUSTOS" log verify "$ws/log" --vkey "@$tmp/vkey" >/dev/null
"$CUSTOS" -w "$ws" log prove 512 -o "$tmp/p.tlog-proof"
"$CUSTOS" log verify "$tmp/p.tlog-proof" --vkey "$key" | grep -q 'entry 512'
"$CUSTOS" -w "$ws" log show 700 --json | grep -q '"index": 700'

echo "check: malformed and wrong keys are refused"
name=${key%%+*}
rest=${key#*+}
id=${rest%%+*}
b64=${rest#*+}
expect 3 "malformed key" "$CUSTOS" log verify "$ws/log" --vkey "$name+$id+${b64:0:10}+${b64:10}"
expect 3 "malformed key" "$CUSTOS" log verify "$ws/log" --vkey "$name+$id+${b64}A"
expect 3 "key ID" "$CUSTOS" log verify "$ws/log" --vkey "$name+00000000+$b64"
other=$("$CUSTOS" -q -w "$tmp/ws2" init && "$CUSTOS" -w "$tmp/ws2" log key)
expect 5 "no signature from a known key" "$CUSTOS" log verify "$ws/log" --vkey "$other"
expect 5 "no signature from a known key" "$CUSTOS" log verify "$tmp/p.tlog-proof" --vkey "$other"

echo "check: a required witness that did not cosign"
wkey=$(python3 - "$other" <<'PY'
import sys, base64, hashlib
name, kid, b = sys.argv[1].split('+', 2)
raw = bytearray(base64.b64decode(b)); raw[0] = 4
kid = hashlib.sha256(name.encode() + b'\n' + bytes(raw)).digest()[:4].hex()
print(f"{name}+{kid}+{base64.b64encode(bytes(raw)).decode()}")
PY
)
expect 5 "cosignature" "$CUSTOS" log verify "$ws/log" --vkey "$key" --witness "$wkey"

echo "check: entries that do not exist"
expect 4 "no entry" "$CUSTOS" -w "$ws" log show 702
expect 4 "not in the tree" "$CUSTOS" -w "$ws" log prove 5 --size 3

echo "check: a tampered folder is refused"
cp -r "$ws/log" "$tmp/copy"
printf 'X' | dd of="$tmp/copy/tile/entries/001" bs=1 seek=40 conv=notrunc 2>/dev/null
expect 5 "tile/.*001" "$CUSTOS" log verify "$tmp/copy" --vkey "$key"
cp "$ws/log/checkpoint" "$tmp/cp"
sed -i '2s/702/701/' "$tmp/copy/checkpoint"
expect 5 "does not verify" "$CUSTOS" log verify "$tmp/copy" --vkey "$key"
echo "ok"
