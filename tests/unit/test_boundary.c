/* Unit tests of boundary: source classes, registration with SHA-256,
 * idempotent re-ingest, rejects, and the free-text policy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"

#include "boundary/boundary.h"

static char dir[64], file[96];
static cu_ws *ws;

static int setup(void **state) {
  (void)state;
  if (fixture_ws_open("bd", dir, sizeof dir, &ws) != 0)
    return -1;
  snprintf(file, sizeof file, "%s/records.csv", dir);
  FILE *f = fopen(file, "w");
  if (!f)
    return -1;
  fputs("a,b\n1,2\n", f);
  fclose(f);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  return fixture_ws_close(dir, ws);
}

static void test_classes(void **state) {
  (void)state;
  cu_source_class c;
  static const char *const names[] = {"directory", "usage", "mail",
                                      "document", "contract", "invoice"};
  for (size_t i = 0; i < 6; i++) {
    assert_int_equal(cu_source_class_parse(names[i], &c, NULL), CUSTOS_OK);
    assert_string_equal(cu_source_class_name(c), names[i]);
  }
  custos_diag d;
  custos_diag_clear(&d);
  /* there is no class for customer content */
  assert_int_equal(cu_source_class_parse("customer-content", &c, &d),
                   CUSTOS_EINVAL);
  assert_string_equal(d.value, "customer-content");
  assert_non_null(strstr(d.hint, "customer content"));
  assert_null(cu_source_class_name(CU_CLASS_COUNT_));
}

static void test_register_twice(void **state) {
  (void)state;
  cu_source s;
  int64_t existing = 0;
  assert_int_equal(cu_ws_begin(ws, NULL), CUSTOS_OK);
  assert_int_equal(cu_source_register(ws, CU_CLASS_USAGE, "finance", file, &s,
                                      &existing, NULL),
                   CUSTOS_OK);
  assert_true(s.id > 0);
  assert_int_equal(s.size, 8);
  s.expected = 1;
  s.accepted = 1;
  assert_int_equal(cu_source_reject(ws, s.id, 2, 3, "b", "2", "test reason",
                                    NULL),
                   CUSTOS_OK);
  s.rejected = 1;
  assert_int_equal(cu_source_complete(ws, &s, NULL), CUSTOS_OK);
  assert_int_equal(cu_ws_commit(ws, NULL), CUSTOS_OK);

  uint8_t dg[32];
  char hex[65];
  cu_sha256("a,b\n1,2\n", 8, dg);
  cu_hex_encode(dg, 32, hex);
  assert_string_equal(s.sha256, hex);

  cu_source back;
  assert_int_equal(cu_source_get(ws, s.id, &back, NULL), CUSTOS_OK);
  assert_string_equal(back.status, "complete");
  assert_int_equal(back.rejected, 1);
  assert_string_equal(back.custodian, "finance");
  assert_int_equal(back.cls, CU_CLASS_USAGE);

  /* same bytes again: a no-op that names the earlier source */
  cu_source again;
  assert_int_equal(cu_ws_begin(ws, NULL), CUSTOS_OK);
  assert_int_equal(cu_source_register(ws, CU_CLASS_USAGE, "finance", file,
                                      &again, &existing, NULL),
                   CUSTOS_EEXIST);
  cu_ws_rollback(ws);
  assert_int_equal(existing, s.id);

  /* no custodian, no source */
  custos_diag d;
  custos_diag_clear(&d);
  assert_int_equal(cu_source_register(ws, CU_CLASS_USAGE, "", file, &again,
                                      &existing, &d),
                   CUSTOS_EINVAL);
  assert_non_null(strstr(d.hint, "--custodian"));
  assert_int_equal(cu_source_get(ws, 999, &back, NULL), CUSTOS_ENOTFOUND);
}

static void test_free_text(void **state) {
  (void)state;
  char a[64], b[64];
  assert_int_equal(cu_boundary_policy(ws), CU_FREE_TEXT_PSEUDONYMISE);
  assert_int_equal(cu_boundary_free_text(ws, CU_FREE_TEXT_PSEUDONYMISE,
                                         "project-nightingale", 19, a, sizeof a),
                   CUSTOS_OK);
  assert_int_equal(strlen(a), 34);
  assert_memory_equal(a, "p:", 2);
  assert_null(strstr(a, "nightingale"));
  /* keyed: the same text gives the same pseudonym in this workspace, and
   * it is the HMAC under the workspace secret */
  assert_int_equal(cu_boundary_free_text(ws, CU_FREE_TEXT_PSEUDONYMISE,
                                         "project-nightingale", 19, b, sizeof b),
                   CUSTOS_OK);
  assert_string_equal(a, b);
  uint8_t mac[32];
  char hex[65];
  assert_int_equal(cu_hmac_sha256(cu_ws_secret(ws), CU_SECRET_LEN,
                                  "project-nightingale", 19, mac),
                   CUSTOS_OK);
  cu_hex_encode(mac, 16, hex);
  assert_string_equal(a + 2, hex);
  assert_int_equal(
      cu_boundary_free_text(ws, CU_FREE_TEXT_KEEP, "abc", 3, b, sizeof b),
      CUSTOS_OK);
  assert_string_equal(b, "abc");
  assert_int_equal(
      cu_boundary_free_text(ws, CU_FREE_TEXT_DROP, "abc", 3, b, sizeof b),
      CUSTOS_OK);
  assert_string_equal(b, "");
  assert_int_equal(
      cu_boundary_free_text(ws, CU_FREE_TEXT_KEEP, "abc", 3, b, 3),
      CUSTOS_ETOOBIG);
  assert_int_equal(cu_ws_begin(ws, NULL), CUSTOS_OK);
  assert_int_equal(cu_boundary_set_policy(ws, CU_FREE_TEXT_DROP, NULL),
                   CUSTOS_OK);
  assert_int_equal(cu_ws_commit(ws, NULL), CUSTOS_OK);
  assert_int_equal(cu_boundary_policy(ws), CU_FREE_TEXT_DROP);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_classes),
      cmocka_unit_test(test_register_twice),
      cmocka_unit_test(test_free_text),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
