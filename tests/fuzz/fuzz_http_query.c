/*
 * libFuzzer target for the HTTP query string parser and the /v1/check
 * parameter reader: every returned parameter must lie in the buffer and be
 * NUL-terminated at its length, errors must name a field, and a request
 * that parses must carry a valid subscription and operation.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "pdp/pdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > CU_HTTP_URL_MAX)
    return 0;
  /* An exact-size copy so reading past the input is caught. */
  char *qs = malloc(size ? size : 1);
  if (!qs)
    return 0;
  memcpy(qs, data, size);
  char buf[CU_HTTP_URL_MAX + CU_HTTP_PARAMS_MAX * 2 + 2];
  cu_http_param p[CU_HTTP_PARAMS_MAX];
  size_t n = 0;
  custos_diag d;
  custos_diag_clear(&d);
  custos_rc rc = cu_http_query_parse(qs, size, buf, sizeof buf, p,
                                     CU_HTTP_PARAMS_MAX, &n, &d);
  if (rc != CUSTOS_OK) {
    if (d.field[0] == '\0' || n != 0)
      abort();
    free(qs);
    return 0;
  }
  if (n > CU_HTTP_PARAMS_MAX)
    abort();
  for (size_t i = 0; i < n; i++) {
    if (p[i].name < buf || p[i].value < buf ||
        p[i].value + p[i].value_len >= buf + sizeof buf ||
        p[i].name[p[i].name_len] != '\0' || p[i].value[p[i].value_len] != '\0')
      abort();
  }
  cu_http_check_req req;
  custos_diag_clear(&d);
  rc = cu_http_check_req_parse(p, n, &req, &d);
  if (rc == CUSTOS_OK) {
    uint64_t key[2];
    if (cu_pdp_sub_key(req.subscription, strlen(req.subscription), key) != 0 ||
        req.op < CUSTOS_PDP_CREATE || req.op > CUSTOS_PDP_DELETE ||
        req.wait_ms > CU_HTTP_WAIT_MAX || !req.service[0])
      abort();
  } else if (d.field[0] == '\0') {
    abort();
  }
  free(qs);
  return 0;
}
