/* dynlib.c - see dynlib.h. */
#include "util/dynlib.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CANDIDATES 4

/* Resolves every symbol into table, or returns the name of the first one missing. */
static const char *resolve(void *lib, const sky__dl_spec *spec, void *table)
{
    for (size_t i = 0; i < spec->n_syms; i++) {
        void *p = dlsym(lib, spec->syms[i].name);
        if (!p)
            return spec->syms[i].name;
        /* POSIX guarantees that a data pointer from dlsym() converts to a function pointer */
        memcpy((char *)table + spec->syms[i].offset, &p, sizeof p);
    }
    return NULL;
}

void *sky__dl_load(const sky__dl_spec *spec, void *table, const char **name_out, char *err,
                   size_t errlen)
{
    const char *names[MAX_CANDIDATES];
    size_t n = 0;
    if (spec->override) {
        for (; spec->override[n] && n < MAX_CANDIDATES; n++)
            names[n] = spec->override[n];
    } else {
        const char *env = spec->env ? getenv(spec->env) : NULL;
        if (env && *env)
            names[n++] = env;
        for (size_t i = 0; spec->defaults[i] && n < MAX_CANDIDATES; i++)
            names[n++] = spec->defaults[i];
    }
    /* the reason reported is the first candidate's: the one the user asked for, or the usual */
    char first[384] = "no candidate names";
    for (size_t i = 0; i < n; i++) {
        void *lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        const char *why = lib ? NULL : dlerror();
        const char *missing = lib ? resolve(lib, spec, table) : NULL;
        if (lib && !missing) {
            if (name_out)
                *name_out = names[i];
            return lib;
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
    if (err && errlen)
        snprintf(err, errlen, "%s: %s", first, spec->advice);
    return NULL;
}
