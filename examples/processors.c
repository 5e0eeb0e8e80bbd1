/*
 * processors.c - the processor chain: enrich, redact secrets, sample, rate-limit, and a custom
 * processor that derives a field.
 */
#include <skylog.h>

#include <stdio.h>
#include <string.h>

/* A custom processor: flags slow requests. Returning SKY_PROC_DROP would drop the event. */
static sky_proc_result mark_slow(void *user, sky_event *ev)
{
    double threshold = *(const double *)user;
    const sky_field *d = sky_event_get(ev, "duration_ms");
    if (d && d->type == SKY_T_F64 && d->v.f > threshold)
        sky_event_set(ev, SKY_BOOL("slow", true));
    return SKY_PROC_KEEP;
}

int main(void)
{
    static const double slow_ms = 500;
    sky_t *sky = NULL;
    if (sky_open(NULL, &sky) != SKY_OK)
        return 1;
    sky_add_enrich(sky, &(sky_enrich_opts){.service = "shop", .environment = "demo",
                                          .version = "1.2.3"});
    sky_add_redact(sky, NULL);
    sky_add_processor(sky, "mark_slow", mark_slow, (void *)&slow_ms, NULL);
    sky_add_rate_limit(sky, 1.0, 3.0); /* per event name: bursts of 3, then 1 a second */
    sky_add_sink(sky, sky_sink_console(&(sky_console_opts){.stream = SKY_STDOUT,
                                                            .format = SKY_FORMAT_JSON}),
                 NULL);
    sky_logger *log = sky_logger_get(sky, "shop");

    sky_info(log, "login", SKY_STR("user", "alice"), SKY_STR("password", "hunter2"),
             SKY_STR("note", "key AKIAIOSFODNN7EXAMPLE used"));
    sky_info(log, "request", SKY_F64("duration_ms", 750.0));
    for (int i = 0; i < 10; i++)
        sky_error(log, "db_unreachable", SKY_INT("attempt", i));

    sky_stats st;
    sky_stats_get(sky, &st);
    fprintf(stderr, "emitted=%llu dropped_by_processors=%llu\n", (unsigned long long)st.emitted,
            (unsigned long long)st.dropped[SKY_DROP_PROCESSOR]);
    return sky_close(sky) == SKY_OK ? 0 : 1;
}
