/*
 * Inside the records module: the writer that stores one record with its
 * place (shared by the mail and the document ingest), the progress table
 * of resumable ingests, and the thread rebuild inside a transaction.
 */
#ifndef CU_RECORDS_INT_H
#define CU_RECORDS_INT_H

#include "records.h"

/* What is stored for one message or document found at one place. */
typedef struct cu_rec_item {
  const char *kind;       /* "mail" or "document" */
  const char *type;       /* "message/rfc822", "application/pdf" ... */
  const cu_rec_msg *m;    /* parsed content */
  const char *raw_sha256; /* of the bytes exactly as found (hex) */
  uint64_t size;          /* of those bytes */
  int64_t source_id;
  const char *path;       /* place inside the source ("" for the file) */
  uint64_t offset, length;
} cu_rec_item;

typedef struct cu_rec_writer cu_rec_writer;

/* Prepares the statements; *out is the caller's (cu_rec_writer_close). */
custos_rc cu_rec_writer_open(cu_ws *ws, cu_rec_writer **out,
                             custos_diag *d) CUSTOS_WUR;
void cu_rec_writer_close(cu_rec_writer *w);
/* Stores it inside the caller's open transaction.  *dup says the record
 * existed (same content id) and only a place was added. */
custos_rc cu_rec_writer_put(cu_rec_writer *w, const cu_rec_item *it,
                            bool *dup, custos_diag *d) CUSTOS_WUR;

/* Marks the threads as needing a rebuild (inside the caller's
 * transaction), and rebuilds them when marked (own transaction). */
custos_rc cu_rec_threads_dirty(cu_ws *ws, custos_diag *d) CUSTOS_WUR;
custos_rc cu_rec_threads_refresh(cu_ws *ws, custos_diag *d) CUSTOS_WUR;

/* Reads the file at path: its first cap bytes into buf (reset first),
 * the SHA-256 (hex) and size of all of it; scratch holds 64 KiB.  EIO
 * with the reason in why (errno text) when it cannot be read. */
custos_rc cu_rec_read_file(const char *path, size_t cap, cu_buf *buf,
                           char *scratch, char *sha, uint64_t *total,
                           char *why, size_t whyn) CUSTOS_WUR;

/* Registers custos_rank() (rank.c), the relevance of `custos search`, on
 * a workspace connection; store calls it on every open. */
custos_rc cu_records_on_open(sqlite3 *db, custos_diag *d) CUSTOS_WUR;
/* How many hits custos_rank() ranked on this thread since the reset: the
 * hit count of a relevance-sorted query once its first row is read. */
void cu_rec_rank_reset(void);
int64_t cu_rec_rank_count(void);

#endif
