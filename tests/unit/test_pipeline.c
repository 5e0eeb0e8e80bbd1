/* test_pipeline.c - loggers and levels, context, bound loggers, lazy fields, the processor
 * chain, routing and the accounting invariant (src/core). */
#include "skytest.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sky_t *open_with_capture(skytest_capture *cap, sky_level level)
{
    sky_t *sky = NULL;
    assert_int_equal(sky_open(&(sky_options){.level = level, .level_set = true}, &sky), SKY_OK);
    assert_int_equal(sky_add_sink(sky, skytest_capture_sink(cap, SKY_FORMAT_JSON), NULL), SKY_OK);
    return sky;
}

static void test_status_and_levels(void **state)
{
    (void)state;
    assert_string_equal(sky_strerror(SKY_OK), "ok");
    for (int s = 0; s < SKY_STATUS_COUNT_; s++)
        assert_non_null(sky_strerror((sky_status)s));
    sky_level l;
    assert_int_equal(sky_level_parse("WARNING", &l), SKY_OK);
    assert_int_equal(l, SKY_LEVEL_WARN);
    assert_int_equal(sky_level_parse("fatal", &l), SKY_OK);
    assert_int_equal(l, SKY_LEVEL_CRITICAL);
    l = SKY_LEVEL_DEBUG;
    assert_int_equal(sky_level_parse("loud", &l), SKY_EINVAL);
    assert_int_equal(l, SKY_LEVEL_DEBUG);
    assert_string_equal(sky_level_name(SKY_LEVEL_CRITICAL), "CRITICAL");
    assert_string_equal(sky_level_name((sky_level)99), "?");
    sky_t *sky;
    assert_int_equal(sky_open(&(sky_options){.mode = (sky_mode)7}, &sky), SKY_EINVAL);
    assert_int_equal(sky_open(NULL, NULL), SKY_EINVAL);
}

static void test_level_inheritance(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_with_capture(&cap, SKY_LEVEL_INFO);
    sky_logger *app = sky_logger_get(sky, "app");
    sky_logger *db = sky_logger_get(sky, "app.db");
    sky_logger *dbx = sky_logger_get(sky, "app.dbx"); /* not a child of app.db */
    assert_ptr_equal(db, sky_logger_get(sky, "app.db"));
    assert_int_equal(sky_logger_level(db), SKY_LEVEL_INFO);

    assert_int_equal(sky_set_level(sky, "app", SKY_LEVEL_ERROR), SKY_OK);
    assert_int_equal(sky_logger_level(app), SKY_LEVEL_ERROR);
    assert_int_equal(sky_logger_level(db), SKY_LEVEL_ERROR);
    assert_int_equal(sky_set_level(sky, "app.db", SKY_LEVEL_DEBUG), SKY_OK);
    assert_int_equal(sky_logger_level(db), SKY_LEVEL_DEBUG);
    assert_int_equal(sky_logger_level(dbx), SKY_LEVEL_ERROR);
    /* a logger created later inherits from its nearest configured ancestor */
    sky_logger *deep = sky_logger_get(sky, "app.db.pool");
    assert_int_equal(sky_logger_level(deep), SKY_LEVEL_DEBUG);
    /* setting the parent again does not override the child's own level */
    sky_set_level(sky, "app", SKY_LEVEL_WARN);
    assert_int_equal(sky_logger_level(db), SKY_LEVEL_DEBUG);
    assert_int_equal(sky_logger_level(app), SKY_LEVEL_WARN);
    assert_int_equal(sky_set_level(sky, "x", (sky_level)42), SKY_EINVAL);

    sky_debug(db, "shown");
    sky_info(app, "hidden");
    sky_debug(dbx, "hidden");
    assert_int_equal(cap.n, 1);
    assert_non_null(strstr(cap.lines[0], "\"message\":\"shown\""));
    sky_close(sky);
    skytest_capture_reset(&cap);
}

/* Levels with thousands of loggers (sky_set_level recomputes them all in one pass, with a hash
 * table: core/logger.c): after every change each logger has the level of its nearest dotted
 * ancestor with an explicit one, as a direct model computes it, including the odd names. */
