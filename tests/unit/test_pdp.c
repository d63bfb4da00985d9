/* Unit tests of the decision point: subscription keys, the key-value
 * codec, check semantics (effects, operations, wildcards, owners, lifts,
 * effective times, region aliases), snapshots, block state in the
 * workspace and the HTTP query parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"

#include "http/http.h"
#include "pdp/pdp.h"

#define SUB "3f2b6c1e-8a4d-4c2e-9b7a-1d2e3f4a5b6c"
#define SUB2 "0a1b2c3d-4e5f-4a6b-8c9d-0e1f2a3b4c5d"

static cu_pdp_block blk(const char *sub, const char *svc, const char *region,
                        const char *owner, custos_pdp_effect e, int64_t rev) {
  cu_pdp_block b;
  memset(&b, 0, sizeof b);
  snprintf(b.subscription, sizeof b.subscription, "%s", sub);
  snprintf(b.service, sizeof b.service, "%s", svc);
  snprintf(b.region, sizeof b.region, "%s", region);
  snprintf(b.owner, sizeof b.owner, "%s", owner);
  snprintf(b.case_id, sizeof b.case_id, "CASE-%lld", (long long)rev);
  b.effect = e;
  b.revision = rev;
  return b;
}

static custos_pdp *open_static(const char *snapshot) {
  custos_pdp_config c;
  custos_pdp_config_init(&c);
  c.snapshot = snapshot;
  c.point_id = "unit";
  custos_pdp *p = NULL;
  assert_int_equal(custos_pdp_open(&c, &p, NULL), CUSTOS_OK);
  return p;
}

/* The decision by names; the same check with ids, one at a time and in
 * a batch, must give the same answer. */
static int allowed(custos_pdp *p, const char *sub, const char *svc,
                   const char *region, custos_pdp_op op) {
  custos_pdp_decision d, e, f[2];
  assert_int_equal(custos_pdp_check(p, sub, svc, region, op, &d), CUSTOS_OK);
  custos_pdp_query q[2];
  memset(q, 0, sizeof q);
  assert_int_equal(custos_pdp_key_parse(sub, &q[0].sub), CUSTOS_OK);
  assert_int_equal(custos_pdp_service_id(p, svc, &q[0].service), CUSTOS_OK);
  assert_int_equal(custos_pdp_region_id(p, region, &q[0].region), CUSTOS_OK);
  q[0].op = op;
  assert_int_equal(custos_pdp_check_id(p, &q[0].sub, q[0].service,
                                       q[0].region, op, &e),
                   CUSTOS_OK);
  q[1] = q[0];
  assert_int_equal(custos_pdp_key_parse(SUB2, &q[1].sub), CUSTOS_OK);
  assert_int_equal(custos_pdp_check_many(p, q, 2, f), CUSTOS_OK);
  for (int i = 0; i < 2; i++) {
    const custos_pdp_decision *x = i ? &f[0] : &e;
    assert_int_equal(x->allow, d.allow);
    assert_int_equal(x->reason, d.reason);
    assert_int_equal(x->effect, d.effect);
    assert_int_equal(x->stale, d.stale);
    assert_string_equal(x->owner, d.owner);
    assert_string_equal(x->case_id, d.case_id);
  }
  return d.allow;
}

