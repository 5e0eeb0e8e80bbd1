/*
 * sampler.c - the system sampler: a thread that reads the process's CPU time, resident memory,
 * threads and open descriptors from /proc every interval, and publishes them as gauges and/or
 * logs them as an event (seed 004's SystemMetricsLogger, without psutil).
 *
 * One read of /proc/self/stat gives CPU time, threads and RSS; /proc/self/fd is counted for the
 * descriptors. The parser takes the text as data (bounded buffer, the command name skipped up
 * to its last ')', whatever it contains) and is fuzzed (tests/fuzz/fuzz_metrics_config.c).
 *
 * Stopping. The thread logs into a pipeline, and no log call may run during sky_close(), so a
 * sampler built from configuration stops in a sky_on_close() hook, before the close begins.
 * fork(): the thread is the parent's; a child's sampler does not run, and stopping it there
 * frees it without joining (or locking what the parent's thread may have held).
 */
#include "core/errmsg.h"
#include "core/pipeline.h"
#include "core/reserved.h"
#include "metrics/metrics_internal.h"
#include "util/thread.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

bool sky__proc_stat_parse(const char *buf, size_t len, sky__proc_stat *out)
{
    /* after "pid (comm) ": field 3 is the state; we want 14 utime, 15 stime, 20 num_threads,
     * 24 rss (pages) */
    const char *end = buf + len, *p = NULL;
    for (const char *q = buf; q < end; q++)
        if (*q == ')')
            p = q;
    if (!p)
        return false;
    p++;
    uint64_t v[25] = {0};
    int field = 3;
    while (p < end && field <= 24) {
        while (p < end && *p == ' ')
            p++;
        if (p >= end)
            break;
        const char *tok = p;
        while (p < end && *p != ' ' && *p != '\n')
            p++;
        if (field >= 14) {
            uint64_t x = 0;
            const char *t = tok;
            bool neg = t < p && *t == '-';
            t += neg;
            if (t == p)
                return false;
            for (; t < p; t++) {
                if (*t < '0' || *t > '9' || x > (UINT64_MAX - 9) / 10)
                    return false;
                x = x * 10 + (uint64_t)(*t - '0');
            }
            v[field] = neg ? 0 : x;
        }
        field++;
        if (p < end && *p == '\n')
            break;
    }
    if (field <= 24)
        return false;
    out->utime_ticks = v[14];
    out->stime_ticks = v[15];
    out->threads = v[20];
    out->rss_pages = v[24];
    return true;
}

static size_t count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 0;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n ? n - 1 : 0; /* not the descriptor reading the directory */
}

sky_status sky_sample_process(const sky_sample *prev, sky_sample *out)
{
    if (!out)
        return SKY_EINVAL;
    memset(out, 0, sizeof *out);
    char buf[4096];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return SKY_EIO;
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    sky__proc_stat ps;
    if (n <= 0 || !sky__proc_stat_parse(buf, (size_t)n, &ps))
        return SKY_EIO;
    long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    out->time_ns = sky_now_ns();
    out->mono_ns = sky_monotonic_ns();
    out->cpu_seconds = (double)(ps.utime_ticks + ps.stime_ticks) / (double)(tick > 0 ? tick : 100);
    out->rss_bytes = ps.rss_pages * (uint64_t)(page > 0 ? page : 4096);
    out->threads = ps.threads;
    out->open_fds = count_fds();
    if (prev && out->mono_ns > prev->mono_ns) {
        double cpu = out->cpu_seconds - prev->cpu_seconds;
        out->cpu_percent = cpu > 0 ? 100.0 * cpu / ((double)(out->mono_ns - prev->mono_ns) / 1e9)
                                   : 0;
    }
    return SKY_OK;
}

struct sky_sampler {
    sky_sampler_opts o;
    sky_metric *cpu, *rss, *threads, *fds;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool stop, started;
    pid_t pid;
    sky_sample last;
    uint64_t samples, errors;
};

static void publish(sky_sampler *s, const sky_sample *x)
{
    if (s->cpu) {
        sky_gauge_set(s->cpu, x->cpu_percent);
        sky_gauge_set(s->rss, (double)x->rss_bytes);
        sky_gauge_set(s->threads, (double)x->threads);
        sky_gauge_set(s->fds, (double)x->open_fds);
    }
    if (s->o.log)
        sky_info(s->o.log, "system_metrics", SKY_F64("cpu_percent", x->cpu_percent),
                 SKY_UINT("rss_bytes", x->rss_bytes),
                 SKY_F64("memory_mb", (double)x->rss_bytes / (1024.0 * 1024.0)),
                 SKY_UINT("threads", x->threads), SKY_UINT("open_fds", x->open_fds));
}

