/*
 * crypto_api.h - the hashes SigV4 and the credential providers need (SHA-256, HMAC-SHA-256,
 * SHA-1), from OpenSSL's libcrypto loaded on first use. libskylog does not link libcrypto: it
 * costs ~0.75 MiB of RSS in every process that maps it, and most processes that log never sign
 * an AWS request. Wiping and comparing secrets need no libcrypto: see util/secmem.h.
 *
 * Every function here returns false when libcrypto cannot be loaded (then the output is zeroed,
 * never garbage); sky__crypto_load() says why. Callers turn that into SKY_EUNSUPPORTED.
 */
#ifndef SKY_AWS_CRYPTO_API_H
#define SKY_AWS_CRYPTO_API_H

#include <skylog.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Loads libcrypto now, if that was not done yet: tries $SKYLOG_LIBCRYPTO when set, then
 * "libcrypto.so.3", then "libcrypto.so.1.1". Returns false if that failed, now or on an earlier
 * call; then `errbuf` (may be NULL) receives why, e.g. "libcrypto.so.3 could not be loaded
 * (<dlerror>): install libssl3 ...". The library is never unloaded. Thread-safe. */
bool sky__crypto_load(char *errbuf, size_t errlen);

/* One-shot digests and MAC; thread-safe; false (and `out` zeroed) when libcrypto is missing. */
bool sky__sha256(const void *data, size_t len, uint8_t out[32]);
bool sky__sha1(const void *data, size_t len, uint8_t out[20]);
bool sky__hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
                      uint8_t out[32]);

/* SHA-256 of data given in pieces: a request body hashed while it is written, so that the
 * out-of-order core runs the writing in the shadow of SHA-256's chain of dependent rounds
 * (cloudwatch_logs.c). begin: NULL when libcrypto is missing or out of memory. end: the digest
 * of everything added, false (out zeroed) if a step failed; frees h (NULL allowed). A stream is
 * used by one thread at a time. */
typedef struct sky__sha256_stream sky__sha256_stream;
sky__sha256_stream *sky__sha256_begin(void);
void sky__sha256_add(sky__sha256_stream *h, const void *data, size_t len);
bool sky__sha256_end(sky__sha256_stream *h, uint8_t out[32]);

/* Tests only: replaces the list of names tried (NULL-terminated; NULL restores the default,
 * $SKYLOG_LIBCRYPTO is then not consulted). Has an effect only before the first load of the
 * process. */
void sky__crypto_api_set_candidates(const char *const *names);

#endif
