/*
 * sigv4.c - AWS Signature Version 4: canonical request, string to sign, signing key, signature;
 * header form, presigned-query form, and the server-side recomputation used to verify requests.
 *
 * The reference is botocore's SigV4Auth (botocore/auth.py), because "as correct as the official
 * SDKs" means byte-identical to what they send: the oracle test signs hundreds of generated
 * requests with both. Where botocore and the prose of the AWS spec could be read differently
 * (raw query strings are sorted, not re-encoded; the path is normalised then encoded a second time
 * for every service but S3) we follow botocore and say so in aws.h.
 *
 * This file must never copy a secret into anything but the HMAC input and the wiped local key
 * material; the signing-key cache is keyed by a SHA-256 of the secret, never the secret itself.
 * It relies on libcrypto for SHA-256/HMAC, loaded on first use (crypto_api.h): when that fails,
 * every signing function returns SKY_EUNSUPPORTED rather than a signature made of zeros. It
 * relies on pthreads for the cache lock.
 */
#include "aws/sigv4.h"

#include "aws/crypto_api.h"
#include "util/text.h"
#include "util/secmem.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

/* ---- hashing ------------------------------------------------------------------------------ */

/* False (and `hex` empty) when libcrypto cannot be loaded. */
static bool sha256_hex(const void *data, size_t len, char hex[65])
{
    unsigned char md[32];
    if (!sky__sha256(data, len, md)) {
        hex[0] = '\0';
        return false;
    }
    sky__hex(md, 32, hex);
    return true;
}

void sky_aws_sha256_hex(const void *data, size_t len, char hex[65])
{
    sha256_hex(data, len, hex);
}

/* ---- encoding ----------------------------------------------------------------------------- */

static bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

static void uri_encode_into(sky__buf *out, const char *s, size_t len, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            sky__buf_putc(out, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            sky__buf_append(out, e, 3);
        }
    }
}

char *sky_aws_uri_encode(const char *s, size_t len, bool keep_slash)
{
    sky__buf b = {0};
    uri_encode_into(&b, s ? s : "", s ? len : 0, keep_slash);
    return sky__buf_steal(&b);
}

/* ---- canonical URI ------------------------------------------------------------------------ */

/* botocore.utils.remove_dot_segments: drops "", "." segments, ".." pops one, keeps a leading '/'
 * and a trailing '/' (if anything is left), then quote(path, safe='/~'). */
void sky__sigv4_canonical_uri(sky__buf *out, const char *path, bool s3_path)
{
    if (!path || !*path) {
        sky__buf_putc(out, '/');
        return;
    }
    if (s3_path) {
        sky__buf_puts(out, path);
        return;
    }
    size_t plen = strlen(path);
    /* segments as (start, len) pairs; at most plen/1 + 1 of them */
    size_t cap = plen / 2 + 2, n = 0;
    size_t *seg = malloc(sizeof *seg * 2 * cap);
    if (!seg) {
        out->oom = true;
        return;
    }
    size_t i = 0;
    while (i <= plen) {
        size_t j = i;
        while (j < plen && path[j] != '/')
            j++;
        size_t l = j - i;
        if (l == 0 || (l == 1 && path[i] == '.')) {
            /* skip */
        } else if (l == 2 && path[i] == '.' && path[i + 1] == '.') {
            if (n)
                n--;
        } else {
            seg[2 * n] = i;
            seg[2 * n + 1] = l;
            n++;
        }
        i = j + 1;
    }
    sky__buf norm = {0};
    if (path[0] == '/')
        sky__buf_putc(&norm, '/');
    for (size_t k = 0; k < n; k++) {
        if (k)
            sky__buf_putc(&norm, '/');
        sky__buf_append(&norm, path + seg[2 * k], seg[2 * k + 1]);
    }
    if (path[plen - 1] == '/' && n)
        sky__buf_putc(&norm, '/');
    free(seg);
    if (norm.oom) {
        out->oom = true;
    } else {
        uri_encode_into(out, norm.data ? norm.data : "", norm.len, true);
    }
    sky__buf_free(&norm);
}

/* ---- canonical query ---------------------------------------------------------------------- */

typedef struct qpair {
    const char *k;
    size_t kl;
    const char *v;
    size_t vl;
} qpair;

