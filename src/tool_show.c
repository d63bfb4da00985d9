/*
 * custos show: one record with its custody data: hashes, every place it
 * was found (source, path, offset), attachments, thread and text.  Looking
 * at a record is recorded like a search.  Every place's copy is hashed
 * again, so a reviewer sees that what they cite is what was collected.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "records/records.h"
#include "tool.h"

static const char help[] =
    "usage: custos show RECORD [--case ID]\n"
    "\n"
    "Prints record RECORD (a number from `custos search`) with its raw\n"
    "SHA-256, canonical content id, every place it was found (source, path\n"
    "inside the source, byte offset, length, SHA-256 of that copy), its\n"
    "attachments, its thread and its text.  Each place's copy is read\n"
    "again and its SHA-256 compared: verified, changed (the copy there is\n"
    "not what was collected) or unavailable (moved, removed, unreadable).\n"
    "The view is recorded.\n"
    "\n"
    "options:\n"
    "  --case ID   the case this look is for (recorded)\n"
    "  -w DIR, --json, -q as everywhere\n";

static const char *js(json_t *o, const char *k) {
  const char *s = json_string_value(json_object_get(o, k));
  return s ? s : "";
}

static long long ji(json_t *o, const char *k) {
  return (long long)json_integer_value(json_object_get(o, k));
}

int tool_show(int argc, char **argv) {
  static const struct option opts[] = {
      TOOL_COMMON_LONGOPTS, {"case", required_argument, NULL, 'k'},
      {0, 0, 0, 0}};
  const char *case_id = NULL;
  int c;
  while ((c = getopt_long(argc, argv, "w:qh", opts, NULL)) != -1) {
    if (c == 'k')
      case_id = optarg;
    else if (!tool_common_opt(c, help))
      return tool_usage_error("show", "unknown option");
  }
  if (optind + 1 != argc)
    return tool_usage_error("show", "give one RECORD");
  char *end = NULL;
  long long id = strtoll(argv[optind], &end, 10);
  if (!*argv[optind] || *end || id <= 0)
    return tool_usage_error("show", "RECORD is a number");
  int code = 0;
  cu_ws *ws = tool_open_ws(&code);
  if (!ws)
    return code;
  custos_diag d;
  custos_diag_clear(&d);
  json_t *o = NULL;
  custos_rc rc = cu_rec_show(ws, id, case_id, &o, &d);
  tool_sync_close(ws);
  if (rc != CUSTOS_OK)
    return tool_fail(&d, rc);
  if (tool_g.json) {
    tool_print_json(o);
    return TOOL_EXIT_OK;
  }
  printf("record      %lld (%s, %s)\n", id, js(o, "kind"), js(o, "type"));
  printf("subject     %s\n", js(o, "subject"));
  printf("from        %s\n", js(o, "from"));
  printf("to          %s\n", js(o, "to"));
  printf("date        %s\n", js(o, "date"));
  printf("message-id  %s\n", js(o, "message_id"));
  printf("content id  %s\n", js(o, "content_id"));
  printf("raw sha256  %s (%lld bytes)\n", js(o, "raw_sha256"), ji(o, "size"));
  if (*js(o, "flags"))
    printf("flags       %s\n", js(o, "flags"));
  json_t *t = json_object_get(o, "thread");
  if (t) {
    printf("thread      %lld (%lld records)", ji(t, "id"), ji(t, "records"));
    if (json_object_get(t, "parent"))
      printf(", parent <%s>%s", js(t, "parent"),
             json_is_true(json_object_get(t, "parent_missing"))
                 ? " (missing)"
                 : "");
    printf("\n");
  }
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(o, "places"), i, v) {
    printf("found in    source %lld (%s, custodian %s) %s", ji(v, "source"),
           js(v, "class"), js(v, "custodian"), js(v, "source_path"));
    if (*js(v, "path"))
      printf(" / %s", js(v, "path"));
    printf(" @%lld +%lld sha256 %s\n", ji(v, "offset"), ji(v, "length"),
           js(v, "raw_sha256"));
    printf("  copy      %s%s%s\n", js(v, "check"),
           *js(v, "check_detail") ? ": " : "", js(v, "check_detail"));
  }
  json_array_foreach(json_object_get(o, "attachments"), i, v) {
    printf("attachment  %s (%s, %lld bytes) sha256 %s\n", js(v, "name"),
           js(v, "type"), ji(v, "size"), js(v, "sha256"));
  }
  printf("\n%s\n", js(o, "body"));
  json_decref(o);
  return TOOL_EXIT_OK;
}
