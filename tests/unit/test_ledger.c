/* Unit tests of the ledger's normalisers: exact decimals with rounding
 * and overflow, units of measure, date forms, nulls, and the adapters'
 * format and version detection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ledger/ledgerInt.h"

static void test_decimal(void **state) {
  (void)state;
  static const struct {
    const char *in;
    int scale;
    int64_t want;
    bool rounded;
  } ok[] = {
      {"12.5", 10, 125000000000, false},
      {"-0.0184", 10, -184000000, false},
      {"8.080645164E+03", 9, 8080645164000, false},
      {"1e-3", 9, 1000000, false},
      {"+7", 0, 7, false},
      {".5", 1, 5, false},
      {"5.", 1, 50, false},
      {"0.00000000005", 10, 0, true},  /* half to even: down */
      {"0.00000000015", 10, 2, true},  /* half to even: up */
      {"0.000000000151", 10, 2, true},
      {"-0.00000000015", 10, -2, true},
      {"1.2345678901234567E-05", 10, 123457, true},
      {"922337203.6854775807", 10, INT64_MAX, false},
      {"0000000000000000000000000000000000000001", 0, 1, false},
      {"1E+3", 0, 1000, false},
      {"0e99999", 10, 0, false},
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    int64_t v = -1;
    bool r = !ok[i].rounded;
    assert_int_equal(cu_ledger_decimal(ok[i].in, strlen(ok[i].in),
                                       ok[i].scale, &v, &r),
                     CUSTOS_OK);
    assert_true(v == ok[i].want);
    assert_int_equal(r, ok[i].rounded);
  }
  static const char *const bad[] = {"", "-", "1.2.3", "1e", "1e+", "abc",
                                    "1,5", "1 ", " 1", "0x10", "NaN", "inf"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int64_t v;
    assert_int_equal(cu_ledger_decimal(bad[i], strlen(bad[i]), 10, &v, NULL),
                     CUSTOS_EPARSE);
  }
  int64_t v;
  assert_int_equal(cu_ledger_decimal("922337203.6854775808", 20, 10, &v, NULL),
                   CUSTOS_ETOOBIG);
  assert_int_equal(cu_ledger_decimal("1e30", 4, 10, &v, NULL), CUSTOS_ETOOBIG);
  char buf[64];
  assert_string_equal(cu_ledger_decimal_format(125000000000, 10, buf, 64),
                      "12.5");
  assert_string_equal(cu_ledger_decimal_format(-184000000, 10, buf, 64),
                      "-0.0184");
  assert_string_equal(cu_ledger_decimal_format(0, 10, buf, 64), "0");
  __int128 big = (__int128)INT64_MAX * 1000;
  assert_string_equal(cu_ledger_decimal_format(big, 10, buf, 64),
                      "922337203685.4775807");
  assert_true(cu_ledger_scale_qty(5, 1000, &v) && v == 5000);
  assert_false(cu_ledger_scale_qty(INT64_MAX / 10, 1000, &v));
}

/* The fast path (plain digits and a point, eight digits at a time) gives
 * what the general parser gives: the same number with "e0" appended
 * takes the general one. */
static void test_decimal_fast(void **state) {
  (void)state;
  uint64_t x = 42;
  for (int iter = 0; iter < 200000; iter++) {
    char in[48], slow[52];
    size_t n = 0;
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    uint64_t r = x >> 11;
    if (r % 5 == 0)
      in[n++] = r % 3 ? '-' : '+';
    r /= 5;
    size_t nd = (size_t)(r % 24);
    r /= 24;
    size_t point = r % 3 ? (size_t)(r / 3 % (nd + 1)) : SIZE_MAX;
    r /= 3 * 25;
    for (size_t k = 0; k < nd; k++) {
      if (k == point)
        in[n++] = '.';
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      unsigned dg = (unsigned)(x >> 60) % 10;
      in[n++] = (char)('0' + (k < 4 && (x >> 40) % 3 == 0 ? 0 : dg));
    }
    if (point == nd)
      in[n++] = '.';
    if (n && r % 41 == 0)
      in[(r >> 8) % n] = (char)"/:x, "[(r >> 16) % 5]; /* not a digit */
    int scale = (int)((x >> 20) % 19);
    memcpy(slow, in, n);
    memcpy(slow + n, "e0", 2);
    int64_t a = 0, b = 0;
    bool ra = false, rb = false;
    custos_rc ca = cu_ledger_decimal(in, n, scale, &a, &ra);
    custos_rc cb = cu_ledger_decimal(slow, n + 2, scale, &b, &rb);
    if (n == 0)
      continue; /* "" is no number, "e0" neither, but both EPARSE */
    if (ca != cb || (ca == CUSTOS_OK && (a != b || ra != rb)))
      print_message("'%.*s' scale %d: %d %lld %d, %d %lld %d\n", (int)n, in,
                    scale, (int)ca, (long long)a, ra, (int)cb, (long long)b,
                    rb);
    assert_int_equal(ca, cb);
    if (ca == CUSTOS_OK) {
      assert_true(a == b);
      assert_int_equal(ra, rb);
    }
  }
}

