# Notices through the real binary and real servers on loopback: an SMTP
# server (aiosmtpd, Debian's python3-aiosmtpd) and a webhook receiver, both
# started and stopped here.  A delivery that fails stays in the outbox and
# is retried; nothing is lost; the message is read back from the server.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SMTP_PORT=$(free_port)
HOOK_PORT=$(free_port)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$T"' EXIT
wait_port() { for _ in $(seq 1 100); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }

W=$T/ws
expect_exit 0 "init" -- "$CUSTOS" -w "$W" init
expect_exit 0 "configure smtp and webhook" -- "$CUSTOS" -w "$W" notify config \
  --smtp "smtp://127.0.0.1:$SMTP_PORT" --from "trust-and-safety@stratus.example" \
  --webhook="http://127.0.0.1:$HOOK_PORT/notices" --max-attempts 5
printf 'Dear customer,\n\nthe services listed below were disabled.\n.\nA line with a single dot stays.\n' >"$T/body.txt"
printf '{"case":"case-0001","disabled":3}' >"$T/hook.json"
expect_exit 0 "queue an e-mail" -- "$CUSTOS" -w "$W" notify queue --to anouk@mod.arvelia.example \
  --subject "Notice of suspension – Stratus Cloud" --body-file "$T/body.txt" --key notice-1 --case case-0001
expect_exit 0 "queue a webhook" -- "$CUSTOS" -w "$W" notify queue --webhook --subject "suspension" \
  --body-file "$T/hook.json" --key hook-1 --case case-0001
expect_exit 0 "queue the same key again" -- "$CUSTOS" -w "$W" notify queue --to x@y.example \
  --subject other --body-file "$T/body.txt" --key notice-1
expect_grep "already queued" "$T/out" "one notice per idempotency key"
expect_exit 3 "header injection refused" -- "$CUSTOS" -w "$W" notify queue --to x@y.example \
  --subject "$(printf 'a\r\nBcc: z@z.example')" --body-file "$T/body.txt" --key notice-x

# Servers down: both deliveries fail, nothing is lost.
expect_exit 5 "send with servers down" -- "$CUSTOS" -w "$W" notify send --all
expect_grep "will retry 2" "$T/out" "both notices wait for a retry"
expect_exit 0 "list" -- "$CUSTOS" -w "$W" --json notify list
expect_grep '"status": "pending"' "$T/out" "notices stay in the outbox"
expect_grep 'last_error' "$T/out" "the error is recorded"
expect_exit 0 "not yet due" -- "$CUSTOS" -w "$W" notify send
expect_grep "not yet due 2" "$T/out" "back-off holds the retry"

mkdir -p "$T/mail/cur" "$T/mail/new" "$T/mail/tmp"
$PY -m aiosmtpd -n -c aiosmtpd.handlers.Mailbox -l "127.0.0.1:$SMTP_PORT" "$T/mail" &
PIDS+=($!)
KEY=$("$CUSTOS" -w "$W" notify key)
$PY "$CUSTOS_SOURCE_DIR/tests/integration/webhook_server.py" "$HOOK_PORT" "$KEY" 1 "$T/hooks.log" &
PIDS+=($!)
wait_port "$SMTP_PORT" && wait_port "$HOOK_PORT" && ok "servers up" || not_ok "servers did not start"

expect_exit 5 "send: mail goes, webhook answers 500 once" -- "$CUSTOS" -w "$W" notify send --all
expect_grep "sent 1, will retry 1" "$T/out" "one sent, one retried"
expect_exit 0 "send again" -- "$CUSTOS" -w "$W" notify send --all
expect_grep "sent 1, will retry 0" "$T/out" "the webhook goes through on retry"

msg=$(find "$T/mail" -type f -path '*/new/*' | head -1)
[ -n "$msg" ] && ok "the SMTP server received a message" || not_ok "no message in the mailbox"
if [ -n "$msg" ]; then
  expect_grep "To: anouk@mod.arvelia.example" "$msg" "recipient header"
  expect_grep "Message-ID: <notice-1@stratus.example>" "$msg" "Message-ID carries the idempotency key"
  expect_grep "=?UTF-8?B?" "$msg" "non-ASCII subject is RFC 2047 encoded"
  expect_grep "A line with a single dot stays." "$msg" "body arrives whole"
  $PY - "$msg" >"$T/subject" <<'PYEOF'
import email, email.header, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"))
print(str(email.header.make_header(email.header.decode_header(m["Subject"]))))
PYEOF
  expect_grep "Notice of suspension – Stratus Cloud" "$T/subject" "subject decodes to the original"
fi
expect_grep '"status": 200, "signature_ok": true, "idempotency_key": "hook-1"' "$T/hooks.log" "webhook signed and keyed"
n=$(grep -c '"idempotency_key": "hook-1"' "$T/hooks.log")
[ "$n" -eq 2 ] && ok "webhook tried twice under one key" || not_ok "webhook attempts: $n"
expect_exit 0 "list after delivery" -- "$CUSTOS" -w "$W" --json notify list
[ "$(grep -c '"status": "sent"' "$T/out")" -eq 2 ] && ok "both notices sent" || not_ok "not all sent"
events=$(sqlite3 "$W/custos.db" "SELECT group_concat(type, ' ') FROM (SELECT type FROM events WHERE type LIKE 'notice.%' ORDER BY seq)")
[ "$events" = "notice.queue notice.queue notice.attempt notice.attempt notice.sent notice.attempt notice.sent" ] \
  && ok "every attempt is on the record" || not_ok "events: $events"
finish
