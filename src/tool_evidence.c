/*
 * custos evidence: pin what supports a claim.  A usage query runs through
 * the ledger (and so is recorded), and its canonical query and result
 * digest become the evidence, so anyone can run it again and compare.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cases/cases.h"
#include "ledger/ledger.h"
#include "records/records.h"
#include "tool.h"

static const char help[] =
    "usage: custos evidence add CASE --claim N --usage [FILTERS] [--by DIMS]\n"
    "       custos evidence add CASE --claim N --search QUERY\n"
    "       custos evidence add CASE --claim N --record ID\n"
    "                           [--summary TEXT]\n"
    "\n"
    "Runs a usage query or a search of mail and documents for the case\n"
    "(recorded like every query) and pins it to claim N with the digest of\n"
    "its result; or pins one record by its id and raw SHA-256.\n"
    "  FILTERS  --account A --unit U --subscription S --category C\n"
    "           --service X --region R --country CC --from D --to D\n"
    "  --by     day, month, account, unit, subscription, category, service,\n"
    "           meter, region, country (comma-separated)\n"
    "  --summary  one line saying what the result shows\n";

/* A search (its text, total and digest of the returned ids) or one record
 * (its id and raw SHA-256) as evidence, and the line that says so. */
static custos_rc pin_record(cu_ws *ws, const char *case_id, int claim,
                            const char *search, long long record,
                            const char *summary, int64_t *id,
                            custos_diag *d) {
  custos_rc rc;
  if (search) {
    cu_rec_query q;
    memset(&q, 0, sizeof q);
    q.text = search;
    q.has_attachment = -1;
    q.case_id = case_id;
    cu_rec_result r;
    memset(&r, 0, sizeof r);
    rc = cu_rec_search(ws, &q, &r, d);
    json_t *query = json_pack("{s:s}", "text", search);
    if (rc == CUSTOS_OK) {
      cu_evidence ev = {"search", query, r.total, r.digest, summary};
      rc = cu_evidence_add(ws, case_id, claim, &ev, id, d);
    }
    if (rc == CUSTOS_OK && tool_g.json)
      tool_print_json(json_pack("{s:I,s:s,s:i,s:I,s:s}", "evidence",
                                (json_int_t)*id, "case", case_id, "claim",
                                claim, "results", (json_int_t)r.total,
                                "result_sha256", r.digest));
    else if (rc == CUSTOS_OK && !tool_g.quiet)
      printf("evidence %lld for claim %d of %s: search, %lld hit(s), ids "
             "sha256 %s\n",
             (long long)*id, claim, case_id, (long long)r.total, r.digest);
    json_decref(query);
    cu_rec_result_free(&r);
    return rc;
  }
  json_t *rec = NULL;
  rc = cu_rec_show(ws, record, case_id, &rec, d);
  if (rc != CUSTOS_OK)
    return rc;
  const char *sha = json_string_value(json_object_get(rec, "raw_sha256"));
  if (!sha || !*sha) {
    json_decref(rec);
    return cu_diag_set(d, CUSTOS_EVERIFY, "record %lld has no custody digest",
                       record);
  }
  json_t *query = json_pack("{s:I}", "record", (json_int_t)record);
  cu_evidence ev = {"record", query, 1, sha, summary};
  rc = cu_evidence_add(ws, case_id, claim, &ev, id, d);
  if (rc == CUSTOS_OK && !tool_g.quiet)
    printf("evidence %lld for claim %d of %s: record %lld, raw sha256 %s\n",
           (long long)*id, claim, case_id, record, sha ? sha : "?");
  json_decref(query);
  json_decref(rec);
  return rc;
}

int tool_evidence(int argc, char **argv) {
  static const struct option opts[] = {
      TOOL_COMMON_LONGOPTS,
      {"claim", required_argument, NULL, 'N'},
      {"usage", no_argument, NULL, 'U'},
      TOOL_USAGE_LONGOPTS,
      {"summary", required_argument, NULL, 'S'},
      {"search", required_argument, NULL, 'Q'},
      {"record", required_argument, NULL, 'R'},
      {0, 0, 0, 0}};
  cu_ledger_query_spec spec;
  memset(&spec, 0, sizeof spec);
  const char *by = NULL, *summary = NULL, *search = NULL;
  long long record = 0;
  long claim = 0;
  bool usage = false;
  int c;
  while ((c = getopt_long(argc, argv, "w:qh", opts, NULL)) != -1) {
    char *end = NULL;
    if (tool_usage_opt(c, &spec, &by))
      continue;
    switch (c) {
    case 'N':
      claim = strtol(optarg, &end, 10);
      if (!end || *end || claim < 1 || claim > CU_ALLEGATION_MAX_CLAIMS)
        return tool_usage_error("evidence", "--claim needs a claim number");
      break;
    case 'U': usage = true; break;
    case 'S': summary = optarg; break;
    case 'Q': search = optarg; break;
    case 'R':
      record = strtoll(optarg, &end, 10);
      if (!end || *end || record < 1)
        return tool_usage_error("evidence", "--record needs a record id");
      break;
    default:
      if (!tool_common_opt(c, help))
        return tool_usage_error("evidence", "unknown option");
    }
  }
  if (argc - optind != 2 || strcmp(argv[optind], "add") != 0 || !claim ||
      (usage + (search != NULL) + (record != 0)) != 1)
    return tool_usage_error("evidence", "needs add CASE --claim N and one of "
                                        "--usage, --search, --record");
  const char *case_id = argv[optind + 1];
  spec.case_id = case_id;
  custos_diag d;
  custos_diag_clear(&d);
  if (by && cu_ledger_parse_by(by, &spec, &d) != CUSTOS_OK)
    return tool_usage_error("evidence", "--by: '%s' is not a grouping",
                            d.value);
  int code = 0;
  cu_ws *ws = tool_open_ws(&code);
  if (!ws)
    return code;
  custos_rc rc = cu_case_check(ws, case_id, NULL, &d);
  if (rc == CUSTOS_OK && !usage) {
    int64_t id = 0;
    rc = pin_record(ws, case_id, (int)claim, search, record, summary, &id,
                    &d);
    tool_sync_close(ws);
    return rc == CUSTOS_OK ? TOOL_EXIT_OK : tool_fail(&d, rc);
  }
  cu_ledger_result *res = NULL;
  if (rc == CUSTOS_OK)
    rc = cu_ledger_query(ws, &spec, &res, &d);
  int64_t id = 0;
  if (rc == CUSTOS_OK) {
    cu_evidence ev = {"usage", res->query, (int64_t)res->nrows, res->sha256,
                      summary};
    rc = cu_evidence_add(ws, case_id, (int)claim, &ev, &id, &d);
  }
  tool_sync_close(ws);
  if (rc != CUSTOS_OK) {
    cu_ledger_result_free(res);
    return tool_fail(&d, rc);
  }
  if (tool_g.json)
    tool_print_json(json_pack("{s:I,s:s,s:i,s:I,s:s}", "evidence",
                              (json_int_t)id, "case", case_id, "claim",
                              (int)claim, "results", (json_int_t)res->nrows,
                              "result_sha256", res->sha256));
  else if (!tool_g.quiet)
    printf("evidence %lld for claim %ld of %s: usage query, %zu row(s), "
           "result sha256 %s\n",
           (long long)id, claim, case_id, res->nrows, res->sha256);
  cu_ledger_result_free(res);
  return TOOL_EXIT_OK;
}
