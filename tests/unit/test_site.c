/*
 * test_site.c - the sky_info() macros' per-call-site fast path (skylog.h: sky__site).
 *
 * A call site gets a schema after its first call when its name and keys are string literals;
 * later matching calls store only values in the ring, and the worker renders keys from the
 * schema. These tests check that the output is byte-for-byte what the general path writes,
 * for every field type and for calls that do not match the schema; that a site whose keys are
 * not in read-only memory never gets a schema; and that processors, context, bound loggers,
 * size limits and racing first calls behave as on the general path.
 */
#include "skytest.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char big_user[6000]; /* over the renderer's direct-escape limit; filled by the test */
static const char *users[] = {"alice", "b\"ob\\", "\xff\xfe bad utf-8", "", NULL,
                              "a string that is longer than sixteen bytes", big_user};
static const double dbls[] = {1.5, -0.0, 1e300, 3.0, 0.1};
static const char *jsons[] = {"{\"a\":[1,2]}", "not json", "42"};
static const int errs[] = {2, 0, 99999};

/* Every type, a reserved key ("level") and a key that needs escaping. */
#define FIELDS(i)                                                                                  \
    SKY_STR("user", users[(i) % 7]), SKY_INT("id", (i)), SKY_F64("ms", dbls[(i) % 5]),             \
        SKY_BOOL("ok", (i)&1), SKY_UINT("u", (uint64_t)(i) << 40), SKY_ERRNO("err", errs[(i) % 3]), \
        SKY_TIME("at", (int64_t)(i) * 1000000007), SKY_DUR("took", (i) * 1500),                    \
        SKY_JSON("raw", jsons[(i) % 3]), SKY_STR("level", "shadowed"),                             \
        SKY_STR("we\"ird\nkey", "v")

/* clang-format off: SITE_LINE must be the line of the sky_info() call */
enum { SITE_LINE = __LINE__ }; static void via_site(sky_logger *log, long i) { sky_info(log, "ev", FIELDS(i)); }
/* clang-format on */

static void via_emit(sky_logger *log, long i)
{
    static const sky_callsite cs = {__FILE__, "via_site", SITE_LINE};
    const sky_field fs[] = {FIELDS(i)};
    sky_emit(log, SKY_LEVEL_INFO, "ev", &cs, fs, sizeof fs / sizeof fs[0]);
}

/* A pipeline writing JSON into `cap`; ring 0 means the default size. */
static sky_t *open_ring(bool async, size_t ring, skytest_capture *cap)
{
    sky_t *sky = NULL;
    sky_options o = {.mode = async ? SKY_MODE_ASYNC : SKY_MODE_SYNC, .ring_bytes = ring};
    assert_int_equal(sky_open(&o, &sky), SKY_OK);
    assert_int_equal(sky_add_sink(sky, skytest_capture_sink(cap, SKY_FORMAT_JSON), NULL), SKY_OK);
    return sky;
}

static sky_t *open_capture(bool async, skytest_capture *cap) { return open_ring(async, 0, cap); }

/* The line without its timestamp, which differs between two calls. */
static const char *after_ts(const char *line)
{
    const char *p = strstr(line, "\"level\"");
    assert_non_null(p);
    return p;
}