static void test_keys(void **state) {
  (void)state;
  uint64_t a[2], b[2], c[2], e[2];
  assert_int_equal(cu_pdp_sub_key(SUB, strlen(SUB), a), 0);
  const char *upper = "{3F2B6C1E-8A4D-4C2E-9B7A-1D2E3F4A5B6C}";
  assert_int_equal(cu_pdp_sub_key(upper, strlen(upper), b), 0);
  const char *bare = "3f2b6c1e8a4d4c2e9b7a1d2e3f4a5b6c";
  assert_int_equal(cu_pdp_sub_key(bare, strlen(bare), c), 0);
  assert_true(a[0] == b[0] && a[1] == b[1] && a[0] == c[0] && a[1] == c[1]);
  assert_int_equal(a[0], 0x3f2b6c1e8a4d4c2eu);
  assert_int_equal(a[1], 0x9b7a1d2e3f4a5b6cu);
  /* One byte just outside the hex digits anywhere: not a GUID. */
  static const char near[] = "/:@G`g";
  for (size_t at = 0; at < 36; at++)
    for (size_t k = 0; k < sizeof near - 1; k++) {
      char bad[37];
      memcpy(bad, SUB, 37);
      if (bad[at] == '-')
        continue;
      bad[at] = near[k];
      char out[37];
      assert_int_equal(cu_pdp_guid_canon(bad, 36, out), -1);
    }
  const char *nil = "00000000-0000-0000-0000-000000000000";
  assert_int_equal(cu_pdp_sub_key(nil, strlen(nil), e), -1);
  assert_int_equal(cu_pdp_sub_key("", 0, e), -1);
  assert_int_equal(cu_pdp_sub_key("has space", 9, e), -1);
  assert_int_equal(cu_pdp_sub_key("123456789012", 12, e), 0);
  assert_true(e[0] >> 63);
  char canon[37];
  assert_int_equal(cu_pdp_guid_canon(upper, strlen(upper), canon), 0);
  assert_string_equal(canon, SUB);
}

static void test_codec(void **state) {
  (void)state;
  cu_pdp_block b = blk("aws:1234/x", "speech to text", "azure:westeurope",
                       "aup", CUSTOS_PDP_READ_ONLY, 42);
  b.effective = 1754481600;
  b.created = 1754481601;
  char key[512];
  assert_int_equal(cu_pdp_kv_key(&b, key, sizeof key), CUSTOS_OK);
  assert_string_equal(key,
                      "b.aws=3A1234=2Fx.speech=20to=20text.azure=3Awesteurope.aup");
  assert_int_equal(cu_pdp_kv_key(&b, key, 20), CUSTOS_EINVAL);
  char *v = cu_pdp_kv_value(&b);
  assert_non_null(v);
  cu_pdp_block r;
  memset(&r, 0, sizeof r);
  assert_int_equal(cu_pdp_kv_key_parse(
                       "b.aws=3A1234=2Fx.speech=20to=20text.azure=3Awesteurope.aup",
                       &r),
                   0);
  assert_int_equal(cu_pdp_kv_value_parse(v, strlen(v), &r), 0);
  free(v);
  assert_string_equal(r.subscription, b.subscription);
  assert_string_equal(r.service, b.service);
  assert_string_equal(r.region, b.region);
  assert_string_equal(r.case_id, b.case_id);
  assert_int_equal(r.effect, CUSTOS_PDP_READ_ONLY);
  assert_int_equal(r.revision, 42);
  assert_int_equal(r.effective, b.effective);
  assert_int_equal(cu_pdp_kv_key_parse("b.x.y.z", &r), -1);
  assert_int_equal(cu_pdp_kv_key_parse("b.x.y.z.o.extra", &r), -1);
  assert_int_equal(cu_pdp_kv_key_parse("b.x=4.y.z.o", &r), -1);
  assert_int_equal(cu_pdp_kv_key_parse("b.x=00.y.z.o", &r), -1);
  assert_int_equal(cu_pdp_kv_value_parse("{\"effect\":\"x\"}", 14, &r), -1);
}

