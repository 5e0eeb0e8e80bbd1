/* test_config_env.c - sky_open_env(): every variable, and a clear error for every bad value
 * (src/config/env.c). */
#include "skytest.h"

#include <skylog/cloudwatch.h>
#include <skylog/config.h>

#include <fcntl.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

/* Unsets every SKYLOG_ variable but the test harness's own (SKYLOG_SOURCE_DIR, which also
 * shows a foreign SKYLOG_ name is tolerated). */
static void clear_env(void)
{
    for (;;) {
        char name[256] = "";
        for (char **e = environ; *e && !*name; e++)
            if (strncmp(*e, "SKYLOG_", 7) == 0 && strncmp(*e, "SKYLOG_SOURCE_DIR=", 18) != 0 &&
                strncmp(*e, "SKYLOG_BUILD_DIR=", 17) != 0)
                snprintf(name, sizeof name, "%.*s", (int)(strchr(*e, '=') - *e), *e);
        if (!*name)
            return;
        unsetenv(name);
    }
}

static void expect_error(const char *var, const char *value, const char *needle)
{
    clear_env();
    setenv(var, value, 1);
    char *err = NULL;
    sky_t *sky = sky_open_env(&err);
    assert_null(sky);
    assert_non_null(err);
    if (!strstr(err, needle))
        fail_msg("error for %s=%s was '%s'", var, value, err);
    free(err);
}

static void test_bad_values_are_named(void **state)
{
    (void)state;
    expect_error("SKYLOG_LEVEL", "loud", "SKYLOG_LEVEL: unknown value 'loud'; expected one of: "
                                         "trace, debug, info, warn, error, critical, off");
    expect_error("SKYLOG_MODE", "fast", "SKYLOG_MODE");
    expect_error("SKYLOG_FORMAT", "xml", "SKYLOG_FORMAT");
    expect_error("SKYLOG_CONSOLE", "printer", "SKYLOG_CONSOLE");
    expect_error("SKYLOG_REDACT", "maybe", "SKYLOG_REDACT");
    expect_error("SKYLOG_CLOUDWATCH_LOGS__HTTP_TRANSPORT", "fast",
                 "SKYLOG_CLOUDWATCH_LOGS__HTTP_TRANSPORT: unknown value 'fast'; expected one of: "
                 "auto, native, curl");
    expect_error("SKYLOG_FILE", "/nonexistent-dir/app.log", "SKYLOG_FILE: file sink: cannot open");
    setenv("AWS_REGION", "us-east-1", 1);
    expect_error("SKYLOG_CLOUDWATCH_GROUP", "bad group!", "SKYLOG_CLOUDWATCH_GROUP: cloudwatch: log_group 'bad group!' is invalid");
    clear_env();
    setenv("SKYLOG_CLOUDWATCH_GROUP", "/ok", 1);
    setenv("SKYLOG_CLOUDWATCH_RETENTION_DAYS", "8", 1);
    char *e2 = NULL;
    assert_null(sky_open_env(&e2));
    assert_non_null(strstr(e2, "retention_days"));
    free(e2);
    unsetenv("AWS_REGION");
    clear_env();
    setenv("SKYLOG_FILE", "/tmp/skylog-test-env.log", 1);
    /* strtoull alone takes " -5" as 2^64 - 5, and a count past 2^64 as ULLONG_MAX */
    const char *bad_counts[] = {"-5", " -5", "+5", "99999999999999999999999", "0x10", "1e3"};
    for (size_t i = 0; i < sizeof bad_counts / sizeof bad_counts[0]; i++) {
        setenv("SKYLOG_FILE_MAX_BYTES", bad_counts[i], 1);
        char *err = NULL;
        sky_t *sky = sky_open_env(&err);
        if (sky)
            fail_msg("SKYLOG_FILE_MAX_BYTES='%s' accepted", bad_counts[i]);
        assert_non_null(strstr(err, "SKYLOG_FILE_MAX_BYTES"));
        free(err);
    }
    unsetenv("SKYLOG_FILE_MAX_BYTES");
    setenv("SKYLOG_FILE_BACKUPS", " -1", 1);
    char *err = NULL;
    assert_null(sky_open_env(&err));
    assert_non_null(strstr(err, "SKYLOG_FILE_BACKUPS"));
    free(err);
    clear_env();
}

