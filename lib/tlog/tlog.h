/*
 * tlog: the transparency log.  Every event of the workspace outbox becomes a
 * leaf of an RFC 6962 / RFC 9162 Merkle tree stored as C2SP tlog-tiles under
 * the workspace's log/ folder, with a C2SP signed-note checkpoint per batch.
 * The pure parts (Merkle math, notes, keys, tiles, proofs, folder
 * verification) need no database, so an auditor can check a bare copy of
 * the log folder.  Names are cu_log_*; see docs/internals-tlog.md.
 */
#ifndef CU_TLOG_H
#define CU_TLOG_H

#include <stdbool.h>

#include "core/core.h"
#include "store/store.h"

#define CU_LOG_HASH_LEN 32
/* Longest proof for any tree of fewer than 2^64 leaves, with margin. */
#define CU_LOG_MAX_PROOF 130
#define CU_LOG_TILE_WIDTH 256
/* A signed note larger than this is refused (checkpoints are < 1 KiB). */
#define CU_LOG_NOTE_MAX (1u << 20)
/* More signature lines than this and a note is refused. */
#define CU_LOG_NOTE_MAX_SIGS 100
#define CU_LOG_NAME_MAX 255
/* Entry bundles prefix entries with a uint16 length. */
#define CU_LOG_ENTRY_MAX 65535u

/* Signature type bytes of C2SP signed-note. */
enum { CU_LOG_SIG_ED25519 = 0x01, CU_LOG_SIG_COSIG_V1 = 0x04 };

typedef struct cu_log_hash {
  uint8_t b[CU_LOG_HASH_LEN];
} cu_log_hash;

/* ==== Merkle math (merkle.c) ========================================== */

/* RFC 6962 hashes: leaf = SHA-256(0x00 || entry), node = SHA-256(0x01 || l
 * || r), the empty tree = SHA-256(""). */
void cu_log_leaf_hash(const void *entry, size_t n, uint8_t out[32]);
void cu_log_node_hash(const uint8_t l[32], const uint8_t r[32], uint8_t out[32]);
void cu_log_empty_root(uint8_t out[32]);

/* Decodes one strict base64 hash; EPARSE unless it is exactly 32 bytes in
 * canonical base64. */
custos_rc cu_log_hash_b64(const char *s, size_t n, cu_log_hash *out) CUSTOS_WUR;

/*
 * A compact range: the hashes of the perfect subtrees that make up a prefix
 * of the tree, largest first.  O(log n) memory; appending is O(1)
 * amortised.  A plain value the caller owns; no cleanup.
 */
typedef struct cu_log_crange {
  uint64_t size;
  unsigned n;
  cu_log_hash h[64];
} cu_log_crange;

void cu_log_crange_init(cu_log_crange *c);
void cu_log_crange_append(cu_log_crange *c, const uint8_t leaf[32]);
void cu_log_crange_root(const cu_log_crange *c, uint8_t out[32]);

/*
 * A source of perfect-subtree hashes: writes to out the hash of the subtree
 * of height level whose leaves are [index << level, (index + 1) << level).
 * Proof generation works over any source: the in-memory tree, or tiles.
 */
typedef custos_rc (*cu_log_node_fn)(void *ctx, unsigned level, uint64_t index,
                                    uint8_t out[32], custos_diag *d);

/* MTH(D[lo:hi]) from a node source; lo < hi. */
custos_rc cu_log_range_root(cu_log_node_fn fn, void *ctx, uint64_t lo,
                            uint64_t hi, uint8_t out[32],
                            custos_diag *d) CUSTOS_WUR;

/* RFC 6962 PATH(index, D[0:size]) into proof[0..cap); *n gets the count.
 * EINVAL when index >= size. */
custos_rc cu_log_prove_inclusion(cu_log_node_fn fn, void *ctx, uint64_t index,
                                 uint64_t size, cu_log_hash *proof, size_t cap,
                                 size_t *n, custos_diag *d) CUSTOS_WUR;

