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
  # shellcheck disable=SC2086
  same_sums "$kind" 1000 $files
}
check clean
check dirty --dirty
grep -q "replaced" "$T/out" && ok "dirty: restated month replaced the original" || not_ok "no restatement seen"

# The clean months joined into one file: one ingest of thousands of
# blocks, more than the packer's ring holds (ingest.c, PACK_SLOTS), so
# the packer and the inserting thread wait for each other.  Its monthly
# sums equal the independent computation and the daily rollups of its
# blocks sum to its monthly rollups.
J=$T/joined.csv W=$T/ws-joined
{
  head -1 "$T/clean/usage/focus-2024-03.csv"
  for x in "$T"/clean/usage/focus-20*.csv*; do
    case "$x" in *.gz) gzip -dc "$x" ;; *) cat "$x" ;; esac | tail -n +2
  done
} >"$J"
"$CUSTOS" -w "$W" init >/dev/null
expect_exit 0 "joined: directory" -- "$CUSTOS" -w "$W" ingest directory "$T/clean/directory/"*.csv
expect_exit 0 "joined: ingest" -- "$CUSTOS" -w "$W" ingest usage "$J"
blocks=$(sqlite3 "$W/custos.db" "SELECT count(*) FROM usage_blocks")
[ "$blocks" -gt 1000 ] && ok "joined: $blocks blocks" || not_ok "joined: only $blocks blocks"
same_sums joined 1000 "$J"
# The daily rollups (from the blocks) summed by month, exactly.
"$CUSTOS" -w "$W" -q usage --by account,service,region,day --format csv | tail -n +2 |
  python3 -c '
import sys, collections
from decimal import Decimal
s = collections.OrderedDict()
for line in sys.stdin:
    f = line.rstrip("\n").split(",")
    k = tuple(f[:3] + [f[3][:7]] + f[4:6])
    v = s.setdefault(k, [Decimal(0)] * 3 + [0])
    for i in range(3):
        v[i] += Decimal(f[6 + i])
    v[3] += int(f[9])
for k, v in s.items():
    print(",".join(list(k) + [str(v[0].normalize()), str(v[1].normalize()), str(v[2].normalize()), str(v[3])]))
' | sort >"$T/daily.joined"
python3 - "$T/custos.joined" "$T/daily.joined" <<'PY' && ok "joined: daily rollups sum to the monthly ones" || not_ok "joined: daily and monthly differ"
import sys
from decimal import Decimal
def rows(p):
    out = set()
    for line in open(p):
        f = line.rstrip("\n").split(",")
        out.add(tuple(f[:6] + [Decimal(x) for x in f[6:9]] + [int(f[9])]))
    return out
a, b = rows(sys.argv[1]), rows(sys.argv[2])
sys.exit(0 if a == b and len(a) > 1000 else 1)
PY
finish
