/*
 * gen/usage: the FOCUS 1.2 usage export, one CSV file per billing month
 * (every third month gzip), daily rows streamed series by series.  With
 * --dirty it adds the faults of real exports and a restated month.
 */
#include <stdio.h>
#include <string.h>

#include "gen/genInt.h"

static const char *const focus_columns[] = {
    "AvailabilityZone", "BilledCost", "BillingAccountId", "BillingAccountName",
    "BillingAccountType", "BillingCurrency", "BillingPeriodEnd",
    "BillingPeriodStart", "CapacityReservationId", "CapacityReservationStatus",
    "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargeFrequency",
    "ChargePeriodEnd", "ChargePeriodStart", "CommitmentDiscountCategory",
    "CommitmentDiscountId", "CommitmentDiscountName",
    "CommitmentDiscountQuantity", "CommitmentDiscountStatus",
    "CommitmentDiscountType", "CommitmentDiscountUnit", "ConsumedQuantity",
    "ConsumedUnit", "ContractedCost", "ContractedUnitPrice", "EffectiveCost",
    "InvoiceId", "InvoiceIssuerName", "ListCost", "ListUnitPrice",
    "PricingCategory", "PricingCurrency", "PricingCurrencyContractedUnitPrice",
    "PricingCurrencyEffectiveCost", "PricingCurrencyListUnitPrice",
    "PricingQuantity", "PricingUnit", "ProviderName", "PublisherName",
    "RegionId", "RegionName", "ResourceId", "ResourceName", "ResourceType",
    "ServiceCategory", "ServiceName", "ServiceSubcategory", "SkuId",
    "SkuMeter", "SkuPriceDetails", "SkuPriceId", "SubAccountId",
    "SubAccountName", "SubAccountType", "Tags", "x_ResourceGroupName",
    "x_SkuDescription"};

/* The restated month (--dirty): 2025-06, index 15 in the window. */
#define RESTATED_MONTH 15

/* Faults of one row, decided by a hash of the file and the row number. */
typedef struct row_faults {
  bool nulls;     /* empty optional columns as the literal NULL */
  int dates;      /* 0 canonical, 1 "YYYY-MM-DD HH:MM:SS", 2 ".000Z" */
  bool enote;     /* quantities in E-notation */
  bool bare_tags; /* tags without the outer braces */
  int unit;       /* 0 canonical GB-Month, 1..3 other spellings */
  bool alias;     /* region id as an alias */
} row_faults;

typedef struct month_ctx {
  cu_gen_ctx *c;
  cu_gen_sink *s;
  const char *eol;
  int month;     /* index in the window */
  bool restated; /* the corrected copy */
  uint64_t file_tag;
  char bp_start[32], bp_end[32];
  char period[16]; /* YYYYMM */
} month_ctx;

static void put_date(cu_gen_sink *s, const char *iso, int style) {
  /* iso is "YYYY-MM-DDTHH:MM:SSZ" */
  if (style == 1) {
    cu_gen_put(s, iso, 10);
    cu_gen_putc(s, ' ');
    cu_gen_put(s, iso + 11, 8);
  } else if (style == 2) {
    cu_gen_put(s, iso, 19);
    cu_gen_puts(s, ".000Z");
  } else {
    cu_gen_puts(s, iso);
  }
}

static void put_opt(cu_gen_sink *s, const row_faults *f) {
  if (f->nulls)
    cu_gen_puts(s, "NULL");
  cu_gen_putc(s, ',');
}

static void put_qty(cu_gen_sink *s, const row_faults *f, int64_t micro) {
  if (f->enote)
    cu_gen_put_dec_e(s, micro, 6);
  else
    cu_gen_put_dec(s, micro, 6);
}

static int64_t cost_e10(int64_t qty_micro, int64_t price_micro) {
  /* micro * micro = 1e-12; round half up to 1e-10. */
  __int128 p = (__int128)qty_micro * price_micro;
  return (int64_t)((p + 50) / 100);
}

