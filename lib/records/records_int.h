/*
 * Inside the records module: the writer that stores one record with its
 * place (shared by the mail and the document ingest), the progress table
 * of resumable ingests, and the thread rebuild inside a transaction.
 */
#ifndef CU_RECORDS_INT_H
#define CU_RECORDS_INT_H

#include "records.h"

typedef struct cu_rec_toks cu_rec_toks;

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
/* The same with m's tokens (tok.c), *toks the caller's or NULL, which FTS5
 * replays.  A writer that defers (below) may take *toks, setting it to
 * NULL, and index the record before the commit. */
custos_rc cu_rec_writer_put_toks(cu_rec_writer *w, const cu_rec_item *it,
                                 cu_rec_toks **toks, bool *dup,
                                 custos_diag *d) CUSTOS_WUR;
/* From now on, a record whose FTS row is below one already indexed in the
 * transaction is indexed by cu_rec_writer_flush, in row order, holding
 * at most cap bytes of tokens (over that, it flushes early).  FTS5 writes
 * its pending terms out as a segment whenever a row comes below the one
 * before, so mail out of date order made a segment per descent. */
void cu_rec_writer_defer(cu_rec_writer *w, uint64_t cap);
/* Indexes the deferred records; call before every commit of a
 * transaction that stored records.  A rollback drops them. */
custos_rc cu_rec_writer_flush(cu_rec_writer *w, custos_diag *d) CUSTOS_WUR;
/* Records this thread has deferred since it started (for tests). */
uint64_t cu_rec_writer_deferred(void);

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

/* ---- tokens made on the parse thread (tok.c) ---- */

/* The indexed columns of records_fts: subject, sender, recipients, body,
 * attachments. */
#define CU_REC_TOK_COLS 5

/* A unicode61 tokenizer instance for one thread, and the tokens it made
 * of one record's columns. */
typedef struct cu_rec_tok cu_rec_tok;

/* The FTS5 API of connection db, or NULL when SQLite has no FTS5. */
fts5_api *cu_rec_fts5(sqlite3 *db);
/* Puts the replaying wrapper in place of unicode61 on connection db (the
 * open hook calls it); the tables keep their stored definition. */
custos_rc cu_rec_tok_register(sqlite3 *db, custos_diag *d) CUSTOS_WUR;
/* A unicode61 instance with records_fts's arguments, made from what
 * connection db has registered.  Called on any thread; afterwards used by
 * one thread at a time, which may be another than db's.  *out is the
 * caller's (cu_rec_tok_close), and must be closed before db is. */
custos_rc cu_rec_tok_open(sqlite3 *db, cu_rec_tok **out,
                          custos_diag *d) CUSTOS_WUR;
void cu_rec_tok_close(cu_rec_tok *t);
/* Tokenises the columns of m as the writer stores them.  *out (the
 * caller's, cu_rec_toks_free) points into m's strings, so m must outlive
 * it unchanged.  A column that cannot be tokenised (too large, any error)
 * is marked so and left to FTS5.  Fails only with ENOMEM (*out NULL). */
custos_rc cu_rec_tok_msg(cu_rec_tok *t, const cu_rec_msg *m,
                         cu_rec_toks **out) CUSTOS_WUR;
void cu_rec_toks_free(cu_rec_toks *k);
/* Points column col of k at text[0..len), the same bytes stored again
 * elsewhere (once m is gone); a column of another length is left to
 * FTS5. */
void cu_rec_toks_retext(cu_rec_toks *k, int col, const char *text,
                        size_t len);
/* Bytes held, for the ingest queue's bound; 0 for NULL. */
size_t cu_rec_toks_size(const cu_rec_toks *k);
/* Writer thread: the tokens FTS5 replays, on this thread, for a column
 * whose text equals one of k's; NULL clears.  k must stay valid until it
 * is cleared. */
void cu_rec_tok_pending(const cu_rec_toks *k);
/* Per thread since it started: columns replayed from pending tokens, and
 * columns indexed while tokens were pending that matched none of them. */
typedef struct cu_rec_tok_counts {
  uint64_t replayed, delegated;
} cu_rec_tok_counts;
cu_rec_tok_counts cu_rec_tok_count(void);

/* Registers custos_rank() (rank.c), the relevance of `custos search`, and
 * the tokenizer wrapper on a workspace connection; store calls it on every
 * open, before any statement reads records_fts. */
custos_rc cu_records_on_open(sqlite3 *db, custos_diag *d) CUSTOS_WUR;
/* How many hits custos_rank() ranked on this thread since the reset: the
 * hit count of a relevance-sorted query once its first row is read. */
void cu_rec_rank_reset(void);
int64_t cu_rec_rank_count(void);

#endif
