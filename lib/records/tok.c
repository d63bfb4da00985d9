/*
 * Tokenising on the parse thread, replaying on the writer's.  The parse
 * thread runs SQLite's own unicode61 tokenizer over a record's text and
 * keeps the tokens; on workspace connections "unicode61" is a wrapper that
 * hands FTS5 those tokens when it indexes exactly that text, and otherwise
 * (queries, highlights, deletes, rebuild, integrity-check) runs the real
 * unicode61.  See "Tokens made on the parse thread" in docs/internals.md.
 */
#include <assert.h>
#include <limits.h>
#include <string.h>

#include "records_int.h"

/* The arguments of `tokenize=` in the records_fts definition after the
 * name (schema.c).  The parse thread tokenises with these; the wrapper
 * replays only into a table declared with the same ones. */
static const char *const tok_args[] = {"remove_diacritics", "2"};
#define NARGS ((int)CU_ARRAY_LEN(tok_args))

/* A record's tokens take at most about twice its text (a one-letter
 * token and its separator, two bytes, give three or more); the text is
 * capped well below (CU_REC_MAX_TEXT). */
#define TOKS_MAX ((size_t)64 << 20)

fts5_api *cu_rec_fts5(sqlite3 *db) {
  fts5_api *api = NULL;
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &st, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
    sqlite3_step(st);
  }
  sqlite3_finalize(st);
  return api && api->iVersion >= 2 ? api : NULL;
}

/* ---- the tokens of one record ----------------------------------------- */

struct cu_rec_toks {
  struct {
    const char *text; /* the text tokenised: the message's, not a copy */
    size_t len;
    size_t off, end;  /* its tokens: buf.data[off..end) */
    bool ok;          /* false: tokenising failed, FTS5 does it itself */
  } col[CU_REC_TOK_COLS];
  cu_buf buf;
};

/* A token is a head and the term's bytes.  The usual one (the term as
 * long as its text, under 128 bytes, no flag: any ASCII word) has a head
 * of two bytes, its length and its start minus the previous token's
 * start (under 256); any other has the byte 0x80 | flags and then three
 * unsigned LEB128 numbers: term length, start - previous start, end -
 * start.  The writer decodes every token it indexes: the short form
 * halved the replay's instructions. */
static size_t put_num(char *p, uint32_t v) {
  size_t k = 0;
  while (v >= 0x80) {
    p[k++] = (char)(v | 0x80);
    v >>= 7;
  }
  p[k++] = (char)v;
  return k;
}

static const char *get_num(const char *p, const char *end, uint32_t *v) {
  uint32_t x = 0;
  for (int shift = 0; p < end && shift < 35; shift += 7) {
    unsigned char c = (unsigned char)*p++;
    x |= (uint32_t)(c & 0x7f) << shift;
    if (!(c & 0x80)) {
      *v = x;
      return p;
    }
  }
  return NULL;
}

typedef struct capture {
  cu_buf *buf;
  int prev_start;
} capture;

/* xToken on the parse thread: appends one token.  unicode61 reuses its
 * term buffer for the next token, so the bytes are copied. */
static int capture_token(void *ctx, int flags, const char *term, int n,
                         int start, int end) {
  capture *c = ctx;
  if (n < 0 || start < c->prev_start || end < start)
    return SQLITE_MISMATCH; /* not what unicode61 makes: do not replay */
  /* room for the longest head, the term and cu_buf's NUL; the call only
   * when it may have to grow (the call was a quarter of the cost here) */
  size_t need = 16 + (size_t)n;
  if (c->buf->cap - c->buf->len <= need &&
      cu_buf_reserve(c->buf, need) != CUSTOS_OK)
    return SQLITE_TOOBIG;
  char *p = c->buf->data + c->buf->len;
  int dstart = start - c->prev_start;
  size_t k;
  if (flags == 0 && n < 0x80 && end - start == n && dstart < 0x100) {
    p[0] = (char)n;
    p[1] = (char)dstart;
    k = 2;
  } else {
    p[0] = (char)(0x80 | (flags & FTS5_TOKEN_COLOCATED));
    k = 1 + put_num(p + 1, (uint32_t)n);
    k += put_num(p + k, (uint32_t)dstart);
    k += put_num(p + k, (uint32_t)(end - start));
  }
  memcpy(p + k, term, (size_t)n);
  c->buf->len += k + (size_t)n;
  c->prev_start = start;
  return SQLITE_OK;
}

size_t cu_rec_toks_size(const cu_rec_toks *k) {
  return k ? sizeof *k + k->buf.cap : 0;
}

void cu_rec_toks_retext(cu_rec_toks *k, int col, const char *text,
                        size_t len) {
  assert(col >= 0 && col < CU_REC_TOK_COLS);
  if (k->col[col].len != len)
    k->col[col].ok = false;
  k->col[col].text = text;
}

