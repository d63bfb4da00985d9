/*
 * Rendering the report model as a self-contained HTML page, as Markdown,
 * and as a public statement.  Writers stop at the first failure and report
 * it once (the out struct keeps the first error).
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enforce/enforce.h"
#include "reportInt.h"

typedef struct out {
  cu_buf *b;
  custos_rc rc;
  bool html;
} out;

static void o_printf(out *o, const char *fmt, ...) CUSTOS_PRINTF(2, 3);
static void o_printf(out *o, const char *fmt, ...) {
  if (o->rc != CUSTOS_OK)
    return;
  va_list ap;
  va_start(ap, fmt);
  o->rc = cu_buf_vprintf(o->b, fmt, ap);
  va_end(ap);
}

/* Text, escaped for the output's language. */
static void o_text(out *o, const char *s) {
  if (o->rc == CUSTOS_OK)
    o->rc = o->html ? cu_html_escape(o->b, s ? s : "")
                    : cu_md_cell(o->b, s ? s : "");
}

static const char *str(json_t *o, const char *k) {
  const char *s = json_string_value(json_object_get(o, k));
  return s ? s : "";
}

static long long num(json_t *o, const char *k) {
  return (long long)json_integer_value(json_object_get(o, k));
}

static void when(json_t *o, const char *k, char *buf, size_t n) {
  cu_time_format(json_integer_value(json_object_get(o, k)), buf, n);
}

/* "West Europe (NL)" for a canonical region id. */
static void region_label(json_t *model, const char *id, char *buf, size_t n) {
  json_t *r = json_object_get(json_object_get(model, "regions"), id);
  if (r)
    snprintf(buf, n, "%s (%s)", str(r, "name"), str(r, "country"));
  else
    snprintf(buf, n, "%s", id);
}

/* Sorted unique values of field k over rows where filter_k == filter_v. */
static json_t *distinct(json_t *rows, const char *k, const char *fk,
                        const char *fv) {
  json_t *seen = json_object();
  size_t i;
  json_t *r;
  json_array_foreach(rows, i, r) {
    if (fk && strcmp(str(r, fk), fv) != 0)
      continue;
    json_object_set_new(seen, str(r, k), json_true());
  }
  json_t *arr = json_array();
  const char *key;
  json_t *v;
  json_object_foreach(seen, key, v) { json_array_append_new(arr, json_string(key)); }
  json_decref(seen);
  /* jansson keeps insertion order; sort for a stable page */
  size_t n = json_array_size(arr);
  for (size_t a = 1; a < n; a++)
    for (size_t b = a; b > 0 && strcmp(json_string_value(json_array_get(arr, b - 1)),
                                       json_string_value(json_array_get(arr, b))) > 0;
         b--) {
      json_t *t = json_incref(json_array_get(arr, b));
      json_array_set(arr, b, json_array_get(arr, b - 1));
      json_array_set_new(arr, b - 1, t);
    }
  return arr;
}