static int cmp_bytes(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c)
        return c;
    return al < bl ? -1 : al > bl;
}

static int qpair_cmp(const void *pa, const void *pb)
{
    const qpair *a = pa, *b = pb;
    int c = cmp_bytes(a->k, a->kl, b->k, b->kl);
    return c ? c : cmp_bytes(a->v, a->vl, b->v, b->vl);
}

/* Splits a raw query into pairs (views into `q`). Returns the count; *pairs is malloc'd. */
static size_t split_query(const char *q, qpair **pairs, bool drop_signature, bool *oom)
{
    *pairs = NULL;
    if (!q || !*q)
        return 0;
    size_t n = 1;
    for (const char *p = q; *p; p++)
        n += *p == '&';
    qpair *v = malloc(sizeof *v * n);
    if (!v) {
        *oom = true;
        return 0;
    }
    size_t m = 0;
    const char *p = q;
    for (;;) {
        const char *amp = strchr(p, '&');
        size_t l = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', l);
        qpair pr = {.k = p, .kl = eq ? (size_t)(eq - p) : l, .v = eq ? eq + 1 : p + l,
                    .vl = eq ? l - (size_t)(eq - p) - 1 : 0};
        if (!(drop_signature && pr.kl == 15 && memcmp(pr.k, "X-Amz-Signature", 15) == 0))
            v[m++] = pr;
        if (!amp)
            break;
        p = amp + 1;
    }
    *pairs = v;
    return m;
}

void sky__sigv4_canonical_query(sky__buf *out, const char *query, bool drop_signature)
{
    qpair *pairs;
    bool oom = false;
    size_t n = split_query(query, &pairs, drop_signature, &oom);
    if (oom) {
        out->oom = true;
        return;
    }
    if (n > 1)
        qsort(pairs, n, sizeof *pairs, qpair_cmp);
    for (size_t i = 0; i < n; i++) {
        if (i)
            sky__buf_putc(out, '&');
        sky__buf_append(out, pairs[i].k, pairs[i].kl);
        sky__buf_putc(out, '=');
        sky__buf_append(out, pairs[i].v, pairs[i].vl);
    }
    free(pairs);
}

/* ---- canonical headers -------------------------------------------------------------------- */

/* Python's str.split() white space, restricted to ASCII. */
static bool py_space(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

void sky__sigv4_trimall(sky__buf *out, const char *v)
{
    bool first = true;
    const unsigned char *p = (const unsigned char *)(v ? v : "");
    while (*p) {
        while (*p && py_space(*p))
            p++;
        if (!*p)
            break;
        const unsigned char *s = p;
        while (*p && !py_space(*p))
            p++;
        if (!first)
            sky__buf_putc(out, ' ');
        sky__buf_append(out, s, (size_t)(p - s));
        first = false;
    }
}

bool sky__sigv4_header_blacklisted(const char *n)
{
    static const char *const bl[] = {
        "connection", "expect", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
        "trailer", "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id",
    };
    for (size_t i = 0; i < sizeof bl / sizeof bl[0]; i++)
        if (strcasecmp(n, bl[i]) == 0)
            return true;
    return false;
}

/* Appends "name:v1,v2\n" for every name of the ';'-separated `signed_list`, taking values from
 * `h` (names compared case-insensitively, in the order given). */
static void canonical_headers(sky__buf *out, const sky_aws_header *h, size_t n,
                              const char *signed_list)
{
    const char *p = signed_list;
    while (p && *p) {
        const char *semi = strchr(p, ';');
        size_t l = semi ? (size_t)(semi - p) : strlen(p);
        for (size_t k = 0; k < l; k++)
            sky__buf_putc(out, (char)tolower((unsigned char)p[k]));
        sky__buf_putc(out, ':');
        bool any = false;
        for (size_t i = 0; i < n; i++) {
            if (!h[i].name || strlen(h[i].name) != l || strncasecmp(h[i].name, p, l) != 0)
                continue;
            if (any)
                sky__buf_putc(out, ',');
            sky__sigv4_trimall(out, h[i].value);
            any = true;
        }
        sky__buf_putc(out, '\n');
        if (!semi)
            break;
        p = semi + 1;
    }
}

/* ---- signing key cache -------------------------------------------------------------------- */

/* Deriving the key is four HMACs; the cache saves them per request. It is keyed by a hash of the
 * secret so a rotated secret never reuses a stale key and the secret is not kept here. */
#define KEY_CACHE_SIZE 8

typedef struct key_entry {
    unsigned char secret_hash[32];
    char date[9];
    char region[64];
    char service[64];
    unsigned char key[32];
    bool used;
} key_entry;

static pthread_mutex_t key_lock = PTHREAD_MUTEX_INITIALIZER;
static key_entry key_cache[KEY_CACHE_SIZE];
static unsigned key_next;
static atomic_ulong key_derivations;

unsigned long sky__sigv4_key_derivations(void)
{
    return atomic_load(&key_derivations);
}

/* SKY_ENOMEM or SKY_EUNSUPPORTED (no libcrypto) leave `key` zeroed, never half-derived. */
static sky_status derive_key(const char *secret, const char *date, const char *region,
                             const char *service, unsigned char key[32])
{
    size_t sl = strlen(secret);
    unsigned char *k0 = malloc(sl + 5);
    unsigned char a[32], b[32];
    if (!k0) {
        memset(key, 0, 32);
        return SKY_ENOMEM;
    }
    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, secret, sl);
    bool ok = sky__hmac_sha256(k0, sl + 4, date, strlen(date), a);
    sky__wipe(k0, sl + 4);
    free(k0);
    ok = ok && sky__hmac_sha256(a, 32, region, strlen(region), b) &&
         sky__hmac_sha256(b, 32, service, strlen(service), a) &&
         sky__hmac_sha256(a, 32, "aws4_request", 12, key);
    sky__wipe(a, sizeof a);
    sky__wipe(b, sizeof b);
    if (!ok) {
        memset(key, 0, 32);
        return SKY_EUNSUPPORTED;
    }
    atomic_fetch_add(&key_derivations, 1);
    return SKY_OK;
}

