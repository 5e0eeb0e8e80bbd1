/*
 * fuzz_filter_pattern.c - CloudWatch Logs filter patterns (server/filter_pattern.c): compile
 * any text, and match a compiled pattern against any message.
 *
 * Input: "<pattern>\n<message>". Compilation must fail cleanly (with a reason) or succeed;
 * matching must terminate; neither may recurse without bound.
 */
#include "filter_pattern.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t plen = nl ? (size_t)(nl - data) : size;
    char *pattern = malloc(plen + 1);
    if (!pattern)
        return 0;
    memcpy(pattern, data, plen);
    pattern[plen] = '\0';
    const char *msg = nl ? (const char *)nl + 1 : "";
    size_t mlen = nl ? size - plen - 1 : 0;
    const char *why = NULL;
    sky__pattern *p = sky__pattern_compile(pattern, &why);
    if (!p && !why)
        abort(); /* a refusal always says why */
    if (p)
        (void)sky__pattern_match(p, msg, mlen);
    sky__pattern_free(p);
    free(pattern);
    return 0;
}
