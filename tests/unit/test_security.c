/* test_security.c - the security monitor (src/processors/security.c) and the derived events it
 * emits through (src/core/derived.c): thresholds, sliding windows, cooldown, key eviction under
 * 1M distinct keys, the rule syntax, and derived events in sync and async mode.
 *
 * Times come from the events' own "at" field (the monitor's time_field), so windows are tested
 * exactly, whatever the machine's speed. */
#include "skytest.h"
#include "util/text.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_NS (60LL * 1000000000)
#define SEC_NS (1000000000LL)

static sky_t *open_capture(skytest_capture *cap, sky_mode mode)
{
    sky_t *sky = NULL;
    assert_int_equal(sky_open(&(sky_options){.level = SKY_LEVEL_TRACE, .level_set = true,
                                             .mode = mode},
                              &sky),
                     SKY_OK);
    assert_int_equal(sky_add_sink(sky, skytest_capture_sink(cap, SKY_FORMAT_JSON), NULL), SKY_OK);
    return sky;
}

/* The captured security_alert events, parsed (caller frees with json_decref). */
static size_t alerts(skytest_capture *cap, json_t **out, size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < cap->n; i++) {
        json_t *j = json_loads(cap->lines[i], 0, NULL);
        assert_non_null(j);
        if (strcmp(json_string_value(json_object_get(j, "message")), "security_alert") == 0 &&
            k < max)
            out[k++] = j;
        else
            json_decref(j);
    }
    return k;
}

static void free_all(json_t **a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        json_decref(a[i]);
}

static const int64_t T0 = 1796600000LL * SEC_NS; /* some fixed time */

static void login_failed(sky_logger *log, const char *user, int64_t at_ns)
{
    sky_warn(log, "login_failed", SKY_STR("user", user), SKY_TIME("at", at_ns),
             SKY_STR("ip", "10.0.0.1"));
}

static void test_threshold_and_window(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_capture(&cap, SKY_MODE_SYNC);
    const char *rules[] = {"brute_force: login_failed by user >= 5 in 5m", NULL};
    sky_security_monitor *m = NULL;
    assert_int_equal(sky_add_security_monitor(sky, &(sky_security_opts){.rule_specs = rules,
                                                                        .time_field = "at"},
                                              &m),
                     SKY_OK);
    sky_logger *log = sky_logger_get(sky, "auth");
    /* bob: 4 failures spread over 10 minutes, then 4 more within a minute: never 5 in 5 min
     * until the 5th of the second burst */
    for (int i = 0; i < 4; i++)
        login_failed(log, "bob", T0 + i * 3 * MIN_NS);
    json_t *a[8];
    assert_int_equal(alerts(&cap, a, 8), 0);
    int64_t t1 = T0 + 20 * MIN_NS;
    for (int i = 0; i < 4; i++)
        login_failed(log, "bob", t1 + i * SEC_NS);
    assert_int_equal(alerts(&cap, a, 8), 0);
    /* alice has 4 too: keys are counted apart */
    for (int i = 0; i < 4; i++)
        login_failed(log, "alice", t1 + i * SEC_NS);
    assert_int_equal(alerts(&cap, a, 8), 0);
    login_failed(log, "bob", t1 + 4 * MIN_NS + 59 * SEC_NS); /* the 5th within 5 min */
    size_t n = alerts(&cap, a, 8);
    assert_int_equal(n, 1);
    assert_string_equal(json_string_value(json_object_get(a[0], "alert")), "brute_force");
    assert_string_equal(json_string_value(json_object_get(a[0], "user")), "bob");
    assert_string_equal(json_string_value(json_object_get(a[0], "key")), "user");
    assert_string_equal(json_string_value(json_object_get(a[0], "event")), "login_failed");
    assert_string_equal(json_string_value(json_object_get(a[0], "level")), "WARN");
    assert_string_equal(json_string_value(json_object_get(a[0], "logger")), "security");
    assert_int_equal(json_integer_value(json_object_get(a[0], "count")), 5);
    assert_int_equal(json_integer_value(json_object_get(a[0], "window_ms")), 300000);
    assert_int_equal(json_integer_value(json_object_get(a[0], "key_total")), 9);
    char first[32], last[32];
    sky__iso8601_ms(first, t1);
    sky__iso8601_ms(last, t1 + 4 * MIN_NS + 59 * SEC_NS);
    first[24] = last[24] = '\0';
    assert_string_equal(json_string_value(json_object_get(a[0], "first_seen")), first);
    assert_string_equal(json_string_value(json_object_get(a[0], "last_seen")), last);
    free_all(a, n);
    /* the alert comes right after the event that raised it */
    json_t *prev = json_loads(cap.lines[cap.n - 2], 0, NULL);
    assert_string_equal(json_string_value(json_object_get(prev, "message")), "login_failed");
    json_decref(prev);
    /* a 6th just past the window of the first burst's start: the ring slides, and the
     * cooldown (the window) holds the next alert back */
    login_failed(log, "bob", t1 + 5 * MIN_NS + 1);
    assert_int_equal(alerts(&cap, a, 8), 1);
    free_all(a, 1);
    sky_security_stats st;
    sky_security_stats_get(m, &st);
    assert_int_equal(st.alerts, 1);
    assert_int_equal(st.suppressed, 1);
    assert_int_equal(st.counted, 14);
    assert_int_equal(st.tracked, 2);
    /* after the cooldown, 5 more within the window: the alert says how many were held back */
    int64_t t2 = t1 + 4 * MIN_NS + 59 * SEC_NS + 5 * MIN_NS;
    for (int i = 0; i < 5; i++)
        login_failed(log, "bob", t2 + i * SEC_NS);
    n = alerts(&cap, a, 8);
    assert_int_equal(n, 2);
    assert_int_equal(json_integer_value(json_object_get(a[1], "suppressed")), 1);
    free_all(a, n);
    sky_close(sky);
    skytest_capture_reset(&cap);
}

