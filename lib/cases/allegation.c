/*
 * The allegation parser.  An allegation arrives from outside (a press
 * article, a letter, a complaint) written up as Markdown; this reads its
 * title, source, date, body and numbered claims, and refuses anything else
 * with the line and column of the problem.
 */
#include <string.h>

#include "cases.h"

typedef struct line {
  const char *s;
  size_t n;
  uint64_t no;
} line;

static bool starts(const line *l, const char *p) {
  size_t k = strlen(p);
  return l->n >= k && memcmp(l->s, p, k) == 0;
}

static size_t indent(const line *l) {
  size_t i = 0;
  while (i < l->n && (l->s[i] == ' ' || l->s[i] == '\t'))
    i++;
  return i;
}

static bool blank(const line *l) { return indent(l) == l->n; }

/* Trimmed copy of s[0..n) appended to b (with a separator when b is not
 * empty). */
static custos_rc append_trim(cu_buf *b, const char *s, size_t n,
                             const char *sep) {
  while (n && (*s == ' ' || *s == '\t')) {
    s++;
    n--;
  }
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
    n--;
  custos_rc rc = CUSTOS_OK;
  if (b->len && sep)
    rc = cu_buf_puts(b, sep);
  if (rc == CUSTOS_OK)
    rc = cu_buf_append(b, s, n);
  return rc;
}

static custos_rc fail(custos_diag *d, const char *name, const line *l,
                      uint64_t col, custos_rc rc, const char *msg,
                      const char *hint) {
  cu_diag_at(d, name, l ? l->no : 0, col);
  if (l)
    cu_diag_field(d, NULL, l->s, l->n > 80 ? 80 : l->n);
  if (hint)
    cu_diag_hint(d, "%s", hint);
  return cu_diag_set(d, rc, "%s", msg);
}

void cu_allegation_free(cu_allegation *a) {
  if (!a)
    return;
  cu_free(a->title);
  cu_free(a->source);
  cu_free(a->date);
  cu_free(a->text);
  for (size_t i = 0; i < a->nclaims; i++)
    cu_free(a->claims[i]);
  cu_free(a->claims);
  memset(a, 0, sizeof *a);
}

/* Parses "N. " at the start of l; returns N (> 0) and the text's offset in
 * *off, or 0 when l is not a list item. */
static long item_number(const line *l, size_t *off) {
  size_t i = 0;
  long v = 0;
  while (i < l->n && l->s[i] >= '0' && l->s[i] <= '9' && i < 4)
    v = v * 10 + (l->s[i++] - '0');
  if (i == 0 || i + 1 >= l->n || l->s[i] != '.' ||
      (l->s[i + 1] != ' ' && l->s[i + 1] != '\t'))
    return 0;
  *off = i + 2;
  return v;
}

