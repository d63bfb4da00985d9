/*
 * custos block: the low-level tool over the decision point's block state
 * (put, lift, list) and the fleet's view of it (effective).  The
 * enforcement commands call the same functions; this exists so blocks can
 * be set and tested by hand.  Every put and lift is recorded with the actor.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "pdp/pdp.h"
#include "tool.h"

static const char help[] =
    "usage: custos block put SUBSCRIPTION SERVICE REGION --effect EFFECT\n"
    "                        --owner OWNER --case CASE [--effective TIME]\n"
    "       custos block lift SUBSCRIPTION SERVICE REGION --owner OWNER\n"
    "       custos block list [--all]\n"
    "       custos block effective --nats URL [--bucket NAME]\n"
    "                              [--revision N] [--wait SECONDS]\n"
    "\n"
    "The low-level tool over blocks; the enforcement commands use the same\n"
    "calls.  SERVICE and REGION may be '*' for all.  EFFECT is deny-new\n"
    "(refuse create), read-only (refuse create, write, delete) or deny-all.\n"
    "A target is blocked while any owner (aup, legal, billing, ...) blocks\n"
    "it; only the owner lifts its own block.  Every put and lift gets the\n"
    "next revision, is queued for `custos publish` and is recorded as an\n"
    "event with the actor.\n"
    "\n"
    "list shows the blocks in force (--all: lifted ones too).  effective\n"
    "reads what every enforcement point reported over NATS and says whether\n"
    "revision N (default: the latest) is applied everywhere; --wait polls\n"
    "until it is.  Exit codes: 0 ok / effective everywhere, 4 no such\n"
    "block, 5 not yet effective everywhere.\n";

typedef struct opts {
  const char *effect, *owner, *case_id, *effective, *nats, *bucket;
  long long revision;
  double wait;
  bool all;
} opts;

static int parse(int argc, char **argv, opts *o) {
  static const struct option lo[] = {TOOL_COMMON_LONGOPTS,
                                     {"effect", required_argument, NULL, 'e'},
                                     {"owner", required_argument, NULL, 'o'},
                                     {"case", required_argument, NULL, 'c'},
                                     {"effective", required_argument, NULL, 't'},
                                     {"nats", required_argument, NULL, 'n'},
                                     {"bucket", required_argument, NULL, 'b'},
                                     {"revision", required_argument, NULL, 'r'},
                                     {"wait", required_argument, NULL, 'W'},
                                     {"all", no_argument, NULL, 'a'},
                                     {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "w:qh", lo, NULL)) != -1) {
    char *end = NULL;
    switch (c) {
    case 'e': o->effect = optarg; break;
    case 'o': o->owner = optarg; break;
    case 'c': o->case_id = optarg; break;
    case 't': o->effective = optarg; break;
    case 'n': o->nats = optarg; break;
    case 'b': o->bucket = optarg; break;
    case 'a': o->all = true; break;
    case 'r':
      o->revision = strtoll(optarg, &end, 10);
      if (!end || *end || o->revision < 1)
        return tool_usage_error("block", "--revision needs a number >= 1");
      break;
    case 'W':
      o->wait = strtod(optarg, &end);
      if (!end || *end || o->wait < 0 || o->wait > 3600)
        return tool_usage_error("block", "--wait needs seconds (0-3600)");
      break;
    default:
      if (!tool_common_opt(c, help))
        return tool_usage_error("block", "unknown option");
    }
  }
  return 0;
}

/* Copies s into a field of n bytes; usage error when it does not fit. */
static int field(char *dst, size_t n, const char *s, const char *name) {
  if (strlen(s) >= n)
    return tool_usage_error("block", "%s is too long (at most %zu bytes)",
                            name, n - 1);
  memcpy(dst, s, strlen(s) + 1);
  return 0;
}

static int target(cu_pdp_block *b, int argc, char **argv) {
  if (argc - optind != 3)
    return tool_usage_error("block",
                            "give SUBSCRIPTION SERVICE REGION ('*' for all)");
  int e = field(b->subscription, sizeof b->subscription, argv[optind],
                "SUBSCRIPTION");
  if (!e)
    e = field(b->service, sizeof b->service, argv[optind + 1], "SERVICE");
  if (!e)
    e = field(b->region, sizeof b->region, argv[optind + 2], "REGION");
  return e;
}

