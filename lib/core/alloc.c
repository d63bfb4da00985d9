/*
 * The one allocator of the library.  Every allocation goes through alloc_fn
 * so that an embedding program can supply its own and tests can make the
 * n-th allocation fail (out-of-memory fault injection as an ordinary test).
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

static void *default_alloc(void *ud, void *ptr, size_t size) {
  (void)ud;
  if (size == 0) {
    free(ptr);
    return NULL;
  }
  return realloc(ptr, size);
}

static custos_alloc_fn alloc_fn = default_alloc;
static void *alloc_ud;
/* Atomic because the library allocates on its worker threads too (the
 * ledger's reader, asynchronous hashing); relaxed order is enough for
 * counting, and the fault-injection tests arm them from one thread. */
static _Atomic long fail_after = -1; /* < 0: never fail */
static _Atomic long alloc_count;

void custos_set_allocator(custos_alloc_fn fn, void *ud) {
  alloc_fn = fn ? fn : default_alloc;
  alloc_ud = fn ? ud : NULL;
}

long cu_alloc_fail_after(long n) {
  long c = atomic_exchange(&alloc_count, 0);
  atomic_store(&fail_after, n);
  return c;
}

/* Decides whether this allocation is allowed under fault injection. */
static int may_allocate(void) {
  long left = atomic_load_explicit(&fail_after, memory_order_relaxed);
  if (left < 0)
    return 1; /* not armed: no shared counter to bounce between cores */
  atomic_fetch_add_explicit(&alloc_count, 1, memory_order_relaxed);
  while (left > 0 && !atomic_compare_exchange_weak_explicit(
                         &fail_after, &left, left - 1, memory_order_relaxed,
                         memory_order_relaxed))
    ;
  return left != 0;
}

void *cu_malloc(size_t n) {
  if (n == 0 || !may_allocate())
    return NULL;
  return alloc_fn(alloc_ud, NULL, n);
}

void *cu_calloc(size_t count, size_t size) {
  if (count == 0 || size == 0 || count > SIZE_MAX / size)
    return NULL;
  void *p = cu_malloc(count * size);
  if (p)
    memset(p, 0, count * size);
  return p;
}

void *cu_realloc(void *p, size_t n) {
  if (n == 0 || !may_allocate())
    return NULL;
  return alloc_fn(alloc_ud, p, n);
}

void cu_free(void *p) {
  if (p)
    (void)alloc_fn(alloc_ud, p, 0);
}

char *cu_strndup(const char *s, size_t n) {
  char *p = cu_malloc(n + 1);
  if (!p)
    return NULL;
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

char *cu_strdup(const char *s) { return cu_strndup(s, strlen(s)); }

void *cu_grow(void *arr, size_t *cap, size_t n, size_t elem) {
  if (n < *cap)
    return arr;
  size_t ncap = *cap ? *cap : 16;
  while (ncap <= n) {
    if (ncap > SIZE_MAX / 2)
      return NULL;
    ncap *= 2;
  }
  if (ncap > SIZE_MAX / elem)
    return NULL;
  void *p = cu_realloc(arr, ncap * elem);
  if (p)
    *cap = ncap;
  return p;
}
