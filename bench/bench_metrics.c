/*
 * bench_metrics.c - the cost of recording a metric (issue 14's target: <= 15 ns and <= 40
 * instructions a record) and of draining an interval, per datum.
 *
 *   bench_metrics time [N]        ns per record: counter add, histogram record with exact values
 *                                 (<= 150 distinct) and in sketch mode; 1 and 4 threads (N
 *                                 records a thread, default 10,000,000); then the drain cost
 *   bench_metrics callgrind [N]   N records of each kind through noinline wrappers, for
 *                                 `valgrind --tool=callgrind` (inclusive cost / N)
 *
 * Timing: clock_gettime around the whole loop of a thread (a record costs about what reading
 * the clock costs, so single records are not timed); median of 3 runs.
 */
#include <skylog.h>
#include <skylog/metrics.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static sky_metric *counter, *exact, *sketch;
static long n_per_thread = 10000000;

__attribute__((noinline)) void bench_counter_add(long i)
{
    (void)i;
    sky_counter_add(counter, 1);
}
__attribute__((noinline)) void bench_hist_exact(long i) { sky_histogram_record(exact, (double)(i & 127)); }
__attribute__((noinline)) void bench_hist_sketch(long i) { sky_histogram_record(sketch, 1.0 + (double)i); }

typedef void (*rec_fn)(long);
typedef struct job {
    rec_fn fn;
    double ns;
    pthread_t th;
} job;

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *run(void *arg)
{
    job *j = arg;
    j->fn(0); /* the thread's first record picks its stripe (and allocates a histogram's) */
    int64_t t0 = mono_ns();
    for (long i = 0; i < n_per_thread; i++)
        j->fn(i);
    j->ns = (double)(mono_ns() - t0) / (double)n_per_thread;
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Mean ns a record over `threads` threads (each thread's own loop time); median of 3 runs.
 * *agg: the whole run's wall time over every thread's records (what the machine sustains: on
 * fewer cores than threads, a thread's own time includes waiting for a core). */
static double measure(rec_fn fn, int threads, sky_metrics *m, double *agg)
{
    double runs[3], aggs[3];
    for (int r = 0; r < 3; r++) {
        job j[4];
        int64_t w0 = mono_ns();
        for (int t = 0; t < threads; t++) {
            j[t].fn = fn;
            pthread_create(&j[t].th, NULL, run, &j[t]);
        }
        double sum = 0;
        for (int t = 0; t < threads; t++) {
            pthread_join(j[t].th, NULL);
            sum += j[t].ns;
        }
        runs[r] = sum / threads;
        aggs[r] = (double)(mono_ns() - w0) / ((double)n_per_thread * threads);
        sky_metrics_flush(m, 0); /* start each run from an empty interval */
    }
    qsort(runs, 3, sizeof runs[0], cmp);
    qsort(aggs, 3, sizeof aggs[0], cmp);
    *agg = aggs[1];
    return runs[1];
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "time";
    if (argc > 2)
        n_per_thread = atol(argv[2]);
    sky_metrics *m;
    sky_metrics_new(NULL, &m);
    sky_metric_new(m, &(sky_metric_opts){.ns = "Bench", .name = "Counter"}, &counter, NULL);
    sky_metric_new(m, &(sky_metric_opts){.ns = "Bench", .name = "Exact",
                                         .kind = SKY_METRIC_HISTOGRAM},
                   &exact, NULL);
    sky_metric_new(m, &(sky_metric_opts){.ns = "Bench", .name = "Sketch",
                                         .kind = SKY_METRIC_HISTOGRAM},
                   &sketch, NULL);
    if (strcmp(mode, "callgrind") == 0) {
        for (long i = 0; i < n_per_thread; i++)
            bench_counter_add(i);
        for (long i = 0; i < n_per_thread; i++)
            bench_hist_exact(i);
        for (long i = 0; i < n_per_thread; i++)
            bench_hist_sketch(i);
        sky_metrics_free(m);
        return 0;
    }
    struct {
        const char *name;
        rec_fn fn;
    } kinds[] = {{"counter_add", bench_counter_add},
                 {"histogram_record (exact)", bench_hist_exact},
                 {"histogram_record (sketch)", bench_hist_sketch}};
    for (size_t k = 0; k < 3; k++)
        for (int threads = 1; threads <= 4; threads *= 4) {
            double agg, ns = measure(kinds[k].fn, threads, m, &agg);
            printf("metrics %-26s threads=%d ns/record=%.2f wall-ns/record(all threads)=%.2f\n",
                   kinds[k].name, threads, ns, agg);
        }
    /* drain: 10,000 counters and 100 histograms (sketch mode), per datum */
    char name[32];
    static sky_metric *cs[10000];
    for (int i = 0; i < 10000; i++) {
        snprintf(name, sizeof name, "C%d", i);
        sky_metric_new(m, &(sky_metric_opts){.ns = "Bench", .name = name}, &cs[i], NULL);
    }
    sky_metric *h[100];
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof name, "H%d", i);
        sky_metric_new(m, &(sky_metric_opts){.ns = "Bench", .name = name,
                                             .kind = SKY_METRIC_HISTOGRAM},
                       &h[i], NULL);
    }
    double runs[3];
    for (int r = 0; r < 3; r++) {
        sky_metrics_flush(m, 0);
        for (int i = 0; i < 10000; i++)
            sky_counter_add(cs[i], 1);
        for (int i = 0; i < 100; i++)
            for (int k = 1; k <= 1000; k++)
                sky_histogram_record(h[i], k * 1.5);
        int64_t t0 = mono_ns();
        sky_metrics_flush(m, 0);
        runs[r] = (double)(mono_ns() - t0) / 10100;
    }
    qsort(runs, 3, sizeof runs[0], cmp);
    printf("metrics drain (10000 counters + 100 sketch histograms) ns/datum=%.1f\n", runs[1]);
    sky_metrics_free(m);
    return 0;
}
