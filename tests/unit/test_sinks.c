/* test_sinks.c - the file sink (rotation by size and time, backups, reopen, errors) and the
 * console sink (format choice, colour rules) (src/sinks). */
#include "skytest.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static sky_t *open_plain(void)
{
    sky_t *sky = NULL;
    assert_int_equal(sky_open(NULL, &sky), SKY_OK);
    return sky;
}

static size_t lines_in(const char *path)
{
    size_t len;
    char *b = skytest_read_file(path, &len);
    if (!b)
        return 0;
    size_t n = skytest_count_lines(b, len);
    free(b);
    return n;
}

static bool exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static void test_file_size_rotation(void **state)
{
    (void)state;
    char *dir = skytest_tmpdir();
    char path[4096], p1[4200], p3[4200], p4[4200];
    snprintf(path, sizeof path, "%s/app.log", dir);
    snprintf(p1, sizeof p1, "%s.1", path);
    snprintf(p3, sizeof p3, "%s.3", path);
    snprintf(p4, sizeof p4, "%s.4", path);
    sky_t *sky = open_plain();
    sky_sink *s;
    assert_int_equal(sky_sink_file(&(sky_file_opts){.path = path, .max_bytes = 2000,
                                                    .max_backups = 3},
                                   &s, NULL),
                     SKY_OK);
    sky_add_sink(sky, s, NULL);
    sky_logger *log = sky_logger_get(sky, "rot");
    for (int i = 0; i < 200; i++)
        sky_info(log, "line", SKY_INT("i", i));
    sky_flush(sky, 1000);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size <= 2000);
    assert_true(exists(p1));
    assert_true(exists(p3));
    assert_false(exists(p4)); /* only max_backups kept */
    /* the newest event is in path, and the files hold whole lines only */
    size_t len;
    char *cur = skytest_read_file(path, &len);
    assert_non_null(strstr(cur, "\"i\":199}"));
    assert_int_equal(cur[len - 1], '\n');
    free(cur);
    const char *name;
    sky_sink_stats ss;
    sky_sink_stats_get(sky, 0, &name, &ss);
    assert_true(ss.rotations >= 3);
    assert_int_equal(ss.written, 200);
    sky_close(sky);
    skytest_rmtree(dir);
    free(dir);
}

static void test_file_oversized_event_is_written(void **state)
{
    (void)state;
    char *dir = skytest_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/big.log", dir);
    sky_t *sky = open_plain();
    sky_sink *s;
    sky_sink_file(&(sky_file_opts){.path = path, .max_bytes = 100}, &s, NULL);
    sky_add_sink(sky, s, NULL);
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    sky_info(sky_logger_get(sky, "b"), "huge", SKY_STR("payload", big));
    sky_info(sky_logger_get(sky, "b"), "huge", SKY_STR("payload", big));
    sky_close(sky);
    char p1[4200];
    snprintf(p1, sizeof p1, "%s.1", path);
    assert_int_equal(lines_in(path) + lines_in(p1), 2); /* never dropped for size */
    skytest_rmtree(dir);
    free(dir);
}

static void test_file_reopen_after_external_rotation(void **state)
{
    (void)state;
    char *dir = skytest_tmpdir();
    char path[4096], moved[4200];
    snprintf(path, sizeof path, "%s/app.log", dir);
    snprintf(moved, sizeof moved, "%s/app.log.old", dir);
    sky_t *sky = open_plain();
    sky_sink *s;
    sky_sink_file(&(sky_file_opts){.path = path}, &s, NULL);
    sky_add_sink(sky, s, NULL);
    sky_logger *log = sky_logger_get(sky, "lr");
    sky_info(log, "before");
    assert_int_equal(rename(path, moved), 0); /* what logrotate does */
    sky_info(log, "still_old_fd");
    sky_reopen(sky);
    sky_info(log, "after");
    sky_close(sky);
    assert_int_equal(lines_in(moved), 2);
    assert_int_equal(lines_in(path), 1);
    skytest_rmtree(dir);
    free(dir);
}

static void test_file_time_rotation(void **state)
{
    (void)state;
    char *dir = skytest_tmpdir();
    char path[4096], p1[4200];
    snprintf(path, sizeof path, "%s/t.log", dir);
    snprintf(p1, sizeof p1, "%s.1", path);
    sky_t *sky = open_plain();
    sky_sink *s;
    sky_sink_file(&(sky_file_opts){.path = path, .rotate_interval_s = 1}, &s, NULL);
    sky_add_sink(sky, s, NULL);
    sky_logger *log = sky_logger_get(sky, "t");
    sky_info(log, "first");
    usleep(1100 * 1000);
    sky_info(log, "second");
    sky_close(sky);
    assert_int_equal(lines_in(p1), 1);
    assert_int_equal(lines_in(path), 1);
    skytest_rmtree(dir);
    free(dir);
}

static void test_file_errors(void **state)
{
    (void)state;
    sky_sink *s = (sky_sink *)0x1;
    char *err = NULL;
    assert_int_equal(sky_sink_file(&(sky_file_opts){.path = "/nonexistent-dir/x.log"}, &s, &err),
                     SKY_EIO);
    assert_null(s);
    assert_non_null(strstr(err, "/nonexistent-dir/x.log"));
    assert_non_null(strstr(err, "No such file or directory"));
    free(err);
    assert_int_equal(sky_sink_file(&(sky_file_opts){0}, &s, &err), SKY_EINVAL);
    free(err);
    assert_int_equal(sky_sink_file(&(sky_file_opts){.path = "/tmp/x", .max_backups = -1}, &s, NULL),
                     SKY_EINVAL);
}

