/*
 * cases: the review of one allegation.  A case holds the allegation (its
 * source file, title, publication, date and numbered claims), the evidence
 * pinned for each claim, a finding per claim, the decision (policy, scope,
 * effect, effective time) and the status history.  Every step is an event
 * of the workspace and so an entry of the transparency log.
 */
#ifndef CU_CASES_H
#define CU_CASES_H

#include "boundary/boundary.h"
#include "store/store.h"

/* ---- allegations ------------------------------------------------------ */

#define CU_ALLEGATION_MAX_BYTES (1u << 20)
#define CU_ALLEGATION_MAX_CLAIMS 100
#define CU_CLAIM_MAX_BYTES 4096

/* A parsed allegation.  Every string is owned by the struct and released by
 * cu_allegation_free. */
typedef struct cu_allegation {
  char *title;  /* from the "# " heading, without "Allegation:" */
  char *source; /* "Source:" line */
  char *date;   /* "Date:" line, YYYY-MM-DD */
  char *text;   /* the body between the header lines and "## Claims" */
  char **claims;
  size_t nclaims;
} cu_allegation;

/*
 * Parses an allegation in Markdown (docs/formats.md): a "# " title, the
 * lines "Source: ..." and "Date: YYYY-MM-DD", body paragraphs, and a
 * "## Claims" section with a numbered list 1., 2., ... whose items may wrap
 * onto indented lines.  name is what diagnostics call the input.  EPARSE,
 * EUTF8 or ETOOBIG with line and column in diag; *out is zeroed on failure.
 */
custos_rc cu_allegation_parse(const char *name, const char *md, size_t n,
                              cu_allegation *out, custos_diag *d) CUSTOS_WUR;
void cu_allegation_free(cu_allegation *a);

/* ---- cases ------------------------------------------------------------ */

#define CU_CASE_ID_MAX 32

/*
 * Opens a case from the allegation file at path: registers the file as a
 * source (class document, custodian as given), parses it, stores the case
 * and its claims with status "open", and records "case.open".  id (at least
 * CU_CASE_ID_MAX bytes) gets the new case's id ("case-0001").  One
 * transaction; nothing is stored on failure.  The same file twice is a new
 * case only if its bytes differ (EEXIST names the existing case).
 */
custos_rc cu_case_open(cu_ws *ws, const char *path, const char *custodian,
                       char *id, custos_diag *d) CUSTOS_WUR;

/* The case's statuses, in the order a review moves through them. */
#define CU_CASE_STATUSES                                                       \
  "open", "reviewing", "decided", "planned", "approved", "enforced",           \
      "reinstated", "closed"

/*
 * Moves case id to status with a reason (never empty: a history without
 * reasons explains nothing), inside the caller's transaction, and records
 * "case.status".  EINVAL for an unknown status or empty reason, ENOTFOUND
 * for an unknown case.
 */
custos_rc cu_case_set_status(cu_ws *ws, const char *id, const char *status,
                             const char *reason, custos_diag *d) CUSTOS_WUR;

/* ENOTFOUND with a hint when case id does not exist; *nclaims (may be
 * NULL) gets its number of claims. */
custos_rc cu_case_check(cu_ws *ws, const char *id, int *nclaims,
                        custos_diag *d) CUSTOS_WUR;

/* The whole case as JSON (allegation, claims with their evidence and
 * findings, decisions, status history); *out is the caller's to
 * json_decref. */
custos_rc cu_case_json(cu_ws *ws, const char *id, json_t **out,
                       custos_diag *d) CUSTOS_WUR;

/* All cases, newest first, as a JSON array of {id, title, status, opened}. */
custos_rc cu_case_list_json(cu_ws *ws, json_t **out, custos_diag *d) CUSTOS_WUR;

/* ---- evidence --------------------------------------------------------- */

/* What a piece of evidence pins: a usage query or a search with the digest
 * of its result (anyone can re-run it and compare), or one record. */
typedef struct cu_evidence {
  const char *kind;          /* "usage", "search" or "record" */
  json_t *query;             /* the query as canonical JSON (borrowed) */
  int64_t results;           /* rows or hits */
  const char *result_sha256; /* hex digest of the canonical result */
  const char *summary;       /* one line a reader understands, may be NULL */
} cu_evidence;

/* Pins ev to claim of case, in its own transaction, records
 * "evidence.add"; *id gets the evidence id. */
custos_rc cu_evidence_add(cu_ws *ws, const char *case_id, int claim,
                          const cu_evidence *ev, int64_t *id,
                          custos_diag *d) CUSTOS_WUR;

/* ---- findings --------------------------------------------------------- */

