/* Unit tests of cases: the allegation parser (each refusal with its line),
 * opening a case, findings with their rules and history, decisions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"

#include "cases/cases.h"
#include "directory/directory.h"
#include "tlog/tlog.h"

static const char good[] =
    "\xef\xbb\xbf# Allegation: Tide data misused\r\n"
    "\r\n"
    "Source: The Quellin Courier\n"
    "Date: 2025-03-04\n"
    "\n"
    "First paragraph\n"
    "goes on.\n"
    "\n"
    "## Background\n"
    "Second paragraph.\n"
    "\n"
    "## Claims\n"
    "\n"
    "1. The institute stored\n"
    "   buoy recordings.\n"
    "2. It used translation.\n";

static void test_parse_good(void **state) {
  (void)state;
  cu_allegation a;
  custos_diag d;
  custos_diag_clear(&d);
  assert_int_equal(cu_allegation_parse("a.md", good, strlen(good), &a, &d),
                   CUSTOS_OK);
  assert_string_equal(a.title, "Tide data misused");
  assert_string_equal(a.source, "The Quellin Courier");
  assert_string_equal(a.date, "2025-03-04");
  assert_string_equal(a.text, "First paragraph goes on.\n\n## Background "
                              "Second paragraph.");
  assert_int_equal(a.nclaims, 2);
  assert_string_equal(a.claims[0], "The institute stored buoy recordings.");
  assert_string_equal(a.claims[1], "It used translation.");
  cu_allegation_free(&a);
  cu_allegation_free(NULL);
}

static void test_parse_refusals(void **state) {
  (void)state;
  static const struct {
    const char *md;
    custos_rc rc;
    uint64_t line;
    const char *msg;
  } cases[] = {
      {"Source: x\n", CUSTOS_EPARSE, 1, "title"},
      {"# T\nSource: S\nDate: 2025-02-30\n## Claims\n1. a\n", CUSTOS_EPARSE, 3,
       "invalid date"},
      {"# T\nSource: S\nSource: S2\n", CUSTOS_EPARSE, 3, "second Source"},
      {"# T\nSource: S\nDate: 2025-01-01\n## Claims\n1. a\n3. c\n",
       CUSTOS_EPARSE, 6, "out of order"},
      {"# T\nSource: S\nDate: 2025-01-01\n## Claims\nloose text\n",
       CUSTOS_EPARSE, 5, "numbered claim"},
      {"# T\nSource: S\nDate: 2025-01-01\n## Claims\n1. a\n## More\n",
       CUSTOS_EPARSE, 6, "heading after"},
      {"# T\nSource: S\nDate: 2025-01-01\nbody\n", CUSTOS_EPARSE, 0,
       "Claims"},
      {"# T\nSource: S\nDate: 2025-01-01\n## Claims\n", CUSTOS_EPARSE, 0,
       "at least one claim"},
      {"# T\nDate: 2025-01-01\n## Claims\n1. a\n", CUSTOS_EPARSE, 0,
       "Source"},
      {"# T\nSource: S\x01x\n", CUSTOS_EPARSE, 2, "control character"},
      {"# T\nSource: S\nDate: 2025-01-01\n## Claims\n1. \n2. b\n",
       CUSTOS_EPARSE, 5, "empty claim"},
      {"# T\nSource: \xff\n", CUSTOS_EUTF8, 2, "UTF-8"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cu_allegation a;
    custos_diag d;
    custos_diag_clear(&d);
    custos_rc rc = cu_allegation_parse("x.md", cases[i].md,
                                       strlen(cases[i].md), &a, &d);
    if (rc != cases[i].rc || d.line != cases[i].line ||
        !strstr(d.msg, cases[i].msg))
      fail_msg("case %zu: rc %d line %llu msg '%s'", i, rc,
               (unsigned long long)d.line, d.msg);
    assert_string_equal(d.input, "x.md");
    assert_null(a.title);
  }
  /* caps */
  size_t big = CU_ALLEGATION_MAX_BYTES + 1;
  char *huge = malloc(big);
  memset(huge, 'a', big);
  cu_allegation a;
  assert_int_equal(cu_allegation_parse("h.md", huge, big, &a, NULL),
                   CUSTOS_ETOOBIG);
  free(huge);
  char many[8192] = "# T\nSource: S\nDate: 2025-01-01\n## Claims\n";
  for (int i = 1; i <= 101; i++)
    snprintf(many + strlen(many), sizeof many - strlen(many), "%d. c\n", i);
  custos_diag d;
  custos_diag_clear(&d);
  assert_int_equal(cu_allegation_parse("m.md", many, strlen(many), &a, &d),
                   CUSTOS_ETOOBIG);
  assert_non_null(strstr(d.msg, "too many claims"));
}