/* RFC 6962 PROOF(m, D[0:size]); EINVAL unless 0 < m <= size. */
custos_rc cu_log_prove_consistency(cu_log_node_fn fn, void *ctx, uint64_t m,
                                   uint64_t size, cu_log_hash *proof,
                                   size_t cap, size_t *n,
                                   custos_diag *d) CUSTOS_WUR;

/*
 * RFC 9162 section 2.1.3.2.  Hashes are passed as byte strings with their
 * lengths, as the RFC treats them; anything that is not 32 bytes is refused.
 * EVERIFY with a diag naming the first thing that does not hold.
 */
custos_rc cu_log_verify_inclusion(uint64_t index, uint64_t size,
                                  const uint8_t *leaf, size_t leaf_len,
                                  const cu_log_hash *proof, size_t n,
                                  const uint8_t *root, size_t root_len,
                                  custos_diag *d) CUSTOS_WUR;

/*
 * RFC 9162 section 2.1.4.2, with these edges: size1 == 0 is an error (a
 * proof from the empty tree proves nothing); size1 == size2 holds only with
 * an empty proof and byte-equal roots.  EVERIFY on failure.
 */
custos_rc cu_log_verify_consistency(uint64_t size1, uint64_t size2,
                                    const cu_log_hash *proof, size_t n,
                                    const uint8_t *root1, size_t root1_len,
                                    const uint8_t *root2, size_t root2_len,
                                    custos_diag *d) CUSTOS_WUR;

/*
 * The in-memory tree: every perfect subtree hash is kept (2n hashes), so
 * roots and proofs at any size cost O(log n) hashes.  Created with
 * cu_log_tree_new, freed with cu_log_tree_free (NULL is fine).
 */
typedef struct cu_log_tree cu_log_tree;
custos_rc cu_log_tree_new(cu_log_tree **out) CUSTOS_WUR;
void cu_log_tree_free(cu_log_tree *t);
/* Appends a leaf hash; ENOMEM leaves the tree as it was. */
custos_rc cu_log_tree_append(cu_log_tree *t, const uint8_t leaf[32]) CUSTOS_WUR;
uint64_t cu_log_tree_size(const cu_log_tree *t);
/* The root at size (<= the tree's size; 0 gives the empty root). */
void cu_log_tree_root(cu_log_tree *t, uint64_t size, uint8_t out[32]);
/* A cu_log_node_fn over a cu_log_tree passed as ctx. */
custos_rc cu_log_tree_node(void *ctx, unsigned level, uint64_t index,
                           uint8_t out[32], custos_diag *d) CUSTOS_WUR;

/* ==== Keys, signed notes, checkpoints (note.c) ========================= */

/* True when s[0..n) is a valid key name: non-empty, UTF-8, at most
 * CU_LOG_NAME_MAX bytes, no Unicode space, no '+', no control character. */
bool cu_log_name_valid(const char *s, size_t n);

/* SHA-256(name || 0x0A || type || pub)[:4] as a big-endian integer. */
uint32_t cu_log_key_id(const char *name, uint8_t type, const uint8_t pub[32]);

/* A verifier key: <name>+<8 hex key ID>+<base64(type || public key)>. */
typedef struct cu_log_vkey {
  char name[CU_LOG_NAME_MAX + 1];
  uint32_t id;
  uint8_t type; /* CU_LOG_SIG_ED25519 or CU_LOG_SIG_COSIG_V1 */
  uint8_t pub[32];
} cu_log_vkey;

/* A signer key: PRIVATE+KEY+<name>+<8 hex key ID>+<base64(type || seed)>.
 * Holds secret material: wipe it with cu_log_skey_wipe when done. */
typedef struct cu_log_skey {
  cu_log_vkey pub;
  uint8_t seed[32];
} cu_log_skey;

