/*
 * Normalisation of usage rows: exact decimals to scaled integers (never
 * floating point), dates in every form exports use, units of measure to
 * canonical names and block sizes, and the row normaliser that turns an
 * export's fields into a rollup key and amounts.
 */
#include <stdio.h>
#include <string.h>

#include "ledgerInt.h"

typedef unsigned __int128 u128;

static const int64_t pow10_i64[19] = {1,
                                      10,
                                      100,
                                      1000,
                                      10000,
                                      100000,
                                      1000000,
                                      10000000,
                                      100000000,
                                      1000000000,
                                      10000000000,
                                      100000000000,
                                      1000000000000,
                                      10000000000000,
                                      100000000000000,
                                      1000000000000000,
                                      10000000000000000,
                                      100000000000000000,
                                      1000000000000000000};

/* ---- decimals: the careful path ----------------------------------------- */

/*
 * The significand is kept in a u128 of at most 36 digits; digits after
 * that only matter for rounding (they are beyond any scale custos uses
 * unless the exponent is huge), so they are folded into a sticky flag.
 * Takes every form cu_ledger_decimal does; the fast path below gives
 * what this gives for the forms it takes (test_ledger and the
 * fuzz_focus_row target compare them).
 */
custos_rc cu_ledger_decimal_careful(const char *s, size_t n, int scale,
                                    int64_t *out, bool *rounded) {
  size_t i = 0;
  bool neg = false;
  if (scale < 0 || scale > 18)
    return CUSTOS_EINVAL;
  if (i < n && (s[i] == '+' || s[i] == '-')) {
    neg = s[i] == '-';
    i++;
  }
  u128 sig = 0;
  int sigdigits = 0;
  int exp10 = 0; /* value = sig * 10^exp10 (before sticky) */
  bool sticky = false, any = false, point = false;
  for (; i < n; i++) {
    char c = s[i];
    if (c >= '0' && c <= '9') {
      any = true;
      if (sigdigits < 36) {
        if (sig != 0 || c != '0')
          sigdigits++;
        sig = sig * 10 + (u128)(c - '0');
        if (point)
          exp10--;
      } else {
        if (c != '0')
          sticky = true;
        if (!point)
          exp10++;
      }
    } else if (c == '.' && !point) {
      point = true;
    } else {
      break;
    }
  }
  if (!any)
    return CUSTOS_EPARSE;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    bool eneg = false;
    if (i < n && (s[i] == '+' || s[i] == '-')) {
      eneg = s[i] == '-';
      i++;
    }
    int e = 0;
    size_t start = i;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
      if (e < 10000)
        e = e * 10 + (s[i] - '0');
    }
    if (i == start)
      return CUSTOS_EPARSE;
    exp10 += eneg ? -e : e;
  }
  if (i != n)
    return CUSTOS_EPARSE;
  int shift = exp10 + scale;
  bool rnd = sticky;
  if (sig == 0) {
    *out = 0;
    if (rounded)
      *rounded = rnd;
    return CUSTOS_OK;
  }
  if (shift > 0) {
    if (shift > 38)
      return CUSTOS_ETOOBIG;
    for (int k = 0; k < shift; k++) {
      if (sig > (u128)INT64_MAX)
        return CUSTOS_ETOOBIG;
      sig *= 10;
    }
  } else if (shift < 0) {
    /* Divide by 10^-shift, rounding half to even with the sticky bits. */
    u128 rem_first = 0;
    bool rem_rest = sticky;
    for (int k = 0; k < -shift && sig != 0; k++) {
      if (rem_first != 0)
        rem_rest = true;
      rem_first = sig % 10;
      sig /= 10;
    }
    if (-shift > 0 && sig == 0 && rem_first == 0) {
      /* everything shifted out */
    }
    bool up = rem_first > 5 || (rem_first == 5 && (rem_rest || (sig & 1)));
    if (rem_first != 0 || rem_rest)
      rnd = true;
    if (up)
      sig++;
  }
  if (sig > (u128)INT64_MAX)
    return CUSTOS_ETOOBIG;
  *out = neg ? -(int64_t)sig : (int64_t)sig;
  if (rounded)
    *rounded = rnd;
  return CUSTOS_OK;
}

/* ---- decimals: the fast path ------------------------------------------ */

