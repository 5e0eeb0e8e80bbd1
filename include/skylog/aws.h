/*
 * skylog/aws.h - the AWS client plumbing of skylog: SigV4 signing (and verification), credentials,
 * region/endpoint resolution, an HTTP client and the awsJson/awsQuery protocols with SDK-style
 * retries.
 *
 * This layer knows nothing about logging: it is usable on its own to sign and send any AWS request.
 * It is the reference manual for its functions: ownership and threading are stated where each
 * function is declared.
 *
 * Secrets: no function here ever writes a secret access key, a session token or an Authorization
 * header into an error message, a diagnostic or a debug dump. Helpers that print requests mask
 * them (see sky_aws_mask_header()).
 *
 * Strings: unless said otherwise, `const char *` inputs are NUL-terminated UTF-8 and are only read
 * during the call. Strings returned through `char **` are malloc'd and owned by the caller (free()).
 */
#ifndef SKYLOG_AWS_H
#define SKYLOG_AWS_H

#include <skylog.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ============================================================================================
 * Common types
 * ========================================================================================== */

/* One HTTP header: a name (any case) and its value. Views: nothing is owned. */
typedef struct sky_aws_header {
    const char *name;
    const char *value;
} sky_aws_header;

/* A set of AWS credentials. As an input it is a view (nothing owned). Credentials returned by a
 * provider (sky_aws_creds_get()) are a copy owned by the caller: release with
 * sky_aws_credentials_clear(), which also wipes the secret from memory. */
typedef struct sky_aws_credentials {
    char *access_key_id;
    char *secret_access_key;
    char *session_token; /* NULL when the credentials are long-term keys */
    int64_t expiration_ns; /* Unix epoch ns; 0 = does not expire */
} sky_aws_credentials;

/* Frees and wipes the strings of `c` (which must have been filled by this library) and zeroes it.
 * NULL-safe. */
SKY_API void sky_aws_credentials_clear(sky_aws_credentials *c);

/* ============================================================================================
 * SigV4 signing
 *
 * Behaviour matches botocore's SigV4Auth (checked on generated requests by
 * tests/integration/test_sigv4_oracle.py):
 *   - canonical URI: for every service but S3 the raw path (as sent on the wire, already
 *     percent-encoded) has its dot segments and empty segments removed, and is then URI-encoded
 *     once more (so "%20" becomes "%2520": AWS's "double encoding"). With .s3_path the path is used
 *     as it is.
 *   - canonical query: the raw query string is split on '&', each pair on the first '=', and the
 *     pairs are sorted by key then value, byte-wise, WITHOUT re-encoding. Build query strings with
 *     sky_aws_uri_encode() (unreserved set A-Za-z0-9-_.~) so that they are canonical already.
 *   - canonical headers: lower-cased names, values trimmed with inner runs of white space
 *     collapsed to one space, repeated headers joined with ',', sorted by name. Hop-by-hop headers
 *     and User-Agent, Expect, X-Amzn-Trace-Id are never signed (botocore's blacklist).
 *   - payload hash: the X-Amz-Content-SHA256 header if given, else .payload_hash, else the
 *     SHA-256 of the payload.
 * ========================================================================================== */

/* A request to sign. All fields are views. */
typedef struct sky_sigv4_request {
    const char *method;          /* "POST", "GET", ... (upper-cased for signing) */
    const char *host;            /* Host header value ("logs.us-east-1.amazonaws.com" or
                                    "127.0.0.1:4566"); used when no Host is in .headers */
    const char *path;            /* raw path as it goes on the wire; NULL or "" means "/" */
    const char *query;           /* raw query string without '?', as on the wire; NULL = none */
    const sky_aws_header *headers; /* headers that will be sent (Host optional) */
    size_t n_headers;
    const void *payload;         /* body; hashed unless payload_hash is set */
    size_t payload_len;
    const char *payload_hash;    /* optional: hex SHA-256 of the body, or "UNSIGNED-PAYLOAD" */
} sky_sigv4_request;

/* Who signs, where, when. */
typedef struct sky_sigv4_params {
    const char *access_key_id;     /* required */
    const char *secret_access_key; /* required */
    const char *session_token;     /* optional: signed as X-Amz-Security-Token */
    const char *region;            /* required, e.g. "us-east-1" */
    const char *service;           /* required: "logs", "monitoring", "sts", ... */
    int64_t time_ns;               /* signing time, Unix epoch ns; 0 = sky_now_ns() */
    bool s3_path;                  /* S3 rules: no path normalisation, no double encoding */
    int64_t expires_s;             /* presign only: X-Amz-Expires, default 3600 */
    bool want_canonical;           /* also return the canonical request and string to sign */
} sky_sigv4_params;

/* What signing produced. Fill with sky_sigv4_sign() or sky_sigv4_presign(); release with
 * sky_sigv4_result_free(). */
typedef struct sky_sigv4_result {
    char amz_date[17];         /* "20250101T000000Z": send as X-Amz-Date */
    char signature[65];        /* lower-case hex */
    char payload_hash[65];     /* hex SHA-256 used (or "UNSIGNED-PAYLOAD") */
    char *authorization;       /* header mode: the Authorization header value */
    char *signed_headers;      /* "host;x-amz-date;..." */
    char *presigned_query;     /* presign mode: full query string to put after '?' */
    char *canonical_request;   /* if params.want_canonical */
    char *string_to_sign;      /* if params.want_canonical */
} sky_sigv4_result;

/* Signs a request for the Authorization header. The caller must then send the headers
 * X-Amz-Date: out->amz_date, Authorization: out->authorization, and, with a session token,
 * X-Amz-Security-Token: <token> (those three are signed even if absent from req->headers; any
 * copies in req->headers are replaced). Returns SKY_EINVAL for missing fields, SKY_ENOMEM.
 * Thread-safe (the signing-key cache is internally locked). */
