/*
 * gen/directory: the customer directory as CSV (accounts, units,
 * subscriptions, contacts) plus the invented country table.  With --dirty
 * the accounts file gets a BOM and CRLF and some root units a literal NULL
 * parent, as exports from real CRMs do.
 */
#include <stdio.h>
#include <string.h>

#include "gen/genInt.h"

static custos_rc write_countries(cu_gen_ctx *c, custos_diag *d) {
  cu_gen_sink s;
  custos_rc rc = cu_gen_sink_open(&s, c->o->out, "directory/countries.csv",
                                  false, d);
  if (rc != CUSTOS_OK)
    return rc;
  cu_gen_puts(&s, "country,name\n");
  for (size_t i = 0; i < cu_gen_ncountries; i++) {
    cu_gen_printf(&s, "%s,", cu_gen_countries[i].code);
    cu_gen_put_csv(&s, cu_gen_countries[i].name);
    cu_gen_putc(&s, '\n');
    s.rows++;
  }
  return cu_gen_ctx_done(c, &s, d);
}

static custos_rc write_accounts(cu_gen_ctx *c, custos_diag *d) {
  const cu_gen_world *w = c->w;
  const char *eol = w->dirty ? "\r\n" : "\n";
  cu_gen_sink s;
  custos_rc rc = cu_gen_sink_open(&s, c->o->out, "directory/accounts.csv",
                                  false, d);
  if (rc != CUSTOS_OK)
    return rc;
  if (w->dirty)
    cu_gen_puts(&s, "\xEF\xBB\xBF");
  cu_gen_puts(&s, "account_id,name,country,sector");
  cu_gen_puts(&s, eol);
  for (size_t a = 0; a < w->nacc; a++) {
    const cu_gen_account *ac = &w->acc[a];
    cu_gen_puts(&s, ac->id);
    cu_gen_putc(&s, ',');
    cu_gen_put_csv(&s, ac->name);
    cu_gen_putc(&s, ',');
    cu_gen_puts(&s, cu_gen_countries[ac->country].code);
    cu_gen_putc(&s, ',');
    cu_gen_puts(&s, cu_gen_sectors[ac->sector]);
    cu_gen_puts(&s, eol);
    s.rows++;
  }
  c->st->accounts = w->nacc;
  return cu_gen_ctx_done(c, &s, d);
}

static custos_rc write_units(cu_gen_ctx *c, custos_diag *d) {
  const cu_gen_world *w = c->w;
  cu_gen_sink s;
  custos_rc rc =
      cu_gen_sink_open(&s, c->o->out, "directory/units.csv", false, d);
  if (rc != CUSTOS_OK)
    return rc;
  cu_gen_puts(&s, "unit_id,account_id,parent_unit_id,name\n");
  for (size_t a = 0; a < w->nacc; a++) {
    const cu_gen_account *ac = &w->acc[a];
    char ids[8][48];
    for (unsigned k = 0; k < ac->nunits && k < 8; k++) {
      char name[64];
      int parent;
      cu_gen_unit(w, a, k, ids[k], sizeof ids[k], name, sizeof name, &parent);
      cu_gen_puts(&s, ids[k]);
      cu_gen_putc(&s, ',');
      cu_gen_puts(&s, ac->id);
      cu_gen_putc(&s, ',');
      if (parent >= 0)
        cu_gen_puts(&s, ids[parent]);
      else if (w->dirty && a % 7 == 3)
        cu_gen_puts(&s, "NULL");
      cu_gen_putc(&s, ',');
      cu_gen_put_csv(&s, name);
      cu_gen_putc(&s, '\n');
      s.rows++;
    }
  }
  c->st->units = s.rows;
  return cu_gen_ctx_done(c, &s, d);
}

static custos_rc write_subscriptions(cu_gen_ctx *c, custos_diag *d) {
  const cu_gen_world *w = c->w;
  cu_gen_sink s;
  custos_rc rc = cu_gen_sink_open(&s, c->o->out, "directory/subscriptions.csv",
                                  false, d);
  if (rc != CUSTOS_OK)
    return rc;
  cu_gen_puts(&s, "subscription_id,account_id,unit_id,name,region,created\n");
  for (size_t i = 0; i < w->nsub; i++) {
    const cu_gen_sub *sb = &w->sub[i];
    char uid[48], name[64], created[16];
    int parent;
    cu_gen_unit(w, sb->account, sb->unit, uid, sizeof uid, name, sizeof name,
                &parent);
    cu_date_format((int64_t)sb->created * 86400, created, sizeof created);
    cu_gen_puts(&s, sb->id);
    cu_gen_putc(&s, ',');
    cu_gen_puts(&s, w->acc[sb->account].id);
    cu_gen_putc(&s, ',');
    cu_gen_puts(&s, uid);
    cu_gen_putc(&s, ',');
    cu_gen_put_csv(&s, sb->name);
    cu_gen_putc(&s, ',');
    cu_gen_puts(&s, cu_gen_regions[sb->region].id);
    cu_gen_putc(&s, ',');
    cu_gen_puts(&s, created);
    cu_gen_putc(&s, '\n');
    s.rows++;
  }
  c->st->subscriptions = w->nsub;
  return cu_gen_ctx_done(c, &s, d);
}

static custos_rc write_contacts(cu_gen_ctx *c, custos_diag *d) {
  static const char *const roles[] = {"primary", "billing", "legal",
                                      "security"};
  const cu_gen_world *w = c->w;
  cu_gen_sink s;
  custos_rc rc =
      cu_gen_sink_open(&s, c->o->out, "directory/contacts.csv", false, d);
  if (rc != CUSTOS_OK)
    return rc;
  cu_gen_puts(&s, "account_id,name,email,role\n");
  cu_gen_rng r;
  cu_gen_rng_init(&r, w->seed, GEN_S_CONTACTS);
  for (size_t a = 0; a < w->nacc; a++) {
    const cu_gen_account *ac = &w->acc[a];
    unsigned n = ac->role == GEN_ROLE_ORDINARY ? 2 + cu_gen_rng_below(&r, 3)
                                               : 4;
    for (unsigned k = 0; k < n; k++) {
      const char *first = cu_gen_first_names[cu_gen_rng_below(
          &r, (uint32_t)cu_gen_nfirst)];
      const char *last =
          cu_gen_last_names[cu_gen_rng_below(&r, (uint32_t)cu_gen_nlast)];
      char email[128];
      int len = snprintf(email, sizeof email, "%s.%s@%s", first, last,
                         ac->domain);
      for (int i = 0; i < len; i++)
        if (email[i] >= 'A' && email[i] <= 'Z')
          email[i] = (char)(email[i] - 'A' + 'a');
      cu_gen_printf(&s, "%s,%s %s,%s,%s\n", ac->id, first, last, email,
                    roles[k]);
      s.rows++;
    }
  }
  c->st->contacts = s.rows;
  return cu_gen_ctx_done(c, &s, d);
}

custos_rc cu_gen_directory(cu_gen_ctx *c, custos_diag *d) {
  c->st->phase = "directory";
  custos_rc rc = write_countries(c, d);
  if (rc == CUSTOS_OK)
    rc = write_accounts(c, d);
  if (rc == CUSTOS_OK)
    rc = write_units(c, d);
  if (rc == CUSTOS_OK)
    rc = write_subscriptions(c, d);
  if (rc == CUSTOS_OK)
    rc = write_contacts(c, d);
  return rc;
}
