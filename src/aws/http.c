/*
 * http.c - the HTTP client of the AWS layer. Each request goes to one of two transports
 * (transport.h decides, by the client's mode and the proxy variables): skylog's own HTTP/1.1
 * client (http1.c), which never loads libcurl, or libcurl, which this file drives: one easy
 * handle per client so that keep-alive connections are reused, a lock so a client may be
 * shared, timeouts, TLS verification on by default, response headers collected for
 * case-insensitive lookup. The trace (masked) is written here, for either.
 *
 * libcurl is not linked: curl_api.c dlopen()s it when a client first needs it (mode curl: at
 * creation; auto: when the client is prepared for a URL a proxy applies to, or at the first
 * request to one), so a process that never sends through libcurl never maps it and its ~5 MiB
 * of dependencies. Every libcurl call therefore goes through `api->`; when libcurl cannot be
 * loaded, sky_http_client_new() (or that request) fails with SKY_EUNSUPPORTED and
 * sky_http_init() says why.
 *
 * It must never retry (retry.c decides that), never log, and never put a request's headers or
 * query string into an error text: presigned URLs and Authorization headers are secrets.
 *
 * Nor may libcurl retry for us. When a reused keep-alive connection dies before any response
 * byte, libcurl silently sends the request again on a fresh connection; if the first copy had
 * reached the server (which processed it and then closed), the caller never learns that it
 * was processed twice. So a body goes out through a read callback that libcurl cannot rewind
 * (the seek callback refuses once bytes were taken): the resend then fails with
 * CURLE_SEND_FAIL_REWIND, and the caller sees the failure and decides. The read callback also
 * tells exactly how much of the body was handed over, which is what separates "the server
 * cannot have processed it" (SKY_HTTP_INCOMPLETE, or nothing sent at all) from "it may have"
 * (SKY_HTTP_NO_ANSWER).
 * It relies on libcurl at run time (which also reads the proxy environment variables), its
 * headers at build time, and zlib for gzip.
 */
#include "core/reserved.h"
#include "aws/buf.h"
#include "aws/curl_api.h"
#include "aws/http1.h"
#include "aws/transport.h"

#include <skylog/aws.h>

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

struct sky_http_client {
    pthread_mutex_t lock;   /* the libcurl handle's */
    sky_http_transport mode; /* transport.h: auto, native or curl */
    sky__h1 *native;        /* the native transport (not in mode curl) */
    const sky__curl_api *api; /* libcurl: mode curl, or auto once a proxy applied */
    CURL *curl;
    sky_http_opts opts;
    char *ca_bundle;
    char *user_agent;
};

sky_status sky_http_init(char *errbuf, size_t errlen)
{
    if (errbuf && errlen)
        errbuf[0] = '\0';
    return sky__curl_api_get(errbuf, errlen) ? SKY_OK : SKY_EUNSUPPORTED;
}

/* libcurl's handle, made on first need; c->lock held. SKY_EUNSUPPORTED when libcurl cannot be
 * loaded (errbuf: why). */
static sky_status need_curl(sky_http_client *c, char *errbuf, size_t errlen)
{
    if (c->curl)
        return SKY_OK;
    if (!c->api && !(c->api = sky__curl_api_get(errbuf, errlen)))
        return SKY_EUNSUPPORTED;
    return (c->curl = c->api->easy_init()) ? SKY_OK : SKY_ENOMEM;
}

