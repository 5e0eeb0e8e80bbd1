/*
 * clock.h - the caller's timestamp: a raw tick the log call takes, converted to Unix
 * nanoseconds later by the worker (see clock.c for why and the figures).
 */
#ifndef SKY_CORE_CLOCK_H
#define SKY_CORE_CLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <skylog.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define SKY__HAVE_TSC 1
#endif

/* True once sky__clock_init() found an invariant TSC (constant rate, runs in deep C-states). */
extern bool sky__clock_tsc;

/* Decides the clock source; idempotent and thread-safe. */
void sky__clock_init(void);

/* A raw tick: TSC cycles when sky__clock_tsc, else Unix nanoseconds. */
static inline int64_t sky__clock_raw(void)
{
#ifdef SKY__HAVE_TSC
    if (sky__clock_tsc)
        return (int64_t)__rdtsc();
#endif
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Where calibration reads its clocks: CLOCK_MONOTONIC and the TSC, or a test's simulation of
 * them (a thread preempted between two reads). */
typedef struct sky__clock_source {
    int64_t (*ns)(void *ctx);   /* CLOCK_MONOTONIC nanoseconds */
    int64_t (*tick)(void *ctx); /* the TSC */
    void *ctx;
} sky__clock_source;

/* Measures the TSC's ns per tick from src; false when no measurement could bound its error
 * (every bracket too wide, a TSC that stood still or went back, an absurd rate): the TSC is
 * then not used. The error is at most SKY__CLOCK_MAX_RATE_ERROR (relative) whatever the
 * calling thread's preemptions. */
#define SKY__CLOCK_MAX_RATE_ERROR 1e-3
bool sky__clock_calibrate(const sky__clock_source *src, double *ns_per_tick);

/* Converts raw ticks to Unix ns for one consumer (the worker): anchored to CLOCK_REALTIME and
 * re-anchored at most every second, so the wall clock's steps show up within a second; the
 * rate is measured against CLOCK_MONOTONIC (never stepped) from the first anchor on, so it
 * keeps improving whatever is done to the wall clock. Not thread-safe: one per consumer. */
typedef struct sky__clock_conv {
    int64_t raw0, mono0; /* first anchor: the rate is measured from here */
    int64_t raw_a, ns_a; /* current anchor: tick raw_a is Unix time ns_a */
    int64_t off_a;       /* CLOCK_REALTIME - CLOCK_MONOTONIC at the current anchor */
    double ns_per_tick;  /* for ticks from raw_a on */
    double ns_per_tick_past; /* for ticks before raw_a: no more than any rate used before */
} sky__clock_conv;

void sky__clock_conv_init(sky__clock_conv *c);
/* Re-anchors if the last anchor is older than a second (cheap otherwise). */
void sky__clock_conv_tick(sky__clock_conv *c);
/* The re-anchor itself: tick r was at CLOCK_MONOTONIC mono and CLOCK_REALTIME ns. A tick's
 * conversion never goes back across re-anchors (the conversion after it is at least the one
 * before, for every tick), so events of one producer keep their order once sorted by time,
 * however late the worker converts them: only the wall clock set back (CLOCK_REALTIME moved
 * against CLOCK_MONOTONIC) moves conversions back, by that step. */
void sky__clock_conv_reanchor(sky__clock_conv *c, int64_t r, int64_t mono, int64_t ns);
/* Without the TSC (raw ticks are CLOCK_REALTIME ns) the conversion is the identity: rate 1,
 * anchored at the worker's start and never re-anchored (exact while |raw - raw_a| < 2^53 ns,
 * 104 days; a nanosecond or two off after that), so the hot loop tests no clock mode. */
static inline int64_t sky__clock_to_ns(const sky__clock_conv *c, int64_t raw)
{
    int64_t d = raw - c->raw_a;
    if (SKY_UNLIKELY(d < 0)) /* a backlog's tick, taken before the anchor */
        return c->ns_a + (int64_t)((double)d * c->ns_per_tick_past);
    return c->ns_a + (int64_t)((double)d * c->ns_per_tick);
}

#endif
