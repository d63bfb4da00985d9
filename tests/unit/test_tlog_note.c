/*
 * Signed notes, keys, checkpoints and cosignatures: the published signed-note
 * example verifies with its key and fails after any byte changes; signing
 * reproduces it; malformed notes, keys and checkpoints are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tlog/tlog.h"

/* The example of the C2SP signed-note format as published with Go's
 * golang.org/x/mod/sumdb/note (the reference the C2SP specification was
 * written from), with its published verifier and signer keys. */
static const char peter_vkey[] =
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
static const char peter_skey[] =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
static const char peter_text[] =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n";
static const char peter_note[] =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
    "\n"
    "\xe2\x80\x94 PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

/* The example note of the C2SP signed-note specification itself; its key
 * is not published, so it is only parsed. */
static const char quasimodo_note[] =
    "Ognuno sta solo sul cuor della terra\n"
    "trafitto da un raggio di sole:\n"
    "\n"
    "ed \xc3\xa8 subito sera.\n"
    "\n"
    "\xe2\x80\x94 quasimodo.example/salvatore "
    "NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n";

static custos_rc open_note(const char *s, size_t n, const cu_log_vkey *k) {
  cu_log_note note;
  custos_rc rc = cu_log_note_parse(s, n, &note, NULL);
  if (rc != CUSTOS_OK)
    return rc;
  rc = cu_log_note_verify(&note, k, 1, NULL, NULL);
  cu_log_note_free(&note);
  return rc;
}

static void test_published_example(void **state) {
  (void)state;
  cu_log_vkey k;
  assert_int_equal(cu_log_vkey_parse(peter_vkey, strlen(peter_vkey), &k, NULL),
                   CUSTOS_OK);
  assert_string_equal(k.name, "PeterNeumann");
  assert_int_equal(k.id, 0xc74f20a3);
  size_t n = strlen(peter_note);
  assert_int_equal(open_note(peter_note, n, &k), CUSTOS_OK);

  /* Any changed byte, in the text, the name or the signature, fails. */
  char buf[sizeof peter_note];
  for (size_t i = 0; i < n; i++) {
    for (int bit = 0; bit < 8; bit += 3) {
      memcpy(buf, peter_note, sizeof buf);
      buf[i] = (char)(buf[i] ^ (1 << bit));
      if (open_note(buf, n, &k) == CUSTOS_OK)
        fail_msg("note verified after flipping bit %d of byte %zu", bit, i);
    }
  }

  /* Signing the text with the published signer key gives the same note
   * (Ed25519 is deterministic), and the key round-trips. */
  cu_log_skey sk;
  assert_int_equal(cu_log_skey_parse(peter_skey, strlen(peter_skey), &sk, NULL),
                   CUSTOS_OK);
  assert_memory_equal(sk.pub.pub, k.pub, 32);
  char out[256];
  assert_int_equal(cu_log_skey_format(&sk, out, sizeof out), CUSTOS_OK);
  assert_string_equal(out, peter_skey);
  assert_int_equal(cu_log_vkey_format(&k, out, sizeof out), CUSTOS_OK);
  assert_string_equal(out, peter_vkey);
  cu_buf b;
  cu_buf_init(&b, 4096);
  assert_int_equal(cu_log_note_sign(peter_text, strlen(peter_text), &sk, 0, &b,
                                    NULL),
                   CUSTOS_OK);
  assert_string_equal(b.data, peter_note);
  cu_buf_free(&b);
  cu_log_skey_wipe(&sk);
}

static void test_spec_example_parses(void **state) {
  (void)state;
  cu_log_note note;
  assert_int_equal(cu_log_note_parse(quasimodo_note, strlen(quasimodo_note),
                                     &note, NULL),
                   CUSTOS_OK);
  assert_int_equal(note.nsigs, 1);
  assert_string_equal(note.sigs[0].name, "quasimodo.example/salvatore");
  assert_int_equal(note.sigs[0].sig_len, 64);
  /* The text keeps its inner blank line; the last one separates. */
  assert_int_equal(note.text_len,
                   (size_t)(strstr(quasimodo_note, "\n\n\xe2") -
                            quasimodo_note) + 1);
  cu_log_vkey k;
  assert_int_equal(cu_log_vkey_parse(peter_vkey, strlen(peter_vkey), &k, NULL),
                   CUSTOS_OK);
  custos_diag d;
  custos_diag_clear(&d);
  assert_int_equal(cu_log_note_verify(&note, &k, 1, NULL, &d), CUSTOS_EVERIFY);
  assert_non_null(strstr(d.msg, "known key"));
  cu_log_note_free(&note);
}

