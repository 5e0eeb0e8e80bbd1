/* test_numfmt.c - the renderers' number formatting (src/util/buf.c) against references kept
 * here: printf for integers, and for doubles the exact-short-path algorithm as it was before the
 * multiplication-based rewrite (byte for byte where it took its short path) and the printf
 * fallback the shortest conversion replaced, plus properties every output must have: it reads
 * back to the same double, it is a JSON number, no decimal with fewer digits reads back to it,
 * its digits are printf's correctly rounded ones, its layout is %g's, it is no longer than the
 * old text, and the raw writers stay inside their documented room. The conversion's power-of-ten
 * table is recomputed here with big integers.
 * Fixed seeds, several million values in all. */
#include "skytest.h"

#include "util/buf.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- references ---------------------------------------------------------------------------- */


/* Sanitizer builds run the random loops on an eighth of the values: the checks call snprintf
 * and strtod several times per value, and under TSan that made this the longest test. The
 * release builds (clang's in `make test`) run them all. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RANDOM_SCALE 8
#else
#define RANDOM_SCALE 1
#endif

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint64_t next(void)
{
    /* xorshift64*: fixed seed, so a failure reproduces */
    rng ^= rng >> 12, rng ^= rng << 25, rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1Dull;
}

/* The double formatter before the rewrite, verbatim but for names. *fast says whether it took
 * the exact short path, whose output the new code must reproduce byte for byte. */
static const double ref_pow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6};

static size_t ref_f64(char *out, double v, bool *fast)
{
    char *d = out;
    *fast = true;
    double a = fabs(v);
    if (a < 1e9) {
        for (int k = 0; k <= 6; k++) {
            double scaled = v * ref_pow10[k];
            int64_t mi = (int64_t)scaled;
            double m = (double)mi;
            if (m == scaled && m / ref_pow10[k] == v) {
                if (signbit(v) && m == 0) {
                    memcpy(d, "-0.0", 4);
                    return 4;
                }
                uint64_t mu = mi < 0 ? (uint64_t)0 - (uint64_t)mi : (uint64_t)mi;
                if (mi < 0)
                    *d++ = '-';
                uint64_t ip = mu / (uint64_t)ref_pow10[k];
                uint64_t fp = mu % (uint64_t)ref_pow10[k];
                d += sprintf(d, "%" PRIu64, ip);
                *d++ = '.';
                if (k == 0) {
                    *d++ = '0';
                    return (size_t)(d - out);
                }
                for (int i = k - 1; i >= 0; i--) {
                    d[i] = (char)('0' + fp % 10);
                    fp /= 10;
                }
                int n = k;
                while (n > 1 && d[n - 1] == '0')
                    n--;
                return (size_t)(d + n - out);
            }
        }
    }
    *fast = false;
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(d, 40, "%.*g", prec, v);
        if (strtod(d, NULL) == v)
            break;
    }
    return (size_t)n;
}

/* JSON's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool json_number(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-')
        i++;
    if (i >= n || s[i] < '0' || s[i] > '9')
        return false;
    if (s[i++] != '0')
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    if (i < n && s[i] == '.') {
        size_t f = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == f)
            return false;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t e = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == e)
            return false;
    }
    return i == n;
}

/* Significant digits of a number's text: the mantissa without sign, point, leading and
 * trailing zeros ("42.0" and "4.2e+01" have 2, "0.0" has 0). */
static int sig_digits(const char *s, size_t n)
{
    int first = -1, last = -1, i = 0;
    for (size_t k = 0; k < n && s[k] != 'e' && s[k] != 'E'; k++) {
        if (s[k] < '0' || s[k] > '9')
            continue;
        if (s[k] != '0') {
            if (first < 0)
                first = i;
            last = i;
        }
        i++;
    }
    return first < 0 ? 0 : last - first + 1;
}

/* ---- integers ------------------------------------------------------------------------------ */

#define GUARD 48
#define CANARY 0x5A

