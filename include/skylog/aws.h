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
 *
 * Calling a service (credentials, region and endpoint from the usual AWS settings):
 *
 *     sky_aws_client *c;
 *     char why[256];
 *     if (sky_aws_client_new(&(sky_aws_client_opts){ .service = "logs" }, &c, why, sizeof why))
 *         ... why says what is missing ...
 *     sky_http_response resp;
 *     sky_aws_error err;
 *     const char *body = "{\"logGroupName\":\"app\"}";
 *     if (sky_aws_client_call(c, &(sky_aws_call){ .target = "Logs_20140328.CreateLogGroup",
 *                                                 .body = body, .body_len = strlen(body) },
 *                             &resp, &err) == SKY_OK)
 *         sky_http_response_free(&resp);
 *     else if (strcmp(err.code, "ResourceAlreadyExistsException") != 0)
 *         fprintf(stderr, "%s: %s (%d attempts)\n", err.code, err.message, err.attempts);
 *     sky_aws_client_free(c);
 *
 * Verifying a request on a server: sky_sigv4_verify() (or the lower-level
 * sky_sigv4_parse_authorization() + sky_sigv4_compute_signature()).
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

/* A set of AWS credentials. Credentials returned by a provider (sky_aws_creds_get()) are a copy
 * owned by the caller: release with sky_aws_credentials_clear(), which also wipes the secret from
 * memory. (To sign with keys you hold, pass them in sky_sigv4_params.) */
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
 * X-Amz-Security-Token: <token>. X-Amz-Date and X-Amz-Security-Token are signed even if absent
 * from req->headers (copies there are replaced); an Authorization in req->headers is ignored.
 * Returns SKY_EINVAL for missing fields (or no Host anywhere), SKY_ENOMEM, SKY_EUNSUPPORTED
 * when libcrypto cannot be loaded (sky_aws_crypto_init() says why).
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
 *     if (sky_sigv4_parse_authorization(auth_header, &a) != SKY_OK) -> IncompleteSignature
 *     look up the secret for a.access_key_id            -> UnrecognizedClientException
 *     check X-Amz-Date is within 15 minutes of now and starts with a.date -> InvalidSignature
 *     char sig[65];
 *     sky_sigv4_verify_input in = { .secret_access_key = secret, .amz_date = x_amz_date,
 *         .scope_date = a.date, .region = a.region, .service = a.service,
 *         .signed_headers = a.signed_headers, .method = "POST", .path = raw_path,
 *         .query = raw_query, .headers = hdrs, .n_headers = n, .payload_hash = sha256_hex_of_body };
 *     sky_sigv4_compute_signature(&in, sig, NULL);
 *     if (!sky_sigv4_equal(sig, a.signature)) -> SignatureDoesNotMatch
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

/* ---- Server side: one call that does all the checks -------------------------------------- */

/* Looks up the secret of an access key id: write it into secret (cap bytes) and return SKY_OK,
 * or return SKY_ENOTFOUND for an unknown key. Called once per verification. */
typedef sky_status (*sky_sigv4_secret_fn)(void *user, const char *access_key_id, char *secret,
                                          size_t cap);

/* A request as received. Views. */
typedef struct sky_sigv4_received {
    const char *method;
    const char *path;             /* raw, still percent-encoded */
    const char *query;            /* raw, without '?'; NULL = none */
    const sky_aws_header *headers;
    size_t n_headers;
    const void *body;             /* the body as received: always hashed (see sky_sigv4_verify) */
    size_t body_len;
    int64_t now_ns;               /* server time; 0 = sky_now_ns() */
    int64_t max_skew_s;           /* allowed |X-Amz-Date - now|; default 900 (AWS: 15 min) */
    bool s3_path;
} sky_sigv4_received;

/* The longest validity of a presigned URL AWS accepts (X-Amz-Expires): 7 days. */
#define SKY_SIGV4_MAX_EXPIRES_S 604800

/* The outcome, with the error AWS would answer. */
typedef struct sky_sigv4_verdict {
    sky_status status;            /* SKY_OK or SKY_EAUTH (or SKY_ENOMEM) */
    int http_status;              /* 200, or 400 as awsJson services answer these errors
                                     (awsQuery services answer 403) */
    char error_code[64];          /* awsJson names: MissingAuthenticationTokenException,
                                     IncompleteSignatureException, UnrecognizedClientException,
                                     InvalidSignatureException (expired or mismatched);
                                     awsQuery services say MissingAuthenticationToken,
                                     IncompleteSignature, InvalidClientTokenId, SignatureDoesNotMatch */
    char message[256];            /* AWS-like text; never contains the secret */
    sky_sigv4_auth auth;          /* what was parsed (access key id, scope, signature) */
    bool presigned;               /* the request used the query-string form */
} sky_sigv4_verdict;

/* Verifies a received request end to end: finds the Authorization header (or the presigned
 * X-Amz-* query parameters), parses it, checks the algorithm, the date (X-Amz-Date or Date header,
 * within max_skew_s of now, and matching the scope date), presigned expiry (X-Amz-Expires must be
 * 1..SKY_SIGV4_MAX_EXPIRES_S), looks up the secret, recomputes the signature and compares it in
 * constant time. Returns out->status.
 *
 * The payload hash signed over is always the SHA-256 of `body` as given: a request whose body
 * was swapped after signing never verifies. If the request carries X-Amz-Content-SHA256, it must
 * equal that hash (any case), else the verdict is XAmzContentSHA256Mismatch (400), as AWS
 * answers. The literal "UNSIGNED-PAYLOAD" is accepted and signed as such: the signer chose not
 * to cover the body (S3 and some SDK operations do), and a replayed request cannot switch to it
 * because the signature covers the value. A server that wants every body covered must refuse
 * that header value itself (skylog serve does).
 * Thread-safe if `secret_fn` is. */
SKY_API sky_status sky_sigv4_verify(const sky_sigv4_received *req, sky_sigv4_secret_fn secret_fn,
                                    void *user, sky_sigv4_verdict *out);

/* URI-encodes `len` bytes of `s` the AWS way (everything except A-Za-z0-9-_.~ becomes %XX with
 * upper-case hex; with keep_slash, '/' is kept too). Returns a malloc'd string, NULL on oom. */
SKY_API char *sky_aws_uri_encode(const char *s, size_t len, bool keep_slash);

