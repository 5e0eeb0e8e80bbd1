/* test_config_env.c - sky_open_env(): every variable, and a clear error for every bad value
 * (src/config/env.c). */
#include "skytest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void clear_env(void)
{
    const char *vars[] = {"SKYLOG_LEVEL", "SKYLOG_MODE", "SKYLOG_CONSOLE", "SKYLOG_FORMAT",
                          "SKYLOG_FILE", "SKYLOG_FILE_MAX_BYTES", "SKYLOG_FILE_BACKUPS",
                          "SKYLOG_SERVICE", "SKYLOG_ENVIRONMENT", "SKYLOG_VERSION", "SKYLOG_REDACT",
                          "SKYLOG_CLOUDWATCH_GROUP", "SKYLOG_CLOUDWATCH_STREAM",
                          "SKYLOG_CLOUDWATCH_RETENTION_DAYS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
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
    expect_error("SKYLOG_LEVEL", "loud", "SKYLOG_LEVEL: unknown level 'loud'");
    expect_error("SKYLOG_MODE", "fast", "SKYLOG_MODE");
    expect_error("SKYLOG_FORMAT", "xml", "SKYLOG_FORMAT");
    expect_error("SKYLOG_CONSOLE", "printer", "SKYLOG_CONSOLE");
    expect_error("SKYLOG_REDACT", "maybe", "SKYLOG_REDACT");
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
    const char *bad_counts[] = {"-5", " -5", "+5", "99999999999999999999999", "5 ", "0x10"};
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
    assert_string_equal(name, "cloudwatch");
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_values_are_named),
        cmocka_unit_test(test_file_level_enrich_redact),
        cmocka_unit_test(test_cloudwatch_from_env),
        cmocka_unit_test(test_default_pipeline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
