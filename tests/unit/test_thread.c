/* Unit tests of threads across ingests: a workspace that ingests mail in
 * stages must hold the same threads as one that ingests all the stages
 * at once (late parents filling ghosts, threads merged by a later
 * message, reference loops, duplicate Message-IDs), compared as a
 * canonical structure that does not depend on row ids. */
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

/* One message of a stage; NULL headers are left out. */
typedef struct mail {
  int stage;
  const char *id, *irt, *refs;
} mail;

static const mail mails[] = {
    /* a reply whose parent comes later */
    {0, "late-reply@x", "late-parent@x", "late-root@x late-parent@x"},
    {1, "late-parent@x", "late-root@x", "late-root@x"},
    {2, "late-root@x", NULL, NULL},
    /* two threads under two ghosts, merged by a later message */
    {0, "left@x", "gl@x", "gl@x"},
    {0, "right@x", "gr@x", "gr@x"},
    {1, "merger@x", "gr@x", "gl@x gr@x"},
    /* a reference loop closed across ingests */
    {0, "loop-a@x", "loop-b@x", "loop-b@x"},
    {1, "loop-b@x", "loop-a@x", "loop-a@x"},
    {2, "loop-c@x", "loop-a@x", "loop-b@x loop-a@x"},
    /* one Message-ID on two different messages, and replies to it */
    {0, "dup@x", NULL, NULL},
    {1, "dup@x", "other@x", "other@x"},
    {1, "dup-reply@x", "dup@x", "dup@x"},
    {2, "other@x", NULL, NULL},
    /* a ghost that loses its only child when the child arrives */
    {0, "gc@x", "gb@x", "ga@x gb@x"},
    {1, "gb@x", "gz@x", "gz@x"},
    /* no Message-ID at all, and a message that references itself */
    {0, NULL, "late-root@x", "late-root@x"},
    {2, "self@x", "self@x", "self@x"},
};

#define STAGES 3

/* Writes the messages of stage into dir/s<stage>/cur. */
static void put_stage(const char *dir, int stage) {
  char path[512];
  snprintf(path, sizeof path, "%s/s%d/cur", dir, stage);
  assert_int_equal(cu_mkdirs(path, 0700, NULL), CUSTOS_OK);
  for (size_t i = 0; i < CU_ARRAY_LEN(mails); i++) {
    const mail *m = &mails[i];
    if (m->stage != stage)
      continue;
    snprintf(path, sizeof path, "%s/s%d/cur/%zu", dir, stage, i);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "From: a@x\nTo: b@x\nSubject: message %zu\n", i);
    if (m->id)
      fprintf(f, "Message-ID: <%s>\n", m->id);
    if (m->irt)
      fprintf(f, "In-Reply-To: <%s>\n", m->irt);
    if (m->refs) {
      fputs("References:", f);
      const char *p = m->refs;
      while (*p) {
        size_t n = strcspn(p, " ");
        fprintf(f, " <%.*s>", (int)n, p);
        p += n;
        p += strspn(p, " ");
      }
      fputc('\n', f);
    }
    fprintf(f, "Date: Mon, 1 Jan 2024 10:00:00 +0000\n\nbody %zu\n", i);
    assert_int_equal(fclose(f), 0);
  }
}

/* Ingests the stages from..to of dir in one call. */
static void ingest(cu_ws *ws, const char *dir, int from, int to) {
  char p[STAGES][512];
  const char *paths[STAGES];
  size_t n = 0;
  for (int s = from; s <= to; s++, n++) {
    snprintf(p[n], sizeof p[n], "%s/s%d", dir, s);
    paths[n] = p[n];
  }
  cu_rec_opts o;
  memset(&o, 0, sizeof o);
  o.custodian = "account-team";
  o.cls = CU_CLASS_MAIL;
  cu_rec_stats st;
  memset(&st, 0, sizeof st);
  custos_diag d;
  custos_diag_clear(&d);
  assert_int_equal(cu_rec_ingest_mail(ws, paths, n, &o, &st, &d), CUSTOS_OK);
}

/* The threads of ws as sorted text lines, one per node ("node, parent,
 * root", a record named by its content id and a ghost by its
 * Message-ID) and one per record (its root), so that two workspaces
 * compare equal when their structures are the same whatever their row
 * ids.  The caller frees the buffer. */
