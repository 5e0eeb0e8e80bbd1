/*
 * transport.c - the choice between libcurl and the native HTTP/1.1 client, request by request
 * (see transport.h for the rule). It reads the proxy variables as libcurl does, so that `auto`
 * hands libcurl exactly the requests libcurl would send through a proxy, and `native` refuses
 * exactly those: reading them differently would either bypass a proxy the user set (never
 * acceptable) or load libcurl for nothing. It reads the environment at each call (as libcurl
 * does at each transfer) and never changes it.
 */
#include "aws/transport.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

sky_status sky__http_mode(const sky_http_opts *o, sky_http_transport *mode, char *errbuf,
                          size_t errlen)
{
    const char *env = getenv("SKYLOG_HTTP_TRANSPORT");
    if (env && *env) {
        if (strcmp(env, "auto") == 0)
            *mode = SKY_HTTP_TRANSPORT_AUTO;
        else if (strcmp(env, "native") == 0)
            *mode = SKY_HTTP_TRANSPORT_NATIVE;
        else if (strcmp(env, "curl") == 0)
            *mode = SKY_HTTP_TRANSPORT_CURL;
        else {
            /* a typo must not silently choose the other transport */
            if (errbuf && errlen)
                snprintf(errbuf, errlen,
                         "SKYLOG_HTTP_TRANSPORT=%s: not a transport (auto, native or curl)", env);
            return SKY_EINVAL;
        }
        return SKY_OK;
    }
    *mode = o ? o->transport : SKY_HTTP_TRANSPORT_AUTO;
    if ((unsigned)*mode > SKY_HTTP_TRANSPORT_NATIVE) {
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "unknown HTTP transport %d (auto, native or curl)",
                     (int)*mode);
        return SKY_EINVAL;
    }
    return SKY_OK;
}

/* ---- the URL's scheme and host ---------------------------------------------------------------- */

/* "http" or "https" into scheme, the host (IPv6 without its brackets) into host; *userinfo
 * (may be NULL): whether a "user:password@" precedes it. */
static bool split_url(const char *url, char *scheme, size_t scap, char *host, size_t hcap,
                      bool *userinfo)
{
    const char *sep = strstr(url, "://");
    if (!sep || (size_t)(sep - url) >= scap)
        return false;
    for (size_t i = 0; url + i < sep; i++)
        scheme[i] = (char)((url[i] >= 'A' && url[i] <= 'Z') ? url[i] + 32 : url[i]);
    scheme[sep - url] = '\0';
    const char *a = sep + 3;
    size_t n = strcspn(a, "/?#");
    const char *at = NULL;
    for (size_t i = 0; i < n; i++)
        if (a[i] == '@')
            at = a + i;
    if (userinfo)
        *userinfo = at != NULL;
    if (at) {
        n -= (size_t)(at + 1 - a);
        a = at + 1;
    }
    size_t hl;
    if (n && *a == '[') {
        const char *rb = memchr(a, ']', n);
        if (!rb)
            return false;
        a++;
        hl = (size_t)(rb - a);
    } else {
        const char *colon = memchr(a, ':', n);
        hl = colon ? (size_t)(colon - a) : n;
    }
    if (hl == 0 || hl >= hcap)
        return false;
    memcpy(host, a, hl);
    host[hl] = '\0';
    return true;
}

/* ---- no_proxy, as curl's Curl_check_noproxy() reads it -------------------------------------- */

/* `name` (an address of family af, in bytes) inside `token` ("addr" or "addr/bits")? */
static bool ip_match(int af, const unsigned char *name, const char *token, size_t len)
{
    char check[128];
    if (len >= sizeof check)
        return false;
    memcpy(check, token, len);
    check[len] = '\0';
    unsigned bits = 0;
    char *slash = strchr(check, '/');
    if (slash) {
        bits = (unsigned)atoi(slash + 1);
        *slash = '\0';
    }
    unsigned char net[16];
    if (inet_pton(af, check, net) != 1)
        return false;
    unsigned max = af == AF_INET ? 32 : 128;
    if (bits == 0 || bits > max)
        bits = max; /* curl: no (or no valid) prefix is the address itself */
    size_t whole = bits / 8;
    if (memcmp(name, net, whole) != 0)
        return false;
    unsigned rest = bits % 8;
    if (!rest)
        return true;
    unsigned char mask = (unsigned char)(0xffu << (8 - rest));
    return (name[whole] & mask) == (net[whole] & mask);
}

