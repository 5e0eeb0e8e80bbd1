/*
 * clock.h - the caller's timestamp: a raw tick the log call takes, converted to Unix
 * nanoseconds later by the worker (see clock.c for why and the figures).
 */
#ifndef SKY_CORE_CLOCK_H
#define SKY_CORE_CLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

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

/* Converts raw ticks to Unix ns for one consumer (the worker): anchored to CLOCK_REALTIME and
 * re-anchored at most every second, so NTP steps show up within a second and the rate estimate
 * keeps improving. Not thread-safe: one per consumer. */
typedef struct sky__clock_conv {
    int64_t raw0, ns0;       /* first anchor: the rate is measured from here */
    int64_t raw_a, ns_a;     /* current anchor */
    double ns_per_tick;
} sky__clock_conv;

void sky__clock_conv_init(sky__clock_conv *c);
/* Re-anchors if the last anchor is older than a second (cheap otherwise). */
void sky__clock_conv_tick(sky__clock_conv *c);
/* The re-anchor itself: tick r is Unix time ns. Conversions never go back by a measurement
 * error (up to SKY__CLOCK_MAX_ANCHOR_ERROR_NS; they slew to the measurement over a second):
 * events of one producer keep their order once sorted by time. A larger step back (the wall
 * clock set back) is followed. */
/* 100 ms: below what NTP steps (it slews offsets under 128 ms), above what a loaded machine's
 * 2 ms boot calibration has been seen to miss by in its first second (11 ms). */
#define SKY__CLOCK_MAX_ANCHOR_ERROR_NS 100000000
void sky__clock_conv_reanchor(sky__clock_conv *c, int64_t r, int64_t ns);
static inline int64_t sky__clock_to_ns(const sky__clock_conv *c, int64_t raw)
{
    if (!sky__clock_tsc)
        return raw;
    return c->ns_a + (int64_t)((double)(raw - c->raw_a) * c->ns_per_tick);
}

#endif
