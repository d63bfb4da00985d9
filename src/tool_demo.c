/*
 * custos demo: the whole story of DESIGN.md on generated data, in a fresh
 * workspace.  Each stage uses the same library calls as the commands a
 * reviewer would type, and prints what it did.  Stages are added here as
 * their modules land.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cases/cases.h"
#include "directory/directory.h"
#include "gen/gen.h"
#include "tool.h"

static const char help[] =
    "usage: custos demo [--out DIR] [--seed N] [--scale SIZE]\n"
    "\n"
    "Runs the story of a review end to end on a generated, fictional\n"
    "provider: generate records, create a workspace, register and ingest\n"
    "the directory, and show the account under review.\n"
    "\n"
    "  --out DIR     where to work (default ./custos-demo): DIR/data holds the\n"
    "                generated records, DIR/ws the workspace.  A DIR made by\n"
    "                an earlier demo is replaced; any other non-empty DIR is\n"
    "                refused.\n"
    "  --seed N      generator seed (default 7)\n"
    "  --scale SIZE  small, medium, large or a number of usage rows\n"
    "                (default small)\n";

#define MARKER ".custos-demo"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int step_no;
static double t0;

static void step(const char *what) {
  if (!tool_g.quiet)
    printf("\n[%d] %s  (%.1f s)\n", ++step_no, what, now_s() - t0);
}

/* Makes out empty: refuses a non-empty folder that an earlier demo did not
 * make, removes one that it did. */
static int prepare_out(const char *out) {
  struct stat sb;
  char marker[PATH_MAX];
  snprintf(marker, sizeof marker, "%s/%s", out, MARKER);
  if (stat(out, &sb) == 0) {
    if (stat(marker, &sb) != 0) {
      char cmd[PATH_MAX + 64];
      snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s')\"", out);
      if (system(cmd) != 0) {
        fprintf(stderr,
                "custos demo: %s exists, is not empty and was not made by "
                "custos demo (choose another with --out DIR)\n",
                out);
        return TOOL_EXIT_INPUT;
      }
    } else {
      char cmd[PATH_MAX + 32];
      if (strchr(out, '\'')) {
        fprintf(stderr, "custos demo: --out must not contain a quote\n");
        return TOOL_EXIT_USAGE;
      }
      snprintf(cmd, sizeof cmd, "rm -rf '%s'", out);
      if (system(cmd) != 0) {
        fprintf(stderr, "custos demo: cannot remove the earlier demo in %s\n",
                out);
        return TOOL_EXIT_FAIL;
      }
    }
  }
  custos_diag d;
  custos_diag_clear(&d);
  custos_rc rc = cu_mkdirs(out, 0755, &d);
  if (rc == CUSTOS_OK)
    rc = cu_file_write_atomic(marker, "custos demo\n", 12, 0644, &d);
  return rc == CUSTOS_OK ? TOOL_EXIT_OK : tool_fail(&d, rc);
}

static void on_gen_progress(void *ud, const cu_gen_stats *st) {
  (void)ud;
  tool_progress(false, "generating %s: %llu usage rows", st->current,
                (unsigned long long)st->usage_rows);
}

