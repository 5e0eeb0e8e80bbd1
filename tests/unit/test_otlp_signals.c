/*
 * test_otlp_signals.c - the OTLP sink's signals (skylog/http_sink.h): which it builds, the
 * per-signal counters, and a traces-only sink passing over events that are not spans as
 * `skipped`, never dropped; OTEL_LOGS_EXPORTER / OTEL_TRACES_EXPORTER=none turning a signal off,
 * said on stderr, and the signals option winning over them. The wire encoding of spans is
 * checked by tests/integration/test_otlp_traces.py against an independent decoder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <skylog.h>
#include <skylog/http_sink.h>
#include <skylog/trace.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Nothing listens on port 9: what is queued is never delivered, and close gives up at once. */
static const sky_otlp_opts base = {.endpoint = "http://127.0.0.1:9",
                                   .batch = {.close_timeout_ms = 1, .flush_interval_ms = 3600000}};

static void test_unknown_signals_refused(void **state)
{
    (void)state;
    sky_otlp_opts o = base;
    o.signals = 4;
    sky_sink *s = NULL;
    char *err = NULL;
    assert_int_equal(sky_sink_otlp(&o, &s, &err), SKY_EINVAL);
    assert_non_null(err);
    assert_non_null(strstr(err, "unknown signals"));
    free(err);
}

/* sky_otlp_opts as a program built before `signals` existed knows it: such a program zeroes
 * reserved_ (docs/COMPATIBILITY.md), while the padding after protocol holds whatever its
 * initializer left there. signals must live in that reserved_, never in the padding. */
typedef struct {
    const char *endpoint, *service_name, *resource_attributes;
    sky_http_batch_opts batch;
    sky_otlp_protocol protocol;
    uint64_t reserved_[8];
} otlp_opts_before_signals;
_Static_assert(sizeof(otlp_opts_before_signals) == sizeof(sky_otlp_opts), "same ABI");

static void test_program_built_before_signals(void **state)
{
    (void)state;
    union {
        otlp_opts_before_signals old;
        sky_otlp_opts now;
    } u;
    memset(&u, 0xa5, sizeof u); /* what an initializer may leave in padding */
    u.old.endpoint = base.endpoint;
    u.old.service_name = NULL;
    u.old.resource_attributes = NULL;
    u.old.batch = base.batch;
    u.old.protocol = SKY_OTLP_HTTP_JSON;
    memset(u.old.reserved_, 0, sizeof u.old.reserved_);
    sky_sink *s = NULL;
    char *err = NULL;
    assert_int_equal(sky_sink_otlp(&u.now, &s, &err), SKY_OK); /* signals reads as 0: both */
    sky_http_sink_stats st;
    assert_int_equal(sky_otlp_sink_stats_get(s, SKY_OTLP_LOGS, &st), SKY_OK);
    assert_int_equal(sky_otlp_sink_stats_get(s, SKY_OTLP_TRACES, &st), SKY_OK);
    sky_sink_close(s);
}

static void test_stats_per_signal(void **state)
{
    (void)state;
    sky_http_sink_stats st;
    sky_sink *s = NULL;
    sky_otlp_opts o = base;
    o.signals = SKY_OTLP_LOGS;
    assert_int_equal(sky_sink_otlp(&o, &s, NULL), SKY_OK);
    assert_int_equal(sky_otlp_sink_stats_get(s, SKY_OTLP_LOGS, &st), SKY_OK);
    assert_int_equal(sky_otlp_sink_stats_get(s, SKY_OTLP_TRACES, &st), SKY_ENOTFOUND);
    assert_int_equal(sky_otlp_sink_stats_get(s, 3, &st), SKY_EINVAL);
    assert_int_equal(sky_http_sink_stats_get(s, &st), SKY_OK);
    sky_sink_close(s);

    o.signals = 0; /* the default: both */
    assert_int_equal(sky_sink_otlp(&o, &s, NULL), SKY_OK);
    assert_int_equal(sky_otlp_sink_stats_get(s, SKY_OTLP_LOGS, &st), SKY_OK);
    assert_int_equal(sky_otlp_sink_stats_get(s, SKY_OTLP_TRACES, &st), SKY_OK);
    sky_sink_close(s);

    sky_sink *http = NULL;
    assert_int_equal(sky_sink_http(&(sky_http_sink_opts){.url = "http://127.0.0.1:9"}, &http,
                                   NULL),
                     SKY_OK);
    assert_int_equal(sky_otlp_sink_stats_get(http, SKY_OTLP_LOGS, &st), SKY_EINVAL);
    sky_sink_close(http);
}

