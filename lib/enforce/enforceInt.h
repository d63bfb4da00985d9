/* enforce: what the module's files share and nobody else needs. */
#ifndef CU_ENFORCE_INT_H
#define CU_ENFORCE_INT_H

#include "enforce.h"

/* The latest decision of a case as JSON (caller json_decrefs). */
custos_rc cu_enforce_decision(cu_ws *ws, const char *case_id, json_t **out,
                              custos_diag *d) CUSTOS_WUR;

/* Stores a made plan, supersedes the case's earlier open plans, moves the
 * case to "planned" and records "plan.create", in one transaction. */
custos_rc cu_enforce_store_plan(cu_ws *ws, const char *case_id, json_t *plan,
                                const cu_buf *text, const char *hash,
                                const cu_plan_stats *st,
                                custos_diag *d) CUSTOS_WUR;

/* A plan file checked against the workspace: its bytes, hash and parsed
 * body, and the stored plan's row. */
typedef struct cu_loaded_plan {
  char *text;
  size_t len;
  char hash[CU_PLAN_HASH_LEN + 1];
  json_t *body;
  char case_id[64];
  char kind[16];
  char status[16];
  int64_t decision_id;
} cu_loaded_plan;

/* Reads path and finds its plan; a file that is not byte for byte a plan
 * of this workspace is refused (EVERIFY) and the refusal recorded. */
custos_rc cu_enforce_load(cu_ws *ws, const char *path, cu_loaded_plan *p,
                          custos_diag *d) CUSTOS_WUR;
void cu_enforce_unload(cu_loaded_plan *p);

/* Records a refusal ("plan.refused") in its own transaction and returns
 * rc with diag as it was. */
/* The plan's status now, into out (inside the caller's transaction, so
 * that checks and the change they allow see one state).  ENOTFOUND when
 * the plan is gone. */
custos_rc cu_enforce_plan_status(cu_ws *ws, const char *hash, char *out,
                                 size_t n, custos_diag *d) CUSTOS_WUR;
custos_rc cu_enforce_refuse(cu_ws *ws, const char *case_id, const char *plan,
                            const char *action, custos_rc rc, custos_diag *d);

#endif