sky_status sky__sigv4_signing_key(const char *secret, const char *date, const char *region,
                                  const char *service, unsigned char key[32])
{
    unsigned char sh[32];
    if (!sky__sha256(secret, strlen(secret), sh)) {
        memset(key, 0, 32);
        return SKY_EUNSUPPORTED;
    }
    bool cacheable = strlen(date) < 9 && strlen(region) < 64 && strlen(service) < 64;
    if (cacheable) {
        pthread_mutex_lock(&key_lock);
        for (unsigned i = 0; i < KEY_CACHE_SIZE; i++) {
            key_entry *e = &key_cache[i];
            if (e->used && memcmp(e->secret_hash, sh, 32) == 0 && strcmp(e->date, date) == 0 &&
                strcmp(e->region, region) == 0 && strcmp(e->service, service) == 0) {
                memcpy(key, e->key, 32);
                pthread_mutex_unlock(&key_lock);
                return SKY_OK;
            }
        }
        pthread_mutex_unlock(&key_lock);
    }
    sky_status st = derive_key(secret, date, region, service, key);
    if (st != SKY_OK)
        return st;
    if (cacheable) {
        pthread_mutex_lock(&key_lock);
        key_entry *e = &key_cache[key_next++ % KEY_CACHE_SIZE];
        memcpy(e->secret_hash, sh, 32);
        strcpy(e->date, date);
        strcpy(e->region, region);
        strcpy(e->service, service);
        memcpy(e->key, key, 32);
        e->used = true;
        pthread_mutex_unlock(&key_lock);
    }
    return SKY_OK;
}

