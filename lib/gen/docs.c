/*
 * gen/docs: internal documents of the fictional provider (account plans
 * in Markdown, contract summaries in text, invoice summaries in HTML) and
 * the press allegation the demo case opens with.  All of it is the
 * provider's own business records; none of it is customer content.
 */
#include <stdio.h>
#include <string.h>

#include "gen/genInt.h"

static const char allegation_text[] =
    "# Allegation: Arvelian signals unit kept intercepted calls in a "
    "commercial cloud\n"
    "\n"
    "Source: The Meridian Ledger\n"
    "Date: 2025-08-06\n"
    "\n"
    "A months-long investigation by The Meridian Ledger, based on documents "
    "seen by\n"
    "this newspaper and interviews with four people familiar with the "
    "programme,\n"
    "indicates that the Signals Directorate of the Arvelian Ministry of "
    "Defence,\n"
    "known as Unit 8400, built an archive of recorded telephone calls made "
    "by\n"
    "civilians and kept it on servers rented from Stratus Cloud.\n"
    "\n"
    "According to the sources, the archive grew from a pilot in early 2024 "
    "to\n"
    "several petabytes by the summer of 2025, and was held in a Stratus "
    "data\n"
    "centre in the Netherlands.  Analysts are said to have used the "
    "provider's\n"
    "speech recognition and translation services to turn recordings into "
    "searchable\n"
    "text.\n"
    "\n"
    "Two of the sources said that officers of the ministry's Cyber Defence "
    "Command\n"
    "also had access to the system.  The ministry declined to comment.  "
    "Stratus\n"
    "Cloud said it would review the report.\n"
    "\n"
    "## Claims\n"
    "\n"
    "1. Unit 8400 stored recordings of intercepted civilian phone calls in "
    "Stratus\n"
    "   Cloud storage in the Netherlands, growing to several petabytes "
    "between 2024\n"
    "   and 2025.\n"
    "2. Unit 8400 used Stratus Cloud speech-to-text and translation AI "
    "services to\n"
    "   transcribe and translate the recordings.\n"
    "3. Other units of the Arvelian Ministry of Defence, including the "
    "Cyber\n"
    "   Defence Command, were also involved in the programme.\n";

custos_rc cu_gen_allegation(cu_gen_ctx *c, custos_diag *d) {
  c->st->phase = "allegation";
  cu_gen_sink s;
  custos_rc rc = cu_gen_sink_open(&s, c->o->out, "allegation.md", false, d);
  if (rc != CUSTOS_OK)
    return rc;
  cu_gen_put(&s, allegation_text, sizeof allegation_text - 1);
  s.rows = 3; /* claims */
  c->st->documents++;
  return cu_gen_ctx_done(c, &s, d);
}

static const char *month_name(int m) {
  static const char *const n[] = {"January", "February", "March",
                                  "April",   "May",      "June",
                                  "July",    "August",   "September",
                                  "October", "November", "December"};
  return n[(m - 1) % 12];
}

/* Year and month of window month i. */
static void window_month(int i, int *y, int *m) {
  int mm = CU_GEN_FIRST_MONTH + i;
  *y = CU_GEN_FIRST_YEAR + (mm - 1) / 12;
  *m = (mm - 1) % 12 + 1;
}

static void put_tb(cu_gen_sink *s, int64_t gb) {
  /* Terabytes with one decimal, from integer GB. */
  cu_gen_put_dec(s, (gb + 50) / 100, 1);
  cu_gen_puts(s, " TB");
}