/* Lower-case hex SHA-256 of a buffer into `hex` (65 bytes). If libcrypto cannot be loaded
 * (see sky_aws_crypto_init()), `hex` is the empty string. */
SKY_API void sky_aws_sha256_hex(const void *data, size_t len, char hex[65]);

/* libskylog does not link OpenSSL's libcrypto: it loads it with dlopen() the first time it
 * hashes or signs (an AWS client is created, a request signed or verified, an SSO token looked
 * up), so that a program which never talks to AWS never maps it (~0.75 MiB of RSS). It tries
 * $SKYLOG_LIBCRYPTO (a path or soname) first, then libcrypto.so.3, then libcrypto.so.1.1.
 * Without any of them (Debian/Ubuntu: package libssl3) signing, verifying and creating AWS
 * clients fail with SKY_EUNSUPPORTED; nothing is ever signed with a made-up key.
 *
 * Loads libcrypto now, if that was not done yet; the outcome is decided once per process.
 * Returns SKY_OK, or SKY_EUNSUPPORTED with the reason in `errbuf` (may be NULL), like
 * "libcrypto.so.3 could not be loaded (<dlerror text>): install OpenSSL's libcrypto (...)".
 * Calling it is optional; it is how to learn why signing failed. Thread-safe. */
SKY_API sky_status sky_aws_crypto_init(char *errbuf, size_t errlen);


/* ============================================================================================
 * HTTP client (libcurl, or skylog's own: see sky_http_transport)
 *
 * One client keeps its connections alive and reuses them between requests to the same host (one
 * native connection, or one libcurl easy handle). A client is thread-safe: requests from
 * several threads are serialised on an internal lock (use one client per sender thread for
 * parallelism). Proxies come from the usual environment variables (http_proxy, https_proxy,
 * all_proxy, no_proxy and their upper-case forms but HTTP_PROXY), as libcurl reads them; a
 * request a proxy applies to goes through libcurl (see sky_http_transport). TLS certificates
 * are verified unless .insecure is set.
 *
 * libskylog does not link libcurl: it loads it with dlopen() the first time a client needs it
 * (or at sky_http_init()), so that a program which never sends through libcurl never pays for
 * libcurl and its dependencies (~5 MiB of RSS). It tries $SKYLOG_LIBCURL (a path or soname)
 * first, then libcurl.so.4, then libcurl-gnutls.so.4. Without any of them (Debian/Ubuntu:
 * package libcurl4) a client that needs it cannot be created (or that request fails):
 * SKY_EUNSUPPORTED.
 * ========================================================================================== */

/* Which implementation carries a client's requests. The native transport is skylog's own
 * HTTP/1.1 client (plain TCP, or TLS 1.2/1.3 on OpenSSL's libssl, loaded with dlopen():
 * $SKYLOG_LIBSSL, then libssl.so.3, then libssl.so.1.1) with certificate and host-name (or IP
 * address) verification, the same CA bundle, timeouts (the connect timeout covers resolving
 * the name, connecting and the TLS handshake, as libcurl's does), response limits, failure
 * classes (sky_http_failure) and trace as libcurl's; it costs less CPU per request and never
 * loads libcurl. It has no proxy support.
 *
 *   SKY_HTTP_TRANSPORT_AUTO (the default) - the native transport, except for a request that a
 *       proxy variable applies to (libcurl's rules, no_proxy included), or to a URL with
 *       user:password@ (Basic authentication): libcurl sends that one, through the proxy, with
 *       the password. libcurl is loaded for the first such request (the AWS clients and the
 *       HTTP sinks: for their endpoint, when they are created).
 *   SKY_HTTP_TRANSPORT_NATIVE - always the native transport. A proxy is never bypassed nor a
 *       password dropped: such a request fails with SKY_EUNSUPPORTED (failure NOT_CONNECTED,
 *       the message says why), and the AWS clients and the HTTP sinks refuse such an endpoint
 *       when they are created (SKY_EINVAL).
 *   SKY_HTTP_TRANSPORT_CURL - always libcurl.
 *
 * $SKYLOG_HTTP_TRANSPORT ("auto", "native" or "curl") overrides it for every client of the
 * process; any other non-empty value makes sky_http_client_new() fail with SKY_EINVAL (and the
 * skylog CLI exit 2 saying so). (Earlier versions sent everything through libcurl by default.) */
typedef enum sky_http_transport {
    SKY_HTTP_TRANSPORT_AUTO = 0,
    SKY_HTTP_TRANSPORT_CURL,
    SKY_HTTP_TRANSPORT_NATIVE,
    SKY_HTTP_TRANSPORT_DEFAULT = SKY_HTTP_TRANSPORT_AUTO,
} sky_http_transport;

typedef struct sky_http_opts {
    int64_t connect_timeout_ms; /* default 3000 */
    int64_t timeout_ms;         /* whole request, default 30000 */
    /* PEM file of trusted CAs; NULL = the system store (libcurl's default). The AWS clients
     * fill it with sky_aws_resolve_ca_bundle() when it is NULL. */
    const char *ca_bundle;
    bool insecure;              /* do not verify TLS peers (tests only) */
    const char *user_agent;     /* default "skylog/<version>" */
    size_t max_response_bytes;  /* larger bodies fail with SKY_ELIMIT; default 16 MiB */
    /* Optional debug trace: one call per line ("> POST http://host/path", "> Header: value",
     * "< 200", "< Header: value"). Secrets are masked (sky_aws_mask_header()), the query string
     * is cut (presigned URLs carry signatures), bodies are not traced. Called on the requesting
     * thread. */
    void (*trace)(void *user, const char *line);
    void *trace_user;
    sky_http_transport transport; /* see sky_http_transport */
    uint64_t reserved_[8]; /* zero; room to grow in the same ABI (docs/COMPATIBILITY.md) */
} sky_http_opts;

typedef struct sky_http_client sky_http_client;

/* A request. Views; nothing is owned. */
typedef struct sky_http_request {
    const char *method; /* "GET", "POST", "PUT", ... */
    const char *url;    /* http:// or https:// */
    const sky_aws_header *headers;
    size_t n_headers;
    const void *body;
    size_t body_len;
    int64_t timeout_ms; /* 0 = the client's */
} sky_http_request;

