/*
 * Search over the records' FTS5 index, and the record view with its
 * custody data.  A user query is rewritten into FTS5 syntax (words that
 * are not FTS5 barewords become phrases, field names map to columns), the
 * filters become a rowid range (dates) and SQL conditions, and every
 * search and every record shown is recorded through cu_ws_record_query.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "records_int.h"

#define MAX_QUERY 65536

static bool bare_char(unsigned char c) {
  return c >= 0x80 || c == '_' || c == 0x1A || (c >= '0' && c <= '9') ||
         (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static const struct {
  const char *user, *column;
} fields[] = {{"from", "sender"},       {"sender", "sender"},
              {"to", "recipients"},     {"recipients", "recipients"},
              {"subject", "subject"},   {"body", "body"},
              {"attachment", "attachments"}, {"attachments", "attachments"}};

/* Appends s[0..n) as an FTS5 string ("..." with quotes doubled). */
static custos_rc put_phrase(cu_buf *out, const char *s, size_t n) {
  custos_rc rc = cu_buf_putc(out, '"');
  for (size_t i = 0; i < n && rc == CUSTOS_OK; i++)
    rc = s[i] == '"' ? cu_buf_puts(out, "\"\"") : cu_buf_putc(out, s[i]);
  if (rc == CUSTOS_OK)
    rc = cu_buf_putc(out, '"');
  return rc;
}

static custos_rc put_word(cu_buf *out, const char *w, size_t n) {
  bool prefix = n > 1 && w[n - 1] == '*';
  size_t core = prefix ? n - 1 : n;
  bool bare = core > 0;
  for (size_t i = 0; i < core; i++)
    if (!bare_char((unsigned char)w[i]))
      bare = false;
  custos_rc rc;
  if (bare)
    rc = cu_buf_append(out, w, core);
  else
    rc = put_phrase(out, w, core);
  if (rc == CUSTOS_OK && prefix)
    rc = cu_buf_puts(out, bare ? "*" : " *");
  return rc;
}

custos_rc cu_rec_query_fts(const char *q, cu_buf *out, custos_diag *d) {
  size_t n = strlen(q);
  if (n > MAX_QUERY)
    return cu_diag_set(d, CUSTOS_ETOOBIG, "query longer than %d bytes",
                       MAX_QUERY);
  custos_rc rc = CUSTOS_OK;
  size_t i = 0;
  int depth = 0;
  bool glue = false; /* NEAR and its '(' stay together */
  while (i < n && rc == CUSTOS_OK) {
    char c = q[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      i++;
      continue;
    }
    if (out->len && out->data[out->len - 1] != '(' &&
        out->data[out->len - 1] != ' ' && c != ')' && c != ',' && !glue)
      rc = cu_buf_putc(out, ' ');
    glue = false;
    if (rc != CUSTOS_OK)
      break;
    if (c == '"') {
      const char *end = strchr(q + i + 1, '"');
      if (!end) {
        cu_diag_field(d, "query", q, n);
        cu_diag_hint(d, "close the phrase with a second \"");
        return cu_diag_set(d, CUSTOS_EPARSE, "unterminated phrase at %zu",
                           i + 1);
      }
      rc = put_phrase(out, q + i + 1, (size_t)(end - q - i - 1));
      i = (size_t)(end - q) + 1;
      if (rc == CUSTOS_OK && i < n && q[i] == '*') {
        rc = cu_buf_puts(out, " *");
        i++;
      }
      continue;
    }
    if (c == '(' || c == ')' || c == ',') {
      depth += c == '(' ? 1 : c == ')' ? -1 : 0;
      if (depth < 0) {
        cu_diag_field(d, "query", q, n);
        cu_diag_hint(d, "every ')' needs a '(' before it");
        return cu_diag_set(d, CUSTOS_EPARSE, "unbalanced ')' at %zu", i + 1);
      }
      rc = cu_buf_putc(out, c);
      i++;
      continue;
    }
    size_t j = i;
    while (j < n && q[j] != ' ' && q[j] != '\t' && q[j] != '\n' &&
           q[j] != '\r' && q[j] != '(' && q[j] != ')' && q[j] != '"' &&
           q[j] != ',')
      j++;
    const char *w = q + i;
    size_t wn = j - i;
    i = j;
    if ((wn == 3 && memcmp(w, "AND", 3) == 0) ||
        (wn == 2 && memcmp(w, "OR", 2) == 0) ||
        (wn == 3 && memcmp(w, "NOT", 3) == 0) ||
        (wn == 4 && memcmp(w, "NEAR", 4) == 0 && i < n && q[i] == '(')) {
      rc = cu_buf_append(out, w, wn);
      glue = wn == 4;
      continue;
    }
    const char *colon = memchr(w, ':', wn);
    if (colon) {
      size_t fn = (size_t)(colon - w);
      const char *col = NULL;
      for (size_t k = 0; k < CU_ARRAY_LEN(fields); k++)
        if (strlen(fields[k].user) == fn &&
            memcmp(fields[k].user, w, fn) == 0)
          col = fields[k].column;
      if (col) {
        rc = cu_buf_printf(out, "%s : ", col);
        w = colon + 1;
        wn -= fn + 1;
        if (wn == 0)
          continue; /* the next token is the field's value */
      }
    }
    if (rc == CUSTOS_OK)
      rc = put_word(out, w, wn);
  }
  if (rc == CUSTOS_OK && depth != 0) {
    cu_diag_field(d, "query", q, n);
    cu_diag_hint(d, "close every '(' with a ')'");
    return cu_diag_set(d, CUSTOS_EPARSE, "unbalanced '('");
  }
  if (rc == CUSTOS_OK && !out->data)
    rc = cu_buf_puts(out, "");
  if (rc != CUSTOS_OK && (!d || d->rc == CUSTOS_OK))
    cu_diag_set(d, rc, "cannot rewrite the query");
  return rc;
}

