/* test_clock.c - the async path's clock (src/core/clock.c).
 *
 * Calibration through its seam (sky__clock_calibrate with a simulated CLOCK_MONOTONIC and TSC):
 * a thread preempted between any two of its clock reads, or several times, still measures the
 * rate within SKY__CLOCK_MAX_RATE_ERROR; a TSC that cannot be measured is refused.
 * The tick-to-time conversion with synthetic anchors: a re-anchor never gives a tick an earlier
 * time than it had (a later measurement that is early, a backlog of ticks taken before the
 * anchor converted after it with a higher rate), a step of the wall clock is followed, and one
 * does not spoil the rate. A simulated worker with a boot rate off by the bound, noisy anchors
 * and backlogs up to seconds converts one producer's ticks in order. No real clock is read. */
#include "skytest.h"

#include "core/clock.h"

#include <math.h>

#define T0 1765000000000000000LL /* Unix ns, December 2025 */
#define M0 5000000000000LL       /* CLOCK_MONOTONIC ns at the first anchor */
#define NS_PER_TICK 0.5

/* ---- calibration ---------------------------------------------------------------------------- */

/* A simulated thread reading clocks: each read takes READ_NS; after the reads numbered in
 * `away_after` the thread is descheduled for `away_ns`. */
#define READ_NS 200
typedef struct fake {
    int64_t now;  /* CLOCK_MONOTONIC */
    double ticks_per_ns;
    int64_t reads;
    int64_t away_after[4];
    int n_away;
    int64_t away_ns;
    int64_t every_read_ns; /* extra time each read takes (a thread always preempted) */
} fake;

static void fake_step(fake *f)
{
    f->now += READ_NS + f->every_read_ns;
    for (int i = 0; i < f->n_away; i++)
        if (f->away_after[i] == f->reads)
            f->now += f->away_ns;
    f->reads++;
}

static int64_t fake_ns(void *ctx)
{
    fake *f = ctx;
    int64_t v = f->now;
    fake_step(f);
    return v;
}

static int64_t fake_tick(void *ctx)
{
    fake *f = ctx;
    int64_t v = 77777 + (int64_t)((double)f->now * f->ticks_per_ns);
    fake_step(f);
    return v;
}

static bool calibrate(fake *f, double *ns_per_tick)
{
    sky__clock_source src = {.ns = fake_ns, .tick = fake_tick, .ctx = f};
    return sky__clock_calibrate(&src, ns_per_tick);
}

static void assert_rate(double got, double ticks_per_ns)
{
    double err = fabs(got * ticks_per_ns - 1);
    if (err > SKY__CLOCK_MAX_RATE_ERROR)
        fail_msg("rate %.9f ns/tick, true %.9f: relative error %.2e", got, 1 / ticks_per_ns,
                 err);
}

/* The reads an undisturbed calibration makes: preemptions are placed along them. */
static int64_t undisturbed_reads(double ticks_per_ns)
{
    fake f = {.now = M0, .ticks_per_ns = ticks_per_ns};
    double r;
    assert_true(calibrate(&f, &r));
    assert_rate(r, ticks_per_ns);
    return f.reads;
}

static void test_calibration_survives_a_preemption_between_any_reads(void **state)
{
    (void)state;
    /* 30 ms away at any point of the first bracket, of the spin, or of the last bracket:
     * measuring over 2 ms, a naive calibration is off by up to 15x */
    double tpn = 2.7;
    int64_t n = undisturbed_reads(tpn);
    for (int64_t k = 0; k < n; k += (k < 40 || k > n - 60) ? 1 : 997) {
        fake f = {.now = M0, .ticks_per_ns = tpn, .away_after = {k}, .n_away = 1,
                  .away_ns = 30000000};
        double r = 0;
        if (!calibrate(&f, &r))
            fail_msg("preempted after read %lld of %lld: calibration refused", (long long)k,
                     (long long)n);
        assert_rate(r, tpn);
    }
}

static void test_calibration_survives_repeated_preemptions(void **state)
{
    (void)state;
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int trial = 0; trial < 300; trial++) {
        double tpn = 1.0 + (double)(trial % 40) / 10; /* 1 to 4.9 GHz */
        int64_t n = undisturbed_reads(tpn);
        fake f = {.now = M0, .ticks_per_ns = tpn, .n_away = 4};
        for (int i = 0; i < 4; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            /* mostly where it hurts: the brackets at both ends */
            int64_t at = (int64_t)(x % 48);
            f.away_after[i] = (x >> 32) & 1 ? at : n - 1 - at;
        }
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        f.away_ns = 1000 + (int64_t)(x % 50000000); /* 1 us to 50 ms */
        double r = 0;
        assert_true(calibrate(&f, &r));
        assert_rate(r, tpn);
    }
}

