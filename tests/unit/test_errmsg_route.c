/*
 * test_errmsg_route.c - an entry point that fails with no errmsg/errbuf from its caller still
 * says why (include/skylog.h, "Error messages"): on the pipeline's diag where there is one,
 * else on stderr; and with a caller's buffer, only there. stderr is redirected to a file for
 * the length of each call.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <skylog.h>
#include <skylog/aws.h>
#include <skylog/config.h>
#include <skylog/metrics.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char seen[4096];
static int saved_fd = -1;
static FILE *sink_file;

static void stderr_begin(void)
{
    fflush(stderr);
    sink_file = tmpfile();
    assert_non_null(sink_file);
    saved_fd = dup(STDERR_FILENO);
    assert_true(saved_fd >= 0);
    assert_true(dup2(fileno(sink_file), STDERR_FILENO) >= 0);
}

/* Restores stderr and returns what was written to it meanwhile. */
static const char *stderr_end(void)
{
    fflush(stderr);
    assert_true(dup2(saved_fd, STDERR_FILENO) >= 0);
    close(saved_fd);
    rewind(sink_file);
    size_t n = fread(seen, 1, sizeof seen - 1, sink_file);
    seen[n] = '\0';
    fclose(sink_file);
    return seen;
}

static void assert_has(const char *text, const char *want)
{
    if (!strstr(text, want))
        fail_msg("'%s' lacks '%s'", text, want);
}

static void test_no_errmsg_goes_to_stderr(void **state)
{
    (void)state;
    sky_sink *s = (sky_sink *)1;
    stderr_begin();
    assert_int_equal(sky_sink_file(&(sky_file_opts){.path = "/nonexistent-dir/x/a.log"}, &s, NULL),
                     SKY_EIO);
    assert_int_equal(sky_open_yaml("sinks: [", 8, &(sky_t *){NULL}, NULL), SKY_EINVAL);
    const char *out = stderr_end();
    assert_null(s);
    assert_has(out, "/nonexistent-dir/x/a.log");
    assert_true(strlen(out) > strlen("/nonexistent-dir/x/a.log") + 40); /* and the YAML's */

    /* with the caller's errmsg: there, and not also printed */
    char *err = NULL;
    stderr_begin();
    assert_int_equal(sky_sink_file(&(sky_file_opts){.path = "/nonexistent-dir/x/a.log"}, &s, &err),
                     SKY_EIO);
    out = stderr_end();
    assert_non_null(err);
    assert_has(err, "/nonexistent-dir/x/a.log");
    assert_string_equal(out, "");
    free(err);
}

static void test_no_errbuf_goes_to_stderr(void **state)
{
    (void)state;
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    unsetenv("AWS_ENDPOINT_URL");
    unsetenv("AWS_PROFILE");
    setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config", 1);
    sky_aws_client *c = NULL;
    sky_aws_client_opts o = {.service = "logs"};
    stderr_begin();
    assert_int_equal(sky_aws_client_new(&o, &c, NULL, 0), SKY_EINVAL);
    const char *out = stderr_end();
    assert_null(c);
    assert_has(out, "no AWS region");

    char buf[128];
    stderr_begin();
    assert_int_equal(sky_aws_client_new(&o, &c, buf, sizeof buf), SKY_EINVAL);
    out = stderr_end();
    assert_has(buf, "no AWS region");
    assert_string_equal(out, "");
}

static char diag_seen[512];
static void capture(void *user, sky_level level, const char *msg)
{
    (void)user;
    if (level == SKY_LEVEL_ERROR)
        snprintf(diag_seen, sizeof diag_seen, "%s", msg);
}

static void test_with_a_pipeline_goes_to_its_diag(void **state)
{
    (void)state;
    sky_t *sky = NULL;
    assert_int_equal(sky_open(&(sky_options){.mode = SKY_MODE_SYNC, .diag = capture}, &sky),
                     SKY_OK);
    stderr_begin();
    assert_int_equal(sky_add_log_metrics(sky, &(sky_log_metrics_opts){.ns = NULL}, NULL, NULL),
                     SKY_EINVAL);
    const char *out = stderr_end();
    assert_string_equal(out, "");
    assert_true(strlen(diag_seen) > 10);
    sky_close(sky);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_errmsg_goes_to_stderr),
        cmocka_unit_test(test_no_errbuf_goes_to_stderr),
        cmocka_unit_test(test_with_a_pipeline_goes_to_its_diag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
