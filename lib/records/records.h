/*
 * records: the provider's own internal mail and documents.  Ingest of mbox,
 * maildir, EML and documents (text, Markdown, HTML, PDF) with custody hashes,
 * canonical content ids for deduplication across archive copies, JWZ
 * threads, and full-text search over SQLite FTS5.  See docs/internals.md.
 */
#ifndef CU_RECORDS_H
#define CU_RECORDS_H

#include "boundary/boundary.h"
#include "store/store.h"

/* ---- limits ----------------------------------------------------------- */

/* A message or document above this size is kept with its full raw SHA-256
 * and its first CU_REC_MAX_MESSAGE bytes parsed and indexed (flag
 * truncated): memory stays bounded for a message of any size. */
#define CU_REC_MAX_MESSAGE (32u << 20)
#define CU_REC_MAX_TEXT (4u << 20)    /* indexed text per record */
#define CU_REC_MAX_PARTS 1000         /* MIME parts looked at per message */
#define CU_REC_MAX_HEADER 4096        /* bytes kept of one decoded header */

/* Record flags (records.flags), stable: they are stored. */
enum {
  CU_REC_RAW = 1,         /* GMime could not parse it: kept raw, text as is */
  CU_REC_HAS_ATTACH = 2,  /* at least one attachment */
  CU_REC_CHARSET = 4,     /* a charset was missing or wrong: fallback used */
  CU_REC_TRUNCATED = 8,   /* larger than the parse cap */
  CU_REC_PARTS_CAPPED = 16, /* more parts than CU_REC_MAX_PARTS */
  CU_REC_NO_HEADERS = 32, /* no header block at all */
  CU_REC_TEXT_CAPPED = 64 /* indexed text cut at CU_REC_MAX_TEXT */
};

/* "raw,charset" for flags into out (>= 96 bytes). */
void cu_rec_flags_format(unsigned flags, char *out, size_t n);

/* ---- one message ------------------------------------------------------ */

typedef struct cu_rec_attach {
  char *name; /* may be "" */
  char *type; /* "application/pdf" */
  uint64_t size;
  char sha256[2 * CU_SHA256_LEN + 1];
} cu_rec_attach;

/* A parsed message.  Every string is NUL-terminated UTF-8 owned by the
 * struct and released by cu_rec_msg_free; "" when absent. */
typedef struct cu_rec_msg {
  char content_id[2 * CU_SHA256_LEN + 1]; /* canonical id, hex */
  char *message_id;  /* without angle brackets */
  char *in_reply_to; /* first id of In-Reply-To */
  char *refs;        /* References, ids separated by spaces */
  char *subject, *from, *to; /* decoded; to holds To and Cc */
  int64_t date;      /* seconds since the epoch, 0 when unknown */
  cu_buf body;       /* text of the body, UTF-8 */
  cu_buf attach_text; /* names and text of text-like attachments */
  cu_rec_attach *att;
  size_t natt;
  unsigned flags;
} cu_rec_msg;

/*
 * Parses the message data[0..len) (the raw bytes; truncated says they are
 * only the first part of a larger message whose total size is total).
 * Never fails on malformed input: a message GMime cannot parse is returned
 * with flag CU_REC_RAW, its headers scanned by hand and its bytes as text.
 * Fails only with ENOMEM.  m is the caller's; free it with cu_rec_msg_free
 * (also after a failure).
 */
custos_rc cu_rec_msg_parse(const char *data, size_t len, bool truncated,
                           uint64_t total, cu_rec_msg *m,
                           custos_diag *d) CUSTOS_WUR;
void cu_rec_msg_free(cu_rec_msg *m);

/* Whether cu_rec_msg_parse reads plain single-part messages from their
 * raw header block instead of building GMime's object tree (on by
 * default; the record is the same either way, which tests check by
 * turning it off).  Returns the previous setting.  Process-wide: set it
 * only while no other thread parses. */
bool cu_rec_msg_fast(bool on);

