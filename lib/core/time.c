/*
 * Time in custos is seconds since the epoch, UTC, as int64.  Parsing accepts
 * the date and date-time forms that business records use; exotic forms
 * (MM/DD/YYYY and the like) belong to the adapter that meets them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"

int64_t cu_time_now(void) {
  const char *fixed = getenv("CUSTOS_NOW");
  if (fixed && *fixed) {
    char *end = NULL;
    long long v = strtoll(fixed, &end, 10);
    if (end && *end == '\0')
      return (int64_t)v;
  }
  return (int64_t)time(NULL);
}

/* Howard Hinnant's days_from_civil. */
int64_t cu_days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = (unsigned)(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = (unsigned)(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int64_t floor_div(int64_t a, int64_t b) {
  return a / b - (a % b != 0 && ((a < 0) != (b < 0)));
}

void cu_time_format(int64_t t, char *out, size_t n) {
  int64_t days = floor_div(t, 86400), secs = t - days * 86400, y;
  unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  snprintf(out, n, "%04lld-%02u-%02uT%02u:%02u:%02uZ", (long long)y, m, d,
           (unsigned)(secs / 3600), (unsigned)(secs / 60 % 60),
           (unsigned)(secs % 60));
}

void cu_date_format(int64_t t, char *out, size_t n) {
  int64_t y;
  unsigned m, d;
  civil_from_days(floor_div(t, 86400), &y, &m, &d);
  snprintf(out, n, "%04lld-%02u-%02u", (long long)y, m, d);
}

/* Reads exactly k digits at s[*i]. */
static int digits(const char *s, size_t n, size_t *i, int k, unsigned *v) {
  unsigned r = 0;
  for (int j = 0; j < k; j++) {
    if (*i >= n || s[*i] < '0' || s[*i] > '9')
      return 0;
    r = r * 10 + (unsigned)(s[*i] - '0');
    (*i)++;
  }
  *v = r;
  return 1;
}

static int days_in_month(unsigned y, unsigned m) {
  static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
    return 29;
  return dm[m - 1];
}

custos_rc cu_time_parse(const char *s, size_t n, int64_t *out) {
  size_t i = 0;
  unsigned y, mo, d, h = 0, mi = 0, se = 0;
  if (!digits(s, n, &i, 4, &y) || i >= n || s[i++] != '-' ||
      !digits(s, n, &i, 2, &mo) || i >= n || s[i++] != '-' ||
      !digits(s, n, &i, 2, &d))
    return CUSTOS_EPARSE;
  if (mo < 1 || mo > 12 || d < 1 || (int)d > days_in_month(y, mo))
    return CUSTOS_EPARSE;
  int64_t offset = 0;
  if (i < n) {
    if (s[i] != 'T' && s[i] != 't' && s[i] != ' ')
      return CUSTOS_EPARSE;
    i++;
    if (!digits(s, n, &i, 2, &h) || i >= n || s[i++] != ':' ||
        !digits(s, n, &i, 2, &mi))
      return CUSTOS_EPARSE;
    if (i < n && s[i] == ':') {
      i++;
      if (!digits(s, n, &i, 2, &se))
        return CUSTOS_EPARSE;
      if (i < n && s[i] == '.') {
        i++;
        size_t start = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
          i++;
        if (i == start || i - start > 9)
          return CUSTOS_EPARSE;
      }
    }
    if (h > 23 || mi > 59 || se > 60)
      return CUSTOS_EPARSE;
    if (i < n) {
      if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == n) {
        i++;
      } else if (s[i] == '+' || s[i] == '-') {
        int sign = s[i] == '-' ? -1 : 1;
        unsigned oh, om;
        i++;
        if (!digits(s, n, &i, 2, &oh))
          return CUSTOS_EPARSE;
        if (i < n && s[i] == ':')
          i++;
        if (!digits(s, n, &i, 2, &om) || oh > 23 || om > 59)
          return CUSTOS_EPARSE;
        offset = sign * (int64_t)(oh * 3600 + om * 60);
      }
    }
  }
  if (i != n)
    return CUSTOS_EPARSE;
  if (se == 60)
    se = 59; /* leap second: clamp, business records do not care */
  *out = cu_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se -
         offset;
  return CUSTOS_OK;
}
