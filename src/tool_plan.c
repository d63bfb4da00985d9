/*
 * custos plan, approve, apply, reinstate, plans and setting: from a
 * decision to blocks, through signed approvals, and back.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "enforce/enforce.h"
#include "tool.h"

static const char plan_help[] =
    "usage: custos plan CASE -o PLAN [--max-targets N] [--owner OWNER]\n"
    "       custos reinstate CASE --reason TEXT -o PLAN\n"
    "\n"
    "Writes the plan of the case's latest decision to the file PLAN: every\n"
    "(subscription, service, region) target that apply will block, and the\n"
    "same customer's services that stay running, computed from the usage\n"
    "ledger (the query is recorded).  The file's SHA-256 is the plan's\n"
    "identity; approvers sign it and apply refuses any other bytes.\n"
    "  --max-targets N  refuse a plan with more targets (default 100)\n"
    "  --owner OWNER    who owns the blocks (default aup); only the owner's\n"
    "                   reinstatement lifts them\n"
    "reinstate writes a plan that lifts every block the case holds.\n";

static const char approve_help[] =
    "usage: custos approve PLAN --as PERSON\n"
    "\n"
    "Signs the plan hash as PERSON (a registered approver who did not make\n"
    "the decision) with their Ed25519 key.  Refused, and the refusal\n"
    "recorded: a changed plan file, a superseded plan, a person who is not\n"
    "an approver, the decision's author, a second approval by one person.\n";

static const char apply_help[] =
    "usage: custos apply PLAN --as PERSON\n"
    "\n"
    "Applies the plan as PERSON (an enforcer) once it has the required\n"
    "number of valid approvals (setting enforce.required_approvals, default\n"
    "2): puts each target's block in the decision point and records one\n"
    "outcome per target.  An interrupted apply is completed by running it\n"
    "again; a complete one changes nothing.  Then queues the customer\n"
    "notices, built from the recorded outcomes (send them with custos\n"
    "notify send).\n";

static const char plans_help[] =
    "usage: custos plans [CASE]\n"
    "       custos setting get KEY\n"
    "       custos setting set KEY VALUE\n"
    "\n"
    "plans    every plan (of CASE) with status, approvals and outcomes\n"
    "setting  enforce.required_approvals, notify.appeal, notify.provider\n";

static void on_progress(void *ud, int64_t done, int64_t total) {
  (void)ud;
  tool_progress(false, "apply: %lld of %lld targets", (long long)done,
                (long long)total);
}

static int plan_cmd(int argc, char **argv, bool reinstate) {
  static const struct option opts[] = {
      TOOL_COMMON_LONGOPTS,
      {"output", required_argument, NULL, 'o'},
      {"max-targets", required_argument, NULL, 'm'},
      {"owner", required_argument, NULL, 'O'},
      {"reason", required_argument, NULL, 'r'},
      {"reinstate", no_argument, NULL, 'R'},
      {0, 0, 0, 0}};
  const char *cmd = reinstate ? "reinstate" : "plan";
  cu_plan_opts o = {NULL, 0, reinstate, NULL};
  const char *out = NULL;
  int c;
  while ((c = getopt_long(argc, argv, "w:qho:m:O:r:R", opts, NULL)) != -1) {
    char *end = NULL;
    if (c == 'o') {
      out = optarg;
    } else if (c == 'm') {
      o.max_targets = strtoll(optarg, &end, 10);
      if (!end || *end || o.max_targets < 1)
        return tool_usage_error(cmd, "--max-targets needs a positive number");
    } else if (c == 'O') {
      o.owner = optarg;
    } else if (c == 'r') {
      o.reason = optarg;
    } else if (c == 'R') {
      o.reinstate = true;
    } else if (!tool_common_opt(c, plan_help)) {
      return tool_usage_error(cmd, "unknown option");
    }
  }
  if (optind + 1 != argc || !out)
    return tool_usage_error(cmd, "needs CASE and -o PLAN");
  if (o.reinstate && !o.reason)
    return tool_usage_error(cmd, "a reinstatement needs --reason");
  int code = 0;
  cu_ws *ws = tool_open_ws(&code);
  if (!ws)
    return code;
  custos_diag d;
  custos_diag_clear(&d);
  cu_buf text;
  cu_buf_init(&text, CU_PLAN_MAX_BYTES);
  char hash[CU_PLAN_HASH_LEN + 1];
  cu_plan_stats st;
  custos_rc rc = cu_plan_make(ws, argv[optind], &o, &text, hash, &st, &d);
  tool_sync_close(ws);
  if (rc == CUSTOS_OK)
    rc = cu_file_write_atomic(out, text.data, text.len, 0644, &d);
  if (rc != CUSTOS_OK) {
    cu_buf_free(&text);
    return tool_fail(&d, rc);
  }
  if (tool_g.json) {
    json_t *plan = json_loadb(text.data, text.len, 0, NULL);
    tool_print_json(json_pack("{s:s,s:s,s:I,s:I,s:o?}", "plan", out, "sha256",
                              hash, "targets", (json_int_t)st.targets,
                              "unaffected", (json_int_t)st.unaffected,
                              "body", plan));
  } else if (!tool_g.quiet) {
    json_t *plan = json_loadb(text.data, text.len, 0, NULL);
    printf("plan %s written to %s\n", hash, out);
    size_t i;
    json_t *t;
    printf("\n%s (%lld):\n", o.reinstate ? "blocks to lift" : "will be blocked",
           (long long)st.targets);
    json_array_foreach(json_object_get(plan, "targets"), i, t) {
      printf("  %-38s %-30s %s\n",
             json_string_value(json_object_get(t, "subscription")),
             json_string_value(json_object_get(t, "service")),
             json_string_value(json_object_get(t, "region")));
    }
    if (!o.reinstate) {
      printf("\nstays running for the same customer (%lld):\n",
             (long long)st.unaffected);
      json_array_foreach(json_object_get(plan, "unaffected"), i, t) {
        printf("  %-38s %-30s %s\n",
               json_string_value(json_object_get(t, "subscription")),
               json_string_value(json_object_get(t, "service")),
               json_string_value(json_object_get(t, "region")));
      }
    }
    printf("\nnext: custos approve %s --as APPROVER (by two people who did "
           "not make the decision)\n",
           out);
    json_decref(plan);
  }
  cu_buf_free(&text);
  return TOOL_EXIT_OK;
}

int tool_plan(int argc, char **argv) { return plan_cmd(argc, argv, false); }
int tool_reinstate(int argc, char **argv) {
  return plan_cmd(argc, argv, true);
}

/* approve and apply share their shape: PLAN --as PERSON.  Parses the
 * command line and opens the workspace acting as PERSON; NULL (with
 * *code set) when either fails. */
