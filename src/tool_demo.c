/*
 * custos demo: the whole story of DESIGN.md on generated data, in a fresh
 * workspace.  Each stage uses the same library calls as the commands a
 * reviewer would type, and prints what it did.  Stages are added here as
 * their modules land.
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cases/cases.h"
#include "custos/pdp.h"
#include "directory/directory.h"
#include "enforce/enforce.h"
#include "gen/gen.h"
#include "ledger/ledger.h"
#include "records/records.h"
#include "report/report.h"
#include "tlog/tlog.h"
#include "tool.h"

/* The fictional people of the demo. */
#define REVIEWER "tamsin.reed"
#define APPROVER1 "ilse.varn"
#define APPROVER2 "oren.task"
#define ENFORCER "mara.quill"

static const char help[] =
    "usage: custos demo [--out DIR] [--seed N] [--scale SIZE]\n"
    "\n"
    "Runs the story of a review end to end on a generated, fictional\n"
    "provider: generate records, create a workspace, ingest the directory\n"
    "and billing exports, open a case from the press allegation, pin\n"
    "recorded queries as evidence, record findings and a decision, plan,\n"
    "approve twice, apply, ask the decision point, queue the customer\n"
    "notice, write the report and statement, and verify the log.\n"
    "\n"
    "  --out DIR     where to work (default ./custos-demo): DIR/data holds the\n"
    "                generated records, DIR/ws the workspace.  A DIR made by\n"
    "                an earlier demo is replaced; any other non-empty DIR is\n"
    "                refused.\n"
    "  --seed N      generator seed (default 7)\n"
    "  --scale SIZE  small, medium, large or a number of usage rows\n"
    "                (default small)\n";

#define MARKER ".custos-demo"

static int step_no;
static double t0;

static void step(const char *what) {
  if (!tool_g.quiet)
    printf("\n[%d] %s  (%.1f s)\n", ++step_no, what, tool_now() - t0);
}

static int remove_entry(const char *path, const struct stat *sb, int type,
                        struct FTW *ftw) {
  (void)sb;
  (void)ftw;
  return type == FTW_DP ? rmdir(path) : unlink(path);
}

static bool dir_is_empty(const char *path) {
  DIR *dh = opendir(path);
  if (!dh)
    return false;
  struct dirent *e;
  bool empty = true;
  while (empty && (e = readdir(dh)) != NULL)
    empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
  closedir(dh);
  return empty;
}

/* Makes out empty: refuses a non-empty folder that an earlier demo did not
 * make, removes one that it did. */