static void test_effects(void **state) {
  (void)state;
  custos_pdp *p = open_static(NULL);
  cu_pdp_block bs[] = {
      blk(SUB, "storage", "azure:westeurope", "aup", CUSTOS_PDP_DENY_ALL, 1),
      blk(SUB, "ai", "*", "legal", CUSTOS_PDP_READ_ONLY, 2),
      blk(SUB, "*", "*", "billing", CUSTOS_PDP_DENY_NEW, 3),
  };
  assert_int_equal(cu_pdp_apply(p, bs, 3, 3, NULL), CUSTOS_OK);
  /* deny-all on storage in West Europe, by any of its names */
  assert_false(allowed(p, SUB, "storage", "azure:westeurope", CUSTOS_PDP_READ));
  assert_false(allowed(p, SUB, "Storage", "West Europe", CUSTOS_PDP_READ));
  assert_false(allowed(p, SUB, "storage", "westeurope", CUSTOS_PDP_DELETE));
  /* storage elsewhere: only billing's deny-new */
  assert_true(allowed(p, SUB, "storage", "azure:northeurope", CUSTOS_PDP_READ));
  assert_true(allowed(p, SUB, "storage", "azure:northeurope", CUSTOS_PDP_WRITE));
  assert_false(
      allowed(p, SUB, "storage", "azure:northeurope", CUSTOS_PDP_CREATE));
  /* read-only AI everywhere */
  assert_true(allowed(p, SUB, "ai", "gcp:europe-west4", CUSTOS_PDP_READ));
  assert_false(allowed(p, SUB, "ai", "gcp:europe-west4", CUSTOS_PDP_WRITE));
  assert_false(allowed(p, SUB, "ai", NULL, CUSTOS_PDP_DELETE));
  /* others untouched */
  assert_true(allowed(p, SUB2, "storage", "azure:westeurope", CUSTOS_PDP_CREATE));
  assert_true(allowed(p, SUB, "security", "azure:westeurope", CUSTOS_PDP_WRITE));

  /* The strongest refusing block is named. */
  custos_pdp_decision d;
  assert_int_equal(custos_pdp_check(p, SUB, "storage", "westeurope",
                                    CUSTOS_PDP_CREATE, &d),
                   CUSTOS_OK);
  assert_int_equal(d.reason, CUSTOS_PDP_BLOCKED);
  assert_int_equal(d.effect, CUSTOS_PDP_DENY_ALL);
  assert_string_equal(d.owner, "aup");
  assert_string_equal(d.case_id, "CASE-1");
  assert_int_equal(d.revision, 3);

  /* Lifting one owner's block leaves the others. */
  cu_pdp_block lift = bs[0];
  lift.effect = CUSTOS_PDP_EFFECT_NONE;
  lift.revision = 4;
  assert_int_equal(cu_pdp_apply(p, &lift, 1, 4, NULL), CUSTOS_OK);
  assert_true(allowed(p, SUB, "storage", "westeurope", CUSTOS_PDP_READ));
  assert_false(allowed(p, SUB, "storage", "westeurope", CUSTOS_PDP_CREATE));

  /* A block effective in the future does not refuse yet. */
  cu_pdp_block later =
      blk(SUB2, "storage", "*", "aup", CUSTOS_PDP_DENY_ALL, 5);
  later.effective = cu_pdp_now_ms() / 1000 + 3600;
  assert_int_equal(cu_pdp_apply(p, &later, 1, 5, NULL), CUSTOS_OK);
  assert_true(allowed(p, SUB2, "storage", "westeurope", CUSTOS_PDP_READ));

  assert_int_equal(custos_pdp_check(p, "", "storage", NULL, CUSTOS_PDP_READ,
                                    &d),
                   CUSTOS_EINVAL);
  assert_int_equal(custos_pdp_check(p, SUB, "", NULL, CUSTOS_PDP_READ, &d),
                   CUSTOS_EINVAL);
  assert_int_equal(
      custos_pdp_check(p, SUB, "ai", NULL, (custos_pdp_op)9, &d),
      CUSTOS_EINVAL);
  custos_pdp_status st;
  custos_pdp_status_get(p, &st);
  assert_int_equal(st.revision, 5);
  assert_int_equal(st.blocks, 3);
  assert_int_equal(st.state, CUSTOS_PDP_LIVE);
  custos_pdp_close(p);
}

static void test_check_at(void **state) {
  (void)state;
  custos_pdp *p = open_static(NULL);
  custos_pdp_decision d;
  assert_int_equal(custos_pdp_check_at(p, SUB, "ai", NULL, CUSTOS_PDP_READ, 7,
                                       30, &d),
                   CUSTOS_OK);
  assert_true(d.stale);
  assert_true(d.allow);
  cu_pdp_block b = blk(SUB, "ai", "*", "aup", CUSTOS_PDP_DENY_ALL, 7);
  assert_int_equal(cu_pdp_apply(p, &b, 1, 7, NULL), CUSTOS_OK);
  assert_int_equal(custos_pdp_check_at(p, SUB, "ai", NULL, CUSTOS_PDP_READ, 7,
                                       30, &d),
                   CUSTOS_OK);
  assert_false(d.stale);
  assert_false(d.allow);
  custos_pdp_close(p);
}

