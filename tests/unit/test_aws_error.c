/* test_aws_error.c - unit tests for src/aws/error.c: parsing and classifying AWS error answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <skylog/aws.h>

static void parse(long status, const sky_aws_header *h, size_t nh, const char *body,
                  sky_aws_error *e)
{
    sky_aws_parse_error(status, h, nh, body, body ? strlen(body) : 0, e);
}

static void test_json_type_with_prefix(void **state)
{
    (void)state;
    sky_aws_error e;
    sky_aws_header h[] = {{"X-Amzn-RequestId", "rid-1"}};
    parse(400, h, 1,
          "{\"__type\":\"com.amazonaws.logs#ResourceNotFoundException\","
          "\"message\":\"The specified log group does not exist.\"}",
          &e);
    assert_string_equal(e.code, "ResourceNotFoundException");
    assert_string_equal(e.message, "The specified log group does not exist.");
    assert_string_equal(e.request_id, "rid-1");
    assert_int_equal(e.status, SKY_EREMOTE);
    assert_false(e.retryable);
    assert_false(e.throttling);
    assert_int_equal(e.http_status, 400);
}

static void test_capital_message_and_header_type(void **state)
{
    (void)state;
    sky_aws_error e;
    sky_aws_header h[] = {{"x-amzn-errortype", "ThrottlingException:http://internal.amazon.com/"}};
    parse(400, h, 1, "{\"Message\":\"Rate exceeded\"}", &e);
    assert_string_equal(e.code, "ThrottlingException");
    assert_string_equal(e.message, "Rate exceeded");
    assert_int_equal(e.status, SKY_ETHROTTLED);
    assert_true(e.retryable);
    assert_true(e.throttling);
}

static void test_xml_error(void **state)
{
    (void)state;
    sky_aws_error e;
    parse(403, NULL, 0,
          "<?xml version=\"1.0\"?>\n<ErrorResponse><Error><Type>Sender</Type>"
          "<Code>ExpiredToken</Code><Message>The security token &amp; stuff &lt;expired&gt;"
          "</Message></Error><RequestId>abc-123</RequestId></ErrorResponse>",
          &e);
    assert_string_equal(e.code, "ExpiredToken");
    assert_string_equal(e.message, "The security token & stuff <expired>");
    assert_string_equal(e.request_id, "abc-123");
    assert_int_equal(e.status, SKY_EAUTH);
    assert_true(e.expired_credentials);
    assert_false(e.retryable);
}

static void test_5xx_html_and_transient(void **state)
{
    (void)state;
    sky_aws_error e;
    parse(503, NULL, 0, "<html><body>Service Unavailable</body></html>", &e);
    assert_int_equal(e.status, SKY_EREMOTE);
    assert_true(e.retryable);
    assert_false(e.throttling);
    parse(502, NULL, 0, NULL, &e);
    assert_true(e.retryable);
    assert_string_equal(e.message, "HTTP 502");
    parse(400, NULL, 0, "{\"__type\":\"RequestTimeoutException\"}", &e);
    assert_true(e.retryable);
    parse(400, NULL, 0, "not json", &e);
    assert_false(e.retryable);
    parse(200, NULL, 0, "{}", &e);
    assert_int_equal(e.status, SKY_OK);
}

static void test_classification_lists(void **state)
{
    (void)state;
    const char *thr[] = {"Throttling", "ThrottlingException", "TooManyRequestsException",
                         "RequestLimitExceeded", "ProvisionedThroughputExceededException",
                         "SlowDown", "LimitExceededException"};
    for (size_t i = 0; i < sizeof thr / sizeof thr[0]; i++)
        assert_true(sky_aws_is_throttling_code(thr[i]));
    assert_false(sky_aws_is_throttling_code("ValidationException"));
    assert_false(sky_aws_is_throttling_code(""));
    assert_false(sky_aws_is_throttling_code(NULL));
    assert_true(sky_aws_is_transient_code("RequestTimeout"));
    sky_aws_error e;
    parse(400, NULL, 0, "{\"__type\":\"RequestTimeTooSkewed\"}", &e);
    assert_true(e.clock_skew);
    assert_int_equal(e.status, SKY_EAUTH);
    /* an unknown key or a wrong secret: refreshing gives the same keys; waiting cannot help */
    const char *refused[] = {"UnrecognizedClientException", "InvalidClientTokenId",
                             "InvalidSignatureException", "AccessDeniedException",
                             "IncompleteSignatureException", "MissingAuthenticationTokenException",
                             "AccessDenied", "SignatureDoesNotMatch"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        char body[128];
        snprintf(body, sizeof body, "{\"__type\":\"%s\"}", refused[i]);
        parse(400, NULL, 0, body, &e);
        assert_int_equal(e.status, SKY_EAUTH);
        assert_false(e.expired_credentials);
        assert_false(e.retryable);
        assert_true(e.persistent);
    }
    parse(400, NULL, 0, "{\"__type\":\"ExpiredTokenException\"}", &e);
    assert_true(e.expired_credentials); /* refreshed once by the client first */
    assert_true(e.persistent);
    parse(403, NULL, 0, "", &e); /* a bare 403 is a refusal too */
    assert_true(e.persistent);
    parse(400, NULL, 0, "{\"__type\":\"ThrottlingException\"}", &e);
    assert_false(e.persistent);
    parse(503, NULL, 0, "", &e);
    assert_false(e.persistent);
    parse(400, NULL, 0, "{\"__type\":\"InvalidParameterException\"}", &e);
    assert_false(e.persistent); /* refused on its merits: not retried, but not persistent */
}


static void test_code_forms_and_query_error(void **state)
{
    (void)state;
    sky_aws_error e;
    parse(400, NULL, 0, "{\"__type\":\"a.b#c.d#Inner:http://x#y\"}", &e);
    assert_string_equal(e.code, "Inner");
    sky_aws_header h[] = {{"x-amzn-ErrorType", "HeaderCode"}};
    parse(400, h, 1, "{\"__type\":\"BodyCode\"}", &e);
    assert_string_equal(e.code, "BodyCode"); /* awsJson: body wins */
    parse(400, h, 1, "{}", &e);
    assert_string_equal(e.code, "HeaderCode");
    sky_aws_header q[] = {{"x-amzn-query-error", "Throttling;Sender"}};
    parse(400, q, 1, "{\"__type\":\"com.amazonaws.cloudwatch#ThrottlingException\"}", &e);
    assert_string_equal(e.code, "Throttling");
    assert_true(e.throttling);
    sky_aws_header bad[] = {{"x-amzn-query-error", ";Sender"}};
    parse(400, bad, 1, "{\"__type\":\"X\"}", &e);
    assert_string_equal(e.code, "X");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_type_with_prefix),
        cmocka_unit_test(test_capital_message_and_header_type),
        cmocka_unit_test(test_xml_error),
        cmocka_unit_test(test_5xx_html_and_transient),
        cmocka_unit_test(test_classification_lists),
        cmocka_unit_test(test_code_forms_and_query_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
