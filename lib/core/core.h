/*
 * core: what every module of the library stands on.  Allocation through the
 * replaceable allocator, bounded growable buffers, diagnostics, encodings
 * (hex, base64, UTF-8), hashing (SHA-256, HMAC-SHA256 through OpenSSL) and
 * time.  Internal to the library: names are cu_<verb> or cu_<thing>_<verb>.
 */
#ifndef CU_CORE_H
#define CU_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "custos/custos.h"

/* Defensive branches that "cannot happen": asserted in debug builds, and
 * still handled in release builds (after SQLite). */
#ifdef NDEBUG
#define ALWAYS(x) (x)
#define NEVER(x) (x)
#else
#include <assert.h>
#define ALWAYS(x) ((x) ? 1 : (assert(0), 0))
#define NEVER(x) ((x) ? (assert(0), 1) : 0)
#endif

#define CU_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- allocation ------------------------------------------------------- */

/* Allocate n bytes through the installed allocator; NULL on failure or n == 0.
 * Free with cu_free.  cu_calloc zeroes and checks n*size for overflow. */
void *cu_malloc(size_t n) CUSTOS_WUR;
void *cu_calloc(size_t count, size_t size) CUSTOS_WUR;
/* Resize p (which may be NULL) to n > 0 bytes.  On failure returns NULL and
 * p stays valid and owned by the caller. */
void *cu_realloc(void *p, size_t n) CUSTOS_WUR;
/* Free p; p may be NULL. */
void cu_free(void *p);
/* Copy of s (or of its first n bytes) as a new NUL-terminated string; NULL
 * on allocation failure.  The caller frees it with cu_free. */
char *cu_strdup(const char *s) CUSTOS_WUR;
char *cu_strndup(const char *s, size_t n) CUSTOS_WUR;

/* Makes room for element n of an array of elem-sized elements with
 * capacity *cap, doubling (from 16).  Returns the array to use from now on
 * (arr itself or a moved copy, *cap updated), or NULL on allocation failure
 * or size overflow, in which case arr is untouched and still the caller's. */
void *cu_grow(void *arr, size_t *cap, size_t n, size_t elem) CUSTOS_WUR;

/* Test hook: the next `n` allocations succeed, every later one fails, until
 * cu_alloc_fail_after(-1) turns failure injection off.  Returns how many
 * allocations were made since the last call while injection was on.  Safe
 * to race with allocations on other threads. */
long cu_alloc_fail_after(long n);

/* ---- bounded growable buffer ------------------------------------------ */

/*
 * A byte buffer that grows up to a hard cap and then fails with
 * CUSTOS_ETOOBIG, leaving its content as it was before the failing call.
 * data is always NUL-terminated (the NUL is not counted in len) once
 * anything was appended; it is NULL for a fresh buffer.
 */
typedef struct cu_buf {
  char *data;
  size_t len;
  size_t cap;
  size_t max; /* hard cap on len */
} cu_buf;

void cu_buf_init(cu_buf *b, size_t max);
void cu_buf_free(cu_buf *b);  /* releases memory, b can be reused after init */
void cu_buf_reset(cu_buf *b); /* len = 0, keeps memory */
custos_rc cu_buf_reserve(cu_buf *b, size_t extra) CUSTOS_WUR;
custos_rc cu_buf_append(cu_buf *b, const void *p, size_t n) CUSTOS_WUR;
custos_rc cu_buf_puts(cu_buf *b, const char *s) CUSTOS_WUR;
custos_rc cu_buf_putc(cu_buf *b, char c) CUSTOS_WUR;
custos_rc cu_buf_printf(cu_buf *b, const char *fmt, ...) CUSTOS_PRINTF(2, 3)
    CUSTOS_WUR;
custos_rc cu_buf_vprintf(cu_buf *b, const char *fmt, va_list ap) CUSTOS_WUR;
/* Hands the data to the caller (who frees it with cu_free) and resets b.
 * Returns an empty allocated string when b is empty; NULL on OOM. */
