/*
 * buf.c - growable buffer and number formatting for the renderers (see buf.h).
 *
 * Numbers are formatted by hand because the render path must not call printf: integers two
 * digits at a time by multiplication (no division, see below), doubles by an exact short path
 * (values that are m / 10^k for k <= 6, which covers durations and most measured values) and
 * a shortest round-trip conversion (Schubfach, see f64_shortest) for the rest.
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

static inline __attribute__((always_inline)) char *put_u32(char *d, uint32_t n)
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

/*
 * Everything the short path does not take: the shortest decimal that reads back to v, by
 * Schubfach (R. Giulietti, "The Schubfach way to render doubles", 2020), written for this file
 * from the paper's description.
 *
 * v = c 2^q. The doubles that read back to v are those in its rounding interval R, bounded by
 * the midpoints to its neighbours (closed when c is even, as readers round half to even). With
 * k = floor(log10(2^q)) (one less at the bottom of a binade, where the interval below is half
 * as wide), 10^-k scales R to a width of 1 to 10 units, so it holds at most one multiple of 10.
 * The decimal is that multiple of 10 if there is one (one digit shorter), else whichever of the
 * integers just below and above the scaled v is in R, the closer one if both are (ties to
 * even). The scaled bounds are
 * computed as 4 c' 10^-k 2^q with a 126-bit approximation g of 10^-k and "round to odd"
 * (rop), which the paper proves enough to decide every membership and comparison exactly.
 *
 * Table: g(k) = floor(beta) + 1 where 10^-k = beta 2^r, 2^125 <= beta < 2^126, for
 * k = -324..292 (every k a double needs). Rather than 617 entries, pow10_base holds
 * floor(beta) for every 28th k (k = 292 - 28j), and g(k) is rebuilt from the entry at k + r
 * (r < 28) times 5^r (exact in 64 bits), shifted back to 126 bits. That product drops the base's
 * fraction times 5^r, so the rebuilt floor is 0, 1 or 2 below the true one: pow10_fix holds that
 * difference, two bits per k. Both tables were computed from those definitions with exact
 * integer arithmetic (Python big integers: floor(beta) is 10^-k shifted, or 2^n // 10^k), and
 * tests/unit/test_numfmt.c recomputes every g(k) with its own big-integer code and compares
 * (sky__f64_pow10_g): an entry off by one changes few outputs, so only that test sees it.
 *
 * The digits are laid out as printf's %.Pg did when this fallback called snprintf with
 * P = 15, 16 or 17 (the first that read back): P = max(digits, 15), exponent form when the
 * exponent is below -4 or at least P, trailing zeros dropped, exponent with a sign and at
 * least two digits. The text is never longer than that old one and differs only where the old
 * one was not the shortest: subnormals ("5e-324", was "4.94065645841247e-324") and the rare
 * value whose 16 correctly rounded digits missed its (asymmetric) interval while 16 others hit
 * it (was 17 digits).
 */
typedef unsigned __int128 u128;

#define POW10_KMAX 292
#define POW10_STEP 28

