/*
 * curl_api.h - libcurl, loaded on first use. libskylog does not link libcurl: its dependency
 * tree (TLS, Kerberos, LDAP, SSH, HTTP/2 libraries) costs ~5 MiB of RSS in every process that
 * maps it, and most processes that log never make an HTTP request. http.c is the only user.
 *
 * The header <curl/curl.h> is still used for types and constants; calls go through the
 * function pointers of sky__curl_api. Note that curl.h turns curl_easy_setopt/getinfo into
 * type-checking macros: through the pointers the arguments are unchecked varargs, so pass
 * exactly what libcurl expects (long for long options, curl_off_t for *_LARGE, ...).
 */
#ifndef SKY_AWS_CURL_API_H
#define SKY_AWS_CURL_API_H

#include <skylog.h>

#include <curl/curl.h>
#include <stddef.h>

typedef struct sky__curl_api {
    CURLcode (*global_init)(long flags);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *h, CURLoption opt, ...);
    CURLcode (*easy_perform)(CURL *h);
    CURLcode (*easy_getinfo)(CURL *h, CURLINFO info, ...);
    void (*easy_cleanup)(CURL *h);
    void (*easy_reset)(CURL *h);
    const char *(*easy_strerror)(CURLcode rc);
    struct curl_slist *(*slist_append)(struct curl_slist *list, const char *s);
    void (*slist_free_all)(struct curl_slist *list);
} sky__curl_api;

/* The loaded API, loading it (and running curl_global_init) on the first call: tries
 * $SKYLOG_LIBCURL when set, then "libcurl.so.4", then "libcurl-gnutls.so.4". Returns NULL if
 * that failed, now or on an earlier call; then `errbuf` (may be NULL) receives why, e.g.
 * "libcurl.so.4 could not be loaded (<dlerror>): install libcurl4". The library is never
 * unloaded. Thread-safe. */
const sky__curl_api *sky__curl_api_get(char *errbuf, size_t errlen);

/* Tests only: replaces the list of names tried (NULL-terminated; NULL restores the default,
 * $SKYLOG_LIBCURL is then not consulted). Has an effect only before the first
 * sky__curl_api_get() of the process. */
void sky__curl_api_set_candidates(const char *const *names);

#endif
