/*
 * curl_api.c - loads libcurl with dlopen() the first time an HTTP client is created, so that a
 * process which only logs to files or the console never maps libcurl and its dependency tree
 * (~5 MiB of RSS, and their relocation time at start-up).
 *
 * The load happens once per process (pthread_once); its outcome, success or the reason for a
 * failure, is then read-only. It must never abort or exit when libcurl is missing: the callers
 * turn the failure into SKY_EUNSUPPORTED and the reason into their error text. The library is
 * never dlclose()d, since libcurl keeps global state (and OpenSSL's) for the life of the process.
 * It relies on the libcurl 7.x/8.x ABI (soname libcurl.so.4), which has kept these symbols.
 */
#include "aws/curl_api.h"
#include "util/dynlib.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const default_names[] = {"libcurl.so.4", "libcurl-gnutls.so.4", NULL};

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static const char *const *test_names; /* set only by tests, before the first load */
static sky__curl_api api;
static bool loaded;
static char load_error[512];

static void load(void)
{
#define SYM(field, sym) {#sym, offsetof(sky__curl_api, field)}
    static const sky__dl_sym syms[] = {
        SYM(global_init, curl_global_init),   SYM(easy_init, curl_easy_init),
        SYM(easy_setopt, curl_easy_setopt),   SYM(easy_perform, curl_easy_perform),
        SYM(easy_getinfo, curl_easy_getinfo), SYM(easy_cleanup, curl_easy_cleanup),
        SYM(easy_reset, curl_easy_reset),     SYM(easy_strerror, curl_easy_strerror),
        SYM(slist_append, curl_slist_append), SYM(slist_free_all, curl_slist_free_all),
    };
#undef SYM
    const sky__dl_spec spec = {
        .env = "SKYLOG_LIBCURL",
        .defaults = default_names,
        .override = test_names,
        .syms = syms,
        .n_syms = sizeof syms / sizeof syms[0],
        .advice = "install libcurl4 (or set SKYLOG_LIBCURL to the path of libcurl.so.4)",
    };
    sky__curl_api a;
    const char *name = NULL;
    if (!sky__dl_load(&spec, &a, &name, load_error, sizeof load_error))
        return;
    if (a.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        /* libcurl is there but unusable: trying another copy will not help */
        snprintf(load_error, sizeof load_error, "%s was loaded but curl_global_init() failed",
                 name);
        return;
    }
    api = a;
    loaded = true;
}

const sky__curl_api *sky__curl_api_get(char *errbuf, size_t errlen)
{
    pthread_once(&load_once, load);
    if (loaded)
        return &api;
    if (errbuf && errlen)
        snprintf(errbuf, errlen, "%s", load_error);
    return NULL;
}

void sky__curl_api_set_candidates(const char *const *names)
{
    test_names = names;
}
