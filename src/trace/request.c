/*
 * request.c - request logging for C HTTP servers: a span continued from the request's
 * headers, a request id in the context, one `request` event and two metrics per request.
 *
 * Everything taken from the request (method, path, request id header) is bounded and checked
 * before use: the method is one of nine names or "OTHER", the path is cut at
 * SKY_REQUEST_PATH_MAX, an incoming request id that is not 1-64 safe characters is replaced.
 * The metrics' Endpoint dimension is capped at max_endpoints distinct values (a mutex and a
 * small array, per request, only while the set is not full), because instruments live as long
 * as their registry: an attacker's random paths must not grow it without bound.
 *
 * Uses the public API only (skylog.h, skylog/metrics.h, skylog/trace.h).
 */
#include <skylog/request.h>

#include "core/errmsg.h"
#include "core/reserved.h"
#include "trace/origin.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct sky_request_log {
    sky_request_opts o;
    char *ns, *id_header;
    pthread_mutex_t mu;
    char **endpoints; /* distinct values seen, at most o.max_endpoints */
    size_t n_endpoints;
};

static sky_status request_log_new_body(const sky_request_opts *opts, sky_request_log **out,
                                       char **errmsg)
{
    if (errmsg)
        *errmsg = NULL;
    if (!out)
        return SKY_EINVAL;
    *out = NULL;
    const char *why = NULL;
    if (!opts || !opts->log)
        why = "request log: a logger is required";
    else if (opts->ns && (!opts->ns[0] || strlen(opts->ns) > SKY_METRIC_MAX_NAME ||
                          !strncmp(opts->ns, "AWS/", 4) || opts->ns[0] == ':'))
        why = "request log: ns must be 1-255 characters, not AWS/... nor starting with ':'";
    else if (opts->request_id_header &&
             (!opts->request_id_header[0] || strpbrk(opts->request_id_header, ": \r\n")))
        why = "request log: request_id_header must be a header name";
    if (why) {
        if (errmsg)
            *errmsg = strdup(why);
        return SKY_EINVAL;
    }
    if (SKY__CHECK_RESERVED(opts, sky_request_opts, NULL, errmsg) != SKY_OK)
        return SKY_EINVAL;
    sky_request_log *rl = calloc(1, sizeof *rl);
    if (!rl)
        return SKY_ENOMEM;
    rl->o = *opts;
    if (!rl->o.max_endpoints)
        rl->o.max_endpoints = 100;
    if (!rl->o.no_metrics && !rl->o.metrics)
        rl->o.metrics = sky_metrics_default();
    rl->ns = strdup(opts->ns ? opts->ns : "HTTP");
    rl->id_header = strdup(opts->request_id_header ? opts->request_id_header : "X-Request-Id");
    rl->endpoints = calloc(rl->o.max_endpoints, sizeof *rl->endpoints);
    pthread_mutex_init(&rl->mu, NULL);
    if (!rl->ns || !rl->id_header || !rl->endpoints || (!rl->o.no_metrics && !rl->o.metrics)) {
        sky_request_log_free(rl);
        return SKY_ENOMEM;
    }
    *out = rl;
    return SKY_OK;
}

sky_status sky_request_log_new(const sky_request_opts *opts, sky_request_log **out,
                               char **errmsg)
{
    char *mine = NULL;
    sky_status st = request_log_new_body(opts, out, errmsg ? errmsg : &mine);
    return sky__errmsg_route(NULL, st, mine);
}

void sky_request_log_free(sky_request_log *rl)
{
    if (!rl)
        return;
    for (size_t i = 0; i < rl->n_endpoints; i++)
        free(rl->endpoints[i]);
    free(rl->endpoints);
    free(rl->ns);
    free(rl->id_header);
    pthread_mutex_destroy(&rl->mu);
    free(rl);
}

static const char *const methods[] = {"GET",     "POST",    "PUT",   "DELETE", "PATCH",
                                      "HEAD",    "OPTIONS", "TRACE", "CONNECT"};

static void set_method(sky_request *r, const char *m)
{
    for (size_t i = 0; m && i < sizeof methods / sizeof *methods; i++)
        if (!strcasecmp(m, methods[i])) {
            snprintf(r->method, sizeof r->method, "%s", methods[i]);
            return;
        }
    snprintf(r->method, sizeof r->method, "OTHER");
}

static bool id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == ':' || c == '-';
}

static void set_request_id(sky_request *r, const char *in)
{
    size_t n = in ? strnlen(in, SKY_REQUEST_ID_MAX + 1) : 0;
    bool ok = n >= 1 && n <= SKY_REQUEST_ID_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = id_char(in[i]);
    if (ok) {
        memcpy(r->request_id, in, n);
        r->request_id[n] = '\0';
        return;
    }
    uint8_t b[16];
    sky_span_id_new(b);
    sky_span_id_new(b + 8);
    sky_trace_hex(b, 16, r->request_id);
}

static void push_id(sky_request *r)
{
    sky_context_push(r->ctx, 1);
    r->ctx_depth = sky__ctx_depth;
}

void sky_request_begin(sky_request_log *rl, sky_request *r, const char *method, const char *path,
                       sky_header_get_fn get, void *user)
{
    r->rl = rl;
    r->bytes_in = 0;
    r->left = r->ended = r->aborted = false;
    r->endpoint[0] = '\0';
    set_method(r, method);
    size_t pn = path ? strnlen(path, SKY_REQUEST_PATH_MAX) : 0;
    memcpy(r->path, path ? path : "", pn);
    r->path[pn] = '\0';
    set_request_id(r, get && rl ? get(user, rl->id_header) : NULL);
    r->ctx[0] = sky_field_str("request_id", r->request_id);
    sky_span_begin_headers(&r->span, NULL, "request", get, user);
    push_id(r);
}