sky_status sky_http_client_new(const sky_http_opts *opts, sky_http_client **out)
{
    if (!out)
        return SKY_EINVAL;
    *out = NULL;
    if (opts && SKY__CHECK_RESERVED(opts, sky_http_opts, NULL, NULL) != SKY_OK)
        return SKY_EINVAL;
    sky_http_transport mode;
    if (sky__http_mode(opts, &mode, NULL, 0) != SKY_OK)
        return SKY_EINVAL;
    sky_http_client *c = calloc(1, sizeof *c);
    if (!c)
        return SKY_ENOMEM;
    c->mode = mode;
    if (opts)
        c->opts = *opts;
    if (c->opts.connect_timeout_ms <= 0)
        c->opts.connect_timeout_ms = 3000;
    if (c->opts.timeout_ms <= 0)
        c->opts.timeout_ms = 30000;
    if (!c->opts.max_response_bytes)
        c->opts.max_response_bytes = 16u << 20;
    c->ca_bundle = c->opts.ca_bundle ? strdup(c->opts.ca_bundle) : NULL;
    c->user_agent = strdup(c->opts.user_agent ? c->opts.user_agent : "skylog/" SKYLOG_VERSION);
    c->opts.ca_bundle = c->ca_bundle;
    c->opts.user_agent = c->user_agent;
    pthread_mutex_init(&c->lock, NULL);
    sky_status st = SKY_OK;
    if (!c->user_agent || (opts && opts->ca_bundle && !c->ca_bundle))
        st = SKY_ENOMEM;
    if (st == SKY_OK && mode == SKY_HTTP_TRANSPORT_CURL)
        st = need_curl(c, NULL, 0); /* auto loads it only for a URL a proxy applies to */
    if (st == SKY_OK && mode != SKY_HTTP_TRANSPORT_CURL)
        st = sky__h1_new(&c->opts, &c->native);
    if (st != SKY_OK) {
        sky_http_client_free(c);
        return st;
    }
    *out = c;
    return SKY_OK;
}

void sky_http_client_free(sky_http_client *c)
{
    if (!c)
        return;
    if (c->curl)
        c->api->easy_cleanup(c->curl);
    sky__h1_free(c->native);
    pthread_mutex_destroy(&c->lock);
    free(c->ca_bundle);
    free(c->user_agent);
    free(c);
}

sky_status sky__http_client_prepare(sky_http_client *c, const char *url, char *errbuf,
                                    size_t errlen)
{
    int route = sky__http_route(c->mode, url, errbuf, errlen);
    if (route < 0)
        return SKY_EINVAL;
    if (route != SKY_HTTP_TRANSPORT_CURL)
        return SKY_OK;
    pthread_mutex_lock(&c->lock);
    sky_status st = need_curl(c, errbuf, errlen);
    pthread_mutex_unlock(&c->lock);
    return st;
}

/* ---- response collection ------------------------------------------------------------------ */

typedef struct collect {
    sky__buf body;
    sky__buf hdr_names; /* NUL-separated */
    sky__buf hdr_values;
    size_t n_headers;
    size_t max;
    bool too_big;
} collect;

static size_t on_body(char *p, size_t size, size_t n, void *user)
{
    collect *c = user;
    size_t len = size * n;
    if (c->body.len + len > c->max) {
        c->too_big = true;
        return 0; /* aborts the transfer */
    }
    sky__buf_append(&c->body, p, len);
    return c->body.oom ? 0 : len;
}

static size_t on_header(char *p, size_t size, size_t n, void *user)
{
    collect *c = user;
    size_t len = size * n;
    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        /* a new response (after 100-continue or a redirect): forget earlier headers */
        sky__buf_free(&c->hdr_names);
        sky__buf_free(&c->hdr_values);
        c->n_headers = 0;
        return len;
    }
    const char *colon = memchr(p, ':', len);
    if (!colon)
        return len;
    size_t nl = (size_t)(colon - p);
    const char *v = colon + 1, *end = p + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    sky__buf_append(&c->hdr_names, p, nl);
    sky__buf_putc(&c->hdr_names, '\0');
    sky__buf_append(&c->hdr_values, v, (size_t)(end - v));
    sky__buf_putc(&c->hdr_values, '\0');
    c->n_headers++;
    return len;
}

/* Turns the NUL-separated header lists into an owned array: one allocation holds the array and
 * both string blocks, so sky_http_response_free() frees one pointer. */
static bool build_headers(collect *c, sky_http_response *out)
{
    if (!c->n_headers)
        return true;
    size_t arr = sizeof(sky_aws_header) * c->n_headers;
    char *mem = malloc(arr + c->hdr_names.len + c->hdr_values.len);
    if (!mem)
        return false;
    sky_aws_header *h = (sky_aws_header *)mem;
    char *names = mem + arr, *values = names + c->hdr_names.len;
    memcpy(names, c->hdr_names.data, c->hdr_names.len);
    memcpy(values, c->hdr_values.data, c->hdr_values.len);
    for (size_t i = 0; i < c->n_headers; i++) {
        h[i].name = names;
        h[i].value = values;
        names += strlen(names) + 1;
        values += strlen(values) + 1;
    }
    out->headers = h;
    out->n_headers = c->n_headers;
    return true;
}