static void test_a_tsc_that_cannot_be_measured_is_refused(void **state)
{
    (void)state;
    double r = 0;
    /* every bracket is wide (the thread never gets a clean run of three reads) */
    fake wide = {.now = M0, .ticks_per_ns = 2.0, .every_read_ns = 100000};
    assert_false(calibrate(&wide, &r));
    /* a counter that stands still, or runs backwards */
    fake still = {.now = M0, .ticks_per_ns = 0};
    assert_false(calibrate(&still, &r));
    fake back = {.now = M0, .ticks_per_ns = -1.0};
    assert_false(calibrate(&back, &r));
}

/* ---- conversion ----------------------------------------------------------------------------- */

static sky__clock_conv conv(void)
{
    return (sky__clock_conv){.raw0 = 1000, .mono0 = M0, .raw_a = 1000, .ns_a = T0,
                             .off_a = T0 - M0, .ns_per_tick = NS_PER_TICK,
                             .ns_per_tick_past = NS_PER_TICK};
}

/* A re-anchor at tick r measured at Unix time ns, with the wall clock not set since the first
 * anchor (CLOCK_MONOTONIC moved as much). */
static void reanchor(sky__clock_conv *c, int64_t r, int64_t ns)
{
    sky__clock_conv_reanchor(c, r, ns - (T0 - M0), ns);
}

