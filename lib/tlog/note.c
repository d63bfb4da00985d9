/*
 * C2SP signed notes, verifier and signer keys, checkpoints and Ed25519
 * witness cosignatures (tlog-cosignature, type 0x04).  Ed25519 comes from
 * OpenSSL libcrypto; its errors become CUSTOS_ECRYPTO here.  Parsers are
 * strict: one encoding per value, so a note or key has one meaning.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "tlog.h"

static const char em_dash[] = "\xe2\x80\x94 "; /* U+2014 and a space */
static const char skey_prefix[] = "PRIVATE+KEY+";

/* ---- Ed25519 ---------------------------------------------------------- */

static custos_rc ed_public(const uint8_t seed[32], uint8_t pub[32]) {
  EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
  if (!k)
    return CUSTOS_ECRYPTO;
  size_t len = 32;
  int ok = EVP_PKEY_get_raw_public_key(k, pub, &len) == 1 && len == 32;
  EVP_PKEY_free(k);
  return ok ? CUSTOS_OK : CUSTOS_ECRYPTO;
}

static custos_rc ed_sign(const uint8_t seed[32], const void *msg, size_t n,
                         uint8_t sig[64]) {
  custos_rc rc = CUSTOS_ECRYPTO;
  EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
  if (!k)
    goto fail_key;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (!ctx)
    goto fail_ctx;
  size_t len = 64;
  if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, k) == 1 &&
      EVP_DigestSign(ctx, sig, &len, msg, n) == 1 && len == 64)
    rc = CUSTOS_OK;
  EVP_MD_CTX_free(ctx);
fail_ctx:
  EVP_PKEY_free(k);
fail_key:
  return rc;
}

static bool ed_verify(const uint8_t pub[32], const void *msg, size_t n,
                      const uint8_t sig[64]) {
  bool ok = false;
  EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
  if (!k)
    return false;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (ctx) {
    ok = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k) == 1 &&
         EVP_DigestVerify(ctx, sig, 64, msg, n) == 1;
    EVP_MD_CTX_free(ctx);
  }
  EVP_PKEY_free(k);
  return ok;
}

/* ---- names and keys --------------------------------------------------- */

/* The code point at s[i..n) (valid UTF-8 assumed) and its length. */
static uint32_t utf8_at(const unsigned char *s, size_t i, size_t *len) {
  unsigned char c = s[i];
  if (c < 0x80) {
    *len = 1;
    return c;
  }
  size_t l = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
  uint32_t cp = c & (0x7f >> l);
  for (size_t k = 1; k < l; k++)
    cp = cp << 6 | (s[i + k] & 0x3f);
  *len = l;
  return cp;
}

static bool unicode_space(uint32_t cp) {
  return cp == 0x20 || (cp >= 0x09 && cp <= 0x0d) || cp == 0x85 ||
         cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f ||
         cp == 0x3000;
}

bool cu_log_name_valid(const char *s, size_t n) {
  if (n == 0 || n > CU_LOG_NAME_MAX || cu_utf8_invalid_at(s, n) != n)
    return false;
  const unsigned char *u = (const unsigned char *)s;
  for (size_t i = 0; i < n;) {
    size_t len;
    uint32_t cp = utf8_at(u, i, &len);
    if (cp < 0x20 || cp == 0x7f || cp == '+' || unicode_space(cp))
      return false;
    i += len;
  }
  return true;
}

