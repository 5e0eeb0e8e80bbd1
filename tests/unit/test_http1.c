/* test_http1.c - the native HTTP/1.1 transport (src/aws/http1.c): the response parser and the
 * chunked decoder on exact inputs, and the client against a scripted server thread on
 * 127.0.0.1: keep-alive reuse, an idle connection the server closed (dropped before sending,
 * nothing lost or sent twice), chunked answers, limits, and how far a failed request got
 * (refused = NOT_CONNECTED; the connection dropped after the whole body = NO_ANSWER, after part
 * of it = INCOMPLETE), and a resolver that never answers (through the resolver seam, so no DNS
 * and no network) and a TLS handshake that never ends both bounded by the connect timeout; which clients share a TLS
 * context (same CA bundle and verification). TLS is exercised end to end in
 * tests/integration/test_http_native.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "aws/http1.h"
#include <skylog/aws.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int parse(const char *s, sky__h1_head *h)
{
    return sky__h1_parse_head(s, strlen(s), h);
}

static void test_parse_head(void **state)
{
    (void)state;
    sky__h1_head h;
    const char *ok = "HTTP/1.1 200 OK\r\nx-amzn-RequestId: abc\r\nContent-Length: 5\r\n"
                     "Retry-After:  3 \r\n\r\nhello";
    assert_int_equal(parse(ok, &h), 1);
    assert_int_equal(h.status, 200);
    assert_int_equal(h.content_length, 5);
    assert_int_equal(h.head_len, strlen(ok) - 5);
    assert_int_equal(h.n_fields, 3);
    assert_memory_equal(ok + h.fields[2].value, "3", 1);
    assert_int_equal(h.fields[2].value_len, 1);
    assert_false(h.close);
    /* incomplete: more needed */
    assert_int_equal(sky__h1_parse_head(ok, 20, &h), 0);
    /* no reason phrase; HTTP/1.0 closes unless keep-alive */
    assert_int_equal(parse("HTTP/1.0 503\r\n\r\n", &h), 1);
    assert_int_equal(h.status, 503);
    assert_true(h.close);
    assert_int_equal(parse("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n\r\n", &h), 1);
    assert_false(h.close);
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nConnection: foo, close\r\n\r\n", &h), 1);
    assert_true(h.close);
    /* chunked wins over a length, and then the connection is not reused */
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: "
                           "chunked\r\n\r\n", &h), 1);
    assert_true(h.chunked);
    assert_int_equal(h.content_length, -1);
    assert_true(h.close);
    /* malformed */
    const char *bad[] = {
        "HTTP/2 200 OK\r\n\r\n", "HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 099 x\r\n\r\n",
        "HTTP/1.1 200OK\r\n\r\n", "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
        "HTTP/1.1 200 OK\r\n folded: x\r\n\r\n", "HTTP/1.1 200 OK\r\nA b: x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX: a\nb\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (parse(bad[i], &h) != -1)
            fail_msg("accepted: %s", bad[i]);
    }
    /* limits: a head that never ends, and too many fields */
    size_t big = SKY__H1_MAX_HEAD + 10;
    char *b = malloc(big);
    memcpy(b, "HTTP/1.1 200 OK\r\nX: ", 20);
    memset(b + 20, 'a', big - 20);
    assert_int_equal(sky__h1_parse_head(b, big, &h), -1);
    size_t n = 0;
    n += (size_t)sprintf(b, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i <= SKY__H1_MAX_HEADERS; i++)
        n += (size_t)sprintf(b + n, "X%d: v\r\n", i);
    n += (size_t)sprintf(b + n, "\r\n");
    assert_int_equal(sky__h1_parse_head(b, n, &h), -1);
    free(b);
}

static int dechunk_all(const char *in, size_t step, size_t max, char **out, size_t *len)
{
    sky__h1_chunked d = {0};
    size_t cap = 0, n = strlen(in), off = 0;
    *out = NULL;
    *len = 0;
    while (off < n) {
        size_t k = n - off < step ? n - off : step, used = 0;
        int r = sky__h1_dechunk(&d, in + off, k, &used, out, len, &cap, max);
        if (r != 0)
            return r == 1 && off + used == n ? 1 : r == 1 ? 2 : r;
        off += used;
    }
    return 0;
}