/* Parses a vkey, splitting on the first two '+' only (base64 may hold '+').
 * EPARSE with the offending part in diag. */
custos_rc cu_log_vkey_parse(const char *s, size_t n, cu_log_vkey *out,
                            custos_diag *d) CUSTOS_WUR;
/* Formats k into out (NUL-terminated); ETOOBIG if outn is too small. */
custos_rc cu_log_vkey_format(const cu_log_vkey *k, char *out,
                             size_t outn) CUSTOS_WUR;
custos_rc cu_log_skey_parse(const char *s, size_t n, cu_log_skey *out,
                            custos_diag *d) CUSTOS_WUR;
custos_rc cu_log_skey_format(const cu_log_skey *k, char *out,
                             size_t outn) CUSTOS_WUR;
/* A fresh Ed25519 key of type (0x01 log, 0x04 witness) named name. */
custos_rc cu_log_skey_generate(const char *name, uint8_t type,
                               cu_log_skey *out, custos_diag *d) CUSTOS_WUR;
void cu_log_skey_wipe(cu_log_skey *k);

/* One signature line of a parsed note. */
typedef struct cu_log_note_sig {
  char name[CU_LOG_NAME_MAX + 1];
  uint32_t id;
  const uint8_t *sig; /* bytes after the key ID; owned by the note */
  size_t sig_len;
} cu_log_note_sig;

/* A parsed signed note.  Everything is owned by the struct and released
 * by cu_log_note_free; pointers into it die with it. */
typedef struct cu_log_note {
  char *text; /* the signed text with its final newline, NUL-terminated */
  size_t text_len;
  cu_log_note_sig *sigs;
  size_t nsigs;
  uint8_t *sigmem;
} cu_log_note;

/* Parses (without verifying) a signed note per C2SP signed-note.  EPARSE or
 * ETOOBIG with the line in diag; *out is untouched on failure. */
custos_rc cu_log_note_parse(const char *s, size_t n, cu_log_note *out,
                            custos_diag *d) CUSTOS_WUR;
void cu_log_note_free(cu_log_note *note);

/*
 * Verifies note against the known keys.  A signature whose name and key ID
 * match a known key must verify, or the whole note is refused (EVERIFY).
 * ok[i] (ok may be NULL) is set to true when keys[i] signed the note.
 * Succeeds when at least one known key signed it.
 */
custos_rc cu_log_note_verify(const cu_log_note *note, const cu_log_vkey *keys,
                             size_t nkeys, bool *ok, custos_diag *d) CUSTOS_WUR;

/* Appends to out the signed note: text (which must end in a newline and
 * be valid note text), a blank line and key's signature line.  For a
 * type 0x04 key, time is the cosignature timestamp; else ignored. */
custos_rc cu_log_note_sign(const char *text, size_t n, const cu_log_skey *key,
                           uint64_t time, cu_buf *out,
                           custos_diag *d) CUSTOS_WUR;

/* A checkpoint's first three lines. */
typedef struct cu_log_checkpoint {
  char origin[CU_LOG_NAME_MAX + 1];
  uint64_t size;
  uint8_t root[32];
} cu_log_checkpoint;

/* Parses checkpoint note text (origin, decimal size without leading zero,
 * canonical base64 root, non-empty extension lines).  EPARSE. */
custos_rc cu_log_checkpoint_parse(const char *text, size_t n,
                                  cu_log_checkpoint *out,
                                  custos_diag *d) CUSTOS_WUR;
/* Writes the checkpoint body (three lines) to out. */
custos_rc cu_log_checkpoint_text(const cu_log_checkpoint *cp,
                                 cu_buf *out) CUSTOS_WUR;
/*
 * Parses and verifies a signed checkpoint: log_key must have signed it and
 * so must every one of the nwit witness keys.  EVERIFY / EPARSE.
 */
