/*
 * The notice outbox and its delivery.  Delivery is at least once: a crash
 * after a notice left but before it was marked sent sends it again on the
 * next run, under the same Message-ID / Idempotency-Key, so the receiver
 * can tell.  Every attempt is on the record.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>

#include "notify.h"

#define WEBHOOK_KEY "keys/webhook.key"
#define WEBHOOK_KEY_LEN 32

/* A URL as it may be recorded: scheme, host, port and path, without user
 * name, password, query or fragment (they may hold credentials, and the
 * log is public and forever). */
static void redact_url(const char *in, char *out, size_t n) {
  snprintf(out, n, "%s", in[0] ? "(unparsable URL)" : "");
  if (!in[0])
    return;
  CURLU *h = curl_url();
  char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
  if (h && curl_url_set(h, CURLUPART_URL, in, 0) == CURLUE_OK &&
      curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
      curl_url_get(h, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
    (void)curl_url_get(h, CURLUPART_PORT, &port, 0);
    (void)curl_url_get(h, CURLUPART_PATH, &path, 0);
    snprintf(out, n, "%s://%s%s%s%s", scheme, host, port ? ":" : "",
             port ? port : "", path && strcmp(path, "/") != 0 ? path : "");
  }
  curl_free(scheme);
  curl_free(host);
  curl_free(port);
  curl_free(path);
  curl_url_cleanup(h);
}

static const char *channel_name(cu_channel c) {
  return c == CU_CHANNEL_WEBHOOK ? "webhook" : "email";
}

/* No CR or LF (header injection) and no other control characters. */
static bool header_safe(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f)
      return false;
  return true;
}

