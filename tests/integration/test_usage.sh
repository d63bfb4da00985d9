# Usage ingest and queries through the real binary: one small file per
# pitfall of real billing exports (versions, nulls, dates, decimals, units,
# regions, Azure and AWS column sets, BOM/CRLF, gzip), restatement, refusal
# with nothing stored, pseudonymised free text and recorded queries.
source "$(dirname "$0")/lib.sh"
U=$DATA/usage
W=$T/ws

# fresh: a new workspace with the test directory in it.
fresh() {
  rm -rf "$W"
  "$CUSTOS" -w "$W" init >/dev/null
  "$CUSTOS" -w "$W" ingest directory "$DATA"/directory/{accounts,units,subscriptions}.csv >/dev/null
}
# sums FILE BY: ingest FILE into a fresh workspace and print the query as CSV.
sums() {
  fresh
  expect_exit 0 "ingest $1" -- "$CUSTOS" -w "$W" ingest usage "$U/$1"
  "$CUSTOS" -w "$W" -q usage --by "$2" --format csv >"$T/csv"
}
# has LINE DESCRIPTION: the last query printed LINE.
has() { expect_grep "$1" "$T/csv" "$2"; }

sums focus-1.2.csv month,region,service
expect_grep "(focus-1.2)" "$T/out" "FOCUS 1.2 detected"
has "2025-06,azure:westeurope,Azure Blob Storage,GB-month,USD,201.75,3.7122,3.7122,2" "1.2 sums"
sums focus-1.1.csv day,service
expect_grep "(focus-1.1)" "$T/out" "FOCUS 1.1 detected"
expect_grep "unknown columns ignored: Vendor_Extra" "$T/err" "unknown column reported"
sums focus-1.0.csv month
expect_grep "(focus-1.0)" "$T/out" "FOCUS 1.0 detected"
has "2025-04,GB-month,USD,7,0.1288,0.1288,1" "1.0 sums"
sums focus-1.0-preview.csv month
expect_grep "(focus-1.0-preview)" "$T/out" "1.0-preview names UsageQuantity/Region read"
has "2025-03,GB-month,USD,5,0.092,0.09,1" "1.0-preview AmortizedCost as effective"

sums nulls.csv region,service
has "azure:westeurope,Azure Blob Storage,GB-month,USD,3,1.5,1.5,2" "NULL region falls back to RegionName; null quantity to PricingQuantity"
has ",Azure Support,units,USD,0,100,100,1" "NULL/empty optional columns are nulls"
sums dates.csv day
has "2025-06-01,GB-month,USD,5,5,5,5" "five date forms of one day meet"
has "2025-06-02,GB-month,USD,1,1,1,1" "offset times are stored as UTC"
sums decimals.csv day
has "2025-06-01,GB-month,USD,8180.768620789,0.001,0.0010000002,3" "E-notation, negatives, half-even rounding"
expect_grep "rounded half to even" "$T/err" "rounding is reported"
sums units.csv service
has "Azure Blob Storage,GB-month,USD,4,4,4,4" "GB-Months, GB/Month, GB-Mo, GB-Month are one unit"
has "Azure OpenAI Service,tokens,USD,5000,2,2,2" "1000 Tokens and 1K Tokens scaled to tokens"
has "Azure Key Vault,units,USD,20000,1,1,1" "bare block size 10K"
has "Azure AI Speech,hours,USD,2,2,2,2" "Hours (of audio) and Hrs are hours"
sums regions.csv region,country
has "azure:westeurope,NL,GB-month,USD,5,5,5,5" "region aliases resolve to one region in NL"
has ",,GB,USD,1,1,1,1" "global has no region"
has "gcp:europe-west4,NL,GB-month,USD,1,1,1,1" "GCP region through the catalogue"