static void test_parse_oom(void **state) {
  (void)state;
  for (long n = 0; n < 40; n++) {
    cu_allegation a;
    cu_alloc_fail_after(n);
    custos_rc rc = cu_allegation_parse("a.md", good, strlen(good), &a, NULL);
    cu_alloc_fail_after(-1);
    if (rc == CUSTOS_OK) {
      cu_allegation_free(&a);
      return;
    }
    assert_int_equal(rc, CUSTOS_ENOMEM);
  }
  fail_msg("parse never succeeded");
}

static char dir[64];
static cu_ws *ws;

static int setup(void **state) {
  (void)state;
  if (fixture_ws_open("cases", dir, sizeof dir, &ws) != 0)
    return -1;
  if (cu_policy_init(ws, NULL) != CUSTOS_OK)
    return -1;
  static const char *const files[][2] = {
      {"accounts.csv", "account_id,name,country,sector\n"
                       "acct-3,Institute of Tides,XD,education\n"},
      {"units.csv", "unit_id,account_id,parent_unit_id,name\n"
                    "u-3,acct-3,,Research\n"},
      {"allegation.md", good},
  };
  const char *paths[2];
  char buf[3][128];
  for (int i = 0; i < 3; i++) {
    snprintf(buf[i], sizeof buf[i], "%s/%s", dir, files[i][0]);
    FILE *f = fopen(buf[i], "w");
    if (!f)
      return -1;
    fputs(files[i][1], f);
    fclose(f);
    if (i < 2)
      paths[i] = buf[i];
  }
  cu_dir_stats st;
  return cu_dir_ingest(ws, paths, 2, "ops", &st, NULL) == CUSTOS_OK ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  return fixture_ws_close(dir, ws);
}

