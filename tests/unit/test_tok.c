/* Unit tests of the tokens made on the parse thread (lib/records/tok.c):
 * an index built by replaying them is the index unicode61 builds.  A
 * corpus with diacritics, CJK, mixed scripts and very long tokens is
 * ingested (replay), every search and the whole inverted index are taken
 * down, the index is rebuilt by FTS5 itself (no replay), and everything
 * must be the same.  The files are not in date order, so the writer
 * indexes some records later, in row order (writer.c), from their stored
 * text.  Text that does not match the pending tokens, a table declared
 * with other tokenizer arguments, and a column whose tokens ran out of
 * memory get the real unicode61. */
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

static char dir[64];
static cu_ws *ws;

/* Bodies in UTF-8 unless the message says otherwise. */
static const char *const bodies[] = {
    "Café crème brûlée à la façon de Zoë, naïve coöperation. Ångström, "
    "Øresund, Łódź, Dvořák and Škoda met in São Paulo.",
    "Letters with two marks: Ḗ ḗ ǅ ǆ ᾯ ῼ ṍ Ṏ; combining: cafe\xcc\x81 "
    "e\xcc\x81te\xcc\x81 and precomposed: été.",
    "東京都の情報公開請求について 北京市 서울특별시 한국어 テスト カタカナ"
    " ひらがな 中文abc混合def 123東京",
    "Ὀδυσσεύς ΣΊΣΥΦΟΣ σίσυφος Министерство обороны МОСКВА москва "
    "وزارة الدفاع משרד הביטחון กระทรวงกลาโหม",
    "İSTANBUL ıstanbul Istanbul Straße STRASSE ẞ ß ﬁnance ＡＢＣ１２３ "
    "data😀centre 📧 ™ ½ x² ① a\xe2\x80\x8d" "b co\xc2\xad" "operate "
    "a\xc2\xa0" "b",
};

static void write_file(const char *path, const char *text, size_t n) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(text, 1, n, f), n);
  fclose(f);
}

static void write_msg(const char *mail, int i, const char *subject,
                      const char *ctype, const char *body) {
  char path[256], head[1024];
  snprintf(path, sizeof path, "%.200s/m%03d.eml", mail, i);
  int k = snprintf(head, sizeof head,
                   "From: Zoë Dvořák <zoe%d@ministry.example>\r\n"
                   "To: Łukasz <desk%d@provider.example>, 東京 "
                   "<tokyo@provider.example>\r\n"
                   "Subject: %s\r\n"
                   "Date: Mon, %d Mar 2025 10:00:00 +0000\r\n"
                   "Message-ID: <t%d@ministry.example>\r\n"
                   "MIME-Version: 1.0\r\n"
                   "Content-Type: %s\r\n"
                   "Content-Transfer-Encoding: 8bit\r\n\r\n",
                   i, i, subject, 1 + (i * 11) % 28, i, ctype);
  assert_true(k > 0 && (size_t)k < sizeof head);
  cu_buf b;
  cu_buf_init(&b, 1 << 22);
  assert_int_equal(cu_buf_puts(&b, head), CUSTOS_OK);
  assert_int_equal(cu_buf_puts(&b, body), CUSTOS_OK);
  assert_int_equal(cu_buf_puts(&b, "\r\n"), CUSTOS_OK);
  write_file(path, b.data, b.len);
  cu_buf_free(&b);
}

