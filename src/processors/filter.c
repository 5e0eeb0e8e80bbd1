/*
 * filter.c - the level filter and the event-name include/exclude filter.
 * Patterns are shell globs matched with fnmatch(3) against the event name.
 */
#include <skylog.h>

#include "util/buf.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

static sky_proc_result level_run(void *user, sky_event *ev)
{
    sky_level min = (sky_level)(intptr_t)user;
    return sky_event_level(ev) >= min ? SKY_PROC_KEEP : SKY_PROC_DROP;
}

sky_status sky_add_level_filter(sky_t *sky, sky_level min)
{
    if (!sky || (unsigned)min >= SKY_LEVEL_COUNT_)
        return SKY_EINVAL;
    return sky_add_processor(sky, "level_filter", level_run, (void *)(intptr_t)min, NULL);
}

typedef struct name_filter {
    char **include; /* NULL = everything */
    char **exclude;
} name_filter;

static bool any_match(char **pats, const char *name)
{
    for (size_t i = 0; pats && pats[i]; i++)
        if (fnmatch(pats[i], name, 0) == 0)
            return true;
    return false;
}

static sky_proc_result name_run(void *user, sky_event *ev)
{
    name_filter *f = user;
    const char *name = sky_event_name(ev);
    if (f->include && !any_match(f->include, name))
        return SKY_PROC_DROP;
    if (any_match(f->exclude, name))
        return SKY_PROC_DROP;
    return SKY_PROC_KEEP;
}

static void free_list(char **l)
{
    for (size_t i = 0; l && l[i]; i++)
        free(l[i]);
    free(l);
}

static void name_free(void *user)
{
    name_filter *f = user;
    free_list(f->include);
    free_list(f->exclude);
    free(f);
}

static bool copy_list(const char *const *src, char ***dst)
{
    if (!src)
        return true;
    size_t n = 0;
    while (src[n])
        n++;
    char **l = calloc(n + 1, sizeof *l);
    if (!l)
        return false;
    *dst = l;
    for (size_t i = 0; i < n; i++)
        if (!(l[i] = strdup(src[i])))
            return false;
    return true;
}

sky_status sky_add_event_filter(sky_t *sky, const char *const *include, const char *const *exclude)
{
    if (!sky)
        return SKY_EINVAL;
    name_filter *f = calloc(1, sizeof *f);
    if (!f)
        return SKY_ENOMEM;
    if (!copy_list(include, &f->include) || !copy_list(exclude, &f->exclude)) {
        name_free(f);
        return SKY_ENOMEM;
    }
    return sky_add_processor(sky, "event_filter", name_run, f, name_free);
}
