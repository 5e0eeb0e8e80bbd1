/* test_sampler.c - the system sampler (src/metrics/sampler.c): what it reads from /proc against
 * what the test changes (descriptors, threads, memory, CPU time), its gauges and its events,
 * from code and from skylog.yaml, stopping on close, and fork. */
#include "skytest.h"

#include "metrics/metrics_internal.h"

#include <skylog/config.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- the parser ------------------------------------------------------------------------------ */

static void test_proc_stat_parse(void **state)
{
    (void)state;
    /* a command name with blanks and parentheses: only the last ')' ends it */
    const char *line = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 "
                       "250 75 0 0 20 0 7 0 12345 104857600 2560 18446744073709551615 1 1 0\n";
    sky__proc_stat ps;
    assert_true(sky__proc_stat_parse(line, strlen(line), &ps));
    assert_int_equal(ps.utime_ticks, 250);
    assert_int_equal(ps.stime_ticks, 75);
    assert_int_equal(ps.threads, 7);
    assert_int_equal(ps.rss_pages, 2560);
    const char *bad[] = {"", "4242 no paren S 1", "1 (x) S 1 2 3",
                         "1 (x) S 1 1 1 0 -1 0 0 0 0 0 x 75 0 0 20 0 7 0 1 1 2560",
                         ("1 (x) S 1 1 1 0 -1 0 0 0 0 0 99999999999999999999999 75 0 0 20 0 7 0 "
                          "1 1 2560")};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (sky__proc_stat_parse(bad[i], strlen(bad[i]), &ps))
            fail_msg("parsed '%s'", bad[i]);
}

/* ---- a sample against what the test changed ------------------------------------------------- */

static pthread_barrier_t hold;
static void *held(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&hold);
    return NULL;
}

static void test_sample_tracks_the_process(void **state)
{
    (void)state;
    sky_sample a, b;
    /* a first thread, started and joined, lets a sanitizer start its own helper thread now */
    pthread_t warm;
    pthread_barrier_init(&hold, NULL, 1);
    pthread_create(&warm, NULL, held, NULL);
    pthread_join(warm, NULL);
    pthread_barrier_destroy(&hold);
    assert_int_equal(sky_sample_process(NULL, &a), SKY_OK);
    assert_true(a.threads >= 1 && a.rss_bytes > 0 && a.open_fds >= 3);
    assert_true(a.cpu_percent == 0); /* no previous sample */

    int fds[5];
    for (int i = 0; i < 5; i++)
        fds[i] = open("/dev/null", O_RDONLY);
    pthread_t t[3];
    pthread_barrier_init(&hold, NULL, 4);
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, held, NULL);
    size_t big = 64u << 20;
    char *mem = malloc(big);
    assert_non_null(mem);
    memset(mem, 1, big); /* resident now */
    /* 50 ms of CPU time, measured by the CPU clock (not the wall clock) */
    struct timespec c0, c1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    static volatile unsigned long spin; /* static: the loop's work is kept */
    do {
        for (int i = 0; i < 100000; i++)
            spin = spin + (unsigned long)i;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    } while ((c1.tv_sec - c0.tv_sec) * 1000000000L + (c1.tv_nsec - c0.tv_nsec) < 50000000L);

    assert_int_equal(sky_sample_process(&a, &b), SKY_OK);
    assert_int_equal(b.open_fds, a.open_fds + 5);
    assert_int_equal(b.threads, a.threads + 3);
    assert_true(b.rss_bytes >= a.rss_bytes + (48u << 20));
    assert_true(b.cpu_seconds - a.cpu_seconds >= 0.03); /* /proc counts in 10 ms ticks */
    assert_true(b.cpu_percent > 0);
    assert_true(b.time_ns >= a.time_ns);

    pthread_barrier_wait(&hold);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&hold);
    for (int i = 0; i < 5; i++)
        close(fds[i]);
    free(mem);
}

/* ---- the thread: gauges and events ---------------------------------------------------------- */

typedef struct gauges {
    int n;
    double cpu, rss, threads, fds;
    char dims[128];
} gauges;

static sky_status take(void *user, const sky_metric_datum *d, size_t n, int64_t deadline)
{
    (void)deadline;
    gauges *g = user;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(d[i].kind, SKY_METRIC_GAUGE);
        g->n++;
        if (!strcmp(d[i].name, "cpu_percent"))
            g->cpu = d[i].value, assert_int_equal(d[i].unit, SKY_UNIT_PERCENT);
        else if (!strcmp(d[i].name, "rss_bytes"))
            g->rss = d[i].value, assert_int_equal(d[i].unit, SKY_UNIT_BYTES);
        else if (!strcmp(d[i].name, "threads"))
            g->threads = d[i].value;
        else if (!strcmp(d[i].name, "open_fds"))
            g->fds = d[i].value;
        if (d[i].n_dims)
            snprintf(g->dims, sizeof g->dims, "%s=%s", d[i].dims[0].name, d[i].dims[0].value);
    }
    return SKY_OK;
}

static void wait_samples(sky_sampler *s, uint64_t n)
{
    sky_sampler_stats st;
    for (int i = 0; i < 6000; i++) { /* a minute at most on a loaded machine */
        sky_sampler_stats_get(s, &st);
        if (st.samples >= n)
            return;
        sleep_ms(10);
    }
    fail_msg("the sampler took no sample in a minute");
}

