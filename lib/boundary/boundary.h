/*
 * boundary: what custos may read.  Every input is registered as a source
 * with its class and custodian before it is read; there is no class for
 * customer content.  Customer-defined free text found inside business
 * records (tag values, resource names) is pseudonymised with HMAC-SHA256
 * under the workspace secret unless the workspace policy says otherwise.
 */
#ifndef CU_BOUNDARY_H
#define CU_BOUNDARY_H

#include "store/store.h"

typedef enum cu_source_class {
  CU_CLASS_DIRECTORY,
  CU_CLASS_USAGE,
  CU_CLASS_MAIL,
  CU_CLASS_DOCUMENT,
  CU_CLASS_CONTRACT,
  CU_CLASS_INVOICE,
  CU_CLASS_COUNT_
} cu_source_class;

/* "directory", "usage", ... ; NULL for an out-of-range value. */
const char *cu_source_class_name(cu_source_class c);
/* Parses a class name; EINVAL with a diag listing the classes otherwise. */
custos_rc cu_source_class_parse(const char *s, cu_source_class *out,
                                custos_diag *d) CUSTOS_WUR;

/* What happens to customer-defined free text. */
typedef enum cu_free_text_policy {
  CU_FREE_TEXT_PSEUDONYMISE, /* HMAC-SHA256 under the workspace secret */
  CU_FREE_TEXT_KEEP,
  CU_FREE_TEXT_DROP,
} cu_free_text_policy;

const char *cu_free_text_policy_name(cu_free_text_policy p);

/* A registered source, as it is recorded. */
typedef struct cu_source {
  int64_t id;
  cu_source_class cls;
  char custodian[128];
  char path[1024];
  char sha256[2 * CU_SHA256_LEN + 1]; /* hex */
  uint64_t size;
  int64_t registered_at;
  int64_t expected, accepted, rejected;
  char status[16]; /* "open", "complete", "refused" */
} cu_source;

/*
 * Registers path as a source of class cls, inside the caller's open
 * transaction, and records a "source.register" event.  Computes the file's
 * SHA-256 and size.  When a complete source with the same SHA-256 exists,
 * nothing is written, *existing gets its id and the call returns EEXIST
 * (the caller reports "already ingested" and stops: a no-op).  custodian
 * must be non-empty.  On success out->id is the new source's id.
 */
custos_rc cu_source_register(cu_ws *ws, cu_source_class cls,
                             const char *custodian, const char *path,
                             cu_source *out, int64_t *existing,
                             custos_diag *d) CUSTOS_WUR;

/* The same with the file's SHA-256 and size already known (computed while
 * the caller read it, so the digest is that of the bytes ingested). */
custos_rc cu_source_register_hashed(cu_ws *ws, cu_source_class cls,
                                    const char *custodian, const char *path,
                                    const uint8_t digest[CU_SHA256_LEN],
                                    uint64_t size, cu_source *out,
                                    int64_t *existing,
                                    custos_diag *d) CUSTOS_WUR;

/*
 * The same for an input whose digest the caller computed: a folder (a
 * maildir, a folder of EML files) is identified by a digest of its file
 * names, since it has no bytes of its own.  sha256 is hex; size is what
 * the caller counts as the input's size.
 */
custos_rc cu_source_register_digest(cu_ws *ws, cu_source_class cls,
                                    const char *custodian, const char *path,
                                    const char *sha256, uint64_t size,
                                    cu_source *out, int64_t *existing,
                                    custos_diag *d) CUSTOS_WUR;

/* The newest source with this SHA-256 and class in status "open" (an
 * ingest that was interrupted) into out; ENOTFOUND when there is none. */
custos_rc cu_source_find_open(cu_ws *ws, cu_source_class cls,
                              const char *sha256, cu_source *out,
                              custos_diag *d) CUSTOS_WUR;

/* Records the counts and status "complete" for source id, and a
 * "source.complete" event with the counts.  Inside the caller's
 * transaction. */
custos_rc cu_source_complete(cu_ws *ws, const cu_source *src,
                             custos_diag *d) CUSTOS_WUR;

/* Records one rejected record of source id with its place and reason. */
custos_rc cu_source_reject(cu_ws *ws, int64_t source_id, uint64_t line,
                           uint64_t column, const char *field,
                           const char *value, const char *reason,
                           custos_diag *d) CUSTOS_WUR;

/* Loads source id into out.  ENOTFOUND when there is none. */
custos_rc cu_source_get(cu_ws *ws, int64_t id, cu_source *out,
                        custos_diag *d) CUSTOS_WUR;

/* The workspace policy for free text (meta key "boundary.free_text"),
 * pseudonymise unless set. */
cu_free_text_policy cu_boundary_policy(cu_ws *ws);
custos_rc cu_boundary_set_policy(cu_ws *ws, cu_free_text_policy p,
                                 custos_diag *d) CUSTOS_WUR;

/*
 * Applies the free-text policy to s[0..n): pseudonymise writes "p:" and the
 * first 16 bytes of HMAC-SHA256(secret, s) in hex (34 characters) to out;
 * keep copies s; drop writes "".  out must hold 35 bytes for pseudonymise
 * and n+1 for keep; returns ETOOBIG when outn is too small.
 */
custos_rc cu_boundary_free_text(cu_ws *ws, cu_free_text_policy p,
                                const char *s, size_t n, char *out,
                                size_t outn) CUSTOS_WUR;

#endif
