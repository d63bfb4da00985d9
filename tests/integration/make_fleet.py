# Writes a directory and one FOCUS 1.2 usage file for a customer with N
# subscriptions in one unit, each using blob storage in West Europe, plus
# one subscription in another unit that must stay running.  For the
# enforcement tests that need plans with many targets.
import sys

n, out = int(sys.argv[1]), sys.argv[2]
acct = "acct-fleet"
with open(f"{out}/accounts.csv", "w") as f:
    f.write("account_id,name,country,sector\n")
    f.write(f"{acct},Harbour Authority of Quellin,XC,government\n")
with open(f"{out}/units.csv", "w") as f:
    f.write("unit_id,account_id,parent_unit_id,name\n")
    f.write(f"fleet-hq,{acct},,Headquarters\n")
    f.write(f"fleet-ops,{acct},fleet-hq,Operations\n")
with open(f"{out}/contacts.csv", "w") as f:
    f.write("account_id,name,email,role\n")
    f.write(f"{acct},Ivo Brandt,ivo.brandt@harbour.quellin.example,primary\n")
subs = [f"5eed0000-0000-4000-8000-{i:012x}" for i in range(n)]
with open(f"{out}/subscriptions.csv", "w") as f:
    f.write("subscription_id,account_id,unit_id,name,region,created\n")
    for i, s in enumerate(subs):
        f.write(f"{s},{acct},fleet-ops,ops-{i},westeurope,2024-01-01\n")
    f.write(f"5eed0000-0000-4000-8000-ffffffffffff,{acct},fleet-hq,hq,westeurope,2024-01-01\n")
cols = ("BillingAccountId,SubAccountId,ProviderName,ServiceName,ServiceCategory,"
        "ServiceSubcategory,RegionId,ChargeCategory,ChargePeriodStart,ChargePeriodEnd,"
        "BillingPeriodStart,BillingPeriodEnd,ConsumedQuantity,ConsumedUnit,BilledCost,"
        "EffectiveCost,BillingCurrency")
day = "2025-06-01T00:00:00Z,2025-06-02T00:00:00Z,2025-06-01T00:00:00Z,2025-07-01T00:00:00Z"
with open(f"{out}/usage.csv", "w") as f:
    f.write(cols + "\n")
    for s in subs:
        f.write(f"{acct},{s},Stratus Cloud,Azure Blob Storage,Storage,Object Storage,"
                f"westeurope,Usage,{day},10,GB-Month,0.2,0.2,USD\n")
    f.write(f"{acct},5eed0000-0000-4000-8000-ffffffffffff,Stratus Cloud,Virtual Machines,"
            f"Compute,Virtual Machines,westeurope,Usage,{day},24,Hours,3.1,3.1,USD\n")
