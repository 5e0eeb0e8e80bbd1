/*
 * endpoint.c - where requests go: the region (option, env, config file), the endpoint URL
 * (option, service-specific env var, AWS_ENDPOINT_URL, the config file's services section and
 * endpoint_url: botocore's ConfiguredEndpointProvider order, or the regional default), and which
 * CAs to trust on the way (option, env, config file).
 *
 * Resolution happens once, when a client is created; nothing here caches or does I/O beyond
 * reading the shared files. http:// endpoints are allowed (local servers). The sources are named
 * in errors ("the endpoint URL from endpoint_url of profile dev in the AWS config file ..."):
 * a wrong endpoint from a file the user forgot is otherwise a mystery.
 */
#include "aws/endpoint.h"
#include "aws/profile.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool plausible_region(const char *r)
{
    if (!*r || strlen(r) > 63)
        return false;
    for (const char *c = r; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '-')
            return false;
    return true;
}

static sky_status put(char *out, size_t cap, const char *v)
{
    if (!out || snprintf(out, cap, "%s", v) >= (int)cap)
        return SKY_EINVAL;
    return SKY_OK;
}

sky_status sky_aws_resolve_region(const char *explicit_region, const char *profile,
                                  const char *config_file, char *out, size_t cap)
{
    const char *cands[] = {explicit_region, getenv("AWS_REGION"), getenv("AWS_DEFAULT_REGION")};
    for (size_t i = 0; i < 3; i++) {
        if (cands[i] && *cands[i])
            return plausible_region(cands[i]) ? put(out, cap, cands[i]) : SKY_EINVAL;
    }
    sky__profiles p;
    sky_status st = sky__profiles_load(&p, "/nonexistent/skylog-no-credentials-file", config_file);
    if (st != SKY_OK)
        return st;
    const char *r = sky__profile_get(&p, sky__profile_name(profile), "region", false);
    st = SKY_ENOTFOUND;
    if (r && *r)
        st = plausible_region(r) ? put(out, cap, r) : SKY_EINVAL;
    sky__profiles_free(&p);
    return st;
}