static void print_block(const cu_pdp_block *b, const char *verb) {
  char when[32];
  cu_time_format(b->effective, when, sizeof when);
  if (tool_g.json)
    tool_print_json(json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I}", "subscription", b->subscription,
        "service", b->service, "region", b->region, "owner", b->owner,
        "effect",
        b->effect ? custos_pdp_effect_name(b->effect) : "lifted", "case",
        b->case_id, "effective", when, "revision", (json_int_t)b->revision));
  else if (!tool_g.quiet || verb == NULL)
    printf("%s%s %s %s %s owner=%s case=%s effective=%s revision=%lld\n",
           verb ? verb : "", b->subscription, b->service, b->region,
           b->effect ? custos_pdp_effect_name(b->effect) : "lifted", b->owner,
           b->case_id, when, (long long)b->revision);
}

static int change(int argc, char **argv, bool put) {
  opts o = {0};
  int e = parse(argc, argv, &o);
  cu_pdp_block b;
  memset(&b, 0, sizeof b);
  if (!e)
    e = target(&b, argc, argv);
  if (e)
    return e;
  if (!o.owner)
    return tool_usage_error("block", "--owner is required");
  if (field(b.owner, sizeof b.owner, o.owner, "--owner"))
    return TOOL_EXIT_USAGE;
  custos_diag d;
  custos_diag_clear(&d);
  if (put) {
    if (!o.effect || custos_pdp_effect_parse(o.effect, &b.effect) != 0)
      return tool_usage_error("block",
                              "--effect deny-new|read-only|deny-all is "
                              "required");
    if (!o.case_id)
      return tool_usage_error("block", "--case is required");
    if (field(b.case_id, sizeof b.case_id, o.case_id, "--case"))
      return TOOL_EXIT_USAGE;
    if (o.effective &&
        cu_time_parse(o.effective, strlen(o.effective), &b.effective) !=
            CUSTOS_OK)
      return tool_usage_error("block", "--effective needs an RFC 3339 time");
  }
  int code = 0;
  cu_ws *ws = tool_open_ws(&code);
  if (!ws)
    return code;
  custos_rc rc = cu_ws_begin(ws, &d);
  if (rc == CUSTOS_OK)
    rc = put ? cu_pdp_put(ws, &b, &d) : cu_pdp_lift(ws, &b, &d);
  if (rc == CUSTOS_OK)
    rc = cu_ws_commit(ws, &d);
  else
    cu_ws_rollback(ws);
  cu_ws_close(ws);
  if (rc != CUSTOS_OK)
    return tool_fail(&d, rc);
  print_block(&b, put ? "put " : "lifted ");
  return TOOL_EXIT_OK;
}

typedef struct list_ctx {
  json_t *arr;
  size_t n;
} list_ctx;

static int list_one(void *ctx, const cu_pdp_block *b) {
  list_ctx *l = ctx;
  char when[32];
  cu_time_format(b->effective, when, sizeof when);
  l->n++;
  if (l->arr)
    json_array_append_new(
        l->arr,
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I}", "subscription",
                  b->subscription, "service", b->service, "region", b->region,
                  "owner", b->owner, "effect",
                  b->effect ? custos_pdp_effect_name(b->effect) : "lifted",
                  "case", b->case_id, "effective", when, "revision",
                  (json_int_t)b->revision));
  else
    printf("%-6lld %-36s %-16s %-22s %-9s %-8s %-16s %s\n",
           (long long)b->revision, b->subscription, b->service, b->region,
           b->effect ? custos_pdp_effect_name(b->effect) : "lifted", b->owner,
           b->case_id, when);
  return 0;
}

static int list(int argc, char **argv) {
  opts o = {0};
  int e = parse(argc, argv, &o);
  if (e)
    return e;
  if (optind != argc)
    return tool_usage_error("block", "unexpected argument '%s'", argv[optind]);
  int code = 0;
  cu_ws *ws = tool_open_ws(&code);
  if (!ws)
    return code;
  list_ctx l = {tool_g.json ? json_array() : NULL, 0};
  if (!l.arr)
    printf("%-6s %-36s %-16s %-22s %-9s %-8s %-16s %s\n", "rev",
           "subscription", "service", "region", "effect", "owner", "case",
           "effective");
  custos_diag d;
  custos_diag_clear(&d);
  custos_rc rc = cu_pdp_scan(cu_ws_db(ws), 0, o.all, INT64_MAX, list_one, &l,
                             &d);
  cu_ws_close(ws);
  if (rc != CUSTOS_OK) {
    json_decref(l.arr);
    return tool_fail(&d, rc);
  }
  if (l.arr)
    tool_print_json(l.arr);
  return TOOL_EXIT_OK;
}

