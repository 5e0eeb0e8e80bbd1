/* test_stream.c - event streams (src/trace/stream.c): per-stream sequence numbers in order
 * from several threads through an async pipeline, event_type and stream on every event, no
 * number used below the level, and a dropped event visible as a gap. */
#include "skytest.h"

#include <skylog/stream.h>

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    sky_event_stream *s;
    int n;
} worker;

static void *run(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < w->n; i++)
        sky_stream_emit(w->s, "tick", SKY_INT("i", i));
    return NULL;
}

static void test_sequence_in_order_across_threads(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky;
    assert_int_equal(sky_open(&(sky_options){.mode = SKY_MODE_ASYNC}, &sky), SKY_OK);
    assert_int_equal(sky_add_sink(sky, skytest_capture_sink(&cap, SKY_FORMAT_JSON), NULL), SKY_OK);
    sky_logger *log = sky_logger_get(sky, "events");
    sky_event_stream *a, *b;
    assert_int_equal(sky_event_stream_new(log, "orders", &a), SKY_OK);
    assert_int_equal(sky_event_stream_new(log, "payments", &b), SKY_OK);
    sky_event_stream *bad;
    assert_int_equal(sky_event_stream_new(log, "", &bad), SKY_EINVAL);
    assert_int_equal(sky_event_stream_new(NULL, "x", &bad), SKY_EINVAL);
    enum { T = 4, N = 300 };
    worker w[T];
    pthread_t t[T];
    for (int i = 0; i < T; i++) {
        w[i] = (worker){i % 2 ? b : a, N};
        pthread_create(&t[i], NULL, run, &w[i]);
    }
    for (int i = 0; i < T; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(sky_stream_emit(a, "closed"), 2 * N + 1); /* no fields */
    assert_int_equal(sky_flush(sky, 10000), SKY_OK);
    assert_int_equal(cap.n, T * N + 1);
    uint64_t next[2] = {1, 1};
    for (size_t i = 0; i < cap.n; i++) {
        json_t *j = json_loads(cap.lines[i], 0, NULL);
        assert_non_null(j);
        const char *stream = json_string_value(json_object_get(j, "stream"));
        int k = !strcmp(stream, "payments");
        assert_int_equal(json_integer_value(json_object_get(j, "sequence")), next[k]++);
        const char *type = json_string_value(json_object_get(j, "event_type"));
        assert_string_equal(json_string_value(json_object_get(j, "message")), type);
        if (strcmp(type, "closed"))
            assert_true(json_is_integer(json_object_get(j, "i")));
        json_decref(j);
    }
    assert_int_equal(next[0], 2 * N + 2);
    assert_int_equal(next[1], 2 * N + 1);
    assert_int_equal(sky_event_stream_last(b), 2 * N);
    sky_event_stream_free(a);
    sky_event_stream_free(b);
    sky_close(sky);
    skytest_capture_reset(&cap);
}

static sky_proc_result drop_third(void *user, sky_event *ev)
{
    (void)user;
    const sky_field *f = sky_event_get(ev, "sequence");
    return f && f->v.u == 3 ? SKY_PROC_DROP : SKY_PROC_KEEP;
}

static void test_level_and_gaps(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky;
    assert_int_equal(sky_open(NULL, &sky), SKY_OK); /* INFO */
    assert_int_equal(sky_add_sink(sky, skytest_capture_sink(&cap, SKY_FORMAT_JSON), NULL), SKY_OK);
    assert_int_equal(sky_add_processor(sky, "drop3", drop_third, NULL, NULL), SKY_OK);
    sky_event_stream *s;
    assert_int_equal(sky_event_stream_new(sky_logger_get(sky, "e"), "jobs", &s), SKY_OK);
    assert_int_equal(sky_stream_emit_at(s, SKY_LEVEL_DEBUG, "hidden"), 0); /* no number used */
    for (int i = 1; i <= 5; i++)
        assert_int_equal(sky_stream_emit(s, "step", SKY_INT("n", i)), (uint64_t)i);
    assert_int_equal(cap.n, 4);
    int want[] = {1, 2, 4, 5}; /* the consumer sees 3 missing */
    for (size_t i = 0; i < cap.n; i++) {
        json_t *j = json_loads(cap.lines[i], 0, NULL);
        assert_int_equal(json_integer_value(json_object_get(j, "sequence")), want[i]);
        assert_string_equal(json_string_value(json_object_get(j, "stream")), "jobs");
        json_decref(j);
    }
    sky_event_stream_free(s);
    sky_close(sky);
    skytest_capture_reset(&cap);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sequence_in_order_across_threads),
        cmocka_unit_test(test_level_and_gaps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