/* One string through cu_ledger_decimal and its careful path at scale:
 * the same result code and, when it parses, the same value and rounding
 * flag; on failure neither writes. */
static void same_as_careful(const char *in, size_t n, int scale) {
  int64_t a = 0x5a5a, b = 0x5a5a;
  bool ra = true, rb = true;
  custos_rc ca = cu_ledger_decimal(in, n, scale, &a, &ra);
  custos_rc cb = cu_ledger_decimal_careful(in, n, scale, &b, &rb);
  if (ca != cb || a != b || ra != rb)
    print_message("'%.*s' scale %d: fast %d %lld %d, careful %d %lld %d\n",
                  (int)n, in, scale, (int)ca, (long long)a, ra, (int)cb,
                  (long long)b, rb);
  assert_int_equal(ca, cb);
  assert_true(a == b);
  assert_int_equal(ra, rb);
}

/* cu_ledger_decimal, fast path and all, against its careful path:
 * every length up to 21 digits and position of the point with each
 * sign, runs of zeros and nines, the edges of int64 at each scale, and
 * random strings of digits, points, signs, exponents and other bytes
 * (high ones too), at every scale. */
static void test_decimal_paths(void **state) {
  (void)state;
  char in[64];
  /* Every length up to 21 digits, the point anywhere or nowhere. */
  for (size_t nd = 0; nd <= 21; nd++) {
    for (size_t point = 0; point <= nd + 1; point++) { /* nd + 1: none */
      for (int sign = 0; sign < 3; sign++) {
        for (int pat = 0; pat < 4; pat++) {
          size_t n = 0;
          if (sign)
            in[n++] = sign == 1 ? '-' : '+';
          for (size_t k = 0; k <= nd; k++) {
            if (k == point)
              in[n++] = '.';
            if (k == nd)
              break;
            char c = pat == 0   ? (char)('1' + (k * 7 + nd) % 9)
                     : pat == 1 ? '9'
                     : pat == 2 ? (k < 3 ? '0' : (char)('0' + k % 10))
                                : '0';
            in[n++] = c;
          }
          for (int scale = 0; scale <= 18; scale++)
            same_as_careful(in, n, scale);
        }
      }
    }
  }
  /* The edges of int64 at each scale: INT64_MAX's digits with the point
   * where scale puts it, the last digit one down and one up, and a
   * digit more. */
  for (int scale = 0; scale <= 18; scale++) {
    for (int sh = -2; sh <= 2; sh++) {
      static const char *const edges[] = {"9223372036854775807",
                                          "9223372036854775808",
                                          "9223372036854775806",
                                          "92233720368547758070",
                                          "922337203685477580"};
      for (size_t e = 0; e < sizeof edges / sizeof edges[0]; e++) {
        size_t nd = strlen(edges[e]);
        for (size_t cut = 1; cut <= nd; cut++) {
          size_t n = 0;
          in[n++] = '-';
          int pos = (int)cut - scale + sh;
          for (size_t k = 0; k < cut; k++) {
            if ((int)k == pos && pos > 0)
              in[n++] = '.';
            in[n++] = edges[e][k];
          }
          same_as_careful(in, n, scale);
          same_as_careful(in + 1, n - 1, scale);
        }
      }
    }
  }
  /* Random strings, mostly digits with a point. */
  static const char alpha[] = "0123456789.+-eE x\x80\xff/";
  uint64_t x = 7;
  for (int iter = 0; iter < 400000; iter++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    uint64_t r = x >> 8;
    size_t n = (size_t)(r % 24);
    r /= 24;
    int odd = (int)(r % 8); /* 0: one other byte anywhere */
    r /= 8;
    size_t point = (size_t)(r % (n + 2));
    for (size_t k = 0; k < n; k++) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      in[k] = (char)('0' + (x >> 59) % 10);
      if ((x >> 20) % 4 == 0)
        in[k] = '0';
    }
    if (point < n)
      in[point] = '.';
    if (n && odd == 0)
      in[(x >> 30) % n] = alpha[(x >> 40) % (sizeof alpha - 1)];
    if (n && odd == 1)
      in[0] = (x >> 45) & 1 ? '-' : '+';
    same_as_careful(in, n, (int)((x >> 50) % 19));
  }
}

