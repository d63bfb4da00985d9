# The case report and statement through the real binary on the demo story:
# the HTML renders in headless Chromium (Debian's chromium) without errors
# and a screenshot is taken; the proof bundles verify offline; the
# statement says what was done and what was not affected.
source "$(dirname "$0")/lib.sh"
cd "$T"
export CUSTOS_WORKSPACE=$T/ws
expect_exit 0 "the demo story" -- "$CUSTOS" demo --out demo
export CUSTOS_WORKSPACE=$T/demo/ws
expect_exit 0 "report" -- "$CUSTOS" --json report case-0001 -o rep
for f in rep/index.html rep/report.md rep/log.vkey; do
  [ -s "$f" ] && ok "$f written" || not_ok "$f missing"
done
expect_grep "<svg" rep/index.html "the page has inline SVG charts"
expect_grep "Storage by region per month" rep/index.html "storage chart"
expect_grep "AI and Machine Learning services per month" rep/index.html "AI chart"
expect_grep "Stays running" rep/index.html "what stays running is in the report"
expect_grep "Microsoft Sentinel" rep/report.md "the Markdown lists the cyber unit's services"
grep -q "<script" rep/index.html && not_ok "the report has scripts" || ok "self-contained, no scripts"
grep -Eq "(src|href)=\"https?:" rep/index.html && not_ok "the report loads from the network" || ok "no external resources"
n=0
for p in rep/proofs/*.tlog-proof; do
  if "$CUSTOS" log verify "$p" --vkey "$(cat rep/log.vkey)" >/dev/null 2>&1; then n=$((n + 1)); else not_ok "proof $p"; fi
done
[ "$n" -ge 5 ] && ok "$n proofs verify offline" || not_ok "only $n proofs"
expect_exit 0 "statement" -- "$CUSTOS" statement case-0001 -o statement.md
expect_grep "did not access the content of any customer" statement.md "no customer content accessed"
expect_grep "ceased and disabled 4 subscription services" statement.md "what was ceased"
expect_grep "Security" statement.md "what was not affected, by category"
expect_grep "Verifier key:" statement.md "the checkpoint anchors it"

if command -v chromium >/dev/null; then
  timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$T/chromium" --enable-logging=stderr --v=0 \
    --window-size=1100,2400 --screenshot="$T/report.png" "file://$T/rep/index.html" \
    >"$T/chromium.out" 2>"$T/chromium.err" || true
  [ -s "$T/report.png" ] && ok "screenshot taken ($(stat -c %s "$T/report.png") bytes)" || not_ok "no screenshot"
  if grep -E "CONSOLE|Uncaught|Failed to load resource|net::ERR" "$T/chromium.err"; then
    not_ok "the page logged errors"
  else
    ok "the page rendered without errors"
  fi
  timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$T/chromium" --dump-dom "file://$T/rep/index.html" >"$T/dom.html" 2>/dev/null || true
  expect_grep "Claims and findings" "$T/dom.html" "the rendered DOM has the claims matrix"
  mkdir -p "$CUSTOS_BUILD_DIR/screenshots" && cp "$T/report.png" "$CUSTOS_BUILD_DIR/screenshots/report.png" 2>/dev/null || true
else
  not_ok "chromium is not installed (scripts/install-deps installs it)"
fi
finish
