/*
 * ship_line.c - the time of a JSON line for `skylog ship` (see ship_line.h).
 *
 * The line is never parsed whole: a shipped file holds lines of any size and shape, and only
 * three top-level keys matter, so one pass finds the key at depth 1 outside strings and the
 * value is read from there. Lines are not NUL-terminated (ship reads them in place), so a
 * number is copied into a small buffer before strtod() sees it: strtod would otherwise run on
 * into the next line or, for the last line of a file, into whatever the buffer held before.
 */
#include "ship_line.h"

#include <skylog/aws.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Value of a top-level key in a JSON object line, without parsing the whole line: finds
 * "key" followed by ':' at nesting depth 1, outside strings. Returns a pointer to the value. */
static const char *top_level_value(const char *s, size_t n, const char *key)
{
    size_t kl = strlen(key);
    int depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '{' || c == '[')
            depth++;
        else if (c == '}' || c == ']')
            depth--;
        else if (c == '"') {
            if (depth == 1 && i + kl + 2 <= n && s[i + kl + 1] == '"' &&
                memcmp(s + i + 1, key, kl) == 0) {
                size_t j = i + kl + 2;
                while (j < n && (s[j] == ' ' || s[j] == '\t'))
                    j++;
                if (j < n && s[j] == ':') {
                    j++;
                    while (j < n && (s[j] == ' ' || s[j] == '\t'))
                        j++;
                    return j < n ? s + j : NULL;
                }
            }
            in_str = true;
        }
    }
    return NULL;
}

/* A JSON number at v (end: the line's end) as ms; false if it is none or out of range. */
static bool number_ms(const char *v, const char *end, int64_t *ms)
{
    /* integers (the common case) without strtod; fractions and exponents with it */
    const char *p = v;
    int64_t iv = 0;
    int digits = 0;
    while (p < end && *p >= '0' && *p <= '9' && digits < 18) {
        iv = iv * 10 + (*p++ - '0');
        digits++;
    }
    if (digits &&
        (p == end || (*p != '.' && *p != 'e' && *p != 'E' && !(*p >= '0' && *p <= '9')))) {
        *ms = iv < 100000000000LL ? iv * 1000 : iv;
        return true;
    }
    /* only JSON's number characters, and no more than a number needs (strtod would take
     * "nan", "inf" and hex too: JSON has none of them) */
    char buf[64];
    size_t k = 0;
    for (p = v; p < end && k < sizeof buf - 1 && strchr("0123456789+-.eE", *p) && *p; p++)
        buf[k++] = *p;
    buf[k] = '\0';
    char *stop;
    double d = strtod(buf, &stop);
    if (stop == buf || !isfinite(d))
        return false;
    double out = d < 1e11 ? d * 1000.0 : d;
    if (!(fabs(out) <= (double)SKY__SHIP_TS_MAX_MS))
        return false;
    *ms = (int64_t)out;
    return true;
}

bool sky__line_timestamp(const char *s, size_t n, int64_t *ms)
{
    if (n < 2 || s[0] != '{')
        return false;
    static const char *const keys[] = {"timestamp", "time", "ts"};
    for (size_t k = 0; k < 3; k++) {
        const char *v = top_level_value(s, n, keys[k]);
        if (!v)
            continue;
        if (*v == '"') {
            char buf[64];
            const char *q = memchr(v + 1, '"', (size_t)(s + n - v - 1));
            if (!q || (size_t)(q - v - 1) >= sizeof buf)
                continue;
            memcpy(buf, v + 1, (size_t)(q - v - 1));
            buf[q - v - 1] = '\0';
            int64_t ns;
            if (sky_aws_parse_time(buf, &ns) == SKY_OK) {
                *ms = ns / 1000000;
                return true;
            }
            continue;
        }
        if (number_ms(v, s + n, ms))
            return true;
    }
    return false;
}
