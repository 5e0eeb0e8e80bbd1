/*
 * test_site_inline.c - the ring reservation inlined into call sites (skylog.h: sky__fast,
 * sky__fast_reserve). A call site that matches its schema reserves and commits its record in
 * the ring itself when the logger publishes a fast handle of the header's layout; anything
 * else (another layout, a gate up, a context scope's first event, a record that would wrap or
 * does not fit) takes
 * the library call. These tests check which loggers publish a handle, that both ways write
 * the same records in the same order (also across ring wraps), that a handle of another
 * layout or with its gate up sends calls to the library, and that the high-water mark and
 * waking still work without producers touching them.
 */
#include "skytest.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const struct sky__logger_hdr *hdr(const sky_logger *log)
{
    return (const struct sky__logger_hdr *)log;
}

static sky_t *open_json(size_t ring, skytest_capture *cap)
{
    sky_t *sky = NULL;
    sky_options o = {.mode = SKY_MODE_ASYNC, .ring_bytes = ring};
    assert_int_equal(sky_open(&o, &sky), SKY_OK);
    assert_int_equal(sky_add_sink(sky, skytest_capture_sink(cap, SKY_FORMAT_JSON), NULL), SKY_OK);
    return sky;
}

/* Strings of every length from 0 to 40: records of 48 to 96 bytes, so a 4 KiB ring wraps at
 * every kind of offset. */
static char text[41];
static void log_one(sky_logger *log, int i)
{
    size_t n = (size_t)(i % 41);
    memset(text, 'a' + i % 26, n);
    text[n] = '\0';
    sky_info(log, "inline", SKY_INT("i", i), SKY_STR("s", text), SKY_F64("f", 0.5));
}

static void expect_lines(const skytest_capture *cap, int n)
{
    assert_int_equal(cap->n, (size_t)n);
    for (int i = 0; i < n; i++) {
        char want[128], s[41];
        size_t len = (size_t)(i % 41);
        memset(s, 'a' + i % 26, len);
        s[len] = '\0';
        snprintf(want, sizeof want, ",\"i\":%d,\"s\":\"%s\",\"f\":0.5}\n", i, s);
        const char *p = strstr(cap->lines[i], ",\"i\":");
        assert_non_null(p);
        assert_string_equal(p, want);
        assert_non_null(strstr(cap->lines[i], "\"logger\":\"app.inline\",\"message\":\"inline\""));
    }
}

static sky_field lazy_value(void *user, char *buf, size_t cap)
{
    (void)user, (void)buf, (void)cap;
    return sky_field_int(NULL, 1);
}

static void test_which_loggers_publish_a_handle(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_json(0, &cap);
    sky_logger *root = sky_logger_get(sky, NULL), *log = sky_logger_get(sky, "app");
    /* registered loggers of an async pipeline, made before or after the worker started */
    assert_non_null(hdr(root)->fast);
    assert_ptr_equal(hdr(root)->fast, hdr(log)->fast);
    uint64_t st = atomic_load(&hdr(log)->fast->state);
    /* the library's ABI value when it stamps events with the TSC, else 0: never a gate */
    assert_true(st == SKY__FAST_ABI || st == 0);
    /* bound loggers: their records reference the fields, unless one is lazy (evaluated per
     * event by the library) */
    sky_logger *bound = SKY_BIND(log, SKY_STR("k", "v"));
    assert_non_null(bound);
    assert_ptr_equal(hdr(bound)->fast, hdr(log)->fast);
    sky_logger *lazy = SKY_BIND(bound, SKY_LAZY("l", lazy_value, NULL));
    assert_non_null(lazy);
    assert_null(hdr(lazy)->fast);
    sky_logger_release(lazy);
    sky_logger_release(bound);
    assert_int_equal(sky_close(sky), SKY_OK);

    /* a sync pipeline has no ring */
    sky_t *sync = NULL;
    assert_int_equal(sky_open(&(sky_options){.mode = SKY_MODE_SYNC}, &sync), SKY_OK);
    assert_null(hdr(sky_logger_get(sync, "app"))->fast);
    assert_int_equal(sky_close(sync), SKY_OK);
    skytest_capture_reset(&cap);
}

/* A 4 KiB ring (the smallest), records of varying sizes, flushed every 50 events so the ring
 * never fills: each lap ends with a record that would wrap, which the library pads. */
static void test_records_across_wraps(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_json(4096, &cap);
    sky_logger *log = sky_logger_get(sky, "app.inline");
    const int n = 2000;
    for (int i = 0; i < n; i++) {
        log_one(log, i);
        if (i % 50 == 49)
            assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    }
    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    expect_lines(&cap, n);
    sky_stats st;
    assert_int_equal(sky_stats_get(sky, &st), SKY_OK);
    assert_int_equal(st.routed, n);
    for (int r = 0; r < SKY_DROP_REASON_COUNT_; r++)
        assert_int_equal(st.dropped[r], 0);
    /* sampled by the worker: at least one batch's worth, never more than the ring */
    assert_true(st.ring_high_water >= 48 && st.ring_high_water <= st.ring_capacity);
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&cap);
}

/* A handle of another layout (a library built from another header), or with its gate up,
 * sends calls to the library, which writes the same records. */
