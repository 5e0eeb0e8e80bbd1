/*
 * metrics.c - instruments, their per-thread recording and the per-interval drain (see
 * skylog/metrics.h for the promises).
 *
 * Shards. Each recording thread has a number (claimed on its first record, released when it
 * exits, so numbers stay below the count of live threads) and each instrument one shard per
 * number, allocated on the thread's first record on it. A shard is written by its thread only,
 * so a record is plain loads and stores on memory no other thread writes: no compare-and-swap
 * loop, no shared cache line. (Past MAX_THREADS - 1 live recording threads, the rest share the
 * last number, whose `busy` flag then serialises them.)
 *
 * Intervals without a lock. A shard has two buffers; the instrument's `epoch` says which one
 * records go to. A record sets its shard's `busy` (one exchange: the only atomic
 * read-modify-write of a record), reads `epoch`, updates that buffer and clears `busy`. A flush
 * flips `epoch`, then takes and releases each shard's `busy` once: a record that read the old
 * epoch has finished, and every later one sees the new epoch (the exchange and the flip are
 * sequentially consistent: a record cannot miss a flip the flush has made before looking at
 * its shard). The flush then reads and clears the old buffers while threads record into the
 * new ones: a record falls into exactly one interval, and recording never waits for a flush.
 *
 * Histogram values: an open-addressed table of exact values (up to 150 distinct per shard and
 * per merged datum); past that, log-linear buckets read off the double's bits: 64 buckets per
 * binary octave (the 6 mantissa bits below the exponent), so a bucket [L, U) has U/L <= 65/64
 * and its representative 2LU/(L+U) is within 1/129 (0.78%) of every value in it. Finding a
 * bucket is a shift and a mask, where a logarithm would cost more than the rest of the record.
 *
 * fork(): the child has only the forking thread; a handler resets every shard (the parent
 * publishes what was recorded before the fork), the thread numbers and the busy flags of
 * threads that no longer exist, and the interval thread is started again on the child's first
 * record or flush (not in the handler).
 */
#include "core/errmsg.h"
#include "core/reserved.h"
#include "metrics/metrics_internal.h"
#include "util/thread.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_THREADS 1024
#define CHUNK_SHIFT 5
#define CHUNK (1 << CHUNK_SHIFT) /* shard pointers per chunk, allocated when first used */
#define NCHUNK (MAX_THREADS / CHUNK)
#define EXACT_SLOTS 512 /* > 3 x 150, a power of two: most values are in their first slot */
#define SLOT_SHIFT 55   /* 64 - log2(EXACT_SLOTS) */
#define EMPTY_KEY UINT64_MAX /* a NaN's bits: never a recorded value */
#define EXP_MASK 0x7ff0000000000000ull

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

/* ---- the sketch: log-linear buckets read off a double's bits --------------------------------- */

#define SK_SUB 6      /* mantissa bits a bucket: 64 buckets per octave */
#define SK_EMIN (-30) /* 2^-30 (9.3e-10): smaller magnitudes count as 0 */
#define SK_EMAX 50    /* 2^50 (1.1e15): larger ones count in the top bucket */
#define SK_OCT (SK_EMAX - SK_EMIN)
#define SK_PER (1 << SK_SUB)
#define SK_N (SK_OCT * SK_PER) /* buckets per sign */
#define SK_BIAS (1023 + SK_EMIN)

/* Bucket i's representative: it holds [L, U), L = 2^e (1 + m/64), U = 2^e (1 + (m+1)/64). */
static double sk_rep(int i)
{
    int e = i / SK_PER + SK_EMIN, m = i % SK_PER;
    double lo = ldexp(1.0 + (double)m / SK_PER, e), hi = ldexp(1.0 + (double)(m + 1) / SK_PER, e);
    return 2 * lo * hi / (lo + hi);
}

/* The bucket of magnitude bits `mag` (sign cleared): -1 for the zero bucket. Values outside the
 * range add to *clamped (by `cnt`). */
static int sk_bucket(uint64_t mag, uint64_t cnt, _Atomic uint64_t *clamped)
{
    int oct = (int)(mag >> 52) - SK_BIAS;
    if (oct < 0) {
        if (mag && clamped)
            atomic_fetch_add_explicit(clamped, cnt, memory_order_relaxed);
        return -1;
    }
    if (oct >= SK_OCT) {
        if (clamped)
            atomic_fetch_add_explicit(clamped, cnt, memory_order_relaxed);
        return SK_N - 1;
    }
    return oct * SK_PER + (int)((mag >> (52 - SK_SUB)) & (SK_PER - 1));
}

