/*
 * http1.c - the native transport of sky_http_client: HTTP/1.1 over a kept-alive TCP
 * connection, TLS through OpenSSL's libssl (dlopen()ed like libcrypto in crypto_api.c, never
 * linked), and a bounded response parser. See http1.h for why it exists.
 *
 * Exactness first, as in http.c: a request is written once and never again behind the
 * caller's back. Before a kept-alive connection is reused it is polled: readable or hung up
 * means the server closed it (or sent something unasked), so it is dropped while nothing of the
 * request has gone out. The only reconnect inside a request is when a write fails with not one
 * byte of the request accepted, which cannot have reached the server. Otherwise the failure
 * says how far the request got (http.c's classes): the whole body handed over = NO_ANSWER (the
 * server may have processed it), part of it = INCOMPLETE (it cannot have: Content-Length tells
 * it to wait for the rest).
 *
 * The body is never copied by us in plain: head and body go with one sendmsg(); TLS writes
 * the head and then the body (SSL_write per 1 MiB), SSL_MODE_ENABLE_PARTIAL_WRITE so that
 * every return says exactly how much libssl accepted, and libssl's records are gathered into
 * 256 KiB sends (see "Gathering TLS records": a failure is then classified by what reached
 * the socket). Our own writes pass MSG_NOSIGNAL; where libssl writes to the socket itself
 * (the handshake, and every write when the gathering BIO could not be made) SIGPIPE is blocked
 * on the calling thread (a write to a closed socket raises it), and a SIGPIPE raised meanwhile
 * is consumed. Every wait is a poll() bounded by the request's
 * deadline (connecting: also by the connect timeout, which covers resolving the name too:
 * getaddrinfo() has no timeout of its own, so it runs on a helper thread the request waits
 * for only until then).
 */
#include "aws/http1.h"

#include "util/buf.h"
#include "util/cond.h"
#include "util/dynlib.h"
#include "util/prefault.h"
#include "util/thread.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

/* ---- response parser ---------------------------------------------------------------------- */

static bool is_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* true when the comma-separated list `v` (length n) holds `tok` (case-insensitive) */
static bool list_has(const char *v, size_t n, const char *tok)
{
    size_t tl = strlen(tok);
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',')
            i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e - s == tl && strncasecmp(v + s, tok, tl) == 0)
            return true;
    }
    return false;
}

int sky__h1_parse_head(const char *buf, size_t len, sky__h1_head *h)
{
    memset(h, 0, offsetof(sky__h1_head, fields));
    h->content_length = -1;
    size_t lim = len < SKY__H1_MAX_HEAD ? len : SKY__H1_MAX_HEAD;
    /* the end of the head first: nothing is interpreted before it is all there */
    const char *end = NULL;
    for (const char *p = buf; p + 3 < buf + lim; p++) {
        p = memchr(p, '\r', (size_t)(buf + lim - p));
        if (!p || p + 3 >= buf + lim)
            break;
        if (p[1] == '\n' && p[2] == '\r' && p[3] == '\n') {
            end = p;
            break;
        }
    }
    if (!end)
        return len >= SKY__H1_MAX_HEAD ? -1 : 0;
    h->head_len = (size_t)(end - buf) + 4;
    /* status line: HTTP/1.x SSS[ reason] */
    const char *eol = memchr(buf, '\r', (size_t)(end - buf) + 1);
    if (!eol || eol - buf < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || buf[7] < '0' ||
        buf[7] > '9' || buf[8] != ' ' || eol[1] != '\n')
        return -1;
    h->minor = buf[7] - '0';
    for (int i = 9; i < 12; i++)
        if (buf[i] < '0' || buf[i] > '9')
            return -1;
    h->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    if (h->status < 100 || (eol - buf > 12 && buf[12] != ' '))
        return -1;
    for (const char *q = buf + 12; q < eol; q++)
        if ((unsigned char)*q < 0x20 && *q != '\t')
            return -1;
    bool keep_alive = false, saw_cl = false;
    const char *p = eol + 2;
    while (p < end + 2) {
        const char *le = memchr(p, '\r', (size_t)(end + 2 - p));
        if (!le || le[1] != '\n')
            return -1;
        if (le == p)
            break; /* cannot happen before `end`, kept for safety */
        if (h->n_fields == SKY__H1_MAX_HEADERS)
            return -1;
        const char *colon = p;
        while (colon < le && is_tchar((unsigned char)*colon))
            colon++;
        if (colon == p || colon == le || *colon != ':')
            return -1; /* also refuses obsolete line folding (a line starting with space) */
        const char *v = colon + 1, *ve = le;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        for (const char *q = v; q < ve; q++)
            if (((unsigned char)*q < 0x20 && *q != '\t') || *q == 0x7f)
                return -1;
        sky__h1_field *f = &h->fields[h->n_fields++];
        f->name = (uint32_t)(p - buf);
        f->name_len = (uint32_t)(colon - p);
        f->value = (uint32_t)(v - buf);
        f->value_len = (uint32_t)(ve - v);
        size_t nl = f->name_len, vl = f->value_len;
        if (nl == 14 && strncasecmp(p, "content-length", 14) == 0) {
            int64_t n = 0;
            if (vl == 0 || vl > 18)
                return -1;
            for (size_t i = 0; i < vl; i++) {
                if (v[i] < '0' || v[i] > '9')
                    return -1;
                n = n * 10 + (v[i] - '0');
            }
            if (saw_cl && n != h->content_length)
                return -1; /* two different lengths: request smuggling territory */
            saw_cl = true;
            h->content_length = n;
        } else if (nl == 17 && strncasecmp(p, "transfer-encoding", 17) == 0) {
            /* only "chunked" (last) is understood; any other coding we cannot decode */
            if (!list_has(v, vl, "chunked"))
                return -1;
            size_t e = vl;
            while (e && (v[e - 1] == ' ' || v[e - 1] == '\t'))
                e--;
            if (e < 7 || strncasecmp(v + e - 7, "chunked", 7) != 0 ||
                !(e == 7 || v[e - 8] == ',' || v[e - 8] == ' '))
                return -1;
            h->chunked = true;
        } else if (nl == 10 && strncasecmp(p, "connection", 10) == 0) {
            if (list_has(v, vl, "close"))
                h->close = true;
            if (list_has(v, vl, "keep-alive"))
                keep_alive = true;
        }
        p = le + 2;
    }
    if (h->chunked)
        h->content_length = -1; /* RFC 9112 6.3: chunked wins, and the connection must close */
    if (h->chunked && saw_cl)
        h->close = true;
    if (h->minor == 0 && !keep_alive)
        h->close = true;
    return 1;
}

enum { CH_SIZE, CH_EXT, CH_SIZE_LF, CH_DATA, CH_DATA_CR, CH_DATA_LF, CH_TRAILER, CH_TLINE,
       CH_TLINE_LF, CH_END_LF, CH_DONE };

