/*
 * ratelimit.c - a token bucket per event name, so one hot error cannot flood the sinks.
 *
 * Buckets live in a small open-addressed table keyed by event name (copied). When the table is
 * full, names beyond it share one overflow bucket rather than allocating without bound. The
 * next event of a name that passes after suppression carries "suppressed": N, so the loss is
 * visible in the output itself; the drops are also counted in the processor's stats.
 */
#include <skylog.h>

#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

#define TABLE_SIZE 1024

typedef struct bucket {
    char *name;
    double tokens;
    int64_t last_ns;
    uint64_t suppressed;
} bucket;

typedef struct limiter {
    double rate, burst;
    bucket table[TABLE_SIZE];
    bucket overflow;
} limiter;

static bucket *lookup(limiter *l, const char *name)
{
    uint32_t h = 2166136261u;
    for (const char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    for (size_t probe = 0; probe < 16; probe++) {
        bucket *b = &l->table[(h + probe) & (TABLE_SIZE - 1)];
        if (!b->name) {
            b->name = strdup(name);
            if (!b->name)
                return &l->overflow;
            b->tokens = l->burst;
            b->last_ns = sky_monotonic_ns();
            return b;
        }
        if (strcmp(b->name, name) == 0)
            return b;
    }
    return &l->overflow;
}

static sky_proc_result limit_run(void *user, sky_event *ev)
{
    limiter *l = user;
    bucket *b = lookup(l, sky_event_name(ev));
    int64_t now = sky_monotonic_ns();
    b->tokens += (double)(now - b->last_ns) / 1e9 * l->rate;
    if (b->tokens > l->burst)
        b->tokens = l->burst;
    b->last_ns = now;
    if (b->tokens < 1.0) {
        b->suppressed++;
        return SKY_PROC_DROP;
    }
    b->tokens -= 1.0;
    if (b->suppressed) {
        sky_event_set(ev, SKY_UINT("suppressed", b->suppressed));
        b->suppressed = 0;
    }
    return SKY_PROC_KEEP;
}

static void limit_free(void *user)
{
    limiter *l = user;
    for (size_t i = 0; i < TABLE_SIZE; i++)
        free(l->table[i].name);
    free(l);
}

sky_status sky_add_rate_limit(sky_t *sky, double per_second, double burst)
{
    if (!sky || !(per_second > 0) || !(burst >= 1))
        return SKY_EINVAL;
    limiter *l = calloc(1, sizeof *l);
    if (!l)
        return SKY_ENOMEM;
    l->rate = per_second;
    l->burst = burst;
    l->overflow.tokens = burst;
    l->overflow.last_ns = sky_monotonic_ns();
    return sky_add_processor(sky, "rate_limit", limit_run, l, limit_free);
}