/* ---- request body ------------------------------------------------------------------------- */

typedef struct upload {
    const char *data;
    size_t len, off; /* off: bytes handed to libcurl; never goes back (see on_seek) */
} upload;

static size_t on_read(char *buf, size_t size, size_t n, void *user)
{
    upload *u = user;
    size_t room = size * n, left = u->len - u->off;
    size_t k = left < room ? left : room;
    memcpy(buf, u->data + u->off, k);
    u->off += k;
    return k;
}

/* libcurl asks to rewind only to send the body again (its hidden retry on a dead reused
 * connection): refused once any byte was taken, so that retry becomes a visible failure. */
static int on_seek(void *user, curl_off_t offset, int origin)
{
    upload *u = user;
    return u->off == 0 && offset == 0 && origin == SEEK_SET ? CURL_SEEKFUNC_OK
                                                            : CURL_SEEKFUNC_CANTSEEK;
}

/* ---- debug trace (masked) ------------------------------------------------------------------ */

static void trace_request(sky_http_client *c, const sky_http_request *req)
{
    char line[1024];
    snprintf(line, sizeof line, "> %s %.*s", req->method, (int)strcspn(req->url, "?#"), req->url);
    c->opts.trace(c->opts.trace_user, line);
    for (size_t i = 0; i < req->n_headers; i++) {
        sky_aws_mask_header(req->headers[i].name, req->headers[i].value, line + 2,
                            sizeof line - 2);
        line[0] = '>';
        line[1] = ' ';
        c->opts.trace(c->opts.trace_user, line);
    }
}

static void trace_response(sky_http_client *c, const sky_http_response *r)
{
    char line[1024];
    snprintf(line, sizeof line, "< %ld", r->status);
    c->opts.trace(c->opts.trace_user, line);
    for (size_t i = 0; i < r->n_headers; i++) {
        line[0] = '<';
        line[1] = ' ';
        sky_aws_mask_header(r->headers[i].name, r->headers[i].value, line + 2, sizeof line - 2);
        c->opts.trace(c->opts.trace_user, line);
    }
}

static void set_err(char *errbuf, size_t errlen, const char *msg)
{
    if (errbuf && errlen)
        snprintf(errbuf, errlen, "%s", msg);
}

static bool cert_error(CURLcode rc)
{
    switch (rc) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS: return true;
    default: return false;
    }
}

/* How far a failed request got. Whatever the error, a body handed over completely may have
 * been processed, and a body handed over in part cannot have been. */
static sky_http_failure classify(CURLcode rc, const upload *u, bool started)
{
    if (u->len && u->off == u->len)
        return SKY_HTTP_NO_ANSWER;
    if (u->off)
        return SKY_HTTP_INCOMPLETE;
    if (rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_RESOLVE_PROXY)
        return SKY_HTTP_NOT_RESOLVED;
    if (cert_error(rc))
        return SKY_HTTP_CERT_FAILED;
    if (rc == CURLE_SSL_CONNECT_ERROR)
        return SKY_HTTP_TLS_FAILED;
    if (rc == CURLE_COULDNT_CONNECT || !started)
        return SKY_HTTP_NOT_CONNECTED;
    /* the request line went out: with a body, none of it did; without one, it is all sent */
    return u->len ? SKY_HTTP_INCOMPLETE : SKY_HTTP_NO_ANSWER;
}

/* "host[:port]" of a URL, for messages (no user info, path or query). */
static void url_host(const char *url, char *out, size_t cap)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t n = strcspn(p, "/?#");
    const char *at = memchr(p, '@', n);
    if (at) {
        n -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    snprintf(out, cap, "%.*s", (int)n, p);
}

static sky_status map_curl(CURLcode rc)
{
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT: return SKY_ETIMEDOUT;
    case CURLE_OUT_OF_MEMORY: return SKY_ENOMEM;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL: return SKY_EINVAL;
    default: return SKY_ENET;
    }
}