static void test_file_level_enrich_redact(void **state)
{
    (void)state;
    clear_env();
    char *dir = skytest_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/env.jsonl", dir);
    setenv("SKYLOG_FILE", path, 1);
    setenv("SKYLOG_CONSOLE", "off", 1);
    setenv("SKYLOG_LEVEL", "warn", 1);
    setenv("SKYLOG_SERVICE", "billing", 1);
    setenv("SKYLOG_ENVIRONMENT", "staging", 1);
    char *err = NULL;
    sky_t *sky = sky_open_env(&err);
    assert_non_null(sky);
    assert_null(err);
    sky_logger *log = sky_logger_get(sky, "env");
    sky_info(log, "below_level");
    sky_warn(log, "kept", SKY_STR("password", "p4ss"));
    sky_stats st;
    sky_stats_get(sky, &st);
    assert_int_equal(st.sink_count, 1);
    assert_int_equal(sky_close(sky), SKY_OK);
    size_t len;
    char *out = skytest_read_file(path, &len);
    assert_non_null(out);
    assert_int_equal(skytest_count_lines(out, len), 1);
    assert_non_null(strstr(out, "\"message\":\"kept\""));
    assert_non_null(strstr(out, "\"password\":\"***REDACTED***\""));
    assert_non_null(strstr(out, "\"service\":\"billing\""));
    assert_non_null(strstr(out, "\"environment\":\"staging\""));
    free(out);
    clear_env();
    skytest_rmtree(dir);
    free(dir);
}

