/*
 * endpoint.c - where requests go: the region (option, env, config file), the endpoint URL
 * (option, service-specific env var, AWS_ENDPOINT_URL, or the regional default), and which CAs
 * to trust on the way (option, env, config file).
 *
 * Resolution happens once, when a client is created; nothing here caches or does I/O beyond
 * reading the config file for `region` and `ca_bundle`. http:// endpoints are allowed (local servers).
 */
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

static const char *service_env(const char *service, char *buf, size_t cap)
{
    if (strcmp(service, "logs") == 0)
        return "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS";
    if (strcmp(service, "monitoring") == 0)
        return "AWS_ENDPOINT_URL_CLOUDWATCH";
    snprintf(buf, cap, "AWS_ENDPOINT_URL_%s", service);
    for (char *c = buf; *c; c++)
        *c = (*c == '-' || *c == ' ') ? '_' : (char)toupper((unsigned char)*c);
    return buf;
}

sky_status sky_aws_resolve_endpoint(const char *service, const char *region,
                                    const char *explicit_endpoint, char *out, size_t cap)
{
    if (!service || !*service || !out)
        return SKY_EINVAL;
    const char *url = explicit_endpoint && *explicit_endpoint ? explicit_endpoint : NULL;
    const char *ignore = getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
    if (!url && !(ignore && strcasecmp(ignore, "true") == 0)) {
        char name[128];
        const char *v = getenv(service_env(service, name, sizeof name));
        if (v && *v)
            url = v;
        else if ((v = getenv("AWS_ENDPOINT_URL")) && *v)
            url = v;
    }
    sky_status st;
    if (url) {
        if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
            return SKY_EINVAL;
        st = put(out, cap, url);
    } else {
        if (!region || !plausible_region(region))
            return SKY_EINVAL;
        char tmp[256];
        snprintf(tmp, sizeof tmp, "https://%s.%s.amazonaws.com%s", service, region,
                 strncmp(region, "cn-", 3) == 0 ? ".cn" : "");
        st = put(out, cap, tmp);
    }
    if (st == SKY_OK) {
        size_t l = strlen(out);
        while (l > 8 && out[l - 1] == '/')
            out[--l] = '\0';
    }
    return st;
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
