/*
 * secmem.h - the two things secret-handling code needs from memory that plain libc does not
 * promise: a wipe the compiler may not optimise away, and a comparison whose time does not
 * depend on where the inputs differ. They sit in src/util so that wiping a secret never needs
 * libcrypto (which libskylog loads only to sign, see src/aws/crypto_api.h).
 */
#ifndef SKY_UTIL_SECMEM_H
#define SKY_UTIL_SECMEM_H

#include <stdbool.h>
#include <stddef.h>

/* Overwrites `n` bytes at `p` with zeros, even if `p` is never read again (explicit_bzero).
 * NULL-safe. Thread-safe. */
void sky__wipe(void *p, size_t n);

/* True if the `n` bytes at `a` and `b` are equal, in time that depends only on `n`.
 * Thread-safe. */
bool sky__ct_equal(const void *a, const void *b, size_t n);

#endif