static int prepare_out(const char *out) {
  struct stat sb;
  char marker[PATH_MAX];
  snprintf(marker, sizeof marker, "%s/%s", out, MARKER);
  if (stat(out, &sb) == 0) {
    if (stat(marker, &sb) != 0) {
      if (!dir_is_empty(out)) {
        fprintf(stderr,
                "custos demo: %s exists, is not empty and was not made by "
                "custos demo (choose another with --out DIR)\n",
                out);
        return TOOL_EXIT_INPUT;
      }
    } else if (nftw(out, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
      fprintf(stderr, "custos demo: cannot remove the earlier demo in %s: %s\n",
              out, strerror(errno));
      return TOOL_EXIT_FAIL;
    }
  }
  custos_diag d;
  custos_diag_clear(&d);
  custos_rc rc = cu_mkdirs(out, 0755, &d);
  if (rc == CUSTOS_OK)
    rc = cu_file_write_atomic(marker, "custos demo\n", 12, 0644, &d);
  return rc == CUSTOS_OK ? TOOL_EXIT_OK : tool_fail(&d, rc);
}

static void say(const char *fmt, ...) CUSTOS_PRINTF(1, 2);
static void say(const char *fmt, ...) {
  if (tool_g.quiet)
    return;
  va_list ap;
  va_start(ap, fmt);
  fputs("    ", stdout);
  vprintf(fmt, ap);
  fputc('\n', stdout);
  va_end(ap);
}

static int demo_fail(cu_ws *ws, const custos_diag *d, custos_rc rc) {
  tool_sync_close(ws);
  fprintf(stderr, "custos demo: step %d failed\n", step_no);
  return tool_fail(d, rc);
}

/* dir + "/" + name into out; the --out length is checked up front, so a
 * truncation here cannot happen and would only shorten a message. */
static void path_join(char *out, size_t n, const char *dir,
                      const char *name) {
  int k = snprintf(out, n, "%s/%s", dir, name);
  if (k < 0 || (size_t)k >= n)
    out[n - 1] = '\0';
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every usage file of the generated tree, originals before restatements
 * (a restated export replaces the figures of the one it restates). */
static custos_rc ingest_usage(cu_ws *ws, const char *data, custos_diag *d) {
  char dir[PATH_MAX];
  path_join(dir, sizeof dir, data, "usage");
  DIR *dh = opendir(dir);
  if (!dh) {
    cu_diag_at(d, dir, 0, 0);
    return cu_diag_set(d, CUSTOS_EIO, "cannot read the usage folder");
  }
  char *names[256];
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(dh)) != NULL && n < CU_ARRAY_LEN(names)) {
    if (e->d_name[0] == '.')
      continue;
    names[n] = cu_malloc(strlen(dir) + strlen(e->d_name) + 2);
    if (!names[n])
      break;
    sprintf(names[n], "%s/%s", dir, e->d_name);
    n++;
  }
  closedir(dh);
  qsort(names, n, sizeof *names, by_name);
  /* restated files last, in name order */
  const char *order[256];
  size_t k = 0;
  for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < n; i++)
      if ((strstr(names[i], "restated") != NULL) == (pass == 1))
        order[k++] = names[i];
  cu_ledger_opts o;
  cu_ledger_opts_default(&o);
  o.custodian = "finance";
  cu_ledger_file_stats *st = cu_calloc(n ? n : 1, sizeof *st);
  custos_rc rc = st ? cu_ledger_ingest(ws, order, n, &o, st, d)
                    : cu_diag_set(d, CUSTOS_ENOMEM, "out of memory");
  int64_t rows = 0, rollups = 0;
  for (size_t i = 0; st && i < n; i++) {
    rows += st[i].rows;
    rollups += st[i].rollups;
  }
  if (rc == CUSTOS_OK)
    say("%zu monthly exports, %lld rows rolled up into %lld rollups "
        "(custodian finance)",
        n, (long long)rows, (long long)rollups);
  cu_free(st);
  for (size_t i = 0; i < n; i++)
    cu_free(names[i]);
  return rc;
}

/* The generated mail (mbox and maildir) and documents. */
static custos_rc ingest_records(cu_ws *ws, const char *data, custos_diag *d) {
  char mbox[PATH_MAX], maildir[PATH_MAX], docs[PATH_MAX];
  path_join(mbox, sizeof mbox, data, "mail/finance.mbox");
  path_join(maildir, sizeof maildir, data, "mail/account-team");
  path_join(docs, sizeof docs, data, "docs");
  cu_rec_opts o;
  memset(&o, 0, sizeof o);
  o.custodian = "account-team";
  o.cls = CU_CLASS_MAIL;
  cu_rec_stats ms, ds;
  memset(&ms, 0, sizeof ms);
  memset(&ds, 0, sizeof ds);
  const char *mail[2] = {mbox, maildir};
  custos_rc rc = cu_rec_ingest_mail(ws, mail, 2, &o, &ms, d);
  if (rc != CUSTOS_OK)
    return rc;
  const char *doc[1] = {docs};
  o.custodian = "sales";
  o.cls = CU_CLASS_DOCUMENT;
  rc = cu_rec_ingest_docs(ws, doc, 1, &o, &ds, d);
  if (rc == CUSTOS_OK)
    say("%lld messages (mbox and maildir, custodian account-team), %lld "
        "documents (custodian sales); %lld failed",
        (long long)ms.accepted, (long long)ds.accepted,
        (long long)(ms.failed + ds.failed));
  return rc;
}

