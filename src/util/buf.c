/*
 * buf.c - growable buffer and number formatting for the renderers (see buf.h).
 *
 * Numbers are formatted by hand because the render path must not call printf: integers two
 * digits at a time by multiplication (no division, see below), doubles by an exact short path
 * (values that are m / 10^k for k <= 6, which covers durations and most measured values) with
 * a round-trip-checked %.17g fallback for the rest.
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

/*
 * Integers without division. For n below 10^(2k+2), y = n * 2^32 / 10^(2k), rounded up, holds
 * the leading one or two digits in its high 32 bits and the rest of n / 10^(2k) as a 32-bit
 * binary fraction below them. Multiplying that fraction by 100 moves the next two digits into
 * the high half, and so on: one multiplication per digit pair, no division, no digit count.
 *
 * The rounding error e of y (in units of 2^-32) is multiplied by 100 at each step, and the j-th
 * pair is right only if the error then stays below the gap to the next pair value: e < 2^32 /
 * 10^(2k) suffices. y is never below the exact value, so an exact fraction is never read as
 * one less. Per range (the scale that fits in 64 bits without a shift, else with one):
 *   n < 10^4: y = n * ceil(2^32/10^2)                e <= 10^4 * 0.04   =    400 < 42,949,672
 *   n < 10^6: y = n * ceil(2^32/10^4)                e <= 10^6 * 0.2704 = 270,400 <    429,496
 *   n < 10^8: y = (n * ceil(2^52/10^6) >> 20) + 1   e <= 10^8 * 0.63 / 2^20 + 1 < 62 <  4,294
 * The + 1 makes up for the bits the shift drops. tests/unit/test_numfmt.c checks every range
 * edge and millions of values against printf.
 */
#define Y4(n) ((uint64_t)(n) * 42949673u)
#define Y6(n) ((uint64_t)(n) * 429497u)
#define Y8(n) (((uint64_t)(n) * 4503599628ull >> 20) + 1)

static inline char *put_lead(char *d, uint32_t t)
{
    if (t < 10) {
        *d = (char)('0' + t);
        return d + 1;
    }
    memcpy(d, digit_pairs + 2 * t, 2);
    return d + 2;
}

/* The next two digits of the fraction in y (see above). */
static inline char *put_next_pair(char *d, uint64_t *y)
{
    *y = (uint64_t)(uint32_t)*y * 100;
    memcpy(d, digit_pairs + 2 * (*y >> 32), 2);
    return d + 2;
}

/* Exactly 8 digits, leading zeros included, for n < 10^8. */
static inline void put_8(char *d, uint32_t n)
{
    uint64_t y = Y8(n);
    memcpy(d, digit_pairs + 2 * (y >> 32), 2);
    d = put_next_pair(d + 2, &y);
    d = put_next_pair(d, &y);
    put_next_pair(d, &y);
}

static inline char *put_u32(char *d, uint32_t n)
{
    uint64_t y;
    if (n < 100)
        return put_lead(d, n);
    if (n < 10000) {
        y = Y4(n);
        d = put_lead(d, (uint32_t)(y >> 32));
        return put_next_pair(d, &y);
    }
    if (n < 1000000) {
        y = Y6(n);
        d = put_lead(d, (uint32_t)(y >> 32));
        d = put_next_pair(d, &y);
        return put_next_pair(d, &y);
    }
    if (n < 100000000) {
        y = Y8(n);
        d = put_lead(d, (uint32_t)(y >> 32));
        d = put_next_pair(d, &y);
        d = put_next_pair(d, &y);
        return put_next_pair(d, &y);
    }
    uint32_t top = n / 100000000; /* 1..42 */
    d = put_lead(d, top);
    put_8(d, n - top * 100000000);
    return d + 8;
}

/* Values beyond 32 bits are rare in logs (ids, sizes, nanosecond times): 8-digit blocks, with
 * the two divisions the compiler turns into multiplications. */