static void test_sampler_thread(void **state)
{
    (void)state;
    sky_metrics *m;
    sky_metrics_new(NULL, &m);
    gauges g = {0};
    sky__metrics_attach(m, take, &g, 0);
    skytest_capture cap = {0};
    sky_t *sky;
    sky_options o = {0};
    o.mode = SKY_MODE_SYNC;
    assert_int_equal(sky_open(&o, &sky), SKY_OK);
    assert_int_equal(sky_add_sink(sky, skytest_capture_sink(&cap, SKY_FORMAT_JSON), NULL), SKY_OK);
    sky_sampler *s;
    char *err = NULL;
    sky_dim dims[] = {{"Service", "api"}};
    assert_int_equal(sky_sampler_start(&(sky_sampler_opts){.interval_ms = 100, .metrics = m,
                                                           .ns = "Proc", .dims = dims,
                                                           .n_dims = 1,
                                                           .log = sky_logger_get(sky, "system")},
                                       &s, &err),
                     SKY_OK);
    wait_samples(s, 2);
    sky_sampler_stop(s); /* before the pipeline closes: it logs there */
    sky_metrics_flush(m, 0);
    assert_int_equal(g.n, 4);
    assert_true(g.threads >= 2); /* this one and the sampler's */
    assert_true(g.rss > 0 && g.fds >= 3 && g.cpu >= 0);
    assert_string_equal(g.dims, "Service=api");
    assert_true(cap.n >= 2);
    assert_non_null(strstr(cap.lines[0], "\"system_metrics\""));
    assert_non_null(strstr(cap.lines[0], "\"rss_bytes\":"));
    assert_non_null(strstr(cap.lines[0], "\"open_fds\":"));
    assert_non_null(strstr(cap.lines[0], "\"threads\":"));
    assert_non_null(strstr(cap.lines[0], "\"cpu_percent\":"));
    sky_close(sky);
    skytest_capture_reset(&cap);
    sky__metrics_detach(m, &g);
    sky_metrics_free(m);

    /* what it refuses */
    err = NULL;
    assert_int_equal(sky_sampler_start(&(sky_sampler_opts){.interval_ms = 100}, &s, &err),
                     SKY_EINVAL);
    assert_non_null(strstr(err, "nothing to do"));
    free(err);
    assert_int_equal(sky_sampler_start(&(sky_sampler_opts){.interval_ms = 5, .ns = "P"}, &s, &err),
                     SKY_EINVAL);
    free(err);
    assert_int_equal(sky_sampler_start(&(sky_sampler_opts){.ns = "AWS/EC2"}, &s, &err),
                     SKY_EINVAL);
    free(err);
}

/* ---- from skylog.yaml: started with the pipeline, stopped by its close ---------------------- */

static void test_sampler_from_yaml(void **state)
{
    (void)state;
    char *dir = skytest_tmpdir();
    char path[4096], yaml[8192];
    snprintf(path, sizeof path, "%s/sys.log", dir);
    snprintf(yaml, sizeof yaml,
             "mode: sync\n"
             "sinks:\n  - file: { path: %s }\n"
             "processors:\n  - system_metrics: { interval_ms: 100ms, log: true }\n",
             path);
    sky_t *sky;
    char *err = NULL;
    sky_status st = sky_open_yaml(yaml, strlen(yaml), &sky, &err);
    if (st != SKY_OK)
        fail_msg("%s", err);
    char *text = NULL;
    for (int i = 0; i < 6000; i++) {
        sky_flush(sky, 1000);
        size_t len;
        free(text);
        text = skytest_read_file(path, &len);
        if (text && strstr(text, "\"system_metrics\""))
            break;
        sleep_ms(10);
    }
    assert_non_null(text);
    assert_non_null(strstr(text, "\"system_metrics\""));
    assert_non_null(strstr(text, "\"logger\":\"system\""));
    free(text);
    /* the close stops the thread first (a hook), so no event races the close: ASan/TSan
     * would see the thread use the freed pipeline otherwise */
    assert_int_equal(sky_close(sky), SKY_OK);
    sleep_ms(250); /* a thread left running would log into freed memory now */

    const char *none = "processors:\n  - system_metrics: { interval_ms: 1s }\n";
    err = NULL;
    assert_int_equal(sky_open_yaml(none, strlen(none), &sky, &err), SKY_EINVAL);
    assert_non_null(err);
    assert_non_null(strstr(err, "nothing to do"));
    free(err);
    skytest_rmtree(dir);
    free(dir);
}

/* ---- fork: the child's copy stops without the parent's thread ------------------------------- */

static void test_sampler_fork(void **state)
{
    (void)state;
    sky_metrics *m;
    sky_metrics_new(NULL, &m);
    sky_sampler *s;
    assert_int_equal(sky_sampler_start(&(sky_sampler_opts){.interval_ms = 100, .metrics = m,
                                                           .ns = "Fork"},
                                       &s, NULL),
                     SKY_OK);
    wait_samples(s, 1);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        sky_sample x;
        sky_sampler_stats st;
        int ok = sky_sample_process(NULL, &x) == SKY_OK && x.threads == 1;
        ok = ok && sky_sampler_stats_get(s, &st) == SKY_OK && st.samples == 0;
        sky_sampler_stop(s); /* must not wait for a thread the child does not have */
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    sky_sampler_stop(s);
    sky_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proc_stat_parse),
        cmocka_unit_test(test_sample_tracks_the_process),
        cmocka_unit_test(test_sampler_thread),
        cmocka_unit_test(test_sampler_from_yaml),
        cmocka_unit_test(test_sampler_fork),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
