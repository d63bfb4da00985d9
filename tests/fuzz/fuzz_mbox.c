/*
 * libFuzzer target for the mbox splitter: splits the input with a small
 * message cap and checks that messages come in order, that their places
 * tile the input without overlap, that kept bytes never exceed the cap,
 * and that an untruncated message's SHA-256 is that of its bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "records/records.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cu_mbox *mb = NULL;
  if (cu_mbox_open_mem("fuzz.mbox", data, size, 64, &mb, NULL) != CUSTOS_OK)
    return 0;
  uint64_t end = 0;
  for (;;) {
    cu_mbox_msg m;
    bool eof = false;
    if (cu_mbox_next(mb, &m, &eof, NULL) != CUSTOS_OK)
      abort(); /* memory input cannot fail to read */
    if (eof)
      break;
    if (m.offset < end || m.offset + m.length > size || m.len > 64 ||
        m.total < m.len || m.truncated != (m.total > m.len))
      abort();
    end = m.offset + m.length;
    if (!m.truncated) {
      uint8_t dg[CU_SHA256_LEN];
      char hex[2 * CU_SHA256_LEN + 1];
      cu_sha256(m.data, m.len, dg);
      cu_hex_encode(dg, CU_SHA256_LEN, hex);
      if (strcmp(hex, m.sha256) != 0)
        abort();
    }
  }
  if (cu_mbox_tell(mb) != size)
    abort();
  cu_mbox_close(mb);
  return 0;
}
