/*
 * custos ingest usage and custos usage: billing exports into the ledger,
 * and the review's usage queries out of it (every one on the record).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ledger/ledger.h"
#include "tool.h"

static void progress(void *ud, const char *path, uint64_t done,
                     uint64_t total) {
  (void)ud;
  if (total)
    tool_progress(false, "%s: %.0f%%", path, 100.0 * (double)done /
                                                 (double)total);
  else
    tool_progress(false, "%s: %llu MB", path,
                  (unsigned long long)(done >> 20));
}

int tool_ingest_usage(char **paths, int npaths, const char *custodian,
                      const char *cls, const char *ratio, const char *format) {
  custos_diag d;
  custos_diag_clear(&d);
  cu_ledger_opts o;
  cu_ledger_opts_default(&o);
  if (cls) {
    cu_source_class k;
    custos_rc rc = cu_source_class_parse(cls, &k, &d);
    if (rc != CUSTOS_OK)
      return tool_fail(&d, rc);
    if (k != CU_CLASS_USAGE)
      return tool_usage_error("ingest", "--class %s does not fit kind usage",
                              cls);
  }
  if (ratio) {
    char *end = NULL;
    o.max_reject_ratio = strtod(ratio, &end);
    if (!end || *end || !(o.max_reject_ratio >= 0 && o.max_reject_ratio <= 1))
      return tool_usage_error("ingest",
                              "--max-reject-ratio takes a number in [0, 1]");
  }
  if (format) {
    custos_rc rc = cu_ledger_format_parse(format, &o.format, &d);
    if (rc != CUSTOS_OK)
      return tool_fail(&d, rc);
  }
  int code = 0;
  cu_ws *ws = tool_open_ws(&code);
  if (!ws)
    return code;
  o.custodian = custodian ? custodian : cu_ws_actor(ws);
  o.progress = progress;
  cu_ledger_file_stats *st = cu_calloc((size_t)npaths, sizeof *st);
  if (!st) {
    cu_ws_close(ws);
    return tool_fail(NULL, CUSTOS_ENOMEM);
  }
  custos_rc rc = cu_ledger_ingest(ws, (const char *const *)paths,
                                  (size_t)npaths, &o, st, &d);
  tool_progress_done();
  cu_ws_close(ws);
  json_t *arr = tool_g.json ? json_array() : NULL;
  for (int i = 0; i < npaths; i++) {
    const cu_ledger_file_stats *f = &st[i];
    if (!f->path[0])
      break;
    if (!f->skipped && !f->source_id)
      continue; /* the failing file: reported below */
    if (arr) {
      json_array_append_new(
          arr,
          json_pack("{s:s,s:s,s:I,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s}",
                    "path", f->path, "format", f->format, "source",
                    (json_int_t)f->source_id, "skipped", f->skipped, "rows",
                    (json_int_t)f->rows, "rejected", (json_int_t)f->rejected,
                    "rounded", (json_int_t)f->rounded, "rollups",
                    (json_int_t)f->rollups, "resources",
                    (json_int_t)f->resources, "superseded",
                    (json_int_t)f->superseded, "unknown_subscriptions",
                    (json_int_t)f->unknown_subscriptions, "unknown_columns",
                    f->unknown_columns));
    } else if (!tool_g.quiet) {
      if (f->skipped) {
        printf("skipped %s: already ingested as source %lld (same SHA-256)\n",
               f->path, (long long)f->source_id);
        continue;
      }
      printf("ingested %s (%s) as source %lld: %lld rows, %lld rejected, "
             "%lld rollups, %lld resources\n",
             f->path, f->format, (long long)f->source_id, (long long)f->rows,
             (long long)f->rejected, (long long)f->rollups,
             (long long)f->resources);
      if (f->superseded)
        printf("  restatement: replaced %lld (account, billing period) "
               "pair(s) of earlier sources\n",
               (long long)f->superseded);
    }
    if (!tool_g.quiet && f->unknown_columns[0])
      fprintf(stderr, "custos: %s: unknown columns ignored: %s\n", f->path,
              f->unknown_columns);
    if (!tool_g.quiet && f->rounded)
      fprintf(stderr,
              "custos: %s: %lld row(s) had amounts with more digits than "
              "custos keeps; rounded half to even\n",
              f->path, (long long)f->rounded);
    if (!tool_g.quiet && f->unknown_subscriptions)
      fprintf(stderr,
              "custos: %s: %lld row(s) name a subscription the directory "
              "lacks; their unit is empty\n",
              f->path, (long long)f->unknown_subscriptions);
  }
  cu_free(st);
  if (arr)
    tool_print_json(arr);
  if (rc != CUSTOS_OK) {
    const char *rej = cu_ledger_last_rejects();
    if (rej[0] && !tool_g.quiet)
      fprintf(stderr, "custos: rejected rows (first %s):\n%s", "20", rej);
    return tool_fail(&d, rc);
  }
  return TOOL_EXIT_OK;
}

