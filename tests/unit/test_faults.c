/*
 * test_faults.c - unit tests for server/faults.c (fault injection of `skylog serve`): spec
 * parsing, determinism for a seed, and the observed rates. The server is not a library, so its
 * source is compiled into this test directly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../server/faults.c"

static void test_parse(void **state)
{
    (void)state;
    char err[256];
    const char *bad[] = {"throttle=2", "throttle=-0.1", "bogus=0.1", "latency=fast",
                         "throttle=0.6,error=0.6", "throttle", "latency=61s", "error=0.1x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        sky__faults *f = sky__faults_new(bad[i], 1, err, sizeof err);
        if (f)
            fail_msg("'%s' should be rejected", bad[i]);
        assert_true(err[0] != '\0');
    }
    sky__faults *f = sky__faults_new("throttle=0.1,error=0.1,reset=0.05,reset_after=0.05,"
                                     "latency=20ms",
                                     1, err, sizeof err);
    assert_non_null(f);
    assert_int_equal(sky__faults_next(f).latency_us, 20000);
    sky__faults_free(f);
    f = sky__faults_new("latency=250us", 1, err, sizeof err);
    assert_int_equal(sky__faults_next(f).latency_us, 250);
    sky__faults_free(f);
}

static void test_deterministic(void **state)
{
    (void)state;
    char err[256];
    const char *spec = "throttle=0.2,error=0.2,reset=0.1,reset_after=0.1";
    sky__faults *a = sky__faults_new(spec, 42, err, sizeof err);
    sky__faults *b = sky__faults_new(spec, 42, err, sizeof err);
    sky__faults *c = sky__faults_new(spec, 43, err, sizeof err);
    int same_c = 0;
    for (int i = 0; i < 1000; i++) {
        sky__fault x = sky__faults_next(a), y = sky__faults_next(b), z = sky__faults_next(c);
        assert_int_equal(x.kind, y.kind);
        assert_int_equal(x.status, y.status);
        same_c += x.kind == z.kind;
    }
    assert_true(same_c < 1000);
    sky__faults_free(a);
    sky__faults_free(b);
    sky__faults_free(c);
}

static void test_rates(void **state)
{
    (void)state;
    char err[256];
    sky__faults *f = sky__faults_new("throttle=0.25,error=0.25", 7, err, sizeof err);
    int n[5] = {0}, s500 = 0;
    for (int i = 0; i < 20000; i++) {
        sky__fault d = sky__faults_next(f);
        n[d.kind]++;
        s500 += d.kind == SKY__FAULT_ERROR && d.status == 500;
    }
    assert_in_range(n[SKY__FAULT_THROTTLE], 4500, 5500);
    assert_in_range(n[SKY__FAULT_ERROR], 4500, 5500);
    assert_in_range(s500, 2000, 3000);
    assert_int_equal(n[SKY__FAULT_RESET] + n[SKY__FAULT_RESET_AFTER], 0);
    sky__faults_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_rates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
