/*
 * Relevance for `custos search`: an FTS5 ranking function, custos_rank(),
 * registered on every workspace connection.  It is Okapi BM25 as FTS5's
 * own bm25() computes it (k1 = 1.2, every column weight 1) with two
 * differences that each halved the cost of a selective search:
 *  - no document-length normalisation (b = 0, the variant known as BM15):
 *    the length of a record is a lookup in the FTS5 docsize table per hit,
 *    and a long memo that names the subject many times is rightly found
 *    first in a review;
 *  - the inverse document frequency of each phrase only when the query has
 *    an OR.  bm25() finds it by running every phrase as a query of its own,
 *    which for a common word costs more than the search itself; when every
 *    hit must contain every phrase (a phrase, AND, NEAR, NOT) the rarity of
 *    a phrase is the same for all hits, and leaving it out changes the
 *    order little (not at all for one phrase).
 */
#include <math.h>
#include <string.h>

#include "records_int.h"

#define K1 1.2

/* What a query computes once, on its first row: kept by FTS5 as the
 * query's aux data and freed with it. */
typedef struct rank_query {
  int nphrase;
  double *idf;  /* per phrase; all 1.0 when rarity is left out */
  double *freq; /* per phrase, scratch for one row */
} rank_query;

static int count_row(const Fts5ExtensionApi *api, Fts5Context *fts,
                     void *arg) {
  (void)api;
  (void)fts;
  (*(int64_t *)arg)++;
  return SQLITE_OK;
}

static int query_init(const Fts5ExtensionApi *api, Fts5Context *fts,
                      bool with_idf, rank_query **out) {
  int nphrase = api->xPhraseCount(fts);
  size_t size = sizeof(rank_query) + 2 * (size_t)nphrase * sizeof(double);
  rank_query *q = sqlite3_malloc64(size);
  if (!q)
    return SQLITE_NOMEM;
  memset(q, 0, size);
  q->nphrase = nphrase;
  q->idf = (double *)(q + 1);
  q->freq = q->idf + nphrase;
  sqlite3_int64 rows = 0;
  int rc = with_idf ? api->xRowCount(fts, &rows) : SQLITE_OK;
  for (int i = 0; i < nphrase && rc == SQLITE_OK; i++) {
    q->idf[i] = 1.0;
    if (!with_idf)
      continue;
    int64_t hits = 0;
    rc = api->xQueryPhrase(fts, i, &hits, count_row);
    /* As bm25(): a phrase in more than half the records would weigh
     * less than nothing, so it weighs almost nothing. */
    double idf = log((double)(rows - hits) + 0.5) - log((double)hits + 0.5);
    q->idf[i] = idf > 1e-6 ? idf : 1e-6;
  }
  if (rc != SQLITE_OK) {
    sqlite3_free(q);
    return rc;
  }
  rc = api->xSetAuxdata(fts, q, sqlite3_free);
  if (rc != SQLITE_OK)
    return rc; /* xSetAuxdata frees q itself when it fails */
  *out = q;
  return SQLITE_OK;
}

/* Calls of rank_fn on this thread since the last reset: FTS5 ranks each
 * hit of an ORDER BY rank query once, before it returns the first row, so
 * this is the query's exact hit count without a second pass over the
 * index (search.c; a unit test compares it with count(*)). */
static _Thread_local int64_t ranked;

void cu_rec_rank_reset(void) { ranked = 0; }

int64_t cu_rec_rank_count(void) { return ranked; }

/* custos_rank(WITH_IDF): a lower value is more relevant, as for bm25(). */
static void rank_fn(const Fts5ExtensionApi *api, Fts5Context *fts,
                    sqlite3_context *ctx, int nval, sqlite3_value **val) {
  ranked++;
  bool with_idf = nval > 0 && sqlite3_value_int(val[0]) != 0;
  rank_query *q = api->xGetAuxdata(fts, 0);
  int rc = SQLITE_OK;
  if (!q)
    rc = query_init(api, fts, with_idf, &q);
  int ninst = 0;
  if (rc == SQLITE_OK)
    rc = api->xInstCount(fts, &ninst);
  if (rc == SQLITE_OK)
    memset(q->freq, 0, (size_t)q->nphrase * sizeof(double));
  for (int i = 0; i < ninst && rc == SQLITE_OK; i++) {
    int phrase = 0, col = 0, off = 0;
    rc = api->xInst(fts, i, &phrase, &col, &off);
    if (rc == SQLITE_OK && phrase >= 0 && phrase < q->nphrase)
      q->freq[phrase] += 1.0;
  }
  if (rc != SQLITE_OK) {
    sqlite3_result_error_code(ctx, rc);
    return;
  }
  double score = 0.0;
  for (int i = 0; i < q->nphrase; i++)
    score += q->idf[i] * (q->freq[i] * (K1 + 1.0)) / (q->freq[i] + K1);
  sqlite3_result_double(ctx, -score);
}

custos_rc cu_records_on_open(sqlite3 *db, custos_diag *d) {
  fts5_api *api = cu_rec_fts5(db);
  if (!api)
    return cu_diag_set(d, CUSTOS_EDB,
                       "this SQLite has no FTS5: install Debian's libsqlite3-0");
  int rc = api->xCreateFunction(api, "custos_rank", NULL, rank_fn, NULL);
  if (rc != SQLITE_OK)
    return cu_diag_set(d, CUSTOS_EDB, "cannot register custos_rank: %s",
                       sqlite3_errstr(rc));
  return cu_rec_tok_register(db, d);
}
