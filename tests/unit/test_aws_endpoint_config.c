/* test_aws_endpoint_config.c - endpoints from the AWS shared config file (src/aws/endpoint.c,
 * the sub-setting parser in src/aws/profile.c): botocore's ConfiguredEndpointProvider order
 * (option > AWS_ENDPOINT_URL_<ID> > AWS_ENDPOINT_URL > [services NAME] ID.endpoint_url >
 * profile endpoint_url > the regional default), the ignore flag from the variable and from the
 * profile, and what a bad services setup answers. Temporary files only, no network.
 * tests/integration/test_endpoint_config.py asks botocore itself for the same cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aws/endpoint.h"
#include "aws/profile.h"

static char *write_tmp(const char *text)
{
    char tmpl[] = "/tmp/skyendpoint.XXXXXX";
    int fd = mkstemp(tmpl);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return strdup(tmpl);
}

static const char *const vars[] = {
    "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "AWS_ENDPOINT_URL_CLOUDWATCH",
    "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_SSO", "AWS_ENDPOINT_URL_SSO_OIDC",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
    "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"};

/* Files under test: the config file given, an empty credentials file unless one is given. */
typedef struct files {
    char *config, *creds;
} files;

static files use(const char *config, const char *creds)
{
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
    files f = {write_tmp(config), write_tmp(creds ? creds : "")};
    setenv("AWS_CONFIG_FILE", f.config, 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", f.creds, 1);
    return f;
}

static void done(files f)
{
    unlink(f.config);
    unlink(f.creds);
    free(f.config);
    free(f.creds);
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
}

/* The URL resolved for service (explicit endpoint, region us-east-1); "ERR: why" on failure. */
static const char *resolve(const char *service, const char *explicit_endpoint)
{
    static char out[512], why[256], res[800];
    sky_status st = sky__aws_endpoint(service, "us-east-1", explicit_endpoint, NULL, NULL, NULL,
                                      out, sizeof out, why, sizeof why);
    if (st != SKY_OK)
        snprintf(res, sizeof res, "ERR: %s", why);
    else
        snprintf(res, sizeof res, "%s", out);
    return res;
}

static const char *source(const char *service)
{
    static char out[512], why[256];
    sky_status st = sky__aws_configured_endpoint(service, NULL, NULL, NULL, NULL, out,
                                                 sizeof out, why, sizeof why);
    return st == SKY_OK ? why : st == SKY_ENOTFOUND ? "none" : "error";
}

static const char all_services[] =
    "[default]\n"
    "endpoint_url = http://127.0.0.1:1/profile\n"
    "services = local\n"
    "[services local]\n"
    "cloudwatch_logs =\n"
    "  endpoint_url = http://127.0.0.1:1/services-logs\n"
    "cloudwatch =\n"
    "  endpoint_url = http://127.0.0.1:1/services-cloudwatch\n"
    "sts =\n"
    "  endpoint_url = http://127.0.0.1:1/services-sts\n"
    "sso =\n"
    "  endpoint_url = http://127.0.0.1:1/services-sso\n"
    "sso_oidc =\n"
    "  endpoint_url = http://127.0.0.1:1/services-sso-oidc\n";

static void test_precedence_each_step(void **state)
{
    (void)state;
    files f = use(all_services, NULL);
    /* the config file alone: the services section beats the profile's endpoint_url */
    assert_string_equal(resolve("logs", NULL), "http://127.0.0.1:1/services-logs");
    assert_string_equal(source("logs"),
                        "cloudwatch_logs.endpoint_url of [services local] in the AWS config file");
    /* the global variable beats the file */
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1/global-env/", 1);
    assert_string_equal(resolve("logs", NULL), "http://127.0.0.1:1/global-env");
    assert_string_equal(source("logs"), "AWS_ENDPOINT_URL");
    /* the service's variable beats the global one */
    setenv("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "http://127.0.0.1:1/service-env", 1);
    assert_string_equal(resolve("logs", NULL), "http://127.0.0.1:1/service-env");
    assert_string_equal(source("logs"), "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS");
    /* the option beats everything */
    assert_string_equal(resolve("logs", "http://127.0.0.1:1/option"), "http://127.0.0.1:1/option");
    /* an empty variable is no setting, as in botocore ("if endpoint_url:") */
    setenv("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "", 1);
    assert_string_equal(resolve("logs", NULL), "http://127.0.0.1:1/global-env");
    done(f);

    /* no services entry for the service: the profile's endpoint_url */
    f = use("[default]\n"
            "endpoint_url = http://127.0.0.1:1/profile\n"
            "services = local\n"
            "[services local]\n"
            "cloudwatch =\n"
            "  endpoint_url = http://127.0.0.1:1/services-cloudwatch\n",
            NULL);
    assert_string_equal(resolve("logs", NULL), "http://127.0.0.1:1/profile");
    assert_string_equal(source("logs"), "endpoint_url of profile default in the AWS config file");
    assert_string_equal(resolve("monitoring", NULL), "http://127.0.0.1:1/services-cloudwatch");
    done(f);

    /* nothing configured: the regional default */
    f = use("[default]\nregion = eu-west-1\n", NULL);
    assert_string_equal(resolve("logs", NULL), "https://logs.us-east-1.amazonaws.com");
    assert_string_equal(source("logs"), "none");
    done(f);
}

static void test_every_service_key(void **state)
{
    (void)state;
    files f = use(all_services, NULL);
    assert_string_equal(resolve("logs", NULL), "http://127.0.0.1:1/services-logs");
    assert_string_equal(resolve("monitoring", NULL), "http://127.0.0.1:1/services-cloudwatch");
    assert_string_equal(resolve("sts", NULL), "http://127.0.0.1:1/services-sts");
    assert_string_equal(resolve("sso", NULL), "http://127.0.0.1:1/services-sso");
    assert_string_equal(resolve("sso-oidc", NULL), "http://127.0.0.1:1/services-sso-oidc");
    /* each service's own variable: CloudWatch's is not the Logs one */
    setenv("AWS_ENDPOINT_URL_CLOUDWATCH", "http://127.0.0.1:1/env-cloudwatch", 1);
    setenv("AWS_ENDPOINT_URL_SSO_OIDC", "http://127.0.0.1:1/env-oidc", 1);
    assert_string_equal(resolve("monitoring", NULL), "http://127.0.0.1:1/env-cloudwatch");
    assert_string_equal(resolve("logs", NULL), "http://127.0.0.1:1/services-logs");
    assert_string_equal(resolve("sso-oidc", NULL), "http://127.0.0.1:1/env-oidc");
    assert_string_equal(resolve("sso", NULL), "http://127.0.0.1:1/services-sso");
    done(f);

    /* the signing name is not the key: "logs =" is not CloudWatch Logs' entry */
    f = use("[default]\nservices = s\n[services s]\nlogs =\n  endpoint_url = http://x:1/wrong\n",
            NULL);
    assert_string_equal(resolve("logs", NULL), "https://logs.us-east-1.amazonaws.com");
    done(f);
}

static void test_ignore_flag(void **state)
{
    (void)state;
    files f = use(all_services, NULL);
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1/global-env", 1);
    setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "TRUE", 1);
    assert_string_equal(resolve("logs", NULL), "https://logs.us-east-1.amazonaws.com");
    assert_string_equal(resolve("sts", NULL), "https://sts.us-east-1.amazonaws.com");
    /* not the option */
    assert_string_equal(resolve("logs", "http://127.0.0.1:1/option"), "http://127.0.0.1:1/option");
    done(f);

    const char *ignoring = "[default]\n"
                           "ignore_configured_endpoint_urls = true\n"
                           "endpoint_url = http://127.0.0.1:1/profile\n"
                           "services = local\n"
                           "[services local]\n"
                           "cloudwatch_logs =\n"
                           "  endpoint_url = http://127.0.0.1:1/services-logs\n";
    f = use(ignoring, NULL);
    /* from the profile: the variables and the file are ignored alike */
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1/global-env", 1);
    assert_string_equal(resolve("logs", NULL), "https://logs.us-east-1.amazonaws.com");
    assert_string_equal(resolve("logs", "http://127.0.0.1:1/option"), "http://127.0.0.1:1/option");
    /* the variable, when set at all, decides instead of the profile: "false" and "" are false */
    setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "false", 1);
    assert_string_equal(resolve("logs", NULL), "http://127.0.0.1:1/global-env");
    setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "", 1);
    unsetenv("AWS_ENDPOINT_URL");
    assert_string_equal(resolve("logs", NULL), "http://127.0.0.1:1/services-logs");
    done(f);

    /* in the credentials file's profile, which botocore merges over the config file's */
    f = use("[default]\nendpoint_url = http://127.0.0.1:1/profile\n",
            "[default]\nignore_configured_endpoint_urls = True\n");
    assert_string_equal(resolve("logs", NULL), "https://logs.us-east-1.amazonaws.com");
    done(f);
    f = use("[default]\nendpoint_url = http://127.0.0.1:1/profile\n",
            "[default]\nendpoint_url = http://127.0.0.1:1/creds-file\n");
    assert_string_equal(resolve("logs", NULL), "http://127.0.0.1:1/creds-file");
    done(f);
}

