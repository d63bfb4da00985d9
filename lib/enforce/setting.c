/*
 * Workspace settings that enforcement and notices read.  Only known keys
 * can be set, each with its own check, and every change is on the record.
 */
#include <stdlib.h>
#include <string.h>

#include "enforce.h"

static const struct {
  const char *key, *def, *what;
} settings[] = {
    {"enforce.required_approvals", "2",
     "distinct approvers a plan needs before apply (1 to 10)"},
    {"notify.appeal",
     "To appeal, reply to this notice within 30 days quoting the case "
     "reference; a reviewer who took no part in the decision will answer.",
     "how a customer appeals, quoted in every notice"},
    {"notify.provider", "Your cloud provider",
     "the provider's name as notices sign"},
};

custos_rc cu_setting_get(cu_ws *ws, const char *key, char *out, size_t n,
                         custos_diag *d) {
  const char *def = NULL;
  for (size_t i = 0; i < CU_ARRAY_LEN(settings); i++)
    if (strcmp(settings[i].key, key) == 0)
      def = settings[i].def;
  if (!def) {
    cu_diag_field(d, "setting", key, strlen(key));
    return cu_diag_set(d, CUSTOS_ENOTFOUND, "unknown setting");
  }
  bool found = false;
  custos_rc rc = cu_ws_meta_get(ws, key, out, n, &found, d);
  if (rc == CUSTOS_OK && !found)
    snprintf(out, n, "%s", def);
  return rc;
}

custos_rc cu_setting_set(cu_ws *ws, const char *key, const char *value,
                         custos_diag *d) {
  bool known = false;
  for (size_t i = 0; i < CU_ARRAY_LEN(settings); i++)
    known = known || strcmp(settings[i].key, key) == 0;
  if (!known) {
    cu_diag_field(d, "setting", key, strlen(key));
    cu_diag_hint(d, "known settings: enforce.required_approvals, "
                    "notify.appeal, notify.provider");
    return cu_diag_set(d, CUSTOS_ENOTFOUND, "unknown setting");
  }
  if (strcmp(key, "enforce.required_approvals") == 0) {
    char *end = NULL;
    long v = strtol(value, &end, 10);
    if (!end || *end || v < 1 || v > 10) {
      cu_diag_field(d, key, value, strlen(value));
      return cu_diag_set(d, CUSTOS_EINVAL, "needs a number from 1 to 10");
    }
  } else if (!*value || strlen(value) > 2000 ||
             cu_utf8_invalid_at(value, strlen(value)) != strlen(value)) {
    cu_diag_field(d, key, value, strlen(value));
    return cu_diag_set(d, CUSTOS_EINVAL, "needs 1 to 2000 bytes of UTF-8");
  }
  custos_rc rc = cu_ws_begin(ws, d);
  if (rc != CUSTOS_OK)
    return rc;
  rc = cu_ws_meta_set(ws, key, value, d);
  if (rc == CUSTOS_OK)
    rc = cu_ws_event_json(ws, "setting.set", NULL,
                          json_pack("{s:s,s:s}", "key", key, "value", value),
                          NULL, d);
  if (rc != CUSTOS_OK) {
    cu_ws_rollback(ws);
    return rc;
  }
  return cu_ws_commit(ws, d);
}