#define MANY 2400
typedef struct model_logger {
    char name[32];
    int explicit_level; /* -1: none */
    sky_logger *log;
} model_logger;

static bool model_ancestor(const char *anc, const char *name)
{
    size_t al = strlen(anc);
    return al == 0 || (strncmp(anc, name, al) == 0 && (name[al] == '\0' || name[al] == '.'));
}

static void check_model(const model_logger *m, size_t n, int root_level)
{
    for (size_t i = 0; i < n; i++) {
        int want = root_level;
        size_t best = 0;
        for (size_t j = 0; j < n; j++)
            if (m[j].explicit_level >= 0 && model_ancestor(m[j].name, m[i].name) &&
                strlen(m[j].name) >= best) {
                best = strlen(m[j].name);
                want = m[j].explicit_level;
            }
        if ((int)sky_logger_level(m[i].log) != want)
            fail_msg("'%s': level %d, want %d", m[i].name, (int)sky_logger_level(m[i].log), want);
    }
}

static void test_levels_of_many_loggers(void **state)
{
    (void)state;
    sky_t *sky = NULL;
    assert_int_equal(sky_open(&(sky_options){.level = SKY_LEVEL_INFO, .level_set = true}, &sky),
                     SKY_OK);
    static model_logger m[MANY + 8];
    size_t n = 0;
    static const char *const odd[] = {"a", "a.", "a..b", ".x", "ab", "a.b", "a.bc", "a.b.c"};
    for (size_t i = 0; i < sizeof odd / sizeof *odd; i++)
        snprintf(m[n++].name, sizeof m[0].name, "%s", odd[i]);
    for (int s = 0; n < MANY + 8; s++) {
        snprintf(m[n++].name, sizeof m[0].name, "svc%d", s);
        for (int c = 0; c < 5 && n < MANY + 8; c++) {
            snprintf(m[n++].name, sizeof m[0].name, "svc%d.c%d", s, c);
            for (int d = 0; d < 3 && n < MANY + 8; d++)
                snprintf(m[n++].name, sizeof m[0].name, "svc%d.c%d.d%d", s, c, d);
        }
    }
    for (size_t i = 0; i < n; i++) {
        m[i].explicit_level = -1;
        m[i].log = sky_logger_get(sky, m[i].name);
    }
    check_model(m, n, SKY_LEVEL_INFO);
    unsigned seed = 12345;
    for (int round = 0; round < 300; round++) {
        seed = seed * 1103515245u + 12345u;
        size_t i = (seed >> 8) % n;
        int level = (int)((seed >> 20) % SKY_LEVEL_OFF);
        assert_int_equal(sky_set_level(sky, m[i].name, (sky_level)level), SKY_OK);
        m[i].explicit_level = level;
        if (round % 50 == 0 || round < 10)
            check_model(m, n, SKY_LEVEL_INFO);
    }
    assert_int_equal(sky_set_level(sky, "a", SKY_LEVEL_ERROR), SKY_OK); /* the odd names */
    m[0].explicit_level = SKY_LEVEL_ERROR;
    assert_int_equal(sky_set_level(sky, "a.", SKY_LEVEL_DEBUG), SKY_OK);
    m[1].explicit_level = SKY_LEVEL_DEBUG;
    check_model(m, n, SKY_LEVEL_INFO);
    assert_int_equal(sky_logger_level(m[2].log), SKY_LEVEL_DEBUG); /* "a..b" under "a." */
    /* the root's level is every logger's without a nearer one */
    assert_int_equal(sky_set_level(sky, "", SKY_LEVEL_WARN), SKY_OK);
    check_model(m, n, SKY_LEVEL_WARN);
    sky_close(sky);
}

static int evaluated;
static int side_effect(void)
{
    evaluated++;
    return 7;
}

static sky_field lazy_value(void *user, char *buf, size_t cap)
{
    (void)user;
    evaluated++;
    snprintf(buf, cap, "computed-%d", 99);
    return SKY_STR(NULL, buf);
}

