/* Unit tests of records: the mbox splitter (quoting, CRLF, preamble, the
 * cap), canonical content ids, message parsing (encoded words, charsets,
 * missing headers and boundaries, attachments), the query rewrite, and
 * ingest, threads and search through a temporary workspace on the small
 * files of tests/integration/data/mail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"

#include "records/records.h"

#define DATA CUSTOS_SOURCE_DIR "/tests/integration/data/mail"

static char dir[64];
static cu_ws *ws;

static int setup(void **state) {
  (void)state;
  if (fixture_ws_open("rec", dir, sizeof dir, &ws) != 0)
    return -1;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  return fixture_ws_close(dir, ws);
}

static char *slurp(const char *path, size_t *n) {
  char *data = NULL;
  assert_int_equal(cu_file_read(path, 1 << 20, &data, n, NULL), CUSTOS_OK);
  return data;
}

/* ---- mbox ------------------------------------------------------------- */

static void test_mbox_quoting(void **state) {
  (void)state;
  static const char mb[] =
      "preamble line\n"
      "\n"
      "From a@x Mon Mar  3 10:00:00 2025\n"
      "Subject: one\n"
      "\n"
      ">From the start\n"
      ">>From twice\n"
      "From not a separator (no blank line before)\n"
      "\n"
      "From b@x Mon Mar  3 10:00:00 2025\r\n"
      "Subject: two\r\n"
      "\r\n"
      "body\r\n"
      "\r\n";
  cu_mbox *m = NULL;
  assert_int_equal(cu_mbox_open_mem("t", mb, sizeof mb - 1, 0, &m, NULL),
                   CUSTOS_OK);
  cu_mbox_msg msg;
  bool eof = false;
  assert_int_equal(cu_mbox_next(m, &msg, &eof, NULL), CUSTOS_OK);
  assert_false(eof);
  assert_int_equal(msg.offset, 0); /* text before the first From line */
  assert_int_equal(msg.len, strlen("preamble line\n"));
  assert_int_equal(cu_mbox_next(m, &msg, &eof, NULL), CUSTOS_OK);
  const char *want = "Subject: one\n\nFrom the start\n>From twice\n"
                     "From not a separator (no blank line before)\n";
  assert_int_equal(msg.len, strlen(want));
  assert_memory_equal(msg.data, want, msg.len);
  assert_int_equal(msg.offset, 15);
  uint8_t dg[CU_SHA256_LEN];
  char hex[65];
  cu_sha256(want, strlen(want), dg);
  cu_hex_encode(dg, CU_SHA256_LEN, hex);
  assert_string_equal(msg.sha256, hex); /* custody covers un-quoted bytes */
  uint64_t second = msg.offset + msg.length;
  assert_int_equal(cu_mbox_tell(m), second);
  assert_int_equal(cu_mbox_next(m, &msg, &eof, NULL), CUSTOS_OK);
  assert_int_equal(msg.offset, second);
  assert_memory_equal(msg.data, "Subject: two\r\n\r\nbody\r\n", msg.len);
  assert_int_equal(cu_mbox_next(m, &msg, &eof, NULL), CUSTOS_OK);
  assert_true(eof);
  cu_mbox_close(m);
}

static void test_mbox_cap(void **state) {
  (void)state;
  /* a message larger than the cap: first bytes kept, hash of all */
  char big[4096];
  size_t k = (size_t)snprintf(big, sizeof big, "From a@x\nSubject: big\n\n");
  size_t start = k;
  while (k < sizeof big - 2) {
    big[k] = (k % 60) ? 'x' : '\n';
    k++;
  }
  big[k++] = '\n';
  cu_mbox *m = NULL;
  assert_int_equal(cu_mbox_open_mem("t", big, k, 100, &m, NULL), CUSTOS_OK);
  cu_mbox_msg msg;
  bool eof;
  assert_int_equal(cu_mbox_next(m, &msg, &eof, NULL), CUSTOS_OK);
  assert_true(msg.truncated);
  assert_int_equal(msg.len, 100);
  assert_int_equal(msg.total, k - 9); /* From line out */
  uint8_t dg[CU_SHA256_LEN];
  char hex[65];
  cu_sha256(big + 9, k - 9, dg);
  cu_hex_encode(dg, CU_SHA256_LEN, hex);
  assert_string_equal(msg.sha256, hex);
  (void)start;
  cu_mbox_close(m);
}

