/*
 * metrics.c - instruments, their striped recording and the per-interval drain (see
 * skylog/metrics.h for the promises).
 *
 * Each instrument has 16 stripes, each alone on its cache lines; a thread picks its stripe once
 * (round robin) and records there, so four recording threads never write the same line.
 * Counters add with a compare-and-swap on the stripe's double (uncontended: lock-free and about
 * the cost of one atomic). Histograms need several fields updated together (count, sum, min,
 * max, the value table), so each stripe has a byte lock; it is only contended by a flush
 * draining that stripe or by a 17th thread sharing it. A flush swaps each stripe's state out
 * under that lock, so a record falls in exactly one interval.
 *
 * Histogram values: an open-addressed table of exact values (up to 150 distinct per stripe and
 * per merged datum); past that, a DDSketch-style log-bucket sketch with gamma = (1+a)/(1-a),
 * a = 1%: bucket i holds (gamma^(i-1), gamma^i] and is represented by 2 gamma^i / (gamma + 1),
 * within a of every value in it.
 */
#include "metrics/metrics_internal.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define NSTRIPE 16
#define EXACT_SLOTS 256 /* > 150, a power of two: probes stay short */
#define SK_MIN 1e-9
#define SK_MAX 1e15

/* ---- units ----------------------------------------------------------------------------------- */

static const char *const unit_names[SKY_UNIT_COUNT_] = {
    "None", "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes",
    "Gigabytes", "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent",
    "Count", "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second",
    "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second",
    "Terabits/Second", "Count/Second"};

const char *sky_unit_name(sky_unit u)
{
    return (unsigned)u < SKY_UNIT_COUNT_ ? unit_names[u] : "None";
}

sky_status sky_unit_parse(const char *text, sky_unit *out)
{
    for (int i = 0; text && i < SKY_UNIT_COUNT_; i++)
        if (strcasecmp(text, unit_names[i]) == 0) {
            *out = (sky_unit)i;
            return SKY_OK;
        }
    return SKY_EINVAL;
}

/* ---- sketch ---------------------------------------------------------------------------------- */

/* ln((1 + a) / (1 - a)) for a = SKY_METRIC_SKETCH_ERROR = 0.01, as a constant: computing it
 * lazily would be a data race between recording threads. (A _Static_assert on the double is
 * not an integer constant expression for clang; test_metrics measures every bucket's error
 * against SKY_METRIC_SKETCH_ERROR, so the two cannot drift apart unnoticed.) */
#define SK_LG 0.020000666706669435
static double sk_lg(void) { return SK_LG; }
static int sk_index(double mag) { return (int)ceil(log(mag) / sk_lg()); }
static int sk_lo(void) { return sk_index(SK_MIN); }
static int sk_n(void) { return sk_index(SK_MAX) - sk_lo() + 1; }
static double sk_rep(int i)
{
    double g = exp(sk_lg());
    return 2 * exp(i * sk_lg()) / (g + 1);
}

typedef struct sketch {
    double zero;
    double *pos, *neg; /* sk_n() buckets each */
} sketch;

static bool sk_alloc(sketch *s)
{
    if (!s->pos) {
        s->pos = calloc((size_t)sk_n(), sizeof(double));
        s->neg = calloc((size_t)sk_n(), sizeof(double));
        if (!s->pos || !s->neg) {
            free(s->pos);
            free(s->neg);
            s->pos = s->neg = NULL;
            return false;
        }
    }
    return true;
}

/* Returns false on OOM (the value is then lost: counted by the caller as invalid). */
static bool sk_add(sketch *s, double v, double cnt, _Atomic uint64_t *clamped)
{
    if (!sk_alloc(s))
        return false;
    double mag = fabs(v);
    if (mag < SK_MIN) {
        if (v != 0)
            atomic_fetch_add_explicit(clamped, 1, memory_order_relaxed);
        s->zero += cnt;
        return true;
    }
    if (mag > SK_MAX) {
        atomic_fetch_add_explicit(clamped, 1, memory_order_relaxed);
        mag = SK_MAX;
    }
    int i = sk_index(mag) - sk_lo();
    if (i < 0)
        i = 0;
    if (i >= sk_n())
        i = sk_n() - 1;
    (v < 0 ? s->neg : s->pos)[i] += cnt;
    return true;
}

