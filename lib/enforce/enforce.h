/*
 * enforce: from a decision to blocks that bite, and back.  A plan is the
 * exact, content-hashed list of (subscription, service, region) targets a
 * decision blocks and of the same customer's services that stay running;
 * approvals are Ed25519 signed notes over the plan hash by registered
 * approvers; apply records one outcome per target and puts the block in
 * the decision point, idempotently and resumably; notices to the customer
 * are built from the recorded outcomes.  Reinstatement is a plan too.
 */
#ifndef CU_ENFORCE_H
#define CU_ENFORCE_H

#include "store/store.h"

#define CU_PLAN_FORMAT "custos-plan/1"
#define CU_PLAN_MAX_BYTES (64u << 20)
#define CU_PLAN_HASH_LEN (2 * CU_SHA256_LEN)

typedef struct cu_plan_opts {
  const char *owner;   /* block owner, default "aup" */
  int64_t max_targets; /* guard, default 100 */
  bool reinstate;      /* a plan that lifts the case's blocks */
  const char *reason;  /* required for reinstate */
} cu_plan_opts;

typedef struct cu_plan_stats {
  int64_t targets, unaffected, subscriptions;
} cu_plan_stats;

/*
 * Makes the plan for the latest decision of case_id (or, with reinstate,
 * for lifting every block the case holds): computes the targets from the
 * usage ledger (a recorded usage query), refuses more than max_targets
 * (EREFUSED; raise it explicitly), stores the plan with status "proposed",
 * moves the case to "planned" and records "plan.create".  text (reset
 * first) gets the plan file's bytes and hash its SHA-256 in hex: the plan
 * is exactly what apply will do.
 */
custos_rc cu_plan_make(cu_ws *ws, const char *case_id, const cu_plan_opts *o,
                       cu_buf *text, char hash[CU_PLAN_HASH_LEN + 1],
                       cu_plan_stats *st, custos_diag *d) CUSTOS_WUR;

/*
 * Signs the plan in the file at path for person (a registered approver who
 * is not the author of the decision), and records the approval.  Refused
 * (EREFUSED or EVERIFY, and the refusal itself recorded as
 * "plan.refused"): a file whose bytes are not a plan of this workspace
 * (tampered), a plan that is no longer current, a person without the
 * approver role, the author, a person who already approved.
 */
custos_rc cu_plan_approve(cu_ws *ws, const char *path, const char *person,
                          custos_diag *d) CUSTOS_WUR;

typedef struct cu_apply_stats {
  int64_t targets;  /* in the plan */
  int64_t done;     /* outcomes recorded by this run */
  int64_t already;  /* outcomes found recorded by earlier runs */
  int64_t failed;   /* of done, failed outcomes */
  int64_t notices;  /* customer notices queued */
  int64_t revision; /* decision point revision after the run */
} cu_apply_stats;

typedef void (*cu_apply_progress_fn)(void *ud, int64_t done, int64_t total);

/*
 * Applies the plan in the file at path as person (an enforcer): checks the
 * file against the stored plan, the plan is current, and the required
 * number of distinct valid approvals (workspace setting
 * enforce.required_approvals, default 2); then for each target without a
 * recorded outcome puts (or, for reinstatement, lifts) the block and
 * records the outcome, in batches, so an interrupted run is completed, not
 * repeated, by the next.  One target's failure is recorded and does not
 * stop the others.  Once every target has an outcome the case moves to
 * "enforced" (or "reinstated") and customer notices built from the
 * outcomes are queued.  Applying a plan that is complete changes nothing.
 */
custos_rc cu_plan_apply(cu_ws *ws, const char *path, const char *person,
                        cu_apply_progress_fn progress, void *ud,
                        cu_apply_stats *st, custos_diag *d) CUSTOS_WUR;

/* Plans of a case (or all) as JSON, with approvals and outcome counts. */
custos_rc cu_plan_list_json(cu_ws *ws, const char *case_id, json_t **out,
                            custos_diag *d) CUSTOS_WUR;

/* Workspace settings that enforcement reads (meta keys). */
custos_rc cu_setting_get(cu_ws *ws, const char *key, char *out, size_t n,
                         custos_diag *d) CUSTOS_WUR;
/* Sets one of the known settings (enforce.required_approvals,
 * notify.appeal, enforce.owner) and records "setting.set". */
custos_rc cu_setting_set(cu_ws *ws, const char *key, const char *value,
                         custos_diag *d) CUSTOS_WUR;

#endif
