/*
 * test_cli_common.c - unit tests for what the `skylog` commands share (cli/common.c): the
 * Ctrl-C/SIGTERM stop state every AWS-facing command polls, the usage error of commands with
 * subcommands, and the CloudWatch statistic and name checks of `metrics` and `alarm`; when ship
 * gives delivery up or stops waiting for it; the numeric flags' parser (cli/usage.c). The CLI
 * is not a library, so its source is compiled into this test directly; the commands' own
 * behaviour on a signal is covered by tests/integration (test_cli*, test_ship*).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../cli/common.c"
#include "../../cli/safetext.c" /* common.c prints the service's errors through it */
#include "../../cli/usage.c"

#include <unistd.h>

static void test_stop_signals(void **state)
{
    (void)state;
    assert_false(sky__cli_stopping());
    assert_int_equal(sky__cli_stop_signal(), 0);
    assert_int_equal(sky__cli_stop_count(), 0);
    assert_int_equal(*sky__cli_stop_flag(), 0);
    sky__cli_catch_stop();
    /* the handler replaces the default action: the process survives both signals */
    assert_int_equal(raise(SIGTERM), 0);
    assert_true(sky__cli_stopping());
    assert_int_equal(*sky__cli_stop_flag(), 1);
    assert_int_equal(sky__cli_stop_signal(), SIGTERM);
    assert_int_equal(sky__cli_stop_count(), 1);
    assert_int_equal(raise(SIGINT), 0);
    assert_int_equal(sky__cli_stop_signal(), SIGTERM); /* the first one is kept */
    assert_int_equal(sky__cli_stop_count(), 2);
    /* no SA_RESTART: a blocked read is interrupted rather than resumed */
    struct sigaction sa;
    assert_int_equal(sigaction(SIGINT, NULL, &sa), 0);
    assert_int_equal(sa.sa_flags & SA_RESTART, 0);
    assert_ptr_equal(sa.sa_handler, on_stop_signal);
    assert_int_equal(sigaction(SIGTERM, NULL, &sa), 0);
    assert_ptr_equal(sa.sa_handler, on_stop_signal);
}

/* What stmt printed on stderr, into buf. */
#define CAPTURE_STDERR(buf, stmt)                                                                  \
    do {                                                                                           \
        char path_[] = "/tmp/skylog-test-stderr-XXXXXX";                                          \
        int fd_ = mkstemp(path_);                                                                  \
        assert_true(fd_ >= 0);                                                                     \
        fflush(stderr);                                                                            \
        int saved_ = dup(2);                                                                       \
        dup2(fd_, 2);                                                                              \
        stmt;                                                                                      \
        fflush(stderr);                                                                            \
        dup2(saved_, 2);                                                                           \
        close(saved_);                                                                             \
        memset(buf, 0, sizeof buf);                                                                \
        assert_true(pread(fd_, buf, sizeof buf - 1, 0) >= 0);                                      \
        close(fd_);                                                                                \
        unlink(path_);                                                                             \
    } while (0)

/* Runs after test_stop_signals: SIGTERM came first. */
static void test_interrupted(void **state)
{
    (void)state;
    char buf[256];
    int rc = 0;
    CAPTURE_STDERR(buf, rc = sky__cli_interrupted("groups"));
    assert_int_equal(rc, 128 + SIGTERM);
    assert_string_equal(buf, "skylog groups: interrupted by SIGTERM\n");
    assert_string_equal(sky__cli_signal_name(SIGINT), "SIGINT");
}

static void test_delivery_stalled(void **state)
{
    (void)state;
    int64_t now = 1000000;
    sky_cwl_stats st = {.failures_in_a_row = 12, .failing_since_mono_ms = now - 10000};
    /* the default: 12 attempts in a row, over 10 s or more; both are needed */
    assert_true(sky__cli_delivery_stalled(&st, 0, now));
    st.failing_since_mono_ms = now - 9999;
    assert_false(sky__cli_delivery_stalled(&st, 0, now)); /* 12 attempts in under 10 s */
    st.failures_in_a_row = 11;
    st.failing_since_mono_ms = now - 3600000;
    assert_false(sky__cli_delivery_stalled(&st, 0, now)); /* waiting is never a reason */
    st.failures_in_a_row = 0;
    st.failing_since_mono_ms = 0;
    assert_false(sky__cli_delivery_stalled(&st, 0, now));
    /* --give-up-after N: N attempts, however quickly */
    st.failures_in_a_row = 2;
    st.failing_since_mono_ms = now;
    assert_true(sky__cli_delivery_stalled(&st, 2, now));
    assert_false(sky__cli_delivery_stalled(&st, 3, now));
    st.failures_in_a_row = 12;
    st.failing_since_mono_ms = now - 3600000;
    assert_false(sky__cli_delivery_stalled(&st, 13, now)); /* the count is the user's */
}