/* One chart (HTML) or table (Markdown) of a category's monthly use. */
static void chart(out *o, json_t *model, json_t *rows, const char *category,
                  const char *by, bool cost, const char *title) {
  json_t *months = distinct(rows, "month", "category", category);
  json_t *keys = distinct(rows, by, "category", category);
  size_t nx = json_array_size(months), ns = json_array_size(keys);
  if (nx == 0 || ns == 0) {
    json_decref(months);
    json_decref(keys);
    return;
  }
  double *v = cu_calloc(nx * ns, sizeof *v);
  const char **xl = cu_calloc(nx, sizeof *xl);
  const char **sl = cu_calloc(ns, sizeof *sl);
  char (*labels)[96] = cu_calloc(ns, sizeof *labels);
  if (!v || !xl || !sl || !labels) {
    o->rc = CUSTOS_ENOMEM;
    goto done;
  }
  for (size_t i = 0; i < nx; i++)
    xl[i] = json_string_value(json_array_get(months, i));
  for (size_t s = 0; s < ns; s++) {
    const char *k = json_string_value(json_array_get(keys, s));
    if (strcmp(by, "region") == 0)
      region_label(model, k, labels[s], sizeof labels[s]);
    else
      snprintf(labels[s], sizeof labels[s], "%s", k);
    sl[s] = labels[s];
  }
  size_t i;
  json_t *r;
  const char *unit = cost ? "" : "";
  json_array_foreach(rows, i, r) {
    if (strcmp(str(r, "category"), category) != 0)
      continue;
    size_t x = 0, s = 0;
    while (x < nx && strcmp(xl[x], str(r, "month")) != 0)
      x++;
    while (s < ns &&
           strcmp(json_string_value(json_array_get(keys, s)), str(r, by)) != 0)
      s++;
    if (x == nx || s == ns)
      continue;
    double q = json_real_value(json_object_get(r, cost ? "billed" : "quantity"));
    if (!cost && strcmp(str(r, "qty_unit"), "GB-month") == 0)
      q /= 1000.0; /* TB-months read better at this scale */
    v[s * nx + x] += q;
    unit = cost ? str(r, "currency") : str(r, "qty_unit");
  }
  char unit_label[64];
  snprintf(unit_label, sizeof unit_label, "%s",
           !cost && strcmp(unit, "GB-month") == 0 ? "TB-month" : unit);
  if (o->html) {
    o_printf(o, "<figure>");
    if (o->rc == CUSTOS_OK)
      o->rc = cu_svg_bars(o->b, title, unit_label, xl, nx, sl, ns, v);
    o_printf(o, "</figure>\n");
  } else {
    o_printf(o, "\n**%s** (%s)\n\n| month |", title, unit_label);
    for (size_t s = 0; s < ns; s++) {
      o_printf(o, " ");
      o_text(o, sl[s]);
      o_printf(o, " |");
    }
    o_printf(o, "\n|---|");
    for (size_t s = 0; s < ns; s++)
      o_printf(o, "---:|");
    o_printf(o, "\n");
    for (size_t x = 0; x < nx; x++) {
      o_printf(o, "| %s |", xl[x]);
      for (size_t s = 0; s < ns; s++)
        o_printf(o, " %.2f |", v[s * nx + x]);
      o_printf(o, "\n");
    }
  }
done:
  cu_free(v);
  cu_free(xl);
  cu_free(sl);
  cu_free(labels);
  json_decref(months);
  json_decref(keys);
}

/* Starts a table with the given column titles. */
static void table(out *o, const char *const *cols, size_t n) {
  if (o->html) {
    o_printf(o, "<table><tr>");
    for (size_t i = 0; i < n; i++)
      o_printf(o, "<th>%s</th>", cols[i]);
    o_printf(o, "</tr>\n");
  } else {
    o_printf(o, "\n|");
    for (size_t i = 0; i < n; i++)
      o_printf(o, " %s |", cols[i]);
    o_printf(o, "\n|");
    for (size_t i = 0; i < n; i++)
      o_printf(o, "---|");
    o_printf(o, "\n");
  }
}

/* One row of cells (strings). */
static void row(out *o, const char *const *cells, size_t n) {
  o_printf(o, o->html ? "<tr>" : "|");
  for (size_t i = 0; i < n; i++) {
    o_printf(o, o->html ? "<td>" : " ");
    o_text(o, cells[i]);
    o_printf(o, o->html ? "</td>" : " |");
  }
  o_printf(o, o->html ? "</tr>\n" : "\n");
}

static void end_table(out *o) { o_printf(o, o->html ? "</table>\n" : "\n"); }

static void heading(out *o, const char *t) {
  if (o->html) {
    o_printf(o, "<h2>");
    o_text(o, t);
    o_printf(o, "</h2>\n");
  } else {
    o_printf(o, "\n## %s\n", t);
  }
}

static void para(out *o, const char *t) {
  o_printf(o, o->html ? "<p>" : "\n");
  o_text(o, t);
  o_printf(o, o->html ? "</p>\n" : "\n");
}