/* Appends " AND column : "value"" for a field filter. */
static custos_rc add_filter(cu_buf *b, const char *column, const char *v) {
  if (!v || !*v)
    return CUSTOS_OK;
  custos_rc rc = cu_buf_printf(b, "%s%s : ", b->len ? " AND " : "", column);
  if (rc == CUSTOS_OK)
    rc = put_phrase(b, v, strlen(v));
  return rc;
}

/* Shared conditions: ?2/?3 rowid range, ?4 attachments, ?5 custodian. */
#define COND_RECORD                                                            \
  " AND (?4 < 0 OR ((r.flags & 2) != 0) = ?4)"                                 \
  " AND (?5 IS NULL OR EXISTS (SELECT 1 FROM record_places p JOIN sources s"   \
  " ON s.id = p.source_id WHERE p.record_id = r.id AND s.custodian = ?5))"

static const char sql_match_rank[] =
    "SELECT r.id, r.date, t.subject, t.sender,"
    " snippet(records_fts, -1, '[', ']', '...', 16)"
    " FROM records_fts JOIN records r ON r.fts_rowid = records_fts.rowid"
    " JOIN record_text t ON t.rowid = records_fts.rowid"
    " WHERE records_fts MATCH ?1 AND records_fts.rowid BETWEEN ?2 AND ?3"
    " AND rank MATCH ?8" COND_RECORD " ORDER BY rank LIMIT ?6 OFFSET ?7";
static const char sql_match_date[] =
    "SELECT r.id, r.date, t.subject, t.sender,"
    " snippet(records_fts, -1, '[', ']', '...', 16)"
    " FROM records_fts JOIN records r ON r.fts_rowid = records_fts.rowid"
    " JOIN record_text t ON t.rowid = records_fts.rowid"
    " WHERE records_fts MATCH ?1 AND records_fts.rowid BETWEEN ?2 AND ?3"
    COND_RECORD " ORDER BY records_fts.rowid DESC LIMIT ?6 OFFSET ?7";
static const char sql_all_date[] =
    "SELECT r.id, r.date, t.subject, t.sender, substr(t.body, 1, 160)"
    " FROM records r JOIN record_text t ON t.rowid = r.fts_rowid"
    " WHERE ?1 IS NULL AND r.fts_rowid BETWEEN ?2 AND ?3" COND_RECORD
    " ORDER BY r.fts_rowid DESC LIMIT ?6 OFFSET ?7";
/* Counting without the join when no condition needs the records row:
 * FTS5 alone counts a doclist of 100,000 hits in milliseconds. */
