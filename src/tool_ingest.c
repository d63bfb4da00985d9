/* custos ingest: register sources and ingest them, all or nothing. */
#include <string.h>

#include <jansson.h>

#include "boundary/boundary.h"
#include "directory/directory.h"
#include "tool.h"

static const char help[] =
    "usage: custos ingest KIND PATH... [--custodian NAME] [--class C]\n"
    "\n"
    "Registers each PATH as a source (class, custodian, SHA-256, size) and\n"
    "ingests it.  A file whose SHA-256 was already ingested is skipped and\n"
    "reported.  On any error nothing is stored and the error names the file,\n"
    "line, column, field and value.\n"
    "\n"
    "kinds:\n"
    "  directory   countries, accounts, units, subscriptions, contacts (CSV\n"
    "              or JSON; see docs/formats.md); all files are one change\n"
    "  usage       billing exports: FOCUS 1.0-1.2, Azure cost exports, AWS\n"
    "              CUR 2.0 (CSV or gzip); each file is its own change\n"
    "\n"
    "options:\n"
    "  --custodian NAME  who holds these records (default: the actor)\n"
    "  --class C         source class; must match the kind (directory for\n"
    "                    directory); custos has no class for customer content\n"
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
  if (strcmp(kind, "usage") == 0)
    return tool_ingest_usage(argv + optind, argc - optind, custodian, cls,
                             ratio, format);
  return tool_usage_error("ingest", "unknown kind '%s'; this custos ingests: "
                                    "directory, usage", kind);
}
