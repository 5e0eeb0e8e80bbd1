/*
 * skylog/request.h - request logging for C HTTP servers (the C form of seed 003's Flask and
 * FastAPI middleware): one `request` event per request, RequestCount and ResponseTime metrics
 * by endpoint, method and status, and the trace continued from the incoming headers.
 * skylog/microhttpd.h wraps it for libmicrohttpd; any other server calls it directly:
 *
 *     static sky_request_log *rl;         (once: sky_request_log_new(&opts, &rl, &err))
 *
 *     sky_request r;                      (per request, on the handling thread)
 *     sky_request_begin(rl, &r, method, path, get_header, conn);
 *     sky_request_set_endpoint(&r, "/users/{id}");         (optional: the route template)
 *     ... handle; every event logged here carries request_id, trace_id, span_id ...
 *     sky_request_end(&r, 200, bytes_sent);
 *
 * begin: the request id is the incoming X-Request-Id when it is 1-64 characters of
 * [A-Za-z0-9._:-] (anything else is ignored), else a new one (32 hex digits); the trace is
 * continued from traceparent / X-Amzn-Trace-Id / X-Trace-Id (skylog/trace.h) or a new one
 * starts; a span begins and request_id is pushed onto the thread's context.
 *
 * end: logs `request` (method, path, endpoint, status, bytes, duration_ms, and trace_flags and
 * tracestate when not the usual, as span_finished has them: skylog/trace.h; request_id and the
 * trace ids from the context) at INFO for 1xx-3xx, WARN for 4xx, ERROR for 5xx (and for a
 * status outside 100-599), records the metrics, and restores the thread's context. The OTLP
 * sink exports that event as the request's SERVER span (skylog/http_sink.h); an application's
 * own event named `request` is not a span, whatever its fields.
 *
 * Metrics (namespace opts.ns, default "HTTP"): RequestCount (Count) and ResponseTime
 * (Milliseconds) with dimensions Endpoint, Method, Status. Endpoint is the route template
 * set with sky_request_set_endpoint(), else the path; at most opts.max_endpoints distinct
 * endpoints get their own metrics, later ones are counted under "other", so a server probed
 * with random paths cannot create unbounded metrics. Methods outside the standard nine are
 * "OTHER".
 *
 * A request handled over several callbacks (event loops, libmicrohttpd) leaves the thread
 * between them with sky_request_leave() and comes back with sky_request_enter(), on any
 * thread; sky_request_end() may run on any thread once the request has left.
 */
#ifndef SKYLOG_REQUEST_H
#define SKYLOG_REQUEST_H

#include <skylog.h>
#include <skylog/metrics.h>
#include <skylog/trace.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SKY_REQUEST_ID_MAX 64
#define SKY_REQUEST_PATH_MAX 1024   /* longer paths are cut (in the event and the metrics) */
#define SKY_REQUEST_ENDPOINT_MAX 255

typedef struct sky_request_opts {
    sky_logger *log;              /* required: where `request` events go */
    sky_metrics *metrics;         /* NULL: sky_metrics_default() */
    bool no_metrics;              /* no RequestCount/ResponseTime at all */
    const char *ns;               /* metrics namespace; default "HTTP" */
    const char *request_id_header; /* default "X-Request-Id" */
    size_t max_endpoints;         /* distinct Endpoint dimension values; default 100 */
    uint64_t reserved_[8]; /* zero; room to grow in the same ABI (docs/COMPATIBILITY.md) */
} sky_request_opts;

/* A server's request logging: thread-safe, shared by every request of the server. */
typedef struct sky_request_log sky_request_log;

/* SKY_EINVAL (no logger, a bad namespace: *errmsg says), SKY_ENOMEM. *errmsg malloc'd. */
SKY_API sky_status sky_request_log_new(const sky_request_opts *opts, sky_request_log **out,
                                       char **errmsg);
/* Frees it; no request may be in progress. NULL-safe. */
SKY_API void sky_request_log_free(sky_request_log *rl);

/* One request, in the caller's storage (stack or per-connection). Members private except
 * where said. The program allocates it, so within ABI 1 its size (2352 bytes, aligned to 8 on
 * LP64 Linux) and its public members' offsets (span at 0, request_id at 920) do not change:
 * no reserved_ slots, see sky_span (tests/unit/test_abi.c asserts them at compile time). */
typedef struct sky_request {
    sky_span span;                       /* public, read only: span.ctx has the trace ids */
    char request_id[SKY_REQUEST_ID_MAX + 1]; /* public, read only: echo it in the response */
    sky_request_log *rl;
    char method[8];
    char path[SKY_REQUEST_PATH_MAX + 1];
    char endpoint[SKY_REQUEST_ENDPOINT_MAX + 1];
    uint64_t bytes_in;
    sky_field ctx[1];                    /* request_id, as a context frame */
    size_t ctx_depth;                    /* the thread's context depth with it pushed */
    bool left, ended, aborted;
} sky_request;

/* Begins a request on the calling thread (see above). `get` (may be NULL: no headers) reads
 * a request header case-insensitively. `method` and `path` are copied (NULL as "" ). */
SKY_API void sky_request_begin(sky_request_log *rl, sky_request *r, const char *method,
                               const char *path, sky_header_get_fn get, void *user);
/* The route template for the Endpoint dimension and the `endpoint` field (copied). */
SKY_API void sky_request_set_endpoint(sky_request *r, const char *route);
/* Adds to the request body bytes reported as `bytes_in`. */
SKY_API void sky_request_add_bytes_in(sky_request *r, uint64_t n);
/* Marks the request aborted (the client went away): the event gets "aborted": true. */
SKY_API void sky_request_abort(sky_request *r);
/* Ends the request once (later calls do nothing); see above. `bytes` is the response body's
 * size. */
SKY_API void sky_request_end(sky_request *r, int status, uint64_t bytes);
/* Takes the request off the calling thread (its context and span), to be entered again on
 * any thread. SKY_EINVAL if it is not current here. */
SKY_API sky_status sky_request_leave(sky_request *r);
/* Makes a request that left current on the calling thread. */
SKY_API sky_status sky_request_enter(sky_request *r);

/* Calls `set` with the response headers a server should send back: X-Request-Id (the
 * configured header name) with the request id. */
SKY_API void sky_request_response_headers(const sky_request *r, sky_header_set_fn set,
                                          void *user);

#ifdef __cplusplus
}
#endif

#endif /* SKYLOG_REQUEST_H */