static const char sql_count_fts[] =
    "SELECT count(*) FROM records_fts WHERE records_fts MATCH ?1"
    " AND rowid BETWEEN ?2 AND ?3 AND ?4 < 0 AND ?5 IS NULL";
static const char sql_count_match[] =
    "SELECT count(*) FROM records_fts"
    " JOIN records r ON r.fts_rowid = records_fts.rowid"
    " WHERE records_fts MATCH ?1 AND records_fts.rowid BETWEEN ?2 AND ?3"
    COND_RECORD;
static const char sql_count_all[] =
    "SELECT count(*) FROM records r WHERE ?1 IS NULL"
    " AND r.fts_rowid BETWEEN ?2 AND ?3" COND_RECORD;

/* The FTS5 expression has an OR operator (outside phrases): then the
 * rarity of each alternative matters to relevance (rank.c). */
static bool has_or(const char *fts) {
  bool quoted = false;
  for (const char *p = fts; *p; p++) {
    if (*p == '"')
      quoted = !quoted;
    else if (!quoted && p[0] == 'O' && p[1] == 'R' &&
             (p == fts || p[-1] == ' ' || p[-1] == '(') &&
             (p[2] == ' ' || p[2] == '(' || p[2] == '\0'))
      return true;
  }
  return false;
}

static void bind_common(sqlite3_stmt *st, const char *fts,
                        const cu_rec_query *q) {
  int64_t lo = q->after > 0 ? q->after : 0;
  int64_t hi = q->before > 0 ? q->before : ((int64_t)1 << 38) - 1;
  if (fts)
    sqlite3_bind_text(st, 1, fts, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, 1);
  sqlite3_bind_int64(st, 2, lo << 24);
  sqlite3_bind_int64(st, 3, ((hi + 1) << 24) - 1);
  sqlite3_bind_int(st, 4, q->has_attachment < 0 ? -1 : q->has_attachment);
  if (q->custodian && *q->custodian)
    sqlite3_bind_text(st, 5, q->custodian, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, 5);
}

static custos_rc query_error(cu_ws *ws, const cu_rec_query *q,
                             custos_diag *d) {
  const char *msg = sqlite3_errmsg(cu_ws_db(ws));
  if (msg && (strstr(msg, "fts5") || strstr(msg, "syntax") ||
              strstr(msg, "no such column"))) {
    cu_diag_field(d, "query", q->text ? q->text : "",
                  q->text ? strlen(q->text) : 0);
    cu_diag_hint(d, "operators are AND, OR, NOT (upper case), NEAR(a b, "
                    "10), \"a phrase\", prefix*, and field:word with "
                    "from, to, subject, body, attachment");
    return cu_diag_set(d, CUSTOS_EPARSE, "malformed query: %s", msg);
  }
  return cu_ws_dberr(ws, "search failed", d);
}

