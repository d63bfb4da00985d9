/* custos person: the people who act in a review, with roles and keys. */
#include <string.h>

#include <jansson.h>

#include "cases/cases.h"
#include "tool.h"

static const char help[] =
    "usage: custos person add NAME --role ROLE[,ROLE...]\n"
    "       custos person list\n"
    "       custos person key NAME\n"
    "\n"
    "add   registers a person with roles (reviewer, approver, enforcer,\n"
    "      auditor) and creates their Ed25519 key: the private key in the\n"
    "      workspace (keys/people/NAME.key, 0600), the verifier key on the\n"
    "      record\n"
    "list  people with roles and verifier keys\n"
    "key   prints a person's verifier key, to check approvals offline\n";

int tool_person(int argc, char **argv) {
  static const struct option opts[] = {
      TOOL_COMMON_LONGOPTS, {"role", required_argument, NULL, 'r'},
      {0, 0, 0, 0}};
  const char *role = NULL;
  int c;
  while ((c = getopt_long(argc, argv, "w:qhr:", opts, NULL)) != -1) {
    if (c == 'r')
      role = optarg;
    else if (!tool_common_opt(c, help))
      return tool_usage_error("person", "unknown option");
  }
  if (optind >= argc)
    return tool_usage_error("person", "missing subcommand");
  const char *sub = argv[optind++];
  int rest = argc - optind;
  bool add = strcmp(sub, "add") == 0 && rest == 1 && role;
  bool list = strcmp(sub, "list") == 0 && rest == 0;
  bool key = strcmp(sub, "key") == 0 && rest == 1;
  if (!add && !list && !key)
    return tool_usage_error("person", "wrong arguments for '%s'", sub);
  int code = 0;
  cu_ws *ws = tool_open_ws(&code);
  if (!ws)
    return code;
  custos_diag d;
  custos_diag_clear(&d);
  custos_rc rc;
  char vk[CU_VKEY_MAX];
  if (add) {
    rc = cu_person_add(ws, argv[optind], role, vk, &d);
    tool_sync_close(ws);
    if (rc != CUSTOS_OK)
      return tool_fail(&d, rc);
    if (tool_g.json)
      tool_print_json(json_pack("{s:s,s:s,s:s}", "name", argv[optind],
                                "roles", role, "vkey", vk));
    else if (!tool_g.quiet)
      printf("added %s (%s)\nverifier key: %s\n", argv[optind], role, vk);
    return TOOL_EXIT_OK;
  }
  if (key) {
    rc = cu_person_vkey(ws, argv[optind], vk, &d);
    cu_ws_close(ws);
    if (rc != CUSTOS_OK)
      return tool_fail(&d, rc);
    printf("%s\n", vk);
    return TOOL_EXIT_OK;
  }
  json_t *arr = NULL;
  rc = cu_person_list_json(ws, &arr, &d);
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
    printf("%-20s %-24s %s\n", json_string_value(json_object_get(x, "name")),
           json_string_value(json_object_get(x, "roles")),
           json_string_value(json_object_get(x, "vkey")));
  }
  json_decref(arr);
  return TOOL_EXIT_OK;
}