static cu_ws *plan_person(int argc, char **argv, const char *cmd,
                          const char *help, const char **person,
                          int *code) {
  static const struct option opts[] = {
      TOOL_COMMON_LONGOPTS, {"as", required_argument, NULL, 'a'},
      {0, 0, 0, 0}};
  int c;
  *person = NULL;
  while ((c = getopt_long(argc, argv, "w:qha:", opts, NULL)) != -1) {
    if (c == 'a')
      *person = optarg;
    else if (!tool_common_opt(c, help)) {
      *code = tool_usage_error(cmd, "unknown option");
      return NULL;
    }
  }
  if (optind + 1 != argc || !*person) {
    *code = tool_usage_error(cmd, "needs PLAN and --as PERSON");
    return NULL;
  }
  cu_ws *ws = tool_open_ws(code);
  if (ws)
    cu_ws_set_actor(ws, *person);
  return ws;
}

int tool_approve(int argc, char **argv) {
  const char *person;
  int code = 0;
  cu_ws *ws = plan_person(argc, argv, "approve", approve_help, &person, &code);
  if (!ws)
    return code;
  custos_diag d;
  custos_diag_clear(&d);
  custos_rc rc = cu_plan_approve(ws, argv[optind], person, &d);
  tool_sync_close(ws);
  if (rc != CUSTOS_OK)
    return tool_fail(&d, rc);
  if (tool_g.json)
    tool_print_json(json_pack("{s:s,s:s}", "plan", argv[optind], "approved_by",
                              person));
  else if (!tool_g.quiet)
    printf("%s approved %s\n", person, argv[optind]);
  return TOOL_EXIT_OK;
}