static void canon(cu_ws *ws, cu_buf *b) {
  static const char *const sql[] = {
      "SELECT 'node', coalesce(r.content_id, 'ghost ' || n.message_id),"
      " coalesce(pr.content_id, 'ghost ' || p.message_id, '-'),"
      " coalesce(tr.content_id, 'ghost ' || t.message_id, '-')"
      " FROM thread_nodes n LEFT JOIN records r ON r.id = n.record_id"
      " LEFT JOIN thread_nodes p ON p.id = n.parent_id"
      " LEFT JOIN records pr ON pr.id = p.record_id"
      " LEFT JOIN thread_nodes t ON t.id = n.thread_id"
      " LEFT JOIN records tr ON tr.id = t.record_id ORDER BY 2",
      "SELECT 'record', r.content_id, '',"
      " coalesce(tr.content_id, 'ghost ' || t.message_id, '-')"
      " FROM records r LEFT JOIN thread_nodes t ON t.id = r.thread_id"
      " LEFT JOIN records tr ON tr.id = t.record_id ORDER BY 2",
  };
  cu_buf_init(b, 1 << 20);
  for (size_t k = 0; k < CU_ARRAY_LEN(sql); k++) {
    sqlite3_stmt *st = NULL;
    assert_int_equal(cu_ws_prepare(ws, sql[k], &st, NULL), CUSTOS_OK);
    while (sqlite3_step(st) == SQLITE_ROW)
      assert_int_equal(cu_buf_printf(b, "%s %s < %s in %s\n",
                                     sqlite3_column_text(st, 0),
                                     sqlite3_column_text(st, 1),
                                     sqlite3_column_text(st, 2),
                                     sqlite3_column_text(st, 3)),
                       CUSTOS_OK);
    sqlite3_finalize(st);
  }
}

/* Rows that only a consistent forest satisfies: roots are their own
 * thread, a node's thread is its parent's, records point at the thread of
 * their node, and every ghost has a child. */
static void check_consistent(cu_ws *ws) {
  assert_int_equal(fixture_int(ws,
                           "SELECT count(*) FROM thread_nodes n"
                           " LEFT JOIN thread_nodes p ON p.id = n.parent_id"
                           " WHERE (n.parent_id IS NULL AND n.thread_id <> n.id)"
                           " OR (p.id IS NOT NULL AND p.thread_id <> n.thread_id)"
                           " OR (n.parent_id IS NOT NULL AND p.id IS NULL)"
                           " OR ?1 IS NOT NULL",
                           NULL),
                   0);
  assert_int_equal(fixture_int(ws,
                           "SELECT count(*) FROM records r WHERE ?1 IS NULL"
                           " AND r.thread_id IS NOT (SELECT thread_id FROM"
                           " thread_nodes WHERE record_id = r.id)",
                           NULL),
                   0);
  assert_int_equal(fixture_int(ws,
                           "SELECT count(*) FROM thread_nodes g WHERE"
                           " g.record_id IS NULL AND ?1 IS NULL AND NOT"
                           " EXISTS (SELECT 1 FROM thread_nodes c"
                           " WHERE c.parent_id = g.id)",
                           NULL),
                   0);
  /* The rebuild builds the index on records.thread_id again after a bulk
   * update, and those of thread_nodes after filling it empty: they are
   * there, each on its column alone, and agree with the tables. */
  static const char *const idx[][2] = {{"records_thread", "thread_id"},
                                       {"thread_nodes_thread", "thread_id"},
                                       {"thread_nodes_record", "record_id"}};
  for (size_t i = 0; i < CU_ARRAY_LEN(idx); i++) {
    assert_int_equal(fixture_int(ws,
                             "SELECT count(*) FROM pragma_index_info(?1)",
                             idx[i][0]),
                     1);
    assert_int_equal(fixture_int(ws,
                             "SELECT count(*) FROM pragma_index_info(?1)"
                             " WHERE name = 'thread_id'",
                             idx[i][0]),
                     strcmp(idx[i][1], "thread_id") == 0);
    assert_int_equal(fixture_int(ws,
                             "SELECT count(*) FROM sqlite_master WHERE"
                             " type = 'index' AND name = ?1",
                             idx[i][0]),
                     1);
  }
  assert_int_equal(fixture_int(ws,
                           "SELECT count(*) FROM sqlite_master WHERE"
                           " name = 'records_thread' AND tbl_name = 'records'"
                           " AND sql LIKE '%(thread_id)' AND ?1 IS NULL",
                           NULL),
                   1);
  assert_int_equal(fixture_int(ws,
                           "SELECT count(*) FROM pragma_integrity_check"
                           " WHERE integrity_check <> 'ok' AND ?1 IS NULL",
                           NULL),
                   0);
}