sums azure-ea.csv day,service,region
expect_grep "(azure-ea)" "$T/out" "Azure EA detected"
has "2025-06-02,Storage,azure:westeurope,GB-month,USD,50,0.92,0.92,1" "MM/DD/YYYY dates and 1 GB/Month"
tags=$(sqlite3 "$W/custos.db" "SELECT tags FROM usage_resources WHERE tags LIKE '%project%'")
case "$tags" in '{"env":"p:'*'"project":"p:'*) ok "tags without outer braces parsed and pseudonymised";; *) not_ok "tags: $tags";; esac
sums azure-mca.csv month,country
expect_grep "(azure-mca)" "$T/out" "Azure MCA detected"
has "2025-06,IE,hours,USD,24,4.608,4.608,1" "100 Hours block and camelCase columns"
sums aws-cur2.csv service,region
expect_grep "(aws-cur-2.0)" "$T/out" "AWS CUR 2.0 detected"
has "AmazonTranscribe,aws:eu-central-1,seconds,USD,120,2.88,2.5,1" "CUR net unblended cost as effective"
arn=$(sqlite3 "$W/custos.db" "SELECT resource_id FROM usage_resources WHERE resource_id LIKE 'arn:aws:s3%'")
case "$arn" in 'arn:aws:s3:::p:'*) ok "ARN resource part pseudonymised";; *) not_ok "arn: $arn";; esac
sums bom-crlf.csv day
has "2025-02-02,GB-month,USD,10,0.184,0.184,1" "BOM and CRLF"
sums gzip.csv.gz month
has "2025-01,GB-month,USD,7,0.1288,0.1288,1" "gzip input"

# Free text never reaches the database in the clear.
fresh
expect_exit 0 "ingest 1.2" -- "$CUSTOS" -w "$W" ingest usage "$U/focus-1.2.csv" --custodian billing-ops
dump=$(sqlite3 "$W/custos.db" .dump)
for secret in callarchive rg-secret petra.morrow web-1; do
  case "$dump" in *"$secret"*) not_ok "'$secret' stored in the clear";; *) ok "'$secret' pseudonymised";; esac
done
expect_grep "/subscriptions/s-1/resourceGroups/p:" <(sqlite3 "$W/custos.db" "SELECT resource_id FROM usage_resources") "provider-made parts of resource ids kept"
expect_exit 0 "sources" -- "$CUSTOS" -w "$W" --json sources
expect_grep '"custodian": "billing-ops"' "$T/out" "custodian recorded"
expect_grep "pseudonymise" <(sqlite3 "$W/custos.db" "SELECT free_text FROM sources WHERE class='usage'") "policy recorded with the source"

# Queries are on the record, with the case.
expect_exit 0 "query with case" -- "$CUSTOS" -w "$W" usage --unit u-1 --by unit,service --case case-7
expect_grep "u-1a" "$T/out" "unit filter includes sub-units"
ev=$(sqlite3 "$W/custos.db" "SELECT case_id || ' ' || payload FROM events WHERE type='query.usage' ORDER BY seq DESC LIMIT 1")
case "$ev" in 'case-7 {"kind":"usage","query":{"by":["unit","service"],"unit":"u-1"},"result_sha256":"'*'"results":2}') ok "query recorded with case, query, digest";; *) not_ok "event: $ev";; esac
expect_exit 0 "series" -- "$CUSTOS" -w "$W" --json usage --series u-1
expect_grep '"month": "2025-06"' "$T/out" "monthly series"
expect_exit 0 "filters" -- "$CUSTOS" -w "$W" usage --country NL --category Storage --region weu --from 2025-06-02 --to 2025-07-01 --format csv
expect_grep "GB-month,USD,101.25,1.863,1.863,1" "$T/out" "country, category, region alias and time filters"
expect_exit 3 "bad region filter" -- "$CUSTOS" -w "$W" usage --region atlantis
expect_exit 2 "bad grouping" -- "$CUSTOS" -w "$W" usage --by colour
expect_exit 0 "same file again" -- "$CUSTOS" -w "$W" ingest usage "$U/focus-1.2.csv"
expect_grep "already ingested" "$T/out" "re-ingest is a no-op"