static custos_rc demo_account_plan(cu_gen_ctx *c, custos_diag *d) {
  cu_gen_sink s;
  custos_rc rc = cu_gen_sink_open(
      &s, c->o->out, "docs/account-plans/acct-arv-mod.md", false, d);
  if (rc != CUSTOS_OK)
    return rc;
  cu_gen_puts(&s,
              "# Account plan: Ministry of Defence of the Republic of "
              "Arvelia\n"
              "\n"
              "Account: acct-arv-mod  \n"
              "Country: Arvelia (XA)  \n"
              "Sector: defence  \n"
              "Account executive: Petra Halloran  \n"
              "Technical account manager: Soren Ironwood  \n"
              "Plan owner: Public Sector EMEA  \n"
              "Last review: 2025-07-15\n"
              "\n"
              "## Organisation\n"
              "\n"
              "| Unit | Id | Subscriptions |\n"
              "|---|---|---|\n"
              "| Ministry Headquarters | arv-mod-hq | " CU_GEN_DEMO_SUB_HQ
              " (arv-hq-corporate) |\n"
              "| Signals Directorate (Unit 8400) | arv-mod-sig | "
              CU_GEN_DEMO_SUB_SIG1 " (sig-archive-prod), "
              CU_GEN_DEMO_SUB_SIG2 " (sig-archive-02), "
              CU_GEN_DEMO_SUB_SIG3 " (sig-processing) |\n"
              "| Cyber Defence Command | arv-mod-cyb | " CU_GEN_DEMO_SUB_CYB1
              " (cyb-soc-prod), " CU_GEN_DEMO_SUB_CYB2 " (cyb-lab) |\n"
              "\n"
              "## Consumption\n"
              "\n"
              "The Signals Directorate is the fastest-growing workload in "
              "the region.\n"
              "Blob storage in West Europe (westeurope), average stored "
              "volume:\n"
              "\n"
              "| Month | Stored |\n"
              "|---|---|\n");
  for (int i = 0; i < CU_GEN_MONTHS; i++) {
    int y, m;
    window_month(i, &y, &m);
    cu_gen_printf(&s, "| %04d-%02d | ", y, m);
    put_tb(&s, cu_gen_demo_storage_gb(c->w, i));
    cu_gen_puts(&s, " |\n");
  }
  cu_gen_puts(&s,
              "\n"
              "The directorate also consumes Azure AI Speech (speech to "
              "text, billed per\n"
              "audio hour) and Azure AI Translator (billed per million "
              "characters) in\n"
              "westeurope, both growing about 12% a month.  The Cyber "
              "Defence Command runs\n"
              "Microsoft Defender for Cloud and Microsoft Sentinel in "
              "northeurope and\n"
              "westeurope with a small estate of virtual machines; its "
              "consumption is flat.\n"
              "\n"
              "## Commercial\n"
              "\n"
              "- Agreement: Stratus Government Cloud Agreement SGCA-XA-2022-"
              "014, renewed 2024-06-30\n"
              "- Discount: 18% off list on all meters\n"
              "- Acceptable use: standard Stratus Acceptable Use Policy, "
              "section 4 (no mass\n"
              "  surveillance of civilians) applies without exception\n"
              "\n"
              "## Next steps\n"
              "\n"
              "1. Capacity review for westeurope storage with the regional "
              "capacity team.\n"
              "2. Offer a storage reservation to the Signals Directorate.\n"
              "3. Quarterly business review with the ministry's CIO office "
              "in September.\n");
  c->st->documents++;
  return cu_gen_ctx_done(c, &s, d);
}

static custos_rc account_plan(cu_gen_ctx *c, size_t a, custos_diag *d) {
  const cu_gen_world *w = c->w;
  const cu_gen_account *ac = &w->acc[a];
  char rel[128];
  snprintf(rel, sizeof rel, "docs/account-plans/%s.md", ac->id);
  cu_gen_sink s;
  custos_rc rc = cu_gen_sink_open(&s, c->o->out, rel, false, d);
  if (rc != CUSTOS_OK)
    return rc;
  uint64_t h = cu_gen_hash(w->seed, GEN_S_DOCS, a, 1);
  cu_gen_printf(&s,
                "# Account plan: %s\n\nAccount: %s  \nCountry: %s (%s)  \n"
                "Sector: %s  \nAccount executive: %s %s\n\n"
                "## Subscriptions\n\n",
                ac->name, ac->id, cu_gen_countries[ac->country].name,
                cu_gen_countries[ac->country].code,
                cu_gen_sectors[ac->sector],
                cu_gen_first_names[h % cu_gen_nfirst],
                cu_gen_last_names[(h >> 20) % cu_gen_nlast]);
  for (unsigned k = 0; k < ac->nsubs; k++) {
    const cu_gen_sub *sb = &w->sub[ac->first_sub + k];
    cu_gen_printf(&s, "- %s (%s), home region %s\n", sb->id, sb->name,
                  cu_gen_regions[sb->region].id);
  }
  cu_gen_printf(&s,
                "\n## Notes\n\nDiscount %u%% off list.  Growth expected "
                "in the next two quarters; propose a reservation.\n",
                (unsigned)ac->discount);
  c->st->documents++;
  return cu_gen_ctx_done(c, &s, d);
}

