/*
 * common.h - shared by the benchmark drivers (C and C++): TSC timing, the paced/burst loop,
 * percentiles, peak RSS, and the one result line every driver prints.
 *
 * Timing: a call takes a few nanoseconds, about what reading the clock costs, so latency is
 * measured per group of GROUP calls (TSC before and after the group, divided by GROUP) and
 * percentiles are over groups. Paced: a group, then a busy wait until GAP_NS after the group
 * started (nanosleep would oversleep by ~50 us). Burst: groups back to back.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <x86intrin.h>

#define GROUP 20
#define GAP_NS 20000

static inline int64_t bench_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double bench_ns_per_tick;

static inline void bench_calibrate(void)
{
    int64_t m0 = bench_mono_ns();
    uint64_t t0 = __rdtsc();
    while (bench_mono_ns() - m0 < 50000000)
        ;
    int64_t m1 = bench_mono_ns();
    uint64_t t1 = __rdtsc();
    bench_ns_per_tick = (double)(m1 - m0) / (double)(t1 - t0);
}

typedef void (*bench_log_fn)(long i);
/* Optional, run by each producer thread before its first and after its last call (a context
 * scope or a bound logger held across the thread's calls). */
static void (*bench_begin)(void), (*bench_end)(void);

typedef struct bench_thread {
    bench_log_fn fn;
    long first, n; /* event numbers [first, first + n) */
    int paced;
    float *samples; /* ns per call, one per group */
    long nsamples;
    pthread_t th;
} bench_thread;

static inline void *bench_thread_main(void *arg)
{
    bench_thread *t = (bench_thread *)arg;
    long groups = t->n / GROUP;
    uint64_t gap_ticks = (uint64_t)(GAP_NS / bench_ns_per_tick);
    long i = t->first;
    if (bench_begin)
        bench_begin();
    for (long g = 0; g < groups; g++) {
        uint64_t a = __rdtsc();
        for (int k = 0; k < GROUP; k++)
            t->fn(i++);
        uint64_t b = __rdtsc();
        t->samples[g] = (float)((double)(b - a) * bench_ns_per_tick / GROUP);
        if (t->paced)
            while (__rdtsc() - a < gap_ticks)
                _mm_pause();
    }
    if (bench_end)
        bench_end();
    t->nsamples = groups;
    return NULL;
}

static inline int bench_cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

/* Runs `threads` producers over `events` events; returns wall ns; fills p50/p99. */
static inline int64_t bench_run(bench_log_fn fn, int threads, long events, int paced, double *p50,
                         double *p99)
{
    bench_thread *ts = (bench_thread *)calloc((size_t)threads, sizeof *ts);
    long per = events / threads;
    for (int k = 0; k < threads; k++) {
        ts[k].fn = fn;
        ts[k].first = k * per;
        ts[k].n = per;
        ts[k].paced = paced;
        ts[k].samples = (float *)malloc(sizeof(float) * (size_t)(per / GROUP + 1));
    }
    int64_t t0 = bench_mono_ns();
    for (int k = 0; k < threads; k++)
        pthread_create(&ts[k].th, NULL, bench_thread_main, &ts[k]);
    for (int k = 0; k < threads; k++)
        pthread_join(ts[k].th, NULL);
    int64_t dt = bench_mono_ns() - t0;
    long total = 0;
    for (int k = 0; k < threads; k++)
        total += ts[k].nsamples;
    float *all = (float *)malloc(sizeof(float) * (size_t)(total + 1));
    long w = 0;
    for (int k = 0; k < threads; k++) {
        memcpy(all + w, ts[k].samples, sizeof(float) * (size_t)ts[k].nsamples);
        w += ts[k].nsamples;
        free(ts[k].samples);
    }
    qsort(all, (size_t)w, sizeof(float), bench_cmp_float);
    *p50 = w ? all[w / 2] : 0;
    *p99 = w ? all[(long)(w * 0.99)] : 0;
    free(all);
    free(ts);
    return dt;
}

static inline long bench_peak_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* One line per run: candidate workload threads mode events wall_ns(incl. close) events_per_s
 * p50 p99 rss_kib */
static inline void bench_report(const char *cand, const char *wl, int threads, const char *mode,
                                long events, int64_t wall_ns, double p50, double p99)
{
    printf("RESULT %s %s %d %s %ld %lld %.0f %.1f %.1f %ld\n", cand, wl, threads, mode, events,
           (long long)wall_ns, (double)events * 1e9 / (double)wall_ns, p50, p99,
           bench_peak_rss_kib());
    fflush(stdout);
}

#endif
