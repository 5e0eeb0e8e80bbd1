/* test_clock.c - the async path's tick-to-time conversion (src/core/clock.c): a re-anchor whose
 * measurement is a little early must not give later ticks an earlier time than earlier ticks
 * got (a batch sorted by time would reorder one producer's events), and a real step of the
 * wall clock (set back or forward) is followed. Synthetic anchors: no real clock is read. */
#include "skytest.h"

#include "core/clock.h"

#define T0 1765000000000000000LL /* Unix ns, December 2025 */
#define NS_PER_TICK 0.5

static sky__clock_conv conv(void)
{
    sky__clock_init();
    sky__clock_tsc = true; /* the conversion under test is the TSC one */
    return (sky__clock_conv){.raw0 = 1000, .ns0 = T0, .raw_a = 1000, .ns_a = T0,
                             .ns_per_tick = NS_PER_TICK};
}

static void test_an_early_anchor_does_not_go_back(void **state)
{
    (void)state;
    sky__clock_conv c = conv();
    int64_t r = 1000 + 2000000000LL; /* one second on */
    int64_t prev = sky__clock_to_ns(&c, r - 1);
    int64_t before = sky__clock_to_ns(&c, r);
    sky__clock_conv_reanchor(&c, r, before - 3000); /* measured 3 us early */
    assert_true(sky__clock_to_ns(&c, r) >= before);
    for (int64_t t = r; t < r + 100000; t += 997) { /* every later tick: never back */
        int64_t ns = sky__clock_to_ns(&c, t);
        assert_true(ns >= prev);
        prev = ns;
    }
    /* it slews: one second on, it is on the measured line again (the offset is not kept) */
    double rate = (double)(before - 3000 - T0) / (double)(r - 1000);
    int64_t second = (int64_t)(1e9 / rate);
    int64_t off = sky__clock_to_ns(&c, r + second) - (before - 3000 + 1000000000LL);
    assert_true(off > -10 && off < 10);
}

static void test_a_clock_set_back_is_followed(void **state)
{
    (void)state;
    sky__clock_conv c = conv();
    int64_t r = 1000 + 2000000000LL;
    int64_t before = sky__clock_to_ns(&c, r);
    int64_t set_back = before - 2000000000LL; /* `date` two seconds back */
    sky__clock_conv_reanchor(&c, r, set_back);
    assert_true(sky__clock_to_ns(&c, r) == set_back);
}

static void test_a_late_anchor_is_taken(void **state)
{
    (void)state;
    sky__clock_conv c = conv();
    int64_t r = 1000 + 2000000000LL;
    int64_t later = sky__clock_to_ns(&c, r) + 3000;
    sky__clock_conv_reanchor(&c, r, later);
    assert_true(sky__clock_to_ns(&c, r) == later);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_an_early_anchor_does_not_go_back),
        cmocka_unit_test(test_a_clock_set_back_is_followed),
        cmocka_unit_test(test_a_late_anchor_is_taken),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
