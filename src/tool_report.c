/* custos report and custos statement: the case told to auditors and to the
 * public. */
#include <string.h>

#include <jansson.h>

#include "report/report.h"
#include "tool.h"

static const char report_help[] =
    "usage: custos report CASE -o DIR\n"
    "\n"
    "Writes the case report to DIR: index.html (self-contained, inline SVG\n"
    "charts of the unit's storage by region and AI use per month, claims,\n"
    "evidence with digests, decision, plan with what stays running,\n"
    "outcomes, log checkpoint), report.md (the same as Markdown), log.vkey\n"
    "and proofs/*.tlog-proof, one inclusion proof per key entry.\n";

static const char statement_help[] =
    "usage: custos statement CASE [-o FILE]\n"
    "\n"
    "Writes the public statement of the case (Markdown): the principles\n"
    "applied, what was found at the level of categories, what was ceased\n"
    "and disabled, what was not affected, that no customer content was\n"
    "accessed, and the log checkpoint that anchors it.\n";

static int run(int argc, char **argv, bool report) {
  static const struct option opts[] = {
      TOOL_COMMON_LONGOPTS, {"output", required_argument, NULL, 'o'},
      {0, 0, 0, 0}};
  const char *cmd = report ? "report" : "statement";
  const char *out = NULL;
  int c;
  while ((c = getopt_long(argc, argv, "w:qho:", opts, NULL)) != -1) {
    if (c == 'o')
      out = optarg;
    else if (!tool_common_opt(c, report ? report_help : statement_help))
      return tool_usage_error(cmd, "unknown option");
  }
  if (optind + 1 != argc || (report && !out))
    return tool_usage_error(cmd, report ? "needs CASE and -o DIR"
                                        : "needs CASE");
  int code = 0;
  cu_ws *ws = tool_open_ws(&code);
  if (!ws)
    return code;
  custos_diag d;
  custos_diag_clear(&d);
  custos_rc rc;
  if (report) {
    cu_report_files f;
    rc = cu_report_write(ws, argv[optind], out, &f, &d);
    tool_sync_close(ws);
    if (rc != CUSTOS_OK)
      return tool_fail(&d, rc);
    if (tool_g.json)
      tool_print_json(json_pack("{s:s,s:s,s:i}", "html", f.html, "markdown",
                                f.markdown, "proofs", f.proofs));
    else if (!tool_g.quiet)
      printf("report written: %s, %s, %d proof(s) in %s/proofs\n", f.html,
             f.markdown, f.proofs, out);
    return TOOL_EXIT_OK;
  }
  cu_buf b;
  cu_buf_init(&b, 16u << 20);
  rc = cu_statement(ws, argv[optind], &b, &d);
  tool_sync_close(ws);
  if (rc == CUSTOS_OK && out)
    rc = cu_file_write_atomic(out, b.data, b.len, 0644, &d);
  if (rc != CUSTOS_OK) {
    cu_buf_free(&b);
    return tool_fail(&d, rc);
  }
  if (!out)
    fwrite(b.data, 1, b.len, stdout);
  else if (!tool_g.quiet)
    printf("statement written: %s\n", out);
  cu_buf_free(&b);
  return TOOL_EXIT_OK;
}

int tool_report(int argc, char **argv) { return run(argc, argv, true); }
int tool_statement(int argc, char **argv) { return run(argc, argv, false); }