/* When no answer came: how far the request got, so callers know whether the server can have
 * processed it. A request is handed to the connection once and never resent behind the
 * caller's back: libcurl's silent resend on a reused keep-alive connection that died
 * ("Connection died, retrying a fresh connect") is refused for any request with a body, and
 * the failure is reported here instead. (A request without a body may still be resent by
 * libcurl when none of it went out; GETs and body-less PUTs of the metadata services are.) */
typedef enum sky_http_failure {
    SKY_HTTP_ANSWERED = 0,  /* a response arrived, or the request was refused before any I/O */
    SKY_HTTP_NOT_RESOLVED,  /* the host name did not resolve: nothing was sent */
    SKY_HTTP_NOT_CONNECTED, /* no connection (refused, unreachable, connect timeout): nothing sent */
    SKY_HTTP_TLS_FAILED,    /* the TLS handshake failed: nothing was sent */
    SKY_HTTP_CERT_FAILED,   /* the server's certificate could not be verified (or the CA bundle
                               could not be read): nothing was sent */
    SKY_HTTP_INCOMPLETE,    /* the connection failed before the whole request was handed over:
                               the server cannot have processed it */
    SKY_HTTP_NO_ANSWER,     /* the whole request was handed over but no complete answer came
                               (reset, closed, timed out): the server may have processed it */
} sky_http_failure;

/* A response. Everything in it is owned by it: release with sky_http_response_free(). */
typedef struct sky_http_response {
    long status;              /* HTTP status; 0 if no response was received */
    char *body;               /* NUL-terminated (the NUL is not counted in body_len) */
    size_t body_len;
    sky_aws_header *headers;  /* in the order received (of the final response) */
    size_t n_headers;
    sky_http_failure failure; /* also set when sky_http_perform() fails (then the only field) */
} sky_http_response;

/* Loads libcurl now, if that was not done yet; the outcome is decided once per process.
 * Returns SKY_OK, or SKY_EUNSUPPORTED with the reason in `errbuf` (may be NULL), like
 * "libcurl.so.4 could not be loaded (<dlerror text>): install libcurl4 (...)". Calling it is
 * optional (sky_http_client_new() does it); it is how to learn why a client could not be made.
 * Thread-safe. */
SKY_API sky_status sky_http_init(char *errbuf, size_t errlen);
/* Creates a client; opts may be NULL for the defaults. SKY_ENOMEM; SKY_EUNSUPPORTED when
 * libcurl cannot be loaded (sky_http_init() says why). */
SKY_API sky_status sky_http_client_new(const sky_http_opts *opts, sky_http_client **out);
/* Closes the client's connections and frees it. NULL-safe. Not concurrently with a request. */
SKY_API void sky_http_client_free(sky_http_client *client);
/* Performs one request (no retries here, and none inside libcurl: see sky_http_failure).
 * Returns SKY_OK when any HTTP response arrived (check out->status), SKY_ETIMEDOUT, SKY_ENET
 * (connect, reset, DNS, TLS), SKY_ELIMIT, SKY_EINVAL; on failure out->failure says how far the
 * request got. `errbuf` (may be NULL) receives a short reason, never containing headers or the
 * URL's query; a certificate failure reads "TLS certificate verification failed for HOST: ...".
 * Thread-safe (serialised per client). */
SKY_API sky_status sky_http_perform(sky_http_client *client, const sky_http_request *req,
                                    sky_http_response *out, char *errbuf, size_t errlen);
/* Case-insensitive header lookup in a response; NULL if absent. */
SKY_API const char *sky_http_response_header(const sky_http_response *resp, const char *name);
/* Frees what a response owns and zeroes it. NULL-safe. */
SKY_API void sky_http_response_free(sky_http_response *resp);

/* gzip-compresses `len` bytes (for Content-Encoding: gzip). *out is malloc'd. SKY_ENOMEM. */
SKY_API sky_status sky_aws_gzip(const void *data, size_t len, void **out, size_t *out_len);

/* Writes a header for a debug dump with secrets masked: Authorization keeps its credential
 * scope minus the signature, X-Amz-Security-Token and anything named like a secret become
 * "****". Returns snprintf's count. */
SKY_API int sky_aws_mask_header(const char *name, const char *value, char *buf, size_t cap);


/* ============================================================================================
 * Service errors
 * ========================================================================================== */

/* What went wrong with an AWS call, parsed from the answer. Fixed-size: nothing to free. Never
 * contains secrets (the service's message is copied as is; AWS never echoes secrets). */
typedef struct sky_aws_error {
    sky_status status;      /* SKY_ETHROTTLED, SKY_EAUTH, SKY_EREMOTE, SKY_ENET, SKY_ETIMEDOUT,.. */
    long http_status;       /* 0 when no response arrived */
    char code[128];         /* "ThrottlingException" ("prefix#" and ":suffix" stripped) */
    char message[512];
    char request_id[128];   /* x-amzn-RequestId / x-amz-request-id / <RequestId> */
    bool retryable;         /* transient or throttling per the SDKs' standard retry mode */
    bool throttling;
    bool expired_credentials; /* ExpiredToken & co: refreshing credentials may help */
    bool clock_skew;          /* RequestTimeTooSkewed & co */
    /* Waiting cannot help until something outside changes: no credentials, credentials or a
     * signature refused (also after the one refresh on an expired token), access denied, a
     * host that does not resolve (a wrong region or endpoint), a TLS certificate that cannot
     * be verified. Never retried by sky_aws_client_call(). */
    bool persistent;
    int attempts;             /* attempts made by the client (sky_aws_call) */
    /* Attempts whose whole request was sent without a complete answer (SKY_HTTP_NO_ANSWER):
     * each may have been processed, so with a retry the operation may have happened more than
     * once. Counted on success too. A refused connection, a failed TLS handshake or a
     * connection that broke before the whole request went out is not counted: nothing can have
     * been processed. */
    int unknown_outcomes;
    sky_http_failure failure; /* of the last attempt, when no answer came */
    int64_t rate_limited_ns;  /* adaptive mode: how long the client-side rate limiter held
                                 this call's attempts back */
    int throttles;            /* attempts answered with a throttling error (on success too) */
} sky_aws_error;