/* cooldown < 0 (a file's `cooldown: 0`): no cooldown, every event past the threshold alerts;
 * 0 (unset) stays the rule's window */
static void test_no_cooldown(void **state)
{
    (void)state;
    for (int none = 0; none < 2; none++) {
        skytest_capture cap = {0};
        sky_t *sky = open_capture(&cap, SKY_MODE_SYNC);
        const char *rules[] = {"brute_force: login_failed by user >= 3 in 5m", NULL};
        sky_security_monitor *m = NULL;
        assert_int_equal(sky_add_security_monitor(
                             sky, &(sky_security_opts){.rule_specs = rules, .time_field = "at",
                                                       .cooldown_ms = none ? -1 : 0},
                             &m),
                         SKY_OK);
        sky_logger *log = sky_logger_get(sky, "auth");
        for (int i = 0; i < 5; i++)
            login_failed(log, "bob", T0 + i * SEC_NS);
        json_t *a[8];
        size_t n = alerts(&cap, a, 8);
        assert_int_equal(n, none ? 3 : 1);
        free_all(a, n);
        sky_close(sky);
        skytest_capture_reset(&cap);
    }
}

static void test_rate_per_ip_any_event_and_integer_keys(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_capture(&cap, SKY_MODE_SYNC);
    const char *rules[] = {"rate_abuse: * by ip >= 100 in 1m", "by_id: request by uid >= 3 in 1s",
                           NULL};
    assert_int_equal(sky_add_security_monitor(sky, &(sky_security_opts){.rule_specs = rules,
                                                                        .time_field = "at",
                                                                        .level = SKY_LEVEL_ERROR,
                                                                        .logger = "sec"},
                                              NULL),
                     SKY_OK);
    sky_logger *log = sky_logger_get(sky, "http");
    /* 99 requests in a minute from one IP, whatever the event: no alert; the 100th: one */
    for (int i = 0; i < 99; i++)
        sky_info(log, i % 2 ? "request" : "static", SKY_STR("ip", "203.0.113.9"),
                 SKY_TIME("at", T0 + i * 600000000LL));
    json_t *a[4];
    assert_int_equal(alerts(&cap, a, 4), 0);
    sky_info(log, "request", SKY_STR("ip", "203.0.113.9"), SKY_TIME("at", T0 + 59 * SEC_NS));
    assert_int_equal(alerts(&cap, a, 4), 1);
    assert_string_equal(json_string_value(json_object_get(a[0], "alert")), "rate_abuse");
    assert_string_equal(json_string_value(json_object_get(a[0], "ip")), "203.0.113.9");
    assert_string_equal(json_string_value(json_object_get(a[0], "event")), "*");
    assert_string_equal(json_string_value(json_object_get(a[0], "level")), "ERROR");
    assert_string_equal(json_string_value(json_object_get(a[0], "logger")), "sec");
    free_all(a, 1);
    /* 100 in 61 s from another IP: never 100 within one minute */
    for (int i = 0; i < 100; i++)
        sky_info(log, "request", SKY_STR("ip", "198.51.100.7"),
                 SKY_TIME("at", T0 + i * 616000000LL));
    assert_int_equal(alerts(&cap, a, 4), 1);
    free_all(a, 1);
    /* integer keys; time as integer Unix ms */
    for (int i = 0; i < 3; i++)
        sky_info(log, "request", SKY_INT("uid", 42), SKY_INT("at", T0 / 1000000 + i * 100));
    assert_int_equal(alerts(&cap, a, 4), 2);
    assert_string_equal(json_string_value(json_object_get(a[1], "uid")), "42"); /* as text */
    free_all(a, 2);
    sky_close(sky);
    skytest_capture_reset(&cap);
}

