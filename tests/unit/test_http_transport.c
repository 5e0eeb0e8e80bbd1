/* test_http_transport.c - src/aws/transport.c: which HTTP client carries a request. The proxy
 * variables are read as libcurl reads them (no_proxy first, with names, subdomains, IP
 * addresses and CIDR ranges; http_proxy only in lower case; the first variable set decides,
 * empty = none), auto hands libcurl exactly the requests a proxy applies to (and URLs with
 * user:password@, which only libcurl sends), native refuses them (a proxy is never bypassed: at creation for the AWS clients, the CloudWatch sink and the
 * HTTP sinks, per request for a bare client), SKYLOG_HTTP_TRANSPORT overrides the options and a
 * typo in it is an error. And the trace, which the native client writes too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "aws/transport.h"

#include <skylog/aws.h>
#include <skylog/cloudwatch.h>
#include <skylog/http_sink.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *const proxy_vars[] = {"http_proxy",  "HTTP_PROXY", "https_proxy",
                                         "HTTPS_PROXY", "all_proxy",  "ALL_PROXY",
                                         "no_proxy",    "NO_PROXY",   "SKYLOG_HTTP_TRANSPORT"};

static int clean_env(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof proxy_vars / sizeof proxy_vars[0]; i++)
        unsetenv(proxy_vars[i]);
    return 0;
}

/* The route of `url` in mode auto: 'c' libcurl, 'n' native. */
static char route(const char *url)
{
    int r = sky__http_route(SKY_HTTP_TRANSPORT_AUTO, url, NULL, 0);
    assert_true(r == SKY_HTTP_TRANSPORT_CURL || r == SKY_HTTP_TRANSPORT_NATIVE);
    return r == SKY_HTTP_TRANSPORT_CURL ? 'c' : 'n';
}

static void test_proxy_variables_as_libcurl_reads_them(void **state)
{
    (void)state;
    const char *var;
    assert_int_equal(route("https://logs.us-east-1.amazonaws.com/"), 'n');
    /* http:// reads http_proxy only: HTTP_PROXY may come from a CGI request header */
    setenv("HTTP_PROXY", "http://10.0.0.1:3128", 1);
    assert_int_equal(route("http://127.0.0.1:4566/"), 'n');
    setenv("http_proxy", "http://10.0.0.1:3128", 1);
    assert_true(sky__http_proxy_for("http://127.0.0.1:4566/", &var));
    assert_string_equal(var, "http_proxy");
    assert_int_equal(route("https://logs.example.com/"), 'n'); /* not for https */
    /* https:// reads https_proxy, else HTTPS_PROXY; the first that is set decides */
    setenv("HTTPS_PROXY", "http://10.0.0.1:3128", 1);
    assert_true(sky__http_proxy_for("https://logs.example.com/", &var));
    assert_string_equal(var, "HTTPS_PROXY");
    setenv("https_proxy", "", 1); /* set, empty: no proxy, and HTTPS_PROXY is not read */
    assert_int_equal(route("https://logs.example.com/"), 'n');
    unsetenv("https_proxy");
    unsetenv("HTTPS_PROXY");
    unsetenv("http_proxy");
    /* then all_proxy, else ALL_PROXY, for both */
    setenv("ALL_PROXY", "socks5://10.0.0.1:1080", 1);
    assert_int_equal(route("https://logs.example.com/"), 'c');
    assert_true(sky__http_proxy_for("http://[::1]:80/", &var));
    assert_string_equal(var, "ALL_PROXY");
    assert_int_equal(route("HTTPS://LOGS.EXAMPLE.COM/"), 'c'); /* schemes in any case */
}