/* A raw writer's text (got .. end) must be want, and the guard bytes past its room intact. */
static void check_raw(const char *want, const char *got, const char *end, size_t room)
{
    size_t n = strlen(want);
    if ((size_t)(end - got) != n || memcmp(got, want, n) != 0)
        fail_msg("%s: got \"%.*s\"", want, (int)(end - got), got);
    for (size_t i = room; i < room + GUARD; i++)
        if ((unsigned char)got[i] != CANARY)
            fail_msg("%s: wrote past its %zu bytes of room", want, room);
}

static void check_u64(uint64_t v)
{
    char want[32], got[20 + GUARD];
    snprintf(want, sizeof want, "%" PRIu64, v);
    memset(got, CANARY, sizeof got);
    check_raw(want, got, sky__u64_raw(got, v), 20);
}

static void check_i64(int64_t v)
{
    char want[32], got[21 + GUARD];
    snprintf(want, sizeof want, "%" PRId64, v);
    memset(got, CANARY, sizeof got);
    check_raw(want, got, sky__i64_raw(got, v), 21);
    /* the buffer form goes through the same code, but with its own bounds */
    sky_buf b = {0};
    sky__buf_i64(&b, v);
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.p, want, b.len);
    assert_int_equal(b.p[b.len], '\0');
    sky__buf_free(&b);
}

static void check_int(uint64_t u)
{
    check_u64(u);
    check_i64((int64_t)u);
}

static void test_integer_edges(void **state)
{
    (void)state;
    const uint64_t fixed[] = {0,          1,          9,          10,        99,
                              100,        4294967295, 4294967296, UINT64_MAX, INT64_MAX,
                              (uint64_t)INT64_MIN,    (uint64_t)INT64_MIN + 1};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        check_int(fixed[i]);
    /* every power of 10 and 2 and their neighbours: digit-count and range edges */
    for (uint64_t p = 1;; p *= 10) {
        for (int d = -3; d <= 3; d++)
            check_int(p + (uint64_t)(int64_t)d);
        if (p > UINT64_MAX / 10)
            break;
    }
    for (int s = 0; s < 64; s++)
        for (int d = -3; d <= 3; d++)
            check_int(((uint64_t)1 << s) + (uint64_t)(int64_t)d);
    /* 0..10^6 and the neighbourhood of each range switch, one by one */
    for (uint64_t v = 0; v <= 1000000; v++)
        check_u64(v);
    const uint64_t edges[] = {100000000ull, 1000000000ull, 4294967296ull, 10000000000000000ull};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
        for (uint64_t v = edges[i] - 20000; v < edges[i] + 20000; v++)
            check_u64(v);
}

static void test_integer_random(void **state)
{
    (void)state;
    for (int i = 0; i < 1000000 / RANDOM_SCALE; i++) {
        uint64_t x = next();
        check_int(x);                       /* uniform bits: mostly 19-20 digits */
        check_int(x >> (next() % 64));      /* every length about equally */
        check_int(x % 100000000);           /* below 10^8: the inline ranges */
        check_int((uint64_t)0 - x % 100000); /* small negatives, as int64 */
    }
}

/* ---- doubles ------------------------------------------------------------------------------- */

static unsigned long n_fast, n_changed, n_shorter, n_shorter_normal, n_checked;

/* The current short path's test (buf.c): its texts keep the "integer.fraction" layout. */
static bool short_path(double v)
{
    double a = fabs(v);
    if (!(a < 1e9))
        return false;
    uint32_t ip = (uint32_t)a;
    uint32_t f = (uint32_t)((a - (double)ip) * 1e6 + 0.5);
    return ((double)ip * 1e6 + (double)f) / 1e6 == a;
}

static bool reads_back(const char *s, double v)
{
    double back = strtod(s, NULL);
    return memcmp(&back, &v, sizeof v) == 0;
}

/* A number's text as its significant digits (no leading or trailing zeros) and the decimal
 * exponent x of the first one: v = d.ddd 10^x. Returns the digit count (0 for zero). */