custos_rc cu_notice_queue(cu_ws *ws, const cu_notice *n, int64_t *id,
                          custos_diag *d) {
  if (!n->key || !*n->key || !n->subject || !n->body || !n->recipient)
    return cu_diag_set(d, CUSTOS_EINVAL, "a notice needs a key, recipient, "
                                         "subject and body");
  if (!header_safe(n->recipient) || !header_safe(n->subject) ||
      !header_safe(n->key)) {
    cu_diag_field(d, "subject", n->subject, strlen(n->subject));
    return cu_diag_set(d, CUSTOS_EINVAL,
                       "control characters in a notice header");
  }
  if (n->channel == CU_CHANNEL_EMAIL && !strchr(n->recipient, '@')) {
    cu_diag_field(d, "recipient", n->recipient, strlen(n->recipient));
    return cu_diag_set(d, CUSTOS_EINVAL, "not an e-mail address");
  }
  size_t blen = strlen(n->body);
  if (blen > CU_NOTICE_MAX_BODY)
    return cu_diag_set(d, CUSTOS_ETOOBIG, "notice body over %u bytes",
                       CU_NOTICE_MAX_BODY);
  if (cu_utf8_invalid_at(n->body, blen) != blen)
    return cu_diag_set(d, CUSTOS_EUTF8, "notice body is not UTF-8");
  sqlite3_stmt *st = NULL;
  custos_rc rc = cu_ws_prepare(
      ws,
      "INSERT INTO notices(case_id, channel, recipient, subject, body,"
      " key, created_at, status, attempts, next_attempt_at)"
      " VALUES(?1,?2,?3,?4,?5,?6,?7,'pending',0,?7)"
      " ON CONFLICT(key) DO NOTHING RETURNING id",
      &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  if (n->case_id)
    sqlite3_bind_text(st, 1, n->case_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, channel_name(n->channel), -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, n->recipient, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, n->subject, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, n->body, (int)blen, SQLITE_STATIC);
  sqlite3_bind_text(st, 6, n->key, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 7, cu_time_now());
  int r = sqlite3_step(st);
  int64_t nid = r == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  if (r != SQLITE_ROW && r != SQLITE_DONE)
    rc = cu_ws_dberr(ws, "cannot queue notice", d);
  sqlite3_finalize(st);
  if (rc != CUSTOS_OK || r == SQLITE_DONE) /* DONE: already queued */
    return rc;
  if (id)
    *id = nid;
  uint8_t dg[CU_SHA256_LEN];
  char hex[2 * CU_SHA256_LEN + 1];
  cu_sha256(n->body, blen, dg);
  cu_hex_encode(dg, CU_SHA256_LEN, hex);
  return cu_ws_event_json(ws, "notice.queue", n->case_id,
                          json_pack("{s:I,s:s,s:s,s:s,s:s,s:s}", "notice",
                                    (json_int_t)nid, "channel",
                                    channel_name(n->channel), "recipient",
                                    n->recipient, "subject", n->subject,
                                    "body_sha256", hex, "key", n->key),
                          NULL, d);
}

/* A notify setting; a missing one reads as "". */
static custos_rc meta_get(cu_ws *ws, const char *key, char *out, size_t n,
                          custos_diag *d) {
  bool found;
  return cu_ws_meta_get(ws, key, out, n, &found, d);
}

custos_rc cu_notify_config_get(cu_ws *ws, cu_notify_config *out,
                               custos_diag *d) {
  memset(out, 0, sizeof *out);
  char attempts[32];
  custos_rc rc = meta_get(ws, "notify.smtp_url", out->smtp_url,
                          sizeof out->smtp_url, d);
  if (rc == CUSTOS_OK)
    rc = meta_get(ws, "notify.from", out->from, sizeof out->from, d);
  if (rc == CUSTOS_OK)
    rc = meta_get(ws, "notify.webhook_url", out->webhook_url,
                  sizeof out->webhook_url, d);
  if (rc == CUSTOS_OK)
    rc = meta_get(ws, "notify.max_attempts", attempts, sizeof attempts, d);
  out->max_attempts = attempts[0] ? atoi(attempts) : 10;
  if (out->max_attempts < 1)
    out->max_attempts = 10;
  return rc;
}

custos_rc cu_notify_config_set(cu_ws *ws, const cu_notify_config *cfg,
                               custos_diag *d) {
  if (!header_safe(cfg->smtp_url) || !header_safe(cfg->from) ||
      !header_safe(cfg->webhook_url))
    return cu_diag_set(d, CUSTOS_EINVAL, "control characters in a setting");
  if (cfg->from[0] && !strchr(cfg->from, '@')) {
    cu_diag_field(d, "from", cfg->from, strlen(cfg->from));
    return cu_diag_set(d, CUSTOS_EINVAL, "not an e-mail address");
  }
  if (cfg->webhook_url[0]) {
    char path[PATH_MAX];
    struct stat sb;
    if (cu_ws_path(ws, WEBHOOK_KEY, path, sizeof path) != CUSTOS_OK)
      return cu_diag_set(d, CUSTOS_EINVAL, "workspace path too long");
    if (stat(path, &sb) != 0) {
      uint8_t key[WEBHOOK_KEY_LEN];
      char hex[2 * WEBHOOK_KEY_LEN + 2];
      custos_rc rc = cu_random(key, sizeof key);
      if (rc != CUSTOS_OK)
        return cu_diag_set(d, rc, "cannot draw a webhook key");
      cu_hex_encode(key, sizeof key, hex);
      strcat(hex, "\n");
      rc = cu_file_write_atomic(path, hex, strlen(hex), 0600, d);
      if (rc != CUSTOS_OK)
        return rc;
    }
  }
  custos_rc rc = cu_ws_begin(ws, d);
  if (rc != CUSTOS_OK)
    return rc;
  char attempts[32];
  snprintf(attempts, sizeof attempts, "%d", cfg->max_attempts);
  if (cfg->smtp_url[0])
    rc = cu_ws_meta_set(ws, "notify.smtp_url", cfg->smtp_url, d);
  if (rc == CUSTOS_OK && cfg->from[0])
    rc = cu_ws_meta_set(ws, "notify.from", cfg->from, d);
  if (rc == CUSTOS_OK && cfg->webhook_url[0])
    rc = cu_ws_meta_set(ws, "notify.webhook_url", cfg->webhook_url, d);
  if (rc == CUSTOS_OK && cfg->max_attempts > 0)
    rc = cu_ws_meta_set(ws, "notify.max_attempts", attempts, d);
  char smtp[512], hook[512];
  redact_url(cfg->smtp_url, smtp, sizeof smtp);
  redact_url(cfg->webhook_url, hook, sizeof hook);
  if (rc == CUSTOS_OK)
    rc = cu_ws_event_json(ws, "notify.config", NULL,
                          json_pack("{s:s,s:s,s:s,s:i}", "smtp_url", smtp,
                                    "from", cfg->from, "webhook_url", hook,
                                    "max_attempts", cfg->max_attempts),
                          NULL, d);
  if (rc != CUSTOS_OK) {
    cu_ws_rollback(ws);
    return rc;
  }
  return cu_ws_commit(ws, d);
}

custos_rc cu_webhook_sign(const uint8_t *key, size_t keylen, int64_t t,
                          const char *body, size_t n, char *out,
                          size_t outn) {
  cu_buf b;
  cu_buf_init(&b, CU_NOTICE_MAX_BODY + 64);
  custos_rc rc = cu_buf_printf(&b, "%lld.", (long long)t);
  if (rc == CUSTOS_OK)
    rc = cu_buf_append(&b, body, n);
  uint8_t mac[CU_SHA256_LEN];
  if (rc == CUSTOS_OK)
    rc = cu_hmac_sha256(key, keylen, b.data, b.len, mac);
  cu_buf_free(&b);
  if (rc != CUSTOS_OK)
    return rc;
  char hex[2 * CU_SHA256_LEN + 1];
  cu_hex_encode(mac, CU_SHA256_LEN, hex);
  int k = snprintf(out, outn, "t=%lld,v1=%s", (long long)t, hex);
  return k < 0 || (size_t)k >= outn ? CUSTOS_ETOOBIG : CUSTOS_OK;
}

/* ---- transport -------------------------------------------------------- */

typedef struct upload {
  const char *p;
  size_t left;
} upload;

static size_t read_cb(char *buf, size_t size, size_t nitems, void *ud) {
  upload *u = ud;
  size_t n = size * nitems;
  if (n > u->left)
    n = u->left;
  memcpy(buf, u->p, n);
  u->p += n;
  u->left -= n;
  return n;
}

static size_t discard_cb(char *p, size_t size, size_t n, void *ud) {
  (void)p;
  (void)ud;
  return size * n;
}

/* Subject as RFC 2047 encoded-word when it is not plain ASCII. */
static custos_rc put_subject(cu_buf *m, const char *s) {
  bool ascii = true;
  for (const char *p = s; *p; p++)
    ascii = ascii && (unsigned char)*p < 0x80;
  if (ascii)
    return cu_buf_printf(m, "Subject: %s\r\n", s);
  size_t n = strlen(s);
  char *b64 = cu_malloc(cu_b64_encoded_len(n) + 1);
  if (!b64)
    return CUSTOS_ENOMEM;
  cu_b64_encode((const uint8_t *)s, n, b64);
  custos_rc rc = cu_buf_printf(m, "Subject: =?UTF-8?B?%s?=\r\n", b64);
  cu_free(b64);
  return rc;
}

/* The whole RFC 5322 message, CRLF line ends. */
static custos_rc build_mail(const cu_notify_config *cfg, const char *to,
                            const char *subject, const char *body,
                            const char *key, cu_buf *m) {
  char date[64];
  time_t now = (time_t)cu_time_now();
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  const char *at = strchr(cfg->from, '@');
  custos_rc rc = cu_buf_printf(
      m,
      "Date: %s\r\nFrom: %s\r\nTo: %s\r\nMessage-ID: <%s@%s>\r\n"
      "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"
      "Content-Transfer-Encoding: 8bit\r\nX-Custos-Notice: %s\r\n",
      date, cfg->from, to, key, at ? at + 1 : "custos.invalid", key);
  if (rc == CUSTOS_OK)
    rc = put_subject(m, subject);
  if (rc == CUSTOS_OK)
    rc = cu_buf_puts(m, "\r\n");
  for (const char *p = body; rc == CUSTOS_OK && *p; p++) {
    if (*p == '\n' && (p == body || p[-1] != '\r'))
      rc = cu_buf_puts(m, "\r\n");
    else
      rc = cu_buf_putc(m, *p);
  }
  if (rc == CUSTOS_OK && (m->len < 2 || m->data[m->len - 1] != '\n'))
    rc = cu_buf_puts(m, "\r\n");
  return rc;
}

static custos_rc send_mail(const cu_notify_config *cfg, const char *to,
                           const char *subject, const char *body,
                           const char *key, char *err, size_t errn) {
  if (!cfg->smtp_url[0] || !cfg->from[0]) {
    snprintf(err, errn, "no SMTP server or sender configured (custos notify "
                        "config --smtp URL --from ADDRESS)");
    return CUSTOS_EINVAL;
  }
  cu_buf m;
  cu_buf_init(&m, 2 * CU_NOTICE_MAX_BODY + 4096);
  custos_rc rc = build_mail(cfg, to, subject, body, key, &m);
  if (rc != CUSTOS_OK) {
    cu_buf_free(&m);
    snprintf(err, errn, "cannot build the message");
    return rc;
  }
  CURL *c = curl_easy_init();
  char from[300], rcpt_s[300];
  snprintf(from, sizeof from, "<%s>", cfg->from);
  snprintf(rcpt_s, sizeof rcpt_s, "<%s>", to);
  struct curl_slist *rcpt = curl_slist_append(NULL, rcpt_s);
  upload u = {m.data, m.len};
  char cerr[CURL_ERROR_SIZE] = "";
  CURLcode cc = CURLE_OUT_OF_MEMORY;
  if (c && rcpt) {
    curl_easy_setopt(c, CURLOPT_URL, cfg->smtp_url);
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(c, CURLOPT_READDATA, &u);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    cc = curl_easy_perform(c);
  }
  if (cc != CURLE_OK) {
    char where[512];
    redact_url(cfg->smtp_url, where, sizeof where);
    snprintf(err, errn, "SMTP %s: %s", where,
             cerr[0] ? cerr : curl_easy_strerror(cc));
  }
  curl_slist_free_all(rcpt);
  curl_easy_cleanup(c);
  cu_buf_free(&m);
  return cc == CURLE_OK ? CUSTOS_OK : CUSTOS_EIO;
}

static custos_rc read_webhook_key(cu_ws *ws, uint8_t key[WEBHOOK_KEY_LEN],
                                  custos_diag *d) {
  char path[PATH_MAX];
  if (cu_ws_path(ws, WEBHOOK_KEY, path, sizeof path) != CUSTOS_OK)
    return cu_diag_set(d, CUSTOS_EINVAL, "workspace path too long");
  char *text = NULL;
  size_t len = 0;
  custos_rc rc = cu_file_read(path, 256, &text, &len, d);
  if (rc != CUSTOS_OK)
    return rc;
  while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
    len--;
  rc = cu_hex_decode(text, len, key, WEBHOOK_KEY_LEN);
  cu_free(text);
  if (rc != CUSTOS_OK) {
    cu_diag_at(d, path, 1, 1);
    return cu_diag_set(d, rc, "webhook key is not %d bytes of hex",
                       WEBHOOK_KEY_LEN);
  }
  return CUSTOS_OK;
}

static custos_rc send_webhook(cu_ws *ws, const cu_notify_config *cfg,
                              const char *body, const char *key, char *err,
                              size_t errn) {
  if (!cfg->webhook_url[0]) {
    snprintf(err, errn, "no webhook configured (custos notify config "
                        "--webhook URL)");
    return CUSTOS_EINVAL;
  }
  uint8_t k[WEBHOOK_KEY_LEN];
  custos_diag kd;
  custos_diag_clear(&kd);
  custos_rc rc = read_webhook_key(ws, k, &kd);
  if (rc != CUSTOS_OK) {
    custos_diag_format(&kd, err, errn);
    return rc;
  }
  char sig[160], h1[200], h2[300];
  rc = cu_webhook_sign(k, sizeof k, cu_time_now(), body, strlen(body), sig,
                       sizeof sig);
  memset(k, 0, sizeof k);
  if (rc != CUSTOS_OK) {
    snprintf(err, errn, "cannot sign the webhook");
    return rc;
  }
  snprintf(h1, sizeof h1, "Custos-Signature: %s", sig);
  snprintf(h2, sizeof h2, "Idempotency-Key: %s", key);
  struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: "
                                                   "application/json");
  hdr = hdr ? curl_slist_append(hdr, h1) : NULL;
  hdr = hdr ? curl_slist_append(hdr, h2) : NULL;
  CURL *c = curl_easy_init();
  char cerr[CURL_ERROR_SIZE] = "";
  CURLcode cc = CURLE_OUT_OF_MEMORY;
  long status = 0;
  if (c && hdr) {
    curl_easy_setopt(c, CURLOPT_URL, cfg->webhook_url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_cb);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  }
  curl_slist_free_all(hdr);
  curl_easy_cleanup(c);
  char where[512];
  redact_url(cfg->webhook_url, where, sizeof where);
  if (cc != CURLE_OK) {
    snprintf(err, errn, "webhook %s: %s", where,
             cerr[0] ? cerr : curl_easy_strerror(cc));
    return CUSTOS_EIO;
  }
  if (status < 200 || status > 299) {
    snprintf(err, errn, "webhook %s answered HTTP %ld", where, status);
    return CUSTOS_EIO;
  }
  return CUSTOS_OK;
}