int tool_demo(int argc, char **argv) {
  static const struct option opts[] = {
      TOOL_COMMON_LONGOPTS,
      {"out", required_argument, NULL, 'o'},
      {"seed", required_argument, NULL, 's'},
      {"scale", required_argument, NULL, 'S'},
      {0, 0, 0, 0}};
  const char *out = "custos-demo", *scale = "small";
  uint64_t seed = 7;
  int c;
  while ((c = getopt_long(argc, argv, "w:qho:s:S:", opts, NULL)) != -1) {
    if (c == 'o') {
      out = optarg;
    } else if (c == 's') {
      char *end = NULL;
      seed = strtoull(optarg, &end, 10);
      if (!end || *end || optarg[0] == '-')
        return tool_usage_error("demo", "--seed needs a whole number");
    } else if (c == 'S') {
      scale = optarg;
    } else if (!tool_common_opt(c, help)) {
      return tool_usage_error("demo", "unknown option");
    }
  }
  if (optind != argc)
    return tool_usage_error("demo", "unexpected argument '%s'", argv[optind]);

  custos_diag d;
  custos_diag_clear(&d);
  cu_gen_opts go;
  memset(&go, 0, sizeof go);
  custos_rc rc = cu_gen_parse_scale(scale, &go.rows, &d);
  if (rc != CUSTOS_OK)
    return tool_fail(&d, rc);
  int code = prepare_out(out);
  if (code != TOOL_EXIT_OK)
    return code;
  char data[PATH_MAX], wsdir[PATH_MAX];
  snprintf(data, sizeof data, "%s/data", out);
  snprintf(wsdir, sizeof wsdir, "%s/ws", out);
  t0 = now_s();

  if (!tool_g.quiet)
    printf("custos demo: a review of the Ministry of Defence of the Republic "
           "of Arvelia,\na fictional customer of a fictional provider, in %s\n",
           out);

  step("generate a fictional provider's business records");
  go.seed = seed;
  go.scale_name = scale;
  go.out = data;
  go.progress = on_gen_progress;
  cu_gen_stats gs;
  rc = cu_gen_run(&go, &gs, &d);
  tool_progress_done();
  if (rc != CUSTOS_OK)
    return tool_fail(&d, rc);
  if (!tool_g.quiet)
    printf("    %llu accounts, %llu subscriptions, %llu usage rows, %llu "
           "messages, %llu documents in %s\n",
           (unsigned long long)gs.accounts,
           (unsigned long long)gs.subscriptions,
           (unsigned long long)gs.usage_rows, (unsigned long long)gs.messages,
           (unsigned long long)gs.documents, data);

  step("create the workspace");
  rc = cu_ws_create(wsdir, &d);
  if (rc != CUSTOS_OK)
    return tool_fail(&d, rc);
  cu_ws *ws = NULL;
  rc = cu_ws_open(wsdir, &ws, &d);
  if (rc != CUSTOS_OK)
    return tool_fail(&d, rc);
  rc = cu_policy_init(ws, &d);
  if (rc != CUSTOS_OK) {
    tool_sync_close(ws);
    return tool_fail(&d, rc);
  }
  if (!tool_g.quiet)
    printf("    %s (SQLite in WAL mode, secret, log, keys)\n", wsdir);

  step("register and ingest the customer directory");
  static const char *const dirfiles[] = {"countries", "accounts", "units",
                                         "subscriptions", "contacts"};
  char paths[5][PATH_MAX];
  const char *pp[5];
  for (size_t i = 0; i < 5; i++) {
    int k = snprintf(paths[i], sizeof paths[i], "%s/directory/%s.csv", data,
                     dirfiles[i]);
    if (k < 0 || (size_t)k >= sizeof paths[i]) {
      tool_sync_close(ws);
      return tool_usage_error("demo", "--out path too long");
    }
    pp[i] = paths[i];
  }
  cu_dir_stats ds;
  rc = cu_dir_ingest(ws, pp, 5, "customer-operations", &ds, &d);
  if (rc != CUSTOS_OK) {
    tool_sync_close(ws);
    return tool_fail(&d, rc);
  }
  if (!tool_g.quiet)
    printf("    %lld accounts, %lld units, %lld subscriptions, %lld contacts "
           "from %lld sources (custodian customer-operations)\n",
           (long long)ds.accounts, (long long)ds.units,
           (long long)ds.subscriptions, (long long)ds.contacts,
           (long long)ds.files);

  step("the account under review");
  sqlite3_stmt *st = NULL;
  rc = cu_ws_prepare(ws,
                     "SELECT u.id, u.name, COUNT(s.id) FROM units u"
                     " LEFT JOIN subscriptions s ON s.unit_id = u.id"
                     " WHERE u.account_id = ?1 GROUP BY u.id ORDER BY u.id",
                     &st, &d);
  if (rc != CUSTOS_OK) {
    tool_sync_close(ws);
    return tool_fail(&d, rc);
  }
  sqlite3_bind_text(st, 1, CU_GEN_DEMO_ACCOUNT, -1, SQLITE_STATIC);
  int units = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    units++;
    if (!tool_g.quiet)
      printf("    unit %-12s %-36s %d subscription(s)\n",
             (const char *)sqlite3_column_text(st, 0),
             (const char *)sqlite3_column_text(st, 1),
             sqlite3_column_int(st, 2));
  }
  sqlite3_finalize(st);
  tool_sync_close(ws);
  if (units == 0) {
    fprintf(stderr, "custos demo: the demo account %s is missing\n",
            CU_GEN_DEMO_ACCOUNT);
    return TOOL_EXIT_FAIL;
  }

  if (tool_g.json) {
    tool_print_json(json_pack("{s:s,s:s,s:I,s:I,s:f}", "data", data,
                              "workspace", wsdir, "usage_rows",
                              (json_int_t)gs.usage_rows, "subscriptions",
                              (json_int_t)ds.subscriptions, "seconds",
                              now_s() - t0));
  } else if (!tool_g.quiet) {
    printf("\ndone in %.1f s.  Look around with:\n"
           "    custos -w %s directory show %s\n"
           "    custos -w %s sources\n",
           now_s() - t0, wsdir, CU_GEN_DEMO_ACCOUNT, wsdir);
  }
  return TOOL_EXIT_OK;
}
