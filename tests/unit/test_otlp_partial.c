/*
 * test_otlp_partial.c - an OTLP collector's partial success (skylog/http_sink.h,
 * sky_http_sink_stats.partial_rejected): the answer's parser on what collectors send (JSON with
 * the count as a string or a number, either field naming, protobuf) and on what they must not
 * (malformed, negative, huge: a clear error, no crash), and the sink against a fake collector
 * answering each encoding: the records it says it rejected are counted, not retried, not in
 * sent_events, and said with its reason; a 200 with an empty body is full success.
 * End to end against `skylog serve`: tests/integration/test_otlp_partial.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sinks/otlp.h"
#include "util/pb.h"

#include <skylog.h>
#include <skylog/http_sink.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- the parser ---------------------------------------------------------------------------- */

static int parse_json(const char *s, bool traces, sky__hb_answer *a)
{
    return sky__otlp_partial_parse(s, strlen(s), false, traces, a);
}

static void test_json_answers(void **state)
{
    (void)state;
    sky__hb_answer a;
    assert_int_equal(sky__otlp_partial_parse(NULL, 0, false, false, &a), 0); /* empty: success */
    assert_int_equal(a.rejected, 0);
    assert_int_equal(parse_json(" \r\n", false, &a), 0);
    assert_int_equal(parse_json("{}", false, &a), 0);
    assert_int_equal(a.rejected, 0);
    assert_string_equal(a.message, "");
    assert_int_equal(parse_json("{\"partialSuccess\":{}}", false, &a), 0);
    assert_int_equal(a.rejected, 0);
    assert_int_equal(parse_json("{\"partialSuccess\":null}", false, &a), 0);

    /* proto3 JSON writes int64 as a string; parsers accept a number too */
    assert_int_equal(parse_json("{\"partialSuccess\":{\"rejectedLogRecords\":\"3\","
                                "\"errorMessage\":\"too old\"}}",
                                false, &a),
                     0);
    assert_int_equal(a.rejected, 3);
    assert_string_equal(a.message, "too old");
    assert_int_equal(parse_json("{\"partialSuccess\":{\"rejectedLogRecords\":7}}", false, &a), 0);
    assert_int_equal(a.rejected, 7);
    assert_int_equal(parse_json("{\"partial_success\":{\"rejected_log_records\":\"2\"}}", false,
                                &a),
                     0);
    assert_int_equal(a.rejected, 2);
    /* the signal's own field: a traces answer's rejectedSpans, not rejectedLogRecords */
    assert_int_equal(parse_json("{\"partialSuccess\":{\"rejectedSpans\":\"4\"}}", true, &a), 0);
    assert_int_equal(a.rejected, 4);
    assert_int_equal(parse_json("{\"partialSuccess\":{\"rejectedSpans\":\"4\"}}", false, &a), 0);
    assert_int_equal(a.rejected, 0);
    /* a warning: nothing rejected, a message */
    assert_int_equal(parse_json("{\"partialSuccess\":{\"errorMessage\":\"slow down\"}}", false,
                                &a),
                     0);
    assert_int_equal(a.rejected, 0);
    assert_string_equal(a.message, "slow down");
    /* unknown members are ignored, as proto3 JSON parsers may */
    assert_int_equal(parse_json("{\"other\":[1,2],\"partialSuccess\":{\"rejectedLogRecords\":"
                                "\"1\",\"x\":true}}",
                                false, &a),
                     0);
    assert_int_equal(a.rejected, 1);
}