static char *console_output(sky_console_opts o, const char *no_color)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    o.fd = fds[1];
    if (no_color)
        setenv("NO_COLOR", no_color, 1);
    else
        unsetenv("NO_COLOR");
    sky_t *sky = open_plain();
    sky_add_sink(sky, sky_sink_console(&o), NULL);
    sky_warn(sky_logger_get(sky, "c"), "hello", SKY_INT("n", 1));
    sky_close(sky);
    close(fds[1]);
    char *buf = calloc(1, 4096);
    ssize_t r = read(fds[0], buf, 4095);
    assert_true(r > 0);
    close(fds[0]);
    unsetenv("NO_COLOR");
    return buf;
}

static void test_console_formats(void **state)
{
    (void)state;
    char *out = console_output((sky_console_opts){0}, NULL); /* a pipe: JSON */
    assert_true(strncmp(out, "{\"timestamp\"", 12) == 0);
    free(out);
    out = console_output((sky_console_opts){.format = SKY_FORMAT_PRETTY}, NULL);
    assert_null(strchr(out, '\x1b')); /* not a TTY: no colour in auto mode */
    assert_non_null(strstr(out, "WARN     [c] hello"));
    free(out);
    out = console_output((sky_console_opts){.format = SKY_FORMAT_PRETTY, .color = 1}, NULL);
    assert_non_null(strstr(out, "\x1b[33mWARN")); /* forced colour */
    free(out);
    out = console_output((sky_console_opts){.format = SKY_FORMAT_PRETTY, .color = -1}, NULL);
    assert_null(strchr(out, '\x1b'));
    free(out);
    out = console_output((sky_console_opts){.format = SKY_FORMAT_LOGFMT}, "1");
    assert_non_null(strstr(out, "level=warn logger=c msg=hello n=1\n"));
    free(out);
}

/* Async batches render their JSON lines end to end into the worker's text area, and the file
 * sink writes such a run without copying it; lines too long for what is left of the area go
 * to their own buffers, and max_bytes still splits a run. Every line must arrive once, whole,
 * in order, in both a file (size-rotated or not) and a capture sink fed the same events. */
static void check_lines(const char *text, size_t len, int *next, int *big)
{
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        assert_non_null(nl);
        const char *i = strstr(p, "\"i\":");
        assert_true(i && i < nl);
        assert_int_equal(atoi(i + 4), *next);
        if (strstr(p, "\"pad\":\"xxxx") && strstr(p, "\"pad\":\"xxxx") < nl)
            (*big)++;
        (*next)++;
        p = nl + 1;
    }
}

static void test_async_batches_to_files(void **state)
{
    (void)state;
    enum { N = 5000 };
    char *pad = malloc(300001); /* more than the whole text area */
    assert_non_null(pad);
    memset(pad, 'x', 300000);
    pad[300000] = '\0';
    for (int rotate = 0; rotate < 2; rotate++) {
        char *dir = skytest_tmpdir();
        char path[4096];
        snprintf(path, sizeof path, "%s/app.log", dir);
        sky_t *sky = NULL;
        assert_int_equal(sky_open(&(sky_options){.mode = SKY_MODE_ASYNC}, &sky), SKY_OK);
        sky_sink *s;
        assert_int_equal(sky_sink_file(&(sky_file_opts){.path = path,
                                                        .max_bytes = rotate ? 1u << 20 : 0,
                                                        .max_backups = 50},
                                       &s, NULL),
                         SKY_OK);
        assert_int_equal(sky_add_sink(sky, s, NULL), SKY_OK);
        skytest_capture cap = {0};
        assert_int_equal(sky_add_sink(sky, skytest_capture_sink(&cap, SKY_FORMAT_JSON), NULL),
                         SKY_OK);
        sky_logger *log = sky_logger_get(sky, "batch");
        for (int i = 0; i < N; i++) {
            if (i % 500 == 7) /* bigger than what is left of a batch's area */
                sky_info(log, "big", SKY_INT("i", i), SKY_STR("pad", pad));
            else
                sky_info(log, "small", SKY_INT("i", i), SKY_STR("s", "v"));
        }
        assert_int_equal(sky_flush(sky, 10000), SKY_OK);
        /* the capture sink saw the same lines */
        assert_int_equal(cap.n, N);
        int next = 0, big = 0;
        for (size_t k = 0; k < cap.n; k++)
            check_lines(cap.lines[k], strlen(cap.lines[k]), &next, &big);
        assert_int_equal(next, N);
        assert_int_equal(big, N / 500);
        /* the files, oldest backup first, hold every line once and in order */
        next = 0, big = 0;
        for (int b = 50; b >= 0; b--) {
            char f[4200];
            if (b)
                snprintf(f, sizeof f, "%s.%d", path, b);
            else
                snprintf(f, sizeof f, "%s", path);
            size_t len;
            char *text = skytest_read_file(f, &len);
            if (!text)
                continue;
            assert_true(!rotate || len <= (1u << 20));
            check_lines(text, len, &next, &big);
            free(text);
        }
        assert_int_equal(next, N);
        assert_int_equal(big, N / 500);
        assert_int_equal(sky_close(sky), SKY_OK);
        skytest_capture_reset(&cap);
        skytest_rmtree(dir);
        free(dir);
    }
    free(pad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_size_rotation),
        cmocka_unit_test(test_file_oversized_event_is_written),
        cmocka_unit_test(test_file_reopen_after_external_rotation),
        cmocka_unit_test(test_file_time_rotation),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_console_formats),
        cmocka_unit_test(test_async_batches_to_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
