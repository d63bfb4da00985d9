/*
 * custos: the command-line entry point.  Parses the global options, picks
 * the command and turns results into the documented exit codes.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "tlog/tlog.h"
#include "tool.h"

tool_global tool_g;

static const struct {
  const char *name;
  tool_cmd_fn fn;
  const char *summary;
} commands[] = {
    {"init", tool_init, "create a workspace"},
    {"demo", tool_demo, "run the whole story on generated data"},
    {"gen", tool_gen, "generate a fictional provider's records"},
    {"ingest", tool_ingest, "register and ingest sources"},
    {"sources", tool_sources, "list registered sources and their counts"},
    {"directory", tool_directory, "regions, services, accounts and units"},
    {"usage", tool_usage, "usage and cost from the ledger, on the record"},
    {"search", tool_search, "search mail and documents (recorded)"},
    {"show", tool_show, "a record with its custody data (recorded)"},
    {"case", tool_case, "open a case from an allegation, show, list"},
    {"evidence", tool_evidence, "pin a recorded query to a claim"},
    {"finding", tool_finding, "record the finding on a claim"},
    {"decide", tool_decide, "record the decision: policy, scope, effect"},
    {"notify", tool_notify, "notice outbox: configure, send, list"},
    {"person", tool_person, "people, their roles and signing keys"},
    {"plan", tool_plan, "the exact targets of a decision, to approve"},
    {"approve", tool_approve, "sign a plan as an approver"},
    {"apply", tool_apply, "apply an approved plan: blocks and outcomes"},
    {"reinstate", tool_reinstate, "a plan that lifts a case's blocks"},
    {"plans", tool_plans, "plans with approvals and outcomes"},
    {"report", tool_report, "the case report: HTML, Markdown, proofs"},
    {"statement", tool_statement, "the public statement of a case"},
    {"setting", tool_setting, "workspace settings for enforcement"},
    {"log", tool_log, "the transparency log: verify, prove, repair"},
    {"block", tool_block, "put, lift and list blocks (low-level)"},
    {"check", tool_check, "ask the decision point about one operation"},
    {"serve", tool_serve, "serve the HTTP API (/v1/check, /v1/status)"},
    {"publish", tool_publish, "publish block changes to NATS"},
};

static void usage(FILE *f) {
  fprintf(f,
          "usage: custos [-w DIR] [--json] [-q] COMMAND [ARGS]\n"
          "\n"
          "custos reviews an allegation of misuse against a provider's own\n"
          "business records, and ceases exactly what breaks the terms.\n"
          "\n"
          "commands:\n");
  for (size_t i = 0; i < CU_ARRAY_LEN(commands); i++)
    fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf(f,
          "\n"
          "options:\n"
          "  -w, --workspace DIR  workspace (default $CUSTOS_WORKSPACE, "
          "else ./custos-ws)\n"
          "  --json               machine-readable output\n"
          "  -q, --quiet          no progress or chatter on stderr\n"
          "  -h, --help           help (also: custos COMMAND --help)\n"
          "  --version            print the version\n"
          "\n"
          "exit codes: 0 ok, 1 failure, 2 usage, 3 input refused, 4 not "
          "found,\n"
          "            5 refused by a rule or verification, 6 newer "
          "workspace\n");
}

int tool_common_opt(int c, const char *help) {
  switch (c) {
  case 'w':
    tool_g.workspace = optarg;
    return 1;
  case 'J':
    tool_g.json = true;
    return 1;
  case 'q':
    tool_g.quiet = true;
    tool_g.progress = false;
    return 1;
  case 'h':
    fputs(help, stdout);
    exit(TOOL_EXIT_OK);
  default:
    return 0;
  }
}

int tool_exit_code(custos_rc rc) {
  switch (rc) {
  case CUSTOS_OK:
    return TOOL_EXIT_OK;
  case CUSTOS_EINVAL:
  case CUSTOS_EPARSE:
  case CUSTOS_EUTF8:
  case CUSTOS_ETOOBIG:
  case CUSTOS_ECONFLICT:
  case CUSTOS_EEXIST:
    return TOOL_EXIT_INPUT;
  case CUSTOS_ENOTFOUND:
  case CUSTOS_ENOWS:
    return TOOL_EXIT_NOTFOUND;
  case CUSTOS_EREFUSED:
  case CUSTOS_EVERIFY:
    return TOOL_EXIT_REFUSED;
  case CUSTOS_ESCHEMA:
    return TOOL_EXIT_SCHEMA;
  default:
    return TOOL_EXIT_FAIL;
  }
}

int tool_fail(const custos_diag *d, custos_rc rc) {
  char line[2048];
  custos_diag tmp;
  if (!d || d->rc == CUSTOS_OK) {
    custos_diag_clear(&tmp);
    tmp.rc = rc;
    d = &tmp;
  }
  tool_progress_done();
  fprintf(stderr, "custos: %s\n", custos_diag_format(d, line, sizeof line));
  return tool_exit_code(rc);
}

int tool_usage_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "custos %s: ", cmd);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n(see custos %s --help)\n", cmd);
  va_end(ap);
  return TOOL_EXIT_USAGE;
}

cu_ws *tool_open_ws(int *exit_code) {
  custos_diag d;
  custos_diag_clear(&d);
  cu_ws *ws = NULL;
  custos_rc rc = cu_ws_open(tool_g.workspace, &ws, &d);
  if (rc != CUSTOS_OK) {
    *exit_code = tool_fail(&d, rc);
    return NULL;
  }
  return ws;
}

void tool_sync_close(cu_ws *ws) {
  if (!ws)
    return;
  custos_diag d;
  custos_diag_clear(&d);
  custos_rc rc = cu_log_sync(ws, &d);
  cu_ws_close(ws);
  if (rc != CUSTOS_OK) {
    char line[2048];
    tool_progress_done();
    fprintf(stderr,
            "custos: warning: the log was not brought up to date: %s\n"
            "custos: the change itself is saved; the next command, or `custos "
            "log sync`, completes the log\n",
            custos_diag_format(&d, line, sizeof line));
  }
}

static double last_progress;
static bool progress_open;

double tool_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void tool_progress(bool force, const char *fmt, ...) {
  if (!tool_g.progress)
    return;
  double t = tool_now();
  if (!force && t - last_progress < 0.2)
    return;
  last_progress = t;
  va_list ap;
  va_start(ap, fmt);
  fputs("\r\033[K", stderr);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fflush(stderr);
  progress_open = true;
}

void tool_progress_done(void) {
  if (progress_open) {
    fputs("\r\033[K", stderr);
    fflush(stderr);
    progress_open = false;
  }
}

void tool_print_json(json_t *v) {
  if (!v) {
    fprintf(stderr, "custos: out of memory building output\n");
    return;
  }
  json_dumpf(v, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
  fputc('\n', stdout);
  json_decref(v);
}

/* Input files and the workspace database are read through memory maps.
 * A mapped file cut short by another process (or a failing disk) turns a
 * read into SIGBUS; say what happened instead of dying without a word.
 * Nothing is lost: a usage or directory ingest writes only after its
 * input is read, mail commits in whole batches, and SQLite rolls back an
 * unfinished transaction at the next open. */
