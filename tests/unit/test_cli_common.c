/*
 * test_cli_common.c - unit tests for what the `skylog` commands share (cli/common.c): the
 * Ctrl-C/SIGTERM stop state every AWS-facing command polls, the usage error of commands with
 * subcommands, and the CloudWatch statistic and name checks of `metrics` and `alarm`. The CLI
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
        cmocka_unit_test(test_sub_usage),
        cmocka_unit_test(test_cw_checks),
        cmocka_unit_test(test_cw_dimensions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
