/*
 * buf.c - growable buffer and number formatting for the renderers (see buf.h).
 *
 * Numbers are formatted by hand because the render path must not call printf: integers two
 * digits at a time from a table, doubles by an exact short path (values that are m / 10^k for a
 * small k, which covers durations and most measured values) with a round-trip-checked %.17g
 * fallback for the rest.
 */
#include "util/buf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

bool sky__buf_grow(sky_buf *b, size_t extra)
{
    if (b->oom)
        return false;
    if (b->fixed) {
        b->oom = true;
        return false;
    }
    size_t need = b->len + extra;
    if (need < b->len) {
        b->oom = true;
        return false;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap * 2 > cap ? cap * 2 : need;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

void sky__buf_free(sky_buf *b)
{
    if (!b->fixed)
        free(b->p);
    memset(b, 0, sizeof *b);
}

static const char digit_pairs[201] = "00010203040506070809"
                                     "10111213141516171819"
                                     "20212223242526272829"
                                     "30313233343536373839"
                                     "40414243444546474849"
                                     "50515253545556575859"
                                     "60616263646566676869"
                                     "70717273747576777879"
                                     "80818283848586878889"
                                     "90919293949596979899";

/* Decimal digits of v: log2 from the leading zero count, times log10(2) (1233 / 4096), is
 * the count or one less; one table compare decides. p10[0] is 0 so that 0 has one digit. */
static inline unsigned digits10(uint64_t v)
{
    static const uint64_t p10[20] = {0,
                                     10ull,
                                     100ull,
                                     1000ull,
                                     10000ull,
                                     100000ull,
                                     1000000ull,
                                     10000000ull,
                                     100000000ull,
                                     1000000000ull,
                                     10000000000ull,
                                     100000000000ull,
                                     1000000000000ull,
                                     10000000000000ull,
                                     100000000000000ull,
                                     1000000000000000ull,
                                     10000000000000000ull,
                                     100000000000000000ull,
                                     1000000000000000000ull,
                                     10000000000000000000ull};
    unsigned t = (unsigned)(64 - __builtin_clzll(v | 1)) * 1233 >> 12;
    return t + 1 - (v < p10[t]);
}

char *sky__u64_raw(char *d, uint64_t v)
{
    unsigned n = digits10(v);
    char *p = d + n;
    while (v >= 100) {
        unsigned i = (unsigned)(v % 100) * 2;
        v /= 100;
        *--p = digit_pairs[i + 1];
        *--p = digit_pairs[i];
    }
    if (v >= 10) {
        unsigned i = (unsigned)v * 2;
        *--p = digit_pairs[i + 1];
        *--p = digit_pairs[i];
    } else {
        *--p = (char)('0' + v);
    }
    return d + n;
}

char *sky__i64_raw(char *d, int64_t v)
{
    if (v < 0) {
        *d++ = '-';
        return sky__u64_raw(d, (uint64_t)0 - (uint64_t)v);
    }
    return sky__u64_raw(d, (uint64_t)v);
}

void sky__buf_u64(sky_buf *b, uint64_t v)
{
    char tmp[20];
    char *end = tmp + sizeof tmp, *p = end;
    while (v >= 100) {
        unsigned i = (unsigned)(v % 100) * 2;
        v /= 100;
        *--p = digit_pairs[i + 1];
        *--p = digit_pairs[i];
    }
    if (v >= 10) {
        unsigned i = (unsigned)v * 2;
        *--p = digit_pairs[i + 1];
        *--p = digit_pairs[i];
    } else {
        *--p = (char)('0' + v);
    }
    sky__buf_put(b, p, (size_t)(end - p));
}

void sky__buf_i64(sky_buf *b, int64_t v)
{
    if (v < 0) {
        sky__buf_putc(b, '-');
        sky__buf_u64(b, (uint64_t)0 - (uint64_t)v);
    } else {
        sky__buf_u64(b, (uint64_t)v);
    }
}

static const double pow10_tab[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6};

char *sky__f64_raw(char *d, double v)
{
    /* Exact short path: v == m / 10^k with |m| < 2^53, so "m with a decimal point k digits from
     * the right" is the shortest text strtod() maps back to v. */
    double a = fabs(v);
    if (a < 1e9) {
        for (int k = 0; k <= 6; k++) {
            double scaled = v * pow10_tab[k];
            /* |scaled| < 1e15 fits an int64_t: truncating is exact for an integral value,
             * and one conversion instead of a rounding call */
            int64_t mi = (int64_t)scaled;
            double m = (double)mi;
            if (m == scaled && m / pow10_tab[k] == v) {
                if (signbit(v) && m == 0) {
                    memcpy(d, "-0.0", 4);
                    return d + 4;
                }
                uint64_t mu = mi < 0 ? (uint64_t)0 - (uint64_t)mi : (uint64_t)mi;
                if (mi < 0)
                    *d++ = '-';
                uint64_t ip = mu / (uint64_t)pow10_tab[k];
                uint64_t fp = mu % (uint64_t)pow10_tab[k];
                if (ip < 10)
                    *d++ = (char)('0' + ip);
                else
                    d = sky__u64_raw(d, ip);
                *d++ = '.';
                if (k == 0) {
                    *d++ = '0';
                    return d;
                }
                /* the k fraction digits straight into d (room: SKY_F64_MAX), then drop
                 * trailing zeros, keeping one digit */
                for (int i = k - 1; i >= 0; i--) {
                    d[i] = (char)('0' + fp % 10);
                    fp /= 10;
                }
                int n = k;
                while (n > 1 && d[n - 1] == '0')
                    n--;
                return d + n;
            }
        }
    }
    /* JSON readers treat "1e+20" as a number; keep it. A bare integer-looking text is fine too. */
    char tmp[40];
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    if (n < 0)
        n = 0;
    if (n > SKY_F64_MAX)
        n = SKY_F64_MAX;
    memcpy(d, tmp, (size_t)n);
    return d + n;
}

void sky__buf_f64(sky_buf *b, double v)
{
    if (!sky__buf_reserve(b, SKY_F64_MAX))
        return;
    b->len = (size_t)(sky__f64_raw(b->p + b->len, v) - b->p);
}

void sky__buf_printf(sky_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        sky__buf_put(b, small, (size_t)n);
        return;
    }
    if (!sky__buf_reserve(b, (size_t)n + 1))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *sky__buf_strdup(const sky_buf *b)
{
    char *s = malloc(b->len + 1);
    if (!s)
        return NULL;
    if (b->len)
        memcpy(s, b->p, b->len);
    s[b->len] = '\0';
    return s;
}

const char *sky__buf_cstr(sky_buf *b)
{
    if (b->oom)
        return NULL;
    if (!b->p)
        return "";
    b->p[b->len] = '\0';
    return b->p;
}

char *sky__buf_steal(sky_buf *b)
{
    char *s = b->oom ? NULL : b->p ? b->p : strdup("");
    if (b->oom)
        free(b->p);
    memset(b, 0, sizeof *b);
    return s;
}

void sky__buf_wipe(sky_buf *b)
{
    if (b->p) {
        volatile char *v = b->p;
        for (size_t i = 0; i < b->cap; i++)
            v[i] = 0;
    }
    sky__buf_free(b);
}