static void test_dechunk(void **state)
{
    (void)state;
    const char *in = "5;ext=1\r\nhello\r\nB\r\n, world!!!!\r\n0\r\nTrailer: x\r\n\r\n";
    for (size_t step = 1; step <= strlen(in); step++) {
        char *out;
        size_t len;
        assert_int_equal(dechunk_all(in, step, 100, &out, &len), 1);
        assert_int_equal(len, 16);
        assert_memory_equal(out, "hello, world!!!!", 16);
        free(out);
    }
    char *out;
    size_t len;
    assert_int_equal(dechunk_all(in, 7, 10, &out, &len), -2); /* over max: refused */
    free(out);
    const char *bad[] = {"x\r\n", "5\r\nhelloX\r\n", "5\nhello", "\r\n",
                         "11111111111111111\r\n", "0\r\nbad\nline\r\n\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(dechunk_all(bad[i], 64, 100, &out, &len), -1);
        free(out);
    }
    /* a size bigger than max is refused before any allocation */
    assert_int_equal(dechunk_all("FFFFFFFFFFFF\r\n", 64, 100, &out, &len), -2);
    assert_null(out);
}

/* ---- a scripted server ------------------------------------------------------------------- */

typedef enum {
    ANSWER, ANSWER_CLOSE_IDLE, CHUNKED, DROP_AFTER_BODY, DROP_PART, HUGE, UNTIL_CLOSE
} act;

typedef struct server {
    int lfd, port;
    pthread_t th;
    act script[8];
    int n_script;
    int connections; /* accepted */
    int requests;    /* complete requests read */
    char request_line[128]; /* the last one */
    atomic_int closed; /* connections the server has closed */
} server;

static ssize_t read_request(int fd, char *buf, size_t cap, size_t max_body)
{
    size_t n = 0;
    char *end = NULL;
    while (!end) {
        ssize_t r = recv(fd, buf + n, cap - 1 - n, 0);
        if (r <= 0)
            return -1;
        n += (size_t)r;
        buf[n] = 0;
        end = strstr(buf, "\r\n\r\n");
    }
    const char *cl = strcasestr(buf, "Content-Length:");
    size_t want = cl ? strtoul(cl + 15, NULL, 10) : 0;
    size_t have = n - (size_t)(end + 4 - buf);
    size_t goal = want < max_body ? want : max_body;
    static char sink[65536];
    while (have < goal) {
        size_t k = goal - have < sizeof sink ? goal - have : sizeof sink;
        ssize_t r = recv(fd, sink, k, 0);
        if (r <= 0)
            return -1;
        have += (size_t)r;
    }
    return (ssize_t)want;
}

static void *serve(void *arg)
{
    server *s = arg;
    char *buf = malloc(1 << 16);
    int step = 0;
    while (step < s->n_script) {
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            break;
        s->connections++;
        while (step < s->n_script) {
            act a = s->script[step];
            ssize_t want = read_request(fd, buf, 1 << 16, a == DROP_PART ? 4096 : SIZE_MAX);
            if (want < 0)
                break; /* the client closed this one: next connection */
            snprintf(s->request_line, sizeof s->request_line, "%.*s", (int)strcspn(buf, "\r\n"),
                     buf);
            step++;
            if (a != DROP_PART)
                s->requests++;
            if (a == DROP_AFTER_BODY || a == DROP_PART) {
                struct linger lg = {1, 0}; /* a reset */
                setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
                break;
            }
            const char *r = a == CHUNKED
                                ? "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  "3\r\nabc\r\n0\r\n\r\n"
                            : a == HUGE ? "HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\n"
                            : a == UNTIL_CLOSE ? "HTTP/1.1 200 OK\r\n\r\nuntil the close"
                                        : "HTTP/1.1 200 OK\r\nx-amzn-RequestId: r1\r\n"
                                          "Content-Length: 2\r\n\r\nok";
            if (send(fd, r, strlen(r), MSG_NOSIGNAL) < 0)
                break;
            if (a == ANSWER_CLOSE_IDLE || a == HUGE || a == UNTIL_CLOSE)
                break; /* closed while idle: the client must notice before reusing it */
        }
        close(fd);
        atomic_fetch_add(&s->closed, 1);
    }
    free(buf);
    return NULL;
}