static void test_disabled_level_evaluates_nothing(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_with_capture(&cap, SKY_LEVEL_INFO);
    sky_logger *log = sky_logger_get(sky, "lazy");
    evaluated = 0;
    sky_debug(log, "off", SKY_INT("x", side_effect()), SKY_LAZY("l", lazy_value, NULL));
    assert_int_equal(evaluated, 0);
    sky_info(log, "on", SKY_INT("x", side_effect()), SKY_LAZY("l", lazy_value, NULL));
    assert_int_equal(evaluated, 2);
    assert_non_null(strstr(cap.lines[0], "\"x\":7,\"l\":\"computed-99\""));
    sky_stats st;
    sky_stats_get(sky, &st);
    assert_int_equal(st.emitted, 1);
    sky_close(sky);
    skytest_capture_reset(&cap);
}

static void leave_early(sky_logger *log)
{
    SKY_WITH_CONTEXT(SKY_STR("scope", "early")) {
        sky_info(log, "inside");
        return; /* the cleanup attribute pops the context */
    }
}

static void test_context_scopes(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_with_capture(&cap, SKY_LEVEL_INFO);
    sky_logger *log = sky_logger_get(sky, "ctx");
    assert_int_equal(sky_context_size(), 0);
    SKY_WITH_CONTEXT(SKY_STR("a", "1")) {
        SKY_WITH_CONTEXT(SKY_STR("b", "2"), SKY_STR("a", "inner")) {
            assert_int_equal(sky_context_size(), 3);
            sky_info(log, "nested");
        }
        for (int i = 0; i < 3; i++) {
            SKY_WITH_CONTEXT(SKY_INT("i", i)) {
                if (i == 1)
                    break;
            }
        }
        assert_int_equal(sky_context_size(), 1);
    }
    assert_int_equal(sky_context_size(), 0);
    leave_early(log);
    assert_int_equal(sky_context_size(), 0);
    assert_non_null(strstr(cap.lines[0], "\"a\":\"inner\",\"b\":\"2\"") ||
                    strstr(cap.lines[0], "\"b\":\"2\",\"a\":\"inner\""));
    assert_null(strstr(cap.lines[0], "\"a\":\"1\""));

    /* overflow: pushes past the limit are refused, counted, and pops stay matched */
    sky_field f = SKY_INT("d", 1);
    for (int i = 0; i < SKY_CONTEXT_MAX_DEPTH; i++)
        assert_int_equal(sky_context_push(&f, 1), SKY_OK);
    assert_int_equal(sky_context_push(&f, 1), SKY_EFULL);
    sky_stats st;
    sky_stats_get(sky, &st);
    assert_true(st.context_overflows >= 1);
    for (int i = 0; i <= SKY_CONTEXT_MAX_DEPTH; i++)
        sky_context_pop();
    assert_int_equal(sky_context_size(), 0);
    sky_context_pop(); /* extra pop is harmless */
    sky_close(sky);
    skytest_capture_reset(&cap);
}

static void test_bound_loggers(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_with_capture(&cap, SKY_LEVEL_INFO);
    sky_logger *log = sky_logger_get(sky, "svc");
    char rid[16];
    strcpy(rid, "r-1");
    sky_logger *child = SKY_BIND(log, SKY_STR("request_id", rid), SKY_INT("n", 1));
    strcpy(rid, "CHANGED"); /* fields were deep-copied */
    sky_logger *grandchild = SKY_BIND(child, SKY_STR("step", "pay"), SKY_INT("n", 2));
    sky_info(grandchild, "ev", SKY_STR("k", "v"));
    assert_non_null(strstr(cap.lines[0], "\"logger\":\"svc\""));
    assert_non_null(strstr(cap.lines[0], "\"request_id\":\"r-1\",\"step\":\"pay\",\"n\":2,\"k\":\"v\""));
    /* level follows the parent */
    sky_set_level(sky, "svc", SKY_LEVEL_ERROR);
    assert_false(sky_enabled(grandchild, SKY_LEVEL_WARN));
    assert_true(sky_enabled(grandchild, SKY_LEVEL_ERROR));
    sky_logger_release(grandchild);
    sky_logger_release(child);
    sky_close(sky);
    skytest_capture_reset(&cap);
}

/* ---- processors ------------------------------------------------------------------------- */