static void test_mbox_file_resume(void **state) {
  (void)state;
  cu_mbox *m = NULL;
  assert_int_equal(cu_mbox_open(DATA "/quoting.mbox", 0, 0, &m, NULL),
                   CUSTOS_OK);
  cu_mbox_msg msg;
  bool eof;
  assert_int_equal(cu_mbox_next(m, &msg, &eof, NULL), CUSTOS_OK);
  uint64_t at = cu_mbox_tell(m);
  char sha1[65];
  assert_int_equal(cu_mbox_next(m, &msg, &eof, NULL), CUSTOS_OK);
  memcpy(sha1, msg.sha256, 65);
  cu_mbox_close(m);
  /* reopening at the position reached gives the same next message */
  assert_int_equal(cu_mbox_open(DATA "/quoting.mbox", at, 0, &m, NULL),
                   CUSTOS_OK);
  assert_int_equal(cu_mbox_next(m, &msg, &eof, NULL), CUSTOS_OK);
  assert_string_equal(msg.sha256, sha1);
  assert_int_equal(msg.offset, at);
  cu_mbox_close(m);
}

/* ---- messages --------------------------------------------------------- */

static void parse_file(const char *name, cu_rec_msg *m) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", DATA, name);
  size_t n = 0;
  char *data = slurp(path, &n);
  assert_int_equal(cu_rec_msg_parse(data, n, false, n, m, NULL), CUSTOS_OK);
  cu_free(data);
}

static void test_duplicate_header_order(void **state) {
  (void)state;
  cu_rec_msg a, b;
  parse_file("dup/a.eml", &a);
  parse_file("dup/b.eml", &b);
  assert_string_equal(a.content_id, b.content_id);
  assert_string_equal(b.subject, "Disable list");
  cu_rec_msg_free(&a);
  cu_rec_msg_free(&b);
}

static void test_same_message_id(void **state) {
  (void)state;
  cu_rec_msg a, b;
  parse_file("same-id/one.eml", &a);
  parse_file("same-id/two.eml", &b);
  assert_string_equal(a.message_id, b.message_id);
  assert_string_not_equal(a.content_id, b.content_id);
  cu_rec_msg_free(&a);
  cu_rec_msg_free(&b);
}

static void test_encoded_word(void **state) {
  (void)state;
  cu_rec_msg m;
  parse_file("encoded-word.eml", &m);
  assert_non_null(strstr(m.subject, "storage révision"));
  assert_non_null(strstr(m.from, "Renée Dallé"));
  assert_non_null(strstr(m.body.data, "révision du stockage à Lowmark"));
  assert_int_equal(m.flags & CU_REC_CHARSET, 0);
  cu_rec_msg_free(&m);
}

static void test_wrong_charset(void **state) {
  (void)state;
  cu_rec_msg m;
  parse_file("wrong-charset.eml", &m);
  assert_true(m.flags & CU_REC_CHARSET);
  assert_non_null(strstr(m.body.data, "Gespräch über"));
  assert_int_equal(cu_utf8_invalid_at(m.body.data, m.body.len), m.body.len);
  cu_rec_msg_free(&m);
  /* declared Latin-1 but really UTF-8 */
  static const char s[] = "Content-Type: text/plain; charset=iso-8859-1\n"
                          "Subject: x\n\nGr\xc3\xbc\xc3\x9f" "e\n";
  assert_int_equal(cu_rec_msg_parse(s, sizeof s - 1, false, sizeof s - 1, &m,
                                    NULL),
                   CUSTOS_OK);
  assert_non_null(strstr(m.body.data, "Grüße"));
  assert_true(m.flags & CU_REC_CHARSET);
  cu_rec_msg_free(&m);
  /* an unknown charset name */
  static const char u[] = "Content-Type: text/plain; charset=x-martian\n"
                          "Subject: x\n\nplain \xe9t\xe9\n";
  assert_int_equal(cu_rec_msg_parse(u, sizeof u - 1, false, sizeof u - 1, &m,
                                    NULL),
                   CUSTOS_OK);
  assert_non_null(strstr(m.body.data, "été"));
  cu_rec_msg_free(&m);
}