/* A socket listening on 127.0.0.1, on a port the kernel picks (*port). */
static int listen_loopback(int *port)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t l = sizeof a;
    getsockname(lfd, (struct sockaddr *)&a, &l);
    *port = ntohs(a.sin_port);
    assert_int_equal(listen(lfd, 8), 0);
    return lfd;
}

static void server_start(server *s)
{
    s->lfd = listen_loopback(&s->port);
    pthread_create(&s->th, NULL, serve, s);
}

static void server_stop(server *s)
{
    shutdown(s->lfd, SHUT_RDWR);
    pthread_join(s->th, NULL);
    close(s->lfd);
}

static sky_status post(sky__h1 *c, int port, const void *body, size_t len,
                       sky_http_response *r)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    sky_aws_header h[] = {{"X-Amz-Target", "Logs_20140328.PutLogEvents"}};
    sky_http_request req = {.method = "POST", .url = url, .headers = h, .n_headers = 1,
                            .body = body, .body_len = len};
    char why[256];
    memset(r, 0, sizeof *r);
    return sky__h1_perform(c, &req, r, why, sizeof why);
}

static sky__h1 *client(void)
{
    static sky_http_opts o = {.connect_timeout_ms = 2000, .timeout_ms = 20000,
                              .max_response_bytes = 1 << 20, .user_agent = "test"};
    sky__h1 *c;
    assert_int_equal(sky__h1_new(&o, &c), SKY_OK);
    return c;
}

static void test_keep_alive_and_idle_close(void **state)
{
    (void)state;
    server s = {.script = {ANSWER, ANSWER, ANSWER_CLOSE_IDLE, CHUNKED, UNTIL_CLOSE, ANSWER},
                .n_script = 6};
    server_start(&s);
    sky__h1 *c = client();
    sky_http_response r;
    for (int i = 0; i < 6; i++) {
        assert_int_equal(post(c, s.port, "{}", 2, &r), SKY_OK);
        assert_int_equal(r.status, 200);
        if (i == 3) {
            assert_string_equal(r.body, "abc");
        } else if (i == 4) {
            assert_string_equal(r.body, "until the close"); /* neither length nor chunks */
        } else {
            assert_string_equal(r.body, "ok");
            assert_string_equal(sky_http_response_header(&r, "X-Amzn-RequestId"), "r1");
        }
        sky_http_response_free(&r);
        if (i == 2) /* the server closes it (on loopback, its FIN is queued to us by then):
                       the client sees the close before it writes the next request */
            for (int w = 0; !atomic_load(&s.closed) && w < 60000; w++)
                usleep(1000);
    }
    sky__h1_free(c);
    server_stop(&s);
    assert_int_equal(s.requests, 6); /* each request once */
    assert_int_equal(s.connections, 3);
}

