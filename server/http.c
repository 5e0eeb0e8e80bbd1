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
 */
#include "http.h"

#include "auth.h"
#include "faults.h"
#include "ingest.h"
#include "logs_api.h"
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
#include <sys/socket.h>
#include <time.h>
#include <zlib.h>

#define MAX_BODY (16u << 20)        /* as received */
#define MAX_INFLATED (64u << 20)    /* after gzip */
#define MAX_HEADERS 96

struct sky__http {
    struct MHD_Daemon *daemon;
    sky__server *srv;
    char *tls_cert, *tls_key; /* PEM text; must outlive the daemon */
};

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
    (void)cls;
    (void)c;
    conn_state *st = calloc(1, sizeof *st);
    if (st)
        st->raw_uri = strdup(uri ? uri : "/");
    return st;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
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

typedef struct header_vec {
    sky_aws_header h[MAX_HEADERS];
    size_t n;
} header_vec;

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    header_vec *v = cls;
    if (v->n < MAX_HEADERS) {
        v->h[v->n].name = key;
        v->h[v->n].value = value ? value : "";
        v->n++;
    }
    return MHD_YES;
}

/* Inflates a gzip (or zlib) body. Returns a malloc'd NUL-terminated buffer, NULL on error. */
static char *gunzip(const char *in, size_t n, size_t *out_len)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 15 + 32) != Z_OK) /* +32: auto-detect gzip or zlib header */
        return NULL;
    size_t cap = n * 4 + 1024, len = 0;
    char *out = malloc(cap);
    int rc = Z_OK;
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)n;
    while (out && rc == Z_OK) {
        if (cap - len < 1024) {
            if (cap >= MAX_INFLATED)
                break;
            char *nb = realloc(out, cap * 2);
            if (!nb)
                break;
            out = nb;
            cap *= 2;
        }
        zs.next_out = (Bytef *)out + len;
        zs.avail_out = (uInt)(cap - len - 1);
        rc = inflate(&zs, Z_NO_FLUSH);
        len = cap - 1 - zs.avail_out;
    }
    inflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    out[len] = '\0';
    *out_len = len;
    return out;
}

/* ---- routing ----------------------------------------------------------------------------- */

#define LOGS_PREFIX "Logs_20140328."
#define METRICS_PREFIX "GraniteServiceVersion20100801."

static sky__api classify(const sky__request *req, const char **op)
{
    *op = NULL;
    if (strcmp(req->method, "POST") != 0)
        return SKY__API_OTHER;
    if (strcmp(req->path, "/ingest/bulk") == 0 || strcmp(req->path, "/v1/logs") == 0)
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
    char rid[64];
    snprintf(rid, sizeof rid, "00000000-0000-4000-8000-%012llx", req->id);
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

/* One line per request for --verbose; a single fprintf so lines from threads never mix. */
static void log_request(const sky__request *req, const char *op, int status, const char *err,
                        const sky__fault *f)
{
    fprintf(stderr, "skylog serve: #%llu %s %s%s%s -> %d%s%s%s%s\n", req->id, req->method,
            req->path, op ? " " : "", op ? op : "", status, err ? " " : "", err ? err : "",
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

    /* The whole request is here. */
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
    sky__reply r = {0};
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

    if (st->too_large) {
        sky__reply_error(&r, api, 413, api == SKY__API_METRICS_JSON || api == SKY__API_METRICS_QUERY
                                           ? "RequestEntityTooLarge"
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
    if (enc && strcasecmp(enc, "gzip") == 0 && st->len > 0) {
        inflated = gunzip(st->body, st->len, &req.body_len);
        if (!inflated) {
            sky__reply_error(&r, api, 400,
                             api == SKY__API_METRICS_JSON || api == SKY__API_METRICS_QUERY
                                 ? "InvalidParameterValue"
                                 : "SerializationException",
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
        mhd_log, h, MHD_OPTION_SOCK_ADDR, &ss, MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
        NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)256, MHD_OPTION_ARRAY, o->tls_cert ? tls_opts : tls_opts + 2, MHD_OPTION_END);
    if (!h->daemon) {
        snprintf(err, cap, "cannot listen on %s port %d (in use, or not allowed?)", o->host,
                 o->port);
        free(h->tls_cert);
        free(h->tls_key);
        free(h);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    *port = info ? info->port : o->port;
    return h;
}

void sky__http_stop(sky__http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->daemon);
    free(h->tls_cert);
    free(h->tls_key);
    free(h);
}