custos_rc cu_log_checkpoint_open(const char *note, size_t n,
                                 const cu_log_vkey *log_key,
                                 const cu_log_vkey *wit, size_t nwit,
                                 cu_log_checkpoint *out,
                                 custos_diag *d) CUSTOS_WUR;

/* ==== Entries (entry.c) ================================================ */

#define CU_LOG_ENTRY_MAGIC "custos/log-entry/v1"
/* Payloads up to this size are stored inside the leaf; larger ones only by
 * digest and size. */
#define CU_LOG_INLINE_MAX 32768u
#define CU_LOG_FIELD_MAX 256

/* A decoded entry.  payload points into the bytes it was decoded from (or
 * is NULL when the payload is not inline); strings are copies. */
typedef struct cu_log_entry {
  uint64_t index;
  int64_t time;
  char type[CU_LOG_FIELD_MAX + 1];
  char actor[CU_LOG_FIELD_MAX + 1];
  char case_id[CU_LOG_FIELD_MAX + 1]; /* "" when the event has no case */
  uint8_t payload_sha256[32];
  uint64_t payload_size;
  const uint8_t *payload; /* NULL unless inline */
} cu_log_entry;

/* Encodes e with payload[0..n) into out (appended), canonically.
 * e->payload*, are ignored: they are computed here.  ETOOBIG for a field
 * over CU_LOG_FIELD_MAX bytes. */
custos_rc cu_log_entry_encode(const cu_log_entry *e, const void *payload,
                              size_t n, cu_buf *out,
                              custos_diag *d) CUSTOS_WUR;
/* True when p starts like a custos entry (the magic line). */
bool cu_log_entry_is_custos(const uint8_t *p, size_t n);
/* Decodes and checks canonical form (re-encoding gives the same bytes).
 * EPARSE. */
custos_rc cu_log_entry_decode(const uint8_t *p, size_t n, cu_log_entry *out,
                              custos_diag *d) CUSTOS_WUR;
/* The entry as a JSON object (new reference, NULL on OOM); the payload is
 * embedded as JSON when it parses as JSON, else as base64. */
struct json_t *cu_log_entry_json(const cu_log_entry *e);

/* ==== Tiles and the log folder (tile.c, dir.c) ========================= */

/* "tile/<level>/<N>[.p/<W>]" or, for level < 0, "tile/entries/<N>[.p/<W>]"
 * with N in the x001/x234/067 form; width 0 or 256 means a full tile.
 * EINVAL when out is too small or width > 256. */
custos_rc cu_log_tile_path(char *out, size_t n, int level, uint64_t index,
                           unsigned width) CUSTOS_WUR;
/* The reverse: EPARSE unless rel is exactly such a path in canonical form. */
custos_rc cu_log_tile_path_parse(const char *rel, int *level, uint64_t *index,
                                 unsigned *width) CUSTOS_WUR;

/*
 * A log folder in tlog-tiles layout.  Open it with the verifier key; the
 * checkpoint is verified on open.  A handle reads entries, tiles and proofs
 * at the checkpoint's size and, with the signer key, appends: entries are
 * buffered by cu_log_dir_append and made durable, with a new signed
 * checkpoint, by cu_log_dir_commit (one batch, one checkpoint).  Not
 * thread-safe; one writer per folder (the caller holds the lock).
 */
typedef struct cu_log_dir cu_log_dir;

/* Creates dir's tile folders and, when there is no checkpoint, publishes
 * the empty one (size 0) signed by key. */
custos_rc cu_log_dir_init(const char *dir, const cu_log_skey *key,
                          custos_diag *d) CUSTOS_WUR;
/* Opens dir; *out is the caller's, freed by cu_log_dir_close. */
custos_rc cu_log_dir_open(const char *dir, const cu_log_vkey *vkey,
                          cu_log_dir **out, custos_diag *d) CUSTOS_WUR;