static void test_output_matches_general_path(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof big_user - 1; k++)
        big_user[k] = k % 7 ? 'x' : '"';
    for (int async = 0; async < 2; async++) {
        skytest_capture cap = {0};
        sky_t *sky = open_capture(async, &cap);
        /* a logger name too long for the renderer's line cache takes its other branch */
        char long_name[401];
        memset(long_name, 'n', 400);
        long_name[400] = '\0';
        sky_logger *logs[2] = {sky_logger_get(sky, "app"), sky_logger_get(sky, long_name)};
        for (long i = 0; i < 60; i++) {
            via_site(logs[i % 2], i);
            via_emit(logs[i % 2], i);
        }
        assert_int_equal(sky_flush(sky, 5000), SKY_OK);
        assert_int_equal(cap.n, 120);
        for (size_t k = 0; k < cap.n; k += 2)
            assert_string_equal(after_ts(cap.lines[k]), after_ts(cap.lines[k + 1]));
        /* spot checks of what both paths write */
        assert_non_null(strstr(cap.lines[0], "\"_level\":\"shadowed\""));
        assert_non_null(strstr(cap.lines[0], "\"we\\\"ird\\nkey\":\"v\""));
        assert_non_null(strstr(cap.lines[8], "\"user\":null")); /* i = 4: a NULL string */
        assert_int_equal(sky_close(sky), SKY_OK);
        skytest_capture_reset(&cap);
    }
}

/* The private entry the macros use, with a site the test can inspect. */
#define CALL_SITE(site, log, name, ...)                                                            \
    do {                                                                                           \
        const sky_field fs_[] = {__VA_ARGS__};                                                     \
        sky__log_site((log), SKY_LEVEL_INFO, (name), &(site),                                     \
                      atomic_load_explicit(&(site).schema, memory_order_acquire), fs_,             \
                      sizeof fs_ / sizeof fs_[0]);                                                 \
    } while (0)

static sky_field lazy_seven(void *user, char *buf, size_t cap)
{
    (void)user, (void)buf, (void)cap;
    return SKY_INT(NULL, 7);
}

static const sky__schema *schema_of(sky__site *site)
{
    return atomic_load_explicit(&site->schema, memory_order_acquire);
}

static void test_schema_only_for_literals(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_capture(true, &cap);
    sky_logger *log = sky_logger_get(sky, "app");

    static sky__site lit = {{__FILE__, "f", 1}, NULL};
    CALL_SITE(lit, log, "hello", SKY_STR("a", "x"), SKY_INT("b", 1));
    const sky__schema *sc = schema_of(&lit);
    assert_non_null(sc);
    assert_int_equal(sc->n, 2);
    assert_string_equal(sc->name, "hello");
    assert_int_equal(sc->types[0], SKY_T_STR);
    assert_int_equal(sc->types[1], SKY_T_INT);
    CALL_SITE(lit, log, "hello", SKY_STR("a", "y"), SKY_INT("b", 2)); /* the fast path */
    assert_ptr_equal(schema_of(&lit), sc);                              /* decided once */

    /* a key in writable memory: rewritten at the same address, it must not be trusted */
    char key[8] = "k1";
    static sky__site stack_key = {{__FILE__, "f", 2}, NULL};
    CALL_SITE(stack_key, log, "hello", SKY_INT(key, 1));
    assert_int_equal(schema_of(&stack_key)->n, UINT32_MAX);
    key[1] = '2';
    CALL_SITE(stack_key, log, "hello", SKY_INT(key, 2));

    /* an event name in writable memory */
    char name[8] = "n1";
    static sky__site stack_name = {{__FILE__, "f", 3}, NULL};
    CALL_SITE(stack_name, log, name, SKY_INT("a", 1));
    assert_int_equal(schema_of(&stack_name)->n, UINT32_MAX);

    /* duplicate keys (the general path de-duplicates) and lazy fields */
    static sky__site dup = {{__FILE__, "f", 4}, NULL};
    CALL_SITE(dup, log, "hello", SKY_INT("a", 1), SKY_INT("a", 2));
    assert_int_equal(schema_of(&dup)->n, UINT32_MAX);
    CALL_SITE(dup, log, "hello", SKY_INT("a", 3), SKY_INT("a", 4));
    static sky__site lazy = {{__FILE__, "f", 6}, NULL};
    CALL_SITE(lazy, log, "hello", SKY_LAZY("l", lazy_seven, NULL));
    assert_int_equal(schema_of(&lazy)->n, UINT32_MAX);
    CALL_SITE(lazy, log, "hello", SKY_LAZY("l", lazy_seven, NULL));

    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    assert_int_equal(cap.n, 9);
    assert_non_null(strstr(cap.lines[1], "\"a\":\"y\",\"b\":2}"));
    assert_non_null(strstr(cap.lines[2], "\"k1\":1}"));
    assert_non_null(strstr(cap.lines[3], "\"k2\":2}"));
    assert_non_null(strstr(cap.lines[4], "\"message\":\"n1\""));
    assert_non_null(strstr(cap.lines[5], "\"line\":4,\"a\":2}"));
    assert_non_null(strstr(cap.lines[6], "\"line\":4,\"a\":4}"));
    assert_non_null(strstr(cap.lines[7], "\"line\":6,\"l\":7}"));
    assert_non_null(strstr(cap.lines[8], "\"line\":6,\"l\":7}"));
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&cap);

    /* a sync pipeline never learns: the schema would not be used */
    sky = open_capture(false, &cap);
    static sky__site sync_site = {{__FILE__, "f", 5}, NULL};
    CALL_SITE(sync_site, sky_logger_get(sky, NULL), "hello", SKY_INT("a", 1));
    assert_null(schema_of(&sync_site));
    assert_int_equal(cap.n, 1);
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&cap);
}