static const char help[] =
    "usage: custos usage [filters] [--by DIMS] [--case ID] [--format F]\n"
    "       custos usage --series UNIT [--case ID]\n"
    "\n"
    "Sums quantity, billed cost and effective cost over the usage ledger,\n"
    "grouped by DIMS, and records the query (who, case, query, result\n"
    "digest) on the workspace's record.  Quantities are always split by\n"
    "their unit and costs by their currency.\n"
    "\n"
    "filters:\n"
    "  --account A  --unit U (with its sub-units)  --subscription S\n"
    "  --category C (FOCUS ServiceCategory)  --service NAME\n"
    "  --region R (any alias)  --country CC  --from DATE  --to DATE\n"
    "               (from inclusive, to exclusive, YYYY-MM-DD)\n"
    "grouping:\n"
    "  --by day,month,account,unit,subscription,category,service,meter,\n"
    "       region,country (any, comma-separated)\n"
    "  --series UNIT  the case report's series: UNIT by month, region,\n"
    "                 service\n"
    "output:\n"
    "  --format table (default) | json | csv; --json is --format json\n"
    "  --case ID    the case this query serves (recorded with it)\n";

static void print_csv_field(const char *s) {
  if (strpbrk(s, ",\"\r\n")) {
    putchar('"');
    for (; *s; s++) {
      if (*s == '"')
        putchar('"');
      putchar(*s);
    }
    putchar('"');
  } else {
    fputs(s, stdout);
  }
}

static void print_result(const cu_ledger_result *r, const char *format) {
  if (strcmp(format, "json") == 0) {
    json_t *rows = cu_ledger_result_json(r);
    tool_print_json(json_pack("{s:o,s:o,s:s,s:I}", "query",
                              json_deep_copy(r->query), "rows", rows,
                              "result_sha256", r->sha256, "count",
                              (json_int_t)r->nrows));
    return;
  }
  bool csv = strcmp(format, "csv") == 0;
  size_t nc = r->ncols;
  static const char *const amounts[] = {"quantity", "billed_cost",
                                        "effective_cost", "rows"};
  /* Column widths for the table. */
  size_t w[CU_DIM_COUNT_ + 4];
  for (size_t k = 0; k < nc; k++)
    w[k] = strlen(cu_ledger_dim_name(r->cols[k]));
  for (size_t k = 0; k < 4; k++)
    w[nc + k] = strlen(amounts[k]);
  char (*cells)[64] = NULL;
  if (!csv && r->nrows)
    cells = calloc(r->nrows * 4, sizeof *cells);
  for (size_t i = 0; i < r->nrows && cells; i++) {
    const cu_ledger_result_row *row = &r->rows[i];
    for (size_t k = 0; k < nc; k++)
      if (strlen(row->key[k]) > w[k])
        w[k] = strlen(row->key[k]);
    cu_ledger_decimal_format(row->quantity, CU_QTY_SCALE, cells[i * 4], 64);
    cu_ledger_decimal_format(row->billed, CU_COST_SCALE, cells[i * 4 + 1], 64);
    cu_ledger_decimal_format(row->effective, CU_COST_SCALE, cells[i * 4 + 2],
                             64);
    snprintf(cells[i * 4 + 3], 64, "%lld", (long long)row->rows);
    for (size_t k = 0; k < 4; k++)
      if (strlen(cells[i * 4 + k]) > w[nc + k])
        w[nc + k] = strlen(cells[i * 4 + k]);
  }
  for (size_t k = 0; k < nc + 4; k++) {
    const char *h = k < nc ? cu_ledger_dim_name(r->cols[k]) : amounts[k - nc];
    if (csv)
      printf("%s%s", k ? "," : "", h);
    else
      printf("%s%-*s", k ? "  " : "", (int)w[k], h);
  }
  putchar('\n');
  for (size_t i = 0; i < r->nrows; i++) {
    const cu_ledger_result_row *row = &r->rows[i];
    char buf[4][64];
    cu_ledger_decimal_format(row->quantity, CU_QTY_SCALE, buf[0], 64);
    cu_ledger_decimal_format(row->billed, CU_COST_SCALE, buf[1], 64);
    cu_ledger_decimal_format(row->effective, CU_COST_SCALE, buf[2], 64);
    snprintf(buf[3], 64, "%lld", (long long)row->rows);
    for (size_t k = 0; k < nc + 4; k++) {
      const char *v = k < nc ? row->key[k] : buf[k - nc];
      if (csv) {
        if (k)
          putchar(',');
        print_csv_field(v);
      } else {
        /* Amounts right-aligned, keys left-aligned. */
        printf("%s%*s", k ? "  " : "", k < nc ? -(int)w[k] : (int)w[k], v);
      }
    }
    putchar('\n');
  }
  free(cells);
  if (!csv && !tool_g.quiet)
    fprintf(stderr, "%zu row(s); result sha256 %s (recorded)\n", r->nrows,
            r->sha256);
}