/*
 * Records the finding for claim of case: judgement "supported",
 * "not-supported" or "inconclusive", a non-empty rationale, and the ids of
 * evidence of this case it rests on (a "supported" finding needs at least
 * one).  A later finding for the same claim supersedes the earlier one;
 * both stay in the history.  Own transaction; records "finding.add".
 */
custos_rc cu_finding_add(cu_ws *ws, const char *case_id, int claim,
                         const char *judgement, const char *rationale,
                         const int64_t *evidence, size_t nevidence,
                         int64_t *id, custos_diag *d) CUSTOS_WUR;

/* ---- policies --------------------------------------------------------- */

/* Writes the default policies file (policies/policies.json) into a new
 * workspace unless one exists, and records "policy.version". */
custos_rc cu_policy_init(cu_ws *ws, custos_diag *d) CUSTOS_WUR;

/* Looks policy id up in the workspace's policies file: *version and sha256
 * (65 bytes, hex of the file) identify exactly which text applied; title
 * (may be NULL, size titlen) gets its title.  ENOTFOUND with the known ids
 * in the hint. */
custos_rc cu_policy_get(cu_ws *ws, const char *id, int64_t *version,
                        char *sha256, char *title, size_t titlen,
                        custos_diag *d) CUSTOS_WUR;

/* ---- decisions -------------------------------------------------------- */

/* A decision's scope: each list ANDed with the others, values within a
 * list ORed.  Values are canonical (regions as "azure:westeurope"). */
typedef struct cu_scope {
  json_t *sel; /* object: key -> array of strings; owned */
} cu_scope;

/* Parses one selector "key=value" (account, unit, subscription, category,
 * service, region, country) into scope, checking the value against the
 * directory and the catalogue.  EINVAL/ENOTFOUND naming the selector. */
custos_rc cu_scope_add(cu_ws *ws, cu_scope *scope, const char *selector,
                       custos_diag *d) CUSTOS_WUR;
void cu_scope_free(cu_scope *scope);

typedef struct cu_decision_in {
  const char *policy;    /* policy id from the policies file */
  const cu_scope *scope; /* must name an account, unit or subscription */
  const char *effect;    /* "deny-new", "read-only", "deny-all" */
  int64_t effective_at;  /* seconds since the epoch, UTC */
  bool future;           /* also cover subscriptions created later */
  const char *rationale; /* non-empty */
} cu_decision_in;

/*
 * Records the decision for a case whose every claim has a finding and at
 * least one is supported; moves the case to "decided".  The author is the
 * workspace actor, who must be a registered person with the reviewer role
 * (EREFUSED or ENOTFOUND otherwise).  Own transaction; records "decision.add".
 */
custos_rc cu_decision_add(cu_ws *ws, const char *case_id,
                          const cu_decision_in *in, int64_t *id,
                          custos_diag *d) CUSTOS_WUR;

/* ---- people and their keys ------------------------------------------- */

/* Roles; a person may hold several. */
#define CU_ROLES "reviewer", "approver", "enforcer", "auditor"

/*
 * Adds a person with roles (comma-separated, from CU_ROLES) and creates
 * their Ed25519 signing key: the private key in keys/people/NAME.key
 * (0600, C2SP signer-key form), the verifier key in the workspace.  name is
 * a valid key name (no spaces, no '+').  EEXIST if the person exists.
 * Records "person.add".  *vkey (may be NULL, CU_VKEY_MAX bytes) gets the
 * verifier key text.
 */
#define CU_VKEY_MAX 400
custos_rc cu_person_add(cu_ws *ws, const char *name, const char *roles,
                        char *vkey, custos_diag *d) CUSTOS_WUR;

/* Whether person name exists and holds role; EREFUSED with a hint when
 * they do not hold it, ENOTFOUND when there is no such person. */
custos_rc cu_person_check(cu_ws *ws, const char *name, const char *role,
                          custos_diag *d) CUSTOS_WUR;

/* The person's verifier key text into vkey (CU_VKEY_MAX bytes). */
custos_rc cu_person_vkey(cu_ws *ws, const char *name, char *vkey,
                         custos_diag *d) CUSTOS_WUR;

/* Signs text (a note text ending in a newline) with the person's private
 * key from the workspace, appending the signed note to out. */
custos_rc cu_person_sign(cu_ws *ws, const char *name, const char *text,
                         cu_buf *out, custos_diag *d) CUSTOS_WUR;

/* People as a JSON array of {name, roles, vkey, created_at}. */
custos_rc cu_person_list_json(cu_ws *ws, json_t **out,
                              custos_diag *d) CUSTOS_WUR;

#endif