custos_rc cu_ledger_decimal(const char *s, size_t n, int scale, int64_t *out,
                            bool *rounded) {
  size_t i = 0;
  bool neg = false;
  if (scale < 0 || scale > 18)
    return CUSTOS_EINVAL;
  if (i < n && (s[i] == '+' || s[i] == '-')) {
    neg = s[i] == '-';
    i++;
  }
  /* Fast path: up to 18 digits with an optional point, no exponent.
   * The digits before and after the point in loops of their own, which
   * count them by where they stop, not digit by digit. */
  {
    size_t j = i;
    uint64_t v = 0;
    int nd, frac = -1;
    for (; j < n; j++) {
      unsigned c = (unsigned)(unsigned char)s[j] - '0';
      if (c >= 10)
        break;
      v = v * 10 + c;
    }
    nd = (int)(j - i < 64 ? j - i : 64);
    if (j < n && s[j] == '.') {
      size_t f0 = ++j;
      for (; j < n; j++) {
        unsigned c = (unsigned)(unsigned char)s[j] - '0';
        if (c >= 10)
          break;
        v = v * 10 + c;
      }
      frac = (int)(j - f0 < 64 ? j - f0 : 64);
      nd += frac;
    }
    if (j == n && nd > 0 && nd <= 18 && (frac < 0 || frac <= scale)) {
      int f = frac < 0 ? 0 : frac;
      u128 r = (u128)v * (u128)pow10_i64[scale - f];
      if (r > (u128)INT64_MAX)
        return CUSTOS_ETOOBIG;
      *out = neg ? -(int64_t)r : (int64_t)r;
      if (rounded)
        *rounded = false;
      return CUSTOS_OK;
    }
  }
  return cu_ledger_decimal_careful(s, n, scale, out, rounded);
}

char *cu_ledger_decimal_format(__int128 v, int scale, char *out, size_t n) {
  char tmp[64];
  size_t k = 0;
  bool neg = v < 0;
  u128 u = neg ? (u128)(-(v + 1)) + 1 : (u128)v;
  do {
    tmp[k++] = (char)('0' + (int)(u % 10));
    u /= 10;
  } while (u && k < sizeof tmp);
  while (k <= (size_t)scale)
    tmp[k++] = '0';
  /* tmp holds digits in reverse; the last `scale` reversed digits are the
   * fraction, drop its trailing zeros. */
  size_t fstart = 0;
  while (fstart < (size_t)scale && tmp[fstart] == '0')
    fstart++;
  size_t o = 0;
  char buf[80];
  if (neg)
    buf[o++] = '-';
  for (size_t j = k; j > (size_t)scale; j--)
    buf[o++] = tmp[j - 1];
  if (fstart < (size_t)scale) {
    buf[o++] = '.';
    for (size_t j = (size_t)scale; j > fstart; j--)
      buf[o++] = tmp[j - 1];
  }
  buf[o] = '\0';
  if (strcmp(buf, "-0") == 0)
    snprintf(out, n, "0");
  else
    snprintf(out, n, "%s", buf);
  return out;
}

bool cu_ledger_scale_qty(int64_t q, uint64_t mult, int64_t *out) {
  if (mult == 1) {
    *out = q;
    return true;
  }
  __int128 r = (__int128)q * (__int128)mult;
  if (r > INT64_MAX || r < -INT64_MAX)
    return false;
  *out = (int64_t)r;
  return true;
}

bool cu_ledger_is_null(const char *s, size_t n) {
  if (n == 0)
    return true;
  return n == 4 && (memcmp(s, "NULL", 4) == 0 || memcmp(s, "null", 4) == 0 ||
                    memcmp(s, "Null", 4) == 0);
}

/* ---- dates ------------------------------------------------------------ */

custos_rc cu_ledger_time(const char *s, size_t n, int64_t *out) {
  /* MM/DD/YYYY [time]: rewrite as YYYY-MM-DD and hand to cu_time_parse. */
  if (n >= 8 && n < 64 && memchr(s, '/', n < 6 ? n : 6)) {
    unsigned v[3] = {0, 0, 0};
    size_t i = 0;
    for (int part = 0; part < 3; part++) {
      size_t start = i;
      while (i < n && s[i] >= '0' && s[i] <= '9' && i - start < 4)
        v[part] = v[part] * 10 + (unsigned)(s[i++] - '0');
      size_t len = i - start;
      if (len == 0 || (part < 2 && len > 2) || (part == 2 && len != 4))
        return CUSTOS_EPARSE;
      if (part < 2) {
        if (i >= n || s[i] != '/')
          return CUSTOS_EPARSE;
        i++;
      }
    }
    char buf[80];
    int k = snprintf(buf, sizeof buf, "%04u-%02u-%02u", v[2] % 10000,
                     v[0] % 100, v[1] % 100);
    if (i < n) {
      if (s[i] != ' ' && s[i] != 'T')
        return CUSTOS_EPARSE;
      /* "12:00:00 AM" style is not used by the exports custos reads. */
      if (n - i + (size_t)k >= sizeof buf)
        return CUSTOS_EPARSE;
      memcpy(buf + k, s + i, n - i);
      k += (int)(n - i);
    }
    return cu_time_parse(buf, (size_t)k, out);
  }
  return cu_time_parse(s, n, out);
}

