/*
 * stream.c - event streams: a name, a sequence counter and a lock per stream.
 *
 * The lock is held from taking the number to the end of the log call, so that the order in
 * which events enter the pipeline is the order of their numbers (a consumer reading a stream
 * in order can then call any hole a loss). The fields are copied into one array per call on
 * the stack (three of ours, then the caller's), bounded so a huge call cannot overflow it.
 *
 * Uses the public API only.
 */
#include <skylog/stream.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FIELDS 64

struct sky_event_stream {
    sky_logger *log;
    char *name;
    pthread_mutex_t mu;
    uint64_t seq;
};

sky_status sky_event_stream_new(sky_logger *log, const char *name, sky_event_stream **out)
{
    if (!out)
        return SKY_EINVAL;
    *out = NULL;
    size_t n = name ? strnlen(name, 256) : 0;
    if (!log || n < 1 || n > 255)
        return SKY_EINVAL;
    sky_event_stream *s = calloc(1, sizeof *s);
    if (!s || !(s->name = strdup(name))) {
        free(s);
        return SKY_ENOMEM;
    }
    s->log = log;
    pthread_mutex_init(&s->mu, NULL);
    *out = s;
    return SKY_OK;
}

void sky_event_stream_free(sky_event_stream *s)
{
    if (!s)
        return;
    pthread_mutex_destroy(&s->mu);
    free(s->name);
    free(s);
}

uint64_t sky_event_stream_emit(sky_event_stream *s, sky_level level, const char *event_type,
                               const sky_field *fields, size_t n)
{
    if (!s || !event_type || (!fields && n) || !sky_enabled(s->log, level))
        return 0;
    if (n > MAX_FIELDS - 3)
        n = MAX_FIELDS - 3; /* documented at sky_event_stream_emit */
    sky_field f[MAX_FIELDS];
    memcpy(f + 3, fields, n * sizeof *f);
    f[0] = sky_field_str("stream", s->name);
    f[2] = sky_field_str("event_type", event_type);
    pthread_mutex_lock(&s->mu);
    uint64_t seq = ++s->seq;
    f[1] = sky_field_uint("sequence", seq);
    sky_emit(s->log, level, event_type, NULL, f, n + 3);
    pthread_mutex_unlock(&s->mu);
    return seq;
}

uint64_t sky_event_stream_last(sky_event_stream *s)
{
    if (!s)
        return 0;
    pthread_mutex_lock(&s->mu);
    uint64_t v = s->seq;
    pthread_mutex_unlock(&s->mu);
    return v;
}
