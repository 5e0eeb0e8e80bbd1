/* test_request.c - request logging (src/trace/request.c): request ids taken or made, the level
 * chosen by status, the trace continued from headers, the context restored, the Endpoint
 * dimension capped, and a request moved between threads. */
#include "skytest.h"

#include <skylog/request.h>

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    const char *names[4], *values[4];
    int n;
} hdrs;

static const char *hget(void *user, const char *name)
{
    hdrs *h = user;
    for (int i = 0; i < h->n; i++)
        if (!strcasecmp(h->names[i], name))
            return h->values[i];
    return NULL;
}

typedef struct {
    skytest_capture cap;
    sky_t *sky;
    sky_metrics *m;
    sky_request_log *rl;
} fixture;

static void setup(fixture *f, size_t max_endpoints)
{
    memset(f, 0, sizeof *f);
    assert_int_equal(sky_open(&(sky_options){.level = SKY_LEVEL_TRACE, .level_set = true},
                              &f->sky),
                     SKY_OK);
    assert_int_equal(sky_add_sink(f->sky, skytest_capture_sink(&f->cap, SKY_FORMAT_JSON), NULL),
                     SKY_OK);
    assert_int_equal(sky_metrics_new(NULL, &f->m), SKY_OK);
    assert_int_equal(sky_request_log_new(&(sky_request_opts){.log = sky_logger_get(f->sky, "http"),
                                                             .metrics = f->m,
                                                             .max_endpoints = max_endpoints},
                                         &f->rl, NULL),
                     SKY_OK);
}

static void teardown(fixture *f)
{
    sky_request_log_free(f->rl);
    sky_close(f->sky);
    sky_metrics_free(f->m);
    skytest_capture_reset(&f->cap);
}

static json_t *last(fixture *f)
{
    assert_true(f->cap.n > 0);
    json_t *j = json_loads(f->cap.lines[f->cap.n - 1], 0, NULL);
    assert_non_null(j);
    return j;
}

static const char *js(json_t *j, const char *k)
{
    json_t *v = json_object_get(j, k);
    return v && json_is_string(v) ? json_string_value(v) : NULL;
}