static void sk_free(sketch *s)
{
    free(s->pos);
    free(s->neg);
    memset(s, 0, sizeof *s);
}

/* ---- histogram state (a stripe's, or a flush's merge) ---------------------------------------- */

typedef struct hstate {
    double count, sum, min, max;
    size_t n_exact;
    bool sketching;
    uint64_t keys[EXACT_SLOTS]; /* the value's bits; 0 = empty (+0.0 is stored as -0.0's bits) */
    double cnts[EXACT_SLOTS];
    sketch sk;
} hstate;

static uint64_t vbits(double v)
{
    if (v == 0)
        v = 0.0; /* -0.0 and +0.0 are one value */
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b ? b : 0x8000000000000000ull; /* 0.0 marked as -0.0's bits, never 0 */
}
static double bitsv(uint64_t b)
{
    if (b == 0x8000000000000000ull)
        return 0;
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

static void hs_reset(hstate *h)
{
    h->count = h->sum = 0;
    h->min = INFINITY;
    h->max = -INFINITY;
    if (h->n_exact)
        memset(h->keys, 0, sizeof h->keys);
    h->n_exact = 0;
    h->sketching = false;
    if (h->sk.pos) {
        memset(h->sk.pos, 0, (size_t)sk_n() * sizeof(double));
        memset(h->sk.neg, 0, (size_t)sk_n() * sizeof(double));
    }
    h->sk.zero = 0;
}

static bool hs_to_sketch(hstate *h, _Atomic uint64_t *clamped)
{
    if (!sk_alloc(&h->sk))
        return false;
    for (size_t i = 0; i < EXACT_SLOTS; i++)
        if (h->keys[i] && !sk_add(&h->sk, bitsv(h->keys[i]), h->cnts[i], clamped))
            return false;
    memset(h->keys, 0, sizeof h->keys);
    h->n_exact = 0;
    h->sketching = true;
    return true;
}

/* Adds `cnt` occurrences of v to the value part (not count/sum/min/max). */
static bool hs_add_value(hstate *h, double v, double cnt, _Atomic uint64_t *clamped)
{
    if (!h->sketching) {
        uint64_t b = vbits(v);
        size_t i = (size_t)((b * 0x9E3779B97F4A7C15ull) >> 56) & (EXACT_SLOTS - 1);
        while (h->keys[i] && h->keys[i] != b)
            i = (i + 1) & (EXACT_SLOTS - 1);
        if (h->keys[i] == b) {
            h->cnts[i] += cnt;
            return true;
        }
        if (h->n_exact < SKY_METRIC_EXACT_VALUES) {
            h->keys[i] = b;
            h->cnts[i] = cnt;
            h->n_exact++;
            return true;
        }
        if (!hs_to_sketch(h, clamped))
            return false;
    }
    return sk_add(&h->sk, v, cnt, clamped);
}

static void hs_merge(hstate *into, const hstate *from, _Atomic uint64_t *clamped)
{
    if (from->count == 0)
        return;
    into->count += from->count;
    into->sum += from->sum;
    into->min = fmin(into->min, from->min);
    into->max = fmax(into->max, from->max);
    if (from->sketching && !into->sketching)
        hs_to_sketch(into, clamped);
    for (size_t i = 0; i < EXACT_SLOTS; i++)
        if (from->keys[i])
            hs_add_value(into, bitsv(from->keys[i]), from->cnts[i], clamped);
    if (from->sketching) {
        into->sk.zero += from->sk.zero;
        int n = sk_n();
        for (int i = 0; i < n && into->sk.pos; i++) {
            into->sk.pos[i] += from->sk.pos[i];
            into->sk.neg[i] += from->sk.neg[i];
        }
    }
}

static int cmp_pair(const void *a, const void *b)
{
    double x = ((const double *)a)[0], y = ((const double *)b)[0];
    return x < y ? -1 : x > y;
}

/* The merged state's values and counts, ascending, into malloc'd arrays. */
static size_t hs_values(const hstate *h, double **values, double **counts)
{
    size_t cap = h->sketching ? 2 * (size_t)sk_n() + 1 : h->n_exact;
    double *pairs = malloc((cap ? cap : 1) * 2 * sizeof(double));
    size_t n = 0;
    if (!pairs)
        goto fail;
    if (!h->sketching) {
        for (size_t i = 0; i < EXACT_SLOTS; i++)
            if (h->keys[i]) {
                pairs[2 * n] = bitsv(h->keys[i]);
                pairs[2 * n + 1] = h->cnts[i];
                n++;
            }
        qsort(pairs, n, 2 * sizeof(double), cmp_pair);
    } else if (h->sk.pos) {
        int nb = sk_n(), lo = sk_lo();
        for (int i = nb - 1; i >= 0; i--)
            if (h->sk.neg[i] > 0) {
                pairs[2 * n] = -sk_rep(i + lo);
                pairs[2 * n + 1] = h->sk.neg[i];
                n++;
            }
        if (h->sk.zero > 0) {
            pairs[2 * n] = 0;
            pairs[2 * n + 1] = h->sk.zero;
            n++;
        }
        for (int i = 0; i < nb; i++)
            if (h->sk.pos[i] > 0) {
                pairs[2 * n] = sk_rep(i + lo);
                pairs[2 * n + 1] = h->sk.pos[i];
                n++;
            }
    }
    *values = malloc((n ? n : 1) * sizeof(double));
    *counts = malloc((n ? n : 1) * sizeof(double));
    if (!*values || !*counts)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        (*values)[i] = pairs[2 * i];
        (*counts)[i] = pairs[2 * i + 1];
    }
    free(pairs);
    return n;
fail:
    free(pairs);
    free(*values);
    free(*counts);
    *values = *counts = NULL;
    return 0;
}

