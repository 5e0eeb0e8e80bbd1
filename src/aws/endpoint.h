/*
 * endpoint.h - endpoint resolution with the sources botocore reads (see endpoint.c). Internal:
 * the public sky_aws_resolve_endpoint() is these with the default profile and files.
 */
#ifndef SKY_AWS_ENDPOINT_H
#define SKY_AWS_ENDPOINT_H

#include <skylog/aws.h>

/* The endpoint a user configured for `service` (a signing name: "logs", "monitoring", "sts",
 * "sso", "sso-oidc"), first found, as botocore's ConfiguredEndpointProvider finds it:
 * explicit_endpoint; then, unless ignore_configured_endpoint_urls is true
 * (AWS_IGNORE_CONFIGURED_ENDPOINT_URLS if set at all, else the profile's setting),
 * AWS_ENDPOINT_URL_<SERVICE ID> (AWS_ENDPOINT_URL_CLOUDWATCH_LOGS for "logs", ..._CLOUDWATCH for
 * "monitoring"), AWS_ENDPOINT_URL, the `endpoint_url` sub-setting of the service's entry
 * (cloudwatch_logs, cloudwatch, sts, sso, sso_oidc) in the [services NAME] section the profile's
 * `services` names, the profile's `endpoint_url`. Profile keys of the credentials file override
 * the config file's, as in botocore. NULL profile/files: AWS_PROFILE..., AWS_CONFIG_FILE,
 * AWS_SHARED_CREDENTIALS_FILE, ~/.aws/.
 * SKY_OK: out holds the URL (trailing '/' removed), why names where it came from.
 * SKY_ENOTFOUND: nothing configured. Otherwise (SKY_EINVAL: a URL that is not http(s) or does
 * not fit, a `services` naming a missing section, a malformed entry) why says what is wrong.
 * why may be NULL. */
sky_status sky__aws_configured_endpoint(const char *service, const char *explicit_endpoint,
                                        const char *profile, const char *credentials_file,
                                        const char *config_file, char *out, size_t cap,
                                        char *why, size_t why_cap);

/* The configured endpoint, else https://{service}.{region}.amazonaws.com(.cn) ("the default for
 * the region" in why). SKY_EINVAL (why says why) when neither is known. */
sky_status sky__aws_endpoint(const char *service, const char *region,
                             const char *explicit_endpoint, const char *profile,
                             const char *credentials_file, const char *config_file, char *out,
                             size_t cap, char *why, size_t why_cap);

#endif