/* The parent's Message-ID of the first record with Message-ID id, with
 * a trailing '?' when the parent is a ghost, into out. */
static void parent_of(cu_ws *ws, const char *id, char *out, size_t n) {
  sqlite3_stmt *st = NULL;
  assert_int_equal(cu_ws_prepare(ws,
                                 "SELECT p.message_id || CASE WHEN"
                                 " p.record_id IS NULL THEN '?' ELSE '' END"
                                 " FROM thread_nodes c JOIN thread_nodes p"
                                 " ON p.id = c.parent_id WHERE"
                                 " c.message_id = ?1 ORDER BY c.record_id"
                                 " LIMIT 1",
                                 &st, NULL),
                   CUSTOS_OK);
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  out[0] = '\0';
  if (sqlite3_step(st) == SQLITE_ROW)
    snprintf(out, n, "%s", sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
}

static void test_stages_equal_one_ingest(void **state) {
  (void)state;
  char dir[64], fdir[64];
  cu_ws *ws = NULL;
  assert_int_equal(fixture_ws_open("thread", dir, sizeof dir, &ws), 0);
  for (int s = 0; s < STAGES; s++)
    put_stage(dir, s);
  for (int s = 0; s < STAGES; s++) {
    ingest(ws, dir, s, s);
    check_consistent(ws);
    cu_ws *fresh = NULL;
    assert_int_equal(fixture_ws_open("thread-fresh", fdir, sizeof fdir,
                                     &fresh),
                     0);
    ingest(fresh, dir, 0, s);
    cu_buf a, b;
    canon(ws, &a);
    canon(fresh, &b);
    assert_non_null(a.data);
    assert_string_equal(a.data, b.data);
    cu_buf_free(&a);
    cu_buf_free(&b);
    assert_int_equal(fixture_ws_close(fdir, fresh), 0);
  }
  /* What the stages should have made, checked directly. */
  char p[128];
  parent_of(ws, "late-reply@x", p, sizeof p);
  assert_string_equal(p, "late-parent@x");
  parent_of(ws, "late-parent@x", p, sizeof p);
  assert_string_equal(p, "late-root@x");
  assert_int_equal(fixture_int(ws,
                           "SELECT count(*) FROM thread_nodes WHERE"
                           " message_id LIKE 'late-%' AND record_id IS NULL"
                           " AND ?1 IS NULL",
                           NULL),
                   0);
  assert_int_equal(fixture_int(ws,
                           "SELECT count(DISTINCT thread_id) FROM records"
                           " WHERE message_id IN ('left@x', 'right@x',"
                           " 'merger@x') AND ?1 IS NULL",
                           NULL),
                   1);
  parent_of(ws, "gr@x", p, sizeof p);
  assert_string_equal(p, "gl@x?");
  assert_int_equal(fixture_int(ws,
                           "SELECT count(*) FROM thread_nodes WHERE"
                           " message_id LIKE 'loop-%' AND parent_id IS NULL"
                           " AND ?1 IS NULL",
                           NULL),
                   1);
  assert_int_equal(fixture_int(ws,
                           "SELECT count(*) FROM thread_nodes WHERE"
                           " message_id = ?1",
                           "dup@x"),
                   2);
  parent_of(ws, "dup-reply@x", p, sizeof p);
  assert_string_equal(p, "dup@x");
  assert_int_equal(fixture_int(ws,
                           "SELECT count(*) FROM thread_nodes WHERE"
                           " message_id = ?1",
                           "ga@x"),
                   0);
  parent_of(ws, "gb@x", p, sizeof p);
  assert_string_equal(p, "gz@x?");
  /* a rebuild with nothing new leaves every row as it was */
  cu_buf before, after;
  canon(ws, &before);
  int64_t rows = fixture_int(ws, "SELECT sum(id * 7 + thread_id * 3 +"
                             " ifnull(parent_id, 0)) FROM thread_nodes"
                             " WHERE ?1 IS NULL", NULL);
  assert_int_equal(cu_rec_thread_all(ws, NULL), CUSTOS_OK);
  canon(ws, &after);
  assert_string_equal(before.data, after.data);
  assert_int_equal(fixture_int(ws, "SELECT sum(id * 7 + thread_id * 3 +"
                               " ifnull(parent_id, 0)) FROM thread_nodes"
                               " WHERE ?1 IS NULL", NULL),
                   rows);
  cu_buf_free(&before);
  cu_buf_free(&after);
  assert_int_equal(fixture_ws_close(dir, ws), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stages_equal_one_ingest),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