static void test_eviction_under_a_million_keys(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_capture(&cap, SKY_MODE_SYNC);
    /* the flood goes through the monitor, not to the capture sink: drop it after counting */
    const char *rules[] = {"rate_abuse: * by ip >= 3 in 1m", NULL};
    sky_security_monitor *m = NULL;
    assert_int_equal(sky_add_security_monitor(sky, &(sky_security_opts){.rule_specs = rules,
                                                                        .max_keys = 1000,
                                                                        .time_field = "at"},
                                              &m),
                     SKY_OK);
    const char *drop[] = {"flood", NULL};
    assert_int_equal(sky_add_event_filter(sky, NULL, drop), SKY_OK);
    sky_logger *log = sky_logger_get(sky, "http");
    char ip[32];
    /* one attacker, then 1,000,000 distinct spoofed IPs, then the attacker again */
    sky_info(log, "flood", SKY_STR("ip", "192.0.2.1"), SKY_TIME("at", T0));
    sky_info(log, "flood", SKY_STR("ip", "192.0.2.1"), SKY_TIME("at", T0 + 1));
    for (int i = 0; i < 1000000; i++) {
        snprintf(ip, sizeof ip, "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        sky_info(log, "flood", SKY_STR("ip", ip), SKY_TIME("at", T0 + 2));
    }
    sky_security_stats st;
    sky_security_stats_get(m, &st);
    assert_int_equal(st.tracked, 1000); /* bounded */
    assert_int_equal(st.evictions, 1000000 + 1 - 1000);
    assert_int_equal(st.counted, 1000002);
    assert_int_equal(cap.n, 0);
    /* the attacker's first two were evicted with its key: its window starts again */
    sky_info(log, "flood", SKY_STR("ip", "192.0.2.1"), SKY_TIME("at", T0 + 3));
    json_t *a[2];
    assert_int_equal(alerts(&cap, a, 2), 0);
    sky_info(log, "flood", SKY_STR("ip", "192.0.2.1"), SKY_TIME("at", T0 + 4));
    sky_info(log, "flood", SKY_STR("ip", "192.0.2.1"), SKY_TIME("at", T0 + 5));
    assert_int_equal(alerts(&cap, a, 2), 1); /* the alert is not a "flood": it passes */
    /* its return evicted one more key */
    assert_int_equal(json_integer_value(json_object_get(a[0], "evicted_keys")), 999002);
    free_all(a, 1);
    sky_security_stats_get(m, &st);
    assert_int_equal(st.tracked, 1000);
    sky_close(sky);
    skytest_capture_reset(&cap);
}

static void test_async_mode_and_defaults(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_capture(&cap, SKY_MODE_ASYNC);
    sky_security_monitor *m = NULL;
    assert_int_equal(sky_add_security_monitor(sky, NULL, &m), SKY_OK); /* the two defaults */
    sky_logger *log = sky_logger_get(sky, "auth");
    for (int i = 0; i < 5; i++)
        sky_warn(log, "login_failed", SKY_STR("user", "mallory"));
    assert_int_equal(sky_flush(sky, 10000), SKY_OK);
    json_t *a[4];
    assert_int_equal(alerts(&cap, a, 4), 1); /* on the worker, after its batch */
    assert_string_equal(json_string_value(json_object_get(a[0], "user")), "mallory");
    free_all(a, 1);
    sky_security_stats st;
    sky_security_stats_get(m, &st);
    assert_int_equal(st.alerts, 1);
    sky_close(sky);
    skytest_capture_reset(&cap);
}

static void test_rule_syntax(void **state)
{
    (void)state;
    char buf[600], err[200];
    sky_security_rule r;
    assert_true(sky_security_rule_parse("bf: login_failed by user >= 5 in 5m", &r, buf,
                                        sizeof buf, err, sizeof err));
    assert_string_equal(r.name, "bf");
    assert_string_equal(r.event, "login_failed");
    assert_string_equal(r.key, "user");
    assert_int_equal(r.threshold, 5);
    assert_int_equal(r.window_ms, 300000);
    assert_true(sky_security_rule_parse("  x :*   by  ip>=1 in 1.5s ", &r, buf, sizeof buf, err,
                                        sizeof err));
    assert_null(r.event);
    assert_int_equal(r.window_ms, 1500);
    static const char *const bad[] = {
        "", "no colon", "a: b c >= 1 in 1m", "a: b by >= 1 in 1m", "a: b by k >= 0 in 1m",
        "a: b by k >= 10001 in 1m", "a: b by k >= 5 in 5", "a: b by k >= 5 in 5y",
        "a: b by k >= 5 in 8d", "a: b by k >= 5 in 1m extra", "a: b by * >= 5 in 1m",
        "a: b by k >= -5 in 1m"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        assert_false(sky_security_rule_parse(bad[i], &r, buf, sizeof buf, err, sizeof err));
        assert_true(err[0] != '\0');
    }
    char big[700];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_false(sky_security_rule_parse(big, &r, buf, sizeof buf, err, sizeof err));
    /* bad options */
    sky_t *sky = NULL;
    assert_int_equal(sky_open(NULL, &sky), SKY_OK);
    const char *rules[] = {"nope", NULL};
    assert_int_equal(sky_add_security_monitor(sky, &(sky_security_opts){.rule_specs = rules},
                                              NULL),
                     SKY_EINVAL);
    assert_int_equal(sky_add_security_monitor(
                         sky, &(sky_security_opts){.max_keys = 100000, .rule_specs = (const char *[]){
                                                       "a: * by ip >= 10000 in 1m", NULL}},
                         NULL),
                     SKY_EINVAL); /* 10^9 timestamps: over the memory bound */
    sky_close(sky);
}

/* A processor that derives one event from each "ping"; and derives from its own too, to
 * check that a drain is bounded. */
static sky_proc_result deriver(void *user, sky_event *ev)
{
    sky_logger *log = user;
    const char *name = sky_event_name(ev);
    if (strcmp(name, "ping") == 0) {
        sky_field f = sky_field_str("from", "ping");
        assert_int_equal(sky_emit_derived(log, SKY_LEVEL_INFO, "pong", &f, 1), SKY_OK);
    } else if (strcmp(name, "loop") == 0) {
        sky_emit_derived(log, SKY_LEVEL_INFO, "loop", NULL, 0);
    }
    return SKY_PROC_KEEP;
}

static void test_derived_events(void **state)
{
    (void)state;
    for (int mode = 0; mode < 2; mode++) {
        skytest_capture cap = {0};
        sky_t *sky = open_capture(&cap, mode ? SKY_MODE_ASYNC : SKY_MODE_SYNC);
        sky_logger *log = sky_logger_get(sky, "d");
        assert_int_equal(sky_add_processor(sky, "deriver", deriver, log, NULL), SKY_OK);
        sky_info(log, "ping");
        sky_info(log, "ping");
        assert_int_equal(sky_flush(sky, 10000), SKY_OK);
        assert_int_equal(cap.n, 4);
        if (!mode) /* sync: each right after its event */
            for (size_t i = 0; i < 4; i++)
                assert_non_null(strstr(cap.lines[i], i % 2 ? "\"pong\"" : "\"ping\""));
        /* lazy fields are refused (they would run on the wrong thread) */
        sky_field lazy = {.key = "x", .key_len = 1, .type = SKY_T_LAZY};
        assert_int_equal(sky_emit_derived(log, SKY_LEVEL_INFO, "x", &lazy, 1), SKY_EINVAL);
        /* an event deriving itself forever: each drain stops at SKY_DERIVED_MAX */
        sky_info(log, "loop");
        assert_int_equal(sky_flush(sky, 10000), SKY_OK);
        assert_true(cap.n >= 4 + 1 + SKY_DERIVED_MAX);
        sky_close(sky);
        skytest_capture_reset(&cap);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threshold_and_window),
        cmocka_unit_test(test_no_cooldown),
        cmocka_unit_test(test_rate_per_ip_any_event_and_integer_keys),
        cmocka_unit_test(test_eviction_under_a_million_keys),
        cmocka_unit_test(test_async_mode_and_defaults),
        cmocka_unit_test(test_rule_syntax),
        cmocka_unit_test(test_derived_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