static void test_traces_only_skips_what_is_not_a_span(void **state)
{
    (void)state;
    sky_otlp_opts o = base;
    o.signals = SKY_OTLP_TRACES;
    sky_sink *s = NULL;
    assert_int_equal(sky_sink_otlp(&o, &s, NULL), SKY_OK);
    sky_t *sky = NULL;
    assert_int_equal(sky_open(&(sky_options){.mode = SKY_MODE_SYNC}, &sky), SKY_OK);
    assert_int_equal(sky_add_sink(sky, s, NULL), SKY_OK);
    sky_logger *log = sky_logger_get(sky, "t");
    sky_info(log, "plain");                       /* not a span */
    sky_info(log, "span_finished", SKY_STR("span", "fake")); /* no ids, no duration: not one */
    sky_span sp;
    sky_span_begin(&sp, log, "real", NULL);
    sky_info(log, "inside");                      /* has ids, but is not a span */
    sky_span_end(&sp);                            /* the one span */

    sky_http_sink_stats st;
    assert_int_equal(sky_otlp_sink_stats_get(s, SKY_OTLP_TRACES, &st), SKY_OK);
    assert_int_equal(st.received, 4);
    assert_int_equal(st.skipped, 3);
    assert_int_equal(st.queued_events + st.sent_events, 1);
    for (int d = 0; d < SKY_HTTP_DROP_COUNT_; d++)
        assert_int_equal(st.dropped[d], 0);
    sky_sink_stats ss;
    assert_int_equal(sky_sink_stats_get(sky, 0, NULL, &ss), SKY_OK);
    assert_int_equal(ss.dropped, 0); /* skipped is no drop for the pipeline either */
    sky_close(sky);
}

/* Creates the sink with the variables set, its stderr (where the sink's diagnostics go before
 * it has a pipeline) caught into `said`; returns the signals it exports. */
static unsigned made_with(const char *logs_env, const char *traces_env, unsigned signals,
                          char *said, size_t cap)
{
    if (logs_env)
        setenv("OTEL_LOGS_EXPORTER", logs_env, 1);
    if (traces_env)
        setenv("OTEL_TRACES_EXPORTER", traces_env, 1);
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(fileno(tmp), STDERR_FILENO);
    sky_otlp_opts o = base;
    o.signals = signals;
    sky_sink *s = NULL;
    sky_status st = sky_sink_otlp(&o, &s, NULL);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    size_t n = (size_t)pread(fileno(tmp), said, cap - 1, 0);
    said[n < cap ? n : 0] = '\0';
    fclose(tmp);
    unsetenv("OTEL_LOGS_EXPORTER");
    unsetenv("OTEL_TRACES_EXPORTER");
    assert_int_equal(st, SKY_OK);
    sky_http_sink_stats hs;
    unsigned out = 0;
    if (sky_otlp_sink_stats_get(s, SKY_OTLP_LOGS, &hs) == SKY_OK)
        out |= SKY_OTLP_LOGS;
    if (sky_otlp_sink_stats_get(s, SKY_OTLP_TRACES, &hs) == SKY_OK)
        out |= SKY_OTLP_TRACES;
    assert_int_equal(sky_http_sink_stats_get(s, &hs), out ? SKY_OK : SKY_ENOTFOUND);
    if (!out) { /* it still takes events (and sends nothing): no error, no drop */
        sky_t *sky = NULL;
        assert_int_equal(sky_open(&(sky_options){.mode = SKY_MODE_SYNC}, &sky), SKY_OK);
        assert_int_equal(sky_add_sink(sky, s, NULL), SKY_OK);
        sky_info(sky_logger_get(sky, "t"), "nowhere");
        assert_int_equal(sky_flush(sky, 1000), SKY_OK);
        sky_sink_stats ss;
        assert_int_equal(sky_sink_stats_get(sky, 0, NULL, &ss), SKY_OK);
        assert_int_equal(ss.dropped, 0);
        sky_close(sky);
    } else {
        sky_sink_close(s);
    }
    return out;
}

static void test_exporter_environment(void **state)
{
    (void)state;
    char said[4096];
    const unsigned both = SKY_OTLP_LOGS | SKY_OTLP_TRACES;
    assert_int_equal(made_with(NULL, "none", 0, said, sizeof said), SKY_OTLP_LOGS);
    assert_non_null(strstr(said, "OTEL_TRACES_EXPORTER=none: traces are not exported"));
    assert_int_equal(made_with(" None ", "otlp", 0, said, sizeof said), SKY_OTLP_TRACES);
    assert_non_null(strstr(said, "OTEL_LOGS_EXPORTER= None : logs are not exported"));
    assert_int_equal(made_with("none", "none", 0, said, sizeof said), 0);
    assert_non_null(strstr(said, "no signal left to export"));
    /* a list naming otlp keeps the signal; a name this sink is not is warned of, ignored */
    assert_int_equal(made_with("console,OTLP", "", 0, said, sizeof said), both);
    assert_string_equal(said, "");
    assert_int_equal(made_with("zipkin", NULL, 0, said, sizeof said), both);
    assert_non_null(strstr(said, "OTEL_LOGS_EXPORTER=zipkin names no exporter of this sink"));
    /* the signals option wins, and says what it overrode */
    assert_int_equal(made_with(NULL, "none", both, said, sizeof said), both);
    assert_non_null(strstr(said, "OTEL_TRACES_EXPORTER=none ignored: the sink's signals option"));
    assert_int_equal(made_with("none", NULL, SKY_OTLP_TRACES, said, sizeof said),
                     SKY_OTLP_TRACES);
    assert_string_equal(said, ""); /* logs were not asked for: nothing overridden */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_signals_refused),
        cmocka_unit_test(test_program_built_before_signals),
        cmocka_unit_test(test_stats_per_signal),
        cmocka_unit_test(test_traces_only_skips_what_is_not_a_span),
        cmocka_unit_test(test_exporter_environment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