void cu_rec_toks_free(cu_rec_toks *k) {
  if (!k)
    return;
  cu_buf_free(&k->buf);
  cu_free(k);
}

/* ---- the parse thread's tokenizer ------------------------------------- */

/* unicode61 as SQLite registered it on a connection, before custos put
 * its wrapper in its place. */
typedef struct tok_module {
  fts5_tokenizer real;
  void *real_ud;
} tok_module;

struct cu_rec_tok {
  fts5_tokenizer real;
  Fts5Tokenizer *inst;
};

static int wrap_create(void *ud, const char **argv, int argc,
                       Fts5Tokenizer **out);

custos_rc cu_rec_tok_open(sqlite3 *db, cu_rec_tok **out, custos_diag *d) {
  fts5_api *api = cu_rec_fts5(db);
  if (!api)
    return cu_diag_set(d, CUSTOS_EDB,
                       "this SQLite has no FTS5: install Debian's libsqlite3-0");
  void *ud = NULL;
  fts5_tokenizer found;
  int rc = api->xFindTokenizer(api, "unicode61", &ud, &found);
  if (rc != SQLITE_OK)
    return cu_diag_set(d, CUSTOS_EDB, "FTS5 has no unicode61 tokenizer");
  cu_rec_tok *t = cu_calloc(1, sizeof *t);
  if (!t)
    return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory");
  t->real = found;
  if (found.xCreate == wrap_create) {
    const tok_module *mod = ud;
    t->real = mod->real;
    ud = mod->real_ud;
  }
  rc = t->real.xCreate(ud, (const char **)tok_args, NARGS, &t->inst);
  if (rc != SQLITE_OK) {
    cu_free(t);
    return cu_diag_set(d, rc == SQLITE_NOMEM ? CUSTOS_ENOMEM : CUSTOS_EDB,
                       "cannot start the unicode61 tokenizer: %s",
                       sqlite3_errstr(rc));
  }
  *out = t;
  return CUSTOS_OK;
}

void cu_rec_tok_close(cu_rec_tok *t) {
  if (!t)
    return;
  t->real.xDelete(t->inst);
  cu_free(t);
}

custos_rc cu_rec_tok_msg(cu_rec_tok *t, const cu_rec_msg *m,
                         cu_rec_toks **out) {
  *out = NULL;
  cu_rec_toks *k = cu_calloc(1, sizeof *k);
  if (!k)
    return CUSTOS_ENOMEM;
  cu_buf_init(&k->buf, TOKS_MAX);
  /* The columns as the writer binds them (writer.c): the headers as
   * NUL-terminated strings, body and attachment text with their length. */
  const char *text[CU_REC_TOK_COLS] = {
      m->subject ? m->subject : "", m->from ? m->from : "",
      m->to ? m->to : "", m->body.data ? m->body.data : "",
      m->attach_text.data ? m->attach_text.data : ""};
  size_t len[CU_REC_TOK_COLS] = {strlen(text[0]), strlen(text[1]),
                                 strlen(text[2]), m->body.len,
                                 m->attach_text.len};
  size_t total = 0;
  for (int i = 0; i < CU_REC_TOK_COLS; i++)
    total += len[i];
  /* Tokens take about as many bytes as their text: usually one
   * allocation. */
  if (cu_buf_reserve(&k->buf, total < TOKS_MAX / 2 ? total + 64 : 64) !=
      CUSTOS_OK) {
    cu_rec_toks_free(k);
    return CUSTOS_ENOMEM;
  }
  for (int i = 0; i < CU_REC_TOK_COLS; i++) {
    k->col[i].text = text[i];
    k->col[i].len = len[i];
    k->col[i].off = k->buf.len;
    capture c = {&k->buf, 0};
    int rc = len[i] > INT_MAX ? SQLITE_TOOBIG
                              : t->real.xTokenize(t->inst, &c,
                                                  FTS5_TOKENIZE_DOCUMENT,
                                                  text[i], (int)len[i],
                                                  capture_token);
    if (rc != SQLITE_OK)
      k->buf.len = k->col[i].off; /* this column is left to FTS5 */
    k->col[i].end = k->buf.len;
    k->col[i].ok = rc == SQLITE_OK;
  }
  *out = k;
  return CUSTOS_OK;
}

/* ---- the writer's side: the wrapper ----------------------------------- */

/* What the writer set for the FTS5 insert on this thread, and the column
 * expected next (FTS5 tokenises the columns in order). */
static _Thread_local const cu_rec_toks *pending;
static _Thread_local int pending_next;
static _Thread_local cu_rec_tok_counts counts;

void cu_rec_tok_pending(const cu_rec_toks *k) {
  pending = k;
  pending_next = 0;
}

cu_rec_tok_counts cu_rec_tok_count(void) { return counts; }

typedef struct wrap {
  const tok_module *mod;
  Fts5Tokenizer *real;
  bool replay; /* made with tok_args: the parse thread's tokens fit */
} wrap;