static int parse_digits(const char *s, size_t n, char *dig, int *x)
{
    int nd = 0, point = -1, lead = 0, i = 0;
    size_t k = 0;
    if (k < n && s[k] == '-')
        k++;
    for (; k < n && s[k] != 'e' && s[k] != 'E'; k++) {
        if (s[k] == '.') {
            point = i;
            continue;
        }
        if (nd == 0 && s[k] == '0')
            lead++;
        else
            dig[nd++] = s[k];
        i++;
    }
    if (point < 0)
        point = i;
    int ex = k < n ? atoi(s + k + 1) : 0;
    while (nd > 0 && dig[nd - 1] == '0')
        nd--;
    dig[nd] = '\0';
    *x = point - lead - 1 + ex;
    return nd;
}

/* %g's layout for P = max(digits, 15), written independently of buf.c's. */
static void layout_g(char *out, bool neg, const char *dig, int nd, int x)
{
    int p = nd > 15 ? nd : 15;
    if (neg)
        *out++ = '-';
    if (x < -4 || x >= p) {
        *out++ = dig[0];
        if (nd > 1)
            out += sprintf(out, ".%s", dig + 1);
        sprintf(out, "e%c%02d", x < 0 ? '-' : '+', x < 0 ? -x : x);
    } else if (x < 0) {
        sprintf(out, "0.%.*s%s", -x - 1, "0000", dig);
    } else if (nd <= x + 1) {
        sprintf(out, "%s%.*s", dig, x + 1 - nd, "00000000000000000000");
    } else {
        sprintf(out, "%.*s.%s", x + 1, dig, dig + x + 1);
    }
}

/* The decimals with p significant digits just below and above v (p >= 1): printf's correctly
 * rounded one and its neighbours in the last place. None of them reads back to v when no
 * p-digit decimal does: the decimals that read back to v form an interval around it. */
static bool some_p_digits_read_back(double v, int p)
{
    char s[48], dig[24];
    snprintf(s, sizeof s, "%.*e", p - 1, v);
    int x, nd = parse_digits(s, strlen(s), dig, &x);
    (void)nd;
    /* dig padded to p digits as an integer m: v ~ m 10^(x - p + 1) */
    uint64_t m = 0;
    for (int i = 0; i < p; i++)
        m = m * 10 + (uint64_t)(i < nd ? dig[i] - '0' : 0);
    for (int d = -1; d <= 1; d++) {
        snprintf(s, sizeof s, "%s%" PRIu64 "e%d", v < 0 ? "-" : "", m + (uint64_t)(int64_t)d,
                 x - p + 1);
        if (reads_back(s, v))
            return true;
    }
    return false;
}

/* got (n bytes, reads back to v) has the fewest significant digits that can, and they are the
 * correctly rounded ones of that length whenever those read back (the closest to v). */
static void check_shortest(double v, const char *got, size_t n)
{
    char dig[32], ref[48], rdig[32];
    int x, rx;
    int nd = parse_digits(got, n, dig, &x);
    n_checked++;
    if (nd == 0)
        return; /* zero */
    if (nd > 17)
        fail_msg("%.17g: \"%.*s\" has %d digits", v, (int)n, got, nd);
    if (nd > 1 && some_p_digits_read_back(v, nd - 1))
        fail_msg("%.17g: \"%.*s\" is not the shortest (%d digits read back)", v, (int)n, got,
                 nd - 1);
    snprintf(ref, sizeof ref, "%.*e", nd - 1, v);
    if (!reads_back(ref, v))
        return; /* at a binade's bottom: the other neighbour was taken */
    int rn = parse_digits(ref, strlen(ref), rdig, &rx);
    if (rn != nd || rx != x || strcmp(rdig, dig) != 0)
        fail_msg("%.17g: \"%.*s\", printf rounds to \"%s\"", v, (int)n, got, ref);
}