/* ISO-2022-JP is 7-bit but not ASCII: it is converted, not taken as it
 * is.  Conversions reuse iconv descriptors: one left in the middle of a
 * stateful charset (ISO-2022-JP switched to JIS X 0208, then cut) or by
 * an invalid sequence must convert the next text of that charset as if
 * it were fresh, and a failed conversion leaves no partial text. */
static void test_charset_reuse(void **state) {
  (void)state;
  static const char cut[] = "a\x1b$B$"; /* JIS mode, then half a pair */
  static const char ok[] = "\x1b$B$\x22$$\x1b(Bxyz"; /* "あい" + "xyz" */
  for (int round = 0; round < 3; round++) {
    cu_buf b;
    cu_buf_init(&b, 1 << 16);
    bool fb = false;
    assert_int_equal(cu_rec_to_utf8(cut, sizeof cut - 1, "iso-2022-jp", &b,
                                    &fb),
                     CUSTOS_OK);
    assert_true(fb); /* cut inside a character: not that charset */
    assert_int_equal(cu_utf8_invalid_at(b.data, b.len), b.len);
    cu_buf_reset(&b);
    fb = false;
    assert_int_equal(cu_rec_to_utf8(ok, sizeof ok - 1, "iso-2022-jp", &b,
                                    &fb),
                     CUSTOS_OK);
    assert_false(fb);
    assert_string_equal(b.data, "\xe3\x81\x82\xe3\x81\x84xyz");
    cu_buf_free(&b);
  }
}

static void test_no_headers(void **state) {
  (void)state;
  cu_rec_msg m;
  parse_file("no-headers.eml", &m);
  assert_true(m.flags & CU_REC_NO_HEADERS);
  assert_string_equal(m.subject, "");
  assert_non_null(strstr(m.body.data, "Velmar translation pipeline"));
  cu_rec_msg_free(&m);
}

static void test_missing_boundary(void **state) {
  (void)state;
  cu_rec_msg m;
  parse_file("missing-boundary.eml", &m);
  assert_true(m.flags & CU_REC_RAW);
  assert_non_null(strstr(m.body.data, "speech-to-text quota"));
  assert_string_equal(m.subject, "Contract annex for the ministry");
  cu_rec_msg_free(&m);
}

static void test_attachments(void **state) {
  (void)state;
  cu_rec_msg m;
  parse_file("attachment.eml", &m);
  assert_int_equal(m.natt, 2);
  assert_string_equal(m.att[0].name, "usage.csv");
  assert_string_equal(m.att[0].type, "text/csv");
  assert_string_equal(m.att[1].name, "blob.bin");
  assert_int_equal(m.att[1].size, 8);
  uint8_t bytes[8] = {0, 1, 2, 3, 4, 5, 6, 7}, dg[CU_SHA256_LEN];
  char hex[65];
  cu_sha256(bytes, 8, dg);
  cu_hex_encode(dg, CU_SHA256_LEN, hex);
  assert_string_equal(m.att[1].sha256, hex);
  assert_non_null(strstr(m.attach_text.data, "Speech to Text,lowmark-1"));
  assert_true(m.flags & CU_REC_HAS_ATTACH);
  cu_rec_msg_free(&m);
}

/* Plain single-part messages are read without GMime's object tree
 * (msg.c, parse_plain); each of these must give the record GMime gives,
 * field for field.  Some are plain, some only look plain and must go to
 * GMime, some hit GMime's own ways (an encoded word inside an encoded
 * word is decoded once; a From that is not UTF-8 has no address; an
 * address list that breaks off keeps the addresses before the break; a
 * name folded over two lines keeps the line break). */
