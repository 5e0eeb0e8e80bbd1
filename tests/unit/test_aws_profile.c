/* test_aws_profile.c - unit tests for src/aws/profile.c (INI parsing, profile lookup) and
 * src/aws/endpoint.c (region and endpoint resolution). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aws/profile.h"

static void test_ini_parse(void **state)
{
    (void)state;
    sky__ini ini;
    assert_int_equal(sky__ini_parse("# comment\n"
                                    "; another\n"
                                    "orphan = ignored\n"
                                    "[default]\n"
                                    "Aws_Access_Key_Id = AKID  \n"
                                    "aws_secret_access_key=sec=ret # not a comment\r\n"
                                    "region: eu-west-1\n"
                                    "s3 =\n"
                                    "  max_concurrent_requests = 10\n"
                                    "\n"
                                    "[ profile  dev ]\n"
                                    "region = us-west-2\n"
                                    "region = us-east-2\n"
                                    "[broken\n"
                                    "key = still dev\n",
                                    &ini),
                     SKY_OK);
    assert_string_equal(sky__ini_get(&ini, "default", "aws_access_key_id"), "AKID");
    assert_string_equal(sky__ini_get(&ini, "default", "aws_secret_access_key"),
                        "sec=ret # not a comment");
    assert_string_equal(sky__ini_get(&ini, "default", "region"), "eu-west-1");
    assert_string_equal(sky__ini_get(&ini, "default", "s3"), "\nmax_concurrent_requests = 10");
    assert_null(sky__ini_get(&ini, "default", "orphan"));
    /* the header as written, as RawConfigParser keeps it */
    assert_string_equal(sky__ini_get(&ini, " profile  dev ", "region"), "us-east-2"); /* last */
    assert_string_equal(sky__ini_get(&ini, " profile  dev ", "key"), "still dev");
    assert_true(sky__ini_has_section(&ini, "default"));
    assert_false(sky__ini_has_section(&ini, "nope"));
    sky__ini_free(&ini);
}

static char *write_tmp(const char *text)
{
    char tmpl[] = "/tmp/skyprofile.XXXXXX";
    int fd = mkstemp(tmpl);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return strdup(tmpl);
}

static void test_profiles(void **state)
{
    (void)state;
    char *creds = write_tmp("[dev]\naws_access_key_id = A\n[default]\naws_access_key_id = D\n");
    char *config = write_tmp("[dev]\nregion = wrong\n[profile dev]\nregion = eu-west-3\n"
                             "[default]\nregion = us-east-1\n[profile x]\n");
    sky__profiles p;
    assert_int_equal(sky__profiles_load(&p, creds, config), SKY_OK);
    assert_string_equal(sky__profile_get(&p, "dev", "aws_access_key_id", true), "A");
    assert_string_equal(sky__profile_get(&p, "dev", "region", false), "eu-west-3");
    assert_string_equal(sky__profile_get(&p, "default", "region", false), "us-east-1");
    assert_null(sky__profile_get(&p, "dev", "aws_access_key_id", false));
    assert_true(sky__profile_exists(&p, "dev"));
    assert_false(sky__profile_exists(&p, "ghost"));
    sky__profiles_free(&p);

    /* region resolution: explicit > AWS_REGION > AWS_DEFAULT_REGION > config file */
    char r[64];
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    unsetenv("AWS_PROFILE");
    assert_int_equal(sky_aws_resolve_region(NULL, "dev", config, r, sizeof r), SKY_OK);
    assert_string_equal(r, "eu-west-3");
    setenv("AWS_DEFAULT_REGION", "ap-south-1", 1);
    assert_int_equal(sky_aws_resolve_region(NULL, "dev", config, r, sizeof r), SKY_OK);
    assert_string_equal(r, "ap-south-1");
    setenv("AWS_REGION", "sa-east-1", 1);
    assert_int_equal(sky_aws_resolve_region(NULL, "dev", config, r, sizeof r), SKY_OK);
    assert_string_equal(r, "sa-east-1");
    assert_int_equal(sky_aws_resolve_region("me-south-1", "dev", config, r, sizeof r), SKY_OK);
    assert_string_equal(r, "me-south-1");
    assert_int_equal(sky_aws_resolve_region("bad region!", NULL, config, r, sizeof r), SKY_EINVAL);
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    assert_int_equal(sky_aws_resolve_region(NULL, "x", config, r, sizeof r), SKY_ENOTFOUND);
    unlink(creds);
    unlink(config);
    free(creds);
    free(config);
}

