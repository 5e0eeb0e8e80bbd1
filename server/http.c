/*
 * http.c - libmicrohttpd glue and routing for `skylog serve` (see http.h).
 *
 * Flow of one request: the URI-log callback keeps the raw URI (SigV4 signs the path and query as
 * sent, which libmicrohttpd would otherwise only give us decoded); the body is accumulated up to
 * MAX_BODY; then, in this order: fault decision (one per POST, so decisions are reproducible),
 * latency, reset, authentication, throttle/error, handler, reset_after, reply.
 *
 * Thread per connection: handlers may block (latency injection, the store lock) without holding
 * up other clients, and 4 concurrent writers are simply 4 threads queueing on the store lock.
 * This file must never interpret API payloads; that is the handlers' job.
 *
 * Hostile clients: bodies are capped as received (MAX_BODY) and again after gzip (inflation
 * stops at the same cap, so a small compressed body cannot make a large one); at most
 * MAX_HEADERS headers are read, more is an error, never silently ignored; conflicting
 * Content-Length headers are refused. libmicrohttpd's timeout is an idle timeout that every
 * byte renews, so a client trickling a byte at a time would hold its slot (and thread)
 * forever: a watchdog thread gives each connection deadlines (IDLE_DEADLINE_S to start a
 * request, REQUEST_DEADLINE_S from the request line to the last byte of the body) and shuts
 * the socket of a client that misses them, which libmicrohttpd then closes and frees.
 */
#include "http.h"

#include "alarms.h"
#include "auth.h"
#include "faults.h"
#include "ingest.h"
#include "insights_api.h"
#include "logs_api.h"
#include "metric_filters.h"
#include "metrics_api.h"
#include "reply.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <zlib.h>

/* Bodies, as received and after gzip. A full PutLogEvents batch (1,048,576 counted bytes)
 * needs at most ~7 MiB of JSON even if every byte is escaped as \u00XX; PutMetricData is 1 MB
 * as sent (checked by its handler); nothing the APIs accept needs more. */
#define MAX_BODY (8u << 20)
#define MAX_HEADERS 128
#define IDLE_DEADLINE_S 60    /* a connection may wait this long to start a request */
#define REQUEST_DEADLINE_S 30 /* from the request line to the body's last byte */
#define MAX_CONNECTIONS 256

/* One TCP connection, as the watchdog sees it. */
typedef struct conn_watch {
    struct conn_watch *prev, *next;
    int fd;
    int64_t deadline_ns; /* 0 while a handler runs or its reply is being sent */
    bool dropped;
} conn_watch;

struct sky__http {
    struct MHD_Daemon *daemon;
    sky__server *srv;
    char *tls_cert, *tls_key; /* PEM text; must outlive the daemon */
    pthread_mutex_t watch_lock;
    pthread_cond_t watch_cond;
    conn_watch *conns;
    pthread_t watchdog;
    bool watchdog_running, stopping;
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static conn_watch *watch_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void set_deadline(sky__http *h, struct MHD_Connection *c, int64_t secs)
{
    conn_watch *w = watch_of(c);
    if (!w)
        return;
    pthread_mutex_lock(&h->watch_lock);
    w->deadline_ns = secs ? mono_ns() + secs * 1000000000 : 0;
    pthread_mutex_unlock(&h->watch_lock);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    sky__http *h = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        conn_watch *w = calloc(1, sizeof *w);
        if (!w)
            return; /* unwatched: still bounded by libmicrohttpd's idle timeout */
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        w->fd = ci ? (int)ci->connect_fd : -1;
        w->deadline_ns = mono_ns() + (int64_t)IDLE_DEADLINE_S * 1000000000;
        pthread_mutex_lock(&h->watch_lock);
        w->next = h->conns;
        if (h->conns)
            h->conns->prev = w;
        h->conns = w;
        pthread_mutex_unlock(&h->watch_lock);
        *socket_context = w;
    } else if (*socket_context) {
        /* Called before libmicrohttpd closes the socket: once unlinked here, the watchdog can
         * never shut a descriptor number that has been reused. */
        conn_watch *w = *socket_context;
        pthread_mutex_lock(&h->watch_lock);
        if (w->prev)
            w->prev->next = w->next;
        else
            h->conns = w->next;
        if (w->next)
            w->next->prev = w->prev;
        pthread_mutex_unlock(&h->watch_lock);
        free(w);
        *socket_context = NULL;
    }
}

