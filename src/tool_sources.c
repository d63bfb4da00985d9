/* custos sources: what was ingested, from where, with which counts. */
#include <string.h>

#include <jansson.h>

#include "tool.h"

static const char help[] =
    "usage: custos sources [--rejects ID]\n"
    "\n"
    "Lists every registered source: id, class, custodian, SHA-256, size,\n"
    "records expected / accepted / rejected, status and path.  With\n"
    "--rejects ID, lists the rejected records of source ID with their place\n"
    "and reason.\n";

static int list_rejects(cu_ws *ws, long long id) {
  sqlite3_stmt *st = NULL;
  custos_diag d;
  custos_diag_clear(&d);
  custos_rc rc = cu_ws_prepare(ws,
                               "SELECT s.path, r.line, r.col, r.field, r.value,"
                               " r.reason FROM source_rejects r JOIN sources s"
                               " ON s.id = r.source_id WHERE r.source_id = ?1"
                               " ORDER BY r.rowid",
                               &st, &d);
  if (rc != CUSTOS_OK)
    return tool_fail(&d, rc);
  sqlite3_bind_int64(st, 1, id);
  json_t *arr = tool_g.json ? json_array() : NULL;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *path = (const char *)sqlite3_column_text(st, 0);
    long long line = sqlite3_column_int64(st, 1), col = sqlite3_column_int64(st, 2);
    const char *field = (const char *)sqlite3_column_text(st, 3);
    const char *value = (const char *)sqlite3_column_text(st, 4);
    const char *reason = (const char *)sqlite3_column_text(st, 5);
    if (arr)
      json_array_append_new(arr, json_pack("{s:s,s:I,s:I,s:s,s:s,s:s}", "path",
                                           path, "line", (json_int_t)line,
                                           "column", (json_int_t)col, "field",
                                           field, "value", value, "reason",
                                           reason));
    else
      printf("%s:%lld:%lld: field '%s' value '%s': %s\n", path, line, col,
             field, value, reason);
  }
  sqlite3_finalize(st);
  if (arr)
    tool_print_json(arr);
  return TOOL_EXIT_OK;
}

int tool_sources(int argc, char **argv) {
  static const struct option opts[] = {
      TOOL_COMMON_LONGOPTS,
      {"rejects", required_argument, NULL, 'r'},
      {0, 0, 0, 0}};
  long long rejects = -1;
  int c;
  while ((c = getopt_long(argc, argv, "w:qhr:", opts, NULL)) != -1) {
    if (c == 'r') {
      char *end = NULL;
      rejects = strtoll(optarg, &end, 10);
      if (!end || *end || rejects < 0)
        return tool_usage_error("sources", "--rejects needs a source id");
    } else if (!tool_common_opt(c, help)) {
      return tool_usage_error("sources", "unknown option");
    }
  }
  if (optind != argc)
    return tool_usage_error("sources", "unexpected argument '%s'",
                            argv[optind]);
  int code = 0;
  cu_ws *ws = tool_open_ws(&code);
  if (!ws)
    return code;
  if (rejects >= 0) {
    code = list_rejects(ws, rejects);
    cu_ws_close(ws);
    return code;
  }
  sqlite3_stmt *st = NULL;
  custos_diag d;
  custos_diag_clear(&d);
  custos_rc rc = cu_ws_prepare(
      ws,
      "SELECT id, class, custodian, sha256, size, expected, accepted,"
      " rejected, status, path, registered_at, free_text FROM sources"
      " ORDER BY id",
      &st, &d);
  if (rc != CUSTOS_OK) {
    cu_ws_close(ws);
    return tool_fail(&d, rc);
  }
  json_t *arr = tool_g.json ? json_array() : NULL;
  if (!arr)
    printf("%-4s %-9s %-14s %-12s %12s %9s %9s %9s %-9s %s\n", "id", "class",
           "custodian", "sha256", "bytes", "expected", "accepted", "rejected",
           "status", "path");
  while (sqlite3_step(st) == SQLITE_ROW) {
    long long id = sqlite3_column_int64(st, 0);
    const char *cls = (const char *)sqlite3_column_text(st, 1);
    const char *cust = (const char *)sqlite3_column_text(st, 2);
    const char *sha = (const char *)sqlite3_column_text(st, 3);
    long long size = sqlite3_column_int64(st, 4);
    long long ex = sqlite3_column_int64(st, 5), ac = sqlite3_column_int64(st, 6),
              re = sqlite3_column_int64(st, 7);
    const char *status = (const char *)sqlite3_column_text(st, 8);
    const char *path = (const char *)sqlite3_column_text(st, 9);
    char when[32];
    cu_time_format(sqlite3_column_int64(st, 10), when, sizeof when);
    if (arr)
      json_array_append_new(
          arr, json_pack("{s:I,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:s,s:s,s:s,s:s}",
                         "id", (json_int_t)id, "class", cls, "custodian", cust,
                         "sha256", sha, "size", (json_int_t)size, "expected",
                         (json_int_t)ex, "accepted", (json_int_t)ac,
                         "rejected", (json_int_t)re, "status", status, "path",
                         path, "registered_at", when, "free_text",
                         (const char *)sqlite3_column_text(st, 11)));
    else
      printf("%-4lld %-9s %-14.14s %-12.12s %12lld %9lld %9lld %9lld %-9s %s\n",
             id, cls, cust, sha, size, ex, ac, re, status, path);
  }
  sqlite3_finalize(st);
  cu_ws_close(ws);
  if (arr)
    tool_print_json(arr);
  return TOOL_EXIT_OK;
}
