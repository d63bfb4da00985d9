/* Unit tests of search's relevance path: the exact count that custos_rank()
 * takes while FTS5 sorts by relevance must equal count(*) over the same
 * FTS5 expression for every kind of query and date range, the page must
 * be the first hits of the whole relevance order, and the order must
 * follow custos_rank (more occurrences first; with OR, the rarer word
 * first).  The index was built from tokens made on the parse thread, and
 * FTS5 must find it equal to what unicode61 makes of the text.  The
 * corpus is 400 generated messages in a folder of EML files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"

#include "records/records_int.h"

#define NMSG 400

static char dir[64];
static cu_ws *ws;

static const char *const words[] = {
    "tariff",  "quota",   "lantern", "harbour", "granite", "meadow",
    "cobalt",  "thistle", "ember",   "orchard", "saffron", "willow",
    "quartz",  "fennel",  "juniper", "basalt",  "plan",    "expansion"};

/* A small deterministic generator, so that the corpus is the same on
 * every run. */
static uint32_t rnd(uint32_t *s) {
  *s = *s * 1103515245u + 12345u;
  return (*s >> 16) & 0x7fff;
}

static void write_corpus(const char *path) {
  uint32_t seed = 7;
  for (int i = 0; i < NMSG; i++) {
    char name[256];
    snprintf(name, sizeof name, "%.200s/m%04d.eml", path, i);
    FILE *f = fopen(name, "w");
    assert_non_null(f);
    fprintf(f,
            "From: sender%d@ministry.example\r\n"
            "To: desk%d@provider.example\r\n"
            "Subject: note %d %s\r\n"
            "Date: Mon, %d Mar 2025 10:%02d:00 +0000\r\n"
            "Message-ID: <m%d@ministry.example>\r\n\r\n",
            i % 7, i % 5, i, words[rnd(&seed) % 18], 1 + i % 28, i % 60, i);
    int n = 5 + (int)(rnd(&seed) % 60);
    for (int k = 0; k < n; k++)
      fprintf(f, "%s%s", words[rnd(&seed) % 18], k % 9 == 8 ? "\r\n" : " ");
    fputs("\r\n", f);
    fclose(f);
  }
}

static int setup(void **state) {
  (void)state;
  if (fixture_ws_open("search", dir, sizeof dir, &ws) != 0)
    return -1;
  char mail[128];
  snprintf(mail, sizeof mail, "%s/mail", dir);
  char cmd[256];
  snprintf(cmd, sizeof cmd, "mkdir -p '%s'", mail);
  if (system(cmd) != 0)
    return -1;
  write_corpus(mail);
  const char *paths[] = {mail};
  cu_rec_opts o;
  memset(&o, 0, sizeof o);
  o.custodian = "sales";
  o.cls = CU_CLASS_MAIL;
  cu_rec_stats st;
  memset(&st, 0, sizeof st);
  if (cu_rec_ingest_mail(ws, paths, 1, &o, &st, NULL) != CUSTOS_OK)
    return -1;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  return fixture_ws_close(dir, ws);
}

/* count(*) of the FTS5 expression the search runs, in [lo, hi] seconds
 * (the FTS rowid holds the date in its high bits). */
static int64_t sql_count(const char *text, int64_t lo, int64_t hi) {
  cu_buf fts;
  cu_buf_init(&fts, 1 << 16);
  assert_int_equal(cu_rec_query_fts(text, &fts, NULL), CUSTOS_OK);
  sqlite3_stmt *st = NULL;
  assert_int_equal(cu_ws_prepare(ws,
                                 "SELECT count(*) FROM records_fts WHERE"
                                 " records_fts MATCH ?1 AND rowid BETWEEN"
                                 " ?2 AND ?3",
                                 &st, NULL),
                   CUSTOS_OK);
  sqlite3_bind_text(st, 1, fts.data, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, lo << 24);
  sqlite3_bind_int64(st, 3, ((hi + 1) << 24) - 1);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  int64_t n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  cu_buf_free(&fts);
  return n;
}

static void test_count_equals_count_star(void **state) {
  (void)state;
  static const char *const queries[] = {
      "tariff",
      "\"expansion plan\"",
      "NEAR(quota lantern, 3)",
      "qu*",
      "tariff OR cobalt",
      "tariff NOT cobalt",
      "(ember OR willow) AND \"plan expansion\"",
      "subject:saffron",
      "from:sender3",
      "nowordlikethis",
  };
  static const int64_t ranges[][2] = {
      {0, ((int64_t)1 << 38) - 2},
      {1741046400, 1741910400}, /* 2025-03-04 .. 2025-03-14 */
  };
  int nonzero = 0;
  for (size_t i = 0; i < sizeof queries / sizeof *queries; i++) {
    for (size_t k = 0; k < sizeof ranges / sizeof *ranges; k++) {
      cu_rec_query q;
      memset(&q, 0, sizeof q);
      q.text = queries[i];
      q.has_attachment = -1;
      q.limit = 5;
      if (k == 1) {
        q.after = ranges[k][0];
        q.before = ranges[k][1];
      }
      cu_rec_result r;
      assert_int_equal(cu_rec_search(ws, &q, &r, NULL), CUSTOS_OK);
      int64_t want = sql_count(queries[i], ranges[k][0], ranges[k][1]);
      if (r.total != want)
        fail_msg("%s (range %zu): search counted %lld, count(*) %lld",
                 queries[i], k, (long long)r.total, (long long)want);
      assert_true(r.nhits <= 5);
      assert_int_equal((int64_t)r.nhits, want < 5 ? want : 5);
      nonzero += want > 0;
      cu_rec_result_free(&r);
      /* the count of a date-sorted search (counted by count(*)) agrees */
      q.sort = CU_REC_SORT_DATE;
      assert_int_equal(cu_rec_search(ws, &q, &r, NULL), CUSTOS_OK);
      assert_int_equal(r.total, want);
      cu_rec_result_free(&r);
    }
  }
  assert_true(nonzero >= 12); /* the corpus really has hits */
}

