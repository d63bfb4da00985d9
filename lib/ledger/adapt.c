/*
 * Adapters: which export a header belongs to (FOCUS 1.0-preview to 1.2,
 * Azure EA or MCA cost export, AWS CUR 2.0) and which of its columns holds
 * each field custos reads.  Header names are matched without regard to
 * case, so Azure's EA (PascalCase) and MCA (camelCase) sets share a table.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ledgerInt.h"

typedef struct colmap {
  const char *name;
  int field;
} colmap;

/* Earlier entries for a field win over later ones (alternative names). */
static const colmap focus_map[] = {
    {"BillingAccountId", LF_ACCOUNT},
    {"SubAccountId", LF_SUBACCOUNT},
    {"ServiceName", LF_SERVICE},
    {"ServiceCategory", LF_CATEGORY},
    {"ServiceSubcategory", LF_SUBCATEGORY},
    {"SkuMeter", LF_METER},
    {"SkuId", LF_SKU},
    {"RegionId", LF_REGION},
    {"Region", LF_REGION}, /* 1.0-preview */
    {"RegionName", LF_REGION_NAME},
    {"ChargePeriodStart", LF_CHARGE_START},
    {"BillingPeriodStart", LF_PERIOD_START},
    {"ConsumedQuantity", LF_QTY},
    {"UsageQuantity", LF_QTY}, /* 1.0-preview */
    {"ConsumedUnit", LF_QTY_UNIT},
    {"UsageUnit", LF_QTY_UNIT}, /* 1.0-preview */
    {"PricingQuantity", LF_PQTY},
    {"PricingUnit", LF_PUNIT},
    {"BilledCost", LF_BILLED},
    {"EffectiveCost", LF_EFFECTIVE},
    {"AmortizedCost", LF_EFFECTIVE}, /* 0.5 and early previews */
    {"BillingCurrency", LF_CURRENCY},
    {"ChargeCategory", LF_CHARGE_CATEGORY},
    {"ChargeType", LF_CHARGE_CATEGORY}, /* 1.0-preview */
    {"ProviderName", LF_PROVIDER},
    {"ResourceId", LF_RESOURCE_ID},
    {"ResourceName", LF_RESOURCE_NAME},
    {"ResourceType", LF_RESOURCE_TYPE},
    {"Tags", LF_TAGS},
};

/* Every FOCUS 1.0-1.2 column (and the 1.0-preview names), so that only
 * columns outside the specification are reported. */
static const char *const focus_known[] = {
    "AvailabilityZone", "BilledCost", "BillingAccountId", "BillingAccountName",
    "BillingAccountType", "BillingCurrency", "BillingPeriodEnd",
    "BillingPeriodStart", "CapacityReservationId",
    "CapacityReservationStatus", "ChargeCategory", "ChargeClass",
    "ChargeDescription", "ChargeFrequency", "ChargePeriodEnd",
    "ChargePeriodStart", "ChargeSubcategory", "ChargeType",
    "CommitmentDiscountCategory", "CommitmentDiscountId",
    "CommitmentDiscountName", "CommitmentDiscountQuantity",
    "CommitmentDiscountStatus", "CommitmentDiscountType",
    "CommitmentDiscountUnit", "ConsumedQuantity", "ConsumedUnit",
    "ContractedCost", "ContractedUnitPrice", "EffectiveCost", "AmortizedCost",
    "InvoiceId", "InvoiceIssuerName", "InvoiceIssuer", "ListCost",
    "ListUnitPrice", "PricingCategory", "PricingCurrency",
    "PricingCurrencyContractedUnitPrice", "PricingCurrencyEffectiveCost",
    "PricingCurrencyListUnitPrice", "PricingQuantity", "PricingUnit",
    "ProviderName", "Provider", "PublisherName", "Publisher", "RegionId",
    "RegionName", "Region", "ResourceId", "ResourceName", "ResourceType",
    "ServiceCategory", "ServiceName", "ServiceSubcategory", "SkuId",
    "SkuMeter", "SkuPriceDetails", "SkuPriceId", "SubAccountId",
    "SubAccountName", "SubAccountType", "Tags", "UsageQuantity", "UsageUnit",
};

