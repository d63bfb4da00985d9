/*
 * libFuzzer target for the CSV reader: reads the input from memory with
 * small caps (so refills, buffer growth and every cap are reached) and
 * checks that every field it returns is NUL-terminated and in range.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cu_csv_opts o;
  cu_csv_opts_default(&o);
  o.max_field = 64;
  o.max_record = 256;
  o.max_fields = 16;
  /* the first byte picks the delimiter and whether UTF-8 is checked */
  if (size > 0) {
    o.delim = (data[0] & 1) ? ';' : ',';
    o.check_utf8 = (data[0] & 2) == 0;
  }
  cu_csv *c;
  custos_diag d;
  custos_diag_clear(&d);
  if (cu_csv_open_mem("fuzz.csv", data, size, &o, &c, &d) != CUSTOS_OK)
    return 0;
  uint64_t last_line = 0;
  for (;;) {
    bool eof;
    custos_rc rc = cu_csv_next(c, &eof, &d);
    if (rc != CUSTOS_OK) {
      char msg[2048];
      custos_diag_format(&d, msg, sizeof msg);
      if (d.line == 0 && rc != CUSTOS_EIO)
        abort(); /* parse errors always carry a position */
      break;
    }
    if (eof)
      break;
    size_t nf = cu_csv_nfields(c);
    if (nf == 0 || nf > o.max_fields || cu_csv_line(c) <= last_line)
      abort();
    last_line = cu_csv_line(c);
    for (size_t i = 0; i < nf; i++) {
      size_t len;
      const char *f = cu_csv_field(c, i, &len);
      if (len > o.max_field || f[len] != '\0')
        abort();
      uint64_t line, col;
      cu_csv_field_pos(c, i, &line, &col);
      if (line < last_line || col == 0)
        abort();
      if (o.check_utf8 && cu_utf8_invalid_at(f, len) != len)
        abort();
    }
    if (cu_csv_offset(c) > size && !(size > 1 && data[0] == 0x1f))
      abort();
  }
  cu_csv_close(c);
  return 0;
}
