/*
 * sample.c - probabilistic sampling per level, with a floor that is always kept.
 *
 * When the event carries the key field (trace_id by default), the decision is a hash of its
 * value mapped to [0,1): every service that samples the same trace at the same rate makes the
 * same decision, so traces stay whole. Otherwise a per-processor xorshift generator decides
 * (processors never run concurrently, so it needs no lock).
 */
#include <skylog.h>

#include "core/reserved.h"
#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

typedef struct sampler {
    double rate[SKY_LEVEL_COUNT_];
    sky_level keep;
    char *key;
    uint64_t rng;
} sampler;

static uint64_t hash64(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ull;
    /* final avalanche (splitmix64) so nearby ids spread over [0,1) */
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h;
}

static double unit(uint64_t h) { return (double)(h >> 11) * (1.0 / 9007199254740992.0); }

static sky_proc_result sample_run(void *user, sky_event *ev)
{
    sampler *s = user;
    sky_level l = sky_event_level(ev);
    if (l >= s->keep || (unsigned)l >= SKY_LEVEL_COUNT_)
        return SKY_PROC_KEEP;
    double rate = s->rate[l];
    if (rate >= 1.0)
        return SKY_PROC_KEEP;
    if (rate <= 0.0)
        return SKY_PROC_DROP;
    const sky_field *k = s->key ? sky_event_get(ev, s->key) : NULL;
    double u;
    if (k && (k->type == SKY_T_STR || k->type == SKY_T_JSON)) {
        u = unit(hash64(k->v.str.ptr, k->v.str.len));
    } else if (k && (k->type == SKY_T_INT || k->type == SKY_T_UINT)) {
        u = unit(hash64(&k->v.u, sizeof k->v.u));
    } else {
        s->rng ^= s->rng << 13;
        s->rng ^= s->rng >> 7;
        s->rng ^= s->rng << 17;
        u = unit(s->rng * 0x2545F4914F6CDD1Dull);
    }
    return u < rate ? SKY_PROC_KEEP : SKY_PROC_DROP;
}

static void sample_free(void *user)
{
    sampler *s = user;
    free(s->key);
    free(s);
}

sky_status sky_add_sampler(sky_t *sky, const sky_sample_opts *opts)
{
    if (!sky || !opts)
        return SKY_EINVAL;
    if (SKY__CHECK_RESERVED(opts, sky_sample_opts, sky, NULL) != SKY_OK)
        return SKY_EINVAL;
    sampler *s = calloc(1, sizeof *s);
    if (!s)
        return SKY_ENOMEM;
    for (int i = 0; i < SKY_LEVEL_COUNT_; i++) {
        double r = opts->rate[i];
        if (r < 0 || r > 1 || r != r) {
            free(s);
            return SKY_EINVAL;
        }
        s->rate[i] = (r == 0 && !opts->rate_set[i]) ? 1.0 : r;
    }
    s->keep = opts->always_keep_set ? opts->always_keep : SKY_LEVEL_ERROR;
    s->key = strdup(opts->key ? opts->key : "trace_id");
    s->rng = opts->seed ? opts->seed : 0x9E3779B97F4A7C15ull;
    if (!s->key) {
        free(s);
        return SKY_ENOMEM;
    }
    return sky_add_processor(sky, "sample", sample_run, s, sample_free);
}
