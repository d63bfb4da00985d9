# Shared helpers of the integration tests: a temporary folder removed at
# exit, check/expect helpers that print what they check, and the binary.
set -euo pipefail
: "${CUSTOS:?set CUSTOS to the custos binary}"
: "${CUSTOS_SOURCE_DIR:?set CUSTOS_SOURCE_DIR}"
T=$(mktemp -d /tmp/custos-it-XXXXXX)
trap 'rm -rf "$T"' EXIT
export CUSTOS_ACTOR=integration-test
DATA=$CUSTOS_SOURCE_DIR/tests/integration/data
PASSED=0
FAILED=0

ok() { echo "ok - $*"; PASSED=$((PASSED + 1)); }
not_ok() { echo "not ok - $*"; FAILED=$((FAILED + 1)); }

# expect_exit CODE DESCRIPTION -- COMMAND...: runs COMMAND, keeps stdout in
# $T/out and stderr in $T/err, and checks its exit code.
expect_exit() {
  local want=$1 what=$2
  shift 3
  local got=0
  "$@" >"$T/out" 2>"$T/err" || got=$?
  if [ "$got" -eq "$want" ]; then
    ok "$what (exit $got)"
  else
    not_ok "$what: exit $got, wanted $want"
    sed 's/^/    stderr: /' "$T/err" | head -20
  fi
}

# expect_grep PATTERN FILE DESCRIPTION
expect_grep() {
  if grep -qF -- "$1" "$2"; then
    ok "$3"
  else
    not_ok "$3: '$1' not in $(basename "$2")"
    sed 's/^/    /' "$2" | head -20
  fi
}

finish() {
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
}