static void test_json_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "not json",
        "[1]",
        "\"x\"",
        "{\"partialSuccess\":3}",
        "{\"partialSuccess\":{\"rejectedLogRecords\":\"-1\"}}",
        "{\"partialSuccess\":{\"rejectedLogRecords\":-1}}",
        "{\"partialSuccess\":{\"rejectedLogRecords\":\"1x\"}}",
        "{\"partialSuccess\":{\"rejectedLogRecords\":\"\"}}",
        "{\"partialSuccess\":{\"rejectedLogRecords\":\"99999999999999999999\"}}",
        "{\"partialSuccess\":{\"rejectedLogRecords\":1.5}}",
        "{\"partialSuccess\":{\"rejectedLogRecords\":true}}",
        "{\"partialSuccess\":{\"errorMessage\":5}}",
        "{\"partialSuccess\":{\"rejectedLogRecords\":\"1\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sky__hb_answer a;
        assert_int_equal(parse_json(bad[i], false, &a), -1);
        assert_true(a.error[0] != '\0');
        assert_int_equal(a.rejected, 0);
    }
}

static void test_huge_and_hostile(void **state)
{
    (void)state;
    sky__hb_answer a;
    /* more than the parser reads: refused by its size, before jansson sees it */
    size_t n = 65 * 1024;
    char *big = malloc(n + 1);
    memset(big, ' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    big[n] = 0;
    assert_int_equal(sky__otlp_partial_parse(big, n, false, false, &a), -1);
    assert_non_null(strstr(a.error, "bytes"));
    assert_int_equal(sky__otlp_partial_parse(big, n, true, false, &a), -1);
    free(big);

    /* deep nesting: jansson's depth limit, no crash */
    char deep[20000];
    memset(deep, '[', sizeof deep - 1);
    deep[sizeof deep - 1] = 0;
    assert_int_equal(parse_json(deep, false, &a), -1);

    /* a long message with terminal controls: cut, and made safe to show */
    char msg[4000];
    int k = snprintf(msg, sizeof msg, "{\"partialSuccess\":{\"rejectedLogRecords\":\"1\","
                                      "\"errorMessage\":\"\\u001b[2Jbad");
    memset(msg + k, 'x', 3000);
    strcpy(msg + k + 3000, "\"}}");
    assert_int_equal(parse_json(msg, false, &a), 0);
    assert_int_equal(a.rejected, 1);
    assert_null(strchr(a.message, '\x1b'));
    assert_non_null(strstr(a.message, "\\u001b[2Jbad"));
    assert_true(strlen(a.message) < sizeof a.message);
}

/* ExportLogsServiceResponse{partial_success = 1 {rejected = 1, error_message = 2}} */
static size_t pb_answer(sky_buf *b, uint64_t rejected, const char *msg)
{
    size_t m = sky__pb_open(b, 1);
    sky__pb_uint(b, 1, rejected);
    if (msg)
        sky__pb_string(b, 2, msg, strlen(msg));
    sky__pb_close(b, m);
    return b->len;
}

static void test_protobuf_answers(void **state)
{
    (void)state;
    sky__hb_answer a;
    sky_buf b = {0};
    pb_answer(&b, 5, "outside the window");
    assert_int_equal(sky__otlp_partial_parse(b.p, b.len, true, false, &a), 0);
    assert_int_equal(a.rejected, 5);
    assert_string_equal(a.message, "outside the window");
    assert_int_equal(sky__otlp_partial_parse(b.p, b.len, true, true, &a), 0); /* same numbers */
    assert_int_equal(a.rejected, 5);
    sky__buf_free(&b);

    sky__pb_string(&b, 7, "unknown", 7); /* unknown fields are skipped */
    pb_answer(&b, 2, NULL);
    assert_int_equal(sky__otlp_partial_parse(b.p, b.len, true, false, &a), 0);
    assert_int_equal(a.rejected, 2);
    sky__buf_free(&b);

    assert_int_equal(sky__otlp_partial_parse("", 0, true, false, &a), 0);
    assert_int_equal(a.rejected, 0);

    pb_answer(&b, (uint64_t)-1, NULL); /* int64 -1 */
    assert_int_equal(sky__otlp_partial_parse(b.p, b.len, true, false, &a), -1);
    sky__buf_free(&b);

    static const char trunc[] = {0x0a, 0x05, 0x08, 0x01}; /* says 5 bytes, has 2 */
    assert_int_equal(sky__otlp_partial_parse(trunc, sizeof trunc, true, false, &a), -1);
    static const char wire[] = {0x08, 0x01}; /* partial_success as a varint */
    assert_int_equal(sky__otlp_partial_parse(wire, sizeof wire, true, false, &a), -1);
    static const char inner[] = {0x0a, 0x02, 0x0a, 0x00}; /* rejected as bytes */
    assert_int_equal(sky__otlp_partial_parse(inner, sizeof inner, true, false, &a), -1);
    assert_true(a.error[0] != '\0');
    /* a JSON answer to a protobuf request is not protobuf */
    assert_int_equal(sky__otlp_partial_parse("{}", 2, true, false, &a), -1);
}

/* ---- the sink against a fake collector ---------------------------------------------------- */

typedef struct collector {
    int lfd, port;
    pthread_t th;
    const char *body; /* every answer's */
    size_t body_len;
    const char *type;
    int requests;
} collector;

static void *serve(void *arg)
{
    collector *c = arg;
    for (;;) {
        int fd = accept(c->lfd, NULL, NULL);
        if (fd < 0)
            return NULL;
        for (;;) { /* requests on this connection */
            static char buf[1 << 20];
            size_t n = 0;
            char *e = NULL;
            while (!e && n < sizeof buf - 1) {
                ssize_t r = recv(fd, buf + n, sizeof buf - 1 - n, 0);
                if (r <= 0)
                    break;
                n += (size_t)r;
                buf[n] = 0;
                e = strstr(buf, "\r\n\r\n");
            }
            if (!e)
                break;
            const char *cl = strcasestr(buf, "Content-Length:");
            size_t want = (size_t)(e + 4 - buf) + (cl ? strtoul(cl + 15, NULL, 10) : 0);
            while (n < want && n < sizeof buf - 1) {
                ssize_t r = recv(fd, buf + n, sizeof buf - 1 - n, 0);
                if (r <= 0)
                    break;
                n += (size_t)r;
            }
            char head[256];
            int hl = snprintf(head, sizeof head,
                              "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n",
                              c->type, c->body_len);
            __atomic_add_fetch(&c->requests, 1, __ATOMIC_SEQ_CST);
            send(fd, head, (size_t)hl, MSG_NOSIGNAL);
            send(fd, c->body, c->body_len, MSG_NOSIGNAL);
        }
        close(fd);
    }
}

static void collector_start(collector *c)
{
    c->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(c->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t sl = sizeof sa;
    getsockname(c->lfd, (struct sockaddr *)&sa, &sl);
    c->port = ntohs(sa.sin_port);
    assert_int_equal(listen(c->lfd, 4), 0);
    pthread_create(&c->th, NULL, serve, c);
}

static void collector_stop(collector *c)
{
    shutdown(c->lfd, SHUT_RDWR);
    pthread_join(c->th, NULL);
    close(c->lfd);
}

/* Sends `n` events through an otlp logs sink to a collector answering `body`; the stats after
 * a flush, and the pipeline's drop count. */
static void run(const char *body, size_t body_len, bool pb, int n, sky_http_sink_stats *st,
                uint64_t *pipeline_dropped)
{
    collector c = {.body = body, .body_len = body_len,
                   .type = pb ? "application/x-protobuf" : "application/json"};
    collector_start(&c);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", c.port);
    sky_sink *s = NULL;
    sky_otlp_opts o = {.endpoint = url, .signals = SKY_OTLP_LOGS,
                       .protocol = pb ? SKY_OTLP_HTTP_PROTOBUF : SKY_OTLP_HTTP_JSON,
                       .batch = {.flush_interval_ms = 3600000}};
    assert_int_equal(sky_sink_otlp(&o, &s, NULL), SKY_OK);
    sky_t *sky = NULL;
    assert_int_equal(sky_open(&(sky_options){.mode = SKY_MODE_SYNC}, &sky), SKY_OK);
    assert_int_equal(sky_add_sink(sky, s, NULL), SKY_OK);
    sky_logger *log = sky_logger_get(sky, "t");
    for (int i = 0; i < n; i++)
        sky_info(log, "e", SKY_INT("i", i));
    assert_int_equal(sky_sink_flush(s, 30000), SKY_OK);
    assert_int_equal(sky_http_sink_stats_get(s, st), SKY_OK);
    sky_sink_stats ss;
    assert_int_equal(sky_sink_stats_get(sky, 0, NULL, &ss), SKY_OK);
    *pipeline_dropped = ss.dropped;
    sky_close(sky);
    collector_stop(&c);
    assert_int_equal(c.requests, 1); /* one batch, answered 2xx: never sent again */
}

static void test_sink_json_partial(void **state)
{
    (void)state;
    static const char body[] = "{\"partialSuccess\":{\"rejectedLogRecords\":\"2\","
                               "\"errorMessage\":\"two were too old\"}}";
    sky_http_sink_stats st;
    uint64_t dropped;
    run(body, sizeof body - 1, false, 5, &st, &dropped);
    assert_int_equal(st.partial_rejected, 2);
    assert_int_equal(st.sent_events, 3);
    assert_int_equal(st.requests, 1);
    assert_int_equal(st.retries, 0);
    assert_int_equal(dropped, 2);
    assert_non_null(strstr(st.last_error, "rejected 2 of its 5"));
    assert_non_null(strstr(st.last_error, "two were too old"));
}

static void test_sink_protobuf_partial(void **state)
{
    (void)state;
    sky_buf b = {0};
    pb_answer(&b, 4, "four refused");
    sky_http_sink_stats st;
    uint64_t dropped;
    run(b.p, b.len, true, 6, &st, &dropped);
    sky__buf_free(&b);
    assert_int_equal(st.partial_rejected, 4);
    assert_int_equal(st.sent_events, 2);
    assert_int_equal(st.retries, 0);
    assert_int_equal(dropped, 4);
    assert_non_null(strstr(st.last_error, "four refused"));

    /* more than the batch: it cannot have refused what it was not sent */
    pb_answer(&b, 100, NULL);
    run(b.p, b.len, true, 3, &st, &dropped);
    sky__buf_free(&b);
    assert_int_equal(st.partial_rejected, 3);
    assert_int_equal(st.sent_events, 0);
}

static void test_sink_empty_answer_is_success(void **state)
{
    (void)state;
    sky_http_sink_stats st;
    uint64_t dropped;
    run("", 0, false, 4, &st, &dropped);
    assert_int_equal(st.partial_rejected, 0);
    assert_int_equal(st.sent_events, 4);
    assert_int_equal(dropped, 0);
    assert_string_equal(st.last_error, "");
    run("", 0, true, 4, &st, &dropped);
    assert_int_equal(st.sent_events, 4);
    assert_string_equal(st.last_error, "");
}

static void test_sink_malformed_answer(void **state)
{
    (void)state;
    sky_http_sink_stats st;
    uint64_t dropped;
    run("<html>oops</html>", 17, false, 3, &st, &dropped);
    assert_int_equal(st.partial_rejected, 0);
    assert_int_equal(st.sent_events, 3); /* its status says delivered: not sent again */
    assert_int_equal(st.retries, 0);
    assert_non_null(strstr(st.last_error, "unreadable answer"));
    static const char trunc[] = {0x0a, 0x7f, 0x08};
    run(trunc, sizeof trunc, true, 3, &st, &dropped);
    assert_int_equal(st.sent_events, 3);
    assert_non_null(strstr(st.last_error, "not valid protobuf"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_answers),
        cmocka_unit_test(test_json_malformed),
        cmocka_unit_test(test_huge_and_hostile),
        cmocka_unit_test(test_protobuf_answers),
        cmocka_unit_test(test_sink_json_partial),
        cmocka_unit_test(test_sink_protobuf_partial),
        cmocka_unit_test(test_sink_empty_answer_is_success),
        cmocka_unit_test(test_sink_malformed_answer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