/* Targets or unaffected services of the plan as a table. */
static void target_table(out *o, json_t *model, json_t *list) {
  static const char *const cols[] = {"subscription", "unit", "category",
                                     "service", "region"};
  table(o, cols, 5);
  size_t i;
  json_t *t;
  json_array_foreach(list, i, t) {
    char rl[128];
    region_label(model, str(t, "region"), rl, sizeof rl);
    const char *cells[] = {str(t, "subscription"), str(t, "unit_name"),
                           str(t, "category"), str(t, "service"), rl};
    row(o, cells, 5);
  }
  end_table(o);
}

static const char *const css =
    "body{font:15px/1.5 system-ui,sans-serif;max-width:1000px;margin:2em "
    "auto;padding:0 1em;color:#1a202c}h1{font-size:1.6em}h2{border-bottom:"
    "1px solid #cbd5e0;margin-top:2em}table{border-collapse:collapse;width:"
    "100%;margin:1em 0;font-size:13px}td,th{border:1px solid #e2e8f0;"
    "padding:4px 6px;text-align:left;vertical-align:top;overflow-wrap:anywhere}th{background:"
    "#edf2f7}code,pre{font:12px ui-monospace,monospace;word-break:break-all}"
    "pre{background:#f7fafc;padding:8px;white-space:pre-wrap}.chart{width:"
    "100%;height:auto}.ct{font-weight:600;font-size:14px}.grid{stroke:"
    "#e2e8f0}.yl{font-size:11px;text-anchor:end}.xl{font-size:11px;"
    "text-anchor:end}.lg{font-size:12px}.supported{color:#c53030;font-weight:"
    "600}.not-supported{color:#2f855a;font-weight:600}";

