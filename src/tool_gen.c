/*
 * custos gen: write a deterministic fictional provider (directory, FOCUS
 * usage, internal mail and documents, a press allegation) for demos, tests
 * and benchmarks.  The engine is lib/gen; this file is options and output.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "gen/gen.h"
#include "tool.h"

static const char help[] =
    "usage: custos gen --seed N --scale SIZE --out DIR [--dirty] [--force]\n"
    "\n"
    "Writes a fictional cloud provider's business records into DIR:\n"
    "  directory/  accounts, units, subscriptions, contacts, countries (CSV)\n"
    "  usage/      FOCUS 1.2 daily usage, one file per month (some .csv.gz)\n"
    "  mail/       internal mail: finance.mbox and the account-team maildir\n"
    "  docs/       account plans, contract and invoice summaries\n"
    "  allegation.md, MANIFEST.json\n"
    "The demo story (account acct-arv-mod) is always present.  The same\n"
    "seed and scale give the same bytes.\n"
    "\n"
    "options:\n"
    "  --seed N       random seed (unsigned integer, default 1)\n"
    "  --scale SIZE   small (~20k usage rows), medium (1M), large (10M),\n"
    "                 huge (100M), or a number of rows (default small)\n"
    "  --out DIR      output directory (required); must be new or empty\n"
    "  --dirty        add the faults of real exports (NULLs, BOM, CRLF,\n"
    "                 odd dates and units, region aliases, a restated month)\n"
    "  --force        write into a non-empty DIR\n"
    "  --json         print the totals as JSON\n"
    "  -q, --quiet    no progress\n"
    "\n"
    "See docs/formats-gen.md for the files and their columns.\n";

typedef struct progress_state {
  struct timespec t0;
} progress_state;

static double elapsed(const struct timespec *t0) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)(t.tv_sec - t0->tv_sec) +
         (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void on_progress(void *ud, const cu_gen_stats *st) {
  progress_state *ps = ud;
  tool_progress(false, "gen: %s %s: %llu usage rows, %.1f MB, %.0f s",
                st->phase, st->current, (unsigned long long)st->usage_rows,
                (double)st->bytes / 1e6, elapsed(&ps->t0));
}

int tool_gen(int argc, char **argv) {
  enum { OPT_SEED = 256, OPT_SCALE, OPT_OUT, OPT_DIRTY, OPT_FORCE };
  static const struct option opts[] = {TOOL_COMMON_LONGOPTS,
                                       {"seed", required_argument, NULL,
                                        OPT_SEED},
                                       {"scale", required_argument, NULL,
                                        OPT_SCALE},
                                       {"out", required_argument, NULL,
                                        OPT_OUT},
                                       {"dirty", no_argument, NULL, OPT_DIRTY},
                                       {"force", no_argument, NULL, OPT_FORCE},
                                       {0, 0, 0, 0}};
  cu_gen_opts o;
  memset(&o, 0, sizeof o);
  o.seed = 1;
  o.scale_name = "small";
  custos_diag d;
  custos_diag_clear(&d);
  int c;
  while ((c = getopt_long(argc, argv, TOOL_COMMON_SHORTOPTS, opts, NULL)) !=
         -1) {
    switch (c) {
    case OPT_SEED: {
      char *end = NULL;
      errno = 0;
      unsigned long long v = strtoull(optarg, &end, 10);
      if (errno || !end || *end || !*optarg || optarg[0] == '-')
        return tool_usage_error("gen", "--seed needs an unsigned integer, "
                                       "not '%s'", optarg);
      o.seed = v;
      break;
    }
    case OPT_SCALE:
      o.scale_name = optarg;
      break;
    case OPT_OUT:
      o.out = optarg;
      break;
    case OPT_DIRTY:
      o.dirty = true;
      break;
    case OPT_FORCE:
      o.force = true;
      break;
    default:
      if (!tool_common_opt(c, help))
        return tool_usage_error("gen", "unknown option");
    }
  }
  if (optind != argc)
    return tool_usage_error("gen", "unexpected argument '%s'", argv[optind]);
  if (!o.out)
    return tool_usage_error("gen", "--out DIR is required");
  custos_rc rc = cu_gen_parse_scale(o.scale_name, &o.rows, &d);
  if (rc != CUSTOS_OK) {
    char line[2048];
    return tool_usage_error("gen", "%s",
                            custos_diag_format(&d, line, sizeof line));
  }

  progress_state ps;
  clock_gettime(CLOCK_MONOTONIC, &ps.t0);
  o.progress = on_progress;
  o.progress_ud = &ps;
  cu_gen_stats st;
  rc = cu_gen_run(&o, &st, &d);
  tool_progress_done();
  if (rc != CUSTOS_OK)
    return tool_fail(&d, rc);
  double secs = elapsed(&ps.t0);
  if (tool_g.json) {
    tool_print_json(json_pack(
        "{s:s,s:I,s:s,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,"
        "s:f}",
        "out", o.out, "seed", (json_int_t)o.seed, "scale", o.scale_name,
        "dirty", o.dirty, "usage_rows", (json_int_t)st.usage_rows,
        "restated_rows", (json_int_t)st.restated_rows, "accounts",
        (json_int_t)st.accounts, "units", (json_int_t)st.units,
        "subscriptions", (json_int_t)st.subscriptions, "contacts",
        (json_int_t)st.contacts, "messages", (json_int_t)st.messages,
        "documents", (json_int_t)st.documents, "files",
        (json_int_t)st.files, "bytes", (json_int_t)st.bytes, "raw_bytes",
        (json_int_t)st.raw_bytes, "seconds", secs));
  } else if (!tool_g.quiet) {
    printf("wrote %s: %llu files, %llu usage rows, %llu accounts, %llu "
           "messages, %llu documents, %.1f MB in %.1f s\n",
           o.out, (unsigned long long)st.files,
           (unsigned long long)st.usage_rows, (unsigned long long)st.accounts,
           (unsigned long long)st.messages, (unsigned long long)st.documents,
           (double)st.bytes / 1e6, secs);
  }
  return TOOL_EXIT_OK;
}