custos_rc cu_allegation_parse(const char *name, const char *md, size_t n,
                              cu_allegation *out, custos_diag *d) {
  memset(out, 0, sizeof *out);
  if (n > CU_ALLEGATION_MAX_BYTES)
    return fail(d, name, NULL, 0, CUSTOS_ETOOBIG, "allegation is too large",
                "an allegation file is at most 1 MiB of Markdown");
  size_t bad = cu_utf8_invalid_at(md, n);
  if (bad < n) {
    uint64_t no = 1, col = 1;
    for (size_t i = 0; i < bad; i++) {
      col++;
      if (md[i] == '\n') {
        no++;
        col = 1;
      }
    }
    cu_diag_at(d, name, no, col);
    cu_diag_hint(d, "save the allegation as UTF-8");
    return cu_diag_set(d, CUSTOS_EUTF8, "invalid UTF-8");
  }
  if (n >= 3 && memcmp(md, "\xef\xbb\xbf", 3) == 0) {
    md += 3;
    n -= 3;
  }

  cu_buf body, claim;
  cu_buf_init(&body, CU_ALLEGATION_MAX_BYTES);
  cu_buf_init(&claim, CU_CLAIM_MAX_BYTES);
  size_t cap = 0;
  custos_rc rc = CUSTOS_OK;
  enum { HEAD, BODY, CLAIMS } part = HEAD;
  long expect = 1;
  line cur_item = {NULL, 0, 0};
  line l = {md, 0, 0};
  const char *p = md, *end = md + n;
  bool pending_blank = false, last = false;

  while (rc == CUSTOS_OK && !last) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    l.s = p;
    l.n = (size_t)((nl ? nl : end) - p);
    if (l.n && l.s[l.n - 1] == '\r')
      l.n--;
    l.no++;
    last = nl == NULL;
    p = nl ? nl + 1 : end;
    for (size_t i = 0; i < l.n; i++) {
      unsigned char c = (unsigned char)l.s[i];
      if (c < 0x20 && c != '\t') {
        rc = fail(d, name, &l, i + 1, CUSTOS_EPARSE, "control character",
                  "remove control characters from the allegation");
        break;
      }
    }
    if (rc != CUSTOS_OK)
      break;

    if (part == HEAD && !out->title) {
      if (blank(&l))
        continue;
      if (!starts(&l, "# ")) {
        rc = fail(d, name, &l, 1, CUSTOS_EPARSE, "expected a '# ' title",
                  "start the file with '# Allegation: <title>'");
        break;
      }
      const char *t = l.s + 2;
      size_t tn = l.n - 2;
      if (tn >= 11 && memcmp(t, "Allegation:", 11) == 0) {
        t += 11;
        tn -= 11;
      }
      cu_buf tb;
      cu_buf_init(&tb, 1024);
      rc = append_trim(&tb, t, tn, NULL);
      if (rc == CUSTOS_OK && tb.len == 0)
        rc = fail(d, name, &l, 3, CUSTOS_EPARSE, "empty title", NULL);
      out->title = rc == CUSTOS_OK ? cu_buf_take(&tb) : NULL;
      cu_buf_free(&tb);
      if (rc == CUSTOS_OK && !out->title)
        rc = CUSTOS_ENOMEM;
      continue;
    }
    if (part != CLAIMS && (starts(&l, "Source:") || starts(&l, "Date:"))) {
      bool src = starts(&l, "Source:");
      char **slot = src ? &out->source : &out->date;
      size_t k = src ? 7 : 5;
      if (*slot) {
        rc = fail(d, name, &l, 1, CUSTOS_EPARSE,
                  src ? "second Source: line" : "second Date: line",
                  "keep one");
        break;
      }
      cu_buf vb;
      cu_buf_init(&vb, 1024);
      rc = append_trim(&vb, l.s + k, l.n - k, NULL);
      if (rc == CUSTOS_ETOOBIG)
        rc = fail(d, name, &l, k + 1, rc, "value too long", NULL);
      if (rc == CUSTOS_OK && vb.len == 0)
        rc = fail(d, name, &l, k + 1, CUSTOS_EPARSE, "empty value", NULL);
      int64_t t;
      if (rc == CUSTOS_OK && !src &&
          (vb.len != 10 || cu_time_parse(vb.data, vb.len, &t) != CUSTOS_OK))
        rc = fail(d, name, &l, k + 2, CUSTOS_EPARSE, "invalid date",
                  "write the date as YYYY-MM-DD");
      if (rc == CUSTOS_OK) {
        *slot = cu_buf_take(&vb);
        if (!*slot)
          rc = CUSTOS_ENOMEM;
      }
      cu_buf_free(&vb);
      part = BODY;
      continue;
    }
    if (starts(&l, "## ")) {
      line h = l;
      h.s += 3;
      h.n -= 3;
      if (part == CLAIMS || !(h.n >= 6 && memcmp(h.s, "Claims", 6) == 0 &&
                              blank(&(line){h.s + 6, h.n - 6, 0}))) {
        if (part == CLAIMS) {
          rc = fail(d, name, &l, 1, CUSTOS_EPARSE,
                    "a heading after the claims",
                    "end the file with the '## Claims' list");
          break;
        }
        /* another heading inside the body is kept as text */
      } else {
        part = CLAIMS;
        continue;
      }
    }
    if (part != CLAIMS) {
      part = BODY;
      if (blank(&l)) {
        pending_blank = body.len > 0;
        continue;
      }
      rc = append_trim(&body, l.s, l.n, pending_blank ? "\n\n" : " ");
      pending_blank = false;
      if (rc == CUSTOS_ETOOBIG)
        rc = fail(d, name, &l, 1, rc, "allegation body too long", NULL);
      continue;
    }
    /* the claims list */
    size_t off = 0;
    long num = item_number(&l, &off);
    bool cont = !blank(&l) && indent(&l) > 0 && cur_item.s;
    if (num == 0 && !cont) {
      if (blank(&l))
        continue;
      rc = fail(d, name, &l, 1, CUSTOS_EPARSE,
                "expected a numbered claim ('1. ...')",
                "write each claim as 'N. text', continuing on indented lines");
      break;
    }
    if (num > 0) {
      if (num != expect) {
        char hint[64];
        snprintf(hint, sizeof hint, "number the claims 1, 2, 3 ...; expected "
                                    "%ld",
                 expect);
        rc = fail(d, name, &l, 1, CUSTOS_EPARSE, "claim out of order", hint);
        break;
      }
      if (claim.len) { /* close the previous item */
        char **pc = cu_grow(out->claims, &cap, out->nclaims, sizeof *pc);
        char *txt = pc ? cu_buf_take(&claim) : NULL;
        if (!pc || !txt) {
          cu_free(txt);
          if (pc)
            out->claims = pc;
          rc = CUSTOS_ENOMEM;
          break;
        }
        out->claims = pc;
        out->claims[out->nclaims++] = txt;
      }
      if (expect > CU_ALLEGATION_MAX_CLAIMS) {
        rc = fail(d, name, &l, 1, CUSTOS_ETOOBIG, "too many claims",
                  "an allegation has at most 100 claims");
        break;
      }
      expect++;
      cur_item = l;
      rc = append_trim(&claim, l.s + off, l.n - off, NULL);
      if (rc == CUSTOS_OK && claim.len == 0) {
        rc = fail(d, name, &l, 1, CUSTOS_EPARSE, "empty claim",
                  "write the claim's text after its number");
        break;
      }
    } else {
      rc = append_trim(&claim, l.s, l.n, " ");
    }
    if (rc == CUSTOS_ETOOBIG)
      rc = fail(d, name, &cur_item, 1, rc, "claim too long",
                "a claim is at most 4096 bytes");
  }
  if (rc == CUSTOS_OK && claim.len) {
    char **pc = cu_grow(out->claims, &cap, out->nclaims, sizeof *pc);
    char *txt = pc ? cu_buf_take(&claim) : NULL;
    if (pc)
      out->claims = pc;
    if (!pc || !txt) {
      cu_free(txt);
      rc = CUSTOS_ENOMEM;
    } else {
      out->claims[out->nclaims++] = txt;
    }
  }
  if (rc == CUSTOS_OK) {
    const char *missing = !out->title    ? "a '# ' title"
                          : !out->source ? "a 'Source:' line"
                          : !out->date   ? "a 'Date:' line"
                          : part != CLAIMS ? "a '## Claims' section"
                          : out->nclaims == 0 ? "at least one claim"
                                              : NULL;
    if (missing) {
      cu_diag_at(d, name, 0, 0);
      cu_diag_hint(d, "see the allegation format in docs/formats.md");
      rc = cu_diag_set(d, CUSTOS_EPARSE, "allegation lacks %s", missing);
    }
  }
  if (rc == CUSTOS_OK) {
    out->text = cu_buf_take(&body);
    if (!out->text)
      rc = CUSTOS_ENOMEM;
  }
  if (rc == CUSTOS_ENOMEM)
    cu_diag_set(d, rc, "out of memory reading the allegation");
  cu_buf_free(&body);
  cu_buf_free(&claim);
  if (rc != CUSTOS_OK)
    cu_allegation_free(out);
  return rc;
}