static const struct {
    uint64_t hi, lo;
} pow10_base[] = {
    {0x3fddec7f2faf3713ull, 0xc97a3a2704eec3deull}, /* 10^-292 */
    {0x203e9a1fe2071fe3ull, 0x9f39998d2f2742e6ull}, /* 10^-264 */
    {0x208f049e576db395ull, 0xddb14f4235adc216ull}, /* 10^-236 */
    {0x20e037aa4f692f18ull, 0x1091f2e7967dc79bull}, /* 10^-208 */
    {0x21323537f4b18fceull, 0xca7b367d0010781cull}, /* 10^-180 */
    {0x2184ff405161dd61ull, 0x6f419d0b3a57d7cdull}, /* 10^-152 */
    {0x21d897c15b1f12a2ull, 0xc451c735d92b525cull}, /* 10^-124 */
    {0x222d00bdff5d54e6ull, 0xc476f2c0863aed05ull}, /* 10^-96 */
    {0x22823c3e2fc3c55aull, 0xc6e3a7b2d906d63full}, /* 10^-68 */
    {0x22d84c4eeeaf38b1ull, 0x88c8eb12cecf6805ull}, /* 10^-40 */
    {0x232f33025bd42232ull, 0xfe4fe1edd10b9174ull}, /* 10^-12 */
    {0x2386f26fc1000000ull, 0x0000000000000000ull}, /* 10^16 */
    {0x23df8cb39efa971bull, 0xf9208008e8800000ull}, /* 10^44 */
    {0x243903efba874e92ull, 0xaf22557a51bf8c73ull}, /* 10^72 */
    {0x24935a4b2986f9d6ull, 0x164f09899c17e715ull}, /* 10^100 */
    {0x24ee91f2603a6337ull, 0xf19bccdb0dac404dull}, /* 10^128 */
    {0x254aad173ea5e82cull, 0xb765169d1efc9860ull}, /* 10^156 */
    {0x25a7adf11e1679d0ull, 0xe7d912b9692c6cc9ull}, /* 10^184 */
    {0x260596bcdec854f7ull, 0xb0dc9e8cdea2dc12ull}, /* 10^212 */
    {0x266469bcf5afc5d9ull, 0x6b329b68782a3bcaull}, /* 10^240 */
    {0x26c429397a644c4aull, 0x329f3cad064720c9ull}, /* 10^268 */
    {0x2724d780352e7634ull, 0x9bb46fe695a7ccf4ull}, /* 10^296 */
    {0x278676e4ad38c6eaull, 0x5b01e8b09aa0d1b4ull}, /* 10^324 */
};

static const uint64_t pow5[POW10_STEP] = { /* 5^0 .. 5^27, the last power below 2^64 */
    1ull, 5ull, 25ull, 125ull, 625ull, 3125ull, 15625ull, 78125ull, 390625ull, 1953125ull,
    9765625ull, 48828125ull, 244140625ull, 1220703125ull, 6103515625ull, 30517578125ull,
    152587890625ull, 762939453125ull, 3814697265625ull, 19073486328125ull, 95367431640625ull,
    476837158203125ull, 2384185791015625ull, 11920928955078125ull, 59604644775390625ull,
    298023223876953125ull, 1490116119384765625ull, 7450580596923828125ull,
};

/* The correction for k, at bits 2i..2i+1 (i = 292 - k, 32 to a word). */
static const uint64_t pow10_fix[] = {
    0x5400000455144044ull, 0x0040410555454551ull, 0x4555040000000000ull, 0x9659596410544015ull,
    0x1545551514525955ull, 0x5550955505505155ull, 0x0104140004000055ull, 0x5095556596a65a54ull,
    0x4954540510515004ull, 0x000000aaaaaaa996ull, 0x0000000000000000ull, 0x0544514414000000ull,
    0x5555055554544105ull, 0x5545555555151455ull, 0x0096555565955554ull, 0x0544004540500050ull,
    0x0010105105055041ull, 0x5515051411010400ull, 0x5955555954401155ull, 0x0000000000005591ull,
};

/* floor(log10(2^e)), floor(log10(3/4 2^e)), floor(log2(10^e)): fixed-point logarithms, as the
 * paper gives them, exact for the arguments used here (q in -1074..971, k in -324..292; the
 * table generator checked the first two for |e| < 1100 and the third for |e| < 400 against
 * exact values). The shifts are of negative numbers too, which GCC and clang make arithmetic. */
static inline int flog10_pow2(int e) { return (int)((int64_t)e * 661971961083 >> 41); }
static inline int flog10_34pow2(int e)
{
    return (int)(((int64_t)e * 661971961083 - 274743187321) >> 41);
}
static inline int flog2_pow10(int e) { return (int)((int64_t)e * 913124641741 >> 38); }

