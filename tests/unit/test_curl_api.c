/* test_curl_api.c - unit tests for src/aws/curl_api.c when libcurl cannot be loaded: every way
 * to an HTTP client fails with SKY_EUNSUPPORTED and a text that names the library, the dlopen()
 * reason and the package to install; nothing crashes. The load is once per process, so this
 * file forces the failure (sky__curl_api_set_candidates) before anything loads libcurl; the
 * success path is covered by test_aws_http.c and tests/integration/test_lazy_curl.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "aws/curl_api.h"

#include <skylog/aws.h>
#include <skylog/cloudwatch.h>
#include <stdlib.h>
#include <string.h>

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
    for (int i = 0; i < 2; i++) { /* the outcome is remembered, not retried */
        assert_int_equal(sky_http_client_new(NULL, &c), SKY_EUNSUPPORTED);
        assert_null(c);
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
    sky_aws_creds *creds;
    assert_int_equal(sky_aws_creds_new(&(sky_aws_creds_opts){.access_key_id = "AKIDEXAMPLE",
                                                             .secret_access_key = "secret"},
                                       &creds),
                     SKY_OK);
    sky_aws_client *c = NULL;
    char why[512] = "";
    assert_int_equal(sky_aws_client_new(&(sky_aws_client_opts){.service = "logs",
                                                               .region = "us-east-1",
                                                               .creds = creds},
                                        &c, why, sizeof why),
                     SKY_EUNSUPPORTED);
    assert_null(c);
    assert_reason(why);
    sky_aws_creds_free(creds);
}

static void test_cloudwatch_sink_says_why(void **state)
{
    (void)state;
    sky_sink *s = NULL;
    char *err = NULL;
    assert_int_equal(sky_sink_cloudwatch_logs(&(sky_cwl_opts){.log_group = "g",
                                                               .region = "us-east-1",
                                                               .access_key_id = "AKIDEXAMPLE",
                                                               .secret_access_key = "secret"},
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