/* ---- units ------------------------------------------------------------ */

static size_t lower_trim(const char *s, size_t n, char *out, size_t outn) {
  while (n && (*s == ' ' || *s == '\t')) {
    s++;
    n--;
  }
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
    n--;
  size_t o = 0;
  for (size_t i = 0; i < n && o + 1 < outn; i++) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z')
      c = (char)(c - 'A' + 'a');
    out[o++] = c;
  }
  out[o] = '\0';
  return o;
}

static const struct {
  const char *alias, *canon;
} unit_names[] = {
    {"gb-month", "GB-month"},     {"gb-months", "GB-month"},
    {"gb/month", "GB-month"},     {"gb-mo", "GB-month"},
    {"gb month", "GB-month"},     {"gb-mon", "GB-month"},
    {"gbmonth", "GB-month"},      {"gigabyte month", "GB-month"},
    {"gb/mo", "GB-month"},        {"gibibyte month", "GB-month"},
    {"gb", "GB"},                 {"gigabyte", "GB"},
    {"gigabytes", "GB"},          {"gb-seconds", "GB-seconds"},
    {"gb-second", "GB-seconds"},  {"gb seconds", "GB-seconds"},
    {"hours", "hours"},           {"hour", "hours"},
    {"hrs", "hours"},             {"hr", "hours"},
    {"h", "hours"},               {"requests", "requests"},
    {"request", "requests"},      {"calls", "requests"},
    {"api calls", "requests"},    {"tokens", "tokens"},
    {"token", "tokens"},          {"characters", "characters"},
    {"character", "characters"},  {"operations", "operations"},
    {"operation", "operations"},  {"transactions", "transactions"},
    {"transaction", "transactions"}, {"units", "units"},
    {"unit", "units"},            {"count", "units"},
    {"seconds", "seconds"},       {"second", "seconds"},
    {"minutes", "minutes"},       {"minute", "minutes"},
    {"days", "days"},             {"day", "days"},
    {"months", "months"},         {"month", "months"},
    {"/month", "months"},         {"tb", "TB"},
    {"tb-month", "TB-month"},     {"tb-months", "TB-month"},
    {"tb/month", "TB-month"},     {"tb-mo", "TB-month"},
};

custos_rc cu_ledger_unit_parse(const char *s, size_t n, cu_ledger_unit *out) {
  char low[128];
  size_t len = lower_trim(s, n < 127 ? n : 127, low, sizeof low);
  size_t i = 0;
  uint64_t mult = 1;
  /* A leading block size: "1K", "10K", "1000", "1M", "100 ". */
  if (i < len && low[i] >= '0' && low[i] <= '9') {
    uint64_t b = 0;
    while (i < len && low[i] >= '0' && low[i] <= '9') {
      if (b > 100000000000ull)
        return CUSTOS_EPARSE;
      b = b * 10 + (uint64_t)(low[i++] - '0');
    }
    if (i < len && (low[i] == 'k' || low[i] == 'm' || low[i] == 'b' ||
                    low[i] == 'g') &&
        (i + 1 == len || low[i + 1] == ' ')) {
      b *= low[i] == 'k' ? 1000u : low[i] == 'm' ? 1000000u : 1000000000u;
      i++;
    }
    if (b == 0)
      return CUSTOS_EPARSE;
    mult = b;
    while (i < len && low[i] == ' ')
      i++;
  }
  char *name = low + i;
  size_t nlen = len - i;
  /* Drop a parenthesised note: "Hours (of audio)". */
  char *paren = memchr(name, '(', nlen);
  if (paren && paren > name) {
    nlen = (size_t)(paren - name);
    while (nlen && name[nlen - 1] == ' ')
      nlen--;
    name[nlen] = '\0';
  }
  out->multiplier = mult;
  if (nlen == 0) {
    snprintf(out->name, sizeof out->name, "%s", "units");
    return CUSTOS_OK;
  }
  for (size_t k = 0; k < CU_ARRAY_LEN(unit_names); k++) {
    if (strcmp(name, unit_names[k].alias) == 0) {
      snprintf(out->name, sizeof out->name, "%s", unit_names[k].canon);
      return CUSTOS_OK;
    }
  }
  /* Unknown: kept in lower case so spellings that differ only in case or
   * spaces meet. */
  snprintf(out->name, sizeof out->name, "%.*s", (int)nlen, name);
  return CUSTOS_OK;
}

