/*
 * derived.c - events that processors (or sinks) derive from the event being processed: a
 * security alert, an audit entry's echo. They cannot be logged the usual way from there: in
 * sync mode the processor runs under the pipeline lock (a log call would deadlock), and in
 * async mode on the worker, which must never wait for room in its own ring.
 *
 * So sky_emit_derived() copies the event into a small FIFO owned by the processing thread (the
 * lock holder in sync mode, the worker in async mode: no lock of its own), and the same thread
 * drains it right after the current event (sync) or batch (async): each derived event goes
 * through every processor and sink like any other. The FIFO is bounded; a processor that
 * derives an event from every derived event cannot loop forever (a drain handles at most
 * SKY_DERIVED_MAX, the rest waits for the next), and what does not fit is dropped and counted.
 */
#include "core/pipeline.h"

#include <stdlib.h>
#include <string.h>

struct sky__derived {
    sky_logger *log;
    sky_level level;
    int64_t ts_ns;
    char *name;
    sky_field *fields; /* with the name and every string in the same allocation */
    size_t n;
};

sky_status sky_emit_derived(sky_logger *log, sky_level level, const char *name,
                            const sky_field *fields, size_t n)
{
    sky_t *sky = log ? log->sky : NULL;
    if (!sky || !name || (unsigned)level >= SKY_LEVEL_OFF || (n && !fields))
        return SKY_EINVAL;
    if (sky->n_derived == SKY_DERIVED_MAX) {
        sky__count_drop(sky, SKY_DROP_OVERFLOW, level, 1);
        return SKY_EFULL;
    }
    size_t bytes = n * sizeof(sky_field) + strlen(name) + 1;
    for (size_t i = 0; i < n; i++) {
        if (fields[i].type == SKY_T_LAZY)
            return SKY_EINVAL; /* the processing thread is not the logging thread */
        bytes += fields[i].key_len + 1;
        if (fields[i].type == SKY_T_STR || fields[i].type == SKY_T_JSON)
            bytes += fields[i].v.str.len + 1;
    }
    if (!sky->derived) {
        sky->derived = calloc(SKY_DERIVED_MAX, sizeof *sky->derived);
        if (!sky->derived)
            return SKY_ENOMEM;
    }
    char *blob = malloc(bytes);
    if (!blob) {
        sky__count_drop(sky, SKY_DROP_OVERFLOW, level, 1);
        return SKY_ENOMEM;
    }
    sky_field *fs = (sky_field *)(void *)blob;
    char *p = blob + n * sizeof(sky_field);
    for (size_t i = 0; i < n; i++) {
        fs[i] = fields[i];
        memcpy(p, fields[i].key, fields[i].key_len);
        p[fields[i].key_len] = '\0';
        fs[i].key = p;
        p += fields[i].key_len + 1;
        if (fields[i].type == SKY_T_STR || fields[i].type == SKY_T_JSON) {
            memcpy(p, fields[i].v.str.ptr, fields[i].v.str.len);
            p[fields[i].v.str.len] = '\0';
            fs[i].v.str.ptr = p;
            p += fields[i].v.str.len + 1;
        }
    }
    strcpy(p, name);
    size_t at = (sky->derived_head + sky->n_derived) % SKY_DERIVED_MAX;
    sky->derived[at] = (struct sky__derived){.log = log, .level = level, .ts_ns = sky_now_ns(),
                                             .name = p, .fields = fs, .n = n};
    sky->n_derived++;
    atomic_fetch_add_explicit(&sky->emitted, 1, memory_order_relaxed);
    return SKY_OK;
}

sky_status sky__emit_derived_like(const sky_event *ev, const sky_field *extra, size_t n_extra)
{
    sky_t *sky = sky__sink_pipeline;
    if (!sky || !ev)
        return SKY_EINVAL;
    sky__event_ready(ev);
    sky_field stack[32], *fs = stack;
    size_t n = ev->n + n_extra;
    if (n > sizeof stack / sizeof *stack && !(fs = malloc(n * sizeof *fs)))
        return SKY_ENOMEM;
    memcpy(fs, ev->fields, ev->n * sizeof *fs);
    memcpy(fs + ev->n, extra, n_extra * sizeof *fs);
    char name[256];
    size_t ln = ev->logger_len < sizeof name - 1 ? ev->logger_len : sizeof name - 1;
    memcpy(name, ev->logger ? ev->logger : "", ev->logger ? ln : 0);
    name[ev->logger ? ln : 0] = '\0';
    sky_status st = sky_emit_derived(sky__logger_get(sky, name), ev->level, ev->name, fs, n);
    if (fs != stack)
        free(fs);
    return st;
}

void sky__derived_drain_slow(sky_t *sky)
{
    sky_event *ev = &sky->derived_ev;
    for (size_t budget = SKY_DERIVED_MAX; sky->n_derived && budget; budget--) {
        struct sky__derived d = sky->derived[sky->derived_head];
        sky->derived_head = (sky->derived_head + 1) % SKY_DERIVED_MAX;
        sky->n_derived--;
        if (sky__event_build(ev, d.log, d.level, d.name, NULL, d.ts_ns, d.fields, d.n))
            sky__pipeline_process(sky, ev);
        else
            sky__count_drop(sky, SKY_DROP_TOO_LARGE, d.level, 1);
        free(d.fields);
    }
}

void sky__derived_free(sky_t *sky)
{
    while (sky->derived && sky->n_derived) {
        struct sky__derived *d = &sky->derived[sky->derived_head];
        sky__count_drop(sky, SKY_DROP_CLOSED, d->level, 1);
        free(d->fields);
        sky->derived_head = (sky->derived_head + 1) % SKY_DERIVED_MAX;
        sky->n_derived--;
    }
    free(sky->derived);
    sky->derived = NULL;
    sky__event_free(&sky->derived_ev);
}
