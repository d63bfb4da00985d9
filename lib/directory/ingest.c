/*
 * Directory ingest from CSV and JSON.  All files of one call form one
 * transaction: accounts first, then units (whose tree is checked for missing
 * parents and cycles once all are in), then subscriptions and contacts, so
 * the order of files on the command line does not matter.  Every row keeps
 * its source and line, which is also how errors find their place.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/csv.h"
#include "directory.h"

enum kind {
  K_COUNTRIES,
  K_ACCOUNTS,
  K_UNITS,
  K_SUBSCRIPTIONS,
  K_CONTACTS,
  K_COUNT
};
#define MAXCOL 6

static const char *const kind_names[K_COUNT] = {
    "countries", "accounts", "units", "subscriptions", "contacts"};
static const char *const columns[K_COUNT][MAXCOL] = {
    {"country", "name", NULL, NULL, NULL, NULL},
    {"account_id", "name", "country", "sector", NULL, NULL},
    {"unit_id", "account_id", "parent_unit_id", "name", NULL, NULL},
    {"subscription_id", "account_id", "unit_id", "name", "region", "created"},
    {"account_id", "name", "email", "role", NULL, NULL},
};
/* Columns that may be missing from a header (or empty in a row). */
static const bool optional[K_COUNT][MAXCOL] = {
    {false, false, false, false, false, false},
    {false, false, false, false, false, false},
    {false, false, true, false, false, false},
    {false, false, false, false, true, true},
    {false, false, false, false, false, false},
};

#define MAX_JSON_BYTES (256u << 20)

typedef struct file {
  const char *path;
  cu_source src;
  bool skip;  /* already ingested */
  bool json;
  int kind;   /* CSV: which kind its header names */
  json_t *doc; /* JSON: the whole document */
} file;

typedef struct row {
  const char *v[MAXCOL];
  size_t len[MAXCOL];
  uint64_t col[MAXCOL]; /* CSV column of each field, 0 for JSON */
  uint64_t line;        /* CSV line, or 1-based JSON array index */
} row;

typedef struct ctx {
  cu_ws *ws;
  const cu_catalog *cat;
  file *files;
  size_t nfiles;
  int64_t first_source; /* sources of this call have ids >= this */
  cu_dir_stats *stats;
  sqlite3_stmt *ins[K_COUNT];
  sqlite3_stmt *prev[K_COUNT];
  sqlite3_stmt *account_exists, *unit_account;
} ctx;

/* Where row r of file f is, for diagnostics. */
static void place(custos_diag *d, const file *f, int kind, const row *r,
                  int colidx) {
  if (!d)
    return;
  if (f->json) {
    cu_diag_at(d, f->path, 0, 0);
    char field[128];
    snprintf(field, sizeof field, "%s[%llu].%s", kind_names[kind],
             (unsigned long long)(r->line - 1),
             colidx >= 0 ? columns[kind][colidx] : "");
    cu_diag_field(d, field, colidx >= 0 ? r->v[colidx] : NULL,
                  colidx >= 0 ? r->len[colidx] : 0);
  } else {
    cu_diag_at(d, f->path, r->line, colidx >= 0 ? r->col[colidx] : 0);
    if (colidx >= 0)
      cu_diag_field(d, columns[kind][colidx], r->v[colidx], r->len[colidx]);
  }
}

static custos_rc row_error(ctx *c, const file *f, int kind, const row *r,
                           int colidx, custos_rc rc, const char *hint,
                           const char *msg, custos_diag *d) {
  (void)c;
  place(d, f, kind, r, colidx);
  if (hint)
    cu_diag_hint(d, "%s", hint);
  return cu_diag_set(d, rc, "%s", msg);
}

static bool valid_id(const char *s, size_t n) {
  if (n == 0 || n > 128)
    return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
          (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' ||
          ch == ':' || ch == '@' || ch == '/'))
      return false;
  }
  return true;
}

static bool valid_email(const char *s, size_t n) {
  const char *at = memchr(s, '@', n);
  if (!at || at == s || n > 254)
    return false;
  const char *dom = at + 1;
  size_t dn = n - (size_t)(dom - s);
  if (dn < 3 || memchr(dom, '@', dn) || !memchr(dom, '.', dn))
    return false;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
      return false;
  return true;
}

