/*
 * bench_sha_lanes.c - SHA-256 on the x86 SHA extensions, one message at a time and two at once
 * (two independent chains interleaved), against libcrypto (issue 13, bench/RESULTS.md
 * session 9). SigV4 hashes every request body; SHA-NI's rounds are one dependent chain, so a
 * second message's rounds fill the idle issue slots: 0.39-0.44 ns/byte for each of two against
 * 0.59-0.67 for one on the benchmark's Zen 4 guest. The shipper has one body at a time today;
 * this is the measurement (and the rounds, Intel's published scheme) for a sender that hashes
 * two. Checks both lanes against the one-lane digests and libcrypto; exits 1 on a mismatch,
 * 0 with a message where the CPU has no SHA extensions.
 *
 *   bench_sha_lanes [ROUNDS]
 */
#include <cpuid.h>
#include <immintrin.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};
#define L __attribute__((target("sha,ssse3,sse4.1")))
typedef struct {
    __m128i s0, s1;
} st;
L static st load(const uint32_t h[8])
{
    st r;
    __m128i t = _mm_loadu_si128((const void *)h), s1 = _mm_loadu_si128((const void *)(h + 4));
    t = _mm_shuffle_epi32(t, 0xB1);
    s1 = _mm_shuffle_epi32(s1, 0x1B);
    r.s0 = _mm_alignr_epi8(t, s1, 8);
    r.s1 = _mm_blend_epi16(s1, t, 0xF0);
    return r;
}
L static void store(st r, uint32_t h[8])
{
    __m128i t = _mm_shuffle_epi32(r.s0, 0x1B), s1 = _mm_shuffle_epi32(r.s1, 0xB1);
    _mm_storeu_si128((void *)h, _mm_blend_epi16(t, s1, 0xF0));
    _mm_storeu_si128((void *)(h + 4), _mm_alignr_epi8(s1, t, 8));
}
L static void one(uint32_t h[8], const unsigned char *d, size_t n)
{
    const __m128i bs = _mm_set_epi64x(0x0c0d0e0f08090a0bll, 0x0405060700010203ll);
    st a = load(h);
    while (n--) {
        __m128i s0 = a.s0, s1 = a.s1, w[4];
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++) {
            if (i < 4)
                w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const void *)(d + 16 * i)), bs);
            else {
                __m128i x = _mm_sha256msg1_epu32(w[i & 3], w[(i + 1) & 3]);
                x = _mm_add_epi32(x, _mm_alignr_epi8(w[(i + 3) & 3], w[(i + 2) & 3], 4));
                w[i & 3] = _mm_sha256msg2_epu32(x, w[(i + 3) & 3]);
            }
            __m128i m = _mm_add_epi32(w[i & 3], _mm_loadu_si128((const void *)&K[4 * i]));
            s1 = _mm_sha256rnds2_epu32(s1, s0, m);
            s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(m, 0x0E));
        }
        a.s0 = _mm_add_epi32(a.s0, s0);
        a.s1 = _mm_add_epi32(a.s1, s1);
        d += 64;
    }
    store(a, h);
}
L static void two(uint32_t h[8], const unsigned char *d, uint32_t g[8], const unsigned char *e,
                  size_t n)
{
    const __m128i bs = _mm_set_epi64x(0x0c0d0e0f08090a0bll, 0x0405060700010203ll);
    st a = load(h), b = load(g);
    while (n--) {
        __m128i s0 = a.s0, s1 = a.s1, w[4], t0 = b.s0, t1 = b.s1, v[4];
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++) {
            if (i < 4) {
                w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const void *)(d + 16 * i)), bs);
                v[i] = _mm_shuffle_epi8(_mm_loadu_si128((const void *)(e + 16 * i)), bs);
            } else {
                __m128i x = _mm_sha256msg1_epu32(w[i & 3], w[(i + 1) & 3]);
                x = _mm_add_epi32(x, _mm_alignr_epi8(w[(i + 3) & 3], w[(i + 2) & 3], 4));
                w[i & 3] = _mm_sha256msg2_epu32(x, w[(i + 3) & 3]);
                __m128i y = _mm_sha256msg1_epu32(v[i & 3], v[(i + 1) & 3]);
                y = _mm_add_epi32(y, _mm_alignr_epi8(v[(i + 3) & 3], v[(i + 2) & 3], 4));
                v[i & 3] = _mm_sha256msg2_epu32(y, v[(i + 3) & 3]);
            }
            __m128i k = _mm_loadu_si128((const void *)&K[4 * i]);
            __m128i m = _mm_add_epi32(w[i & 3], k), q = _mm_add_epi32(v[i & 3], k);
            s1 = _mm_sha256rnds2_epu32(s1, s0, m);
            t1 = _mm_sha256rnds2_epu32(t1, t0, q);
            s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(m, 0x0E));
            t0 = _mm_sha256rnds2_epu32(t0, t1, _mm_shuffle_epi32(q, 0x0E));
        }
        a.s0 = _mm_add_epi32(a.s0, s0);
        a.s1 = _mm_add_epi32(a.s1, s1);
        b.s0 = _mm_add_epi32(b.s0, t0);
        b.s1 = _mm_add_epi32(b.s1, t1);
        d += 64;
        e += 64;
    }
    store(a, h);
    store(b, g);
}
static double cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* The digest of a whole number of blocks hashed from iv (no padding): enough to compare. */
static void to_bytes(const uint32_t h[8], unsigned char out[32])
{
    for (int i = 0; i < 8; i++)
        for (int k = 0; k < 4; k++)
            out[4 * i + k] = (unsigned char)(h[i] >> (24 - 8 * k));
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 6;
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b >> 29 & 1)) {
        printf("bench_sha_lanes: this CPU has no SHA extensions\n");
        return 0;
    }
    size_t n = 1u << 20;
    unsigned char *buf = malloc(2 * n);
    if (!buf) return 2;
    for (size_t i = 0; i < 2 * n; i++)
        buf[i] = (unsigned char)(i * 7);
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    /* correctness: a padded one-block message against libcrypto, and two lanes against one */
    unsigned char msg[64] = "abc", want[32], got[32];
    msg[3] = 0x80;
    msg[63] = 24;
    uint32_t h[8], g[8], h2[8], g2[8];
    memcpy(h, iv, 32);
    one(h, msg, 1);
    to_bytes(h, got);
    unsigned int len = 0;
    EVP_Digest("abc", 3, want, &len, EVP_sha256(), NULL);
    memcpy(h, iv, 32), memcpy(g, iv, 32), memcpy(h2, iv, 32), memcpy(g2, iv, 32);
    one(h, buf, 64);
    one(g, buf + n, 64);
    two(h2, buf, g2, buf + n, 64);
    if (memcmp(got, want, 32) || memcmp(h, h2, 32) || memcmp(g, g2, 32)) {
        fprintf(stderr, "bench_sha_lanes: a digest differs\n");
        return 1;
    }
    printf("CPU ns per byte hashed (1 MiB messages):\n");
    for (int r = 0; r < rounds; r++) {
        double t0 = cpu_s();
        for (int i = 0; i < 50; i++) {
            one(h, buf, n / 64);
            one(g, buf + n, n / 64);
        }
        double t1 = cpu_s();
        for (int i = 0; i < 50; i++)
            two(h, buf, g, buf + n, n / 64);
        double t2 = cpu_s();
        unsigned char md[32];
        for (int i = 0; i < 50; i++) {
            EVP_Digest(buf, n, md, &len, EVP_sha256(), NULL);
            EVP_Digest(buf + n, n, md, &len, EVP_sha256(), NULL);
        }
        double t3 = cpu_s();
        printf("  one lane %.3f   two lanes %.3f   libcrypto %.3f\n", (t1 - t0) / (100.0 * n) * 1e9,
               (t2 - t1) / (100.0 * n) * 1e9, (t3 - t2) / (100.0 * n) * 1e9);
    }
    free(buf);
    return 0;
}