static void test_named_profile(void **state)
{
    (void)state;
    const char *config = "[default]\n"
                         "services = prod\n"
                         "[profile   dev]\n"
                         "region = eu-west-1\n"
                         "services = local\n"
                         "[services prod]\n"
                         "cloudwatch_logs =\n"
                         "  endpoint_url = https://prod.example\n"
                         "[services\tlocal]\n"
                         "cloudwatch_logs =\n"
                         "  endpoint_url = http://127.0.0.1:1/dev\n";
    files f = use(config, NULL);
    assert_string_equal(resolve("logs", NULL), "https://prod.example");
    setenv("AWS_PROFILE", "dev", 1);
    assert_string_equal(resolve("logs", NULL), "http://127.0.0.1:1/dev");
    assert_string_equal(source("logs"),
                        "cloudwatch_logs.endpoint_url of [services local] in the AWS config file");
    /* an explicit profile beats AWS_PROFILE */
    char out[256], why[256];
    assert_int_equal(sky__aws_configured_endpoint("logs", NULL, "default", NULL, NULL, out,
                                                  sizeof out, why, sizeof why),
                     SKY_OK);
    assert_string_equal(out, "https://prod.example");
    /* AWS_DEFAULT_PROFILE too, as the profile lookup everywhere else */
    unsetenv("AWS_PROFILE");
    setenv("AWS_DEFAULT_PROFILE", "dev", 1);
    assert_string_equal(resolve("logs", NULL), "http://127.0.0.1:1/dev");
    done(f);
}