static void on_sigbus(int sig) {
  (void)sig;
  static const char msg[] =
      "custos: an input file or the workspace database became shorter while "
      "it was being read (SIGBUS): another process truncated it, or the disk "
      "failed.  Nothing past the last completed step was stored; run the "
      "command again once the file is complete.\n";
  ssize_t w = write(2, msg, sizeof msg - 1);
  (void)w;
  _exit(TOOL_EXIT_FAIL);
}

int main(int argc, char **argv) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigbus;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGBUS, &sa, NULL);
  const char *env = getenv("CUSTOS_WORKSPACE");
  tool_g.workspace = env && *env ? env : "custos-ws";
  tool_g.progress = isatty(2) != 0;

  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    const char *a = argv[i];
    if ((strcmp(a, "-w") == 0 || strcmp(a, "--workspace") == 0) &&
        i + 1 < argc) {
      tool_g.workspace = argv[++i];
    } else if (strncmp(a, "--workspace=", 12) == 0) {
      tool_g.workspace = a + 12;
    } else if (strcmp(a, "--json") == 0) {
      tool_g.json = true;
    } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
      tool_g.quiet = true;
      tool_g.progress = false;
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage(stdout);
      return TOOL_EXIT_OK;
    } else if (strcmp(a, "--version") == 0) {
      printf("custos %s\n", CUSTOS_VERSION);
      return TOOL_EXIT_OK;
    } else {
      fprintf(stderr, "custos: unknown option '%s'\n", a);
      usage(stderr);
      return TOOL_EXIT_USAGE;
    }
  }
  if (i >= argc) {
    usage(stderr);
    return TOOL_EXIT_USAGE;
  }
  if (strcmp(argv[i], "help") == 0) {
    usage(stdout);
    return TOOL_EXIT_OK;
  }
  for (size_t k = 0; k < CU_ARRAY_LEN(commands); k++) {
    if (strcmp(argv[i], commands[k].name) == 0) {
      optind = 1;
      return commands[k].fn(argc - i, argv + i);
    }
  }
  fprintf(stderr, "custos: unknown command '%s' (see custos --help)\n",
          argv[i]);
  return TOOL_EXIT_USAGE;
}
