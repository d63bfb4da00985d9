# Evidence through the real binary: a usage query, a search of internal
# mail and documents, and one record, each pinned to a claim with the digest
# of what it returned, each query on the record; and the refusals.
source "$(dirname "$0")/lib.sh"
cd "$T"
export CUSTOS_WORKSPACE=$T/ws CUSTOS_ACTOR=reviewer.a
"$CUSTOS" -q gen --seed 7 --scale small --out data
"$CUSTOS" -q init
"$CUSTOS" -q ingest directory data/directory/*.csv
"$CUSTOS" -q ingest usage data/usage/*
"$CUSTOS" -q ingest mail data/mail/finance.mbox data/mail/account-team --custodian account-team
"$CUSTOS" -q ingest docs data/docs --custodian sales
"$CUSTOS" -q case open --allegation data/allegation.md
expect_exit 0 "usage evidence" -- "$CUSTOS" --json evidence add case-0001 --claim 1 --usage --unit arv-mod-sig --category Storage --by month
expect_exit 0 "search evidence" -- "$CUSTOS" --json evidence add case-0001 --claim 1 --search "arvelia storage"
expect_grep '"evidence": 2' "$T/out" "the search is evidence 2"
expect_exit 0 "record evidence" -- "$CUSTOS" evidence add case-0001 --claim 2 --record 1
expect_grep "raw sha256" "$T/out" "the record is pinned by its raw SHA-256"
expect_exit 0 "case show" -- "$CUSTOS" --json case show case-0001
for k in usage search record; do
  expect_grep "\"kind\": \"$k\"" "$T/out" "evidence of kind $k in the case"
done
n=$(sqlite3 "$T/ws/custos.db" "SELECT COUNT(*) FROM events WHERE case_id='case-0001' AND type IN ('query.usage','query.search','query.show')")
[ "$n" -ge 3 ] && ok "every query behind the evidence is recorded with the case ($n)" || not_ok "$n recorded queries"
# The search digest is the digest a rerun gives.
d1=$(sqlite3 "$T/ws/custos.db" "SELECT result_sha256 FROM evidence WHERE id=2")
"$CUSTOS" --json evidence add case-0001 --claim 1 --search "arvelia storage" >"$T/again"
grep -q "$d1" "$T/again" && ok "re-running the search gives the same digest" || not_ok "digest changed"
expect_exit 4 "an unknown record" -- "$CUSTOS" evidence add case-0001 --claim 1 --record 999999
expect_exit 4 "an unknown claim" -- "$CUSTOS" evidence add case-0001 --claim 9 --search storage
expect_exit 2 "a claim number out of range" -- "$CUSTOS" evidence add case-0001 --claim 4294967297 --search storage
expect_exit 2 "two kinds at once" -- "$CUSTOS" evidence add case-0001 --claim 1 --usage --search storage
expect_exit 4 "an unknown case" -- "$CUSTOS" evidence add case-9999 --claim 1 --search storage
finish