static void *watchdog_main(void *arg)
{
    sky__http *h = arg;
    pthread_mutex_lock(&h->watch_lock);
    while (!h->stopping) {
        int64_t now = mono_ns();
        for (conn_watch *w = h->conns; w; w = w->next) {
            if (w->deadline_ns && now > w->deadline_ns && !w->dropped && w->fd >= 0) {
                w->dropped = true;
                shutdown(w->fd, SHUT_RDWR); /* its thread sees EOF and closes the connection */
                if (h->srv->opts->log_requests)
                    fprintf(stderr, "skylog serve: dropped a connection that missed its "
                                    "deadline (slow or stalled client)\n");
            }
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 250000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&h->watch_cond, &h->watch_lock, &ts);
    }
    pthread_mutex_unlock(&h->watch_lock);
    return NULL;
}

typedef struct conn_state {
    char *raw_uri;
    char *body;
    size_t len, cap;
    bool too_large;
    bool started;
} conn_state;

/* ---- per-connection state ---------------------------------------------------------------- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    /* The request line is in: the rest of the request has REQUEST_DEADLINE_S to arrive. */
    if (cls)
        set_deadline(cls, c, REQUEST_DEADLINE_S);
    conn_state *st = calloc(1, sizeof *st);
    if (st)
        st->raw_uri = strdup(uri ? uri : "/");
    return st;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    set_deadline(cls, c, IDLE_DEADLINE_S); /* the next request may start */
    conn_state *st = *con_cls;
    if (st) {
        free(st->raw_uri);
        free(st->body);
        free(st);
    }
    *con_cls = NULL;
}

static bool append_body(conn_state *st, const char *data, size_t n)
{
    if (st->too_large || st->len + n > MAX_BODY) {
        st->too_large = true;
        return true;
    }
    if (st->len + n + 1 > st->cap) {
        size_t cap = st->cap ? st->cap : 4096;
        while (cap < st->len + n + 1)
            cap *= 2;
        char *nb = realloc(st->body, cap);
        if (!nb)
            return false;
        st->body = nb;
        st->cap = cap;
    }
    memcpy(st->body + st->len, data, n);
    st->len += n;
    st->body[st->len] = '\0';
    return true;
}

/* ---- request helpers --------------------------------------------------------------------- */

static const char *lookup_header(const sky__request *req, const char *name)
{
    return MHD_lookup_connection_value((struct MHD_Connection *)req->conn, MHD_HEADER_KIND, name);
}

/* The headers that choose the operation, its destination, or how the body or the caller is
 * read. lookup_header() gives the first of several, another reader may take the last: two
 * different values make the request ambiguous (the request-smuggling class), so it is refused;
 * the same value twice is harmless. Content-Length is apart (its conflict closes the
 * connection: where the body ends is in doubt). */
static const char *const decisive[] = {"Content-Encoding", "Content-Type", "X-Amz-Target",
                                       "x-aws-log-group", "x-aws-log-stream", "Authorization",
                                       "X-Amz-Date", "X-Amz-Content-SHA256",
                                       "X-Amz-Security-Token", "Host"};
#define N_DECISIVE (sizeof decisive / sizeof decisive[0])