/* g(k) (see above), -324 <= k <= 292, as its high and low 64 bits. */
static inline u128 pow10_g(int k)
{
    unsigned i = (unsigned)(POW10_KMAX - k), r = i % POW10_STEP;
    uint64_t p5 = pow5[r];
    u128 lo = (u128)pow10_base[i / POW10_STEP].lo * p5;
    u128 hi = (u128)pow10_base[i / POW10_STEP].hi * p5;
    u128 mid = (hi & UINT64_MAX) + (lo >> 64);
    uint64_t a0 = (uint64_t)lo;
    u128 a21 = ((hi >> 64) + (mid >> 64)) << 64 | (uint64_t)mid;  /* product = a21 2^64 + a0 */
    int sh = flog2_pow10(-k) - flog2_pow10(-k - (int)r) - (int)r;     /* 0..63 */
    u128 f = sh ? a21 << (64 - sh) | a0 >> sh : a21 << 64 | a0;
    return f + (pow10_fix[i / 32] >> (2 * (i % 32)) & 3) + 1;
}

void sky__f64_pow10_g(int k, uint64_t g[2])
{
    u128 x = pow10_g(k);
    g[0] = (uint64_t)(x >> 64);
    g[1] = (uint64_t)x;
}

/* Round to odd of g cp 2^-127, with g as its high and low 63 bits, as the paper computes it. */
static inline uint64_t rop(uint64_t g1, uint64_t g0, uint64_t cp)
{
    uint64_t x1 = (uint64_t)((u128)g0 * cp >> 64);
    u128 y = (u128)g1 * cp;
    uint64_t z = ((uint64_t)y >> 1) + x1;
    uint64_t vbp = (uint64_t)(y >> 64) + (z >> 63);
    return vbp | (((z & INT64_MAX) + INT64_MAX) >> 63);
}

/* The shortest decimal f 10^e in the interval of c 2^q (c >= 3), the closest to it of those. */
static uint64_t schubfach(uint64_t c, int q, int *e)
{
    uint64_t out = c & 1, cb = c << 2, cbr = cb + 2, cbl;
    int k;
    if (c != (1ull << 52) || q == -1074) {
        cbl = cb - 2;
        k = flog10_pow2(q);
    } else { /* bottom of a binade: the neighbour below is half as far */
        cbl = cb - 1;
        k = flog10_34pow2(q);
    }
    int h = q + flog2_pow10(-k) + 2;
    u128 g = pow10_g(k);
    uint64_t g1 = (uint64_t)(g >> 63), g0 = (uint64_t)g & INT64_MAX;
    uint64_t vb = rop(g1, g0, cb << h), vbl = rop(g1, g0, cbl << h), vbr = rop(g1, g0, cbr << h);
    uint64_t s = vb >> 2;
    {
        /* A multiple of 10 in the interval: one digit shorter. The paper's code tries this only
         * when s >= 100; only subnormals below 21 2^-1074 have a smaller s, and without the
         * condition they get their shortest digits too ("6e-323", not "5.9e-323"). */
        uint64_t sp10 = s / 10 * 10, tp10 = sp10 + 10;
        bool upin = vbl + out <= sp10 << 2, wpin = (tp10 << 2) + out <= vbr;
        if (upin != wpin) {
            *e = k;
            return upin ? sp10 : tp10;
        }
    }
    uint64_t t = s + 1;
    bool uin = vbl + out <= s << 2, win = (t << 2) + out <= vbr;
    *e = k;
    if (uin != win)
        return uin ? s : t;
    /* both in: the closer to v, the even one on a tie */
    uint64_t mid2 = (s + t) << 1;
    return vb < mid2 || (vb == mid2 && (s & 1) == 0) ? s : t;
}

