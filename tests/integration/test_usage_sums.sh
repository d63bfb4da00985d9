# Sums of quantity, billed and effective cost per account, service,
# region and month from custos equal an independent computation (Python,
# Decimal) over the same generated files, exactly: on clean data and on
# --dirty data (NULLs, date forms, E-notation, unit spellings, region
# aliases, BOM, CRLF, gzip, a restated month).
source "$(dirname "$0")/lib.sh"
export LC_ALL=C
check() {
  local kind=$1 out=$T/$1 W=$T/ws-$1
  shift
  expect_exit 0 "gen $kind" -- "$CUSTOS" gen --seed 11 --scale 20000 --out "$out" "$@"
  "$CUSTOS" -w "$W" init >/dev/null
  # The directory of the clean world: --dirty writes NULL as the parent of
  # some root units, which the directory refuses.
  expect_exit 0 "directory" -- "$CUSTOS" -w "$W" ingest directory "$T/clean/directory/"*.csv
  # The restated month comes after the month it restates.
  local files
  files=$(ls "$out"/usage/focus-*.csv* | grep -v restated)
  [ -e "$out/usage/focus-2025-06-restated.csv" ] && files="$files $out/usage/focus-2025-06-restated.csv"
  # shellcheck disable=SC2086
  expect_exit 0 "ingest $kind usage" -- "$CUSTOS" -w "$W" ingest usage $files
  "$CUSTOS" -w "$W" -q usage --by account,service,region,month --format csv | tail -n +2 | sort >"$T/custos.$kind"
  # shellcheck disable=SC2086
  python3 "$CUSTOS_SOURCE_DIR/tests/integration/usage_sums.py" "$CUSTOS_SOURCE_DIR/data/regions.csv" $files | sort >"$T/python.$kind"
  local n
  n=$(wc -l <"$T/python.$kind")
  if [ "$n" -gt 1000 ] && cmp -s "$T/custos.$kind" "$T/python.$kind"; then
    ok "$kind: $n sums equal the independent computation"
  else
    not_ok "$kind: sums differ ($n lines)"
    diff "$T/custos.$kind" "$T/python.$kind" | head -10
  fi
}
check clean
check dirty --dirty
grep -q "replaced" "$T/out" && ok "dirty: restated month replaced the original" || not_ok "no restatement seen"
finish
