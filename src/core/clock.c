/*
 * clock.c - timestamps for the async hot path: a calibrated TSC when the CPU has an invariant
 * one, CLOCK_REALTIME through the vDSO otherwise.
 *
 * Figures on the reference machine (2 vCPU AMD EPYC under KVM, clocksource tsc, gcc -O2, 10M
 * calls in a loop): clock_gettime(CLOCK_REALTIME) 29 ns a call, rdtsc 12.8 ns, rdtscp 31 ns.
 * The timestamp is the largest single item of the caller's budget, so the caller stores the raw
 * TSC and the worker converts it: ns = anchor_ns + (tsc - anchor_tsc) * ns_per_tick. The rate
 * is first measured over ~2 ms at start-up, then re-measured by each worker against
 * CLOCK_MONOTONIC over the whole time it has run (error shrinks as 1/t), and the anchor is
 * re-taken every second so the wall clock (NTP, date) is followed. Events keep the order of
 * their TSC readings. Rendered timestamps have millisecond resolution, far coarser than the
 * conversion error (< 1 us after one second).
 *
 * Calibration must survive a preempted thread: a tick read between two clock reads is only
 * known to lie inside that bracket, and a thread descheduled between the reads widens it to
 * the time it was away (milliseconds on a loaded machine). So each end of the measurement is
 * the tightest of several brackets, one too wide is taken again, the span grows until the
 * brackets bound the rate's error to SKY__CLOCK_MAX_RATE_ERROR, and a TSC that cannot be
 * measured so is not used. The worker's anchors are taken the same way, and one that stays
 * wide is skipped until the next loop.
 *
 * A re-anchor never moves a tick's conversion back (clock.h): it starts from where the old
 * line puts the anchor's tick when the measurement is earlier (and slews to it over a second),
 * and ticks before the anchor - the backlog the worker has yet to convert - use a rate no
 * higher than any used before, so the new line lies above the old one there too. Only a step
 * of the wall clock itself, seen as CLOCK_REALTIME moving against CLOCK_MONOTONIC, is followed
 * back.
 *
 * The TSC is used when cpuid says it is invariant (0x80000007 EDX bit 8) or when the kernel's
 * clocksource is "tsc" (it verified the TSC itself). Otherwise, or off x86, raw ticks are
 * CLOCK_REALTIME nanoseconds and the conversion is the identity.
 */
#include "core/clock.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#ifdef SKY__HAVE_TSC
#include <cpuid.h>
#endif

bool sky__clock_tsc;
static double boot_ns_per_tick = 1.0;
static pthread_once_t clock_once = PTHREAD_ONCE_INIT;

static int64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#ifdef SKY__HAVE_TSC
/* cpuid 0x80000007 EDX bit 8: the TSC runs at a constant rate, in every C-state. */
static bool cpuid_invariant_tsc(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(0x80000000, &a, &b, &c, &d) || a < 0x80000007)
        return false;
    __get_cpuid(0x80000007, &a, &b, &c, &d);
    return (d & (1u << 8)) != 0;
}

/* True when Linux keeps time with the TSC: the kernel chose it after checking it is stable
 * and synchronised across CPUs, so CLOCK_REALTIME is itself computed from it. Some hypervisors
 * (and valgrind) hide the cpuid bit of a TSC the kernel trusts. */
static bool kernel_clocksource_tsc(void)
{
    char cs[16] = {0};
    FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "re");
    if (!f)
        return false;
    bool ok = fgets(cs, sizeof cs, f) && strcmp(cs, "tsc\n") == 0;
    fclose(f);
    return ok;
}
#endif

/* A bracket narrower than this was not preempted; one wider than MAX_WIDTH was. */
#define GOOD_WIDTH_NS 1000
#define MAX_WIDTH_NS 50000
#define BRACKET_TRIES 16
/* Calibration's samples are first 2 ms apart; the span doubles (to 64 ms at most) while their
 * brackets are too wide for the error bound. */
#define CAL_SPAN_NS 2000000
#define CAL_SPAN_MAX_NS 64000000
/* CLOCK_REALTIME moving against CLOCK_MONOTONIC by more than this is the wall clock set
 * (date, an NTP step, a resume from suspend); less is measurement, and slewed. */
#define STEP_NS 1000000

typedef struct cal_sample {
    int64_t ns, tick, width; /* the tick was read at ns +- width / 2 */
} cal_sample;

/* The tightest of a few brackets; false when even that one was preempted. */
static bool cal_sample_take(const sky__clock_source *src, cal_sample *s)
{
    s->width = INT64_MAX;
    for (int i = 0; i < BRACKET_TRIES && s->width > GOOD_WIDTH_NS; i++) {
        int64_t a = src->ns(src->ctx);
        int64_t t = src->tick(src->ctx);
        int64_t b = src->ns(src->ctx);
        if (b >= a && b - a < s->width)
            *s = (cal_sample){.ns = a + (b - a) / 2, .tick = t, .width = b - a};
    }
    return s->width <= MAX_WIDTH_NS;
}