/*
 * The canonical content id of a raw message: SHA-256 over the relaxed
 * canonical form (after DKIM, RFC 6376 section 3.4.2 and 3.4.4) of the
 * headers From, To, Cc, Subject, Date in that fixed order, then the relaxed
 * body.  Stable across archive copies that reorder or add headers,
 * re-fold lines or change line endings.  total is appended when it differs
 * from len (a truncated message).
 */
void cu_rec_content_id(const char *data, size_t len, uint64_t total,
                       char out[2 * CU_SHA256_LEN + 1]);

/* Text of an HTML fragment: tags dropped, script and style skipped, block
 * elements as line breaks, the common entities decoded.  Appends to out. */
custos_rc cu_rec_html_text(const char *s, size_t n, cu_buf *out) CUSTOS_WUR;

/* Converts s[0..n) from charset (may be NULL) to UTF-8, appending to out
 * (capped: ETOOBIG leaves what fitted).  *fallback is set when the charset
 * was missing, unknown or wrong and a fallback (UTF-8, then windows-1252)
 * was used. */
custos_rc cu_rec_to_utf8(const char *s, size_t n, const char *charset,
                         cu_buf *out, bool *fallback) CUSTOS_WUR;

/* ---- the mbox splitter ------------------------------------------------ */

/*
 * Reads an mbox (mboxo or mboxrd) one message at a time without ever
 * holding more than one message (up to max_msg bytes) in memory.  A message
 * starts at a "From " line at the start of the file or after an empty line;
 * its bytes are what follows that line up to the empty line before the
 * next one, with one '>' removed from lines matching ">+From " (mboxrd;
 * this also undoes mboxo quoting).  The raw SHA-256 of each message covers
 * exactly those un-quoted bytes, also beyond max_msg.
 */
typedef struct cu_mbox cu_mbox;

typedef struct cu_mbox_msg {
  const char *data; /* valid until the next call; first max_msg bytes */
  size_t len;
  uint64_t offset;  /* of its "From " line in the file */
  uint64_t length;  /* bytes in the file, From line included */
  uint64_t total;   /* un-quoted message bytes (may exceed len) */
  bool truncated;   /* total > len */
  char sha256[2 * CU_SHA256_LEN + 1]; /* of all un-quoted bytes */
} cu_mbox_msg;

/* Opens path at byte offset start (0, or an offset cu_mbox_next gave as a
 * message's offset).  *out is the caller's, closed with cu_mbox_close. */
custos_rc cu_mbox_open(const char *path, uint64_t start, size_t max_msg,
                       cu_mbox **out, custos_diag *d) CUSTOS_WUR;
/* The same over memory (the caller keeps data alive); for tests, fuzzing. */
custos_rc cu_mbox_open_mem(const char *name, const void *data, size_t n,
                           size_t max_msg, cu_mbox **out,
                           custos_diag *d) CUSTOS_WUR;
/* Next message into *m, or *eof.  EIO on a read error.  Text before the
 * first "From " line (not an mbox, or garbage) is returned as a message of
 * its own so nothing is lost. */
custos_rc cu_mbox_next(cu_mbox *mb, cu_mbox_msg *m, bool *eof,
                       custos_diag *d) CUSTOS_WUR;
/* Offset where the next message will start (for resume). */
uint64_t cu_mbox_tell(const cu_mbox *mb);
void cu_mbox_close(cu_mbox *mb);

/* ---- ingest ----------------------------------------------------------- */

typedef struct cu_rec_stats {
  int64_t containers; /* sources ingested by this call */
  int64_t skipped;    /* sources already complete (same SHA-256) */
  int64_t resumed;    /* sources continued after an interrupted run */
  int64_t expected;   /* messages/documents found */
  int64_t accepted;   /* stored (new records and duplicates) */
  int64_t failed;     /* could not be read at all; see source rejects */
  int64_t duplicates; /* accepted that matched an existing record */
  int64_t raw;        /* accepted as raw records */
  int64_t bytes;      /* raw bytes read */
} cu_rec_stats;

