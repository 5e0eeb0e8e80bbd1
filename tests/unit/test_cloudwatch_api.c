/* test_cloudwatch_api.c - unit tests for src/aws/cloudwatch_api.c: what sky_cloudwatch_call()
 * refuses before anything is sent (the client points at a closed port: any attempt to send
 * would fail with SKY_ENET instead of the status asserted). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <skylog/aws.h>

static sky_aws_client *client(void)
{
    sky_aws_client *c = NULL;
    char why[256];
    sky_status st = sky_aws_client_new(&(sky_aws_client_opts){.service = "monitoring",
                                                               .region = "us-east-1",
                                                               .endpoint = "http://127.0.0.1:1"},
                                       &c, why, sizeof why);
    assert_int_equal(st, SKY_OK);
    return c;
}

static void test_operation_names_are_checked(void **state)
{
    (void)state;
    sky_aws_client *c = client();
    sky_aws_error e;
    char *out = (char *)"untouched";
    static const char *const bad[] = {"", "Put Metric", "Describe/Alarms", "Op1",
                                      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(sky_cloudwatch_call(c, bad[i], "{}", 2, &out, NULL, &e), SKY_EINVAL);
        assert_null(out);
        assert_int_equal(e.status, SKY_EINVAL);
        assert_true(e.persistent);
        out = (char *)"untouched";
    }
    assert_int_equal(sky_cloudwatch_call(c, NULL, "{}", 2, NULL, NULL, NULL), SKY_EINVAL);
    assert_int_equal(sky_cloudwatch_call(NULL, "ListMetrics", "{}", 2, NULL, NULL, NULL),
                     SKY_EINVAL);
    assert_int_equal(sky_cloudwatch_call(c, "ListMetrics", NULL, 5, NULL, NULL, NULL),
                     SKY_EINVAL);
    sky_aws_client_free(c);
}

static void test_the_1mb_limit_is_checked_before_sending(void **state)
{
    (void)state;
    sky_aws_client *c = client();
    size_t n = 1048577;
    char *body = malloc(n);
    assert_non_null(body);
    memset(body, ' ', n);
    sky_aws_error e;
    size_t len = 99;
    assert_int_equal(sky_cloudwatch_call(c, "PutMetricData", body, n, NULL, &len, &e),
                     SKY_ELIMIT);
    assert_int_equal(len, 0);
    assert_int_equal(e.status, SKY_ELIMIT);
    assert_int_equal(e.attempts, 0);
    free(body);
    sky_aws_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_operation_names_are_checked),
        cmocka_unit_test(test_the_1mb_limit_is_checked_before_sending),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
