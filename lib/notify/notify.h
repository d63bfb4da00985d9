/*
 * notify: telling the customer, and anyone else who must know, through an
 * outbox in the workspace.  A notice is queued in the same transaction as
 * the outcome it reports; delivery (SMTP through libcurl, or a webhook
 * signed with HMAC-SHA256) happens afterwards and may fail, in which case
 * the notice stays in the outbox and is retried with back-off: never lost,
 * never sent twice under one idempotency key.
 */
#ifndef CU_NOTIFY_H
#define CU_NOTIFY_H

#include "store/store.h"

#define CU_NOTICE_MAX_BODY (1u << 20)

typedef enum cu_channel { CU_CHANNEL_EMAIL, CU_CHANNEL_WEBHOOK } cu_channel;

typedef struct cu_notice {
  const char *case_id;   /* may be NULL */
  cu_channel channel;
  const char *recipient; /* e-mail address, or "" for the webhook */
  const char *subject;
  const char *body;      /* UTF-8 text (e-mail) or JSON (webhook) */
  const char *key;       /* idempotency key: one notice per key, ever */
} cu_notice;

/*
 * Queues n inside the caller's open transaction and records "notice.queue".
 * A notice with the same key already queued is left as it is (EEXIST is
 * not returned: queueing is idempotent).  *id (may be NULL) gets the id.
 */
custos_rc cu_notice_queue(cu_ws *ws, const cu_notice *n, int64_t *id,
                          custos_diag *d) CUSTOS_WUR;

/* Where notices go, stored in the workspace (meta keys notify.*). */
typedef struct cu_notify_config {
  char smtp_url[512]; /* "smtp://127.0.0.1:2525", "" when not set */
  char from[256];     /* envelope and header sender */
  char webhook_url[512];
  int max_attempts;   /* after this many failures a notice is "failed",
                         still kept and listed; default 10 */
} cu_notify_config;

custos_rc cu_notify_config_get(cu_ws *ws, cu_notify_config *out,
                               custos_diag *d) CUSTOS_WUR;
/* Stores cfg (empty strings leave a value as it was) and records
 * "notify.config".  Creates the webhook signing key (keys/webhook.key)
 * when a webhook URL is set and no key exists. */
custos_rc cu_notify_config_set(cu_ws *ws, const cu_notify_config *cfg,
                               custos_diag *d) CUSTOS_WUR;

typedef struct cu_deliver_stats {
  int64_t sent, retry, failed, waiting;
} cu_deliver_stats;

/*
 * Delivers every queued notice that is due at now (or all of them when
 * force).  Each attempt and its result is recorded ("notice.sent" or
 * "notice.attempt" with the error); a failed attempt schedules the next one
 * after 30 s, doubling up to 1 h.  One notice's failure never stops the
 * others.  Returns OK when the run itself worked, whatever the deliveries
 * did (see stats).
 */
custos_rc cu_notify_deliver(cu_ws *ws, int64_t now, bool force,
                            cu_deliver_stats *stats,
                            custos_diag *d) CUSTOS_WUR;

/* The signature header value for a webhook body sent at time t:
 * "t=<t>,v1=<hex HMAC-SHA256(key, "<t>." || body)>" into out (>= 96). */
custos_rc cu_webhook_sign(const uint8_t *key, size_t keylen, int64_t t,
                          const char *body, size_t n, char *out,
                          size_t outn) CUSTOS_WUR;

/* All notices as a JSON array (id, case, channel, recipient, subject,
 * status, attempts, last_error, key); caller json_decrefs. */
custos_rc cu_notice_list_json(cu_ws *ws, const char *case_id, json_t **out,
                              custos_diag *d) CUSTOS_WUR;

#endif
