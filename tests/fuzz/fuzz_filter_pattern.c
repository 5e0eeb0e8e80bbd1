/*
 * fuzz_filter_pattern.c - CloudWatch Logs filter patterns (server/filter_pattern.c): compile
 * any text, and match a compiled pattern against any message.
 *
 * Input: "<pattern>\n<message>". Compilation must fail cleanly (with a reason) or succeed;
 * matching must terminate; neither may recurse without bound. A space-delimited pattern's
 * named fields must map back to themselves, and what they matched must lie in the message.
 * The pattern line is also compiled as a lone selector (as metric values and dimensions are:
 * "$.a['b.c'][0]") and applied to the message parsed as JSON.
 */
#include "filter_pattern.h"
#include "jsonbody.h"

#include <stdint.h>
#include <stdio.h>
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
    char why[400] = "";
    sky__pattern *p = sky__pattern_compile(pattern, why, sizeof why);
    if (!p && !why[0])
        abort(); /* a refusal always says why */
    if (p) {
        bool plain = sky__pattern_match(p, msg, mlen);
        size_t nf = sky__pattern_n_fields(p);
        sky__field *f = nf ? calloc(nf, sizeof *f) : NULL;
        if (nf && !f)
            abort();
        if (sky__pattern_match_fields(p, msg, mlen, f) != plain)
            abort(); /* extracting never changes whether it matches */
        for (size_t i = 0; i < nf; i++) {
            const char *name = sky__pattern_field_name(p, i);
            char ref[SKY__PATTERN_MAX_LEN + 2];
            if (!name)
                abort();
            snprintf(ref, sizeof ref, "$%s", name);
            if (sky__pattern_field_index(p, ref) != (long)i)
                abort();
            if (plain && (f[i].ptr < msg || f[i].ptr + f[i].len > msg + mlen))
                abort();
        }
        free(f);
    }
    sky__pattern_free(p);
    sky__selector *sel = sky__selector_compile(pattern);
    if (sel) {
        const char *jwhy;
        json_t *root = sky__json_load(msg, mlen, &jwhy);
        json_t *v = sky__selector_get(sel, root);
        if (v && !root)
            abort();
        json_decref(root);
        sky__selector_free(sel);
    }
    free(pattern);
    return 0;
}
