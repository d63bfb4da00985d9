/*
 * The custos command-line tool: shared state, option handling, output and
 * progress.  Each command lives in its own tool_<command>.c and has the
 * signature of tool_cmd_fn.
 */
#ifndef CUSTOS_TOOL_H
#define CUSTOS_TOOL_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "core/core.h"
#include "store/store.h"

/* Exit codes, documented in the README and docs/user-guide.md. */
enum {
  TOOL_EXIT_OK = 0,
  TOOL_EXIT_FAIL = 1,     /* I/O, database, internal */
  TOOL_EXIT_USAGE = 2,    /* bad command line */
  TOOL_EXIT_INPUT = 3,    /* input refused: malformed, too large, conflict */
  TOOL_EXIT_NOTFOUND = 4, /* no workspace, no such object */
  TOOL_EXIT_REFUSED = 5,  /* refused by a rule or a failed verification */
  TOOL_EXIT_SCHEMA = 6,   /* workspace written by a newer custos */
};

typedef struct tool_global {
  const char *workspace; /* -w, else $CUSTOS_WORKSPACE, else "./custos-ws" */
  bool json;             /* --json */
  bool quiet;            /* -q */
  bool progress;         /* stderr is a terminal and not quiet */
} tool_global;

extern tool_global tool_g;

typedef int (*tool_cmd_fn)(int argc, char **argv);

/* Long options every command accepts; put TOOL_COMMON_LONGOPTS first in a
 * command's option table and call tool_common_opt for unknown letters. */
#define TOOL_COMMON_LONGOPTS                                                   \
  {"workspace", required_argument, NULL, 'w'},                                 \
      {"json", no_argument, NULL, 'J'}, {"quiet", no_argument, NULL, 'q'},     \
      {"help", no_argument, NULL, 'h'}
#define TOOL_COMMON_SHORTOPTS "+w:qh"

/* Handles a common option c (with optarg).  Returns 1 when handled, 0 when c
 * is not a common option, and for 'h' prints help and exits 0. */
int tool_common_opt(int c, const char *help);

/* Prints "custos: <diag>" to stderr and returns the exit code for rc. */
int tool_fail(const custos_diag *d, custos_rc rc);
/* Exit code for rc. */
int tool_exit_code(custos_rc rc);
/* Prints a usage error and returns TOOL_EXIT_USAGE. */
int tool_usage_error(const char *cmd, const char *fmt, ...) CUSTOS_PRINTF(2, 3);

/* Opens the chosen workspace, printing the error on failure (then returns
 * NULL and sets *exit_code). */
cu_ws *tool_open_ws(int *exit_code);

/* Brings the transparency log up to date with what the command recorded
 * (cu_log_sync) and closes ws (NULL is fine).  A failed sync is reported
 * on stderr but does not undo the command: the change is saved and the next
 * command, or `custos log sync`, completes the log. */
void tool_sync_close(cu_ws *ws);

/* Seconds on the monotonic clock, for durations. */
double tool_now(void);

/* Progress line on stderr (only when tool_g.progress): rewritten in place,
 * at most every 200 ms unless force.  tool_progress_done ends the line. */
void tool_progress(bool force, const char *fmt, ...) CUSTOS_PRINTF(2, 3);
void tool_progress_done(void);

/* Prints a JSON value to stdout followed by a newline and frees it. */
struct json_t;
void tool_print_json(struct json_t *v);

/* The usage filters and grouping that custos usage and custos evidence
 * share: put TOOL_USAGE_LONGOPTS in the option table and let
 * tool_usage_opt handle its letters (1 when handled). */
#define TOOL_USAGE_LONGOPTS                                                    \
  {"account", required_argument, NULL, 'a'},                                   \
      {"unit", required_argument, NULL, 'u'},                                  \
      {"subscription", required_argument, NULL, 's'},                          \
      {"category", required_argument, NULL, 'g'},                              \
      {"service", required_argument, NULL, 'v'},                               \
      {"region", required_argument, NULL, 'r'},                                \
      {"country", required_argument, NULL, 'n'},                               \
      {"from", required_argument, NULL, 'f'},                                  \
      {"to", required_argument, NULL, 't'}, {"by", required_argument, NULL, 'b'}
struct cu_ledger_query_spec;
int tool_usage_opt(int c, struct cu_ledger_query_spec *spec, const char **by);

/* The commands. */
int tool_init(int argc, char **argv);
int tool_ingest(int argc, char **argv);
int tool_gen(int argc, char **argv);
int tool_demo(int argc, char **argv);
int tool_sources(int argc, char **argv);
int tool_directory(int argc, char **argv);
int tool_search(int argc, char **argv);
int tool_show(int argc, char **argv);
int tool_case(int argc, char **argv);
int tool_finding(int argc, char **argv);
int tool_decide(int argc, char **argv);
int tool_notify(int argc, char **argv);
int tool_person(int argc, char **argv);
int tool_plan(int argc, char **argv);
int tool_reinstate(int argc, char **argv);
int tool_approve(int argc, char **argv);
int tool_apply(int argc, char **argv);
int tool_plans(int argc, char **argv);
int tool_setting(int argc, char **argv);
int tool_evidence(int argc, char **argv);
int tool_report(int argc, char **argv);
int tool_statement(int argc, char **argv);
int tool_log(int argc, char **argv);
int tool_usage(int argc, char **argv);
/* custos ingest usage, in tool_usage.c. */
int tool_ingest_usage(char **paths, int npaths, const char *custodian,
                      const char *cls, const char *ratio, const char *format);
int tool_block(int argc, char **argv);
int tool_check(int argc, char **argv);
int tool_serve(int argc, char **argv);
int tool_publish(int argc, char **argv);

#endif