static void test_no_proxy_as_libcurl_reads_it(void **state)
{
    (void)state;
    setenv("https_proxy", "http://10.0.0.1:3128", 1);
    setenv("NO_PROXY", "example.com, .internal.,10.0.0.0/8 ,::1,192.168.1.7", 1);
    assert_int_equal(route("https://example.com/"), 'n');
    assert_int_equal(route("https://logs.example.com:443/x"), 'n'); /* a subdomain */
    assert_int_equal(route("https://LOGS.Example.COM./"), 'n');      /* case, trailing dot */
    assert_int_equal(route("https://nonexample.com/"), 'c');         /* not a subdomain */
    assert_int_equal(route("https://example.com.evil.net/"), 'c');
    assert_int_equal(route("https://a.b.internal/"), 'n');           /* leading dot ignored */
    assert_int_equal(route("https://internal/"), 'n');
    assert_int_equal(route("https://10.200.3.4:8443/"), 'n');        /* CIDR */
    assert_int_equal(route("https://11.0.0.1/"), 'c');
    assert_int_equal(route("https://[::1]:4566/"), 'n');             /* IPv6, brackets off */
    assert_int_equal(route("https://[::2]/"), 'c');
    assert_int_equal(route("https://192.168.1.7/"), 'n');            /* an address: itself */
    assert_int_equal(route("https://192.168.1.70/"), 'c');
    assert_false(sky__http_proxy_for("https://user:pw@example.com/", NULL)); /* not the host */
    /* no_proxy is read first; NO_PROXY only when it is not set */
    setenv("no_proxy", "other.org", 1);
    assert_int_equal(route("https://example.com/"), 'c');
    assert_int_equal(route("https://x.other.org/"), 'n');
    setenv("no_proxy", "*", 1); /* every host */
    assert_int_equal(route("https://example.com/"), 'n');
    setenv("no_proxy", "10.0.0.0/33", 1); /* a prefix that cannot be: the address itself */
    assert_int_equal(route("https://10.0.0.0/"), 'n');
    assert_int_equal(route("https://10.0.0.1/"), 'c');
}

static void test_modes(void **state)
{
    (void)state;
    char why[512] = "";
    setenv("https_proxy", "http://10.0.0.1:3128", 1);
    const char *url = "https://logs.eu-west-1.amazonaws.com/";
    assert_int_equal(sky__http_route(SKY_HTTP_TRANSPORT_CURL, url, why, sizeof why),
                     SKY_HTTP_TRANSPORT_CURL);
    assert_int_equal(sky__http_route(SKY_HTTP_TRANSPORT_AUTO, url, why, sizeof why),
                     SKY_HTTP_TRANSPORT_CURL);
    assert_int_equal(sky__http_route(SKY_HTTP_TRANSPORT_NATIVE, url, why, sizeof why), -1);
    assert_string_equal(why, "the HTTP transport is native, which has no proxy support, and "
                             "https_proxy applies to logs.eu-west-1.amazonaws.com: choose "
                             "http_transport auto or curl (or SKYLOG_HTTP_TRANSPORT), or list "
                             "the host in NO_PROXY");
    assert_int_equal(sky__http_route(SKY_HTTP_TRANSPORT_NATIVE, "http://127.0.0.1/", why,
                                     sizeof why),
                     SKY_HTTP_TRANSPORT_NATIVE);
    /* user:password@ in the URL is Basic authentication, which only libcurl sends */
    unsetenv("https_proxy");
    assert_int_equal(route("https://u:pw@collector.example.com/v1/logs"), 'c');
    assert_int_equal(sky__http_route(SKY_HTTP_TRANSPORT_NATIVE,
                                     "https://u:pw@collector.example.com/v1/logs", why,
                                     sizeof why),
                     -1);
    assert_string_equal(why, "the HTTP transport is native, which does not send a URL's "
                             "user:password@ (Basic authentication) to collector.example.com: "
                             "choose http_transport auto or curl (or SKYLOG_HTTP_TRANSPORT)");
    setenv("https_proxy", "http://10.0.0.1:3128", 1);

    /* SKYLOG_HTTP_TRANSPORT over the options; a typo is an error, never the other one */
    sky_http_transport m;
    sky_http_opts curl = {.transport = SKY_HTTP_TRANSPORT_CURL};
    assert_int_equal(sky__http_mode(NULL, &m, why, sizeof why), SKY_OK);
    assert_int_equal(m, SKY_HTTP_TRANSPORT_AUTO);
    assert_int_equal(sky__http_mode(&curl, &m, why, sizeof why), SKY_OK);
    assert_int_equal(m, SKY_HTTP_TRANSPORT_CURL);
    setenv("SKYLOG_HTTP_TRANSPORT", "auto", 1);
    assert_int_equal(sky__http_mode(&curl, &m, why, sizeof why), SKY_OK);
    assert_int_equal(m, SKY_HTTP_TRANSPORT_AUTO);
    setenv("SKYLOG_HTTP_TRANSPORT", "native", 1);
    assert_int_equal(sky__http_mode(&curl, &m, why, sizeof why), SKY_OK);
    assert_int_equal(m, SKY_HTTP_TRANSPORT_NATIVE);
    setenv("SKYLOG_HTTP_TRANSPORT", "Native", 1);
    assert_int_equal(sky__http_mode(NULL, &m, why, sizeof why), SKY_EINVAL);
    assert_string_equal(why, "SKYLOG_HTTP_TRANSPORT=Native: not a transport (auto, native or "
                             "curl)");
    sky_http_client *c = (sky_http_client *)1;
    assert_int_equal(sky_http_client_new(NULL, &c), SKY_EINVAL);
    assert_null(c);
    unsetenv("SKYLOG_HTTP_TRANSPORT");
    assert_int_equal(sky__http_mode(&(sky_http_opts){.transport = 7}, &m, why, sizeof why),
                     SKY_EINVAL);
    assert_int_equal(sky_http_client_new(&(sky_http_opts){.transport = 7}, &c), SKY_EINVAL);
}

