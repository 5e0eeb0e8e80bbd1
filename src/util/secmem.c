/*
 * secmem.c - wiping and constant-time comparison of secrets (see secmem.h). It replaces
 * OPENSSL_cleanse and CRYPTO_memcmp, so that code which only wipes a secret does not need
 * libcrypto mapped. It relies on glibc's explicit_bzero (2.25+, declared with _GNU_SOURCE,
 * which the build defines); it must never branch on the data it compares.
 */
#include "util/secmem.h"

#include <string.h>

void sky__wipe(void *p, size_t n)
{
    if (p && n) /* explicit_bzero is declared nonnull */
        explicit_bzero(p, n);
}

bool sky__ct_equal(const void *a, const void *b, size_t n)
{
    const volatile unsigned char *x = a, *y = b;
    volatile unsigned char d = 0; /* volatile: no early exit once d is non-zero */
    for (size_t i = 0; i < n; i++)
        d |= x[i] ^ y[i];
    return d == 0;
}
