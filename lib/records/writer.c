/*
 * The record writer: one record per canonical content id, one place per
 * copy found, the text in record_text and its FTS5 index.  Prepared once
 * per ingest; every call runs inside the caller's transaction.
 */
#include <stdlib.h>
#include <string.h>

#include "records_int.h"

enum {
  S_FIND,
  S_RECORD,
  S_TEXT,
  S_FTS,
  S_ATTACH,
  S_PLACE,
  S_MAXID,
  S_READTEXT,
  S_COUNT
};

static const char *const sql[S_COUNT] = {
    "SELECT id FROM records WHERE content_id = ?1",
    /* A record already stored under the content id is no error: the
     * insert does nothing and the caller looks its id up.  This saves a
     * lookup in the content_id index per new record, the common case. */
    "INSERT INTO records(id, kind, content_id, raw_sha256, size, message_id,"
    " in_reply_to, refs, date, type, flags, fts_rowid)"
    " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)"
    " ON CONFLICT(content_id) DO NOTHING",
    "INSERT INTO record_text(rowid, subject, sender, recipients, body,"
    " attachments) VALUES(?1,?2,?3,?4,?5,?6)",
    "INSERT INTO records_fts(rowid, subject, sender, recipients, body,"
    " attachments) VALUES(?1,?2,?3,?4,?5,?6)",
    "INSERT INTO attachments(record_id, idx, name, type, size, sha256)"
    " VALUES(?1,?2,?3,?4,?5,?6)",
    "INSERT OR IGNORE INTO record_places(record_id, source_id, path, offset,"
    " length, raw_sha256) VALUES(?1,?2,?3,?4,?5,?6)",
    "SELECT COALESCE(MAX(id), 0) + 1 FROM records",
    "SELECT subject, sender, recipients, body, attachments FROM record_text"
    " WHERE rowid = ?1",
};

/* A record whose FTS row waits for cu_rec_writer_flush. */
typedef struct deferred {
  int64_t key;
  cu_rec_toks *toks; /* NULL: FTS5 tokenises */
} deferred;

#define DEFER_MAX ((size_t)1 << 20) /* records held; a batch is smaller */

struct cu_rec_writer {
  cu_ws *ws;
  sqlite3_stmt *st[S_COUNT];
  /* The next record id, read from the table once per transaction and
   * then counted here: inside one write transaction only this writer adds
   * records, but between two of them another ingest may.  Any failure
   * forgets it, since the caller then rolls back. */
  int64_t next_id;  /* 0: unknown */
  uint64_t next_tx; /* the transaction next_id was learned in */
  /* The FTS row indexed last in transaction fts_tx (fts_any: one was),
   * and the records deferred since, up to defer_cap bytes of tokens. */
  uint64_t fts_tx;
  bool fts_any;
  int64_t fts_last;
  uint64_t defer_cap; /* 0: never defer */
  deferred *dfr;
  size_t ndfr, capdfr;
  uint64_t dfr_bytes;
};

static _Thread_local uint64_t ndeferred;

uint64_t cu_rec_writer_deferred(void) { return ndeferred; }

/* Forgets the deferred records (after a commit they are none; after a
 * rollback they were never indexed, nor stored). */
static void drop_deferred(cu_rec_writer *w) {
  for (size_t i = 0; i < w->ndfr; i++)
    cu_rec_toks_free(w->dfr[i].toks);
  w->ndfr = 0;
  w->dfr_bytes = 0;
}

custos_rc cu_rec_writer_open(cu_ws *ws, cu_rec_writer **out, custos_diag *d) {
  cu_rec_writer *w = cu_calloc(1, sizeof *w);
  if (!w)
    return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory");
  w->ws = ws;
  for (int i = 0; i < S_COUNT; i++) {
    custos_rc rc = cu_ws_prepare(ws, sql[i], &w->st[i], d);
    if (rc != CUSTOS_OK) {
      cu_rec_writer_close(w);
      return rc;
    }
  }
  *out = w;
  return CUSTOS_OK;
}

void cu_rec_writer_close(cu_rec_writer *w) {
  if (!w)
    return;
  for (int i = 0; i < S_COUNT; i++)
    sqlite3_finalize(w->st[i]);
  drop_deferred(w);
  cu_free(w->dfr);
  cu_free(w);
}

void cu_rec_writer_defer(cu_rec_writer *w, uint64_t cap) {
  w->defer_cap = cap;
}

/* Runs a statement that returns no rows; resets it. */
static custos_rc run(cu_rec_writer *w, int which, const char *what,
                     custos_diag *d) {
  sqlite3_stmt *st = w->st[which];
  int step = sqlite3_step(st);
  custos_rc rc = step == SQLITE_DONE ? CUSTOS_OK
                                     : cu_ws_dberr(w->ws, what, d);
  sqlite3_reset(st);
  return rc;
}

static void bind_str(sqlite3_stmt *st, int i, const char *s) {
  sqlite3_bind_text(st, i, s ? s : "", -1, SQLITE_STATIC);
}