static void test_snapshot(void **state) {
  (void)state;
  char dir[] = "/tmp/custos-pdp-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[64];
  snprintf(path, sizeof path, "%s/snap", dir);
  custos_pdp *p = open_static(path);
  cu_pdp_block bs[] = {
      blk(SUB, "storage", "azure:westeurope", "aup", CUSTOS_PDP_DENY_ALL, 1),
      blk("aws:123456789012", "ai", "*", "legal", CUSTOS_PDP_READ_ONLY, 2)};
  assert_int_equal(cu_pdp_apply(p, bs, 2, 2, NULL), CUSTOS_OK);
  custos_pdp_close(p); /* writes the snapshot */
  p = open_static(path);
  custos_pdp_status st;
  custos_pdp_status_get(p, &st);
  assert_int_equal(st.revision, 2);
  assert_int_equal(st.resumed_from, 2);
  assert_int_equal(st.blocks, 2);
  assert_false(allowed(p, SUB, "storage", "westeurope", CUSTOS_PDP_READ));
  assert_false(allowed(p, "aws:123456789012", "ai", NULL, CUSTOS_PDP_WRITE));
  custos_pdp_close(p);

  /* A damaged snapshot is ignored, not trusted. */
  FILE *f = fopen(path, "r+");
  assert_non_null(f);
  fseek(f, 40, SEEK_SET);
  fputc('#', f);
  fclose(f);
  p = open_static(path);
  custos_pdp_status_get(p, &st);
  assert_int_equal(st.revision, 0);
  assert_int_equal(st.blocks, 0);
  custos_pdp_close(p);
  unlink(path);
  rmdir(dir);
}

