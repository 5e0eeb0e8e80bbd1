/*
 * auth.c - request authentication for the local endpoint (see auth.h).
 *
 * SigV4 is checked by the AWS layer's sky_sigv4_verify() (src/aws/sigv4_verify.c): parsing,
 * date and skew, key lookup, signature recomputation and constant-time comparison all live
 * there, once, checked against botocore. This file only supplies the key pair, the 5-minute
 * skew CloudWatch allows, the credential-scope checks (service and region) and the error shape
 * of each protocol: JSON services (Logs, ingestion) answer 400 with the awsJson codes; the
 * metrics API, an awsQuery service at heart, answers 403 with the query codes
 * (MissingAuthenticationToken, IncompleteSignature, InvalidClientTokenId,
 * SignatureDoesNotMatch), which its JSON form carries in x-amzn-query-error.
 * Every signed body must be covered by its signature: sky_sigv4_verify() hashes the body
 * received, and the X-Amz-Content-SHA256 value UNSIGNED-PAYLOAD (which it accepts as the signer's
 * choice) is refused here, so a request seen once cannot be replayed with another body.
 * Nothing here ever echoes a secret or a signature back.
 */
#include "auth.h"

#include "server.h"

#include "util/secmem.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool is_metrics(sky__api api)
{
    return api == SKY__API_METRICS_JSON || api == SKY__API_METRICS_QUERY;
}

/* awsJson error code -> the awsQuery code the metrics API uses for the same failure. */
static const char *query_code(const char *json_code)
{
    static const struct {
        const char *json, *query;
    } map[] = {
        {"MissingAuthenticationTokenException", "MissingAuthenticationToken"},
        {"IncompleteSignatureException", "IncompleteSignature"},
        {"UnrecognizedClientException", "InvalidClientTokenId"},
        {"InvalidSignatureException", "SignatureDoesNotMatch"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].json, json_code) == 0)
            return map[i].query;
    return json_code;
}

static void fail(sky__reply *r, sky__api api, const char *json_code, const char *msg)
{
    if (is_metrics(api))
        sky__reply_error(r, api, 403, query_code(json_code), "%s", msg);
    else
        sky__reply_error(r, api, 400, json_code, "%s", msg);
}

/* The one key pair `skylog serve` knows. */
static sky_status lookup_secret(void *user, const char *access_key_id, char *secret, size_t cap)
{
    const sky__serve_opts *o = user;
    if (strcmp(access_key_id, o->access_key) != 0)
        return SKY_ENOTFOUND;
    if ((size_t)snprintf(secret, cap, "%s", o->secret_key) >= cap)
        return SKY_ENOTFOUND;
    return SKY_OK;
}

/* Bearer tokens are compared in constant time, so response timing says nothing about them. */
static bool token_equal(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    return na == nb && sky__ct_equal(a, b, na);
}

static bool check_sigv4(const sky__request *req, sky__api api, sky__reply *r)
{
    const sky__serve_opts *o = req->server->opts;
    sky_sigv4_received rec = {
        .method = req->method,
        .path = req->raw_path,
        .query = req->query,
        .headers = req->headers,
        .n_headers = req->n_headers,
        .body = req->raw_body,
        .body_len = req->raw_len,
        .max_skew_s = SKY__AUTH_MAX_SKEW_S,
    };
    const char *ph = req->header(req, "X-Amz-Content-SHA256");
    if (ph && strcmp(ph, "UNSIGNED-PAYLOAD") == 0) {
        fail(r, api, "XAmzContentSHA256Mismatch",
             "skylog serve requires signed payloads: X-Amz-Content-SHA256 must be the SHA-256 "
             "of the body, not UNSIGNED-PAYLOAD.");
        return false;
    }
    sky_sigv4_verdict v;
    sky_sigv4_verify(&rec, lookup_secret, (void *)o, &v);
    if (v.status == SKY_ENOMEM) {
        sky__reply_error(r, api, 500, is_metrics(api) ? "InternalServiceError" : "InternalFailure",
                         "out of memory");
        return false;
    }
    if (v.status != SKY_OK) {
        fail(r, api, v.error_code[0] ? v.error_code : "IncompleteSignatureException",
             v.message[0] ? v.message : "The request could not be authenticated.");
        return false;
    }
    /* A valid signature for another service or region is still the wrong credential scope. */
    const char *want = is_metrics(api) ? "monitoring" : "logs";
    char msg[160];
    if (strcmp(v.auth.service, want) != 0) {
        snprintf(msg, sizeof msg, "Credential should be scoped to correct service: '%s'.", want);
        fail(r, api, "InvalidSignatureException", msg);
        return false;
    }
    if (strcmp(v.auth.region, o->region) != 0) {
        snprintf(msg, sizeof msg, "Credential should be scoped to a valid region, not '%.64s'.",
                 v.auth.region);
        fail(r, api, "InvalidSignatureException", msg);
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
        fail(r, api, "UnrecognizedClientException",
             "The bearer token included in the request is invalid.");
        return false;
    }
    if (o->auth == SKY__AUTH_NONE)
        return true;
    return check_sigv4(req, api, r);
}