static void test_sub_setting_parsing(void **state)
{
    (void)state;
    files f = use("[default]\r\n"
                  "Services=  odd  \r\n"
                  "[services   odd\t]\r\n"
                  "# a comment line\r\n"
                  "CloudWatch_Logs\t=   \r\n"
                  "\t# an indented comment inside the value\r\n"
                  "\r\n"
                  "     region = us-west-2\r\n"
                  "  ; another comment\r\n"
                  "\t endpoint_url\t=\thttp://127.0.0.1:1/a?x=1 # not a comment  \r\n"
                  "  Endpoint_URL = http://127.0.0.1:1/case-matters\r\n"
                  "sts =\n"
                  "  endpoint_url = http://127.0.0.1:1/first\n"
                  "  endpoint_url=http://127.0.0.1:1/last-wins\n"
                  "sso_oidc =\n"
                  "  endpoint_url =\n"
                  "cloudwatch =\n"
                  "  endpoint_url: http://127.0.0.1:1/colon\n",
                  NULL);
    /* keys of the section are lower-cased, sub-setting keys are not (botocore's _parse_nested) */
    assert_string_equal(resolve("logs", NULL), "http://127.0.0.1:1/a?x=1 # not a comment");
    assert_string_equal(resolve("sts", NULL), "http://127.0.0.1:1/last-wins");
    /* an empty sub-setting is none: the regional default (no profile endpoint_url here) */
    assert_string_equal(resolve("sso-oidc", NULL), "https://sso-oidc.us-east-1.amazonaws.com");
    /* a sub-setting line without '=': botocore refuses the file; skylog says which entry */
    assert_string_equal(resolve("monitoring", NULL),
                        "ERR: cloudwatch in [services odd] of the AWS config file is not a list "
                        "of indented \"key = value\" settings");
    done(f);

    /* a header with a space before its kind is no services section (botocore's startswith) */
    f = use("[default]\nservices = odd\n[ services odd ]\ncloudwatch_logs =\n"
            "  endpoint_url = http://127.0.0.1:1/a\n",
            NULL);
    assert_string_equal(resolve("logs", NULL),
                        "ERR: profile default names services section \"odd\", which the AWS "
                        "config file does not have");
    done(f);

    const char *u;
    size_t n;
    assert_int_equal(sky__ini_subvalue("\nk = v", "k", &u, &n), SKY_OK);
    assert_int_equal(n, 1);
    assert_int_equal(sky__ini_subvalue("k = v", "k", &u, &n), SKY_EINVAL); /* not nested */
    assert_int_equal(sky__ini_subvalue("\nother = v", "k", &u, &n), SKY_ENOTFOUND);
    assert_int_equal(sky__ini_subvalue("\nk", "k", &u, &n), SKY_EINVAL);
    assert_int_equal(sky__ini_subvalue("\nkk = 1\nk=\n", "k", &u, &n), SKY_OK);
    assert_int_equal(n, 0);
}

