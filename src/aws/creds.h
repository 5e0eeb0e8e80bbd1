/*
 * creds.h - internals shared by the credential providers (credentials.c is the chain and the
 * cache; creds_profile.c, creds_sts.c, creds_sso.c and creds_metadata.c are the steps;
 * creds_call.c retries their AWS API calls).
 */
#ifndef SKY_AWS_CREDS_H
#define SKY_AWS_CREDS_H

#include <skylog/aws.h>

#include <pthread.h>
#include <stdatomic.h>

struct sky_aws_creds {
    pthread_mutex_t lock;
    sky_aws_creds_opts o; /* string fields point at owned copies */
    sky_http_opts http;
    char *owned[12];
    sky_aws_credentials cached;
    bool have;
    /* credentials that were near expiry when fetched (or a failed refresh answered from the
     * cache) count as fresh until then, so that not every call asks their source again */
    int64_t retry_at_ns;
    const char *source;
    /* sky_aws_creds_stats_get(): atomics (and a lock of their own for the text), because
     * `lock` is held across a refresh's network calls */
    atomic_ullong n_refreshes, n_failures, n_stale, n_retries, n_throttles, n_extensions,
        n_near_expiry;
    pthread_mutex_t err_lock;
    char last_error[256];
};

/* One resolution: the provider, the time, where errors go, which step answered. */
typedef struct sky__cctx {
    const struct sky_aws_creds *p;
    int64_t now_ns;
    char *err;
    size_t errlen;
    const char *source;
    int depth; /* source_profile recursion guard */
} sky__cctx;

/* Writes a reason into ctx->err (never pass secrets). Returns st for convenience. */
sky_status sky__cerr(sky__cctx *ctx, sky_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

sky_status sky__creds_env(sky__cctx *ctx, sky_aws_credentials *out);
sky_status sky__creds_profile(sky__cctx *ctx, const char *profile, sky_aws_credentials *out);
sky_status sky__creds_web_identity_env(sky__cctx *ctx, sky_aws_credentials *out);
struct sky__profiles;
/* IAM Identity Center: the profile `name` has sso_session or sso_start_url. */
sky_status sky__creds_sso(sky__cctx *ctx, const struct sky__profiles *pf, const char *name,
                          sky_aws_credentials *out);
sky_status sky__creds_container(sky__cctx *ctx, sky_aws_credentials *out);
sky_status sky__creds_imds(sky__cctx *ctx, sky_aws_credentials *out);

/* STS calls (awsQuery over HTTP). `src` signs AssumeRole; web identity is unsigned. */
sky_status sky__sts_assume_role(sky__cctx *ctx, const sky_aws_credentials *src,
                                const char *role_arn, const char *session_name,
                                const char *external_id, const char *duration,
                                sky_aws_credentials *out);
sky_status sky__sts_assume_role_web_identity(sky__cctx *ctx, const char *role_arn,
                                             const char *session_name, const char *token_file,
                                             sky_aws_credentials *out);

/* One AWS API call of a provider (STS, SSO, SSO OIDC), retried as the SDKs retry that
 * service's calls: the retry mode of ctx->p->o.fetch_retry (else AWS_RETRY_MODE/
 * AWS_MAX_ATTEMPTS and the profile's), its backoff and quota; `service` "sts" also retries
 * IDPCommunicationError. Returns the transport status of the last attempt (*resp is then the
 * last answer, whatever its HTTP status: the caller frees it) or SKY_EINVAL for an invalid retry
 * setting; `why` says why when it is not SKY_OK. Counts retries and throttles in ctx->p. */
sky_status sky__creds_call(sky__cctx *ctx, const char *service, sky_http_client *http,
                           const sky_http_request *req, sky_http_response *resp, char *why,
                           size_t whylen);
/* Adds to the provider's retry and throttling-answer counters. */
void sky__creds_count(sky__cctx *ctx, unsigned retries, unsigned throttles);
/* Sleeps through fetch_retry's hooks (sleep_ns, cancelled); false when cancelled. */
bool sky__creds_sleep(sky__cctx *ctx, int64_t ns);
/* A number in [0, 1) through fetch_retry's random hook (tests fix it), for jitter. */
double sky__creds_random(sky__cctx *ctx);

/* Parses {"AccessKeyId","SecretAccessKey","Token"|"SessionToken","Expiration"} (container, IMDS,
 * credential_process; `process` also requires "Version": 1). */
sky_status sky__creds_from_json(sky__cctx *ctx, const char *body, size_t len, bool process,
                                sky_aws_credentials *out);
/* The parsers of what the credential sources answer, apart from the I/O so they can be tested
 * and fuzzed on their own. Each fills `out` (or *token, malloc'd) or returns an error with a
 * reason in ctx->err that never quotes a secret. */
/* SSO's cached token file ({"accessToken", "expiresAt"}); an expired token is SKY_EAUTH
 * ("SSO session expired"). No refresh here: that is creds_sso.c's, with I/O. */
sky_status sky__sso_parse_cached_token(sky__cctx *ctx, const char *text, size_t len,
                                       char **token);
/* SSO's cache file, every field botocore's SSOTokenProvider reads; strings malloc'd (NULL when
 * absent), times in Unix ns (registration_expires_ns 0 when absent or unreadable). */
typedef struct sky__sso_token {
    char *access_token, *refresh_token, *client_id, *client_secret;
    char *registration_expires_at; /* as written, kept for the rewrite */
    int64_t expires_ns, registration_expires_ns;
} sky__sso_token;
#define SKY__SSO_CACHE_MAX ((size_t)1 << 20) /* as sky__read_small_file() reads at most */
/* Parses a cache file without judging expiry; SKY_EAUTH when malformed. */
sky_status sky__sso_parse_cache(sky__cctx *ctx, const char *text, size_t len, sky__sso_token *t);
/* Frees and wipes. */
void sky__sso_token_clear(sky__sso_token *t);
/* SSO OIDC CreateToken's answer ({"accessToken", "expiresIn", "refreshToken"?}); strings
 * malloc'd; expiresIn must be 1 s to 366 days. */
sky_status sky__sso_parse_create_token(sky__cctx *ctx, const char *body, size_t len,
                                       char **access, char **refresh, int64_t *expires_in_s);
/* SSO GetRoleCredentials' answer ({"roleCredentials": {..., "expiration": ms}}). */
sky_status sky__sso_parse_role_credentials(sky__cctx *ctx, const char *body, size_t len,
                                           sky_aws_credentials *out);
/* STS AssumeRole* answers (XML <Credentials>); `action` names the call in errors. */
sky_status sky__sts_parse_credentials(sky__cctx *ctx, const char *action, const char *body,
                                      size_t len, sky_aws_credentials *out);
/* Reads a small file (token files), trimmed; malloc'd; NULL if unreadable. */
char *sky__read_small_file(const char *path);
/* Splits a command line like Python's shlex.split (POSIX); *argv is NULL-terminated, free with
 * sky__argv_free(). SKY_EINVAL for unbalanced quotes or an empty command. */
sky_status sky__shell_split(const char *s, char ***argv);
void sky__argv_free(char **argv);
/* Region used for STS. */
void sky__creds_region(sky__cctx *ctx, const char *profile, char *out, size_t cap);
/* Fills creds from three strings (copies). SKY_ENOMEM. */
sky_status sky__creds_set(sky_aws_credentials *c, const char *akid, const char *secret,
                          const char *token, int64_t expiration_ns);
/* First text of <tag> in an XML document, entities decoded; malloc'd or NULL. */
char *sky__xml_text(const char *xml, size_t len, const char *tag);

#endif