static void test_failures_say_how_far(void **state)
{
    (void)state;
    sky__h1 *c = client();
    sky_http_response r;
    /* refused: nothing sent */
    server s0 = {.n_script = 0};
    server_start(&s0);
    int dead = s0.port;
    server_stop(&s0);
    assert_int_equal(post(c, dead, "{}", 2, &r), SKY_ENET);
    assert_int_equal(r.failure, SKY_HTTP_NOT_CONNECTED);

    /* dropped after the whole body: the server may have processed it */
    server s = {.script = {DROP_AFTER_BODY}, .n_script = 1};
    server_start(&s);
    assert_int_equal(post(c, s.port, "{}", 2, &r), SKY_ENET);
    assert_int_equal(r.failure, SKY_HTTP_NO_ANSWER);
    server_stop(&s);

    /* dropped after part of a large body: it cannot have been processed */
    size_t big = 64u << 20;
    char *body = calloc(1, big);
    server s2 = {.script = {DROP_PART}, .n_script = 1};
    server_start(&s2);
    assert_int_equal(post(c, s2.port, body, big, &r), SKY_ENET);
    assert_int_equal(r.failure, SKY_HTTP_INCOMPLETE);
    server_stop(&s2);
    free(body);

    /* a declared body over the limit: refused before allocating it */
    server s3 = {.script = {HUGE}, .n_script = 1};
    server_start(&s3);
    assert_int_equal(post(c, s3.port, "{}", 2, &r), SKY_ELIMIT);
    server_stop(&s3);
    sky__h1_free(c);
}

/* ---- resolving ------------------------------------------------------------------------------ */

/* A resolver like one whose DNS server never answers: it hangs until the test lets it go (or a
 * minute has passed), then answers 127.0.0.1, a result somebody must free. */
static pthread_mutex_t stuck_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stuck_cv = PTHREAD_COND_INITIALIZER;
static bool stuck_release;
static int stuck_entered, stuck_returned;

static int stuck_resolver(const char *host, const char *port, const struct addrinfo *hints,
                          struct addrinfo **res)
{
    (void)host;
    pthread_mutex_lock(&stuck_mu);
    stuck_entered++;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 60;
    while (!stuck_release && pthread_cond_timedwait(&stuck_cv, &stuck_mu, &until) != ETIMEDOUT) {
    }
    pthread_mutex_unlock(&stuck_mu);
    struct addrinfo h = *hints;
    h.ai_flags |= AI_NUMERICHOST;
    int rc = getaddrinfo("127.0.0.1", port, &h, res);
    pthread_mutex_lock(&stuck_mu);
    stuck_returned++;
    pthread_cond_broadcast(&stuck_cv);
    pthread_mutex_unlock(&stuck_mu);
    return rc;
}

/* Every name is 127.0.0.1, at once. */
static int local_resolver(const char *host, const char *port, const struct addrinfo *hints,
                          struct addrinfo **res)
{
    (void)host;
    struct addrinfo h = *hints;
    h.ai_flags |= AI_NUMERICHOST;
    return getaddrinfo("127.0.0.1", port, &h, res);
}

static sky_status post_url(sky__h1 *c, const char *url, sky_http_response *r, char *why,
                           size_t whylen)
{
    sky_http_request req = {.method = "POST", .url = url, .body = "{}", .body_len = 2};
    memset(r, 0, sizeof *r);
    return sky__h1_perform(c, &req, r, why, whylen);
}

/* getaddrinfo() has no timeout: the connect timeout must bound it. The answer is a timeout of
 * the connection (retried like one, NOT_CONNECTED: nothing was sent), naming the host; not
 * "Could not resolve", which is what waiting for the stuck resolver would have given. */