static void test_retry_too_late(void **state)
{
    (void)state;
    int64_t deadline = 5000;
    sky_cwl_stats st = {.queued_events = 3, .retry_at_mono_ms = 5001};
    assert_true(sky__cli_retry_too_late(&st, deadline));
    st.retry_at_mono_ms = 5000; /* at the deadline: still tried within the grace */
    assert_false(sky__cli_retry_too_late(&st, deadline));
    st.retry_at_mono_ms = 0; /* an attempt in flight: it may yet succeed */
    assert_false(sky__cli_retry_too_late(&st, deadline));
    st.retry_at_mono_ms = 90000;
    st.queued_events = 0; /* nothing left to deliver */
    assert_false(sky__cli_retry_too_late(&st, deadline));
}

static void test_numeric_flags(void **state)
{
    (void)state;
    char buf[512];
    int64_t v = -7;
    bool ok = false;
    /* accepted: the bounds themselves */
    CAPTURE_STDERR(buf, ok = sky__cli_int_flag("tail", "--limit", "1", 1, 100, &v));
    assert_true(ok);
    assert_int_equal(v, 1);
    CAPTURE_STDERR(buf, ok = sky__cli_int_flag("tail", "--limit", "100", 1, 100, &v));
    assert_true(ok);
    assert_int_equal(v, 100);
    assert_string_equal(buf, "");
    /* refused, each naming the flag: 0, negatives, signs, space, junk, fractions, overflow */
    const char *bad[] = {"0", "-1", "+5", " 5", "5 ", "5x", "1.5", "0x10", "", "101",
                         "99999999999999999999", "18446744073709551617", "9223372036854775808"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        v = -7;
        CAPTURE_STDERR(buf, ok = sky__cli_int_flag("tail", "--limit", bad[i], 1, 100, &v));
        assert_false(ok);
        assert_int_equal(v, -7); /* nothing stored */
        assert_non_null(strstr(buf, "skylog tail: --limit: "));
        assert_non_null(strstr(buf, "expected an integer from 1 to 100"));
    }
    CAPTURE_STDERR(buf, ok = sky__cli_int_flag("tail", "--limit", "0", 1, 100, &v));
    assert_string_equal(buf, "skylog tail: --limit: out of range: '0'; expected an integer from "
                             "1 to 100\n");
    CAPTURE_STDERR(buf, ok = sky__cli_int_flag("q", "--n", "99999999999999999999", 1, 100, &v));
    assert_non_null(strstr(buf, "out of range"));
    /* a row of the registry: its units, and 0 refused as the config file refuses it */
    sky__opt dur = {.type = SKY__OPT_DURATION, .unit_ms = 1, .max = 3600000, .no_zero = true,
                    .def = "1s"};
    CAPTURE_STDERR(buf, ok = sky__cli_num_flag("ship", "--flush-interval", &dur, "250ms", &v));
    assert_true(ok);
    assert_int_equal(v, 250);
    CAPTURE_STDERR(buf, ok = sky__cli_num_flag("ship", "--flush-interval", &dur, "2s", &v));
    assert_int_equal(v, 2000);
    CAPTURE_STDERR(buf, ok = sky__cli_num_flag("ship", "--flush-interval", &dur, "0", &v));
    assert_false(ok);
    assert_non_null(strstr(buf, "skylog ship: --flush-interval: 0 is not accepted"));
    CAPTURE_STDERR(buf, ok = sky__cli_num_flag("ship", "--flush-interval", &dur, "2h", &v));
    assert_false(ok);
    assert_non_null(strstr(buf, "out of range: '2h'"));
    /* numbers: finite, within the bounds, written as numbers */
    double d = -7;
    CAPTURE_STDERR(buf, ok = sky__cli_real_flag("query", "--timeout", "1.5", 0.001, 86400, &d));
    assert_true(ok);
    assert_true(d == 1.5);
    const char *badd[] = {"0", "-1", "nan", "inf", "-inf", "0x10", "1e400", "1,5", "", " 1",
                          "86401", "1.5s"};
    for (size_t i = 0; i < sizeof badd / sizeof *badd; i++) {
        d = -7;
        CAPTURE_STDERR(buf, ok = sky__cli_real_flag("query", "--timeout", badd[i], 0.001, 86400,
                                                    &d));
        assert_false(ok);
        assert_true(d == -7);
        assert_non_null(strstr(buf, "skylog query: --timeout: "));
    }
}

/* --since/--until/--timestamp values: a time or duration no int64 of ms holds (1e300h, 1e30,
 * inf, nan) is refused, never cast (undefined) nor subtracted from now (overflow); the
 * extremes of what an answer's time may be are shown clamped, never overflowed into ns. */