static custos_rc contract_summary(cu_gen_ctx *c, size_t a, custos_diag *d) {
  const cu_gen_world *w = c->w;
  const cu_gen_account *ac = &w->acc[a];
  char rel[128];
  snprintf(rel, sizeof rel, "docs/contracts/%s.txt", ac->id);
  cu_gen_sink s;
  custos_rc rc = cu_gen_sink_open(&s, c->o->out, rel, false, d);
  if (rc != CUSTOS_OK)
    return rc;
  uint64_t h = cu_gen_hash(w->seed, GEN_S_DOCS, a, 2);
  cu_gen_printf(&s,
                "CONTRACT SUMMARY\n"
                "================\n\n"
                "Customer:   %s\n"
                "Account:    %s\n"
                "Agreement:  SCA-%s-%04u\n"
                "Term:       36 months from %04u-%02u-01\n"
                "Discount:   %u%% off list prices\n"
                "Billing:    monthly in arrears, USD, net 30\n"
                "AUP:        Stratus Acceptable Use Policy v3.2 incorporated "
                "by reference\n\n"
                "Prepared by Stratus Cloud Commercial Operations.  Internal "
                "use only.\n",
                ac->name, ac->id, cu_gen_countries[ac->country].code,
                (unsigned)(h % 10000), (unsigned)(2021 + (h >> 16) % 3),
                (unsigned)(1 + (h >> 24) % 12), (unsigned)ac->discount);
  c->st->documents++;
  return cu_gen_ctx_done(c, &s, d);
}

static custos_rc invoice_summary(cu_gen_ctx *c, size_t a, int month,
                                 custos_diag *d) {
  const cu_gen_world *w = c->w;
  const cu_gen_account *ac = &w->acc[a];
  int y, m;
  window_month(month, &y, &m);
  char rel[128];
  snprintf(rel, sizeof rel, "docs/invoices/%s-%04d-%02d.html", ac->id, y, m);
  cu_gen_sink s;
  custos_rc rc = cu_gen_sink_open(&s, c->o->out, rel, false, d);
  if (rc != CUSTOS_OK)
    return rc;
  cu_gen_printf(&s,
                "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta "
                "charset=\"utf-8\"><title>Invoice summary %s %04d-%02d"
                "</title></head>\n<body>\n<h1>Invoice summary</h1>\n"
                "<p>Customer: %s (%s)<br>Invoice: STR-%04d%02d-%s<br>"
                "Period: %s %04d</p>\n<table>\n<tr><th>Subscription</th>"
                "<th>Service</th><th>Region</th></tr>\n",
                ac->id, y, m, ac->name, ac->id, y, m, ac->id, month_name(m),
                y);
  for (size_t i = 0; i < w->nser; i++) {
    const cu_gen_series *se = &w->ser[i];
    if (w->sub[se->sub].account != a)
      continue;
    cu_gen_printf(&s, "<tr><td>%s</td><td>%s</td><td>%s</td></tr>\n",
                  w->sub[se->sub].name, cu_gen_meters[se->meter].service,
                  cu_gen_regions[se->region].id);
  }
  cu_gen_puts(&s, "</table>\n<p>Amounts are in the FOCUS export for the "
                  "period.</p>\n</body>\n</html>\n");
  c->st->documents++;
  return cu_gen_ctx_done(c, &s, d);
}

custos_rc cu_gen_docs(cu_gen_ctx *c, custos_diag *d) {
  c->st->phase = "docs";
  custos_rc rc = demo_account_plan(c, d);
  if (rc != CUSTOS_OK)
    return rc;
  /* The demo, its peers and a sample of ordinary customers: documents are
   * few next to usage rows, so their number grows slowly with scale. */
  size_t n = 40 + c->w->nacc / 100;
  if (n > c->w->nacc)
    n = c->w->nacc;
  for (size_t a = 0; a < n; a++) {
    if (a > 0) {
      rc = account_plan(c, a, d);
      if (rc != CUSTOS_OK)
        return rc;
    }
    rc = contract_summary(c, a, d);
    if (rc != CUSTOS_OK)
      return rc;
    if (a < 10) {
      for (int month = CU_GEN_MONTHS - 3; month < CU_GEN_MONTHS; month++) {
        rc = invoice_summary(c, a, month, d);
        if (rc != CUSTOS_OK)
          return rc;
      }
    }
  }
  return CUSTOS_OK;
}