/* ---- the row normaliser ----------------------------------------------- */

static custos_rc amount(const cu_ledger_raw *r, int f, int scale, bool need,
                        int64_t *v, bool *rnd, int *bad,
                        const char **reason) {
  *v = 0;
  if (!r->v[f] || cu_ledger_is_null(r->v[f], r->len[f])) {
    if (!need)
      return CUSTOS_OK;
    *bad = f;
    *reason = "required amount is null";
    return CUSTOS_EPARSE;
  }
  bool rr = false;
  custos_rc rc = cu_ledger_decimal(r->v[f], r->len[f], scale, v, &rr);
  if (rc != CUSTOS_OK) {
    *bad = f;
    *reason = rc == CUSTOS_ETOOBIG ? "amount too large for custos (int64 at "
                                     "its scale)"
                                   : "not a decimal number";
    return rc;
  }
  if (rr)
    *rnd = true;
  return CUSTOS_OK;
}

custos_rc cu_ledger_row_amounts(const cu_ledger_raw *r, cu_ledger_amounts *am,
                                int *bad, const char **reason) {
  custos_rc rc;
  am->rounded = false;
  am->use_pricing = false;
  rc = amount(r, LF_BILLED, CU_COST_SCALE, true, &am->billed, &am->rounded,
              bad, reason);
  if (rc != CUSTOS_OK)
    return rc;
  if (r->v[LF_EFFECTIVE]) {
    rc = amount(r, LF_EFFECTIVE, CU_COST_SCALE, true, &am->effective,
                &am->rounded, bad, reason);
    if (rc != CUSTOS_OK)
      return rc;
  } else {
    am->effective = am->billed; /* the export has no amortised cost */
  }
  bool qnull = !r->v[LF_QTY] || cu_ledger_is_null(r->v[LF_QTY], r->len[LF_QTY]);
  if (qnull && r->v[LF_PQTY] &&
      !cu_ledger_is_null(r->v[LF_PQTY], r->len[LF_PQTY])) {
    am->use_pricing = true;
    return amount(r, LF_PQTY, CU_QTY_SCALE, false, &am->qty, &am->rounded,
                  bad, reason);
  }
  return amount(r, LF_QTY, CU_QTY_SCALE, false, &am->qty, &am->rounded, bad,
                reason);
}

/* Values that name no physical place: the row has no region. */
static bool placeless(const char *s, size_t n) {
  static const char *const words[] = {"global", "unassigned", "unknown",
                                      "intercontinental", "all regions",
                                      "none"};
  char low[32];
  if (n >= sizeof low)
    return false;
  lower_trim(s, n, low, sizeof low);
  for (size_t i = 0; i < CU_ARRAY_LEN(words); i++)
    if (strcmp(low, words[i]) == 0)
      return true;
  return false;
}

static const char *provider_of(const cu_ledger_adapter *a,
                               const cu_ledger_raw *r) {
  if (a->provider)
    return a->provider;
  const char *p = r->v[LF_PROVIDER];
  size_t n = r->len[LF_PROVIDER];
  if (!p || n == 0 || n > 64)
    return NULL;
  char low[72];
  lower_trim(p, n, low, sizeof low);
  if (strstr(low, "azure") || strstr(low, "microsoft"))
    return "azure";
  if (strstr(low, "aws") || strstr(low, "amazon"))
    return "aws";
  if (strstr(low, "google") || strstr(low, "gcp"))
    return "gcp";
  if (strstr(low, "oracle") || strstr(low, "oci"))
    return "oci";
  return NULL;
}