/* Finds an earlier row with the same key from this call: a duplicate. */
static custos_rc check_duplicate(ctx *c, const file *f, int kind,
                                 const row *r, custos_diag *d) {
  sqlite3_stmt *st = c->prev[kind];
  sqlite3_reset(st);
  sqlite3_bind_text(st, 1, r->v[0], (int)r->len[0], SQLITE_STATIC);
  if (kind == K_CONTACTS) {
    sqlite3_bind_text(st, 2, r->v[2], (int)r->len[2], SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->v[3], (int)r->len[3], SQLITE_STATIC);
  }
  int step = sqlite3_step(st);
  if (step == SQLITE_DONE)
    return CUSTOS_OK;
  if (step != SQLITE_ROW)
    return cu_ws_dberr(c->ws, "cannot look up directory", d);
  int64_t sid = sqlite3_column_int64(st, 0);
  int64_t sline = sqlite3_column_int64(st, 1);
  if (sid < c->first_source)
    return CUSTOS_OK; /* from an earlier export: this row replaces it */
  const char *other = "?";
  bool other_json = false;
  for (size_t i = 0; i < c->nfiles; i++)
    if (!c->files[i].skip && c->files[i].src.id == sid) {
      other = c->files[i].path;
      other_json = c->files[i].json;
    }
  char hint[600];
  if (other_json)
    snprintf(hint, sizeof hint, "first defined in %s at %s[%lld]; keep one",
             other, kind_names[kind], (long long)(sline - 1));
  else
    snprintf(hint, sizeof hint, "first defined at %s:%lld; keep one", other,
             (long long)sline);
  return row_error(c, f, kind, r, kind == K_CONTACTS ? 2 : 0, CUSTOS_ECONFLICT,
                   hint, "duplicate id", d);
}

static custos_rc exists(ctx *c, sqlite3_stmt *st, const char *v, size_t n,
                        bool *found, const char **account, custos_diag *d) {
  sqlite3_reset(st);
  sqlite3_bind_text(st, 1, v, (int)n, SQLITE_STATIC);
  int step = sqlite3_step(st);
  if (step != SQLITE_ROW && step != SQLITE_DONE)
    return cu_ws_dberr(c->ws, "cannot look up directory", d);
  *found = step == SQLITE_ROW;
  if (account)
    *account = *found ? (const char *)sqlite3_column_text(st, 0) : NULL;
  return CUSTOS_OK;
}

