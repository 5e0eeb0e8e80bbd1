/* test_curl_api.c - unit tests for src/aws/curl_api.c when libcurl cannot be loaded: every way
 * to an HTTP client that needs libcurl (transport curl, or auto with a proxy variable set)
 * fails with SKY_EUNSUPPORTED and a text that names the library, the dlopen() reason and the
 * package to install; nothing crashes; and the clients that do not need it (auto without a
 * proxy, native) are made and work without it. The load is once per process, so this file
 * forces the failure (sky__curl_api_set_candidates) before anything loads libcurl; the success
 * path is covered by test_aws_http.c and tests/integration/test_lazy_curl.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "skytest.h"

#include "aws/curl_api.h"

#include <skylog/aws.h>
#include <skylog/cloudwatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* a missing file first (its reason is reported), then a library that lacks curl's symbols */
static const char *const missing[] = {"/nonexistent/libcurl.so.4", "libz.so.1", NULL};

static void assert_reason(const char *why)
{
    assert_non_null(strstr(why, "/nonexistent/libcurl.so.4 could not be loaded ("));
    assert_non_null(strstr(why, "No such file or directory"));
    assert_non_null(strstr(why, "): install libcurl4"));
}

static void test_client_new_fails_cleanly(void **state)
{
    (void)state;
    sky_http_client *c = (sky_http_client *)1;
    const sky_http_opts curl = {.transport = SKY_HTTP_TRANSPORT_CURL};
    for (int i = 0; i < 2; i++) { /* the outcome is remembered, not retried */
        assert_int_equal(sky_http_client_new(&curl, &c), SKY_EUNSUPPORTED);
        assert_null(c);
    }
    /* auto needs libcurl only for a request a proxy applies to: that one fails, saying why */
    setenv("https_proxy", "http://127.0.0.1:9", 1);
    assert_int_equal(sky_http_client_new(NULL, &c), SKY_OK);
    sky_http_response r0;
    char why0[512] = "";
    assert_int_equal(sky_http_perform(c, &(sky_http_request){.method = "GET",
                                                             .url = "https://127.0.0.1:9/"},
                                      &r0, why0, sizeof why0),
                     SKY_EUNSUPPORTED);
    assert_reason(why0);
    sky_http_client_free(c);
    unsetenv("https_proxy");
    /* without one, and native, never load it: made, and a request goes out (here refused) */
    const sky_http_opts native = {.transport = SKY_HTTP_TRANSPORT_NATIVE};
    const sky_http_opts *no_curl[] = {NULL, &native};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(sky_http_client_new(no_curl[i], &c), SKY_OK);
        sky_http_response r;
        char why[256];
        assert_int_equal(sky_http_perform(c, &(sky_http_request){.method = "GET",
                                                                 .url = "http://127.0.0.1:9/"},
                                          &r, why, sizeof why),
                         SKY_ENET);
        assert_int_equal(r.failure, SKY_HTTP_NOT_CONNECTED);
        sky_http_client_free(c);
    }
    char why[512] = "";
    assert_int_equal(sky_http_init(why, sizeof why), SKY_EUNSUPPORTED);
    assert_reason(why);
    assert_int_equal(sky_http_init(NULL, 0), SKY_EUNSUPPORTED);
    char tiny[8];
    assert_int_equal(sky_http_init(tiny, sizeof tiny), SKY_EUNSUPPORTED);
    assert_int_equal(strlen(tiny), sizeof tiny - 1);
    assert_null(sky__curl_api_get(NULL, 0));
}

static void test_aws_client_says_why(void **state)
{
    (void)state;
    char why[512];
    setenv("SKYLOG_HTTP_TRANSPORT", "curl", 1);
    skytest_aws_client_unsupported(why, sizeof why);
    unsetenv("SKYLOG_HTTP_TRANSPORT");
    assert_reason(why);
    /* auto, with a proxy for the endpoint: libcurl is needed, and that is said at creation */
    setenv("HTTPS_PROXY", "http://127.0.0.1:9", 1);
    skytest_aws_client_unsupported(why, sizeof why);
    unsetenv("HTTPS_PROXY");
    assert_reason(why);
}

/* Assume-role credentials need STS, hence an HTTP client: the chain's error says why. */
static void test_assume_role_says_why(void **state)
{
    (void)state;
    char dir[] = "/tmp/skylog-curl-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char creds_path[64], config_path[64];
    snprintf(creds_path, sizeof creds_path, "%s/credentials", dir);
    snprintf(config_path, sizeof config_path, "%s/config", dir);
    FILE *f = fopen(creds_path, "w");
    assert_non_null(f);
    fputs("[base]\naws_access_key_id=AKIABASE\naws_secret_access_key=basesecret\n", f);
    fclose(f);
    f = fopen(config_path, "w");
    assert_non_null(f);
    fputs("[profile admin]\nrole_arn = arn:aws:iam::123456789012:role/Admin\n"
          "source_profile = base\n", f);
    fclose(f);
    sky_aws_creds *creds;
    assert_int_equal(sky_aws_creds_new(&(sky_aws_creds_opts){.profile = "admin",
                                                             .credentials_file = creds_path,
                                                             .config_file = config_path,
                                                             .sts_endpoint = "http://127.0.0.1:9",
                                                             .no_env = true, .no_container = true,
                                                             .no_imds = true,
                                                             .no_web_identity = true},
                                       &creds),
                     SKY_OK);
    sky_aws_credentials out;
    char why[1024] = "";
    setenv("SKYLOG_HTTP_TRANSPORT", "curl", 1);
    assert_int_not_equal(sky_aws_creds_get(creds, &out, why, sizeof why), SKY_OK);
    unsetenv("SKYLOG_HTTP_TRANSPORT");
    assert_reason(why);
    sky_aws_creds_free(creds);
    remove(creds_path);
    remove(config_path);
    rmdir(dir);
}

static void test_cloudwatch_sink_says_why(void **state)
{
    (void)state;
    sky_sink *s = NULL;
    char *err = NULL;
    assert_int_equal(sky_sink_cloudwatch_logs(&(sky_cwl_opts){.log_group = "g",
                                                               .region = "us-east-1",
                                                               .access_key_id = "AKIDEXAMPLE",
                                                               .secret_access_key = "secret",
                                                               .http_transport =
                                                                   SKY_HTTP_TRANSPORT_CURL},
                                              &s, &err),
                     SKY_EUNSUPPORTED);
    assert_null(s);
    assert_non_null(err);
    assert_non_null(strstr(err, "cloudwatch: "));
    assert_reason(err);
    free(err);
}

int main(void)
{
    sky__curl_api_set_candidates(missing);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_new_fails_cleanly),
        cmocka_unit_test(test_aws_client_says_why),
        cmocka_unit_test(test_cloudwatch_sink_says_why),
        cmocka_unit_test(test_assume_role_says_why),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