/* Records the result of one attempt in one transaction. */
static custos_rc record_attempt(cu_ws *ws, int64_t id, const char *case_id,
                                const char *key, int attempts, bool sent,
                                bool give_up, int64_t next, const char *err,
                                custos_diag *d) {
  custos_rc rc = cu_ws_begin(ws, d);
  if (rc != CUSTOS_OK)
    return rc;
  sqlite3_stmt *st = NULL;
  rc = cu_ws_prepare(ws,
                     "UPDATE notices SET attempts = ?2, status = ?3,"
                     " next_attempt_at = ?4, last_error = ?5,"
                     " sent_at = CASE WHEN ?3 = 'sent' THEN ?6 END"
                     " WHERE id = ?1",
                     &st, d);
  if (rc == CUSTOS_OK) {
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, attempts);
    sqlite3_bind_text(st, 3, sent ? "sent" : give_up ? "failed" : "pending",
                      -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, next);
    if (err)
      sqlite3_bind_text(st, 5, err, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, cu_time_now());
    if (sqlite3_step(st) != SQLITE_DONE)
      rc = cu_ws_dberr(ws, "cannot record delivery", d);
    sqlite3_finalize(st);
  }
  if (rc == CUSTOS_OK)
    rc = cu_ws_event_json(
        ws, sent ? "notice.sent" : "notice.attempt", case_id,
        json_pack("{s:I,s:s,s:i,s:s,s:s?}", "notice", (json_int_t)id, "key",
                  key, "attempt", attempts, "result",
                  sent ? "sent" : give_up ? "failed" : "retry", "error", err),
        NULL, d);
  if (rc != CUSTOS_OK) {
    cu_ws_rollback(ws);
    return rc;
  }
  return cu_ws_commit(ws, d);
}

