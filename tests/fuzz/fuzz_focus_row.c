/*
 * libFuzzer target for the usage row normaliser: the input is a CSV file
 * whose first record is the header.  Each row goes through the adapter,
 * the amounts and the key normaliser; every field also goes through the
 * decimal parser, whose result must format and parse back to itself and
 * match its careful path's (value, rounding flag and error alike).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/csv.h"
#include "ledger/ledgerInt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const cu_catalog *cat = NULL;
  if (cu_catalog_get(&cat, NULL) != CUSTOS_OK)
    abort();
  cu_csv_opts o;
  cu_csv_opts_default(&o);
  o.max_field = 4096;
  o.max_fields = 128;
  cu_csv *c;
  if (cu_csv_open_mem("fuzz.csv", data, size, &o, &c, NULL) != CUSTOS_OK)
    return 0;
  bool eof;
  cu_ledger_adapter ad;
  if (cu_csv_next(c, &eof, NULL) != CUSTOS_OK || eof)
    goto done;
  {
    size_t nf = cu_csv_nfields(c);
    const char *names[128];
    size_t lens[128];
    for (size_t i = 0; i < nf; i++)
      names[i] = cu_csv_field(c, i, &lens[i]);
    if (cu_ledger_adapter_init(&ad, CU_LEDGER_AUTO, names, lens, nf, NULL) !=
        CUSTOS_OK)
      goto done;
  }
  while (cu_csv_next(c, &eof, NULL) == CUSTOS_OK && !eof) {
    size_t nf = cu_csv_nfields(c);
    cu_ledger_raw raw;
    memset(&raw, 0, sizeof raw);
    for (int f = 0; f < LF_COUNT; f++)
      if (ad.col[f] >= 0 && (size_t)ad.col[f] < nf)
        raw.v[f] = cu_csv_field(c, (size_t)ad.col[f], &raw.len[f]);
    for (size_t i = 0; i < nf; i++) {
      size_t n;
      const char *s = cu_csv_field(c, i, &n);
      /* The fast path gives what the careful one gives, at both scales
       * the amounts use and at the ends of the range. */
      static const int scales[] = {0, CU_QTY_SCALE, CU_COST_SCALE, 18};
      for (size_t k = 0; k < sizeof scales / sizeof scales[0]; k++) {
        int64_t fv = 0, cv = 0;
        bool fr = true, cr = true;
        custos_rc frc = cu_ledger_decimal(s, n, scales[k], &fv, &fr);
        custos_rc crc = cu_ledger_decimal_careful(s, n, scales[k], &cv, &cr);
        if (frc != crc || fv != cv || fr != cr)
          abort();
      }
      int64_t v, back;
      if (cu_ledger_decimal(s, n, CU_COST_SCALE, &v, NULL) == CUSTOS_OK) {
        char buf[64];
        cu_ledger_decimal_format(v, CU_COST_SCALE, buf, sizeof buf);
        if (cu_ledger_decimal(buf, strlen(buf), CU_COST_SCALE, &back, NULL) !=
                CUSTOS_OK ||
            back != v)
          abort();
      }
      cu_ledger_unit u;
      if (cu_ledger_unit_parse(s, n, &u) == CUSTOS_OK && u.multiplier == 0)
        abort();
      int64_t t;
      if (cu_ledger_time(s, n, &t) == CUSTOS_OK && n == 0)
        abort(); /* an empty field is never a date */
    }
    cu_ledger_amounts am;
    int bad = -1;
    const char *reason = NULL;
    if (cu_ledger_row_amounts(&raw, &am, &bad, &reason) != CUSTOS_OK) {
      if (bad < 0 || !reason)
        abort();
      continue;
    }
    cu_ledger_key k;
    if (cu_ledger_row_key(&ad, cat, &raw, am.use_pricing, &k, &bad,
                          &reason) != CUSTOS_OK) {
      if (bad < 0 || !reason)
        abort();
      continue;
    }
    if (!k.region_id || !k.country || k.unit.multiplier == 0)
      abort();
    int64_t q;
    (void)cu_ledger_scale_qty(am.qty, k.unit.multiplier, &q);
  }
done:
  cu_csv_close(c);
  return 0;
}
