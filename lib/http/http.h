/*
 * http: the JSON API served by `custos serve` on libmicrohttpd.  Today it
 * carries the decision point's routes (/v1/check, /v1/status); the query
 * string parser is ours (and fuzzed) so that every bad parameter can be
 * named in a 400.  Limits are in docs/http-api.md.
 */
#ifndef CU_HTTP_H
#define CU_HTTP_H

#include <stdbool.h>

#include "core/core.h"
#include "custos/pdp.h"

#define CU_HTTP_URL_MAX 2048 /* request target, longer gives 414 */
#define CU_HTTP_BODY_MAX 1024 /* request body, longer gives 413 */
#define CU_HTTP_PARAMS_MAX 16 /* query parameters, more gives 400 */
#define CU_HTTP_WAIT_MAX 10000 /* wait_ms cap */

/* One decoded query parameter: name and value point into the caller's
 * buffer and are NUL-terminated. */
typedef struct cu_http_param {
  const char *name;
  size_t name_len;
  const char *value;
  size_t value_len;
} cu_http_param;

/*
 * Splits the query string qs[0..n) ("a=1&b=x%20y") at '&' and '=' and
 * percent-decodes names and values ('+' is a space) into buf (bufcap bytes;
 * n + CU_HTTP_PARAMS_MAX + 1 is always enough).  Empty pieces ("a=1&&b")
 * are skipped.  EPARSE for a bad escape or an escaped NUL, ETOOBIG for more
 * than max parameters or a full buffer; diag names the parameter and the
 * raw text.  Thread-safe; allocates nothing.
 */
custos_rc cu_http_query_parse(const char *qs, size_t n, char *buf,
                              size_t bufcap, cu_http_param *out, size_t max,
                              size_t *count, custos_diag *d) CUSTOS_WUR;

/* A parsed /v1/check request; strings point into the parameters. */
typedef struct cu_http_check_req {
  const char *subscription, *service, *region;
  custos_pdp_op op;
  uint64_t min_revision;
  uint32_t wait_ms;
} cu_http_check_req;

/*
 * Reads the parameters of /v1/check: subscription, service (required),
 * region, operation (default create), min_revision, wait_ms.  EINVAL with
 * diag field = the parameter and value = its value for a missing, repeated,
 * unknown or malformed one.
 */
custos_rc cu_http_check_req_parse(const cu_http_param *p, size_t n,
                                  cu_http_check_req *req,
                                  custos_diag *d) CUSTOS_WUR;

typedef struct cu_http_server cu_http_server;

typedef struct cu_http_config {
  const char *listen; /* "127.0.0.1:8080", "[::1]:8080", ":8080"; port 0
                         picks a free one */
  unsigned threads;   /* worker threads, default: number of CPUs */
  custos_pdp *pdp;    /* answers /v1/check and /v1/status; not owned */
} cu_http_config;

/* Starts serving in background threads.  *out is the caller's, stopped
 * and freed with cu_http_stop (before the pdp is closed).  EINVAL for a bad
 * listen address, EIO when it cannot bind. */
custos_rc cu_http_start(const cu_http_config *c, cu_http_server **out,
                        custos_diag *d) CUSTOS_WUR;
/* The port actually bound. */
unsigned cu_http_port(const cu_http_server *s);
void cu_http_stop(cu_http_server *s);

#endif
