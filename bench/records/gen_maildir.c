/*
 * Writes a deterministic maildir of N fictional internal messages for the
 * records benchmark: mixed charsets (UTF-8, ISO-8859-1, windows-1252) and
 * transfer encodings (8bit, quoted-printable, base64), attachments on one
 * message in five, replies threaded by In-Reply-To and References.
 * usage: bench_records_gen DIR N [SEED]
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <stdbool.h>
#include <time.h>

static uint64_t rng;
static uint32_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng >> 11);
}

static const char *const people[] = {
    "Ilse Marant", "Tomas Vey", "Renée Dallé", "Oskar Lindqvar",
    "Mira Okonde", "Jules Farrow", "Anouk Terhal", "Bastian Kral",
    "Sefa Aydar", "Lotte Brenner", "Emrik Solberg", "Dana Petrovan"};
static const char *const logins[] = {
    "ilse.marant", "tomas.vey", "renee.dalle", "oskar.lindqvar",
    "mira.okonde", "jules.farrow", "anouk.terhal", "bastian.kral",
    "sefa.aydar", "lotte.brenner", "emrik.solberg", "dana.petrovan"};
static const char *const topics[] = {
    "Storage growth in Lowmark", "Quarterly business review",
    "Speech to text quota", "Translation service latency",
    "Credit note for the ministry", "Renewal of the enterprise agreement",
    "Support ticket escalation", "Capacity plan for Velmar region",
    "Invoice dispute", "Security services onboarding"};
/* vocabulary of the bodies: ordinary business words plus a few rare
 * terms the benchmark's selective queries look for */
static const char *const words[] = {
    "the", "account", "team", "customer", "storage", "capacity", "region",
    "invoice", "contract", "service", "usage", "report", "meeting", "review",
    "ministry", "unit", "subscription", "renewal", "discount", "quota",
    "transcription", "translation", "security", "support", "ticket", "latency",
    "growth", "terabytes", "monthly", "forecast", "budget", "approval",
    "legal", "finance", "sales", "onboarding", "migration", "backup",
    "archive", "retention", "policy", "compliance", "audit", "export",
    "network", "compute", "cluster", "deployment", "incident", "outage",
    "of", "and", "to", "in", "for", "with", "on", "we", "they", "will",
    "please", "confirm", "attached", "next", "week", "call", "notes",
    "Lowmark", "Velmar", "Arvelia", "Tessin", "Orlavia", "Nordhaven",
    "procurement", "signals", "defence", "cyber", "speech", "text",
    "über", "größer", "prêt", "révision", "Kapazität", "données",
    "naïve", "façade", "Grüße", "coöperation"};
#define NWORDS (sizeof words / sizeof words[0])

static void body_text(char *out, size_t cap, size_t len) {
  size_t k = 0;
  int col = 0;
  while (k + 24 < cap && k < len) {
    /* skewed choice: low indices (common words) far more often */
    uint32_t a = next() % NWORDS, b = next() % NWORDS;
    const char *w = words[a < b ? a : b];
    char pseudo[16];
    uint32_t roll = next() % 100000;
    if (roll < 2)
      w = "quillfeather"; /* a rare term: a very selective query */
    else if (roll < 7)
      w = "capacity expansion plan"; /* a planted phrase, ~1 in 70 mails */
    else if (roll < 15000) {
      /* a long tail of 20,000 rarer words, as real mail has */
      static const char *const syl[] = {"ka", "ro", "mi", "te", "lu", "sa",
                                        "vo", "ne", "di", "pa", "ri", "go",
                                        "be", "zu", "fa", "lo", "ve", "ta",
                                        "mo", "si"};
      uint32_t v = next() % 20000;
      snprintf(pseudo, sizeof pseudo, "%s%s%s%s", syl[v % 20],
               syl[(v / 20) % 20], syl[(v / 400) % 20], syl[(v / 8000) % 20]);
      w = pseudo;
    }
    int n = snprintf(out + k, cap - k, "%s%s", col ? " " : "", w);
    k += (size_t)n;
    col += n;
    if (col > 66) {
      out[k++] = '\n';
      col = 0;
    }
  }
  out[k++] = '\n';
  out[k] = '\0';
}

/* UTF-8 to Latin-1 (the words above only use Latin-1 letters). */
static size_t to_latin1(const char *s, char *out) {
  size_t k = 0;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == 0xC3 && p[1]) {
      out[k++] = (char)(p[1] + 0x40);
      p++;
    } else {
      out[k++] = (char)*p;
    }
  }
  out[k] = '\0';
  return k;
}

static void qp(FILE *f, const char *s, size_t n) {
  int col = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '\n') {
      fputc('\n', f);
      col = 0;
      continue;
    }
    if (col > 70) {
      fputs("=\n", f);
      col = 0;
    }
    if (c >= 0x80 || c == '=') {
      fprintf(f, "=%02X", c);
      col += 3;
    } else {
      fputc(c, f);
      col++;
    }
  }
}