static void write_row(month_ctx *mc, const cu_gen_series *se, int day,
                      const char *cp_start, const char *cp_end,
                      uint64_t rowno) {
  cu_gen_ctx *c = mc->c;
  const cu_gen_world *w = c->w;
  cu_gen_sink *s = mc->s;
  const cu_gen_sub *sub = &w->sub[se->sub];
  const cu_gen_account *ac = &w->acc[sub->account];
  const cu_gen_meter *m = &cu_gen_meters[se->meter];
  const cu_gen_region *rg = &cu_gen_regions[se->region];
  row_faults f = {0};
  if (w->dirty) {
    uint64_t h = cu_gen_hash(w->seed, GEN_S_DIRTY, mc->file_tag, rowno);
    f.nulls = h % 100 < 3;
    f.dates = (h >> 8) % 100 < 4 ? 1 : (h >> 8) % 100 < 8 ? 2 : 0;
    f.enote = (h >> 16) % 100 < 3;
    f.bare_tags = (h >> 24) % 100 < 4;
    f.unit = (h >> 32) % 100 < 15 ? 1 + (int)((h >> 40) % 3) : 0;
    f.alias = (h >> 48) % 100 < 5;
  }
  uint64_t salt = 0;
  if (mc->restated &&
      cu_gen_hash(w->seed, GEN_S_RESTATE, (uint64_t)(se - w->ser),
                  (uint64_t)day) % 100 < 2)
    salt = GEN_S_RESTATE; /* a corrected figure */
  int64_t cq = cu_gen_series_qty(w, se, day, salt);
  int64_t pq = cq / m->block;
  int64_t list_price = m->price;
  int64_t con_price = list_price * (100 - ac->discount) / 100;
  int64_t list_cost = cost_e10(pq, list_price);
  int64_t con_cost = cost_e10(pq, con_price);
  char buf[64], cost[48], cprice[48], lprice[48];
  cu_gen_fmt_dec(cost, sizeof cost, con_cost, 10);
  cu_gen_fmt_dec(cprice, sizeof cprice, con_price, 6);
  cu_gen_fmt_dec(lprice, sizeof lprice, list_price, 6);

  put_opt(s, &f);    /* AvailabilityZone */
  cu_gen_puts(s, cost); /* BilledCost */
  cu_gen_putc(s, ',');
  cu_gen_puts(s, ac->id);
  cu_gen_putc(s, ',');
  cu_gen_put_csv(s, ac->name);
  cu_gen_puts(s, ",Customer Agreement,USD,");
  put_date(s, mc->bp_end, f.dates);
  cu_gen_putc(s, ',');
  put_date(s, mc->bp_start, f.dates);
  cu_gen_putc(s, ',');
  put_opt(s, &f); /* CapacityReservationId */
  put_opt(s, &f); /* CapacityReservationStatus */
  cu_gen_puts(s, "Usage,");
  put_opt(s, &f); /* ChargeClass */
  cu_gen_puts(s, m->meter);
  cu_gen_puts(s, " - ");
  cu_gen_puts(s, m->service);
  cu_gen_puts(s, " - ");
  cu_gen_puts(s, rg->name);
  cu_gen_puts(s, ",Usage-Based,");
  put_date(s, cp_end, f.dates);
  cu_gen_putc(s, ',');
  put_date(s, cp_start, f.dates);
  cu_gen_putc(s, ',');
  for (int i = 0; i < 7; i++) /* CommitmentDiscount* */
    put_opt(s, &f);
  put_qty(s, &f, cq); /* ConsumedQuantity */
  cu_gen_putc(s, ',');
  const char *unit = m->cunit;
  if (f.unit && strcmp(unit, "GB-Month") == 0) {
    static const char *const spell[] = {"GB-Months", "GB/Month", "GB-Mo"};
    unit = spell[f.unit - 1];
  }
  cu_gen_puts(s, unit);
  cu_gen_putc(s, ',');
  cu_gen_puts(s, cost); /* ContractedCost */
  cu_gen_putc(s, ',');
  cu_gen_puts(s, cprice); /* ContractedUnitPrice */
  cu_gen_putc(s, ',');
  cu_gen_puts(s, cost); /* EffectiveCost */
  cu_gen_puts(s, ",STR-");
  cu_gen_puts(s, mc->period);
  cu_gen_putc(s, '-');
  cu_gen_puts(s, ac->id);
  cu_gen_puts(s, "," GEN_PROVIDER ",");
  cu_gen_put_dec(s, list_cost, 10); /* ListCost */
  cu_gen_putc(s, ',');
  cu_gen_puts(s, lprice); /* ListUnitPrice */
  cu_gen_puts(s, ",Standard,USD,");
  cu_gen_puts(s, cprice); /* PricingCurrencyContractedUnitPrice */
  cu_gen_putc(s, ',');
  cu_gen_puts(s, cost); /* PricingCurrencyEffectiveCost */
  cu_gen_putc(s, ',');
  cu_gen_puts(s, lprice); /* PricingCurrencyListUnitPrice */
  cu_gen_putc(s, ',');
  put_qty(s, &f, pq); /* PricingQuantity */
  cu_gen_putc(s, ',');
  cu_gen_puts(s, f.unit && strcmp(m->punit, "GB-Month") == 0 ? unit
                                                              : m->punit);
  cu_gen_puts(s, "," GEN_PROVIDER "," GEN_PROVIDER ",");
  if (f.alias)
    cu_gen_puts(s, cu_gen_region_alias(se->region, rowno));
  else
    cu_gen_puts(s, rg->id);
  cu_gen_putc(s, ',');
  cu_gen_puts(s, rg->name);
  /* ResourceId, ResourceName: the name is customer-defined free text. */
  char rname[64], rgroup[64];
  {
    size_t k = 0;
    for (const char *p = m->rprefix; *p && k < 20; p++)
      rname[k++] = *p;
    for (const char *p = sub->name; *p && k < 44; p++)
      if (*p != '-')
        rname[k++] = *p;
    rname[k++] = (char)('0' + se->res / 10 % 10);
    rname[k++] = (char)('0' + se->res % 10);
    rname[k] = '\0';
    size_t n = strlen(sub->name);
    if (n > sizeof rgroup - 4)
      n = sizeof rgroup - 4;
    memcpy(rgroup, "rg-", 3);
    memcpy(rgroup + 3, sub->name, n);
    rgroup[3 + n] = '\0';
  }
  cu_gen_puts(s, ",/subscriptions/");
  cu_gen_puts(s, sub->id);
  cu_gen_puts(s, "/resourceGroups/");
  cu_gen_puts(s, rgroup);
  cu_gen_puts(s, "/providers/");
  cu_gen_puts(s, m->arm);
  cu_gen_putc(s, '/');
  cu_gen_puts(s, rname);
  cu_gen_putc(s, ',');
  cu_gen_puts(s, rname);
  cu_gen_putc(s, ',');
  cu_gen_puts(s, m->rtype);
  cu_gen_putc(s, ',');
  cu_gen_puts(s, m->category);
  cu_gen_putc(s, ',');
  cu_gen_puts(s, m->service);
  cu_gen_putc(s, ',');
  cu_gen_puts(s, m->subcategory);
  cu_gen_putc(s, ',');
  cu_gen_puts(s, m->sku);
  cu_gen_putc(s, ',');
  cu_gen_put_csv(s, m->meter);
  cu_gen_putc(s, ',');
  put_opt(s, &f); /* SkuPriceDetails */
  cu_gen_puts(s, m->sku);
  cu_gen_putc(s, '-');
  cu_gen_puts(s, rg->id);
  cu_gen_putc(s, ',');
  cu_gen_puts(s, sub->id);
  cu_gen_putc(s, ',');
  cu_gen_put_csv(s, sub->name);
  cu_gen_puts(s, ",Subscription,");
  /* Tags: a JSON object in a quoted CSV field. */
  uint64_t th = cu_gen_hash(w->seed, GEN_S_WORLD, se->sub, 77);
  const char *env = strstr(sub->name, "prod") ? "prod"
                    : strstr(sub->name, "test") ? "test"
                    : strstr(sub->name, "dev")  ? "dev"
                                                : "shared";
  {
    const char *fn = cu_gen_first_names[th % cu_gen_nfirst];
    const char *ln = cu_gen_last_names[(th >> 16) % cu_gen_nlast];
    size_t k = 0;
    for (; *fn && k < 30; fn++)
      buf[k++] = *fn;
    buf[k++] = '.';
    for (; *ln && k < 62; ln++)
      buf[k++] = *ln;
    buf[k] = '\0';
    for (char *p = buf; *p; p++)
      if (*p >= 'A' && *p <= 'Z')
        *p = (char)(*p - 'A' + 'a');
  }
  cu_gen_puts(s, f.bare_tags ? "\"\"\"env\"\":\"\"" : "\"{\"\"env\"\":\"\"");
  cu_gen_puts(s, env);
  cu_gen_puts(s, "\"\",\"\"owner\"\":\"\"");
  cu_gen_puts(s, buf);
  cu_gen_puts(s, "\"\",\"\"costcentre\"\":\"\"CC-");
  cu_gen_put_u64(s, 1000 + (th >> 32) % 9000);
  cu_gen_puts(s, f.bare_tags ? "\"\"\"," : "\"\"}\",");
  cu_gen_puts(s, rgroup);
  cu_gen_putc(s, ',');
  cu_gen_puts(s, m->service);
  cu_gen_putc(s, ' ');
  cu_gen_put_csv(s, m->meter);
  cu_gen_puts(s, mc->eol);
  s->rows++;
}

