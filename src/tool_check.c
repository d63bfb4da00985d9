/*
 * custos check: one decision, as an enforcement point would take it, from
 * the workspace's blocks (local feed) or from the NATS bucket.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "custos/pdp.h"
#include "tool.h"

static const char help[] =
    "usage: custos check SUBSCRIPTION SERVICE REGION [OPERATION]\n"
    "                    [--nats URL [--bucket NAME]] [--min-revision N]\n"
    "                    [--wait MS]\n"
    "\n"
    "Asks the decision point whether SUBSCRIPTION may do OPERATION (create,\n"
    "read, write or delete; default create, which any block refuses) on\n"
    "SERVICE in REGION.  Reads the workspace's blocks, or with --nats the\n"
    "key-value bucket the enforcement points watch.  --min-revision waits\n"
    "up to --wait ms (default 2000) for that revision, then answers stale.\n"
    "Exit codes: 0 allowed, 5 denied.\n";

int tool_check(int argc, char **argv) {
  static const struct option lo[] = {
      TOOL_COMMON_LONGOPTS,
      {"nats", required_argument, NULL, 'n'},
      {"bucket", required_argument, NULL, 'b'},
      {"min-revision", required_argument, NULL, 'r'},
      {"wait", required_argument, NULL, 'W'},
      {0, 0, 0, 0}};
  const char *nats = NULL, *bucket = NULL;
  unsigned long long min_rev = 0;
  unsigned long wait_ms = 2000;
  int c;
  while ((c = getopt_long(argc, argv, "w:qh", lo, NULL)) != -1) {
    char *end = NULL;
    if (c == 'n') {
      nats = optarg;
    } else if (c == 'b') {
      bucket = optarg;
    } else if (c == 'r') {
      min_rev = strtoull(optarg, &end, 10);
      if (!end || *end)
        return tool_usage_error("check", "--min-revision needs a number");
    } else if (c == 'W') {
      wait_ms = strtoul(optarg, &end, 10);
      if (!end || *end || wait_ms > 600000)
        return tool_usage_error("check", "--wait needs milliseconds");
    } else if (!tool_common_opt(c, help)) {
      return tool_usage_error("check", "unknown option");
    }
  }
  int nargs = argc - optind;
  if (nargs < 3 || nargs > 4)
    return tool_usage_error("check",
                            "give SUBSCRIPTION SERVICE REGION [OPERATION]");
  custos_pdp_op op = CUSTOS_PDP_CREATE;
  if (nargs == 4 && custos_pdp_op_parse(argv[optind + 3], &op) != 0)
    return tool_usage_error("check",
                            "OPERATION is create, read, write or delete");

  custos_pdp_config cfg;
  custos_pdp_config_init(&cfg);
  if (nats) {
    cfg.nats_url = nats;
    cfg.bucket = bucket;
    cfg.point_id = "custos-check";
  } else {
    cfg.workspace = tool_g.workspace;
  }
  custos_diag d;
  custos_diag_clear(&d);
  custos_pdp *p = NULL;
  custos_rc rc = custos_pdp_open(&cfg, &p, &d);
  if (rc != CUSTOS_OK)
    return tool_fail(&d, rc);
  if (nats && min_rev == 0) {
    /* Until the feed has been heard, the point knows nothing: wait for it
     * (or for the bound) before answering. */
    struct timespec nap = {0, 5 * 1000000};
    for (unsigned long waited = 0; waited < wait_ms; waited += 5) {
      custos_pdp_status st;
      custos_pdp_status_get(p, &st);
      if (st.state == CUSTOS_PDP_LIVE && st.revision >= st.published)
        break;
      nanosleep(&nap, NULL);
    }
  }
  custos_pdp_decision dec;
  rc = custos_pdp_check_at(p, argv[optind], argv[optind + 1], argv[optind + 2],
                           op, min_rev, (uint32_t)wait_ms, &dec);
  custos_pdp_close(p);
  if (rc != CUSTOS_OK) {
    cu_diag_field(&d, "subscription", argv[optind], strlen(argv[optind]));
    cu_diag_set(&d, rc, "cannot check: malformed argument");
    return tool_fail(&d, rc);
  }
  if (tool_g.json) {
    tool_print_json(json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:b}", "decision",
        dec.allow ? "allow" : "deny", "reason",
        custos_pdp_reason_name(dec.reason), "effect",
        custos_pdp_effect_name(dec.effect), "owner", dec.owner, "case",
        dec.case_id, "subscription", argv[optind], "service",
        argv[optind + 1], "operation", custos_pdp_op_name(op), "revision",
        (json_int_t)dec.revision, "stale", dec.stale));
  } else {
    printf("%s", dec.allow ? "allow" : "deny");
    if (!dec.allow)
      printf(" (%s, %s%s%s)", custos_pdp_reason_name(dec.reason),
             custos_pdp_effect_name(dec.effect),
             dec.owner[0] ? ", owner " : "", dec.owner);
    if (!dec.allow && dec.case_id[0])
      printf(" case %s", dec.case_id);
    printf(" at revision %llu%s\n", (unsigned long long)dec.revision,
           dec.stale ? " (stale)" : "");
  }
  return dec.allow ? TOOL_EXIT_OK : TOOL_EXIT_REFUSED;
}