/* Validates one row of kind and stores it. */
static custos_rc store_row(ctx *c, const file *f, int kind, row *r,
                           custos_diag *d) {
  /* Exports write an empty optional field as NULL too. */
  for (int i = 0; i < MAXCOL && columns[kind][i]; i++)
    if (optional[kind][i] && r->len[i] == 4 &&
        (memcmp(r->v[i], "NULL", 4) == 0 || memcmp(r->v[i], "null", 4) == 0))
      r->len[i] = 0;
  for (int i = 0; i < MAXCOL && columns[kind][i]; i++) {
    if (r->len[i] == 0 && !optional[kind][i])
      return row_error(c, f, kind, r, i, CUSTOS_EINVAL,
                       "every row needs this field", "empty required field",
                       d);
    if (r->len[i] > 1024)
      return row_error(c, f, kind, r, i, CUSTOS_ETOOBIG,
                       "directory fields are at most 1024 bytes",
                       "field too long", d);
  }
  if (!valid_id(r->v[0], r->len[0]) && kind != K_CONTACTS &&
      kind != K_COUNTRIES)
    return row_error(c, f, kind, r, 0, CUSTOS_EINVAL,
                     "ids are 1-128 of A-Z a-z 0-9 - _ . : @ /",
                     "invalid id", d);
  custos_rc rc = CUSTOS_OK;
  bool found = false;
  const char *acct = NULL;
  const char *region_id = NULL;
  switch (kind) {
  case K_COUNTRIES:
  case K_ACCOUNTS: {
    int cc = kind == K_COUNTRIES ? 0 : 2;
    if (r->len[cc] != 2 || r->v[cc][0] < 'A' || r->v[cc][0] > 'Z' ||
        r->v[cc][1] < 'A' || r->v[cc][1] > 'Z')
      return row_error(c, f, kind, r, cc, CUSTOS_EINVAL,
                       "use the ISO 3166-1 alpha-2 code, e.g. NL",
                       "invalid country code", d);
    break;
  }
  case K_UNITS:
  case K_SUBSCRIPTIONS:
  case K_CONTACTS: {
    int acol = kind == K_CONTACTS ? 0 : 1;
    rc = exists(c, c->account_exists, r->v[acol], r->len[acol], &found, NULL,
                d);
    if (rc != CUSTOS_OK)
      return rc;
    if (!found)
      return row_error(c, f, kind, r, acol, CUSTOS_ENOTFOUND,
                       "ingest the accounts file with this one, or fix the id",
                       "unknown account", d);
    if (kind == K_UNITS && r->len[2] && !valid_id(r->v[2], r->len[2]))
      return row_error(c, f, kind, r, 2, CUSTOS_EINVAL,
                       "ids are 1-128 of A-Z a-z 0-9 - _ . : @ /",
                       "invalid parent unit id", d);
    if (kind == K_CONTACTS && !valid_email(r->v[2], r->len[2]))
      return row_error(c, f, kind, r, 2, CUSTOS_EINVAL,
                       "write one address like name@example.org",
                       "invalid e-mail address", d);
    if (kind != K_SUBSCRIPTIONS)
      break;
    rc = exists(c, c->unit_account, r->v[2], r->len[2], &found, &acct, d);
    if (rc != CUSTOS_OK)
      return rc;
    if (!found)
      return row_error(c, f, kind, r, 2, CUSTOS_ENOTFOUND,
                       "ingest the units file with this one, or fix the id",
                       "unknown unit", d);
    if (strlen(acct) != r->len[1] || memcmp(acct, r->v[1], r->len[1]) != 0)
      return row_error(c, f, kind, r, 2, CUSTOS_ECONFLICT,
                       "a subscription's unit must belong to its account",
                       "unit belongs to another account", d);
    if (r->len[4]) {
      const cu_region *reg = cu_catalog_region(c->cat, r->v[4], r->len[4]);
      if (!reg)
        return row_error(c, f, kind, r, 4, CUSTOS_ENOTFOUND,
                         "use a region id of the catalogue, e.g. westeurope; "
                         "`custos directory regions` lists them",
                         "unknown region", d);
      region_id = reg->id;
    }
    if (r->len[5]) {
      int64_t t;
      if (cu_time_parse(r->v[5], r->len[5], &t) != CUSTOS_OK)
        return row_error(c, f, kind, r, 5, CUSTOS_EINVAL,
                         "write dates as YYYY-MM-DD", "invalid date", d);
    }
    break;
  }
  }
  rc = check_duplicate(c, f, kind, r, d);
  if (rc != CUSTOS_OK)
    return rc;

  sqlite3_stmt *st = c->ins[kind];
  sqlite3_reset(st);
  int ncol = kind == K_SUBSCRIPTIONS ? 6 : kind == K_COUNTRIES ? 2 : 4;
  for (int i = 0; i < ncol; i++) {
    if (r->len[i] == 0 && optional[kind][i])
      sqlite3_bind_null(st, i + 1);
    else if (kind == K_SUBSCRIPTIONS && i == 4)
      sqlite3_bind_text(st, i + 1, region_id, -1, SQLITE_STATIC);
    else
      sqlite3_bind_text(st, i + 1, r->v[i], (int)r->len[i], SQLITE_STATIC);
  }
  sqlite3_bind_int64(st, ncol + 1, f->src.id);
  sqlite3_bind_int64(st, ncol + 2, (sqlite3_int64)r->line);
  if (sqlite3_step(st) != SQLITE_DONE)
    return cu_ws_dberr(c->ws, "cannot store directory row", d);
  int64_t *counts[K_COUNT] = {&c->stats->countries, &c->stats->accounts,
                              &c->stats->units,
                              &c->stats->subscriptions, &c->stats->contacts};
  (*counts[kind])++;
  return CUSTOS_OK;
}

