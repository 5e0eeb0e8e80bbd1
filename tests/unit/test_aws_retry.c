/* test_aws_retry.c - unit tests for src/aws/retry.c: backoff arithmetic and the retry quota. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "aws/retry.h"

#define MS 1000000LL

static void test_backoff_bounds(void **state)
{
    (void)state;
    sky_aws_retry_opts o = {.base_ms = 1000, .max_backoff_ms = 20000};
    /* upper bound: min(base * 2^(n-1), cap) */
    assert_int_equal(sky__retry_delay_ns(&o, 1, 0.5), 500 * MS);
    assert_int_equal(sky__retry_delay_ns(&o, 2, 0.5), 1000 * MS);
    assert_int_equal(sky__retry_delay_ns(&o, 3, 0.5), 2000 * MS);
    assert_int_equal(sky__retry_delay_ns(&o, 5, 0.5), 8000 * MS);
    assert_int_equal(sky__retry_delay_ns(&o, 6, 0.5), 10000 * MS); /* 16 s < 20 s */
    assert_int_equal(sky__retry_delay_ns(&o, 7, 0.5), 10000 * MS); /* capped at 20 s */
    assert_int_equal(sky__retry_delay_ns(&o, 60, 0.5), 10000 * MS); /* no overflow */
    assert_int_equal(sky__retry_delay_ns(&o, 1, 0.0), 0);
    for (int n = 1; n < 12; n++) {
        int64_t bound = 1000 * MS << (n - 1);
        if (bound > 20000 * MS)
            bound = 20000 * MS;
        assert_true(sky__retry_delay_ns(&o, n, 0.9999999) < bound);
        assert_true(sky__retry_delay_ns(&o, n, 1.5) < bound); /* clamped */
        assert_true(sky__retry_delay_ns(&o, n, -1) == 0);
    }
}

static void test_defaults(void **state)
{
    (void)state;
    unsetenv("AWS_MAX_ATTEMPTS");
    sky__retry r;
    sky__retry_init(&r, NULL);
    assert_int_equal(r.opts.max_attempts, 3);
    assert_int_equal(r.opts.base_ms, 1000);
    assert_int_equal(r.opts.max_backoff_ms, 20000);
    assert_int_equal(r.max_quota, 500);
    setenv("AWS_MAX_ATTEMPTS", "7", 1);
    sky__retry_init(&r, NULL);
    assert_int_equal(r.opts.max_attempts, 7);
    unsetenv("AWS_MAX_ATTEMPTS");
}

static void test_quota(void **state)
{
    (void)state;
    sky__retry r;
    sky__retry_init(&r, &(sky_aws_retry_opts){.quota = 20});
    int cost;
    assert_true(sky__retry_acquire(&r, false, &cost));
    assert_int_equal(cost, 5);
    assert_true(sky__retry_acquire(&r, true, &cost));
    assert_int_equal(cost, 10);
    assert_true(sky__retry_acquire(&r, false, &cost)); /* 20 - 5 - 10 - 5 = 0 */
    assert_false(sky__retry_acquire(&r, false, &cost));
    assert_int_equal(atomic_load(&r.quota), 0);
    sky__retry_release(&r, 0); /* success without retry: +1 */
    assert_int_equal(atomic_load(&r.quota), 1);
    sky__retry_release(&r, 10);
    assert_int_equal(atomic_load(&r.quota), 11);
    sky__retry_release(&r, 10); /* never above the maximum */
    assert_int_equal(atomic_load(&r.quota), 20);
    sky__retry_init(&r, &(sky_aws_retry_opts){.quota = -1}); /* unlimited */
    for (int i = 0; i < 1000; i++)
        assert_true(sky__retry_acquire(&r, false, &cost));
}

static int64_t slept;
static void fake_sleep(void *user, int64_t ns)
{
    (void)user;
    slept += ns;
}

static void test_injected_sleep_and_random(void **state)
{
    (void)state;
    sky__retry r;
    sky__retry_init(&r, &(sky_aws_retry_opts){.sleep_ns = fake_sleep});
    sky__retry_sleep(&r, 123);
    assert_int_equal(slept, 123);
    for (int i = 0; i < 1000; i++) {
        double x = sky__retry_random(&r);
        assert_true(x >= 0 && x < 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_bounds),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_quota),
        cmocka_unit_test(test_injected_sleep_and_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
