/*
 * Offline proof bundles in the c2sp.org/tlog-proof@v1 text format: the
 * entry (as base64 "extra"), its index, the inclusion proof and the signed
 * checkpoint, verifiable with the log's verifier key and nothing else.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "tlog.h"

static const char header[] = "c2sp.org/tlog-proof@v1\n";
#define PROOF_MAX (CU_LOG_NOTE_MAX + 128 * 1024)

custos_rc cu_log_proof_format(const uint8_t *entry, size_t entry_len,
                              uint64_t index, const cu_log_hash *proof,
                              size_t n, const char *note, size_t note_len,
                              cu_buf *out) {
  size_t mark = out->len;
  char *b64 = cu_malloc(cu_b64_encoded_len(entry_len) + 1);
  if (!b64)
    return CUSTOS_ENOMEM;
  cu_b64_encode(entry, entry_len, b64);
  custos_rc rc = cu_buf_puts(out, header);
  if (rc == CUSTOS_OK)
    rc = cu_buf_printf(out, "extra %s\nindex %" PRIu64 "\n", b64, index);
  cu_free(b64);
  for (size_t i = 0; i < n && rc == CUSTOS_OK; i++) {
    char h[48];
    cu_b64_encode(proof[i].b, 32, h);
    rc = cu_buf_printf(out, "%s\n", h);
  }
  if (rc == CUSTOS_OK)
    rc = cu_buf_putc(out, '\n');
  if (rc == CUSTOS_OK)
    rc = cu_buf_append(out, note, note_len);
  if (rc != CUSTOS_OK)
    out->len = mark;
  return rc;
}

static custos_rc bad(custos_diag *d, uint64_t line, const char *what) {
  cu_diag_at(d, "proof", line, 0);
  cu_diag_hint(d, "a proof is c2sp.org/tlog-proof@v1 text as printed by "
                  "`custos log prove`");
  return cu_diag_set(d, CUSTOS_EPARSE, "%s", what);
}

custos_rc cu_log_proof_verify(const char *s, size_t n, const cu_log_vkey *vkey,
                              uint64_t *index, cu_log_checkpoint *cp,
                              cu_buf *entry, custos_diag *d) {
  if (n > PROOF_MAX)
    return cu_diag_set(d, CUSTOS_ETOOBIG, "proof is too large");
  const char *p = s, *end = s + n;
  size_t hl = sizeof header - 1;
  if (n < hl || memcmp(s, header, hl) != 0)
    return bad(d, 1, "proof does not start with c2sp.org/tlog-proof@v1");
  p += hl;
  uint64_t line = 2;
  const char *eol = memchr(p, '\n', (size_t)(end - p));
  if (!eol || (size_t)(eol - p) < 6 || memcmp(p, "extra ", 6) != 0)
    return bad(d, line, "proof carries no entry (extra line)");
  const char *b64 = p + 6;
  size_t bl = (size_t)(eol - b64);
  cu_buf_reset(entry);
  custos_rc rc = cu_buf_reserve(entry, bl);
  size_t el = 0;
  if (rc != CUSTOS_OK)
    return cu_diag_set(d, rc, "entry too large");
  if (cu_b64_decode(b64, bl, (uint8_t *)entry->data, bl, &el) != CUSTOS_OK ||
      el > CU_LOG_ENTRY_MAX)
    return bad(d, line, "extra is not canonical base64 of an entry");
  entry->len = el;
  p = eol + 1;
  line++;
  eol = memchr(p, '\n', (size_t)(end - p));
  if (!eol || (size_t)(eol - p) < 7 || memcmp(p, "index ", 6) != 0)
    return bad(d, line, "no index line");
  const char *v = p + 6;
  size_t vl = (size_t)(eol - v);
  uint64_t idx = 0;
  if (vl == 0 || vl > 20 || (v[0] == '0' && vl > 1))
    return bad(d, line, "index is not a decimal without leading zeros");
  for (size_t i = 0; i < vl; i++) {
    if (v[i] < '0' || v[i] > '9' || idx > (UINT64_MAX - 9) / 10)
      return bad(d, line, "index is not a decimal");
    idx = idx * 10 + (uint64_t)(v[i] - '0');
  }
  p = eol + 1;
  line++;
  cu_log_hash proof[CU_LOG_MAX_PROOF];
  size_t np = 0;
  for (;;) {
    eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol)
      return bad(d, line, "proof ends before its checkpoint");
    if (eol == p)
      break;
    if (np == CU_LOG_MAX_PROOF)
      return bad(d, line, "too many proof hashes");
    if (cu_log_hash_b64(p, (size_t)(eol - p), &proof[np]) != CUSTOS_OK)
      return bad(d, line, "proof hash is not 32 bytes of canonical base64");
    np++;
    p = eol + 1;
    line++;
  }
  p = eol + 1;
  rc = cu_log_checkpoint_open(p, (size_t)(end - p), vkey, NULL, 0, cp, d);
  if (rc != CUSTOS_OK)
    return rc;
  uint8_t leaf[32];
  cu_log_leaf_hash(entry->data, entry->len, leaf);
  rc = cu_log_verify_inclusion(idx, cp->size, leaf, 32, proof, np, cp->root,
                               32, d);
  if (rc != CUSTOS_OK)
    return rc;
  if (cu_log_entry_is_custos((const uint8_t *)entry->data, entry->len)) {
    cu_log_entry e;
    rc = cu_log_entry_decode((const uint8_t *)entry->data, entry->len, &e, d);
    if (rc == CUSTOS_OK && e.index != idx)
      rc = cu_diag_set(d, CUSTOS_EVERIFY,
                       "entry says index %" PRIu64 ", proof says %" PRIu64,
                       e.index, idx);
    if (rc != CUSTOS_OK)
      return rc;
  }
  *index = idx;
  return CUSTOS_OK;
}