/* Parses an error answer: JSON {"__type": "...#Code", "message"|"Message": ...} (which wins over
 * the x-amzn-ErrorType header "Code:http://...", as in botocore's awsJson parser), or XML
 * <Error><Code/><Message/></Error> with <RequestId/>; an x-amzn-query-error header
 * ("Code;Sender", awsQuery-compatible services) gives the code last. Then classifies it. Works on any status; a 2xx gives status SKY_OK.
 * Pure; thread-safe. */
SKY_API void sky_aws_parse_error(long http_status, const sky_aws_header *headers, size_t n_headers,
                                 const char *body, size_t body_len, sky_aws_error *out);

/* True for the error codes the SDKs treat as throttling (botocore's list). */
SKY_API bool sky_aws_is_throttling_code(const char *code);
/* True for transient codes (RequestTimeout, RequestTimeoutException, PriorRequestNotComplete). */
SKY_API bool sky_aws_is_transient_code(const char *code);


/* ============================================================================================
 * Retries: the SDKs' retry modes (retry_mode in ~/.aws/config, AWS_RETRY_MODE)
 *
 * standard (the default): retried are throttling codes (sky_aws_is_throttling_code), transient
 * codes, HTTP 500/502/503/504, connection failures and timeouts. Never retried: persistent errors
 * (sky_aws_error.persistent) and any other error answer. Delay before retry i (1-based) is
 * random[0,1) * min(base * 2^(i-1), max_backoff) ("full jitter"). A retry quota shared by all the
 * calls of a client (500 units, 5 per retry, 10 per timeout retry, 1 back per success without
 * retry, the last cost back after a success with retries) stops a dead endpoint from being
 * hammered: once it is spent, failures are returned without retry. These are botocore 1.43's
 * standard-mode constants (botocore/retries/standard.py, ExponentialBackoff._BASE = 2,
 * _MAX_BACKOFF = 20, base 1 s; botocore/retries/quota.py). 3 attempts unless max_attempts says.
 *
 * adaptive: standard, plus a client-side rate limiter (botocore/retries/adaptive.py): after the
 * first throttling answer every attempt, first ones included, takes a token from a bucket whose
 * fill rate is cut to 0.7 x the measured send rate at each throttling answer and grows back
 * along a CUBIC curve (0.4 (t - K)^3 + W_max) with the successes, never above twice the
 * measured rate nor below 0.5 requests/s. The wait is counted in sky_aws_error.rate_limited_ns
 * and sky_aws_client_retry_stats(). Meant for a client that talks to one throttled resource.
 *
 * legacy: botocore's legacy mode (retryhandler.py, data/_retry.json): 5 attempts, delay
 * random[0,1) * 2^(i-1) s without a cap (max_backoff_ms caps it when set), no quota; retried are
 * connection failures and timeouts, HTTP 429/500/502/503/504/509, and Throttling,
 * ThrottlingException, ThrottledException, RequestThrottledException and
 * ProvisionedThroughputExceededException answered with HTTP 400.
 *
 * Which mode and how many attempts: the program's sky_aws_retry_opts first, then
 * AWS_RETRY_MODE / AWS_MAX_ATTEMPTS, then retry_mode / max_attempts of the profile in the config
 * file (sky_aws_resolve_retry()). A value that is not valid is an error naming where it came
 * from (sky_aws_client_new() fails), never silently the default.
 * ========================================================================================== */

typedef enum sky_aws_retry_mode {
    SKY_AWS_RETRY_MODE_DEFAULT = 0, /* AWS_RETRY_MODE, else the profile's retry_mode, else
                                       standard */
    SKY_AWS_RETRY_STANDARD,
    SKY_AWS_RETRY_ADAPTIVE,
    SKY_AWS_RETRY_LEGACY,
} sky_aws_retry_mode;
/* "default", "standard", "adaptive", "legacy" (the spelling of AWS_RETRY_MODE and retry_mode);
 * "unknown" for another value. Static strings. */
SKY_API const char *sky_aws_retry_mode_name(sky_aws_retry_mode mode);

/* The mode and the attempts the environment and the config file ask for: AWS_RETRY_MODE, else
 * retry_mode of the profile (explicit, AWS_PROFILE, "default") in `config_file` (NULL:
 * AWS_CONFIG_FILE, ~/.aws/config), else standard; AWS_MAX_ATTEMPTS, else max_attempts of the
 * profile, else 0 (unset: the mode's default, 3, or 5 for legacy). Valid modes are "standard",
 * "adaptive" and "legacy" (as the SDKs spell them), attempts a whole number >= 1. SKY_EINVAL
 * with a reason in errbuf (may be NULL) naming the setting otherwise. Thread-safe (reads env). */
SKY_API sky_status sky_aws_resolve_retry(const char *profile, const char *config_file,
                                         sky_aws_retry_mode *mode, int *max_attempts,
                                         char *errbuf, size_t errlen);

typedef struct sky_aws_retry_opts {
    int max_attempts;          /* total attempts, first included; 0 = AWS_MAX_ATTEMPTS, the
                                  profile's max_attempts, else 3 (legacy: 5) */
    int64_t base_ms;           /* default 1000 */
    int64_t max_backoff_ms;    /* default 20000 (legacy: none) */
    int quota;                 /* retry quota capacity; 0 = 500 (legacy: none); < 0 = none */
    /* Test hooks (all optional): sleeping, the jitter's random source in [0, 1), and the
     * monotonic clock used for call deadlines (default sky_monotonic_ns). */
    void (*sleep_ns)(void *user, int64_t ns);
    double (*random)(void *user);
    int64_t (*monotonic_ns)(void *user);
    void *user;
    /* Optional: polled before each attempt and during backoff waits (at least every 100 ms);
     * when it returns true the call stops at once with the last error (" (interrupted)" added
     * to its message). For a CLI's Ctrl-C. */
    bool (*cancelled)(void *cancel_user);
    void *cancel_user;
    sky_aws_retry_mode mode;   /* DEFAULT = AWS_RETRY_MODE, the profile's retry_mode, standard */
    uint64_t reserved_[8]; /* zero; room to grow in the same ABI (docs/COMPATIBILITY.md) */
} sky_aws_retry_opts;


/* ============================================================================================
 * Region and endpoints
 * ========================================================================================== */

/* The region: `explicit_region`, else AWS_REGION, else AWS_DEFAULT_REGION, else the `region` of
 * the profile (see sky_aws_creds_opts.profile) in the config file (`config_file` or
 * AWS_CONFIG_FILE or ~/.aws/config). Writes it into out (cap bytes). SKY_ENOTFOUND if none,
 * SKY_EINVAL if it does not fit or is not a plausible region name. Thread-safe (reads env). */
