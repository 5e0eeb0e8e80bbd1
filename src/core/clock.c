/*
 * clock.c - timestamps for the async hot path: a calibrated TSC when the CPU has an invariant
 * one, CLOCK_REALTIME through the vDSO otherwise.
 *
 * Figures on the reference machine (2 vCPU AMD EPYC under KVM, clocksource tsc, gcc -O2, 10M
 * calls in a loop): clock_gettime(CLOCK_REALTIME) 29 ns a call, rdtsc 12.8 ns, rdtscp 31 ns.
 * The timestamp is the largest single item of the caller's budget, so the caller stores the raw
 * TSC and the worker converts it: ns = anchor_ns + (tsc - anchor_tsc) * ns_per_tick. The rate
 * is first measured over ~2 ms at start-up, then re-measured by each worker over the whole time
 * it has run (error shrinks as 1/t), and the anchor is re-taken every second so the wall clock
 * (NTP) is followed. Events keep the order of their TSC readings. Rendered timestamps have
 * millisecond resolution, far coarser than the conversion error (< 1 us after one second).
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

static void clock_init_once(void)
{
#ifdef SKY__HAVE_TSC
    if (!cpuid_invariant_tsc() && !kernel_clocksource_tsc())
        return;
    int64_t m0 = mono_ns();
    int64_t t0 = (int64_t)__rdtsc();
    int64_t m1;
    while ((m1 = mono_ns()) - m0 < 2000000)
        ;
    int64_t t1 = (int64_t)__rdtsc();
    if (t1 <= t0)
        return;
    boot_ns_per_tick = (double)(m1 - m0) / (double)(t1 - t0);
    sky__clock_tsc = true;
#endif
}

void sky__clock_init(void) { pthread_once(&clock_once, clock_init_once); }

static void anchor(int64_t *raw, int64_t *ns)
{
    /* Take the tick between two clock reads and keep the tightest of a few tries. */
    int64_t best = INT64_MAX;
    for (int i = 0; i < 3; i++) {
        int64_t a = realtime_ns();
        int64_t r = sky__clock_raw();
        int64_t b = realtime_ns();
        if (b - a < best) {
            best = b - a;
            *raw = r;
            *ns = a + (b - a) / 2;
        }
    }
}

void sky__clock_conv_init(sky__clock_conv *c)
{
    sky__clock_init();
    c->ns_per_tick = boot_ns_per_tick;
    anchor(&c->raw0, &c->ns0);
    c->raw_a = c->raw0;
    c->ns_a = c->ns0;
}

void sky__clock_conv_reanchor(sky__clock_conv *c, int64_t r, int64_t ns)
{
    /* Where the old anchor puts tick r can be ahead of the new measurement: the boot rate is
     * measured over 2 ms, so the first second's extrapolation is off by its error (1.5 to 11
     * ms seen under TSan on a loaded 2-core machine), and each anchor's midpoint is off by up
     * to half its window. Jumping back would give an event converted after the
     * re-anchor an earlier millisecond than the event before it, and a batch sorted by time
     * would reorder one producer's events. So within that error the conversion slews: it
     * goes on from where the old anchor puts r, at a rate that meets the measured line one
     * second on. A larger step back is the wall clock's own (NTP, date), followed as
     * CLOCK_REALTIME follows it. */
    int64_t before = sky__clock_to_ns(c, r);
    if (r > c->raw0 && ns - c->ns0 > 500000000)
        c->ns_per_tick = (double)(ns - c->ns0) / (double)(r - c->raw0);
    if (ns < before && before - ns <= SKY__CLOCK_MAX_ANCHOR_ERROR_NS) {
        double second = 1e9 / c->ns_per_tick; /* ticks */
        c->ns_per_tick -= (double)(before - ns) / second;
        ns = before;
    }
    c->raw_a = r;
    c->ns_a = ns;
}

void sky__clock_conv_tick(sky__clock_conv *c)
{
    if (!sky__clock_tsc)
        return;
    int64_t raw = sky__clock_raw();
    if ((double)(raw - c->raw_a) * c->ns_per_tick < 1e9)
        return;
    int64_t r, ns;
    anchor(&r, &ns);
    sky__clock_conv_reanchor(c, r, ns);
}
