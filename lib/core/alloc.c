/*
 * The one allocator of the library.  Every allocation goes through alloc_fn
 * so that an embedding program can supply its own and tests can make the
 * n-th allocation fail (out-of-memory fault injection as an ordinary test).
 */
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
static long fail_after = -1; /* < 0: never fail */
static long alloc_count;

void custos_set_allocator(custos_alloc_fn fn, void *ud) {
  alloc_fn = fn ? fn : default_alloc;
  alloc_ud = fn ? ud : NULL;
}

long cu_alloc_fail_after(long n) {
  long c = alloc_count;
  alloc_count = 0;
  fail_after = n;
  return c;
}

/* Decides whether this allocation is allowed under fault injection. */
static int may_allocate(void) {
  alloc_count++;
  if (fail_after < 0)
    return 1;
  if (fail_after == 0)
    return 0;
  fail_after--;
  return 1;
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