static void check_f64(double v)
{
    if (!isfinite(v))
        return;
    char want[48], got[SKY_F64_MAX + GUARD];
    bool fast;
    size_t wn = ref_f64(want, v, &fast);
    memset(got, CANARY, sizeof got);
    size_t n = (size_t)(sky__f64_raw(got, v) - got);
    for (size_t i = SKY_F64_MAX; i < sizeof got; i++)
        if ((unsigned char)got[i] != CANARY)
            fail_msg("%.17g wrote past its %d bytes of room", v, SKY_F64_MAX);
    if (n > SKY_F64_MAX)
        fail_msg("%.17g: %zu bytes", v, n);
    got[n] = '\0';
    if (fast) {
        n_fast++;
        if (n != wn || memcmp(got, want, n) != 0)
            fail_msg("%.17g: got \"%s\", the short path wrote \"%.*s\"", v, got, (int)wn, want);
        return;
    }
    if (!json_number(got, n))
        fail_msg("%.17g: \"%s\" is not a JSON number", v, got);
    if (!reads_back(got, v)) /* -0.0 included */
        fail_msg("%.17g: \"%s\" reads back as %.17g", v, got, strtod(got, NULL));
    check_shortest(v, got, n);
    if (short_path(v)) {
        if (n != wn || memcmp(got, want, n) != 0) {
            /* Below 10^-4 the old loop sometimes missed a short decimal (v * 10^k rounded off
             * an integer) and printf wrote it as "5e-05"; the new test finds it and writes
             * "0.00005". That is the only change allowed, and it must carry the same digits. */
            n_changed++;
            if (!(fabs(v) < 1e-4) || sig_digits(got, n) != sig_digits(want, wn))
                fail_msg("%.17g: \"%s\", was \"%.*s\"", v, got, (int)wn, want);
        }
        return;
    }
    char dig[32], lay[80];
    int x, nd = parse_digits(got, n, dig, &x);
    layout_g(lay, signbit(v), dig, nd, x);
    if (strcmp(got, lay) != 0)
        fail_msg("%.17g: \"%s\", %%g's layout is \"%s\"", v, got, lay);
    /* The printf fallback's text, unless that was not the shortest (subnormals, and 17 digits
     * where 16 others than the correctly rounded ones read back): then shorter. */
    if (n != wn || memcmp(got, want, n) != 0) {
        bool sub = fabs(v) < DBL_MIN;
        n_shorter++;
        n_shorter_normal += !sub;
        if (n > wn || sig_digits(got, n) >= sig_digits(want, wn))
            fail_msg("%.17g: \"%s\", was \"%.*s\"", v, got, (int)wn, want);
        if (sub ? n_shorter - n_shorter_normal <= 2 : n_shorter_normal <= 3)
            print_message("shorter than printf: %s, was %.*s\n", got, (int)wn, want);
    }
}

static void check_f64_pm(double v)
{
    check_f64(v);
    check_f64(-v);
}

static void test_double_edges(void **state)
{
    (void)state;
    const double fixed[] = {0.0,
                            1.0,
                            9.0,
                            10.0,
                            99.0,
                            100.0,
                            1.5,
                            0.25,
                            12.75,
                            3.0,
                            1234.5678,
                            0.1,
                            0.1 + 0.2,
                            1.0 / 3,
                            2.0 / 3,
                            1e-7,
                            1e-6,
                            1.5e-6,
                            1e-5,
                            5e-5,
                            1e-4,
                            0.999999,
                            0.9999995,
                            0.99999949999999,
                            999999999.0,
                            999999999.5,
                            999999999.999999,
                            1e9,
                            1e9 + 0.5,
                            1e15,
                            1e16,
                            1e17,
                            1e20,
                            1e21,
                            1e300,
                            123456.789,
                            9007199254740991.0,
                            9007199254740992.0,
                            9007199254740993.0,
                            4294967295.5,
                            4294967296.0,
                            DBL_MIN,
                            DBL_MAX,
                            DBL_EPSILON,
                            DBL_TRUE_MIN,
                            DBL_MIN / 3,
                            5e-324,
                            2.2250738585072009e-308};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        check_f64_pm(fixed[i]);
    check_f64(-0.0);
    char s[SKY_F64_MAX + 1];
    s[sky__f64_raw(s, -0.0) - s] = '\0';
    assert_string_equal(s, "-0.0");
    s[sky__f64_raw(s, 1.5) - s] = '\0';
    assert_string_equal(s, "1.5");
    s[sky__f64_raw(s, 3.0) - s] = '\0';
    assert_string_equal(s, "3.0");
    s[sky__f64_raw(s, 1234.5678) - s] = '\0';
    assert_string_equal(s, "1234.5678");
    /* powers of 10 and 2, and the doubles either side of them */
    for (int e = -320; e <= 308; e++) {
        double p = pow(10, e);
        check_f64_pm(p);
        check_f64_pm(nextafter(p, 0));
        check_f64_pm(nextafter(p, INFINITY));
    }
    for (int e = -1074; e <= 1023; e++) {
        double p = ldexp(1, e);
        check_f64_pm(p);
        check_f64_pm(nextafter(p, 0));
        check_f64_pm(nextafter(p, INFINITY));
        check_f64_pm(p * 1.5);
    }
}