static void test_when_bounds(void **state)
{
    (void)state;
    int64_t now = 1700000000000, ms = 0;
    assert_true(sky__parse_when("1h", now, &ms));
    assert_int_equal(ms, now - 3600000);
    assert_true(sky__parse_when("1.5s", now, &ms));
    assert_int_equal(ms, now - 1500);
    assert_true(sky__parse_when("1700000000000", now, &ms));
    assert_int_equal(ms, 1700000000000);
    assert_true(sky__parse_when("2024-01-02T03:04:05Z", now, &ms));
    assert_int_equal(ms, 1704164645000);
    assert_true(sky__parse_when("9999w", now, &ms)); /* far, but a time */
    const char *bad[] = {
        "1e300h", "1e30", "1e300", "inf", "infw", "nan", "nanh", "-1h", "9223372036854775807",
        "1e17d",  "1e19"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ms = 42;
        assert_false(sky__parse_when(bad[i], now, &ms));
        assert_int_equal(ms, 42);
    }
    char out[25];
    sky__fmt_ms(INT64_MAX, out);
    assert_string_equal(out, "2262-04-11T23:47:16.854Z");
    sky__fmt_ms(INT64_MIN, out);
    assert_int_equal(strlen(out), 24);
    sky__fmt_ms(1700000000123, out);
    assert_string_equal(out, "2023-11-14T22:13:20.123Z");
}

static void test_sub_usage(void **state)
{
    (void)state;
    char path[] = "/tmp/skylog-test-usage-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    int rc1 = sky__cli_sub_usage("alarm", "put", "unknown '%s'", "x");
    int rc2 = sky__cli_sub_usage("metrics", NULL, "%s", "expected put, list or get");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    assert_int_equal(rc1, SKY_EXIT_USAGE);
    assert_int_equal(rc2, SKY_EXIT_USAGE);
    char buf[512] = "";
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    unlink(path);
    assert_true(n > 0);
    assert_string_equal(buf, "skylog alarm put: unknown 'x' (see skylog alarm --help)\n"
                             "skylog metrics: expected put, list or get (see skylog metrics "
                             "--help)\n");
}

static void test_cw_checks(void **state)
{
    (void)state;
    const char *basic[] = {"SampleCount", "Average", "Sum", "Minimum", "Maximum"};
    for (size_t i = 0; i < 5; i++) {
        assert_true(sky__cw_stat_basic(basic[i]));
        assert_false(sky__cw_stat_percentile(basic[i]));
    }
    assert_false(sky__cw_stat_basic("average"));
    assert_false(sky__cw_stat_basic(""));
    const char *good[] = {"p0", "p50", "p99", "p99.9", "p100", "p0.0", "p99.1234567890"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        assert_true(sky__cw_stat_percentile(good[i]));
    const char *bad[] = {"p", "p101", "p-1", "p+5", "p 5", "p.5", "p99.12345678901", "p9x",
                         "P99", "99", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_false(sky__cw_stat_percentile(bad[i]));
    char name[257];
    memset(name, 'a', 256);
    name[256] = '\0';
    assert_false(sky__cw_name_ok(name));
    name[255] = '\0';
    assert_true(sky__cw_name_ok(name));
    assert_true(sky__cw_name_ok("a"));
    assert_false(sky__cw_name_ok(""));
    assert_false(sky__cw_name_ok(NULL));
}

static void test_cw_dimensions(void **state)
{
    (void)state;
    json_t *dims = json_array();
    assert_true(sky__cw_dimension_add(dims, "Endpoint=/login", false));
    assert_true(sky__cw_dimension_add(dims, "Host==a", false)); /* the first '=' splits */
    assert_true(sky__cw_dimension_add(dims, "Service", true));  /* bare: any value */
    char *text = json_dumps(dims, JSON_COMPACT);
    assert_string_equal(text, "[{\"Name\":\"Endpoint\",\"Value\":\"/login\"},"
                              "{\"Name\":\"Host\",\"Value\":\"=a\"},{\"Name\":\"Service\"}]");
    free(text);
    char name[300], arg[1400];
    memset(name, 'k', 256);
    name[256] = '\0';
    snprintf(arg, sizeof arg, "%s=v", name); /* a 256-character name */
    const char *bad[] = {"Service", "=v", "k=", "", arg};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_false(sky__cw_dimension_add(dims, bad[i], false));
    assert_false(sky__cw_dimension_add(dims, "=v", true));
    snprintf(arg, sizeof arg, "k=%01025d", 0); /* a 1025-character value */
    assert_false(sky__cw_dimension_add(dims, arg, true));
    snprintf(arg, sizeof arg, "%.255s=%01024d", name, 0); /* both at their limits */
    assert_true(sky__cw_dimension_add(dims, arg, false));
    assert_int_equal(json_array_size(dims), 4); /* nothing appended for the bad ones */
    json_decref(dims);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stop_signals),
        cmocka_unit_test(test_interrupted),
        cmocka_unit_test(test_delivery_stalled),
        cmocka_unit_test(test_retry_too_late),
        cmocka_unit_test(test_numeric_flags),
        cmocka_unit_test(test_when_bounds),
        cmocka_unit_test(test_sub_usage),
        cmocka_unit_test(test_cw_checks),
        cmocka_unit_test(test_cw_dimensions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