static void write_corpus(const char *mail) {
  int i = 0;
  for (size_t k = 0; k < CU_ARRAY_LEN(bodies); k++)
    write_msg(mail, i++, k % 2 ? "Résumé über Straße" : "=?ISO-8859-1?Q?R=E9sum=E9_na=EFve?=",
              "text/plain; charset=utf-8", bodies[k]);
  /* windows-1252 and text that is not the UTF-8 it claims to be */
  write_msg(mail, i++, "cp1252", "text/plain; charset=windows-1252",
            "Caf\xe9 na\xefve \x93quoted\x94 \x80uro");
  write_msg(mail, i++, "broken", "text/plain; charset=utf-8",
            "bad \xc3( bytes \xff\xfe caf\xc3\xa9 \xe6\x9d");
  /* very long tokens: ASCII, accented, CJK, and one long enough to
   * make unicode61 grow its buffer many times */
  cu_buf b;
  cu_buf_init(&b, 1 << 22);
  for (int n = 0; n < 100000; n++)
    assert_int_equal(cu_buf_putc(&b, (char)('a' + n % 26)), CUSTOS_OK);
  assert_int_equal(cu_buf_puts(&b, " short "), CUSTOS_OK);
  for (int n = 0; n < 3000; n++)
    assert_int_equal(cu_buf_puts(&b, n % 2 ? "É" : "ë"), CUSTOS_OK);
  assert_int_equal(cu_buf_puts(&b, " "), CUSTOS_OK);
  for (int n = 0; n < 2000; n++)
    assert_int_equal(cu_buf_puts(&b, "情報"), CUSTOS_OK);
  assert_int_equal(cu_buf_puts(&b, " end"), CUSTOS_OK);
  write_msg(mail, i++, "long tokens", "text/plain; charset=utf-8", b.data);
  cu_buf_free(&b);
  /* text in an attachment: the attachments column */
  write_msg(mail, i++, "with attachment",
            "multipart/mixed; boundary=\"XX\"",
            "--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            "Siehe Anhang, Grüße\r\n"
            "--XX\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Disposition: attachment; filename=\"Prüfbericht.txt\"\r\n"
            "\r\nPrüfbericht Überwachung Ωmega 監査報告\r\n--XX--");
}

static int setup(void **state) {
  (void)state;
  if (fixture_ws_open("tok", dir, sizeof dir, &ws) != 0)
    return -1;
  char mail[128], cmd[256];
  snprintf(mail, sizeof mail, "%s/mail", dir);
  snprintf(cmd, sizeof cmd, "mkdir -p '%s'", mail);
  if (system(cmd) != 0)
    return -1;
  write_corpus(mail);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  return fixture_ws_close(dir, ws);
}

static void exec(const char *sql) {
  custos_diag d;
  custos_diag_clear(&d);
  if (cu_ws_exec(ws, sql, &d) != CUSTOS_OK)
    fail_msg("%s: %s", sql, d.msg);
}

/* Appends every row of sql (one parameter, may be NULL) to out, columns
 * separated by '|' and rows by '\n'. */
static void dump(const char *sql, const char *param, cu_buf *out) {
  sqlite3_stmt *st = NULL;
  assert_int_equal(cu_ws_prepare(ws, sql, &st, NULL), CUSTOS_OK);
  if (param)
    sqlite3_bind_text(st, 1, param, -1, SQLITE_STATIC);
  int step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    for (int c = 0; c < sqlite3_column_count(st); c++) {
      const char *v = (const char *)sqlite3_column_text(st, c);
      assert_int_equal(cu_buf_append(out, v ? v : "NULL",
                                     v ? (size_t)sqlite3_column_bytes(st, c)
                                       : 4),
                       CUSTOS_OK);
      assert_int_equal(cu_buf_putc(out, '|'), CUSTOS_OK);
    }
    assert_int_equal(cu_buf_putc(out, '\n'), CUSTOS_OK);
  }
  if (step != SQLITE_DONE)
    fail_msg("%s: %s", sql, sqlite3_errmsg(cu_ws_db(ws)));
  sqlite3_finalize(st);
}

static const char *const queries[] = {
    "cafe",
    "café",
    "CAFÉ crème",
    "\"creme brulee\"",
    "NEAR(dvorak skoda, 5)",
    "NEAR(zoe cooperation, 10)",
    "stras*",
    "ß",
    "東京都の情報公開請求について",
    "東京*",
    "서울특별시",
    "σίσυφος",
    "ΣΊΣΥΦΟΣ",
    "москва",
    "istanbul",
    "İSTANBUL",
    "ḗ",
    "e",
    "ete",
    "abcdefghij*",
    "short",
    "情報*",
    "prufbericht",
    "attachment:überwachung",
    "subject:resume",
    "from:dvorak",
    "to:łukasz",
    "quoted OR uro",
    "caf*",
    "nowordlikethis",
};