int sky__h1_dechunk(sky__h1_chunked *d, const char *in, size_t len, size_t *used, char **out,
                    size_t *out_len, size_t *out_cap, size_t max)
{
    size_t i = 0;
    while (i < len) {
        unsigned char ch = (unsigned char)in[i];
        switch (d->state) {
        case CH_SIZE: {
            int v = ch >= '0' && ch <= '9'   ? ch - '0'
                    : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                    : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                             : -1;
            if (v >= 0) {
                if (d->left > (UINT64_MAX >> 4) || d->trailer_line++ >= 16)
                    return -1;
                d->left = d->left << 4 | (uint64_t)v;
            } else if (d->trailer_line == 0) {
                return -1; /* no digits */
            } else if (ch == ';' || ch == ' ' || ch == '\t') {
                d->state = CH_EXT;
            } else if (ch == '\r') {
                d->state = CH_SIZE_LF;
            } else {
                return -1;
            }
            i++;
            break;
        }
        case CH_EXT: /* chunk extensions are ignored, but bounded */
            if (ch == '\r')
                d->state = CH_SIZE_LF;
            else if (++d->trailer_line > 4096 || ch == '\n')
                return -1;
            i++;
            break;
        case CH_SIZE_LF:
            if (ch != '\n')
                return -1;
            i++;
            d->trailer_line = 0;
            if (d->left == 0) {
                d->state = CH_TRAILER;
            } else {
                if (d->left > max - *out_len)
                    return -2; /* before any allocation */
                if (*out_len + d->left + 1 > *out_cap) {
                    size_t cap = *out_cap ? *out_cap : 4096;
                    while (cap < *out_len + d->left + 1)
                        cap *= 2;
                    char *n = realloc(*out, cap);
                    if (!n)
                        return -3;
                    *out = n;
                    *out_cap = cap;
                }
                d->state = CH_DATA;
            }
            break;
        case CH_DATA: {
            size_t k = len - i < d->left ? len - i : (size_t)d->left;
            memcpy(*out + *out_len, in + i, k);
            *out_len += k;
            d->left -= k;
            i += k;
            if (!d->left)
                d->state = CH_DATA_CR;
            break;
        }
        case CH_DATA_CR:
            if (ch != '\r')
                return -1;
            d->state = CH_DATA_LF;
            i++;
            break;
        case CH_DATA_LF:
            if (ch != '\n')
                return -1;
            d->state = CH_SIZE;
            d->trailer_line = 0;
            i++;
            break;
        case CH_TRAILER: /* start of a trailer line, or the final empty line */
            if (ch == '\r') {
                d->state = CH_END_LF;
            } else {
                d->state = CH_TLINE;
                d->trailer_line = 1;
                d->left = d->left + 1; /* counts trailer lines */
                if (d->left > SKY__H1_MAX_HEADERS)
                    return -1;
            }
            i++;
            break;
        case CH_TLINE:
            if (ch == '\r')
                d->state = CH_TLINE_LF;
            else if (++d->trailer_line > 8192 || ch == '\n')
                return -1;
            i++;
            break;
        case CH_TLINE_LF:
            if (ch != '\n')
                return -1;
            d->state = CH_TRAILER;
            i++;
            break;
        case CH_END_LF:
            if (ch != '\n')
                return -1;
            d->state = CH_DONE;
            i++;
            *used = i;
            return 1;
        default: return -1;
        }
    }
    *used = i;
    return 0;
}

/* ---- libssl, loaded on first use -------------------------------------------------------- */

typedef struct ssl_api {
    const SSL_METHOD *(*client_method)(void);
    SSL_CTX *(*ctx_new)(const SSL_METHOD *m);
    void (*ctx_free)(SSL_CTX *c);
    void (*ctx_set_verify)(SSL_CTX *c, int mode, SSL_verify_cb cb);
    int (*ctx_load_verify_locations)(SSL_CTX *c, const char *file, const char *path);
    int (*ctx_set_default_verify_paths)(SSL_CTX *c);
    long (*ctx_ctrl)(SSL_CTX *c, int cmd, long larg, void *parg);
    SSL *(*ssl_new)(SSL_CTX *c);
    void (*ssl_free)(SSL *s);
    int (*set_fd)(SSL *s, int fd);
    long (*ctrl)(SSL *s, int cmd, long larg, void *parg);
    int (*connect)(SSL *s);
    int (*write)(SSL *s, const void *buf, int num);
    int (*read)(SSL *s, void *buf, int num);
    int (*get_error)(const SSL *s, int ret);
    int (*shutdown)(SSL *s);
    long (*get_verify_result)(const SSL *s);
    X509_VERIFY_PARAM *(*get0_param)(SSL *s);
    int (*set1_host)(SSL *s, const char *host);
    int (*param_set1_ip_asc)(X509_VERIFY_PARAM *p, const char *ip);
    const char *(*verify_error_string)(long n);
    unsigned long (*err_get_error)(void);
    void (*err_error_string_n)(unsigned long e, char *buf, size_t len);
    void (*err_clear_error)(void);
    /* the gathering BIO (see "writing") */
    void (*set0_wbio)(SSL *s, BIO *b);
    int (*bio_get_new_index)(void);
    BIO_METHOD *(*bio_meth_new)(int type, const char *name);
    int (*bio_meth_set_write)(BIO_METHOD *m, int (*w)(BIO *, const char *, int));
    int (*bio_meth_set_ctrl)(BIO_METHOD *m, long (*c)(BIO *, int, long, void *));
    BIO *(*bio_new)(const BIO_METHOD *m);
    void (*bio_set_data)(BIO *b, void *p);
    void *(*bio_get_data)(BIO *b);
    void (*bio_set_init)(BIO *b, int init);
    void (*bio_set_flags)(BIO *b, int flags);
    void (*bio_clear_flags)(BIO *b, int flags);
} ssl_api;

static void gather_method_make(void);
typedef struct sky__h1 sky__h1;
static void gather_attach(sky__h1 *c);

static const char *const ssl_names[] = {"libssl.so.3", "libssl.so.1.1", NULL};
static pthread_once_t ssl_once = PTHREAD_ONCE_INIT;
static ssl_api S;
static bool ssl_loaded;
static char ssl_error[512];

static void ssl_load(void)
{
#define SYM(field, sym) {#sym, offsetof(ssl_api, field)}
    static const sky__dl_sym syms[] = {
        SYM(client_method, TLS_client_method),
        SYM(ctx_new, SSL_CTX_new),
        SYM(ctx_free, SSL_CTX_free),
        SYM(ctx_set_verify, SSL_CTX_set_verify),
        SYM(ctx_load_verify_locations, SSL_CTX_load_verify_locations),
        SYM(ctx_set_default_verify_paths, SSL_CTX_set_default_verify_paths),
        SYM(ctx_ctrl, SSL_CTX_ctrl),
        SYM(ssl_new, SSL_new),
        SYM(ssl_free, SSL_free),
        SYM(set_fd, SSL_set_fd),
        SYM(ctrl, SSL_ctrl),
        SYM(connect, SSL_connect),
        SYM(write, SSL_write),
        SYM(read, SSL_read),
        SYM(get_error, SSL_get_error),
        SYM(shutdown, SSL_shutdown),
        SYM(get_verify_result, SSL_get_verify_result),
        SYM(get0_param, SSL_get0_param),
        SYM(set1_host, SSL_set1_host),
        /* libcrypto's, found through libssl's dependencies */
        SYM(param_set1_ip_asc, X509_VERIFY_PARAM_set1_ip_asc),
        SYM(verify_error_string, X509_verify_cert_error_string),
        SYM(err_get_error, ERR_get_error),
        SYM(err_error_string_n, ERR_error_string_n),
        SYM(err_clear_error, ERR_clear_error),
        SYM(set0_wbio, SSL_set0_wbio),
        SYM(bio_get_new_index, BIO_get_new_index),
        SYM(bio_meth_new, BIO_meth_new),
        SYM(bio_meth_set_write, BIO_meth_set_write),
        SYM(bio_meth_set_ctrl, BIO_meth_set_ctrl),
        SYM(bio_new, BIO_new),
        SYM(bio_set_data, BIO_set_data),
        SYM(bio_get_data, BIO_get_data),
        SYM(bio_set_init, BIO_set_init),
        SYM(bio_set_flags, BIO_set_flags),
        SYM(bio_clear_flags, BIO_clear_flags),
    };
#undef SYM
    const sky__dl_spec spec = {
        .env = "SKYLOG_LIBSSL",
        .defaults = ssl_names,
        .syms = syms,
        .n_syms = sizeof syms / sizeof syms[0],
        .advice = "install OpenSSL's libssl (Debian/Ubuntu: libssl3) or set SKYLOG_LIBSSL to the "
                  "path of libssl.so.3",
    };
    ssl_api a;
    if (sky__dl_load(&spec, &a, NULL, ssl_error, sizeof ssl_error)) {
        S = a;
        ssl_loaded = true;
        gather_method_make();
    }
}