uint32_t cu_log_key_id(const char *name, uint8_t type, const uint8_t pub[32]) {
  size_t n = strlen(name);
  uint8_t buf[CU_LOG_NAME_MAX + 2 + 32], h[32];
  if (NEVER(n > CU_LOG_NAME_MAX))
    n = CU_LOG_NAME_MAX;
  memcpy(buf, name, n);
  buf[n] = '\n';
  buf[n + 1] = type;
  memcpy(buf + n + 2, pub, 32);
  cu_sha256(buf, n + 2 + 32, h);
  return (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 |
         h[3];
}

static custos_rc key_error(custos_diag *d, const char *s, size_t n,
                           const char *what) {
  cu_diag_field(d, "key", s, n);
  cu_diag_hint(d, "a verifier key looks like NAME+1234abcd+BASE64; copy it "
                  "again from `custos log key`");
  return cu_diag_set(d, CUSTOS_EPARSE, "malformed key: %s", what);
}

/* Splits NAME+HEX8+BASE64 (on the first two '+' only) and decodes it. */
static custos_rc parse_key_parts(const char *s, size_t n, char *name,
                                 uint32_t *id, uint8_t *type, uint8_t key[32],
                                 custos_diag *d) {
  const char *p1 = memchr(s, '+', n);
  if (!p1)
    return key_error(d, s, n, "no '+' separators");
  const char *p2 = memchr(p1 + 1, '+', n - (size_t)(p1 + 1 - s));
  if (!p2)
    return key_error(d, s, n, "only one '+' separator");
  size_t nl = (size_t)(p1 - s);
  if (!cu_log_name_valid(s, nl))
    return key_error(d, s, n, "the name is empty, too long or holds a space, "
                              "'+' or control character");
  uint8_t idb[4];
  if (cu_hex_decode(p1 + 1, (size_t)(p2 - p1 - 1), idb, 4) != CUSTOS_OK)
    return key_error(d, s, n, "the key ID is not 8 hex digits");
  const char *b = p2 + 1;
  size_t bl = n - (size_t)(b - s);
  uint8_t raw[40];
  size_t rl = 0;
  if (bl != 44 || cu_b64_decode(b, bl, raw, sizeof raw, &rl) != CUSTOS_OK ||
      rl != 33)
    return key_error(d, s, n, "the key is not 33 bytes of canonical base64");
  if (raw[0] != CU_LOG_SIG_ED25519 && raw[0] != CU_LOG_SIG_COSIG_V1)
    return key_error(d, s, n, "unsupported signature type (want 0x01 "
                              "Ed25519 or 0x04 Ed25519 cosignature)");
  memcpy(name, s, nl);
  name[nl] = '\0';
  *id = (uint32_t)idb[0] << 24 | (uint32_t)idb[1] << 16 |
        (uint32_t)idb[2] << 8 | idb[3];
  *type = raw[0];
  memcpy(key, raw + 1, 32);
  return CUSTOS_OK;
}

custos_rc cu_log_vkey_parse(const char *s, size_t n, cu_log_vkey *out,
                            custos_diag *d) {
  cu_log_vkey k;
  custos_rc rc = parse_key_parts(s, n, k.name, &k.id, &k.type, k.pub, d);
  if (rc != CUSTOS_OK)
    return rc;
  if (cu_log_key_id(k.name, k.type, k.pub) != k.id)
    return key_error(d, s, n, "the key ID does not match the name and key");
  *out = k;
  return CUSTOS_OK;
}

custos_rc cu_log_skey_parse(const char *s, size_t n, cu_log_skey *out,
                            custos_diag *d) {
  size_t pl = sizeof skey_prefix - 1;
  if (n < pl || memcmp(s, skey_prefix, pl) != 0) {
    cu_diag_hint(d, "a signer key starts with PRIVATE+KEY+");
    return cu_diag_set(d, CUSTOS_EPARSE, "malformed signer key");
  }
  cu_log_skey k;
  custos_rc rc = parse_key_parts(s + pl, n - pl, k.pub.name, &k.pub.id,
                                 &k.pub.type, k.seed, NULL);
  if (rc == CUSTOS_OK)
    rc = ed_public(k.seed, k.pub.pub);
  if (rc == CUSTOS_OK && cu_log_key_id(k.pub.name, k.pub.type, k.pub.pub) !=
                             k.pub.id)
    rc = CUSTOS_EPARSE;
  if (rc != CUSTOS_OK) {
    cu_log_skey_wipe(&k);
    /* Never echo secret material into a diagnostic. */
    cu_diag_hint(d, "restore the key file from the workspace's backup");
    return cu_diag_set(d, CUSTOS_EPARSE, "malformed signer key");
  }
  *out = k;
  cu_log_skey_wipe(&k);
  return CUSTOS_OK;
}

static custos_rc format_key(const char *prefix, const char *name, uint32_t id,
                            uint8_t type, const uint8_t key[32], char *out,
                            size_t outn) {
  uint8_t raw[33];
  char b64[48];
  raw[0] = type;
  memcpy(raw + 1, key, 32);
  cu_b64_encode(raw, sizeof raw, b64);
  int k = snprintf(out, outn, "%s%s+%08" PRIx32 "+%s", prefix, name, id, b64);
  memset(raw, 0, sizeof raw);
  memset(b64, 0, sizeof b64);
  return k < 0 || (size_t)k >= outn ? CUSTOS_ETOOBIG : CUSTOS_OK;
}

custos_rc cu_log_vkey_format(const cu_log_vkey *k, char *out, size_t outn) {
  return format_key("", k->name, k->id, k->type, k->pub, out, outn);
}

custos_rc cu_log_skey_format(const cu_log_skey *k, char *out, size_t outn) {
  return format_key(skey_prefix, k->pub.name, k->pub.id, k->pub.type, k->seed,
                    out, outn);
}

custos_rc cu_log_skey_generate(const char *name, uint8_t type,
                               cu_log_skey *out, custos_diag *d) {
  size_t n = strlen(name);
  if (!cu_log_name_valid(name, n)) {
    cu_diag_field(d, "name", name, n);
    cu_diag_hint(d, "use a schema-less URL such as example.com/log");
    return cu_diag_set(d, CUSTOS_EINVAL, "invalid key name");
  }
  if (type != CU_LOG_SIG_ED25519 && type != CU_LOG_SIG_COSIG_V1)
    return cu_diag_set(d, CUSTOS_EINVAL, "unsupported key type %u", type);
  memset(out, 0, sizeof *out);
  memcpy(out->pub.name, name, n + 1);
  out->pub.type = type;
  custos_rc rc = cu_random(out->seed, 32);
  if (rc == CUSTOS_OK)
    rc = ed_public(out->seed, out->pub.pub);
  if (rc != CUSTOS_OK) {
    cu_log_skey_wipe(out);
    return cu_diag_set(d, CUSTOS_ECRYPTO, "cannot generate an Ed25519 key");
  }
  out->pub.id = cu_log_key_id(name, type, out->pub.pub);
  return CUSTOS_OK;
}

void cu_log_skey_wipe(cu_log_skey *k) {
  /* volatile so the compiler cannot drop the wipe of a dying object */
  volatile uint8_t *p = (volatile uint8_t *)k;
  for (size_t i = 0; i < sizeof *k; i++)
    p[i] = 0;
}

/* ---- notes ------------------------------------------------------------ */

static custos_rc note_error(custos_diag *d, custos_rc rc, uint64_t line,
                            const char *what) {
  cu_diag_at(d, "note", line, 0);
  cu_diag_hint(d, "the note is damaged or not a C2SP signed note; fetch it "
                  "again");
  return cu_diag_set(d, rc, "%s", what);
}

void cu_log_note_free(cu_log_note *note) {
  if (!note)
    return;
  cu_free(note->text);
  cu_free(note->sigs);
  cu_free(note->sigmem);
  memset(note, 0, sizeof *note);
}

custos_rc cu_log_note_parse(const char *s, size_t n, cu_log_note *out,
                            custos_diag *d) {
  if (n > CU_LOG_NOTE_MAX)
    return note_error(d, CUSTOS_ETOOBIG, 0, "note is larger than 1 MiB");
  size_t bad = cu_utf8_invalid_at(s, n);
  if (bad != n)
    return note_error(d, CUSTOS_EPARSE, 0, "note is not valid UTF-8");
  uint64_t line = 1;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '\n')
      line++;
    else if (c < 0x20 || c == 0x7f)
      return note_error(d, CUSTOS_EPARSE, line,
                        "note holds a control character");
  }
  if (n == 0 || s[n - 1] != '\n')
    return note_error(d, CUSTOS_EPARSE, line, "note does not end in a newline");
  /* The text ends at the last blank line. */
  size_t split = n;
  for (size_t i = n - 1; i-- > 0;)
    if (s[i] == '\n' && s[i + 1] == '\n') {
      split = i;
      break;
    }
  if (split == n)
    return note_error(d, CUSTOS_EPARSE, 0,
                      "note has no blank line before its signatures");
  size_t text_len = split + 1;
  uint64_t sig_line = 2;
  for (size_t i = 0; i < text_len; i++)
    sig_line += s[i] == '\n';

  /* Count and bound the signature lines first. */
  size_t nsig = 0;
  for (size_t i = split + 2; i < n; i++)
    nsig += s[i] == '\n';
  if (nsig == 0)
    return note_error(d, CUSTOS_EPARSE, sig_line, "note has no signature");
  if (nsig > CU_LOG_NOTE_MAX_SIGS)
    return note_error(d, CUSTOS_ETOOBIG, sig_line,
                      "note has more than 100 signatures");

  cu_log_note note = {0};
  note.text = cu_strndup(s, text_len);
  note.sigs = cu_calloc(nsig, sizeof *note.sigs);
  note.sigmem = cu_malloc(n - split); /* decoded base64 is shorter */
  if (!note.text || !note.sigs || !note.sigmem) {
    cu_log_note_free(&note);
    return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory parsing a note");
  }
  note.text_len = text_len;
  size_t mem_used = 0;
  const char *p = s + split + 2, *end = s + n;
  custos_rc rc = CUSTOS_OK;
  for (size_t k = 0; k < nsig; k++, sig_line++) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    size_t ll = (size_t)(eol - p), dl = sizeof em_dash - 1;
    if (ll < dl || memcmp(p, em_dash, dl) != 0) {
      rc = note_error(d, CUSTOS_EPARSE, sig_line,
                      "signature line does not start with an em dash and a "
                      "space");
      break;
    }
    const char *name = p + dl;
    const char *sp = memchr(name, ' ', (size_t)(eol - name));
    if (!sp || !cu_log_name_valid(name, (size_t)(sp - name))) {
      rc = note_error(d, CUSTOS_EPARSE, sig_line,
                      "signature line has no valid key name");
      break;
    }
    const char *b = sp + 1;
    size_t bl = (size_t)(eol - b), got = 0;
    uint8_t *dst = note.sigmem + mem_used;
    if (cu_b64_decode(b, bl, dst, n - split - mem_used, &got) != CUSTOS_OK ||
        got < 5) {
      rc = note_error(d, CUSTOS_EPARSE, sig_line,
                      "signature is not canonical base64 of a key ID and a "
                      "signature");
      break;
    }
    cu_log_note_sig *sg = &note.sigs[k];
    memcpy(sg->name, name, (size_t)(sp - name));
    sg->name[sp - name] = '\0';
    sg->id = (uint32_t)dst[0] << 24 | (uint32_t)dst[1] << 16 |
             (uint32_t)dst[2] << 8 | dst[3];
    sg->sig = dst + 4;
    sg->sig_len = got - 4;
    mem_used += got;
    p = eol + 1;
  }
  if (rc != CUSTOS_OK) {
    cu_log_note_free(&note);
    return rc;
  }
  note.nsigs = nsig;
  *out = note;
  return CUSTOS_OK;
}