void cu_log_dir_close(cu_log_dir *ld);
/* The verified checkpoint (valid while ld is open) and its note text. */
const cu_log_checkpoint *cu_log_dir_checkpoint(const cu_log_dir *ld);
const char *cu_log_dir_checkpoint_note(const cu_log_dir *ld);
/* Size including appended, uncommitted entries. */
uint64_t cu_log_dir_pending_size(const cu_log_dir *ld);

/* Buffers one entry (at most CU_LOG_ENTRY_MAX bytes) for the next commit.
 * ETOOBIG when the batch would pass its memory cap: commit first. */
custos_rc cu_log_dir_append(cu_log_dir *ld, const void *entry, size_t n,
                            custos_diag *d) CUSTOS_WUR;
/*
 * Makes the pending entries durable and publishes their checkpoint: every
 * new tile and bundle is written to a temporary file and fsynced, renamed
 * into place, the directories fsynced, and only then the signed checkpoint
 * replaces the old one the same way.  Any failure (an fsync error
 * included) is fatal for the handle: it returns EIO and every later call on
 * ld fails; the folder still holds the old, valid checkpoint.
 */
custos_rc cu_log_dir_commit(cu_log_dir *ld, const cu_log_skey *key,
                            custos_diag *d) CUSTOS_WUR;

/* The raw entry at index < checkpoint size into out (reset first),
 * checked against its leaf hash in the level-0 tile. */
custos_rc cu_log_dir_entry(cu_log_dir *ld, uint64_t index, cu_buf *out,
                           custos_diag *d) CUSTOS_WUR;
/* A cu_log_node_fn over the tiles of an open cu_log_dir passed as ctx, for
 * subtrees within the checkpoint's size. */
custos_rc cu_log_dir_node(void *ctx, unsigned level, uint64_t index,
                          uint8_t out[32], custos_diag *d) CUSTOS_WUR;

/* What a folder verification found. */
typedef struct cu_log_verify_report {
  cu_log_checkpoint cp;
  uint64_t custos_entries; /* entries decoded as custos entries */
  uint64_t opaque_entries; /* other entries, verified as plain leaves */
  uint64_t tiles;          /* tile and bundle files checked */
  uint64_t stray;          /* files beyond the checkpoint (left by a crash) */
} cu_log_verify_report;

/*
 * Verifies a tlog-tiles folder on its own: the checkpoint against vkey (and
 * each witness key), every entry bundle hashed into the level-0 tiles, every
 * higher tile recomputed from the level below, the root recomputed from the
 * entries and compared with the checkpoint.  Entries in custos form are
 * decoded and their index checked.  EVERIFY naming the file that fails.
 */
custos_rc cu_log_dir_verify(const char *dir, const cu_log_vkey *vkey,
                            const cu_log_vkey *wit, size_t nwit,
                            cu_log_verify_report *rep,
                            custos_diag *d) CUSTOS_WUR;

/* What fsck repaired. */
typedef struct cu_log_fsck_report {
  uint64_t size;     /* checkpoint size */
  uint64_t temp;     /* temporary files removed */
  uint64_t stray;    /* uncommitted tiles and bundles removed */
  uint64_t obsolete; /* partial tiles superseded by a full tile, removed */
} cu_log_fsck_report;

/*
 * Repairs what an interrupted commit left: removes temporary files, tiles
 * and bundles beyond the checkpoint and partials superseded by full tiles,
 * then verifies the committed part.  Never touches a committed file.
 */
custos_rc cu_log_dir_fsck(const char *dir, const cu_log_vkey *vkey,
                          cu_log_fsck_report *rep, custos_diag *d) CUSTOS_WUR;

/* Test hook: the next n file writes of the log succeed and every later one
 * fails with EIO, until cu_log_fail_io_after(-1).  Counts write, fsync and
 * rename steps. */
void cu_log_fail_io_after(long n);

/* ==== Proof bundles (proof.c): c2sp.org/tlog-proof@v1 ================== */

/* Appends a tlog-proof to out: the entry as base64 "extra", the index, the
 * inclusion proof and the signed checkpoint note. */