static sky_proc_result add_then_fail(void *user, sky_event *ev)
{
    (void)user;
    sky_event_set(ev, SKY_STR("junk", "should be undone"));
    sky_event_remove(ev, "keep");
    sky_event_set_level(ev, SKY_LEVEL_CRITICAL);
    return SKY_PROC_FAILED;
}

static sky_proc_result rename_and_tag(void *user, sky_event *ev)
{
    (void)user;
    assert_int_equal(sky_event_rename(ev, "usr", "user"), SKY_OK);
    assert_int_equal(sky_event_rename(ev, "absent", "x"), SKY_ENOTFOUND);
    sky_event_set(ev, SKY_INT("tagged", 1));
    return SKY_PROC_KEEP;
}

static sky_proc_result drop_secret_events(void *user, sky_event *ev)
{
    int *seen = user;
    (*seen)++;
    return strcmp(sky_event_name(ev), "secret") == 0 ? SKY_PROC_DROP : SKY_PROC_KEEP;
}

static int freed;
static void count_free(void *p)
{
    (void)p;
    freed++;
}

static void test_processor_chain(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_with_capture(&cap, SKY_LEVEL_INFO);
    int seen = 0;
    freed = 0;
    sky_add_processor(sky, "fails", add_then_fail, NULL, NULL);
    sky_add_processor(sky, "rename", rename_and_tag, NULL, NULL);
    sky_add_processor(sky, "drop", drop_secret_events, &seen, count_free);
    sky_logger *log = sky_logger_get(sky, "p");
    sky_info(log, "visible", SKY_STR("usr", "bob"), SKY_STR("keep", "yes"));
    sky_info(log, "secret", SKY_STR("usr", "eve"));
    assert_int_equal(cap.n, 1);
    const char *l = cap.lines[0];
    assert_non_null(strstr(l, "\"level\":\"INFO\"")); /* failed processor's level change undone */
    assert_null(strstr(l, "junk"));
    assert_non_null(strstr(l, "\"user\":\"bob\",\"keep\":\"yes\",\"tagged\":1"));
    assert_int_equal(seen, 2);

    sky_stats st;
    sky_stats_get(sky, &st);
    assert_int_equal(st.emitted, 2);
    assert_int_equal(st.processor_failures, 2);
    assert_int_equal(st.dropped[SKY_DROP_PROCESSOR], 1);
    assert_int_equal(st.dropped_by_level[SKY_LEVEL_INFO], 1);
    assert_int_equal(st.routed, 1);
    sky_processor_stats ps;
    assert_int_equal(sky_processor_stats_get(sky, 0, &ps), SKY_OK);
    assert_string_equal(ps.name, "fails");
    assert_int_equal(ps.calls, 2);
    assert_int_equal(ps.failures, 2);
    assert_int_equal(sky_processor_stats_get(sky, 2, &ps), SKY_OK);
    assert_int_equal(ps.drops, 1);
    assert_int_equal(sky_processor_stats_get(sky, 3, &ps), SKY_ENOTFOUND);
    sky_close(sky);
    assert_int_equal(freed, 1);
    skytest_capture_reset(&cap);
}

/* ---- routing ---------------------------------------------------------------------------- */

static bool only_payments(void *user, const sky_event *ev)
{
    (void)user;
    return strncmp(sky_event_name(ev), "pay", 3) == 0;
}