static void test_resolving_bounded_by_connect_timeout(void **state)
{
    (void)state;
    static sky_http_opts o = {.connect_timeout_ms = 300, .timeout_ms = 120000,
                              .max_response_bytes = 1 << 20, .user_agent = "test"};
    sky__h1 *c;
    assert_int_equal(sky__h1_new(&o, &c), SKY_OK);
    sky__h1_set_resolver(c, stuck_resolver);
    sky_http_response r;
    char why[256] = "";
    assert_int_equal(post_url(c, "http://stuck.skylog-test.invalid:9/", &r, why, sizeof why),
                     SKY_ETIMEDOUT);
    assert_int_equal(r.failure, SKY_HTTP_NOT_CONNECTED);
    assert_non_null(strstr(why, "Resolving host stuck.skylog-test.invalid timed out"));
    pthread_mutex_lock(&stuck_mu);
    assert_int_equal(stuck_entered, 1);
    assert_int_equal(stuck_returned, 0); /* it returned while the resolver still hung */
    /* let it answer late: the helper frees that answer (LeakSanitizer would say otherwise) */
    stuck_release = true;
    pthread_cond_broadcast(&stuck_cv);
    while (stuck_returned == 0)
        pthread_cond_wait(&stuck_cv, &stuck_mu);
    pthread_mutex_unlock(&stuck_mu);

    /* a name that resolves goes through the helper too, and the request is answered; a URL
     * without a path asks for "/" */
    server s = {.script = {ANSWER}, .n_script = 1};
    server_start(&s);
    sky__h1_set_resolver(c, local_resolver);
    char url[96];
    snprintf(url, sizeof url, "http://svc.skylog-test.invalid:%d", s.port);
    assert_int_equal(post_url(c, url, &r, why, sizeof why), SKY_OK);
    assert_int_equal(r.status, 200);
    sky_http_response_free(&r);
    sky__h1_free(c);
    server_stop(&s);
    assert_string_equal(s.request_line, "POST / HTTP/1.1");
    usleep(50 * 1000); /* the late helper lets go of its job (nothing is asserted on time) */
}

/* The connect timeout covers the TLS handshake too (as libcurl's does): a server that accepts
 * the connection and never answers the ClientHello is a handshake timeout well before the
 * request's own timeout (the bound checked is generous: half of that). */
