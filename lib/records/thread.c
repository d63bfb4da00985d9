/*
 * Threads after Jamie Zawinski's algorithm: containers keyed by
 * Message-ID, linked by References and In-Reply-To, with ghost containers
 * for messages referenced but not held, links that would close a loop
 * refused, and a second message with a Message-ID already taken given a
 * container of its own.  Subject grouping is left out: a reply whose
 * references are lost stays a thread of its own rather than being joined
 * by a guess.  The whole forest is computed again in memory from the
 * records, then compared with the stored rows so that only the nodes and
 * records whose thread changed are written (docs/internals.md).
 */
#include <string.h>

#include "records_int.h"

#define NONE UINT32_MAX
#define MAX_NODES 100000000u

typedef struct node {
  size_t key;      /* offset of the Message-ID in the arena */
  int64_t record;  /* 0: a ghost */
  uint32_t parent; /* NONE for a root */
  uint32_t nchild;
  uint32_t thread; /* index of the root, NONE until computed */
  bool stored;     /* id is the row already stored for this node */
  bool row_ghost;  /* the stored row has no record */
  int64_t id;      /* row id in thread_nodes, 0 when dropped */
  int64_t row_thread, row_parent; /* the stored row's, 0 for NULL */
  int64_t rec_thread; /* the record's stored thread_id, 0 for NULL */
} node;

/* A record's node, for finding it by record id; ascending by record. */
typedef struct recnode {
  int64_t record;
  uint32_t node;
} recnode;

typedef struct forest {
  node *n;
  uint32_t count, cap;
  uint32_t *slot; /* hash table of node indices, NONE when empty */
  uint32_t nslot; /* power of two */
  cu_buf arena;
  cu_buf recs; /* recnode, in the order the records were read */
} forest;

static uint32_t hash(const char *s) {
  uint32_t h = 2166136261u;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

static const char *key_of(const forest *f, uint32_t i) {
  return f->arena.data + f->n[i].key;
}

static custos_rc grow_slots(forest *f) {
  uint32_t ns = f->nslot ? f->nslot * 2 : 1024;
  uint32_t *s = cu_malloc((size_t)ns * sizeof *s);
  if (!s)
    return CUSTOS_ENOMEM;
  memset(s, 0xFF, (size_t)ns * sizeof *s);
  for (uint32_t i = 0; i < f->nslot; i++) {
    uint32_t v = f->slot[i];
    if (v == NONE)
      continue;
    uint32_t h = hash(key_of(f, v)) & (ns - 1);
    while (s[h] != NONE)
      h = (h + 1) & (ns - 1);
    s[h] = v;
  }
  cu_free(f->slot);
  f->slot = s;
  f->nslot = ns;
  return CUSTOS_OK;
}

/* A new node for id; indexed in the hash table when index. */
static custos_rc add_node(forest *f, const char *id, bool index,
                          uint32_t *out) {
  if (f->count == f->cap) {
    if (f->cap >= MAX_NODES)
      return CUSTOS_ETOOBIG;
    uint32_t nc = f->cap ? f->cap * 2 : 1024;
    node *nn = cu_realloc(f->n, (size_t)nc * sizeof *nn);
    if (!nn)
      return CUSTOS_ENOMEM;
    f->n = nn;
    f->cap = nc;
  }
  if (index && (uint64_t)(f->count + 1) * 2 > f->nslot) {
    custos_rc rc = grow_slots(f);
    if (rc != CUSTOS_OK)
      return rc;
  }
  size_t key = f->arena.len;
  custos_rc rc = cu_buf_append(&f->arena, id, strlen(id) + 1);
  if (rc != CUSTOS_OK)
    return rc;
  uint32_t i = f->count++;
  f->n[i] = (node){.key = key, .parent = NONE, .thread = NONE};
  if (index) {
    uint32_t h = hash(id) & (f->nslot - 1);
    while (f->slot[h] != NONE)
      h = (h + 1) & (f->nslot - 1);
    f->slot[h] = i;
  }
  *out = i;
  return CUSTOS_OK;
}

/* The indexed node for id (a ghost, or the first record with that
 * Message-ID), NONE when there is none. */
static uint32_t find(const forest *f, const char *id) {
  if (!f->nslot)
    return NONE;
  uint32_t h = hash(id) & (f->nslot - 1);
  while (f->slot[h] != NONE) {
    if (strcmp(key_of(f, f->slot[h]), id) == 0)
      return f->slot[h];
    h = (h + 1) & (f->nslot - 1);
  }
  return NONE;
}

/* The node for id, created as a ghost when there is none. */
static custos_rc lookup(forest *f, const char *id, uint32_t *out) {
  *out = find(f, id);
  if (*out != NONE)
    return CUSTOS_OK;
  return add_node(f, id, true, out);
}

/* Whether a is b or one of b's ancestors. */
static bool is_ancestor(const forest *f, uint32_t a, uint32_t b) {
  for (uint32_t i = b, steps = 0; i != NONE && steps <= f->count;
       i = f->n[i].parent, steps++)
    if (i == a)
      return true;
  return false;
}

/* Makes parent the parent of child unless that would close a loop. */
static void link(forest *f, uint32_t parent, uint32_t child, bool replace) {
  node *c = &f->n[child];
  if (c->parent != NONE && !replace)
    return;
  if (is_ancestor(f, child, parent))
    return; /* a reference loop: keep the tree a tree */
  if (c->parent != NONE)
    f->n[c->parent].nchild--;
  c->parent = parent;
  f->n[parent].nchild++;
}

/* Adds one record: its node, the chain of its references, its parent. */
static custos_rc add_record(forest *f, int64_t rec, int64_t rec_thread,
                            const char *msgid, const char *irt,
                            const char *refs) {
  uint32_t me;
  custos_rc rc;
  char synth[32];
  if (!*msgid) {
    snprintf(synth, sizeof synth, "custos-record-%lld", (long long)rec);
    rc = add_node(f, synth, false, &me);
  } else {
    rc = lookup(f, msgid, &me);
    if (rc == CUSTOS_OK && f->n[me].record != 0)
      rc = add_node(f, msgid, false, &me); /* Message-ID taken */
  }
  if (rc != CUSTOS_OK)
    return rc;
  f->n[me].record = rec;
  f->n[me].rec_thread = rec_thread;
  recnode rn = {rec, me};
  rc = cu_buf_append(&f->recs, &rn, sizeof rn);
  if (rc != CUSTOS_OK)
    return rc;
  uint32_t prev = NONE;
  char id[1024];
  const char *p = refs;
  bool irt_seen = false;
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 1)
      p = irt_seen ? "" : irt;
    while (*p) {
      while (*p == ' ')
        p++;
      size_t n = strcspn(p, " ");
      if (n == 0)
        break;
      if (n < sizeof id) {
        memcpy(id, p, n);
        id[n] = '\0';
        if (pass == 0 && strcmp(id, irt) == 0)
          irt_seen = true;
        uint32_t r;
        if (strcmp(id, msgid) == 0) {
          r = me; /* a message that references itself */
        } else {
          rc = lookup(f, id, &r);
          if (rc != CUSTOS_OK)
            return rc;
        }
        if (prev != NONE && r != me && prev != r)
          link(f, prev, r, false);
        if (r != me)
          prev = r;
      }
      p += n;
    }
  }
  /* A message's own references say best who its parent is. */
  if (prev != NONE && prev != me)
    link(f, prev, me, true);
  return CUSTOS_OK;
}