int tool_apply(int argc, char **argv) {
  const char *person;
  int code = 0;
  cu_ws *ws = plan_person(argc, argv, "apply", apply_help, &person, &code);
  if (!ws)
    return code;
  custos_diag d;
  custos_diag_clear(&d);
  cu_apply_stats st;
  custos_rc rc =
      cu_plan_apply(ws, argv[optind], person, on_progress, NULL, &st, &d);
  tool_progress_done();
  tool_sync_close(ws);
  if (rc != CUSTOS_OK)
    return tool_fail(&d, rc);
  if (tool_g.json)
    tool_print_json(json_pack(
        "{s:s,s:I,s:I,s:I,s:I,s:I,s:I}", "plan", argv[optind], "targets",
        (json_int_t)st.targets, "done", (json_int_t)st.done, "already",
        (json_int_t)st.already, "failed", (json_int_t)st.failed, "notices",
        (json_int_t)st.notices, "revision", (json_int_t)st.revision));
  else if (!tool_g.quiet && st.done == 0)
    printf("nothing to do: all %lld targets of %s have recorded outcomes\n",
           (long long)st.targets, argv[optind]);
  else if (!tool_g.quiet)
    printf("applied %s: %lld outcome(s) recorded now (%lld failed), %lld "
           "found from an earlier run; %lld notice(s) queued\n",
           argv[optind], (long long)st.done, (long long)st.failed,
           (long long)st.already, (long long)st.notices);
  return st.failed ? TOOL_EXIT_REFUSED : TOOL_EXIT_OK;
}

int tool_plans(int argc, char **argv) {
  static const struct option opts[] = {TOOL_COMMON_LONGOPTS, {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "w:qh", opts, NULL)) != -1)
    if (!tool_common_opt(c, plans_help))
      return tool_usage_error("plans", "unknown option");
  if (argc - optind > 1)
    return tool_usage_error("plans", "at most one CASE");
  int code = 0;
  cu_ws *ws = tool_open_ws(&code);
  if (!ws)
    return code;
  custos_diag d;
  custos_diag_clear(&d);
  json_t *arr = NULL;
  custos_rc rc = cu_plan_list_json(ws, optind < argc ? argv[optind] : NULL,
                                   &arr, &d);
  cu_ws_close(ws);
  if (rc != CUSTOS_OK)
    return tool_fail(&d, rc);
  if (tool_g.json) {
    tool_print_json(arr);
    return TOOL_EXIT_OK;
  }
  size_t i;
  json_t *x;
  json_array_foreach(arr, i, x) {
    const char *ap = json_string_value(json_object_get(x, "approvals"));
    printf("%.16s  %-10s %-9s %-10s %4lld targets, %lld done, %lld failed; "
           "approved by %s\n",
           json_string_value(json_object_get(x, "hash")),
           json_string_value(json_object_get(x, "case")),
           json_string_value(json_object_get(x, "kind")),
           json_string_value(json_object_get(x, "status")),
           (long long)json_integer_value(json_object_get(x, "targets")),
           (long long)json_integer_value(json_object_get(x, "done")),
           (long long)json_integer_value(json_object_get(x, "failed")),
           ap ? ap : "nobody yet");
  }
  json_decref(arr);
  return TOOL_EXIT_OK;
}

int tool_setting(int argc, char **argv) {
  static const struct option opts[] = {TOOL_COMMON_LONGOPTS, {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "w:qh", opts, NULL)) != -1)
    if (!tool_common_opt(c, plans_help))
      return tool_usage_error("setting", "unknown option");
  int rest = argc - optind;
  bool get = rest == 2 && strcmp(argv[optind], "get") == 0;
  bool set = rest == 3 && strcmp(argv[optind], "set") == 0;
  if (!get && !set)
    return tool_usage_error("setting", "use get KEY or set KEY VALUE");
  int code = 0;
  cu_ws *ws = tool_open_ws(&code);
  if (!ws)
    return code;
  custos_diag d;
  custos_diag_clear(&d);
  char value[4096];
  custos_rc rc = CUSTOS_OK;
  if (set)
    rc = cu_setting_set(ws, argv[optind + 1], argv[optind + 2], &d);
  if (rc == CUSTOS_OK)
    rc = cu_setting_get(ws, argv[optind + 1], value, sizeof value, &d);
  tool_sync_close(ws);
  if (rc != CUSTOS_OK)
    return tool_fail(&d, rc);
  if (tool_g.json)
    tool_print_json(json_pack("{s:s,s:s}", "key", argv[optind + 1], "value",
                              value));
  else
    printf("%s\n", value);
  return TOOL_EXIT_OK;
}
