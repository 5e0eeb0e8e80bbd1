/*
 * aws_call.c - calls an AWS JSON API with skylog's AWS layer, no logging involved.
 *
 *     AWS_REGION=eu-west-1 ./example_aws_call Logs_20140328.DescribeLogGroups '{"limit":5}'
 *     AWS_ENDPOINT_URL=http://127.0.0.1:4566 ./example_aws_call Logs_20140328.DescribeLogGroups
 *
 * Credentials come from the usual chain (env, ~/.aws files including SSO, web identity,
 * container, instance metadata); retries follow the SDKs' standard mode.
 */
#include <skylog/aws.h>

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s TARGET [JSON-BODY] [SERVICE]\n"
                        "example: %s Logs_20140328.DescribeLogGroups '{\"limit\":5}' logs\n",
                argv[0], argv[0]);
        return 2;
    }
    const char *body = argc > 2 ? argv[2] : "{}";
    sky_aws_client *c;
    char why[256];
    sky_aws_client_opts opts = {.service = argc > 3 ? argv[3] : "logs"};
    if (sky_aws_client_new(&opts, &c, why, sizeof why) != SKY_OK) {
        fprintf(stderr, "cannot create the client: %s\n", why);
        return 1;
    }
    fprintf(stderr, "calling %s at %s (%s)\n", argv[1], sky_aws_client_endpoint(c),
            sky_aws_client_region(c));
    sky_http_response resp;
    sky_aws_error err;
    sky_aws_call call = {.target = argv[1], .body = body, .body_len = strlen(body)};
    int rc = 0;
    if (sky_aws_client_call(c, &call, &resp, &err) == SKY_OK) {
        printf("%s\n", resp.body);
        sky_http_response_free(&resp);
    } else {
        fprintf(stderr, "%s: %s: %s (HTTP %ld, request %s, %d attempts)\n",
                sky_strerror(err.status), err.code, err.message, err.http_status,
                err.request_id[0] ? err.request_id : "-", err.attempts);
        rc = 1;
    }
    sky_aws_client_free(c);
    return rc;
}