/* Pages of 7 put together are the whole relevance order, ranks never
 * decreasing in relevance, with the same total on every page. */
static void test_pages_follow_rank(void **state) {
  (void)state;
  cu_rec_query q;
  memset(&q, 0, sizeof q);
  q.text = "tariff OR fennel";
  q.has_attachment = -1;
  cu_rec_result all;
  assert_int_equal(cu_rec_search(ws, &q, &all, NULL), CUSTOS_OK);
  assert_true(all.total > 20);
  assert_int_equal((int64_t)all.nhits, all.total);
  q.limit = 7;
  size_t seen = 0;
  for (q.offset = 0; q.offset < all.total; q.offset += 7) {
    cu_rec_result r;
    assert_int_equal(cu_rec_search(ws, &q, &r, NULL), CUSTOS_OK);
    assert_int_equal(r.total, all.total);
    for (size_t i = 0; i < r.nhits; i++)
      assert_int_equal(r.hits[i].id, all.hits[seen + i].id);
    seen += r.nhits;
    cu_rec_result_free(&r);
  }
  assert_int_equal((int64_t)seen, all.total);
  cu_rec_result_free(&all);
}

/* Occurrences of a word in one record: the rank's only input for a
 * one-word query. */
static int64_t occurrences(int64_t id, const char *word) {
  sqlite3_stmt *st = NULL;
  assert_int_equal(cu_ws_prepare(ws,
                                 "SELECT t.subject || ' ' || t.body FROM"
                                 " records r JOIN record_text t ON t.rowid"
                                 " = r.fts_rowid WHERE r.id = ?1",
                                 &st, NULL),
                   CUSTOS_OK);
  sqlite3_bind_int64(st, 1, id);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  const char *s = (const char *)sqlite3_column_text(st, 0);
  int64_t n = 0;
  size_t wn = strlen(word);
  for (const char *p = strstr(s, word); p; p = strstr(p + wn, word))
    n++;
  sqlite3_finalize(st);
  return n;
}

static void test_rank_order(void **state) {
  (void)state;
  cu_rec_query q;
  memset(&q, 0, sizeof q);
  q.text = "saffron";
  q.has_attachment = -1;
  cu_rec_result r;
  assert_int_equal(cu_rec_search(ws, &q, &r, NULL), CUSTOS_OK);
  assert_true(r.nhits > 10);
  /* more occurrences first (ties keep FTS5's order, the same on every
   * page, as test_pages_follow_rank shows) */
  int64_t most = 0, least = INT64_MAX;
  for (size_t i = 0; i < r.nhits; i++) {
    int64_t n = occurrences(r.hits[i].id, "saffron");
    if (i > 0)
      assert_true(n <= occurrences(r.hits[i - 1].id, "saffron"));
    most = n > most ? n : most;
    least = n < least ? n : least;
  }
  assert_true(most > least); /* the order was put to the test */
  cu_rec_result_free(&r);
  /* with OR the rarer word counts more: "7" is in one subject only
   * ("note 7"), "plan" in most records, many times in some */
  q.text = "7 OR plan";
  assert_int_equal(cu_rec_search(ws, &q, &r, NULL), CUSTOS_OK);
  assert_true(r.total > 100);
  assert_true(r.nhits > 0);
  assert_true(strncmp(r.hits[0].subject, "note 7 ", 7) == 0);
  cu_rec_result_free(&r);
}

/* The ingest (on this thread) replayed every column of every record,
 * and FTS5 re-tokenises record_text and finds the same index. */
static void test_index_is_unicode61(void **state) {
  (void)state;
  assert_true(cu_rec_tok_count().replayed >= NMSG * CU_REC_TOK_COLS);
  assert_int_equal(cu_rec_tok_count().delegated, 0);
  custos_diag d;
  custos_diag_clear(&d);
  if (cu_ws_exec(ws,
                 "INSERT INTO records_fts(records_fts, rank)"
                 " VALUES('integrity-check', 1)",
                 &d) != CUSTOS_OK)
    fail_msg("integrity-check: %s", d.msg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_index_is_unicode61),
      cmocka_unit_test(test_count_equals_count_star),
      cmocka_unit_test(test_pages_follow_rank),
      cmocka_unit_test(test_rank_order),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
