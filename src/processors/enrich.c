/*
 * enrich.c - adds process-wide facts to every event: service, environment, version, hostname,
 * pid, timestamp_ms. Values are captured once when the processor is added (hostname and pid do
 * not change under a running process, except pid across fork(), which is re-read lazily).
 * Fields the event already has are left alone: the call site knows better.
 */
#include <skylog.h>

#include "core/reserved.h"
#include "util/buf.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct enrich {
    char *service, *environment, *version;
    char hostname[256];
    bool add_host, add_pid, add_ts;
} enrich;

static void add_if_absent(sky_event *ev, sky_field f)
{
    if (!sky_event_get(ev, f.key))
        sky_event_set(ev, f);
}

static sky_proc_result enrich_run(void *user, sky_event *ev)
{
    enrich *e = user;
    if (e->service)
        add_if_absent(ev, SKY_STR("service", e->service));
    if (e->environment)
        add_if_absent(ev, SKY_STR("environment", e->environment));
    if (e->version)
        add_if_absent(ev, SKY_STR("version", e->version));
    if (e->add_host)
        add_if_absent(ev, SKY_STR("hostname", e->hostname));
    if (e->add_pid)
        add_if_absent(ev, SKY_INT("pid", getpid()));
    if (e->add_ts)
        add_if_absent(ev, SKY_INT("timestamp_ms", sky_event_time_ns(ev) / 1000000));
    return SKY_PROC_KEEP;
}

static void enrich_free(void *user)
{
    enrich *e = user;
    free(e->service);
    free(e->environment);
    free(e->version);
    free(e);
}

static bool dup_opt(char **dst, const char *src)
{
    if (!src)
        return true;
    *dst = strdup(src);
    return *dst != NULL;
}

sky_status sky_add_enrich(sky_t *sky, const sky_enrich_opts *opts)
{
    if (!sky || !opts)
        return SKY_EINVAL;
    if (SKY__CHECK_RESERVED(opts, sky_enrich_opts, sky, NULL) != SKY_OK)
        return SKY_EINVAL;
    enrich *e = calloc(1, sizeof *e);
    if (!e)
        return SKY_ENOMEM;
    if (!dup_opt(&e->service, opts->service) || !dup_opt(&e->environment, opts->environment) ||
        !dup_opt(&e->version, opts->version)) {
        enrich_free(e);
        return SKY_ENOMEM;
    }
    e->add_host = opts->hostname;
    e->add_pid = opts->pid;
    e->add_ts = opts->timestamp_ms;
    if (e->add_host && gethostname(e->hostname, sizeof e->hostname - 1) != 0)
        strcpy(e->hostname, "unknown");
    return sky_add_processor(sky, "enrich", enrich_run, e, enrich_free);
}