static custos_rc write_month(cu_gen_ctx *c, int month, bool restated,
                             custos_diag *d) {
  cu_gen_world *w = c->w;
  int y = CU_GEN_FIRST_YEAR, m = CU_GEN_FIRST_MONTH + month;
  y += (m - 1) / 12;
  m = (m - 1) % 12 + 1;
  int ny = m == 12 ? y + 1 : y, nm = m == 12 ? 1 : m + 1;
  bool gz = month % 3 == 2 && !restated;
  char rel[64];
  snprintf(rel, sizeof rel, "usage/focus-%04d-%02d%s.csv%s", y, m,
           restated ? "-restated" : "", gz ? ".gz" : "");

  month_ctx mc;
  memset(&mc, 0, sizeof mc);
  mc.c = c;
  mc.month = month;
  mc.restated = restated;
  mc.file_tag = (uint64_t)month * 2 + (restated ? 1 : 0);
  snprintf(mc.bp_start, sizeof mc.bp_start, "%04d-%02d-01T00:00:00Z", y, m);
  snprintf(mc.bp_end, sizeof mc.bp_end, "%04d-%02d-01T00:00:00Z", ny, nm);
  snprintf(mc.period, sizeof mc.period, "%04d%02d", y, m);
  bool bom = false;
  mc.eol = "\n";
  if (w->dirty) {
    bom = month % 4 == 1 || restated;
    if (month % 3 == 1)
      mc.eol = "\r\n";
  }

  cu_gen_sink s;
  custos_rc rc = cu_gen_sink_open(&s, c->o->out, rel, gz, d);
  if (rc != CUSTOS_OK)
    return rc;
  mc.s = &s;
  snprintf(c->st->current, sizeof c->st->current, "%s", rel);
  if (bom)
    cu_gen_puts(&s, "\xEF\xBB\xBF");
  for (size_t i = 0; i < CU_ARRAY_LEN(focus_columns); i++) {
    if (i)
      cu_gen_putc(&s, ',');
    cu_gen_puts(&s, focus_columns[i]);
  }
  cu_gen_puts(&s, mc.eol);

  int first = (int)(cu_days_from_civil(y, (unsigned)m, 1) - w->day0);
  int last = (int)(cu_days_from_civil(ny, (unsigned)nm, 1) - w->day0);
  uint64_t before = c->st->usage_rows;
  for (int day = first; day < last; day++) {
    char cp_start[32], cp_end[32];
    cu_time_format((int64_t)(w->day0 + day) * 86400, cp_start,
                   sizeof cp_start);
    cu_time_format((int64_t)(w->day0 + day + 1) * 86400, cp_end,
                   sizeof cp_end);
    for (size_t i = 0; i < w->nser; i++) {
      const cu_gen_series *se = &w->ser[i];
      if (day < se->start || day >= se->end)
        continue;
      write_row(&mc, se, day, cp_start, cp_end, s.rows);
      if ((s.rows & 0xffff) == 0) {
        c->st->usage_rows = before + s.rows;
        cu_gen_ctx_progress(c);
      }
    }
    if (s.rc != CUSTOS_OK)
      break;
  }
  c->st->usage_rows = before + s.rows;
  if (restated)
    c->st->restated_rows += s.rows;
  return cu_gen_ctx_done(c, &s, d);
}

custos_rc cu_gen_usage(cu_gen_ctx *c, custos_diag *d) {
  c->st->phase = "usage";
  for (int month = 0; month < CU_GEN_MONTHS; month++) {
    custos_rc rc = write_month(c, month, false, d);
    if (rc != CUSTOS_OK)
      return rc;
    if (c->w->dirty && month == RESTATED_MONTH) {
      rc = write_month(c, month, true, d);
      if (rc != CUSTOS_OK)
        return rc;
    }
  }
  return CUSTOS_OK;
}