/* The message a type 0x04 cosignature signs. */
static custos_rc cosig_message(const char *text, size_t n, uint64_t t,
                               cu_buf *msg) {
  custos_rc rc = cu_buf_printf(msg, "cosignature/v1\ntime %" PRIu64 "\n", t);
  if (rc == CUSTOS_OK)
    rc = cu_buf_append(msg, text, n);
  return rc;
}

static bool verify_one(const cu_log_note *note, const cu_log_vkey *k,
                       const cu_log_note_sig *sg) {
  if (k->type == CU_LOG_SIG_ED25519)
    return sg->sig_len == 64 &&
           ed_verify(k->pub, note->text, note->text_len, sg->sig);
  if (sg->sig_len != 8 + 64)
    return false;
  uint64_t t = 0;
  for (int i = 0; i < 8; i++)
    t = t << 8 | sg->sig[i];
  if (t > INT64_MAX)
    return false;
  cu_buf msg;
  cu_buf_init(&msg, note->text_len + 64);
  bool ok = cosig_message(note->text, note->text_len, t, &msg) == CUSTOS_OK &&
            ed_verify(k->pub, msg.data, msg.len, sg->sig + 8);
  cu_buf_free(&msg);
  return ok;
}

custos_rc cu_log_note_verify(const cu_log_note *note, const cu_log_vkey *keys,
                             size_t nkeys, bool *ok, custos_diag *d) {
  bool any = false;
  if (ok)
    for (size_t i = 0; i < nkeys; i++)
      ok[i] = false;
  for (size_t s = 0; s < note->nsigs; s++) {
    const cu_log_note_sig *sg = &note->sigs[s];
    for (size_t i = 0; i < nkeys; i++) {
      if (keys[i].id != sg->id || strcmp(keys[i].name, sg->name) != 0)
        continue;
      if (!verify_one(note, &keys[i], sg)) {
        cu_diag_field(d, "signature", sg->name, strlen(sg->name));
        cu_diag_hint(d, "the note was altered or signed with another key; "
                        "do not trust it");
        return cu_diag_set(d, CUSTOS_EVERIFY,
                           "signature by a known key does not verify");
      }
      any = true;
      if (ok)
        ok[i] = true;
    }
  }
  if (!any) {
    cu_diag_hint(d, "check that the verifier key belongs to this log");
    return cu_diag_set(d, CUSTOS_EVERIFY, "note has no signature from a "
                                          "known key");
  }
  return CUSTOS_OK;
}