typedef struct header_vec {
    sky_aws_header h[MAX_HEADERS];
    size_t n, total;          /* kept, and received */
    const char *content_length; /* the first Content-Length */
    bool conflicting_length;  /* another Content-Length with a different value */
    const char *first[N_DECISIVE]; /* the first value of each decisive header */
    const char *conflicting;       /* a decisive header given twice with different values */
} header_vec;

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    header_vec *v = cls;
    v->total++;
    for (size_t i = 0; key && i < N_DECISIVE; i++) {
        if (strcasecmp(key, decisive[i]) != 0)
            continue;
        if (!v->first[i])
            v->first[i] = value ? value : "";
        else if (strcmp(v->first[i], value ? value : "") != 0 && !v->conflicting)
            v->conflicting = decisive[i];
        break;
    }
    if (key && strcasecmp(key, "Content-Length") == 0) {
        if (!v->content_length)
            v->content_length = value ? value : "";
        else if (strcmp(v->content_length, value ? value : "") != 0)
            v->conflicting_length = true;
    }
    if (v->n < MAX_HEADERS) {
        v->h[v->n].name = key;
        v->h[v->n].value = value ? value : "";
        v->n++;
    }
    return MHD_YES;
}

typedef enum inflate_rc { INFLATE_OK, INFLATE_BAD, INFLATE_TOO_LARGE, INFLATE_NOMEM } inflate_rc;

/* Inflates a gzip (or zlib) body into a malloc'd NUL-terminated buffer, stopping as soon as
 * the output would pass `limit` bytes: memory follows the limit, never the compression
 * ratio. */
static inflate_rc gunzip(const char *in, size_t n, size_t limit, char **out_buf, size_t *out_len)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    *out_buf = NULL;
    if (inflateInit2(&zs, 15 + 32) != Z_OK) /* +32: auto-detect gzip or zlib header */
        return INFLATE_NOMEM;
    size_t cap = n < limit / 4 ? n * 4 + 1024 : limit + 1, len = 0;
    char *out = malloc(cap + 1);
    int rc = Z_OK;
    inflate_rc result = INFLATE_OK;
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)n;
    while (out && rc == Z_OK) {
        if (len == cap) {
            if (cap > limit) {
                result = INFLATE_TOO_LARGE;
                break;
            }
            size_t ncap = cap * 2 > limit + 1 ? limit + 1 : cap * 2;
            char *nb = realloc(out, ncap + 1);
            if (!nb)
                break;
            out = nb;
            cap = ncap;
        }
        zs.next_out = (Bytef *)out + len;
        zs.avail_out = (uInt)(cap - len);
        rc = inflate(&zs, Z_NO_FLUSH);
        len = cap - zs.avail_out;
    }
    inflateEnd(&zs);
    if (result == INFLATE_OK && rc == Z_STREAM_END && len > limit)
        result = INFLATE_TOO_LARGE;
    else if (result == INFLATE_OK && rc != Z_STREAM_END)
        result = out && (rc == Z_OK || rc == Z_BUF_ERROR) && len == cap ? INFLATE_NOMEM
                                                                         : INFLATE_BAD;
    if (!out)
        result = INFLATE_NOMEM;
    if (result != INFLATE_OK) {
        free(out);
        return result;
    }
    out[len] = '\0';
    *out_buf = out;
    *out_len = len;
    return INFLATE_OK;
}

static bool is_query_api(sky__api api)
{
    return api == SKY__API_METRICS_JSON || api == SKY__API_METRICS_QUERY;
}

/* ---- routing ----------------------------------------------------------------------------- */

#define LOGS_PREFIX "Logs_20140328."
#define METRICS_PREFIX "GraniteServiceVersion20100801."