bool sky__h1_tls_load(char *errbuf, size_t errlen)
{
    pthread_once(&ssl_once, ssl_load);
    if (!ssl_loaded && errbuf && errlen)
        snprintf(errbuf, errlen, "%s", ssl_error);
    return ssl_loaded;
}

/* ---- the client ----------------------------------------------------------------------------- */

struct sky__h1 {
    pthread_mutex_t lock;
    sky_http_opts o;
    SSL_CTX *ctx;      /* made at the first https request, or shared (see make_ctx) */
    struct ctx_share *share;
    bool ctx_failed;   /* the CA bundle could not be loaded */
    char ctx_error[256];
    /* the kept-alive connection */
    int fd;
    SSL *ssl;
    bool tls;
    char host[256];
    int port;
    char *rbuf; /* bytes read past the last response (a server may not send any) */
    size_t rlen, rcap;
    sky__h1_resolver resolve; /* getaddrinfo, or a test's */
    /* TLS records written by libssl after the handshake, gathered here and sent GATHER_CAP
     * bytes at a time (see "writing"); [woff, wlen) still to send. `wire`: bytes of the
     * current request's records that the socket accepted. */
    char *wbuf;
    size_t wlen, woff, wire;
    bool gather;
    bool wbuf_hot; /* wbuf's pages faulted in (a request larger than it was written) */
};

sky_status sky__h1_new(const sky_http_opts *o, sky__h1 **out)
{
    sky__h1 *c = calloc(1, sizeof *c);
    if (!c)
        return SKY_ENOMEM;
    c->o = *o;
    c->fd = -1;
    c->resolve = getaddrinfo;
    pthread_mutex_init(&c->lock, NULL);
    *out = c;
    return SKY_OK;
}

void sky__h1_set_resolver(sky__h1 *c, sky__h1_resolver fn)
{
    c->resolve = fn ? fn : getaddrinfo;
}

static void conn_close(sky__h1 *c)
{
    if (c->ssl) {
        S.ssl_free(c->ssl); /* no close_notify: the socket is closed anyway */
        c->ssl = NULL;
    }
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->rlen = 0;
    c->wlen = c->woff = 0;
    c->gather = false;
}

static void ctx_release(sky__h1 *c);

void sky__h1_free(sky__h1 *c)
{
    if (!c)
        return;
    conn_close(c);
    if (c->ctx)
        ctx_release(c);
    free(c->rbuf);
    free(c->wbuf);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

typedef struct url_parts {
    bool tls;
    char host[256]; /* without brackets */
    int port;
    const char *target; /* path and query ("/" when empty) */
    char hostport[270]; /* for the Host header (brackets kept) */
} url_parts;

static bool parse_url(const char *url, url_parts *u)
{
    memset(u, 0, sizeof *u);
    const char *p;
    if (strncasecmp(url, "https://", 8) == 0) {
        u->tls = true;
        p = url + 8;
        u->port = 443;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        p = url + 7;
        u->port = 80;
    } else {
        return false;
    }
    size_t n = strcspn(p, "/?#");
    if (n == 0 || memchr(p, '@', n) || n >= sizeof u->hostport)
        return false;
    memcpy(u->hostport, p, n);
    u->hostport[n] = '\0';
    const char *h = u->hostport, *colon;
    if (*h == '[') {
        const char *rb = strchr(h, ']');
        if (!rb || (size_t)(rb - h - 1) >= sizeof u->host)
            return false;
        memcpy(u->host, h + 1, (size_t)(rb - h - 1));
        colon = rb[1] == ':' ? rb + 1 : (rb[1] ? (const char *)"" : NULL);
        if (colon && !*colon)
            return false;
    } else {
        colon = strchr(h, ':');
        size_t hl = colon ? (size_t)(colon - h) : strlen(h);
        if (hl == 0 || hl >= sizeof u->host)
            return false;
        memcpy(u->host, h, hl);
    }
    if (colon) {
        char *e;
        long port = strtol(colon + 1, &e, 10);
        if (*e || port <= 0 || port > 65535 || e == colon + 1)
            return false;
        u->port = (int)port;
    }
    for (const char *q = u->host; *q; q++)
        if ((unsigned char)*q <= ' ' || *q == '/' || *q == '\\')
            return false;
    u->target = p + n;
    if (*u->target == '#')
        u->target = "";
    for (const char *q = u->target; *q && *q != '#'; q++)
        if ((unsigned char)*q <= ' ' || *q == 0x7f)
            return false;
    return true;
}

static int64_t now_ms(void)
{
    return sky_monotonic_ns() / 1000000;
}

/* Waits for `events` on fd until `deadline` (monotonic ms). 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return 0;
        struct pollfd pfd = {.fd = fd, .events = events};
        int r = poll(&pfd, 1, left > 1000 ? 1000 : (int)left);
        if (r > 0)
            return 1;
        if (r < 0 && errno != EINTR)
            return -1;
    }
}

typedef struct outcome {
    sky_status st;
    sky_http_failure failure;
    char why[1024]; /* room for any of the texts below: gcc checks it at -O2 */
} outcome;

static void fail(outcome *o, sky_status st, sky_http_failure f, const char *fmt, const char *a,
                 const char *b)
{
    o->st = st;
    o->failure = f;
    snprintf(o->why, sizeof o->why, fmt, a ? a : "", b ? b : "");
}

static bool is_ip(const char *host)
{
    unsigned char b[16];
    return inet_pton(AF_INET, host, b) == 1 || inet_pton(AF_INET6, host, b) == 1;
}

/* ---- resolving, bounded ------------------------------------------------------------------ */

/* getaddrinfo() has no timeout: a resolver that does not answer (an unreachable DNS server in
 * /etc/resolv.conf) would hold the request past its connect timeout, forever with some
 * configurations. So a name is resolved on a helper thread, and the request waits for it only
 * until its connect deadline. A helper whose waiter gave up frees the late result itself: the
 * job is shared by the two and freed by the last to let go. An IP address needs no lookup and
 * no thread. */
typedef struct resolve_job {
    pthread_mutex_t mu;
    pthread_cond_t done_cv;
    int refs; /* the waiter and the helper */
    bool done;
    int rc;
    struct addrinfo *res;
    sky__h1_resolver fn;
    struct addrinfo hints;
    char host[256], port[8];
} resolve_job;