bool sky__clock_calibrate(const sky__clock_source *src, double *ns_per_tick)
{
    cal_sample a, b;
    if (!cal_sample_take(src, &a))
        return false;
    for (int64_t span = CAL_SPAN_NS; span <= CAL_SPAN_MAX_NS; span *= 2) {
        while (src->ns(src->ctx) - a.ns < span)
            ;
        if (!cal_sample_take(src, &b))
            continue;
        if (b.tick <= a.tick)
            return false; /* a TSC that stood still or went back */
        /* each tick lies within half its bracket of the bracket's midpoint */
        double err = (double)(a.width + b.width) / 2;
        double measured = (double)(b.ns - a.ns);
        if (err > SKY__CLOCK_MAX_RATE_ERROR * (measured - err))
            continue;
        double rate = measured / (double)(b.tick - a.tick);
        if (!(rate > 1e-3 && rate < 1e2)) /* 10 MHz to 1 THz, or it is not a TSC */
            return false;
        *ns_per_tick = rate;
        return true;
    }
    return false;
}

#ifdef SKY__HAVE_TSC
static int64_t source_mono(void *ctx)
{
    (void)ctx;
    return mono_ns();
}

static int64_t source_tsc(void *ctx)
{
    (void)ctx;
    return (int64_t)__rdtsc();
}
#endif

static void clock_init_once(void)
{
#ifdef SKY__HAVE_TSC
    if (!cpuid_invariant_tsc() && !kernel_clocksource_tsc())
        return;
    const sky__clock_source real = {.ns = source_mono, .tick = source_tsc};
    if (!sky__clock_calibrate(&real, &boot_ns_per_tick))
        return;
    sky__clock_tsc = true;
#endif
}

void sky__clock_init(void) { pthread_once(&clock_once, clock_init_once); }

/* Tick r at CLOCK_MONOTONIC mono and CLOCK_REALTIME ns, each clock read between two
 * CLOCK_MONOTONIC reads; the tightest of a few tries. Returns its wider bracket. */
static int64_t take_anchor(int64_t *r, int64_t *mono, int64_t *ns)
{
    int64_t best = INT64_MAX;
    /* three tries as a rule (clock reads are slow under valgrind: brackets of microseconds),
     * more only while every one was preempted */
    for (int i = 0; i < BRACKET_TRIES && best > GOOD_WIDTH_NS && (i < 3 || best > MAX_WIDTH_NS);
         i++) {
        int64_t m0 = mono_ns();
        int64_t t = sky__clock_raw();
        int64_t m1 = mono_ns();
        int64_t w = realtime_ns();
        int64_t m2 = mono_ns();
        int64_t width = m1 - m0 > m2 - m1 ? m1 - m0 : m2 - m1;
        if (width < best) {
            best = width;
            *r = t;
            *mono = m0 + (m1 - m0) / 2;
            *ns = *mono + (w - (m1 + (m2 - m1) / 2)); /* + CLOCK_REALTIME - CLOCK_MONOTONIC */
        }
    }
    return best;
}

void sky__clock_conv_init(sky__clock_conv *c)
{
    sky__clock_init();
    if (!sky__clock_tsc) { /* the identity (clock.h) */
        int64_t now = realtime_ns();
        *c = (sky__clock_conv){.raw0 = now, .mono0 = mono_ns(), .raw_a = now, .ns_a = now,
                               .ns_per_tick = 1.0, .ns_per_tick_past = 1.0};
        c->off_a = now - c->mono0;
        return;
    }
    int64_t r, mono, ns;
    take_anchor(&r, &mono, &ns); /* even a wide one: what the rate measured from it misses is
                                    slewed, and shrinks as the worker runs */
    *c = (sky__clock_conv){.raw0 = r, .mono0 = mono, .raw_a = r, .ns_a = ns,
                           .off_a = ns - mono, .ns_per_tick = boot_ns_per_tick,
                           .ns_per_tick_past = boot_ns_per_tick};
}

void sky__clock_conv_reanchor(sky__clock_conv *c, int64_t r, int64_t mono, int64_t ns)
{
    /* Where the old line puts tick r, moved by the wall clock's own step if it was set. */
    int64_t before = sky__clock_to_ns(c, r);
    int64_t off = ns - mono, step = off - c->off_a;
    if (step > STEP_NS || step < -STEP_NS)
        before += step;
    /* The new line must not pass under the old one before r, however far back a backlog the
     * worker has yet to convert goes: there its rate is at most the old line's (the current
     * rate from the old anchor on, the past rate before it). */
    double past = c->ns_per_tick < c->ns_per_tick_past ? c->ns_per_tick : c->ns_per_tick_past;
    if (r > c->raw0 && mono - c->mono0 > 500000000)
        c->ns_per_tick = (double)(mono - c->mono0) / (double)(r - c->raw0);
    if (ns < before) {
        /* The measurement is earlier than the old line (the boot rate's error, an anchor's
         * bracket): going on from the old line, at a rate that meets the measured line one
         * second on, keeps conversions from going back. At most half the rate is given up: a
         * larger error is met over more seconds. */
        double second = 1e9 / c->ns_per_tick; /* ticks */
        double cut = (double)(before - ns) / second;
        c->ns_per_tick -= cut < c->ns_per_tick / 2 ? cut : c->ns_per_tick / 2;
        ns = before;
    }
    c->ns_per_tick_past = past;
    c->raw_a = r;
    c->ns_a = ns;
    c->off_a = off;
}

void sky__clock_conv_tick(sky__clock_conv *c)
{
    if (!sky__clock_tsc)
        return;
    int64_t raw = sky__clock_raw();
    if ((double)(raw - c->raw_a) * c->ns_per_tick < 1e9)
        return;
    int64_t r, mono, ns;
    if (take_anchor(&r, &mono, &ns) > MAX_WIDTH_NS)
        return; /* preempted in every try: the next loop takes it again */
    sky__clock_conv_reanchor(c, r, mono, ns);
}
