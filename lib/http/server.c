/*
 * The HTTP server: libmicrohttpd with a pool of epoll threads, keep-alive,
 * bounded request target and body, JSON answers and JSON errors.  The raw
 * request target is copied (bounded) by the URI callback so our own query
 * parser sees exactly what the client sent.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "http.h"

struct cu_http_server {
  struct MHD_Daemon *mhd;
  custos_pdp *pdp;
  unsigned port;
};

/* Per request: the raw target, or too_long. */
typedef struct request {
  int called; /* the handler has seen the headers */
  int too_long;
  size_t body; /* bytes of body seen */
  size_t len;
  char uri[CU_HTTP_URL_MAX + 1];
} request;

static void *uri_cb(void *cls, const char *uri, struct MHD_Connection *c) {
  (void)cls;
  (void)c;
  request *r = cu_malloc(sizeof *r);
  if (!r)
    return NULL; /* answered with 500 by the handler */
  size_t n = strlen(uri);
  r->called = 0;
  r->body = 0;
  r->too_long = n > CU_HTTP_URL_MAX;
  r->len = r->too_long ? 0 : n;
  memcpy(r->uri, uri, r->len);
  r->uri[r->len] = '\0';
  return r;
}

static void completed_cb(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe) {
  (void)cls;
  (void)c;
  (void)toe;
  cu_free(*req_cls);
  *req_cls = NULL;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status,
                                 const char *body, size_t len,
                                 const char *allow) {
  struct MHD_Response *resp = MHD_create_response_from_buffer(
      len, (void *)body, MHD_RESPMEM_MUST_COPY);
  if (!resp)
    return MHD_NO;
  MHD_add_response_header(resp, "Content-Type", "application/json");
  MHD_add_response_header(resp, "Cache-Control", "no-store");
  if (allow)
    MHD_add_response_header(resp, "Allow", allow);
  enum MHD_Result r = MHD_queue_response(c, status, resp);
  MHD_destroy_response(resp);
  return r;
}

/* {"error":{"status":S,"message":M,"parameter":P,"value":V,"hint":H}} */
static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status,
                                  const char *msg, const custos_diag *d,
                                  const char *allow) {
  json_t *e = json_pack("{s:I,s:s}", "status", (json_int_t)status, "message",
                        msg);
  if (e && d && d->field[0])
    json_object_set_new(e, "parameter", json_string(d->field));
  if (e && d && d->field[0])
    json_object_set_new(e, "value", json_string(d->value));
  if (e && d && d->hint[0])
    json_object_set_new(e, "hint", json_string(d->hint));
  json_t *o = e ? json_pack("{s:o}", "error", e) : NULL;
  char *text = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref(o);
  static const char oom[] = "{\"error\":{\"status\":500,\"message\":\"out of "
                            "memory\"}}";
  enum MHD_Result r =
      text ? send_json(c, status, text, strlen(text), allow)
           : send_json(c, 500, oom, sizeof oom - 1, NULL);
  free(text);
  return r;
}

/* Appends s as a JSON string body (without quotes) to out at *k. */
static void put_escaped(char *out, size_t cap, size_t *k, const char *s) {
  static const char hx[] = "0123456789abcdef";
  for (; *s && *k + 7 < cap; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') {
      out[(*k)++] = '\\';
      out[(*k)++] = (char)ch;
    } else if (ch < 0x20) {
      memcpy(out + *k, "\\u00", 4);
      out[*k + 4] = hx[ch >> 4];
      out[*k + 5] = hx[ch & 15];
      *k += 6;
    } else {
      out[(*k)++] = (char)ch;
    }
  }
}

