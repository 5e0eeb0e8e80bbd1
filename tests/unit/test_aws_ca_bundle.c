/* test_aws_ca_bundle.c - which CA bundle the AWS layer trusts (sky_aws_resolve_ca_bundle):
 * the AWS CLI's order (--ca-bundle, AWS_CA_BUNDLE, ca_bundle of the profile), then curl's
 * (CURL_CA_BUNDLE, SSL_CERT_FILE), and where each answer came from. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <skylog/aws.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char config[64];

static int setup(void **state)
{
    (void)state;
    snprintf(config, sizeof config, "/tmp/skycab.XXXXXX");
    int fd = mkstemp(config);
    assert_true(fd >= 0);
    const char text[] = "[default]\nca_bundle = /from/config/default.pem\n"
                        "[profile corp]\nca_bundle = ~/corp.pem\n"
                        "[profile plain]\nregion = eu-west-1\n";
    assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    const char *vars[] = {"AWS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "AWS_PROFILE",
                          "AWS_DEFAULT_PROFILE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
    setenv("HOME", "/home/someone", 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(config);
    return 0;
}

static const char *resolve(const char *explicit_path, const char *profile, const char **src)
{
    static char out[256];
    sky_status st = sky_aws_resolve_ca_bundle(explicit_path, profile, config, out, sizeof out, src);
    return st == SKY_OK ? out : NULL;
}

static void test_order(void **state)
{
    (void)state;
    const char *src;
    /* nothing set anywhere: the system store */
    assert_null(resolve(NULL, "plain", &src));
    assert_null(src);
    setenv("SSL_CERT_FILE", "/env/ssl.pem", 1);
    assert_string_equal(resolve(NULL, "plain", &src), "/env/ssl.pem");
    assert_string_equal(src, "SSL_CERT_FILE");
    setenv("CURL_CA_BUNDLE", "/env/curl.pem", 1);
    assert_string_equal(resolve(NULL, "plain", &src), "/env/curl.pem");
    assert_string_equal(src, "CURL_CA_BUNDLE");
    /* the profile's ca_bundle beats curl's variables; "~/" is expanded */
    assert_string_equal(resolve(NULL, "corp", &src), "/home/someone/corp.pem");
    assert_string_equal(src, "ca_bundle in the AWS config file");
    assert_string_equal(resolve(NULL, NULL, &src), "/from/config/default.pem");
    setenv("AWS_PROFILE", "corp", 1);
    assert_string_equal(resolve(NULL, NULL, &src), "/home/someone/corp.pem");
    /* AWS_CA_BUNDLE beats the config file, the explicit path beats everything */
    setenv("AWS_CA_BUNDLE", "/env/aws.pem", 1);
    assert_string_equal(resolve(NULL, "corp", &src), "/env/aws.pem");
    assert_string_equal(src, "AWS_CA_BUNDLE");
    assert_string_equal(resolve("/flag.pem", "corp", &src), "/flag.pem");
    assert_string_equal(src, "the ca_bundle option");
    /* empty values count as unset */
    setenv("AWS_CA_BUNDLE", "", 1);
    assert_string_equal(resolve("", "plain", &src), "/env/curl.pem");
    unsetenv("AWS_CA_BUNDLE");
    unsetenv("CURL_CA_BUNDLE");
    unsetenv("SSL_CERT_FILE");
    unsetenv("AWS_PROFILE");
}

static void test_too_long(void **state)
{
    (void)state;
    char out[8];
    assert_int_equal(sky_aws_resolve_ca_bundle("/a/long/path.pem", NULL, config, out, sizeof out,
                                               NULL),
                     SKY_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_too_long),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