void sky__sigv4_amz_date(int64_t time_ns, char out[17])
{
    time_t t = (time_t)(time_ns / 1000000000);
    if (time_ns < 0 && time_ns % 1000000000)
        t--;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

/* ---- the common core ---------------------------------------------------------------------- */

/* Builds canonical request, string to sign and signature. `query_extra` (already canonical pairs,
 * '&'-joined, may be NULL) is merged into the raw query before sorting. */
typedef struct core_in {
    const char *method;
    const char *path;
    const char *query;
    bool drop_signature;
    bool s3_path;
    const sky_aws_header *headers;
    size_t n_headers;
    const char *signed_list;
    const char *payload_hash;
    const char *amz_date;
    const char *scope_date;
    const char *region;
    const char *service;
    const char *secret;
} core_in;

static sky_status sign_core(const core_in *in, char sig[65], char **canonical, char **sts_out)
{
    sky__buf cr = {0};
    for (const char *m = in->method; *m; m++)
        sky__buf_putc(&cr, (char)toupper((unsigned char)*m));
    sky__buf_putc(&cr, '\n');
    sky__sigv4_canonical_uri(&cr, in->path, in->s3_path);
    sky__buf_putc(&cr, '\n');
    sky__sigv4_canonical_query(&cr, in->query, in->drop_signature);
    sky__buf_putc(&cr, '\n');
    canonical_headers(&cr, in->headers, in->n_headers, in->signed_list);
    sky__buf_putc(&cr, '\n');
    sky__buf_puts(&cr, in->signed_list);
    sky__buf_putc(&cr, '\n');
    sky__buf_puts(&cr, in->payload_hash);
    if (cr.oom) {
        sky__buf_free(&cr);
        return SKY_ENOMEM;
    }
    char crhash[65];
    if (!sha256_hex(cr.data, cr.len, crhash)) {
        sky__buf_free(&cr);
        return SKY_EUNSUPPORTED;
    }

    sky__buf sts = {0};
    sky__buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", in->amz_date,
                    in->scope_date, in->region, in->service, crhash);
    if (sts.oom) {
        sky__buf_free(&cr);
        sky__buf_free(&sts);
        return SKY_ENOMEM;
    }
    unsigned char key[32], mac[32];
    sky_status st = sky__sigv4_signing_key(in->secret, in->scope_date, in->region, in->service,
                                           key);
    if (st == SKY_OK && !sky__hmac_sha256(key, 32, sts.data, sts.len, mac))
        st = SKY_EUNSUPPORTED;
    sky__wipe(key, sizeof key);
    if (st != SKY_OK) {
        sky__buf_free(&cr);
        sky__buf_free(&sts);
        return st;
    }
    sky__hex(mac, 32, sig);
    if (canonical)
        *canonical = sky__buf_steal(&cr);
    else
        sky__buf_free(&cr);
    if (sts_out)
        *sts_out = sky__buf_steal(&sts);
    else
        sky__buf_free(&sts);
    return SKY_OK;
}

static int str_cmp_ptr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collects the headers to sign: the request's (minus blacklisted, minus those we set ourselves
 * in `skip`), a Host if none, then `extra`. Fills `all` (views; caller frees the array) and the
 * sorted unique lower-case SignedHeaders list. */