static const cu_region *resolve_region(const cu_ledger_adapter *a,
                                       const cu_catalog *cat,
                                       const cu_ledger_raw *r, const char *s,
                                       size_t n) {
  const cu_region *reg = cu_catalog_region(cat, s, n);
  if (reg || n > 200)
    return reg;
  /* A native id two providers share resolves only with its prefix. */
  const char *prov = provider_of(a, r);
  static const char *const all[] = {"azure", "aws", "gcp", "oci"};
  const cu_region *found = NULL;
  for (size_t i = 0; i < CU_ARRAY_LEN(all); i++) {
    if (prov && strcmp(prov, all[i]) != 0)
      continue;
    char buf[256];
    int k = snprintf(buf, sizeof buf, "%s:%.*s", all[i], (int)n, s);
    const cu_region *g = cu_catalog_region(cat, buf, (size_t)k);
    if (g && found && g != found)
      return NULL; /* ambiguous without a provider */
    if (g)
      found = g;
  }
  return found;
}

/* AWS CUR names services by product code; the catalogue by name. */
static const struct {
  const char *code, *name;
} aws_codes[] = {
    {"AmazonEC2", "Amazon Elastic Compute Cloud"},
    {"AmazonS3", "Amazon Simple Storage Service"},
    {"AmazonEFS", "Amazon Elastic File System"},
    {"AmazonGlacier", "Amazon Glacier"},
    {"AWSLambda", "AWS Lambda"},
    {"AmazonRDS", "Amazon Relational Database Service"},
    {"AmazonDynamoDB", "Amazon DynamoDB"},
    {"AmazonTranscribe", "Amazon Transcribe"},
    {"translate", "Amazon Translate"},
    {"AmazonTranslate", "Amazon Translate"},
    {"comprehend", "Amazon Comprehend"},
    {"AmazonBedrock", "Amazon Bedrock"},
    {"AmazonSageMaker", "Amazon SageMaker"},
    {"AmazonRekognition", "Amazon Rekognition"},
    {"AmazonGuardDuty", "Amazon GuardDuty"},
    {"AmazonCloudWatch", "Amazon CloudWatch"},
    {"AWSDataTransfer", "AWS Data Transfer"},
    {"AmazonCloudFront", "Amazon CloudFront"},
    {"awskms", "AWS Key Management Service"},
};

static bool present(const cu_ledger_raw *r, int f) {
  return r->v[f] && !cu_ledger_is_null(r->v[f], r->len[f]);
}

static int64_t days_of(int64_t t) {
  return t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
}

custos_rc cu_ledger_row_day(const cu_ledger_raw *r, int64_t *day, int *bad,
                            const char **reason) {
  int64_t t;
  if (!present(r, LF_CHARGE_START) ||
      cu_ledger_time(r->v[LF_CHARGE_START], r->len[LF_CHARGE_START], &t) !=
          CUSTOS_OK) {
    *bad = LF_CHARGE_START;
    *reason = "charge period start is not a date";
    return CUSTOS_EPARSE;
  }
  *day = days_of(t);
  return CUSTOS_OK;
}

custos_rc cu_ledger_month_of(int64_t day, int64_t *period, int *bad,
                             const char **reason) {
  char buf[16];
  int64_t t;
  cu_date_format(day * 86400, buf, sizeof buf);
  buf[8] = '0';
  buf[9] = '1';
  if (cu_time_parse(buf, 10, &t) != CUSTOS_OK) {
    *bad = LF_CHARGE_START;
    *reason = "charge period start is out of range";
    return CUSTOS_EPARSE;
  }
  *period = t / 86400;
  return CUSTOS_OK;
}

custos_rc cu_ledger_row_key(const cu_ledger_adapter *a, const cu_catalog *cat,
                            const cu_ledger_raw *r, bool use_pricing,
                            cu_ledger_key *k, int *bad,
                            const char **reason) {
  bool late = false;
  custos_rc rc =
      cu_ledger_row_key_undated(a, cat, r, use_pricing, k, &late, bad, reason);
  if (rc != CUSTOS_OK && !late)
    return rc;
  /* A bad date is reported before any check that follows it. */
  custos_rc drc = cu_ledger_row_day(r, &k->day, bad, reason);
  if (drc != CUSTOS_OK)
    return drc;
  if (!present(r, LF_PERIOD_START)) {
    drc = cu_ledger_month_of(k->day, &k->period, bad, reason);
    if (drc != CUSTOS_OK)
      return drc;
  }
  return rc;
}