static enum MHD_Result route_check(cu_http_server *s, struct MHD_Connection *c,
                                   const char *qs, size_t qn) {
  char buf[CU_HTTP_URL_MAX + CU_HTTP_PARAMS_MAX * 2 + 2];
  cu_http_param params[CU_HTTP_PARAMS_MAX];
  size_t np = 0;
  custos_diag d;
  custos_diag_clear(&d);
  custos_rc rc = cu_http_query_parse(qs, qn, buf, sizeof buf, params,
                                     CU_HTTP_PARAMS_MAX, &np, &d);
  cu_http_check_req req;
  if (rc == CUSTOS_OK)
    rc = cu_http_check_req_parse(params, np, &req, &d);
  if (rc != CUSTOS_OK)
    return send_error(c, 400, d.msg, &d, NULL);
  custos_pdp_decision dec;
  rc = custos_pdp_check_at(s->pdp, req.subscription, req.service, req.region,
                           req.op, req.min_revision, req.wait_ms, &dec);
  if (rc != CUSTOS_OK) {
    cu_diag_field(&d, "subscription", req.subscription,
                  strlen(req.subscription));
    return send_error(c, 400, "malformed argument", &d, NULL);
  }
  char out[512];
  size_t k = 0;
  int n = snprintf(out, sizeof out,
                   "{\"decision\":\"%s\",\"reason\":\"%s\",\"effect\":\"%s\","
                   "\"revision\":%llu,\"stale\":%s",
                   dec.allow ? "allow" : "deny",
                   custos_pdp_reason_name(dec.reason),
                   custos_pdp_effect_name(dec.effect),
                   (unsigned long long)dec.revision,
                   dec.stale ? "true" : "false");
  k = (size_t)n;
  if (!dec.allow && dec.owner[0]) {
    memcpy(out + k, ",\"owner\":\"", 10);
    k += 10;
    put_escaped(out, sizeof out, &k, dec.owner);
    memcpy(out + k, "\",\"case\":\"", 10);
    k += 10;
    put_escaped(out, sizeof out, &k, dec.case_id);
    out[k++] = '"';
  }
  out[k++] = '}';
  return send_json(c, 200, out, k, NULL);
}

static enum MHD_Result route_status(cu_http_server *s,
                                    struct MHD_Connection *c, size_t qn) {
  if (qn > 0) {
    custos_diag d;
    custos_diag_clear(&d);
    cu_diag_field(&d, "query", "", 0);
    return send_error(c, 400, "/v1/status takes no parameters", &d, NULL);
  }
  custos_pdp_status st;
  custos_pdp_status_get(s->pdp, &st);
  char out[512];
  size_t k = 10;
  memcpy(out, "{\"point\":\"", k);
  put_escaped(out, 200, &k, st.point_id);
  int n = snprintf(
      out + k, sizeof out - k,
      "\",\"revision\":%llu,\"published\":%llu,\"lag_ms\":%lld,"
      "\"state\":\"%s\",\"blocks\":%llu,\"full_loads\":%llu,"
      "\"resumed_from\":%llu}",
      (unsigned long long)st.revision, (unsigned long long)st.published,
      (long long)st.lag_ms, custos_pdp_state_name(st.state),
      (unsigned long long)st.blocks, (unsigned long long)st.full_loads,
      (unsigned long long)st.resumed_from);
  k += (size_t)n;
  return send_json(c, 200, out, k, NULL);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c,
                              const char *url, const char *method,
                              const char *version, const char *upload,
                              size_t *upload_size, void **req_cls) {
  (void)url;
  (void)version;
  (void)upload;
  cu_http_server *s = cls;
  request *r = *req_cls;
  if (!r)
    return send_error(c, 500, "out of memory", NULL, NULL);
  if (!r->called) {
    /* First call, headers only.  Refusals go out at once (MHD then closes
     * the connection rather than read a body nobody wants); a good request
     * is answered on the next call, after any small body was read, so the
     * connection stays open for the next request. */
    r->called = 1;
    if (r->too_long)
      return send_error(c, 414,
                        "request target too long (at most 2048 bytes)", NULL,
                        NULL);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
      return send_error(c, 405, "method not allowed", NULL, "GET, HEAD");
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > CU_HTTP_BODY_MAX)
      return send_error(c, 413,
                        "request body too large (at most 1024 bytes)", NULL,
                        NULL);
    return MHD_YES;
  }
  if (*upload_size) {
    /* A small body (at most CU_HTTP_BODY_MAX by the check above, or
     * chunked): counted and dropped; no route takes one. */
    r->body += *upload_size;
    *upload_size = 0;
    if (r->body > CU_HTTP_BODY_MAX)
      return send_error(c, 413,
                        "request body too large (at most 1024 bytes)", NULL,
                        NULL);
    return MHD_YES;
  }
  const char *q = memchr(r->uri, '?', r->len);
  size_t plen = q ? (size_t)(q - r->uri) : r->len;
  const char *qs = q ? q + 1 : "";
  size_t qn = q ? r->len - plen - 1 : 0;
  if (plen == 9 && memcmp(r->uri, "/v1/check", 9) == 0)
    return route_check(s, c, qs, qn);
  if (plen == 10 && memcmp(r->uri, "/v1/status", 10) == 0)
    return route_status(s, c, qn);
  custos_diag d;
  custos_diag_clear(&d);
  cu_diag_field(&d, "path", r->uri, plen);
  return send_error(c, 404, "no such route (see docs/http-api.md)", &d, NULL);
}