char *cu_buf_take(cu_buf *b) CUSTOS_WUR;

/* ---- diagnostics ------------------------------------------------------ */

/* Set rc and message (printf format); returns rc so callers can write
 * `return cu_diag_set(d, CUSTOS_EPARSE, "...")`.  d may be NULL. */
custos_rc cu_diag_set(custos_diag *d, custos_rc rc, const char *fmt, ...)
    CUSTOS_PRINTF(3, 4);
/* Where: input name and position (line/column 0 = unknown). */
void cu_diag_at(custos_diag *d, const char *input, uint64_t line,
                uint64_t column);
/* Which field and value; the value is escaped (control characters and
 * invalid UTF-8 as \xNN) and truncated with "..." when long. */
void cu_diag_field(custos_diag *d, const char *field, const char *value,
                   size_t value_len);
/* What to do. */
void cu_diag_hint(custos_diag *d, const char *fmt, ...) CUSTOS_PRINTF(2, 3);

/* Escape s[0..n) for display into out (size outn), truncating with "...".*/
void cu_escape_display(const char *s, size_t n, char *out, size_t outn);

/* ---- encodings -------------------------------------------------------- */

/* Lower-case hex of p[0..n) into out, which must hold 2n+1 bytes. */
void cu_hex_encode(const uint8_t *p, size_t n, char *out);
/* A decimal number with only digits (no sign, space or other byte) that
 * fits in 64 bits into *out; -1 (and *out untouched) otherwise. */
int cu_parse_u64(const char *s, uint64_t *out);
/* Decode exactly 2*n hex digits (either case) into out[0..n).  EPARSE on any
 * other character or a wrong length. */
custos_rc cu_hex_decode(const char *s, size_t slen, uint8_t *out, size_t n)
    CUSTOS_WUR;

/* Standard base64 with padding (RFC 4648 section 4). */
size_t cu_b64_encoded_len(size_t n); /* without NUL */
void cu_b64_encode(const uint8_t *p, size_t n, char *out); /* NUL-terminates */
/* Strict decode: padding required, no whitespace, non-canonical trailing
 * bits refused.  Writes up to outcap bytes, *outlen gets the count.
 * EPARSE on malformed input, ETOOBIG if outcap is too small. */
custos_rc cu_b64_decode(const char *s, size_t slen, uint8_t *out,
                        size_t outcap, size_t *outlen) CUSTOS_WUR;

/* Offset of the first byte of s[0..n) that starts an invalid UTF-8
 * sequence (overlong, surrogate, > U+10FFFF, truncated), or n when s is
 * valid. */
size_t cu_utf8_invalid_at(const char *s, size_t n);

/* ---- hashing ---------------------------------------------------------- */

#define CU_SHA256_LEN 32

/* One-shot SHA-256. */
void cu_sha256(const void *p, size_t n, uint8_t out[CU_SHA256_LEN]);

/* Streaming SHA-256 (OpenSSL EVP underneath).  init returns ENOMEM or
 * ECRYPTO; a context that failed init must not be used.  final frees the
 * context; cu_sha256_abort frees without a result (NULL allowed). */
typedef struct cu_sha256_ctx cu_sha256_ctx;
custos_rc cu_sha256_init(cu_sha256_ctx **ctx) CUSTOS_WUR;
void cu_sha256_update(cu_sha256_ctx *ctx, const void *p, size_t n);
void cu_sha256_final(cu_sha256_ctx *ctx, uint8_t out[CU_SHA256_LEN]);
void cu_sha256_abort(cu_sha256_ctx *ctx);
/* A context whose updates are hashed on a thread of its own: update
 * copies the bytes (waiting while the previous chunk is still being
 * hashed) and returns, so hashing a file overlaps with parsing it.  Used
 * like any context; without a thread it falls back to hashing in line. */