/* The body common to the HTML page and the Markdown file. */
static void body(out *o, json_t *model) {
  json_t *c = json_object_get(model, "case");
  json_t *acct = json_object_get(model, "account");
  json_t *plan = json_object_get(model, "plan");
  json_t *pbody = json_object_get(plan, "body");
  char buf[1024], t1[32];

  if (o->html) {
    o_printf(o, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta "
                "charset=\"utf-8\"><title>");
    o_text(o, str(c, "id"));
    o_printf(o, ": ");
    o_text(o, str(c, "title"));
    o_printf(o, "</title><style>%s</style></head><body>\n<h1>", css);
    o_text(o, str(c, "id"));
    o_printf(o, ": ");
    o_text(o, str(c, "title"));
    o_printf(o, "</h1>\n");
  } else {
    o_printf(o, "# %s: ", str(c, "id"));
    o_text(o, str(c, "title"));
    o_printf(o, "\n");
  }
  snprintf(buf, sizeof buf,
           "Allegation published by %s on %s. Status: %s. Reviewed against "
           "the provider's own business records only; no customer content "
           "was accessed.",
           str(c, "source"), str(c, "date"), str(c, "status"));
  para(o, buf);
  if (acct) {
    snprintf(buf, sizeof buf, "Customer: %s (%s, %s); unit under review: %s.",
             str(acct, "name"), str(acct, "country"), str(acct, "sector"),
             str(acct, "unit_name"));
    para(o, buf);
  }

  heading(o, "Usage of the unit under review");
  size_t i;
  json_t *s;
  json_array_foreach(json_object_get(model, "series"), i, s) {
    json_t *rows = json_object_get(s, "data");
    chart(o, model, rows, "Storage", "region", false,
          "Storage by region per month");
    chart(o, model, rows, "AI and Machine Learning", "service", true,
          "AI and Machine Learning services per month");
    snprintf(buf, sizeof buf,
             "Series of unit %s: %lld rows, recorded usage query with result "
             "SHA-256 %s.",
             str(s, "unit"), num(s, "rows"), str(s, "result_sha256"));
    para(o, buf);
  }

  heading(o, "Claims and findings");
  static const char *const ccols[] = {"claim", "text", "finding",
                                      "rationale", "evidence"};
  table(o, ccols, 5);
  json_t *k;
  json_array_foreach(json_object_get(c, "claims"), i, k) {
    const char *j = "no finding", *why = "";
    char ev[128] = "";
    size_t f;
    json_t *fi;
    json_array_foreach(json_object_get(c, "findings"), f, fi) {
      if (num(fi, "claim") == num(k, "n") &&
          json_is_null(json_object_get(fi, "superseded_by"))) {
        j = str(fi, "judgement");
        why = str(fi, "rationale");
        char *e = json_dumps(json_object_get(fi, "evidence"), JSON_COMPACT);
        snprintf(ev, sizeof ev, "%s", e ? e : "");
        free(e);
      }
    }
    char n[16];
    snprintf(n, sizeof n, "%lld", num(k, "n"));
    const char *cells[] = {n, str(k, "text"), j, why, ev};
    row(o, cells, 5);
  }
  end_table(o);

  heading(o, "Evidence");
  static const char *const ecols[] = {"id", "claim", "kind", "query",
                                      "results", "result SHA-256"};
  table(o, ecols, 6);
  json_t *e;
  json_array_foreach(json_object_get(c, "evidence"), i, e) {
    char id[16], cl[16], res[32];
    snprintf(id, sizeof id, "%lld", num(e, "id"));
    snprintf(cl, sizeof cl, "%lld", num(e, "claim"));
    snprintf(res, sizeof res, "%lld", num(e, "results"));
    char *q = json_dumps(json_object_get(e, "query"),
                         JSON_COMPACT | JSON_SORT_KEYS);
    const char *cells[] = {id, cl, str(e, "kind"), q ? q : "", res,
                           str(e, "result_sha256")};
    row(o, cells, 6);
    free(q);
  }
  end_table(o);

  json_t *decs = json_object_get(c, "decisions");
  json_t *dec = json_array_get(decs, json_array_size(decs) - 1);
  if (dec) {
    heading(o, "Decision");
    json_t *pol = json_object_get(model, "policy");
    char *scope = json_dumps(json_object_get(dec, "scope"),
                             JSON_COMPACT | JSON_SORT_KEYS);
    when(dec, "effective_at", t1, sizeof t1);
    snprintf(buf, sizeof buf,
             "Policy \"%s\" (%s, version %lld). Effect %s from %s. Scope %s. "
             "Decided by %s: %s",
             str(pol, "title"), str(pol, "id"), num(pol, "version"),
             str(dec, "effect"), t1, scope ? scope : "", str(dec, "author"),
             str(dec, "rationale"));
    free(scope);
    para(o, buf);
  }
  if (plan) {
    heading(o, "Plan");
    snprintf(buf, sizeof buf,
             "Plan %s (%s, status %s): %zu target(s) blocked, %zu service(s) "
             "of the same customer left running. Approved by:",
             str(plan, "hash"), str(plan, "kind"), str(plan, "status"),
             json_array_size(json_object_get(pbody, "targets")),
             json_array_size(json_object_get(pbody, "unaffected")));
    cu_buf who;
    cu_buf_init(&who, 4096);
    json_t *a;
    json_array_foreach(json_object_get(plan, "approvals"), i, a) {
      if (cu_buf_printf(&who, "%s %s", i ? "," : "", str(a, "person")) !=
          CUSTOS_OK)
        break;
    }
    if (cu_buf_puts(&who, ".") == CUSTOS_OK) {
      size_t l = strlen(buf);
      snprintf(buf + l, sizeof buf - l, "%s", who.data);
    }
    cu_buf_free(&who);
    para(o, buf);
    o_printf(o, o->html ? "<h3>Blocked</h3>\n" : "\n### Blocked\n");
    target_table(o, model, json_object_get(pbody, "targets"));
    o_printf(o, o->html ? "<h3>Stays running</h3>\n"
                        : "\n### Stays running\n");
    target_table(o, model, json_object_get(pbody, "unaffected"));

    heading(o, "Outcomes");
    static const char *const ocols[] = {"#", "subscription", "service",
                                        "region", "outcome", "revision",
                                        "by", "at"};
    table(o, ocols, 8);
    json_t *oc;
    json_array_foreach(json_object_get(plan, "outcomes"), i, oc) {
      char idx[16], rev[32], rl[128];
      snprintf(idx, sizeof idx, "%lld", num(oc, "idx"));
      snprintf(rev, sizeof rev, "%lld", num(oc, "revision"));
      region_label(model, str(oc, "region"), rl, sizeof rl);
      when(oc, "at", t1, sizeof t1);
      const char *cells[] = {idx, str(oc, "subscription"), str(oc, "service"),
                             rl, str(oc, "status"), rev, str(oc, "actor"),
                             t1};
      row(o, cells, 8);
    }
    end_table(o);
  }

  json_t *log = json_object_get(model, "log");
  heading(o, "Transparency log");
  snprintf(buf, sizeof buf,
           "Every step above is an entry of the append-only log %s, now of "
           "size %lld. The checkpoint below is signed with the log's key; "
           "each key entry has a proof bundle in proofs/ that verifies "
           "offline with: custos log verify proofs/FILE --vkey \"$(cat "
           "log.vkey)\"",
           str(log, "origin"), num(log, "size"));
  para(o, buf);
  o_printf(o, o->html ? "<pre>" : "\n```\n");
  o_text(o, NULL);
  if (o->html)
    o_text(o, str(log, "checkpoint"));
  else
    o_printf(o, "%s", str(log, "checkpoint"));
  o_printf(o, o->html ? "</pre>\n<p>Verifier key: <code>" : "```\n\nVerifier key: `");
  if (o->html)
    o_text(o, str(log, "vkey"));
  else
    o_printf(o, "%s", str(log, "vkey"));
  o_printf(o, o->html ? "</code></p>\n" : "`\n");
  static const char *const lcols[] = {"entry", "type", "actor", "time",
                                      "proof"};
  table(o, lcols, 5);
  json_t *le;
  json_array_foreach(json_object_get(log, "entries"), i, le) {
    char idx[32], file[96];
    snprintf(idx, sizeof idx, "%lld", num(le, "index"));
    snprintf(file, sizeof file, "proofs/%lld-%s.tlog-proof", num(le, "index"),
             str(le, "type"));
    when(le, "time", t1, sizeof t1);
    const char *cells[] = {idx, str(le, "type"), str(le, "actor"), t1, file};
    row(o, cells, 5);
  }
  end_table(o);

  heading(o, "History");
  static const char *const hcols[] = {"time", "status", "actor", "reason"};
  table(o, hcols, 4);
  json_t *h;
  json_array_foreach(json_object_get(c, "history"), i, h) {
    when(h, "at", t1, sizeof t1);
    const char *cells[] = {t1, str(h, "status"), str(h, "actor"),
                           str(h, "reason")};
    row(o, cells, 4);
  }
  end_table(o);
  if (o->html)
    o_printf(o, "</body></html>\n");
}