/* Everything a reviewer can see of the index: each search (total, ids,
 * snippets, digest), FTS5's own hits in order with highlights of every
 * column, and the full inverted index (term, record, column, offset). */
static void snapshot(cu_buf *out) {
  for (size_t i = 0; i < CU_ARRAY_LEN(queries); i++) {
    cu_rec_query q;
    memset(&q, 0, sizeof q);
    q.text = queries[i];
    q.has_attachment = -1;
    cu_rec_result r;
    custos_diag d;
    custos_diag_clear(&d);
    if (cu_rec_search(ws, &q, &r, &d) != CUSTOS_OK)
      fail_msg("%s: %s", queries[i], d.msg);
    assert_int_equal(cu_buf_printf(out, "%s: %lld %s\n", queries[i],
                                   (long long)r.total, r.digest),
                     CUSTOS_OK);
    for (size_t k = 0; k < r.nhits; k++)
      assert_int_equal(cu_buf_printf(out, "%lld %s\n",
                                     (long long)r.hits[k].id,
                                     r.hits[k].snippet ? r.hits[k].snippet
                                                       : "-"),
                       CUSTOS_OK);
    cu_rec_result_free(&r);
    cu_buf fts;
    cu_buf_init(&fts, 1 << 16);
    assert_int_equal(cu_rec_query_fts(queries[i], &fts, NULL), CUSTOS_OK);
    dump("SELECT rowid, custos_rank(records_fts, 1), bm25(records_fts),"
         " highlight(records_fts, 0, '[', ']'),"
         " highlight(records_fts, 1, '[', ']'),"
         " highlight(records_fts, 2, '[', ']'),"
         " substr(highlight(records_fts, 3, '[', ']'), 1, 2000),"
         " highlight(records_fts, 4, '[', ']'),"
         " snippet(records_fts, -1, '[', ']', '...', 12)"
         " FROM records_fts WHERE records_fts MATCH ?1 ORDER BY rank",
         fts.data, out);
    cu_buf_free(&fts);
  }
  dump("SELECT term, doc, col, offset FROM temp.tok_vocab"
       " ORDER BY term, doc, col, offset",
       NULL, out);
}

static bool has_term(const char *term) {
  cu_buf out;
  cu_buf_init(&out, 1 << 20);
  dump("SELECT DISTINCT term FROM temp.tok_vocab WHERE term = ?1", term,
       &out);
  bool yes = out.len > 0;
  cu_buf_free(&out);
  return yes;
}

/* Ingests the corpus, with at most cap bytes of deferred tokens (0: the
 * default), and checks that every column was replayed and some records
 * deferred, that FTS5's integrity check passes and that every search and
 * the whole index equal an index FTS5 builds itself. */