int tool_usage_opt(int c, cu_ledger_query_spec *spec, const char **by) {
  switch (c) {
  case 'a': spec->account = optarg; return 1;
  case 'u': spec->unit = optarg; return 1;
  case 's': spec->subscription = optarg; return 1;
  case 'g': spec->category = optarg; return 1;
  case 'v': spec->service = optarg; return 1;
  case 'r': spec->region = optarg; return 1;
  case 'n': spec->country = optarg; return 1;
  case 'f': spec->from = optarg; return 1;
  case 't': spec->to = optarg; return 1;
  case 'b': *by = optarg; return 1;
  default: return 0;
  }
}

int tool_usage(int argc, char **argv) {
  static const struct option opts[] = {
      TOOL_COMMON_LONGOPTS,
      TOOL_USAGE_LONGOPTS,
      {"case", required_argument, NULL, 'c'},
      {"format", required_argument, NULL, 'F'},
      {"series", required_argument, NULL, 'S'},
      {0, 0, 0, 0}};
  cu_ledger_query_spec spec;
  memset(&spec, 0, sizeof spec);
  const char *by = NULL, *format = NULL, *series = NULL;
  int c;
  while ((c = getopt_long(argc, argv, "w:qh", opts, NULL)) != -1) {
    if (tool_usage_opt(c, &spec, &by))
      continue;
    switch (c) {
    case 'c': spec.case_id = optarg; break;
    case 'F': format = optarg; break;
    case 'S': series = optarg; break;
    default:
      if (!tool_common_opt(c, help))
        return tool_usage_error("usage", "unknown option");
    }
  }
  if (optind < argc)
    return tool_usage_error("usage", "unexpected argument '%s'", argv[optind]);
  if (!format)
    format = tool_g.json ? "json" : "table";
  if (strcmp(format, "json") != 0 && strcmp(format, "csv") != 0 &&
      strcmp(format, "table") != 0)
    return tool_usage_error("usage", "--format is table, json or csv");
  custos_diag d;
  custos_diag_clear(&d);
  if (by) {
    if (cu_ledger_parse_by(by, &spec, &d) != CUSTOS_OK)
      return tool_usage_error("usage", "--by: '%s' is not a grouping; %s",
                              d.value, d.hint);
  }
  int code = 0;
  cu_ws *ws = tool_open_ws(&code);
  if (!ws)
    return code;
  cu_ledger_result *res = NULL;
  custos_rc rc = series ? cu_ledger_monthly_series(ws, series, spec.case_id,
                                                   &res, &d)
                        : cu_ledger_query(ws, &spec, &res, &d);
  cu_ws_close(ws);
  if (rc != CUSTOS_OK)
    return tool_fail(&d, rc);
  print_result(res, format);
  cu_ledger_result_free(res);
  return TOOL_EXIT_OK;
}
