/*
 * termsafe.c - see termsafe.h for the rule. One scanner decides character by character; the
 * modes differ only in what they keep and how an escape is spelt. Counting and writing are the
 * same pass, so a table's column widths come from the code that prints the cells.
 */
#include "util/termsafe.h"

#include "util/text.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The length of the valid UTF-8 character at p (n bytes left) and its code point; 0 if the
 * byte at p does not start one. */
static size_t utf8_next(const unsigned char *p, size_t n, uint32_t *cp)
{
    static const unsigned char lead_bits[5] = {0, 0x7f, 0x1f, 0x0f, 0x07};
    size_t len = sky__utf8_seq_len(p, n);
    uint32_t c = len ? p[0] & lead_bits[len] : 0;
    for (size_t i = 1; i < len; i++)
        c = c << 6 | (p[i] & 0x3f);
    *cp = c;
    return len;
}

static bool hidden(uint32_t c)
{
    return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x061c || c == 0x200e || c == 0x200f ||
           c == 0x2028 || c == 0x2029 || (c >= 0x202a && c <= 0x202e) ||
           (c >= 0x2066 && c <= 0x2069);
}

size_t sky__termsafe(sky_buf *out, const char *str, size_t n, sky__termsafe_mode mode)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t cols = 0, plain = 0; /* s[plain..i) is copied as it is, in one piece */
    bool json = mode == SKY__TERMSAFE_JSON;
    for (size_t i = 0; i < n;) {
        uint32_t c = 0;
        size_t len = utf8_next(s + i, n - i, &c);
        const char *named = NULL; /* an escape to write instead of the character, if any */
        unsigned u = 0;           /* else: this code point as a u escape; len 0: the byte as x */
        if (len == 0) {
            named = json ? "\\uFFFD" : NULL; /* jansson writes no invalid UTF-8 */
        } else if (hidden(c) && !(mode == SKY__TERMSAFE_CSV && (c == '\n' || c == '\t')) &&
                   !(json && c < 0x20)) {
            named = json        ? NULL
                    : c == '\n' ? "\\n"
                    : c == '\r' ? "\\r"
                    : c == '\t' ? "\\t"
                                : NULL;
            u = named ? 0 : (unsigned)c;
        } else {
            cols++;
            i += len;
            continue;
        }
        if (out) {
            sky__buf_put(out, s + plain, i - plain);
            if (named) /* (printf: GCC -O2 misjudges an inlined copy of a short literal) */
                sky__buf_printf(out, "%s", named);
            else if (len == 0)
                sky__buf_printf(out, "\\x%02x", s[i]);
            else /* JSON: spelt as jansson spells its escapes */
                sky__buf_printf(out, json ? "\\u%04X" : "\\u%04x", u);
        }
        cols += named ? strlen(named) : len == 0 ? 4 : 6;
        i += len ? len : 1;
        plain = i;
    }
    if (out)
        sky__buf_put(out, s + plain, n - plain);
    return cols;
}
