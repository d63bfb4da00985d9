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
#include "tool.h"

static const char help[] =
    "usage: custos evidence add CASE --claim N --usage [FILTERS] [--by DIMS]\n"
    "                           [--summary TEXT]\n"
    "\n"
    "Runs a usage query for the case (recorded like every query) and pins\n"
    "it to claim N with the digest of its result.\n"
    "  FILTERS  --account A --unit U --subscription S --category C\n"
    "           --service X --region R --country CC --from D --to D\n"
    "  --by     day, month, account, unit, subscription, category, service,\n"
    "           meter, region, country (comma-separated)\n"
    "  --summary  one line saying what the result shows\n";

int tool_evidence(int argc, char **argv) {
  static const struct option opts[] = {
      TOOL_COMMON_LONGOPTS,
      {"claim", required_argument, NULL, 'N'},
      {"usage", no_argument, NULL, 'U'},
      {"account", required_argument, NULL, 'a'},
      {"unit", required_argument, NULL, 'u'},
      {"subscription", required_argument, NULL, 's'},
      {"category", required_argument, NULL, 'g'},
      {"service", required_argument, NULL, 'v'},
      {"region", required_argument, NULL, 'r'},
      {"country", required_argument, NULL, 'n'},
      {"from", required_argument, NULL, 'f'},
      {"to", required_argument, NULL, 't'},
      {"by", required_argument, NULL, 'b'},
      {"summary", required_argument, NULL, 'S'},
      {0, 0, 0, 0}};
  cu_ledger_query_spec spec;
  memset(&spec, 0, sizeof spec);
  const char *by = NULL, *summary = NULL;
  long claim = 0;
  bool usage = false;
  int c;
  while ((c = getopt_long(argc, argv, "w:qh", opts, NULL)) != -1) {
    char *end = NULL;
    switch (c) {
    case 'N':
      claim = strtol(optarg, &end, 10);
      if (!end || *end || claim < 1)
        return tool_usage_error("evidence", "--claim needs a claim number");
      break;
    case 'U': usage = true; break;
    case 'a': spec.account = optarg; break;
    case 'u': spec.unit = optarg; break;
    case 's': spec.subscription = optarg; break;
    case 'g': spec.category = optarg; break;
    case 'v': spec.service = optarg; break;
    case 'r': spec.region = optarg; break;
    case 'n': spec.country = optarg; break;
    case 'f': spec.from = optarg; break;
    case 't': spec.to = optarg; break;
    case 'b': by = optarg; break;
    case 'S': summary = optarg; break;
    default:
      if (!tool_common_opt(c, help))
        return tool_usage_error("evidence", "unknown option");
    }
  }
  if (argc - optind != 2 || strcmp(argv[optind], "add") != 0 || !claim ||
      !usage)
    return tool_usage_error("evidence", "needs add CASE --claim N --usage");
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