static void same_record(const cu_rec_msg *a, const cu_rec_msg *b) {
  assert_string_equal(a->content_id, b->content_id);
  assert_string_equal(a->message_id, b->message_id);
  assert_string_equal(a->in_reply_to, b->in_reply_to);
  assert_string_equal(a->refs, b->refs);
  assert_string_equal(a->subject, b->subject);
  assert_string_equal(a->from, b->from);
  assert_string_equal(a->to, b->to);
  assert_int_equal(a->date, b->date);
  assert_int_equal(a->flags, b->flags);
  assert_int_equal(a->body.len, b->body.len);
  assert_memory_equal(a->body.data, b->body.data, a->body.len);
  assert_int_equal(a->attach_text.len, b->attach_text.len);
  assert_memory_equal(a->attach_text.data, b->attach_text.data,
                      a->attach_text.len);
  assert_int_equal(a->natt, b->natt);
}

static void test_plain_fast(void **state) {
  (void)state;
  static const char *const msgs[] = {
      "From: =?utf-8?q?J=C3=BCrgen?= <j@x.example>, \"Doe, J\" <d@x>\n"
      "To: a@x.example,\n  b@x.example\nCc: G: c@x, d@x;\n"
      "Subject: =?iso-8859-1?q?caf=E9?= and  more\n\tfolded\n"
      "Date: Tue, 02 Jan 2024 10:00:00 +0100\nMessage-ID: <abc@x>\n"
      "In-Reply-To: <p1@x> <p2@x>\nReferences: <r1@x>\n <r2@x> junk\n"
      "\nhello world\n",
      "Subject: crlf\r\nFrom: a@b\r\n\r\nline one \r\nline two\r\n",
      "From someone Tue Jan  2 10:00:00 2024\nSubject: postmark\n\nbody",
      "Subject: qp\nContent-Type: text/plain; charset=utf-8\n"
      "Content-Transfer-Encoding: quoted-printable\n\n"
      "K=C3=A4se und =\nmehr=3D=\n=ZZ bad =4\n",
      "Subject: b64\nContent-Type: text/plain; charset=windows-1252\n"
      "Content-Transfer-Encoding:  BASE64 \n\nR3L8337lIIAgZXVybwo=\n!!x\n",
      "Subject: html\nContent-Type: TEXT/HTML;\n charset=\"us-ascii\"\n"
      "Content-Transfer-Encoding: quoted-printable\n\n<p>a=3Db</p>=\n<br>c",
      "Subject: 8bit\n\nK\xc3\xa4se \xe4 \x00 nul\n",
      "Subject: =?utf-8?q?=3D=3Futf-8=3Fq=3Fx=C3=A4=3F=3D?= tail\n"
      "From: =?utf-8?q?=3D=3Futf-8=3Fq=3Fx=3F=3D?= <a@b>\n\nbody\n",
      "From: Ilse <ilse\xbf\xbf.m@x.example>\nTo: \xc3\x96z <o@x>\n"
      "Subject: Gr\xc3\xbc\xc3\x9f" "e \xe4\n\nbody\n",
      "From:\nTo:\nSubject:\nDate:\nMessage-ID:\nReferences:\n\nbody\n",
      "Subject: a\n \nX: y\n\nbody\n",
      "Subject: a\nSubject: b\n\nbody\n",
      "Subject : a\n\nbody\n",
      "Date: =?utf-8?q?Tue=2C_02_Jan_2024?= 10:00:00 +0000\n\nbody\n",
      "Content-Type: text/csv\n\na,b\n",
      "Content-Disposition: attachment; filename=a.txt\n\nbody\n",
      "Content-Transfer-Encoding: x-uuencode\n\nbegin 644 a\n#86)C\n`\nend\n",
      "Subject: no end of headers\n",
      "From: \"quoted  name\" <a@b> (unclosed comment\n\nbody\n",
      "From: Ilse\r\n Marant <a@b>, \"Q\r\n  N\" <c@d>\r\nTo: x@y,\r\n\tz@w\r\n"
      "\r\nbody\r\n",
  };
  for (size_t i = 0; i < CU_ARRAY_LEN(msgs); i++) {
    /* the NUL of the 7th message is part of it */
    size_t n = i == 6 ? 29 : strlen(msgs[i]);
    cu_rec_msg a, b;
    assert_int_equal(cu_rec_msg_parse(msgs[i], n, false, n, &a, NULL),
                     CUSTOS_OK);
    bool was = cu_rec_msg_fast(false);
    assert_int_equal(cu_rec_msg_parse(msgs[i], n, false, n, &b, NULL),
                     CUSTOS_OK);
    cu_rec_msg_fast(was);
    same_record(&a, &b);
    if (i == 7) {
      assert_string_equal(a.subject, "=?utf-8?q?x\xc3\xa4?= tail");
      assert_string_equal(a.from, "=?utf-8?q?x?= <a@b>");
    }
    if (i == 8)
      assert_string_equal(a.from, "");
    if (i == 20) /* the address before the error is kept */
      assert_string_equal(a.from, "quoted  name <a@b>");
    if (i == 21) /* a folded name keeps its line break */
      assert_non_null(strstr(a.from, "Ilse\r\n Marant <a@b>"));
    cu_rec_msg_free(&a);
    cu_rec_msg_free(&b);
  }
}

