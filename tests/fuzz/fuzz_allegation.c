/* Fuzz target: the allegation parser, which reads Markdown from outside. */
#include <stdint.h>
#include <string.h>

#include "cases/cases.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cu_allegation a;
  custos_diag d;
  custos_diag_clear(&d);
  if (cu_allegation_parse("fuzz.md", (const char *)data, size, &a, &d) ==
      CUSTOS_OK) {
    /* a parsed allegation always has its parts */
    if (!a.title || !a.source || !a.date || !a.text || a.nclaims == 0)
      __builtin_trap();
    for (size_t i = 0; i < a.nclaims; i++)
      if (strlen(a.claims[i]) > CU_CLAIM_MAX_BYTES)
        __builtin_trap();
    cu_allegation_free(&a);
  } else {
    char line[2048];
    custos_diag_format(&d, line, sizeof line);
  }
  return 0;
}