static void test_routing_and_accounting(void **state)
{
    (void)state;
    skytest_capture all = {0}, errors = {0}, pay = {0};
    sky_t *sky = NULL;
    assert_int_equal(sky_open(&(sky_options){.level = SKY_LEVEL_TRACE, .level_set = true}, &sky),
                     SKY_OK);
    sky_add_sink(sky, skytest_capture_sink(&all, SKY_FORMAT_JSON),
                 &(sky_route){.name = "all", .level = SKY_LEVEL_DEBUG});
    sky_sink *errors_sink = skytest_capture_sink(&errors, SKY_FORMAT_LOGFMT);
    sky_add_sink(sky, errors_sink, &(sky_route){.name = "errors", .level = SKY_LEVEL_ERROR});
    sky_add_sink(sky, skytest_capture_sink(&pay, SKY_FORMAT_JSON),
                 &(sky_route){.name = "pay", .filter = only_payments});
    /* sky_sink_get: the sinks in the order added, for their own stats getters */
    assert_ptr_equal(sky_sink_get(sky, 1), errors_sink);
    assert_non_null(sky_sink_get(sky, 2));
    assert_null(sky_sink_get(sky, 3));
    assert_null(sky_sink_get(NULL, 0));
    sky_logger *log = sky_logger_get(sky, "r");
    sky_trace(log, "nobody_wants_this");
    sky_debug(log, "debug_thing");
    sky_error(log, "payment_failed");
    sky_info(log, "payment_ok");
    assert_int_equal(all.n, 3);
    assert_int_equal(errors.n, 1);
    assert_true(strncmp(errors.lines[0], "ts=", 3) == 0);
    assert_int_equal(pay.n, 2);
    sky_stats st;
    sky_stats_get(sky, &st);
    assert_int_equal(st.emitted, 4);
    assert_int_equal(st.routed, 3);
    assert_int_equal(st.dropped[SKY_DROP_NO_SINK], 1);
    uint64_t dropped = 0;
    for (int i = 0; i < SKY_DROP_REASON_COUNT_; i++)
        dropped += st.dropped[i];
    assert_int_equal(st.routed + dropped, st.emitted);
    const char *name;
    sky_sink_stats ss;
    assert_int_equal(sky_sink_stats_get(sky, 1, &name, &ss), SKY_OK);
    assert_string_equal(name, "errors");
    assert_int_equal(ss.written, 1);
    assert_int_equal(ss.filtered, 3);
    assert_int_equal(sky_sink_stats_get(sky, 3, &name, &ss), SKY_ENOTFOUND);
    assert_int_equal(sky_flush(sky, 1000), SKY_OK);
    assert_int_equal(all.flushes, 1);
    sky_close(sky);
    assert_int_equal(all.closed, 1);
    skytest_capture_reset(&all);
    skytest_capture_reset(&errors);
    skytest_capture_reset(&pay);
}

static sky_status failing_write(void *self, const sky_record *r, size_t n)
{
    (void)self, (void)r, (void)n;
    return SKY_EIO;
}
static const sky_sink_vtable failing_vt = {.type = "failing", .write = failing_write};

static int diag_count;
static void count_diag(void *user, sky_level level, const char *msg)
{
    (void)user, (void)level, (void)msg;
    diag_count++;
}

static void test_sink_errors_counted_and_diagnosed(void **state)
{
    (void)state;
    sky_t *sky = NULL;
    diag_count = 0;
    assert_int_equal(sky_open(&(sky_options){.diag = count_diag}, &sky), SKY_OK);
    sky_add_sink(sky, sky_sink_new(&failing_vt, NULL, SKY_FORMAT_JSON), NULL);
    sky_logger *log = sky_logger_get(sky, "f");
    for (int i = 0; i < 50; i++)
        sky_info(log, "x");
    sky_stats st;
    sky_stats_get(sky, &st);
    assert_int_equal(st.dropped[SKY_DROP_SINK_ERROR], 50);
    assert_true(diag_count >= 1 && diag_count <= 10); /* rate-limited */
    sky_close(sky);
}

static void test_no_sink_and_after_close_counts(void **state)
{
    (void)state;
    sky_t *sky = NULL;
    assert_int_equal(sky_open(NULL, &sky), SKY_OK);
    sky_logger *log = sky_logger_get(sky, NULL);
    assert_string_equal(sky_logger_name(log), "");
    sky_warn(log, "lost");
    sky_stats st;
    sky_stats_get(sky, &st);
    assert_int_equal(st.dropped[SKY_DROP_NO_SINK], 1);
    assert_int_equal(st.dropped_by_level[SKY_LEVEL_WARN], 1);
    assert_int_equal(sky_add_sink(sky, NULL, NULL), SKY_EINVAL);
    assert_int_equal(sky_close(sky), SKY_OK);
    assert_int_equal(sky_close(NULL), SKY_OK);
}

static char last_diag[1024];
static void keep_diag(void *user, sky_level level, const char *msg)
{
    (void)user;
    (void)level;
    diag_count++;
    snprintf(last_diag, sizeof last_diag, "%s", msg);
}

