/* custos finding: record the judgement on one claim of a case. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cases/cases.h"
#include "tool.h"

static const char help[] =
    "usage: custos finding CASE --claim N --judgement J --rationale TEXT\n"
    "                      [--evidence ID]...\n"
    "\n"
    "Records the finding on claim N of CASE: J is supported, not-supported\n"
    "or inconclusive; the rationale says what the evidence shows; a\n"
    "supported finding cites at least one piece of evidence of the case.\n"
    "A later finding on the same claim supersedes the earlier one, which\n"
    "stays in the history.\n";

int tool_finding(int argc, char **argv) {
  static const struct option opts[] = {
      TOOL_COMMON_LONGOPTS,
      {"claim", required_argument, NULL, 'n'},
      {"judgement", required_argument, NULL, 'j'},
      {"rationale", required_argument, NULL, 'r'},
      {"evidence", required_argument, NULL, 'e'},
      {0, 0, 0, 0}};
  const char *judgement = NULL, *rationale = NULL;
  long claim = 0;
  int64_t ev[64];
  size_t nev = 0;
  int c;
  while ((c = getopt_long(argc, argv, "w:qhn:j:r:e:", opts, NULL)) != -1) {
    char *end = NULL;
    if (c == 'n') {
      claim = strtol(optarg, &end, 10);
      if (!end || *end || claim < 1 || claim > CU_ALLEGATION_MAX_CLAIMS)
        return tool_usage_error("finding", "--claim needs a claim number");
    } else if (c == 'j') {
      judgement = optarg;
    } else if (c == 'r') {
      rationale = optarg;
    } else if (c == 'e') {
      if (nev == CU_ARRAY_LEN(ev))
        return tool_usage_error("finding", "at most 64 --evidence");
      long long v = strtoll(optarg, &end, 10);
      if (!end || *end || v < 1)
        return tool_usage_error("finding", "--evidence needs an evidence id");
      ev[nev++] = v;
    } else if (!tool_common_opt(c, help)) {
      return tool_usage_error("finding", "unknown option");
    }
  }
  if (optind + 1 != argc || !claim || !judgement || !rationale)
    return tool_usage_error("finding", "needs CASE, --claim, --judgement and "
                                       "--rationale");
  int code = 0;
  cu_ws *ws = tool_open_ws(&code);
  if (!ws)
    return code;
  custos_diag d;
  custos_diag_clear(&d);
  int64_t id = 0;
  custos_rc rc = cu_finding_add(ws, argv[optind], (int)claim, judgement,
                                rationale, ev, nev, &id, &d);
  tool_sync_close(ws);
  if (rc != CUSTOS_OK)
    return tool_fail(&d, rc);
  if (tool_g.json)
    tool_print_json(json_pack("{s:I,s:s,s:i,s:s}", "finding", (json_int_t)id,
                              "case", argv[optind], "claim", (int)claim,
                              "judgement", judgement));
  else if (!tool_g.quiet)
    printf("finding %lld: claim %ld of %s is %s\n", (long long)id, claim,
           argv[optind], judgement);
  return TOOL_EXIT_OK;
}