static custos_rc place(cu_rec_writer *w, int64_t id, const cu_rec_item *it,
                       custos_diag *d) {
  sqlite3_stmt *st = w->st[S_PLACE];
  sqlite3_bind_int64(st, 1, id);
  sqlite3_bind_int64(st, 2, it->source_id);
  bind_str(st, 3, it->path);
  sqlite3_bind_int64(st, 4, (sqlite3_int64)it->offset);
  sqlite3_bind_int64(st, 5, (sqlite3_int64)it->length);
  bind_str(st, 6, it->raw_sha256);
  return run(w, S_PLACE, "cannot record where a record was found", d);
}

/* The FTS row of a record: the date (clamped to 0..2^38 seconds) in the
 * high bits and 24 bits of the record id in the low ones, so rowid order
 * is date order and a date range is a rowid range. */
static int64_t fts_key(int64_t date, int64_t id, int attempt) {
  if (date < 0)
    date = 0;
  if (date >= ((int64_t)1 << 38))
    date = ((int64_t)1 << 38) - 1;
  uint64_t low = ((uint64_t)id + (uint64_t)attempt * 0x9E3779B1u) & 0xFFFFFF;
  return (date << 24) | (int64_t)low;
}

/* The id of the record stored under m's content id, into *id. */
static custos_rc find(cu_rec_writer *w, const cu_rec_msg *m, int64_t *id,
                      custos_diag *d) {
  sqlite3_stmt *st = w->st[S_FIND];
  sqlite3_bind_text(st, 1, m->content_id, -1, SQLITE_STATIC);
  int step = sqlite3_step(st);
  *id = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  sqlite3_reset(st);
  if (step != SQLITE_ROW)
    return cu_ws_dberr(w->ws, "cannot look up a record", d);
  return CUSTOS_OK;
}

static int cmp_deferred(const void *a, const void *b) {
  int64_t x = ((const deferred *)a)->key, y = ((const deferred *)b)->key;
  return x < y ? -1 : x > y;
}

/* Indexes one deferred record from its stored text, with its tokens. */
static custos_rc index_stored(cu_rec_writer *w, deferred *e, custos_diag *d) {
  sqlite3_stmt *rd = w->st[S_READTEXT], *st = w->st[S_FTS];
  sqlite3_bind_int64(rd, 1, e->key);
  int step = sqlite3_step(rd);
  custos_rc rc = CUSTOS_OK;
  if (step != SQLITE_ROW) {
    rc = step == SQLITE_DONE
             ? cu_diag_set(d, CUSTOS_EINTERNAL, "a record's text is missing")
             : cu_ws_dberr(w->ws, "cannot read a record's text", d);
    sqlite3_reset(rd);
    return rc;
  }
  sqlite3_bind_int64(st, 1, e->key);
  for (int c = 0; c < CU_REC_TOK_COLS && rc == CUSTOS_OK; c++) {
    const char *text = (const char *)sqlite3_column_text(rd, c);
    int n = sqlite3_column_bytes(rd, c);
    if (!text)
      rc = cu_ws_dberr(w->ws, "cannot read a record's text", d);
    else if (e->toks)
      cu_rec_toks_retext(e->toks, c, text, (size_t)n);
    if (text)
      sqlite3_bind_text(st, c + 2, text, n, SQLITE_STATIC);
  }
  if (rc == CUSTOS_OK) {
    cu_rec_tok_pending(e->toks);
    rc = run(w, S_FTS, "cannot index a record", d);
    cu_rec_tok_pending(NULL);
  }
  sqlite3_clear_bindings(st);
  sqlite3_reset(rd);
  return rc;
}

custos_rc cu_rec_writer_flush(cu_rec_writer *w, custos_diag *d) {
  if (w->ndfr == 0)
    return CUSTOS_OK;
  qsort(w->dfr, w->ndfr, sizeof *w->dfr, cmp_deferred);
  for (size_t i = 0; i < w->ndfr; i++) {
    custos_rc rc = index_stored(w, &w->dfr[i], d);
    if (rc != CUSTOS_OK)
      return rc; /* the caller rolls back; the next transaction drops */
    cu_rec_toks_free(w->dfr[i].toks);
    w->dfr[i].toks = NULL;
  }
  /* FTS5 wrote the first of them below fts_last, so it wrote out its
   * pending terms once; from here on rows above the last are in order. */
  w->fts_any = true;
  w->fts_last = w->dfr[w->ndfr - 1].key;
  drop_deferred(w);
  return CUSTOS_OK;
}

/* Takes *toks and holds the record for cu_rec_writer_flush; flushes when
 * the tokens held pass the cap. */
static custos_rc defer(cu_rec_writer *w, int64_t key, cu_rec_toks **toks,
                       custos_diag *d) {
  if (w->ndfr == DEFER_MAX) {
    custos_rc rc = cu_rec_writer_flush(w, d);
    if (rc != CUSTOS_OK)
      return rc;
  }
  deferred *nd = cu_grow(w->dfr, &w->capdfr, w->ndfr, sizeof *nd);
  if (!nd)
    return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory");
  w->dfr = nd;
  w->dfr[w->ndfr].key = key;
  w->dfr[w->ndfr].toks = *toks;
  w->ndfr++;
  w->dfr_bytes += cu_rec_toks_size(*toks);
  *toks = NULL;
  ndeferred++;
  if (w->dfr_bytes > w->defer_cap)
    return cu_rec_writer_flush(w, d);
  return CUSTOS_OK;
}

