# Sourced by the ledger benchmarks: focus_file CUSTOS SEED ROWS DIR makes
# DIR/g with `custos gen` and joins its monthly FOCUS 1.2 exports (some
# gzipped) into one file, DIR/focus.csv, with one header.
focus_file() {
  local custos=$1 seed=$2 rows=$3 dir=$4
  "$custos" gen --seed "$seed" --scale "$rows" --out "$dir/g" >/dev/null
  {
    head -1 "$dir/g/usage/focus-2024-03.csv"
    for x in "$dir"/g/usage/focus-20*.csv*; do
      case "$x" in *.gz) gzip -dc "$x" ;; *) cat "$x" ;; esac | tail -n +2
    done
  } >"$dir/focus.csv"
}