static int cmp_point(const void *a, const void *b) {
  return strcmp(((const cu_pdp_point *)a)->id, ((const cu_pdp_point *)b)->id);
}

static int effective(int argc, char **argv) {
  opts o = {0};
  int e = parse(argc, argv, &o);
  if (e)
    return e;
  if (!o.nats)
    return tool_usage_error("block", "effective needs --nats URL");
  custos_diag d;
  custos_diag_clear(&d);
  if (o.revision == 0) {
    int code = 0;
    cu_ws *ws = tool_open_ws(&code);
    if (!ws)
      return code;
    int64_t rev = 0;
    custos_rc rc = cu_pdp_revision(ws, &rev, &d);
    cu_ws_close(ws);
    if (rc != CUSTOS_OK)
      return tool_fail(&d, rc);
    o.revision = rev;
  }
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    cu_pdp_point *pts = NULL;
    size_t n = 0;
    custos_rc rc = cu_pdp_points(o.nats, o.bucket, &pts, &n, &d);
    if (rc != CUSTOS_OK)
      return tool_fail(&d, rc);
    qsort(pts, n, sizeof *pts, cmp_point);
    size_t applied = 0;
    for (size_t i = 0; i < n; i++)
      applied += pts[i].revision >= (uint64_t)o.revision;
    bool everywhere = n > 0 && applied == n;
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double waited = (double)(t1.tv_sec - t0.tv_sec) +
                    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (everywhere || waited >= o.wait) {
      if (tool_g.json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
          json_array_append_new(
              arr, json_pack("{s:s,s:I,s:b,s:I,s:s}", "id", pts[i].id,
                             "revision", (json_int_t)pts[i].revision,
                             "applied",
                             pts[i].revision >= (uint64_t)o.revision,
                             "lag_ms", (json_int_t)pts[i].lag_ms, "state",
                             pts[i].state));
        tool_print_json(json_pack("{s:I,s:b,s:I,s:I,s:f,s:o}", "revision",
                                  (json_int_t)o.revision, "everywhere",
                                  everywhere, "points", (json_int_t)n,
                                  "applied", (json_int_t)applied, "waited_s",
                                  waited, "list", arr));
      } else {
        for (size_t i = 0; i < n; i++)
          printf("%-40s revision %-8llu %-8s lag %lld ms %s\n", pts[i].id,
                 (unsigned long long)pts[i].revision, pts[i].state,
                 (long long)pts[i].lag_ms,
                 pts[i].revision >= (uint64_t)o.revision ? "applied"
                                                         : "NOT applied");
        printf("revision %lld: %s (%zu of %zu points)\n", o.revision,
               everywhere ? "effective everywhere"
                          : "not yet effective everywhere",
               applied, n);
      }
      cu_free(pts);
      return everywhere ? TOOL_EXIT_OK : TOOL_EXIT_REFUSED;
    }
    cu_free(pts);
    struct timespec nap = {0, 50 * 1000000};
    nanosleep(&nap, NULL);
  }
}

int tool_block(int argc, char **argv) {
  if (argc < 2 || argv[1][0] == '-') {
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 ||
                      strcmp(argv[1], "--help") == 0)) {
      fputs(help, stdout);
      return TOOL_EXIT_OK;
    }
    return tool_usage_error("block", "give put, lift, list or effective");
  }
  const char *sub = argv[1];
  argc--;
  argv++;
  if (strcmp(sub, "put") == 0)
    return change(argc, argv, true);
  if (strcmp(sub, "lift") == 0)
    return change(argc, argv, false);
  if (strcmp(sub, "list") == 0)
    return list(argc, argv);
  if (strcmp(sub, "effective") == 0)
    return effective(argc, argv);
  return tool_usage_error("block", "unknown subcommand '%s'", sub);
}