static sky_status collect_headers(const sky_sigv4_request *req, const char *const *skip,
                                  const sky_aws_header *extra, size_t n_extra,
                                  sky_aws_header **all_out, size_t *n_all, char **signed_list)
{
    size_t cap = req->n_headers + n_extra + 1, n = 0;
    sky_aws_header *all = calloc(cap, sizeof *all);
    char **names = calloc(cap, sizeof *names);
    sky_status st = SKY_OK;
    if (!all || !names) {
        st = SKY_ENOMEM;
        goto out;
    }
    bool have_host = false;
    for (size_t i = 0; i < req->n_headers; i++) {
        const sky_aws_header *h = &req->headers[i];
        if (!h->name || !*h->name)
            continue;
        if (sky__sigv4_header_blacklisted(h->name) || strcasecmp(h->name, "authorization") == 0)
            continue;
        bool skipped = false;
        for (const char *const *s = skip; s && *s; s++)
            skipped |= strcasecmp(h->name, *s) == 0;
        if (skipped)
            continue;
        have_host |= strcasecmp(h->name, "host") == 0;
        all[n++] = *h;
    }
    if (!have_host) {
        if (!req->host || !*req->host) {
            st = SKY_EINVAL;
            goto out;
        }
        all[n++] = (sky_aws_header){"host", req->host};
    }
    for (size_t i = 0; i < n_extra; i++)
        all[n++] = extra[i];
    /* unique lower-case names, sorted */
    size_t nn = 0;
    for (size_t i = 0; i < n; i++) {
        char *l = strdup(all[i].name);
        if (!l) {
            st = SKY_ENOMEM;
            goto out_names;
        }
        for (char *c = l; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        bool dup = false;
        for (size_t k = 0; k < nn && !dup; k++)
            dup = strcmp(names[k], l) == 0;
        if (dup)
            free(l);
        else
            names[nn++] = l;
    }
    qsort(names, nn, sizeof *names, str_cmp_ptr);
    sky__buf sl = {0};
    for (size_t k = 0; k < nn; k++) {
        if (k)
            sky__buf_putc(&sl, ';');
        sky__buf_puts(&sl, names[k]);
    }
    *signed_list = sky__buf_steal(&sl);
    if (!*signed_list)
        st = SKY_ENOMEM;
out_names:
    for (size_t k = 0; k < nn; k++)
        free(names[k]);
out:
    free(names);
    if (st != SKY_OK) {
        free(all);
        all = NULL;
        n = 0;
    }
    *all_out = all;
    *n_all = n;
    return st;
}

static bool params_ok(const sky_sigv4_request *req, const sky_sigv4_params *p)
{
    return req && p && req->method && *req->method && p->access_key_id && *p->access_key_id &&
           p->secret_access_key && p->region && *p->region && p->service && *p->service;
}

/* False when the payload had to be hashed and libcrypto cannot be loaded. */
static bool payload_hash_of(const sky_sigv4_request *req, char out[65])
{
    for (size_t i = 0; i < req->n_headers; i++) {
        const sky_aws_header *h = &req->headers[i];
        if (h->name && h->value && strcasecmp(h->name, "x-amz-content-sha256") == 0 &&
            strlen(h->value) < 65) {
            strcpy(out, h->value);
            return true;
        }
    }
    if (req->payload_hash && strlen(req->payload_hash) < 65) {
        strcpy(out, req->payload_hash);
        return true;
    }
    return sha256_hex(req->payload, req->payload ? req->payload_len : 0, out);
}

/* What signing and presigning start with: an empty result, the parameters checked, the
 * request's time as X-Amz-Date, and its payload hash. */
static sky_status begin_signing(const sky_sigv4_request *req, const sky_sigv4_params *p,
                                sky_sigv4_result *out)
{
    if (!out)
        return SKY_EINVAL;
    memset(out, 0, sizeof *out);
    if (!params_ok(req, p))
        return SKY_EINVAL;
    sky__sigv4_amz_date(p->time_ns ? p->time_ns : sky_now_ns(), out->amz_date);
    return payload_hash_of(req, out->payload_hash) ? SKY_OK : SKY_EUNSUPPORTED;
}

sky_status sky_sigv4_sign(const sky_sigv4_request *req, const sky_sigv4_params *p,
                          sky_sigv4_result *out)
{
    sky_status st = begin_signing(req, p, out);
    if (st != SKY_OK)
        return st;
    bool token = p->session_token && *p->session_token;

    static const char *const skip_tok[] = {"x-amz-date", "x-amz-security-token", NULL};
    static const char *const skip_notok[] = {"x-amz-date", NULL};
    sky_aws_header extra[2] = {{"x-amz-date", out->amz_date}, {"x-amz-security-token", NULL}};
    size_t n_extra = 1;
    if (token)
        extra[n_extra++].value = p->session_token;

    sky_aws_header *all;
    size_t n_all;
    st = collect_headers(req, token ? skip_tok : skip_notok, extra, n_extra, &all, &n_all,
                         &out->signed_headers);
    if (st != SKY_OK)
        return st;
    char scope_date[9];
    memcpy(scope_date, out->amz_date, 8);
    scope_date[8] = '\0';
    core_in in = {.method = req->method, .path = req->path, .query = req->query,
                  .s3_path = p->s3_path, .headers = all, .n_headers = n_all,
                  .signed_list = out->signed_headers, .payload_hash = out->payload_hash,
                  .amz_date = out->amz_date, .scope_date = scope_date, .region = p->region,
                  .service = p->service, .secret = p->secret_access_key};
    st = sign_core(&in, out->signature, p->want_canonical ? &out->canonical_request : NULL,
                   p->want_canonical ? &out->string_to_sign : NULL);
    free(all);
    if (st == SKY_OK) {
        sky__buf a = {0};
        sky__buf_printf(&a,
                        "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, "
                        "Signature=%s",
                        p->access_key_id, scope_date, p->region, p->service, out->signed_headers,
                        out->signature);
        out->authorization = sky__buf_steal(&a);
        if (!out->authorization)
            st = SKY_ENOMEM;
    }
    if (st != SKY_OK)
        sky_sigv4_result_free(out);
    return st;
}

/* Appends "&key=enc(value)" (or without '&' when the buffer is empty). */
static void add_param(sky__buf *b, const char *k, const char *v)
{
    if (b->len)
        sky__buf_putc(b, '&');
    uri_encode_into(b, k, strlen(k), false);
    sky__buf_putc(b, '=');
    uri_encode_into(b, v, strlen(v), false);
}

sky_status sky_sigv4_presign(const sky_sigv4_request *req, const sky_sigv4_params *p,
                             sky_sigv4_result *out)
{
    sky_status st = begin_signing(req, p, out);
    if (st != SKY_OK)
        return st;
    sky_aws_header *all;
    size_t n_all;
    st = collect_headers(req, NULL, NULL, 0, &all, &n_all, &out->signed_headers);
    if (st != SKY_OK)
        return st;
    char scope_date[9];
    memcpy(scope_date, out->amz_date, 8);
    scope_date[8] = '\0';

    sky__buf q = {0};
    if (req->query && *req->query)
        sky__buf_puts(&q, req->query);
    char cred[512], expires[32];
    snprintf(cred, sizeof cred, "%s/%s/%s/%s/aws4_request", p->access_key_id, scope_date,
             p->region, p->service);
    snprintf(expires, sizeof expires, "%lld", (long long)(p->expires_s > 0 ? p->expires_s : 3600));
    add_param(&q, "X-Amz-Algorithm", "AWS4-HMAC-SHA256");
    add_param(&q, "X-Amz-Credential", cred);
    add_param(&q, "X-Amz-Date", out->amz_date);
    add_param(&q, "X-Amz-Expires", expires);
    add_param(&q, "X-Amz-SignedHeaders", out->signed_headers);
    if (p->session_token && *p->session_token)
        add_param(&q, "X-Amz-Security-Token", p->session_token);
    if (q.oom) {
        free(all);
        sky__buf_free(&q);
        sky_sigv4_result_free(out);
        return SKY_ENOMEM;
    }
    core_in in = {.method = req->method, .path = req->path, .query = q.data,
                  .s3_path = p->s3_path, .headers = all, .n_headers = n_all,
                  .signed_list = out->signed_headers, .payload_hash = out->payload_hash,
                  .amz_date = out->amz_date, .scope_date = scope_date, .region = p->region,
                  .service = p->service, .secret = p->secret_access_key};
    st = sign_core(&in, out->signature, p->want_canonical ? &out->canonical_request : NULL,
                   p->want_canonical ? &out->string_to_sign : NULL);
    free(all);
    if (st == SKY_OK) {
        sky__buf_printf(&q, "&X-Amz-Signature=%s", out->signature);
        out->presigned_query = sky__buf_steal(&q);
        if (!out->presigned_query)
            st = SKY_ENOMEM;
    }
    sky__buf_free(&q);
    if (st != SKY_OK)
        sky_sigv4_result_free(out);
    return st;
}

void sky_sigv4_result_free(sky_sigv4_result *r)
{
    if (!r)
        return;
    free(r->authorization);
    free(r->signed_headers);
    free(r->presigned_query);
    free(r->canonical_request);
    free(r->string_to_sign);
    memset(r, 0, sizeof *r);
}

/* ---- verification ------------------------------------------------------------------------- */

sky_status sky_sigv4_compute_signature(const sky_sigv4_verify_input *in, char sig_hex[65],
                                       char **canonical)
{
    if (canonical)
        *canonical = NULL;
    if (!in || !sig_hex || !in->secret_access_key || !in->amz_date || strlen(in->amz_date) < 8 ||
        !in->region || !in->service || !in->signed_headers || !in->method || !in->payload_hash)
        return SKY_EINVAL;
    sig_hex[0] = '\0';
    char scope_date[9];
    if (in->scope_date) {
        if (strlen(in->scope_date) != 8)
            return SKY_EINVAL;
        memcpy(scope_date, in->scope_date, 9);
    } else {
        memcpy(scope_date, in->amz_date, 8);
        scope_date[8] = '\0';
    }
    core_in c = {.method = in->method, .path = in->path, .query = in->query,
                 .drop_signature = in->presigned, .s3_path = in->s3_path, .headers = in->headers,
                 .n_headers = in->n_headers, .signed_list = in->signed_headers,
                 .payload_hash = in->payload_hash, .amz_date = in->amz_date,
                 .scope_date = scope_date, .region = in->region, .service = in->service,
                 .secret = in->secret_access_key};
    return sign_core(&c, sig_hex, canonical, NULL);
}

bool sky_sigv4_equal(const char *a, const char *b)
{
    if (!a || !b)
        return false;
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb)
        return false;
    unsigned char d = 0;
    for (size_t i = 0; i < la; i++)
        d |= (unsigned char)(tolower((unsigned char)a[i]) ^ tolower((unsigned char)b[i]));
    return d == 0;
}

