/*
 * core/csv: a streaming RFC 4180 reader, the hot path of every ingest.
 * Quoted fields with commas, quotes and newlines inside; CRLF or LF; a
 * leading UTF-8 BOM skipped; gzip input detected by its magic bytes; caps on
 * field size, record size and field count; invalid UTF-8 reported with its
 * line and column.  Lives in core because the directory, ledger and region
 * catalogue all read CSV.
 */
#ifndef CU_CSV_H
#define CU_CSV_H

#include <stdbool.h>

#include "core.h"

typedef struct cu_csv cu_csv;

typedef struct cu_csv_opts {
  size_t max_field;  /* bytes in one field, default 1 MiB */
  size_t max_record; /* bytes in one record, default 4 MiB */
  size_t max_fields; /* fields in one record, default 4096 */
  char delim;        /* default ',' */
  bool check_utf8;   /* default true */
  /* For tests: parse every record with the careful byte-by-byte scanner
   * that otherwise handles only unusual records.  Default false. */
  bool slow_scan;
  /* For tests: scan with 16-byte vectors even where the CPU has 32-byte
   * ones (AVX2), so that both fast paths are checked on one machine.
   * Default false. */
  bool narrow_scan;
  /* Keep each read buffer, and so every record read from it, valid
   * until the caller lets it go with cu_csv_release, instead of reusing
   * it: the caller may then hold on to records (e.g. hand them to
   * another thread) without copying them.  Buffers are never reused
   * before they are released, so memory grows by about the bytes of the
   * records held.  Default false. */
  bool keep_buffers;
  /* With keep_buffers: the most bytes of records the caller holds at
   * once.  The reader then makes the spare buffers those need (for a
   * plain input of known size, no more than that size needs) when it
   * opens, so that reading makes no allocation of its own while records
   * fit its buffer, and how many a read makes does not depend on how
   * soon the caller releases (which an allocation-failure test counts
   * on).  Default 0: spares are made as they are needed. */
  size_t keep_bytes;
  /* With a selection (cu_csv_select): the selected fields of a record
   * the fast path reads (a plain one, nearly all) are given out where
   * they lie in the input, without a NUL after them and with their
   * doubled quotes left as they are: cu_csv_escaped (or the *escaped
   * of cu_csv_fields) says which have any, and cu_csv_unescape
   * collapses them when the caller needs the value.  Other records
   * (the careful scanner's) come unescaped and NUL-terminated as
   * always, with no field escaped.  A regular file (which is mapped)
   * is then parsed where it lies: records wholly before its last 72
   * bytes are not copied, so a field, and cu_csv_record_bytes, may
   * point into the mapping (with keep_buffers, its "buffers" are
   * ranges of the mapping, whose pages cu_csv_release lets go of once
   * hashed); records that need the careful scanner, the last bytes of
   * the file, gzip and memory inputs are copied as without.  Records,
   * field bounds, quoting, positions and errors are those of the
   * default.  Default false. */
  bool raw_fields;
  /* When not NULL, every byte read from the input as stored (compressed
   * for gzip) is added to this hash, so a caller gets the input's digest
   * in the same pass; the context stays the caller's.  Memory and regular
   * files (which are mapped) are hashed where they lie, with
   * cu_sha256_update_ref: memory whole when opened, a file up to 32 MiB
   * ahead of the reader; so the digest is the input's only when the
   * reader took all of it (cu_csv_offset == cu_csv_size), and it must be
   * taken (cu_sha256_final) or given up (cu_sha256_abort) before
   * cu_csv_close unmaps what it reads.  Default NULL. */
  cu_sha256_ctx *sha256;
} cu_csv_opts;

/* The defaults above; pass NULL opts to get them. */
void cu_csv_opts_default(cu_csv_opts *o);

/*
 * Opens path for reading (plain or gzip, told apart by the first bytes).
 * The reader is the caller's, freed with cu_csv_close.  name is what
 * diagnostics call the input (usually the path).  ENOTFOUND/EIO with diag.
 */
custos_rc cu_csv_open(const char *path, const cu_csv_opts *opts, cu_csv **out,
                      custos_diag *d) CUSTOS_WUR;

/* Reads from memory; data must stay valid until cu_csv_close. */
custos_rc cu_csv_open_mem(const char *name, const void *data, size_t n,
                          const cu_csv_opts *opts, cu_csv **out,
                          custos_diag *d) CUSTOS_WUR;

void cu_csv_close(cu_csv *c); /* NULL is fine */

/*
 * Reads the next record.  On success *eof is false and the record's fields
 * are available until the next call; at the end of input *eof is true.
 * Errors (with diag naming input:line:column): EPARSE for an unterminated
 * quote (at the opening quote) or a stray quote, ETOOBIG for a field, record
 * or field count above its cap, EUTF8 for invalid UTF-8, EIO for a read or
 * gzip error.  After an error the reader must not be used again except to
 * close it.  A final line without a newline is a record; an empty line is a
 * record with one empty field (callers usually skip it).
 */
custos_rc cu_csv_next(cu_csv *c, bool *eof, custos_diag *d) CUSTOS_WUR;