custos_rc cu_log_note_sign(const char *text, size_t n, const cu_log_skey *key,
                           uint64_t time, cu_buf *out, custos_diag *d) {
  if (n == 0 || text[n - 1] != '\n' || cu_utf8_invalid_at(text, n) != n)
    return cu_diag_set(d, CUSTOS_EINVAL,
                       "note text must be UTF-8 and end in a newline");
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)text[i];
    if ((c < 0x20 && c != '\n') || c == 0x7f)
      return cu_diag_set(d, CUSTOS_EINVAL,
                         "note text holds a control character");
  }
  uint8_t raw[4 + 8 + 64];
  size_t rl = 0;
  raw[rl++] = (uint8_t)(key->pub.id >> 24);
  raw[rl++] = (uint8_t)(key->pub.id >> 16);
  raw[rl++] = (uint8_t)(key->pub.id >> 8);
  raw[rl++] = (uint8_t)key->pub.id;
  custos_rc rc;
  if (key->pub.type == CU_LOG_SIG_COSIG_V1) {
    if (time > INT64_MAX)
      return cu_diag_set(d, CUSTOS_EINVAL, "cosignature time out of range");
    for (int i = 7; i >= 0; i--)
      raw[rl++] = (uint8_t)(time >> (8 * i));
    cu_buf msg;
    cu_buf_init(&msg, n + 64);
    rc = cosig_message(text, n, time, &msg);
    if (rc == CUSTOS_OK)
      rc = ed_sign(key->seed, msg.data, msg.len, raw + rl);
    cu_buf_free(&msg);
  } else {
    rc = ed_sign(key->seed, text, n, raw + rl);
  }
  if (rc != CUSTOS_OK)
    return cu_diag_set(d, rc, "cannot sign the note");
  rl += 64;
  char b64[128];
  cu_b64_encode(raw, rl, b64);
  size_t mark = out->len;
  rc = cu_buf_append(out, text, n);
  if (rc == CUSTOS_OK)
    rc = cu_buf_printf(out, "\n%s%s %s\n", em_dash, key->pub.name, b64);
  if (rc != CUSTOS_OK) {
    out->len = mark;
    return cu_diag_set(d, rc, "cannot build the signed note");
  }
  return CUSTOS_OK;
}