static void test_units(void **state) {
  (void)state;
  static const struct {
    const char *in, *name;
    uint64_t mult;
  } cases[] = {
      {"GB-Month", "GB-month", 1},   {"GB-Months", "GB-month", 1},
      {"GB/Month", "GB-month", 1},   {"GB-Mo", "GB-month", 1},
      {"1 GB/Month", "GB-month", 1}, {"10 GB/Month", "GB-month", 10},
      {"Hours", "hours", 1},         {"Hrs", "hours", 1},
      {"100 Hours", "hours", 100},   {"Hours (of audio)", "hours", 1},
      {"1K Requests", "requests", 1000}, {"1000 Tokens", "tokens", 1000},
      {"1K Tokens", "tokens", 1000}, {"10K", "units", 10000},
      {"1M Characters", "characters", 1000000},
      {"10K Operations", "operations", 10000},
      {"", "units", 1},              {"Widgets", "widgets", 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cu_ledger_unit u;
    assert_int_equal(
        cu_ledger_unit_parse(cases[i].in, strlen(cases[i].in), &u), CUSTOS_OK);
    assert_string_equal(u.name, cases[i].name);
    assert_true(u.multiplier == cases[i].mult);
  }
  cu_ledger_unit u;
  assert_int_equal(cu_ledger_unit_parse("0 Hours", 7, &u), CUSTOS_EPARSE);
}

static void test_time(void **state) {
  (void)state;
  static const char *const same[] = {
      "2025-06-01T00:00:00Z",     "2025-06-01 00:00:00",
      "2025-06-01T00:00:00.000Z", "2025-06-01T00:00Z",
      "2025-06-01",               "06/01/2025",
      "6/1/2025",                 "06/01/2025 00:00:00",
      "2025-06-01T02:00:00+02:00"};
  int64_t want;
  assert_int_equal(cu_time_parse("2025-06-01", 10, &want), CUSTOS_OK);
  for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
    int64_t t = 0;
    assert_int_equal(cu_ledger_time(same[i], strlen(same[i]), &t), CUSTOS_OK);
    assert_true(t == want);
  }
  static const char *const bad[] = {"", "2025-13-01", "13/01/2025",
                                    "06/01/25", "2025/06/01", "yesterday"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int64_t t;
    assert_int_not_equal(cu_ledger_time(bad[i], strlen(bad[i]), &t),
                         CUSTOS_OK);
  }
  assert_true(cu_ledger_is_null("", 0));
  assert_true(cu_ledger_is_null("NULL", 4));
  assert_true(cu_ledger_is_null("null", 4));
  assert_false(cu_ledger_is_null("0", 1));
}

static void detect(const char *header, cu_ledger_format want,
                   const char *name) {
  const char *names[64];
  size_t lens[64], n = 0;
  const char *p = header;
  while (*p && n < 64) {
    const char *e = strchr(p, ',');
    size_t l = e ? (size_t)(e - p) : strlen(p);
    names[n] = p;
    lens[n++] = l;
    p += l + (e ? 1 : 0);
  }
  cu_ledger_adapter a;
  assert_int_equal(cu_ledger_adapter_init(&a, CU_LEDGER_AUTO, names, lens, n,
                                          NULL),
                   CUSTOS_OK);
  assert_int_equal(a.format, want);
  assert_string_equal(a.name, name);
}

static void test_adapters(void **state) {
  (void)state;
  detect("BillingAccountId,BilledCost,ChargePeriodStart,ServiceName,InvoiceId",
         CU_LEDGER_FOCUS, "focus-1.2");
  detect("BillingAccountId,BilledCost,ChargePeriodStart,ServiceName,SkuMeter",
         CU_LEDGER_FOCUS, "focus-1.1");
  detect("BillingAccountId,BilledCost,ChargePeriodStart,ServiceName,"
         "ConsumedQuantity",
         CU_LEDGER_FOCUS, "focus-1.0");
  detect("BillingAccountId,BilledCost,ChargePeriodStart,ServiceName,"
         "UsageQuantity,Region",
         CU_LEDGER_FOCUS, "focus-1.0-preview");
  detect("BillingAccountId,SubscriptionId,Date,MeterCategory,"
         "CostInBillingCurrency,AccountOwnerId",
         CU_LEDGER_AZURE, "azure-ea");
  detect("billingAccountId,subscriptionId,date,meterCategory,"
         "costInBillingCurrency",
         CU_LEDGER_AZURE, "azure-mca");
  detect("bill_payer_account_id,line_item_usage_start_date,"
         "line_item_product_code,line_item_unblended_cost",
         CU_LEDGER_AWS, "aws-cur-2.0");
  const char *names[] = {"foo", "bar"};
  size_t lens[] = {3, 3};
  cu_ledger_adapter a;
  custos_diag d;
  custos_diag_clear(&d);
  assert_int_equal(
      cu_ledger_adapter_init(&a, CU_LEDGER_AUTO, names, lens, 2, &d),
      CUSTOS_EPARSE);
  const char *f[] = {"BillingAccountId", "BilledCost", "ServiceName"};
  size_t fl[] = {16, 10, 11};
  custos_diag_clear(&d);
  assert_int_equal(cu_ledger_adapter_init(&a, CU_LEDGER_AUTO, f, fl, 3, &d),
                   CUSTOS_EPARSE);
  assert_string_equal(d.field, "ChargePeriodStart");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_decimal),
      cmocka_unit_test(test_decimal_fast),
      cmocka_unit_test(test_decimal_paths),
      cmocka_unit_test(test_units),
      cmocka_unit_test(test_time),
      cmocka_unit_test(test_adapters),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