/* Parsed Content-Type and address values are kept for the next message
 * with the same value (8 and 16 of them): messages that alternate
 * between more values than are kept, and values that differ only in a
 * parameter or one character, must each get their own. */
static void test_values_kept(void **state) {
  (void)state;
  static const char *const types[] = {
      "text/plain; charset=iso-8859-1", "text/plain; charset=utf-8",
      "text/plain; charset=windows-1252", "text/html; charset=iso-8859-1",
      "text/plain; charset=iso-8859-15", "text/plain; charset=koi8-r",
      "text/plain; charset=iso-8859-2", "text/plain; charset=iso-8859-5",
      "text/html; charset=utf-8", "text/plain; charset=\"ISO-8859-1\"",
      "text/plain; charset=x-unknown", "text/plain"};
  for (int round = 0; round < 3; round++)
    for (size_t i = 0; i < 2 * CU_ARRAY_LEN(types); i++) {
      char msg[256];
      int n = snprintf(msg, sizeof msg,
                       "Subject: kept %zu\nFrom: N%zu <u%zu@x>\n"
                       "To: a@x, N <b%zu@x>\nContent-Type: %s\n\n"
                       "<p>caf\xe9 \xa4 \xc3\xa9</p>\n",
                       i, i % 3, i, i, types[i % CU_ARRAY_LEN(types)]);
      cu_rec_msg a, b;
      assert_int_equal(
          cu_rec_msg_parse(msg, (size_t)n, false, (size_t)n, &a, NULL),
          CUSTOS_OK);
      bool was = cu_rec_msg_fast(false);
      assert_int_equal(
          cu_rec_msg_parse(msg, (size_t)n, false, (size_t)n, &b, NULL),
          CUSTOS_OK);
      cu_rec_msg_fast(was);
      same_record(&a, &b);
      if (i == 5) /* KOI8-R: 0xE9 is a Cyrillic letter */
        assert_non_null(strstr(a.body.data, "caf\xd0\x98"));
      char want[64];
      snprintf(want, sizeof want, "N%zu <u%zu@x>", i % 3, i);
      assert_string_equal(a.from, want);
      cu_rec_msg_free(&a);
      cu_rec_msg_free(&b);
    }
}

static void test_html_text(void **state) {
  (void)state;
  cu_buf b;
  cu_buf_init(&b, 1024);
  static const char h[] = "<p>A &amp; B</p><script>x<y</script>caf&#233;"
                          "&#x20AC;<br>end";
  assert_int_equal(cu_rec_html_text(h, sizeof h - 1, &b), CUSTOS_OK);
  assert_non_null(strstr(b.data, "A & B"));
  assert_null(strstr(b.data, "x<y"));
  assert_non_null(strstr(b.data, "café€"));
  cu_buf_free(&b);
}

