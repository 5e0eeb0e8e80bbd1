/*
 * fuzz_otlp_response.c - sky__otlp_partial_parse(): an OTLP collector's answer to an export
 * (sinks/otlp.h), outside input the exporter reads after every 2xx. Input: one byte choosing
 * the encoding (bit 0: protobuf) and the signal (bit 1: traces), then the body. Whatever it
 * says, the result is 0 or -1, the strings are terminated within their arrays, a failure
 * says why and counts nothing, and the message is terminal-safe (no control character).
 */
#include "fuzz_common.h"

#include "sinks/otlp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool pb = data[0] & 1, traces = data[0] & 2;
    char *body = sky_fuzz_cstr(data + 1, size - 1);
    sky__hb_answer a;
    int rc = sky__otlp_partial_parse(body, size - 1, pb, traces, &a);
    if (rc != 0 && rc != -1)
        abort();
    if (!memchr(a.message, '\0', sizeof a.message) || !memchr(a.error, '\0', sizeof a.error))
        abort();
    if (rc < 0 && (!a.error[0] || a.rejected))
        abort();
    if (rc == 0 && a.rejected > (uint64_t)INT64_MAX)
        abort();
    for (const char *m = a.message; *m; m++)
        if ((unsigned char)*m < 0x20 || *m == 0x7f)
            abort();
    free(body);
    return 0;
}
