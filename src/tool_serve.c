/*
 * custos serve: the HTTP API with the decision point's routes, fed from
 * the workspace (local feed) or from the NATS bucket.  Runs until SIGINT
 * or SIGTERM.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "tool.h"

static const char help[] =
    "usage: custos serve [--listen ADDR] [--nats URL [--bucket NAME]]\n"
    "                    [--snapshot FILE] [--max-lag MS] [--point ID]\n"
    "                    [--fail SERVICE=open|closed]... [--default-fail MODE]\n"
    "                    [--threads N] [--pdp-only]\n"
    "\n"
    "Serves GET /v1/check and GET /v1/status (docs/http-api.md) on ADDR\n"
    "(default 127.0.0.1:8080; port 0 picks a free one, printed on the first\n"
    "line of output).  Blocks come from the workspace, or with --nats from\n"
    "the key-value bucket that `custos publish` fills.  --snapshot keeps a\n"
    "local copy so that a restart resumes from its revision.  When the feed\n"
    "has not been heard for --max-lag ms (default 5000), services marked\n"
    "--fail SERVICE=closed deny everything; the others (and by default all)\n"
    "answer from the last table they have.  --pdp-only is accepted for\n"
    "compatibility: the decision point's routes are all it serves today.\n";

#define FAIL_SPEC_MAX 4096

int tool_serve(int argc, char **argv) {
  static const struct option lo[] = {
      TOOL_COMMON_LONGOPTS,
      {"listen", required_argument, NULL, 'l'},
      {"nats", required_argument, NULL, 'n'},
      {"bucket", required_argument, NULL, 'b'},
      {"snapshot", required_argument, NULL, 's'},
      {"max-lag", required_argument, NULL, 'm'},
      {"point", required_argument, NULL, 'p'},
      {"fail", required_argument, NULL, 'f'},
      {"default-fail", required_argument, NULL, 'F'},
      {"threads", required_argument, NULL, 't'},
      {"pdp-only", no_argument, NULL, 'P'},
      {0, 0, 0, 0}};
  custos_pdp_config cfg;
  custos_pdp_config_init(&cfg);
  cu_http_config hc = {.listen = "127.0.0.1:8080"};
  char fail[FAIL_SPEC_MAX] = "";
  int c;
  while ((c = getopt_long(argc, argv, "w:qh", lo, NULL)) != -1) {
    char *end = NULL;
    unsigned long v;
    switch (c) {
    case 'l': hc.listen = optarg; break;
    case 'n': cfg.nats_url = optarg; break;
    case 'b': cfg.bucket = optarg; break;
    case 's': cfg.snapshot = optarg; break;
    case 'p': cfg.point_id = optarg; break;
    case 'P': break;
    case 'm':
      v = strtoul(optarg, &end, 10);
      if (!end || *end || v == 0 || v > 86400000)
        return tool_usage_error("serve", "--max-lag needs milliseconds");
      cfg.max_lag_ms = (uint32_t)v;
      break;
    case 't':
      v = strtoul(optarg, &end, 10);
      if (!end || *end || v == 0 || v > 256)
        return tool_usage_error("serve", "--threads needs 1 to 256");
      hc.threads = (unsigned)v;
      break;
    case 'f':
      if (strlen(fail) + strlen(optarg) + 2 > sizeof fail)
        return tool_usage_error("serve", "too many --fail options");
      if (fail[0])
        strcat(fail, ",");
      strcat(fail, optarg);
      break;
    case 'F':
      if (strcmp(optarg, "open") == 0)
        cfg.default_fail = CUSTOS_PDP_FAIL_OPEN;
      else if (strcmp(optarg, "closed") == 0)
        cfg.default_fail = CUSTOS_PDP_FAIL_CLOSED;
      else
        return tool_usage_error("serve", "--default-fail is open or closed");
      break;
    default:
      if (!tool_common_opt(c, help))
        return tool_usage_error("serve", "unknown option");
    }
  }
  if (optind != argc)
    return tool_usage_error("serve", "unexpected argument '%s'", argv[optind]);
  if (!cfg.nats_url)
    cfg.workspace = tool_g.workspace;
  cfg.fail_services = fail;

  /* Signals are taken by sigwait below; every thread started from here on
   * inherits the blocked mask. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);

  custos_diag d;
  custos_diag_clear(&d);
  custos_pdp *p = NULL;
  custos_rc rc = custos_pdp_open(&cfg, &p, &d);
  if (rc != CUSTOS_OK)
    return tool_fail(&d, rc);
  hc.pdp = p;
  cu_http_server *srv = NULL;
  rc = cu_http_start(&hc, &srv, &d);
  if (rc != CUSTOS_OK) {
    custos_pdp_close(p);
    return tool_fail(&d, rc);
  }
  printf("listening on port %u\n", cu_http_port(srv));
  fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  cu_http_stop(srv);
  custos_pdp_close(p);
  if (!tool_g.quiet)
    fprintf(stderr, "custos serve: stopped (signal %d)\n", sig);
  return TOOL_EXIT_OK;
}