sky_status sky_http_perform(sky_http_client *c, const sky_http_request *req,
                            sky_http_response *out, char *errbuf, size_t errlen)
{
    if (out)
        memset(out, 0, sizeof *out);
    set_err(errbuf, errlen, "");
    if (!c || !req || !req->url || !req->method || !out)
        return SKY_EINVAL;
    int route = sky__http_route(c->mode, req->url, errbuf, errlen);
    if (route < 0) {
        out->failure = SKY_HTTP_NOT_CONNECTED; /* nothing sent: the proxy is not bypassed */
        return SKY_EUNSUPPORTED;
    }
    if (route == SKY_HTTP_TRANSPORT_NATIVE) {
        if (c->opts.trace)
            trace_request(c, req);
        sky_status st = sky__h1_perform(c->native, req, out, errbuf, errlen);
        if (st == SKY_OK && c->opts.trace)
            trace_response(c, out);
        return st;
    }
    pthread_mutex_lock(&c->lock);
    sky_status ready = need_curl(c, errbuf, errlen); /* auto: a proxy variable set since */
    pthread_mutex_unlock(&c->lock);
    if (ready != SKY_OK)
        return ready;

    const sky__curl_api *api = c->api;
    struct curl_slist *hl = NULL;
    sky_status st = SKY_OK;
    /* libcurl adds "Expect: 100-continue" to large bodies; AWS does not need the round trip */
    hl = api->slist_append(hl, "Expect:");
    for (size_t i = 0; i < req->n_headers && hl; i++) {
        const char *name = req->headers[i].name, *value = req->headers[i].value;
        if (!name || !*name || strpbrk(name, ":\r\n") || (value && strpbrk(value, "\r\n"))) {
            api->slist_free_all(hl); /* header injection or nonsense: refuse the request */
            set_err(errbuf, errlen, "invalid header name or value");
            return SKY_EINVAL;
        }
        sky__buf line = {0};
        if (value && *value)
            sky__buf_printf(&line, "%s: %s", name, value);
        else
            sky__buf_printf(&line, "%s;", name); /* curl's way to send an empty value */
        struct curl_slist *n = line.oom ? NULL : api->slist_append(hl, line.data);
        sky__buf_wipe(&line);
        if (!n) {
            api->slist_free_all(hl);
            return SKY_ENOMEM;
        }
        hl = n;
    }
    if (!hl)
        return SKY_ENOMEM;
    if (c->opts.trace)
        trace_request(c, req);

    collect col = {.max = c->opts.max_response_bytes};
    sky_http_failure failure = SKY_HTTP_ANSWERED;
    char cerr[CURL_ERROR_SIZE] = "";
    pthread_mutex_lock(&c->lock);
    CURL *h = c->curl;
    api->easy_reset(h); /* keeps the connection cache */
    api->easy_setopt(h, CURLOPT_URL, req->url);
    api->easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    api->easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    api->easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
    api->easy_setopt(h, CURLOPT_USERAGENT, c->opts.user_agent);
    api->easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->opts.connect_timeout_ms);
    api->easy_setopt(h, CURLOPT_TIMEOUT_MS,
                      (long)(req->timeout_ms > 0 ? req->timeout_ms : c->opts.timeout_ms));
    api->easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    api->easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    api->easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    api->easy_setopt(h, CURLOPT_SSL_VERIFYPEER, c->opts.insecure ? 0L : 1L);
    api->easy_setopt(h, CURLOPT_SSL_VERIFYHOST, c->opts.insecure ? 0L : 2L);
    if (c->opts.ca_bundle)
        api->easy_setopt(h, CURLOPT_CAINFO, c->opts.ca_bundle);
    api->easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    api->easy_setopt(h, CURLOPT_WRITEDATA, &col);
    api->easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    api->easy_setopt(h, CURLOPT_HEADERDATA, &col);
    bool has_body = req->body && req->body_len;
    upload up = {.data = has_body ? req->body : "", .len = has_body ? req->body_len : 0};
    if (strcmp(req->method, "GET") == 0 && !has_body) {
        api->easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(req->method, "HEAD") == 0) {
        api->easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else {
        api->easy_setopt(h, CURLOPT_POST, 1L);
        /* through the read callback, never CURLOPT_POSTFIELDS: see on_seek() */
        api->easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        api->easy_setopt(h, CURLOPT_READDATA, &up);
        api->easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
        api->easy_setopt(h, CURLOPT_SEEKDATA, &up);
        api->easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)up.len);
        if (strcmp(req->method, "POST") != 0)
            api->easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
    }
    CURLcode rc = api->easy_perform(h);
    long status = 0;
    bool started = false;
    if (rc == CURLE_OK) {
        api->easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    } else {
        curl_off_t pre = 0;
        long sent = 0;
        api->easy_getinfo(h, CURLINFO_PRETRANSFER_TIME_T, &pre);
        api->easy_getinfo(h, CURLINFO_REQUEST_SIZE, &sent);
        started = pre > 0 || sent > 0;
    }
    api->easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    api->easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    pthread_mutex_unlock(&c->lock);
    api->slist_free_all(hl);

    if (col.too_big) {
        set_err(errbuf, errlen, "response body too large");
        st = SKY_ELIMIT;
    } else if (col.body.oom || col.hdr_names.oom || col.hdr_values.oom) {
        st = SKY_ENOMEM;
    } else if (rc != CURLE_OK) {
        /* curl's own text names the host and port at most, never our headers */
        const char *why = cerr[0] ? cerr : api->easy_strerror(rc);
        failure = classify(rc, &up, started);
        if (failure == SKY_HTTP_CERT_FAILED && errbuf && errlen) {
            char host[256];
            url_host(req->url, host, sizeof host);
            snprintf(errbuf, errlen, "TLS certificate verification failed for %s: %s", host,
                     why);
        } else {
            set_err(errbuf, errlen, why);
        }
        st = map_curl(rc);
    } else {
        out->status = status;
        if (!build_headers(&col, out)) {
            st = SKY_ENOMEM;
        } else {
            if (c->opts.trace)
                trace_response(c, out);
            out->body_len = col.body.len;
            out->body = sky__buf_steal(&col.body);
            if (!out->body)
                st = SKY_ENOMEM;
        }
    }
    sky__buf_free(&col.body);
    sky__buf_free(&col.hdr_names);
    sky__buf_free(&col.hdr_values);
    if (st != SKY_OK) {
        sky_http_response_free(out);
        out->failure = failure;
    }
    return st;
}

