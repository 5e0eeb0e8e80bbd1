/*
 * transport.h - which implementation carries a request of a sky_http_client (http.c): libcurl
 * or skylog's own HTTP/1.1 client (http1.c). The rule (documented for users in
 * include/skylog/aws.h, sky_http_transport, and docs/CLOUDWATCH.md):
 *
 *   curl    always libcurl;
 *   native  always the own client, which has no proxy support: a request to a URL that a proxy
 *           variable applies to is refused (a proxy the user configured is never bypassed), and
 *           so is one whose URL carries user:password@ (only libcurl sends it, as Basic auth);
 *   auto    the own client, unless a proxy variable applies to the URL, or the URL carries
 *           user:password@: then libcurl, which goes through the proxy, or sends the password.
 *
 * "Applies" is decided exactly as libcurl decides it for the same URL (lib/url.c, noproxy.c of
 * curl 7.86 and later): no_proxy (else NO_PROXY) first ("*", host names matching themselves
 * and their subdomains, IP addresses and CIDR ranges); then, for http://, http_proxy only (never
 * HTTP_PROXY: "httpoxy"); for https://, https_proxy, else HTTPS_PROXY; then all_proxy, else
 * ALL_PROXY. The first of those that is set decides: an empty value means no proxy.
 * $SKYLOG_HTTP_TRANSPORT (auto, native or curl) overrides every client's own choice.
 */
#ifndef SKY_AWS_TRANSPORT_H
#define SKY_AWS_TRANSPORT_H

#include <skylog/aws.h>

#include <stdbool.h>
#include <stddef.h>

/* The mode a client with options `o` (may be NULL) runs in: $SKYLOG_HTTP_TRANSPORT when set,
 * else o->transport. SKY_EINVAL when either is not a transport (errbuf says which). */
sky_status sky__http_mode(const sky_http_opts *o, sky_http_transport *mode, char *errbuf,
                          size_t errlen);

/* true when libcurl would send a request to `url` through a proxy: *var (may be NULL) then
 * names the variable it came from. Reads the environment now. */
bool sky__http_proxy_for(const char *url, const char **var);

/* What carries a request to `url` in `mode`: SKY_HTTP_TRANSPORT_CURL or _NATIVE; -1 when the
 * mode is native and the native client cannot carry it (a proxy applies, or user:password@):
 * errbuf says why, and what to do. */
int sky__http_route(sky_http_transport mode, const char *url, char *errbuf, size_t errlen);

/* Readies client `c` for requests to `url`, for the callers that know their URL when they are
 * made (an AWS client's endpoint, an HTTP sink's URL), so that what cannot work is a
 * configuration error at once rather than a failure per request: SKY_EINVAL when the mode is
 * native and a proxy applies (errbuf: which, and what to do); when libcurl will carry them,
 * loads it now: SKY_EUNSUPPORTED when it cannot be (errbuf: why). SKY_OK otherwise. */
sky_status sky__http_client_prepare(sky_http_client *c, const char *url, char *errbuf,
                                    size_t errlen);

#endif
