/*
 * crypto_api.c - loads OpenSSL's libcrypto with dlopen() the first time something is hashed or
 * signed (an AWS client is created, a request signed or verified, an SSO cache file looked up),
 * so that a process which only logs to files or the console never maps it (~0.75 MiB of RSS).
 *
 * The same design as curl_api.c: the load happens once per process (pthread_once); its outcome,
 * success or the reason for a failure, is then read-only. It must never abort or exit when
 * libcrypto is missing, and never hand back a digest it did not compute: every function returns
 * false with a zeroed output, and callers turn that into SKY_EUNSUPPORTED. The library is never
 * dlclose()d (libcrypto keeps global state for the life of the process). It relies on the
 * symbols below, which OpenSSL 1.1 and 3.x both export with these signatures (HMAC() is not
 * deprecated in 3.x; only the HMAC_CTX functions are). The OpenSSL headers give the types only.
 */
#include "aws/crypto_api.h"
#include "util/dynlib.h"

#include <skylog/aws.h>

#include <limits.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct crypto_api {
    int (*digest)(const void *data, size_t count, unsigned char *md, unsigned int *size,
                  const EVP_MD *type, ENGINE *impl);
    const EVP_MD *(*sha256)(void);
    const EVP_MD *(*sha1)(void);
    unsigned char *(*hmac)(const EVP_MD *evp_md, const void *key, int key_len,
                           const unsigned char *d, size_t n, unsigned char *md,
                           unsigned int *md_len);
    EVP_MD_CTX *(*ctx_new)(void);
    void (*ctx_free)(EVP_MD_CTX *ctx);
    int (*init)(EVP_MD_CTX *ctx, const EVP_MD *type, ENGINE *impl);
    int (*update)(EVP_MD_CTX *ctx, const void *d, size_t cnt);
    int (*final)(EVP_MD_CTX *ctx, unsigned char *md, unsigned int *s);
} crypto_api;

static const char *const default_names[] = {"libcrypto.so.3", "libcrypto.so.1.1", NULL};

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static const char *const *test_names; /* set only by tests, before the first load */
static crypto_api api;
static bool loaded;
static char load_error[512];

static void load(void)
{
#define SYM(field, sym) {#sym, offsetof(crypto_api, field)}
    static const sky__dl_sym syms[] = {
        SYM(digest, EVP_Digest),
        SYM(sha256, EVP_sha256),
        SYM(sha1, EVP_sha1),
        SYM(hmac, HMAC),
        SYM(ctx_new, EVP_MD_CTX_new),
        SYM(ctx_free, EVP_MD_CTX_free),
        SYM(init, EVP_DigestInit_ex),
        SYM(update, EVP_DigestUpdate),
        SYM(final, EVP_DigestFinal_ex),
    };
#undef SYM
    const sky__dl_spec spec = {
        .env = "SKYLOG_LIBCRYPTO",
        .defaults = default_names,
        .override = test_names,
        .syms = syms,
        .n_syms = sizeof syms / sizeof syms[0],
        .advice = "install OpenSSL's libcrypto (Debian/Ubuntu: libssl3) or set SKYLOG_LIBCRYPTO "
                  "to the path of libcrypto.so.3",
    };
    crypto_api a;
    if (sky__dl_load(&spec, &a, NULL, load_error, sizeof load_error)) {
        api = a;
        loaded = true;
    }
}

bool sky__crypto_load(char *errbuf, size_t errlen)
{
    pthread_once(&load_once, load);
    if (loaded)
        return true;
    if (errbuf && errlen)
        snprintf(errbuf, errlen, "%s", load_error);
    return false;
}

sky_status sky_aws_crypto_init(char *errbuf, size_t errlen)
{
    return sky__crypto_load(errbuf, errlen) ? SKY_OK : SKY_EUNSUPPORTED;
}

static bool digest(const EVP_MD *(*md)(void), const void *data, size_t len, uint8_t *out,
                   unsigned int outlen)
{
    unsigned int n = 0;
    bool ok = md && api.digest(data ? data : "", len, out, &n, md(), NULL) == 1 && n == outlen;
    if (!ok)
        memset(out, 0, outlen);
    return ok;
}

bool sky__sha256(const void *data, size_t len, uint8_t out[32])
{
    if (!sky__crypto_load(NULL, 0)) {
        memset(out, 0, 32);
        return false;
    }
    return digest(api.sha256, data, len, out, 32);
}

bool sky__sha1(const void *data, size_t len, uint8_t out[20])
{
    if (!sky__crypto_load(NULL, 0)) {
        memset(out, 0, 20);
        return false;
    }
    return digest(api.sha1, data, len, out, 20);
}

bool sky__hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
                      uint8_t out[32])
{
    unsigned int n = 0;
    bool ok = keylen <= INT_MAX && sky__crypto_load(NULL, 0) &&
              api.hmac(api.sha256(), key ? key : "", (int)keylen,
                       (const unsigned char *)(data ? data : ""), len, out, &n) != NULL &&
              n == 32;
    if (!ok)
        memset(out, 0, 32);
    return ok;
}

struct sky__sha256_stream {
    EVP_MD_CTX *ctx;
    bool ok;
};

sky__sha256_stream *sky__sha256_begin(void)
{
    if (!sky__crypto_load(NULL, 0))
        return NULL;
    sky__sha256_stream *h = malloc(sizeof *h);
    if (!h)
        return NULL;
    h->ctx = api.ctx_new();
    h->ok = h->ctx && api.init(h->ctx, api.sha256(), NULL) == 1;
    if (!h->ok) {
        api.ctx_free(h->ctx);
        free(h);
        return NULL;
    }
    return h;
}

void sky__sha256_add(sky__sha256_stream *h, const void *data, size_t len)
{
    if (h && h->ok && len)
        h->ok = api.update(h->ctx, data, len) == 1;
}

bool sky__sha256_end(sky__sha256_stream *h, uint8_t out[32])
{
    unsigned int n = 0;
    bool ok = h && h->ok && api.final(h->ctx, out, &n) == 1 && n == 32;
    if (!ok)
        memset(out, 0, 32);
    if (h) {
        api.ctx_free(h->ctx);
        free(h);
    }
    return ok;
}

void sky__crypto_api_set_candidates(const char *const *names)
{
    test_names = names;
}
