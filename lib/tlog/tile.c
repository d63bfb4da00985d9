/*
 * Tile paths of C2SP tlog-tiles: tile/<L>/<N>[.p/<W>] and
 * tile/entries/<N>[.p/<W>], with N in zero-padded groups of three digits,
 * all but the last prefixed by 'x' (1234067 is x001/x234/067).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "tlog.h"

custos_rc cu_log_tile_path(char *out, size_t n, int level, uint64_t index,
                           unsigned width) {
  unsigned groups[8];
  int k = 0;
  if (width > CU_LOG_TILE_WIDTH || level > 63)
    return CUSTOS_EINVAL;
  do {
    groups[k++] = (unsigned)(index % 1000);
    index /= 1000;
  } while (index > 0);
  int o = level < 0 ? snprintf(out, n, "tile/entries/")
                    : snprintf(out, n, "tile/%d/", level);
  for (int i = k - 1; i >= 0 && o >= 0 && (size_t)o < n; i--)
    o += snprintf(out + o, n - (size_t)o, i > 0 ? "x%03u/" : "%03u",
                  groups[i]);
  if (o >= 0 && (size_t)o < n && width > 0 && width < CU_LOG_TILE_WIDTH)
    o += snprintf(out + o, n - (size_t)o, ".p/%u", width);
  return o < 0 || (size_t)o >= n ? CUSTOS_EINVAL : CUSTOS_OK;
}

/* Parses a decimal without leading zeros of at most maxd digits. */
static const char *parse_dec(const char *s, unsigned maxd, uint64_t *v) {
  unsigned nd = 0;
  *v = 0;
  if (*s == '0' && s[1] >= '0' && s[1] <= '9')
    return NULL;
  while (*s >= '0' && *s <= '9' && nd < maxd) {
    *v = *v * 10 + (uint64_t)(*s - '0');
    s++;
    nd++;
  }
  return nd ? s : NULL;
}

custos_rc cu_log_tile_path_parse(const char *rel, int *level, uint64_t *index,
                                 unsigned *width) {
  const char *p = rel;
  if (strncmp(p, "tile/", 5) != 0)
    return CUSTOS_EPARSE;
  p += 5;
  if (strncmp(p, "entries/", 8) == 0) {
    *level = -1;
    p += 8;
  } else {
    uint64_t l;
    p = parse_dec(p, 2, &l);
    if (!p || *p != '/' || l > 63)
      return CUSTOS_EPARSE;
    *level = (int)l;
    p++;
  }
  uint64_t idx = 0;
  int groups = 0;
  for (;;) {
    bool x = *p == 'x';
    p += x;
    for (int i = 0; i < 3; i++)
      if (p[i] < '0' || p[i] > '9')
        return CUSTOS_EPARSE;
    unsigned g = (unsigned)((p[0] - '0') * 100 + (p[1] - '0') * 10 +
                            (p[2] - '0'));
    if (groups == 0 && x && g == 0)
      return CUSTOS_EPARSE; /* a leading x000 group is not canonical */
    if (groups >= 7)
      return CUSTOS_EPARSE;
    idx = idx * 1000 + g;
    groups++;
    p += 3;
    if (x) {
      if (*p != '/')
        return CUSTOS_EPARSE;
      p++;
      continue;
    }
    break;
  }
  *index = idx;
  *width = 0;
  if (*p == '\0')
    return CUSTOS_OK;
  if (strncmp(p, ".p/", 3) != 0)
    return CUSTOS_EPARSE;
  uint64_t w;
  p = parse_dec(p + 3, 3, &w);
  if (!p || *p != '\0' || w == 0 || w >= CU_LOG_TILE_WIDTH)
    return CUSTOS_EPARSE;
  *width = (unsigned)w;
  return CUSTOS_OK;
}