/*
 * Says that the caller reads only fields cols[0..n) of each record (and
 * field 0, by which an empty line is told), so that the other fields of
 * a plain record (one line, the fast path) are delimited but not
 * unquoted or NUL-terminated.  Every record is still checked whole
 * (quotes, UTF-8, caps, field count), so records, errors and positions
 * are the same as without.  Until the next call, ask cu_csv_field,
 * cu_csv_fields, cu_csv_quoted and cu_csv_field_pos only for those
 * fields: for another, the first, third and fourth say an empty,
 * unquoted field at 0:0 (and assert), while cu_csv_fields, the hot path,
 * only asserts.  n 0 gives out every field again.  cols is copied.
 * EINVAL for an index not below max_fields, ENOMEM (the selection as it
 * was).
 */
custos_rc cu_csv_select(cu_csv *c, const int *cols, size_t n,
                        custos_diag *d) CUSTOS_WUR;

size_t cu_csv_nfields(const cu_csv *c);
/* Field i of the current record, NUL-terminated, unquoted; *len (may be
 * NULL) gets its length.  i must be < cu_csv_nfields.  With raw_fields,
 * a selected field of a plain record has no NUL and may be escaped
 * (cu_csv_escaped): use its length. */
const char *cu_csv_field(const cu_csv *c, size_t i, size_t *len);
/* Fields idx[0..n) of the current record at once, as cu_csv_field gives
 * them: v[k] and len[k] for field idx[k], each index < cu_csv_nfields;
 * bit k of *quoted (n <= 64) whether it was quoted, and of *escaped
 * (may be NULL) whether it is given out with its doubled quotes
 * (raw_fields only; len[k] is then its length before collapsing them).
 * The 64 bytes after each field's end (its NUL, when it has one) lie in
 * the reader's buffer or the input's mapping and may be read (as
 * scratch: their values say nothing), so that a caller may copy a short
 * field with one wide load. */
void cu_csv_fields(const cu_csv *c, const int *idx, size_t n, const char **v,
                   size_t *len, uint64_t *quoted, uint64_t *escaped);
/* cu_csv_fields with each field put where the caller keeps it: field
 * idx[k] in v[to[k]] and len[to[k]], and its bits of *quoted and
 * *escaped at to[k] (< 64); v and len have room for the largest
 * to[k], and their other entries stay as they were.  Saves a caller
 * that keeps fields by its own numbers a copy of each. */
void cu_csv_fields_to(const cu_csv *c, const int *idx, const int *to,
                      size_t n, const char **v, size_t *len,
                      uint64_t *quoted, uint64_t *escaped);
/* Whether field i is given out with its doubled quotes (raw_fields): it
 * is then neither NUL-terminated nor collapsed. */
bool cu_csv_escaped(const cu_csv *c, size_t i);
/* Copies the n bytes of an escaped field at src to dst, each doubled
 * quote collapsed into one, and returns the length written (at most n).
 * dst may be src (in place) but must not otherwise overlap it; no NUL is
 * written. */
size_t cu_csv_unescape(char *dst, const char *src, size_t n);
/* The bytes of the current record as they lie in the reader's buffer
 * (or the input's mapping, see raw_fields), every field given out (with
 * its NUL, when it has one) inside them, so that one copy of
 * them keeps every field: a field at v in the buffer is at
 * copy + (v - start) in the copy.  *one_line (may be NULL) tells whether
 * every field starts on the record's first line, when a field's column
 * (cu_csv_field_pos) is its offset from the start plus one, less one for
 * the opening quote of a quoted field.  Valid until the next call. */
const char *cu_csv_record_bytes(const cu_csv *c, size_t *n, bool *one_line);
/* With keep_buffers: the number of the buffer that holds the current
 * record (read in place, raw_fields: of the range of the mapping).
 * Numbers grow with the file; the current record and every later one lie
 * in buffers numbered at least this. */
uint64_t cu_csv_buffer(const cu_csv *c);
/* With keep_buffers: says that no record read from a buffer numbered
 * below buf is looked at any more, so those buffers may be reused (and
 * the pages of such ranges of a mapping let go once hashed).  The
 * caller's records in them are invalid after the call.  Without
 * keep_buffers it does nothing. */
void cu_csv_release(cu_csv *c, uint64_t buf);
/* Whether field i was quoted (so "" differs from an empty unquoted field). */
bool cu_csv_quoted(const cu_csv *c, size_t i);
/* 1-based line on which the current record starts. */
uint64_t cu_csv_line(const cu_csv *c);
/* 1-based line and column (in bytes, counted from the line's start) where
 * field i of the current record starts. */
void cu_csv_field_pos(const cu_csv *c, size_t i, uint64_t *line,
                      uint64_t *column);
/* 1-based number of the current record (the header is record 1). */
uint64_t cu_csv_record(const cu_csv *c);
/* Bytes consumed so far from the file as stored (compressed for gzip), and
 * its total size (0 when unknown), for progress. */
uint64_t cu_csv_offset(const cu_csv *c);
uint64_t cu_csv_size(const cu_csv *c);
/* The input's name as given to open. */
const char *cu_csv_name(const cu_csv *c);

#endif