static void test_case_story(void **state) {
  (void)state;
  char path[128], id[CU_CASE_ID_MAX];
  snprintf(path, sizeof path, "%s/allegation.md", dir);
  custos_diag d;
  custos_diag_clear(&d);
  cu_ws_set_actor(ws, "reviewer-a");
  assert_int_equal(cu_case_open(ws, path, "trust-and-safety", id, &d),
                   CUSTOS_OK);
  assert_string_equal(id, "case-0001");
  /* the same allegation file again is not a second case */
  char id2[CU_CASE_ID_MAX];
  assert_int_equal(cu_case_open(ws, path, "trust-and-safety", id2, NULL),
                   CUSTOS_EEXIST);

  cu_evidence ev = {"usage", json_pack("{s:s}", "unit", "u-3"), 12,
                    "ab12", "12 rows of storage"};
  int64_t eid = 0, fid = 0, did = 0;
  assert_int_equal(cu_evidence_add(ws, id, 1, &ev, &eid, NULL), CUSTOS_OK);
  custos_diag_clear(&d);
  assert_int_equal(cu_evidence_add(ws, id, 9, &ev, &eid, &d),
                   CUSTOS_ENOTFOUND);
  assert_non_null(strstr(d.hint, "claims 1 to 2"));
  json_decref(ev.query);

  /* refusals: blank rationale, unknown judgement, supported w/o evidence,
   * evidence of another case */
  assert_int_equal(cu_finding_add(ws, id, 1, "supported", "", &eid, 1, &fid,
                                  NULL),
                   CUSTOS_EINVAL);
  assert_int_equal(cu_finding_add(ws, id, 1, "maybe", "r", &eid, 1, &fid,
                                  NULL),
                   CUSTOS_EINVAL);
  assert_int_equal(cu_finding_add(ws, id, 1, "supported", "r", NULL, 0, &fid,
                                  NULL),
                   CUSTOS_EINVAL);
  int64_t bogus = 999;
  assert_int_equal(cu_finding_add(ws, id, 1, "supported", "r", &bogus, 1,
                                  &fid, NULL),
                   CUSTOS_ENOTFOUND);

  cu_scope scope = {NULL};
  assert_int_equal(cu_scope_add(ws, &scope, "unit=u-3", NULL), CUSTOS_OK);
  assert_int_equal(cu_scope_add(ws, &scope, "region=West Europe", NULL),
                   CUSTOS_OK);
  custos_diag_clear(&d);
  assert_int_equal(cu_scope_add(ws, &scope, "unit=u-404", &d),
                   CUSTOS_ENOTFOUND);
  assert_int_equal(cu_scope_add(ws, &scope, "colour=blue", NULL),
                   CUSTOS_EINVAL);
  assert_string_equal(
      json_string_value(json_array_get(json_object_get(scope.sel, "region"),
                                       0)),
      "azure:westeurope");
  cu_decision_in in = {"no-mass-surveillance", &scope, "deny-all", 0, false,
                       "because"};
  /* the author must be a registered reviewer */
  assert_int_equal(cu_person_add(ws, "reviewer-a", "reviewer", NULL, NULL),
                   CUSTOS_OK);
  /* no findings yet: refused */
  assert_int_equal(cu_decision_add(ws, id, &in, &did, NULL), CUSTOS_EREFUSED);
  assert_int_equal(cu_finding_add(ws, id, 1, "inconclusive", "wait", NULL, 0,
                                  &fid, NULL),
                   CUSTOS_OK);
  assert_int_equal(cu_finding_add(ws, id, 2, "not-supported", "no use", NULL,
                                  0, &fid, NULL),
                   CUSTOS_OK);
  /* all claims judged but none supported: refused */
  custos_diag_clear(&d);
  assert_int_equal(cu_decision_add(ws, id, &in, &did, &d), CUSTOS_EREFUSED);
  assert_non_null(strstr(d.msg, "supported"));
  assert_int_equal(cu_finding_add(ws, id, 1, "supported", "12 rows", &eid, 1,
                                  &fid, NULL),
                   CUSTOS_OK);
  cu_decision_in bad = in;
  bad.policy = "no-such-policy";
  custos_diag_clear(&d);
  assert_int_equal(cu_decision_add(ws, id, &bad, &did, &d), CUSTOS_ENOTFOUND);
  assert_non_null(strstr(d.hint, "no-mass-surveillance"));
  bad = in;
  bad.effect = "delete-everything";
  assert_int_equal(cu_decision_add(ws, id, &bad, &did, NULL), CUSTOS_EINVAL);
  assert_int_equal(cu_decision_add(ws, id, &in, &did, NULL), CUSTOS_OK);
  cu_scope_free(&scope);

  json_t *c = NULL;
  assert_int_equal(cu_case_json(ws, id, &c, NULL), CUSTOS_OK);
  assert_string_equal(json_string_value(json_object_get(c, "status")),
                      "decided");
  /* findings history keeps the superseded one */
  assert_int_equal(json_array_size(json_object_get(c, "findings")), 3);
  json_t *hist = json_object_get(c, "history");
  assert_int_equal(json_array_size(hist), 3); /* open, reviewing, decided */
  size_t i;
  json_t *h;
  json_array_foreach(hist, i, h) {
    assert_true(strlen(json_string_value(json_object_get(h, "reason"))) > 0);
    assert_string_equal(json_string_value(json_object_get(h, "actor")),
                        "reviewer-a");
  }
  json_decref(c);
  /* every step is an event of the case */
  sqlite3_stmt *st = NULL;
  assert_int_equal(cu_ws_prepare(ws,
                                 "SELECT group_concat(type, ' ') FROM (SELECT"
                                 " type FROM events WHERE case_id = ?1"
                                 " ORDER BY seq)",
                                 &st, NULL),
                   CUSTOS_OK);
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(st, 0),
                      "case.open case.status evidence.add finding.add "
                      "case.status finding.add finding.add decision.add "
                      "case.status");
  sqlite3_finalize(st);
  assert_int_equal(cu_ws_begin(ws, NULL), CUSTOS_OK);
  assert_int_equal(cu_case_set_status(ws, id, "closed", "", NULL),
                   CUSTOS_EINVAL);
  cu_ws_rollback(ws);
}

