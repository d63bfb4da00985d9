/*
 * Fuzz target for the signed-note, key and checkpoint parsers: any input is
 * parsed (and verified against a fixed key) without crashing, leaking or
 * reading out of bounds.
 */
#include <stdint.h>
#include <string.h>

#include "tlog/tlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* GCC does not let (void) discard a warn_unused_result value. */
static volatile unsigned sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char vk[] =
      "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
  cu_log_vkey key;
  if (cu_log_vkey_parse(vk, strlen(vk), &key, NULL) != CUSTOS_OK)
    return 0;
  const char *s = (const char *)data;
  cu_log_note note;
  if (cu_log_note_parse(s, size, &note, NULL) == CUSTOS_OK) {
    bool ok;
    sink += (unsigned)cu_log_note_verify(&note, &key, 1, &ok, NULL);
    cu_log_checkpoint cp;
    sink += (unsigned)cu_log_checkpoint_parse(note.text, note.text_len, &cp, NULL);
    cu_log_note_free(&note);
  }
  cu_log_checkpoint cp;
  sink += (unsigned)cu_log_checkpoint_open(s, size, &key, NULL, 0, &cp, NULL);
  sink += (unsigned)cu_log_checkpoint_parse(s, size, &cp, NULL);
  cu_log_vkey k2;
  sink += (unsigned)cu_log_vkey_parse(s, size, &k2, NULL);
  cu_log_skey sk;
  if (cu_log_skey_parse(s, size, &sk, NULL) == CUSTOS_OK)
    cu_log_skey_wipe(&sk);
  cu_log_entry e;
  sink += (unsigned)cu_log_entry_decode(data, size, &e, NULL);
  return 0;
}