/* One site whose keys, types and name vary between calls: only matching calls take the fast
 * path, and every line carries its own call's keys and values. */
static void vary(sky_logger *log, int i)
{
    sky_log(log, i % 7 == 6 ? SKY_LEVEL_WARN : SKY_LEVEL_INFO, i % 5 == 4 ? "other" : "ev",
            SKY_STR(i % 3 == 2 ? "k2" : "k1", i % 4 == 3 ? NULL : "s"), SKY_INT("n", i));
}

static void test_mismatching_calls(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_capture(true, &cap);
    /* two loggers whose names have the same length, alternating at each site */
    sky_logger *logs[2] = {sky_logger_get(sky, "app"), sky_logger_get(sky, "apq")};
    for (int i = 0; i < 40; i++)
        vary(logs[i / 2 % 2], i);
    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    assert_int_equal(cap.n, 40);
    for (int i = 0; i < 40; i++) {
        char want[128];
        snprintf(want, sizeof want, "\"level\":\"%s\",\"logger\":\"%s\",\"message\":\"%s\"",
                 i % 7 == 6 ? "WARN" : "INFO", i / 2 % 2 ? "apq" : "app",
                 i % 5 == 4 ? "other" : "ev");
        assert_non_null(strstr(cap.lines[i], want));
        snprintf(want, sizeof want, "\"%s\":%s,\"n\":%d}", i % 3 == 2 ? "k2" : "k1",
                 i % 4 == 3 ? "null" : "\"s\"", i);
        assert_non_null(strstr(cap.lines[i], want));
    }
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&cap);
}

/* More loggers with same-length names than the renderer's line cache has slots, at one site:
 * entries that share a slot must still tell the loggers apart. */
static void many_site(sky_logger *log, int i) { sky_info(log, "ev", SKY_INT("n", i)); }

static void test_many_loggers_one_site(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_capture(true, &cap);
    enum { NLOG = 80 };
    sky_logger *logs[NLOG];
    for (int k = 0; k < NLOG; k++) {
        char name[8];
        snprintf(name, sizeof name, "l%02d", k);
        logs[k] = sky_logger_get(sky, name);
    }
    for (int i = 0; i < 3 * NLOG; i++)
        many_site(logs[i % NLOG], i);
    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    assert_int_equal(cap.n, 3 * NLOG);
    for (int i = 0; i < 3 * NLOG; i++) {
        char want[64];
        snprintf(want, sizeof want, "\"logger\":\"l%02d\",\"message\":\"ev\"", i % NLOG);
        assert_non_null(strstr(cap.lines[i], want));
    }
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&cap);
}

/* Processors change events decoded from site records: keys renamed, removed, set and added
 * must render as changed, not from the schema's key text. */
