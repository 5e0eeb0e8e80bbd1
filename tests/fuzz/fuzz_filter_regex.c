/*
 * fuzz_filter_regex.c - the %regex% of CloudWatch filter patterns (server/filter_regex.c):
 * compile any bytes as an expression and search any text with it.
 *
 * Input: "<expression>\n<text>". Compiling fails with a reason or yields a program within
 * SKY__FREGEX_MAX_INSNS; searching ends (in text x program steps: a slow input is a finding,
 * see libFuzzer's -timeout). Two properties hold for every expression: a match somewhere in a
 * text is a match in any text that contains it when the expression has no anchor (search is
 * unanchored), the same search twice answers the same (the workspace and the DFA cache are
 * reused), the DFA with its required-text filter answers as the plain simulation, and what
 * the expression holds stays within SKY__FREGEX_MAX_BYTES and is uncounted once freed.
 */
#include "filter_regex.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t rlen = nl ? (size_t)(nl - data) : size;
    if (rlen > 1024) /* a filter pattern's limit */
        return 0;
    const char *text = nl ? (const char *)nl + 1 : "";
    size_t tlen = nl ? size - rlen - 1 : 0;
    char why[400] = "";
    size_t cached = sky__fregex_cache_bytes();
    sky__fregex *re = sky__fregex_compile((const char *)data, rlen, why, sizeof why);
    if (!re) {
        if (!why[0])
            abort(); /* a refusal always says why */
        return 0;
    }
    if (sky__fregex_size(re) > SKY__FREGEX_MAX_INSNS)
        abort();
    bool hit = sky__fregex_search(re, text, tlen);
    if (sky__fregex_search(re, text, tlen) != hit)
        abort();
    if (sky__fregex_search_nfa(re, text, tlen) != hit)
        abort(); /* the DFA cache and the required-text filter answer as the simulation */
    if (sky__fregex_memory(re) > SKY__FREGEX_MAX_BYTES)
        abort(); /* the DFA cache grew past its bound */
    if (hit && !memchr(data, '^', rlen) && !memchr(data, '$', rlen)) {
        char *wider = malloc(tlen + 2);
        if (!wider)
            abort();
        wider[0] = 'Z';
        memcpy(wider + 1, text, tlen);
        wider[tlen + 1] = '!';
        if (!sky__fregex_search(re, wider, tlen + 2))
            abort();
        free(wider);
    }
    sky__fregex_free(re);
    if (sky__fregex_cache_bytes() != cached)
        abort(); /* the process-wide count gives back what the expression held */
    return 0;
}