static int header_kind(cu_csv *csv, int map[MAXCOL]) {
  /* Most specific first: a subscriptions header also has every required
   * column of units. */
  static const int order[K_COUNT] = {K_SUBSCRIPTIONS, K_UNITS, K_CONTACTS,
                                     K_ACCOUNTS, K_COUNTRIES};
  size_t n = cu_csv_nfields(csv);
  for (int o = 0; o < K_COUNT; o++) {
    int k = order[o];
    bool ok = true;
    for (int i = 0; i < MAXCOL; i++) {
      map[i] = -1;
      if (!columns[k][i])
        continue;
      for (size_t j = 0; j < n; j++)
        if (strcmp(cu_csv_field(csv, j, NULL), columns[k][i]) == 0)
          map[i] = (int)j;
      if (map[i] < 0 && !optional[k][i])
        ok = false;
    }
    if (ok)
      return k;
  }
  return -1;
}

static custos_rc csv_file(ctx *c, file *f, int kind, custos_diag *d) {
  cu_csv *csv = NULL;
  custos_rc rc = cu_csv_open(f->path, NULL, &csv, d);
  if (rc != CUSTOS_OK)
    return rc;
  bool eof = false;
  int map[MAXCOL];
  rc = cu_csv_next(csv, &eof, d);
  if (rc == CUSTOS_OK && (eof || header_kind(csv, map) != kind)) {
    cu_diag_at(d, f->path, 1, 0);
    rc = cu_diag_set(d, CUSTOS_EPARSE, "header changed while reading");
  }
  while (rc == CUSTOS_OK) {
    rc = cu_csv_next(csv, &eof, d);
    if (rc != CUSTOS_OK || eof)
      break;
    size_t nf = cu_csv_nfields(csv);
    if (nf == 1 && cu_csv_field(csv, 0, NULL)[0] == '\0')
      continue; /* blank line */
    row r;
    memset(&r, 0, sizeof r);
    r.line = cu_csv_line(csv);
    for (int i = 0; i < MAXCOL; i++) {
      r.v[i] = "";
      if (map[i] < 0)
        continue;
      if ((size_t)map[i] >= nf) {
        cu_diag_at(d, f->path, r.line, 0);
        cu_diag_hint(d, "the header has %zu fields; every row needs as many",
                     cu_csv_nfields(csv) > nf ? cu_csv_nfields(csv) : nf);
        rc = cu_diag_set(d, CUSTOS_EPARSE, "row has %zu fields, missing '%s'",
                         nf, columns[kind][i]);
        break;
      }
      r.v[i] = cu_csv_field(csv, (size_t)map[i], &r.len[i]);
      uint64_t l;
      cu_csv_field_pos(csv, (size_t)map[i], &l, &r.col[i]);
    }
    if (rc != CUSTOS_OK)
      break;
    f->src.expected++;
    rc = store_row(c, f, kind, &r, d);
    if (rc == CUSTOS_OK)
      f->src.accepted++;
  }
  cu_csv_close(csv);
  return rc;
}

static custos_rc json_file(ctx *c, file *f, int kind, custos_diag *d) {
  json_t *arr = json_object_get(f->doc, kind_names[kind]);
  if (!arr)
    return CUSTOS_OK;
  if (!json_is_array(arr)) {
    cu_diag_at(d, f->path, 0, 0);
    cu_diag_field(d, kind_names[kind], NULL, 0);
    return cu_diag_set(d, CUSTOS_EPARSE, "expected an array");
  }
  size_t i;
  json_t *obj;
  json_array_foreach(arr, i, obj) {
    row r;
    memset(&r, 0, sizeof r);
    r.line = i + 1;
    if (!json_is_object(obj)) {
      place(d, f, kind, &r, -1);
      return cu_diag_set(d, CUSTOS_EPARSE, "expected an object");
    }
    for (int k = 0; k < MAXCOL; k++) {
      r.v[k] = "";
      if (!columns[kind][k])
        continue;
      json_t *v = json_object_get(obj, columns[kind][k]);
      if (v && json_is_null(v))
        v = NULL;
      if (v && !json_is_string(v)) {
        place(d, f, kind, &r, k);
        cu_diag_hint(d, "write the value as a JSON string");
        return cu_diag_set(d, CUSTOS_EPARSE, "expected a string");
      }
      if (v) {
        r.v[k] = json_string_value(v);
        r.len[k] = json_string_length(v);
        if (strlen(r.v[k]) != r.len[k]) {
          place(d, f, kind, &r, k);
          return cu_diag_set(d, CUSTOS_EPARSE, "NUL character in string");
        }
      }
    }
    f->src.expected++;
    custos_rc rc = store_row(c, f, kind, &r, d);
    if (rc != CUSTOS_OK)
      return rc;
    f->src.accepted++;
  }
  return CUSTOS_OK;
}