/* ---- instruments ----------------------------------------------------------------------------- */

typedef struct stripe {
    _Alignas(64) _Atomic uint64_t sum_bits; /* counters: the double sum */
    _Atomic uint64_t adds;                  /* counters: calls this interval */
    atomic_flag lock;                       /* histograms */
    hstate *h;                              /* histograms: allocated on first record */
} stripe;

struct sky_metric {
    stripe stripes[NSTRIPE];
    sky_metrics *reg;
    char *ns, *name;
    sky_dim *dims;
    size_t n_dims;
    sky_metric_kind kind;
    sky_unit unit;
    bool hires;
    _Alignas(64) _Atomic uint64_t gauge_bits;
    _Atomic int gauge_set;
};

typedef struct output {
    sky__metrics_out_fn fn;
    void *user;
} output;

struct sky_metrics {
    pthread_mutex_t mu;       /* instruments, outputs, thread state */
    pthread_mutex_t flush_mu; /* one drain + delivery at a time */
    pthread_cond_t cv;
    sky_metric **inst;
    size_t n_inst, cap_inst;
    output *outs;
    size_t n_outs;
    int64_t interval_ms;
    int64_t (*now_ns)(void *user);
    void *clock_user;
    pthread_t thread;
    bool running, stop;
    bool is_default;
    _Atomic uint64_t records, invalid, clamped, flushes, datums;
    hstate merge; /* flush scratch, under flush_mu */
};

static _Atomic unsigned next_stripe;
static _Thread_local int my_stripe = -1;

static inline stripe *stripe_of(sky_metric *c)
{
    if (SKY_UNLIKELY(my_stripe < 0))
        my_stripe = (int)(atomic_fetch_add_explicit(&next_stripe, 1, memory_order_relaxed) %
                          NSTRIPE);
    return &c->stripes[my_stripe];
}

static inline void bad_record(sky_metric *c)
{
    atomic_fetch_add_explicit(&c->reg->invalid, 1, memory_order_relaxed);
}

void sky_counter_add(sky_metric *c, double delta)
{
    if (!c)
        return;
    if (SKY_UNLIKELY(c->kind != SKY_METRIC_COUNTER || !isfinite(delta))) {
        bad_record(c);
        return;
    }
    stripe *s = stripe_of(c);
    uint64_t old = atomic_load_explicit(&s->sum_bits, memory_order_relaxed), nw;
    do {
        double d;
        memcpy(&d, &old, sizeof d);
        d += delta;
        memcpy(&nw, &d, sizeof nw);
    } while (!atomic_compare_exchange_weak_explicit(&s->sum_bits, &old, nw, memory_order_relaxed,
                                                    memory_order_relaxed));
    atomic_fetch_add_explicit(&s->adds, 1, memory_order_relaxed);
}

