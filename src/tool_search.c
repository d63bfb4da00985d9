/*
 * custos search: full-text search over mail and documents, one query or a
 * file of queries (one per claim).  Every search is recorded with its
 * actor, case, query, hit count and the digest of the returned ids.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "records/records.h"
#include "tool.h"

static const char help[] =
    "usage: custos search QUERY [options]\n"
    "       custos search --batch FILE [options]\n"
    "\n"
    "Searches mail and documents.  QUERY has words, \"phrases\", AND, OR,\n"
    "NOT (upper case), NEAR(a b, 10), prefix*, (groups) and field:word\n"
    "with from, to, subject, body, attachment.  Every search is recorded\n"
    "(actor, case, query, hit count, SHA-256 of the returned record ids).\n"
    "\n"
    "options:\n"
    "  --case ID           the case this search is for (recorded)\n"
    "  --from TEXT         sender contains TEXT (as a phrase)\n"
    "  --to TEXT           a recipient (To or Cc) contains TEXT\n"
    "  --subject TEXT      subject contains TEXT\n"
    "  --custodian NAME    found in a source of this custodian\n"
    "  --after DATE        dated on or after DATE (YYYY-MM-DD or RFC 3339)\n"
    "  --before DATE       dated on or before DATE\n"
    "  --has-attachment    only records with attachments\n"
    "  --no-attachment     only records without\n"
    "  --sort relevance|date   order of hits (default relevance; date is\n"
    "                      newest first)\n"
    "  --limit N           hits per page (default 20; 0 for all)\n"
    "  --offset N          skip N hits (pagination)\n"
    "  --batch FILE        one query per line (empty lines and lines\n"
    "                      starting with # are skipped); hits per query\n"
    "  -w DIR, --json, -q as everywhere\n";

static json_t *result_json(const char *text, const cu_rec_result *r) {
  json_t *hits = json_array();
  for (size_t i = 0; i < r->nhits; i++) {
    char date[32] = "";
    if (r->hits[i].date)
      cu_time_format(r->hits[i].date, date, sizeof date);
    json_array_append_new(
        hits, json_pack("{s:I,s:s,s:s,s:s,s:s}", "id",
                        (json_int_t)r->hits[i].id, "date", date, "from",
                        r->hits[i].from, "subject", r->hits[i].subject,
                        "snippet", r->hits[i].snippet));
  }
  return json_pack("{s:s,s:I,s:I,s:s,s:o}", "query", text, "total",
                   (json_int_t)r->total, "returned", (json_int_t)r->nhits,
                   "digest", r->digest, "hits", hits);
}

static void print_text(const char *text, cu_rec_result *r, bool batch) {
  if (batch)
    printf("== %s\n", text);
  printf("%lld record(s) match; showing %zu\n", (long long)r->total,
         r->nhits);
  for (size_t i = 0; i < r->nhits; i++) {
    char date[32] = "";
    if (r->hits[i].date)
      cu_date_format(r->hits[i].date, date, sizeof date);
    printf("%-8lld %-10s %-30.30s %s\n", (long long)r->hits[i].id, date,
           r->hits[i].from, r->hits[i].subject);
    if (*r->hits[i].snippet) {
      /* one line per snippet on a terminal; --json keeps it as it is */
      for (char *p = r->hits[i].snippet; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
          *p = ' ';
      printf("         %s\n", r->hits[i].snippet);
    }
  }
}

static custos_rc parse_date(const char *s, bool end, int64_t *out,
                            custos_diag *d) {
  custos_rc rc = cu_time_parse(s, strlen(s), out);
  if (rc != CUSTOS_OK) {
    cu_diag_field(d, end ? "--before" : "--after", s, strlen(s));
    cu_diag_hint(d, "write a date as YYYY-MM-DD or an RFC 3339 time");
    return cu_diag_set(d, CUSTOS_EINVAL, "not a date");
  }
  if (end && strlen(s) == 10)
    *out += 86399; /* a day given as an end includes the whole day */
  return CUSTOS_OK;
}