static sky__api classify(const sky__request *req, const char **op)
{
    *op = NULL;
    if (strcmp(req->method, "POST") != 0)
        return SKY__API_OTHER;
    if (strcmp(req->path, "/ingest/bulk") == 0 || strcmp(req->path, "/v1/logs") == 0 ||
        strcmp(req->path, "/v1/traces") == 0)
        return SKY__API_INGEST;
    if (strcmp(req->path, "/") != 0)
        return SKY__API_OTHER;
    const char *target = req->header(req, "X-Amz-Target");
    if (target && strncmp(target, LOGS_PREFIX, strlen(LOGS_PREFIX)) == 0) {
        *op = target + strlen(LOGS_PREFIX);
        return SKY__API_LOGS;
    }
    if (target && strncmp(target, METRICS_PREFIX, strlen(METRICS_PREFIX)) == 0) {
        *op = target + strlen(METRICS_PREFIX);
        return SKY__API_METRICS_JSON;
    }
    const char *ct = req->header(req, "Content-Type");
    if (!target && ct && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0)
        return SKY__API_METRICS_QUERY;
    if (target) {
        /* Some other service's target: answer as an awsJson service would. */
        *op = target;
        return SKY__API_LOGS;
    }
    return SKY__API_OTHER;
}

static void handle_other(const sky__request *req, sky__reply *r)
{
    /* test hooks: only with SKYLOG_SERVE_TEST_HOOKS=1 */
    if (sky__alarms_test_hook(req, r) || sky__insights_test_hook(req, r) ||
        sky__mf_test_hook(req, r))
        return;
    if ((strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0) &&
        (strcmp(req->path, "/") == 0 || strcmp(req->path, "/health") == 0)) {
        sky__reply_raw(r, 200, "text/plain", "skylog serve: ok\n", 17);
        return;
    }
    if (strncmp(req->path, "/service/", 9) == 0 && strcmp(req->method, "POST") == 0) {
        /* Smithy RPC v2 CBOR (what some newer SDKs pick for CloudWatch): say so plainly rather
         * than 404, so the user knows to select the JSON or query protocol. */
        sky__reply_error(r, SKY__API_INGEST, 415, "UnsupportedProtocolException",
                         "skylog serve does not speak smithy-rpc-v2-cbor (%s); use the awsJson1.0 "
                         "or awsQuery protocol",
                         req->path);
        return;
    }
    if (strcmp(req->path, "/") == 0 && strcmp(req->method, "POST") == 0) {
        sky__reply_error(r, SKY__API_LOGS, 400, "UnknownOperationException",
                         "Missing X-Amz-Target header");
        return;
    }
    sky__reply_error(r, SKY__API_INGEST, 404, "NotFoundException", "No route for %s %s",
                     req->method, req->path);
}

static void dispatch(const sky__request *req, sky__api api, const char *op, sky__reply *r)
{
    switch (api) {
    case SKY__API_LOGS:
        if (strncmp(req->header(req, "X-Amz-Target"), LOGS_PREFIX, strlen(LOGS_PREFIX)) != 0)
            sky__reply_error(r, api, 400, "UnknownOperationException", "Unknown target %s", op);
        else
            sky__logs_handle(req, op, r);
        break;
    case SKY__API_METRICS_JSON:
    case SKY__API_METRICS_QUERY: sky__metrics_handle(req, api, op, r); break;
    case SKY__API_INGEST: sky__ingest_handle(req, r); break;
    case SKY__API_OTHER: handle_other(req, r); break;
    }
}

static void fault_reply(sky__reply *r, sky__api api, const sky__fault *f)
{
    bool query = api == SKY__API_METRICS_JSON || api == SKY__API_METRICS_QUERY;
    if (f->kind == SKY__FAULT_THROTTLE)
        sky__reply_error(r, api, 400, query ? "Throttling" : "ThrottlingException",
                         "Rate exceeded (skylog serve fault injection)");
    else if (f->status == 503)
        sky__reply_error(r, api, 503, query ? "ServiceUnavailable" : "ServiceUnavailableException",
                         "The service is unavailable (skylog serve fault injection)");
    else
        sky__reply_error(r, api, 500, query ? "InternalServiceError" : "InternalFailure",
                         "Internal failure (skylog serve fault injection)");
}