static sky_proc_result edit(void *user, sky_event *ev)
{
    (void)user;
    const sky_field *n = sky_event_get(ev, "n");
    switch (n ? n->v.i % 4 : 0) {
    case 1: sky_event_rename(ev, "a", "renamed"); break;
    case 2: sky_event_remove(ev, "a"); break;
    case 3: sky_event_set(ev, SKY_STR("b", "set")); break;
    default: break;
    }
    return SKY_PROC_KEEP;
}

static void edited(sky_logger *log, int i)
{
    sky_info(log, "ev", SKY_STR("a", "x"), SKY_STR("b", "y"), SKY_INT("n", i));
}

static void test_processors_edit_site_events(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_capture(true, &cap);
    assert_int_equal(sky_add_processor(sky, "edit", edit, NULL, NULL), SKY_OK);
    sky_logger *log = sky_logger_get(sky, "app");
    for (int i = 0; i < 20; i++)
        edited(log, i);
    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    assert_int_equal(cap.n, 20);
    static const char *want[4] = {",\"a\":\"x\",\"b\":\"y\",\"n\":",
                                  ",\"renamed\":\"x\",\"b\":\"y\",\"n\":",
                                  ",\"b\":\"y\",\"n\":", ",\"a\":\"x\",\"b\":\"set\",\"n\":"};
    for (int i = 0; i < 20; i++) {
        char w[96];
        const char *p = strstr(cap.lines[i], "\"line\":");
        assert_non_null(p);
        p = strchr(p, ',');
        assert_non_null(p);
        snprintf(w, sizeof w, "%s%d}\n", want[i % 4], i);
        assert_string_equal(p, w);
    }
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&cap);
}

/* More fields than a schema holds: the general path, every field written. */
static void wide(sky_logger *log, int i)
{
    sky_info(log, "wide", SKY_INT("f01", i), SKY_INT("f02", 2), SKY_INT("f03", 3), SKY_INT("f04", 4),
             SKY_INT("f05", 5), SKY_INT("f06", 6), SKY_INT("f07", 7), SKY_INT("f08", 8),
             SKY_INT("f09", 9), SKY_INT("f10", 10), SKY_INT("f11", 11), SKY_INT("f12", 12),
             SKY_INT("f13", 13), SKY_INT("f14", 14), SKY_INT("f15", 15), SKY_INT("f16", 16),
             SKY_INT("f17", 17));
}

static void test_more_fields_than_a_schema(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_capture(true, &cap);
    sky_logger *log = sky_logger_get(sky, "app");
    for (int i = 0; i < 3; i++)
        wide(log, i);
    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    assert_int_equal(cap.n, 3);
    for (int i = 0; i < 3; i++) {
        char want[64];
        snprintf(want, sizeof want, "\"f01\":%d,\"f02\":2,", i);
        assert_non_null(strstr(cap.lines[i], want));
        assert_non_null(strstr(cap.lines[i], ",\"f16\":16,\"f17\":17}"));
    }
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&cap);
}

/* Context and bound fields make a call take the general path, with everything in it. */
static void ctx_site(sky_logger *log, int i) { sky_info(log, "ev", SKY_INT("n", i)); }

static void test_context_and_bound_loggers(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_capture(true, &cap);
    sky_logger *log = sky_logger_get(sky, "app");
    ctx_site(log, 0); /* learns */
    ctx_site(log, 1); /* fast */
    const sky_field ctx[] = {SKY_STR("req", "r1")};
    sky_context_push(ctx, 1);
    ctx_site(log, 2);
    sky_context_pop();
    sky_logger *bound = SKY_BIND(log, SKY_STR("svc", "api"));
    assert_non_null(bound);
    ctx_site(bound, 3);
    ctx_site(log, 4);
    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    sky_logger_release(bound);
    assert_int_equal(cap.n, 5);
    assert_non_null(strstr(cap.lines[1], ",\"n\":1}"));
    assert_non_null(strstr(cap.lines[2], ",\"req\":\"r1\",\"n\":2}"));
    assert_non_null(strstr(cap.lines[3], ",\"svc\":\"api\",\"n\":3}"));
    assert_non_null(strstr(cap.lines[4], "\"line\":"));
    assert_null(strstr(cap.lines[4], "req"));
    assert_null(strstr(cap.lines[4], "svc"));
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&cap);
}