static void test_other_layout_or_gate_takes_the_library_call(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_json(0, &cap);
    sky_logger *log = sky_logger_get(sky, "app.inline");
    sky__fast *q = hdr(log)->fast;
    assert_non_null(q);
    uint64_t orig = atomic_load(&q->state);
    for (int i = 0; i < 300; i++) {
        /* 0-99 as published, 100-199 another layout, 200-299 the gate's bits up */
        if (i == 100)
            atomic_store(&q->state, orig ^ 0xff);
        if (i == 200)
            atomic_store(&q->state, orig | (uint64_t)1 << 40);
        log_one(log, i);
        if (i == 299)
            atomic_store(&q->state, orig);
    }
    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    expect_lines(&cap, 300);
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&cap);
}

/* With context on the thread, the scope's first event (the library call) copies the scope into
 * a block for the pipeline; later events take the inlined path and reference it. A nested
 * scope gets a block of its own (with the outer fields), its pop goes back to the outer one. */
static void test_context_blocks(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_json(0, &cap);
    sky_logger *log = sky_logger_get(sky, "app.inline");
    const sky__fast *q = hdr(log)->fast;
    const sky_field ctx[] = {SKY_STR("req", "r1")}; /* must outlive the push */
    const sky_field in[] = {SKY_INT("depth", 2)};
    assert_null(sky__ctx_cur);
    for (int i = 0; i < 8; i++) {
        if (i == 2) {
            assert_int_equal(sky_context_push(ctx, 1), SKY_OK);
            assert_non_null(sky__ctx_cur);
            assert_null(atomic_load(&sky__ctx_cur->q)); /* not copied yet */
        }
        if (i == 4)
            assert_int_equal(sky_context_push(in, 1), SKY_OK);
        if (i == 6)
            sky_context_pop();
        const sky__ctx_hdr *before = sky__ctx_cur;
        sky_info(log, "ctx", SKY_INT("i", i));
        if (i >= 2)
            assert_ptr_equal(atomic_load(&sky__ctx_cur->q), q);
        if (i == 3 || i == 5 || i == 7)
            assert_ptr_equal(sky__ctx_cur, before); /* the same block: the inlined path */
    }
    sky_context_pop();
    assert_null(sky__ctx_cur);
    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    assert_int_equal(cap.n, 8);
    for (int i = 0; i < 8; i++) {
        assert_true((strstr(cap.lines[i], "\"req\":\"r1\",") != NULL) == (i >= 2));
        assert_true((strstr(cap.lines[i], "\"depth\":2,\"i\":") != NULL) == (i == 4 || i == 5));
    }
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&cap);
}

/* The call sites' wake requests, counted: the test is linked with -Wl,--wrap=sky__fast_notify
 * (tests/CMakeLists.txt), so the inlined commit's call lands here first. */
static atomic_int notified;
void __real_sky__fast_notify(sky__fast *q);
void __wrap_sky__fast_notify(sky__fast *q);
void __wrap_sky__fast_notify(sky__fast *q)
{
    atomic_fetch_add(&notified, 1);
    __real_sky__fast_notify(q);
}

/* The worker in its deep sleep (100 ms at a time; wake_at == tail: any record wakes it) is
 * woken by an inlined call, not by its timeout: the call's commit asks the library to wake
 * it (sky__fast_notify, which wakes a sleeping worker's futex), and the record is taken. How
 * soon the woken worker gets a core is the scheduler's business (a benchmark's, not a test's). */
static void test_inlined_call_wakes_the_worker(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_json(0, &cap);
    sky_logger *log = sky_logger_get(sky, "app.inline");
    sky__fast *q = hdr(log)->fast;
    int woken = 0;
    for (int trial = 0; trial < 5; trial++) {
        /* the idle worker naps (1 ms at a time) for 50 ms, then sleeps deeply; the bounds
         * here are only against a hang */
        uint64_t deep = atomic_load(&q->ring.tail);
        int64_t t0 = sky_monotonic_ns();
        while (atomic_load(&q->wake_at) != deep && sky_monotonic_ns() - t0 < 60000000000LL)
            usleep(500);
        assert_true(atomic_load(&q->wake_at) == deep);
        int before = atomic_load(&notified);
        sky_info(log, "wake", SKY_INT("i", trial));
        woken += atomic_load(&notified) > before;
        /* taken: the worker freed the record's space (polling the pipeline's stats instead
         * would wake it: they take its lock) */
        t0 = sky_monotonic_ns();
        while (atomic_load(&q->ring.tail) == deep && sky_monotonic_ns() - t0 < 60000000000LL)
            usleep(200);
        assert_true(atomic_load(&q->ring.tail) != deep);
    }
    /* A call makes no request only when the worker's sleep ended between the check above and
     * the call's commit (it is awake then, and needs none): microseconds out of 100 ms. */
    assert_true(woken >= 1);
    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    assert_int_equal(cap.n, 5);
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&cap);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_which_loggers_publish_a_handle),
        cmocka_unit_test(test_records_across_wraps),
        cmocka_unit_test(test_other_layout_or_gate_takes_the_library_call),
        cmocka_unit_test(test_context_blocks),
        cmocka_unit_test(test_inlined_call_wakes_the_worker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
