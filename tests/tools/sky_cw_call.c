/*
 * sky_cw_call.c - test-only: one sky_cloudwatch_call() (the generic CloudWatch metrics call of
 * the public API) from the command line, for tests/integration/test_serve_cw_call.py.
 *
 *   sky_cw_call ENDPOINT OPERATION < BODY     prints {"status": "...", "answer": ...} or
 *                                             {"status": "...", "code": ..., "message": ...}
 *
 * Credentials come from the environment (the AWS layer's chain); the region is us-east-1.
 * What the call sends (gzip for a PutMetricData body of 10 KiB or more) is the library's own
 * decision: the tool only hands it the body.
 */
#include <skylog.h>
#include <skylog/aws.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: sky_cw_call ENDPOINT OPERATION < BODY\n");
        return 2;
    }
    size_t cap = 1 << 16, len = 0;
    char *body = malloc(cap);
    for (size_t n; body && (n = fread(body + len, 1, cap - len, stdin)) > 0;) {
        len += n;
        if (len == cap) {
            char *nb = realloc(body, cap *= 2);
            if (!nb)
                free(body);
            body = nb;
        }
    }
    if (!body)
        return 1;
    sky_aws_client *c = NULL;
    char why[256] = "";
    if (sky_aws_client_new(&(sky_aws_client_opts){.service = "monitoring",
                                                   .region = "us-east-1",
                                                   .endpoint = argv[1],
                                                   .retry = {.max_attempts = 1}},
                           &c, why, sizeof why) != SKY_OK) {
        fprintf(stderr, "sky_cw_call: %s\n", why);
        free(body);
        return 1;
    }
    char *out = NULL;
    size_t out_len = 0;
    sky_aws_error e;
    memset(&e, 0, sizeof e);
    sky_status st = sky_cloudwatch_call(c, argv[2], body, len, &out, &out_len, &e);
    json_t *answer = out ? json_loadb(out, out_len, 0, NULL) : NULL;
    json_t *line = st == SKY_OK ? json_pack("{s:s,s:o*}", "status", sky_strerror(st), "answer",
                                            answer)
                                : json_pack("{s:s,s:s,s:s}", "status", sky_strerror(st), "code",
                                            e.code, "message", e.message);
    char *text = json_dumps(line, JSON_COMPACT);
    printf("%s\n", text ? text : "{}");
    free(text);
    json_decref(line);
    free(out);
    free(body);
    sky_aws_client_free(c);
    return st == SKY_OK ? 0 : 1;
}
