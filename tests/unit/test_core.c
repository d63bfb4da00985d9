/* Unit tests of core: result messages, allocator fault injection, bounded
 * buffers, diagnostics, encodings, hashing and time. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/core.h"

static void test_rc_messages(void **state) {
  (void)state;
  for (int i = 0; i < CUSTOS_RC_COUNT_; i++) {
    assert_non_null(custos_rc_message((custos_rc)i));
    assert_string_not_equal(custos_rc_message((custos_rc)i),
                            "unknown result code");
  }
  assert_string_equal(custos_rc_name(CUSTOS_EPARSE), "CUSTOS_EPARSE");
  assert_string_equal(custos_rc_message((custos_rc)9999),
                      "unknown result code");
  /* The numbers are ABI: they must never change. */
  assert_int_equal(CUSTOS_OK, 0);
  assert_int_equal(CUSTOS_ENOMEM, 1);
  assert_int_equal(CUSTOS_EPARSE, 7);
  assert_int_equal(CUSTOS_ESCHEMA, 9);
}

static void test_alloc_failure(void **state) {
  (void)state;
  cu_alloc_fail_after(0);
  assert_null(cu_malloc(10));
  assert_null(cu_strdup("x"));
  cu_alloc_fail_after(1);
  void *p = cu_malloc(10);
  assert_non_null(p);
  assert_null(cu_realloc(p, 100)); /* p stays valid on failure */
  cu_alloc_fail_after(-1);
  cu_free(p);
  assert_null(cu_calloc(SIZE_MAX / 2, 4)); /* overflow refused */
  cu_free(NULL);
}

static void *counting_alloc(void *ud, void *ptr, size_t size) {
  (*(int *)ud)++;
  if (size == 0) {
    free(ptr);
    return NULL;
  }
  return realloc(ptr, size);
}

static void test_custom_allocator(void **state) {
  (void)state;
  int calls = 0;
  custos_set_allocator(counting_alloc, &calls);
  char *s = cu_strdup("hello");
  cu_free(s);
  custos_set_allocator(NULL, NULL);
  assert_int_equal(calls, 2);
}

static void test_buf_cap(void **state) {
  (void)state;
  cu_buf b;
  cu_buf_init(&b, 10);
  assert_int_equal(cu_buf_puts(&b, "hello"), CUSTOS_OK);
  assert_int_equal(cu_buf_printf(&b, "%d", 12345), CUSTOS_OK);
  assert_int_equal(b.len, 10);
  assert_string_equal(b.data, "hello12345");
  /* Over the cap: refused, content unchanged. */
  assert_int_equal(cu_buf_putc(&b, 'x'), CUSTOS_ETOOBIG);
  assert_string_equal(b.data, "hello12345");
  assert_int_equal(cu_buf_append(&b, "x", SIZE_MAX), CUSTOS_ETOOBIG);
  cu_buf_reset(&b);
  assert_int_equal(b.len, 0);
  assert_string_equal(b.data, "");
  char *t = cu_buf_take(&b);
  assert_string_equal(t, "");
  cu_free(t);
  cu_buf_free(&b);
}

static void test_buf_oom(void **state) {
  (void)state;
  for (long n = 0; n < 8; n++) {
    cu_buf b;
    cu_buf_init(&b, 1 << 20);
    cu_alloc_fail_after(n);
    custos_rc rc = CUSTOS_OK;
    for (int i = 0; i < 1000 && rc == CUSTOS_OK; i++)
      rc = cu_buf_puts(&b, "0123456789");
    cu_alloc_fail_after(-1);
    if (rc != CUSTOS_OK) {
      assert_int_equal(rc, CUSTOS_ENOMEM);
      /* what was appended before the failure is intact */
      for (size_t i = 0; i < b.len; i++)
        assert_int_equal(b.data[i], '0' + (int)(i % 10));
    }
    cu_buf_free(&b);
  }
}

