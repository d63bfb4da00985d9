/* Concurrency of the decision point: many reader threads check while one
 * writer keeps swapping tables (put, lift, re-put).  Readers must never
 * see a torn table and the answers that do not depend on the flipping
 * block must never change.  Run under ThreadSanitizer by scripts/test
 * (build-tsan); under ASan it also catches a table freed too early. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pdp/pdp.h"

#define READERS 8
#define SWAPS 300
#define FIXED "11111111-2222-4333-8444-555555555555"
#define FLIP "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
#define FREE "99999999-8888-4777-8666-555555555555"

static _Atomic int done;
static _Atomic long errors;
static _Atomic long checks;

static cu_pdp_block blk(const char *sub, const char *owner,
                        custos_pdp_effect e, int64_t rev) {
  cu_pdp_block b;
  memset(&b, 0, sizeof b);
  snprintf(b.subscription, sizeof b.subscription, "%s", sub);
  snprintf(b.service, sizeof b.service, "storage");
  snprintf(b.region, sizeof b.region, "*");
  snprintf(b.owner, sizeof b.owner, "%s", owner);
  snprintf(b.case_id, sizeof b.case_id, "CASE-%lld", (long long)rev);
  b.effect = e;
  b.revision = rev;
  return b;
}

static void *reader_main(void *arg) {
  custos_pdp *p = arg;
  long n = 0;
  uint64_t last_rev = 0;
  while (!atomic_load(&done)) {
    custos_pdp_decision d;
    if (custos_pdp_check(p, FIXED, "storage", "azure:westeurope",
                         CUSTOS_PDP_READ, &d) != CUSTOS_OK ||
        d.allow || strcmp(d.owner, "aup") != 0 ||
        strcmp(d.case_id, "CASE-1") != 0)
      atomic_fetch_add(&errors, 1);
    if (d.revision < last_rev) /* revisions never go back */
      atomic_fetch_add(&errors, 1);
    last_rev = d.revision;
    if (custos_pdp_check(p, FREE, "storage", "azure:westeurope",
                         CUSTOS_PDP_CREATE, &d) != CUSTOS_OK ||
        !d.allow)
      atomic_fetch_add(&errors, 1);
    if (custos_pdp_check(p, FLIP, "storage", NULL, CUSTOS_PDP_CREATE, &d) !=
            CUSTOS_OK ||
        (!d.allow && strncmp(d.case_id, "CASE-", 5) != 0))
      atomic_fetch_add(&errors, 1);
    n += 3;
  }
  custos_pdp_thread_done(p);
  atomic_fetch_add(&checks, n);
  return NULL;
}

static void test_readers_during_swaps(void **state) {
  (void)state;
  custos_pdp_config c;
  custos_pdp_config_init(&c);
  custos_pdp *p = NULL;
  assert_int_equal(custos_pdp_open(&c, &p, NULL), CUSTOS_OK);
  cu_pdp_block fixed = blk(FIXED, "aup", CUSTOS_PDP_DENY_ALL, 1);
  assert_int_equal(cu_pdp_apply(p, &fixed, 1, 1, NULL), CUSTOS_OK);

  pthread_t th[READERS];
  for (int i = 0; i < READERS; i++)
    assert_int_equal(pthread_create(&th[i], NULL, reader_main, p), 0);
  for (int i = 0; i < SWAPS; i++) {
    int64_t rev = 2 + i;
    cu_pdp_block b = blk(FLIP, i % 3 == 2 ? "legal" : "billing",
                         i % 2 ? CUSTOS_PDP_EFFECT_NONE : CUSTOS_PDP_DENY_NEW,
                         rev);
    assert_int_equal(cu_pdp_apply(p, &b, 1, (uint64_t)rev, NULL), CUSTOS_OK);
  }
  atomic_store(&done, 1);
  for (int i = 0; i < READERS; i++)
    pthread_join(th[i], NULL);
  custos_pdp_status st;
  custos_pdp_status_get(p, &st);
  assert_int_equal(st.revision, SWAPS + 1);
  custos_pdp_close(p);
  printf("%ld checks by %d threads across %d swaps\n", atomic_load(&checks),
         READERS, SWAPS);
  assert_int_equal(atomic_load(&errors), 0);
  assert_true(atomic_load(&checks) > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_readers_during_swaps),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
