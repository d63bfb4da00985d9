/*
 * gen: a deterministic generator of a fictional provider's business records
 * (directory, FOCUS 1.2 usage, internal mail and documents, a press
 * allegation).  Same seed and scale, same bytes.  Usage rows are streamed
 * day by day, so memory depends on the number of accounts, never on rows.
 * The output tree is described in docs/formats-gen.md.
 */
#ifndef CU_GEN_H
#define CU_GEN_H

#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"

/* The demo story's fixed identifiers: other modules, tests and the demo rely
 * on them, so they never depend on the seed. */
#define CU_GEN_DEMO_ACCOUNT "acct-arv-mod"
#define CU_GEN_DEMO_COUNTRY "XA"
#define CU_GEN_DEMO_UNIT_HQ "arv-mod-hq"
#define CU_GEN_DEMO_UNIT_SIG "arv-mod-sig"
#define CU_GEN_DEMO_UNIT_CYB "arv-mod-cyb"
#define CU_GEN_DEMO_SUB_SIG1 "8400a1b2-0001-4c3e-9a51-5e0d00000001"
#define CU_GEN_DEMO_SUB_SIG2 "8400a1b2-0002-4c3e-9a51-5e0d00000002"
#define CU_GEN_DEMO_SUB_SIG3 "8400a1b2-0003-4c3e-9a51-5e0d00000003"
#define CU_GEN_DEMO_SUB_CYB1 "c7be0d11-0001-4f2a-8b33-a1d000000011"
#define CU_GEN_DEMO_SUB_CYB2 "c7be0d11-0002-4f2a-8b33-a1d000000012"
#define CU_GEN_DEMO_SUB_HQ "a7e1d000-0001-4d10-9e20-0000000000a1"

/* The usage window: 18 months, 2024-03-01 up to 2025-09-01 (exclusive). */
#define CU_GEN_FIRST_YEAR 2024
#define CU_GEN_FIRST_MONTH 3
#define CU_GEN_MONTHS 18

/* Named scales, in usage rows. */
#define CU_GEN_ROWS_SMALL 20000ULL
#define CU_GEN_ROWS_MEDIUM 1000000ULL
#define CU_GEN_ROWS_LARGE 10000000ULL
#define CU_GEN_ROWS_HUGE 100000000ULL
/* The smallest plain-integer scale: the demo story and its peers alone take
 * several thousand rows. */
#define CU_GEN_ROWS_MIN 10000ULL
#define CU_GEN_ROWS_MAX 1000000000ULL

typedef struct cu_gen_stats {
  uint64_t usage_rows;    /* FOCUS data rows, restated files included */
  uint64_t restated_rows; /* of which in restated files (--dirty) */
  uint64_t accounts, units, subscriptions, contacts;
  uint64_t messages, documents;
  uint64_t files;
  uint64_t bytes;      /* bytes written to disk (compressed as stored) */
  uint64_t raw_bytes;  /* bytes before compression */
  const char *phase;   /* "directory", "usage", "mail", "docs", "manifest" */
  char current[64];    /* the file being written, relative to OUT */
} cu_gen_stats;

/* Called now and then (per file and every 64 Ki usage rows) with the
 * running totals; st is valid only during the call. */
typedef void (*cu_gen_progress_fn)(void *ud, const cu_gen_stats *st);

typedef struct cu_gen_opts {
  uint64_t seed;
  uint64_t rows;          /* target usage rows (clean part), see scale */
  const char *scale_name; /* as given ("small", "250000"), for MANIFEST */
  const char *out;        /* output directory */
  bool dirty;             /* add the faults of real exports */
  bool force;             /* write into a non-empty out */
  cu_gen_progress_fn progress; /* may be NULL */
  void *progress_ud;
} cu_gen_opts;

/*
 * Parses a scale: "small", "medium", "large", "huge" or a plain decimal
 * number of usage rows between CU_GEN_ROWS_MIN and CU_GEN_ROWS_MAX.
 * EINVAL with diag (field "scale") otherwise.
 */
custos_rc cu_gen_parse_scale(const char *s, uint64_t *rows, custos_diag *d)
    CUSTOS_WUR;

/*
 * Generates the whole tree under o->out.  Creates o->out when missing;
 * refuses (EEXIST) a non-empty o->out unless o->force.  Each file is written
 * to a temporary sibling and renamed into place when complete, so an
 * interrupted run never leaves a truncated file under its final name.
 * *st (may be NULL) gets the totals.  EIO/ENOMEM/EINVAL with diag; on
 * failure files already completed stay in place.
 */
custos_rc cu_gen_run(const cu_gen_opts *o, cu_gen_stats *st, custos_diag *d)
    CUSTOS_WUR;

#endif