custos_rc cu_ledger_row_period(const cu_ledger_raw *r, bool *has_period,
                               int64_t *period, int *bad,
                               const char **reason) {
  *has_period = present(r, LF_PERIOD_START);
  if (*has_period) {
    int64_t t;
    if (cu_ledger_time(r->v[LF_PERIOD_START], r->len[LF_PERIOD_START], &t) !=
        CUSTOS_OK) {
      *bad = LF_PERIOD_START;
      *reason = "billing period start is not a date";
      return CUSTOS_EPARSE;
    }
    *period = days_of(t);
  }
  return CUSTOS_OK;
}

/* ingest.c keeps the outcome of this for rows whose fields other than the
 * billing period start agree (see undent there): a field read here must
 * be among its undated_fields, or be checked there as the lengths are. */
custos_rc cu_ledger_row_key_undated(const cu_ledger_adapter *a,
                                    const cu_catalog *cat,
                                    const cu_ledger_raw *r, bool use_pricing,
                                    cu_ledger_key *k, bool *late, int *bad,
                                    const char **reason) {
  memset(k, 0, sizeof *k);
  *late = false;
  for (int f = 0; f < LF_COUNT; f++) {
    if (present(r, f)) {
      k->s[f] = r->v[f];
      k->len[f] = r->len[f];
    } else {
      k->s[f] = "";
      k->len[f] = 0;
    }
    if (k->len[f] > 1024 && f < LF_RESOURCE_ID) {
      *bad = f;
      *reason = "field longer than 1024 bytes";
      return CUSTOS_ETOOBIG;
    }
  }
  if (!present(r, LF_ACCOUNT)) {
    *bad = LF_ACCOUNT;
    *reason = "billing account is null";
    return CUSTOS_EPARSE;
  }
  if (!present(r, LF_SERVICE)) {
    *bad = LF_SERVICE;
    *reason = "service name is null";
    return CUSTOS_EPARSE;
  }
  /* Everything from here on is checked after the charge period start. */
  *late = true;
  custos_rc prc =
      cu_ledger_row_period(r, &k->has_period, &k->period, bad, reason);
  if (prc != CUSTOS_OK)
    return prc;
  /* Region: RegionId, else RegionName; placeless words mean none. */
  int rf = present(r, LF_REGION) ? LF_REGION
                                 : present(r, LF_REGION_NAME) ? LF_REGION_NAME
                                                              : -1;
  k->region_id = "";
  k->country = "";
  if (rf >= 0 && !placeless(r->v[rf], r->len[rf])) {
    const cu_region *reg = resolve_region(a, cat, r, r->v[rf], r->len[rf]);
    if (!reg) {
      *bad = rf;
      *reason = "region is not in the catalogue (see custos directory "
                "regions)";
      return CUSTOS_ENOTFOUND;
    }
    k->region_id = reg->id;
    k->country = reg->country;
  }
  /* Category: as exported, else from the catalogue by service name. */
  k->category = "";
  k->subcategory = "";
  char svc[256];
  if (k->len[LF_SERVICE] < sizeof svc) {
    memcpy(svc, k->s[LF_SERVICE], k->len[LF_SERVICE]);
    svc[k->len[LF_SERVICE]] = '\0';
    const char *c = NULL, *sc = NULL;
    bool found = cu_catalog_service(cat, svc, &c, &sc);
    for (size_t i = 0; !found && i < CU_ARRAY_LEN(aws_codes); i++)
      if (strcmp(svc, aws_codes[i].code) == 0)
        found = cu_catalog_service(cat, aws_codes[i].name, &c, &sc);
    if (found) {
      k->category = c;
      k->subcategory = sc ? sc : "";
    }
  }
  /* Meter: SkuMeter, else SkuId. */
  if (k->len[LF_METER] == 0) {
    k->s[LF_METER] = k->s[LF_SKU];
    k->len[LF_METER] = k->len[LF_SKU];
  }
  k->charge_category = "";
  int uf = use_pricing ? LF_PUNIT : LF_QTY_UNIT;
  if (k->len[uf] == 0 && !use_pricing)
    uf = LF_PUNIT;
  custos_rc rc = cu_ledger_unit_parse(k->s[uf], k->len[uf], &k->unit);
  if (rc != CUSTOS_OK) {
    *bad = uf;
    *reason = "unit of measure has an invalid block size";
    return rc;
  }
  return CUSTOS_OK;
}
