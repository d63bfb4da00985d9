/*
 * report: what a case did, told to two audiences.  The case report (HTML
 * with inline SVG charts, and the same as Markdown) is for the provider's
 * reviewers and an outside auditor: claims, evidence with digests,
 * findings, the decision, the plan with what stays running, the outcomes,
 * and the log checkpoint with inclusion proofs of the key entries.  The
 * public statement tells the world, at the level of categories, what was
 * found and done, and which checkpoint anchors it.
 */
#ifndef CU_REPORT_H
#define CU_REPORT_H

#include "store/store.h"

typedef struct cu_report_files {
  char html[1024], markdown[1024];
  int proofs; /* tlog-proof files written */
} cu_report_files;

/*
 * Writes DIR/index.html, DIR/report.md, DIR/log.vkey and one
 * DIR/proofs/<index>-<type>.tlog-proof per key entry (each verifies
 * offline with `custos log verify FILE --vkey "$(cat log.vkey)"`).  The
 * usage series it charts is a recorded query of the case.  Every file is
 * written atomically.
 */
custos_rc cu_report_write(cu_ws *ws, const char *case_id, const char *dir,
                          cu_report_files *out, custos_diag *d) CUSTOS_WUR;

/* The public statement of a case, as Markdown, appended to out. */
custos_rc cu_statement(cu_ws *ws, const char *case_id, cu_buf *out,
                       custos_diag *d) CUSTOS_WUR;

#endif