static bool no_proxy_matches(const char *host, const char *list)
{
    if (!list || !*list)
        return false;
    if (strcmp(list, "*") == 0)
        return true;
    unsigned char addr[16];
    int af = inet_pton(AF_INET, host, addr) == 1    ? AF_INET
             : inet_pton(AF_INET6, host, addr) == 1 ? AF_INET6
                                                    : 0;
    size_t namelen = strlen(host);
    if (!af && namelen && host[namelen - 1] == '.')
        namelen--; /* trailing dots are ignored */
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *tok = p;
        size_t tl = 0;
        while (*p && *p != ' ' && *p != '\t' && *p != ',') {
            p++;
            tl++;
        }
        if (tl) {
            bool match = false;
            if (af) {
                match = ip_match(af, addr, tok, tl);
            } else {
                if (tok[tl - 1] == '.')
                    tl--;
                if (tl && *tok == '.') {
                    tok++;
                    tl--;
                }
                if (tl == namelen)
                    match = strncasecmp(tok, host, namelen) == 0;
                else if (tl && tl < namelen)
                    match = host[namelen - tl - 1] == '.' &&
                            strncasecmp(tok, host + namelen - tl, tl) == 0;
            }
            if (match)
                return true;
        }
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p != ',')
            break;
        while (*p == ',')
            p++;
    }
    return false;
}

/* ---- the proxy variables ----------------------------------------------------------------------- */

bool sky__http_proxy_for(const char *url, const char **var)
{
    char scheme[16], host[256];
    if (var)
        *var = NULL;
    if (!url || !split_url(url, scheme, sizeof scheme, host, sizeof host, NULL))
        return false; /* neither transport will send it: no proxy to speak of */
    const char *np = getenv("no_proxy");
    if (!np)
        np = getenv("NO_PROXY");
    if (no_proxy_matches(host, np))
        return false;
    /* the first variable that is set decides, even when empty (= no proxy) */
    const char *lower = strcmp(scheme, "https") == 0 ? "https_proxy" : "http_proxy";
    const char *upper = strcmp(scheme, "https") == 0 ? "HTTPS_PROXY" : NULL; /* no HTTP_PROXY */
    const char *const order[] = {lower, upper, "all_proxy", "ALL_PROXY"};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        const char *v = order[i] ? getenv(order[i]) : NULL;
        if (!v)
            continue;
        if (!*v)
            return false;
        if (var)
            *var = order[i];
        return true;
    }
    return false;
}

int sky__http_route(sky_http_transport mode, const char *url, char *errbuf, size_t errlen)
{
    if (mode == SKY_HTTP_TRANSPORT_CURL)
        return SKY_HTTP_TRANSPORT_CURL;
    char scheme[16], host[256];
    bool userinfo = false;
    if (!url || !split_url(url, scheme, sizeof scheme, host, sizeof host, &userinfo))
        snprintf(host, sizeof host, "?");
    const char *var = NULL;
    bool proxied = sky__http_proxy_for(url, &var);
    if (!proxied && !userinfo)
        return SKY_HTTP_TRANSPORT_NATIVE;
    if (mode == SKY_HTTP_TRANSPORT_AUTO)
        return SKY_HTTP_TRANSPORT_CURL;
    if (errbuf && errlen && proxied)
        snprintf(errbuf, errlen,
                 "the HTTP transport is native, which has no proxy support, and %s applies to "
                 "%s: choose http_transport auto or curl (or SKYLOG_HTTP_TRANSPORT), or list the "
                 "host in NO_PROXY",
                 var, host);
    else if (errbuf && errlen)
        snprintf(errbuf, errlen,
                 "the HTTP transport is native, which does not send a URL's user:password@ "
                 "(Basic authentication) to %s: choose http_transport auto or curl (or "
                 "SKYLOG_HTTP_TRANSPORT)",
                 host);
    return -1;
}