# Restatement: the later source replaces acct-1's June, acct-2 stays.
expect_exit 0 "restated June" -- "$CUSTOS" -w "$W" ingest usage "$U/focus-1.2-restated.csv"
expect_grep "replaced 1 (account, billing period)" "$T/out" "restatement reported"
"$CUSTOS" -w "$W" -q usage --by account --format csv >"$T/csv"
has "acct-1,GB-month,USD,201.75,3.763,3.763,2" "restated figures replace the earlier ones"
has "acct-2,hours,USD,24,4.608,4.608,1" "other accounts keep theirs"
sup=$(sqlite3 "$W/custos.db" "SELECT count(*) FROM usage_coverage WHERE superseded_by IS NOT NULL")
[ "$sup" = 1 ] && ok "older coverage marked superseded" || not_ok "superseded: $sup"
n=$(sqlite3 "$W/custos.db" "SELECT count(*) FROM sources WHERE class='usage' AND status='complete'")
[ "$n" = 2 ] && ok "both sources kept" || not_ok "sources: $n"
# The daily rollups are packed in usage_blocks, indexed as the schema
# made it; the restatement left no block of the superseded coverage.
idx=$(sqlite3 "$W/custos.db" "SELECT group_concat(sql, '|') FROM (SELECT sql FROM sqlite_master WHERE tbl_name='usage_blocks' AND type='index' ORDER BY name)")
[ "$idx" = "CREATE INDEX usage_blocks_account ON usage_blocks(account, period, source_id)|CREATE INDEX usage_blocks_unit ON usage_blocks(unit)" ] &&
  ok "block indexes" || not_ok "block indexes: $idx"
left=$(sqlite3 "$W/custos.db" "SELECT count(*) FROM usage_blocks b JOIN usage_coverage c USING (source_id, account, period) WHERE c.superseded_by IS NOT NULL")
[ "$left" = 0 ] && ok "superseded blocks deleted" || not_ok "superseded blocks: $left"

# A row whose key fields are all near the 1024-byte cap (16 KB of raw key)
# is read and rejected like any other, many rows at a time across the
# reader's batches, with each reject at its own line.
python3 - "$U/focus-1.2.csv" "$T/longkeys.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
head, good = rows[0], rows[1]
long = list(good)
for name in ("BillingAccountType", "ProviderName", "ServiceName", "ServiceCategory",
             "ServiceSubcategory", "SkuId", "SkuMeter", "RegionName", "ChargeCategory",
             "ConsumedUnit", "PricingUnit", "BillingCurrency"):
    long[head.index(name)] = "x" * 1000