void sky_gauge_set(sky_metric *g, double v)
{
    if (!g)
        return;
    if (g->kind != SKY_METRIC_GAUGE || !isfinite(v)) {
        bad_record(g);
        return;
    }
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    atomic_store_explicit(&g->gauge_bits, b, memory_order_relaxed);
    atomic_store_explicit(&g->gauge_set, 1, memory_order_release);
}

static inline void lock_stripe(stripe *s)
{
    while (atomic_flag_test_and_set_explicit(&s->lock, memory_order_acquire))
        ;
}
static inline void unlock_stripe(stripe *s) { atomic_flag_clear_explicit(&s->lock, memory_order_release); }

void sky_histogram_record(sky_metric *h, double v)
{
    if (!h)
        return;
    if (SKY_UNLIKELY(h->kind != SKY_METRIC_HISTOGRAM || !isfinite(v))) {
        bad_record(h);
        return;
    }
    stripe *s = stripe_of(h);
    lock_stripe(s);
    hstate *st = s->h;
    if (SKY_UNLIKELY(!st)) {
        st = s->h = calloc(1, sizeof *st);
        if (!st) {
            unlock_stripe(s);
            bad_record(h);
            return;
        }
        hs_reset(st);
    }
    if (SKY_UNLIKELY(!hs_add_value(st, v, 1, &h->reg->clamped))) {
        unlock_stripe(s);
        bad_record(h);
        return;
    }
    st->count += 1;
    st->sum += v;
    if (v < st->min)
        st->min = v;
    if (v > st->max)
        st->max = v;
    unlock_stripe(s);
}

void sky_timer_record_ns(sky_metric *h, int64_t ns)
{
    if (!h)
        return;
    double div = h->unit == SKY_UNIT_SECONDS        ? 1e9
                 : h->unit == SKY_UNIT_MICROSECONDS ? 1e3
                                                    : 1e6;
    sky_histogram_record(h, (double)ns / div);
}

/* ---- registry -------------------------------------------------------------------------------- */

sky_status sky_metrics_new(const sky_metrics_opts *opts, sky_metrics **out)
{
    if (!out || (opts && opts->flush_interval_ms && opts->flush_interval_ms < 1000))
        return SKY_EINVAL;
    sky_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return SKY_ENOMEM;
    pthread_mutex_init(&m->mu, NULL);
    pthread_mutex_init(&m->flush_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&m->cv, &ca);
    pthread_condattr_destroy(&ca);
    m->interval_ms = opts && opts->flush_interval_ms ? opts->flush_interval_ms : 60000;
    m->now_ns = opts ? opts->now_ns : NULL;
    m->clock_user = opts ? opts->clock_user : NULL;
    hs_reset(&m->merge);
    *out = m;
    return SKY_OK;
}

static sky_metrics *g_default;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static void make_default(void)
{
    if (sky_metrics_new(NULL, &g_default) == SKY_OK)
        g_default->is_default = true;
}

sky_metrics *sky_metrics_default(void)
{
    pthread_once(&g_once, make_default);
    return g_default;
}

static void metric_free(sky_metric *c)
{
    for (int i = 0; i < NSTRIPE; i++)
        if (c->stripes[i].h) {
            sk_free(&c->stripes[i].h->sk);
            free(c->stripes[i].h);
        }
    for (size_t i = 0; i < c->n_dims; i++) {
        free((char *)c->dims[i].name);
        free((char *)c->dims[i].value);
    }
    free(c->dims);
    free(c->ns);
    free(c->name);
    free(c);
}

void sky_metrics_free(sky_metrics *m)
{
    if (!m || m->is_default)
        return;
    for (size_t i = 0; i < m->n_inst; i++)
        metric_free(m->inst[i]);
    free(m->inst);
    free(m->outs);
    sk_free(&m->merge.sk);
    pthread_mutex_destroy(&m->mu);
    pthread_mutex_destroy(&m->flush_mu);
    pthread_cond_destroy(&m->cv);
    free(m);
}