static void test_bad_services(void **state)
{
    (void)state;
    /* a profile naming a section that is not there: an error, as botocore's InvalidConfigError,
     * not a silent fall back to AWS or to the profile's endpoint_url */
    files f = use("[profile dev]\nservices = nowhere\nendpoint_url = http://127.0.0.1:1/p\n"
                  "[services elsewhere]\ncloudwatch_logs =\n  endpoint_url = http://x:1\n"
                  "[services empty]\n",
                  NULL);
    setenv("AWS_PROFILE", "dev", 1);
    assert_string_equal(resolve("logs", NULL),
                        "ERR: profile dev names services section \"nowhere\", which the AWS "
                        "config file does not have");
    /* botocore looks there only after the variables: they still win */
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1/env", 1);
    assert_string_equal(resolve("logs", NULL), "http://127.0.0.1:1/env");
    unsetenv("AWS_ENDPOINT_URL");
    /* and the ignore flag skips the file altogether */
    setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true", 1);
    assert_string_equal(resolve("logs", NULL), "https://logs.us-east-1.amazonaws.com");
    done(f);

    /* a section with no settings is as missing (botocore: "if not services_section") */
    f = use("[default]\nservices = empty\n[services empty]\n", NULL);
    assert_string_equal(resolve("logs", NULL),
                        "ERR: profile default names services section \"empty\", which the AWS "
                        "config file does not have");
    done(f);

    /* an entry that is a plain value, or nothing */
    f = use("[default]\nservices = s\n[services s]\ncloudwatch_logs = http://127.0.0.1:1/flat\n"
            "sts =\n",
            NULL);
    assert_string_equal(resolve("logs", NULL),
                        "ERR: cloudwatch_logs in [services s] of the AWS config file is not a "
                        "list of indented \"key = value\" settings");
    assert_string_equal(resolve("sts", NULL),
                        "ERR: sts in [services s] of the AWS config file has no settings");
    done(f);

    /* a URL that is not http(s), named with where it came from */
    f = use("[default]\nendpoint_url = localhost:4566\n", NULL);
    assert_string_equal(resolve("logs", NULL),
                        "ERR: the endpoint URL from endpoint_url of profile default in the AWS "
                        "config file does not start with http:// or https://");
    done(f);
}

/* The public resolver and the client read the same file: a config file alone is enough to
 * reach a local server, without a region (it signs with us-east-1). */
static void test_public_api_and_client(void **state)
{
    (void)state;
    files f = use("[default]\nendpoint_url = http://127.0.0.1:1/p/\n", NULL);
    char out[256];
    assert_int_equal(sky_aws_resolve_endpoint("logs", NULL, NULL, out, sizeof out), SKY_OK);
    assert_string_equal(out, "http://127.0.0.1:1/p");
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
    sky_aws_client_opts o = {.service = "monitoring"};
    sky_aws_client *c = NULL;
    char err[256];
    assert_int_equal(sky_aws_client_new(&o, &c, err, sizeof err), SKY_OK);
    assert_string_equal(sky_aws_client_endpoint(c), "http://127.0.0.1:1/p");
    assert_string_equal(sky_aws_client_region(c), "us-east-1");
    sky_aws_client_free(c);
    done(f);

    /* a bad services setup fails the client with the reason */
    f = use("[default]\nservices = gone\n", NULL);
    assert_int_equal(sky_aws_client_new(&o, &c, err, sizeof err), SKY_EINVAL);
    assert_non_null(strstr(err, "names services section \"gone\""));
    done(f);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_precedence_each_step), cmocka_unit_test(test_every_service_key),
        cmocka_unit_test(test_ignore_flag),          cmocka_unit_test(test_named_profile),
        cmocka_unit_test(test_sub_setting_parsing),  cmocka_unit_test(test_bad_services),
        cmocka_unit_test(test_public_api_and_client),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