/* ---- checkpoints ------------------------------------------------------ */

static custos_rc cp_error(custos_diag *d, uint64_t line, const char *what,
                          const char *v, size_t vn) {
  cu_diag_at(d, "checkpoint", line, 0);
  cu_diag_field(d, line == 1 ? "origin" : line == 2 ? "size" : "root", v, vn);
  cu_diag_hint(d, "a checkpoint is: origin, decimal size, base64 root hash");
  return cu_diag_set(d, CUSTOS_EPARSE, "%s", what);
}

custos_rc cu_log_checkpoint_parse(const char *text, size_t n,
                                  cu_log_checkpoint *out, custos_diag *d) {
  if (n == 0 || text[n - 1] != '\n')
    return cp_error(d, 0, "checkpoint text does not end in a newline", "", 0);
  const char *line[3];
  size_t len[3];
  const char *p = text, *end = text + n;
  for (int i = 0; i < 3; i++) {
    if (p >= end)
      return cp_error(d, (uint64_t)i + 1, "checkpoint has fewer than three "
                                          "lines", "", 0);
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    line[i] = p;
    len[i] = (size_t)(eol - p);
    p = eol + 1;
  }
  uint64_t ln = 4;
  while (p < end) { /* extension lines: opaque, but never empty */
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if (eol == p)
      return cp_error(d, ln, "checkpoint has an empty extension line", "", 0);
    p = eol + 1;
    ln++;
  }
  if (len[0] == 0 || len[0] > CU_LOG_NAME_MAX)
    return cp_error(d, 1, "origin is empty or too long", line[0], len[0]);
  const char *sz = line[1];
  if (len[1] == 0 || len[1] > 20 || (sz[0] == '0' && len[1] > 1))
    return cp_error(d, 2, "size is not a decimal without leading zeros", sz,
                    len[1]);
  uint64_t size = 0;
  for (size_t i = 0; i < len[1]; i++) {
    if (sz[i] < '0' || sz[i] > '9')
      return cp_error(d, 2, "size is not a decimal", sz, len[1]);
    unsigned dg = (unsigned)(sz[i] - '0');
    if (size > (UINT64_MAX - dg) / 10)
      return cp_error(d, 2, "size is out of range", sz, len[1]);
    size = size * 10 + dg;
  }
  cu_log_hash root;
  if (cu_log_hash_b64(line[2], len[2], &root) != CUSTOS_OK)
    return cp_error(d, 3, "root is not 32 bytes of canonical base64", line[2],
                    len[2]);
  memcpy(out->origin, line[0], len[0]);
  out->origin[len[0]] = '\0';
  out->size = size;
  memcpy(out->root, root.b, 32);
  return CUSTOS_OK;
}