static void wrap_delete(Fts5Tokenizer *p) {
  wrap *w = (wrap *)p;
  if (!w)
    return;
  if (w->real)
    w->mod->real.xDelete(w->real);
  sqlite3_free(w);
}

static int wrap_create(void *ud, const char **argv, int argc,
                       Fts5Tokenizer **out) {
  const tok_module *mod = ud;
  wrap *w = sqlite3_malloc(sizeof *w);
  if (!w)
    return SQLITE_NOMEM;
  memset(w, 0, sizeof *w);
  w->mod = mod;
  int rc = mod->real.xCreate(mod->real_ud, argv, argc, &w->real);
  if (rc != SQLITE_OK) {
    sqlite3_free(w);
    *out = NULL;
    return rc;
  }
  w->replay = argc == NARGS;
  for (int i = 0; i < argc && w->replay; i++)
    w->replay = argv[i] && strcmp(argv[i], tok_args[i]) == 0;
  *out = (Fts5Tokenizer *)w;
  return SQLITE_OK;
}

/* The pending column whose text is text[0..n), or -1.  The same pointer
 * is the usual case; equal bytes are enough, since the tokens depend on
 * nothing else. */
static int find_column(const cu_rec_toks *k, const char *text, int n) {
  for (int tries = 0; tries < CU_REC_TOK_COLS; tries++) {
    int i = (pending_next + tries) % CU_REC_TOK_COLS;
    if (!k->col[i].ok || k->col[i].len != (size_t)n)
      continue;
    if (k->col[i].text == text || n == 0 ||
        memcmp(k->col[i].text, text, (size_t)n) == 0)
      return i;
  }
  return -1;
}

static int replay(const cu_rec_toks *k, int i, void *ctx,
                  int (*xToken)(void *, int, const char *, int, int, int)) {
  const char *p = k->buf.data + k->col[i].off;
  const char *end = k->buf.data + k->col[i].end;
  int start = 0;
  while (p < end) {
    unsigned char head = (unsigned char)*p++;
    uint32_t n = head, dstart = 0, dlen = head;
    if (head < 0x80) {
      p = p < end ? p : NULL;
      if (p)
        dstart = (unsigned char)*p++;
    } else {
      p = get_num(p, end, &n);
      p = p ? get_num(p, end, &dstart) : NULL;
      p = p ? get_num(p, end, &dlen) : NULL;
    }
    if (NEVER(!p || (size_t)(end - p) < n))
      return SQLITE_CORRUPT; /* capture_token wrote it */
    start += (int)dstart;
    int flags = head < 0x80 ? 0 : head & FTS5_TOKEN_COLOCATED;
    int rc = xToken(ctx, flags, p, (int)n, start, start + (int)dlen);
    if (rc != SQLITE_OK)
      return rc;
    p += n;
  }
  return SQLITE_OK;
}

static int wrap_tokenize(Fts5Tokenizer *p, void *ctx, int flags,
                         const char *text, int n,
                         int (*xToken)(void *, int, const char *, int, int,
                                       int)) {
  wrap *w = (wrap *)p;
  const cu_rec_toks *k = pending;
  if (k && w->replay && flags == FTS5_TOKENIZE_DOCUMENT) {
    int i = find_column(k, text, n);
    if (i >= 0) {
      pending_next = i + 1;
      counts.replayed++;
      return replay(k, i, ctx, xToken);
    }
    counts.delegated++;
  }
  return w->mod->real.xTokenize(w->real, ctx, flags, text, n, xToken);
}

custos_rc cu_rec_tok_register(sqlite3 *db, custos_diag *d) {
  fts5_api *api = cu_rec_fts5(db);
  if (!api)
    return cu_diag_set(d, CUSTOS_EDB,
                       "this SQLite has no FTS5: install Debian's libsqlite3-0");
  tok_module *mod = sqlite3_malloc(sizeof *mod);
  if (!mod)
    return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory");
  int rc = api->xFindTokenizer(api, "unicode61", &mod->real_ud, &mod->real);
  if (rc == SQLITE_OK && mod->real.xCreate == wrap_create) {
    sqlite3_free(mod); /* registered on this connection already */
    return CUSTOS_OK;
  }
  /* FTS5 looks tokenizers up newest first, so from now on this
   * connection's tables declared with unicode61 get the wrapper; the
   * stored definition stays as it is for every other reader. */
  static fts5_tokenizer wrapper = {wrap_create, wrap_delete, wrap_tokenize};
  if (rc == SQLITE_OK)
    rc = api->xCreateTokenizer(api, "unicode61", mod, &wrapper,
                               sqlite3_free);
  if (rc != SQLITE_OK) {
    sqlite3_free(mod);
    return cu_diag_set(d, CUSTOS_EDB, "cannot register the tokenizer: %s",
                       sqlite3_errstr(rc));
  }
  return CUSTOS_OK;
}