static const colmap azure_map[] = {
    {"BillingAccountId", LF_ACCOUNT},
    {"SubscriptionId", LF_SUBACCOUNT},
    {"SubscriptionGuid", LF_SUBACCOUNT},
    {"MeterCategory", LF_SERVICE},
    {"MeterSubCategory", LF_SUBCATEGORY},
    {"MeterName", LF_METER},
    {"MeterId", LF_SKU},
    {"ResourceLocation", LF_REGION},
    {"MeterRegion", LF_REGION_NAME},
    {"Date", LF_CHARGE_START},
    {"UsageDateTime", LF_CHARGE_START},
    {"BillingPeriodStartDate", LF_PERIOD_START},
    {"Quantity", LF_QTY},
    {"UsageQuantity", LF_QTY},
    {"UnitOfMeasure", LF_QTY_UNIT},
    {"CostInBillingCurrency", LF_BILLED},
    {"Cost", LF_BILLED},
    {"PreTaxCost", LF_BILLED},
    {"BillingCurrencyCode", LF_CURRENCY},
    {"BillingCurrency", LF_CURRENCY},
    {"Currency", LF_CURRENCY},
    {"ChargeType", LF_CHARGE_CATEGORY},
    {"ResourceId", LF_RESOURCE_ID},
    {"InstanceId", LF_RESOURCE_ID},
    {"InstanceName", LF_RESOURCE_ID},
    {"ResourceName", LF_RESOURCE_NAME},
    {"ConsumedService", LF_RESOURCE_TYPE},
    {"Tags", LF_TAGS},
};

static const char *const azure_known[] = {
    "InvoiceSectionName", "AccountName", "AccountOwnerId", "SubscriptionName",
    "ResourceGroup", "ResourceGroupName", "ProductName", "Product",
    "EffectivePrice", "CostCenter", "OfferId", "AdditionalInfo",
    "ServiceInfo1", "ServiceInfo2", "ReservationId", "ReservationName",
    "UnitPrice", "ProductOrderId", "ProductOrderName", "Term",
    "PublisherType", "PublisherName", "PublisherId", "Frequency",
    "PricingModel", "AvailabilityZone", "BillingAccountName",
    "BillingPeriodEndDate", "BillingProfileId", "BillingProfileName",
    "InvoiceSectionId", "IsAzureCreditEligible", "PartNumber", "PayGPrice",
    "PlanName", "CostAllocationRuleName", "benefitId", "benefitName",
    "CostInUsd", "CostInPricingCurrency", "PaygCostInBillingCurrency",
    "PaygCostInUsd", "ExchangeRatePricingToBilling", "ExchangeRateDate",
    "PricingCurrency", "InvoiceId", "PreviousInvoiceId", "ResellerName",
    "ResellerMpnId", "ServicePeriodStartDate", "ServicePeriodEndDate",
    "ProductId", "CustomerTenantId", "CustomerName", "PartnerTenantId",
    "PartnerName", "Location", "ResourceType", "MeterCategory",
    "DepartmentName", "DepartmentId", "AccountId", "EnrollmentNumber",
    "ResourceRate", "ConsumedQuantity", "StoreServiceIdentifier",
    "ExtendedCost", "MeterSubCategory", "ServiceFamily",
};

static const colmap aws_map[] = {
    {"bill_payer_account_id", LF_ACCOUNT},
    {"line_item_usage_account_id", LF_SUBACCOUNT},
    {"product_servicename", LF_SERVICE},
    {"line_item_product_code", LF_SERVICE},
    {"product_servicecode", LF_SERVICE},
    {"line_item_usage_type", LF_METER},
    {"product_sku", LF_SKU},
    {"product_region_code", LF_REGION},
    {"product_location", LF_REGION_NAME},
    {"line_item_usage_start_date", LF_CHARGE_START},
    {"bill_billing_period_start_date", LF_PERIOD_START},
    {"line_item_usage_amount", LF_QTY},
    {"pricing_unit", LF_QTY_UNIT},
    {"line_item_unblended_cost", LF_BILLED},
    {"line_item_net_unblended_cost", LF_EFFECTIVE},
    {"line_item_currency_code", LF_CURRENCY},
    {"line_item_line_item_type", LF_CHARGE_CATEGORY},
    {"line_item_resource_id", LF_RESOURCE_ID},
    {"resource_tags", LF_TAGS},
};

