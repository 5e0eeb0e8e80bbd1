/*
 * bench_numfmt.c - wall-clock cost of the renderers' number writers (src/util/buf.c) on the
 * values a log line usually carries: counters and ids, short measured doubles, and computed
 * doubles the short path does not take (from "not short" on: the shortest-digits conversion).
 * Each case formats a cycle of 1024 values many times over into a stack buffer; the figure is
 * ns per call, loop included. Callgrind's instruction counts (bench/RESULTS.md) say what the
 * worker executes; this says what that costs on the machine at hand.
 *
 *   bench_numfmt [calls per case, default 20000000]
 */
#include "common.h"

#include <math.h>

#include "util/buf.h"

#define CYCLE 1024

static uint64_t u[CYCLE];
static double f[CYCLE];

static double bits_f64(uint64_t x)
{
    double v;
    memcpy(&v, &x, sizeof v);
    return v;
}

static uint64_t rnd_state = 88172645463325252ull;

static uint64_t rnd(void)
{
    rnd_state ^= rnd_state << 13, rnd_state ^= rnd_state >> 7, rnd_state ^= rnd_state << 17;
    return rnd_state;
}

static void report(const char *name, long calls, int64_t ns, size_t sink)
{
    printf("%-28s %6.2f ns/call  (%zu)\n", name, (double)ns / (double)calls, sink);
}

#define RUN(name, fill, call)                                                                     \
    do {                                                                                          \
        for (int i = 0; i < CYCLE; i++)                                                           \
            fill;                                                                                 \
        char out[64];                                                                             \
        size_t sink = 0;                                                                          \
        int64_t t0 = bench_mono_ns();                                                             \
        for (long i = 0; i < calls; i++)                                                          \
            sink += (size_t)(call - out);                                                         \
        report(name, calls, bench_mono_ns() - t0, sink);                                          \
    } while (0)

int main(int argc, char **argv)
{
    long calls = argc > 1 ? atol(argv[1]) : 20000000;
    RUN("i64 id 0..10^6", u[i] = rnd() % 1000000, sky__i64_raw(out, (int64_t)u[i & (CYCLE - 1)]));
    RUN("i64 -999..999", u[i] = rnd() % 1999 - 999, sky__i64_raw(out, (int64_t)u[i & (CYCLE - 1)]));
    RUN("u64 ns timestamps", u[i] = 1751114096000000000ull + rnd() % 1000000000000ull,
        sky__u64_raw(out, u[i & (CYCLE - 1)]));
    RUN("u64 uniform bits", u[i] = rnd(), sky__u64_raw(out, u[i & (CYCLE - 1)]));
    RUN("f64 1.5", f[i] = 1.5, sky__f64_raw(out, f[i & (CYCLE - 1)]));
    RUN("f64 ms m/1000 < 2000", f[i] = (double)(rnd() % 2000000) / 1000,
        sky__f64_raw(out, f[i & (CYCLE - 1)]));
    static const double p10[] = {1, 10, 100, 1000, 10000, 100000, 1000000};
    RUN("f64 m/10^k, k 0..6", f[i] = (double)(rnd() % 100000000) / p10[rnd() % 7],
        sky__f64_raw(out, f[i & (CYCLE - 1)]));
    RUN("f64 not short (m/3)", f[i] = (double)(rnd() % 1000000) / 3 + 1e-9,
        sky__f64_raw(out, f[i & (CYCLE - 1)]));
    /* the rest of the doubles: computed ratios, every exponent, the far ends */
    RUN("f64 ratio a/b", f[i] = (double)(rnd() % 1000000000) / (double)(rnd() % 9999 + 2),
        sky__f64_raw(out, f[i & (CYCLE - 1)]));
    RUN("f64 uniform bits", (u[i] = rnd(), f[i] = isfinite(bits_f64(u[i])) ? bits_f64(u[i]) : 1.25),
        sky__f64_raw(out, f[i & (CYCLE - 1)]));
    RUN("f64 1e-300..1e300", f[i] = pow(10, (double)(rnd() % 600) - 300) * 1.2345,
        sky__f64_raw(out, f[i & (CYCLE - 1)]));
    RUN("f64 0.1 + 0.2", f[i] = 0.1 + 0.2, sky__f64_raw(out, f[i & (CYCLE - 1)]));
    return 0;
}