static void test_event_and_levels(void **state)
{
    (void)state;
    fixture f;
    setup(&f, 0);
    static const struct {
        int status;
        const char *level;
    } cases[] = {{200, "INFO"}, {302, "INFO"}, {404, "WARN"}, {503, "ERROR"}, {0, "ERROR"},
                 {700, "ERROR"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        sky_request r;
        sky_request_begin(f.rl, &r, "get", "/users/7", NULL, NULL);
        sky_request_set_endpoint(&r, "/users/{id}");
        sky_request_add_bytes_in(&r, 12);
        sky_info(sky_logger_get(f.sky, "app"), "inside");
        json_t *in = last(&f);
        assert_string_equal(js(in, "request_id"), r.request_id);
        assert_non_null(js(in, "trace_id"));
        json_decref(in);
        sky_request_end(&r, cases[i].status, 321);
        sky_request_end(&r, 200, 0); /* twice: nothing more */
        assert_int_equal(sky_context_size(), 0);
        json_t *j = last(&f);
        assert_string_equal(js(j, "message"), "request");
        assert_string_equal(js(j, "level"), cases[i].level);
        assert_string_equal(js(j, "method"), "GET");
        assert_string_equal(js(j, "path"), "/users/7");
        assert_string_equal(js(j, "endpoint"), "/users/{id}");
        assert_int_equal(json_integer_value(json_object_get(j, "status")), cases[i].status);
        assert_int_equal(json_integer_value(json_object_get(j, "bytes")), 321);
        assert_int_equal(json_integer_value(json_object_get(j, "bytes_in")), 12);
        assert_true(json_is_number(json_object_get(j, "duration_ms")));
        assert_string_equal(js(j, "request_id"), r.request_id);
        assert_int_equal(strlen(r.request_id), 32);
        json_decref(j);
    }
    assert_int_equal(f.cap.n, 12);
    teardown(&f);
}

static void test_request_id_and_trace_from_headers(void **state)
{
    (void)state;
    fixture f;
    setup(&f, 0);
    sky_request r;
    hdrs h = {{"x-request-id", "traceparent"},
              {"abc-123.x:y_z", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
              2};
    sky_request_begin(f.rl, &r, "POST", "/pay", hget, &h);
    assert_string_equal(r.request_id, "abc-123.x:y_z");
    sky_request_end(&r, 201, 0);
    json_t *j = last(&f);
    assert_string_equal(js(j, "trace_id"), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_string_equal(js(j, "parent_span_id"), "00f067aa0ba902b7");
    assert_string_equal(js(j, "request_id"), "abc-123.x:y_z");
    assert_null(json_object_get(j, "endpoint"));
    json_decref(j);

    /* ids that are not 1-64 safe characters are replaced; methods outside the nine: OTHER */
    char long_id[80];
    memset(long_id, 'a', 65);
    long_id[65] = '\0';
    const char *bad[] = {"", "has space", "semi;colon", "quote\"", long_id, "\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        hdrs b = {{"X-Request-Id"}, {bad[i]}, 1};
        sky_request_begin(f.rl, &r, "BREW", "/", hget, &b);
        assert_string_not_equal(r.request_id, bad[i]);
        assert_int_equal(strlen(r.request_id), 32);
        sky_request_end(&r, 418, 0);
        j = last(&f);
        assert_string_equal(js(j, "method"), "OTHER");
        json_decref(j);
    }
    char *err = NULL;
    sky_request_log *x;
    assert_int_equal(sky_request_log_new(&(sky_request_opts){0}, &x, &err), SKY_EINVAL);
    assert_non_null(strstr(err, "logger"));
    free(err);
    assert_int_equal(sky_request_log_new(&(sky_request_opts){.log = sky_logger_get(f.sky, "a"),
                                                             .ns = "AWS/EC2"},
                                         &x, &err),
                     SKY_EINVAL);
    free(err);
    teardown(&f);
}

static void test_endpoints_capped(void **state)
{
    (void)state;
    fixture f;
    setup(&f, 2);
    char path[32];
    for (int i = 0; i < 5; i++) {
        sky_request r;
        snprintf(path, sizeof path, "/random/%d", i);
        sky_request_begin(f.rl, &r, "GET", path, NULL, NULL);
        sky_request_end(&r, 200, 0);
    }
    sky_metrics_stats st;
    sky_metrics_stats_get(f.m, &st);
    /* two endpoints of their own and "other", each with RequestCount and ResponseTime */
    assert_int_equal(st.instruments, 6);
    sky_metric *other = NULL;
    sky_dim d[] = {{"Endpoint", "other"}, {"Method", "GET"}, {"Status", "200"}};
    assert_int_equal(sky_metric_new(f.m, &(sky_metric_opts){.ns = "HTTP", .name = "RequestCount",
                                                            .kind = SKY_METRIC_COUNTER,
                                                            .unit = SKY_UNIT_COUNT, .dims = d,
                                                            .n_dims = 3},
                                    &other, NULL),
                     SKY_OK);
    sky_metrics_stats_get(f.m, &st);
    assert_int_equal(st.instruments, 6); /* it existed */
    teardown(&f);
}

static void *finish_elsewhere(void *arg)
{
    sky_request *r = arg;
    assert_int_equal(sky_request_enter(r), SKY_OK);
    sky_info(sky_logger_get(NULL, "unused"), "x"); /* default pipeline: not captured */
    assert_int_equal(sky_request_leave(r), SKY_OK);
    sky_request_end(r, 200, 5); /* ends from here, with its ids */
    return NULL;
}

static void test_request_moves_between_threads(void **state)
{
    (void)state;
    setenv("SKYLOG_CONSOLE", "off", 1);
    fixture f;
    setup(&f, 0);
    sky_request r;
    sky_request_begin(f.rl, &r, "GET", "/slow", NULL, NULL);
    assert_int_equal(sky_request_leave(&r), SKY_OK);
    assert_int_equal(sky_request_leave(&r), SKY_EINVAL);
    assert_int_equal(sky_context_size(), 0);
    pthread_t t;
    pthread_create(&t, NULL, finish_elsewhere, &r);
    pthread_join(t, NULL);
    json_t *j = last(&f);
    assert_string_equal(js(j, "message"), "request");
    assert_string_equal(js(j, "request_id"), r.request_id);
    char tid[33];
    sky_trace_hex(r.span.ctx.trace_id, 16, tid);
    assert_string_equal(js(j, "trace_id"), tid);
    json_decref(j);
    assert_int_equal(sky_context_size(), 0);
    teardown(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_and_levels),
        cmocka_unit_test(test_request_id_and_trace_from_headers),
        cmocka_unit_test(test_endpoints_capped),
        cmocka_unit_test(test_request_moves_between_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
