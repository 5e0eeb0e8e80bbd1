/*
 * faults.c - the seeded fault injector (see faults.h). splitmix64 is used because it is tiny,
 * has no bad seeds (0 included) and gives the same stream on every platform, which is what a
 * reproducible test needs; it is not meant to be unpredictable.
 */
#include "faults.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sky__faults {
    double throttle, error, reset, reset_after;
    int64_t latency_us;
    uint64_t state;
    pthread_mutex_t lock;
};

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static double unit(uint64_t *s) { return (double)(splitmix64(s) >> 11) * 0x1.0p-53; }

static int parse_duration_us(const char *v, int64_t *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || !(d >= 0)) /* NaN too: it compares false with everything */
        return -1;
    double mul;
    if (strcmp(end, "us") == 0)
        mul = 1;
    else if (strcmp(end, "ms") == 0 || *end == '\0')
        mul = 1e3;
    else if (strcmp(end, "s") == 0)
        mul = 1e6;
    else
        return -1;
    if (!(d * mul <= 60e6))
        return -1;
    *out = (int64_t)(d * mul);
    return 0;
}

sky__faults *sky__faults_new(const char *spec, uint64_t seed, char *err, size_t cap)
{
    sky__faults *f = calloc(1, sizeof *f);
    char *copy = strdup(spec);
    if (!f || !copy) {
        snprintf(err, cap, "out of memory");
        goto fail;
    }
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (!eq) {
            snprintf(err, cap, "'%s' is not key=value", item);
            goto fail;
        }
        *eq = '\0';
        const char *key = item, *val = eq + 1;
        double *prob = NULL;
        if (strcmp(key, "throttle") == 0)
            prob = &f->throttle;
        else if (strcmp(key, "error") == 0)
            prob = &f->error;
        else if (strcmp(key, "reset") == 0)
            prob = &f->reset;
        else if (strcmp(key, "reset_after") == 0)
            prob = &f->reset_after;
        else if (strcmp(key, "latency") == 0) {
            if (parse_duration_us(val, &f->latency_us) != 0) {
                snprintf(err, cap, "bad latency '%s' (e.g. 20ms, 1s, 500us; at most 60s)", val);
                goto fail;
            }
            continue;
        } else {
            snprintf(err, cap,
                     "unknown fault '%s' (throttle, error, reset, reset_after, latency)", key);
            goto fail;
        }
        char *end;
        errno = 0;
        double p = strtod(val, &end);
        if (errno || end == val || *end || !(p >= 0 && p <= 1)) { /* NaN refused */
            snprintf(err, cap, "bad probability '%s' for %s (0..1)", val, key);
            goto fail;
        }
        *prob = p;
    }
    if (f->throttle + f->error + f->reset + f->reset_after > 1.0 + 1e-9) {
        snprintf(err, cap, "fault probabilities add up to more than 1");
        goto fail;
    }
    free(copy);
    f->state = seed;
    pthread_mutex_init(&f->lock, NULL);
    return f;
fail:
    free(copy);
    free(f);
    return NULL;
}

sky__fault sky__faults_next(sky__faults *f)
{
    sky__fault d = {.kind = SKY__FAULT_NONE, .latency_us = f->latency_us};
    pthread_mutex_lock(&f->lock);
    double u = unit(&f->state), v = unit(&f->state); /* always two draws: see faults.h */
    pthread_mutex_unlock(&f->lock);
    double edge = f->throttle;
    if (u < edge)
        d.kind = SKY__FAULT_THROTTLE;
    else if (u < (edge += f->error))
        d.kind = SKY__FAULT_ERROR;
    else if (u < (edge += f->reset))
        d.kind = SKY__FAULT_RESET;
    else if (u < (edge += f->reset_after))
        d.kind = SKY__FAULT_RESET_AFTER;
    d.status = v < 0.5 ? 500 : 503;
    return d;
}

void sky__faults_free(sky__faults *f)
{
    if (!f)
        return;
    pthread_mutex_destroy(&f->lock);
    free(f);
}

const char *sky__fault_name(sky__fault_kind kind)
{
    switch (kind) {
    case SKY__FAULT_NONE: return "none";
    case SKY__FAULT_THROTTLE: return "throttle";
    case SKY__FAULT_ERROR: return "error";
    case SKY__FAULT_RESET: return "reset";
    case SKY__FAULT_RESET_AFTER: return "reset_after";
    }
    return "?";
}