/* Drops one reference (mu held); frees the job, and a result nobody took, with the last. */
static void job_release(resolve_job *j)
{
    bool last = --j->refs == 0;
    pthread_mutex_unlock(&j->mu);
    if (!last)
        return;
    if (j->res)
        freeaddrinfo(j->res);
    pthread_cond_destroy(&j->done_cv);
    pthread_mutex_destroy(&j->mu);
    free(j);
}

static void *resolve_main(void *arg)
{
    resolve_job *j = arg;
    struct addrinfo *res = NULL;
    int rc = j->fn(j->host, j->port, &j->hints, &res);
    pthread_mutex_lock(&j->mu);
    j->rc = rc;
    j->res = rc == 0 ? res : NULL;
    j->done = true;
    pthread_cond_signal(&j->done_cv);
    job_release(j);
    return NULL;
}

/* getaddrinfo(), given up at `deadline` (monotonic ms): 1 resolved (*res), 0 timed out,
 * -1 failed (*gai_err). */
static int resolve(sky__h1 *c, const char *host, const char *port, int64_t deadline,
                   struct addrinfo **res, int *gai_err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_ADDRCONFIG};
    *res = NULL;
    if (is_ip(host)) {
        hints.ai_flags |= AI_NUMERICHOST; /* no lookup: it cannot block */
        *gai_err = getaddrinfo(host, port, &hints, res);
        return *gai_err == 0 ? 1 : -1;
    }
    resolve_job *j = calloc(1, sizeof *j);
    if (!j) {
        *gai_err = EAI_MEMORY;
        return -1;
    }
    pthread_mutex_init(&j->mu, NULL);
    sky__cond_init_monotonic(&j->done_cv);
    j->refs = 2;
    j->fn = c->resolve;
    j->hints = hints;
    snprintf(j->host, sizeof j->host, "%s", host);
    snprintf(j->port, sizeof j->port, "%s", port);
    pthread_t t;
    if (sky__thread_start(&t, "skylog-resolve", resolve_main, j) != 0) {
        pthread_mutex_lock(&j->mu);
        j->refs = 1;
        job_release(j);
        *gai_err = c->resolve(host, port, &hints, res); /* no thread to spare: unbounded */
        return *gai_err == 0 ? 1 : -1;
    }
    pthread_detach(t);
    pthread_mutex_lock(&j->mu);
    while (!j->done && now_ms() < deadline)
        sky__cond_wait_until(&j->done_cv, &j->mu, deadline * 1000000);
    int r = 0;
    if (j->done) {
        *gai_err = j->rc;
        *res = j->res;
        j->res = NULL; /* ours now */
        r = j->rc == 0 ? 1 : -1;
    }
    job_release(j);
    return r;
}

static bool connect_tcp(sky__h1 *c, const url_parts *u, int64_t cdl, outcome *oc)
{
    char port[8];
    snprintf(port, sizeof port, "%d", u->port);
    struct addrinfo *res = NULL;
    int64_t t0 = now_ms();
    int gr = 0;
    int rr = resolve(c, u->host, port, cdl, &res, &gr);
    if (rr == 0) {
        char ms[24];
        snprintf(ms, sizeof ms, "%lld", (long long)(now_ms() - t0));
        /* like a connect timeout: the resolver may answer next time (not NOT_RESOLVED, which
         * says the name does not exist) */
        fail(oc, SKY_ETIMEDOUT, SKY_HTTP_NOT_CONNECTED, "Resolving host %s timed out after %s ms",
             u->host, ms);
        return false;
    }
    if (rr < 0) {
        fail(oc, SKY_ENET, SKY_HTTP_NOT_RESOLVED, "Could not resolve host: %s (%s)", u->host,
             gai_strerror(gr));
        return false;
    }
    int err = 0;
    bool timed_out = false;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
            err = errno;
            close(fd);
            continue;
        }
        int w = wait_fd(fd, POLLOUT, cdl);
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (w == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
            c->fd = fd;
            freeaddrinfo(res);
            return true;
        }
        err = w == 0 ? ETIMEDOUT : soerr ? soerr : errno;
        timed_out = w == 0;
        close(fd);
        if (timed_out)
            break;
    }
    freeaddrinfo(res);
    char ps[8];
    snprintf(ps, sizeof ps, "%d", u->port);
    char hp[300];
    snprintf(hp, sizeof hp, "%s port %s", u->host, ps);
    fail(oc, timed_out ? SKY_ETIMEDOUT : SKY_ENET, SKY_HTTP_NOT_CONNECTED,
         "Failed to connect to %s: %s", hp, strerror(err ? err : ECONNREFUSED));
    return false;
}

static void ssl_reason(char *buf, size_t cap)
{
    unsigned long e = S.err_get_error();
    if (e)
        S.err_error_string_n(e, buf, cap);
    else
        snprintf(buf, cap, "%s", strerror(errno ? errno : ECONNRESET));
    S.err_clear_error();
}

/* One SSL_CTX per trust setting (CA bundle, verification on or off), shared by the clients
 * that use it at the same time: `skylog ship` has two (control calls and puts), and each
 * context parses its whole CA bundle: the system store's ~145 certificates cost ~30 ms of CPU
 * on the benchmark's guest, a one-line ship's CPU went from 83 to 53 ms with one context
 * (bench/RESULTS.md, session 11). An SSL_CTX is safe to share between threads for SSL_new();
 * nothing here changes it after it is made. It lives while a client holds it: a client made
 * after the last one is freed loads the bundle again, so a bundle replaced on disk is read by
 * the next client as before. */
typedef struct ctx_share {
    struct ctx_share *next;
    SSL_CTX *ctx;
    bool insecure;
    unsigned users;
    char ca[]; /* "" for the system store */
} ctx_share;

static pthread_mutex_t share_mu = PTHREAD_MUTEX_INITIALIZER;
static ctx_share *shares;

static bool share_matches(const ctx_share *e, const sky_http_opts *o)
{
    return e->insecure == o->insecure && strcmp(e->ca, o->ca_bundle ? o->ca_bundle : "") == 0;
}

static void ctx_release(sky__h1 *c)
{
    ctx_share *e = c->share;
    SSL_CTX *ctx = c->ctx;
    c->ctx = NULL;
    c->share = NULL;
    if (e) {
        pthread_mutex_lock(&share_mu);
        bool last = --e->users == 0;
        if (last)
            for (ctx_share **pp = &shares; *pp; pp = &(*pp)->next)
                if (*pp == e) {
                    *pp = e->next;
                    break;
                }
        pthread_mutex_unlock(&share_mu);
        if (!last)
            return;
        free(e);
    }
    S.ctx_free(ctx);
}

const void *sky__h1_tls_context(const sky__h1 *c)
{
    return c->ctx;
}

static bool make_ctx_new(sky__h1 *c);