custos_rc cu_log_proof_format(const uint8_t *entry, size_t entry_len,
                              uint64_t index, const cu_log_hash *proof,
                              size_t n, const char *note, size_t note_len,
                              cu_buf *out) CUSTOS_WUR;
/*
 * Verifies a tlog-proof offline against vkey: the checkpoint signature and
 * the inclusion of the entry carried in "extra".  On success *index and
 * *cp are set and entry (reset first) holds the entry bytes.
 */
custos_rc cu_log_proof_verify(const char *s, size_t n, const cu_log_vkey *vkey,
                              uint64_t *index, cu_log_checkpoint *cp,
                              cu_buf *entry, custos_diag *d) CUSTOS_WUR;

/* ==== The workspace's log (log.c) ====================================== */

/*
 * Creates the log's Ed25519 key (keys/log.key, 0600) with the given origin,
 * or a unique generated one when origin is NULL, and publishes the empty
 * checkpoint.  When the key exists it is kept (EEXIST only if origin is
 * given and differs).  *out (may be NULL) gets the verifier key.
 */
custos_rc cu_log_key_ensure(cu_ws *ws, const char *origin, cu_log_vkey *out,
                            custos_diag *d) CUSTOS_WUR;
/* The log's verifier key; ENOTFOUND before cu_log_key_ensure. */
custos_rc cu_log_vkey_get(cu_ws *ws, cu_log_vkey *out,
                          custos_diag *d) CUSTOS_WUR;

/*
 * Group commit: appends every event with seq >= the log's size as the leaf
 * with index seq, writes its tiles and bundles durably and publishes one
 * signed checkpoint per batch.  Commands call it after their commit; it
 * takes the log's lock, creates the key on first use, and is a no-op when
 * nothing is pending.  ECONFLICT when the database and the log disagree
 * (a restored database): nothing is written then.
 */
custos_rc cu_log_sync(cu_ws *ws, custos_diag *d) CUSTOS_WUR;

/* Looks up the committed entry at index.  raw (reset first) receives the
 * leaf bytes and *out is decoded from them (out->payload points into raw,
 * valid until raw changes).  ENOTFOUND beyond the checkpoint. */
custos_rc cu_log_entry_get(cu_ws *ws, uint64_t index, cu_log_entry *out,
                           cu_buf *raw, custos_diag *d) CUSTOS_WUR;

/* The current signed checkpoint: the note into note (reset first, may be
 * NULL) and its parsed lines into *cp. */
custos_rc cu_log_checkpoint_get(cu_ws *ws, cu_buf *note, cu_log_checkpoint *cp,
                                custos_diag *d) CUSTOS_WUR;

/* Inclusion proof of index in the tree of size (0 = the checkpoint's),
 * proof[0..CU_LOG_MAX_PROOF). *root gets that tree's root. */
custos_rc cu_log_inclusion(cu_ws *ws, uint64_t index, uint64_t size,
                           cu_log_hash *proof, size_t *n, uint8_t root[32],
                           custos_diag *d) CUSTOS_WUR;
/* Consistency proof between sizes a and b (b = 0: the checkpoint's) and
 * both roots. */
custos_rc cu_log_consistency(cu_ws *ws, uint64_t a, uint64_t b,
                             cu_log_hash *proof, size_t *n, uint8_t root_a[32],
                             uint8_t root_b[32], custos_diag *d) CUSTOS_WUR;
/* A self-contained tlog-proof of entry index against the current signed
 * checkpoint, appended to out. */
custos_rc cu_log_prove(cu_ws *ws, uint64_t index, cu_buf *out,
                       custos_diag *d) CUSTOS_WUR;
/* Takes the log's lock and runs cu_log_dir_fsck on the workspace's log. */
custos_rc cu_log_fsck(cu_ws *ws, cu_log_fsck_report *rep,
                      custos_diag *d) CUSTOS_WUR;

#endif