/* Runs the queries of FILE, one per line; all or until the first error. */
static int run_batch(cu_ws *ws, const char *file, cu_rec_query *q) {
  custos_diag d;
  custos_diag_clear(&d);
  char *data = NULL;
  size_t len = 0;
  custos_rc rc = cu_file_read(file, 16u << 20, &data, &len, &d);
  if (rc != CUSTOS_OK)
    return tool_fail(&d, rc);
  json_t *all = tool_g.json ? json_array() : NULL;
  char *save = NULL;
  uint64_t line = 0;
  int code = TOOL_EXIT_OK;
  for (char *l = strtok_r(data, "\n", &save); l;
       l = strtok_r(NULL, "\n", &save)) {
    line++;
    size_t n = strlen(l);
    while (n && (l[n - 1] == '\r' || l[n - 1] == ' '))
      l[--n] = '\0';
    while (*l == ' ')
      l++;
    if (!*l || *l == '#')
      continue;
    q->text = l;
    cu_rec_result r;
    rc = cu_rec_search(ws, q, &r, &d);
    if (rc != CUSTOS_OK) {
      cu_diag_at(&d, file, line, 0);
      code = tool_fail(&d, rc);
      cu_rec_result_free(&r);
      break;
    }
    if (all)
      json_array_append_new(all, result_json(l, &r));
    else if (!tool_g.quiet)
      print_text(l, &r, true);
    cu_rec_result_free(&r);
  }
  if (all && code == TOOL_EXIT_OK)
    tool_print_json(all);
  else
    json_decref(all);
  cu_free(data);
  return code;
}

int tool_search(int argc, char **argv) {
  static const struct option opts[] = {
      TOOL_COMMON_LONGOPTS,
      {"case", required_argument, NULL, 'k'},
      {"from", required_argument, NULL, 'f'},
      {"to", required_argument, NULL, 't'},
      {"subject", required_argument, NULL, 's'},
      {"custodian", required_argument, NULL, 'c'},
      {"after", required_argument, NULL, 'a'},
      {"before", required_argument, NULL, 'b'},
      {"has-attachment", no_argument, NULL, 'A'},
      {"no-attachment", no_argument, NULL, 'N'},
      {"sort", required_argument, NULL, 'S'},
      {"limit", required_argument, NULL, 'l'},
      {"offset", required_argument, NULL, 'o'},
      {"batch", required_argument, NULL, 'B'},
      {0, 0, 0, 0}};
  cu_rec_query q;
  memset(&q, 0, sizeof q);
  q.has_attachment = -1;
  q.limit = 20;
  const char *batch = NULL;
  custos_diag d;
  custos_diag_clear(&d);
  int c;
  while ((c = getopt_long(argc, argv, "w:qh", opts, NULL)) != -1) {
    custos_rc rc = CUSTOS_OK;
    char *end = NULL;
    switch (c) {
    case 'k': q.case_id = optarg; break;
    case 'f': q.from = optarg; break;
    case 't': q.to = optarg; break;
    case 's': q.subject = optarg; break;
    case 'c': q.custodian = optarg; break;
    case 'a': rc = parse_date(optarg, false, &q.after, &d); break;
    case 'b': rc = parse_date(optarg, true, &q.before, &d); break;
    case 'A': q.has_attachment = 1; break;
    case 'N': q.has_attachment = 0; break;
    case 'B': batch = optarg; break;
    case 'S':
      if (strcmp(optarg, "date") == 0)
        q.sort = CU_REC_SORT_DATE;
      else if (strcmp(optarg, "relevance") == 0)
        q.sort = CU_REC_SORT_RELEVANCE;
      else
        return tool_usage_error("search", "--sort is relevance or date");
      break;
    case 'l':
    case 'o': {
      long long v = strtoll(optarg, &end, 10);
      if (!*optarg || *end || v < 0)
        return tool_usage_error("search", "--%s needs a number >= 0",
                                c == 'l' ? "limit" : "offset");
      if (c == 'l')
        q.limit = v;
      else
        q.offset = v;
      break;
    }
    default:
      if (!tool_common_opt(c, help))
        return tool_usage_error("search", "unknown option");
    }
    if (rc != CUSTOS_OK)
      return tool_fail(&d, rc);
  }
  if (!batch && optind >= argc && !q.from && !q.to && !q.subject &&
      !q.custodian && !q.after && !q.before && q.has_attachment < 0)
    return tool_usage_error("search", "missing QUERY");
  if (batch && optind < argc)
    return tool_usage_error("search", "give either QUERY or --batch FILE");
  if (optind + 1 < argc)
    return tool_usage_error("search", "quote a QUERY of several words");
  int code = 0;
  cu_ws *ws = tool_open_ws(&code);
  if (!ws)
    return code;
  if (batch) {
    code = run_batch(ws, batch, &q);
    tool_sync_close(ws);
    return code;
  }
  q.text = optind < argc ? argv[optind] : "";
  cu_rec_result r;
  custos_rc rc = cu_rec_search(ws, &q, &r, &d);
  tool_sync_close(ws);
  if (rc != CUSTOS_OK) {
    cu_rec_result_free(&r);
    return tool_fail(&d, rc);
  }
  if (tool_g.json)
    tool_print_json(result_json(q.text, &r));
  else
    print_text(q.text, &r, false);
  cu_rec_result_free(&r);
  return TOOL_EXIT_OK;
}