static custos_rc write_file(const char *dir, const char *name,
                            const char *data, size_t n, custos_diag *d) {
  char path[PATH_MAX];
  int k = snprintf(path, sizeof path, "%s/%s", dir, name);
  if (k < 0 || (size_t)k >= sizeof path)
    return cu_diag_set(d, CUSTOS_EINVAL, "report path too long");
  return cu_file_write_atomic(path, data, n, 0644, d);
}

custos_rc cu_report_write(cu_ws *ws, const char *case_id, const char *dir,
                          cu_report_files *files, custos_diag *d) {
  memset(files, 0, sizeof *files);
  json_t *model = NULL;
  custos_rc rc = cu_report_model(ws, case_id, &model, d);
  if (rc != CUSTOS_OK)
    return rc;
  char proofs[PATH_MAX];
  snprintf(proofs, sizeof proofs, "%s/proofs", dir);
  rc = cu_mkdirs(proofs, 0755, d);
  cu_buf b;
  cu_buf_init(&b, 256u << 20);
  for (int html = 1; rc == CUSTOS_OK && html >= 0; html--) {
    out o = {&b, CUSTOS_OK, html == 1};
    cu_buf_reset(&b);
    body(&o, model);
    rc = o.rc;
    if (rc != CUSTOS_OK) {
      rc = cu_diag_set(d, rc, "cannot render the report");
      break;
    }
    const char *name = html ? "index.html" : "report.md";
    rc = write_file(dir, name, b.data, b.len, d);
    snprintf(html ? files->html : files->markdown, sizeof files->html,
             "%s/%s", dir, name);
  }
  json_t *log = json_object_get(model, "log");
  size_t i;
  json_t *le;
  json_array_foreach(json_object_get(log, "entries"), i, le) {
    if (rc != CUSTOS_OK)
      break;
    char name[128];
    snprintf(name, sizeof name, "proofs/%lld-%s.tlog-proof", num(le, "index"),
             str(le, "type"));
    const char *p = str(le, "proof");
    rc = write_file(dir, name, p, strlen(p), d);
    files->proofs++;
  }
  if (rc == CUSTOS_OK) {
    cu_buf_reset(&b);
    rc = cu_buf_printf(&b, "%s\n", str(log, "vkey"));
    if (rc == CUSTOS_OK)
      rc = write_file(dir, "log.vkey", b.data, b.len, d);
  }
  cu_buf_free(&b);
  json_decref(model);
  return rc;
}