SKY_API sky_status sky_aws_resolve_region(const char *explicit_region, const char *profile,
                                          const char *config_file, char *out, size_t cap);

/* The endpoint URL for a service, found as botocore finds it: `explicit_endpoint`, else the
 * service's variable (AWS_ENDPOINT_URL_CLOUDWATCH_LOGS for "logs", AWS_ENDPOINT_URL_CLOUDWATCH
 * for "monitoring", AWS_ENDPOINT_URL_STS for "sts", AWS_ENDPOINT_URL_<NAME> otherwise), else
 * AWS_ENDPOINT_URL, else in the config file (AWS_CONFIG_FILE or ~/.aws/config) the
 * `endpoint_url` sub-setting of the service's entry (cloudwatch_logs, cloudwatch, sts, sso,
 * sso_oidc) in the [services NAME] section the profile's `services` names, else the profile's
 * `endpoint_url` (the profile: AWS_PROFILE, AWS_DEFAULT_PROFILE, "default"; keys of its
 * credentials-file section count too), else https://{service}.{region}.amazonaws.com
 * (".amazonaws.com.cn" for cn-* regions). All but `explicit_endpoint` are ignored when
 * ignore_configured_endpoint_urls is true (AWS_IGNORE_CONFIGURED_ENDPOINT_URLS if set, else the
 * profile's). A trailing '/' is removed. SKY_EINVAL if neither an endpoint nor a region is
 * known, it does not fit or is not http(s), or the profile names a services section the file
 * does not have. sky_aws_client_new() resolves the same way with its own profile and
 * config_file, and says in its errbuf what is wrong. Reads the files on each call. */
SKY_API sky_status sky_aws_resolve_endpoint(const char *service, const char *region,
                                            const char *explicit_endpoint, char *out, size_t cap);

/* The CA bundle (a PEM file of trusted CAs) for TLS, found as the AWS CLI and curl find it:
 * `explicit_path` (a --ca-bundle flag or ca_bundle option), else AWS_CA_BUNDLE, else `ca_bundle`
 * of the profile (see sky_aws_creds_opts.profile) in the config file (`config_file` or
 * AWS_CONFIG_FILE or ~/.aws/config; a leading "~/" is expanded), else CURL_CA_BUNDLE, else
 * SSL_CERT_FILE. Writes the path into out (cap bytes) and, when `source` is not NULL, a static
 * text naming where it came from ("AWS_CA_BUNDLE", ...). SKY_ENOTFOUND when none is set (the
 * system store is used), SKY_EINVAL if it does not fit. The file is not opened here.
 * sky_aws_client_new() and sky_aws_creds_new() call it when their sky_http_opts.ca_bundle is
 * NULL. Thread-safe (reads env). */
SKY_API sky_status sky_aws_resolve_ca_bundle(const char *explicit_path, const char *profile,
                                             const char *config_file, char *out, size_t cap,
                                             const char **source);

/* Splits an endpoint URL: whether it is https, the Host header value ("host[:port]", default
 * ports dropped, lower-cased) and the base path ("" or "/prefix"). */
SKY_API sky_status sky_aws_endpoint_host(const char *url, char *host, size_t host_cap, bool *https,
                                         char *base_path, size_t path_cap);


/* ============================================================================================
 * Credentials
 *
 * A provider (sky_aws_creds) resolves credentials through a chain, first that works wins:
 *   1. explicit keys (opts.access_key_id + secret_access_key [+ session_token])
 *   2. a custom fetch callback (opts.fetch)
 *   3. environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
 *   4. shared files, profile opts.profile / AWS_PROFILE / "default":
 *        role_arn + source_profile (or credential_source = Environment | Ec2InstanceMetadata |
 *        EcsContainer) -> STS AssumeRole signed with the source credentials;
 *        role_arn + web_identity_token_file -> STS AssumeRoleWithWebIdentity;
 *        sso_session (+ [sso-session NAME]) or sso_start_url, with sso_account_id and
 *        sso_role_name -> the token cached by `aws sso login` in ~/.aws/sso/cache, exchanged
 *        with the SSO portal (AWS_ENDPOINT_URL_SSO overrides it); with sso_session, a
 *        token that expires within 15 min is renewed with SSO OIDC CreateToken
 *        (AWS_ENDPOINT_URL_SSO_OIDC overrides it) and the cache rewritten, as botocore does;
 *        aws_access_key_id/aws_secret_access_key in the credentials file ([NAME]);
 *        credential_process in the config file ([profile NAME]) -> run it, read its JSON;
 *        aws_access_key_id/... in the config file.
 *   5. web identity: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN (+ AWS_ROLE_SESSION_NAME)
 *   6. container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (against opts.container_endpoint,
 *      default http://169.254.170.2) or AWS_CONTAINER_CREDENTIALS_FULL_URI, with
 *      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE / AWS_CONTAINER_AUTHORIZATION_TOKEN
 *   7. EC2 instance metadata (IMDSv2 token, IMDSv1 fallback unless AWS_EC2_METADATA_V1_DISABLED),
 *      unless AWS_EC2_METADATA_DISABLED=true; endpoint opts.imds_endpoint or
 *      AWS_EC2_METADATA_SERVICE_ENDPOINT, default http://169.254.169.254
 * A step that is configured but fails (a credential_process that exits 1, an STS error) stops the
 * chain with its error rather than silently falling through to another identity.
 *
 * The result is cached. It is refreshed when less than opts.refresh_margin_ms (default 5 min)
 * remains before its expiration; if the refresh fails while the cached credentials are still
 * valid, they keep being used. Credentials a source answers already expired are refused
 * (SKY_EAUTH naming the source, counted in sky_aws_creds_stats.failures and last_error), as
 * botocore refuses them ("the refreshed credentials are still expired"), rather than sent to
 * AWS to be answered ExpiredToken; IMDS's are extended instead (see fetch_retry). Credentials
 * that expire within the margin when fetched, and cached ones kept after a failed refresh, are
 * used, and their source asked again after half the time they have left (at most 1 min), not
 * on every call; the former are said at WARN on the library's diagnostics. Environment
 * variables are read at each resolution.
 * ========================================================================================== */