static char *col_dup(sqlite3_stmt *st, int i) {
  const char *s = (const char *)sqlite3_column_text(st, i);
  return cu_strdup(s ? s : "");
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

/* SHA-256 over the returned record ids in ascending order, one decimal id
 * and a line feed each: the same hits give the same digest whatever the
 * sort order or page size that returned them. */
static custos_rc ids_digest(const cu_rec_result *r, char *hex) {
  int64_t *ids = cu_malloc(r->nhits ? r->nhits * sizeof *ids : 1);
  if (!ids)
    return CUSTOS_ENOMEM;
  for (size_t i = 0; i < r->nhits; i++)
    ids[i] = r->hits[i].id;
  qsort(ids, r->nhits, sizeof *ids, cmp_i64);
  cu_sha256_ctx *sh = NULL;
  custos_rc rc = cu_sha256_init(&sh);
  if (rc == CUSTOS_OK) {
    for (size_t i = 0; i < r->nhits; i++) {
      char line[32];
      int k = snprintf(line, sizeof line, "%lld\n", (long long)ids[i]);
      cu_sha256_update(sh, line, (size_t)k);
    }
    uint8_t dg[CU_SHA256_LEN];
    cu_sha256_final(sh, dg);
    cu_hex_encode(dg, CU_SHA256_LEN, hex);
  }
  cu_free(ids);
  return rc;
}

static json_t *query_json(const cu_rec_query *q, const char *fts) {
  json_t *o = json_object();
  if (!o)
    return NULL;
  json_object_set_new(o, "text", json_string(q->text ? q->text : ""));
  json_object_set_new(o, "fts", json_string(fts ? fts : ""));
  json_object_set_new(o, "sort", json_string(q->sort == CU_REC_SORT_DATE
                                                 ? "date"
                                                 : "relevance"));
  json_object_set_new(o, "limit", json_integer(q->limit));
  json_object_set_new(o, "offset", json_integer(q->offset));
  if (q->from)
    json_object_set_new(o, "from", json_string(q->from));
  if (q->to)
    json_object_set_new(o, "to", json_string(q->to));
  if (q->subject)
    json_object_set_new(o, "subject", json_string(q->subject));
  if (q->custodian)
    json_object_set_new(o, "custodian", json_string(q->custodian));
  if (q->after)
    json_object_set_new(o, "after", json_integer(q->after));
  if (q->before)
    json_object_set_new(o, "before", json_integer(q->before));
  if (q->has_attachment >= 0)
    json_object_set_new(o, "has_attachment",
                        json_boolean(q->has_attachment));
  return o;
}

/* Appends the hit in st's current row (id, date, subject, from,
 * snippet) to r. */
static custos_rc add_hit(sqlite3_stmt *st, cu_rec_result *r, size_t *cap,
                         custos_diag *d) {
  if (r->nhits == *cap) {
    size_t nc = *cap ? *cap * 2 : 64;
    cu_rec_hit *nh = cu_realloc(r->hits, nc * sizeof *nh);
    if (!nh)
      return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory collecting hits");
    r->hits = nh;
    *cap = nc;
  }
  cu_rec_hit *h = &r->hits[r->nhits++];
  h->id = sqlite3_column_int64(st, 0);
  h->date = sqlite3_column_int64(st, 1);
  h->subject = col_dup(st, 2);
  h->from = col_dup(st, 3);
  h->snippet = col_dup(st, 4);
  if (!h->subject || !h->from || !h->snippet)
    return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory collecting hits");
  return CUSTOS_OK;
}

/* The exact count by its own statement (when the page is sorted by date
 * or a condition needs the records row). */
static custos_rc count_hits(cu_ws *ws, const cu_rec_query *q,
                            const char *expr, bool record_cond,
                            int64_t *total, custos_diag *d) {
  sqlite3_stmt *st = NULL;
  custos_rc rc = cu_ws_prepare(ws,
                               !expr         ? sql_count_all
                               : record_cond ? sql_count_match
                                             : sql_count_fts,
                               &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  bind_common(st, expr, q);
  if (sqlite3_step(st) == SQLITE_ROW)
    *total = sqlite3_column_int64(st, 0);
  else
    rc = query_error(ws, q, d);
  sqlite3_finalize(st);
  return rc;
}

void cu_rec_result_free(cu_rec_result *r) {
  if (!r)
    return;
  for (size_t i = 0; i < r->nhits; i++) {
    cu_free(r->hits[i].subject);
    cu_free(r->hits[i].from);
    cu_free(r->hits[i].snippet);
  }
  cu_free(r->hits);
  memset(r, 0, sizeof *r);
}

custos_rc cu_rec_search(cu_ws *ws, const cu_rec_query *q, cu_rec_result *r,
                        custos_diag *d) {
  memset(r, 0, sizeof *r);
  cu_buf fts;
  cu_buf_init(&fts, 4 * MAX_QUERY);
  sqlite3_stmt *st = NULL;
  custos_rc rc = cu_rec_query_fts(q->text ? q->text : "", &fts, d);
  if (rc != CUSTOS_OK)
    goto fail;
  if (fts.len && (q->from || q->to || q->subject)) {
    /* the user's expression is parenthesised so that its OR binds inside */
    cu_buf tmp;
    cu_buf_init(&tmp, 4 * MAX_QUERY);
    rc = cu_buf_printf(&tmp, "(%s)", fts.data);
    cu_buf_free(&fts);
    fts = tmp;
  }
  if (rc == CUSTOS_OK)
    rc = add_filter(&fts, "sender", q->from);
  if (rc == CUSTOS_OK)
    rc = add_filter(&fts, "recipients", q->to);
  if (rc == CUSTOS_OK)
    rc = add_filter(&fts, "subject", q->subject);
  if (rc != CUSTOS_OK) {
    cu_diag_set(d, rc, "query too long");
    goto fail;
  }
  const char *expr = fts.len ? fts.data : NULL;
  bool record_cond = q->has_attachment >= 0 || (q->custodian && *q->custodian);

  /* the exact count: counted by custos_rank() while the page is read
   * when FTS5 alone decides the hits and sorts them by relevance */
  bool count_by_rank = expr && !record_cond && q->sort != CU_REC_SORT_DATE;
  if (!count_by_rank) {
    rc = count_hits(ws, q, expr, record_cond, &r->total, d);
    if (rc != CUSTOS_OK)
      goto fail;
  }

  /* the page */
  rc = cu_ws_prepare(ws,
                     !expr ? sql_all_date
                     : q->sort == CU_REC_SORT_DATE ? sql_match_date
                                                   : sql_match_rank,
                     &st, d);
  if (rc != CUSTOS_OK)
    goto fail;
  bind_common(st, expr, q);
  sqlite3_bind_int64(st, 6, q->limit > 0 ? q->limit : -1);
  sqlite3_bind_int64(st, 7, q->offset > 0 ? q->offset : 0);
  if (expr && q->sort != CU_REC_SORT_DATE)
    sqlite3_bind_text(st, 8, has_or(expr) ? "custos_rank(1)" : "custos_rank(0)",
                      -1, SQLITE_STATIC);
  size_t cap = 0;
  int step;
  cu_rec_rank_reset();
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    rc = add_hit(st, r, &cap, d);
    if (rc != CUSTOS_OK)
      goto fail;
  }
  if (step != SQLITE_DONE) {
    rc = query_error(ws, q, d);
    goto fail;
  }
  sqlite3_finalize(st);
  st = NULL;
  if (count_by_rank)
    r->total = cu_rec_rank_count();
  rc = ids_digest(r, r->digest);
  if (rc != CUSTOS_OK) {
    cu_diag_set(d, rc, "cannot hash the results");
    goto fail;
  }
  rc = cu_ws_record_query(ws, "search", q->case_id, query_json(q, expr),
                          r->total, r->digest, d);
fail:
  sqlite3_finalize(st);
  cu_buf_free(&fts);
  return rc;
}

/* ---- show ------------------------------------------------------------- */

static json_t *str_col(sqlite3_stmt *st, int i) {
  const char *s = (const char *)sqlite3_column_text(st, i);
  return json_string(s ? s : "");
}

static custos_rc show_rows(cu_ws *ws, const char *sql, int64_t id,
                           const char *const *names, int ncols,
                           const int *ints, json_t *arr, custos_diag *d) {
  sqlite3_stmt *st = NULL;
  custos_rc rc = cu_ws_prepare(ws, sql, &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  sqlite3_bind_int64(st, 1, id);
  int step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    json_t *o = json_object();
    for (int i = 0; i < ncols; i++)
      json_object_set_new(o, names[i],
                          ints[i] ? json_integer(sqlite3_column_int64(st, i))
                                  : str_col(st, i));
    json_array_append_new(arr, o);
  }
  if (step != SQLITE_DONE)
    rc = cu_ws_dberr(ws, "cannot read a record", d);
  sqlite3_finalize(st);
  return rc;
}

/* The place is a message inside an mbox rather than a whole message
 * file: it does not cover the whole file, or it starts with a "From "
 * line (how ingest tells an mbox from a single message file).  Text
 * before an mbox's first "From " line is a message at offset 0 of its
 * own, shorter than the file. */
static bool mbox_place(const char *path, int64_t off, int64_t len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return false;
  struct stat sb;
  char head[5];
  bool yes = off > 0 || (fstat(fileno(f), &sb) == 0 && len < sb.st_size) ||
             (fread(head, 1, sizeof head, f) == sizeof head &&
              memcmp(head, "From ", sizeof head) == 0);
  fclose(f);
  return yes;
}

/* Reads the copy at one place again and compares its SHA-256 with the one
 * taken at ingest: sets "check" on the place object v to "verified",
 * "changed" or "unavailable", with "check_detail" saying why when it is
 * not verified.  A message in an mbox is split out again by the same
 * splitter, so the digest covers the same un-quoted bytes; any other place
 * is the whole file.  A relative source path is read from the current
 * folder, as ingest read it. */
static void verify_place(json_t *v, bool mail) {
  const char *src = json_string_value(json_object_get(v, "source_path"));
  const char *rel = json_string_value(json_object_get(v, "path"));
  const char *want = json_string_value(json_object_get(v, "raw_sha256"));
  json_int_t off = json_integer_value(json_object_get(v, "offset"));
  json_int_t len = json_integer_value(json_object_get(v, "length"));
  bool inner = rel && *rel;
  char full[PATH_MAX], got[2 * CU_SHA256_LEN + 1] = "";
  custos_diag d;
  custos_diag_clear(&d);
  custos_rc rc = CUSTOS_OK;
  int n = snprintf(full, sizeof full, "%s%s%s", src ? src : "",
                   inner ? "/" : "", inner ? rel : "");
  if (n < 0 || (size_t)n >= sizeof full) {
    rc = cu_diag_set(&d, CUSTOS_ETOOBIG, "path too long");
  } else if (mail && !inner && mbox_place(full, off, len)) {
    cu_mbox *mb = NULL;
    cu_mbox_msg m;
    bool eof = false;
    rc = cu_mbox_open(full, (uint64_t)off, 1 << 20, &mb, &d);
    if (rc == CUSTOS_OK)
      rc = cu_mbox_next(mb, &m, &eof, &d);
    if (rc == CUSTOS_OK && !eof)
      memcpy(got, m.sha256, sizeof got);
    cu_mbox_close(mb);
  } else {
    uint8_t dg[CU_SHA256_LEN];
    uint64_t size = 0;
    rc = cu_sha256_file(full, dg, &size, &d);
    if (rc == CUSTOS_OK)
      cu_hex_encode(dg, CU_SHA256_LEN, got);
  }
  bool same = rc == CUSTOS_OK && want && strcmp(got, want) == 0;
  json_object_set_new(v, "check", json_string(rc != CUSTOS_OK ? "unavailable"
                                              : same          ? "verified"
                                                              : "changed"));
  if (rc != CUSTOS_OK)
    json_object_set_new(v, "check_detail",
                        json_string(d.msg[0] ? d.msg : custos_rc_message(rc)));
  else if (!same)
    json_object_set_new(
        v, "check_detail",
        json_sprintf("the copy there now has SHA-256 %s", got[0] ? got : "-"));
}

custos_rc cu_rec_show(cu_ws *ws, int64_t id, const char *case_id,
                      json_t **out, custos_diag *d) {
  *out = NULL;
  sqlite3_stmt *st = NULL;
  custos_rc rc = cu_ws_prepare(
      ws,
      "SELECT r.kind, r.type, r.content_id, r.raw_sha256, r.size,"
      " r.message_id, r.in_reply_to, r.refs, r.date, r.flags, r.thread_id,"
      " t.subject, t.sender, t.recipients, t.body, t.attachments,"
      " (SELECT count(*) FROM records x WHERE x.thread_id = r.thread_id),"
      " (SELECT p.message_id FROM thread_nodes n JOIN thread_nodes p"
      "  ON p.id = n.parent_id WHERE n.record_id = r.id),"
      " (SELECT p.record_id IS NULL FROM thread_nodes n JOIN thread_nodes p"
      "  ON p.id = n.parent_id WHERE n.record_id = r.id)"
      " FROM records r JOIN record_text t ON t.rowid = r.fts_rowid"
      " WHERE r.id = ?1",
      &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  sqlite3_bind_int64(st, 1, id);
  int step = sqlite3_step(st);
  if (step != SQLITE_ROW) {
    sqlite3_finalize(st);
    if (step == SQLITE_DONE) {
      cu_diag_hint(d, "find record ids with `custos search`");
      return cu_diag_set(d, CUSTOS_ENOTFOUND, "no record %lld",
                         (long long)id);
    }
    return cu_ws_dberr(ws, "cannot read a record", d);
  }
  char date[32] = "", flags[128];
  if (sqlite3_column_int64(st, 8))
    cu_time_format(sqlite3_column_int64(st, 8), date, sizeof date);
  cu_rec_flags_format((unsigned)sqlite3_column_int64(st, 9), flags,
                      sizeof flags);
  json_t *o = json_object();
  json_object_set_new(o, "id", json_integer(id));
  json_object_set_new(o, "kind", str_col(st, 0));
  json_object_set_new(o, "type", str_col(st, 1));
  json_object_set_new(o, "content_id", str_col(st, 2));
  json_object_set_new(o, "raw_sha256", str_col(st, 3));
  json_object_set_new(o, "size", json_integer(sqlite3_column_int64(st, 4)));
  json_object_set_new(o, "message_id", str_col(st, 5));
  json_object_set_new(o, "in_reply_to", str_col(st, 6));
  json_object_set_new(o, "references", str_col(st, 7));
  json_object_set_new(o, "date", json_string(date));
  json_object_set_new(o, "flags", json_string(flags));
  json_object_set_new(o, "subject", str_col(st, 11));
  json_object_set_new(o, "from", str_col(st, 12));
  json_object_set_new(o, "to", str_col(st, 13));
  json_object_set_new(o, "body", str_col(st, 14));
  json_object_set_new(o, "attachment_text", str_col(st, 15));
  if (sqlite3_column_type(st, 10) != SQLITE_NULL) {
    json_t *t = json_object();
    json_object_set_new(t, "id", json_integer(sqlite3_column_int64(st, 10)));
    json_object_set_new(t, "records",
                        json_integer(sqlite3_column_int64(st, 16)));
    if (sqlite3_column_type(st, 17) != SQLITE_NULL) {
      json_object_set_new(t, "parent", str_col(st, 17));
      json_object_set_new(t, "parent_missing",
                          json_boolean(sqlite3_column_int(st, 18)));
    }
    json_object_set_new(o, "thread", t);
  }
  sqlite3_finalize(st);

  static const char *const pnames[] = {"source",       "class",
                                       "custodian",    "source_path",
                                       "source_sha256", "path",
                                       "offset",       "length",
                                       "raw_sha256"};
  static const int pints[] = {1, 0, 0, 0, 0, 0, 1, 1, 0};
  json_t *places = json_array();
  rc = show_rows(ws,
                 "SELECT p.source_id, s.class, s.custodian, s.path, s.sha256,"
                 " p.path, p.offset, p.length, p.raw_sha256"
                 " FROM record_places p JOIN sources s ON s.id = p.source_id"
                 " WHERE p.record_id = ?1 ORDER BY p.source_id, p.path,"
                 " p.offset",
                 id, pnames, 9, pints, places, d);
  if (rc == CUSTOS_OK) {
    size_t i;
    json_t *v;
    bool mail = strcmp(json_string_value(json_object_get(o, "kind")), "mail") == 0;
    json_array_foreach(places, i, v) verify_place(v, mail);
  }
  json_object_set_new(o, "places", places);
  static const char *const anames[] = {"name", "type", "size", "sha256"};
  static const int aints[] = {0, 0, 1, 0};
  json_t *atts = json_array();
  if (rc == CUSTOS_OK)
    rc = show_rows(ws,
                   "SELECT name, type, size, sha256 FROM attachments"
                   " WHERE record_id = ?1 ORDER BY idx",
                   id, anames, 4, aints, atts, d);
  json_object_set_new(o, "attachments", atts);
  if (rc != CUSTOS_OK) {
    json_decref(o);
    return rc;
  }
  char line[32], hex[2 * CU_SHA256_LEN + 1];
  uint8_t dg[CU_SHA256_LEN];
  int k = snprintf(line, sizeof line, "%lld\n", (long long)id);
  cu_sha256(line, (size_t)k, dg);
  cu_hex_encode(dg, CU_SHA256_LEN, hex);
  rc = cu_ws_record_query(ws, "show", case_id,
                          json_pack("{s:I}", "record", (json_int_t)id), 1, hex,
                          d);
  if (rc != CUSTOS_OK) {
    json_decref(o);
    return rc;
  }
  *out = o;
  return CUSTOS_OK;
}