static void test_people(void **state) {
  (void)state;
  char vk[CU_VKEY_MAX];
  custos_diag d;
  custos_diag_clear(&d);
  assert_int_equal(cu_person_add(ws, "ilse.varn", "approver,reviewer", vk, &d),
                   CUSTOS_OK);
  assert_int_equal(strncmp(vk, "ilse.varn+", 10), 0);
  assert_int_equal(cu_person_add(ws, "ilse.varn", "approver", NULL, NULL),
                   CUSTOS_EEXIST);
  assert_int_equal(cu_person_add(ws, "two words", "approver", NULL, NULL),
                   CUSTOS_EINVAL);
  assert_int_equal(cu_person_add(ws, "oren", "approver,", NULL, NULL),
                   CUSTOS_EINVAL);
  assert_int_equal(cu_person_add(ws, "../etc", "approver", NULL, NULL),
                   CUSTOS_EINVAL);
  assert_int_equal(cu_person_check(ws, "ilse.varn", "approver", NULL),
                   CUSTOS_OK);
  custos_diag_clear(&d);
  assert_int_equal(cu_person_check(ws, "ilse.varn", "enforcer", &d),
                   CUSTOS_EREFUSED);
  assert_non_null(strstr(d.hint, "approver,reviewer"));
  assert_int_equal(cu_person_check(ws, "nobody", "approver", NULL),
                   CUSTOS_ENOTFOUND);
  /* a signature verifies with the registered key, and only with it */
  cu_buf note;
  cu_buf_init(&note, 4096);
  assert_int_equal(cu_person_sign(ws, "ilse.varn", "approve plan abc\n", &note,
                                  NULL),
                   CUSTOS_OK);
  cu_log_note parsed;
  assert_int_equal(cu_log_note_parse(note.data, note.len, &parsed, NULL),
                   CUSTOS_OK);
  cu_log_vkey key;
  assert_int_equal(cu_log_vkey_parse(vk, strlen(vk), &key, NULL), CUSTOS_OK);
  assert_int_equal(cu_log_note_verify(&parsed, &key, 1, NULL, NULL),
                   CUSTOS_OK);
  cu_log_note_free(&parsed);
  note.data[0] = 'A'; /* "approve" -> "Approve": the text changed */
  assert_int_equal(cu_log_note_parse(note.data, note.len, &parsed, NULL),
                   CUSTOS_OK);
  assert_int_equal(cu_log_note_verify(&parsed, &key, 1, NULL, NULL),
                   CUSTOS_EVERIFY);
  cu_log_note_free(&parsed);
  cu_buf_free(&note);
}

int main(void) {
  const struct CMUnitTest parse[] = {
      cmocka_unit_test(test_parse_good),
      cmocka_unit_test(test_parse_refusals),
      cmocka_unit_test(test_parse_oom),
  };
  const struct CMUnitTest story[] = {
      cmocka_unit_test(test_case_story),
      cmocka_unit_test(test_people),
  };
  int r = cmocka_run_group_tests(parse, NULL, NULL);
  return r + cmocka_run_group_tests(story, setup, teardown);
}