/* One recorded search for a claim, pinned as evidence. */
static custos_rc pin_search(cu_ws *ws, const char *case_id, int claim,
                            const char *text, int64_t *id, custos_diag *d) {
  cu_rec_query q;
  memset(&q, 0, sizeof q);
  q.text = text;
  q.has_attachment = -1;
  q.case_id = case_id;
  q.limit = 20;
  cu_rec_result r;
  memset(&r, 0, sizeof r);
  custos_rc rc = cu_rec_search(ws, &q, &r, d);
  json_t *query = json_pack("{s:s,s:i}", "text", text, "limit", 20);
  if (rc == CUSTOS_OK) {
    cu_evidence ev = {"search", query, r.total, r.digest,
                      "internal mail and documents about the account"};
    rc = cu_evidence_add(ws, case_id, claim, &ev, id, d);
  }
  if (rc == CUSTOS_OK)
    say("claim %d: search '%s': %lld hit(s), ids sha256 %.16s... -> evidence "
        "%lld",
        claim, text, (long long)r.total, r.digest, (long long)*id);
  json_decref(query);
  cu_rec_result_free(&r);
  return rc;
}

/* One review query for a claim, recorded and pinned as its evidence. */
static custos_rc pin_usage(cu_ws *ws, const char *case_id, int claim,
                           const char *unit, const char *category,
                           const char *by, const char *summary, int64_t *id,
                           custos_diag *d) {
  cu_ledger_query_spec spec;
  memset(&spec, 0, sizeof spec);
  spec.unit = unit;
  spec.category = category;
  spec.case_id = case_id;
  custos_rc rc = cu_ledger_parse_by(by, &spec, d);
  cu_ledger_result *res = NULL;
  if (rc == CUSTOS_OK)
    rc = cu_ledger_query(ws, &spec, &res, d);
  if (rc != CUSTOS_OK)
    return rc;
  cu_evidence ev = {"usage", res->query, (int64_t)res->nrows, res->sha256,
                    summary};
  rc = cu_evidence_add(ws, case_id, claim, &ev, id, d);
  if (rc == CUSTOS_OK)
    say("claim %d: usage of %s%s%s by %s: %zu rows, sha256 %.16s... -> "
        "evidence %lld",
        claim, unit, category ? ", " : "", category ? category : "", by,
        res->nrows, res->sha256, (long long)*id);
  cu_ledger_result_free(res);
  return rc;
}

static custos_rc make_plan(cu_ws *ws, const char *case_id, const char *path,
                           custos_diag *d) {
  cu_plan_opts o = {"aup", 20, false, NULL};
  cu_buf text;
  cu_buf_init(&text, CU_PLAN_MAX_BYTES);
  char hash[CU_PLAN_HASH_LEN + 1];
  cu_plan_stats st;
  custos_rc rc = cu_plan_make(ws, case_id, &o, &text, hash, &st, d);
  if (rc == CUSTOS_OK)
    rc = cu_file_write_atomic(path, text.data, text.len, 0644, d);
  json_t *plan = rc == CUSTOS_OK ? json_loadb(text.data, text.len, 0, NULL)
                                 : NULL;
  cu_buf_free(&text);
  if (rc != CUSTOS_OK)
    return rc;
  say("plan %.16s... written to %s", hash, path);
  static const char *const lists[2] = {"targets", "unaffected"};
  static const char *const titles[2] = {"will be blocked", "stays running"};
  for (int l = 0; l < 2; l++) {
    say("%s:", titles[l]);
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(plan, lists[l]), i, t) {
      say("  %-22s %-30s %-18s %s",
          json_string_value(json_object_get(t, "unit_name")),
          json_string_value(json_object_get(t, "service")),
          json_string_value(json_object_get(t, "region")),
          json_string_value(json_object_get(t, "subscription")));
    }
  }
  json_decref(plan);
  return CUSTOS_OK;
}

