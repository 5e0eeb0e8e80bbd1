/* test_aws_http.c - unit tests for src/aws/http.c that need no server: argument checks, header
 * injection refused, connection failures mapped to SKY_ENET, schemes other than http(s)
 * refused. (Requests against real servers are in tests/integration/test_aws_retry.py.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <skylog/aws.h>

static void test_errors(void **state)
{
    (void)state;
    sky_http_client *c;
    assert_int_equal(sky_http_client_new(&(sky_http_opts){.connect_timeout_ms = 500}, &c), SKY_OK);
    sky_http_response r;
    char why[256];
    sky_aws_header bad[] = {{"X-Evil", "a\r\nInjected: yes"}};
    sky_http_request req = {.method = "GET", .url = "http://127.0.0.1:1/", .headers = bad,
                            .n_headers = 1};
    assert_int_equal(sky_http_perform(c, &req, &r, why, sizeof why), SKY_EINVAL);
    assert_string_equal(why, "invalid header name or value");
    sky_aws_header bad_name[] = {{"X:Evil", "v"}};
    req.headers = bad_name;
    assert_int_equal(sky_http_perform(c, &req, &r, why, sizeof why), SKY_EINVAL);
    req.n_headers = 0;
    assert_int_equal(sky_http_perform(c, &req, &r, why, sizeof why), SKY_ENET);
    assert_true(strlen(why) > 0);
    assert_int_equal(r.status, 0);
    assert_null(r.body);
    req.url = "ftp://127.0.0.1/x";
    assert_int_equal(sky_http_perform(c, &req, &r, why, sizeof why), SKY_EINVAL);
    assert_int_equal(sky_http_perform(NULL, &req, &r, why, sizeof why), SKY_EINVAL);
    assert_null(sky_http_response_header(&r, "x"));
    assert_null(sky_http_response_header(NULL, "x"));
    sky_http_response_free(&r);
    sky_http_response_free(NULL);
    sky_http_client_free(c);
    sky_http_client_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
