# A raw key comes back every month with a new billing period start, and
# the aggregating thread normalises only the period again for it, keeping
# the rest by the key's other fields.  Rows of one key in several months
# must still give what normalising each raw key in full gives: a bad
# period is reported in its month only (and before a bad region, after a
# null account); the same period written two ways is one period; a null
# word as meter takes the SKU, which the raw key leaves out, so a new SKU
# is a new meter; a field the key does not hold but whose length is
# checked (a SKU behind a meter, an amount) rejects its row in the month
# it is too long, not in the others; and rows of a key already seen in
# a month are judged on their own SKU, region name and lengths too.
source "$(dirname "$0")/lib.sh"
export LC_ALL=C
expect_exit 0 "gen" -- "$CUSTOS" gen --seed 5 --scale 10000 --out "$T/g"
W=$T/ws
expect_exit 0 "init" -- "$CUSTOS" -w "$W" init
python3 - "$T" <<'EOF'
import csv, glob, sys
t = sys.argv[1]
src = sorted(glob.glob(t + "/g/usage/focus-*.csv"))[0]
with open(src, newline="", encoding="utf-8-sig") as f:
    rows = list(csv.reader(f))
head, tpl = rows[0], rows[1]
col = {n: i for i, n in enumerate(head)}
out = []
def row(period, day, **kw):
    r = tpl[:]
    r[col["BillingPeriodStart"]] = period
    r[col["ChargePeriodStart"]] = day + "T00:00:00Z"
    r[col["ChargePeriodEnd"]] = day + "T23:00:00Z"
    r[col["ResourceId"]] = ""
    r[col["ConsumedQuantity"]] = "1"
    r[col["PricingQuantity"]] = "1"
    for k, v in kw.items():
        r[col[k]] = v
    out.append(r)
MAR, APR, MAY = "2024-03-01T00:00:00Z", "2024-04-01T00:00:00Z", "2024-05-01T00:00:00Z"
row(MAR, "2024-03-02", SkuId="key-a")                        # 2 ok
row("in april", "2024-04-02", SkuId="key-a")                 # 3 bad period
row(APR, "2024-04-03", SkuId="key-a")                        # 4 ok
row("2024-04-01", "2024-04-03", SkuId="key-a")               # 5 ok, same rollup
row(MAR, "2024-03-02", SkuId="key-b", RegionId="atlantis-9") # 6 region
row("in april", "2024-04-02", SkuId="key-b", RegionId="atlantis-9")  # 7 period
row(MAY, "2024-05-02", SkuId="key-b", RegionId="atlantis-9") # 8 region
row(MAR, "2024-03-02", SkuId="key-c", BillingAccountId="NULL")  # 9 account
row("in april", "2024-04-02", SkuId="key-c", BillingAccountId="NULL")  # 10 account
row(MAR, "2024-03-02", SkuMeter="NULL", SkuId="sku-one")     # 11 ok
row(APR, "2024-04-02", SkuMeter="NULL", SkuId="sku-two")     # 12 ok
row(MAR, "2024-03-02", SkuMeter="meter-e", SkuId="e")        # 13 ok
row(APR, "2024-04-02", SkuMeter="meter-e", SkuId="e" * 1100) # 14 too long
row(MAY, "2024-05-02", SkuMeter="meter-e", SkuId="e")        # 15 ok
row(MAR, "2024-03-02", SkuMeter="meter-f")                   # 16 ok
row(APR, "2024-04-02", SkuMeter="meter-f", ConsumedQuantity="1." + "0" * 1100)  # 17
row(MAY, "2024-05-02", SkuMeter="meter-f")                   # 18 ok
# Rows of a key already seen that month: judged on their own bytes.
row(MAR, "2024-03-03", SkuMeter="NULL", SkuId="sku-three")   # 19 ok, new meter
row(MAR, "2024-03-04", SkuMeter="meter-e", SkuId="e" * 1100) # 20 too long
row(MAR, "2024-03-05", SkuMeter="meter-f", ConsumedQuantity="1." + "0" * 1100)  # 21
row(MAR, "2024-03-02", SkuId="key-g", RegionId="NULL", RegionName="West Europe")  # 22 ok
row(MAR, "2024-03-03", SkuId="key-g", RegionId="NULL", RegionName="Atlantis Deep")  # 23
with open(t + "/undated.csv", "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(head)
    w.writerows(out)
EOF
expect_exit 0 "ingest" -- "$CUSTOS" -w "$W" ingest usage "$T/undated.csv" --max-reject-ratio 1
id=$(sqlite3 "$W/custos.db" "SELECT max(source_id) FROM usage_sources")
n=$(sqlite3 "$W/custos.db" "SELECT rows || ' ' || rejected FROM usage_sources WHERE source_id=$id")
[ "$n" = "22 11" ] && ok "rows and rejects counted" || not_ok "rows and rejects: $n"
expect_exit 0 "rejects listed" -- "$CUSTOS" -w "$W" sources --rejects "$id"
sed -n "s/.*undated.csv:\([0-9]*\):[0-9]*: field '\([A-Za-z]*\)'.*/\1 \2/p" \
  "$T/out" >"$T/rejects"
printf '%s\n' "3 BillingPeriodStart" "6 RegionId" "7 BillingPeriodStart" \
  "8 RegionId" "9 BillingAccountId" "10 BillingAccountId" "14 SkuId" \
  "17 ConsumedQuantity" "20 SkuId" "21 ConsumedQuantity" "23 RegionName" \
  >"$T/want"
if cmp -s "$T/rejects" "$T/want"; then
  ok "each reject at its line and field, in order"
else
  not_ok "rejects differ"
  diff "$T/rejects" "$T/want" || true
  sed 's/^/    /' "$T/out"
fi
m=$(sqlite3 "$W/custos.db" "SELECT group_concat(value, ' ') FROM (SELECT value FROM usage_dims WHERE kind='meter' AND value LIKE 'sku-%' ORDER BY value)")
[ "$m" = "sku-one sku-three sku-two" ] && ok "a null meter takes each row's SKU" || not_ok "meters: $m"
finish
