/* custos ingest: register sources and ingest them, all or nothing. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "boundary/boundary.h"
#include "directory/directory.h"
#include "records/records.h"
#include "tool.h"

static const char help[] =
    "usage: custos ingest KIND PATH... [--custodian NAME] [--class C]\n"
    "\n"
    "Registers each PATH as a source (class, custodian, SHA-256, size) and\n"
    "ingests it.  A file whose SHA-256 was already ingested is skipped and\n"
    "reported.  Errors name the file, line, column, field and value.  A\n"
    "directory ingest stores nothing on any error; a mail ingest commits in\n"
    "batches and the same command resumes an interrupted one.\n"
    "\n"
    "kinds:\n"
    "  directory   countries, accounts, units, subscriptions, contacts (CSV\n"
    "              or JSON; see docs/formats.md); all files are one change\n"
    "  usage       billing exports: FOCUS 1.0-1.2, Azure cost exports, AWS\n"
    "              CUR 2.0 (CSV or gzip); each file is its own change\n"
    "  mail        mbox files, Apple Mail .mbox folders, maildirs (with\n"
    "              Maildir++ subfolders), EML files and folders of them;\n"
    "              each is one source, committed in batches; an\n"
    "              interrupted ingest resumes where it stopped\n"
    "  docs        text, Markdown, HTML and PDF files or folders; each file\n"
    "              is one source of class document, contract or invoice\n"
    "\n"
    "options:\n"
    "  --custodian NAME  who holds these records (default: the actor)\n"
    "  --class C         source class; must match the kind (directory,\n"
    "                    usage, mail; docs: document (default), contract,\n"
    "                    invoice); custos has no class for customer content\n"
    "  --max-reject-ratio R  usage: refuse a file when more than R of its\n"
    "                    rows fail (default 0.001)\n"
    "  --format F        usage: auto (default), focus, azure or aws\n"
    "  -w DIR, --json, -q as everywhere\n";

static int ingest_directory(char **paths, int npaths, const char *custodian) {
  int code = 0;
  cu_ws *ws = tool_open_ws(&code);
  if (!ws)
    return code;
  custos_diag d;
  custos_diag_clear(&d);
  cu_dir_stats st;
  tool_progress(true, "ingesting %d directory file(s)...", npaths);
  custos_rc rc = cu_dir_ingest(ws, (const char *const *)paths, (size_t)npaths,
                               custodian ? custodian : cu_ws_actor(ws), &st,
                               &d);
  tool_progress_done();
  tool_sync_close(ws);
  if (rc != CUSTOS_OK)
    return tool_fail(&d, rc);
  if (tool_g.json) {
    tool_print_json(json_pack(
        "{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "kind", "directory", "files",
        (json_int_t)st.files, "skipped", (json_int_t)st.skipped, "countries",
        (json_int_t)st.countries, "accounts",
        (json_int_t)st.accounts, "units", (json_int_t)st.units,
        "subscriptions", (json_int_t)st.subscriptions, "contacts",
        (json_int_t)st.contacts));
  } else if (!tool_g.quiet) {
    if (st.skipped)
      printf("skipped %lld file(s) already ingested (same SHA-256)\n",
             (long long)st.skipped);
    printf("ingested %lld directory file(s): ", (long long)st.files);
    if (st.countries)
      printf("%lld countries, ", (long long)st.countries);
    printf("%lld accounts, %lld units, %lld subscriptions, %lld contacts\n",
           (long long)st.accounts, (long long)st.units,
           (long long)st.subscriptions, (long long)st.contacts);
  }
  return TOOL_EXIT_OK;
}

static void records_progress(void *ud, const cu_rec_stats *st,
                             const char *path) {
  (void)ud;
  tool_progress(false, "%lld found, %lld accepted, %lld failed: %s",
                (long long)st->expected, (long long)st->accepted,
                (long long)st->failed, path);
}

/* Test knobs (docs/internals.md): batch size and parse cap. */
static size_t env_size(const char *name) {
  const char *v = getenv(name);
  return v && *v ? (size_t)strtoull(v, NULL, 10) : 0;
}