/* A proxy the user set is never bypassed by an explicit native: a bare client refuses the
 * request (nothing sent), the AWS client and the sinks refuse the endpoint when made. */
static void test_native_never_bypasses_a_proxy(void **state)
{
    (void)state;
    setenv("http_proxy", "http://127.0.0.1:9", 1);
    sky_http_client *c;
    assert_int_equal(sky_http_client_new(&(sky_http_opts){.transport = SKY_HTTP_TRANSPORT_NATIVE},
                                         &c),
                     SKY_OK);
    sky_http_response r;
    char why[512] = "";
    sky_http_request req = {.method = "POST", .url = "http://127.0.0.1:4566/", .body = "{}",
                            .body_len = 2};
    assert_int_equal(sky_http_perform(c, &req, &r, why, sizeof why), SKY_EUNSUPPORTED);
    assert_int_equal(r.failure, SKY_HTTP_NOT_CONNECTED);
    assert_non_null(strstr(why, "http_proxy applies to 127.0.0.1"));
    assert_int_equal(sky__http_client_prepare(c, req.url, why, sizeof why), SKY_EINVAL);
    sky_http_client_free(c);

    sky_aws_client *ac = NULL;
    assert_int_equal(sky_aws_client_new(
                         &(sky_aws_client_opts){
                             .service = "logs", .region = "us-east-1",
                             .endpoint = "http://127.0.0.1:4566",
                             .http = {.transport = SKY_HTTP_TRANSPORT_NATIVE}},
                         &ac, why, sizeof why),
                     SKY_EINVAL);
    assert_null(ac);
    assert_non_null(strstr(why, "native, which has no proxy support, and http_proxy applies"));

    sky_sink *s = NULL;
    char *err = NULL;
    assert_int_equal(sky_sink_cloudwatch_logs(
                         &(sky_cwl_opts){.log_group = "g", .region = "us-east-1",
                                         .endpoint = "http://127.0.0.1:4566",
                                         .access_key_id = "AKIDEXAMPLE",
                                         .secret_access_key = "secret",
                                         .http_transport = SKY_HTTP_TRANSPORT_NATIVE},
                         &s, &err),
                     SKY_EINVAL);
    assert_null(s);
    assert_non_null(err);
    assert_non_null(strstr(err, "cloudwatch: the HTTP transport is native"));
    free(err);
    err = NULL;
    assert_int_equal(sky_sink_cloudwatch_logs(&(sky_cwl_opts){.log_group = "g",
                                                               .region = "us-east-1",
                                                               .http_transport = 9},
                                              &s, &err),
                     SKY_EINVAL);
    assert_non_null(strstr(err, "unknown http_transport"));
    free(err);
    err = NULL;
    assert_int_equal(sky_sink_otlp(&(sky_otlp_opts){.endpoint = "http://127.0.0.1:4318",
                                                    .batch.http_transport =
                                                        SKY_HTTP_TRANSPORT_NATIVE},
                                   &s, &err),
                     SKY_EINVAL);
    assert_non_null(strstr(err, "the HTTP transport is native"));
    free(err);
    /* listed in no_proxy: nothing to bypass, native it is */
    setenv("no_proxy", "127.0.0.1", 1);
    err = NULL;
    assert_int_equal(sky_sink_otlp(&(sky_otlp_opts){.endpoint = "http://127.0.0.1:4318",
                                                    .batch.http_transport =
                                                        SKY_HTTP_TRANSPORT_NATIVE},
                                   &s, &err),
                     SKY_OK);
    sky_sink_close(s);
}