static const char *const aws_prefixes[] = {
    "bill_",     "line_item_",   "pricing_", "product",      "reservation_",
    "savings_plan_", "discount", "identity_", "resource_tags", "cost_category",
    "split_line_item_", "capacity_reservation_",
};

static bool has(const char *const *names, const size_t *lens, size_t n,
                const char *want) {
  size_t wl = strlen(want);
  for (size_t i = 0; i < n; i++)
    if (lens[i] == wl && strncasecmp(names[i], want, wl) == 0)
      return true;
  return false;
}

static bool in_list(const char *const *list, size_t nl, const char *s,
                    size_t n) {
  for (size_t i = 0; i < nl; i++)
    if (strlen(list[i]) == n && strncasecmp(list[i], s, n) == 0)
      return true;
  return false;
}

static void note_unknown(cu_ledger_adapter *a, const char *s, size_t n) {
  size_t used = strlen(a->unknown);
  if (used + n + 3 >= sizeof a->unknown) {
    if (used + 4 < sizeof a->unknown && !strstr(a->unknown, "..."))
      strcat(a->unknown, ",...");
    return;
  }
  snprintf(a->unknown + used, sizeof a->unknown - used, "%s%.*s",
           used ? "," : "", (int)n, s);
}

static void apply_map(cu_ledger_adapter *a, const colmap *map, size_t nmap,
                      const char *const *names, const size_t *lens,
                      size_t n) {
  for (size_t m = 0; m < nmap; m++) {
    int f = map[m].field;
    if (a->col[f] >= 0)
      continue;
    size_t wl = strlen(map[m].name);
    for (size_t i = 0; i < n; i++) {
      if (lens[i] == wl && strncasecmp(names[i], map[m].name, wl) == 0) {
        a->col[f] = (int)i;
        a->colname[f] = map[m].name;
        break;
      }
    }
  }
}