static bool make_ctx(sky__h1 *c)
{
    if (c->ctx || c->ctx_failed)
        return c->ctx != NULL;
    pthread_mutex_lock(&share_mu);
    for (ctx_share *e = shares; e; e = e->next)
        if (share_matches(e, &c->o)) {
            e->users++;
            c->ctx = e->ctx;
            c->share = e;
            pthread_mutex_unlock(&share_mu);
            return true;
        }
    /* made under the lock: a client asking meanwhile for the same would make the same */
    bool ok = make_ctx_new(c);
    if (ok) {
        const char *ca = c->o.ca_bundle ? c->o.ca_bundle : "";
        ctx_share *e = malloc(sizeof *e + strlen(ca) + 1);
        if (e) { /* else: this client's own, not shared */
            e->ctx = c->ctx;
            e->insecure = c->o.insecure;
            e->users = 1;
            strcpy(e->ca, ca);
            e->next = shares;
            shares = e;
            c->share = e;
        }
    }
    pthread_mutex_unlock(&share_mu);
    return ok;
}

static bool make_ctx_new(sky__h1 *c)
{
    SSL_CTX *ctx = S.ctx_new(S.client_method());
    if (!ctx) {
        c->ctx_failed = true;
        ssl_reason(c->ctx_error, sizeof c->ctx_error);
        return false;
    }
    S.ctx_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_2_VERSION, NULL);
    S.ctx_ctrl(ctx, SSL_CTRL_MODE, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_AUTO_RETRY, NULL);
    S.ctx_set_verify(ctx, c->o.insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
    int ok = c->o.ca_bundle ? S.ctx_load_verify_locations(ctx, c->o.ca_bundle, NULL)
                            : S.ctx_set_default_verify_paths(ctx);
    if (ok != 1 && !c->o.insecure) {
        char r[200];
        ssl_reason(r, sizeof r);
        snprintf(c->ctx_error, sizeof c->ctx_error, "error setting certificate file: %s (%s)",
                 c->o.ca_bundle ? c->o.ca_bundle : "system store", r);
        S.ctx_free(ctx);
        c->ctx_failed = true;
        return false;
    }
    c->ctx = ctx;
    return true;
}

/* SIGPIPE blocked on this thread while writing; one raised meanwhile is consumed. */
typedef struct sigpipe_guard {
    sigset_t old;
    bool was_pending;
} sigpipe_guard;

static void sigpipe_block(sigpipe_guard *g)
{
    sigset_t set, pend;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigpending(&pend);
    g->was_pending = sigismember(&pend, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, &g->old);
}