static int ingest_records(bool mail, char **paths, int npaths,
                          const char *custodian, cu_source_class cls) {
  int code = 0;
  cu_ws *ws = tool_open_ws(&code);
  if (!ws)
    return code;
  custos_diag d;
  custos_diag_clear(&d);
  cu_rec_stats st;
  memset(&st, 0, sizeof st);
  cu_rec_opts o;
  memset(&o, 0, sizeof o);
  o.custodian = custodian ? custodian : cu_ws_actor(ws);
  o.cls = cls;
  o.batch_msgs = env_size("CUSTOS_RECORDS_BATCH");
  o.max_message = env_size("CUSTOS_RECORDS_MAX_MESSAGE");
  o.progress = records_progress;
  custos_rc rc = mail ? cu_rec_ingest_mail(ws, (const char *const *)paths,
                                           (size_t)npaths, &o, &st, &d)
                      : cu_rec_ingest_docs(ws, (const char *const *)paths,
                                           (size_t)npaths, &o, &st, &d);
  tool_progress_done();
  tool_sync_close(ws);
  if (rc != CUSTOS_OK)
    return tool_fail(&d, rc);
  if (tool_g.json) {
    tool_print_json(json_pack(
        "{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "kind",
        mail ? "mail" : "docs", "sources", (json_int_t)st.containers,
        "skipped", (json_int_t)st.skipped, "resumed",
        (json_int_t)st.resumed, "expected", (json_int_t)st.expected,
        "accepted", (json_int_t)st.accepted, "failed", (json_int_t)st.failed,
        "duplicates", (json_int_t)st.duplicates, "raw", (json_int_t)st.raw,
        "bytes", (json_int_t)st.bytes));
  } else if (!tool_g.quiet) {
    if (st.skipped)
      printf("skipped %lld source(s) already ingested (same SHA-256)\n",
             (long long)st.skipped);
    if (st.resumed)
      printf("resumed %lld interrupted source(s)\n", (long long)st.resumed);
    printf("ingested %lld source(s): %lld found, %lld accepted (%lld "
           "duplicates, %lld raw), %lld failed\n",
           (long long)st.containers, (long long)st.expected,
           (long long)st.accepted, (long long)st.duplicates,
           (long long)st.raw, (long long)st.failed);
  }
  return TOOL_EXIT_OK;
}

int tool_ingest(int argc, char **argv) {
  static const struct option opts[] = {TOOL_COMMON_LONGOPTS,
                                       {"custodian", required_argument, NULL,
                                        'c'},
                                       {"class", required_argument, NULL, 'C'},
                                       {"max-reject-ratio", required_argument,
                                        NULL, 'R'},
                                       {"format", required_argument, NULL, 'F'},
                                       {0, 0, 0, 0}};
  const char *custodian = NULL, *cls = NULL, *ratio = NULL, *format = NULL;
  int c;
  while ((c = getopt_long(argc, argv, "w:qhc:C:", opts, NULL)) != -1) {
    if (c == 'R')
      ratio = optarg;
    else if (c == 'F')
      format = optarg;
    else if (c == 'c')
      custodian = optarg;
    else if (c == 'C')
      cls = optarg;
    else if (!tool_common_opt(c, help))
      return tool_usage_error("ingest", "unknown option");
  }
  if (optind >= argc)
    return tool_usage_error("ingest", "missing KIND");
  const char *kind = argv[optind++];
  if (optind >= argc)
    return tool_usage_error("ingest", "missing PATH");
  if (custodian && !*custodian)
    return tool_usage_error("ingest", "--custodian needs a name");
  if (strcmp(kind, "directory") == 0) {
    if (cls) {
      custos_diag d;
      custos_diag_clear(&d);
      cu_source_class k;
      custos_rc rc = cu_source_class_parse(cls, &k, &d);
      if (rc != CUSTOS_OK)
        return tool_fail(&d, rc);
      if (k != CU_CLASS_DIRECTORY)
        return tool_usage_error("ingest",
                                "--class %s does not fit kind directory", cls);
    }
    return ingest_directory(argv + optind, argc - optind, custodian);
  }
  bool mail = strcmp(kind, "mail") == 0;
  if (mail || strcmp(kind, "docs") == 0) {
    cu_source_class k = mail ? CU_CLASS_MAIL : CU_CLASS_DOCUMENT;
    if (cls) {
      custos_diag d;
      custos_diag_clear(&d);
      custos_rc rc = cu_source_class_parse(cls, &k, &d);
      if (rc != CUSTOS_OK)
        return tool_fail(&d, rc);
      if (mail ? k != CU_CLASS_MAIL
               : (k != CU_CLASS_DOCUMENT && k != CU_CLASS_CONTRACT &&
                  k != CU_CLASS_INVOICE))
        return tool_usage_error("ingest", "--class %s does not fit kind %s",
                                cls, kind);
    }
    return ingest_records(mail, argv + optind, argc - optind, custodian, k);
  }
  if (strcmp(kind, "usage") == 0)
    return tool_ingest_usage(argv + optind, argc - optind, custodian, cls,
                             ratio, format);
  return tool_usage_error("ingest", "unknown kind '%s'; this custos ingests: "
                                    "directory, usage, mail, docs", kind);
}