static void test_malformed_keys(void **state) {
  (void)state;
  static const char *const bad[] = {
      "",
      "PeterNeumann",
      "PeterNeumann+c74f20a3",
      "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", /* no name */
      "Peter+Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
      "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
      "Peter\tNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
      "Peter\x01Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
      "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
      "PeterNeumann+c74f20a33+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
      "PeterNeumann+c74f20ag+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
      "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
      /* a '+' inside the base64: wrong length */
      "PeterNeumann+c74f20a3+ARpc2QcUPDhMQeg+wxbzhKqiBfsVkmqq/LDE4izWy10TW",
      "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",
      "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW=",
      "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWAA==",
      /* non-canonical: the last character's low bits are not zero ("X") */
      "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TX",
      "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T\n",
      /* type 0x02 (ECDSA) is not supported */
      "PeterNeumann+c74f20a3+Alpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
  };
  for (size_t i = 0; i < CU_ARRAY_LEN(bad); i++) {
    cu_log_vkey k;
    custos_diag d;
    custos_diag_clear(&d);
    if (cu_log_vkey_parse(bad[i], strlen(bad[i]), &k, &d) == CUSTOS_OK)
      fail_msg("key %zu accepted: %s", i, bad[i]);
    assert_int_equal(d.rc, CUSTOS_EPARSE);
    assert_true(d.msg[0] != '\0' && d.hint[0] != '\0');
  }
  /* A '+' that is part of the base64 is fine: split on the first two. */
  cu_log_skey sk;
  assert_int_equal(cu_log_skey_parse(peter_skey, strlen(peter_skey), &sk, NULL),
                   CUSTOS_OK);
  cu_log_skey_wipe(&sk);
  assert_int_not_equal(cu_log_skey_parse(peter_vkey, strlen(peter_vkey), &sk,
                                         NULL),
                       CUSTOS_OK);
}

static void test_malformed_notes(void **state) {
  (void)state;
  char sig[] = "\xe2\x80\x94 PeterNeumann "
               "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZ"
               "SNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
  static const char *const bad[] = {
      "",
      "text\n",
      "text\n\n",
      "text\n\n\xe2\x80\x94 PeterNeumann\n",
      "text\n\n- PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
      "text\n\n\xe2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
      "te\rxt\n\n\xe2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
      "te\xffxt\n\n\xe2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
      "text\n\n\xe2\x80\x94  x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
      "text\n\n\xe2\x80\x94 Peter+Neumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
      "text\n\n\xe2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM\n",
      "text\n\n\xe2\x80\x94 PeterNeumann x08g\n",
      "text\n\n\xe2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n\n",
  };
  for (size_t i = 0; i < CU_ARRAY_LEN(bad); i++) {
    cu_log_note note;
    custos_diag d;
    custos_diag_clear(&d);
    if (cu_log_note_parse(bad[i], strlen(bad[i]), &note, &d) == CUSTOS_OK)
      fail_msg("note %zu accepted", i);
    assert_true(d.msg[0] != '\0');
  }
  /* 100 signatures are accepted, 101 refused. */
  cu_buf b;
  cu_buf_init(&b, 1 << 20);
  assert_int_equal(cu_buf_puts(&b, "text\n\n"), CUSTOS_OK);
  for (int i = 0; i < 100; i++)
    assert_int_equal(cu_buf_puts(&b, sig), CUSTOS_OK);
  cu_log_note note;
  assert_int_equal(cu_log_note_parse(b.data, b.len, &note, NULL), CUSTOS_OK);
  assert_int_equal(note.nsigs, 100);
  cu_log_note_free(&note);
  assert_int_equal(cu_buf_puts(&b, sig), CUSTOS_OK);
  custos_diag d;
  custos_diag_clear(&d);
  assert_int_equal(cu_log_note_parse(b.data, b.len, &note, &d), CUSTOS_ETOOBIG);
  assert_non_null(strstr(d.msg, "100"));
  cu_buf_free(&b);
}