static void test_diag_format(void **state) {
  (void)state;
  custos_diag d;
  custos_diag_clear(&d);
  cu_diag_at(&d, "units.csv", 14, 7);
  cu_diag_field(&d, "parent_unit_id", "u\x01x\xff", 4);
  cu_diag_hint(&d, "fix it");
  assert_int_equal(cu_diag_set(&d, CUSTOS_ENOTFOUND, "parent unit not found"),
                   CUSTOS_ENOTFOUND);
  char out[512];
  custos_diag_format(&d, out, sizeof out);
  assert_string_equal(out, "units.csv:14:7: field 'parent_unit_id' value "
                           "'u\\x01x\\xff': parent unit not found (fix it)");
  /* NULL diag is fine everywhere */
  assert_int_equal(cu_diag_set(NULL, CUSTOS_EIO, "x"), CUSTOS_EIO);
  cu_diag_at(NULL, "x", 1, 1);
  /* long values are cut with "..." and keep whole characters */
  char big[1000];
  memset(big, 'a', sizeof big);
  char esc[16];
  cu_escape_display(big, sizeof big, esc, sizeof esc);
  assert_int_equal(strlen(esc), 15);
  assert_memory_equal(esc + 12, "...", 3);
  cu_escape_display("\xc3\xa9t\xc3\xa9", 5, esc, sizeof esc);
  assert_string_equal(esc, "\xc3\xa9t\xc3\xa9");
}

static void test_hex_b64(void **state) {
  (void)state;
  uint8_t raw[4] = {0xde, 0xad, 0xbe, 0xef}, back[4];
  char hex[9];
  cu_hex_encode(raw, 4, hex);
  assert_string_equal(hex, "deadbeef");
  assert_int_equal(cu_hex_decode("DEADbeef", 8, back, 4), CUSTOS_OK);
  assert_memory_equal(raw, back, 4);
  assert_int_equal(cu_hex_decode("deadbeeg", 8, back, 4), CUSTOS_EPARSE);
  assert_int_equal(cu_hex_decode("dead", 4, back, 4), CUSTOS_EPARSE);

  static const char *const vec[][2] = {{"", ""},         {"f", "Zg=="},
                                       {"fo", "Zm8="},   {"foo", "Zm9v"},
                                       {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
                                       {"foobar", "Zm9vYmFy"}};
  for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
    char enc[16];
    uint8_t dec[16];
    size_t n = 0;
    cu_b64_encode((const uint8_t *)vec[i][0], strlen(vec[i][0]), enc);
    assert_string_equal(enc, vec[i][1]);
    assert_int_equal(cu_b64_encoded_len(strlen(vec[i][0])), strlen(enc));
    assert_int_equal(cu_b64_decode(enc, strlen(enc), dec, sizeof dec, &n),
                     CUSTOS_OK);
    assert_int_equal(n, strlen(vec[i][0]));
    assert_memory_equal(dec, vec[i][0], n);
  }
  uint8_t dec[16];
  size_t n;
  /* strictness: non-canonical bits, missing padding, bad chars, placement */
  assert_int_equal(cu_b64_decode("Zh==", 4, dec, 16, &n), CUSTOS_EPARSE);
  assert_int_equal(cu_b64_decode("Zm9=", 4, dec, 16, &n), CUSTOS_EPARSE);
  assert_int_equal(cu_b64_decode("Zg", 2, dec, 16, &n), CUSTOS_EPARSE);
  assert_int_equal(cu_b64_decode("Z===", 4, dec, 16, &n), CUSTOS_EPARSE);
  assert_int_equal(cu_b64_decode("Zg==Zg==", 8, dec, 16, &n), CUSTOS_EPARSE);
  assert_int_equal(cu_b64_decode("Zm 9", 4, dec, 16, &n), CUSTOS_EPARSE);
  assert_int_equal(cu_b64_decode("Zm9vYmFy", 8, dec, 5, &n), CUSTOS_ETOOBIG);
}

