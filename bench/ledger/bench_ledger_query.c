/*
 * Review-query latency over the usage rollups: runs N times the case
 * report's series (a unit by month, region and service) for units taken
 * in turn from the workspace's directory, each through cu_ledger_query and
 * so recorded, and prints p50 and p99 in milliseconds.  With "daily" the
 * queries read the daily rollups, as custos did before it kept monthly
 * ones, for a comparison on the same workspace.  With "days" they are a
 * unit's daily series instead (grouped by day), which only the daily
 * rollups answer.
 * Usage: bench_ledger_query WORKSPACE N [daily|days]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ledger/ledgerInt.h"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  bool days = argc == 4 && strcmp(argv[3], "days") == 0;
  bool daily = days || (argc == 4 && strcmp(argv[3], "daily") == 0);
  if (argc != 3 && !daily) {
    fprintf(stderr, "usage: bench_ledger_query WORKSPACE N [daily|days]\n");
    return 2;
  }
  int n = atoi(argv[2]);
  if (n < 1)
    n = 1;
  cu_ws *ws = NULL;
  custos_diag d;
  custos_diag_clear(&d);
  if (cu_ws_open(argv[1], &ws, &d) != CUSTOS_OK) {
    fprintf(stderr, "bench: %s\n", d.msg);
    return 1;
  }
  /* Units that have usage, busiest first. */
  sqlite3_stmt *st = NULL;
  if (cu_ws_prepare(ws,
                    "SELECT d.value FROM usage_dims d WHERE d.kind = 'unit'"
                    " AND d.value <> '' ORDER BY d.id LIMIT 1000",
                    &st, &d) != CUSTOS_OK) {
    fprintf(stderr, "bench: %s\n", d.msg);
    return 1;
  }
  char units[1000][160];
  int nu = 0;
  while (sqlite3_step(st) == SQLITE_ROW && nu < 1000)
    snprintf(units[nu++], sizeof units[0], "%s",
             (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  if (nu == 0) {
    fprintf(stderr, "bench: no units with usage\n");
    return 1;
  }
  double *ms = calloc((size_t)n, sizeof *ms);
  size_t rows = 0;
  for (int i = 0; i < n; i++) {
    cu_ledger_result *r = NULL;
    double t0 = now_ms();
    cu_ledger_query_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.unit = units[i % nu];
    spec.case_id = "bench";
    spec.by[0] = CU_DIM_MONTH;
    spec.by[1] = CU_DIM_REGION;
    spec.by[2] = CU_DIM_SERVICE;
    spec.nby = 3;
    if (days) {
      spec.by[0] = CU_DIM_DAY;
      spec.nby = 1;
    }
    custos_rc rc = daily ? cu_ledger_query_from(ws, &spec, true, &r, &d)
                         : cu_ledger_monthly_series(ws, spec.unit, "bench",
                                                    &r, &d);
    if (rc != CUSTOS_OK) {
      fprintf(stderr, "bench: %s\n", d.msg);
      return 1;
    }
    ms[i] = now_ms() - t0;
    rows += r->nrows;
    cu_ledger_result_free(r);
  }
  qsort(ms, (size_t)n, sizeof *ms, cmp);
  printf("query%s: %d series queries over %d units, %.1f result rows each: "
         "p50 %.2f ms, p99 %.2f ms\n",
         days    ? " (by day)"
         : daily ? " (daily rollups)"
                 : "",
         n, nu, (double)rows / n, ms[n / 2], ms[(n * 99) / 100]);
  free(ms);
  cu_ws_close(ws);
  return 0;
}
