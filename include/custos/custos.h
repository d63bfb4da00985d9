/*
 * custos public API: the one result type, the allocator hook, diagnostics
 * and version.  Enforcement points use pdp.h; everything else in the library
 * is reached through the command-line tool or the HTTP API.
 */
#ifndef CUSTOS_CUSTOS_H
#define CUSTOS_CUSTOS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CUSTOS_VERSION "0.1.0"

#if defined(__GNUC__) || defined(__clang__)
#define CUSTOS_WUR __attribute__((warn_unused_result))
#define CUSTOS_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CUSTOS_WUR
#define CUSTOS_PRINTF(a, b)
#endif

/*
 * Every fallible call returns a custos_rc.  The numbers are part of the ABI
 * and the CLI's exit codes derive from them: append new codes at the end and
 * never renumber.  X(name, number, message)
 */
#define CUSTOS_RC_LIST(X)                                                      \
  X(OK, 0, "success")                                                          \
  X(ENOMEM, 1, "out of memory")                                                \
  X(EINVAL, 2, "invalid argument")                                             \
  X(EIO, 3, "input/output error")                                              \
  X(ENOTFOUND, 4, "not found")                                                 \
  X(EEXIST, 5, "already exists")                                               \
  X(ETOOBIG, 6, "input too large")                                             \
  X(EPARSE, 7, "malformed input")                                              \
  X(EUTF8, 8, "invalid UTF-8")                                                 \
  X(ESCHEMA, 9, "workspace schema is newer than this custos")                  \
  X(EDB, 10, "workspace database error")                                       \
  X(ECRYPTO, 11, "cryptographic operation failed")                             \
  X(EVERIFY, 12, "verification failed")                                        \
  X(EREFUSED, 13, "refused")                                                   \
  X(ECONFLICT, 14, "conflicting data")                                         \
  X(ENOWS, 15, "no workspace")                                                 \
  X(EBUSY, 16, "workspace is busy")                                            \
  X(EUNSUPPORTED, 17, "unsupported")                                           \
  X(EINTERNAL, 18, "internal error")

typedef enum custos_rc {
#define CUSTOS_RC_ENUM_(name, num, msg) CUSTOS_##name = num,
  CUSTOS_RC_LIST(CUSTOS_RC_ENUM_)
#undef CUSTOS_RC_ENUM_
  CUSTOS_RC_COUNT_
} custos_rc;

/* The fixed English message for rc; never NULL, static storage. */
const char *custos_rc_message(custos_rc rc);

/* The symbolic name ("CUSTOS_EPARSE") for rc; never NULL, static storage. */
const char *custos_rc_name(custos_rc rc);

/*
 * Allocation.  All memory the library takes goes through one function with
 * the contract of Lua's lua_Alloc: fn(ud, NULL, n) allocates, fn(ud, p, n)
 * resizes, fn(ud, p, 0) frees and returns NULL.  Returning NULL for n > 0
 * is an allocation failure, which every caller handles.  Passing fn == NULL
 * restores the default (the C library's realloc/free).  Not thread-safe:
 * set it before any other call.
 */
typedef void *(*custos_alloc_fn)(void *ud, void *ptr, size_t size);
void custos_set_allocator(custos_alloc_fn fn, void *ud);

/*
 * A diagnostic: what went wrong, where, and what to do.  Filled by fallible
 * calls that take a custos_diag *; the caller owns the struct (usually on the
 * stack) and may pass NULL when it does not care.  Strings are always
 * NUL-terminated and truncated to their arrays.
 */
typedef struct custos_diag {
  custos_rc rc;
  char input[512];  /* file path, URL or other name of the input, or "" */
  uint64_t line;    /* 1-based, 0 when not known */
  uint64_t column;  /* 1-based, 0 when not known */
  char field[128];  /* field/column/key name, or "" */
  char value[256];  /* offending value, escaped for display, or "" */
  char msg[512];    /* what happened, one sentence */
  char hint[512];   /* what to do about it, or "" */
} custos_diag;

/* Clears d to "no error". d may be NULL. */
void custos_diag_clear(custos_diag *d);

/*
 * Formats d as one line:
 *   "INPUT:LINE:COLUMN: field 'F' value 'V': MSG (HINT)"
 * leaving out parts that are empty.  Writes at most n bytes including the NUL
 * and returns out.
 */
char *custos_diag_format(const custos_diag *d, char *out, size_t n);

#ifdef __cplusplus
}
#endif

#endif