static uint64_t dbits(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}
static double bitsd(uint64_t b)
{
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

/* ---- the flush's merge of an instrument's shards --------------------------------------------- */

typedef struct hstate {
    double count, sum, min, max;
    size_t n_exact;
    bool sketching;
    uint64_t keys[EXACT_SLOTS]; /* the value's bits, +0.0 as -0.0's; 0 = empty */
    double cnts[EXACT_SLOTS];
    double zero;
    double *pos, *neg; /* SK_N buckets each, allocated with the first sketch */
} hstate;

static uint64_t vkey(double v)
{
    uint64_t b = dbits(v == 0 ? 0.0 : v); /* -0.0 and +0.0 are one value */
    return b ? b : 0x8000000000000000ull;
}
static double keyv(uint64_t b) { return b == 0x8000000000000000ull ? 0 : bitsd(b); }

static void hs_reset(hstate *h)
{
    h->count = h->sum = 0;
    h->min = INFINITY;
    h->max = -INFINITY;
    if (h->n_exact)
        memset(h->keys, 0, sizeof h->keys);
    h->n_exact = 0;
    if (h->sketching && h->pos) {
        memset(h->pos, 0, SK_N * sizeof(double));
        memset(h->neg, 0, SK_N * sizeof(double));
    }
    h->sketching = false;
    h->zero = 0;
}

static void hs_sk_add(hstate *h, double v, double cnt, _Atomic uint64_t *clamped)
{
    uint64_t b = dbits(v);
    int i = sk_bucket(b & ~(1ull << 63), (uint64_t)cnt, clamped);
    if (i < 0)
        h->zero += cnt;
    else
        ((b >> 63) ? h->neg : h->pos)[i] += cnt;
}

static bool hs_to_sketch(hstate *h, _Atomic uint64_t *clamped)
{
    if (!h->pos) {
        h->pos = calloc(SK_N, sizeof(double));
        h->neg = calloc(SK_N, sizeof(double));
        if (!h->pos || !h->neg) {
            free(h->pos);
            free(h->neg);
            h->pos = h->neg = NULL;
            return false;
        }
    }
    h->sketching = true;
    for (size_t i = 0; i < EXACT_SLOTS; i++)
        if (h->keys[i])
            hs_sk_add(h, keyv(h->keys[i]), h->cnts[i], clamped);
    memset(h->keys, 0, sizeof h->keys);
    h->n_exact = 0;
    return true;
}

/* Adds `cnt` occurrences of v to the values (not count/sum/min/max). False on OOM. */
static bool hs_add_value(hstate *h, double v, double cnt, _Atomic uint64_t *clamped)
{
    if (!h->sketching) {
        uint64_t b = vkey(v);
        size_t i = (size_t)((b * 0x9E3779B97F4A7C15ull) >> SLOT_SHIFT) & (EXACT_SLOTS - 1);
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
    hs_sk_add(h, v, cnt, clamped);
    return true;
}

static int cmp_pair(const void *a, const void *b)
{
    double x = ((const double *)a)[0], y = ((const double *)b)[0];
    return x < y ? -1 : x > y;
}

/* The merged state's values and counts, ascending, into malloc'd arrays. */
static size_t hs_values(const hstate *h, double **values, double **counts)
{
    size_t cap = h->sketching ? 2 * (size_t)SK_N + 1 : h->n_exact;
    double *pairs = malloc((cap ? cap : 1) * 2 * sizeof(double));
    size_t n = 0;
    *values = *counts = NULL;
    if (!pairs)
        goto fail;
    if (!h->sketching) {
        for (size_t i = 0; i < EXACT_SLOTS; i++)
            if (h->keys[i]) {
                pairs[2 * n] = keyv(h->keys[i]);
                pairs[2 * n + 1] = h->cnts[i];
                n++;
            }
        qsort(pairs, n, 2 * sizeof(double), cmp_pair);
    } else if (h->pos) {
        for (int i = SK_N - 1; i >= 0; i--)
            if (h->neg[i] > 0) {
                pairs[2 * n] = -sk_rep(i);
                pairs[2 * n + 1] = h->neg[i];
                n++;
            }
        if (h->zero > 0) {
            pairs[2 * n] = 0;
            pairs[2 * n + 1] = h->zero;
            n++;
        }
        for (int i = 0; i < SK_N; i++)
            if (h->pos[i] > 0) {
                pairs[2 * n] = sk_rep(i);
                pairs[2 * n + 1] = h->pos[i];
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

/* ---- shards ---------------------------------------------------------------------------------- */

/* One interval's records of one thread. Counters use sum and n; histograms sum, the exact
 * table, and past 150 distinct values the buckets, the zero bucket and min/max (which the exact
 * table otherwise gives). */
typedef struct sbuf {
    double sum;
    uint64_t n;
    double min, max;
    uint64_t *keys; /* EXACT_SLOTS keys (EMPTY_KEY = free), then their counts */
    uint32_t n_exact;
    bool sketching;
    uint64_t zero;
    uint64_t *pos, *neg; /* SK_N buckets each, allocated with the first value of that sign */
} sbuf;

typedef struct shard {
    _Alignas(64) _Atomic unsigned busy;
    sbuf b[2];
} shard;

typedef _Atomic(shard *) shard_ptr;

#define NFAST 64 /* thread numbers whose shards a record finds with one load */

struct sky_metric {
    /* read by every record, written by flushes (epoch) and first records (the shard tables).
     * The shards of numbers < NFAST, also in chunks: a counter's in fast[0], a histogram's in
     * fast[1], so that a record on the wrong kind finds none and takes the slow path, which
     * refuses it, without a test of the kind on the fast path. */
    _Alignas(64) shard_ptr fast[2][NFAST];
    _Atomic size_t epoch; /* offset of the current buffer: 0 or sizeof(sbuf) */
    sky_metric_kind kind;
    sky_unit unit;
    sky_metrics *reg;
    _Atomic(shard_ptr *) chunks[NCHUNK]; /* every shard; what flushes walk */
    /* cold */
    char *ns, *name;
    sky_dim *dims;
    size_t n_dims;
    bool hires;
    _Alignas(64) _Atomic uint64_t gauge_bits;
    _Atomic int gauge_set;
};

static void sbuf_reset(sbuf *b)
{
    b->sum = 0;
    b->n = 0;
    b->min = INFINITY;
    b->max = -INFINITY;
    if (b->n_exact && b->keys)
        memset(b->keys, 0xff, EXACT_SLOTS * sizeof *b->keys);
    b->n_exact = 0;
    if (b->sketching) {
        if (b->pos)
            memset(b->pos, 0, SK_N * sizeof *b->pos);
        if (b->neg)
            memset(b->neg, 0, SK_N * sizeof *b->neg);
    }
    b->sketching = false;
    b->zero = 0;
}

static void sbuf_free(sbuf *b)
{
    free(b->keys);
    free(b->pos);
    free(b->neg);
}

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
    bool restart; /* forked child: the interval thread is to be started again */
    bool is_default;
    sky_metrics *next, *prev; /* every registry, for fork */
    sky_metric ***retired;    /* instrument arrays replaced by bigger ones (fork_prepare) */
    size_t n_retired;
    _Atomic uint64_t records, invalid, clamped, flushes, datums;
    hstate merge; /* flush scratch, under flush_mu */
};

/* ---- the flush's barrier --------------------------------------------------------------------- */

/* membarrier(PRIVATE_EXPEDITED) runs a full memory barrier on every thread of the process: the
 * flush pays for the ordering a record would otherwise buy with a locked instruction. Without
 * it (an old kernel, a seccomp filter), no shard is put in the fast tables and every record
 * takes the slow path's exchange. */
static bool g_asym;

static bool asym_register(void)
{
    return syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
}

static pthread_once_t g_asym_once = PTHREAD_ONCE_INIT;
static void asym_init(void) { g_asym = asym_register(); }

/* After the epochs' flips: every record still on an old buffer has made its `busy` visible. */
static void asym_barrier(void)
{
    /* registered: it does not fail (a forked child registers again or empties the tables) */
    if (g_asym && syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0)
        (void)syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0);
}

/* ---- thread numbers -------------------------------------------------------------------------- */

static _Atomic uint64_t g_tids[MAX_THREADS / 64]; /* bit t: number t is taken */
static _Thread_local SKY__TLS_IE unsigned my_tid = UINT_MAX; /* none yet */
static pthread_key_t g_tid_key;
static pthread_once_t g_tid_once = PTHREAD_ONCE_INIT;
static bool g_tid_key_ok;

static void tid_release(void *p)
{
    int t = (int)(intptr_t)p - 1;
    if (t >= 0 && t < MAX_THREADS - 1)
        atomic_fetch_and_explicit(&g_tids[t / 64], ~(1ull << (t % 64)), memory_order_release);
}

static void tid_init(void) { g_tid_key_ok = pthread_key_create(&g_tid_key, tid_release) == 0; }

static void restart_forked(void);

/* The calling thread's number: its own, or the shared last one if none is free (or if the
 * thread's exit could not be noticed to release it). */
static unsigned tid_claim(void)
{
    pthread_once(&g_tid_once, tid_init);
    restart_forked();
    int t = MAX_THREADS - 1;
    for (int w = 0; g_tid_key_ok && w < MAX_THREADS / 64 && t == MAX_THREADS - 1; w++) {
        uint64_t cur = atomic_load_explicit(&g_tids[w], memory_order_relaxed);
        while (~cur) {
            int bit = __builtin_ctzll(~cur);
            if (w * 64 + bit >= MAX_THREADS - 1)
                break;
            if (atomic_compare_exchange_weak_explicit(&g_tids[w], &cur, cur | (1ull << bit),
                                                      memory_order_acquire, memory_order_relaxed)) {
                t = w * 64 + bit;
                if (pthread_setspecific(g_tid_key, (void *)(intptr_t)(t + 1)) != 0) {
                    tid_release((void *)(intptr_t)(t + 1));
                    t = MAX_THREADS - 1;
                }
                break;
            }
        }
    }
    my_tid = (unsigned)t;
    return (unsigned)t;
}

/* The calling thread's shard of c, created on its first record. NULL on OOM. */
__attribute__((noinline)) static shard *shard_make(sky_metric *c)
{
    unsigned t = my_tid != UINT_MAX ? my_tid : tid_claim();
    shard_ptr *ch = atomic_load(&c->chunks[t / CHUNK]);
    if (!ch) {
        shard_ptr *mine = calloc(CHUNK, sizeof *mine);
        if (!mine)
            return NULL;
        if (atomic_compare_exchange_strong(&c->chunks[t / CHUNK], &ch, mine))
            ch = mine;
        else
            free(mine); /* another thread (of another chunk slot) published one */
    }
    shard *s = atomic_load(&ch[t % CHUNK]);
    if (s)
        return s; /* the shared number: made by another thread */
    s = aligned_alloc(64, (sizeof *s + 63) / 64 * 64);
    if (!s)
        return NULL;
    memset(s, 0, sizeof *s);
    for (int k = 0; k < 2; k++) {
        if (c->kind == SKY_METRIC_HISTOGRAM) {
            s->b[k].keys = malloc(2 * EXACT_SLOTS * sizeof *s->b[k].keys);
            if (!s->b[k].keys) {
                free(s->b[0].keys);
                free(s);
                return NULL;
            }
            memset(s->b[k].keys, 0xff, EXACT_SLOTS * sizeof *s->b[k].keys);
        }
        sbuf_reset(&s->b[k]);
    }
    shard *none = NULL;
    if (!atomic_compare_exchange_strong(&ch[t % CHUNK], &none, s)) {
        sbuf_free(&s->b[0]);
        sbuf_free(&s->b[1]);
        free(s);
        s = none;
    } else if (t < NFAST && c->kind != SKY_METRIC_GAUGE && g_asym) {
        atomic_store(&c->fast[c->kind == SKY_METRIC_HISTOGRAM][t], s);
    }
    return s;
}

__attribute__((noinline)) static void shard_wait(shard *s)
{
    for (int spins = 0; atomic_exchange_explicit(&s->busy, 1, memory_order_seq_cst); spins++)
        if (spins > 64)
            sched_yield();
}

/* Enters the calling thread's shard of c (NULL on OOM); the buffer to write is the one of the
 * epoch read after entering. */
static inline shard *shard_enter(sky_metric *c)
{
    unsigned t = my_tid;
    shard *s = NULL;
    if (SKY_LIKELY(t != UINT_MAX)) {
        shard_ptr *ch = atomic_load_explicit(&c->chunks[t >> CHUNK_SHIFT], memory_order_acquire);
        if (SKY_LIKELY(ch != NULL))
            s = atomic_load_explicit(&ch[t & (CHUNK - 1)], memory_order_acquire);
    }
    if (SKY_UNLIKELY(!s) && !(s = shard_make(c)))
        return NULL;
    if (SKY_UNLIKELY(atomic_exchange_explicit(&s->busy, 1, memory_order_seq_cst)))
        shard_wait(s); /* only threads sharing the last number */
    return s;
}

static inline sbuf *shard_buf(sky_metric *c, shard *s)
{
    return (sbuf *)((char *)s->b + atomic_load_explicit(&c->epoch, memory_order_acquire));
}

/* The fast path's shard, entered: the calling thread's, if it has a small number (its own,
 * never shared) and has recorded on c before, and if flushes have the process-wide barrier
 * (shards are put in `fast` only then). Entering is a plain store: the flush's membarrier()
 * orders it before the epoch's load, as the exchange does on the slow path. */
static inline shard *shard_try(sky_metric *c, int hist)
{
    unsigned t = my_tid;
    shard *s = SKY_LIKELY(t < NFAST)
                   ? atomic_load_explicit(&c->fast[hist][t], memory_order_acquire)
                   : NULL;
    if (SKY_LIKELY(s != NULL)) {
        atomic_store_explicit(&s->busy, 1, memory_order_relaxed);
        atomic_signal_fence(memory_order_seq_cst);
    }
    return s;
}

static inline void shard_leave(shard *s) { atomic_store_explicit(&s->busy, 0, memory_order_release); }

/* ---- recording ------------------------------------------------------------------------------- */

/* Each kind has a fast path (inlined checks, no call, no stack frame) and an out-of-line rest:
 * invalid values, a thread's first record, the exact table's probes past the first slot and
 * its inserts, the switch to buckets and values outside their fast range. */

static inline bool is_finite(double v) { return fabs(v) <= DBL_MAX; }

static inline void bad_record(sky_metric *c)
{
    atomic_fetch_add_explicit(&c->reg->invalid, 1, memory_order_relaxed);
}

__attribute__((noinline)) static void counter_slow(sky_metric *c, double delta)
{
    if (!c)
        return;
    shard *s;
    if (c->kind != SKY_METRIC_COUNTER || !is_finite(delta) || !(s = shard_enter(c))) {
        bad_record(c);
        return;
    }
    sbuf *b = shard_buf(c, s);
    b->sum += delta;
    b->n++;
    shard_leave(s);
}

void sky_counter_add(sky_metric *c, double delta)
{
    shard *s;
    if (SKY_UNLIKELY(!c || !is_finite(delta) || !(s = shard_try(c, 0)))) {
        counter_slow(c, delta);
        return;
    }
    sbuf *b = shard_buf(c, s);
    b->sum += delta;
    b->n++;
    shard_leave(s);
}

void sky_gauge_set(sky_metric *g, double v)
{
    if (!g)
        return;
    if (g->kind != SKY_METRIC_GAUGE || !is_finite(v)) {
        bad_record(g);
        return;
    }
    atomic_store_explicit(&g->gauge_bits, dbits(v), memory_order_relaxed);
    atomic_store_explicit(&g->gauge_set, 1, memory_order_release);
}

/* Adds cnt occurrences of the value of bits k to the buckets (the sign's array must exist). */
static void sb_sketch_add(sbuf *b, uint64_t k, uint64_t cnt, _Atomic uint64_t *clamped)
{
    int i = sk_bucket(k & ~(1ull << 63), cnt, clamped);
    if (i < 0)
        b->zero += cnt;
    else
        ((k >> 63) ? b->neg : b->pos)[i] += cnt;
}

/* Allocates the bucket array the value of bits k goes to. False on OOM. */
static bool sb_arrays(sbuf *b, uint64_t k)
{
    uint64_t **a = (k >> 63) ? &b->neg : &b->pos;
    return *a || (*a = calloc(SK_N, sizeof **a));
}

/* Adds v (bits k) to the values of b, in the shard entered by the caller. False on OOM, with
 * nothing changed. */
static bool sb_add(sky_metric *h, sbuf *b, double v, uint64_t k)
{
    _Atomic uint64_t *clamped = &h->reg->clamped;
    if (!b->sketching) {
        size_t i = (size_t)((k * 0x9E3779B97F4A7C15ull) >> SLOT_SHIFT);
        while (b->keys[i] != k && b->keys[i] != EMPTY_KEY)
            i = (i + 1) & (EXACT_SLOTS - 1);
        if (b->keys[i] == k) {
            b->keys[EXACT_SLOTS + i]++;
            return true;
        }
        if (b->n_exact < SKY_METRIC_EXACT_VALUES) {
            b->keys[i] = k;
            b->keys[EXACT_SLOTS + i] = 1;
            b->n_exact++;
            return true;
        }
        /* the switch: the exact values move into the buckets */
        if (!sb_arrays(b, k))
            return false;
        for (size_t j = 0; j < EXACT_SLOTS; j++)
            if (b->keys[j] != EMPTY_KEY && !sb_arrays(b, b->keys[j]))
                return false;
        for (size_t j = 0; j < EXACT_SLOTS; j++) {
            if (b->keys[j] == EMPTY_KEY)
                continue;
            sb_sketch_add(b, b->keys[j], b->keys[EXACT_SLOTS + j], clamped);
            b->min = fmin(b->min, bitsd(b->keys[j]));
            b->max = fmax(b->max, bitsd(b->keys[j]));
            b->keys[j] = EMPTY_KEY;
        }
        b->n_exact = 0;
        b->sketching = true;
    } else if (!sb_arrays(b, k)) {
        return false;
    }
    sb_sketch_add(b, k, 1, clamped);
    b->min = fmin(b->min, v);
    b->max = fmax(b->max, v);
    return true;
}

/* The rest of a record; `s` is the entered shard of the fast path, or NULL. */
__attribute__((noinline)) static void hist_slow(sky_metric *h, shard *s, double v)
{
    if (!h)
        return;
    if (!s && (h->kind != SKY_METRIC_HISTOGRAM || !is_finite(v) || !(s = shard_enter(h)))) {
        bad_record(h);
        return;
    }
    sbuf *b = shard_buf(h, s);
    bool ok = sb_add(h, b, v, dbits(v));
    if (ok)
        b->sum += v;
    shard_leave(s);
    if (!ok)
        bad_record(h);
}

void sky_histogram_record(sky_metric *h, double v)
{
    shard *s = NULL;
    uint64_t k = dbits(v);
    if (SKY_UNLIKELY(!h || k + k >= (EXP_MASK << 1) || !(s = shard_try(h, 1)))) {
        hist_slow(h, NULL, v);
        return;
    }
    sbuf *b = shard_buf(h, s);
    if (SKY_LIKELY(!b->sketching)) {
        size_t i = (size_t)((k * 0x9E3779B97F4A7C15ull) >> SLOT_SHIFT);
        if (SKY_LIKELY(b->keys[i] == k)) {
            b->keys[EXACT_SLOTS + i]++;
            goto done;
        }
    } else {
        /* positive values inside the buckets' range */
        uint64_t j = (k >> (52 - SK_SUB)) - ((uint64_t)SK_BIAS << SK_SUB);
        if (SKY_LIKELY(j < SK_N)) {
            b->pos[j]++;
            b->min = v < b->min ? v : b->min;
            b->max = v > b->max ? v : b->max;
            goto done;
        }
    }
    hist_slow(h, s, v);
    return;
done:
    b->sum += v;
    shard_leave(s);
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

static pthread_mutex_t g_regs_mu = PTHREAD_MUTEX_INITIALIZER;
static sky_metrics *g_regs;
static pthread_once_t g_fork_once = PTHREAD_ONCE_INIT;
static _Atomic int g_forked; /* a child has registries whose interval thread is to restart */

/* Only the list of registries is locked across fork(). Not a registry's `mu`: a pipeline's
 * worker can hold its pipeline's lock while a metrics processor creates an instrument (mu),
 * and the pipelines' own fork handler waits for that lock: taking mu here could close the
 * circle. The child instead re-initialises mu and walks the instruments without it, which is
 * safe because the instrument array is only ever appended to and a grown array's old copy is
 * kept (retired) until the registry is freed: the child sees the old array or the new one,
 * each consistent with the count it reads. */
static void fork_prepare(void) { pthread_mutex_lock(&g_regs_mu); }

static void fork_parent(void) { pthread_mutex_unlock(&g_regs_mu); }

static void shard_forget(shard *s)
{
    atomic_store(&s->busy, 0);
    for (int k = 0; k < 2; k++) { /* whatever state a record cut by the fork left */
        s->b[k].n_exact = 1;
        s->b[k].sketching = true;
        sbuf_reset(&s->b[k]);
    }
}

/* The only thread is the forking one; the others' records and flushes in progress are gone
 * with them. */
static void fork_child(void)
{
    /* the child is a new mm: registered again, or its records leave the fast path */
    bool asym = g_asym && asym_register();
    for (sky_metrics *m = g_regs; m; m = m->next) {
        pthread_mutex_init(&m->mu, NULL); /* a thread of the parent may have held them */
        pthread_mutex_init(&m->flush_mu, NULL);
        sky__cond_init_monotonic(&m->cv);
        hs_reset(&m->merge);
        for (size_t i = 0; i < m->n_inst; i++) {
            sky_metric *c = m->inst[i];
            atomic_store(&c->gauge_set, 0);
            if (g_asym && !asym)
                memset(c->fast, 0, sizeof c->fast);
            for (int k = 0; k < NCHUNK; k++) {
                shard_ptr *ch = atomic_load(&c->chunks[k]);
                for (int j = 0; ch && j < CHUNK; j++) {
                    shard *s = atomic_load(&ch[j]);
                    if (s)
                        shard_forget(s);
                }
            }
        }
        if (m->running) {
            m->running = false;
            m->restart = true;
            atomic_store(&g_forked, 1);
        }
    }
    g_asym = asym;
    pthread_mutex_unlock(&g_regs_mu);
    for (int w = 0; w < MAX_THREADS / 64; w++)
        atomic_store(&g_tids[w], 0);
    my_tid = UINT_MAX; /* takes a number again on its next record, which restarts the threads */
    if (g_tid_key_ok)
        pthread_setspecific(g_tid_key, NULL);
}

static void fork_init(void) { pthread_atfork(fork_prepare, fork_parent, fork_child); }

static void *interval_thread(void *arg);

/* m->mu held. */
static void start_thread(sky_metrics *m)
{
    m->restart = false;
    m->stop = false;
    if (sky__thread_start(&m->thread, "skylog-metrics", interval_thread, m) == 0)
        m->running = true;
}

static void restart_forked(void)
{
    if (SKY_LIKELY(!atomic_load_explicit(&g_forked, memory_order_relaxed)) ||
        !atomic_exchange(&g_forked, 0))
        return;
    pthread_mutex_lock(&g_regs_mu);
    for (sky_metrics *m = g_regs; m; m = m->next) {
        pthread_mutex_lock(&m->mu);
        if (m->restart && m->n_outs)
            start_thread(m);
        pthread_mutex_unlock(&m->mu);
    }
    pthread_mutex_unlock(&g_regs_mu);
}

sky_status sky_metrics_new(const sky_metrics_opts *opts, sky_metrics **out)
{
    if (!out || (opts && opts->flush_interval_ms && opts->flush_interval_ms < 1000))
        return SKY_EINVAL;
    if (opts && SKY__CHECK_RESERVED(opts, sky_metrics_opts, NULL, NULL) != SKY_OK)
        return SKY_EINVAL;
    sky_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return SKY_ENOMEM;
    pthread_mutex_init(&m->mu, NULL);
    pthread_mutex_init(&m->flush_mu, NULL);
    sky__cond_init_monotonic(&m->cv);
    m->interval_ms = opts && opts->flush_interval_ms ? opts->flush_interval_ms : 60000;
    m->now_ns = opts ? opts->now_ns : NULL;
    m->clock_user = opts ? opts->clock_user : NULL;
    hs_reset(&m->merge);
    pthread_once(&g_fork_once, fork_init);
    pthread_once(&g_asym_once, asym_init);
    pthread_mutex_lock(&g_regs_mu);
    m->next = g_regs;
    if (g_regs)
        g_regs->prev = m;
    g_regs = m;
    pthread_mutex_unlock(&g_regs_mu);
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
    for (int k = 0; k < NCHUNK; k++) {
        shard_ptr *ch = atomic_load(&c->chunks[k]);
        for (int j = 0; ch && j < CHUNK; j++) {
            shard *s = atomic_load(&ch[j]);
            if (s) {
                sbuf_free(&s->b[0]);
                sbuf_free(&s->b[1]);
                free(s);
            }
        }
        free(ch);
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
    pthread_mutex_lock(&g_regs_mu);
    if (m->prev)
        m->prev->next = m->next;
    else
        g_regs = m->next;
    if (m->next)
        m->next->prev = m->prev;
    pthread_mutex_unlock(&g_regs_mu);
    for (size_t i = 0; i < m->n_inst; i++)
        metric_free(m->inst[i]);
    free(m->inst);
    for (size_t i = 0; i < m->n_retired; i++)
        free(m->retired[i]);
    free(m->retired);
    free(m->outs);
    free(m->merge.pos);
    free(m->merge.neg);
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

static sky_status metric_new_body(sky_metrics *m, const sky_metric_opts *o, sky_metric **out,
                                  char **errmsg)
{
    if (errmsg)
        *errmsg = NULL;
    if (!m || !o || !out)
        return invalid(errmsg, "metrics: a registry, options and an output are required%s%s",
                       NULL, NULL);
    *out = NULL;
    if (SKY__CHECK_RESERVED(o, sky_metric_opts, NULL, errmsg) != SKY_OK)
        return SKY_EINVAL;
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
            /* a new array, the old one retired (not freed): see fork_prepare */
            size_t cap = m->cap_inst ? 2 * m->cap_inst : 16;
            sky_metric **p = malloc(cap * sizeof *p);
            sky_metric ***r = realloc(m->retired, (m->n_retired + 1) * sizeof *r);
            if (r)
                m->retired = r;
            if (p && r) {
                if (m->n_inst)
                    memcpy(p, m->inst, m->n_inst * sizeof *p);
                if (m->inst)
                    m->retired[m->n_retired++] = m->inst;
                atomic_signal_fence(memory_order_release); /* a fork sees p filled */
                m->inst = p;
                m->cap_inst = cap;
            } else {
                free(p);
                ok = false;
            }
        }
        if (ok) {
            m->inst[m->n_inst] = c;
            atomic_signal_fence(memory_order_release); /* a fork sees the slot before the count */
            m->n_inst++;
            *out = c;
            st = SKY_OK;
        } else {
            metric_free(c);
        }
    }
    pthread_mutex_unlock(&m->mu);
    return st;
}

sky_status sky_metric_new(sky_metrics *m, const sky_metric_opts *o, sky_metric **out, char **errmsg)
{
    char *mine = NULL;
    sky_status st = metric_new_body(m, o, out, errmsg ? errmsg : &mine);
    return sky__errmsg_route(NULL, st, mine);
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

/* Points c's records at its other buffers. Under flush_mu. */
static void flip(sky_metric *c)
{
    size_t off = atomic_load_explicit(&c->epoch, memory_order_relaxed);
    atomic_store_explicit(&c->epoch, off ? 0 : sizeof(sbuf), memory_order_seq_cst);
}

/* After flip() and asym_barrier(): waits for the records that read the old epoch (they made
 * `busy` visible), so the old buffers are the flush's alone, and calls fn on each. */
static void drain_shards(sky_metric *c, void (*fn)(void *, sbuf *), void *arg)
{
    unsigned old = atomic_load_explicit(&c->epoch, memory_order_relaxed) == 0;
    for (int k = 0; k < NCHUNK; k++) {
        shard_ptr *ch = atomic_load(&c->chunks[k]);
        for (int j = 0; ch && j < CHUNK; j++) {
            shard *s = atomic_load(&ch[j]);
            if (!s)
                continue;
            shard_wait(s); /* a record in progress finishes; later ones see the new epoch */
            shard_leave(s);
            fn(arg, &s->b[old]);
            sbuf_reset(&s->b[old]);
        }
    }
}

typedef struct csum {
    double sum;
    uint64_t n;
} csum;

static void counter_take(void *arg, sbuf *b)
{
    csum *t = arg;
    t->sum += b->sum;
    t->n += b->n;
}

typedef struct hmerge {
    hstate *mg;
    sky_metrics *m;
} hmerge;

static void hist_take(void *arg, sbuf *b)
{
    hmerge *hm = arg;
    hstate *mg = hm->mg;
    if (!b->sketching) {
        if (!b->n_exact)
            return;
        for (size_t i = 0; i < EXACT_SLOTS; i++) {
            if (b->keys[i] == EMPTY_KEY)
                continue;
            double v = bitsd(b->keys[i]), n = (double)b->keys[EXACT_SLOTS + i];
            if (!hs_add_value(mg, v, n, &hm->m->clamped))
                atomic_fetch_add_explicit(&hm->m->invalid, b->keys[EXACT_SLOTS + i], memory_order_relaxed);
            else
                mg->count += n;
            mg->min = fmin(mg->min, v);
            mg->max = fmax(mg->max, v);
        }
    } else {
        if (!mg->sketching && !hs_to_sketch(mg, &hm->m->clamped)) {
            atomic_fetch_add_explicit(&hm->m->invalid, 1, memory_order_relaxed);
            return;
        }
        mg->zero += (double)b->zero;
        mg->count += (double)b->zero;
        for (int j = 0; j < SK_N; j++) {
            if (b->pos && b->pos[j]) {
                mg->pos[j] += (double)b->pos[j];
                mg->count += (double)b->pos[j];
            }
            if (b->neg && b->neg[j]) {
                mg->neg[j] += (double)b->neg[j];
                mg->count += (double)b->neg[j];
            }
        }
        mg->min = fmin(mg->min, b->min);
        mg->max = fmax(mg->max, b->max);
    }
    mg->sum += b->sum;
}

/* Drains one instrument into *d; false if it has nothing this interval. Under flush_mu. */
static bool drain(sky_metrics *m, sky_metric *c, sky_metric_datum *d, int64_t now_ms)
{
    *d = (sky_metric_datum){.ns = c->ns, .name = c->name, .dims = c->dims, .n_dims = c->n_dims,
                            .unit = c->unit, .kind = c->kind, .high_resolution = c->hires,
                            .timestamp_ms = now_ms};
    if (c->kind == SKY_METRIC_COUNTER) {
        csum t = {0, 0};
        drain_shards(c, counter_take, &t);
        if (!t.n)
            return false;
        atomic_fetch_add_explicit(&m->records, t.n, memory_order_relaxed);
        d->value = d->sum = d->min = d->max = t.sum;
        d->count = 1;
        return true;
    }
    if (c->kind == SKY_METRIC_GAUGE) {
        if (!atomic_exchange_explicit(&c->gauge_set, 0, memory_order_acquire))
            return false;
        d->value = bitsd(atomic_load_explicit(&c->gauge_bits, memory_order_relaxed));
        d->sum = d->min = d->max = d->value;
        d->count = 1;
        atomic_fetch_add_explicit(&m->records, 1, memory_order_relaxed);
        return true;
    }
    hstate *mg = &m->merge;
    hs_reset(mg);
    drain_shards(c, hist_take, &(hmerge){mg, m});
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
    restart_forked();
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
        flip(inst[i]);
    asym_barrier();
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
    int64_t next = sky_monotonic_ns();
    while (!m->stop) {
        int64_t ms = m->interval_ms;
        next += ms * 1000000;
        while (!m->stop && sky__cond_wait_until(&m->cv, &m->mu, next) == 0)
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
            start_thread(m);
            if (!m->running)
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
    if (m->n_outs == 0)
        m->restart = false;
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
