/* custos init: create a workspace. */
#include <jansson.h>

#include "cases/cases.h"
#include "tlog/tlog.h"
#include "tool.h"

static const char help[] =
    "usage: custos init [-w DIR]\n"
    "\n"
    "Creates a workspace in DIR (default $CUSTOS_WORKSPACE, else ./custos-ws):\n"
    "custos.db (SQLite, WAL), a random secret for pseudonymisation, and\n"
    "folders for the log, keys, policies and the outbox.  Refuses a DIR\n"
    "that already holds a workspace.\n";

int tool_init(int argc, char **argv) {
  static const struct option opts[] = {TOOL_COMMON_LONGOPTS, {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, TOOL_COMMON_SHORTOPTS, opts, NULL)) !=
         -1) {
    if (!tool_common_opt(c, help))
      return tool_usage_error("init", "unknown option");
  }
  if (optind != argc)
    return tool_usage_error("init", "unexpected argument '%s'", argv[optind]);
  custos_diag d;
  custos_diag_clear(&d);
  custos_rc rc = cu_ws_create(tool_g.workspace, &d);
  if (rc != CUSTOS_OK)
    return tool_fail(&d, rc);
  /* Default policies, then the log's key, origin and first checkpoint
   * (with the workspace.init event as entry 0). */
  cu_ws *ws = NULL;
  rc = cu_ws_open(tool_g.workspace, &ws, &d);
  if (rc == CUSTOS_OK)
    rc = cu_policy_init(ws, &d);
  if (rc == CUSTOS_OK)
    rc = cu_log_sync(ws, &d);
  cu_ws_close(ws);
  if (rc != CUSTOS_OK)
    return tool_fail(&d, rc);
  if (tool_g.json)
    tool_print_json(json_pack("{s:s,s:b}", "workspace", tool_g.workspace,
                              "created", 1));
  else if (!tool_g.quiet)
    printf("created workspace %s\n", tool_g.workspace);
  return TOOL_EXIT_OK;
}