/* Checks the unit tree after all units of the call are in. */
static custos_rc check_tree(ctx *c, custos_diag *d) {
  static const char *const checks[] = {
      /* missing parent */
      "SELECT u.source_id, u.source_line, u.parent_id FROM units u"
      " WHERE u.source_id >= ?1 AND u.parent_id IS NOT NULL AND NOT EXISTS"
      " (SELECT 1 FROM units p WHERE p.id = u.parent_id)"
      " ORDER BY u.source_id, u.source_line LIMIT 1",
      /* parent in another account */
      "SELECT u.source_id, u.source_line, u.parent_id FROM units u"
      " JOIN units p ON p.id = u.parent_id"
      " WHERE u.source_id >= ?1 AND p.account_id <> u.account_id"
      " ORDER BY u.source_id, u.source_line LIMIT 1",
      /* cycle: walk up from every unit of this call, bounded */
      "WITH RECURSIVE up(start, cur, n) AS ("
      " SELECT id, parent_id, 1 FROM units"
      "  WHERE source_id >= ?1 AND parent_id IS NOT NULL"
      " UNION ALL SELECT up.start, u.parent_id, up.n + 1 FROM up"
      "  JOIN units u ON u.id = up.cur"
      "  WHERE u.parent_id IS NOT NULL AND up.cur <> up.start"
      "  AND up.n < 100000)"
      " SELECT u.source_id, u.source_line, u.parent_id FROM up"
      " JOIN units u ON u.id = up.start WHERE up.cur = up.start"
      " ORDER BY u.source_id, u.source_line LIMIT 1",
  };
  static const char *const msgs[] = {"parent unit not found",
                                     "parent unit belongs to another account",
                                     "unit tree has a cycle"};
  static const char *const hints[] = {
      "ingest the parent unit too, or leave parent_unit_id empty for a root",
      "a unit's parent must be a unit of the same account",
      "follow parent_unit_id from this unit: it comes back to itself"};
  for (size_t i = 0; i < CU_ARRAY_LEN(checks); i++) {
    sqlite3_stmt *st = NULL;
    custos_rc rc = cu_ws_prepare(c->ws, checks[i], &st, d);
    if (rc != CUSTOS_OK)
      return rc;
    sqlite3_bind_int64(st, 1, c->first_source);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
      int64_t sid = sqlite3_column_int64(st, 0);
      row r;
      memset(&r, 0, sizeof r);
      r.line = (uint64_t)sqlite3_column_int64(st, 1);
      const char *parent = (const char *)sqlite3_column_text(st, 2);
      r.v[2] = parent ? parent : "";
      r.len[2] = strlen(r.v[2]);
      const file *f = NULL;
      for (size_t k = 0; k < c->nfiles; k++)
        if (!c->files[k].skip && c->files[k].src.id == sid)
          f = &c->files[k];
      if (ALWAYS(f))
        place(d, f, K_UNITS, &r, 2);
      cu_diag_hint(d, "%s", hints[i]);
      rc = cu_diag_set(d, i == 0 ? CUSTOS_ENOTFOUND : CUSTOS_ECONFLICT, "%s",
                       msgs[i]);
    } else if (step != SQLITE_DONE) {
      rc = cu_ws_dberr(c->ws, "cannot check the unit tree", d);
    }
    sqlite3_finalize(st);
    if (rc != CUSTOS_OK)
      return rc;
  }
  return CUSTOS_OK;
}

