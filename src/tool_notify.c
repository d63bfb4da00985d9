/* custos notify: configure delivery, queue, send and list notices. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "notify/notify.h"
#include "tool.h"

static const char help[] =
    "usage: custos notify config [--smtp URL] [--from ADDRESS]\n"
    "                            [--webhook URL] [--max-attempts N]\n"
    "       custos notify send [--all]\n"
    "       custos notify list [--case CASE]\n"
    "       custos notify key\n"
    "       custos notify queue --to ADDRESS|--webhook --subject TEXT\n"
    "                           --body-file FILE --key KEY [--case CASE]\n"
    "\n"
    "config  where notices go: an SMTP server (smtp://host:port) and the\n"
    "        sender, and a webhook URL (POST, JSON, signed)\n"
    "send    delivers the queued notices that are due (--all: every queued\n"
    "        one now); a failed delivery stays queued and is retried later\n"
    "list    the outbox with each notice's status, attempts and last error\n"
    "key     prints the webhook signing key (hex) for the receiver\n"
    "queue   queues a notice by hand (the enforcement commands queue the\n"
    "        customer notices themselves)\n";

int tool_notify(int argc, char **argv) {
  static const struct option opts[] = {
      TOOL_COMMON_LONGOPTS,
      {"smtp", required_argument, NULL, 'S'},
      {"from", required_argument, NULL, 'F'},
      {"webhook", optional_argument, NULL, 'H'},
      {"max-attempts", required_argument, NULL, 'M'},
      {"all", no_argument, NULL, 'a'},
      {"case", required_argument, NULL, 'c'},
      {"to", required_argument, NULL, 't'},
      {"subject", required_argument, NULL, 's'},
      {"body-file", required_argument, NULL, 'b'},
      {"key", required_argument, NULL, 'k'},
      {0, 0, 0, 0}};
  cu_notify_config cfg;
  memset(&cfg, 0, sizeof cfg);
  bool all = false, webhook = false;
  const char *case_id = NULL, *to = NULL, *subject = NULL, *body_file = NULL,
             *key = NULL;
  int c;
  while ((c = getopt_long(argc, argv, "w:qh", opts, NULL)) != -1) {
    switch (c) {
    case 'S':
      snprintf(cfg.smtp_url, sizeof cfg.smtp_url, "%s", optarg);
      break;
    case 'F':
      snprintf(cfg.from, sizeof cfg.from, "%s", optarg);
      break;
    case 'H':
      webhook = true;
      if (optarg)
        snprintf(cfg.webhook_url, sizeof cfg.webhook_url, "%s", optarg);
      break;
    case 'M': {
      char *end = NULL;
      long v = strtol(optarg, &end, 10);
      if (!end || *end || v < 1 || v > 1000)
        return tool_usage_error("notify", "--max-attempts takes 1 to 1000");
      cfg.max_attempts = (int)v;
      break;
    }
    case 'a':
      all = true;
      break;
    case 'c':
      case_id = optarg;
      break;
    case 't':
      to = optarg;
      break;
    case 's':
      subject = optarg;
      break;
    case 'b':
      body_file = optarg;
      break;
    case 'k':
      key = optarg;
      break;
    default:
      if (!tool_common_opt(c, help))
        return tool_usage_error("notify", "unknown option");
    }
  }
  if (optind + 1 != argc)
    return tool_usage_error("notify", "needs one subcommand");
  const char *sub = argv[optind];
  int code = 0;
  custos_diag d;
  custos_diag_clear(&d);
  custos_rc rc = CUSTOS_OK;
  if (strcmp(sub, "config") == 0) {
    cu_ws *ws = tool_open_ws(&code);
    if (!ws)
      return code;
    rc = cu_notify_config_set(ws, &cfg, &d);
    if (rc == CUSTOS_OK)
      rc = cu_notify_config_get(ws, &cfg, &d);
    tool_sync_close(ws);
    if (rc != CUSTOS_OK)
      return tool_fail(&d, rc);
    if (tool_g.json)
      tool_print_json(json_pack("{s:s,s:s,s:s,s:i}", "smtp", cfg.smtp_url,
                                "from", cfg.from, "webhook", cfg.webhook_url,
                                "max_attempts", cfg.max_attempts));
    else if (!tool_g.quiet)
      printf("smtp %s, from %s, webhook %s, at most %d attempts\n",
             cfg.smtp_url[0] ? cfg.smtp_url : "(none)",
             cfg.from[0] ? cfg.from : "(none)",
             cfg.webhook_url[0] ? cfg.webhook_url : "(none)",
             cfg.max_attempts);
    return TOOL_EXIT_OK;
  }
  if (strcmp(sub, "key") == 0) {
    cu_ws *ws = tool_open_ws(&code);
    if (!ws)
      return code;
    char path[PATH_MAX], *text = NULL;
    size_t len = 0;
    rc = cu_ws_path(ws, "keys/webhook.key", path, sizeof path);
    if (rc == CUSTOS_OK)
      rc = cu_file_read(path, 256, &text, &len, &d);
    tool_sync_close(ws);
    if (rc == CUSTOS_ENOTFOUND)
      cu_diag_hint(&d, "set a webhook first: custos notify config --webhook "
                       "URL");
    if (rc != CUSTOS_OK)
      return tool_fail(&d, rc);
    fputs(text, stdout);
    cu_free(text);
    return TOOL_EXIT_OK;
  }
  if (strcmp(sub, "queue") == 0) {
    if ((!to && !webhook) || !subject || !body_file || !key)
      return tool_usage_error("notify", "queue needs --to or --webhook, "
                                        "--subject, --body-file and --key");
    char *body = NULL;
    size_t len = 0;
    rc = cu_file_read(body_file, CU_NOTICE_MAX_BODY, &body, &len, &d);
    if (rc != CUSTOS_OK)
      return tool_fail(&d, rc);
    cu_ws *ws = tool_open_ws(&code);
    if (!ws) {
      cu_free(body);
      return code;
    }
    cu_notice n = {case_id, webhook ? CU_CHANNEL_WEBHOOK : CU_CHANNEL_EMAIL,
                   to ? to : "", subject, body, key};
    int64_t id = 0;
    rc = cu_ws_begin(ws, &d);
    if (rc == CUSTOS_OK)
      rc = cu_notice_queue(ws, &n, &id, &d);
    if (rc == CUSTOS_OK)
      rc = cu_ws_commit(ws, &d);
    else
      cu_ws_rollback(ws);
    tool_sync_close(ws);
    cu_free(body);
    if (rc != CUSTOS_OK)
      return tool_fail(&d, rc);
    if (!tool_g.quiet && id)
      printf("queued notice %lld\n", (long long)id);
    else if (!tool_g.quiet)
      printf("already queued (key %s)\n", key);
    return TOOL_EXIT_OK;
  }
  if (strcmp(sub, "send") == 0 || strcmp(sub, "list") == 0) {
    cu_ws *ws = tool_open_ws(&code);
    if (!ws)
      return code;
    if (sub[0] == 's') {
      cu_deliver_stats st;
      rc = cu_notify_deliver(ws, cu_time_now(), all, &st, &d);
      tool_sync_close(ws);
      if (rc != CUSTOS_OK)
        return tool_fail(&d, rc);
      if (tool_g.json)
        tool_print_json(json_pack("{s:I,s:I,s:I,s:I}", "sent",
                                  (json_int_t)st.sent, "retry",
                                  (json_int_t)st.retry, "failed",
                                  (json_int_t)st.failed, "waiting",
                                  (json_int_t)st.waiting));
      else if (!tool_g.quiet)
        printf("sent %lld, will retry %lld, gave up %lld, not yet due %lld\n",
               (long long)st.sent, (long long)st.retry, (long long)st.failed,
               (long long)st.waiting);
      /* Notices left undelivered are not an error of this command, but a
       * script should be able to tell: exit 5 when any is not sent. */
      return st.retry || st.failed ? TOOL_EXIT_REFUSED : TOOL_EXIT_OK;
    }
    json_t *arr = NULL;
    rc = cu_notice_list_json(ws, case_id, &arr, &d);
    tool_sync_close(ws);
    if (rc != CUSTOS_OK)
      return tool_fail(&d, rc);
    if (tool_g.json) {
      tool_print_json(arr);
    } else {
      size_t i;
      json_t *x;
      json_array_foreach(arr, i, x) {
        const char *err = json_string_value(json_object_get(x, "last_error"));
        printf("%-4lld %-7s %-8s %-2lld %-32s %s%s%s\n",
               (long long)json_integer_value(json_object_get(x, "id")),
               json_string_value(json_object_get(x, "channel")),
               json_string_value(json_object_get(x, "status")),
               (long long)json_integer_value(json_object_get(x, "attempts")),
               json_string_value(json_object_get(x, "recipient")),
               json_string_value(json_object_get(x, "subject")),
               err ? "\n     last error: " : "", err ? err : "");
      }
      json_decref(arr);
    }
    return TOOL_EXIT_OK;
  }
  return tool_usage_error("notify", "unknown subcommand '%s'", sub);
}