static __attribute__((noinline)) char *f64_shortest(char *d, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, 8);
    uint64_t frac = bits & ((1ull << 52) - 1);
    unsigned bexp = (unsigned)(bits >> 52) & 0x7ff;
    if (bexp == 0x7ff)
        return d; /* NaN, Inf: callers write those themselves */
    if (bits >> 63)
        *d++ = '-';
    uint64_t f;
    int e = 0;
    if (bexp == 0) {
        if (frac == 0) {
            *d = '0';
            return d + 1;
        }
        /* The two smallest subnormals are below the algorithm's domain (the paper's C_TINY;
         * it gives them two digits): both have a one-digit decimal in their interval,
         * 5e-324 in (2.47e-324, 7.41e-324) and 1e-323 in [7.41e-324, 1.24e-323]. */
        if (frac < 3) {
            f = frac == 1 ? 5 : 1;
            e = frac == 1 ? -324 : -323;
        } else {
            f = schubfach(frac, -1074, &e);
        }
    } else {
        uint64_t c = frac | 1ull << 52;
        int q = (int)bexp - 1075;
        if (q < 0 && q > -53 && (c & ((1ull << -q) - 1)) == 0)
            f = c >> -q; /* an integer below 2^53: its own digits */
        else
            f = schubfach(c, q, &e);
    }
    /* The digits, then their layout (see above). dig is pre-filled with '0's so that fixed-size
     * copies bring zero padding along; every copy ends within 30 bytes of the start (sign, at
     * most "0.000", 24 bytes of dig). The text itself is at most 24 bytes long:
     * "-2.2250738585072014e-308". */
    _Static_assert(SKY_F64_MAX >= 30, "f64_shortest's copies need 30 bytes of room");
    char dig[24];
    memset(dig, '0', sizeof dig);
    int n = (int)(put_u64(dig, f) - dig);
    int x = e + n - 1; /* v = d.ddd 10^x */
    while (n > 8 && memcmp(dig + n - 8, "00000000", 8) == 0)
        n -= 8;
    while (dig[n - 1] == '0')
        n--;
    int p = n > 15 ? n : 15;
    if (x < -4 || x >= p) {
        d[0] = dig[0];
        d[1] = '.';
        memcpy(d + 2, dig + 1, 16);
        d += n > 1 ? n + 1 : 1;
        *d++ = 'e';
        *d++ = x < 0 ? '-' : '+';
        unsigned ax = (unsigned)(x < 0 ? -x : x);
        if (ax >= 100)
            *d++ = (char)('0' + ax / 100);
        memcpy(d, digit_pairs + 2 * (ax % 100), 2);
        return d + 2;
    }
    if (x < 0) { /* "0.", -x - 1 zeros, the digits */
        memcpy(d, "0.000000", 8);
        d += 1 - x;
        memcpy(d, dig, 24);
        return d + n;
    }
    memcpy(d, dig, 24);
    if (n <= x + 1)
        return d + x + 1; /* an integer, zero padded */
    d[x + 1] = '.';
    sky__copy_small(d + x + 2, dig + x + 1, (size_t)(n - x - 1));
    return d + n + 1;
}

/* sky__f64_raw, and with `finite` NULL for NaN and the infinities (tested off the short path,
 * which takes finite values only: NaN fails its compare). */
static inline __attribute__((always_inline)) char *f64_raw(char *d, double v, bool finite)
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
    if (finite && !isfinite(v))
        return NULL;
    return f64_shortest(d, v);
}

char *sky__f64_raw(char *d, double v) { return f64_raw(d, v, false); }

char *sky__f64_raw_finite(char *d, double v) { return f64_raw(d, v, true); }

void sky__buf_f64(sky_buf *b, double v)
{
    if (!sky__buf_reserve(b, SKY_F64_MAX))
        return;
    b->len = (size_t)(sky__f64_raw(b->p + b->len, v) - b->p);
    b->p[b->len] = '\0'; /* as every append: the raw writer leaves what follows the text */
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
