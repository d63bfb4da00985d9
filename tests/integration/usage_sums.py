#!/usr/bin/env python3
"""Independent sums of FOCUS usage files, for test_usage_sums.sh.

Reads the files in the order given (a later file covering the same
billing account and billing period replaces the earlier one's rows, as
custos does), and prints CSV lines in the shape of
`custos usage --by account,service,region,month --format csv`:
account,service,region,month,qty_unit,currency,quantity,billed,effective,rows
with exact decimal arithmetic (Decimal), independent of custos's code.
Usage: usage_sums.py REGIONS_CSV FILE...
"""
import csv
import decimal
import gzip
import sys
from collections import defaultdict
from decimal import Decimal

decimal.getcontext().prec = 60


def norm(s):
    return "".join(ch for ch in s.casefold() if ch not in " -_")


def load_regions(path):
    aliases = {}
    with open(path, encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            rid = r["region_id"]
            names = [rid, rid.split(":", 1)[1], r["display_name"]]
            names += [a for a in r["aliases"].split("|") if a]
            for a in names:
                aliases.setdefault(norm(a), set()).add(rid)
    return aliases


UNITS = {"gb-month": "GB-month", "gb-months": "GB-month",
         "gb/month": "GB-month", "gb-mo": "GB-month", "hours": "hours",
         "gb": "GB", "tokens": "tokens", "characters": "characters",
         "requests": "requests", "gb-seconds": "GB-seconds",
         "operations": "operations"}


def unit(s):
    s = s.strip().lower()
    mult = 1
    head, _, rest = s.partition(" ")
    if head[:1].isdigit() and rest:
        k = {"k": 1000, "m": 10**6}.get(head[-1], 1)
        mult = int(head.rstrip("km")) * k
        s = rest
    return UNITS.get(s, s), mult


def null(v):
    return v in ("", "NULL", "null")


def main():
    aliases = load_regions(sys.argv[1])
    # (account, period) -> the rows of the last file that covers it
    covered = {}
    for path in sys.argv[2:]:
        opener = gzip.open if open(path, "rb").read(2) == b"\x1f\x8b" else open
        mine = defaultdict(list)
        with opener(path, "rt", encoding="utf-8-sig", newline="") as f:
            for r in csv.DictReader(f):
                mine[(r["BillingAccountId"], r["BillingPeriodStart"][:10])].append(r)
        covered.update(mine)
    sums = defaultdict(lambda: [Decimal(0), Decimal(0), Decimal(0), 0])
    for rows in covered.values():
        for r in rows:
            reg = r["RegionId"] if not null(r["RegionId"]) else r["RegionName"]
            rid = ""
            if not null(reg):
                ids = aliases.get(norm(reg), set())
                if len(ids) != 1:
                    ids = aliases.get(norm("azure:" + reg), set())
                rid = next(iter(ids))
            q, u = r["ConsumedQuantity"], r["ConsumedUnit"]
            if null(q):
                q, u = r["PricingQuantity"], r["PricingUnit"]
            name, mult = unit(u)
            key = (r["BillingAccountId"], r["ServiceName"], rid,
                   r["ChargePeriodStart"][:7], name, r["BillingCurrency"])
            s = sums[key]
            s[0] += (Decimal(q) if not null(q) else 0) * mult
            s[1] += Decimal(r["BilledCost"])
            s[2] += Decimal(r["EffectiveCost"])
            s[3] += 1

    def fmt(d):
        t = format(d.normalize(), "f")
        return "0" if t in ("-0", "0") else t

    for key in sorted(sums):
        s = sums[key]
        print(",".join(key) + "," + ",".join([fmt(s[0]), fmt(s[1]), fmt(s[2]),
                                              str(s[3])]))


main()