static void test_query_rewrite(void **state) {
  (void)state;
  static const struct {
    const char *in, *out;
  } cases[] = {
      {"storage", "storage"},
      {"speech-to-text", "\"speech-to-text\""},
      {"from:ilse invoice", "sender : ilse invoice"},
      {"subject:\"credit note\"", "subject : \"credit note\""},
      {"NEAR(signals storage, 5)", "NEAR(signals storage, 5)"},
      {"transl* OR lowm*", "transl* OR lowm*"},
      {"a AND NOT (b OR c)", "a AND NOT (b OR c)"},
      {"ilse@nimbus.example", "\"ilse@nimbus.example\""},
  };
  for (size_t i = 0; i < CU_ARRAY_LEN(cases); i++) {
    cu_buf b;
    cu_buf_init(&b, 4096);
    assert_int_equal(cu_rec_query_fts(cases[i].in, &b, NULL), CUSTOS_OK);
    assert_string_equal(b.data, cases[i].out);
    cu_buf_free(&b);
  }
  cu_buf b;
  cu_buf_init(&b, 4096);
  custos_diag d;
  custos_diag_clear(&d);
  assert_int_equal(cu_rec_query_fts("\"open", &b, &d), CUSTOS_EPARSE);
  cu_buf_free(&b);
  cu_buf_init(&b, 4096);
  assert_int_equal(cu_rec_query_fts("(a OR b", &b, &d), CUSTOS_EPARSE);
  cu_buf_free(&b);
}

/* ---- through a workspace ---------------------------------------------- */

static void ingest_data(void) {
  const char *paths[] = {DATA};
  cu_rec_opts o;
  memset(&o, 0, sizeof o);
  o.custodian = "account-team";
  o.cls = CU_CLASS_MAIL;
  o.batch_msgs = 3;
  cu_rec_stats st;
  memset(&st, 0, sizeof st);
  custos_diag d;
  custos_diag_clear(&d);
  assert_int_equal(cu_rec_ingest_mail(ws, paths, 1, &o, &st, &d), CUSTOS_OK);
  assert_int_equal(st.expected, 19);
  assert_int_equal(st.accepted, 19);
  assert_int_equal(st.failed, 0);
  assert_int_equal(st.duplicates, 1);
}

static void test_ingest_and_threads(void **state) {
  (void)state;
  ingest_data();
  /* a duplicate is never hidden: one record, two places */
  int64_t dup = fixture_int(ws, "SELECT id FROM records WHERE message_id = ?1",
                        "dup1@nimbus.example");
  char ids[32];
  snprintf(ids, sizeof ids, "%lld", (long long)dup);
  assert_int_equal(fixture_int(ws, "SELECT count(*) FROM record_places WHERE"
                           " record_id = CAST(?1 AS INTEGER)",
                           ids),
                   2);
  /* two different messages with one Message-ID: two records, two nodes */
  assert_int_equal(fixture_int(ws, "SELECT count(*) FROM records WHERE"
                           " message_id = ?1",
                           "shared@nimbus.example"),
                   2);
  assert_int_equal(fixture_int(ws, "SELECT count(DISTINCT thread_id) FROM records"
                           " WHERE message_id = ?1",
                           "shared@nimbus.example"),
                   2);
  /* a reference loop ends as one thread with one root */
  assert_int_equal(fixture_int(ws, "SELECT count(DISTINCT thread_id) FROM records"
                           " WHERE message_id IN ('loopa@nimbus.example',"
                           " 'loopb@nimbus.example') AND ?1 IS NULL",
                           NULL),
                   1);
  assert_int_equal(fixture_int(ws, "SELECT count(*) FROM thread_nodes WHERE"
                           " message_id IN ('loopa@nimbus.example',"
                           " 'loopb@nimbus.example') AND parent_id IS NULL"
                           " AND ?1 IS NULL",
                           NULL),
                   1);
  /* a missing parent: a ghost node with the reply under it */
  assert_int_equal(fixture_int(ws, "SELECT record_id IS NULL FROM thread_nodes"
                           " WHERE message_id = ?1",
                           "never-archived@nimbus.example"),
                   1);
  assert_int_equal(fixture_int(ws, "SELECT p.message_id = 'never-archived@nimbus."
                           "example' FROM thread_nodes n JOIN thread_nodes p"
                           " ON p.id = n.parent_id WHERE n.message_id = ?1",
                           "orphan@nimbus.example"),
                   1);
  /* a reply is in its parent's thread */
  assert_int_equal(fixture_int(ws, "SELECT count(DISTINCT thread_id) FROM records"
                           " WHERE message_id IN ('q1@nimbus.example',"
                           " 'q2@nimbus.example') AND ?1 IS NULL",
                           NULL),
                   1);
  /* ingesting again is a no-op */
  const char *paths[] = {DATA};
  cu_rec_opts o;
  memset(&o, 0, sizeof o);
  o.custodian = "account-team";
  o.cls = CU_CLASS_MAIL;
  cu_rec_stats st;
  memset(&st, 0, sizeof st);
  assert_int_equal(cu_rec_ingest_mail(ws, paths, 1, &o, &st, NULL),
                   CUSTOS_OK);
  assert_int_equal(st.skipped, 4);
  assert_int_equal(st.expected, 0);
}