custos_rc cu_rec_threads_dirty(cu_ws *ws, custos_diag *d) {
  return cu_ws_meta_set(ws, "records.threads", "dirty", d);
}

/* Reads the mail records into the forest, in id order. */
static custos_rc read_records(cu_ws *ws, forest *f, custos_diag *d) {
  sqlite3_stmt *st = NULL;
  custos_rc rc = cu_ws_prepare(ws,
                               "SELECT id, thread_id, message_id, in_reply_to,"
                               " refs FROM records WHERE kind = 'mail'"
                               " ORDER BY id",
                               &st, d);
  int step = SQLITE_DONE;
  while (rc == CUSTOS_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
    rc = add_record(f, sqlite3_column_int64(st, 0),
                    sqlite3_column_int64(st, 1),
                    (const char *)sqlite3_column_text(st, 2),
                    (const char *)sqlite3_column_text(st, 3),
                    (const char *)sqlite3_column_text(st, 4));
  }
  if (rc == CUSTOS_OK && step != SQLITE_DONE)
    rc = cu_ws_dberr(ws, "cannot read records for threading", d);
  else if (rc != CUSTOS_OK && (!d || d->rc == CUSTOS_OK))
    cu_diag_set(d, rc, "cannot build threads");
  sqlite3_finalize(st);
  return rc;
}

/* The node of record rec, NONE when the record is not in the forest. */
static uint32_t find_record(const forest *f, int64_t rec) {
  const recnode *r = (const recnode *)(const void *)f->recs.data;
  size_t lo = 0, hi = f->recs.len / sizeof *r;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (r[mid].record < rec)
      lo = mid + 1;
    else
      hi = mid;
  }
  return r && lo < f->recs.len / sizeof *r && r[lo].record == rec ? r[lo].node
                                                                  : NONE;
}

/* Fills in every node's root.  A chain is walked once: the nodes on it
 * take the root found at its end, so a long thread costs its length, not
 * its length squared. */