typedef struct sky_aws_creds sky_aws_creds;

/* A custom provider: fill *out (strings malloc'd, e.g. strdup) and return SKY_OK, or return
 * SKY_ENOTFOUND to let the chain continue, or another status to stop it (write a reason without
 * secrets into err). Called with the provider's lock held, from whichever thread needs a refresh. */
typedef sky_status (*sky_aws_creds_fetch_fn)(void *user, sky_aws_credentials *out, char *err,
                                             size_t errlen);

typedef struct sky_aws_creds_opts {
    const char *access_key_id;     /* explicit keys (all three copied) */
    const char *secret_access_key;
    const char *session_token;
    sky_aws_creds_fetch_fn fetch;  /* custom provider, tried after explicit keys */
    void *fetch_user;
    const char *profile;           /* default AWS_PROFILE, then "default" */
    const char *credentials_file;  /* default AWS_SHARED_CREDENTIALS_FILE, ~/.aws/credentials */
    const char *config_file;       /* default AWS_CONFIG_FILE, ~/.aws/config */
    const char *region;            /* region for STS; default: resolved, else us-east-1 */
    const char *sts_endpoint;      /* default AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, the config
                                      file (sky_aws_resolve_endpoint()), regional */
    const char *container_endpoint; /* base for the relative URI; default http://169.254.170.2 */
    const char *imds_endpoint;     /* default AWS_EC2_METADATA_SERVICE_ENDPOINT, 169.254.169.254 */
    bool no_env, no_files, no_web_identity, no_container, no_imds; /* skip chain steps */
    int64_t refresh_margin_ms;     /* default 300000 */
    int64_t metadata_timeout_ms;   /* IMDS request timeout; default AWS_METADATA_SERVICE_TIMEOUT
                                      seconds (at most 3600), else 1000 ms */
    int64_t (*now_ns)(void *user); /* fake clock for tests (Unix epoch ns); default sky_now_ns */
    void *clock_user;
    const sky_http_opts *http;     /* TLS options for STS, SSO and https container URIs */
    /* Retries of the providers' calls, as botocore's:
     *  - STS (AssumeRole, AssumeRoleWithWebIdentity), SSO GetRoleCredentials and SSO OIDC
     *    CreateToken: the AWS retry mode (sky_aws_retry_opts: AWS_RETRY_MODE/AWS_MAX_ATTEMPTS,
     *    the profile's retry_mode/max_attempts, else standard with 3 attempts), the same errors
     *    as service clients (throttling, 5xx, network), plus STS's IDPCommunicationError; backoff
     *    random[0,1) * min(base * 2^(n-1), max_backoff) and the retry quota;
     *  - the container endpoint (ContainerMetadataFetcher): 3 attempts 1 s apart with a 2 s
     *    timeout; any failure is retried (network, a non-200 answer, a body that is not
     *    JSON). botocore also sleeps 1 s after the third failure, before it reports it; that
     *    pause retries nothing (and would hold the provider's lock), so skylog reports at once;
     *  - IMDS (InstanceMetadataFetcher): AWS_METADATA_SERVICE_NUM_ATTEMPTS (default 1, at most
     *    10) attempts per request, without pause; the token request retries network failures and
     *    answers other than 200/400/403/404/405, except a read timeout (IMDSv1 then); the role
     *    and credentials requests retry network failures, non-200 and empty answers (and, for
     *    the credentials, a body that is not JSON). Credentials IMDS answers with that expire
     *    within 10 min + a random 2-10 min (already expired included: during an outage of the
     *    credential service IMDS keeps serving the last ones, which AWS still accepts) are
     *    used with their expiration moved to that much from now, as botocore's static
     *    stability extension (InstanceMetadataFetcher._evaluate_expiration): no failure, and
     *    no request to IMDS on every call, but a refresh again within 7-15 min (with the
     *    default 5 min refresh_margin_ms); each is counted
     *    (sky_aws_creds_stats.expiry_extensions) and said, at WARN, on the library's
     *    diagnostics (stderr, rate-limited).
     * Every retry is counted in sky_aws_creds_stats_get(). Only the hooks (sleep_ns, random,
     * cancelled, monotonic_ns), mode and max_attempts/base_ms/max_backoff_ms/quota of this
     * apply to the STS/SSO calls; the hooks also serve the metadata providers' pauses. */
    sky_aws_retry_opts fetch_retry;
    uint64_t reserved_[8]; /* zero; room to grow in the same ABI (docs/COMPATIBILITY.md) */
} sky_aws_creds_opts;

/* Creates a provider (opts may be NULL: the default chain). Nothing is fetched yet. Strings in
 * opts are copied. SKY_ENOMEM, SKY_EINVAL. */
SKY_API sky_status sky_aws_creds_new(const sky_aws_creds_opts *opts, sky_aws_creds **out);

/* Returns valid credentials (a copy the caller owns: sky_aws_credentials_clear() it), resolving
 * or refreshing as needed. On failure returns SKY_EAUTH (no provider had credentials or one
 * refused), SKY_ENET/SKY_ETIMEDOUT/SKY_EREMOTE/SKY_EPROTO from a provider, with a reason in
 * errbuf (may be NULL) that never contains a secret. Thread-safe: concurrent callers wait for
 * one refresh. */
SKY_API sky_status sky_aws_creds_get(sky_aws_creds *p, sky_aws_credentials *out, char *errbuf,
                                     size_t errlen);

/* Forgets the cached credentials so the next get resolves again (after ExpiredToken).
 * Thread-safe. */
SKY_API void sky_aws_creds_invalidate(sky_aws_creds *p);

/* Name of the chain step that gave the cached credentials ("explicit", "custom", "env",
 * "profile", "process", "sso", "assume-role", "web-identity", "container", "imds"), or "none".
 * Static string. Thread-safe. */
SKY_API const char *sky_aws_creds_source(sky_aws_creds *p);

/* What a provider did since it was created. The CloudWatch sinks report their provider's as
 * creds_* in sky_cwl_stats / sky_cwm_stats, and `skylog ship` in its summary. */