/* "host:port", "[v6]:port" or ":port" into a socket address. */
static custos_rc parse_listen(const char *s, struct sockaddr_storage *ss,
                              socklen_t *len, custos_diag *d) {
  char host[128] = "";
  const char *colon = strrchr(s, ':');
  char *end = NULL;
  unsigned long port = colon ? strtoul(colon + 1, &end, 10) : 0;
  if (!colon || !end || *end || colon[1] == '\0' || port > 65535 ||
      (size_t)(colon - s) >= sizeof host)
    goto bad;
  memcpy(host, s, (size_t)(colon - s));
  host[colon - s] = '\0';
  memset(ss, 0, sizeof *ss);
  if (host[0] == '[') {
    size_t hn = strlen(host);
    if (hn < 3 || host[hn - 1] != ']')
      goto bad;
    host[hn - 1] = '\0';
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1)
      goto bad;
    *len = sizeof *a6;
    return CUSTOS_OK;
  }
  struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
  a4->sin_family = AF_INET;
  a4->sin_port = htons((uint16_t)port);
  if (host[0] == '\0')
    a4->sin_addr.s_addr = htonl(INADDR_ANY);
  else if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
    goto bad;
  *len = sizeof *a4;
  return CUSTOS_OK;
bad:
  cu_diag_field(d, "listen", s, strlen(s));
  cu_diag_hint(d, "write HOST:PORT, [IPV6]:PORT or :PORT with a numeric "
                  "address");
  return cu_diag_set(d, CUSTOS_EINVAL, "malformed listen address");
}

custos_rc cu_http_start(const cu_http_config *c, cu_http_server **out,
                        custos_diag *d) {
  *out = NULL;
  struct sockaddr_storage ss;
  socklen_t sl = 0;
  custos_rc rc = parse_listen(c->listen ? c->listen : "127.0.0.1:8080", &ss,
                              &sl, d);
  if (rc != CUSTOS_OK)
    return rc;
  cu_http_server *s = cu_calloc(1, sizeof *s);
  if (!s)
    return cu_diag_set(d, CUSTOS_ENOMEM, "out of memory starting the server");
  s->pdp = c->pdp;
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  unsigned threads = c->threads ? c->threads : (unsigned)(ncpu > 0 ? ncpu : 1);
  /* 8 KiB per connection holds the longest request accepted (a 2,048-byte
   * target and the headers); MHD clears the pool for every request, and at
   * 32 KiB that memset was 8% of the server's time (+6% checks/s). */
  unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TURBO |
                   (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
  s->mhd = MHD_start_daemon(
      flags, 0, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR,
      (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE, threads,
      MHD_OPTION_URI_LOG_CALLBACK, uri_cb, s, MHD_OPTION_NOTIFY_COMPLETED,
      completed_cb, s, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)8192,
      MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_LISTEN_BACKLOG_SIZE,
      1024u, MHD_OPTION_END);
  if (!s->mhd) {
    cu_free(s);
    cu_diag_field(d, "listen", c->listen ? c->listen : "", 
                  c->listen ? strlen(c->listen) : 0);
    cu_diag_hint(d, "is the port in use?");
    return cu_diag_set(d, CUSTOS_EIO, "cannot start the HTTP server");
  }
  const union MHD_DaemonInfo *info =
      MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
  s->port = info ? info->port : 0;
  *out = s;
  return CUSTOS_OK;
}

unsigned cu_http_port(const cu_http_server *s) { return s->port; }

void cu_http_stop(cu_http_server *s) {
  if (!s)
    return;
  MHD_stop_daemon(s->mhd);
  cu_free(s);
}