static const char *env_set(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

sky_status sky_aws_resolve_ca_bundle(const char *explicit_path, const char *profile,
                                     const char *config_file, char *out, size_t cap,
                                     const char **source)
{
    /* the AWS CLI's order (--ca-bundle, AWS_CA_BUNDLE, ca_bundle), then curl's (CURL_CA_BUNDLE,
     * SSL_CERT_FILE) for the users of a TLS-intercepting proxy who set only those */
    const char *src = "the ca_bundle option", *v = explicit_path && *explicit_path ? explicit_path
                                                                                 : NULL;
    char *owned = NULL;
    if (!v && (v = env_set("AWS_CA_BUNDLE")))
        src = "AWS_CA_BUNDLE";
    if (!v) {
        sky__profiles p;
        if (sky__profiles_load(&p, "/nonexistent/skylog-no-credentials-file", config_file) ==
            SKY_OK) {
            const char *c = sky__profile_get(&p, sky__profile_name(profile), "ca_bundle", false);
            if (c && *c && (owned = sky__expand_home(c))) {
                v = owned;
                src = "ca_bundle in the AWS config file";
            }
            sky__profiles_free(&p);
        }
    }
    if (!v && (v = env_set("CURL_CA_BUNDLE")))
        src = "CURL_CA_BUNDLE";
    if (!v && (v = env_set("SSL_CERT_FILE")))
        src = "SSL_CERT_FILE";
    sky_status st = v ? put(out, cap, v) : SKY_ENOTFOUND;
    free(owned);
    if (source)
        *source = st == SKY_OK ? src : NULL;
    return st;
}

/* botocore's name for a service in endpoint settings: the service ID snake-cased
 * ("CloudWatch Logs" -> cloudwatch_logs, "SSO OIDC" -> sso_oidc). skylog names services by their
 * signing names, and two differ from the IDs. */
static void service_id(const char *service, char *buf, size_t cap)
{
    if (strcmp(service, "logs") == 0)
        service = "cloudwatch_logs";
    else if (strcmp(service, "monitoring") == 0)
        service = "cloudwatch";
    snprintf(buf, cap, "%s", service);
    for (char *c = buf; *c; c++)
        *c = (*c == '-' || *c == ' ') ? '_' : (char)tolower((unsigned char)*c);
}

/* The scoped profile's setting as botocore sees it: its credentials-file section's keys
 * override its config-file section's (Session.full_config merges them). */
static const char *scoped(const sky__profiles *p, const char *profile, const char *key)
{
    const char *v = sky__profile_get(p, profile, key, true);
    return v ? v : sky__profile_get(p, profile, key, false);
}

static sky_status take(const char *url, size_t len, char *out, size_t cap, char *why,
                       size_t why_cap, const char *from)
{
    const char *err = NULL;
    if (len >= cap) {
        err = "is too long";
    } else {
        memcpy(out, url, len);
        out[len] = '\0';
        if (strncmp(out, "http://", 7) != 0 && strncmp(out, "https://", 8) != 0)
            err = "does not start with http:// or https://";
    }
    if (err) {
        if (why && why_cap)
            snprintf(why, why_cap, "the endpoint URL from %s %s", from, err);
        return SKY_EINVAL;
    }
    while (len > 8 && out[len - 1] == '/')
        out[--len] = '\0';
    if (why && why_cap)
        snprintf(why, why_cap, "%s", from);
    return SKY_OK;
}

sky_status sky__aws_configured_endpoint(const char *service, const char *explicit_endpoint,
                                        const char *profile, const char *credentials_file,
                                        const char *config_file, char *out, size_t cap,
                                        char *why, size_t why_cap)
{
    char scratch[8];
    if (!why || !why_cap) {
        why = scratch;
        why_cap = sizeof scratch;
    }
    why[0] = '\0';
    if (!service || !*service || !out || !cap)
        return SKY_EINVAL;
    if (explicit_endpoint && *explicit_endpoint)
        return take(explicit_endpoint, strlen(explicit_endpoint), out, cap, why, why_cap,
                    "the endpoint option");
    char id[64], var[96];
    service_id(service, id, sizeof id);
    snprintf(var, sizeof var, "AWS_ENDPOINT_URL_");
    for (size_t i = 0, l = strlen(var); id[i] && l + 1 < sizeof var; i++, l++) {
        var[l] = (char)toupper((unsigned char)id[i]);
        var[l + 1] = '\0';
    }
    sky__profiles p;
    sky_status st = sky__profiles_load(&p, credentials_file, config_file);
    if (st != SKY_OK) {
        snprintf(why, why_cap, "the AWS config file cannot be read (%s)", sky_strerror(st));
        return st;
    }
    const char *name = sky__profile_name(profile);
    /* botocore's ignore_configured_endpoint_urls: the variable when it is set at all (even
     * empty, which means false), else the profile's; only "true" (any case) is true */
    const char *ignore = getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
    if (!ignore)
        ignore = scoped(&p, name, "ignore_configured_endpoint_urls");
    st = SKY_ENOTFOUND;
    const char *v;
    if (ignore && strcasecmp(ignore, "true") == 0) {
        /* nothing configured counts: the regional default */
    } else if ((v = env_set(var))) {
        st = take(v, strlen(v), out, cap, why, why_cap, var);
    } else if ((v = env_set("AWS_ENDPOINT_URL"))) {
        st = take(v, strlen(v), out, cap, why, why_cap, "AWS_ENDPOINT_URL");
    } else {
        char from[192];
        const char *section = scoped(&p, name, "services");
        if (section) {
            bool exists;
            const char *entry = sky__config_section_get(&p.config, "services", section, id,
                                                        &exists);
            const char *u;
            size_t ul;
            snprintf(from, sizeof from,
                     "%s.endpoint_url of [services %.64s] in the AWS config file", id, section);
            if (!exists) {
                /* as botocore: a profile naming a section that is not there is an error, not a
                 * silent fall back to AWS */
                snprintf(why, why_cap,
                         "profile %.64s names services section \"%.64s\", which the AWS config "
                         "file does not have",
                         name, section);
                st = SKY_EINVAL;
            } else if (entry && *entry) {
                sky_status sub = sky__ini_subvalue(entry, "endpoint_url", &u, &ul);
                if (sub == SKY_EINVAL) {
                    snprintf(why, why_cap,
                             "%s in [services %.64s] of the AWS config file is not a list of "
                             "indented \"key = value\" settings",
                             id, section);
                    st = SKY_EINVAL;
                } else if (sub == SKY_OK && ul) {
                    st = take(u, ul, out, cap, why, why_cap, from);
                }
            } else if (entry) {
                snprintf(why, why_cap,
                         "%s in [services %.64s] of the AWS config file has no settings", id,
                         section);
                st = SKY_EINVAL;
            }
        }
        if (st == SKY_ENOTFOUND && (v = scoped(&p, name, "endpoint_url")) && *v) {
            snprintf(from, sizeof from, "endpoint_url of profile %.64s in the AWS config file",
                     name);
            st = take(v, strlen(v), out, cap, why, why_cap, from);
        }
    }
    sky__profiles_free(&p);
    return st;
}

sky_status sky__aws_endpoint(const char *service, const char *region,
                             const char *explicit_endpoint, const char *profile,
                             const char *credentials_file, const char *config_file, char *out,
                             size_t cap, char *why, size_t why_cap)
{
    sky_status st = sky__aws_configured_endpoint(service, explicit_endpoint, profile,
                                                 credentials_file, config_file, out, cap, why,
                                                 why_cap);
    if (st != SKY_ENOTFOUND)
        return st;
    if (!region || !plausible_region(region)) {
        if (why && why_cap)
            snprintf(why, why_cap, "no endpoint configured and no valid region");
        return SKY_EINVAL;
    }
    char tmp[256];
    snprintf(tmp, sizeof tmp, "https://%s.%s.amazonaws.com%s", service, region,
             strncmp(region, "cn-", 3) == 0 ? ".cn" : "");
    return take(tmp, strlen(tmp), out, cap, why, why_cap, "the default for the region");
}

sky_status sky_aws_resolve_endpoint(const char *service, const char *region,
                                    const char *explicit_endpoint, char *out, size_t cap)
{
    return sky__aws_endpoint(service, region, explicit_endpoint, NULL, NULL, NULL, out, cap, NULL,
                             0);
}

sky_status sky_aws_endpoint_host(const char *url, char *host, size_t host_cap, bool *https,
                                 char *base_path, size_t path_cap)
{
    if (!url)
        return SKY_EINVAL;
    bool tls;
    const char *p;
    if (strncasecmp(url, "https://", 8) == 0) {
        tls = true;
        p = url + 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        tls = false;
        p = url + 7;
    } else {
        return SKY_EINVAL;
    }
    const char *at = NULL;
    const char *end = p + strcspn(p, "/?#");
    for (const char *c = p; c < end; c++)
        if (*c == '@')
            at = c;
    if (at)
        p = at + 1; /* userinfo is never part of Host */
    size_t hl = (size_t)(end - p);
    if (hl == 0 || hl >= host_cap)
        return SKY_EINVAL;
    memcpy(host, p, hl);
    host[hl] = '\0';
    for (char *c = host; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    /* drop the default port, as botocore's _host_from_url does */
    char *colon = strrchr(host, ':');
    if (colon && !strchr(colon, ']')) {
        if ((tls && strcmp(colon, ":443") == 0) || (!tls && strcmp(colon, ":80") == 0))
            *colon = '\0';
    }
    if (https)
        *https = tls;
    if (base_path) {
        size_t pl = strcspn(end, "?#");
        if (pl >= path_cap)
            return SKY_EINVAL;
        memcpy(base_path, end, pl);
        base_path[pl] = '\0';
        while (pl && base_path[pl - 1] == '/')
            base_path[--pl] = '\0';
    }
    return SKY_OK;
}