static void test_endpoints(void **state)
{
    (void)state;
    char e[256];
    unsetenv("AWS_ENDPOINT_URL");
    unsetenv("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS");
    unsetenv("AWS_ENDPOINT_URL_CLOUDWATCH");
    unsetenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
    assert_int_equal(sky_aws_resolve_endpoint("logs", "eu-west-1", NULL, e, sizeof e), SKY_OK);
    assert_string_equal(e, "https://logs.eu-west-1.amazonaws.com");
    assert_int_equal(sky_aws_resolve_endpoint("monitoring", "cn-north-1", NULL, e, sizeof e),
                     SKY_OK);
    assert_string_equal(e, "https://monitoring.cn-north-1.amazonaws.com.cn");
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566/", 1);
    assert_int_equal(sky_aws_resolve_endpoint("logs", "eu-west-1", NULL, e, sizeof e), SKY_OK);
    assert_string_equal(e, "http://127.0.0.1:4566");
    setenv("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "http://localhost:9000", 1);
    assert_int_equal(sky_aws_resolve_endpoint("logs", "eu-west-1", NULL, e, sizeof e), SKY_OK);
    assert_string_equal(e, "http://localhost:9000");
    assert_int_equal(sky_aws_resolve_endpoint("monitoring", "eu-west-1", NULL, e, sizeof e), SKY_OK);
    assert_string_equal(e, "http://127.0.0.1:4566");
    assert_int_equal(sky_aws_resolve_endpoint("logs", NULL, "https://x.example", e, sizeof e),
                     SKY_OK);
    assert_string_equal(e, "https://x.example");
    setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true", 1);
    assert_int_equal(sky_aws_resolve_endpoint("logs", "eu-west-1", NULL, e, sizeof e), SKY_OK);
    assert_string_equal(e, "https://logs.eu-west-1.amazonaws.com");
    unsetenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
    unsetenv("AWS_ENDPOINT_URL");
    unsetenv("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS");
    assert_int_equal(sky_aws_resolve_endpoint("logs", NULL, NULL, e, sizeof e), SKY_EINVAL);
    assert_int_equal(sky_aws_resolve_endpoint("logs", NULL, "ftp://x", e, sizeof e), SKY_EINVAL);

    char host[128], path[128];
    bool https;
    assert_int_equal(sky_aws_endpoint_host("https://Logs.EU-west-1.amazonaws.com:443/base/", host,
                                           sizeof host, &https, path, sizeof path),
                     SKY_OK);
    assert_string_equal(host, "logs.eu-west-1.amazonaws.com");
    assert_string_equal(path, "/base");
    assert_true(https);
    assert_int_equal(sky_aws_endpoint_host("http://user:pw@127.0.0.1:4566", host, sizeof host,
                                           &https, path, sizeof path),
                     SKY_OK);
    assert_string_equal(host, "127.0.0.1:4566");
    assert_string_equal(path, "");
    assert_false(https);
}

/* Memory proportional to the file (fuzz_aws_profile's class): a section's name is stored once
 * for all its keys (a copy per key let a 1 MiB file ask for gigabytes), a value continued over
 * many lines is built in place, and a file past SKY__INI_MAX_BYTES is refused. */
static void test_ini_memory_is_linear(void **state)
{
    (void)state;
    size_t hl = 200000, nk = 50000;
    char *t = malloc(hl + 3 + nk * 4 + 64);
    size_t n = 0;
    t[n++] = '[';
    memset(t + n, 's', hl);
    n += hl;
    n += (size_t)sprintf(t + n, "]\n");
    for (size_t i = 0; i < nk; i++)
        n += (size_t)sprintf(t + n, "k=\n");
    n += (size_t)sprintf(t + n, "v = a\n");
    for (size_t i = 0; i < 1000; i++)
        n += (size_t)sprintf(t + n, " b\n");
    sky__ini ini;
    assert_int_equal(sky__ini_parse(t, &ini), SKY_OK);
    assert_int_equal(ini.n, nk + 1);
    assert_int_equal(ini.n_sections, 1);
    for (size_t i = 0; i < ini.n; i++)
        assert_ptr_equal(ini.kv[i].section, ini.sections[0]);
    const char *v = sky__ini_get(&ini, ini.sections[0], "v");
    assert_non_null(v);
    assert_int_equal(strlen(v), 1 + 1000 * 2);
    assert_memory_equal(v, "a\nb\nb", 5);
    sky__ini_free(&ini);
    free(t);

    char path[] = "/tmp/skylog-ini-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)SKY__INI_MAX_BYTES + 1), 0);
    close(fd);
    assert_int_equal(sky__ini_load(path, &ini), SKY_ELIMIT);
    assert_int_equal(ini.n, 0);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ini_parse),
        cmocka_unit_test(test_profiles),
        cmocka_unit_test(test_endpoints),
        cmocka_unit_test(test_ini_memory_is_linear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