/* Writes a message with the given Message-ID into folder/cur/name. */
static void put_mail(const char *folder, const char *name, const char *id) {
  char path[512];
  snprintf(path, sizeof path, "%s/cur", folder);
  assert_int_equal(cu_mkdirs(path, 0700, NULL), CUSTOS_OK);
  snprintf(path, sizeof path, "%s/cur/%s", folder, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fprintf(f,
          "From: a@nimbus.example\nTo: b@nimbus.example\n"
          "Subject: capacity %s\nMessage-ID: <%s>\n"
          "Date: Mon, 1 Jan 2024 10:00:00 +0000\n\nstorage in region %s\n",
          id, id, id);
  assert_int_equal(fclose(f), 0);
}

/* A copy of a maildir elsewhere is another source of duplicates: each is
 * one more place of the stored record, found by the insert that does
 * nothing on the content id, and a new message between duplicates takes
 * the next id.  The index passes FTS5's own check afterwards, and the
 * workspace has the merge policy of schema step 2.  It runs in a
 * workspace of its own, so that record ids start at 1 and the other
 * tests' counts are not changed. */
static void test_ingest_copy(void **state) {
  (void)state;
  cu_ws *shared = ws;
  char own[64], a[128], b[128];
  assert_int_equal(fixture_ws_open("rec-copy", own, sizeof own, &ws), 0);
  snprintf(a, sizeof a, "%s/a", own);
  snprintf(b, sizeof b, "%s/b", own);
  put_mail(a, "1", "m1@nimbus.example");
  put_mail(a, "2", "m2@nimbus.example");
  put_mail(a, "3", "m3@nimbus.example");
  put_mail(b, "1", "m1@nimbus.example");
  put_mail(b, "2", "new@nimbus.example");
  put_mail(b, "3", "m3@nimbus.example");
  const char *paths[] = {a, b};
  cu_rec_opts o;
  memset(&o, 0, sizeof o);
  o.custodian = "account-team";
  o.cls = CU_CLASS_MAIL;
  o.batch_msgs = 2;
  cu_rec_stats st;
  memset(&st, 0, sizeof st);
  assert_int_equal(cu_rec_ingest_mail(ws, paths, 2, &o, &st, NULL),
                   CUSTOS_OK);
  assert_int_equal(st.accepted, 6);
  assert_int_equal(st.duplicates, 2);
  assert_int_equal(fixture_int(ws, "SELECT count(*) FROM records WHERE ?1 IS NULL",
                           NULL),
                   4);
  assert_int_equal(fixture_int(ws, "SELECT id FROM records WHERE message_id = ?1",
                           "new@nimbus.example"),
                   4);
  assert_int_equal(fixture_int(ws, "SELECT count(*) FROM record_places p JOIN"
                           " records r ON r.id = p.record_id"
                           " WHERE r.message_id = ?1",
                           "m3@nimbus.example"),
                   2);
  assert_int_equal(fixture_int(ws, "SELECT count(*) FROM records_fts WHERE"
                           " records_fts MATCH ?1",
                           "storage"),
                   4);
  assert_int_equal(cu_ws_exec(ws,
                              "INSERT INTO records_fts(records_fts, rank)"
                              " VALUES('integrity-check', 1)",
                              NULL),
                   CUSTOS_OK);
  assert_int_equal(fixture_int(ws, "SELECT v FROM records_fts_config WHERE k = ?1",
                           "automerge"),
                   8);
  assert_int_equal(fixture_ws_close(own, ws), 0);
  ws = shared;
}

static void test_search(void **state) {
  (void)state;
  int64_t before = fixture_int(ws, "SELECT count(*) FROM events WHERE type = ?1",
                           "query.search");
  cu_rec_query q;
  memset(&q, 0, sizeof q);
  q.has_attachment = -1;
  q.text = "lowmark";
  q.case_id = "case-7";
  cu_rec_result r;
  assert_int_equal(cu_rec_search(ws, &q, &r, NULL), CUSTOS_OK);
  assert_int_equal(r.total, 7);
  assert_int_equal(r.nhits, 7);
  char digest[65];
  memcpy(digest, r.digest, sizeof digest);
  cu_rec_result_free(&r);
  /* the same hits in another order give the same digest */
  q.sort = CU_REC_SORT_DATE;
  assert_int_equal(cu_rec_search(ws, &q, &r, NULL), CUSTOS_OK);
  assert_string_equal(r.digest, digest);
  for (size_t i = 1; i < r.nhits; i++)
    assert_true(r.hits[i - 1].date >= r.hits[i].date);
  cu_rec_result_free(&r);
  /* pagination: exact total, a page at a time */
  q.limit = 3;
  q.offset = 6;
  assert_int_equal(cu_rec_search(ws, &q, &r, NULL), CUSTOS_OK);
  assert_int_equal(r.total, 7);
  assert_int_equal(r.nhits, 1);
  cu_rec_result_free(&r);
  q.limit = 0;
  q.offset = 0;
  /* filters */
  q.text = "usage";
  q.has_attachment = 1;
  assert_int_equal(cu_rec_search(ws, &q, &r, NULL), CUSTOS_OK);
  assert_int_equal(r.total, 1);
  cu_rec_result_free(&r);
  q.has_attachment = -1;
  q.text = "";
  q.from = "renee.dalle@nimbus.example";
  assert_int_equal(cu_rec_search(ws, &q, &r, NULL), CUSTOS_OK);
  assert_int_equal(r.total, 1);
  cu_rec_result_free(&r);
  q.from = NULL;
  q.text = "gesprach"; /* diacritics removed */
  assert_int_equal(cu_rec_search(ws, &q, &r, NULL), CUSTOS_OK);
  assert_int_equal(r.total, 1);
  cu_rec_result_free(&r);
  q.text = "NEAR(signals storage, 3)";
  assert_int_equal(cu_rec_search(ws, &q, &r, NULL), CUSTOS_OK);
  assert_int_equal(r.total, 1);
  cu_rec_result_free(&r);
  q.text = "lowmark";
  q.custodian = "nobody";
  assert_int_equal(cu_rec_search(ws, &q, &r, NULL), CUSTOS_OK);
  assert_int_equal(r.total, 0);
  cu_rec_result_free(&r);
  q.custodian = NULL;
  q.after = 1741046400; /* 2025-03-04 */
  assert_int_equal(cu_rec_search(ws, &q, &r, NULL), CUSTOS_OK);
  assert_int_equal(r.total, 1);
  cu_rec_result_free(&r);
  q.after = 0;
  q.text = "AND AND";
  custos_diag d;
  custos_diag_clear(&d);
  assert_int_equal(cu_rec_search(ws, &q, &r, &d), CUSTOS_EPARSE);
  cu_rec_result_free(&r);
  /* every successful search was recorded */
  assert_int_equal(fixture_int(ws, "SELECT count(*) FROM events WHERE type = ?1",
                           "query.search"),
                   before + 9);
  assert_int_equal(fixture_int(ws, "SELECT count(*) FROM events WHERE case_id = ?1",
                           "case-7"),
                   9);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mbox_quoting),
      cmocka_unit_test(test_mbox_cap),
      cmocka_unit_test(test_mbox_file_resume),
      cmocka_unit_test(test_duplicate_header_order),
      cmocka_unit_test(test_same_message_id),
      cmocka_unit_test(test_encoded_word),
      cmocka_unit_test(test_wrong_charset),
      cmocka_unit_test(test_charset_reuse),
      cmocka_unit_test(test_no_headers),
      cmocka_unit_test(test_missing_boundary),
      cmocka_unit_test(test_attachments),
      cmocka_unit_test(test_plain_fast),
      cmocka_unit_test(test_values_kept),
      cmocka_unit_test(test_html_text),
      cmocka_unit_test(test_query_rewrite),
      cmocka_unit_test(test_ingest_and_threads),
      cmocka_unit_test(test_ingest_copy),
      cmocka_unit_test(test_search),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
