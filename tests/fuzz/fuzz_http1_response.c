/*
 * fuzz_http1_response.c - the native HTTP client's response parser (src/aws/http1.c): a server's
 * head (status line, headers) and, when it says chunked, the chunked body fed in pieces whose
 * sizes come from the first byte. Every field must lie inside the head, the decoded body never
 * passes its limit, and a body decoded in pieces equals the one decoded at once.
 */
#include "fuzz_common.h"

#include "aws/http1.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BODY 4096

static int dechunk(const char *in, size_t len, size_t step, char **out, size_t *out_len)
{
    sky__h1_chunked d = {0};
    size_t cap = 0, off = 0;
    *out = NULL;
    *out_len = 0;
    while (off < len) {
        size_t k = len - off < step ? len - off : step, used = 0;
        int r = sky__h1_dechunk(&d, in + off, k, &used, out, out_len, &cap, MAX_BODY);
        if (used > k || *out_len > MAX_BODY || (*out_len && *out_len >= cap))
            abort();
        if (r != 0)
            return r;
        off += used;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = 1 + data[0] % 64;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    static sky__h1_head h;
    int r = sky__h1_parse_head(text, len, &h);
    if (r != 1)
        return 0;
    if (h.head_len > len || h.head_len > SKY__H1_MAX_HEAD || h.n_fields > SKY__H1_MAX_HEADERS ||
        h.status < 100 || h.status > 999)
        abort();
    for (size_t i = 0; i < h.n_fields; i++) {
        const sky__h1_field *f = &h.fields[i];
        if (f->name_len == 0 || f->name + f->name_len > h.head_len ||
            f->value + f->value_len > h.head_len)
            abort();
    }
    if (!h.chunked)
        return 0;
    char *a, *b;
    size_t al, bl;
    int ra = dechunk(text + h.head_len, len - h.head_len, step, &a, &al);
    int rb = dechunk(text + h.head_len, len - h.head_len, len + 1, &b, &bl);
    if (ra != rb || (ra == 1 && (al != bl || (al && memcmp(a, b, al) != 0))))
        abort();
    free(a);
    free(b);
    return 0;
}