const char *sky_http_response_header(const sky_http_response *r, const char *name)
{
    if (!r || !name)
        return NULL;
    for (size_t i = 0; i < r->n_headers; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

void sky_http_response_free(sky_http_response *r)
{
    if (!r)
        return;
    free(r->body);
    free(r->headers);
    memset(r, 0, sizeof *r);
}

sky_status sky_aws_gzip(const void *data, size_t len, void **out, size_t *out_len)
{
    if (!out || !out_len || (!data && len))
        return SKY_EINVAL;
    *out = NULL;
    *out_len = 0;
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return SKY_ENOMEM;
    uLong cap = deflateBound(&z, (uLong)len) + 32;
    unsigned char *buf = malloc(cap);
    if (!buf) {
        deflateEnd(&z);
        return SKY_ENOMEM;
    }
    z.next_in = (Bytef *)(uintptr_t)data;
    z.avail_in = (uInt)len;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    size_t n = cap - z.avail_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(buf);
        return SKY_EINTERNAL;
    }
    *out = buf;
    *out_len = n;
    return SKY_OK;
}

static bool secret_name(const char *n)
{
    static const char *const words[] = {"secret", "token", "password", "credential", "cookie",
                                        "session"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcasestr(n, words[i]))
            return true;
    return false;
}

int sky_aws_mask_header(const char *name, const char *value, char *buf, size_t cap)
{
    if (!name)
        name = "";
    if (!value)
        value = "";
    if (strcasecmp(name, "authorization") == 0) {
        const char *sig = strstr(value, "Signature=");
        if (strncmp(value, "AWS4-HMAC-SHA256 ", 17) == 0 && sig)
            return snprintf(buf, cap, "%s: %.*sSignature=****", name, (int)(sig - value), value);
        return snprintf(buf, cap, "%s: ****", name);
    }
    if (secret_name(name))
        return snprintf(buf, cap, "%s: ****", name);
    return snprintf(buf, cap, "%s: %s", name, value);
}