custos_rc cu_log_checkpoint_text(const cu_log_checkpoint *cp, cu_buf *out) {
  char b64[48];
  cu_b64_encode(cp->root, 32, b64);
  return cu_buf_printf(out, "%s\n%" PRIu64 "\n%s\n", cp->origin, cp->size,
                       b64);
}

custos_rc cu_log_checkpoint_open(const char *note, size_t n,
                                 const cu_log_vkey *log_key,
                                 const cu_log_vkey *wit, size_t nwit,
                                 cu_log_checkpoint *out, custos_diag *d) {
  cu_log_note nt;
  custos_rc rc = cu_log_note_parse(note, n, &nt, d);
  if (rc != CUSTOS_OK)
    return rc;
  cu_log_vkey keys[17];
  bool ok[17];
  if (nwit > 16) {
    cu_log_note_free(&nt);
    return cu_diag_set(d, CUSTOS_EINVAL, "at most 16 witness keys");
  }
  keys[0] = *log_key;
  for (size_t i = 0; i < nwit; i++)
    keys[i + 1] = wit[i];
  rc = cu_log_note_verify(&nt, keys, nwit + 1, ok, d);
  if (rc == CUSTOS_OK && !ok[0]) {
    cu_diag_field(d, "key", log_key->name, strlen(log_key->name));
    cu_diag_hint(d, "check that the verifier key is the log's");
    rc = cu_diag_set(d, CUSTOS_EVERIFY,
                     "checkpoint is not signed by the log's key");
  }
  for (size_t i = 0; rc == CUSTOS_OK && i < nwit; i++)
    if (!ok[i + 1]) {
      cu_diag_field(d, "witness", wit[i].name, strlen(wit[i].name));
      cu_diag_hint(d, "have the witness cosign the checkpoint, or drop "
                      "--witness");
      rc = cu_diag_set(d, CUSTOS_EVERIFY,
                       "checkpoint carries no cosignature of a required "
                       "witness");
    }
  if (rc == CUSTOS_OK)
    rc = cu_log_checkpoint_parse(nt.text, nt.text_len, out, d);
  cu_log_note_free(&nt);
  return rc;
}