/* Copies [s, s+n) into dst (cap bytes) or fails if it does not fit. */
static bool copy_field(char *dst, size_t cap, const char *s, size_t n)
{
    if (n == 0 || n >= cap)
        return false;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return true;
}

sky_status sky_sigv4_parse_authorization(const char *value, sky_sigv4_auth *out)
{
    if (!value || !out)
        return SKY_EINVAL;
    memset(out, 0, sizeof *out);
    const char *p = value;
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncmp(p, "AWS4-HMAC-SHA256", 16) != 0 || (p[16] != ' ' && p[16] != '\t'))
        return SKY_EINVAL;
    p += 16;
    bool have_cred = false, have_sh = false, have_sig = false;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            break;
        const char *end = strchr(p, ',');
        size_t l = end ? (size_t)(end - p) : strlen(p);
        while (l && (p[l - 1] == ' ' || p[l - 1] == '\t'))
            l--;
        const char *eq = memchr(p, '=', l);
        if (!eq)
            return SKY_EINVAL;
        size_t kl = (size_t)(eq - p);
        const char *v = eq + 1;
        size_t vl = l - kl - 1;
        if (kl == 10 && memcmp(p, "Credential", 10) == 0) {
            /* AKID/DATE/REGION/SERVICE/aws4_request; the key id itself has no '/' */
            const char *parts[5];
            size_t lens[5], np = 0;
            const char *s = v, *vend = v + vl;
            while (np < 5) {
                const char *sl = memchr(s, '/', (size_t)(vend - s));
                parts[np] = s;
                lens[np] = sl ? (size_t)(sl - s) : (size_t)(vend - s);
                np++;
                if (!sl)
                    break;
                s = sl + 1;
            }
            if (np != 5 || parts[4] + lens[4] != vend || lens[4] != 12 ||
                memcmp(parts[4], "aws4_request", 12) != 0 || lens[1] != 8)
                return SKY_EINVAL;
            if (!copy_field(out->access_key_id, sizeof out->access_key_id, parts[0], lens[0]) ||
                !copy_field(out->date, sizeof out->date, parts[1], lens[1]) ||
                !copy_field(out->region, sizeof out->region, parts[2], lens[2]) ||
                !copy_field(out->service, sizeof out->service, parts[3], lens[3]))
                return SKY_EINVAL;
            have_cred = true;
        } else if (kl == 13 && memcmp(p, "SignedHeaders", 13) == 0) {
            if (!copy_field(out->signed_headers, sizeof out->signed_headers, v, vl))
                return SKY_EINVAL;
            have_sh = true;
        } else if (kl == 9 && memcmp(p, "Signature", 9) == 0) {
            if (vl != 64)
                return SKY_EINVAL;
            for (size_t i = 0; i < 64; i++) {
                if (!isxdigit((unsigned char)v[i]))
                    return SKY_EINVAL;
                out->signature[i] = (char)tolower((unsigned char)v[i]);
            }
            out->signature[64] = '\0';
            have_sig = true;
        } else {
            return SKY_EINVAL;
        }
        if (!end)
            break;
        p = end + 1;
    }
    if (!have_cred || !have_sh || !have_sig) {
        memset(out, 0, sizeof *out);
        return SKY_EINVAL;
    }
    return SKY_OK;
}
