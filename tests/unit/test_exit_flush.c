/* test_exit_flush.c - skylog.h's promise that a normal exit loses nothing, for every pipeline:
 * a sky_open() async pipeline (not only the default one) whose program calls exit(0), returns
 * from main, or is a forked child calling exit(0), has written every event (core/pipeline.c's
 * atexit handler). Each case runs in a fresh process (this binary, exec'd), because exit is
 * what is tested. The ring is large enough to hold every event, so at exit most of them are
 * still queued: without the handler they are lost. */
#include "skytest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define N_EVENTS 100000
#define N_PARENT 10

static sky_t *open_async_file(const char *path)
{
    /* waits rather than drops (a loaded machine), and a flush at exit may take its time */
    sky_options o = {.mode = SKY_MODE_ASYNC, .ring_bytes = 64u << 20,
                     .block_max_wait_ms = 600000, .close_timeout_ms = 600000};
    sky_t *sky = NULL;
    if (sky_open(&o, &sky) != SKY_OK)
        return NULL;
    sky_sink *fs = NULL;
    if (sky_sink_file(&(sky_file_opts){.path = path}, &fs, NULL) != SKY_OK ||
        sky_add_sink(sky, fs, NULL) != SKY_OK)
        return NULL;
    return sky;
}

static void log_n(sky_t *sky, const char *event, int n)
{
    sky_logger *log = sky_logger_get(sky, "exit");
    for (int i = 0; i < n; i++)
        sky_info(log, event, SKY_INT("i", i));
}

/* The exec'd process: logs and ends as `mode` says, never closing the pipeline. */
static int child_main(const char *mode, const char *path)
{
    sky_t *sky = open_async_file(path);
    if (!sky)
        return 3;
    if (strcmp(mode, "exit") == 0) {
        log_n(sky, "child", N_EVENTS);
        exit(0);
    }
    if (strcmp(mode, "return") == 0) {
        log_n(sky, "child", N_EVENTS);
        return 0;
    }
    /* fork: the parent logs a little, the child logs N and exits */
    log_n(sky, "parent", N_PARENT);
    pid_t pid = fork();
    if (pid < 0)
        return 4;
    if (pid == 0) {
        log_n(sky, "child", N_EVENTS);
        exit(0);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return 5;
    return sky_close(sky) == SKY_OK ? 0 : 6;
}

/* Lines holding `needle` (line by line: strstr over the whole text from each match would be
 * quadratic under ASan, which measures the haystack on every call). */
static size_t count(char *text, size_t len, const char *needle)
{
    size_t n = 0;
    for (char *p = text; p < text + len;) {
        char *nl = memchr(p, '\n', (size_t)(text + len - p));
        if (!nl)
            break;
        *nl = 0;
        n += strstr(p, needle) != NULL;
        *nl = '\n';
        p = nl + 1;
    }
    return n;
}

static void run_case(const char *mode, size_t parent_events)
{
    char *dir = skytest_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/exit.log", dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setenv("SKYTEST_EXIT_MODE", mode, 1);
        setenv("SKYTEST_EXIT_PATH", path, 1);
        /* the pipelines are never closed, by design of the test */
        setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
        /* a worker thread is started in the forked child (its first log call) */
        const char *t = getenv("TSAN_OPTIONS");
        char topts[1024];
        snprintf(topts, sizeof topts, "%s%sdie_after_fork=0", t ? t : "", t && *t ? ":" : "");
        setenv("TSAN_OPTIONS", topts, 1);
        execl("/proc/self/exe", "test_exit_flush", (char *)NULL);
        _exit(127);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    size_t len;
    char *text = skytest_read_file(path, &len);
    assert_non_null(text);
    size_t child = count(text, len, "\"message\":\"child\"");
    if (child != N_EVENTS)
        fail_msg("%s: %zu of %d events written", mode, child, N_EVENTS);
    assert_int_equal(count(text, len, "\"message\":\"parent\""), parent_events);
    assert_int_equal(skytest_count_lines(text, len), N_EVENTS + parent_events);
    char last[64];
    snprintf(last, sizeof last, "\"i\":%d}", N_EVENTS - 1);
    assert_int_equal(count(text, len, last), 1 + (parent_events > N_EVENTS - 1 ? 1 : 0));
    free(text);
    skytest_rmtree(dir);
    free(dir);
}

static void test_exit_flushes_sky_open_pipeline(void **state)
{
    (void)state;
    run_case("exit", 0);
}

static void test_return_from_main_flushes(void **state)
{
    (void)state;
    run_case("return", 0);
}

static void test_forked_child_exit_flushes(void **state)
{
    (void)state;
    run_case("fork", N_PARENT);
}

int main(void)
{
    const char *mode = getenv("SKYTEST_EXIT_MODE");
    if (mode)
        return child_main(mode, getenv("SKYTEST_EXIT_PATH"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exit_flushes_sky_open_pipeline),
        cmocka_unit_test(test_return_from_main_flushes),
        cmocka_unit_test(test_forked_child_exit_flushes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
