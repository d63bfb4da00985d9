/*
 * Policies: the rules a decision applies, kept in the workspace as one
 * versioned JSON file (policies/policies.json).  A decision records the
 * policy id, the file's version and its SHA-256, so anyone can tell exactly
 * which text applied when.
 */
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "cases.h"

#define POLICY_FILE "policies/policies.json"
#define POLICY_MAX_BYTES (1u << 20)

static const char default_policies[] =
    "{\n"
    "  \"version\": 1,\n"
    "  \"policies\": [\n"
    "    {\n"
    "      \"id\": \"no-mass-surveillance\",\n"
    "      \"title\": \"No technology that facilitates mass surveillance of "
    "civilians\",\n"
    "      \"text\": \"The provider does not provide technology that "
    "facilitates the mass surveillance of civilians.  Services used to "
    "collect, store or process communications of civilians in bulk are "
    "ceased and disabled for the customer unit that uses them.\"\n"
    "    },\n"
    "    {\n"
    "      \"id\": \"customer-privacy\",\n"
    "      \"title\": \"Customer privacy\",\n"
    "      \"text\": \"Reviews use the provider's own business records only "
    "and never access customer content.\"\n"
    "    }\n"
    "  ]\n"
    "}\n";

custos_rc cu_policy_init(cu_ws *ws, custos_diag *d) {
  char path[PATH_MAX];
  struct stat sb;
  if (cu_ws_path(ws, POLICY_FILE, path, sizeof path) != CUSTOS_OK)
    return cu_diag_set(d, CUSTOS_EINVAL, "workspace path too long");
  if (stat(path, &sb) == 0)
    return CUSTOS_OK;
  custos_rc rc = cu_file_write_atomic(path, default_policies,
                                      sizeof default_policies - 1, 0644, d);
  if (rc != CUSTOS_OK)
    return rc;
  uint8_t dg[CU_SHA256_LEN];
  char hex[2 * CU_SHA256_LEN + 1];
  cu_sha256(default_policies, sizeof default_policies - 1, dg);
  cu_hex_encode(dg, CU_SHA256_LEN, hex);
  rc = cu_ws_begin(ws, d);
  if (rc != CUSTOS_OK)
    return rc;
  rc = cu_ws_event_json(ws, "policy.version", NULL,
                        json_pack("{s:i,s:s,s:s}", "version", 1, "sha256", hex,
                                  "file", POLICY_FILE),
                        NULL, d);
  if (rc != CUSTOS_OK) {
    cu_ws_rollback(ws);
    return rc;
  }
  return cu_ws_commit(ws, d);
}

custos_rc cu_policy_get(cu_ws *ws, const char *id, int64_t *version,
                        char *sha256, char *title, size_t titlen,
                        custos_diag *d) {
  char path[PATH_MAX];
  if (cu_ws_path(ws, POLICY_FILE, path, sizeof path) != CUSTOS_OK)
    return cu_diag_set(d, CUSTOS_EINVAL, "workspace path too long");
  char *text = NULL;
  size_t len = 0;
  custos_rc rc = cu_file_read(path, POLICY_MAX_BYTES, &text, &len, d);
  if (rc == CUSTOS_ENOTFOUND)
    cu_diag_hint(d, "the workspace has no policies file; write "
                    "policies/policies.json as docs/formats.md describes");
  if (rc != CUSTOS_OK)
    return rc;
  uint8_t dg[CU_SHA256_LEN];
  cu_sha256(text, len, dg);
  cu_hex_encode(dg, CU_SHA256_LEN, sha256);
  json_error_t err;
  json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
  cu_free(text);
  if (!doc) {
    cu_diag_at(d, path, (uint64_t)(err.line > 0 ? err.line : 0),
               (uint64_t)(err.column > 0 ? err.column : 0));
    return cu_diag_set(d, CUSTOS_EPARSE, "invalid policies file: %s",
                       err.text);
  }
  json_t *ver = json_object_get(doc, "version");
  json_t *arr = json_object_get(doc, "policies");
  if (!json_is_integer(ver) || !json_is_array(arr)) {
    json_decref(doc);
    cu_diag_at(d, path, 0, 0);
    cu_diag_hint(d, "the file needs an integer \"version\" and an array "
                    "\"policies\" of {id, title, text}");
    return cu_diag_set(d, CUSTOS_EPARSE, "invalid policies file");
  }
  *version = json_integer_value(ver);
  size_t i;
  json_t *p;
  cu_buf known;
  cu_buf_init(&known, 1024);
  json_array_foreach(arr, i, p) {
    const char *pid = json_string_value(json_object_get(p, "id"));
    const char *pt = json_string_value(json_object_get(p, "title"));
    if (!pid || !pt)
      continue;
    if (strcmp(pid, id) == 0) {
      if (title)
        snprintf(title, titlen, "%s", pt);
      json_decref(doc);
      cu_buf_free(&known);
      return CUSTOS_OK;
    }
    if (cu_buf_printf(&known, "%s%s", known.len ? ", " : "", pid) !=
        CUSTOS_OK)
      break;
  }
  json_decref(doc);
  cu_diag_field(d, "policy", id, strlen(id));
  cu_diag_hint(d, "the policies file names: %s",
               known.data ? known.data : "none");
  cu_buf_free(&known);
  return cu_diag_set(d, CUSTOS_ENOTFOUND, "unknown policy");
}
