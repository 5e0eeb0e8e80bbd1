/*
 * test_otlp_signals.c - the OTLP sink's signals (skylog/http_sink.h): which it builds, the
 * per-signal counters, and a traces-only sink passing over events that are not spans as
 * `skipped`, never dropped. The wire encoding of spans is checked by
 * tests/integration/test_otlp_traces.py against an independent decoder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <skylog.h>
#include <skylog/http_sink.h>
#include <skylog/trace.h>

#include <stdlib.h>
#include <string.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_signals_refused),
        cmocka_unit_test(test_stats_per_signal),
        cmocka_unit_test(test_traces_only_skips_what_is_not_a_span),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