/* What an enforcement point on this machine answers now. */
static custos_rc pdp_checks(const char *wsdir, custos_diag *d) {
  custos_pdp_config cfg;
  custos_pdp_config_init(&cfg);
  cfg.workspace = wsdir;
  custos_pdp *p = NULL;
  custos_rc rc = custos_pdp_open(&cfg, &p, d);
  if (rc != CUSTOS_OK)
    return rc;
  static const struct {
    const char *who, *sub, *service, *region;
    custos_pdp_op op;
    int want;
  } checks[] = {
      {"signals", CU_GEN_DEMO_SUB_SIG1, "Azure Blob Storage", "westeurope",
       CUSTOS_PDP_READ, 0},
      {"signals", CU_GEN_DEMO_SUB_SIG3, "Azure AI Speech", "westeurope",
       CUSTOS_PDP_WRITE, 0},
      {"signals", CU_GEN_DEMO_SUB_SIG3, "Azure AI Translator", "westeurope",
       CUSTOS_PDP_WRITE, 0},
      {"cyber-defence", CU_GEN_DEMO_SUB_CYB1, "Microsoft Sentinel",
       "westeurope", CUSTOS_PDP_WRITE, 1},
      {"cyber-defence", CU_GEN_DEMO_SUB_CYB2, "Microsoft Defender for Cloud",
       "westeurope", CUSTOS_PDP_WRITE, 1},
      {"headquarters", CU_GEN_DEMO_SUB_HQ, "Virtual Machines", "westeurope",
       CUSTOS_PDP_CREATE, 1},
  };
  custos_pdp_status st;
  custos_pdp_status_get(p, &st);
  for (size_t i = 0; rc == CUSTOS_OK && i < CU_ARRAY_LEN(checks); i++) {
    custos_pdp_decision dec;
    rc = custos_pdp_check_at(p, checks[i].sub, checks[i].service,
                             checks[i].region, checks[i].op, st.published,
                             2000, &dec);
    if (rc != CUSTOS_OK)
      break;
    say("%-5s %-14s %-30s %-11s %s%s%s", dec.allow ? "allow" : "deny",
        checks[i].who, checks[i].service, checks[i].region,
        custos_pdp_op_name(checks[i].op), dec.allow ? "" : "  by ",
        dec.allow ? "" : dec.case_id);
    if (dec.allow != checks[i].want)
      rc = cu_diag_set(d, CUSTOS_EVERIFY,
                       "the decision point answered %s for %s %s",
                       dec.allow ? "allow" : "deny", checks[i].who,
                       checks[i].service);
  }
  custos_pdp_close(p);
  return rc;
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
  if (strlen(out) > PATH_MAX - 128)
    return tool_usage_error("demo", "--out path too long");
  int code = prepare_out(out);
  if (code != TOOL_EXIT_OK)
    return code;
  char data[PATH_MAX], wsdir[PATH_MAX];
  path_join(data, sizeof data, out, "data");
  path_join(wsdir, sizeof wsdir, out, "ws");
  t0 = tool_now();

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
  if (rc != CUSTOS_OK)
    return demo_fail(ws, &d, rc);
  say("%lld accounts, %lld units, %lld subscriptions, %lld contacts from "
      "%lld sources (custodian customer-operations)",
      (long long)ds.accounts, (long long)ds.units,
      (long long)ds.subscriptions, (long long)ds.contacts,
      (long long)ds.files);

  step("register and ingest the billing exports (FOCUS 1.2)");
  rc = ingest_usage(ws, data, &d);
  if (rc != CUSTOS_OK)
    return demo_fail(ws, &d, rc);

  step("register and ingest internal mail and documents");
  rc = ingest_records(ws, data, &d);
  if (rc != CUSTOS_OK)
    return demo_fail(ws, &d, rc);

  step("open a case from the press allegation");
  char alleg[PATH_MAX], case_id[CU_CASE_ID_MAX];
  path_join(alleg, sizeof alleg, data, "allegation.md");
  cu_ws_set_actor(ws, REVIEWER);
  rc = cu_case_open(ws, alleg, "trust-and-safety", case_id, &d);
  if (rc != CUSTOS_OK)
    return demo_fail(ws, &d, rc);
  say("%s opened by %s from %s", case_id, REVIEWER, alleg);

  step("people and their keys");
  static const char *const people[][2] = {{REVIEWER, "reviewer"},
                                          {APPROVER1, "approver"},
                                          {APPROVER2, "approver"},
                                          {ENFORCER, "enforcer"}};
  for (size_t i = 0; i < 4; i++) {
    rc = cu_person_add(ws, people[i][0], people[i][1], NULL, &d);
    if (rc != CUSTOS_OK)
      return demo_fail(ws, &d, rc);
    say("%-12s %s", people[i][0], people[i][1]);
  }

  step("review queries over usage, each on the record, pinned as evidence");
  int64_t ev[3];
  static const struct {
    int claim;
    const char *unit, *category, *by, *summary;
  } queries[] = {
      {1, CU_GEN_DEMO_UNIT_SIG, "Storage", "month,region",
       "the signals unit's blob storage, all in West Europe, grows month "
       "after month"},
      {2, CU_GEN_DEMO_UNIT_SIG, "AI and Machine Learning", "month,service",
       "the signals unit uses speech-to-text and translation every month"},
      {3, CU_GEN_DEMO_UNIT_CYB, NULL, "category,service",
       "the cyber-defence unit uses security services, VMs, no storage or "
       "AI"},
  };
  for (size_t i = 0; i < 3; i++) {
    rc = pin_usage(ws, case_id, queries[i].claim, queries[i].unit,
                   queries[i].category, queries[i].by, queries[i].summary,
                   &ev[i], &d);
    if (rc != CUSTOS_OK)
      return demo_fail(ws, &d, rc);
  }

  step("searches of internal mail and documents, recorded, as evidence");
  int64_t sev[2];
  static const struct {
    int claim;
    const char *text;
  } searches[] = {{1, "arvelia storage"}, {2, "speech OR translator"}};
  for (size_t i = 0; i < 2; i++) {
    rc = pin_search(ws, case_id, searches[i].claim, searches[i].text,
                    &sev[i], &d);
    if (rc != CUSTOS_OK)
      return demo_fail(ws, &d, rc);
  }

  step("findings per claim");
  static const char *const judgement[3] = {"supported", "supported",
                                           "not-supported"};
  static const char *const rationale[3] = {
      "Billing records show the signals unit's blob storage in West Europe "
      "(the Netherlands) growing from tens of terabytes to petabytes.",
      "Billing records show steady use of Azure AI Speech and Azure AI "
      "Translator by the signals unit.",
      "The cyber-defence unit's subscriptions show security services and "
      "virtual machines only."};
  for (int i = 0; i < 3; i++) {
    int64_t fid = 0;
    int64_t cite[2] = {ev[i], i < 2 ? sev[i] : 0};
    rc = cu_finding_add(ws, case_id, i + 1, judgement[i], rationale[i], cite,
                        i < 2 ? 2 : 1, &fid, &d);
    if (rc != CUSTOS_OK)
      return demo_fail(ws, &d, rc);
    say("claim %d: %s", i + 1, judgement[i]);
  }

  step("decision: policy, exact scope, effect");
  cu_scope scope = {NULL};
  static const char *const selectors[] = {
      ("unit=" CU_GEN_DEMO_UNIT_SIG), "category=Storage",
      "category=AI and Machine Learning", "region=westeurope"};
  for (size_t i = 0; rc == CUSTOS_OK && i < 4; i++)
    rc = cu_scope_add(ws, &scope, selectors[i], &d);
  cu_decision_in in = {"no-mass-surveillance", &scope, "deny-all",
                       cu_time_now(), false,
                       "Bulk storage and transcription of intercepted calls "
                       "of civilians"};
  int64_t did = 0;
  if (rc == CUSTOS_OK)
    rc = cu_decision_add(ws, case_id, &in, &did, &d);
  cu_scope_free(&scope);
  if (rc != CUSTOS_OK)
    return demo_fail(ws, &d, rc);
  say("deny-all under no-mass-surveillance for the signals unit's storage "
      "and AI in West Europe, decided by %s",
      REVIEWER);

  step("plan: exactly what will be blocked, and what stays running");
  char plan_path[PATH_MAX];
  path_join(plan_path, sizeof plan_path, out, "plan.json");
  rc = make_plan(ws, case_id, plan_path, &d);
  if (rc != CUSTOS_OK)
    return demo_fail(ws, &d, rc);

  step("two approvals by people who did not make the decision");
  const char *approvers[2] = {APPROVER1, APPROVER2};
  for (int i = 0; i < 2; i++) {
    cu_ws_set_actor(ws, approvers[i]);
    rc = cu_plan_approve(ws, plan_path, approvers[i], &d);
    if (rc != CUSTOS_OK)
      return demo_fail(ws, &d, rc);
    say("%s signed the plan hash", approvers[i]);
  }

  step("apply: one recorded outcome per target");
  cu_ws_set_actor(ws, ENFORCER);
  cu_apply_stats as;
  rc = cu_plan_apply(ws, plan_path, ENFORCER, NULL, NULL, &as, &d);
  if (rc != CUSTOS_OK)
    return demo_fail(ws, &d, rc);
  say("%lld blocked, %lld failed, decision point at revision %lld; %lld "
      "customer notice(s) queued",
      (long long)(as.done - as.failed), (long long)as.failed,
      (long long)as.revision, (long long)as.notices);

  step("the decision point");
  rc = cu_log_sync(ws, &d);
  if (rc == CUSTOS_OK)
    rc = pdp_checks(wsdir, &d);
  if (rc != CUSTOS_OK)
    return demo_fail(ws, &d, rc);

  step("report, public statement");
  char repdir[PATH_MAX], stmt[PATH_MAX];
  path_join(repdir, sizeof repdir, out, "report");
  path_join(stmt, sizeof stmt, out, "statement.md");
  cu_report_files rf;
  rc = cu_report_write(ws, case_id, repdir, &rf, &d);
  cu_buf sb;
  cu_buf_init(&sb, 16u << 20);
  if (rc == CUSTOS_OK)
    rc = cu_statement(ws, case_id, &sb, &d);
  if (rc == CUSTOS_OK)
    rc = cu_file_write_atomic(stmt, sb.data, sb.len, 0644, &d);
  cu_buf_free(&sb);
  if (rc != CUSTOS_OK)
    return demo_fail(ws, &d, rc);
  say("report   %s (and report.md, %d proof bundles)", rf.html, rf.proofs);
  say("statement %s", stmt);

  step("custos log verify");
  rc = cu_log_sync(ws, &d);
  cu_log_vkey vk;
  if (rc == CUSTOS_OK)
    rc = cu_log_vkey_get(ws, &vk, &d);
  char logdir[PATH_MAX];
  path_join(logdir, sizeof logdir, wsdir, "log");
  cu_log_verify_report vr;
  if (rc == CUSTOS_OK)
    rc = cu_log_dir_verify(logdir, &vk, NULL, 0, &vr, &d);
  if (rc != CUSTOS_OK)
    return demo_fail(ws, &d, rc);
  char vks[512] = "";
  if (cu_log_vkey_format(&vk, vks, sizeof vks) != CUSTOS_OK)
    vks[0] = '\0';
  say("log verified: %llu entries, every one recomputed from the tiles and "
      "checked against the signed checkpoint",
      (unsigned long long)vr.cp.size);
  tool_sync_close(ws);

  if (tool_g.json) {
    tool_print_json(json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:f}", "data", data,
                              "workspace", wsdir, "case", case_id, "report",
                              rf.html, "statement", stmt, "log_vkey", vks,
                              "seconds", tool_now() - t0));
  } else if (!tool_g.quiet) {
    printf("\ndone in %.1f s.  The report is %s and the statement %s.\n"
           "Check the log yourself:\n"
           "    custos log verify %s/log --vkey '%s'\n"
           "Look around:\n"
           "    custos -w %s case show %s\n"
           "    custos -w %s check %s 'Azure Blob Storage' westeurope read\n",
           tool_now() - t0, rf.html, stmt, wsdir, vks, wsdir, case_id, wsdir,
           CU_GEN_DEMO_SUB_SIG1);
  }
  return TOOL_EXIT_OK;
}