/* A value too large for the ring is dropped and counted at a schema site too. */
static void big_site(sky_logger *log, const char *s, size_t n)
{
    sky_info(log, "ev", SKY_STRN("s", s, n));
}

static void test_too_large_counted(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_ring(true, 8192, &cap);
    sky_logger *log = sky_logger_get(sky, "app");
    size_t big = 6000;
    char *s = malloc(big);
    assert_non_null(s);
    memset(s, 'x', big);
    big_site(log, s, 3);   /* learns */
    big_site(log, s, big); /* fast path, too large for a 8 KiB ring */
    big_site(log, s, 4);
    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    sky_stats st;
    sky_stats_get(sky, &st);
    assert_int_equal(st.dropped[SKY_DROP_TOO_LARGE], 1);
    assert_int_equal(cap.n, 3); /* two events and the skylog.gap that reports the loss */
    assert_non_null(strstr(cap.lines[1], "\"s\":\"xxxx\"}"));
    assert_non_null(strstr(cap.lines[2], "skylog.gap"));
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&cap);
    free(s);
}

/* Threads racing through a site's first calls: one schema wins, every event arrives once. */
#define RACERS 4
#define RACE_N 2000
static pthread_barrier_t race_barrier;
static void race_site(sky_logger *log, int t, int i)
{
    sky_info(log, "race", SKY_INT("t", t), SKY_INT("i", i), SKY_STR("s", "v"));
}
typedef struct racer {
    sky_logger *log;
    int t;
} racer;
static void *race_main(void *arg)
{
    racer *r = arg;
    pthread_barrier_wait(&race_barrier);
    for (int i = 0; i < RACE_N; i++)
        race_site(r->log, r->t, i);
    return NULL;
}

static void test_racing_first_calls(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_capture(true, &cap);
    pthread_t th[RACERS];
    racer r[RACERS];
    pthread_barrier_init(&race_barrier, NULL, RACERS);
    for (int t = 0; t < RACERS; t++) {
        r[t] = (racer){sky_logger_get(sky, "race"), t};
        assert_int_equal(pthread_create(&th[t], NULL, race_main, &r[t]), 0);
    }
    for (int t = 0; t < RACERS; t++)
        pthread_join(th[t], NULL);
    pthread_barrier_destroy(&race_barrier);
    assert_int_equal(sky_flush(sky, 10000), SKY_OK);
    assert_int_equal(cap.n, RACERS * RACE_N);
    int next[RACERS] = {0};
    for (size_t k = 0; k < cap.n; k++) {
        int t = -1, i = -1;
        const char *p = strstr(cap.lines[k], "\"t\":");
        assert_non_null(p);
        assert_int_equal(sscanf(p, "\"t\":%d,\"i\":%d,\"s\":\"v\"}", &t, &i), 2);
        assert_true(t >= 0 && t < RACERS);
        assert_int_equal(i, next[t]); /* per-thread order, nothing lost or repeated */
        next[t]++;
    }
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&cap);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_output_matches_general_path),
        cmocka_unit_test(test_schema_only_for_literals),
        cmocka_unit_test(test_mismatching_calls),
        cmocka_unit_test(test_many_loggers_one_site),
        cmocka_unit_test(test_processors_edit_site_events),
        cmocka_unit_test(test_context_and_bound_loggers),
        cmocka_unit_test(test_more_fields_than_a_schema),
        cmocka_unit_test(test_too_large_counted),
        cmocka_unit_test(test_racing_first_calls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