static sky_status invalid(char **errmsg, const char *fmt, const char *a, const char *b)
{
    if (errmsg) {
        char buf[512];
        snprintf(buf, sizeof buf, fmt, a ? a : "", b ? b : "");
        *errmsg = strdup(buf);
    }
    return SKY_EINVAL;
}

static bool len_ok(const char *s, size_t max) { return s && s[0] && strlen(s) <= max; }

static bool same_identity(const sky_metric *c, const sky_metric_opts *o)
{
    if (strcmp(c->ns, o->ns) || strcmp(c->name, o->name) || c->n_dims != o->n_dims)
        return false;
    for (size_t i = 0; i < c->n_dims; i++)
        if (strcmp(c->dims[i].name, o->dims[i].name) || strcmp(c->dims[i].value, o->dims[i].value))
            return false;
    return true;
}

sky_status sky_metric_new(sky_metrics *m, const sky_metric_opts *o, sky_metric **out, char **errmsg)
{
    if (errmsg)
        *errmsg = NULL;
    if (!m || !o || !out)
        return invalid(errmsg, "metrics: a registry, options and an output are required%s%s",
                       NULL, NULL);
    *out = NULL;
    if (!len_ok(o->ns, SKY_METRIC_MAX_NAME) || o->ns[0] == ':' || strncmp(o->ns, "AWS/", 4) == 0)
        return invalid(errmsg,
                       "metrics: namespace '%s' must be 1-255 characters, not start with ':' "
                       "nor 'AWS/'%s",
                       o->ns, NULL);
    if (!len_ok(o->name, SKY_METRIC_MAX_NAME) || strcmp(o->name, "_aws") == 0)
        return invalid(errmsg, "metrics: metric name '%s' must be 1-255 characters, not _aws%s", o->name,
                       NULL);
    if ((unsigned)o->kind >= SKY_METRIC_KIND_COUNT_ || (unsigned)o->unit >= SKY_UNIT_COUNT_)
        return invalid(errmsg, "metrics: %s: unknown kind or unit%s", o->name, NULL);
    if (o->n_dims > SKY_METRIC_MAX_DIMS || (o->n_dims && !o->dims))
        return invalid(errmsg, "metrics: %s: at most 30 dimensions%s", o->name, NULL);
    for (size_t i = 0; i < o->n_dims; i++) {
        if (!len_ok(o->dims[i].name, SKY_METRIC_MAX_NAME) || o->dims[i].name[0] == ':')
            return invalid(errmsg,
                           "metrics: %s: dimension name '%s' must be 1-255 characters, not "
                           "starting with ':'",
                           o->name, o->dims[i].name);
        if (!len_ok(o->dims[i].value, SKY_METRIC_MAX_DIM_VALUE))
            return invalid(errmsg, "metrics: %s: dimension '%s' needs a value of 1-1024 characters",
                           o->name, o->dims[i].name);
        if (strcmp(o->dims[i].name, o->name) == 0)
            return invalid(errmsg,
                           "metrics: %s: a dimension may not have the metric's name ('%s'): an "
                           "EMF record could not carry both",
                           o->name, o->dims[i].name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(o->dims[i].name, o->dims[j].name) == 0)
                return invalid(errmsg, "metrics: %s: dimension '%s' given twice", o->name,
                               o->dims[i].name);
    }
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->n_inst; i++)
        if (same_identity(m->inst[i], o)) {
            sky_metric *c = m->inst[i];
            pthread_mutex_unlock(&m->mu);
            if (c->kind != o->kind || c->unit != o->unit)
                return invalid(errmsg, "metrics: %s/%s exists with another kind or unit", o->ns,
                               o->name);
            *out = c;
            return SKY_OK;
        }
    sky_status st = SKY_ENOMEM;
    sky_metric *c = aligned_alloc(64, (sizeof *c + 63) / 64 * 64);
    if (c) {
        memset(c, 0, sizeof *c);
        for (int i = 0; i < NSTRIPE; i++)
            atomic_flag_clear(&c->stripes[i].lock);
        c->reg = m;
        c->kind = o->kind;
        c->unit = o->unit;
        c->hires = o->high_resolution;
        c->ns = strdup(o->ns);
        c->name = strdup(o->name);
        c->dims = calloc(o->n_dims ? o->n_dims : 1, sizeof *c->dims);
        bool ok = c->ns && c->name && c->dims;
        for (size_t i = 0; ok && i < o->n_dims; i++) {
            c->dims[i].name = strdup(o->dims[i].name);
            c->dims[i].value = strdup(o->dims[i].value);
            c->n_dims = i + 1;
            ok = c->dims[i].name && c->dims[i].value;
        }
        if (ok && m->n_inst == m->cap_inst) {
            size_t cap = m->cap_inst ? 2 * m->cap_inst : 16;
            sky_metric **p = realloc(m->inst, cap * sizeof *p);
            if (p) {
                m->inst = p;
                m->cap_inst = cap;
            } else {
                ok = false;
            }
        }
        if (ok) {
            m->inst[m->n_inst++] = c;
            *out = c;
            st = SKY_OK;
        } else {
            metric_free(c);
        }
    }
    pthread_mutex_unlock(&m->mu);
    return st;
}