/* Texts fixed by hand: the exponent threshold (P = max(digits, 15)), signs, the extremes. */
static void test_double_layout(void **state)
{
    (void)state;
    static const struct {
        double v;
        const char *text;
    } cases[] = {
        {1e15, "1e+15"},
        {1e16, "1e+16"},
        {1e17, "1e+17"},
        {123456789012345678.0, "1.2345678901234568e+17"},
        {123456789012345.6, "123456789012345.6"},  /* 16 digits, x = 14 */
        {1234567890123456.7, "1234567890123456.8"}, /* 17 digits, x = 15 < 17 */
        {10000000000000002.0, "10000000000000002"}, /* 17 digits, x = 16 < 17 */
        {999999999999999.0, "999999999999999"},     /* 15 digits, x = 14 < 15 */
        {1e14, "100000000000000"},
        {123456789012.5, "123456789012.5"},
        {9223372036854775808.0, "9.223372036854776e+18"},
        {1e21, "1e+21"},
        {1e23, "1e+23"},
        {1e100, "1e+100"},
        {1e300, "1e+300"},
        {1e-4, "0.0001"},
        {1e-5, "0.00001"}, /* the short path's, not %g's */
        {0.0001234, "0.0001234"},
        {0.00012345678901234, "0.00012345678901234"},
        {1.25e-7, "1.25e-07"},
        {1e-7, "1e-07"},
        {3.3e-5, "0.000033"}, /* short path */
        {3.3e-10, "3.3e-10"},
        {0.1 + 0.2, "0.30000000000000004"},
        {2.0 / 3, "0.6666666666666666"},
        {1.0 / 3, "0.3333333333333333"},
        {-1.0 / 3, "-0.3333333333333333"},
        {-1e300, "-1e+300"},
        {-1.25e-7, "-1.25e-07"},
        {-123456789012.5, "-123456789012.5"},
        {DBL_MAX, "1.7976931348623157e+308"},
        {-DBL_MAX, "-1.7976931348623157e+308"},
        {DBL_MIN, "2.2250738585072014e-308"},
        {-DBL_MIN, "-2.2250738585072014e-308"}, /* the longest text: 24 bytes */
        {DBL_TRUE_MIN, "5e-324"},
        {-DBL_TRUE_MIN, "-5e-324"},
        {2 * DBL_TRUE_MIN, "1e-323"},
        {3 * DBL_TRUE_MIN, "1.5e-323"},
        {2.2250738585072009e-308, "2.225073858507201e-308"},
        {DBL_EPSILON, "2.220446049250313e-16"},
        {9007199254740993.0, "9007199254740992"},
        {2251799813685248.5, "2251799813685248.5"}, /* 17 digits, x = 15 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char s[SKY_F64_MAX + 1];
        s[sky__f64_raw(s, cases[i].v) - s] = '\0';
        if (strcmp(s, cases[i].text) != 0)
            fail_msg("%.17g: got \"%s\", want \"%s\"", cases[i].v, s, cases[i].text);
        check_f64(cases[i].v);
    }
    /* non-finite values never reach it (the encoders write strings), but it stays in bounds */
    char s[SKY_F64_MAX];
    assert_ptr_equal(sky__f64_raw(s, NAN), s);
    assert_ptr_equal(sky__f64_raw(s, INFINITY), s);
    assert_ptr_equal(sky__f64_raw(s, -INFINITY), s);
}

/* ---- the power-of-ten table ---------------------------------------------------------------- */

/* Just enough big-integer arithmetic: little-endian 32-bit limbs. */
typedef struct {
    uint32_t l[80]; /* 2560 bits: 2^(125 + 1077) and 10^324 fit */
    int n;
} big;

static void big_set(big *a, uint32_t v)
{
    memset(a, 0, sizeof *a);
    a->l[0] = v;
    a->n = 1;
}

static void big_mul_small(big *a, uint32_t m)
{
    uint64_t carry = 0;
    for (int i = 0; i < a->n; i++) {
        carry += (uint64_t)a->l[i] * m;
        a->l[i] = (uint32_t)carry;
        carry >>= 32;
    }
    if (carry)
        a->l[a->n++] = (uint32_t)carry;
}

static void big_div_small(big *a, uint32_t m) /* floor */
{
    uint64_t rem = 0;
    for (int i = a->n - 1; i >= 0; i--) {
        uint64_t cur = rem << 32 | a->l[i];
        a->l[i] = (uint32_t)(cur / m);
        rem = cur % m;
    }
    while (a->n > 1 && a->l[a->n - 1] == 0)
        a->n--;
}

static int big_bits(const big *a)
{
    for (int i = a->n - 1; i >= 0; i--)
        if (a->l[i])
            return i * 32 + 32 - __builtin_clz(a->l[i]);
    return 0;
}

static int big_bit(const big *a, int i) { return i < a->n * 32 ? (int)(a->l[i / 32] >> (i % 32) & 1) : 0; }

/* floor(a 2^s) as the 128 bits from bit 0 (s may be negative) */
static void big_window(const big *a, int s, uint64_t out[2])
{
    out[0] = out[1] = 0;
    for (int i = 127; i >= 0; i--) {
        int src = i - s;
        uint64_t bit = src >= 0 ? (uint64_t)big_bit(a, src) : 0;
        out[i >= 64 ? 0 : 1] |= bit << (i % 64);
    }
}

/* g(k) = floor(beta) + 1 where 10^-k = beta 2^r and 2^125 <= beta < 2^126, for every k buf.c
 * has it for: every entry of its compressed table and correction bits at once. */
static void test_pow10_table(void **state)
{
    (void)state;
    for (int k = -324; k <= 292; k++) {
        big p, x;
        int e = k < 0 ? -k : k;
        big_set(&p, 1);
        for (int i = 0; i < e; i++)
            big_mul_small(&p, 10);
        uint64_t want[2];
        if (k <= 0) { /* 10^e, e >= 0: shift its top bit to bit 125 */
            big_window(&p, 125 - (big_bits(&p) - 1), want);
        } else { /* 2^(125 + ceil(log2 10^e)) / 10^e, floored one division at a time */
            big_set(&x, 1);
            for (int i = 0; i < 125 + big_bits(&p); i++)
                big_mul_small(&x, 2);
            for (int i = 0; i < e; i++)
                big_div_small(&x, 10);
            big_window(&x, 0, want);
        }
        assert_true(want[0] >> 61 == 1); /* 2^125 <= beta < 2^126 */
        if (++want[1] == 0)
            want[0]++;
        uint64_t got[2];
        sky__f64_pow10_g(k, got);
        if (got[0] != want[0] || got[1] != want[1])
            fail_msg("g(%d) = %016" PRIx64 "%016" PRIx64 ", want %016" PRIx64 "%016" PRIx64, k,
                     got[0], got[1], want[0], want[1]);
    }
}

/* ---- shortest digits, millions of values --------------------------------------------------- */

static double from_bits(uint64_t x)
{
    double v;
    memcpy(&v, &x, sizeof v);
    return v;
}

static void test_double_shortest(void **state)
{
    (void)state;
    n_shorter = n_shorter_normal = n_checked = 0;
    /* every small subnormal, and the first normals */
    for (uint64_t c = 1; c <= 20000; c++) {
        check_f64_pm(from_bits(c));
        check_f64(from_bits((1ull << 52) + c - 1));
    }
    /* integers around 2^53 and other integer edges, quotients k/3 and products k * 0.1 */
    for (int64_t k = -3000; k <= 3000; k++) {
        check_f64_pm(9007199254740992.0 + (double)k * 2);
        check_f64_pm(9007199254740992.0 + (double)k);
        check_f64_pm(4503599627370496.0 + (double)k * 0.5);
        check_f64_pm((double)k / 3);
        check_f64_pm((double)k * 0.1);
        check_f64_pm((double)k * 1e-9 / 7);
    }
    for (int i = 0; i < 400000 / RANDOM_SCALE; i++) {
        uint64_t x = next();
        check_f64(from_bits((x & ~(0x7ffull << 52)) | (x % 2047) << 52)); /* uniform, finite */
        check_f64(from_bits(x % (1ull << 52)));                          /* subnormal */
        check_f64_pm(from_bits((x & ((1ull << 52) - 1)) | (uint64_t)(x >> 58) << 52)); /* tiny */
        check_f64_pm(from_bits((x & ((1ull << 52) - 1)) | (uint64_t)(2046 - (x >> 58)) << 52));
        check_f64_pm((double)(x >> 20) / (double)(next() % 100000 + 1)); /* computed ratios */
    }
    print_message("%lu checked for shortest; shorter than printf's: %lu, %lu of them normal\n",
                  n_checked, n_shorter, n_shorter_normal);
    assert_true(n_checked > 2000000 / RANDOM_SCALE);
    assert_true(n_shorter > 0); /* subnormals at least */
}

static void test_double_random(void **state)
{
    (void)state;
    n_fast = n_changed = 0;
    for (int i = 0; i < 600000 / RANDOM_SCALE; i++) {
        uint64_t x = next();
        double v;
        memcpy(&v, &x, sizeof v);
        check_f64(v); /* uniform bits: every exponent, mostly 17 digits */
        /* short decimals m / 10^k, the short path's whole domain and beyond it */
        uint64_t m = next() >> (next() % 64);
        int k = (int)(next() % 9);
        check_f64_pm((double)(m % 1000000000000000ull) / ref_pow10[k % 7] / (k > 6 ? 10 : 1));
        check_f64_pm((double)(m % 100000) / ref_pow10[k % 7]);
        check_f64_pm((double)(int64_t)(m % 2000000000) / 1000.0);
        /* small integers, and plain quotients (mostly not short) */
        check_f64_pm((double)(m % 100000));
        check_f64_pm((double)(next() % 1000000) / (double)(next() % 1000 + 1));
    }
    /* the loop must have exercised both the byte-identical path and the rest */
    assert_true(n_fast > 1000000 / RANDOM_SCALE);
    print_message("short path %lu, texts changed on the other path %lu\n", n_fast, n_changed);
}

/* The sky_buf appenders keep the contents NUL-terminated (buf.h): also after a number, in a
 * buffer whose spare room holds no zero byte. */
static void test_buf_appends_terminate(void **state)
{
    (void)state;
    const double ds[] = {1.5, 0.1 + 0.2, -2.0 / 3, 1e300, 5e-324};
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++) {
        sky_buf b = {0};
        assert_true(sky__buf_reserve(&b, 200));
        memset(b.p, 'Z', b.cap);
        sky__buf_lit(&b, "x=");
        sky__buf_f64(&b, ds[i]);
        sky__buf_lit(&b, " n=");
        sky__buf_i64(&b, -42);
        sky__buf_lit(&b, " ");
        sky__buf_f64(&b, ds[i]);
        assert_false(b.oom);
        assert_int_equal(strlen(b.p), b.len);
        char want[128];
        char num[40];
        *sky__f64_raw(num, ds[i]) = '\0';
        snprintf(want, sizeof want, "x=%s n=-42 %s", num, num);
        assert_string_equal(b.p, want);
        sky__buf_free(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integer_edges),
        cmocka_unit_test(test_integer_random),
        cmocka_unit_test(test_double_edges),
        cmocka_unit_test(test_double_random),
        cmocka_unit_test(test_buf_appends_terminate),
        cmocka_unit_test(test_double_layout),
        cmocka_unit_test(test_pow10_table),
        cmocka_unit_test(test_double_shortest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