SKY_API sky_status sky_sigv4_sign(const sky_sigv4_request *req, const sky_sigv4_params *params,
                                  sky_sigv4_result *out);

/* Presigned-URL form: out->presigned_query is req->query (if any) followed by X-Amz-Algorithm,
 * X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders, X-Amz-Security-Token and
 * X-Amz-Signature, encoded. Only the host and the headers in req->headers are signed. Same
 * payload rule as sky_sigv4_sign(). Thread-safe. */
SKY_API sky_status sky_sigv4_presign(const sky_sigv4_request *req, const sky_sigv4_params *params,
                                     sky_sigv4_result *out);

/* Frees the strings of a result and zeroes it. NULL-safe. */
SKY_API void sky_sigv4_result_free(sky_sigv4_result *r);

/* ---- Server side: verifying a signature -----------------------------------------------------
 *
 * A server that received a signed request recomputes the signature with the secret it knows for
 * the access key id, then compares it with the one sent (use sky_sigv4_equal(), constant time).
 *
 *     sky_sigv4_auth a;
 *     if (sky_sigv4_parse_authorization(auth_header, &a) != SKY_OK) -> 403 IncompleteSignature
 *     look up the secret for a.access_key_id            -> 403 UnrecognizedClientException
 *     check X-Amz-Date is within 15 minutes of now and starts with a.date -> 403 (skew)
 *     char sig[65];
 *     sky_sigv4_verify_input in = { .secret_access_key = secret, .amz_date = x_amz_date,
 *         .scope_date = a.date, .region = a.region, .service = a.service,
 *         .signed_headers = a.signed_headers, .method = "POST", .path = raw_path,
 *         .query = raw_query, .headers = hdrs, .n_headers = n, .payload_hash = sha256_hex_of_body };
 *     sky_sigv4_compute_signature(&in, sig, NULL);
 *     if (!sky_sigv4_equal(sig, a.signature)) -> 403 SignatureDoesNotMatch
 * ------------------------------------------------------------------------------------------- */

/* The parts of an "Authorization: AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/logs/
 * aws4_request, SignedHeaders=host;x-amz-date, Signature=<hex>" header value. Fixed-size copies;
 * nothing to free. */
typedef struct sky_sigv4_auth {
    char access_key_id[129];
    char date[9];          /* "20250101" */
    char region[64];
    char service[64];
    char signed_headers[1024]; /* "host;x-amz-date" (as sent) */
    char signature[65];    /* as sent, lower-cased */
} sky_sigv4_auth;

/* Parses an Authorization header value (the part after "Authorization:"). Accepts the three
 * components in any order, separated by ',' with optional spaces. Returns SKY_EINVAL if it is not a
 * well-formed AWS4-HMAC-SHA256 value (wrong algorithm, missing component, scope not ending in
 * "aws4_request", signature not 64 hex digits, a field too long). Pure; thread-safe. */
SKY_API sky_status sky_sigv4_parse_authorization(const char *value, sky_sigv4_auth *out);

/* A request as the server received it. All fields are views. */
typedef struct sky_sigv4_verify_input {
    const char *secret_access_key; /* the secret the server holds for the access key id */
    const char *amz_date;       /* the X-Amz-Date header (or X-Amz-Date query parameter) */
    const char *scope_date;     /* the date of the credential scope; NULL = amz_date[0..8) */
    const char *region;         /* from the credential scope */
    const char *service;        /* from the credential scope */
    const char *signed_headers; /* the SignedHeaders list as sent: "host;x-amz-date" */
    const char *method;
    const char *path;           /* raw path as received (still percent-encoded) */
    const char *query;          /* raw query string as received, without '?'; NULL = none */
    const sky_aws_header *headers; /* every header received (only signed ones are used; names
                                      any case; repeated headers are joined with ',') */
    size_t n_headers;
    const char *payload_hash;   /* hex SHA-256 of the received body (or the value of the
                                   X-Amz-Content-SHA256 header if the client sent one) */
    bool presigned;             /* drop X-Amz-Signature from the canonical query */
    bool s3_path;               /* S3 path rules (see sky_sigv4_params) */
} sky_sigv4_verify_input;

/* Computes the hex signature of a received request into `sig_hex` (65 bytes). If `canonical` is
 * not NULL it receives the canonical request (malloc'd; handy in a SignatureDoesNotMatch message,
 * as AWS does). A signed header missing from the request is signed with an empty value (the
 * signature will then not match). Returns SKY_EINVAL for missing fields, SKY_ENOMEM. Pure apart
 * from the internal signing-key cache; thread-safe. */
SKY_API sky_status sky_sigv4_compute_signature(const sky_sigv4_verify_input *in, char sig_hex[65],
                                               char **canonical);

/* Constant-time comparison of two hex signatures (case-insensitive); false if either is NULL or
 * the lengths differ. */
SKY_API bool sky_sigv4_equal(const char *a, const char *b);

/* URI-encodes `len` bytes of `s` the AWS way (everything except A-Za-z0-9-_.~ becomes %XX with
 * upper-case hex; with keep_slash, '/' is kept too). Returns a malloc'd string, NULL on oom. */
SKY_API char *sky_aws_uri_encode(const char *s, size_t len, bool keep_slash);

/* Lower-case hex SHA-256 of a buffer into `hex` (65 bytes). */
SKY_API void sky_aws_sha256_hex(const void *data, size_t len, char hex[65]);

#ifdef __cplusplus
}
#endif
#endif /* SKYLOG_AWS_H */