static void replay_equals_unicode61(uint64_t cap) {
  char mail[128];
  snprintf(mail, sizeof mail, "%s/mail", dir);
  const char *paths[] = {mail};
  cu_rec_opts o;
  memset(&o, 0, sizeof o);
  o.custodian = "legal";
  o.cls = CU_CLASS_MAIL;
  o.defer_bytes = cap;
  cu_rec_stats st;
  memset(&st, 0, sizeof st);
  cu_rec_tok_counts before = cu_rec_tok_count();
  uint64_t deferred = cu_rec_writer_deferred();
  custos_diag d;
  custos_diag_clear(&d);
  if (cu_rec_ingest_mail(ws, paths, 1, &o, &st, &d) != CUSTOS_OK)
    fail_msg("ingest: %s", d.msg);
  assert_int_equal(st.accepted, (int64_t)CU_ARRAY_LEN(bodies) + 4);
  /* the ingest ran on this thread and replayed every column */
  cu_rec_tok_counts after = cu_rec_tok_count();
  assert_int_equal(after.replayed - before.replayed,
                   (uint64_t)st.accepted * CU_REC_TOK_COLS);
  assert_int_equal(after.delegated, before.delegated);
  /* records out of date order were indexed at the commit, replayed too */
  assert_true(cu_rec_writer_deferred() - deferred >= 3);

  /* FTS5 re-tokenises record_text and compares it with the index */
  exec("INSERT INTO records_fts(records_fts, rank)"
       " VALUES('integrity-check', 1)");
  exec("CREATE VIRTUAL TABLE temp.tok_vocab"
       " USING fts5vocab(main, records_fts, instance)");
  assert_true(has_term("cafe"));
  assert_true(has_term("東京都の情報公開請求について"));
  assert_true(has_term("москва"));
  assert_true(has_term("prufbericht"));

  cu_buf replayed, rebuilt;
  cu_buf_init(&replayed, (size_t)64 << 20);
  cu_buf_init(&rebuilt, (size_t)64 << 20);
  snapshot(&replayed);
  /* the index again, all of it tokenised by unicode61 inside FTS5 */
  exec("INSERT INTO records_fts(records_fts) VALUES('rebuild')");
  assert_int_equal(cu_rec_tok_count().replayed, after.replayed);
  snapshot(&rebuilt);
  assert_true(replayed.len > 10000);
  if (replayed.len != rebuilt.len ||
      memcmp(replayed.data, rebuilt.data, replayed.len) != 0) {
    size_t k = 0;
    while (k < replayed.len && k < rebuilt.len &&
           replayed.data[k] == rebuilt.data[k])
      k++;
    fail_msg("replayed and rebuilt differ at byte %zu: ...%.200s", k,
             replayed.data + (k > 100 ? k - 100 : 0));
  }
  cu_buf_free(&replayed);
  cu_buf_free(&rebuilt);
  exec("DROP TABLE temp.tok_vocab");
}

static void test_replay_equals_unicode61(void **state) {
  (void)state;
  replay_equals_unicode61(0);
}

/* With a cap of one byte every deferred record is indexed at once, and
 * the index is still the same. */
static void test_deferred_over_cap(void **state) {
  (void)state;
  cu_ws *first = ws;
  char cap_dir[64], mail[128], cmd[256];
  assert_int_equal(fixture_ws_open("tok-cap", cap_dir, sizeof cap_dir, &ws),
                   0);
  snprintf(mail, sizeof mail, "%s/mail", dir);
  snprintf(cmd, sizeof cmd, "mkdir -p '%s/mail'", cap_dir);
  assert_int_equal(system(cmd), 0);
  snprintf(cmd, sizeof cmd, "cp '%s'/* '%s/mail/'", mail, cap_dir);
  assert_int_equal(system(cmd), 0);
  char *keep = strdup(dir);
  assert_non_null(keep);
  snprintf(dir, sizeof dir, "%s", cap_dir);
  replay_equals_unicode61(1);
  assert_int_equal(fixture_ws_close(cap_dir, ws), 0);
  snprintf(dir, sizeof dir, "%s", keep);
  free(keep);
  ws = first;
}

/* ---- mismatches ------------------------------------------------------- */

