/*
 * Search latency of the records index: runs each benchmark query RUNS
 * times through cu_rec_search (the exact count, the first page of 20 and
 * the recording of the search, as `custos search` does) and prints the
 * hit count and p50/p99 in milliseconds, with the CPU time of the search
 * beside them: on a shared machine the difference is waiting (the fsync
 * that makes the search's record durable, other processes).
 * usage: bench_records_query WORKSPACE [RUNS [NAME]] (NAME: only that query,
 * for a profiler)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "records/records.h"

static double clock_ms(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s WORKSPACE [RUNS [NAME]]\n", argv[0]);
    return 2;
  }
  int runs = argc > 2 ? atoi(argv[2]) : 50;
  if (runs < 1 || runs > 100000)
    runs = 50;
  static const struct {
    const char *name, *text;
    int sort;
  } qs[] = {
      {"phrase", "\"expansion plan\"", CU_REC_SORT_RELEVANCE},
      {"near", "NEAR(quillfeather budget, 10)", CU_REC_SORT_RELEVANCE},
      {"prefix", "quill*", CU_REC_SORT_RELEVANCE},
      {"broad-by-date", "the", CU_REC_SORT_DATE},
  };
  cu_ws *ws = NULL;
  custos_diag d;
  custos_diag_clear(&d);
  if (cu_ws_open(argv[1], &ws, &d) != CUSTOS_OK) {
    char line[2048];
    fprintf(stderr, "%s\n", custos_diag_format(&d, line, sizeof line));
    return 1;
  }
  double *t = malloc((size_t)runs * sizeof *t);
  double *c = malloc((size_t)runs * sizeof *c);
  if (!t || !c)
    return 1;
  for (size_t k = 0; k < sizeof qs / sizeof qs[0]; k++) {
    if (argc > 3 && strcmp(argv[3], qs[k].name) != 0)
      continue;
    cu_rec_query q;
    memset(&q, 0, sizeof q);
    q.text = qs[k].text;
    q.sort = qs[k].sort;
    q.has_attachment = -1;
    q.limit = 20;
    q.case_id = "bench";
    int64_t total = 0;
    for (int i = 0; i < runs; i++) {
      cu_rec_result r;
      double t0 = clock_ms(CLOCK_MONOTONIC);
      double c0 = clock_ms(CLOCK_THREAD_CPUTIME_ID);
      custos_rc rc = cu_rec_search(ws, &q, &r, &d);
      t[i] = clock_ms(CLOCK_MONOTONIC) - t0;
      c[i] = clock_ms(CLOCK_THREAD_CPUTIME_ID) - c0;
      total = r.total;
      cu_rec_result_free(&r);
      if (rc != CUSTOS_OK) {
        char line[2048];
        fprintf(stderr, "%s\n", custos_diag_format(&d, line, sizeof line));
        return 1;
      }
    }
    qsort(t, (size_t)runs, sizeof *t, cmp_d);
    qsort(c, (size_t)runs, sizeof *c, cmp_d);
    int p99 = (runs * 99) / 100 < runs ? (runs * 99) / 100 : runs - 1;
    printf("%-14s %-32s hits %8lld  p50 %7.2f ms  p99 %7.2f ms"
           "  (CPU p50 %6.2f ms)\n",
           qs[k].name, qs[k].text, (long long)total, t[runs / 2], t[p99],
           c[runs / 2]);
  }
  free(t);
  free(c);
  cu_ws_close(ws);
  return 0;
}