static void test_cloudwatch_from_env(void **state)
{
    (void)state;
    clear_env();
    setenv("SKYLOG_CONSOLE", "off", 1);
    setenv("SKYLOG_CLOUDWATCH_GROUP", "/env/app", 1);
    setenv("AWS_REGION", "us-east-1", 1);
    setenv("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "http://127.0.0.1:9", 1); /* nothing listens */
    setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
    char *err = NULL;
    sky_t *sky = sky_open_env(&err);
    assert_non_null(sky);
    sky_stats st;
    sky_stats_get(sky, &st);
    assert_int_equal(st.sink_count, 1);
    const char *name;
    sky_sink_stats ss;
    assert_int_equal(sky_sink_stats_get(sky, 0, &name, &ss), SKY_OK);
    assert_string_equal(name, "cloudwatch_logs"); /* as in a file: the section's name */
    sky_close(sky); /* the endpoint is down: close is bounded */
    unsetenv("AWS_REGION");
    unsetenv("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS");
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    clear_env();
}

static void test_default_pipeline(void **state)
{
    (void)state;
    clear_env();
    setenv("SKYLOG_CONSOLE", "off", 1);
    sky_t *d = sky_default();
    assert_non_null(d);
    assert_ptr_equal(d, sky_default());
    sky_logger *log = sky_logger_get(NULL, "via.default");
    sky_info(log, "x");
    sky_stats st;
    sky_stats_get(d, &st);
    assert_int_equal(st.emitted, 1);
    assert_int_equal(st.dropped[SKY_DROP_NO_SINK], 1);
    clear_env();
}

/* SKYLOG_CONSOLE=off with no other sink, or a YAML file without sinks, turns output off on
 * purpose: events are discarded without the warning a pipeline built in code with no sink
 * gets (test_pipeline.c, test_no_sink_at_all_is_said_once). Nothing reaches stderr. */
static void test_configured_without_sinks_is_quiet(void **state)
{
    (void)state;
    char buf[512];
    sky_t *a = NULL, *b = NULL;
    char *err = NULL;
    sky_status sa = SKY_EINVAL, sb = SKY_EINVAL;
    static const char yaml[] = "level: info\n";
    clear_env();
    setenv("SKYLOG_CONSOLE", "off", 1);
    SKYTEST_CAPTURE_STDERR(buf, {
        sa = sky_open_env_ex(0, &a, &err);
        sb = sky_open_yaml(yaml, sizeof yaml - 1, &b, &err);
        for (int i = 0; i < 3; i++) {
            sky_info(sky_logger_get(a, "x"), "off");
            sky_info(sky_logger_get(b, "x"), "off");
        }
        sky_close(a);
        sky_close(b);
    });
    clear_env();
    assert_int_equal(sa, SKY_OK);
    assert_int_equal(sb, SKY_OK);
    assert_string_equal(buf, "");
}

/* Mistyped names are an error with a did-you-mean, not silently ignored; names nothing like
 * ours are somebody else's. */
static void test_unknown_variables(void **state)
{
    (void)state;
    expect_error("SKYLOG_LEVLE", "debug", "SKYLOG_LEVLE: unknown variable (did you mean "
                                          "SKYLOG_LEVEL?)");
    expect_error("SKYLOG_FILE__MAX_BYTE", "1M", "SKYLOG_FILE__MAX_BYTE: unknown variable: file "
                                                "has no option 'MAX_BYTE' (did you mean "
                                                "SKYLOG_FILE__MAX_BYTES?)");
    expect_error("SKYLOG_FIEL__PATH", "x.log", "no sink or processor 'FIEL' (did you mean "
                                               "SKYLOG_FILE__PATH?)");
    expect_error("SKYLOG_FILE_MODE", "0600", "SKYLOG_FILE_MODE: unknown variable (did you mean "
                                             "SKYLOG_FILE__MODE?)");
    expect_error("SKYLOG_CLOUDWATCH_REGION", "us-east-1",
                 "(did you mean SKYLOG_CLOUDWATCH_LOGS__REGION?)");
    expect_error("SKYLOG_KAFKA__BROKERS", "x", "no sink or processor 'KAFKA'");
    expect_error("SKYLOG_SERVCE", "shop", "did you mean SKYLOG_SERVICE?");
    /* the error comes before anything is built: no file created */
    char *dir = skytest_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/never.log", dir);
    clear_env();
    setenv("SKYLOG_FILE", path, 1);
    setenv("SKYLOG_LEVLE", "debug", 1);
    char *err = NULL;
    assert_null(sky_open_env(&err));
    free(err);
    assert_int_equal(access(path, F_OK), -1);
    /* not ours: left alone */
    clear_env();
    setenv("SKYLOG_CONSOLE", "off", 1);
    setenv("SKYLOG_BUILD_DIR", "/tmp", 1);
    setenv("SKYLOG_STRESS_EVENTS", "10", 1);
    setenv("SKYLOG_LIBCURL", "libcurl.so.4", 1);
    sky_t *sky = sky_open_env(&err);
    if (!sky)
        fail_msg("%s", err);
    sky_close(sky);
    unsetenv("SKYLOG_BUILD_DIR");
    unsetenv("SKYLOG_STRESS_EVENTS");
    clear_env();
    skytest_rmtree(dir);
    free(dir);
}

/* Every option of every sink and processor has a SKYLOG_<SECTION>__<OPTION> variable, parsed
 * as in a file: booleans, sizes, durations, lists, route keys. */
static void test_generated_names(void **state)
{
    (void)state;
    clear_env();
    char *dir = skytest_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/gen.log", dir);
    setenv("SKYLOG_CONSOLE", "off", 1);
    setenv("SKYLOG_FILE__PATH", path, 1);
    setenv("SKYLOG_FILE__FORMAT", "logfmt", 1);
    setenv("SKYLOG_FILE__MAX_BYTES", "64k", 1);
    setenv("SKYLOG_FILE__ROTATE_INTERVAL_S", "1h", 1);
    setenv("SKYLOG_FILE__FSYNC_ON_FLUSH", "yes", 1);
    setenv("SKYLOG_FILE__LEVEL", "info", 1);
    setenv("SKYLOG_FILE__NAME", "audit", 1);
    setenv("SKYLOG_ENRICH__SERVICE", "shop", 1);
    setenv("SKYLOG_ENRICH__PID", "on", 1);
    setenv("SKYLOG_EVENT_FILTER__EXCLUDE", "noisy_*, chatty", 1);
    setenv("SKYLOG_REDACT__FIELDS", "pin", 1);
    setenv("SKYLOG_LEVEL", "debug", 1);
    setenv("SKYLOG_MODE", "async", 1);
    setenv("SKYLOG_CLOSE_TIMEOUT_MS", "30s", 1);
    char *err = NULL;
    sky_t *sky = sky_open_env(&err);
    if (!sky)
        fail_msg("%s", err);
    sky_stats st;
    sky_stats_get(sky, &st);
    assert_int_equal(st.sink_count, 1);
    assert_int_equal(st.processor_count, 3); /* enrich, redact, event_filter, in that order */
    assert_true(st.worker_alive);
    const char *name;
    sky_sink_stats ss;
    assert_int_equal(sky_sink_stats_get(sky, 0, &name, &ss), SKY_OK);
    assert_string_equal(name, "audit");
    sky_logger *log = sky_logger_get(sky, "g");
    sky_debug(log, "below_the_route");
    sky_info(log, "noisy_one");
    sky_info(log, "chatty");
    sky_info(log, "kept", SKY_STR("pin", "1234"), SKY_STR("password", "still_redacted?"));
    assert_int_equal(sky_close(sky), SKY_OK);
    size_t len;
    char *out = skytest_read_file(path, &len);
    assert_non_null(out);
    assert_int_equal(skytest_count_lines(out, len), 1);
    assert_non_null(strstr(out, "msg=kept"));
    assert_non_null(strstr(out, "service=shop"));
    assert_non_null(strstr(out, "pid="));
    assert_null(strstr(out, "1234"));                   /* redacted: the listed field */
    assert_non_null(strstr(out, "still_redacted?")); /* the list replaced the default */
    free(out);

    /* the CloudWatch sink's options reach its constructor */
    clear_env();
    setenv("SKYLOG_CONSOLE", "off", 1);
    setenv("AWS_REGION", "us-east-1", 1);
    setenv("SKYLOG_CLOUDWATCH_LOGS__LOG_GROUP", "/gen/app", 1);
    setenv("SKYLOG_CLOUDWATCH_LOGS__BATCH_SIZE", "20000", 1);
    assert_null(sky_open_env(&err));
    if (!strstr(err, "SKYLOG_CLOUDWATCH_LOGS__BATCH_SIZE: out of range: '20000'"))
        fail_msg("%s", err);
    free(err);
    setenv("SKYLOG_CLOUDWATCH_LOGS__BATCH_SIZE", "100", 1);
    setenv("SKYLOG_CLOUDWATCH_LOGS__MAX_BATCH_BYTES", "100", 1); /* the constructor refuses */
    assert_null(sky_open_env(&err));
    if (!strstr(err, "SKYLOG_CLOUDWATCH_LOGS__LOG_GROUP: cloudwatch: max_batch_bytes"))
        fail_msg("%s", err);
    free(err);
    unsetenv("AWS_REGION");
    clear_env();
    skytest_rmtree(dir);
    free(dir);
}

/* SKYLOG_REDACT takes the same booleans as everything else. */
static void test_redact_switch(void **state)
{
    (void)state;
    const char *on[] = {"1", "true", "yes", "on", "TRUE"}, *off[] = {"0", "false", "no", "off"};
    for (int pass = 0; pass < 2; pass++) {
        const char **vals = pass ? off : on;
        size_t n = pass ? 4 : 5;
        for (size_t i = 0; i < n; i++) {
            clear_env();
            setenv("SKYLOG_CONSOLE", "off", 1);
            setenv("SKYLOG_REDACT", vals[i], 1);
            char *err = NULL;
            sky_t *sky = sky_open_env(&err);
            if (!sky)
                fail_msg("SKYLOG_REDACT=%s: %s", vals[i], err);
            sky_stats st;
            sky_stats_get(sky, &st);
            if (st.processor_count != (pass ? 0u : 1u))
                fail_msg("SKYLOG_REDACT=%s: %zu processors", vals[i], st.processor_count);
            sky_close(sky);
        }
    }
    expect_error("SKYLOG_REDACT", "maybe", "SKYLOG_REDACT: invalid value 'maybe'; expected "
                                           "true/false, yes/no, on/off or 1/0");
}

/* Contradictions are errors, not guesses. */
static void test_conflicts(void **state)
{
    (void)state;
    char *err = NULL;
    clear_env();
    setenv("SKYLOG_FILE", "/tmp/a.log", 1);
    setenv("SKYLOG_FILE__PATH", "/tmp/b.log", 1);
    assert_null(sky_open_env(&err));
    assert_non_null(strstr(err, "SKYLOG_FILE__PATH and SKYLOG_FILE are both set"));
    free(err);
    clear_env();
    setenv("SKYLOG_FILE__MAX_BYTES", "1M", 1);
    assert_null(sky_open_env(&err));
    if (!strstr(err, "SKYLOG_FILE__MAX_BYTES is set, but the file sink also needs "
                     "SKYLOG_FILE__PATH (or SKYLOG_FILE)"))
        fail_msg("%s", err);
    free(err);
    clear_env();
    setenv("SKYLOG_CONSOLE", "off", 1);
    setenv("SKYLOG_CONSOLE__FORMAT", "json", 1);
    assert_null(sky_open_env(&err));
    if (!strstr(err, "SKYLOG_CONSOLE=off leaves out the console sink, but "
                     "SKYLOG_CONSOLE__FORMAT is set"))
        fail_msg("%s", err);
    free(err);
    clear_env();
    setenv("SKYLOG_REDACT", "0", 1);
    setenv("SKYLOG_REDACT__REPLACEMENT", "x", 1);
    assert_null(sky_open_env(&err));
    assert_non_null(strstr(err, "SKYLOG_REDACT=0 leaves out the redact processor"));
    free(err);
    clear_env();
}

/* The caller gets the error and decides; with SKY_ENV_FALLBACK it also gets a console-only
 * pipeline. */
static void test_ex_status_and_fallback(void **state)
{
    (void)state;
    clear_env();
    setenv("SKYLOG_CONFIG", "/nonexistent/skylog.yaml", 1);
    sky_t *sky = (sky_t *)1;
    char *err = NULL;
    assert_int_equal(sky_open_env_ex(0, &sky, &err), SKY_ENOTFOUND);
    assert_null(sky);
    assert_non_null(strstr(err, "SKYLOG_CONFIG: /nonexistent/skylog.yaml: cannot open"));
    free(err);
    clear_env();
    setenv("SKYLOG_LEVEL", "loud", 1);
    assert_int_equal(sky_open_env_ex(SKY_ENV_FALLBACK, &sky, &err), SKY_EINVAL);
    assert_non_null(sky);
    assert_non_null(strstr(err, "SKYLOG_LEVEL"));
    free(err);
    sky_stats st;
    sky_stats_get(sky, &st);
    assert_int_equal(st.sink_count, 1); /* the console */
    sky_close(sky);
    clear_env();
    setenv("SKYLOG_CONSOLE", "off", 1);
    assert_int_equal(sky_open_env_ex(SKY_ENV_FALLBACK, &sky, &err), SKY_OK);
    assert_null(err);
    sky_close(sky);
    clear_env();
}

/* In a child with stderr on a pipe: a program that calls sky_open_env(NULL) and then logs
 * through the default pipeline sees the error once, not twice. */
static void test_error_printed_once(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* a fresh process: this one's default pipeline exists already */
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        clear_env();
        setenv("SKYTEST_ENV_CHILD", "1", 1);
        setenv("SKYLOG_CONFIG", "/nonexistent/skylog.yaml", 1);
        setenv("ASAN_OPTIONS", "detect_leaks=0", 1); /* the default pipeline is never freed */
        execl("/proc/self/exe", "test_config_env", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char buf[8192];
    size_t len = 0;
    ssize_t r;
    while ((r = read(fds[0], buf + len, sizeof buf - 1 - len)) > 0)
        len += (size_t)r;
    buf[len] = 0;
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    size_t n = 0;
    for (const char *p = buf; (p = strstr(p, "cannot open the configuration file")); p++)
        n++;
    if (n != 1)
        fail_msg("printed %zu times:\n%s", n, buf);
    assert_non_null(strstr(buf, "\"message\":\"started\"") ? buf : strstr(buf, "started"));
}

/* A password in a URL never reaches a message. */
static void test_secrets_not_in_errors(void **state)
{
    (void)state;
    clear_env();
    setenv("SKYLOG_CONSOLE", "off", 1);
    setenv("AWS_REGION", "us-east-1", 1);
    setenv("SKYLOG_CLOUDWATCH_LOGS__LOG_GROUP", "/s", 1);
    setenv("SKYLOG_CLOUDWATCH_LOGS__ENDPOINT", "ftp://user:hunter2@example.com/x", 1);
    setenv("SKYLOG_CLOUDWATCH_LOGS__BATCH_SIZE", "20001", 1);
    char *err = NULL;
    assert_null(sky_open_env(&err));
    assert_null(strstr(err, "hunter2"));
    free(err);
    setenv("SKYLOG_LEVEL", "x https://u:hunter2@h/", 1); /* quoted back in the message */
    assert_null(sky_open_env(&err));
    assert_non_null(strstr(err, "https://u:***@h/"));
    assert_null(strstr(err, "hunter2"));
    free(err);
    unsetenv("AWS_REGION");
    clear_env();
}

/* The child of test_error_printed_once. */
static int printed_once_child(void)
{
    sky_t *sky = sky_open_env(NULL);
    sky_info(sky_logger_get(sky, "app"), "started"); /* NULL: the default pipeline */
    int ok = !sky && sky_default() && sky_default_error() &&
             strstr(sky_default_error(), "cannot open");
    return ok ? 0 : 1;
}

/* SKY_ENV_ASYNC: async when SKYLOG_MODE is unset, SKYLOG_MODE still wins, the environment is
 * not touched (the Python package used to set SKYLOG_MODE around the call). */
static void test_env_async_default(void **state)
{
    (void)state;
    clear_env();
    setenv("SKYLOG_CONSOLE", "off", 1);
    sky_t *sky = NULL;
    sky_stats st;
    assert_int_equal(sky_open_env_ex(SKY_ENV_ASYNC, &sky, NULL), SKY_OK);
    assert_null(getenv("SKYLOG_MODE"));
    sky_stats_get(sky, &st);
    assert_true(st.worker_alive); /* async: it has a worker */
    sky_close(sky);
    assert_int_equal(sky_open_env_ex(0, &sky, NULL), SKY_OK);
    sky_stats_get(sky, &st);
    assert_false(st.worker_alive); /* the C default stays sync */
    sky_close(sky);
    setenv("SKYLOG_MODE", "sync", 1);
    assert_int_equal(sky_open_env_ex(SKY_ENV_ASYNC, &sky, NULL), SKY_OK);
    sky_stats_get(sky, &st);
    assert_false(st.worker_alive);
    sky_close(sky);
    /* over a SKYLOG_CONFIG file's mode too, as the variable would be */
    char path[] = "/tmp/skylog-test-env-async-XXXXXX";
    int fd = mkstemp(path);
    const char *yaml = "mode: sync\nsinks:\n  - console: { level: off }\n";
    assert_true(write(fd, yaml, strlen(yaml)) == (ssize_t)strlen(yaml));
    close(fd);
    clear_env();
    setenv("SKYLOG_CONFIG", path, 1);
    assert_int_equal(sky_open_env_ex(SKY_ENV_ASYNC, &sky, NULL), SKY_OK);
    sky_stats_get(sky, &st);
    assert_true(st.worker_alive);
    sky_close(sky);
    unlink(path);
    clear_env();
}

int main(void)
{
    if (getenv("SKYTEST_ENV_CHILD"))
        return printed_once_child();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_values_are_named),
        cmocka_unit_test(test_file_level_enrich_redact),
        cmocka_unit_test(test_cloudwatch_from_env),
        cmocka_unit_test(test_default_pipeline),
        cmocka_unit_test(test_configured_without_sinks_is_quiet),
        cmocka_unit_test(test_unknown_variables),
        cmocka_unit_test(test_generated_names),
        cmocka_unit_test(test_redact_switch),
        cmocka_unit_test(test_conflicts),
        cmocka_unit_test(test_ex_status_and_fallback),
        cmocka_unit_test(test_error_printed_once),
        cmocka_unit_test(test_secrets_not_in_errors),
        cmocka_unit_test(test_env_async_default),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