/* A pipeline made in code and given no sink discards every event: said once, on the
 * diagnostic channel, so that sky_open() without sky_add_sink() does not look like a logger
 * that prints nothing for no reason. Events every sink's level declines are routing doing its
 * work, counted as no_sink too, and said nothing about; nor is a configuration that turned
 * every sink off (SKYLOG_CONSOLE=off), in both modes. */
static void test_no_sink_at_all_is_said_once(void **state)
{
    (void)state;
    for (int mode = SKY_MODE_SYNC; mode <= SKY_MODE_ASYNC; mode++) {
        diag_count = 0;
        last_diag[0] = '\0';
        sky_t *sky = NULL;
        assert_int_equal(sky_open(&(sky_options){.mode = (sky_mode)mode, .diag = keep_diag},
                                  &sky), SKY_OK);
        sky_logger *log = sky_logger_get(sky, "app");
        for (int i = 0; i < 5; i++)
            sky_info(log, "lost", SKY_INT("i", i));
        assert_int_equal(sky_flush(sky, 5000), SKY_OK);
        sky_stats st;
        sky_stats_get(sky, &st);
        assert_int_equal(st.dropped[SKY_DROP_NO_SINK], 5);
        assert_int_equal(diag_count, 1);
        assert_non_null(strstr(last_diag, "no sink"));
        assert_non_null(strstr(last_diag, "sky_add_sink()"));
        assert_int_equal(sky_close(sky), SKY_OK);

        diag_count = 0;
        skytest_capture cap = {0};
        assert_int_equal(sky_open(&(sky_options){.mode = (sky_mode)mode, .diag = keep_diag},
                                  &sky), SKY_OK);
        assert_int_equal(sky_add_sink(sky, skytest_capture_sink(&cap, SKY_FORMAT_JSON),
                                      &(sky_route){.level = SKY_LEVEL_ERROR}), SKY_OK);
        log = sky_logger_get(sky, "app");
        sky_info(log, "below the sink's level");
        assert_int_equal(sky_flush(sky, 5000), SKY_OK);
        sky_stats_get(sky, &st);
        assert_int_equal(st.dropped[SKY_DROP_NO_SINK], 1);
        assert_int_equal(diag_count, 0);
        assert_int_equal(sky_close(sky), SKY_OK);
        skytest_capture_reset(&cap);
    }
}

/* A field's key is key_len bytes and need not end in NUL: binding copies exactly those (found
 * by fuzz_json_writer: the copy used to run strlen past the key). */
static void test_bind_copies_key_len_bytes(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_with_capture(&cap, SKY_LEVEL_INFO);
    static const char keys[] = "user_idTRAILING";
    sky_field f = SKY_STR("x", "u-1");
    f.key = keys;
    f.key_len = 7;
    sky_logger *b = sky_logger_bind(sky_logger_get(sky, "t"), &f, 1);
    assert_non_null(b);
    sky_info(b, "bound");
    sky_logger_release(b);
    assert_int_equal(sky_close(sky), SKY_OK);
    assert_int_equal(cap.n, 1);
    assert_non_null(strstr(cap.lines[0], "\"user_id\":\"u-1\""));
    assert_null(strstr(cap.lines[0], "TRAILING"));
    skytest_capture_reset(&cap);
}

/* sky_stats_get(), sky_sink_stats_get(), sky_sink_get() and sky_processor_stats_get() while
 * another thread adds sinks and processors (which moves their arrays): the getters read them
 * under the pipeline's lock, sky_stats_get() the counts published after each element (TSan saw
 * the races when they did not). */
static sky_status nop_write(void *self, const sky_record *r, size_t n)
{
    (void)self, (void)r, (void)n;
    return SKY_OK;
}
static void nop_stats(void *self, sky_sink_stats *out)
{
    (void)self;
    out->bytes = 7;
}
static const sky_sink_vtable nop_vt = {.type = "nop", .write = nop_write, .stats = nop_stats};
static sky_proc_result nop_proc(void *user, sky_event *ev)
{
    (void)user, (void)ev;
    return SKY_PROC_KEEP;
}