static void find_roots(forest *f) {
  for (uint32_t i = 0; i < f->count; i++) {
    uint32_t r = i;
    while (f->n[r].thread == NONE && f->n[r].parent != NONE)
      r = f->n[r].parent;
    uint32_t root = f->n[r].thread != NONE ? f->n[r].thread : r;
    for (uint32_t j = i; j != r; j = f->n[j].parent)
      f->n[j].thread = root;
    f->n[r].thread = root;
  }
}

/* Matches the stored rows to the nodes: a record's row by its record, a
 * ghost's by its Message-ID.  A matched node keeps the row's id; a row
 * left without a node (a node dropped, a ghost filled in by a record that
 * already had a row) goes on the list dead.  *max is the largest id
 * stored. */
static custos_rc match_rows(cu_ws *ws, forest *f, cu_buf *dead, int64_t *max,
                            custos_diag *d) {
  sqlite3_stmt *st = NULL;
  custos_rc rc = cu_ws_prepare(ws,
                               "SELECT id, thread_id, parent_id, record_id,"
                               " message_id FROM thread_nodes",
                               &st, d);
  int step = SQLITE_DONE;
  *max = 0;
  while (rc == CUSTOS_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t id = sqlite3_column_int64(st, 0);
    bool ghost = sqlite3_column_type(st, 3) == SQLITE_NULL;
    uint32_t i = ghost ? find(f, (const char *)sqlite3_column_text(st, 4))
                       : find_record(f, sqlite3_column_int64(st, 3));
    if (id > *max)
      *max = id;
    if (i == NONE || f->n[i].stored ||
        (f->n[i].record == 0 && f->n[i].nchild == 0)) {
      rc = cu_buf_append(dead, &id, sizeof id);
      continue;
    }
    node *n = &f->n[i];
    n->stored = true;
    n->id = id;
    n->row_ghost = ghost;
    n->row_thread = sqlite3_column_int64(st, 1);
    n->row_parent = sqlite3_column_int64(st, 2);
  }
  if (rc == CUSTOS_OK && step != SQLITE_DONE)
    rc = cu_ws_dberr(ws, "cannot read the stored threads", d);
  else if (rc != CUSTOS_OK && (!d || d->rc == CUSTOS_OK))
    cu_diag_set(d, rc, "cannot build threads");
  sqlite3_finalize(st);
  return rc;
}

/* Steps a statement whose parameters are bound, and resets it. */
static custos_rc step_done(cu_ws *ws, sqlite3_stmt *st, custos_diag *d) {
  int step = sqlite3_step(st);
  sqlite3_reset(st);
  return step == SQLITE_DONE ? CUSTOS_OK
                             : cu_ws_dberr(ws, "cannot store a thread", d);
}

static void bind_id(sqlite3_stmt *st, int col, int64_t id) {
  if (id)
    sqlite3_bind_int64(st, col, id);
  else
    sqlite3_bind_null(st, col);
}

/* Writes what differs between the forest and the stored rows: deletes
 * the dead rows, inserts the new nodes, updates the nodes whose thread,
 * parent or record changed, and the records whose thread changed. */