custos_rc cu_ledger_adapter_init(cu_ledger_adapter *a, cu_ledger_format want,
                                 const char *const *names, const size_t *lens,
                                 size_t n, custos_diag *d) {
  memset(a, 0, sizeof *a);
  for (int f = 0; f < LF_COUNT; f++) {
    a->col[f] = -1;
    a->colname[f] = "";
  }
  a->ncols = n;
  cu_ledger_format fmt = want;
  if (fmt == CU_LEDGER_AUTO) {
    if (has(names, lens, n, "BilledCost") &&
        has(names, lens, n, "BillingAccountId"))
      fmt = CU_LEDGER_FOCUS;
    else if (has(names, lens, n, "line_item_usage_start_date") ||
             has(names, lens, n, "bill_payer_account_id"))
      fmt = CU_LEDGER_AWS;
    else if (has(names, lens, n, "MeterCategory") ||
             has(names, lens, n, "CostInBillingCurrency"))
      fmt = CU_LEDGER_AZURE;
    else {
      cu_diag_hint(d, "custos reads FOCUS 1.0-1.2, Azure cost exports and AWS "
                      "CUR 2.0 CSV files; see docs/formats-usage.md");
      return cu_diag_set(d, CUSTOS_EPARSE,
                         "header is not one of a known usage export");
    }
  }
  a->format = fmt;
  const char *const *known = NULL;
  size_t nknown = 0;
  switch (fmt) {
  case CU_LEDGER_FOCUS: {
    apply_map(a, focus_map, CU_ARRAY_LEN(focus_map), names, lens, n);
    known = focus_known;
    nknown = CU_ARRAY_LEN(focus_known);
    const char *v = "1.0-preview";
    if (has(names, lens, n, "BillingAccountType") ||
        has(names, lens, n, "InvoiceId") ||
        has(names, lens, n, "PricingCurrency"))
      v = "1.2";
    else if (has(names, lens, n, "ServiceSubcategory") ||
             has(names, lens, n, "SkuMeter") ||
             has(names, lens, n, "CapacityReservationId"))
      v = "1.1";
    else if (has(names, lens, n, "ConsumedQuantity") ||
             has(names, lens, n, "ChargeClass"))
      v = "1.0";
    snprintf(a->name, sizeof a->name, "focus-%s", v);
    break;
  }
  case CU_LEDGER_AZURE:
    apply_map(a, azure_map, CU_ARRAY_LEN(azure_map), names, lens, n);
    known = azure_known;
    nknown = CU_ARRAY_LEN(azure_known);
    a->provider = "azure";
    /* MCA exports name their columns in camelCase and have billing
     * profiles; EA exports have enrolments or departments. */
    {
      bool camel = n && names[0][0] >= 'a' && names[0][0] <= 'z';
      bool profile = has(names, lens, n, "BillingProfileName") &&
                     !has(names, lens, n, "AccountOwnerId");
      snprintf(a->name, sizeof a->name, "%s",
               camel || profile ? "azure-mca" : "azure-ea");
    }
    break;
  case CU_LEDGER_AWS:
    apply_map(a, aws_map, CU_ARRAY_LEN(aws_map), names, lens, n);
    a->provider = "aws";
    snprintf(a->name, sizeof a->name, "aws-cur-2.0");
    break;
  case CU_LEDGER_AUTO:
    return cu_diag_set(d, CUSTOS_EINTERNAL, "no format");
  }
  /* Report unknown columns once; x_ columns are provider extensions. */
  for (size_t i = 0; i < n; i++) {
    if (lens[i] >= 2 && (names[i][0] == 'x' || names[i][0] == 'X') &&
        names[i][1] == '_')
      continue;
    bool mapped = false;
    for (int f = 0; f < LF_COUNT; f++)
      if (a->col[f] == (int)i)
        mapped = true;
    if (mapped)
      continue;
    if (fmt == CU_LEDGER_AWS) {
      bool ok = false;
      for (size_t p = 0; p < CU_ARRAY_LEN(aws_prefixes); p++)
        if (lens[i] >= strlen(aws_prefixes[p]) &&
            strncasecmp(names[i], aws_prefixes[p], strlen(aws_prefixes[p])) ==
                0)
          ok = true;
      if (!ok)
        note_unknown(a, names[i], lens[i]);
    } else if (!in_list(known, nknown, names[i], lens[i])) {
      note_unknown(a, names[i], lens[i]);
    }
  }
  static const int required[] = {LF_ACCOUNT, LF_SERVICE, LF_CHARGE_START,
                                 LF_BILLED};
  for (size_t r = 0; r < CU_ARRAY_LEN(required); r++) {
    if (a->col[required[r]] < 0) {
      const colmap *map = fmt == CU_LEDGER_FOCUS   ? focus_map
                          : fmt == CU_LEDGER_AZURE ? azure_map
                                                   : aws_map;
      size_t nmap = fmt == CU_LEDGER_FOCUS   ? CU_ARRAY_LEN(focus_map)
                    : fmt == CU_LEDGER_AZURE ? CU_ARRAY_LEN(azure_map)
                                             : CU_ARRAY_LEN(aws_map);
      const char *want_name = "?";
      for (size_t m = 0; m < nmap; m++)
        if (map[m].field == required[r]) {
          want_name = map[m].name;
          break;
        }
      cu_diag_field(d, want_name, NULL, 0);
      cu_diag_hint(d, "a %s export must have this column", a->name);
      return cu_diag_set(d, CUSTOS_EPARSE, "required column missing");
    }
  }
  return CUSTOS_OK;
}

const char *cu_ledger_format_name(cu_ledger_format f) {
  switch (f) {
  case CU_LEDGER_AUTO:
    return "auto";
  case CU_LEDGER_FOCUS:
    return "focus";
  case CU_LEDGER_AZURE:
    return "azure";
  case CU_LEDGER_AWS:
    return "aws";
  }
  return "auto";
}

custos_rc cu_ledger_format_parse(const char *s, cu_ledger_format *out,
                                 custos_diag *d) {
  static const cu_ledger_format all[] = {CU_LEDGER_AUTO, CU_LEDGER_FOCUS,
                                         CU_LEDGER_AZURE, CU_LEDGER_AWS};
  for (size_t i = 0; i < CU_ARRAY_LEN(all); i++) {
    if (strcmp(s, cu_ledger_format_name(all[i])) == 0) {
      *out = all[i];
      return CUSTOS_OK;
    }
  }
  cu_diag_field(d, "format", s, strlen(s));
  cu_diag_hint(d, "use auto, focus, azure or aws");
  return cu_diag_set(d, CUSTOS_EINVAL, "unknown usage format");
}