static void test_utf8(void **state) {
  (void)state;
  static const struct {
    const char *s;
    size_t at;
  } cases[] = {
      {"plain", 5},
      {"caf\xc3\xa9", 5},
      {"\xe2\x82\xac!", 4},
      {"\xf0\x9f\x98\x80", 4},
      {"ab\xff", 2},
      {"a\xc0\xaf", 1},         /* overlong */
      {"a\xed\xa0\x80", 1},     /* surrogate */
      {"a\xf4\x90\x80\x80", 1}, /* above U+10FFFF */
      {"ab\xe2\x82", 2},        /* truncated */
      {"\xc3(", 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    assert_int_equal(cu_utf8_invalid_at(cases[i].s, strlen(cases[i].s)),
                     cases[i].at);
}

static void test_sha256_hmac(void **state) {
  (void)state;
  uint8_t out[32];
  char hex[65];
  cu_sha256("abc", 3, out);
  cu_hex_encode(out, 32, hex);
  assert_string_equal(
      hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  cu_sha256_ctx *ctx = NULL;
  assert_int_equal(cu_sha256_init(&ctx), CUSTOS_OK);
  cu_sha256_update(ctx, "a", 1);
  cu_sha256_update(ctx, "bc", 2);
  uint8_t out2[32];
  cu_sha256_final(ctx, out2);
  assert_memory_equal(out, out2, 32);
  /* The asynchronous context: chunks of growing size, the same digest;
   * and one dropped with work pending. */
  static unsigned char big[1 << 20];
  for (size_t i = 0; i < sizeof big; i++)
    big[i] = (unsigned char)(i * 7 + (i >> 9));
  cu_sha256(big, sizeof big, out);
  assert_int_equal(cu_sha256_init_async(&ctx), CUSTOS_OK);
  for (size_t off = 0, n = 1; off < sizeof big; n *= 3) {
    size_t k = n < sizeof big - off ? n : sizeof big - off;
    cu_sha256_update(ctx, big + off, k);
    off += k;
  }
  cu_sha256_final(ctx, out2);
  assert_memory_equal(out, out2, 32);
  assert_int_equal(cu_sha256_init_async(&ctx), CUSTOS_OK);
  cu_sha256_update(ctx, big, sizeof big);
  cu_sha256_abort(ctx);
  /* Referenced memory, given in two runs, waited for part way and then
   * whole: the wait leaves no more queued than asked, and the digest is
   * the same. */
  assert_int_equal(cu_sha256_init_async(&ctx), CUSTOS_OK);
  cu_sha256_wait_queued(ctx, 0); /* idle: returns at once */
  cu_sha256_update_ref(ctx, big, sizeof big / 2);
  cu_sha256_update_ref(ctx, big + sizeof big / 2, sizeof big / 2);
  cu_sha256_wait_queued(ctx, sizeof big / 4);
  assert_true(cu_sha256_queued(ctx) <= sizeof big / 4);
  cu_sha256_wait_queued(ctx, 0);
  assert_int_equal(cu_sha256_queued(ctx), 0);
  cu_sha256_final(ctx, out2);
  cu_sha256(big, sizeof big, out);
  assert_memory_equal(out, out2, 32);
  cu_sha256_wait_queued(NULL, 0);
  /* RFC 4231 test case 2 */
  assert_int_equal(cu_hmac_sha256((const uint8_t *)"Jefe", 4,
                                  "what do ya want for nothing?", 28, out),
                   CUSTOS_OK);
  cu_hex_encode(out, 32, hex);
  assert_string_equal(
      hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

  /* The kept keyed states against OpenSSL's HMAC: keys of every length
   * up to past a block (longer ones are not kept), changing between
   * calls and coming back, and messages across block boundaries. */
  static uint8_t msg[300];
  for (size_t i = 0; i < sizeof msg; i++)
    msg[i] = (uint8_t)(i * 31 + 7);
  for (size_t kl = 0; kl <= 80; kl++) {
    uint8_t key[80];
    for (size_t i = 0; i < kl; i++)
      key[i] = (uint8_t)(kl * 13 + i);
    for (size_t n = 0; n <= sizeof msg; n += kl % 2 ? 7 : 1) {
      const uint8_t *k2 = n % 3 ? key : (const uint8_t *)"other";
      size_t kl2 = n % 3 ? kl : 5;
      uint8_t want[32];
      unsigned int wl = 0;
      assert_non_null(HMAC(EVP_sha256(), k2, (int)kl2, msg, n, want, &wl));
      assert_int_equal(wl, 32);
      assert_int_equal(cu_hmac_sha256(k2, kl2, msg, n, out), CUSTOS_OK);
      assert_memory_equal(out, want, 32);
    }
  }

  char path[] = "/tmp/custos-test-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "abc", 3), 3);
  close(fd);
  uint64_t size = 0;
  assert_int_equal(cu_sha256_file(path, out2, &size, NULL), CUSTOS_OK);
  assert_int_equal(size, 3);
  cu_sha256("abc", 3, out);
  assert_memory_equal(out, out2, 32);
  unlink(path);
  custos_diag d;
  custos_diag_clear(&d);
  assert_int_equal(cu_sha256_file(path, out2, &size, &d), CUSTOS_ENOTFOUND);
  assert_string_equal(d.input, path);
}

static void test_time(void **state) {
  (void)state;
  static const struct {
    const char *s;
    int64_t t;
  } ok[] = {
      {"1970-01-01", 0},
      {"2025-08-06", 1754438400},
      {"2025-08-06T12:30:00Z", 1754483400},
      {"2025-08-06 12:30:00", 1754483400},
      {"2025-08-06T12:30Z", 1754483400},
      {"2025-08-06T12:30:00.000Z", 1754483400},
      {"2025-08-06T14:30:00+02:00", 1754483400},
      {"2025-08-06T10:30:00-0200", 1754483400},
      {"2024-02-29", 1709164800},
      {"1969-12-31T23:59:59Z", -1},
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    int64_t t = 0;
    assert_int_equal(cu_time_parse(ok[i].s, strlen(ok[i].s), &t), CUSTOS_OK);
    assert_int_equal(t, ok[i].t);
  }
  static const char *const bad[] = {"",           "2025-8-6",
                                    "2025-13-01", "2025-02-29",
                                    "2025-08-06T25:00:00Z", "2025-08-06X",
                                    "2025-08-06T12:30:00ZZ", "08/06/2025",
                                    "2025-08-06T12:30:00."};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int64_t t;
    assert_int_equal(cu_time_parse(bad[i], strlen(bad[i]), &t), CUSTOS_EPARSE);
  }
  char buf[32];
  cu_time_format(1754483400, buf, sizeof buf);
  assert_string_equal(buf, "2025-08-06T12:30:00Z");
  cu_time_format(-1, buf, sizeof buf);
  assert_string_equal(buf, "1969-12-31T23:59:59Z");
  cu_date_format(1754483400, buf, sizeof buf);
  assert_string_equal(buf, "2025-08-06");
  setenv("CUSTOS_NOW", "12345", 1);
  assert_int_equal(cu_time_now(), 12345);
  unsetenv("CUSTOS_NOW");
}

static void test_files(void **state) {
  (void)state;
  char dir[] = "/tmp/custos-test-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[256], sub[256];
  snprintf(path, sizeof path, "%s/f.txt", dir);
  snprintf(sub, sizeof sub, "%s/a/b/c", dir);
  assert_int_equal(cu_mkdirs(sub, 0700, NULL), CUSTOS_OK);
  assert_int_equal(cu_mkdirs(sub, 0700, NULL), CUSTOS_OK);
  assert_int_equal(cu_file_write_atomic(path, "one", 3, 0600, NULL), CUSTOS_OK);
  assert_int_equal(cu_file_write_atomic(path, "two!", 4, 0600, NULL),
                   CUSTOS_OK);
  char *data = NULL;
  size_t len = 0;
  assert_int_equal(cu_file_read(path, 100, &data, &len, NULL), CUSTOS_OK);
  assert_int_equal(len, 4);
  assert_string_equal(data, "two!");
  cu_free(data);
  custos_diag d;
  custos_diag_clear(&d);
  assert_int_equal(cu_file_read(path, 3, &data, &len, &d), CUSTOS_ETOOBIG);
  assert_string_equal(d.input, path);
  /* writing into a missing directory fails and leaves nothing behind */
  char bad[300];
  snprintf(bad, sizeof bad, "%s/missing/x", dir);
  assert_int_equal(cu_file_write_atomic(bad, "x", 1, 0600, NULL),
                   CUSTOS_ENOTFOUND);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

static void test_parse_u64(void **state) {
  (void)state;
  uint64_t v = 7;
  assert_int_equal(cu_parse_u64("0", &v), 0);
  assert_true(v == 0);
  assert_int_equal(cu_parse_u64("18446744073709551615", &v), 0);
  assert_true(v == UINT64_MAX);
  static const char *const bad[] = {"",    "18446744073709551616", "-1", "+1",
                                    " 1",  "1 ",  "1x", "0x10", "99999999999999999999"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    v = 7;
    assert_int_equal(cu_parse_u64(bad[i], &v), -1);
    assert_true(v == 7); /* untouched */
  }
  assert_int_equal(cu_parse_u64(NULL, &v), -1);
}

/* One thread of test_hmac_threads: MACs of its messages under its own
 * key, counted in bad when they differ from OpenSSL's. */
#define HT_THREADS 4
#define HT_MSGS 2000
typedef struct hmac_job {
  uint8_t key[64];
  size_t keylen;
  uint8_t want[HT_MSGS][32];
  int bad;
} hmac_job;

static void *hmac_thread(void *arg) {
  hmac_job *j = arg;
  for (int round = 0; round < 3; round++)
    for (size_t i = 0; i < HT_MSGS; i++) {
      uint8_t out[32];
      uint32_t m = (uint32_t)i;
      if (cu_hmac_sha256(j->key, j->keylen, &m, sizeof m, out) != CUSTOS_OK ||
          memcmp(out, j->want[i], 32) != 0)
        j->bad++;
    }
  return NULL;
}

/* The kept keyed state is shared by the process: threads with different
 * keys, each changing it under the others, all get the right MACs (a
 * cache without its lock mixes their states, and ThreadSanitizer sees
 * the race). */
static void test_hmac_threads(void **state) {
  (void)state;
  static hmac_job jobs[HT_THREADS];
  static const size_t lens[HT_THREADS] = {32, 32, 64, 5};
  pthread_t th[HT_THREADS];
  for (size_t t = 0; t < HT_THREADS; t++) {
    hmac_job *j = &jobs[t];
    j->keylen = lens[t];
    for (size_t i = 0; i < j->keylen; i++)
      j->key[i] = (uint8_t)(t * 101 + i);
    j->bad = 0;
    for (size_t i = 0; i < HT_MSGS; i++) {
      uint32_t m = (uint32_t)i;
      unsigned int wl = 0;
      assert_non_null(HMAC(EVP_sha256(), j->key, (int)j->keylen,
                           (const unsigned char *)&m, sizeof m, j->want[i],
                           &wl));
    }
  }
  for (size_t t = 0; t < HT_THREADS; t++)
    assert_int_equal(pthread_create(&th[t], NULL, hmac_thread, &jobs[t]), 0);
  for (size_t t = 0; t < HT_THREADS; t++)
    assert_int_equal(pthread_join(th[t], NULL), 0);
  for (size_t t = 0; t < HT_THREADS; t++)
    assert_int_equal(jobs[t].bad, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rc_messages),   cmocka_unit_test(test_alloc_failure),
      cmocka_unit_test(test_parse_u64),
      cmocka_unit_test(test_custom_allocator), cmocka_unit_test(test_buf_cap),
      cmocka_unit_test(test_buf_oom),       cmocka_unit_test(test_diag_format),
      cmocka_unit_test(test_hex_b64),       cmocka_unit_test(test_utf8),
      cmocka_unit_test(test_sha256_hmac),   cmocka_unit_test(test_hmac_threads),
      cmocka_unit_test(test_time),
      cmocka_unit_test(test_files),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
