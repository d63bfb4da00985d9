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

# join_usage GEN_DIR OUT: every monthly FOCUS export of a `custos gen`
# output (some gzipped) as one file with one header, for a long ingest.
join_usage() {
  {
    head -1 "$1/usage/focus-2024-03.csv"
    for f in "$1"/usage/focus-*.csv*; do
      case "$f" in *.gz) gzip -dc "$f" ;; *) cat "$f" ;; esac | tail -n +2
    done
  } >"$2"
}

finish() {
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
}

# same_sums LABEL MIN FILE...: the sums per account, service, region and
# month of the workspace $W equal those usage_sums.py computes over FILE...
# on its own, exactly, and there are more than MIN of them.
same_sums() {
  local label=$1 min=$2 n
  shift 2
  "$CUSTOS" -w "$W" -q usage --by account,service,region,month --format csv |
    tail -n +2 | sort >"$T/custos.$label"
  python3 "$CUSTOS_SOURCE_DIR/tests/integration/usage_sums.py" \
    "$CUSTOS_SOURCE_DIR/data/regions.csv" "$@" | sort >"$T/python.$label"
  n=$(wc -l <"$T/python.$label")
  if [ "$n" -gt "$min" ] && cmp -s "$T/custos.$label" "$T/python.$label"; then
    ok "$label: $n sums equal the independent computation"
  else
    not_ok "$label: sums differ ($n lines)"
    diff "$T/custos.$label" "$T/python.$label" | head -10
  fi
}

# story_reviewed: in the current folder, the generated small story (seed 7)
# with a workspace at $CUSTOS_WORKSPACE holding its directory and usage,
# case-0001 opened from its allegation, one usage evidence and one finding
# per claim (claims 1 and 2 supported, 3 not); what enforcement starts from.
story_reviewed() {
  "$CUSTOS" -q gen --seed 7 --scale small --out data
  "$CUSTOS" -q init
  "$CUSTOS" -q ingest directory data/directory/*.csv
  "$CUSTOS" -q ingest usage data/usage/*
  "$CUSTOS" -q case open --allegation data/allegation.md
  "$CUSTOS" -q evidence add case-0001 --claim 1 --usage --unit arv-mod-sig --category Storage --by month,region
  "$CUSTOS" -q evidence add case-0001 --claim 2 --usage --unit arv-mod-sig --category "AI and Machine Learning" --by month,service
  "$CUSTOS" -q evidence add case-0001 --claim 3 --usage --unit arv-mod-cyb --by category,service
  "$CUSTOS" -q finding case-0001 --claim 1 --judgement supported --rationale "storage grew" --evidence 1
  "$CUSTOS" -q finding case-0001 --claim 2 --judgement supported --rationale "speech and translation" --evidence 2
  "$CUSTOS" -q finding case-0001 --claim 3 --judgement not-supported --rationale "security services only" --evidence 3
}