typedef struct sky_aws_creds_stats {
    uint64_t refreshes;  /* resolutions of the chain that gave credentials (the first included) */
    uint64_t failures;   /* resolutions that failed (whether or not still-valid cached
                            credentials were used instead) */
    uint64_t stale_used; /* of those failures, the ones answered with the cached credentials */
    uint64_t retries;    /* attempts beyond the first of the providers' calls (STS, SSO, SSO
                            OIDC, container endpoint, IMDS) */
    uint64_t throttles;  /* throttling answers to those calls */
    char last_error[256]; /* the last failed resolution's reason ("" if none); never a secret */
    /* IMDS answers whose credentials were expired or about to expire, used with an extended
     * expiration (see sky_aws_creds_opts.fetch_retry); a reserved slot of 1.0.0 */
    uint64_t expiry_extensions;
    /* Resolutions that gave credentials expiring within refresh_margin_ms (IMDS's are first
     * extended: expiry_extensions): used, since AWS still accepts them, and their
     * source asked again after half the time they had left (at most a minute) rather than on
     * every call; each also said at WARN on the library's diagnostics. Counted among
     * `refreshes`. A source that keeps answering these is one to look at: its credentials are
     * renewed late. A reserved slot of 1.0.0. */
    uint64_t near_expiry;
    uint64_t reserved_[6]; /* zero; room to grow in the same ABI (docs/COMPATIBILITY.md) */
} sky_aws_creds_stats;
/* Fills *out. Thread-safe, and never waits for a refresh in progress. */
SKY_API void sky_aws_creds_stats_get(sky_aws_creds *p, sky_aws_creds_stats *out);

/* Frees the provider and wipes its cache. NULL-safe. Not concurrently with other calls. */
SKY_API void sky_aws_creds_free(sky_aws_creds *p);

/* Parses an ISO-8601 UTC time ("2025-01-01T00:00:00Z", fractional seconds and +hh:mm offsets
 * accepted) into Unix epoch ns. SKY_EINVAL if malformed. */
SKY_API sky_status sky_aws_parse_time(const char *s, int64_t *ns);


/* ============================================================================================
 * Service client: awsJson 1.0/1.1 and awsQuery calls with signing, retries and refresh
 * ========================================================================================== */

typedef struct sky_aws_client sky_aws_client;

typedef struct sky_aws_client_opts {
    const char *service;     /* SigV4 signing name: "logs", "monitoring", ... (required) */
    const char *region;      /* NULL = sky_aws_resolve_region() */
    const char *endpoint;    /* NULL = sky_aws_resolve_endpoint() with .profile, .config_file;
                                a configured one needs no region (us-east-1 signs) */
    const char *profile;     /* for the region lookup and the default credentials chain */
    const char *config_file;
    sky_aws_creds *creds;    /* borrowed (must outlive the client); NULL = a default chain
                                (with .profile/.config_file) owned by the client */
    sky_http_opts http;
    sky_aws_retry_opts retry;
    int64_t (*now_ns)(void *user); /* signing clock (tests); default sky_now_ns */
    void *clock_user;
    /* Borrowed (must be a live client while this one is created; either may be freed first):
     * this client shares its retry quota, its rate limiter (adaptive mode), its mode and its
     * retry counters, as two clients of one service that an SDK would make one. */
    sky_aws_client *share_retry_state;
    uint64_t reserved_[8]; /* zero; room to grow in the same ABI (docs/COMPATIBILITY.md) */
} sky_aws_client_opts;

/* One call. Views. */
typedef struct sky_aws_call {
    bool query;              /* awsQuery: body is the form "Action=...&Version=..." */
    const char *target;      /* awsJson: X-Amz-Target, e.g. "Logs_20140328.PutLogEvents" */
    const char *json_version; /* awsJson: "1.1" (default) or "1.0" */
    const void *body;
    size_t body_len;
    bool gzip;               /* send the body gzip-compressed (Content-Encoding: gzip) */
    const char *path;        /* default "/" (after the endpoint's own path) */
    const sky_aws_header *extra_headers;
    size_t n_extra;
    /* Other protocols (the CloudWatch Logs ingestion endpoints): a Content-Type of your own;
     * then .target may be NULL and the body is sent as is. */
    const char *content_type;
    int64_t deadline_ns;     /* 0 = none; else a sky_monotonic_ns() time after which no attempt
                                starts, no backoff sleeps past, and each attempt's HTTP timeout
                                is cut to what remains (SKY_ETIMEDOUT when it is reached) */
    /* Optional: hex SHA-256 of the body as sent (after gzip, when .gzip is set it is ignored),
     * for callers that resend one body and hashed it once (SigV4 signs the payload's hash). */
    const char *payload_hash;
} sky_aws_call;

/* Creates a client: resolves region and endpoint now. On failure errbuf says why. */
SKY_API sky_status sky_aws_client_new(const sky_aws_client_opts *opts, sky_aws_client **out,
                                      char *errbuf, size_t errlen);
/* NULL-safe. Not concurrently with a call. */
SKY_API void sky_aws_client_free(sky_aws_client *c);
/* What a client's retry policy did, since it was created (shared with the clients that share
 * its retry state). A CloudWatch sink's client: sky_cwl_retry_stats_get(),
 * sky_cwm_retry_stats_get(). */
typedef struct sky_aws_retry_stats {
    sky_aws_retry_mode mode;   /* the resolved one */
    int max_attempts;
    uint64_t retries;          /* attempts beyond the first */
    uint64_t throttles;        /* throttling answers */
    uint64_t quota_refusals;   /* retries not made because the retry quota was spent */
    uint64_t rate_limited;     /* attempts held back by the adaptive rate limiter */
    uint64_t rate_limited_ns;  /* and for how long in all */
    int quota_available;       /* what is left of the retry quota (-1: none) */
    uint64_t reserved_[8]; /* zero; room to grow in the same ABI (docs/COMPATIBILITY.md) */
} sky_aws_retry_stats;
/* Thread-safe. */
SKY_API void sky_aws_client_retry_stats(const sky_aws_client *c, sky_aws_retry_stats *out);

/* The resolved endpoint URL and region (owned by the client). */
SKY_API const char *sky_aws_client_endpoint(const sky_aws_client *c);
SKY_API const char *sky_aws_client_region(const sky_aws_client *c);

/* Performs a call with the client's retry mode (see "Retries" above): signs with fresh
 * credentials at every attempt, retries throttling/transient errors with backoff, refreshes credentials once on an
 * expired-token error, and corrects the signing clock once from the response's Date header on a
 * clock-skew error. On SKY_OK, *out holds the 2xx response (free with sky_http_response_free()).
 * Otherwise out is empty and err (may be NULL) holds the last error, with err->attempts.
 * Thread-safe (calls are serialised on the client's connection). */