void sky_metrics_stats_get(sky_metrics *m, sky_metrics_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    out->instruments = m->n_inst;
    pthread_mutex_unlock(&m->mu);
    out->invalid = atomic_load(&m->invalid);
    out->clamped = atomic_load(&m->clamped);
    out->flushes = atomic_load(&m->flushes);
    out->datums = atomic_load(&m->datums);
    out->records = atomic_load(&m->records);
}

/* ---- the drain ------------------------------------------------------------------------------- */

/* Drains one instrument into *d; false if it has nothing this interval. Under flush_mu. */
static bool drain(sky_metrics *m, sky_metric *c, sky_metric_datum *d, int64_t now_ms)
{
    *d = (sky_metric_datum){.ns = c->ns, .name = c->name, .dims = c->dims, .n_dims = c->n_dims,
                            .unit = c->unit, .kind = c->kind, .high_resolution = c->hires,
                            .timestamp_ms = now_ms};
    if (c->kind == SKY_METRIC_COUNTER) {
        uint64_t adds = 0;
        double sum = 0;
        for (int i = 0; i < NSTRIPE; i++) {
            stripe *s = &c->stripes[i];
            adds += atomic_exchange_explicit(&s->adds, 0, memory_order_relaxed);
            uint64_t b = atomic_exchange_explicit(&s->sum_bits, 0, memory_order_relaxed);
            double v;
            memcpy(&v, &b, sizeof v);
            sum += v;
        }
        if (!adds && sum == 0)
            return false;
        atomic_fetch_add_explicit(&m->records, adds, memory_order_relaxed);
        d->value = d->sum = d->min = d->max = sum;
        d->count = 1;
        return true;
    }
    if (c->kind == SKY_METRIC_GAUGE) {
        if (!atomic_exchange_explicit(&c->gauge_set, 0, memory_order_acquire))
            return false;
        uint64_t b = atomic_load_explicit(&c->gauge_bits, memory_order_relaxed);
        memcpy(&d->value, &b, sizeof b);
        d->sum = d->min = d->max = d->value;
        d->count = 1;
        atomic_fetch_add_explicit(&m->records, 1, memory_order_relaxed);
        return true;
    }
    hstate *mg = &m->merge;
    hs_reset(mg);
    for (int i = 0; i < NSTRIPE; i++) {
        stripe *s = &c->stripes[i];
        lock_stripe(s);
        if (s->h && s->h->count > 0) {
            hs_merge(mg, s->h, &m->clamped);
            hs_reset(s->h);
        }
        unlock_stripe(s);
    }
    if (mg->count == 0)
        return false;
    atomic_fetch_add_explicit(&m->records, (uint64_t)mg->count, memory_order_relaxed);
    d->count = mg->count;
    d->sum = mg->sum;
    d->min = mg->min;
    d->max = mg->max;
    double *vals = NULL, *cnts = NULL;
    d->n_values = hs_values(mg, &vals, &cnts);
    d->values = vals;
    d->counts = cnts;
    return true;
}

