/*
 * custos publish: the control plane's publisher.  Drains the workspace's
 * block outbox to the NATS key-value bucket that enforcement points watch
 * and keeps the heartbeat key fresh, until SIGINT or SIGTERM (or, with
 * --once, until the outbox is empty).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "pdp/pdp.h"
#include "tool.h"

static const char help[] =
    "usage: custos publish --nats URL [--bucket NAME] [--heartbeat MS]\n"
    "                      [--once]\n"
    "\n"
    "Publishes every block change of the workspace, in revision order, to\n"
    "the key-value bucket (default custos-blocks) and puts the heartbeat\n"
    "key every --heartbeat ms (default 500) so that points can tell their\n"
    "lag.  Idempotent: a crash or a second publisher never puts an older\n"
    "block over a newer one.  Creates the buckets when missing.  Runs until\n"
    "SIGINT or SIGTERM; --once drains, sends one heartbeat and exits.\n";

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig) {
  (void)sig;
  stop_flag = 1;
}

int tool_publish(int argc, char **argv) {
  static const struct option lo[] = {
      TOOL_COMMON_LONGOPTS,
      {"nats", required_argument, NULL, 'n'},
      {"bucket", required_argument, NULL, 'b'},
      {"heartbeat", required_argument, NULL, 'H'},
      {"once", no_argument, NULL, 'o'},
      {0, 0, 0, 0}};
  cu_pdp_pub_opts o = {0};
  int c;
  while ((c = getopt_long(argc, argv, "w:qh", lo, NULL)) != -1) {
    char *end = NULL;
    unsigned long v;
    switch (c) {
    case 'n': o.nats_url = optarg; break;
    case 'b': o.bucket = optarg; break;
    case 'o': o.once = true; break;
    case 'H':
      v = strtoul(optarg, &end, 10);
      if (!end || *end || v < 10 || v > 60000)
        return tool_usage_error("publish", "--heartbeat needs 10 to 60000 ms");
      o.heartbeat_ms = (uint32_t)v;
      break;
    default:
      if (!tool_common_opt(c, help))
        return tool_usage_error("publish", "unknown option");
    }
  }
  if (optind != argc)
    return tool_usage_error("publish", "unexpected argument '%s'",
                            argv[optind]);
  if (!o.nats_url)
    return tool_usage_error("publish", "--nats URL is required");
  int code = 0;
  cu_ws *ws = tool_open_ws(&code);
  if (!ws)
    return code;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  o.stop = &stop_flag;
  custos_diag d;
  custos_diag_clear(&d);
  int64_t n = 0;
  custos_rc rc = cu_pdp_publish_run(ws, &o, &n, &d);
  cu_ws_close(ws);
  if (rc != CUSTOS_OK)
    return tool_fail(&d, rc);
  if (tool_g.json)
    tool_print_json(json_pack("{s:I}", "published", (json_int_t)n));
  else if (!tool_g.quiet)
    printf("published %lld block change(s)\n", (long long)n);
  return TOOL_EXIT_OK;
}