typedef struct {
    sky_t *sky;
    atomic_int done, reading;
} adder;

/* sky_stats_get() alone, taking no lock that would order it after the adder's writes */
static void *read_stats(void *arg)
{
    adder *a = arg;
    size_t sinks = 0, procs = 0;
    atomic_store(&a->reading, 1);
    while (!atomic_load(&a->done)) {
        sky_stats st;
        if (sky_stats_get(a->sky, &st) != SKY_OK || st.sink_count < sinks ||
            st.processor_count < procs || st.sink_count > 300)
            atomic_store(&a->reading, 2);
        sinks = st.sink_count, procs = st.processor_count;
    }
    return NULL;
}

static void *add_sinks(void *arg)
{
    adder *a = arg;
    while (!atomic_load(&a->reading))
        sched_yield();
    for (int i = 0; i < 300; i++) {
        sky_add_sink(a->sky, sky_sink_new(&nop_vt, NULL, SKY_FORMAT_NONE), NULL);
        sky_add_processor(a->sky, "nop", nop_proc, NULL, NULL);
    }
    atomic_store(&a->done, 1);
    return NULL;
}

static void test_stats_while_sinks_are_added(void **state)
{
    (void)state;
    adder a = {0};
    assert_int_equal(sky_open(NULL, &a.sky), SKY_OK);
    pthread_t t, r;
    assert_int_equal(pthread_create(&r, NULL, read_stats, &a), 0);
    assert_int_equal(pthread_create(&t, NULL, add_sinks, &a), 0);
    size_t seen = 0;
    sky_stats last = {0};
    while (!atomic_load(&a.done)) {
        const char *name;
        sky_sink_stats ss;
        for (size_t i = 0; sky_sink_stats_get(a.sky, i, &name, &ss) == SKY_OK; i++) {
            assert_string_equal(name, "nop");
            assert_int_equal(ss.bytes, 7);
            assert_non_null(sky_sink_get(a.sky, i));
            seen = i + 1 > seen ? i + 1 : seen;
        }
        sky_processor_stats ps;
        for (size_t i = 0; sky_processor_stats_get(a.sky, i, &ps) == SKY_OK; i++)
            assert_string_equal(ps.name, "nop");
        sky_stats st;
        assert_int_equal(sky_stats_get(a.sky, &st), SKY_OK);
        assert_true(st.sink_count >= last.sink_count && st.sink_count <= 300);
        assert_true(st.processor_count >= last.processor_count && st.processor_count <= 300);
        if (st.sink_count) /* a counted sink is there */
            assert_non_null(sky_sink_get(a.sky, st.sink_count - 1));
        if (st.processor_count)
            assert_int_equal(sky_processor_stats_get(a.sky, st.processor_count - 1, &ps), SKY_OK);
        last = st;
    }
    pthread_join(t, NULL);
    pthread_join(r, NULL);
    assert_int_equal(atomic_load(&a.reading), 1); /* no count went back or past 300 */
    assert_non_null(sky_sink_get(a.sky, 299));
    assert_null(sky_sink_get(a.sky, 300));
    assert_true(seen <= 300);
    sky_stats st;
    assert_int_equal(sky_stats_get(a.sky, &st), SKY_OK);
    assert_int_equal(st.sink_count, 300);
    assert_int_equal(st.processor_count, 300);
    sky_close(a.sky);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_and_levels),
        cmocka_unit_test(test_level_inheritance),
        cmocka_unit_test(test_levels_of_many_loggers),
        cmocka_unit_test(test_disabled_level_evaluates_nothing),
        cmocka_unit_test(test_context_scopes),
        cmocka_unit_test(test_bound_loggers),
        cmocka_unit_test(test_processor_chain),
        cmocka_unit_test(test_routing_and_accounting),
        cmocka_unit_test(test_sink_errors_counted_and_diagnosed),
        cmocka_unit_test(test_no_sink_at_all_is_said_once),
        cmocka_unit_test(test_no_sink_and_after_close_counts),
        cmocka_unit_test(test_bind_copies_key_len_bytes),
        cmocka_unit_test(test_stats_while_sinks_are_added),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
