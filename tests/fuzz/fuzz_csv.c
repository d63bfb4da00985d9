/*
 * libFuzzer target for the CSV reader: reads the input from memory with
 * small caps (so refills, buffer growth and every cap are reached) and
 * checks that every field it returns is NUL-terminated and in range; then
 * reads it from a mapped file in place (raw_fields) against the careful
 * scanner, the file's size put right at or next to a page boundary.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create */
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Reads data with the fast path and with the careful scanner alone, in
 * step, and aborts when they say anything different: records, fields,
 * quoting, positions, offsets, or the error with its position.  With
 * nsel > 0 the fast path makes only the fields sel[0..nsel) and field 0
 * (cu_csv_select), and only those are compared; then it also keeps its
 * buffers (keep_buffers), releasing them record by record.
 */
/* With path (a file holding data) both read the file, the fast one with
 * raw_fields, so in place; its escaped fields are unescaped to be
 * compared. */
static void same_both_ways(const uint8_t *data, size_t size,
                           const cu_csv_opts *o, const int *sel,
                           size_t nsel, const char *path) {
  cu_csv_opts so = *o, ao = *o;
  so.slow_scan = true;
  ao.keep_buffers = nsel > 0;
  ao.raw_fields = path != NULL;
  cu_csv *a, *b;
  custos_diag da, db;
  custos_diag_clear(&da);
  custos_diag_clear(&db);
  custos_rc ra = path ? cu_csv_open(path, &ao, &a, &da)
                      : cu_csv_open_mem("fuzz.csv", data, size, &ao, &a, &da);
  custos_rc rb = path ? cu_csv_open(path, &so, &b, &db)
                      : cu_csv_open_mem("fuzz.csv", data, size, &so, &b, &db);
  if (ra != rb)
    abort();
  if (ra == CUSTOS_OK && nsel && cu_csv_select(a, sel, nsel, &da) != CUSTOS_OK)
    abort();
  while (ra == CUSTOS_OK) {
    bool ea = false, eb = false;
    ra = cu_csv_next(a, &ea, &da);
    rb = cu_csv_next(b, &eb, &db);
    if (ra != rb || ea != eb)
      abort();
    if (ra != CUSTOS_OK || ea)
      break;
    size_t nf = cu_csv_nfields(a);
    if (nf != cu_csv_nfields(b) || cu_csv_line(a) != cu_csv_line(b) ||
        cu_csv_record(a) != cu_csv_record(b) ||
        cu_csv_offset(a) != cu_csv_offset(b))
      abort();
    for (size_t i = 0; i < nf; i++) {
      bool want = nsel == 0 || i == 0;
      for (size_t k = 0; k < nsel; k++)
        want = want || (size_t)sel[k] == i;
      if (!want)
        continue;
      size_t la, lb;
      const char *fa = cu_csv_field(a, i, &la), *fb = cu_csv_field(b, i, &lb);
      char un[512];
      if (cu_csv_escaped(a, i)) {
        if (!path || !cu_csv_quoted(a, i) || la > sizeof un)
          abort();
        size_t ul = cu_csv_unescape(un, fa, la);
        if (ul >= la)
          abort();
        fa = un;
        la = ul;
      } else if (!path && fa[la] != '\0') {
        abort();
      }
      uint64_t lna, lnb, ca, cb;
      cu_csv_field_pos(a, i, &lna, &ca);
      cu_csv_field_pos(b, i, &lnb, &cb);
      if (la != lb || memcmp(fa, fb, la) != 0 || lna != lnb || ca != cb ||
          cu_csv_quoted(a, i) != cu_csv_quoted(b, i))
        abort();
    }
    cu_csv_release(a, cu_csv_buffer(a));
  }
  if (ra != CUSTOS_OK) {
    char ma[2048], mb[2048];
    if (strcmp(custos_diag_format(&da, ma, sizeof ma),
               custos_diag_format(&db, mb, sizeof mb)) != 0)
      abort();
  }
  cu_csv_close(a);
  cu_csv_close(b);
}

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
  /* the second byte picks two fields for a selection */
  int sel[2] = {1, 3};
  if (size > 1) {
    sel[0] = data[1] & 15;
    sel[1] = data[1] >> 4;
  }
  /* both fast paths (with AVX2 where the CPU has it, and without) */
  for (int narrow = 0; narrow < 2; narrow++) {
    o.narrow_scan = narrow;
    same_both_ways(data, size, &o, NULL, 0, NULL);
    same_both_ways(data, size, &o, sel, 2, NULL);
  }

  /* In place: the data after plain records that make the file a page
   * multiple, one byte less or one more, so that its last records end
   * at the mapping's end; the reader enters the mapping once its small
   * first buffer (the caps) is read. */
  size_t target = ((size + 300) / 4096 + 1) * 4096 + size % 3 - 1;
  size_t lead = target - size;
  uint8_t *file = malloc(target);
  if (!file)
    return 0;
  size_t k = 0;
  for (; k + 4 <= lead; k += 4)
    memcpy(file + k, "a,b\n", 4);
  for (; k < lead; k++)
    file[k] = '\n';
  memcpy(file + lead, data, size);
  int fd = memfd_create("fuzz-csv", MFD_CLOEXEC);
  if (fd >= 0 && write(fd, file, target) == (ssize_t)target) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    for (int narrow = 0; narrow < 2; narrow++) {
      o.narrow_scan = narrow;
      same_both_ways(NULL, 0, &o, sel, 2, path);
    }
  }
  if (fd >= 0)
    close(fd);
  free(file);
  return 0;
}
