/*
 * libFuzzer target for the message ingest path: parses the input as a
 * message (GMime, the raw fallback, charset conversion, HTML text) and
 * checks that every string it returns is valid UTF-8 within its caps, that
 * the canonical content id does not depend on line endings, and that the
 * fast path for plain messages gives exactly what GMime's object tree
 * gives.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "records/records.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *s) {
  if (!s || cu_utf8_invalid_at(s, strlen(s)) != strlen(s))
    abort();
}

static bool same_str(const char *a, const char *b) {
  return a && b && strcmp(a, b) == 0;
}

static bool same_buf(const cu_buf *a, const cu_buf *b) {
  return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

/* Parses data again with every message through GMime and aborts unless
 * the record is the one m holds. */
static void compare_gmime(const uint8_t *data, size_t size,
                          const cu_rec_msg *m) {
  cu_rec_msg g;
  bool was = cu_rec_msg_fast(false);
  custos_rc rc =
      cu_rec_msg_parse((const char *)data, size, false, size, &g, NULL);
  cu_rec_msg_fast(was);
  if (rc != CUSTOS_OK) {
    cu_rec_msg_free(&g);
    return;
  }
  bool same = strcmp(m->content_id, g.content_id) == 0 &&
              same_str(m->message_id, g.message_id) &&
              same_str(m->in_reply_to, g.in_reply_to) &&
              same_str(m->refs, g.refs) && same_str(m->subject, g.subject) &&
              same_str(m->from, g.from) && same_str(m->to, g.to) &&
              m->date == g.date && m->flags == g.flags &&
              same_buf(&m->body, &g.body) &&
              same_buf(&m->attach_text, &g.attach_text) &&
              m->natt == g.natt;
  for (size_t i = 0; same && i < m->natt; i++)
    same = same_str(m->att[i].name, g.att[i].name) &&
           same_str(m->att[i].type, g.att[i].type) &&
           m->att[i].size == g.att[i].size &&
           strcmp(m->att[i].sha256, g.att[i].sha256) == 0;
  cu_rec_msg_free(&g);
  if (!same)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 1 << 20)
    return 0;
  cu_rec_msg m;
  if (cu_rec_msg_parse((const char *)data, size, false, size, &m, NULL) !=
      CUSTOS_OK) {
    cu_rec_msg_free(&m);
    return 0;
  }
  check(m.subject);
  check(m.from);
  check(m.to);
  check(m.message_id);
  check(m.in_reply_to);
  check(m.refs);
  if (m.body.len > CU_REC_MAX_TEXT || m.attach_text.len > CU_REC_MAX_TEXT)
    abort();
  if (cu_utf8_invalid_at(m.body.data, m.body.len) != m.body.len ||
      cu_utf8_invalid_at(m.attach_text.data, m.attach_text.len) !=
          m.attach_text.len)
    abort();
  for (size_t i = 0; i < m.natt; i++)
    check(m.att[i].name);
  compare_gmime(data, size, &m);
  /* the same message with CRLF line ends has the same content id */
  char *crlf = malloc(2 * size + 1);
  if (crlf) {
    size_t k = 0;
    for (size_t i = 0; i < size; i++) {
      if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
        crlf[k++] = '\r';
      crlf[k++] = (char)data[i];
    }
    char id[2 * CU_SHA256_LEN + 1];
    cu_rec_content_id(crlf, k, k, id);
    /* only meaningful when there is no bare CR to begin with */
    if (!memchr(data, '\r', size) && strcmp(id, m.content_id) != 0)
      abort();
    free(crlf);
  }
  cu_rec_msg_free(&m);
  return 0;
}