/* "Storage and AI and Machine Learning" from a list's categories. */
static void categories(json_t *list, char *buf, size_t n) {
  json_t *cats = distinct(list, "category", NULL, NULL);
  buf[0] = '\0';
  size_t i, m = json_array_size(cats);
  json_t *c;
  json_array_foreach(cats, i, c) {
    size_t l = strlen(buf);
    snprintf(buf + l, n - l, "%s%s", i == 0 ? "" : i + 1 == m ? " and " : ", ",
             json_string_value(c));
  }
  json_decref(cats);
}

static void countries(json_t *model, json_t *list, char *buf, size_t n) {
  json_t *regs = distinct(list, "region", NULL, NULL);
  json_t *seen = json_object();
  buf[0] = '\0';
  size_t i;
  json_t *r;
  json_array_foreach(regs, i, r) {
    json_t *info =
        json_object_get(json_object_get(model, "regions"), json_string_value(r));
    const char *cc = info ? str(info, "country") : "?";
    if (json_object_get(seen, cc))
      continue;
    json_object_set_new(seen, cc, json_true());
    size_t l = strlen(buf);
    snprintf(buf + l, n - l, "%s%s", l ? ", " : "", cc);
  }
  json_decref(seen);
  json_decref(regs);
}

custos_rc cu_statement(cu_ws *ws, const char *case_id, cu_buf *b,
                       custos_diag *d) {
  json_t *model = NULL;
  custos_rc rc = cu_report_model(ws, case_id, &model, d);
  if (rc != CUSTOS_OK)
    return rc;
  out o = {b, CUSTOS_OK, false};
  json_t *c = json_object_get(model, "case");
  json_t *acct = json_object_get(model, "account");
  json_t *pol = json_object_get(model, "policy");
  json_t *plan = json_object_get(model, "plan");
  json_t *pbody = json_object_get(plan, "body");
  json_t *log = json_object_get(model, "log");
  char provider[256];
  rc = cu_setting_get(ws, "notify.provider", provider, sizeof provider, d);
  if (rc != CUSTOS_OK) {
    json_decref(model);
    return rc;
  }
  o_printf(&o, "# Statement: %s\n\n", str(c, "title"));
  o_printf(&o,
           "On %s, %s published allegations that a customer of ours used our "
           "services in breach of our terms. We reviewed them. This "
           "statement says what we looked at, what we found, what we did, "
           "and how anyone can check it.\n\n",
           str(c, "date"), str(c, "source"));
  o_printf(&o, "## What we looked at\n\nOur own business records only: "
               "billing and usage records, our customer directory, "
               "contracts, invoices, internal documents and internal "
               "e-mail. We did not access the content of any customer. "
               "Every query of the review is on the record.\n\n");
  o_printf(&o, "## Principles applied\n\n");
  if (pol)
    o_printf(&o, "- %s (policy version %lld)\n", str(pol, "title"),
             num(pol, "version"));
  o_printf(&o, "- We protect our customers' privacy: the review used no "
               "customer content.\n- The same rule applies to every "
               "customer in every country.\n\n");
  o_printf(&o, "## What we found\n\n");
  size_t i, nsup = 0, nclaims = json_array_size(json_object_get(c, "claims"));
  json_t *k;
  json_array_foreach(json_object_get(c, "claims"), i, k) {
    const char *j = "not yet judged";
    size_t f;
    json_t *fi;
    json_array_foreach(json_object_get(c, "findings"), f, fi) {
      if (num(fi, "claim") == num(k, "n") &&
          json_is_null(json_object_get(fi, "superseded_by")))
        j = str(fi, "judgement");
    }
    nsup += strcmp(j, "supported") == 0;
    o_printf(&o, "- Claim %lld: %s.\n", num(k, "n"),
             strcmp(j, "supported") == 0       ? "our records support it"
             : strcmp(j, "not-supported") == 0 ? "our records do not support it"
             : strcmp(j, "inconclusive") == 0  ? "our records are inconclusive"
                                               : j);
  }
  o_printf(&o, "\nOur records support %zu of the %zu claims.\n\n", nsup,
           nclaims);
  if (plan && strcmp(str(plan, "status"), "applied") == 0 &&
      strcmp(str(plan, "kind"), "enforce") == 0) {
    char cats[512], ccs[256], ucats[512];
    json_t *done = json_array();
    json_t *oc;
    json_array_foreach(json_object_get(plan, "outcomes"), i, oc) {
      if (strcmp(str(oc, "status"), "blocked") == 0)
        json_array_append(done, json_array_get(json_object_get(pbody, "targets"),
                                               (size_t)num(oc, "idx")));
    }
    categories(done, cats, sizeof cats);
    countries(model, done, ccs, sizeof ccs);
    categories(json_object_get(pbody, "unaffected"), ucats, sizeof ucats);
    json_t *dec = json_object_get(pbody, "decision");
    o_printf(&o, "## What we ceased and disabled\n\n");
    o_printf(&o,
             "For one unit (%s) of one customer (%s), we ceased and "
             "disabled %zu subscription services in the categories %s, in "
             "data centres in %s, from %s. No data was deleted.\n\n",
             acct ? str(acct, "unit_name") : "?",
             acct ? str(acct, "name") : "?", json_array_size(done), cats, ccs,
             str(dec, "effective_at"));
    o_printf(&o, "## What was not affected\n\n");
    o_printf(&o,
             "The customer's other services (%zu, in the categories %s) "
             "continue to run. The customer has been informed and may "
             "appeal.\n\n",
             json_array_size(json_object_get(pbody, "unaffected")),
             ucats[0] ? ucats : "none in use");
    if (json_is_true(json_object_get(plan, "reinstated")))
      o_printf(&o, "These services have since been restored: the case's "
                   "blocks were lifted under an approved reinstatement.\n\n");
    json_decref(done);
  } else {
    o_printf(&o, "## What we did\n\nNo enforcement has been applied in this "
                 "case so far.\n\n");
  }
  o_printf(&o,
           "## How to check\n\nEvery step of this review (each source, query, "
           "piece of evidence, finding, decision, approval and enforcement "
           "outcome) is an entry of our append-only transparency log. This "
           "statement is anchored in the checkpoint:\n\n```\n%s```\n\n"
           "Verifier key: `%s`\n\n%s, case %s\n",
           str(log, "checkpoint"), str(log, "vkey"), provider, str(c, "id"));
  rc = o.rc;
  if (rc != CUSTOS_OK)
    rc = cu_diag_set(d, rc, "cannot write the statement");
  json_decref(model);
  return rc;
}