static enum MHD_Result send_reply(struct MHD_Connection *c, const sky__request *req,
                                  sky__reply *r)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(r->len, r->body ? r->body : (char *)"",
                                        MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    char rid[SKY__REQUEST_ID_CAP];
    sky__request_id_text(req->id, rid);
    MHD_add_response_header(resp, "Content-Type", r->content_type ? r->content_type : "text/plain");
    MHD_add_response_header(resp, "x-amzn-RequestId", rid);
    if (r->error_type)
        MHD_add_response_header(resp, "x-amzn-ErrorType", r->error_type);
    for (int i = 0; i < r->n_extra; i++)
        MHD_add_response_header(resp, r->extra[i].name, r->extra[i].value);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)(r->status ? r->status : 500), resp);
    MHD_destroy_response(resp);
    return ret;
}

/* One line per request for --verbose; a single fprintf so lines from threads never mix. A
 * gzip body shows its sizes as received and inflated ("gzip=1200->15000"). */
static void log_request(const sky__request *req, const char *op, int status, const char *err,
                        const sky__fault *f)
{
    char gz[64] = "";
    if (req->body != req->raw_body)
        snprintf(gz, sizeof gz, " gzip=%zu->%zu", req->raw_len, req->body_len);
    fprintf(stderr, "skylog serve: #%llu %s %s%s%s -> %d%s%s%s%s%s\n", req->id, req->method,
            req->path, op ? " " : "", op ? op : "", status, err ? " " : "", err ? err : "", gz,
            f->kind != SKY__FAULT_NONE ? " fault=" : "",
            f->kind != SKY__FAULT_NONE ? sky__fault_name(f->kind) : "");
}

