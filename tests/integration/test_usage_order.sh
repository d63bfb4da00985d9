# Rows in any order give the same rollups.  A dimension set keeps its
# rollups in a window indexed by day, grown as its days come, and in an
# overflow table for days too sparse for the window and for a day that is
# in two billing periods; exports come in day order, which is the fast
# path.  Here the rows of one generated export come in day order, in
# reverse (each window grows downwards), shuffled, on every tenth day
# only (sparse sets), and with some days repeated in the next billing
# period (a window slot taken by another period): the sums by month equal
# the independent computation of test_usage_sums.sh, and the daily sums of
# the reordered files equal those of the file in order.  In one more
# file every other day of each resource is another resource of the same
# raw key (a raw entry remembers its last row's resource): each resource
# has the rows, first and last day of an independent count.  A made-up file
# has three meters on every fortieth day (too sparse for a window), then
# on every day, those days again among them: the window grows over the
# days in the overflow table, which move into it, and each day has one
# rollup.
source "$(dirname "$0")/lib.sh"
export LC_ALL=C
expect_exit 0 "gen" -- "$CUSTOS" gen --seed 5 --scale 20000 --out "$T/g"
join_usage "$T/g" "$T/inorder.csv"
python3 - "$T" <<'EOF'
import csv, datetime, random, sys
t = sys.argv[1]
with open(t + "/inorder.csv", newline="", encoding="utf-8-sig") as f:
    rows = list(csv.reader(f))
head, body = rows[0], rows[1:]
col = {n: i for i, n in enumerate(head)}
cs, bs, be = col["ChargePeriodStart"], col["BillingPeriodStart"], col["BillingPeriodEnd"]
def day(r):
    return datetime.date.fromisoformat(r[cs][:10]).toordinal()
def write(name, rs):
    with open(t + "/" + name + ".csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(head)
        w.writerows(rs)
write("reverse", body[::-1])
shuffled = body[:]
random.Random(7).shuffle(shuffled)
write("shuffled", shuffled)
write("sparse", [r for r in body if day(r) % 10 == 0])
# Every seventh row again, billed in the month after.
def next_month(s):
    d = datetime.date.fromisoformat(s[:10])
    d = (d.replace(day=1) + datetime.timedelta(days=32)).replace(day=1)
    return d.isoformat() + s[10:]
twice = []
for i, r in enumerate(body):
    twice.append(r)
    if i % 7 == 0:
        c = r[:]
        c[bs], c[be] = next_month(r[bs]), next_month(r[be])
        twice.append(c)
write("twice", twice)
rid = col["ResourceId"]
shared = []
for r in body:
    c = r[:]
    if day(r) % 2 and c[rid] not in ("", "NULL", "null"):
        c[rid] += "-b"
    shared.append(c)
write("shared", shared)
for v in ("inorder", "shared"):
    with open(t + "/" + v + ".csv", newline="", encoding="utf-8") as f:
        res = {}
        for r in list(csv.reader(f))[1:]:
            if r[rid] in ("", "NULL", "null"):
                continue
            d = day(r) - datetime.date(1970, 1, 1).toordinal()
            x = res.setdefault(r[rid], [d, d, 0])
            x[0], x[1], x[2] = min(x[0], d), max(x[1], d), x[2] + 1
    with open(t + "/resources-python." + v, "w") as f:
        for x in sorted(res.values()):
            f.write("%d|%d|%d\n" % tuple(x))
picks, seen = [], set()
for r in body:
    m = (r[col["SubAccountId"]], r[col["SkuMeter"]])
    if m not in seen and len(picks) < 3:
        seen.add(m)
        picks.append(r)
ce = col["ChargePeriodEnd"]
def stamp(d):
    return d.isoformat() + "T00:00:00Z"
filled = []
for k in list(range(0, 600, 40)) + list(range(600)):
    d = datetime.date(2024, 3, 1) + datetime.timedelta(days=k)
    for r in picks:
        c = r[:]
        c[cs], c[ce] = stamp(d), stamp(d + datetime.timedelta(days=1))
        c[bs], c[be] = stamp(d.replace(day=1)), next_month(stamp(d.replace(day=1)))
        filled.append(c)
write("filled", filled)
EOF
daily() {
  "$CUSTOS" -w "$1" -q usage --by day,account,subscription,service,meter,region --format csv
}
for v in inorder reverse shuffled sparse twice shared filled; do
  W=$T/ws-$v
  "$CUSTOS" -w "$W" init >/dev/null
  "$CUSTOS" -w "$W" ingest directory "$T"/g/directory/*.csv >/dev/null
  expect_exit 0 "ingest $v" -- "$CUSTOS" -w "$W" ingest usage "$T/$v.csv"
  same_sums "$v" 20 "$T/$v.csv"
done
expect_grep "1845 rows, 0 rejected, 1800 rollups" "$T/out" "filled: a rollup per meter and day"
for v in inorder shared; do
  sqlite3 "$T/ws-$v/custos.db" \
    "SELECT first_day, last_day, rows FROM usage_resources ORDER BY 1, 2, 3" \
    >"$T/resources-custos.$v"
  if [ "$(wc -l <"$T/resources-custos.$v")" -gt 1000 ] &&
    cmp -s "$T/resources-custos.$v" "$T/resources-python.$v"; then
    ok "$v: resources' days and rows equal an independent count"
  else
    not_ok "$v: resources differ"
    diff "$T/resources-custos.$v" "$T/resources-python.$v" | head -10
  fi
done
daily "$T/ws-inorder" >"$T/daily.inorder"
for v in reverse shuffled; do
  daily "$T/ws-$v" >"$T/daily.$v"
  if [ "$(wc -l <"$T/daily.$v")" -gt 1000 ] && cmp -s "$T/daily.inorder" "$T/daily.$v"; then
    ok "$v: daily sums equal those of the file in order"
  else
    not_ok "$v: daily sums differ"
    diff "$T/daily.inorder" "$T/daily.$v" | head -10
  fi
done
finish