typedef void (*cu_rec_progress_fn)(void *ud, const cu_rec_stats *st,
                                   const char *path);

typedef struct cu_rec_opts {
  const char *custodian;  /* required */
  cu_source_class cls;    /* mail; or document, contract, invoice */
  size_t batch_msgs;      /* commit every N records (0: 50,000) */
  uint64_t batch_bytes;   /* ... or every N bytes (0: 128 MiB) */
  uint64_t defer_bytes;   /* tokens held to index mail in date order
                           * (0: 128 MiB) */
  size_t max_message;     /* parse cap (0: CU_REC_MAX_MESSAGE) */
  cu_rec_progress_fn progress;
  void *progress_ud;
} cu_rec_opts;

/*
 * Ingests mail: each path is an mbox file, an Apple Mail ".mbox" folder,
 * a maildir (with Maildir++ subfolders), a single EML file or a folder of
 * them; each is one source of class mail.  Records are committed in
 * batches with the position reached, so an interrupted ingest resumes
 * where it stopped.  A message seen before (same canonical content id)
 * gains a place instead of a second record.  Threads are rebuilt at the
 * end.  Counts are added to *st.
 */
custos_rc cu_rec_ingest_mail(cu_ws *ws, const char *const *paths, size_t n,
                             const cu_rec_opts *o, cu_rec_stats *st,
                             custos_diag *d) CUSTOS_WUR;

/* Ingests documents (files, or folders walked recursively); each file is
 * one source of class o->cls.  libmagic decides the type. */
custos_rc cu_rec_ingest_docs(cu_ws *ws, const char *const *paths, size_t n,
                             const cu_rec_opts *o, cu_rec_stats *st,
                             custos_diag *d) CUSTOS_WUR;

/* Rebuilds every thread (JWZ) from the mail records; own transaction. */
custos_rc cu_rec_thread_all(cu_ws *ws, custos_diag *d) CUSTOS_WUR;

/* ---- search ----------------------------------------------------------- */

enum { CU_REC_SORT_RELEVANCE, CU_REC_SORT_DATE };

typedef struct cu_rec_query {
  const char *text;      /* the query (docs/user-guide.md), may be "" */
  const char *from, *to, *subject, *custodian; /* NULL: any */
  int64_t after, before; /* date range, seconds; 0: open */
  int has_attachment;    /* -1 any, 0 without, 1 with */
  int sort;
  int64_t limit;         /* 0: all */
  int64_t offset;
  const char *case_id;   /* recorded with the search; may be NULL */
} cu_rec_query;

typedef struct cu_rec_hit {
  int64_t id;
  int64_t date;
  char *subject, *from, *snippet;
} cu_rec_hit;

typedef struct cu_rec_result {
  int64_t total; /* exact number of matching records */
  cu_rec_hit *hits;
  size_t nhits;
  char digest[2 * CU_SHA256_LEN + 1]; /* SHA-256 of the returned ids */
} cu_rec_result;

/*
 * Runs q and records it (actor, case, query, total, digest of the returned
 * record ids) through cu_ws_record_query.  *r is the caller's, freed with
 * cu_rec_result_free (also after a failure).  EPARSE with a hint when the
 * query is malformed.
 */
custos_rc cu_rec_search(cu_ws *ws, const cu_rec_query *q, cu_rec_result *r,
                        custos_diag *d) CUSTOS_WUR;
void cu_rec_result_free(cu_rec_result *r);

/* Rewrites a user query into FTS5 syntax into out (see search.c). */
custos_rc cu_rec_query_fts(const char *q, cu_buf *out,
                           custos_diag *d) CUSTOS_WUR;

/* A record with its custody data (places, attachments, thread) as JSON;
 * *out is the caller's (json_decref).  ENOTFOUND when there is none.
 * Looking at a record is recorded like a search (kind "show"). */
custos_rc cu_rec_show(cu_ws *ws, int64_t id, const char *case_id,
                      json_t **out, custos_diag *d) CUSTOS_WUR;

#endif
