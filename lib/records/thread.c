/*
 * Threads after Jamie Zawinski's algorithm: containers keyed by
 * Message-ID, linked by References and In-Reply-To, with ghost containers
 * for messages referenced but not held, links that would close a loop
 * refused, and a second message with a Message-ID already taken given a
 * container of its own.  Subject grouping is left out: a reply whose
 * references are lost stays a thread of its own rather than being joined
 * by a guess.  The whole set is rebuilt from the records in one pass.
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
  uint32_t thread; /* index of the root, filled at the end */
  int64_t id;      /* row id in thread_nodes, 0 when dropped */
} node;

typedef struct forest {
  node *n;
  uint32_t count, cap;
  uint32_t *slot; /* hash table of node indices, NONE when empty */
  uint32_t nslot; /* power of two */
  cu_buf arena;
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
  f->n[i] = (node){key, 0, NONE, 0, NONE, 0};
  if (index) {
    uint32_t h = hash(id) & (f->nslot - 1);
    while (f->slot[h] != NONE)
      h = (h + 1) & (f->nslot - 1);
    f->slot[h] = i;
  }
  *out = i;
  return CUSTOS_OK;
}

/* The node for id, created as a ghost when there is none. */
static custos_rc lookup(forest *f, const char *id, uint32_t *out) {
  if (f->nslot) {
    uint32_t h = hash(id) & (f->nslot - 1);
    while (f->slot[h] != NONE) {
      if (strcmp(key_of(f, f->slot[h]), id) == 0) {
        *out = f->slot[h];
        return CUSTOS_OK;
      }
      h = (h + 1) & (f->nslot - 1);
    }
  }
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
static custos_rc add_record(forest *f, int64_t rec, const char *msgid,
                            const char *irt, const char *refs) {
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

static custos_rc rebuild(cu_ws *ws, custos_diag *d) {
  forest f;
  memset(&f, 0, sizeof f);
  cu_buf_init(&f.arena, (size_t)4 << 30);
  sqlite3_stmt *st = NULL;
  custos_rc rc = cu_ws_prepare(ws,
                               "SELECT id, message_id, in_reply_to, refs FROM"
                               " records WHERE kind = 'mail' ORDER BY id",
                               &st, d);
  int step = SQLITE_DONE;
  while (rc == CUSTOS_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
    rc = add_record(&f, sqlite3_column_int64(st, 0),
                    (const char *)sqlite3_column_text(st, 1),
                    (const char *)sqlite3_column_text(st, 2),
                    (const char *)sqlite3_column_text(st, 3));
  }
  if (rc == CUSTOS_OK && step != SQLITE_DONE)
    rc = cu_ws_dberr(ws, "cannot read records for threading", d);
  else if (rc != CUSTOS_OK && (!d || d->rc == CUSTOS_OK))
    cu_diag_set(d, rc, "cannot build threads");
  sqlite3_finalize(st);
  st = NULL;
  if (rc == CUSTOS_OK)
    rc = cu_ws_exec(ws, "DELETE FROM thread_nodes", d);
  if (rc == CUSTOS_OK)
    rc = cu_ws_prepare(ws,
                       "INSERT INTO thread_nodes(id, thread_id, parent_id,"
                       " message_id, record_id) VALUES(?1,?2,?3,?4,?5)",
                       &st, d);
  /* Number the nodes that stay (records, and ghosts with children) so
   * that every parent has its id before its children are written. */
  int64_t next = 1;
  for (uint32_t i = 0; rc == CUSTOS_OK && i < f.count; i++) {
    if (f.n[i].record == 0 && f.n[i].nchild == 0)
      continue;
    f.n[i].id = next++;
  }
  for (uint32_t i = 0; rc == CUSTOS_OK && i < f.count; i++) {
    node *n = &f.n[i];
    if (!n->id)
      continue;
    uint32_t root = i;
    while (f.n[root].parent != NONE)
      root = f.n[root].parent;
    sqlite3_bind_int64(st, 1, n->id);
    sqlite3_bind_int64(st, 2, f.n[root].id);
    if (n->parent != NONE)
      sqlite3_bind_int64(st, 3, f.n[n->parent].id);
    else
      sqlite3_bind_null(st, 3);
    sqlite3_bind_text(st, 4, key_of(&f, i), -1, SQLITE_STATIC);
    if (n->record)
      sqlite3_bind_int64(st, 5, n->record);
    else
      sqlite3_bind_null(st, 5);
    if (sqlite3_step(st) != SQLITE_DONE)
      rc = cu_ws_dberr(ws, "cannot store a thread", d);
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  if (rc == CUSTOS_OK)
    rc = cu_ws_exec(ws,
                    "UPDATE records SET thread_id = (SELECT thread_id FROM"
                    " thread_nodes WHERE record_id = records.id)"
                    " WHERE kind = 'mail';"
                    "UPDATE meta SET value = 'clean'"
                    " WHERE key = 'records.threads'",
                    d);
  cu_free(f.n);
  cu_free(f.slot);
  cu_buf_free(&f.arena);
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