static void sigpipe_restore(sigpipe_guard *g)
{
    sigset_t set, pend;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    if (!g->was_pending) {
        sigpending(&pend);
        if (sigismember(&pend, SIGPIPE)) {
            struct timespec zero = {0, 0};
            sigtimedwait(&set, NULL, &zero);
        }
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

static bool handshake_loop(sky__h1 *c, SSL *s, const url_parts *u, int64_t deadline,
                           outcome *oc);

static bool tls_handshake(sky__h1 *c, const url_parts *u, int64_t deadline, outcome *oc)
{
    if (!make_ctx(c)) {
        fail(oc, SKY_ENET, SKY_HTTP_CERT_FAILED, "TLS certificate verification failed for %s: %s",
             u->hostport, c->ctx_error);
        return false;
    }
    S.err_clear_error();
    SSL *s = S.ssl_new(c->ctx);
    if (!s || S.set_fd(s, c->fd) != 1) {
        if (s)
            S.ssl_free(s);
        fail(oc, SKY_ENOMEM, SKY_HTTP_TLS_FAILED, "TLS setup failed%s%s", NULL, NULL);
        return false;
    }
    c->ssl = s;
    bool ip = is_ip(u->host);
    if (!ip)
        S.ctrl(s, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, (void *)u->host);
    if (!c->o.insecure) {
        int ok = ip ? S.param_set1_ip_asc(S.get0_param(s), u->host) : S.set1_host(s, u->host);
        if (ok != 1) {
            fail(oc, SKY_ENET, SKY_HTTP_TLS_FAILED, "TLS setup failed for %s%s", u->host, NULL);
            return false;
        }
    }
    /* libssl writes the handshake to the socket itself: a peer gone meanwhile would raise
     * SIGPIPE */
    sigpipe_guard g;
    sigpipe_block(&g);
    bool ok = handshake_loop(c, s, u, deadline, oc);
    sigpipe_restore(&g);
    return ok;
}

static bool handshake_loop(sky__h1 *c, SSL *s, const url_parts *u, int64_t deadline,
                           outcome *oc)
{
    for (;;) {
        errno = 0;
        int r = S.connect(s);
        if (r == 1) {
            gather_attach(c);
            return true;
        }
        int e = S.get_error(s, r);
        int w = e == SSL_ERROR_WANT_READ    ? wait_fd(c->fd, POLLIN, deadline)
                : e == SSL_ERROR_WANT_WRITE ? wait_fd(c->fd, POLLOUT, deadline)
                                            : -1;
        if (w == 1)
            continue;
        if (w == 0) {
            fail(oc, SKY_ETIMEDOUT, SKY_HTTP_TLS_FAILED, "TLS handshake with %s timed out%s",
                 u->hostport, NULL);
            return false;
        }
        long vr = S.get_verify_result(s);
        char r2[200];
        ssl_reason(r2, sizeof r2);
        if (vr != X509_V_OK && !c->o.insecure)
            fail(oc, SKY_ENET, SKY_HTTP_CERT_FAILED,
                 "TLS certificate verification failed for %s: %s", u->hostport,
                 S.verify_error_string(vr));
        else
            fail(oc, SKY_ENET, SKY_HTTP_TLS_FAILED, "TLS connect error with %s: %s", u->hostport,
                 r2);
        return false;
    }
}

/* The kept-alive connection is usable only if the server has sent nothing since the last
 * response: readable (data or EOF) or hung up means it closed or misbehaves. */
static bool conn_idle_ok(sky__h1 *c)
{
    if (c->fd < 0 || c->rlen)
        return false;
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    int r = poll(&pfd, 1, 0);
    return r == 0;
}

/* ---- writing -------------------------------------------------------------------------------- */

/* After a send to fd failed: 1 when it can be tried again (the socket was full and is
 * writable now, or a signal interrupted it), 0 timed out, -1 failed (why set). */
static int send_failed(int fd, int64_t deadline, char *why, size_t whylen)
{
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        int w = wait_fd(fd, POLLOUT, deadline);
        if (w < 0)
            snprintf(why, whylen, "%s", strerror(errno));
        return w;
    }
    snprintf(why, whylen, "%s", strerror(errno));
    return -1;
}

/* Gathering TLS records. libssl writes each record (at most 16 KiB of plaintext) with its own
 * write(2): 64 system calls and 64 loopback or NIC packets' worth of TCP work per MiB of body,
 * the largest share of the shipper's system time (bench/RESULTS.md, session 8 "shipping": a
 * system call costs 1.25 us of CPU on the benchmark's guest, and a loopback loop sends in
 * 256 KiB writes for 0.13-0.16 ns a byte against 0.21-0.24 in 16 KiB ones; the shipper:
 * 5 % less CPU per byte, the median of 8 interleaved pairs). After the handshake
 * the connection's write BIO is one of ours, which appends the records to c->wbuf (a copy
 * of each record, in the cache) and asks libssl to retry once GATHER_CAP bytes wait;
 * write_all() then sends them with one send(2) and carries on. Everything gathered is sent
 * before write_all() returns, so nothing waits in the buffer while the answer is awaited.
 * What the server can have received is what the socket accepted (`wire`), not what libssl
 * accepted: perform_locked() classifies a failure by both. The handshake keeps the socket
 * BIO (its messages are flushed as libssl expects), and the method is made once. */
#define GATHER_CAP (256u << 10)
static BIO_METHOD *gather_meth;

static int gather_write(BIO *b, const char *data, int len)
{
    sky__h1 *c = S.bio_get_data(b);
    S.bio_clear_flags(b, BIO_FLAGS_RWS | BIO_FLAGS_SHOULD_RETRY);
    size_t room = GATHER_CAP - c->wlen;
    if (len <= 0)
        return 0;
    if (!room) {
        S.bio_set_flags(b, BIO_FLAGS_WRITE | BIO_FLAGS_SHOULD_RETRY);
        return -1;
    }
    size_t k = (size_t)len < room ? (size_t)len : room; /* libssl resumes a partial record */
    memcpy(c->wbuf + c->wlen, data, k);
    c->wlen += k;
    return (int)k;
}

/* FLUSH: libssl flushes after its own messages (a KeyUpdate answered while reading); they stay
 * in order in the buffer and leave with the next request, before its bytes. */
static long gather_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b, (void)num, (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static void gather_method_make(void)
{
    int type = S.bio_get_new_index();
    BIO_METHOD *m = type > 0 ? S.bio_meth_new(type | BIO_TYPE_SOURCE_SINK, "skylog gather")
                             : NULL;
    if (m && S.bio_meth_set_write(m, gather_write) == 1 &&
        S.bio_meth_set_ctrl(m, gather_ctrl) == 1)
        gather_meth = m; /* else: records go out one write each, as libssl does (m leaks) */
}

/* After the handshake: the connection's records are gathered (when the buffer and BIO can
 * be made; otherwise they go out as libssl writes them). */
static void gather_attach(sky__h1 *c)
{
    if (!gather_meth || (!c->wbuf && !(c->wbuf = malloc(GATHER_CAP))))
        return;
    BIO *b = S.bio_new(gather_meth);
    if (!b)
        return;
    S.bio_set_data(b, c);
    S.bio_set_init(b, 1);
    S.set0_wbio(c->ssl, b); /* the socket BIO stays the read BIO */
    c->wlen = c->woff = 0;
    c->gather = true;
}

/* Sends the gathered records. 1 done, 0 timed out, -1 failed (why set). */
static int gather_flush(sky__h1 *c, int64_t deadline, char *why, size_t whylen)
{
    while (c->woff < c->wlen) {
        ssize_t k = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
        if (k >= 0) {
            c->woff += (size_t)k;
            c->wire += (size_t)k;
            continue;
        }
        int w = send_failed(c->fd, deadline, why, whylen);
        if (w != 1)
            return w;
    }
    c->wlen = c->woff = 0;
    return 1;
}

/* Writes `n` bytes of `iov` (plain: one sendmsg per ready socket; TLS: SSL_write per piece).
 * *sent counts what was accepted (TLS with gathering: by libssl; c->wire says what reached
 * the socket). 1 done, 0 timed out, -1 failed (errno or ssl reason in why). */
static int write_all(sky__h1 *c, struct iovec *iov, int niov, size_t *sent, int64_t deadline,
                     char *why, size_t whylen)
{
    int i = 0;
    c->wire = 0;
    if (c->ssl) {
        /* libssl's error queue is emptied before the first SSL_write and after each one that
         * failed or asked to wait, not before every one: SSL_write returns after each 16 KiB
         * record (partial writes), and a success leaves the queue as it found it, so
         * SSL_get_error() still reads this request's own errors (a clear per record was ~0.5 %
         * of a shipper's CPU: bench/RESULTS.md, session 11) */
        S.err_clear_error();
        if (c->gather && !c->wbuf_hot) {
            size_t total = 0;
            for (int j = 0; j < niov; j++)
                total += iov[j].iov_len;
            if (total >= GATHER_CAP) { /* the whole buffer will be written: fault it in now */
                sky__prefault(c->wbuf, GATHER_CAP);
                c->wbuf_hot = true;
            }
        }
    }
    while (i < niov) {
        if (iov[i].iov_len == 0) {
            i++;
            continue;
        }
        ssize_t k;
        if (c->ssl) {
            size_t piece = iov[i].iov_len < (1u << 20) ? iov[i].iov_len : (1u << 20);
            errno = 0;
            int r = S.write(c->ssl, iov[i].iov_base, (int)piece);
            if (r <= 0) {
                int e = S.get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_WRITE && c->gather && c->wlen > c->woff) {
                    int w = gather_flush(c, deadline, why, whylen);
                    if (w == 1) {
                        S.err_clear_error();
                        continue;
                    }
                    return w;
                }
                int w = e == SSL_ERROR_WANT_WRITE  ? wait_fd(c->fd, POLLOUT, deadline)
                        : e == SSL_ERROR_WANT_READ ? wait_fd(c->fd, POLLIN, deadline)
                                                   : -1;
                if (w == 1) {
                    S.err_clear_error();
                    continue;
                }
                if (w < 0)
                    ssl_reason(why, whylen);
                return w;
            }
            k = r;
        } else {
            struct msghdr m = {.msg_iov = iov + i, .msg_iovlen = (size_t)(niov - i)};
            k = sendmsg(c->fd, &m, MSG_NOSIGNAL);
            if (k < 0) {
                int w = send_failed(c->fd, deadline, why, whylen);
                if (w == 1)
                    continue;
                return w;
            }
        }
        *sent += (size_t)k;
        size_t left = (size_t)k;
        while (left && i < niov) {
            size_t t = left < iov[i].iov_len ? left : iov[i].iov_len;
            iov[i].iov_base = (char *)iov[i].iov_base + t;
            iov[i].iov_len -= t;
            left -= t;
            if (!iov[i].iov_len)
                i++;
        }
    }
    return c->gather ? gather_flush(c, deadline, why, whylen) : 1;
}

/* ---- reading -------------------------------------------------------------------------------- */

/* Reads more into c->rbuf (growing it up to `cap_max`). >0 bytes, 0 EOF, -1 error, -2 timeout. */
static ssize_t read_more(sky__h1 *c, size_t cap_max, int64_t deadline, char *why, size_t whylen)
{
    if (c->rcap - c->rlen < 4096) {
        size_t cap = c->rcap ? c->rcap * 2 : 16384;
        if (cap > cap_max)
            cap = cap_max;
        if (cap <= c->rlen)
            return -1;
        char *n = realloc(c->rbuf, cap);
        if (!n)
            return -1;
        c->rbuf = n;
        c->rcap = cap;
    }
    for (;;) {
        if (c->ssl) {
            S.err_clear_error();
            errno = 0;
            size_t room = c->rcap - c->rlen;
            int r = S.read(c->ssl, c->rbuf + c->rlen, room > INT32_MAX ? INT32_MAX : (int)room);
            if (r > 0) {
                c->rlen += (size_t)r;
                return r;
            }
            int e = S.get_error(c->ssl, r);
            if (e == SSL_ERROR_ZERO_RETURN)
                return 0;
            int w = e == SSL_ERROR_WANT_READ    ? wait_fd(c->fd, POLLIN, deadline)
                    : e == SSL_ERROR_WANT_WRITE ? wait_fd(c->fd, POLLOUT, deadline)
                                                : -1;
            if (w == 1)
                continue;
            if (w == 0)
                return -2;
            if (e == SSL_ERROR_SYSCALL && errno == 0)
                return 0; /* EOF without close_notify: treated as a close */
            ssl_reason(why, whylen);
            return -1;
        }
        ssize_t r = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
        if (r >= 0) {
            c->rlen += (size_t)r;
            return r;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            int w = wait_fd(c->fd, POLLIN, deadline);
            if (w == 1)
                continue;
            if (w == 0)
                return -2;
        }
        snprintf(why, whylen, "%s", strerror(errno));
        return -1;
    }
}

static void consume(sky__h1 *c, size_t n)
{
    memmove(c->rbuf, c->rbuf + n, c->rlen - n);
    c->rlen -= n;
}

/* Builds the owned response from a parsed head: one allocation for the array and strings. */
static bool fill_headers(const char *head, const sky__h1_head *h, sky_http_response *out)
{
    if (!h->n_fields)
        return true;
    size_t arr = sizeof(sky_aws_header) * h->n_fields, strs = 0;
    for (size_t i = 0; i < h->n_fields; i++)
        strs += h->fields[i].name_len + h->fields[i].value_len + 2;
    char *mem = malloc(arr + strs);
    if (!mem)
        return false;
    sky_aws_header *hd = (sky_aws_header *)mem;
    char *p = mem + arr;
    for (size_t i = 0; i < h->n_fields; i++) {
        const sky__h1_field *f = &h->fields[i];
        hd[i].name = p;
        memcpy(p, head + f->name, f->name_len);
        p += f->name_len;
        *p++ = '\0';
        hd[i].value = p;
        memcpy(p, head + f->value, f->value_len);
        p += f->value_len;
        *p++ = '\0';
    }
    out->headers = hd;
    out->n_headers = h->n_fields;
    return true;
}

/* ---- one request ------------------------------------------------------------------------- */

static bool valid_header(const sky_aws_header *h)
{
    if (!h->name || !*h->name || strpbrk(h->name, ":\r\n"))
        return false;
    for (const char *q = h->name; *q; q++)
        if (!is_tchar((unsigned char)*q))
            return false;
    return !(h->value && strpbrk(h->value, "\r\n"));
}

static bool has_header(const sky_http_request *req, const char *name)
{
    for (size_t i = 0; i < req->n_headers; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return true;
    return false;
}

static sky_status perform_locked(sky__h1 *c, const sky_http_request *req, const url_parts *u,
                                 const char *head, size_t head_len, sky_http_response *out,
                                 outcome *oc)
{
    int64_t timeout = req->timeout_ms > 0 ? req->timeout_ms : c->o.timeout_ms;
    int64_t deadline = now_ms() + timeout;
    bool has_body = req->body && req->body_len;
    bool is_head = strcmp(req->method, "HEAD") == 0;
    size_t total = head_len + (has_body ? req->body_len : 0);
    size_t sent = 0;

    for (int attempt = 0;; attempt++) {
        bool same = c->fd >= 0 && c->tls == u->tls && c->port == u->port &&
                    strcmp(c->host, u->host) == 0;
        if (!same || !conn_idle_ok(c))
            conn_close(c);
        bool reused = c->fd >= 0;
        if (!reused) {
            /* the connect timeout covers resolving, connecting and the TLS handshake, as
             * libcurl's CURLOPT_CONNECTTIMEOUT does */
            int64_t cdl = now_ms() + c->o.connect_timeout_ms;
            if (cdl > deadline)
                cdl = deadline;
            if (!connect_tcp(c, u, cdl, oc))
                return oc->st;
            c->tls = u->tls;
            c->port = u->port;
            snprintf(c->host, sizeof c->host, "%s", u->host);
            if (u->tls && !tls_handshake(c, u, cdl, oc)) {
                conn_close(c);
                return oc->st;
            }
        }
        struct iovec iov[2] = {{(void *)head, head_len},
                               {(void *)(has_body ? req->body : ""), has_body ? req->body_len : 0}};
        char why[200] = "";
        /* Our own sends pass MSG_NOSIGNAL (plain, and TLS records gathered); only libssl
         * writing to the socket itself (no gathering BIO) can raise SIGPIPE. The guard is
         * four system calls a request, so it is kept for that case alone. */
        bool guard = c->ssl && !c->gather;
        sigpipe_guard g;
        if (guard)
            sigpipe_block(&g);
        int w = write_all(c, iov, 2, &sent, deadline, why, sizeof why);
        if (guard)
            sigpipe_restore(&g);
        if (w == 1)
            break;
        if (c->gather) { /* what the server can have: what reached the socket */
            if (!c->wire)
                sent = 0;
            else if (c->wlen > c->woff && sent == total)
                sent = total - 1; /* its last records never left: incomplete */
            else if (!sent)
                sent = 1;
        }
        conn_close(c);
        if (sent == 0 && reused && w < 0 && attempt == 0)
            continue; /* not one byte accepted on a connection the server had closed */
        sky_http_failure f = sent == total ? SKY_HTTP_NO_ANSWER
                             : sent        ? SKY_HTTP_INCOMPLETE
                             : reused      ? SKY_HTTP_INCOMPLETE /* second try: be careful */
                                           : SKY_HTTP_NOT_CONNECTED;
        if (w == 0)
            fail(oc, SKY_ETIMEDOUT, f, "Operation timed out while sending the request%s%s", NULL,
                 NULL);
        else
            fail(oc, SKY_ENET, f, "Send failure: %s%s", why, NULL);
        return oc->st;
    }

    /* the response */
    sky__h1_head *h = malloc(sizeof *h);
    if (!h) {
        conn_close(c);
        fail(oc, SKY_ENOMEM, SKY_HTTP_NO_ANSWER, "out of memory%s%s", NULL, NULL);
        return oc->st;
    }
    char why[200] = "";
    sky_status st = SKY_OK;
    for (;;) {
        int pr = sky__h1_parse_head(c->rbuf ? c->rbuf : "", c->rlen, h);
        if (pr < 0) {
            fail(oc, SKY_ENET, SKY_HTTP_NO_ANSWER, "malformed HTTP response%s%s", NULL, NULL);
            goto broken;
        }
        if (pr == 0) {
            ssize_t r = read_more(c, SKY__H1_MAX_HEAD + 16384, deadline, why, sizeof why);
            if (r == -2) {
                fail(oc, SKY_ETIMEDOUT, SKY_HTTP_NO_ANSWER,
                     "Operation timed out waiting for the response%s%s", NULL, NULL);
                goto broken;
            }
            if (r <= 0) {
                fail(oc, SKY_ENET, SKY_HTTP_NO_ANSWER,
                     r == 0 ? "Empty reply from server%s%s" : "Recv failure: %s%s", why, NULL);
                goto broken;
            }
            continue;
        }
        if (h->status >= 100 && h->status < 200 && h->status != 101) {
            consume(c, h->head_len); /* 100 Continue and friends: the real answer follows */
            continue;
        }
        break;
    }
    if (h->status == 101) {
        fail(oc, SKY_ENET, SKY_HTTP_NO_ANSWER, "unexpected protocol switch%s%s", NULL, NULL);
        goto broken;
    }
    /* the body */
    size_t max = c->o.max_response_bytes;
    char *body = NULL;
    size_t blen = 0, bcap = 0;
    bool no_body = is_head || h->status == 204 || h->status == 304;
    bool keep = !h->close;
    if (!fill_headers(c->rbuf, h, out)) {
        fail(oc, SKY_ENOMEM, SKY_HTTP_NO_ANSWER, "out of memory%s%s", NULL, NULL);
        goto broken;
    }
    out->status = h->status;
    consume(c, h->head_len);
    if (no_body) {
        /* nothing */
    } else if (h->chunked) {
        sky__h1_chunked d = {0};
        for (;;) {
            size_t used = 0;
            int r = c->rlen ? sky__h1_dechunk(&d, c->rbuf, c->rlen, &used, &body, &blen, &bcap,
                                              max)
                            : 0;
            if (r < 0) {
                free(body);
                if (r == -2)
                    fail(oc, SKY_ELIMIT, SKY_HTTP_ANSWERED, "response body too large%s%s",
                         NULL, NULL);
                else if (r == -3)
                    fail(oc, SKY_ENOMEM, SKY_HTTP_NO_ANSWER, "out of memory%s%s", NULL, NULL);
                else
                    fail(oc, SKY_ENET, SKY_HTTP_NO_ANSWER, "malformed chunked body%s%s", NULL,
                         NULL);
                goto broken;
            }
            consume(c, used);
            if (r == 1)
                break;
            ssize_t k = read_more(c, 1u << 20, deadline, why, sizeof why);
            if (k <= 0) {
                free(body);
                if (k == -2)
                    fail(oc, SKY_ETIMEDOUT, SKY_HTTP_NO_ANSWER,
                         "Operation timed out reading the response%s%s", NULL, NULL);
                else
                    fail(oc, SKY_ENET, SKY_HTTP_NO_ANSWER, "transfer closed early: %s%s",
                         k == 0 ? "end of stream" : why, NULL);
                goto broken;
            }
        }
    } else {
        /* Content-Length, or else everything up to the close (RFC 9112 6.3: a response with
         * neither length nor chunks ends when the server closes) */
        bool to_close = h->content_length < 0;
        if (!to_close && (uint64_t)h->content_length > max) {
            fail(oc, SKY_ELIMIT, SKY_HTTP_ANSWERED, "response body too large%s%s", NULL, NULL);
            goto broken;
        }
        size_t want = to_close ? 0 : (size_t)h->content_length;
        bcap = (to_close ? 4096 : want) + 1;
        body = malloc(bcap);
        if (!body) {
            fail(oc, SKY_ENOMEM, SKY_HTTP_NO_ANSWER, "out of memory%s%s", NULL, NULL);
            goto broken;
        }
        for (;;) {
            size_t k = c->rlen;
            if (!to_close && k > want - blen)
                k = want - blen;
            if (blen + k > max) {
                free(body);
                fail(oc, SKY_ELIMIT, SKY_HTTP_ANSWERED, "response body too large%s%s", NULL,
                     NULL);
                goto broken;
            }
            if (blen + k + 1 > bcap) {
                size_t nc = bcap * 2 > blen + k + 1 ? bcap * 2 : blen + k + 1;
                char *n = realloc(body, nc);
                if (!n) {
                    free(body);
                    fail(oc, SKY_ENOMEM, SKY_HTTP_NO_ANSWER, "out of memory%s%s", NULL, NULL);
                    goto broken;
                }
                body = n;
                bcap = nc;
            }
            memcpy(body + blen, c->rbuf, k);
            blen += k;
            consume(c, k);
            if (!to_close && blen == want)
                break;
            ssize_t r = read_more(c, 1u << 20, deadline, why, sizeof why);
            if (r == 0 && to_close)
                break;
            if (r <= 0) {
                free(body);
                if (r == -2)
                    fail(oc, SKY_ETIMEDOUT, SKY_HTTP_NO_ANSWER,
                         "Operation timed out reading the response%s%s", NULL, NULL);
                else
                    fail(oc, SKY_ENET, SKY_HTTP_NO_ANSWER, "transfer closed early: %s%s",
                         r == 0 ? "end of stream" : why, NULL);
                goto broken;
            }
        }
        keep = keep && !to_close;
    }
    if (!body)
        body = malloc(1);
    if (!body) {
        fail(oc, SKY_ENOMEM, SKY_HTTP_NO_ANSWER, "out of memory%s%s", NULL, NULL);
        goto broken;
    }
    body[blen] = '\0';
    out->body = body;
    out->body_len = blen;
    if (!keep || c->rlen)
        conn_close(c); /* bytes after the answer: the connection cannot be trusted */
    free(h);
    return st;

broken:
    free(h);
    conn_close(c);
    return oc->st;
}

sky_status sky__h1_perform(sky__h1 *c, const sky_http_request *req, sky_http_response *out,
                           char *errbuf, size_t errlen)
{
    url_parts u;
    if (!parse_url(req->url, &u)) {
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "URL rejected: malformed or unsupported");
        return SKY_EINVAL;
    }
    if (u.tls && !sky__h1_tls_load(errbuf, errlen))
        return SKY_EUNSUPPORTED;
    /* the head: request line, Host, User-Agent, Content-Length, the caller's headers */
    bool has_body = req->body && req->body_len;
    bool is_get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
    for (const char *q = req->method; *q; q++)
        if (!is_tchar((unsigned char)*q))
            return SKY_EINVAL;
    sky_buf hd = {0};
    size_t tlen = strcspn(u.target, "#");
    /* an empty path is "/" (a precision of 0 would print nothing of it) */
    sky__buf_printf(&hd, "%s %s%.*s HTTP/1.1\r\n", req->method, tlen && *u.target != '/' ? "/" : "",
                   (int)(tlen ? tlen : 1), tlen ? u.target : "/");
    if (!has_header(req, "Host"))
        sky__buf_printf(&hd, "Host: %s\r\n", u.hostport);
    if (!has_header(req, "User-Agent"))
        sky__buf_printf(&hd, "User-Agent: %s\r\n", c->o.user_agent);
    if (!has_header(req, "Accept"))
        sky__buf_printf(&hd, "Accept: */*\r\n");
    if (!is_get || has_body)
        sky__buf_printf(&hd, "Content-Length: %zu\r\n", has_body ? req->body_len : (size_t)0);
    for (size_t i = 0; i < req->n_headers; i++) {
        const sky_aws_header *h = &req->headers[i];
        if (!valid_header(h)) {
            sky__buf_wipe(&hd);
            if (errbuf && errlen)
                snprintf(errbuf, errlen, "invalid header name or value");
            return SKY_EINVAL;
        }
        if (strcasecmp(h->name, "Content-Length") == 0 || strcasecmp(h->name, "Expect") == 0 ||
            strcasecmp(h->name, "Transfer-Encoding") == 0)
            continue; /* ours is the truth */
        sky__buf_printf(&hd, "%s: %s\r\n", h->name, h->value ? h->value : "");
    }
    sky__buf_append(&hd, "\r\n", 2);
    if (hd.oom) {
        sky__buf_wipe(&hd);
        return SKY_ENOMEM;
    }
    outcome oc = {.st = SKY_OK};
    pthread_mutex_lock(&c->lock);
    sky_status st = perform_locked(c, req, &u, hd.p, hd.len, out, &oc);
    pthread_mutex_unlock(&c->lock);
    sky__buf_wipe(&hd); /* it held the Authorization header */
    if (st != SKY_OK) {
        sky_http_response_free(out);
        out->failure = oc.failure;
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "%s", oc.why);
    }
    return st;
}