static void test_an_early_anchor_does_not_go_back(void **state)
{
    (void)state;
    sky__clock_conv c = conv();
    int64_t r = 1000 + 2000000000LL; /* one second on */
    int64_t prev = sky__clock_to_ns(&c, r - 1);
    int64_t before = sky__clock_to_ns(&c, r);
    reanchor(&c, r, before - 3000); /* measured 3 us early */
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

static void test_a_backlog_converted_after_a_faster_anchor_does_not_go_back(void **state)
{
    (void)state;
    /* The worker re-anchors with ticks taken before the anchor still in the ring; the new
     * rate is higher. Extrapolated back at that rate they would come out earlier than the
     * producer's ticks the worker converted before the re-anchor. */
    sky__clock_conv c = conv();
    int64_t r = 1000 + 2000000000LL;
    int64_t backlog[] = {r - 1, r - 1000000, r - 1000000000LL, r - 1999999000LL, 500, -1000000};
    int64_t was[6];
    for (int i = 0; i < 6; i++)
        was[i] = sky__clock_to_ns(&c, backlog[i]);
    reanchor(&c, r, sky__clock_to_ns(&c, r) + 2000000); /* 2 ms late: the rate goes up 0.2% */
    assert_true(c.ns_per_tick > NS_PER_TICK);
    for (int i = 0; i < 6; i++)
        if (sky__clock_to_ns(&c, backlog[i]) < was[i])
            fail_msg("tick r - %lld: %lld ns before the re-anchor, %lld after",
                     (long long)(r - backlog[i]), (long long)was[i],
                     (long long)sky__clock_to_ns(&c, backlog[i]));
}

static void test_a_clock_set_back_is_followed(void **state)
{
    (void)state;
    sky__clock_conv c = conv();
    int64_t r = 1000 + 2000000000LL;
    int64_t before = sky__clock_to_ns(&c, r);
    int64_t set_back = before - 2000000000LL; /* `date` two seconds back */
    sky__clock_conv_reanchor(&c, r, before - (T0 - M0), set_back);
    assert_true(sky__clock_to_ns(&c, r) == set_back);
    /* a step smaller than a millisecond is not told from measurement: slewed, not followed */
    c = conv();
    sky__clock_conv_reanchor(&c, r, before - (T0 - M0), before - 500000);
    assert_true(sky__clock_to_ns(&c, r) == before);
}

static void test_a_late_anchor_is_taken(void **state)
{
    (void)state;
    sky__clock_conv c = conv();
    int64_t r = 1000 + 2000000000LL;
    int64_t later = sky__clock_to_ns(&c, r) + 3000;
    reanchor(&c, r, later);
    assert_true(sky__clock_to_ns(&c, r) == later);
}

static void test_a_wall_clock_step_does_not_spoil_the_rate(void **state)
{
    (void)state;
    /* `date` an hour forward a second after start: followed at once, and the rate, measured
     * against CLOCK_MONOTONIC, stays right (measured against CLOCK_REALTIME it would be 3601
     * times too fast, and each re-anchor after would step back by most of a second) */
    sky__clock_conv c = conv();
    int64_t hour = 3600000000000LL;
    int64_t r = 1000 + 2000000000LL; /* 1 s */
    sky__clock_conv_reanchor(&c, r, M0 + 1000000000LL, T0 + 1000000000LL + hour);
    assert_int_equal(sky__clock_to_ns(&c, r), T0 + 1000000000LL + hour);
    assert_true(fabs(c.ns_per_tick - NS_PER_TICK) < 1e-9);
    int64_t prev = sky__clock_to_ns(&c, r);
    for (int s = 2; s < 10; s++) {
        int64_t rs = 1000 + s * 2000000000LL;
        int64_t ns = sky__clock_to_ns(&c, rs);
        assert_true(ns >= prev);
        assert_true(llabs(ns - (T0 + s * 1000000000LL + hour)) < 1000);
        sky__clock_conv_reanchor(&c, rs, M0 + s * 1000000000LL, T0 + s * 1000000000LL + hour);
        prev = ns;
    }
}

static void test_without_the_tsc_the_conversion_is_the_identity(void **state)
{
    (void)state;
    /* raw ticks are CLOCK_REALTIME ns: converted exactly, the wall clock's steps included */
    sky__clock_init();
    bool tsc = sky__clock_tsc;
    sky__clock_tsc = false;
    sky__clock_conv c;
    sky__clock_conv_init(&c);
    int64_t day = 86400000000000LL;
    int64_t now = c.raw_a, ticks[] = {now, now + 1, now - 1, now - day, now + 100 * day + 7};
    for (int i = 0; i < 5; i++)
        assert_int_equal(sky__clock_to_ns(&c, ticks[i]), ticks[i]);
    sky__clock_conv_tick(&c); /* never re-anchored */
    assert_int_equal(c.raw_a, now);
    sky__clock_tsc = tsc;
}

/* ---- a simulated worker ---------------------------------------------------------------------- */

static uint64_t sim_x = 0x2545F4914F6CDD1Dull;
static int64_t sim_rand(int64_t n)
{
    sim_x ^= sim_x << 13, sim_x ^= sim_x >> 7, sim_x ^= sim_x << 17;
    return (int64_t)(sim_x % (uint64_t)n);
}

static void test_one_producer_keeps_its_order_through_any_backlog(void **state)
{
    (void)state;
    /* true clock: 3.1 ticks a ns; the boot rate off by up to the calibration bound; anchors
     * off by up to +-25 us (a 50 us bracket); the worker stalls for up to 3 s at a time while
     * one producer logs every 0.1-2 ms; 60 simulated seconds, 20 boot errors */
    const double tpn = 3.1;
    const int64_t off = T0 - M0;
    for (int run = 0; run < 20; run++) {
        double boot_err = ((double)sim_rand(2001) - 1000) / 1000 * SKY__CLOCK_MAX_RATE_ERROR;
        int64_t mono = M0;
#define TICK(m) (5000 + (int64_t)((double)((m) - M0) * tpn))
        sky__clock_conv c = {.raw0 = TICK(mono), .mono0 = mono, .raw_a = TICK(mono),
                             .ns_a = mono + off, .off_a = off,
                             .ns_per_tick = (1 + boot_err) / tpn,
                             .ns_per_tick_past = (1 + boot_err) / tpn};
        static int64_t q_tick[200000], q_true[200000];
        size_t head = 0, tail = 0;
        int64_t last = INT64_MIN, stall_until = 0, anchored = mono, gap = 0;
        while (mono < M0 + 60000000000LL) {
            mono += 100000 + sim_rand(1900000);
            q_tick[head] = TICK(mono);
            q_true[head++] = mono + off;
            if (mono < stall_until)
                continue;
            if (sim_rand(100) == 0)
                stall_until = mono + sim_rand(3000000000LL);
            /* the worker's loop: the re-anchor when due, then a batch */
            if ((double)(TICK(mono) - c.raw_a) * c.ns_per_tick >= 1e9) {
                int64_t noise = sim_rand(50001) - 25000;
                gap = mono - anchored > gap ? mono - anchored : gap;
                anchored = mono;
                sky__clock_conv_reanchor(&c, TICK(mono), mono + noise, mono + noise + off);
            }
            for (int64_t n = 1 + sim_rand(2000); n > 0 && tail < head; n--, tail++) {
                int64_t ns = sky__clock_to_ns(&c, q_tick[tail]);
                if (ns < last)
                    fail_msg("run %d: event %zu converted to %lld, %lld ns before the one "
                             "before it", run, tail, (long long)ns, (long long)(last - ns));
                last = ns;
                /* and accurate: the anchors' error, and the rate's over the longest time
                 * between anchors and over a backlog's age (the past rate is the lowest used) */
                int64_t age = mono - (q_true[tail] - off);
                int64_t bound = 100000 + (int64_t)((double)(age + gap + 1000000000LL) * 2 *
                                                   SKY__CLOCK_MAX_RATE_ERROR);
                int64_t e = llabs(ns - q_true[tail]);
                if (e > bound)
                    fail_msg("run %d: event %zu, %lld ns old when converted, is off by %lld ns",
                             run, tail, (long long)age, (long long)e);
            }
        }
#undef TICK
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calibration_survives_a_preemption_between_any_reads),
        cmocka_unit_test(test_calibration_survives_repeated_preemptions),
        cmocka_unit_test(test_a_tsc_that_cannot_be_measured_is_refused),
        cmocka_unit_test(test_an_early_anchor_does_not_go_back),
        cmocka_unit_test(test_a_backlog_converted_after_a_faster_anchor_does_not_go_back),
        cmocka_unit_test(test_a_clock_set_back_is_followed),
        cmocka_unit_test(test_a_late_anchor_is_taken),
        cmocka_unit_test(test_a_wall_clock_step_does_not_spoil_the_rate),
        cmocka_unit_test(test_without_the_tsc_the_conversion_is_the_identity),
        cmocka_unit_test(test_one_producer_keeps_its_order_through_any_backlog),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