custos_rc cu_sha256_init_async(cu_sha256_ctx **ctx) CUSTOS_WUR;
/* An update that does not copy: on an asynchronous context the thread
 * hashes p[0..n) where it is, so p must stay valid and unchanged until
 * cu_sha256_final or _abort returns (abort skips what is not yet
 * hashed).  Bytes that follow on from the previous update_ref's are
 * queued without waiting.  On other contexts the same as
 * cu_sha256_update. */
void cu_sha256_update_ref(cu_sha256_ctx *ctx, const void *p, size_t n);
/* Bytes given with cu_sha256_update_ref not yet hashed, at most (the
 * rest of what was given is done with).  0 for NULL. */
size_t cu_sha256_queued(cu_sha256_ctx *ctx);
/* Waits until no more than n of the bytes given with cu_sha256_update_ref
 * are left to hash, so that a caller that reads the same bytes does not
 * run far ahead of a hash that must be done before it goes on.  Returns
 * at once for a synchronous context or NULL. */
void cu_sha256_wait_queued(cu_sha256_ctx *ctx, size_t n);

/* SHA-256 of a whole file, streaming, and its size. EIO with diag on error. */
custos_rc cu_sha256_file(const char *path, uint8_t out[CU_SHA256_LEN],
                         uint64_t *size, custos_diag *d) CUSTOS_WUR;

/* HMAC-SHA256 of p[0..n) under key. */
custos_rc cu_hmac_sha256(const uint8_t *key, size_t keylen, const void *p,
                         size_t n, uint8_t out[CU_SHA256_LEN]) CUSTOS_WUR;

/* Fill p[0..n) with bytes from the OS CSPRNG (OpenSSL RAND_bytes). */
custos_rc cu_random(uint8_t *p, size_t n) CUSTOS_WUR;

/* ---- time ------------------------------------------------------------- */

/* Seconds since the epoch, UTC.  CUSTOS_NOW (an integer of seconds since the
 * epoch) in the environment overrides the clock, for reproducible tests. */
int64_t cu_time_now(void);
/* "2025-08-06T12:00:00Z" into out (>= 21 bytes). */
void cu_time_format(int64_t t, char *out, size_t n);
/* "2025-08-06" into out (>= 11 bytes). */
void cu_date_format(int64_t t, char *out, size_t n);
/* Days since 1970-01-01 for a proleptic Gregorian date; no validation. */
int64_t cu_days_from_civil(int64_t y, unsigned m, unsigned d);
/* Parse "YYYY-MM-DD" or an RFC 3339 / ISO 8601 UTC time ("T" or " ",
 * optional seconds, fraction, "Z" or +hh:mm offset) into seconds since the
 * epoch.  EPARSE when it is not one of those forms or out of range. */
custos_rc cu_time_parse(const char *s, size_t n, int64_t *out) CUSTOS_WUR;

/* ---- files ------------------------------------------------------------ */

/* Write data to path atomically: a temporary file in the same directory,
 * fsync, rename over path, fsync of the directory.  mode is the new file's
 * permission bits.  EIO with diag on any failure, and path is untouched. */
custos_rc cu_file_write_atomic(const char *path, const void *data, size_t n,
                               unsigned mode, custos_diag *d) CUSTOS_WUR;
/* Read a whole file of at most max bytes into a new buffer (NUL-terminated,
 * caller frees with cu_free).  ETOOBIG when larger, EIO/ENOTFOUND else. */
custos_rc cu_file_read(const char *path, size_t max, char **out, size_t *len,
                       custos_diag *d) CUSTOS_WUR;
/* mkdir -p with mode; existing directories are fine. */
custos_rc cu_mkdirs(const char *path, unsigned mode, custos_diag *d) CUSTOS_WUR;
/* fsync the directory at path. */
custos_rc cu_fsync_dir(const char *path, custos_diag *d) CUSTOS_WUR;

#endif
