/* custos case: open a case from an allegation, show it, list cases. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cases/cases.h"
#include "tool.h"

static const char help[] =
    "usage: custos case open --allegation FILE [--custodian NAME]\n"
    "       custos case show CASE\n"
    "       custos case list\n"
    "       custos case status CASE STATUS --reason TEXT\n"
    "\n"
    "open    registers the allegation (Markdown: '# title', 'Source:',\n"
    "        'Date:', body, '## Claims' with a numbered list; see\n"
    "        docs/formats.md) as a source and opens a case with its claims\n"
    "show    the case: claims, evidence, findings, decisions, history\n"
    "list    every case, newest first\n"
    "status  moves a case (e.g. to closed) with a reason\n";

static void print_case(json_t *c) {
  printf("%s  %s\n", json_string_value(json_object_get(c, "id")),
         json_string_value(json_object_get(c, "title")));
  printf("  source %s, %s; status %s\n",
         json_string_value(json_object_get(c, "source")),
         json_string_value(json_object_get(c, "date")),
         json_string_value(json_object_get(c, "status")));
  size_t i, k;
  json_t *cl, *x;
  json_array_foreach(json_object_get(c, "claims"), i, cl) {
    json_int_t n = json_integer_value(json_object_get(cl, "n"));
    printf("\n  claim %lld: %s\n", (long long)n,
           json_string_value(json_object_get(cl, "text")));
    json_array_foreach(json_object_get(c, "evidence"), k, x) {
      if (json_integer_value(json_object_get(x, "claim")) != n)
        continue;
      const char *sum = json_string_value(json_object_get(x, "summary"));
      printf("    evidence %lld (%s): %lld result(s), sha256 %.16s...%s%s\n",
             (long long)json_integer_value(json_object_get(x, "id")),
             json_string_value(json_object_get(x, "kind")),
             (long long)json_integer_value(json_object_get(x, "results")),
             json_string_value(json_object_get(x, "result_sha256")),
             sum ? "\n      " : "", sum ? sum : "");
    }
    json_array_foreach(json_object_get(c, "findings"), k, x) {
      if (json_integer_value(json_object_get(x, "claim")) != n ||
          !json_is_null(json_object_get(x, "superseded_by")))
        continue;
      printf("    finding: %s (%s): %s\n",
             json_string_value(json_object_get(x, "judgement")),
             json_string_value(json_object_get(x, "actor")),
             json_string_value(json_object_get(x, "rationale")));
    }
  }
  json_array_foreach(json_object_get(c, "decisions"), k, x) {
    char *scope = json_dumps(json_object_get(x, "scope"), JSON_COMPACT);
    char when[32];
    cu_time_format(json_integer_value(json_object_get(x, "effective_at")), when,
                   sizeof when);
    printf("\n  decision %lld by %s: policy %s v%lld, %s from %s\n    scope "
           "%s\n",
           (long long)json_integer_value(json_object_get(x, "id")),
           json_string_value(json_object_get(x, "author")),
           json_string_value(json_object_get(x, "policy")),
           (long long)json_integer_value(json_object_get(x, "policy_version")),
           json_string_value(json_object_get(x, "effect")), when,
           scope ? scope : "?");
    free(scope);
  }
  printf("\n  history:\n");
  json_array_foreach(json_object_get(c, "history"), k, x) {
    char when[32];
    cu_time_format(json_integer_value(json_object_get(x, "at")), when,
                   sizeof when);
    printf("    %s  %-10s %-16s %s\n", when,
           json_string_value(json_object_get(x, "status")),
           json_string_value(json_object_get(x, "actor")),
           json_string_value(json_object_get(x, "reason")));
  }
}

int tool_case(int argc, char **argv) {
  static const struct option opts[] = {
      TOOL_COMMON_LONGOPTS,
      {"allegation", required_argument, NULL, 'a'},
      {"custodian", required_argument, NULL, 'c'},
      {"reason", required_argument, NULL, 'r'},
      {0, 0, 0, 0}};
  const char *allegation = NULL, *custodian = "trust-and-safety",
             *reason = NULL;
  int c;
  while ((c = getopt_long(argc, argv, "w:qha:c:r:", opts, NULL)) != -1) {
    if (c == 'a')
      allegation = optarg;
    else if (c == 'c')
      custodian = optarg;
    else if (c == 'r')
      reason = optarg;
    else if (!tool_common_opt(c, help))
      return tool_usage_error("case", "unknown option");
  }
  if (optind >= argc)
    return tool_usage_error("case", "missing subcommand (open, show, list)");
  const char *sub = argv[optind++];
  int rest = argc - optind;
  bool ok = (strcmp(sub, "open") == 0 && rest == 0 && allegation) ||
            (strcmp(sub, "show") == 0 && rest == 1) ||
            (strcmp(sub, "list") == 0 && rest == 0) ||
            (strcmp(sub, "status") == 0 && rest == 2);
  if (!ok)
    return tool_usage_error("case", "wrong arguments for '%s'", sub);
  int code = 0;
  cu_ws *ws = tool_open_ws(&code);
  if (!ws)
    return code;
  custos_diag d;
  custos_diag_clear(&d);
  custos_rc rc = CUSTOS_OK;
  json_t *out = NULL;
  if (strcmp(sub, "open") == 0) {
    char id[CU_CASE_ID_MAX];
    rc = cu_case_open(ws, allegation, custodian, id, &d);
    if (rc == CUSTOS_OK)
      rc = cu_case_json(ws, id, &out, &d);
    if (rc == CUSTOS_OK && !tool_g.json && !tool_g.quiet)
      printf("opened %s: %s (%zu claims)\n", id,
             json_string_value(json_object_get(out, "title")),
             json_array_size(json_object_get(out, "claims")));
  } else if (strcmp(sub, "show") == 0) {
    rc = cu_case_json(ws, argv[optind], &out, &d);
    if (rc == CUSTOS_OK && !tool_g.json)
      print_case(out);
  } else if (strcmp(sub, "status") == 0) {
    rc = cu_ws_begin(ws, &d);
    if (rc == CUSTOS_OK) {
      rc = cu_case_set_status(ws, argv[optind], argv[optind + 1], reason, &d);
      if (rc == CUSTOS_OK)
        rc = cu_ws_commit(ws, &d);
      else
        cu_ws_rollback(ws);
    }
    if (rc == CUSTOS_OK)
      rc = cu_case_json(ws, argv[optind], &out, &d);
  } else {
    rc = cu_case_list_json(ws, &out, &d);
    size_t i;
    json_t *x;
    if (rc == CUSTOS_OK && !tool_g.json)
      json_array_foreach(out, i, x) {
        printf("%-10s %-10s %s\n", json_string_value(json_object_get(x, "id")),
               json_string_value(json_object_get(x, "status")),
               json_string_value(json_object_get(x, "title")));
      }
  }
  tool_sync_close(ws);
  if (rc != CUSTOS_OK) {
    json_decref(out);
    return tool_fail(&d, rc);
  }
  if (tool_g.json)
    tool_print_json(out);
  else
    json_decref(out);
  return TOOL_EXIT_OK;
}