SKY_API sky_status sky_aws_client_call(sky_aws_client *c, const sky_aws_call *call,
                                       sky_http_response *out, sky_aws_error *err);

/* ============================================================================================
 * CloudWatch Logs Insights queries
 *
 * One call runs a query to its end: StartQuery, then GetQueryResults polled with a growing
 * interval (poll_first_ms, x1.5 each time, at most poll_max_ms) until the status is final
 * (Complete, Failed, Cancelled, Timeout), each request with the client's retries. When
 * .cancelled returns true or .timeout_ms passes, StopQuery is sent and the call returns the
 * status CloudWatch then reports (normally Cancelled; SKY_ETIMEDOUT for the timeout).
 *
 *     const char *groups[] = {"/app/prod"};
 *     sky_aws_query_result res;
 *     sky_aws_error err;
 *     if (sky_aws_logs_query(c, &(sky_aws_query_opts){ .log_groups = groups, .n_log_groups = 1,
 *             .start_s = now - 3600, .end_s = now, .query = "stats count() by bin(5m)" },
 *             &res, &err) == SKY_OK && strcmp(res.status, "Complete") == 0)
 *         ... res.body is the last GetQueryResults answer: {"results": [[{"field", "value"}]]} ...
 *     sky_aws_query_result_free(&res);
 * ========================================================================================== */

typedef struct sky_aws_query_result {
    char query_id[64];
    char status[16];        /* Scheduled, Running (in progress callbacks), then the final one */
    double records_matched; /* GetQueryResults' statistics */
    double records_scanned;
    double bytes_scanned;
    char *body;             /* the final GetQueryResults answer (JSON, NUL-terminated), owned;
                               past 10,000 rows the pages are fetched and joined into it */
    size_t body_len;
    uint64_t reserved_[8]; /* zero; room to grow in the same ABI (docs/COMPATIBILITY.md) */
} sky_aws_query_result;

typedef struct sky_aws_query_opts {
    const char *const *log_groups; /* names, or ARNs (sent as logGroupIdentifiers) */
    size_t n_log_groups;           /* 1..50 */
    int64_t start_s, end_s;        /* epoch seconds, both included */
    const char *query;             /* the query string, at most 10,000 characters */
    int limit;                     /* rows: 1..100,000; 0 = the service's default (10,000) */
    int64_t poll_first_ms;         /* default 200 */
    int64_t poll_max_ms;           /* default 5000 */
    int64_t timeout_ms;            /* 0 = none */
    /* Optional: called after each GetQueryResults while the query runs (body not set). */
    void (*progress)(void *user, const sky_aws_query_result *so_far);
    bool (*cancelled)(void *user); /* optional: polled between requests (Ctrl-C) */
    void *user;
    uint64_t reserved_[8]; /* zero; room to grow in the same ABI (docs/COMPATIBILITY.md) */
} sky_aws_query_opts;

/* Runs a query (see above). SKY_OK when it reached a final state: check out->status. An error
 * answer (MalformedQueryException with its position in err->message, ResourceNotFoundException,
 * LimitExceededException, ...) is returned as the call's status with err filled, as by
 * sky_aws_client_call(); SKY_EINVAL for bad options, SKY_EPROTO for an answer that is not the
 * API's JSON, SKY_ETIMEDOUT when .timeout_ms passed (the query was stopped). Free out with
 * sky_aws_query_result_free() whatever the result. Thread-safe as sky_aws_client_call(). */
SKY_API sky_status sky_aws_logs_query(sky_aws_client *c, const sky_aws_query_opts *opts,
                                      sky_aws_query_result *out, sky_aws_error *err);
/* Frees out->body and zeroes out. NULL-safe. */
SKY_API void sky_aws_query_result_free(sky_aws_query_result *out);

/* Parses an HTTP Date header ("Sun, 06 Nov 1994 08:49:37 GMT") into Unix epoch ns. */
SKY_API sky_status sky_aws_parse_http_date(const char *s, int64_t *ns);


/* ============================================================================================
 * CloudWatch metrics and alarms (service "monitoring")
 *
 *     sky_aws_client *c;   // sky_aws_client_new(&(sky_aws_client_opts){ .service = "monitoring" }, ...)
 *     const char *q = "{\"Namespace\":\"App\",\"MetricName\":\"Latency\",\"Period\":60,"
 *                     "\"StartTime\":1735689600,\"EndTime\":1735693200,\"Statistics\":[\"Average\"]}";
 *     char *answer;        // {"Label":"Latency","Datapoints":[...]}
 *     if (sky_cloudwatch_call(c, "GetMetricStatistics", q, strlen(q), &answer, NULL, &err) == SKY_OK)
 *         ... free(answer);
 * ========================================================================================== */

/* Calls one CloudWatch operation ("PutMetricData", "ListMetrics", "GetMetricStatistics",
 * "GetMetricData", "PutMetricAlarm", "PutCompositeAlarm", "DescribeAlarms",
 * "DescribeAlarmHistory", "SetAlarmState", "DeleteAlarms", ...) with `json_body` (len bytes; the
 * request shape of the API reference, as botocore names it; NULL/0 means {}) over awsJson1.0
 * (X-Amz-Target: GraniteServiceVersion20100801.<operation>), signing, retrying and classifying
 * errors as sky_aws_client_call() does. PutMetricData bodies of 10 KiB or more are sent
 * gzip-compressed, as botocore sends them. Checked before sending: the operation is 1-64
 * letters and the body at most 1,048,576 bytes (PutMetricData's limit; SKY_ELIMIT).
 * On SKY_OK, *out_json (may be NULL: not wanted) receives the answer, malloc'd and
 * NUL-terminated ("{}" for an empty one; free() it), and *out_len (may be NULL) its length.
 * Otherwise err (may be NULL) says why, as for sky_aws_client_call(). Thread-safe as the
 * client is. */
SKY_API sky_status sky_cloudwatch_call(sky_aws_client *c, const char *operation,
                                       const char *json_body, size_t len, char **out_json,
                                       size_t *out_len, sky_aws_error *err);

#ifdef __cplusplus
}
#endif
#endif /* SKYLOG_AWS_H */