static __attribute__((noinline)) char *put_u64_wide(char *d, uint64_t v)
{
    if (v < 10000000000000000ull) {
        uint64_t hi = v / 100000000; /* < 10^8 */
        d = put_u32(d, (uint32_t)hi);
        put_8(d, (uint32_t)(v - hi * 100000000));
        return d + 8;
    }
    uint64_t top = v / 10000000000000000ull; /* < 1845 */
    uint64_t rest = v - top * 10000000000000000ull;
    uint64_t mid = rest / 100000000;
    d = put_u32(d, (uint32_t)top);
    put_8(d, (uint32_t)mid);
    put_8(d + 8, (uint32_t)(rest - mid * 100000000));
    return d + 16;
}

static inline char *put_u64(char *d, uint64_t v)
{
    if (v <= UINT32_MAX)
        return put_u32(d, (uint32_t)v);
    return put_u64_wide(d, v);
}

char *sky__u64_raw(char *d, uint64_t v) { return put_u64(d, v); }

char *sky__i64_raw(char *d, int64_t v)
{
    if (v < 0) {
        *d++ = '-';
        return put_u64(d, (uint64_t)0 - (uint64_t)v);
    }
    return put_u64(d, (uint64_t)v);
}

void sky__buf_u64(sky_buf *b, uint64_t v)
{
    char tmp[20];
    sky__buf_put(b, tmp, (size_t)(sky__u64_raw(tmp, v) - tmp));
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

/* The fraction f (0 < f < 10^6) as six digits at d with its trailing zeros dropped; may write
 * 8 bytes. */
static inline char *put_frac6(char *d, uint32_t f)
{
    uint64_t y = Y6(f);
    /* One or two digits (.5, .25) are the common case: the last four are zero exactly when
     * y's fraction part is below 10^-4 * 2^32 (it is then only the error, <= 270,400) */
    if ((uint32_t)y < 429497u) {
        memcpy(d, digit_pairs + 2 * (y >> 32), 2);
        return d + 1 + (d[1] != '0');
    }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* the three pairs as one word: the highest non-'0' byte ends the text */
    uint16_t p0, p1, p2;
    memcpy(&p0, digit_pairs + 2 * (y >> 32), 2);
    y = (uint64_t)(uint32_t)y * 100;
    memcpy(&p1, digit_pairs + 2 * (y >> 32), 2);
    y = (uint64_t)(uint32_t)y * 100;
    memcpy(&p2, digit_pairs + 2 * (y >> 32), 2);
    uint64_t w = p0 | (uint64_t)p1 << 16 | (uint64_t)p2 << 32;
    memcpy(d, &w, 8);
    return d + 8 - (__builtin_clzll(w ^ 0x303030303030ull) >> 3); /* f != 0: some digit is */
#else
    memcpy(d, digit_pairs + 2 * (y >> 32), 2);
    put_next_pair(put_next_pair(d + 2, &y), &y);
    int n = 6;
    while (d[n - 1] == '0')
        n--;
    return d + n;
#endif
}

/* Everything the short path does not take: the shortest of %.15g, %.16g, %.17g that reads back
 * to v. JSON readers treat "1e+20" as a number; a bare integer-looking text is fine too. */
static __attribute__((noinline)) char *f64_printf(char *d, double v)
{
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

char *sky__f64_raw(char *d, double v)
{
    /* Short path: |v| < 10^9 is the double nearest to a decimal D with at most six fraction
     * digits. Such a D has at most 15 significant digits, so it is the only one that reads back
     * to v and it is the shortest; it is written as "integer part . fraction", fraction at
     * least "0". a - ip is exact, and (a - ip) * 10^6 is within 0.07 of D's six-digit fraction
     * (half an ulp of a below 10^9, scaled), so rounding it finds that fraction if D exists;
     * the division, correctly rounded and on exact operands (< 10^15), says whether it does. */
    double a = fabs(v);
    if (a < 1e9) {
        uint32_t ip = (uint32_t)a;
        uint32_t f = (uint32_t)((a - (double)ip) * 1e6 + 0.5);
        /* f == 0 passes only for an integer; f == 10^6 never passes */
        if (((double)ip * 1e6 + (double)f) / 1e6 == a) {
            if (signbit(v))
                *d++ = '-';
            d = put_u32(d, ip);
            *d++ = '.';
            if (f == 0) {
                *d = '0';
                return d + 1;
            }
            return put_frac6(d, f);
        }
    }
    return f64_printf(d, v);
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