static void test_state(void **state) {
  (void)state;
  char dir[] = "/tmp/custos-pdp-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char ws_dir[64];
  snprintf(ws_dir, sizeof ws_dir, "%s/ws", dir);
  assert_int_equal(cu_ws_create(ws_dir, NULL), CUSTOS_OK);
  cu_ws *ws = NULL;
  assert_int_equal(cu_ws_open(ws_dir, &ws, NULL), CUSTOS_OK);
  custos_diag d;
  custos_diag_clear(&d);

  cu_pdp_block b = blk("{3F2B6C1E-8A4D-4C2E-9B7A-1D2E3F4A5B6C}", "Storage",
                       "West Europe", "aup", CUSTOS_PDP_DENY_ALL, 0);
  assert_int_equal(cu_ws_begin(ws, NULL), CUSTOS_OK);
  assert_int_equal(cu_pdp_put(ws, &b, &d), CUSTOS_OK);
  assert_int_equal(cu_ws_commit(ws, NULL), CUSTOS_OK);
  assert_string_equal(b.subscription, SUB);
  assert_string_equal(b.service, "storage");
  assert_string_equal(b.region, "azure:westeurope");
  assert_int_equal(b.revision, 1);
  /* the same put again changes nothing */
  assert_int_equal(cu_ws_begin(ws, NULL), CUSTOS_OK);
  assert_int_equal(cu_pdp_put(ws, &b, &d), CUSTOS_OK);
  assert_int_equal(cu_ws_commit(ws, NULL), CUSTOS_OK);
  assert_int_equal(b.revision, 1);
  /* another owner lifting: not found, nothing written */
  cu_pdp_block l = blk(SUB, "storage", "westeurope", "legal", 0, 0);
  assert_int_equal(cu_ws_begin(ws, NULL), CUSTOS_OK);
  assert_int_equal(cu_pdp_lift(ws, &l, &d), CUSTOS_ENOTFOUND);
  assert_string_equal(d.field, "owner");
  cu_ws_rollback(ws);
  snprintf(l.owner, sizeof l.owner, "aup");
  assert_int_equal(cu_ws_begin(ws, NULL), CUSTOS_OK);
  assert_int_equal(cu_pdp_lift(ws, &l, &d), CUSTOS_OK);
  assert_int_equal(cu_ws_commit(ws, NULL), CUSTOS_OK);
  assert_int_equal(l.revision, 2);
  assert_int_equal(fixture_int(ws, "SELECT COUNT(*) FROM pdp_outbox", NULL), 2);
  assert_int_equal(
      fixture_int(ws, "SELECT COUNT(*) FROM events WHERE type LIKE 'block.%'", NULL), 2);
  /* bad inputs name their field */
  cu_pdp_block bad = blk(SUB, "storage", "atlantis-9", "aup",
                         CUSTOS_PDP_DENY_ALL, 0);
  assert_int_equal(cu_ws_begin(ws, NULL), CUSTOS_OK);
  custos_diag_clear(&d);
  assert_int_equal(cu_pdp_put(ws, &bad, &d), CUSTOS_EINVAL);
  assert_string_equal(d.field, "region");
  bad = blk(SUB, "storage", "*", "AUP", CUSTOS_PDP_DENY_ALL, 0);
  custos_diag_clear(&d);
  assert_int_equal(cu_pdp_put(ws, &bad, &d), CUSTOS_EINVAL);
  assert_string_equal(d.field, "owner");
  cu_ws_rollback(ws);
  cu_ws_close(ws);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

static void test_query(void **state) {
  (void)state;
  char buf[256];
  cu_http_param p[CU_HTTP_PARAMS_MAX];
  size_t n = 0;
  const char *qs = "subscription=" SUB "&service=speech+to%20text&&region=";
  assert_int_equal(cu_http_query_parse(qs, strlen(qs), buf, sizeof buf, p,
                                       CU_HTTP_PARAMS_MAX, &n, NULL),
                   CUSTOS_OK);
  assert_int_equal(n, 3);
  assert_string_equal(p[1].value, "speech to text");
  assert_string_equal(p[2].name, "region");
  assert_string_equal(p[2].value, "");
  cu_http_check_req req;
  assert_int_equal(cu_http_check_req_parse(p, n, &req, NULL), CUSTOS_OK);
  assert_int_equal(req.op, CUSTOS_PDP_CREATE);
  custos_diag d;
  custos_diag_clear(&d);
  const char *bad = "service=a%2";
  assert_int_equal(cu_http_query_parse(bad, strlen(bad), buf, sizeof buf, p,
                                       CU_HTTP_PARAMS_MAX, &n, &d),
                   CUSTOS_EPARSE);
  assert_string_equal(d.field, "service");
  const char *nul = "service=a%00";
  assert_int_equal(cu_http_query_parse(nul, strlen(nul), buf, sizeof buf, p,
                                       CU_HTTP_PARAMS_MAX, &n, NULL),
                   CUSTOS_EPARSE);
  const char *twice = "subscription=" SUB "&service=a&service=b";
  assert_int_equal(cu_http_query_parse(twice, strlen(twice), buf, sizeof buf,
                                       p, CU_HTTP_PARAMS_MAX, &n, NULL),
                   CUSTOS_OK);
  custos_diag_clear(&d);
  assert_int_equal(cu_http_check_req_parse(p, n, &req, &d), CUSTOS_EINVAL);
  assert_string_equal(d.field, "service");
  assert_string_equal(d.value, "b");
  const char *wait = "subscription=" SUB "&service=a&wait_ms=10001";
  assert_int_equal(cu_http_query_parse(wait, strlen(wait), buf, sizeof buf, p,
                                       CU_HTTP_PARAMS_MAX, &n, NULL),
                   CUSTOS_OK);
  custos_diag_clear(&d);
  assert_int_equal(cu_http_check_req_parse(p, n, &req, &d), CUSTOS_EINVAL);
  assert_string_equal(d.field, "wait_ms");
  char many[256] = "";
  for (int i = 0; i < 17; i++)
    strcat(many, "a=1&");
  assert_int_equal(cu_http_query_parse(many, strlen(many), buf, sizeof buf, p,
                                       CU_HTTP_PARAMS_MAX, &n, NULL),
                   CUSTOS_ETOOBIG);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_keys),     cmocka_unit_test(test_codec),
      cmocka_unit_test(test_effects),  cmocka_unit_test(test_check_at),
      cmocka_unit_test(test_snapshot), cmocka_unit_test(test_state),
      cmocka_unit_test(test_query),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
