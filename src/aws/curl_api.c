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

#include <dlfcn.h>
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

/* Resolves every symbol, or returns the name of the first one missing. */
static const char *resolve(void *lib, sky__curl_api *a)
{
    static const struct {
        const char *name;
        size_t offset;
    } syms[] = {
#define SYM(field, sym) {#sym, offsetof(sky__curl_api, field)}
        SYM(global_init, curl_global_init),   SYM(easy_init, curl_easy_init),
        SYM(easy_setopt, curl_easy_setopt),   SYM(easy_perform, curl_easy_perform),
        SYM(easy_getinfo, curl_easy_getinfo), SYM(easy_cleanup, curl_easy_cleanup),
        SYM(easy_reset, curl_easy_reset),     SYM(easy_strerror, curl_easy_strerror),
        SYM(slist_append, curl_slist_append), SYM(slist_free_all, curl_slist_free_all),
#undef SYM
    };
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        void *p = dlsym(lib, syms[i].name);
        if (!p)
            return syms[i].name;
        /* POSIX guarantees that a data pointer from dlsym() converts to a function pointer */
        memcpy((char *)a + syms[i].offset, &p, sizeof p);
    }
    return NULL;
}

static void load(void)
{
    const char *names[4];
    size_t n = 0;
    if (test_names) {
        for (; test_names[n] && n < 3; n++)
            names[n] = test_names[n];
    } else {
        const char *env = getenv("SKYLOG_LIBCURL");
        if (env && *env)
            names[n++] = env;
        names[n++] = default_names[0];
        names[n++] = default_names[1];
    }
    names[n] = NULL;

    /* the reason reported is the first candidate's: the one the user asked for, or the usual */
    char first[sizeof load_error - 80] = "no candidate names"; /* room for the advice below */
    for (size_t i = 0; i < n; i++) {
        void *lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        const char *why = lib ? NULL : dlerror();
        sky__curl_api a;
        const char *missing = lib ? resolve(lib, &a) : NULL;
        if (lib && !missing) {
            if (a.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                snprintf(load_error, sizeof load_error,
                         "%s was loaded but curl_global_init() failed", names[i]);
                return; /* libcurl is there but unusable: trying another copy will not help */
            }
            api = a;
            loaded = true;
            return;
        }
        if (i == 0) {
            if (missing)
                snprintf(first, sizeof first, "%s could not be loaded (it has no %s)", names[i],
                         missing);
            else
                snprintf(first, sizeof first, "%s could not be loaded (%s)", names[i],
                         why ? why : "unknown dlopen error");
        }
        if (lib)
            dlclose(lib);
    }
    snprintf(load_error, sizeof load_error,
             "%s: install libcurl4 (or set SKYLOG_LIBCURL to the path of libcurl.so.4)", first);
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
