/*
 * bench_body_hash.c - a PutLogEvents body's JSON escaping and its SigV4 SHA-256, hashed in a
 * pass of its own after the body is written (what `skylog ship` did until session 9) or an
 * event at a time while it is written (cloudwatch_logs.c's build_body now), on the lines of a
 * file (e.g. `bench/ship_bench.py --keep FILE`'s input). One thread, no network: the part of
 * the shipper's sender that the change touches, without the machine's run-to-run spread of a
 * whole ship. Prints CPU ns per input byte for each way, interleaved, and the median of each.
 *
 *   bench_body_hash FILE [ROUNDS]
 *
 * Each round builds 1 MiB bodies of 3,000 lines (the ship's batches: ~1 MiB), "escape only"
 * gives the escaping's own cost. The digests of both ways are compared (a mismatch exits 1).
 */
#include "aws/crypto_api.h"
#include "util/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PER_BODY 3000

static double cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Builds the bodies of lines [0, n) as build_body does; mode 0: hashed after, 1: while, 2: not.
 * Returns CPU ns per input byte; *xor folds every digest. */
static double run(int mode, char **ln, size_t *ll, size_t n, char *body, uint8_t * xor)
{
    size_t in_bytes = 0;
    double t0 = cpu_s();
    for (size_t i0 = 0; i0 + PER_BODY <= n; i0 += PER_BODY) {
        char *d = body;
        size_t hashed = 0;
        sky__sha256_stream *h = mode == 1 ? sky__sha256_begin() : NULL;
        for (size_t i = i0; i < i0 + PER_BODY; i++) {
            if (i + 4 < i0 + PER_BODY)
                for (size_t o = 0; o < ll[i + 4] && o < 320; o += 64)
                    __builtin_prefetch(ln[i + 4] + o);
            static const char head[] = ",{\"timestamp\":1765000000000,\"message\":\"";
            memcpy(d, head, sizeof head - 1);
            d += sizeof head - 1;
            d = sky__json_escape_slow(d, (const unsigned char *)ln[i], ll[i]);
            *d++ = '"';
            *d++ = '}';
            in_bytes += ll[i];
            if (h) {
                sky__sha256_add(h, body + hashed, (size_t)(d - body) - hashed);
                hashed = (size_t)(d - body);
            }
        }
        uint8_t md[32] = {0};
        if (mode == 0)
            sky__sha256(body, (size_t)(d - body), md);
        else if (mode == 1)
            sky__sha256_end(h, md);
        for (int k = 0; k < 32; k++)
            xor[k] ^= md[k];
    }
    return (cpu_s() - t0) / (double)in_bytes * 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_body_hash FILE [ROUNDS]\n");
        return 2;
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 9;
    if (rounds < 1 || rounds > 99) rounds = 9;
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    size_t cap = 48u << 20, len = 0;
    char *in = malloc(cap);
    if (!in) return 2;
    len = fread(in, 1, cap, f);
    fclose(f);
    size_t max_lines = 150000, n = 0;
    char **ln = malloc(max_lines * sizeof *ln);
    size_t *ll = malloc(max_lines * sizeof *ll);
    /* the worst case: every byte of every line escaped to 6 (untouched pages cost nothing) */
    char *body = malloc((size_t)PER_BODY * (6 * SKY_JSON_DIRECT_MAX + 64));
    if (!ln || !ll || !body) return 2;
    for (char *p = in, *e; n < max_lines && (e = memchr(p, '\n', (size_t)(in + len - p)));
         p = e + 1) {
        if (e - p > SKY_JSON_DIRECT_MAX)
            continue; /* the body's direct path only, as for nearly every line */
        ln[n] = p;
        ll[n++] = (size_t)(e - p);
    }
    if (!sky__crypto_load(NULL, 0) || n < PER_BODY) {
        fprintf(stderr, "bench_body_hash: no libcrypto, or fewer than %d lines\n", PER_BODY);
        return 2;
    }
    static const char *const names[3] = {"hashed after it is built", "hashed while it is built",
                                         "escape only (no hash)"};
    double t[3][99];
    uint8_t x[3][32] = {{0}};
    for (int r = 0; r < rounds; r++)
        for (int m = 0; m < 3; m++)
            t[m][r] = run(m, ln, ll, n - n % PER_BODY, body, x[m]);
    if (memcmp(x[0], x[1], 32) != 0) {
        fprintf(stderr, "bench_body_hash: the two ways' digests differ\n");
        return 1;
    }
    printf("%zu lines, bodies of %d, %d rounds interleaved; CPU ns per input byte:\n", n, PER_BODY,
           rounds);
    for (int m = 0; m < 3; m++) {
        printf("  %-26s", names[m]);
        for (int r = 0; r < rounds; r++)
            printf(" %.3f", t[m][r]);
        qsort(t[m], (size_t)rounds, sizeof t[m][0], cmp_d);
        printf("  median %.3f\n", t[m][rounds / 2]);
    }
    free(in);
    free(ln);
    free(ll);
    free(body);
    return 0;
}