custos_rc cu_notify_deliver(cu_ws *ws, int64_t now, bool force,
                            cu_deliver_stats *stats, custos_diag *d) {
  memset(stats, 0, sizeof *stats);
  cu_notify_config cfg;
  custos_rc rc = cu_notify_config_get(ws, &cfg, d);
  if (rc != CUSTOS_OK)
    return rc;
  static bool curl_ready;
  if (!curl_ready) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      return cu_diag_set(d, CUSTOS_EIO, "cannot start libcurl");
    curl_ready = true;
  }
  /* Take one due notice at a time, so a long run sees new ones and a
   * failure of one never holds back the rest. */
  int64_t after = 0;
  for (;;) {
    sqlite3_stmt *st = NULL;
    rc = cu_ws_prepare(ws,
                       "SELECT id, case_id, channel, recipient, subject, body,"
                       " key, attempts, next_attempt_at FROM notices"
                       " WHERE status = 'pending' AND id > ?1"
                       " ORDER BY id LIMIT 1",
                       &st, d);
    if (rc != CUSTOS_OK)
      return rc;
    sqlite3_bind_int64(st, 1, after);
    if (sqlite3_step(st) != SQLITE_ROW) {
      sqlite3_finalize(st);
      break;
    }
    int64_t id = sqlite3_column_int64(st, 0);
    after = id;
    if (!force && sqlite3_column_int64(st, 8) > now) {
      stats->waiting++;
      sqlite3_finalize(st);
      continue;
    }
    const char *cid = (const char *)sqlite3_column_text(st, 1);
    char *case_id = cid ? cu_strdup(cid) : NULL;
    bool webhook =
        strcmp((const char *)sqlite3_column_text(st, 2), "webhook") == 0;
    char *to = cu_strdup((const char *)sqlite3_column_text(st, 3));
    char *subject = cu_strdup((const char *)sqlite3_column_text(st, 4));
    char *body = cu_strdup((const char *)sqlite3_column_text(st, 5));
    char *key = cu_strdup((const char *)sqlite3_column_text(st, 6));
    int attempts = sqlite3_column_int(st, 7) + 1;
    sqlite3_finalize(st);
    if ((cid && !case_id) || !to || !subject || !body || !key) {
      rc = cu_diag_set(d, CUSTOS_ENOMEM, "out of memory");
    } else {
      char err[600] = "";
      custos_rc sent =
          webhook ? send_webhook(ws, &cfg, body, key, err, sizeof err)
                  : send_mail(&cfg, to, subject, body, key, err, sizeof err);
      bool ok = sent == CUSTOS_OK;
      bool give_up = !ok && attempts >= cfg.max_attempts;
      int64_t delay = 30;
      for (int i = 1; i < attempts && delay < 3600; i++)
        delay *= 2;
      if (delay > 3600)
        delay = 3600;
      rc = record_attempt(ws, id, case_id, key, attempts, ok, give_up,
                          now + delay, ok ? NULL : err, d);
      if (ok)
        stats->sent++;
      else if (give_up)
        stats->failed++;
      else
        stats->retry++;
    }
    cu_free(case_id);
    cu_free(to);
    cu_free(subject);
    cu_free(body);
    cu_free(key);
    if (rc != CUSTOS_OK)
      return rc;
  }
  return CUSTOS_OK;
}

