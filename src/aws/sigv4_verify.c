/*
 * sigv4_verify.c - the server side of SigV4: given a request as received, decide whether its
 * signature is valid and, if not, which error AWS would answer. Used by the local
 * CloudWatch-compatible endpoint; the recomputation itself is sky_sigv4_compute_signature().
 *
 * Both forms are accepted: the Authorization header and the presigned query string. The order of
 * checks follows what AWS reports first: no auth at all, a malformed header, a missing date, a
 * clock outside the allowed skew, an unknown key, and last a signature mismatch.
 *
 * The payload hash is always computed from the body received. A client may also send
 * X-Amz-Content-SHA256 (botocore signs that value instead of hashing again); it must then equal
 * the body's hash, else XAmzContentSHA256Mismatch, as AWS answers. Trusting the header alone
 * would let anyone who saw one signed request replay its headers with any body. The one
 * exception is the literal UNSIGNED-PAYLOAD, by which the signer itself chose not to cover the
 * body (a replayed request cannot switch to it: the signature covers the value); callers that
 * want every body covered refuse it themselves (skylog serve does).
 *
 * Every number read from the request (dates, X-Amz-Expires) is checked digit by digit and
 * range-checked before any arithmetic, so no client value can overflow.
 *
 * Must never: put the secret, or the expected signature, into the verdict's message (a
 * mismatch message that revealed the expected signature would let a client forge requests).
 */
#include "aws/sigv4.h"

#include "aws/buf.h"
#include "util/secmem.h"
#include "util/text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *header(const sky_sigv4_received *r, const char *name)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (r->headers[i].name && strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

static sky_status fail(sky_sigv4_verdict *v, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static sky_status fail(sky_sigv4_verdict *v, const char *code, const char *fmt, ...)
{
    v->status = SKY_EAUTH;
    v->http_status = 400;
    snprintf(v->error_code, sizeof v->error_code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->message, sizeof v->message, fmt, ap);
    va_end(ap);
    return v->status;
}

/* libcrypto cannot be loaded: the server's fault, not the client's; the reason goes in the
 * message (it names a library, never a secret). */
static sky_status crypto_missing(sky_sigv4_verdict *v)
{
    v->status = SKY_EUNSUPPORTED;
    v->http_status = 500;
    snprintf(v->error_code, sizeof v->error_code, "InternalFailure");
    char why[sizeof v->message];
    sky_aws_crypto_init(why, sizeof why);
    snprintf(v->message, sizeof v->message, "%s", why);
    return v->status;
}

/* Percent-decodes [s, s+n) into dst (cap bytes); false if it does not fit. */
static bool pct_decode(const char *s, size_t n, char *dst, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (o + 1 >= cap)
            return false;
        uint8_t b;
        if (s[i] == '%' && i + 2 < n && sky__unhex(s + i + 1, 1, &b, false)) {
            dst[o++] = (char)b;
            i += 2;
        } else {
            dst[o++] = s[i];
        }
    }
    dst[o] = '\0';
    return true;
}

/* Finds a query parameter by exact (encoded) name; decodes its value into dst. */
static bool query_param(const char *q, const char *name, char *dst, size_t cap)
{
    size_t nl = strlen(name);
    const char *p = q;
    while (p && *p) {
        const char *amp = strchr(p, '&');
        size_t l = amp ? (size_t)(amp - p) : strlen(p);
        if (l > nl && strncmp(p, name, nl) == 0 && p[nl] == '=')
            return pct_decode(p + nl + 1, l - nl - 1, dst, cap);
        p = amp ? amp + 1 : NULL;
    }
    return false;
}

/* The value of `n` decimal digits at s; -1 if any is not a digit. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static bool parse_amz_date(const char *s, int64_t *ns)
{
    /* Digit by digit: sscanf("%2d") would also take signs and spaces ("-1", " 1"). */
    if (!s || strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z')
        return false;
    int Y = digits(s, 4), M = digits(s + 4, 2), D = digits(s + 6, 2), h = digits(s + 9, 2),
        m = digits(s + 11, 2), sec = digits(s + 13, 2);
    if (Y < 1970 || Y > 2200 || M < 0 || D < 0 || h < 0 || m < 0 || sec < 0)
        return false; /* the year range keeps the ns arithmetic far from overflow */
    struct tm tm = {.tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D, .tm_hour = h,
                    .tm_min = m, .tm_sec = sec};
    *ns = (int64_t)timegm(&tm) * 1000000000;
    return M >= 1 && M <= 12 && D >= 1 && D <= 31 && h < 24 && m < 60 && sec <= 60;
}