static custos_rc write_diff(cu_ws *ws, const forest *f, const cu_buf *dead,
                            bool fresh, custos_diag *d) {
  enum { DEL, INS, UPD, REC, NST };
  static const char *const sql[NST] = {
      "DELETE FROM thread_nodes WHERE id = ?1",
      "INSERT INTO thread_nodes(id, thread_id, parent_id, message_id,"
      " record_id) VALUES(?1,?2,?3,?4,?5)",
      "UPDATE thread_nodes SET thread_id = ?2, parent_id = ?3,"
      " record_id = ?5 WHERE id = ?1",
      "UPDATE records SET thread_id = ?2 WHERE id = ?1",
  };
  sqlite3_stmt *st[NST] = {NULL};
  custos_rc rc = CUSTOS_OK;
  /* Into an empty table the rows go faster without its indexes, which
   * are then built from the sorted keys (schema.c defines them). */
  if (fresh)
    rc = cu_ws_exec(ws,
                    "DROP INDEX thread_nodes_thread;"
                    "DROP INDEX thread_nodes_record;",
                    d);
  for (int k = 0; k < NST && rc == CUSTOS_OK; k++)
    rc = cu_ws_prepare(ws, sql[k], &st[k], d);
  /* Many records to change (a first ingest) are cheaper changed by one
   * statement after the nodes are written than by one UPDATE each: at
   * 200,000 records the single updates made the whole rebuild about
   * 0.3 CPU-s slower than the statement.  The statement rewrites the
   * rows that are already right too: filtering them out looked the
   * thread up twice per record and cost more than it saved. */
  size_t nrec = 0, nchanged = 0;
  for (uint32_t i = 0; i < f->count; i++) {
    const node *n = &f->n[i];
    if (n->record) {
      nrec++;
      nchanged += n->rec_thread != f->n[n->thread].id;
    }
  }
  bool bulk = nchanged > nrec / 8;
  const int64_t *ids = (const int64_t *)(const void *)dead->data;
  for (size_t k = 0; rc == CUSTOS_OK && k < dead->len / sizeof *ids; k++) {
    sqlite3_bind_int64(st[DEL], 1, ids[k]);
    rc = step_done(ws, st[DEL], d);
  }
  for (uint32_t i = 0; rc == CUSTOS_OK && i < f->count; i++) {
    const node *n = &f->n[i];
    if (!n->id)
      continue;
    int64_t thread = f->n[n->thread].id;
    int64_t parent = n->parent != NONE ? f->n[n->parent].id : 0;
    if (!bulk && n->record && n->rec_thread != thread) {
      sqlite3_bind_int64(st[REC], 1, n->record);
      sqlite3_bind_int64(st[REC], 2, thread);
      rc = step_done(ws, st[REC], d);
    }
    if (rc != CUSTOS_OK ||
        (n->stored && n->row_thread == thread && n->row_parent == parent &&
         n->row_ghost == (n->record == 0)))
      continue;
    sqlite3_stmt *s = n->stored ? st[UPD] : st[INS];
    sqlite3_bind_int64(s, 1, n->id);
    sqlite3_bind_int64(s, 2, thread);
    bind_id(s, 3, parent);
    if (!n->stored)
      sqlite3_bind_text(s, 4, key_of(f, i), -1, SQLITE_STATIC);
    bind_id(s, 5, n->record);
    rc = step_done(ws, s, d);
  }
  for (int k = 0; k < NST; k++)
    sqlite3_finalize(st[k]);
  if (rc == CUSTOS_OK && fresh)
    rc = cu_ws_exec(ws,
                    "CREATE INDEX thread_nodes_thread ON thread_nodes(thread_id);"
                    "CREATE INDEX thread_nodes_record ON thread_nodes(record_id);",
                    d);
  /* Keeping the index on thread_id current through the bulk update cost
   * about as much as building it again afterwards from the sorted ids
   * (schema.c defines it; the two must stay the same). */
  if (rc == CUSTOS_OK && bulk)
    rc = cu_ws_exec(ws,
                    "DROP INDEX records_thread;"
                    "UPDATE records SET thread_id = (SELECT thread_id FROM"
                    " thread_nodes WHERE record_id = records.id)"
                    " WHERE kind = 'mail';"
                    "CREATE INDEX records_thread ON records(thread_id);",
                    d);
  return rc;
}

static custos_rc rebuild(cu_ws *ws, custos_diag *d) {
  forest f;
  memset(&f, 0, sizeof f);
  cu_buf_init(&f.arena, (size_t)4 << 30);
  cu_buf_init(&f.recs, (size_t)MAX_NODES * sizeof(recnode));
  cu_buf dead;
  cu_buf_init(&dead, (size_t)MAX_NODES * sizeof(int64_t));
  int64_t next = 0;
  custos_rc rc = read_records(ws, &f, d);
  if (rc == CUSTOS_OK)
    rc = match_rows(ws, &f, &dead, &next, d);
  bool fresh = next == 0 && dead.len == 0; /* no rows stored */
  if (rc == CUSTOS_OK) {
    find_roots(&f);
    /* The nodes that stay (records, and ghosts with children) and have
     * no row yet get ids after every id stored, so that no id of a row
     * deleted here is given to another node. */
    for (uint32_t i = 0; i < f.count; i++) {
      node *n = &f.n[i];
      if (!n->stored && (n->record != 0 || n->nchild != 0))
        n->id = ++next;
    }
    rc = write_diff(ws, &f, &dead, fresh, d);
  }
  if (rc == CUSTOS_OK)
    rc = cu_ws_exec(ws,
                    "UPDATE meta SET value = 'clean'"
                    " WHERE key = 'records.threads'",
                    d);
  cu_free(f.n);
  cu_free(f.slot);
  cu_buf_free(&f.arena);
  cu_buf_free(&f.recs);
  cu_buf_free(&dead);
  return rc;
}

custos_rc cu_rec_thread_all(cu_ws *ws, custos_diag *d) {
  custos_rc rc = cu_ws_begin(ws, d);
  if (rc != CUSTOS_OK)
    return rc;
  rc = rebuild(ws, d);
  if (rc != CUSTOS_OK) {
    cu_ws_rollback(ws);
    return rc;
  }
  return cu_ws_commit(ws, d);
}

custos_rc cu_rec_threads_refresh(cu_ws *ws, custos_diag *d) {
  char v[16];
  bool found = false;
  custos_rc rc = cu_ws_meta_get(ws, "records.threads", v, sizeof v, &found, d);
  if (rc != CUSTOS_OK)
    return rc;
  return found && strcmp(v, "dirty") == 0 ? cu_rec_thread_all(ws, d)
                                          : CUSTOS_OK;
}