static void insert_text(int64_t rowid, const char *const col[5]) {
  for (int t = 0; t < 2; t++) {
    sqlite3_stmt *st = NULL;
    assert_int_equal(
        cu_ws_prepare(ws,
                      t == 0 ? "INSERT INTO record_text(rowid, subject,"
                               " sender, recipients, body, attachments)"
                               " VALUES(?1,?2,?3,?4,?5,?6)"
                             : "INSERT INTO records_fts(rowid, subject,"
                               " sender, recipients, body, attachments)"
                               " VALUES(?1,?2,?3,?4,?5,?6)",
                      &st, NULL),
        CUSTOS_OK);
    sqlite3_bind_int64(st, 1, rowid);
    for (int i = 0; i < 5; i++)
      sqlite3_bind_text(st, 2 + i, col[i], -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
  }
}

static int64_t count_match(const char *expr) {
  sqlite3_stmt *st = NULL;
  assert_int_equal(cu_ws_prepare(ws,
                                 "SELECT count(*) FROM records_fts WHERE"
                                 " records_fts MATCH ?1",
                                 &st, NULL),
                   CUSTOS_OK);
  sqlite3_bind_text(st, 1, expr, -1, SQLITE_STATIC);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  int64_t n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return n;
}

static void test_mismatch_falls_back(void **state) {
  (void)state;
  cu_rec_tok *tok = NULL;
  assert_int_equal(cu_rec_tok_open(cu_ws_db(ws), &tok, NULL), CUSTOS_OK);
  cu_rec_msg m;
  memset(&m, 0, sizeof m);
  m.subject = "pending subject ḗ";
  m.from = "pending sender";
  m.to = "pending recipients";
  cu_buf_init(&m.body, 1 << 20);
  cu_buf_init(&m.attach_text, 1 << 20);
  assert_int_equal(cu_buf_puts(&m.body, "alpha beta Ḗpsilon"), CUSTOS_OK);
  assert_int_equal(cu_buf_puts(&m.attach_text, "gamma"), CUSTOS_OK);
  cu_rec_toks *k = NULL;
  assert_int_equal(cu_rec_tok_msg(tok, &m, &k), CUSTOS_OK);
  assert_true(cu_rec_toks_size(k) > 0);

  assert_int_equal(cu_ws_begin(ws, NULL), CUSTOS_OK);
  /* other text, of other lengths and of the same length */
  cu_rec_tok_counts c0 = cu_rec_tok_count();
  cu_rec_tok_pending(k);
  const char *other[5] = {"other subject", "pending sendes",
                          "pending recipientz", "alpha beta Ḗpsilom",
                          "delta"};
  insert_text(((int64_t)1 << 40) + 1, other);
  cu_rec_tok_counts c1 = cu_rec_tok_count();
  assert_int_equal(c1.replayed, c0.replayed);
  assert_int_equal(c1.delegated - c0.delegated, 5);
  /* the same text, in other buffers than the ones tokenised */
  const char *same[5] = {"pending subject ḗ", "pending sender",
                         "pending recipients", "alpha beta Ḗpsilon",
                         "gamma"};
  insert_text(((int64_t)1 << 40) + 2, same);
  cu_rec_tok_counts c2 = cu_rec_tok_count();
  assert_int_equal(c2.replayed - c1.replayed, 5);
  assert_int_equal(c2.delegated, c1.delegated);
  cu_rec_tok_pending(NULL);
  insert_text(((int64_t)1 << 40) + 3, same);
  assert_int_equal(cu_rec_tok_count().replayed, c2.replayed);
  exec("INSERT INTO records_fts(records_fts, rank)"
       " VALUES('integrity-check', 1)");
  assert_int_equal(count_match("epsilom"), 1);
  assert_int_equal(count_match("epsilon"), 2);
  assert_int_equal(count_match("sendes"), 1);
  assert_int_equal(count_match("gamma"), 2);
  assert_int_equal(count_match("delta"), 1);

  /* A table declared with other arguments never gets the replay:
   * remove_diacritics 1 keeps a letter with two marks as it is. */
  exec("CREATE VIRTUAL TABLE temp.tok_other USING fts5(a, b, c, d, e,"
       " tokenize='unicode61')");
  exec("CREATE VIRTUAL TABLE temp.tok_other_v"
       " USING fts5vocab(temp, tok_other, row)");
  cu_rec_tok_pending(k);
  sqlite3_stmt *st = NULL;
  assert_int_equal(cu_ws_prepare(ws,
                                 "INSERT INTO temp.tok_other"
                                 " VALUES(?1,?2,?3,?4,?5)",
                                 &st, NULL),
                   CUSTOS_OK);
  for (int i = 0; i < 5; i++)
    sqlite3_bind_text(st, 1 + i, same[i], -1, SQLITE_STATIC);
  assert_int_equal(sqlite3_step(st), SQLITE_DONE);
  sqlite3_finalize(st);
  cu_rec_tok_pending(NULL);
  assert_int_equal(cu_rec_tok_count().replayed, c2.replayed);
  cu_buf out;
  cu_buf_init(&out, 1 << 16);
  dump("SELECT term FROM temp.tok_other_v WHERE term IN ('ḗ', 'e', 'ḗpsilon',"
       " 'epsilon') ORDER BY term",
       NULL, &out);
  assert_string_equal(out.data, "ḗ|\nḗpsilon|\n");
  cu_buf_free(&out);
  exec("DROP TABLE temp.tok_other_v");
  exec("DROP TABLE temp.tok_other");
  cu_ws_rollback(ws);

  cu_rec_toks_free(k);
  cu_rec_tok_close(tok);
  cu_buf_free(&m.body);
  cu_buf_free(&m.attach_text);
}

/* Out of memory while tokenising: no tokens at all, or a column without
 * them; either way the writer indexes what unicode61 makes. */
static void test_out_of_memory(void **state) {
  (void)state;
  cu_rec_tok *tok = NULL;
  assert_int_equal(cu_rec_tok_open(cu_ws_db(ws), &tok, NULL), CUSTOS_OK);
  cu_rec_msg m;
  memset(&m, 0, sizeof m);
  m.subject = "oom";
  m.from = "sender";
  m.to = "recipients";
  cu_buf_init(&m.body, 1 << 20);
  cu_buf_init(&m.attach_text, 1 << 20);
  /* one-letter words make more bytes of tokens than of text, so the
   * buffer grows while the body is tokenised */
  for (int i = 0; i < 3000; i++)
    assert_int_equal(cu_buf_puts(&m.body, i % 2 ? "x " : "é "), CUSTOS_OK);
  assert_int_equal(cu_buf_puts(&m.attach_text, "attached"), CUSTOS_OK);
  const char *text[5] = {m.subject, m.from, m.to, m.body.data,
                         m.attach_text.data};
  int failed = 0, partial = 0;
  for (long n = 0;; n++) {
    cu_rec_toks *k = NULL;
    cu_alloc_fail_after(n);
    custos_rc rc = cu_rec_tok_msg(tok, &m, &k);
    cu_alloc_fail_after(-1);
    if (rc != CUSTOS_OK) {
      assert_int_equal(rc, CUSTOS_ENOMEM);
      assert_null(k);
      failed++;
      continue;
    }
    assert_int_equal(cu_ws_begin(ws, NULL), CUSTOS_OK);
    cu_rec_tok_counts c0 = cu_rec_tok_count();
    cu_rec_tok_pending(k);
    insert_text(((int64_t)1 << 41) + n, text);
    cu_rec_tok_pending(NULL);
    cu_rec_tok_counts c1 = cu_rec_tok_count();
    exec("INSERT INTO records_fts(records_fts, rank)"
         " VALUES('integrity-check', 1)");
    cu_ws_rollback(ws);
    cu_rec_toks_free(k);
    uint64_t replayed = c1.replayed - c0.replayed;
    assert_int_equal(replayed + c1.delegated - c0.delegated, 5);
    if (replayed == 5)
      break;
    partial++;
  }
  assert_true(failed > 0);
  assert_true(partial > 0);
  cu_rec_tok_close(tok);
  cu_buf_free(&m.body);
  cu_buf_free(&m.attach_text);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_replay_equals_unicode61),
      cmocka_unit_test(test_deferred_over_cap),
      cmocka_unit_test(test_mismatch_falls_back),
      cmocka_unit_test(test_out_of_memory),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