sky_status sky_metrics_flush(sky_metrics *m, int64_t deadline_ns)
{
    if (!m)
        return SKY_EINVAL;
    pthread_mutex_lock(&m->flush_mu);
    pthread_mutex_lock(&m->mu);
    size_t n = m->n_inst;
    sky_metric **inst = n ? malloc(n * sizeof *inst) : NULL;
    if (inst)
        memcpy(inst, m->inst, n * sizeof *inst);
    pthread_mutex_unlock(&m->mu);
    sky_metric_datum *d = n ? calloc(n, sizeof *d) : NULL;
    sky_status st = SKY_OK;
    if (n && (!inst || !d)) {
        st = SKY_ENOMEM; /* nothing drained: the values wait for the next flush */
        goto out;
    }
    size_t nd = 0;
    int64_t now_ms = (m->now_ns ? m->now_ns(m->clock_user) : sky_now_ns()) / 1000000;
    for (size_t i = 0; i < n; i++)
        if (drain(m, inst[i], &d[nd], now_ms))
            nd++;
    atomic_fetch_add_explicit(&m->flushes, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->datums, nd, memory_order_relaxed);
    /* outputs cannot change while flush_mu is held (detach takes it); they are called with no
     * datums too, so one holding a failed request retries it */
    for (size_t i = 0; i < m->n_outs; i++) {
        sky_status s = m->outs[i].fn(m->outs[i].user, d, nd, deadline_ns);
        if (s != SKY_OK && st == SKY_OK)
            st = s;
    }
    for (size_t i = 0; i < nd; i++) {
        free((void *)d[i].values);
        free((void *)d[i].counts);
    }
out:
    free(d);
    free(inst);
    pthread_mutex_unlock(&m->flush_mu);
    return st;
}

static void *interval_thread(void *arg)
{
    sky_metrics *m = arg;
    pthread_mutex_lock(&m->mu);
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    while (!m->stop) {
        int64_t ms = m->interval_ms;
        next.tv_sec += ms / 1000;
        next.tv_nsec += (ms % 1000) * 1000000;
        if (next.tv_nsec >= 1000000000) {
            next.tv_sec++;
            next.tv_nsec -= 1000000000;
        }
        while (!m->stop && pthread_cond_timedwait(&m->cv, &m->mu, &next) == 0)
            ;
        if (m->stop)
            break;
        pthread_mutex_unlock(&m->mu);
        sky_metrics_flush(m, sky_monotonic_ns() + ms * 1000000 / 2);
        pthread_mutex_lock(&m->mu);
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

sky_status sky__metrics_attach(sky_metrics *m, sky__metrics_out_fn fn, void *user,
                               int64_t interval_ms)
{
    pthread_mutex_lock(&m->flush_mu);
    pthread_mutex_lock(&m->mu);
    sky_status st = SKY_OK;
    output *o = realloc(m->outs, (m->n_outs + 1) * sizeof *o);
    if (!o) {
        st = SKY_ENOMEM;
    } else {
        m->outs = o;
        m->outs[m->n_outs++] = (output){fn, user};
        if (interval_ms > 0)
            m->interval_ms = interval_ms < 1000 ? 1000 : interval_ms;
        if (!m->running) {
            m->stop = false;
            if (pthread_create(&m->thread, NULL, interval_thread, m) == 0)
                m->running = true;
            else
                st = SKY_ENOMEM, m->n_outs--;
        }
    }
    pthread_mutex_unlock(&m->mu);
    pthread_mutex_unlock(&m->flush_mu);
    return st;
}

void sky__metrics_detach(sky_metrics *m, void *user)
{
    pthread_mutex_lock(&m->flush_mu);
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->n_outs; i++)
        if (m->outs[i].user == user) {
            m->outs[i] = m->outs[--m->n_outs];
            break;
        }
    bool join = m->n_outs == 0 && m->running;
    if (join) {
        m->stop = true;
        m->running = false;
        pthread_cond_broadcast(&m->cv);
    }
    pthread_mutex_unlock(&m->mu);
    pthread_mutex_unlock(&m->flush_mu);
    if (join)
        pthread_join(m->thread, NULL);
}
