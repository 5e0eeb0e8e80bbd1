/*
 * fuzz_aws_env.c - the AWS and transport settings read from the environment when a client is
 * made (src/aws/endpoint.c, retry.c, transport.c): region, endpoint URLs (per service and
 * AWS_ENDPOINT_URL), retry mode and attempts, CA bundle, SKYLOG_HTTP_TRANSPORT and the proxy
 * variables with no_proxy (host names, IP addresses, CIDR ranges), as a container or a CI job
 * may set them to anything.
 *
 * Input: one line per variable, in the order of `vars` below (a line that is one byte 0x01
 * unsets it), then a last line used as a service name and as an explicit endpoint. Checks: a
 * resolver answers SKY_OK with a terminated value within its buffer, or an error (with a
 * message where it takes an errbuf); a resolved endpoint is http(s):// and its host part lies
 * inside the host buffer without '/', '?', '#' or '@'; a retry mode is one of the three, a
 * number of attempts is 0 (unset) or more.
 */
#include "fuzz_common.h"

#include "aws/transport.h"

#include <skylog/aws.h>

#include <stdlib.h>
#include <string.h>

SKY_FUZZ_SANDBOXED

static const char *const vars[] = {
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
    "AWS_ENDPOINT_URL_CLOUDWATCH",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_RETRY_MODE",
    "AWS_MAX_ATTEMPTS",
    "AWS_CA_BUNDLE",
    "SKYLOG_HTTP_TRANSPORT",
    "no_proxy",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
};
#define NVARS (sizeof vars / sizeof vars[0])

static void terminated(const char *buf, size_t cap)
{
    if (!memchr(buf, '\0', cap))
        abort();
}

static void check_endpoint(const char *url)
{
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        abort();
    char host[256], path[512];
    bool https;
    memset(host, 'x', sizeof host);
    if (sky_aws_endpoint_host(url, host, sizeof host, &https, path, sizeof path) != SKY_OK)
        return;
    terminated(host, sizeof host);
    terminated(path, sizeof path);
    if (strpbrk(host, "/?#@") || https != (strncmp(url, "https://", 8) == 0))
        abort();
}

static void route(const char *url)
{
    char err[512];
    for (int m = SKY_HTTP_TRANSPORT_AUTO; m <= SKY_HTTP_TRANSPORT_NATIVE; m++) {
        err[0] = '\0';
        int r = sky__http_route((sky_http_transport)m, url, err, sizeof err);
        if (r == -1 && (m != SKY_HTTP_TRANSPORT_NATIVE || !err[0]))
            abort(); /* only native refuses, and says why */
        if (r != -1 && r != SKY_HTTP_TRANSPORT_CURL && r != SKY_HTTP_TRANSPORT_NATIVE)
            abort();
    }
    const char *var = NULL;
    if (sky__http_proxy_for(url, &var) != (var != NULL))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384)
        return 0;
    char *text = sky_fuzz_cstr(data, size);
    char *end = text + size;
    char *p = sky_fuzz_setenv_lines(vars, NVARS, text, size);
    const char *last = p < end ? p : "";

    char region[64], url[512], ca[4096], err[512];
    memset(region, 'x', sizeof region);
    if (sky_aws_resolve_region(NULL, NULL, "/dev/null", region, sizeof region) == SKY_OK)
        terminated(region, sizeof region);
    else
        region[0] = '\0'; /* no region: the regional default must refuse, not guess */
    const char *services[] = {"logs", "monitoring", last};
    for (size_t i = 0; i < 3; i++) {
        if (!services[i][0] || strlen(services[i]) > 64)
            continue;
        memset(url, 'x', sizeof url);
        if (sky_aws_resolve_endpoint(services[i], region, NULL, url, sizeof url) == SKY_OK) {
            terminated(url, sizeof url);
            check_endpoint(url);
            route(url);
        }
    }
    memset(url, 'x', sizeof url);
    if (sky_aws_resolve_endpoint("logs", "us-east-1", last, url, sizeof url) == SKY_OK) {
        terminated(url, sizeof url);
        check_endpoint(url);
    }
    route(last);

    sky_aws_retry_mode mode = (sky_aws_retry_mode)-1;
    int attempts = -1;
    err[0] = '\0';
    if (sky_aws_resolve_retry(NULL, "/dev/null", &mode, &attempts, err, sizeof err) == SKY_OK) {
        if ((mode != SKY_AWS_RETRY_STANDARD && mode != SKY_AWS_RETRY_ADAPTIVE &&
             mode != SKY_AWS_RETRY_LEGACY) ||
            attempts < 0)
            abort();
    } else if (!err[0]) {
        abort();
    }
    const char *source = NULL;
    memset(ca, 'x', sizeof ca);
    if (sky_aws_resolve_ca_bundle(NULL, NULL, "/dev/null", ca, sizeof ca, &source) == SKY_OK)
        terminated(ca, sizeof ca);
    sky_http_transport t;
    err[0] = '\0';
    if (sky__http_mode(NULL, &t, err, sizeof err) != SKY_OK && !err[0])
        abort();

    for (size_t i = 0; i < NVARS; i++)
        unsetenv(vars[i]);
    setenv("AWS_REGION", "us-east-1", 1); /* the sandbox's */
    free(text);
    return 0;
}