long[head.index("RegionId")] = "atlantis-" + "y" * 990
with open(sys.argv[2], "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(head)
    for i in range(3000):
        w.writerow(long if i % 3 == 2 else good)
PY
expect_exit 0 "long key fields" -- "$CUSTOS" -w "$W" ingest usage "$T/longkeys.csv" --max-reject-ratio 0.5
id=$(sqlite3 "$W/custos.db" "SELECT max(id) FROM sources")
n=$(sqlite3 "$W/custos.db" "SELECT rows || ' ' || rejected FROM usage_sources WHERE source_id=$id")
[ "$n" = "3000 1000" ] && ok "long-key rows rejected, others kept" || not_ok "long keys: $n"
expect_exit 0 "long-key rejects listed" -- "$CUSTOS" -w "$W" sources --rejects "$id"
expect_grep "longkeys.csv:4:" "$T/out" "first long-key reject at its line"
expect_grep "longkeys.csv:3001:" "$T/out" "a reject past the first batches at its line"

# A CSV error after several of the reader's batches is reported with its
# place, and nothing of the file is stored.
python3 - "$U/focus-1.2.csv" "$T/lateutf8.csv" <<'PY'
import sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
with open(sys.argv[2], "wb") as f:
    f.write((lines[0] + "\n").encode())
    for i in range(5000):
        f.write((lines[1] + "\n").encode())
    f.write(lines[1].replace("callarchive", "call\xffarchive", 1).encode("latin-1") + b"\n")
PY
nsrc=$(sqlite3 "$W/custos.db" "SELECT count(*) FROM sources")
expect_exit 3 "late invalid UTF-8" -- "$CUSTOS" -w "$W" ingest usage "$T/lateutf8.csv"
expect_grep "lateutf8.csv:5002:" "$T/err" "late CSV error names its line"
[ "$(sqlite3 "$W/custos.db" "SELECT count(*) FROM sources")" = "$nsrc" ] &&
  ok "late CSV error stores nothing" || not_ok "late CSV error registered a source"

# Rollups sum in int128 and are stored as int64: a file whose rollup sums
# beyond int64 is refused at the first such rollup in the file (by its
# first line; two rollups go out of range here, the later one first), and
# a sum that goes beyond int64 and comes back is stored as it ends.
python3 - "$U/focus-1.2.csv" "$T" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
head, good = rows[0], rows[1]
def row(day, cost):
    r = list(good)
    r[head.index("ChargePeriodStart")] = "2025-06-%02dT00:00:00Z" % day
    r[head.index("ChargePeriodEnd")] = "2025-06-%02dT00:00:00Z" % (day + 1)
    r[head.index("BilledCost")] = r[head.index("EffectiveCost")] = cost
    return r
def write(name, rs):
    with open(sys.argv[2] + "/" + name, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(head)
        w.writerows(rs)
big = "900000000"
write("wide.csv", [row(3, "1"), row(1, big), row(2, big), row(2, big),
                   row(1, big), row(4, "1")])
write("back.csv", [row(1, big), row(2, "1"), row(1, big), row(1, "-" + big)])
PY
nsrc=$(sqlite3 "$W/custos.db" "SELECT count(*) FROM sources")
expect_exit 3 "rollup beyond int64" -- "$CUSTOS" -w "$W" ingest usage "$T/wide.csv"
expect_grep "wide.csv:3:" "$T/err" "rollup beyond int64 named at its first line"
expect_grep "rollup total too large" "$T/err" "rollup beyond int64 message"
[ "$(sqlite3 "$W/custos.db" "SELECT count(*) FROM sources")" = "$nsrc" ] &&
  ok "rollup beyond int64 stores nothing" || not_ok "rollup beyond int64 stored"
fresh
expect_exit 0 "sum back within int64" -- "$CUSTOS" -w "$W" ingest usage "$T/back.csv"
b=$("$CUSTOS" -w "$W" -q usage --by day --format csv | cut -d, -f1,5,7 | tail -n +2)
[ "$b" = "$(printf '2025-06-01,900000000,3\n2025-06-02,1,1')" ] &&
  ok "sum back within int64 stored exactly" || not_ok "sum back within int64: $b"

# A row whose quantity times its unit's block size is beyond int64 is
# refused, but its rollup is made all the same (empty), as it always was:
# a later row of its day counts from zero, and a day with only such a
# row keeps an empty rollup.  (A new rollup is otherwise written whole
# with its first row's sums: ingest.c, rollup_new.)
awk -F, 'NR == 1 { print; next }
  NR == 6 {
    for (d = 1; d <= 3; d++) {
      $7 = sprintf("2025-06-%02dT00:00:00Z", d)
      $9 = d == 3 ? "2" : "10000000"; print
      if (d == 1) { $9 = "1"; print }
    }
  }' OFS=, "$U/units.csv" >"$T/bigqty.csv"
fresh
expect_exit 0 "quantities beyond int64 refused" -- "$CUSTOS" -w "$W" ingest usage --max-reject-ratio 1 "$T/bigqty.csv"
expect_grep "4 rows, 2 rejected, 3 rollups" "$T/out" "a refused quantity's rollup is made"
"$CUSTOS" -w "$W" -q usage --by day --format csv >"$T/csv"
has "2025-06-01,tokens,USD,1000,1,1,1" "a refused quantity's rollup counts the day's later row"
has "2025-06-02,tokens,USD,0,0,0,0" "a refused quantity's rollup stays empty"
has "2025-06-03,tokens,USD,2000,1,1,1" "a new rollup with its first row's sums"

# Refusals leave the workspace exactly as it was.
snapshot() { sqlite3 "$W/custos.db" .dump | sha256sum; }
before=$(snapshot)
refuse() {
  local f=$1 code=$2 place=$3
  expect_exit "$code" "refuse $f" -- "$CUSTOS" -w "$W" ingest usage "$U/$f"
  expect_grep "$U/$f:$place" "$T/err" "$f: error names file:line"
  if [ "$(snapshot)" = "$before" ]; then ok "$f: workspace unchanged"; else not_ok "$f: workspace changed"; fi
}
refuse bad-rows.csv 5 "6:"
expect_grep "1 of 10 rows rejected" "$T/err" "reject ratio explained"
expect_grep "not a decimal number" "$T/err" "reason named"
refuse bad-region.csv 5 "2:"
expect_grep "atlantis-9" "$T/err" "bad region value named"
refuse bad-amount.csv 5 "2:"
# A quoted field's column is that of its opening quote, after other
# quoted fields on the line.
refuse bad-quoted.csv 5 "2:125:"
refuse bad-date.csv 5 "2:"
refuse bad-header.csv 3 "1:"
expect_exit 0 "accept with a higher ratio" -- "$CUSTOS" -w "$W" ingest usage "$U/bad-rows.csv" --max-reject-ratio 0.2
id=$(sqlite3 "$W/custos.db" "SELECT max(id) FROM sources")
expect_exit 0 "rejects listed" -- "$CUSTOS" -w "$W" sources --rejects "$id"
expect_grep "bad-rows.csv:6:" "$T/out" "reject kept with file:line"
expect_exit 2 "bad ratio" -- "$CUSTOS" -w "$W" ingest usage "$U/bad-rows.csv" --max-reject-ratio 2
expect_exit 2 "class must fit" -- "$CUSTOS" -w "$W" ingest usage --class mail "$U/focus-1.2.csv"
# Quoted values with doubled quotes, read where they lie in the file's
# mapping (past the reader's first buffer) and unescaped where stored:
# the resource's id, name, type and tags, a meter, and an amount whose
# reject names its value and column.  Free text is kept as it is, so the
# stored values can be written down here.
q=$T/quotes.csv
row=$(sed -n 2p "$U/focus-1.2.csv")
{
  head -1 "$U/focus-1.2.csv"
  for i in $(seq 400); do echo "$row"; done
  echo 'acct-1,Customer Agreement,s-1,Subscription,Stratus Cloud,Azure Blob Storage,Storage,Object Storage,sku-1,"Hot ""LRS"" Data Stored",westeurope,West Europe,Usage,2025-06-03T00:00:00Z,2025-06-04T00:00:00Z,2025-06-01T00:00:00Z,2025-07-01T00:00:00Z,2,GB-Month,2,GB-Month,0.5,0.5,USD,STR-202506-acct-1,"/subscriptions/s-1/resourceGroups/rg-q/providers/Microsoft.Storage/storageAccounts/q""x""","web ""front"" 1","Storage ""Hot"" Account","{""env"":""prod"",""team"":""a\""b""}",rg-q'
  bad_head='acct-1,Customer Agreement,s-1,Subscription,Stratus Cloud,Azure Blob Storage,Storage,Object Storage,sku-1,Hot LRS Data Stored,westeurope,West Europe,Usage,2025-06-04T00:00:00Z,2025-06-05T00:00:00Z,2025-06-01T00:00:00Z,2025-07-01T00:00:00Z,1,GB-Month,1,GB-Month,'
  echo "$bad_head"'"1""2",1,USD,STR-202506-acct-1,r-2,n,t,,rg'
  for i in $(seq 400); do echo "$row"; done
} >"$q"
fresh
sqlite3 "$W/custos.db" "INSERT OR REPLACE INTO meta(key, value) VALUES('boundary.free_text', 'keep')"
expect_exit 0 "doubled quotes ingested" -- "$CUSTOS" -w "$W" ingest usage --max-reject-ratio 1 "$q"
got=$(sqlite3 -separator '|' "$W/custos.db" "SELECT resource_id, name, type, tags FROM usage_resources WHERE name LIKE 'web%'")
want='/subscriptions/s-1/resourceGroups/rg-q/providers/Microsoft.Storage/storageAccounts/q"x"|web "front" 1|Storage "Hot" Account|{"env":"prod","team":"a\"b"}'
if [ "$got" = "$want" ]; then ok "resource id, name, type and tags stored unescaped"; else not_ok "resource: $got"; fi
expect_grep 'Hot "LRS" Data Stored' <(sqlite3 "$W/custos.db" "SELECT value FROM usage_dims WHERE kind = 'meter'") "meter stored unescaped"
id=$(sqlite3 "$W/custos.db" "SELECT max(id) FROM sources")
expect_exit 0 "quote rejects listed" -- "$CUSTOS" -w "$W" sources --rejects "$id"
expect_grep "quotes.csv:403:$(( ${#bad_head} + 1 )):" "$T/out" "reject at the amount's opening quote"
expect_grep '1"2' "$T/out" "rejected amount shown unescaped"
finish