void sky_request_set_endpoint(sky_request *r, const char *route)
{
    if (r && route)
        snprintf(r->endpoint, sizeof r->endpoint, "%s", route);
}

void sky_request_add_bytes_in(sky_request *r, uint64_t n)
{
    if (r)
        r->bytes_in += n;
}

void sky_request_abort(sky_request *r)
{
    if (r)
        r->aborted = true;
}

sky_status sky_request_leave(sky_request *r)
{
    if (!r || r->ended || r->left || sky__ctx_depth != r->ctx_depth)
        return SKY_EINVAL;
    sky_context_pop();
    if (sky_span_leave(&r->span) != SKY_OK) {
        push_id(r); /* not ours to leave: put it back as it was */
        return SKY_EINVAL;
    }
    r->left = true;
    return SKY_OK;
}

sky_status sky_request_enter(sky_request *r)
{
    if (!r || r->ended || !r->left || sky_span_enter(&r->span) != SKY_OK)
        return SKY_EINVAL;
    push_id(r);
    r->left = false;
    return SKY_OK;
}

/* The Endpoint dimension: the value itself while the set has room, else "other". */
static const char *endpoint_dim(sky_request_log *rl, const char *e)
{
    const char *out = "other";
    pthread_mutex_lock(&rl->mu);
    for (size_t i = 0; i < rl->n_endpoints; i++)
        if (!strcmp(rl->endpoints[i], e)) {
            out = rl->endpoints[i];
            goto done;
        }
    if (rl->n_endpoints < rl->o.max_endpoints && (rl->endpoints[rl->n_endpoints] = strdup(e)))
        out = rl->endpoints[rl->n_endpoints++];
done:
    pthread_mutex_unlock(&rl->mu);
    return out; /* endpoint strings live as long as rl */
}

static void record_metrics(sky_request *r, int status, int64_t ns)
{
    sky_request_log *rl = r->rl;
    const char *e = r->endpoint[0] ? r->endpoint : r->path[0] ? r->path : "/";
    char ebuf[SKY_REQUEST_ENDPOINT_MAX + 1]; /* a path is cut to the dimension's length */
    size_t en = strnlen(e, SKY_REQUEST_ENDPOINT_MAX);
    memcpy(ebuf, e, en);
    ebuf[en] = '\0';
    char st[12];
    snprintf(st, sizeof st, "%d", status);
    sky_dim dims[] = {{"Endpoint", endpoint_dim(rl, ebuf)}, {"Method", r->method}, {"Status", st}};
    sky_metric_opts mo = {.ns = rl->ns, .name = "RequestCount", .kind = SKY_METRIC_COUNTER,
                          .unit = SKY_UNIT_COUNT, .dims = dims, .n_dims = 3};
    sky_metric *count = NULL, *time = NULL;
    if (sky_metric_new(rl->o.metrics, &mo, &count, NULL) == SKY_OK)
        sky_counter_add(count, 1);
    mo.name = "ResponseTime";
    mo.kind = SKY_METRIC_HISTOGRAM;
    mo.unit = SKY_UNIT_MILLISECONDS;
    if (sky_metric_new(rl->o.metrics, &mo, &time, NULL) == SKY_OK)
        sky_timer_record_ns(time, ns);
}

void sky_request_end(sky_request *r, int status, uint64_t bytes)
{
    if (!r || r->ended)
        return;
    if (r->left)
        sky_request_enter(r);
    /* current here (or misused from another thread: then its context is not touched) */
    bool here = sky__ctx_depth == r->ctx_depth;
    int64_t ns = sky_monotonic_ns() - r->span.start_ns;
    sky_level lv = status >= 100 && status < 400 ? SKY_LEVEL_INFO
                   : status >= 400 && status < 500 ? SKY_LEVEL_WARN
                                                   : SKY_LEVEL_ERROR;
    sky_logger *log = r->rl ? r->rl->o.log : NULL; /* no request log: only the context */
    if (log && sky_enabled(log, lv)) {
        sky_field f[11];
        size_t n = 0;
        char flags[3];
        f[n++] = sky_field_str("method", r->method);
        f[n++] = sky_field_str("path", r->path);
        if (r->endpoint[0])
            f[n++] = sky_field_str("endpoint", r->endpoint);
        f[n++] = sky_field_int("status", status);
        f[n++] = sky_field_uint("bytes", bytes);
        if (r->bytes_in)
            f[n++] = sky_field_uint("bytes_in", r->bytes_in);
        f[n++] = sky_field_dur("duration_ms", ns);
        if (r->aborted)
            f[n++] = sky_field_bool("aborted", true);
        n += sky__span_w3c_fields(&r->span.ctx, f + n, flags); /* the span's, as span_finished */
        sky_emit(log, lv, "request", &sky__request_site, f, n); /* a span: origin.h */
    }
    if (r->rl && !r->rl->o.no_metrics)
        record_metrics(r, status, ns);
    if (status >= 500)
        sky_span_set_status(&r->span, SKY_SPAN_ERROR);
    r->ended = true;
    if (here)
        sky_context_pop(); /* request_id */
    sky_span_end(&r->span);
}

void sky_request_response_headers(const sky_request *r, sky_header_set_fn set, void *user)
{
    if (r && r->rl && set)
        set(user, r->rl->id_header, r->request_id);
}
