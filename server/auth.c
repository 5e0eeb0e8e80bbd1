/*
 * auth.c - request authentication for the local endpoint (see auth.h).
 *
 * Error shapes follow AWS: JSON services (Logs, ingestion) answer 400 with
 * MissingAuthenticationTokenException, IncompleteSignatureException, UnrecognizedClientException
 * or InvalidSignatureException ("Signature expired: ..." for clock skew); the metrics API, an
 * awsQuery service at heart, answers 403 with the query codes (MissingAuthenticationToken,
 * IncompleteSignature, InvalidClientTokenId, SignatureDoesNotMatch), which its JSON form carries
 * in x-amzn-query-error. Nothing here ever echoes a secret or a signature back.
 */
#include "auth.h"

#include "server.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

enum err { E_MISSING, E_INCOMPLETE, E_UNKNOWN_KEY, E_SIGNATURE };

static void fail(sky__reply *r, sky__api api, enum err e, const char *fmt, const char *detail)
{
    bool query = api == SKY__API_METRICS_JSON || api == SKY__API_METRICS_QUERY;
    static const char *const json_codes[] = {"MissingAuthenticationTokenException",
                                             "IncompleteSignatureException",
                                             "UnrecognizedClientException",
                                             "InvalidSignatureException"};
    static const char *const query_codes[] = {"MissingAuthenticationToken", "IncompleteSignature",
                                              "InvalidClientTokenId", "SignatureDoesNotMatch"};
    sky__reply_error(r, api, query ? 403 : 400, query ? query_codes[e] : json_codes[e], fmt,
                     detail ? detail : "");
}

static bool parse_amz_date(const char *s, time_t *out)
{
    struct tm tm = {0};
    if (!s || strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z')
        return false;
    if (sscanf(s, "%4d%2d%2dT%2d%2d%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6)
        return false;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *out = timegm(&tm);
    return *out != (time_t)-1;
}

static void fmt_amz_date(time_t t, char buf[17])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 17, "%Y%m%dT%H%M%SZ", &tm);
}

/* Bearer tokens are compared in constant time, so response timing says nothing about them. */
static bool token_equal(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    unsigned char diff = (unsigned char)(na != nb);
    for (size_t i = 0; i < na; i++)
        diff |= (unsigned char)(a[i] ^ b[i % (nb ? nb : 1)]);
    return diff == 0;
}

static bool check_sigv4(const sky__request *req, sky__api api, const char *authz, sky__reply *r)
{
    const sky__serve_opts *o = req->server->opts;
    sky_sigv4_auth a;
    if (sky_sigv4_parse_authorization(authz, &a) != SKY_OK) {
        fail(r, api, E_INCOMPLETE,
             "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' "
             "parameters in the AWS4-HMAC-SHA256 format.%s",
             NULL);
        return false;
    }
    if (strcmp(a.access_key_id, o->access_key) != 0) {
        fail(r, api, E_UNKNOWN_KEY, "The security token included in the request is invalid.%s",
             NULL);
        return false;
    }
    const char *want_service = api == SKY__API_METRICS_JSON || api == SKY__API_METRICS_QUERY
                                   ? "monitoring"
                                   : "logs";
    if (strcmp(a.service, want_service) != 0) {
        fail(r, api, E_SIGNATURE, "Credential should be scoped to correct service: '%s'.",
             want_service);
        return false;
    }
    if (strcmp(a.region, o->region) != 0) {
        fail(r, api, E_SIGNATURE, "Credential should be scoped to a valid region, not '%s'.",
             a.region);
        return false;
    }
    const char *amz_date = req->header(req, "X-Amz-Date");
    time_t t;
    if (!parse_amz_date(amz_date, &t)) {
        fail(r, api, E_INCOMPLETE,
             "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
             "header.%s",
             NULL);
        return false;
    }
    time_t now = time(NULL);
    if (t < now - SKY__AUTH_MAX_SKEW_S || t > now + SKY__AUTH_MAX_SKEW_S) {
        char msg[160], sent[17], edge[17], nows[17];
        bool expired = t < now;
        fmt_amz_date(t, sent);
        fmt_amz_date(expired ? now - SKY__AUTH_MAX_SKEW_S : now + SKY__AUTH_MAX_SKEW_S, edge);
        fmt_amz_date(now, nows);
        snprintf(msg, sizeof msg, "%s: %s is %s than %s (%s %c 5 min.)",
                 expired ? "Signature expired" : "Signature not yet current", sent,
                 expired ? "now earlier" : "still later", edge, nows, expired ? '-' : '+');
        fail(r, api, E_SIGNATURE, "%s", msg);
        return false;
    }
    char payload_hash[65];
    const char *sent_hash = req->header(req, "X-Amz-Content-SHA256");
    if (sent_hash && strlen(sent_hash) == 64)
        snprintf(payload_hash, sizeof payload_hash, "%s", sent_hash);
    else
        sky_aws_sha256_hex(req->raw_body, req->raw_len, payload_hash);
    sky_sigv4_verify_input in = {
        .secret_access_key = o->secret_key,
        .amz_date = amz_date,
        .scope_date = a.date,
        .region = a.region,
        .service = a.service,
        .signed_headers = a.signed_headers,
        .method = req->method,
        .path = req->raw_path,
        .query = req->query,
        .headers = req->headers,
        .n_headers = req->n_headers,
        .payload_hash = payload_hash,
    };
    char sig[65];
    if (sky_sigv4_compute_signature(&in, sig, NULL) != SKY_OK || !sky_sigv4_equal(sig, a.signature)) {
        fail(r, api, E_SIGNATURE,
             "The request signature we calculated does not match the signature you provided. "
             "Check your AWS Secret Access Key and signing method. Consult the service "
             "documentation for details.%s",
             NULL);
        return false;
    }
    return true;
}

bool sky__auth_check(const sky__request *req, sky__api api, sky__reply *r)
{
    const sky__serve_opts *o = req->server->opts;
    const char *authz = req->header(req, "Authorization");
    if (api == SKY__API_INGEST && o->bearer_token && authz && strncasecmp(authz, "Bearer ", 7) == 0) {
        const char *tok = authz + 7;
        while (*tok == ' ')
            tok++;
        if (token_equal(tok, o->bearer_token))
            return true;
        fail(r, api, E_UNKNOWN_KEY, "The bearer token included in the request is invalid.%s",
             NULL);
        return false;
    }
    if (o->auth == SKY__AUTH_NONE)
        return true;
    if (!authz || !*authz) {
        fail(r, api, E_MISSING, "Missing Authentication Token%s", NULL);
        return false;
    }
    return check_sigv4(req, api, authz, r);
}