static void sleep_us(int64_t us)
{
    struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls)
{
    (void)version;
    sky__http *h = cls;
    conn_state *st = *con_cls;
    if (!st) {
        st = on_uri(NULL, url, c);
        if (!st)
            return MHD_NO;
        *con_cls = st;
    }
    if (!st->started) {
        st->started = true;
        return MHD_YES;
    }
    if (*upload_size) {
        bool ok = append_body(st, upload_data, *upload_size);
        *upload_size = 0;
        return ok ? MHD_YES : MHD_NO;
    }

    /* The whole request is here: what happens next is the server's time, not the client's. */
    set_deadline(h, c, 0);
    char *raw = st->raw_uri ? st->raw_uri : (char *)"/";
    char *qmark = strchr(raw, '?');
    char raw_path[4096];
    size_t plen = qmark ? (size_t)(qmark - raw) : strlen(raw);
    if (plen >= sizeof raw_path)
        plen = sizeof raw_path - 1;
    memcpy(raw_path, raw, plen);
    raw_path[plen] = '\0';
    header_vec hv = {.n = 0};
    MHD_get_connection_values(c, MHD_HEADER_KIND, collect_header, &hv);
    sky__request req = {
        .method = method,
        .path = url,
        .raw_path = raw_path,
        .query = qmark ? qmark + 1 : "",
        .body = st->body ? st->body : "",
        .body_len = st->len,
        .raw_body = st->body ? st->body : "",
        .raw_len = st->len,
        .header = lookup_header,
        .conn = c,
        .headers = hv.h,
        .n_headers = hv.n,
        .server = h->srv,
        .id = atomic_fetch_add(&h->srv->next_request_id, 1) + 1,
    };
    sky__reply r = {.request_id = req.id};
    const char *op;
    sky__api api = classify(&req, &op);
    sky__fault fault = {.kind = SKY__FAULT_NONE};
    char *inflated = NULL;
    enum MHD_Result ret;

    if (api != SKY__API_OTHER && h->srv->faults)
        fault = sky__faults_next(h->srv->faults);
    if (fault.latency_us > 0)
        sleep_us(fault.latency_us);
    if (fault.kind == SKY__FAULT_RESET) {
        if (h->srv->opts->log_requests)
            log_request(&req, op, 0, NULL, &fault);
        return MHD_NO; /* libmicrohttpd closes the connection: the client sees a reset */
    }

    if (hv.total > MAX_HEADERS) {
        /* Ignoring the rest could hide the very headers a signature covers. */
        sky__reply_error(&r, api == SKY__API_OTHER ? SKY__API_INGEST : api, 431,
                         "RequestHeaderFieldsTooLarge",
                         "The request has %zu headers; skylog serve reads at most %d.", hv.total,
                         MAX_HEADERS);
        goto send;
    }
    if (hv.conflicting_length) {
        sky__reply_error(&r, api == SKY__API_OTHER ? SKY__API_INGEST : api, 400,
                         is_query_api(api) ? "MalformedInput" : "SerializationException",
                         "Conflicting Content-Length headers.");
        /* Where this body ends is ambiguous, so nothing after it on this connection can be
         * trusted to be a request: answer and close. */
        sky__reply_header(&r, "Connection", "close");
        goto send;
    }
    if (hv.conflicting) {
        sky__reply_error(&r, api == SKY__API_OTHER ? SKY__API_INGEST : api, 400,
                         is_query_api(api) ? "MalformedInput" : "SerializationException",
                         "Conflicting %s headers: the request is ambiguous.", hv.conflicting);
        goto send;
    }
    if (st->too_large) {
        sky__reply_error(&r, api, 413,
                         is_query_api(api) ? "RequestEntityTooLarge"
                                           : "RequestEntityTooLargeException",
                         "Request body larger than %u bytes", MAX_BODY);
        goto send;
    }
    if (api != SKY__API_OTHER && !sky__auth_check(&req, api, &r))
        goto send;
    if (fault.kind == SKY__FAULT_THROTTLE || fault.kind == SKY__FAULT_ERROR) {
        fault_reply(&r, api, &fault);
        goto send;
    }
    const char *enc = req.header(&req, "Content-Encoding");
    if (enc && *enc && strcasecmp(enc, "gzip") != 0 && strcasecmp(enc, "identity") != 0) {
        /* a body in an encoding we do not undo would be parsed as if plain: say so instead */
        sky__reply_error(&r, api, 400,
                         is_query_api(api) ? "InvalidParameterValue" : "SerializationException",
                         "Content-Encoding %.64s is not supported (gzip or identity)", enc);
        goto send;
    }
    if (enc && strcasecmp(enc, "gzip") == 0 && st->len > 0) {
        inflate_rc irc = gunzip(st->body, st->len, MAX_BODY, &inflated, &req.body_len);
        if (irc == INFLATE_TOO_LARGE) {
            sky__reply_error(&r, api, 413,
                             is_query_api(api) ? "RequestEntityTooLarge"
                                               : "RequestEntityTooLargeException",
                             "Request body larger than %u bytes once decompressed", MAX_BODY);
            goto send;
        }
        if (irc == INFLATE_NOMEM) {
            sky__reply_error(&r, api, 500,
                             is_query_api(api) ? "InternalServiceError" : "InternalFailure",
                             "out of memory");
            goto send;
        }
        if (irc != INFLATE_OK) {
            sky__reply_error(&r, api, 400,
                             is_query_api(api) ? "InvalidParameterValue" : "SerializationException",
                             "Content-Encoding: gzip, but the body is not valid gzip");
            goto send;
        }
        req.body = inflated;
    }
    dispatch(&req, api, op, &r);
    if (fault.kind == SKY__FAULT_RESET_AFTER) {
        if (h->srv->opts->log_requests)
            log_request(&req, op, r.status, r.error_type, &fault);
        free(inflated);
        sky__reply_clear(&r);
        return MHD_NO; /* processed and stored, but the client never hears about it */
    }
send:
    ret = send_reply(c, &req, &r);
    if (h->srv->opts->log_requests)
        log_request(&req, op, r.status, r.error_type, &fault);
    free(inflated);
    sky__reply_clear(&r);
    return ret;
}

/* ---- daemon ------------------------------------------------------------------------------ */

