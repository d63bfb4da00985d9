/* custos decide: the decision on a case (policy, scope, effect, time). */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cases/cases.h"
#include "tool.h"

static const char help[] =
    "usage: custos decide CASE --as PERSON --policy P --scope KEY=VALUE...\n"
    "                     --effect E --rationale TEXT [--effective TIME]\n"
    "                     [--future]\n"
    "\n"
    "Records the decision on CASE once every claim has a finding and at\n"
    "least one is supported.\n"
    "  --as PERSON     the registered reviewer who decides (default: the\n"
    "                  actor, $CUSTOS_ACTOR)\n"
    "  --policy P      a policy id of the workspace's policies file\n"
    "  --scope K=V     whom and what it applies to: account, unit,\n"
    "                  subscription (at least one of these), narrowed by\n"
    "                  category, service, region, country; repeat a key to\n"
    "                  list several values\n"
    "  --effect E      deny-new, read-only or deny-all\n"
    "  --effective T   when it bites: an RFC 3339 time, or +Nh / +Nd from now\n"
    "                  (a grace period); default now\n"
    "  --future        also cover subscriptions created later in the scope\n";

/* Parses "+72h", "+3d" or an RFC 3339 time. */
static int parse_when(const char *s, int64_t *out) {
  if (s[0] == '+') {
    char *end = NULL;
    long long v = strtoll(s + 1, &end, 10);
    if (!end || v < 0 || v > 24 * 365 * 10 || (strcmp(end, "h") != 0 &&
                                                strcmp(end, "d") != 0))
      return -1;
    *out = cu_time_now() + v * (end[0] == 'h' ? 3600 : 86400);
    return 0;
  }
  return cu_time_parse(s, strlen(s), out) == CUSTOS_OK ? 0 : -1;
}

int tool_decide(int argc, char **argv) {
  static const struct option opts[] = {
      TOOL_COMMON_LONGOPTS,
      {"policy", required_argument, NULL, 'p'},
      {"scope", required_argument, NULL, 's'},
      {"effect", required_argument, NULL, 'e'},
      {"effective", required_argument, NULL, 't'},
      {"rationale", required_argument, NULL, 'r'},
      {"future", no_argument, NULL, 'f'},
      {"as", required_argument, NULL, 'a'},
      {0, 0, 0, 0}};
  const char *as = NULL;
  cu_decision_in in;
  memset(&in, 0, sizeof in);
  in.effective_at = cu_time_now();
  const char *scopes[64];
  size_t nscopes = 0;
  int c;
  while ((c = getopt_long(argc, argv, "w:qhp:s:e:t:r:fa:", opts, NULL)) != -1) {
    if (c == 'p') {
      in.policy = optarg;
    } else if (c == 's') {
      if (nscopes == CU_ARRAY_LEN(scopes))
        return tool_usage_error("decide", "at most 64 --scope");
      scopes[nscopes++] = optarg;
    } else if (c == 'e') {
      in.effect = optarg;
    } else if (c == 't') {
      if (parse_when(optarg, &in.effective_at) != 0)
        return tool_usage_error("decide", "--effective '%s': use an RFC 3339 "
                                          "time or +Nh / +Nd",
                                optarg);
    } else if (c == 'r') {
      in.rationale = optarg;
    } else if (c == 'f') {
      in.future = true;
    } else if (c == 'a') {
      as = optarg;
    } else if (!tool_common_opt(c, help)) {
      return tool_usage_error("decide", "unknown option");
    }
  }
  if (optind + 1 != argc || !in.policy || !in.effect || nscopes == 0 ||
      !in.rationale)
    return tool_usage_error("decide", "needs CASE, --policy, --scope, "
                                      "--effect and --rationale");
  int code = 0;
  cu_ws *ws = tool_open_ws(&code);
  if (!ws)
    return code;
  if (as)
    cu_ws_set_actor(ws, as);
  custos_diag d;
  custos_diag_clear(&d);
  cu_scope scope = {NULL};
  custos_rc rc = CUSTOS_OK;
  for (size_t i = 0; rc == CUSTOS_OK && i < nscopes; i++)
    rc = cu_scope_add(ws, &scope, scopes[i], &d);
  in.scope = &scope;
  int64_t id = 0;
  if (rc == CUSTOS_OK)
    rc = cu_decision_add(ws, argv[optind], &in, &id, &d);
  tool_sync_close(ws);
  if (rc != CUSTOS_OK) {
    cu_scope_free(&scope);
    return tool_fail(&d, rc);
  }
  char when[32];
  cu_time_format(in.effective_at, when, sizeof when);
  if (tool_g.json) {
    tool_print_json(json_pack("{s:I,s:s,s:s,s:O,s:s,s:s}", "decision",
                              (json_int_t)id, "case", argv[optind], "policy",
                              in.policy, "scope", scope.sel, "effect",
                              in.effect, "effective_at", when));
  } else if (!tool_g.quiet) {
    char *s = json_dumps(scope.sel, JSON_COMPACT | JSON_SORT_KEYS);
    printf("decision %lld on %s: %s under %s from %s\n  scope %s\n",
           (long long)id, argv[optind], in.effect, in.policy, when,
           s ? s : "?");
    free(s);
  }
  cu_scope_free(&scope);
  return TOOL_EXIT_OK;
}
