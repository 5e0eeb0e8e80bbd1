/*
 * bench_c.c - skylog (async, sync) and an fprintf baseline on the common workload: INFO
 * "user_login" with user="alice", id=i, ms=1.5, as JSON lines to a file.
 *
 *   bench_c <skylog-async|skylog-sync|fprintf> <threads> <paced|burst|disabled|callgrind>
 *           <events> <file>
 *
 * "disabled" times a call whose level is off (DEBUG on an INFO logger). "callgrind" logs
 * `events` events with no timing around them, for valgrind --tool=callgrind: the caller's cost
 * is the inclusive cost of log_one_*(), the worker's that of the worker thread.
 */
#include "common.h"

#include <skylog.h>

static sky_t *sky;
static sky_logger *lg;
static FILE *out;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

__attribute__((noinline)) void log_one_skylog(long i)
{
    sky_info(lg, "user_login", SKY_STR("user", "alice"), SKY_INT("id", i), SKY_F64("ms", 1.5));
}

__attribute__((noinline)) void log_one_disabled(long i)
{
    sky_debug(lg, "user_login", SKY_STR("user", "alice"), SKY_INT("id", i), SKY_F64("ms", 1.5));
}

__attribute__((noinline)) void log_one_fprintf(long i)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    fprintf(out,
            "{\"timestamp\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",\"level\":\"INFO\","
            "\"logger\":\"bench\",\"message\":\"user_login\",\"user\":\"%s\",\"id\":%ld,"
            "\"ms\":%g}\n",
            tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
            ts.tv_nsec / 1000000, "alice", i, 1.5);
    (void)out_lock;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s <skylog-async|skylog-sync|fprintf> <threads> "
                        "<paced|burst|disabled|callgrind> <events> <file>\n", argv[0]);
        return 2;
    }
    const char *cand = argv[1], *mode = argv[3], *path = argv[5];
    int threads = atoi(argv[2]);
    long events = atol(argv[4]);
    bench_calibrate();
    bench_log_fn fn;
    remove(path);
    if (strcmp(cand, "fprintf") == 0) {
        out = fopen(path, "w");
        fn = log_one_fprintf;
    } else {
        sky_options o = {.mode = strcmp(cand, "skylog-async") == 0 ? SKY_MODE_ASYNC : SKY_MODE_SYNC,
                         .level = SKY_LEVEL_INFO, .level_set = true};
        if (sky_open(&o, &sky) != SKY_OK)
            return 1;
        sky_sink *fs;
        if (sky_sink_file(&(sky_file_opts){.path = path}, &fs, NULL) != SKY_OK ||
            sky_add_sink(sky, fs, NULL) != SKY_OK)
            return 1;
        lg = sky_logger_get(sky, "bench");
        fn = strcmp(mode, "disabled") == 0 ? log_one_disabled : log_one_skylog;
    }
    double p50 = 0, p99 = 0;
    int64_t wall;
    if (strcmp(mode, "callgrind") == 0) {
        int64_t t0 = bench_mono_ns();
        for (long i = 0; i < events; i++)
            fn(i);
        if (sky)
            sky_flush(sky, 60000);
        wall = bench_mono_ns() - t0;
    } else if (strcmp(mode, "disabled") == 0) {
        int64_t t0 = bench_mono_ns();
        for (long i = 0; i < events; i++)
            fn(i);
        wall = bench_mono_ns() - t0;
        p50 = p99 = (double)wall / (double)events;
    } else {
        int64_t t0 = bench_mono_ns();
        bench_run(fn, threads, events, strcmp(mode, "paced") == 0, &p50, &p99);
        if (sky)
            sky_flush(sky, 600000);
        else
            fflush(out);
        wall = bench_mono_ns() - t0;
    }
    bench_report(cand, threads, mode, events, wall, p50, p99);
    if (sky) {
        sky_stats st;
        sky_stats_get(sky, &st);
        if (st.routed != st.emitted)
            fprintf(stderr, "%s: %llu of %llu events not written\n", cand,
                    (unsigned long long)(st.emitted - st.routed), (unsigned long long)st.emitted);
        sky_close(sky);
    } else {
        fclose(out);
    }
    return 0;
}