static custos_rc prepare_all(ctx *c, custos_diag *d) {
  static const char *const ins[K_COUNT] = {
      "INSERT INTO countries(code, name, source_id, source_line)"
      " VALUES(?1,?2,?3,?4) ON CONFLICT(code) DO UPDATE SET"
      " name=?2, source_id=?3, source_line=?4",
      "INSERT INTO accounts(id, name, country, sector, source_id, source_line)"
      " VALUES(?1,?2,?3,?4,?5,?6) ON CONFLICT(id) DO UPDATE SET"
      " name=?2, country=?3, sector=?4, source_id=?5, source_line=?6",
      "INSERT INTO units(id, account_id, parent_id, name, source_id,"
      " source_line) VALUES(?1,?2,?3,?4,?5,?6) ON CONFLICT(id) DO UPDATE SET"
      " account_id=?2, parent_id=?3, name=?4, source_id=?5, source_line=?6",
      "INSERT INTO subscriptions(id, account_id, unit_id, name, region_id,"
      " created, source_id, source_line) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)"
      " ON CONFLICT(id) DO UPDATE SET account_id=?2, unit_id=?3, name=?4,"
      " region_id=?5, created=?6, source_id=?7, source_line=?8",
      "INSERT INTO contacts(account_id, name, email, role, source_id,"
      " source_line) VALUES(?1,?2,?3,?4,?5,?6) ON CONFLICT DO UPDATE SET"
      " name=?2, source_id=?5, source_line=?6",
  };
  static const char *const prev[K_COUNT] = {
      "SELECT source_id, source_line FROM countries WHERE code=?1",
      "SELECT source_id, source_line FROM accounts WHERE id=?1",
      "SELECT source_id, source_line FROM units WHERE id=?1",
      "SELECT source_id, source_line FROM subscriptions WHERE id=?1",
      ("SELECT source_id, source_line FROM contacts WHERE account_id=?1"
       " AND email=?2 AND role=?3"),
  };
  custos_rc rc = CUSTOS_OK;
  for (int k = 0; k < K_COUNT && rc == CUSTOS_OK; k++) {
    rc = cu_ws_prepare(c->ws, ins[k], &c->ins[k], d);
    if (rc == CUSTOS_OK)
      rc = cu_ws_prepare(c->ws, prev[k], &c->prev[k], d);
  }
  if (rc == CUSTOS_OK)
    rc = cu_ws_prepare(c->ws, "SELECT 1 FROM accounts WHERE id=?1",
                       &c->account_exists, d);
  if (rc == CUSTOS_OK)
    rc = cu_ws_prepare(c->ws, "SELECT account_id FROM units WHERE id=?1",
                       &c->unit_account, d);
  return rc;
}

static void finalize_all(ctx *c) {
  for (int k = 0; k < K_COUNT; k++) {
    sqlite3_finalize(c->ins[k]);
    sqlite3_finalize(c->prev[k]);
  }
  sqlite3_finalize(c->account_exists);
  sqlite3_finalize(c->unit_account);
}

static bool has_suffix(const char *s, const char *suf) {
  size_t n = strlen(s), k = strlen(suf);
  return n >= k && strcmp(s + n - k, suf) == 0;
}