/* ---- the trace, from either transport ----------------------------------------------------- */

typedef struct one_answer {
    int lfd, port;
    pthread_t th;
} one_answer;

static void *answer_once(void *arg)
{
    one_answer *a = arg;
    int fd = accept(a->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    char buf[4096];
    size_t n = 0;
    while (n < sizeof buf - 1) { /* the head, then the 2-byte body */
        ssize_t r = recv(fd, buf + n, sizeof buf - 1 - n, 0);
        if (r <= 0)
            break;
        n += (size_t)r;
        buf[n] = 0;
        char *e = strstr(buf, "\r\n\r\n");
        if (e && (size_t)(e + 4 - buf) + 2 <= n)
            break;
    }
    const char *resp = "HTTP/1.1 200 OK\r\nx-amzn-RequestId: r1\r\nSet-Cookie: s=CANARY\r\n"
                       "Content-Length: 2\r\n\r\nok";
    send(fd, resp, strlen(resp), MSG_NOSIGNAL);
    close(fd);
    return NULL;
}

typedef struct lines {
    char text[4096];
} lines;

static void on_trace(void *user, const char *line)
{
    lines *l = user;
    size_t n = strlen(l->text);
    snprintf(l->text + n, sizeof l->text - n, "%s\n", line);
}

static void test_native_writes_the_trace(void **state)
{
    (void)state;
    one_answer a = {.lfd = socket(AF_INET, SOCK_STREAM, 0)};
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(a.lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t sl = sizeof sa;
    getsockname(a.lfd, (struct sockaddr *)&sa, &sl);
    a.port = ntohs(sa.sin_port);
    assert_int_equal(listen(a.lfd, 1), 0);
    pthread_create(&a.th, NULL, answer_once, &a);
    lines l = {.text = ""};
    sky_http_client *c;
    assert_int_equal(sky_http_client_new(&(sky_http_opts){.transport = SKY_HTTP_TRANSPORT_NATIVE,
                                                          .trace = on_trace, .trace_user = &l},
                                         &c),
                     SKY_OK);
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/path?X-Amz-Signature=CANARY", a.port);
    sky_aws_header h[] = {{"Authorization", "AWS4-HMAC-SHA256 Credential=AKID/x, "
                                            "Signature=CANARY"},
                          {"X-Amz-Target", "Logs_20140328.PutLogEvents"}};
    sky_http_response r;
    char why[256];
    assert_int_equal(sky_http_perform(c,
                                      &(sky_http_request){.method = "POST", .url = url,
                                                          .headers = h, .n_headers = 2,
                                                          .body = "{}", .body_len = 2},
                                      &r, why, sizeof why),
                     SKY_OK);
    assert_string_equal(r.body, "ok");
    sky_http_response_free(&r);
    sky_http_client_free(c);
    pthread_join(a.th, NULL);
    close(a.lfd);
    char want[128];
    snprintf(want, sizeof want, "> POST http://127.0.0.1:%d/path\n", a.port);
    assert_non_null(strstr(l.text, want)); /* the query (a presigned URL's signature) cut */
    assert_non_null(strstr(l.text, "> Authorization: AWS4-HMAC-SHA256 Credential=AKID/x, "
                                   "Signature=****\n"));
    assert_non_null(strstr(l.text, "> X-Amz-Target: Logs_20140328.PutLogEvents\n"));
    assert_non_null(strstr(l.text, "< 200\n< x-amzn-RequestId: r1\n< Set-Cookie: ****\n"));
    assert_null(strstr(l.text, "CANARY"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_proxy_variables_as_libcurl_reads_them, clean_env,
                                        clean_env),
        cmocka_unit_test_setup_teardown(test_no_proxy_as_libcurl_reads_it, clean_env, clean_env),
        cmocka_unit_test_setup_teardown(test_modes, clean_env, clean_env),
        cmocka_unit_test_setup_teardown(test_native_never_bypasses_a_proxy, clean_env,
                                        clean_env),
        cmocka_unit_test_setup_teardown(test_native_writes_the_trace, clean_env, clean_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
