/*
 * fuzz_aws_error.c - sky_aws_parse_error(): an AWS error answer (JSON, XML or anything else,
 * with the headers that carry codes). Input: two bytes of HTTP status, then "Name: value"
 * header lines up to an empty line, then the body. The result's strings must be terminated
 * within their arrays and its classification consistent.
 */
#include "fuzz_common.h"

#include <skylog/aws.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HEADERS 16

static void terminated(const char *s, size_t cap)
{
    if (!memchr(s, '\0', cap))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    long status = 100 + (long)((data[0] << 8 | data[1]) % 500);
    char *text = sky_fuzz_cstr(data + 2, size - 2);
    size_t len = size - 2;
    sky_aws_header h[MAX_HEADERS];
    size_t nh = 0;
    char *p = text, *body = text + len;
    while (p < text + len) {
        char *nl = memchr(p, '\n', (size_t)(text + len - p));
        if (!nl || nl == p) { /* the empty line ends the headers */
            body = nl ? nl + 1 : text + len;
            break;
        }
        *nl = '\0';
        char *colon = strchr(p, ':');
        if (colon && nh < MAX_HEADERS) {
            *colon = '\0';
            h[nh].name = p;
            h[nh].value = colon + 1 + (colon[1] == ' ');
            nh++;
        }
        p = nl + 1;
    }
    sky_aws_error e;
    sky_aws_parse_error(status, h, nh, body, (size_t)(text + len - body), &e);
    terminated(e.code, sizeof e.code);
    terminated(e.message, sizeof e.message);
    terminated(e.request_id, sizeof e.request_id);
    if (e.http_status != status)
        abort();
    if (status >= 200 && status < 300 ? e.status != SKY_OK : e.status == SKY_OK)
        abort();
    if (e.throttling && !e.retryable)
        abort();
    if (status >= 300 && !e.code[0] && !e.message[0])
        abort(); /* something to show the user */
    /* the same body without headers, and without a length past its NUL */
    sky_aws_parse_error(status, NULL, 0, body, strlen(body), &e);
    free(text);
    return 0;
}