custos_rc cu_notice_list_json(cu_ws *ws, const char *case_id, json_t **out,
                              custos_diag *d) {
  sqlite3_stmt *st = NULL;
  custos_rc rc = cu_ws_prepare(
      ws,
      "SELECT id, case_id, channel, recipient, subject, status, attempts,"
      " last_error, key, created_at, sent_at FROM notices"
      " WHERE ?1 IS NULL OR case_id = ?1 ORDER BY id",
      &st, d);
  if (rc != CUSTOS_OK)
    return rc;
  if (case_id)
    sqlite3_bind_text(st, 1, case_id, -1, SQLITE_STATIC);
  json_t *arr = json_array();
  while (sqlite3_step(st) == SQLITE_ROW) {
    json_array_append_new(
        arr,
        json_pack("{s:I,s:s?,s:s,s:s,s:s,s:s,s:i,s:s?,s:s,s:I,s:o?}", "id",
                  (json_int_t)sqlite3_column_int64(st, 0), "case",
                  (const char *)sqlite3_column_text(st, 1), "channel",
                  (const char *)sqlite3_column_text(st, 2), "recipient",
                  (const char *)sqlite3_column_text(st, 3), "subject",
                  (const char *)sqlite3_column_text(st, 4), "status",
                  (const char *)sqlite3_column_text(st, 5), "attempts",
                  sqlite3_column_int(st, 6), "last_error",
                  (const char *)sqlite3_column_text(st, 7), "key",
                  (const char *)sqlite3_column_text(st, 8), "created_at",
                  (json_int_t)sqlite3_column_int64(st, 9), "sent_at",
                  sqlite3_column_type(st, 10) == SQLITE_NULL
                      ? NULL
                      : json_integer(sqlite3_column_int64(st, 10))));
  }
  sqlite3_finalize(st);
  *out = arr;
  return CUSTOS_OK;
}