/* libmicrohttpd's own messages. "Application reported internal error" is what it says for every
 * injected reset, so they are shown only with --verbose; start-up failures get our message. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    const sky__http *h = cls;
    if (!h->srv->opts->log_requests)
        return;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    fprintf(stderr, "skylog serve: libmicrohttpd: %s%s", msg,
            msg[0] && msg[strlen(msg) - 1] == '\n' ? "" : "\n");
}

static char *read_file(const char *path, char *err, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, cap, "cannot read %s", path);
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0, bcap = 0, n;
    char chunk[4096];
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + n + 1 > bcap) {
            bcap = (len + n + 1) * 2;
            char *nb = realloc(buf, bcap);
            if (!nb) {
                free(buf);
                fclose(f);
                snprintf(err, cap, "out of memory");
                return NULL;
            }
            buf = nb;
        }
        memcpy(buf + len, chunk, n);
        len += n;
        buf[len] = '\0';
    }
    fclose(f);
    if (!buf)
        snprintf(err, cap, "%s is empty", path);
    return buf;
}

sky__http *sky__http_start(sky__server *srv, int *port, char *err, size_t cap)
{
    const sky__serve_opts *o = srv->opts;
    sky__http *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    h->srv = srv;
    pthread_mutex_init(&h->watch_lock, NULL);
    pthread_cond_init(&h->watch_cond, NULL);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_ERROR_LOG;
    if (o->tls_cert) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            snprintf(err, cap, "this libmicrohttpd was built without TLS support; "
                               "run without --tls-cert/--tls-key (or put a TLS proxy in front)");
            free(h);
            return NULL;
        }
        if (!(h->tls_cert = read_file(o->tls_cert, err, cap)) ||
            !(h->tls_key = read_file(o->tls_key, err, cap))) {
            free(h->tls_cert);
            free(h);
            return NULL;
        }
        flags |= MHD_USE_TLS;
    }

    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int gai = getaddrinfo(o->host, "0", &hints, &ai);
    if (gai != 0 || !ai) {
        snprintf(err, cap, "cannot resolve --host '%s': %s", o->host, gai_strerror(gai));
        free(h->tls_cert);
        free(h->tls_key);
        free(h);
        return NULL;
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
    if (ai->ai_family == AF_INET6) {
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)o->port);
        flags |= MHD_USE_IPv6;
    } else {
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)o->port);
    }
    freeaddrinfo(ai);

    struct MHD_OptionItem tls_opts[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, h->tls_cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls_key},
        {MHD_OPTION_END, 0, NULL},
    };
    h->daemon = MHD_start_daemon(
        /* The logger goes first so that it also receives messages about later options. */
        flags, (uint16_t)o->port, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER,
        mhd_log, h, MHD_OPTION_SOCK_ADDR, &ss, MHD_OPTION_URI_LOG_CALLBACK, on_uri, h,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_NOTIFY_CONNECTION, on_connection,
        h, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_DEADLINE_S, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)MAX_CONNECTIONS, MHD_OPTION_ARRAY, o->tls_cert ? tls_opts : tls_opts + 2, MHD_OPTION_END);
    if (!h->daemon) {
        snprintf(err, cap, "cannot listen on %s port %d (in use, or not allowed?): another "
                 "port with --port N, or --port 0 for a free one", o->host, o->port);
        free(h->tls_cert);
        free(h->tls_key);
        free(h);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    *port = info ? info->port : o->port;
    h->watchdog_running = pthread_create(&h->watchdog, NULL, watchdog_main, h) == 0;
    return h;
}

void sky__http_stop(sky__http *h)
{
    if (!h)
        return;
    if (h->watchdog_running) {
        pthread_mutex_lock(&h->watch_lock);
        h->stopping = true;
        pthread_cond_signal(&h->watch_cond);
        pthread_mutex_unlock(&h->watch_lock);
        pthread_join(h->watchdog, NULL);
    }
    MHD_stop_daemon(h->daemon);
    free(h->tls_cert);
    free(h->tls_key);
    free(h);
}