static bool list_has(const char *list, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *semi = strchr(p, ';');
        size_t l = semi ? (size_t)(semi - p) : strlen(p);
        if (l == nl && strncasecmp(p, name, nl) == 0)
            return true;
        p = semi ? semi + 1 : NULL;
    }
    return false;
}

sky_status sky_sigv4_verify(const sky_sigv4_received *r, sky_sigv4_secret_fn secret_fn,
                            void *user, sky_sigv4_verdict *v)
{
    if (!v)
        return SKY_EINVAL;
    memset(v, 0, sizeof *v);
    if (!r || !r->method || !secret_fn) {
        v->status = SKY_EINVAL;
        return SKY_EINVAL;
    }
    int64_t now = r->now_ns ? r->now_ns : sky_now_ns();
    int64_t skew = (r->max_skew_s > 0 ? r->max_skew_s : 900) * 1000000000LL;
    const char *authz = header(r, "Authorization");
    char amz_date[17] = "";
    int64_t expires_s = 0;

    if (authz) {
        if (sky_sigv4_parse_authorization(authz, &v->auth) != SKY_OK)
            return fail(v, "IncompleteSignatureException",
                        "Authorization header is not a valid AWS4-HMAC-SHA256 value "
                        "(Credential, SignedHeaders and Signature are required)");
        const char *xd = header(r, "X-Amz-Date");
        const char *d = header(r, "Date");
        if (xd) {
            snprintf(amz_date, sizeof amz_date, "%s", xd);
        } else if (d) {
            int64_t t;
            if (sky_aws_parse_http_date(d, &t) != SKY_OK)
                return fail(v, "IncompleteSignatureException", "Date header is malformed");
            sky__sigv4_amz_date(t, amz_date);
        } else {
            return fail(v, "IncompleteSignatureException",
                        "Authorization header requires existence of either a 'X-Amz-Date' or a "
                        "'Date' header.");
        }
    } else {
        const char *q = r->query ? r->query : "";
        char alg[32], cred[512], sh[1024], sig[80], exp[32], rebuilt[2048];
        if (!query_param(q, "X-Amz-Algorithm", alg, sizeof alg) &&
            !query_param(q, "X-Amz-Signature", sig, sizeof sig)) {
            v->http_status = 400;
            return fail(v, "MissingAuthenticationTokenException", "Missing Authentication Token");
        }
        v->presigned = true;
        if (!query_param(q, "X-Amz-Algorithm", alg, sizeof alg) ||
            strcmp(alg, "AWS4-HMAC-SHA256") != 0 ||
            !query_param(q, "X-Amz-Credential", cred, sizeof cred) ||
            !query_param(q, "X-Amz-SignedHeaders", sh, sizeof sh) ||
            !query_param(q, "X-Amz-Signature", sig, sizeof sig) ||
            !query_param(q, "X-Amz-Date", amz_date, sizeof amz_date))
            return fail(v, "IncompleteSignatureException",
                        "presigned request lacks X-Amz-Algorithm, X-Amz-Credential, "
                        "X-Amz-SignedHeaders, X-Amz-Date or X-Amz-Signature");
        if (query_param(q, "X-Amz-Expires", exp, sizeof exp)) {
            /* AWS caps presigned URLs at 7 days; checked before any arithmetic. */
            size_t el = strlen(exp);
            if (el == 0 || strspn(exp, "0123456789") != el)
                return fail(v, "IncompleteSignatureException",
                            "X-Amz-Expires should be a number");
            const char *num = exp + strspn(exp, "0"); /* significant digits: at most 7 read */
            size_t sl = strlen(num);
            expires_s = sl > 7 ? SKY_SIGV4_MAX_EXPIRES_S + 1 : sl ? digits(num, (int)sl) : 0;
            if (expires_s < 1 || expires_s > SKY_SIGV4_MAX_EXPIRES_S)
                return fail(v, "IncompleteSignatureException",
                            "X-Amz-Expires must be less than a week (in seconds) that is 604800");
        }
        snprintf(rebuilt, sizeof rebuilt,
                 "AWS4-HMAC-SHA256 Credential=%s, SignedHeaders=%s, Signature=%s", cred, sh, sig);
        if (sky_sigv4_parse_authorization(rebuilt, &v->auth) != SKY_OK)
            return fail(v, "IncompleteSignatureException", "presigned X-Amz-* values are malformed");
    }

    if (!list_has(v->auth.signed_headers, "host"))
        return fail(v, "IncompleteSignatureException",
                    "'Host' must be a 'SignedHeader' in the AWS Authorization.");
    int64_t t;
    if (!parse_amz_date(amz_date, &t))
        return fail(v, "IncompleteSignatureException", "X-Amz-Date must be in ISO-8601 basic "
                                                       "format (YYYYMMDD'T'HHMMSS'Z')");
    if (strncmp(amz_date, v->auth.date, 8) != 0)
        return fail(v, "InvalidSignatureException",
                    "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                    "date from HTTP: '%s' != '%.8s'",
                    v->auth.date, amz_date);
    char now_s[17];
    sky__sigv4_amz_date(now, now_s);
    if (v->presigned && expires_s > 0) {
        if (now > t + expires_s * 1000000000LL)
            return fail(v, "InvalidSignatureException",
                        "Signature expired: %s is now earlier than %s (X-Amz-Expires %lld s)",
                        amz_date, now_s, (long long)expires_s);
    } else if (t < now - skew) {
        return fail(v, "InvalidSignatureException",
                    "Signature expired: %s is now earlier than %s (%s - %lld min.)", amz_date,
                    now_s, now_s, (long long)(skew / 60000000000LL));
    }
    if (t > now + skew)
        return fail(v, "InvalidSignatureException",
                    "Signature not yet current: %s is still later than %s (%s + %lld min.)",
                    amz_date, now_s, now_s, (long long)(skew / 60000000000LL));

    char secret[256];
    sky_status st = secret_fn(user, v->auth.access_key_id, secret, sizeof secret);
    if (st != SKY_OK) {
        sky__wipe(secret, sizeof secret);
        return fail(v, "UnrecognizedClientException",
                    "The security token included in the request is invalid.");
    }
    char payload_hash[65];
    sky_aws_sha256_hex(r->body, r->body ? r->body_len : 0, payload_hash);
    if (!payload_hash[0]) { /* no libcrypto: cannot hash, so cannot verify */
        sky__wipe(secret, sizeof secret);
        return crypto_missing(v);
    }
    const char *ph = header(r, "X-Amz-Content-SHA256");
    if (ph && strcmp(ph, "UNSIGNED-PAYLOAD") != 0 && strcasecmp(ph, payload_hash) != 0) {
        sky__wipe(secret, sizeof secret);
        return fail(v, "XAmzContentSHA256Mismatch",
                    "The provided 'x-amz-content-sha256' header does not match what was "
                    "computed.");
    }
    if (ph) /* signed as sent (hex digits in either case) */
        snprintf(payload_hash, sizeof payload_hash, "%s", ph);

    sky_sigv4_verify_input in = {
        .secret_access_key = secret, .amz_date = amz_date, .scope_date = v->auth.date,
        .region = v->auth.region, .service = v->auth.service,
        .signed_headers = v->auth.signed_headers, .method = r->method, .path = r->path,
        .query = r->query, .headers = r->headers, .n_headers = r->n_headers,
        .payload_hash = payload_hash, .presigned = v->presigned, .s3_path = r->s3_path};
    char expected[65];
    st = sky_sigv4_compute_signature(&in, expected, NULL);
    sky__wipe(secret, sizeof secret);
    if (st == SKY_EUNSUPPORTED)
        return crypto_missing(v);
    if (st != SKY_OK) {
        v->status = st;
        return st;
    }
    bool ok = sky_sigv4_equal(expected, v->auth.signature);
    sky__wipe(expected, sizeof expected);
    if (!ok)
        return fail(v, "InvalidSignatureException",
                    "The request signature we calculated does not match the signature you "
                    "provided. Check your AWS Secret Access Key and signing method. Consult the "
                    "service documentation for details.");
    v->status = SKY_OK;
    v->http_status = 200;
    return SKY_OK;
}
