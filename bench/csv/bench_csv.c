/*
 * Throughput of the CSV reader: MB/s and rows/s reading every field of a
 * FOCUS-like export, plain and gzip.  Without an argument it writes a
 * ~500 MB file (and its gzip) into a temporary directory and removes them
 * afterwards (BENCH_MB sets the size, BENCH_KEEP keeps the files); with
 * FILE... it reads those files instead.  Warm page cache.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "core/csv.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 88172645463325252u;

static uint64_t rnd(uint64_t n) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng % n;
}

static const char header[] =
    "BilledCost,BillingAccountId,BillingAccountName,BillingCurrency,"
    "BillingPeriodEnd,BillingPeriodStart,ChargeCategory,ChargeDescription,"
    "ChargeFrequency,ChargePeriodEnd,ChargePeriodStart,ConsumedQuantity,"
    "ConsumedUnit,EffectiveCost,ListCost,PricingQuantity,PricingUnit,"
    "ProviderName,PublisherName,RegionId,RegionName,ResourceId,ResourceName,"
    "ServiceCategory,ServiceName,SubAccountId,SubAccountName,Tags\n";

/* One FOCUS-like row into out; returns its length. */
static int make_row(char *out, size_t n, uint64_t i) {
  static const char *const regions[][2] = {
      {"us-east-1", "US East (N. Virginia)"},
      {"eu-west-1", "Europe (Ireland)"},
      {"ap-northeast-1", "Asia Pacific (Tokyo)"},
      {"eu-central-1", "Europe (Frankfurt)"}};
  static const char *const services[][3] = {
      {"Compute", "Amazon Elastic Compute Cloud", "Hrs"},
      {"Storage", "Amazon Simple Storage Service", "GB-Mo"},
      {"Databases", "Amazon Relational Database Service", "Hrs"},
      {"Networking", "Amazon CloudFront", "GB"}};
  unsigned r = (unsigned)rnd(4), s = (unsigned)rnd(4);
  unsigned day = 1 + (unsigned)(i % 28), hour = (unsigned)(i % 24);
  double q = (double)rnd(100000) / 100.0, cost = q * 0.0116;
  const char *tags = rnd(3) == 0
                         ? "\"{\"\"team\"\":\"\"data\"\",\"\"env\"\":\"\"prod\"\"}\""
                         : "";
  return snprintf(
      out, n,
      "%.6f,%012llu,Acme Corp,USD,2025-02-01T00:00:00Z,2025-01-01T00:00:00Z,"
      "Usage,\"%s, on demand usage\",Usage-Based,"
      "2025-01-%02uT%02u:00:00Z,2025-01-%02uT%02u:00:00Z,%.3f,%s,%.6f,%.6f,"
      "%.3f,%s,AWS,AWS,%s,%s,arn:aws:ec2:%s:%012llu:instance/i-%016llx,"
      "web-%llu,%s,%s,%012llu,team-%llu,%s\n",
      cost, 100000000000ull + rnd(20), services[s][1], day, hour, day, hour, q,
      services[s][2], cost, cost * 1.2, q, services[s][2], regions[r][0],
      regions[r][1], regions[r][0], 200000000000ull + rnd(50),
      (unsigned long long)rnd(1ull << 60), (unsigned long long)rnd(5000),
      services[s][0], services[s][1], 300000000000ull + rnd(50),
      (unsigned long long)rnd(40), tags);
}

static int generate(const char *plain, const char *gz, size_t target) {
  FILE *f = fopen(plain, "wb");
  gzFile g = gzopen(gz, "wb6");
  if (!f || !g) {
    perror("create");
    return -1;
  }
  static char buf[1 << 20];
  size_t bl = 0, total = 0;
  fputs(header, f);
  gzputs(g, header);
  for (uint64_t i = 0; total < target; i++) {
    bl += (size_t)make_row(buf + bl, sizeof buf - bl, i);
    if (bl > sizeof buf - 2048) {
      if (fwrite(buf, 1, bl, f) != bl || gzwrite(g, buf, (unsigned)bl) <= 0) {
        perror("write");
        return -1;
      }
      total += bl;
      bl = 0;
    }
  }
  if (bl > 0 && (fwrite(buf, 1, bl, f) != bl ||
                 gzwrite(g, buf, (unsigned)bl) <= 0)) {
    perror("write");
    return -1;
  }
  if (fclose(f) != 0 || gzclose(g) != Z_OK) {
    perror("write");
    return -1;
  }
  return 0;
}

/* Reads path once, touching every field; best of three runs. */
static int run(const char *label, const char *path) {
  double best = 1e30;
  uint64_t rows = 0, bytes = 0, fields = 0, sum = 0, stored = 0;
  for (int k = 0; k < 3; k++) {
    cu_csv *c;
    custos_diag d;
    custos_diag_clear(&d);
    double t0 = now();
    custos_rc rc = cu_csv_open(path, NULL, &c, &d);
    rows = bytes = fields = 0;
    while (rc == CUSTOS_OK) {
      bool eof;
      rc = cu_csv_next(c, &eof, &d);
      if (rc != CUSTOS_OK || eof)
        break;
      size_t nf = cu_csv_nfields(c);
      for (size_t i = 0; i < nf; i++) {
        size_t len;
        const char *v = cu_csv_field(c, i, &len);
        sum += (unsigned char)v[0] + len;
        bytes += len + 1;
      }
      fields += nf;
      rows++;
    }
    if (rc != CUSTOS_OK) {
      char msg[2048];
      fprintf(stderr, "%s\n", custos_diag_format(&d, msg, sizeof msg));
      cu_csv_close(c);
      return -1;
    }
    stored = cu_csv_size(c);
    cu_csv_close(c);
    double t = now() - t0;
    if (t < best)
      best = t;
  }
  /* bytes: decoded content, about the CSV's size (quotes not counted) */
  printf("%-6s %8.1f MB stored  %8.1f MB/s stored  %8.1f MB/s decoded  "
         "%6.2f Mrows/s  %5.1f Mfields/s  (%llu rows, check %llu)\n",
         label, (double)stored / 1e6, (double)stored / 1e6 / best,
         (double)bytes / 1e6 / best, (double)rows / 1e6 / best,
         (double)fields / 1e6 / best, (unsigned long long)rows,
         (unsigned long long)(sum & 0xffff));
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1) {
    int rc = 0;
    for (int i = 1; i < argc; i++)
      rc |= run(argv[i], argv[i]);
    return rc ? 1 : 0;
  }
  const char *tmp = getenv("TMPDIR");
  char dir[4096], plain[4200], gz[4200];
  snprintf(dir, sizeof dir, "%s/custos-bench-XXXXXX", tmp ? tmp : "/tmp");
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  snprintf(plain, sizeof plain, "%s/focus.csv", dir);
  snprintf(gz, sizeof gz, "%s/focus.csv.gz", dir);
  size_t mb = 500;
  const char *env = getenv("BENCH_MB");
  if (env)
    mb = (size_t)strtoul(env, NULL, 10);
  printf("generating %zu MB in %s\n", mb, dir);
  int rc = generate(plain, gz, mb << 20);
  if (rc == 0)
    rc = run("plain", plain);
  if (rc == 0)
    rc = run("gzip", gz);
  if (getenv("BENCH_KEEP")) {
    printf("kept %s and %s\n", plain, gz);
  } else {
    unlink(plain);
    unlink(gz);
    rmdir(dir);
  }
  return rc ? 1 : 0;
}