static void test_checkpoints(void **state) {
  (void)state;
  cu_log_checkpoint cp;
  static const char ok[] = "example.com/behind-the-sofa\n20852163\n"
                           "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
  assert_int_equal(cu_log_checkpoint_parse(ok, strlen(ok), &cp, NULL),
                   CUSTOS_OK);
  assert_string_equal(cp.origin, "example.com/behind-the-sofa");
  assert_int_equal(cp.size, 20852163);
  static const char ext[] = "o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
                            "extension\n";
  assert_int_equal(cu_log_checkpoint_parse(ext, strlen(ext), &cp, NULL),
                   CUSTOS_OK);
  assert_int_equal(cp.size, 0);
  static const char *const bad[] = {
      "o\n020852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
      "o\n00\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
      "o\n+1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
      "o\n-1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
      "o\n1 \nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
      "o\n18446744073709551616\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
      "o\n\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
      "\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
      "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2=\n",
      "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n",
      "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n",
      "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n",
      "o\n1\n",
      "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=",
  };
  for (size_t i = 0; i < CU_ARRAY_LEN(bad); i++) {
    custos_diag d;
    custos_diag_clear(&d);
    if (cu_log_checkpoint_parse(bad[i], strlen(bad[i]), &cp, &d) == CUSTOS_OK)
      fail_msg("checkpoint %zu accepted", i);
    assert_int_equal(d.rc, CUSTOS_EPARSE);
  }
}

/* A checkpoint signed by a log and cosigned by a witness (type 0x04). */
static void test_cosignature(void **state) {
  (void)state;
  cu_log_skey logk, witk, other;
  assert_int_equal(cu_log_skey_generate("custos.example/log",
                                        CU_LOG_SIG_ED25519, &logk, NULL),
                   CUSTOS_OK);
  assert_int_equal(cu_log_skey_generate("witness.example/w1",
                                        CU_LOG_SIG_COSIG_V1, &witk, NULL),
                   CUSTOS_OK);
  assert_int_equal(cu_log_skey_generate("witness.example/w2",
                                        CU_LOG_SIG_COSIG_V1, &other, NULL),
                   CUSTOS_OK);
  static const char text[] = "custos.example/log\n5\n"
                             "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
  cu_buf a, w;
  cu_buf_init(&a, 8192);
  cu_buf_init(&w, 8192);
  assert_int_equal(cu_log_note_sign(text, strlen(text), &logk, 0, &a, NULL),
                   CUSTOS_OK);
  assert_int_equal(cu_log_note_sign(text, strlen(text), &witk, 1700000000, &w,
                                    NULL),
                   CUSTOS_OK);
  /* Append the witness's signature line to the log's note. */
  assert_int_equal(cu_buf_puts(&a, w.data + strlen(text) + 1), CUSTOS_OK);
  cu_log_checkpoint cp;
  assert_int_equal(cu_log_checkpoint_open(a.data, a.len, &logk.pub, &witk.pub,
                                          1, &cp, NULL),
                   CUSTOS_OK);
  assert_int_equal(cp.size, 5);
  /* A required witness that did not cosign refuses the checkpoint. */
  custos_diag d;
  custos_diag_clear(&d);
  assert_int_equal(cu_log_checkpoint_open(a.data, a.len, &logk.pub, &other.pub,
                                          1, &cp, &d),
                   CUSTOS_EVERIFY);
  assert_non_null(strstr(d.msg, "witness"));
  /* A cosignature that does not verify refuses the whole note. */
  char *sigl = strstr(a.data, "witness.example/w1 ");
  assert_non_null(sigl);
  sigl[strlen("witness.example/w1 ") + 20] ^= 1;
  assert_int_not_equal(cu_log_checkpoint_open(a.data, a.len, &logk.pub,
                                              &witk.pub, 1, &cp, NULL),
                       CUSTOS_OK);
  /* The witness key round-trips through its vkey. */
  char vk[256];
  cu_log_vkey back;
  assert_int_equal(cu_log_vkey_format(&witk.pub, vk, sizeof vk), CUSTOS_OK);
  assert_int_equal(cu_log_vkey_parse(vk, strlen(vk), &back, NULL), CUSTOS_OK);
  assert_int_equal(back.type, CU_LOG_SIG_COSIG_V1);
  cu_buf_free(&a);
  cu_buf_free(&w);
  cu_log_skey_wipe(&logk);
  cu_log_skey_wipe(&witk);
  cu_log_skey_wipe(&other);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_published_example),
      cmocka_unit_test(test_spec_example_parses),
      cmocka_unit_test(test_malformed_keys),
      cmocka_unit_test(test_malformed_notes),
      cmocka_unit_test(test_checkpoints),
      cmocka_unit_test(test_cosignature),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
