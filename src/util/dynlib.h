/*
 * dynlib.h - loading an optional shared library on first use (dlopen), with its symbols
 * resolved into a caller's table of function pointers and a reason a human can act on when it
 * cannot be loaded. libcurl (aws/curl_api.c) and libcrypto (aws/crypto_api.c) load this way so
 * that a process that only logs to files maps neither.
 */
#ifndef SKY_UTIL_DYNLIB_H
#define SKY_UTIL_DYNLIB_H

#include <stdbool.h>
#include <stddef.h>

/* One symbol: its name and where its address goes in the caller's table. */
typedef struct sky__dl_sym {
    const char *name;
    size_t offset;
} sky__dl_sym;

typedef struct sky__dl_spec {
    const char *env;             /* variable naming a path to try first (may be unset) */
    const char *const *defaults; /* sonames to try after it, NULL-terminated */
    const char *const *override; /* tests: the only candidates, NULL-terminated; or NULL */
    const sky__dl_sym *syms;
    size_t n_syms;
    const char *advice; /* appended to the reason: what the user can do */
} sky__dl_spec;

/* Tries the candidates in order (RTLD_NOW | RTLD_LOCAL) until one has every symbol; writes
 * their addresses into `table` and returns the handle (never closed by the caller: the
 * libraries keep global state). Returns NULL with `err` set to "<first candidate> could not
 * be loaded (<why>): <advice>" otherwise. `name_out` (may be NULL) gets the name loaded. */
void *sky__dl_load(const sky__dl_spec *spec, void *table, const char **name_out, char *err,
                   size_t errlen);

#endif