custos_rc cu_rec_writer_put(cu_rec_writer *w, const cu_rec_item *it,
                            bool *dup, custos_diag *d) {
  return cu_rec_writer_put_toks(w, it, NULL, dup, d);
}

custos_rc cu_rec_writer_put_toks(cu_rec_writer *w, const cu_rec_item *it,
                                 cu_rec_toks **toks, bool *dup,
                                 custos_diag *d) {
  const cu_rec_msg *m = it->m;
  sqlite3_stmt *st;
  int step;
  *dup = false;

  /* Another ingest may have stored records since our last transaction */
  if (w->next_id == 0 || w->next_tx != cu_ws_tx_serial(w->ws)) {
    st = w->st[S_MAXID];
    step = sqlite3_step(st);
    w->next_id = sqlite3_column_int64(st, 0);
    w->next_tx = cu_ws_tx_serial(w->ws);
    sqlite3_reset(st);
    if (step != SQLITE_ROW) {
      w->next_id = 0;
      return cu_ws_dberr(w->ws, "cannot number a record", d);
    }
  }
  int64_t id = w->next_id;
  w->next_id = 0; /* known again once the record is stored */
  if (w->fts_tx != cu_ws_tx_serial(w->ws)) {
    /* a new transaction: FTS5 has written out its pending terms */
    drop_deferred(w);
    w->fts_tx = cu_ws_tx_serial(w->ws);
    w->fts_any = false;
  }

  /* The content id's conflict is checked first, so a duplicate whose
   * index row is also taken is still found to be a duplicate. */
  int64_t key = 0;
  int stored = 0;
  custos_rc rc = CUSTOS_EINTERNAL;
  for (int attempt = 0; attempt < 64 && rc != CUSTOS_OK; attempt++) {
    key = fts_key(m->date, id, attempt);
    st = w->st[S_RECORD];
    sqlite3_bind_int64(st, 1, id);
    bind_str(st, 2, it->kind);
    bind_str(st, 3, m->content_id);
    bind_str(st, 4, it->raw_sha256);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)it->size);
    bind_str(st, 6, m->message_id);
    bind_str(st, 7, m->in_reply_to);
    bind_str(st, 8, m->refs);
    sqlite3_bind_int64(st, 9, m->date);
    bind_str(st, 10, it->type);
    sqlite3_bind_int64(st, 11, m->flags);
    sqlite3_bind_int64(st, 12, key);
    step = sqlite3_step(st);
    if (step == SQLITE_DONE)
      stored = sqlite3_changes(sqlite3_db_handle(st));
    sqlite3_reset(st);
    if (step == SQLITE_DONE)
      rc = CUSTOS_OK;
    else if (step != SQLITE_CONSTRAINT)
      return cu_ws_dberr(w->ws, "cannot store a record", d);
  }
  if (rc != CUSTOS_OK)
    return cu_diag_set(d, rc, "no free index row for a record");
  if (stored == 0) {
    *dup = true;
    w->next_id = id; /* not taken */
    rc = find(w, m, &id, d);
    return rc == CUSTOS_OK ? place(w, id, it, d) : rc;
  }

  bool later = w->defer_cap && toks && w->fts_any && key < w->fts_last;
  for (int which = S_TEXT; which <= (later ? S_TEXT : S_FTS); which++) {
    st = w->st[which];
    sqlite3_bind_int64(st, 1, key);
    bind_str(st, 2, m->subject);
    bind_str(st, 3, m->from);
    bind_str(st, 4, m->to);
    sqlite3_bind_text(st, 5, m->body.data ? m->body.data : "",
                      (int)m->body.len, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, m->attach_text.data ? m->attach_text.data : "",
                      (int)m->attach_text.len, SQLITE_STATIC);
    /* FTS5 replays the parse thread's tokens for the text that matches
     * them byte for byte, and tokenises anything else itself. */
    if (which == S_FTS)
      cu_rec_tok_pending(toks ? *toks : NULL);
    rc = run(w, which, "cannot index a record", d);
    cu_rec_tok_pending(NULL);
    if (rc != CUSTOS_OK)
      return rc;
  }
  if (later) {
    rc = defer(w, key, toks, d);
  } else {
    w->fts_any = true;
    w->fts_last = key;
  }
  if (rc != CUSTOS_OK)
    return rc;
  st = w->st[S_ATTACH];
  for (size_t i = 0; i < m->natt; i++) {
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)i);
    bind_str(st, 3, m->att[i].name);
    bind_str(st, 4, m->att[i].type);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)m->att[i].size);
    bind_str(st, 6, m->att[i].sha256);
    rc = run(w, S_ATTACH, "cannot store an attachment", d);
    if (rc != CUSTOS_OK)
      return rc;
  }
  rc = place(w, id, it, d);
  if (rc == CUSTOS_OK)
    w->next_id = id + 1;
  return rc;
}