static void b64(FILE *f, const unsigned char *s, size_t n) {
  static const char t[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  int col = 0;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)s[i] << 16;
    if (i + 1 < n)
      v |= (uint32_t)s[i + 1] << 8;
    if (i + 2 < n)
      v |= s[i + 2];
    fputc(t[(v >> 18) & 63], f);
    fputc(t[(v >> 12) & 63], f);
    fputc(i + 1 < n ? t[(v >> 6) & 63] : '=', f);
    fputc(i + 2 < n ? t[v & 63] : '=', f);
    col += 4;
    if (col >= 76) {
      fputc('\n', f);
      col = 0;
    }
  }
  fputc('\n', f);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s DIR N [SEED]\n", argv[0]);
    return 2;
  }
  const char *dir = argv[1];
  long n = atol(argv[2]);
  rng = argc > 3 ? strtoull(argv[3], NULL, 10) : 88172645463325252ull;
  if (!rng)
    rng = 1;
  char path[4096];
  mkdir(dir, 0755);
  static const char *const subs[] = {"cur", "new", "tmp"};
  for (int i = 0; i < 3; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, subs[i]);
    mkdir(path, 0755);
  }
  static char body[16384], latin[16384];
  long t0 = 1704067200; /* 2024-01-01 */
  for (long i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/cur/%ld.M%ldP1.bench:2,S", dir,
             1704067200 + i, i);
    FILE *f = fopen(path, "wb");
    if (!f) {
      fprintf(stderr, "%s: %s\n", path, strerror(errno));
      return 1;
    }
    int a = (int)(next() % 12), b = (int)(next() % 12);
    long when = t0 + i * 300 + (long)(next() % 300);
    long topic = (long)(next() % 10);
    bool reply = i > 10 && next() % 10 < 3;
    long parent = reply ? i - 1 - (long)(next() % (i < 500 ? i - 1 : 500))
                        : -1;
    fprintf(f,
            "Received: from mx%d.nimbus.example by store.nimbus.example;"
            " %ld\n",
            (int)(next() % 4), when);
    fprintf(f, "From: %s <%s@nimbus.example>\n", people[a], logins[a]);
    fprintf(f, "To: %s <%s@nimbus.example>\n", people[b], logins[b]);
    if (next() % 4 == 0)
      fprintf(f, "Cc: %s <%s@nimbus.example>\n", people[(a + 1) % 12],
              logins[(a + 1) % 12]);
    char date[64];
    time_t tt = (time_t)when;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    fprintf(f, "Date: %s\n", date);
    fprintf(f, "Message-ID: <m%ld@nimbus.example>\n", i);
    if (reply) {
      fprintf(f, "In-Reply-To: <m%ld@nimbus.example>\n", parent);
      fprintf(f, "References: <m%ld@nimbus.example>\n", parent);
    }
    int cs = (int)(next() % 10);
    if (cs == 0)
      fprintf(f, "Subject: =?UTF-8?Q?%s%s_=C3=BCber_Kapazit=C3=A4t?=\n",
              reply ? "Re:_" : "", "Bericht");
    else
      fprintf(f, "Subject: %s%s #%ld\n", reply ? "Re: " : "", topics[topic],
              i % 997);
    fputs("MIME-Version: 1.0\n", f);
    body_text(body, sizeof body, 400 + next() % 1600);
    bool attach = next() % 5 == 0;
    if (attach)
      fputs("Content-Type: multipart/mixed; boundary=\"=-b-=\"\n\n"
            "--=-b-=\n",
            f);
    if (cs < 6) {
      fputs("Content-Type: text/plain; charset=utf-8\n"
            "Content-Transfer-Encoding: 8bit\n\n",
            f);
      fputs(body, f);
    } else if (cs < 8) {
      size_t k = to_latin1(body, latin);
      fputs("Content-Type: text/plain; charset=iso-8859-1\n"
            "Content-Transfer-Encoding: quoted-printable\n\n",
            f);
      qp(f, latin, k);
    } else {
      size_t k = to_latin1(body, latin);
      fputs("Content-Type: text/plain; charset=windows-1252\n"
            "Content-Transfer-Encoding: base64\n\n",
            f);
      b64(f, (const unsigned char *)latin, k);
    }
    if (attach) {
      if (next() % 2) {
        fprintf(f, "\n--=-b-=\nContent-Type: text/csv; charset=utf-8\n"
                   "Content-Disposition: attachment; filename=\"usage-%ld.csv\"\n\n"
                   "subscription,service,region,quantity\n",
                i);
        for (int r = 0; r < 20; r++)
          fprintf(f, "sub-%u,%s,%s,%u\n", next() % 900, words[next() % 40],
                  words[66 + next() % 6], next() % 10000);
      } else {
        unsigned char bin[1024];
        for (size_t k = 0; k < sizeof bin; k++)
          bin[k] = (unsigned char)next();
        fprintf(f, "\n--=-b-=\nContent-Type: application/octet-stream\n"
                   "Content-Disposition: attachment; filename=\"dump-%ld.bin\"\n"
                   "Content-Transfer-Encoding: base64\n\n",
                i);
        b64(f, bin, sizeof bin);
      }
      fputs("--=-b-=--\n", f);
    }
    fclose(f);
  }
  return 0;
}