static void test_tls_handshake_bounded_by_connect_timeout(void **state)
{
    (void)state;
    char why[256] = "";
    if (!sky__h1_tls_load(why, sizeof why))
        skip(); /* no libssl: test_http_native.py says so too */
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t l = sizeof a;
    getsockname(lfd, (struct sockaddr *)&a, &l);
    assert_int_equal(listen(lfd, 8), 0); /* the kernel completes the connect; nobody reads */
    static sky_http_opts o = {.connect_timeout_ms = 300, .timeout_ms = 300000,
                              .max_response_bytes = 1 << 20, .user_agent = "test"};
    sky__h1 *c;
    assert_int_equal(sky__h1_new(&o, &c), SKY_OK);
    char url[64];
    snprintf(url, sizeof url, "https://127.0.0.1:%d/", ntohs(a.sin_port));
    sky_http_response r;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(post_url(c, url, &r, why, sizeof why), SKY_ETIMEDOUT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(r.failure, SKY_HTTP_TLS_FAILED);
    assert_non_null(strstr(why, "TLS handshake with 127.0.0.1:"));
    assert_true(t1.tv_sec - t0.tv_sec < 150);
    sky__h1_free(c);
    close(lfd);
}

/* A server whose every connection is answered with bytes that are not TLS and closed: each
 * handshake fails at once, after the client has made (or taken) its TLS context. */
typedef struct junk_server {
    int lfd;
    int port;
    atomic_bool stop;
    pthread_t th;
} junk_server;

static void *junk_main(void *arg)
{
    junk_server *s = arg;
    while (!atomic_load(&s->stop)) {
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        (void)!write(fd, "HTTP/1.0 400 Bad\r\n\r\n", 20);
        close(fd);
    }
    return NULL;
}

static void junk_start(junk_server *s)
{
    s->lfd = listen_loopback(&s->port);
    atomic_store(&s->stop, false);
    pthread_create(&s->th, NULL, junk_main, s);
}

static void junk_stop(junk_server *s)
{
    atomic_store(&s->stop, true);
    int fd = socket(AF_INET, SOCK_STREAM, 0); /* wakes accept() */
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    (void)!connect(fd, (struct sockaddr *)&a, sizeof a);
    pthread_join(s->th, NULL);
    close(fd);
    close(s->lfd);
}

static const char ca_a_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBhjCCAS2gAwIBAgIUKFEcaECtluGGUBnJD3P7WCfjXgkwCgYIKoZIzj0EAwIw\n"
    "GDEWMBQGA1UEAwwNc2t5bG9nLXRlc3QtYTAgFw0yNjEyMDgwMTA4NDFaGA8yMTI2\n"
    "MTExNDAxMDg0MVowGDEWMBQGA1UEAwwNc2t5bG9nLXRlc3QtYTBZMBMGByqGSM49\n"
    "AgEGCCqGSM49AwEHA0IABP1NfrX+oalZRPV3Np1LAKaDUdb0aDhGQBgoYhVtoqJj\n"
    "GqivfnddoSOsLaON2fZy8vMXTygy2fXDyZLCv1laCEqjUzBRMB0GA1UdDgQWBBT3\n"
    "yrAai1+zeL4ag8vZvip1zAc0bzAfBgNVHSMEGDAWgBT3yrAai1+zeL4ag8vZvip1\n"
    "zAc0bzAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0cAMEQCIFWK5+z+8zH7\n"
    "p8/FOQz8+7KWzF48a5X64nBKNRUK8v7OAiAu82tiKOyKL4XIOkVepGTOEZUVtV1d\n"
    "QFKp62C9NlZhJA==\n"
    "-----END CERTIFICATE-----\n";
static const char ca_b_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBiDCCAS2gAwIBAgIUYn/Hd4qxHiBnhqpuLwLpVsNUm9YwCgYIKoZIzj0EAwIw\n"
    "GDEWMBQGA1UEAwwNc2t5bG9nLXRlc3QtYjAgFw0yNjEyMDgwMTA4NDFaGA8yMTI2\n"
    "MTExNDAxMDg0MVowGDEWMBQGA1UEAwwNc2t5bG9nLXRlc3QtYjBZMBMGByqGSM49\n"
    "AgEGCCqGSM49AwEHA0IABEv8AvuXrAhRO8Ehr/XSlxm6JXr0IsM+tdaihlIHEyM7\n"
    "Lau0hfbCSMystlAeqmV7tnLbY/IGApncvT4XcyfadhqjUzBRMB0GA1UdDgQWBBR8\n"
    "l8Qog5j9YNxz8mLf+zpSS28XSjAfBgNVHSMEGDAWgBR8l8Qog5j9YNxz8mLf+zpS\n"
    "S28XSjAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0kAMEYCIQDsAlYnrn5F\n"
    "rmo+ZvJoD2GCddLPphGOSJlQ8pklZjtiowIhAI2w3uutABSA3fwbUqCYNomF/5Ci\n"
    "1XSf5IIOf1aYcFGc\n"
    "-----END CERTIFICATE-----\n";

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* One handshake attempt against the junk server: TLS_FAILED once the context was made,
 * CERT_FAILED (with the bundle's error) when it could not be. */
static sky_http_failure try_tls(sky__h1 *c, const junk_server *s, char *why, size_t whylen)
{
    char url[64];
    snprintf(url, sizeof url, "https://127.0.0.1:%d/", s->port);
    sky_http_response r;
    assert_int_not_equal(post_url(c, url, &r, why, whylen), SKY_OK);
    return r.failure;
}

/* Clients with the same CA bundle and verification share one TLS context (`skylog ship`'s
 * control and put clients: one bundle parsed, not two); a different bundle or verification
 * off gets its own; the context outlives the client that made it while another holds it
 * (ASan: no use after free in the second one's handshake); once the last holder is freed, the
 * next client reads the bundle again (a bundle replaced on disk is seen), and a bundle that
 * cannot be loaded is an error for every client that names it, never a cached context. */
static void test_tls_context_shared_by_trust(void **state)
{
    (void)state;
    char why[256] = "";
    if (!sky__h1_tls_load(why, sizeof why))
        skip();
    char dir[] = "/tmp/skylog-h1ctx-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char pa[64], pb[64];
    snprintf(pa, sizeof pa, "%s/a.pem", dir);
    snprintf(pb, sizeof pb, "%s/b.pem", dir);
    write_file(pa, ca_a_pem);
    write_file(pb, ca_b_pem);
    junk_server s;
    junk_start(&s);
    sky_http_opts oa = {.connect_timeout_ms = 5000, .timeout_ms = 10000,
                        .max_response_bytes = 1 << 20, .user_agent = "test", .ca_bundle = pa};
    sky_http_opts ob = oa, oi = oa;
    ob.ca_bundle = pb;
    oi.insecure = true;
    sky__h1 *a1, *a2, *b, *in;
    assert_int_equal(sky__h1_new(&oa, &a1), SKY_OK);
    assert_int_equal(sky__h1_new(&oa, &a2), SKY_OK);
    assert_int_equal(sky__h1_new(&ob, &b), SKY_OK);
    assert_int_equal(sky__h1_new(&oi, &in), SKY_OK);
    assert_null(sky__h1_tls_context(a1));
    assert_int_equal(try_tls(a1, &s, why, sizeof why), SKY_HTTP_TLS_FAILED);
    assert_int_equal(try_tls(a2, &s, why, sizeof why), SKY_HTTP_TLS_FAILED);
    assert_int_equal(try_tls(b, &s, why, sizeof why), SKY_HTTP_TLS_FAILED);
    assert_int_equal(try_tls(in, &s, why, sizeof why), SKY_HTTP_TLS_FAILED);
    const void *ctx = sky__h1_tls_context(a1);
    assert_non_null(ctx);
    assert_ptr_equal(sky__h1_tls_context(a2), ctx);
    assert_non_null(sky__h1_tls_context(b));
    assert_ptr_not_equal(sky__h1_tls_context(b), ctx);
    assert_non_null(sky__h1_tls_context(in));
    assert_ptr_not_equal(sky__h1_tls_context(in), ctx);
    assert_ptr_not_equal(sky__h1_tls_context(in), sky__h1_tls_context(b));

    sky__h1_free(a1); /* a2 still holds the context */
    assert_int_equal(try_tls(a2, &s, why, sizeof why), SKY_HTTP_TLS_FAILED);
    assert_ptr_equal(sky__h1_tls_context(a2), ctx);
    sky__h1_free(a2);

    /* nobody holds a.pem's context: a new client reads the file as it is now */
    write_file(pa, "not a certificate\n");
    sky__h1 *a3, *a4;
    assert_int_equal(sky__h1_new(&oa, &a3), SKY_OK);
    assert_int_equal(sky__h1_new(&oa, &a4), SKY_OK);
    assert_int_equal(try_tls(a3, &s, why, sizeof why), SKY_HTTP_CERT_FAILED);
    assert_non_null(strstr(why, "error setting certificate file"));
    why[0] = '\0';
    assert_int_equal(try_tls(a4, &s, why, sizeof why), SKY_HTTP_CERT_FAILED);
    assert_non_null(strstr(why, "error setting certificate file"));
    assert_null(sky__h1_tls_context(a3));
    assert_null(sky__h1_tls_context(a4));

    sky__h1_free(a3);
    sky__h1_free(a4);
    sky__h1_free(b);
    sky__h1_free(in);
    junk_stop(&s);
    unlink(pa);
    unlink(pb);
    rmdir(dir);
}

/* A transport name that is neither curl nor native is refused, not taken as the default. */
static void test_unknown_transport_refused(void **state)
{
    (void)state;
    sky_http_client *c = NULL;
    setenv("SKYLOG_HTTP_TRANSPORT", "nativ", 1);
    assert_int_equal(sky_http_client_new(NULL, &c), SKY_EINVAL);
    assert_null(c);
    setenv("SKYLOG_HTTP_TRANSPORT", "native", 1);
    assert_int_equal(sky_http_client_new(NULL, &c), SKY_OK);
    sky_http_client_free(c);
    unsetenv("SKYLOG_HTTP_TRANSPORT");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_head),
        cmocka_unit_test(test_dechunk),
        cmocka_unit_test(test_keep_alive_and_idle_close),
        cmocka_unit_test(test_failures_say_how_far),
        cmocka_unit_test(test_resolving_bounded_by_connect_timeout),
        cmocka_unit_test(test_tls_handshake_bounded_by_connect_timeout),
        cmocka_unit_test(test_tls_context_shared_by_trust),
        cmocka_unit_test(test_unknown_transport_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