static void *sampler_main(void *arg)
{
    sky_sampler *s = arg;
    pthread_mutex_lock(&s->mu);
    int64_t next = sky_monotonic_ns();
    while (!s->stop) {
        next += s->o.interval_ms * 1000000;
        while (!s->stop && sky__cond_wait_until(&s->cv, &s->mu, next) == 0)
            ;
        if (s->stop)
            break;
        sky_sample x, prev = s->last;
        pthread_mutex_unlock(&s->mu);
        sky_status st = sky_sample_process(&prev, &x);
        if (st == SKY_OK)
            publish(s, &x);
        pthread_mutex_lock(&s->mu);
        if (st == SKY_OK) {
            s->last = x;
            s->samples++;
        } else {
            s->errors++;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static sky_status fail(char **errmsg, sky_status st, const char *msg)
{
    if (errmsg)
        *errmsg = strdup(msg);
    return st;
}

static sky_status gauge(sky_sampler *s, const char *name, sky_unit unit, sky_metric **out,
                        char **errmsg)
{
    return sky_metric_new(s->o.metrics, &(sky_metric_opts){.ns = s->o.ns, .name = name,
                                                           .kind = SKY_METRIC_GAUGE,
                                                           .unit = unit, .dims = s->o.dims,
                                                           .n_dims = s->o.n_dims},
                          out, errmsg);
}

static sky_status sampler_start_body(const sky_sampler_opts *opts, sky_sampler **out, char **errmsg)
{
    if (errmsg)
        *errmsg = NULL;
    if (!opts || !out)
        return fail(errmsg, SKY_EINVAL, "sampler: options and an output are required");
    *out = NULL;
    if (SKY__CHECK_RESERVED(opts, sky_sampler_opts, NULL, errmsg) != SKY_OK)
        return SKY_EINVAL;
    if (!opts->ns && !opts->log)
        return fail(errmsg, SKY_EINVAL,
                    "sampler: nothing to do: give a namespace (metrics), a logger (events) or both");
    if (opts->interval_ms && opts->interval_ms < 100)
        return fail(errmsg, SKY_EINVAL, "sampler: interval_ms must be at least 100");
    sky_sampler *s = calloc(1, sizeof *s);
    if (!s)
        return SKY_ENOMEM;
    s->o = *opts;
    if (!s->o.interval_ms)
        s->o.interval_ms = 60000;
    if (!s->o.metrics)
        s->o.metrics = sky_metrics_default();
    sky_status st = SKY_OK;
    if (s->o.ns) { /* the instruments hold copies: the options' strings are not kept */
        st = gauge(s, "cpu_percent", SKY_UNIT_PERCENT, &s->cpu, errmsg);
        if (st == SKY_OK)
            st = gauge(s, "rss_bytes", SKY_UNIT_BYTES, &s->rss, errmsg);
        if (st == SKY_OK)
            st = gauge(s, "threads", SKY_UNIT_COUNT, &s->threads, errmsg);
        if (st == SKY_OK)
            st = gauge(s, "open_fds", SKY_UNIT_COUNT, &s->fds, errmsg);
    }
    s->o.ns = NULL;
    s->o.dims = NULL;
    if (st == SKY_OK && sky_sample_process(NULL, &s->last) != SKY_OK)
        st = fail(errmsg, SKY_EIO, "sampler: cannot read /proc/self/stat");
    if (st != SKY_OK) {
        free(s);
        return st;
    }
    pthread_mutex_init(&s->mu, NULL);
    sky__cond_init_monotonic(&s->cv);
    s->pid = getpid();
    if (sky__thread_start(&s->thread, "skylog-sampler", sampler_main, s) != 0) {
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        free(s);
        return fail(errmsg, SKY_ENOMEM, "sampler: cannot start its thread");
    }
    s->started = true;
    *out = s;
    return SKY_OK;
}

sky_status sky_sampler_start(const sky_sampler_opts *opts, sky_sampler **out, char **errmsg)
{
    char *mine = NULL;
    sky_status st = sampler_start_body(opts, out, errmsg ? errmsg : &mine);
    return sky__errmsg_route(NULL, st, mine);
}

void sky_sampler_stop(sky_sampler *s)
{
    if (!s)
        return;
    if (s->pid != getpid()) { /* a forked child: the thread, and what it held, are the parent's */
        free(s);
        return;
    }
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (s->started)
        pthread_join(s->thread, NULL);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

sky_status sky_sampler_stats_get(sky_sampler *s, sky_sampler_stats *out)
{
    if (!s || !out)
        return SKY_EINVAL;
    if (s->pid != getpid()) {
        memset(out, 0, sizeof *out);
        return SKY_OK;
    }
    memset(out, 0, sizeof *out); /* reserved_ included (docs/COMPATIBILITY.md) */
    pthread_mutex_lock(&s->mu);
    out->samples = s->samples;
    out->errors = s->errors;
    out->last = s->last;
    pthread_mutex_unlock(&s->mu);
    return SKY_OK;
}

void sky__sampler_close_hook(void *s)
{
    sky_sampler_stop(s);
}

sky_sampler *sky_sampler_get(sky_t *sky, size_t i)
{
    return sky__close_hook_user(sky, sky__sampler_close_hook, i);
}