/* Reads what a file holds: its CSV kind, or its JSON document. */
static custos_rc classify(file *f, custos_diag *d) {
  if (has_suffix(f->path, ".json")) {
    struct stat sb;
    if (stat(f->path, &sb) == 0 && (uint64_t)sb.st_size > MAX_JSON_BYTES) {
      cu_diag_at(d, f->path, 0, 0);
      cu_diag_hint(d, "split it, or use CSV: JSON directory files are at most "
                      "%u MiB",
                   MAX_JSON_BYTES >> 20);
      return cu_diag_set(d, CUSTOS_ETOOBIG, "directory file too large");
    }
    json_error_t err;
    f->json = true;
    f->doc = json_load_file(f->path, JSON_REJECT_DUPLICATES, &err);
    if (!f->doc) {
      cu_diag_at(d, f->path, err.line > 0 ? (uint64_t)err.line : 0,
                 err.column > 0 ? (uint64_t)err.column : 0);
      return cu_diag_set(d, CUSTOS_EPARSE, "invalid JSON: %s", err.text);
    }
    if (!json_is_object(f->doc)) {
      cu_diag_at(d, f->path, 1, 1);
      cu_diag_hint(d, "write an object with arrays accounts, units, "
                      "subscriptions, contacts");
      return cu_diag_set(d, CUSTOS_EPARSE, "expected a JSON object");
    }
    return CUSTOS_OK;
  }
  cu_csv *csv = NULL;
  custos_rc rc = cu_csv_open(f->path, NULL, &csv, d);
  if (rc != CUSTOS_OK)
    return rc;
  bool eof = false;
  rc = cu_csv_next(csv, &eof, d);
  if (rc == CUSTOS_OK) {
    int map[MAXCOL];
    f->kind = eof ? -1 : header_kind(csv, map);
    if (f->kind < 0) {
      cu_diag_at(d, f->path, 1, 0);
      cu_diag_hint(d, "the header must name the columns of countries, accounts, units, "
                      "subscriptions or contacts (docs/formats.md)");
      rc = cu_diag_set(d, CUSTOS_EPARSE, "not a directory file");
    }
  }
  cu_csv_close(csv);
  return rc;
}

custos_rc cu_dir_ingest(cu_ws *ws, const char *const *paths, size_t npaths,
                        const char *custodian, cu_dir_stats *stats,
                        custos_diag *d) {
  memset(stats, 0, sizeof *stats);
  ctx c;
  memset(&c, 0, sizeof c);
  c.ws = ws;
  c.stats = stats;
  custos_rc rc = cu_catalog_get(&c.cat, d);
  if (rc != CUSTOS_OK)
    return rc;
  rc = cu_catalog_sync(ws, d);
  if (rc != CUSTOS_OK)
    return rc;
  c.files = cu_calloc(npaths ? npaths : 1, sizeof *c.files);
  if (!c.files)
    return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory");
  c.nfiles = npaths;
  for (size_t i = 0; i < npaths && rc == CUSTOS_OK; i++) {
    c.files[i].path = paths[i];
    rc = classify(&c.files[i], d);
  }
  if (rc != CUSTOS_OK)
    goto fail_files;

  rc = cu_ws_begin(ws, d);
  if (rc != CUSTOS_OK)
    goto fail_files;
  c.first_source = INT64_MAX;
  for (size_t i = 0; i < npaths && rc == CUSTOS_OK; i++) {
    int64_t existing = 0;
    rc = cu_source_register(ws, CU_CLASS_DIRECTORY, custodian, paths[i],
                            &c.files[i].src, &existing, d);
    if (rc == CUSTOS_EEXIST) {
      c.files[i].skip = true;
      c.files[i].src.id = existing;
      stats->skipped++;
      rc = CUSTOS_OK;
    } else if (rc == CUSTOS_OK && c.files[i].src.id < c.first_source) {
      c.first_source = c.files[i].src.id;
    }
  }
  if (rc != CUSTOS_OK)
    goto fail_tx;
  rc = prepare_all(&c, d);
  for (int k = 0; k < K_COUNT && rc == CUSTOS_OK; k++) {
    for (size_t i = 0; i < npaths && rc == CUSTOS_OK; i++) {
      file *f = &c.files[i];
      if (f->skip)
        continue;
      if (f->json)
        rc = json_file(&c, f, k, d);
      else if (f->kind == k)
        rc = csv_file(&c, f, k, d);
    }
    if (k == K_UNITS && rc == CUSTOS_OK)
      rc = check_tree(&c, d);
  }
  finalize_all(&c);
  for (size_t i = 0; i < npaths && rc == CUSTOS_OK; i++) {
    if (c.files[i].skip)
      continue;
    rc = cu_source_complete(ws, &c.files[i].src, d);
    stats->files++;
  }
  if (rc != CUSTOS_OK)
    goto fail_tx;
  rc = cu_ws_commit(ws, d);
  goto fail_files;
fail_tx:
  cu_ws_rollback(ws);
  memset(stats, 0, sizeof *stats);
fail_files:
  for (size_t i = 0; i < npaths; i++)
    json_decref(c.files[i].doc);
  cu_free(c.files);
  return rc;
}
