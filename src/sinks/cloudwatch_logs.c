/*
 * cloudwatch_logs.c - the CloudWatch Logs sink: queue, batcher, sender, accounting.
 *
 * Shape. The pipeline's thread hands records to write(), which checks each message against
 * the per-event limits (oversize policy, empty, UTF-8), and appends it to the FIFO of its log
 * stream. It never blocks on the network: when the queue is at max_queue_size/bytes, new
 * events are refused and counted (what was accepted is never thrown away to make room). A
 * sender thread takes batches from the head of a stream's FIFO and sends them.
 *
 * Batching. A batch is the longest prefix of a stream's FIFO that fits every PutLogEvents
 * limit: Σ(UTF-8 bytes + 26) ≤ max_batch_bytes, ≤ batch_size events, timestamps within 24 h.
 * The batch is sorted by (timestamp, arrival) before sending, because CloudWatch requires
 * chronological order; equal timestamps keep their arrival order. A batch is sent when it is
 * full, when its oldest event has waited flush_interval_ms, or on flush/close - so under
 * backlog every request is as full as the limits allow.
 *
 * Exactly once. Events stay at the head of their FIFO until the service has answered for
 * them: a failed call is retried with the same events (after backoff, for as long as the
 * endpoint is down and the sink is open) and never resent once accepted. Events that the
 * service rejects one by one (rejectedLogEventsInfo) or refuses as invalid are counted by
 * reason and passed to the fallback sink. The one unavoidable duplicate source - a request
 * processed by the service whose answer was lost - is counted as `ambiguous`.
 *
 * Events that CloudWatch would reject for their age (older than 14 days or the group's
 * retention, more than 2 hours ahead) are rejected here before sending, with the same
 * accounting, so a bad clock cannot waste requests.
 *
 * It must never: log through skylog (diagnostics go to stderr via sky__diag), hold the queue
 * lock across a network call, or drop an accepted event silently.
 */
#include "aws/crypto_api.h"
#include "core/errmsg.h"
#include "core/reserved.h"
#include "core/pipeline.h"
#include "util/text.h"
#include "sinks/cwl_transport.h"
#include "sinks/otlp.h"
#include "sinks/spool.h"
#include "util/cond.h"
#include "util/prefault.h"
#include "util/thread.h"

#include <skylog/aws.h>

#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_STREAM "{hostname}_{strftime:%Y%m%d_%H%M%S}"
#define MAX_BACKOFF_NS (SKY_CWL_MAX_BACKOFF_MS * 1000000)
#define PERSISTENT_BACKOFF_NS (60LL * 1000000000) /* errors that waiting cannot fix */
#define CLOSE_GRACE_NS (2LL * 1000000000)

typedef struct cwl_ev {
    int64_t ts_ms;
    int64_t enq_ns; /* monotonic arrival time, for flush_interval */
    uint64_t seq;
    uint64_t spool_pos; /* its record in the spool; NO_SPOOL when none */
    uint32_t len;
    char msg[];
} cwl_ev;
#define NO_SPOOL UINT64_MAX

/* Events live in blocks, appended at the tail block of their stream and released when the
 * last event of a block leaves the head: a stream is a FIFO, so blocks empty in order. This
 * replaces a malloc and a cross-thread free per event (the writer allocates, the sender
 * frees: a tenth of a shipper's CPU) by one per block. Blocks grow from 4 KiB to 64 KiB: a
 * quiet stream (one per logger) stays small, and a block stays under malloc's mmap threshold,
 * so freed ones are reused instead of being unmapped and faulted in again. */
typedef struct ev_block {
    struct ev_block *next;
    size_t used, cap;
    size_t live; /* events of this block still queued */
    _Alignas(8) char data[];
} ev_block;
#define BLOCK_MIN 4096
#define BLOCK_MAX (64u << 10)
/* Emptied blocks of BLOCK_MAX bytes kept for reuse, at most this many (1 MiB). Under backlog
 * a batch's worth of blocks empties and refills at every request: freed, malloc's heap top
 * was trimmed and its pages faulted in again (2 % of a shipper's CPU in page faults). */
#define SPARE_MAX 16

typedef struct stream_q {
    char *name;
    size_t idx; /* in cwl.streams */
    uint64_t hash;            /* of name (stream_hash) */
    struct stream_q *hnext;   /* the next queue in its bucket of cwl.buckets */
    int64_t used_ns;          /* when an event last came for it (idle_now()) */
    int pins;                 /* writers holding it with mu released (or across sends) */
    bool ready; /* exists in CloudWatch (created or confirmed by a successful put) */
    cwl_ev **ring;
    size_t head, count, cap;
    uint64_t bytes; /* Σ(len + 26) */
    ev_block *first, *last; /* the head's event is in `first`, new ones go to `last` */
    /* Isolation of refused events (see send_batch): the sizes of the head ranges still to be
     * sent one at a time, the next batch's first. None: batching as usual. Each split adds one
     * range and halves one, so log2(10,000) + 1 entries are enough. */
    size_t ranges[24];
    int n_ranges;
} stream_q;

typedef struct cwl {
    sky_cwl_opts o;
    char *group;
    char *stream_tmpl;
    bool per_logger;
    char *fixed_stream;
    char *bearer;

    pthread_mutex_t mu;
    pthread_cond_t wake;
    pthread_cond_t done;
    pthread_t thread;
    bool thread_started;
    bool closing;
    int flush_waiters;
    int64_t close_deadline_ns;
    int64_t backoff_until_ns;
    int64_t backoff_ns;

    /* Each queue is allocated on its own and never moves: the sender holds one across its
     * network call (mu released), while a writer may add a stream (a new logger). The names
     * are found through a hash table of chains (buckets, a power of two, at most one queue
     * per bucket on average), not by a pass over them all: a template with a time or a
     * thread in it makes a stream per minute or per thread. An idle stream is forgotten
     * (forget_idle()), so the table holds the streams in use, not every one ever named. */
    stream_q **streams;
    size_t n_streams;
    size_t cap_streams;
    stream_q **buckets;
    size_t n_buckets;
    int64_t next_sweep_ns; /* idle_now() time of the next forget_idle() pass */
    uint64_t forgotten;    /* streams forgotten (sky_cwl_stats.streams_forgotten) */
    stream_q *fixed_q; /* the fixed stream's queue, once made (not per_logger) */
    ev_block *spare;   /* emptied blocks for reuse (under mu), n_spare of them */
    int n_spare;
    size_t rr;
    uint64_t total_events, total_bytes, seq;
    bool group_ready;
    bool retention_done; /* retention_days was set (or refused): see set_retention() */
    bool sending; /* a batch is in flight (its events are still counted in the queue) */
    bool finished; /* cwl_finish() ran */

    /* The batch in flight or waiting for its retry (sender only, or under mu). Its events stay
     * at the head of their stream until the service has answered for them, so a retry resends
     * the very same body: no new selection, sort, escaping or compression, and the transport
     * may keep the payload hash (body_id). Dropped when its events leave the head. */
    struct {
        bool valid;
        bool built;    /* `body` holds its request body */
        size_t stream; /* index in streams */
        size_t n;
        uint64_t bytes;
        cwl_ev **evs;  /* sorted */
        uint64_t body_id;
        bool hashed;   /* sha256 is the SHA-256 of `body` (transport.body_sha256) */
        uint8_t sha256[32];
    } held;
    uint64_t body_ids;

    sky__cwl_transport t;
    sky_sink *fallback;
    pthread_mutex_t fb_mu;

    sky_cwl_stats st;
    /* counted outside mu: the control calls' retries and throttles, and the AWS layer's
     * rate-limited time (adaptive retry mode) */
    _Atomic uint64_t ctl_retries, ctl_throttles, rate_limited_ns;
    sky_buf body;   /* sender only */
    size_t body_hot; /* body bytes from its start known to be resident (see prefault_body) */

    /* The crash-safe spool (spool.h, docs/DURABILITY.md), or NULL. Every queued event has its
     * record there until it leaves the queue with an answer; what close cannot deliver stays
     * in it for the next owner. Losses for lack of room are reported in-band: the next event
     * accepted is preceded by a skylog.gap line. */
    sky__spool *spool;
    uint64_t gap_pending; /* events refused since the last gap line */
    bool in_gap;
} cwl;

static const sky_sink_vtable cwl_vt;

/* The spool, unless there is none or this is a forked child (the parent owns the file). */
static inline sky__spool *spool_of(const cwl *c)
{
    return c->spool && !sky__spool_foreign(c->spool) ? c->spool : NULL;
}

/* ---- names and limits ----------------------------------------------------------------------- */

bool sky_cwl_valid_group_name(const char *n)
{
    size_t l = n ? strlen(n) : 0;
    if (l < 1 || l > 512)
        return false;
    for (size_t i = 0; i < l; i++) {
        char c = n[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_' || c == '/' || c == '#'))
            return false;
    }
    return true;
}

bool sky_cwl_valid_stream_name(const char *n)
{
    size_t l = n ? strlen(n) : 0;
    if (l < 1 || l > 512)
        return false;
    return !strchr(n, ':') && !strchr(n, '*');
}

const char *sky_cwl_reject_name(sky_cwl_reject r)
{
    static const char *const names[] = {"too_old", "too_new", "expired", "invalid"};
    return (unsigned)r < SKY_CWL_REJECT_COUNT_ ? names[r] : "unknown";
}

const char *sky_cwl_drop_name(sky_cwl_drop d)
{
    static const char *const names[] = {"queue_full", "oversize", "undelivered", "no_resource",
                                        "empty"};
    return (unsigned)d < SKY_CWL_DROP_COUNT_ ? names[d] : "unknown";
}

void sky__cwl_result_clear(sky__cwl_result *r)
{
    free(r->body);
    memset(r, 0, sizeof *r);
}

/* Expands the stream template; `logger` may be NULL when the template has no {logger}. */
static char *expand_stream(const char *tmpl, const char *logger, time_t at)
{
    sky_buf b = {0};
    for (const char *p = tmpl; *p;) {
        if (*p != '{') {
            sky__buf_putc(&b, *p++);
            continue;
        }
        const char *end = strchr(p, '}');
        if (!end) {
            sky__buf_puts(&b, p);
            break;
        }
        size_t n = (size_t)(end - p - 1);
        const char *name = p + 1;
        if (n == 8 && strncmp(name, "hostname", 8) == 0) {
            char host[256] = "unknown";
            gethostname(host, sizeof host - 1);
            sky__buf_puts(&b, host);
        } else if (n == 3 && strncmp(name, "pid", 3) == 0) {
            sky__buf_i64(&b, getpid());
        } else if (n == 6 && strncmp(name, "logger", 6) == 0) {
            /* ':' and '*' are not allowed in stream names; a logger name may bring them */
            size_t from = b.len;
            sky__buf_puts(&b, logger && *logger ? logger : "root");
            for (size_t i = from; i < b.len; i++)
                if (b.p[i] == ':' || b.p[i] == '*')
                    b.p[i] = '_';
        } else if (n > 9 && strncmp(name, "strftime:", 9) == 0) {
            char fmt[128], out[256];
            size_t fl = n - 9 < sizeof fmt - 1 ? n - 9 : sizeof fmt - 1;
            memcpy(fmt, name + 9, fl);
            fmt[fl] = '\0';
            struct tm tm;
            gmtime_r(&at, &tm);
            size_t ol = strftime(out, sizeof out, fmt, &tm);
            sky__buf_put(&b, out, ol);
        } else {
            sky__buf_put(&b, p, n + 2); /* unknown placeholder: kept as written */
        }
        p = end + 1;
    }
    char *s = sky__buf_strdup(&b);
    sky__buf_free(&b);
    return s;
}

/* ---- queue ---------------------------------------------------------------------------------- */

/* Arrival times only drive flush_interval_ms (milliseconds), so the coarse clock (a few ns,
 * no vDSO arithmetic) is precise enough; it runs on the same timeline as CLOCK_MONOTONIC. */
static int64_t coarse_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The clock of stream idleness: the transport's (tests step it) or the coarse monotonic one. */
static int64_t idle_now(const cwl *c)
{
    return c->t.mono_ns ? c->t.mono_ns(c->t.self) : coarse_now_ns();
}

/* How long a stream with nothing queued is kept after its last event: two flush intervals
 * (a stream that logs at least once per batch never pays for being made again), and at least
 * STREAM_IDLE_NS. Forgetting costs nothing in CloudWatch (the stream stays there; the sink
 * keeps no state about it that it cannot learn again: a put to a stream that exists simply
 * succeeds, and one that does not is created on ResourceNotFoundException as for any new
 * name), but five minutes keeps a logger that logs now and then from paying a queue's
 * allocation each time, and a template by the minute holds six or seven streams, not one per
 * minute since start. */
#define STREAM_IDLE_NS (300LL * 1000000000)
static int64_t idle_ns(const cwl *c)
{
    int64_t two = 2 * c->o.flush_interval_ms * 1000000;
    return two > STREAM_IDLE_NS ? two : STREAM_IDLE_NS;
}

static uint64_t stream_hash(const char *s) { return sky__fnv1a64(s, strlen(s)); }

/* Room for one more queue in the table (the array, and the buckets at one queue per bucket on
 * average). False when out of memory. */
static bool streams_grow(cwl *c)
{
    if (c->n_streams == c->cap_streams) {
        size_t cap = c->cap_streams ? c->cap_streams * 2 : 8;
        stream_q **ns = realloc(c->streams, cap * sizeof *ns);
        if (!ns)
            return false;
        c->streams = ns;
        c->cap_streams = cap;
    }
    if (c->n_streams + 1 > c->n_buckets) {
        size_t nb = c->n_buckets ? c->n_buckets * 2 : 16;
        stream_q **b = calloc(nb, sizeof *b);
        if (!b)
            return c->n_buckets > 0; /* longer chains, still correct */
        for (size_t i = 0; i < c->n_streams; i++) {
            stream_q *s = c->streams[i];
            s->hnext = b[s->hash & (nb - 1)];
            b[s->hash & (nb - 1)] = s;
        }
        free(c->buckets);
        c->buckets = b;
        c->n_buckets = nb;
    }
    return true;
}

/* The queue of the stream called `name` (made when new; `owned`, when not NULL, is `name`
 * as a malloc'd string the queue takes or frees). Marks it used now. */
static stream_q *stream_named(cwl *c, const char *name, char *owned)
{
    uint64_t h = stream_hash(name);
    int64_t now = idle_now(c);
    for (stream_q *s = c->n_buckets ? c->buckets[h & (c->n_buckets - 1)] : NULL; s;
         s = s->hnext) {
        if (s->hash == h && strcmp(s->name, name) == 0) {
            free(owned);
            s->used_ns = now;
            return s;
        }
    }
    stream_q *s = streams_grow(c) ? calloc(1, sizeof *s) : NULL;
    if (!s || !(s->name = owned ? owned : strdup(name))) {
        if (!s)
            free(owned);
        free(s);
        return NULL;
    }
    s->hash = h;
    s->used_ns = now;
    s->idx = c->n_streams;
    c->streams[c->n_streams++] = s;
    s->hnext = c->buckets[h & (c->n_buckets - 1)];
    c->buckets[h & (c->n_buckets - 1)] = s;
    return s;
}

/* The stream an event's SKY_CWL_STREAM_FIELD names, or NULL when it has none: only with
 * message_only, where the field is not sent. A name the service refuses (too long) is sent
 * as named, and refused and counted as a {logger} one would be. */
static stream_q *stream_of_field(cwl *c, const sky_event *ev)
{
    if (!c->per_logger || !c->o.message_only || !ev || !sky_event_field_count(ev))
        return NULL;
    const sky_field *f = sky_event_get(ev, SKY_CWL_STREAM_FIELD);
    if (!f || f->type != SKY_T_STR || f->v.str.len < 1)
        return NULL;
    char *name = strndup(f->v.str.ptr, f->v.str.len);
    if (!name || strlen(name) != f->v.str.len) { /* a NUL inside */
        free(name);
        return NULL;
    }
    for (char *p = name; *p; p++)
        if (*p == ':' || *p == '*')
            *p = '_';
    return stream_named(c, name, name);
}

static stream_q *stream_for(cwl *c, const char *logger)
{
    if (!c->per_logger) { /* one fixed name: its queue, found once (no strcmp per event; a
                             spool may have brought other streams' queues before it) */
        if (!c->fixed_q)
            c->fixed_q = stream_named(c, c->fixed_stream, NULL);
        return c->fixed_q;
    }
    char *owned = expand_stream(c->stream_tmpl, logger, (time_t)(sky_now_ns() / 1000000000));
    return owned ? stream_named(c, owned, owned) : NULL;
}

static bool push(stream_q *s, cwl_ev *e)
{
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256; /* a power of two: see at() */
        cwl_ev **r = malloc(cap * sizeof *r);
        if (!r)
            return false;
        for (size_t i = 0; i < s->count; i++)
            r[i] = s->ring[(s->head + i) & (s->cap - 1)];
        free(s->ring);
        s->ring = r;
        s->head = 0;
        s->cap = cap;
    }
    s->ring[(s->head + s->count) & (s->cap - 1)] = e;
    s->count++;
    s->bytes += e->len + SKY_CWL_EVENT_OVERHEAD;
    return true;
}

/* The ring's capacity is a power of two (256, doubled): a mask, not a division per event (the
 * batch selection reads every queued event through this). */
static cwl_ev *at(const stream_q *s, size_t i) { return s->ring[(s->head + i) & (s->cap - 1)]; }

static void drop_held(cwl *c)
{
    free(c->held.evs);
    memset(&c->held, 0, sizeof c->held);
    if (c->body.cap > (8u << 20)) {
        sky__buf_free(&c->body);
        c->body_hot = 0;
    }
}

/* The body about to be built for a batch of `bytes` (Σ(len + 26): every encoding writes at
 * least that much) gets its room now, and the pages of it never written before are faulted in
 * with one call (prefault.h): only the first bodies, the largest so far, have any. */
static void prefault_body(cwl *c, uint64_t bytes)
{
    sky_buf *b = &c->body;
    if (bytes <= c->body_hot || bytes > SIZE_MAX / 2 || b->fixed)
        return;
    sky__buf_reset(b);
    if (!sky__buf_reserve(b, (size_t)bytes))
        return;
    sky__prefault(b->p + c->body_hot, (size_t)bytes - c->body_hot);
    c->body_hot = (size_t)bytes;
}

/* n events left the head of s: the isolation ranges shrink with it. */
static void consume_ranges(stream_q *s, size_t n)
{
    while (n && s->n_ranges) {
        size_t k = n < s->ranges[0] ? n : s->ranges[0];
        s->ranges[0] -= k;
        n -= k;
        if (!s->ranges[0]) {
            memmove(s->ranges, s->ranges + 1, (size_t)--s->n_ranges * sizeof s->ranges[0]);
        }
    }
}

/* The first n events of s (a batch) were refused as a whole: they become two ranges to send
 * on their own. False when they cannot be split (one event, or no room left). */
static bool split_front(stream_q *s, size_t n)
{
    if (n < 2 || s->n_ranges + 2 > (int)(sizeof s->ranges / sizeof s->ranges[0]))
        return false;
    consume_ranges(s, n); /* the batch's range (or the part of it that was sent) ... */
    memmove(s->ranges + 2, s->ranges, (size_t)s->n_ranges * sizeof s->ranges[0]);
    s->ranges[0] = n / 2; /* ... becomes its two halves, in queue order */
    s->ranges[1] = n - n / 2;
    s->n_ranges += 2;
    return true;
}

/* Room for an event of len message bytes at the tail of s; NULL when out of memory. */
static cwl_ev *alloc_ev(cwl *c, stream_q *s, size_t len)
{
    size_t need = (sizeof(cwl_ev) + len + 7) & ~(size_t)7;
    ev_block *b = s->last;
    if (!b || b->cap - b->used < need) {
        size_t cap = b ? b->cap * 2 : BLOCK_MIN;
        if (cap > BLOCK_MAX)
            cap = BLOCK_MAX;
        if (cap < need)
            cap = need;
        ev_block *nb;
        if (cap == BLOCK_MAX && c->spare) {
            nb = c->spare;
            c->spare = nb->next;
            c->n_spare--;
        } else if (!(nb = malloc(sizeof *nb + cap))) {
            return NULL;
        } else if (cap == BLOCK_MAX) {
            /* a busy stream's new block will be filled: its pages faulted in one call, not
             * sixteen faults (prefault.h) */
            sky__prefault(nb->data, cap);
        }
        nb->next = NULL;
        nb->used = nb->live = 0;
        nb->cap = cap;
        if (b)
            b->next = nb;
        else
            s->first = nb;
        s->last = b = nb;
    }
    cwl_ev *e = (cwl_ev *)(b->data + b->used);
    b->used += need;
    b->live++;
    return e;
}

/* Takes back e, the last event alloc_ev() gave for s (it was not queued). */
static void unalloc_ev(stream_q *s, cwl_ev *e)
{
    s->last->used = (size_t)((char *)e - s->last->data);
    s->last->live--;
}

/* A block no event uses any more: kept for reuse, or freed. */
static void free_block(cwl *c, ev_block *b)
{
    if (b->cap == BLOCK_MAX && c->n_spare < SPARE_MAX) {
        b->next = c->spare;
        c->spare = b;
        c->n_spare++;
    } else {
        free(b);
    }
}

/* The n events at the head of s leave the queue: the blocks they empty are released (the
 * last one is kept, to be reused from its start). Blocks are in FIFO order, so this needs the
 * block counters only, not the events. */
static void release_head(cwl *c, stream_q *s, size_t n)
{
    while (n) {
        ev_block *b = s->first;
        size_t k = n < b->live ? n : b->live;
        b->live -= k;
        n -= k;
        if (b->live)
            break;
        if (b == s->last) {
            b->used = 0;
            break;
        }
        s->first = b->next;
        free_block(c, b);
    }
}

static void free_blocks(stream_q *s)
{
    for (ev_block *b = s->first, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    s->first = s->last = NULL;
}

/* The first n events of s leave the queue. `bytes`: their Σ(len + 26) when the caller knows
 * it (a batch just answered: its events need not be read again), else UINT64_MAX. */
static void pop_n_keep(cwl *c, stream_q *s, size_t n, uint64_t bytes, bool keep);
static void pop_n(cwl *c, stream_q *s, size_t n, uint64_t bytes) { pop_n_keep(c, s, n, bytes, false); }

/* The same; `keep`: their spool records stay (close leaves them to the next owner), else the
 * events have had their answer and are acknowledged in the spool. */
static void pop_n_keep(cwl *c, stream_q *s, size_t n, uint64_t bytes, bool keep)
{
    consume_ranges(s, n);
    sky__spool *sp = keep ? NULL : spool_of(c);
    if (sp)
        for (size_t i = 0; i < n; i++)
            if (at(s, i)->spool_pos != NO_SPOOL)
                sky__spool_done(sp, at(s, i)->spool_pos);
    if (c->held.valid && c->streams[c->held.stream] == s)
        drop_held(c);
    if (!n)
        return;
    if (bytes == UINT64_MAX) {
        bytes = 0;
        for (size_t i = 0; i < n; i++)
            bytes += at(s, i)->len + SKY_CWL_EVENT_OVERHEAD;
    }
    s->head = (s->head + n) & (s->cap - 1);
    s->count -= n;
    s->bytes -= bytes;
    c->total_events -= n;
    c->total_bytes -= bytes;
    release_head(c, s, n);
}

static void pop(cwl *c, stream_q *s, size_t n) { pop_n(c, s, n, UINT64_MAX); }

/* Forgets the queues of the streams that have been idle for idle_ns(): nothing queued (so
 * nothing in flight, held for a retry or being isolated: those events are still queued),
 * and no event for them since. The fixed stream's queue stays (the write path keeps a
 * pointer to it). A name used again gets a new queue. At most one pass per idle_ns() / 8,
 * so the table holds the streams used in the last 9/8 idle_ns() and those with events.
 * mu held, and no batch in flight (the sender holds its queue with mu released). */
static void forget_idle(cwl *c)
{
    int64_t now = idle_now(c), idle = idle_ns(c);
    if (c->sending || now < c->next_sweep_ns)
        return;
    c->next_sweep_ns = now + idle / 8;
    for (size_t i = c->n_streams; i-- > 0;) {
        stream_q *s = c->streams[i];
        if (s->count || s->pins || s == c->fixed_q || (c->held.valid && c->held.stream == i) ||
            now - s->used_ns < idle)
            continue;
        stream_q **pp = &c->buckets[s->hash & (c->n_buckets - 1)];
        while (*pp != s)
            pp = &(*pp)->hnext;
        *pp = s->hnext;
        stream_q *last = c->streams[--c->n_streams]; /* the last one takes its place */
        c->streams[i] = last;
        last->idx = i;
        if (c->held.valid && c->held.stream == c->n_streams)
            c->held.stream = i;
        for (ev_block *b = s->first, *next; b; b = next) {
            next = b->next;
            free_block(c, b);
        }
        free(s->ring);
        free(s->name);
        free(s);
        c->forgotten++;
    }
}

/* Hands messages to the fallback sink (as records without an event). */
static void to_fallback(cwl *c, cwl_ev *const *evs, size_t n)
{
    if (!c->fallback || !n)
        return;
    pthread_mutex_lock(&c->fb_mu);
    sky_buf b = {0};
    for (size_t i = 0; i < n; i++) {
        sky__buf_reset(&b);
        sky__buf_put(&b, evs[i]->msg, evs[i]->len);
        sky__buf_putc(&b, '\n');
        if (b.oom)
            break;
        sky_record r = {.event = NULL, .text = b.p, .len = b.len};
        if (c->fallback->vt->write(c->fallback->self, &r, 1) == SKY_OK)
            c->st.fallback_events++;
    }
    sky__buf_free(&b);
    pthread_mutex_unlock(&c->fb_mu);
}

/* Appends one message (already within limits) to its stream. Called with mu held. */
/* Whether the queue (and the spool) can take an event of len message bytes for s. mu held. */
static bool has_room(const cwl *c, const stream_q *s, size_t len)
{
    uint64_t cost = len + SKY_CWL_EVENT_OVERHEAD;
    if (c->total_events + 1 > c->o.max_queue_size || c->total_bytes + cost > c->o.max_queue_bytes)
        return false;
    sky__spool *sp = spool_of(c);
    return !sp || sky__spool_has_room(sp, strlen(s->name), len);
}

static sky_status enqueue_locked(cwl *c, stream_q *s, int64_t ts_ms, const char *msg, size_t len,
                                 bool *not_utf8);

/* Events were refused for lack of room since the last gap line: say so in the stream, before
 * the event that found room (the pipeline's skylog.gap, in the sink's own queue). mu held. */
static void put_gap_locked(cwl *c, stream_q *s, int64_t ts_ms)
{
    char line[256], ts[24];
    sky__iso8601_ms(ts, ts_ms * 1000000);
    int n = snprintf(line, sizeof line,
                     "{\"timestamp\":\"%.24s\",\"level\":\"WARN\",\"logger\":\"skylog\","
                     "\"message\":\"skylog.gap\",\"dropped\":%llu,\"reason\":\"%s\"}",
                     ts, (unsigned long long)c->gap_pending,
                     sky_cwl_drop_name(SKY_CWL_DROP_QUEUE_FULL));
    c->in_gap = true;
    if (n > 0 && (size_t)n < sizeof line &&
        enqueue_locked(c, s, ts_ms, line, (size_t)n, NULL) == SKY_OK)
        c->gap_pending = 0;
    c->in_gap = false;
}

/* Counts an event refused for lack of room (queue or spool). */
static void refused_full(cwl *c)
{
    c->st.dropped[SKY_CWL_DROP_QUEUE_FULL]++;
    sky__spool *sp = spool_of(c);
    if (sp) {
        sky__spool_count_dropped(sp, 1);
        if (!c->in_gap)
            c->gap_pending++;
    }
}

/* Queues one message within the limits. `not_utf8`: NULL when msg is known to be well-formed
 * UTF-8; else it is checked while it is copied in (one pass over its bytes instead of two),
 * and when it is not, nothing is queued and *not_utf8 says so (the caller repairs it: the
 * repaired message is longer, and the queue counts its bytes). */
static sky_status enqueue_locked(cwl *c, stream_q *s, int64_t ts_ms, const char *msg, size_t len,
                                 bool *not_utf8)
{
    uint64_t cost = len + SKY_CWL_EVENT_OVERHEAD;
    /* backpressure for shippers: wait while the sender drains (it signals `done` per batch) */
    while (c->o.block_when_full && !c->o.sync_upload && c->st.sender_alive && !c->closing &&
           !c->st.persistent_error && c->total_events > 0 && !has_room(c, s, len)) {
        pthread_cond_signal(&c->wake);
        s->pins++; /* not forgotten while this writer waits (forget_idle) */
        pthread_cond_wait(&c->done, &c->mu);
        s->pins--;
    }
    if (!has_room(c, s, len)) {
        refused_full(c);
        return SKY_EFULL;
    }
    if (c->gap_pending && !c->in_gap) {
        put_gap_locked(c, s, ts_ms);
        if (!has_room(c, s, len)) {
            refused_full(c);
            return SKY_EFULL;
        }
    }
    cwl_ev *e = alloc_ev(c, s, len);
    if (!e) {
        refused_full(c);
        return SKY_ENOMEM;
    }
    if (not_utf8) {
        if (!sky__utf8_copy_valid(e->msg, msg, len)) {
            unalloc_ev(s, e);
            *not_utf8 = true;
            return SKY_EINVAL;
        }
    } else {
        memcpy(e->msg, msg, len);
    }
    e->ts_ms = ts_ms;
    e->enq_ns = coarse_now_ns();
    e->seq = c->seq++;
    e->spool_pos = NO_SPOOL;
    e->len = (uint32_t)len;
    sky__spool *sp = spool_of(c);
    /* in the spool before it is queued: from here on a crash cannot lose it */
    if (sp && !sky__spool_append(sp, ts_ms, s->name, strlen(s->name), msg, len, &e->spool_pos))
        e->spool_pos = NO_SPOOL; /* has_room said yes: cannot happen, but never lose it */
    if (!push(s, e)) {
        unalloc_ev(s, e);
        if (e->spool_pos != NO_SPOOL)
            sky__spool_done(sp, e->spool_pos); /* refused: it must not come back */
        refused_full(c);
        return SKY_ENOMEM;
    }
    c->total_events++;
    c->total_bytes += cost;
    c->st.accepted++;
    /* The sender is told when the stream becomes due (its first event starts the flush
     * interval; a full batch), not at every event after: it waits on `wake` only after it
     * found nothing due under mu, and sends again by itself after each batch while one is
     * due. (A signal per event of a backlog was 1 % of a shipper's CPU.) */
    if (s->count == 1 || s->count == c->o.batch_size ||
        (s->bytes >= c->o.max_batch_bytes && s->bytes - cost < c->o.max_batch_bytes))
        pthread_cond_signal(&c->wake);
    return SKY_OK;
}

/* Longest prefix of s[0..n) that ends on a UTF-8 character boundary and is at most max. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return n;
    size_t cut = max;
    while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
        cut--;
    return cut;
}

static sky_status accept_utf8_locked(cwl *c, stream_q *s, int64_t ts_ms, const char *msg,
                                     size_t len);

/* Applies the per-event rules and queues the message (or its parts). mu held. */
static sky_status accept_locked(cwl *c, stream_q *s, int64_t ts_ms, const char *msg, size_t len)
{
    if (len && len <= c->o.max_event_bytes - SKY_CWL_EVENT_OVERHEAD) {
        /* the common case: a message within the limits, checked while it is copied in */
        bool not_utf8 = false;
        sky_status st = enqueue_locked(c, s, ts_ms, msg, len, &not_utf8);
        if (!not_utf8)
            return st;
    } else if (sky__utf8_valid(msg, len)) {
        return accept_utf8_locked(c, s, ts_ms, msg, len);
    }
    /* repaired into a buffer of this call's own: queueing may wait for room (block_when_full),
     * which lets other writers in */
    sky_buf fixed = {0};
    sky__utf8_repair(&fixed, msg, len);
    sky_status st = SKY_ENOMEM;
    if (fixed.oom)
        c->st.dropped[SKY_CWL_DROP_QUEUE_FULL]++;
    else
        st = accept_utf8_locked(c, s, ts_ms, fixed.p, fixed.len);
    sky__buf_free(&fixed);
    return st;
}

/* The same, for well-formed UTF-8. */
static sky_status accept_utf8_locked(cwl *c, stream_q *s, int64_t ts_ms, const char *msg,
                                     size_t len)
{
    if (len == 0) {
        c->st.dropped[SKY_CWL_DROP_EMPTY]++;
        return SKY_EINVAL;
    }
    size_t max_msg = c->o.max_event_bytes - SKY_CWL_EVENT_OVERHEAD;
    if (len <= max_msg)
        return enqueue_locked(c, s, ts_ms, msg, len, NULL);
    switch (c->o.oversize) {
    case SKY_CWL_OVERSIZE_DROP:
        c->st.dropped[SKY_CWL_DROP_OVERSIZE]++;
        return SKY_ELIMIT;
    case SKY_CWL_OVERSIZE_TRUNCATE: {
        char marker[64];
        /* the marker's own digits never exceed 20, so reserve for the worst case */
        size_t room = max_msg - 40;
        size_t keep = utf8_cut(msg, len, room);
        int ml = snprintf(marker, sizeof marker, "...[truncated %zu bytes]", len - keep);
        char *tmp = malloc(keep + (size_t)ml);
        if (!tmp) {
            c->st.dropped[SKY_CWL_DROP_QUEUE_FULL]++;
            return SKY_ENOMEM;
        }
        memcpy(tmp, msg, keep);
        memcpy(tmp + keep, marker, (size_t)ml);
        c->st.truncated++;
        c->st.truncated_bytes += len - keep;
        sky_status st = enqueue_locked(c, s, ts_ms, tmp, keep + (size_t)ml, NULL);
        free(tmp);
        return st;
    }
    case SKY_CWL_OVERSIZE_SPLIT: {
        size_t room = max_msg - 32; /* "[part NNNNN/NNNNN] " fits in 32 */
        size_t parts = 0;
        for (size_t off = 0; off < len; parts++)
            off += utf8_cut(msg + off, len - off, room);
        char *tmp = malloc(max_msg);
        if (!tmp) {
            c->st.dropped[SKY_CWL_DROP_QUEUE_FULL]++;
            return SKY_ENOMEM;
        }
        size_t off = 0;
        sky_status st = SKY_OK;
        for (size_t i = 1; off < len; i++) {
            size_t n = utf8_cut(msg + off, len - off, room);
            int hl = snprintf(tmp, 32, "[part %zu/%zu] ", i, parts);
            memcpy(tmp + hl, msg + off, n);
            sky_status one = enqueue_locked(c, s, ts_ms, tmp, (size_t)hl + n, NULL);
            if (one != SKY_OK)
                st = one;
            else
                c->st.split_parts++;
            off += n;
        }
        free(tmp);
        c->st.split++;
        return st;
    }
    }
    return SKY_EINVAL;
}

/* ---- sending -------------------------------------------------------------------------------- */

#define PREFETCH_AHEAD 4 /* events: batch selection and the body fetch ahead of their reads */

/* Sorts a batch (events in arrival order) by (timestamp, arrival): LSD radix sort of
 * 64-bit keys (timestamp - lowest) << 14 | index, 11 bits a pass, passes whose digit is the
 * same in every key skipped. A batch spans at most 24 h (< 2^27 ms) and holds at most 10,000
 * (< 2^14) events, so keys are unique and the order is stable; about 4 passes over the batch
 * instead of qsort's n log n indirect comparisons. */
static bool sort_batch(cwl_ev **batch, size_t n, int64_t lo)
{
    uint64_t *k = malloc(2 * n * sizeof *k);
    if (!k)
        return false;
    uint64_t *tmp = k + n, all_or = 0, all_and = ~0ull;
    for (size_t i = 0; i < n; i++) {
        k[i] = (uint64_t)(batch[i]->ts_ms - lo) << 14 | i;
        all_or |= k[i];
        all_and &= k[i];
    }
    for (int shift = 0; shift < 41; shift += 11) {
        if ((((all_or ^ all_and) >> shift) & 2047) == 0)
            continue; /* every key has this digit */
        size_t count[2048] = {0};
        for (size_t i = 0; i < n; i++)
            count[(k[i] >> shift) & 2047]++;
        size_t sum = 0;
        for (size_t d = 0; d < 2048; d++) {
            size_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            tmp[count[(k[i] >> shift) & 2047]++] = k[i];
        uint64_t *t = k;
        k = tmp;
        tmp = t;
    }
    cwl_ev **orig = malloc(n * sizeof *orig);
    if (!orig) {
        free(k < tmp ? k : tmp);
        return false;
    }
    memcpy(orig, batch, n * sizeof *orig);
    for (size_t i = 0; i < n; i++)
        batch[i] = orig[k[i] & 16383];
    free(orig);
    free(k < tmp ? k : tmp);
    return true;
}

/* `deadline`: 0, or the close deadline the call may not outlive (taken under the lock). */
static sky_status call(cwl *c, const char *op, const char *body, size_t len, const char *stream,
                       int64_t deadline, uint64_t body_id, const uint8_t *sha256,
                       sky__cwl_result *r)
{
    sky__cwl_call cl = {.op = op, .body = body, .len = len, .group = c->group, .stream = stream,
                        .deadline_ns = deadline, .body_id = body_id, .body_sha256 = sha256};
    memset(r, 0, sizeof *r);
    sky_status st = c->t.call(c->t.self, &cl, r);
    /* PutLogEvents' retries are counted by send_batch(), under mu; the control calls' here,
     * where mu may or may not be held */
    if (strcmp(op, "PutLogEvents") != 0) {
        atomic_fetch_add(&c->ctl_retries, (uint64_t)r->retries);
        atomic_fetch_add(&c->ctl_throttles, (uint64_t)r->throttles);
    }
    if (r->rate_limited_ns > 0)
        atomic_fetch_add(&c->rate_limited_ns, (uint64_t)r->rate_limited_ns);
    if (r->status == SKY_OK && st != SKY_OK)
        r->status = st;
    return r->status;
}

static void json_kv(sky_buf *b, const char *k, const char *v)
{
    sky__buf_putc(b, '"');
    sky__buf_puts(b, k);
    sky__buf_lit(b, "\":");
    sky__json_str(b, v, strlen(v));
}

static bool is_code(const sky__cwl_result *r, const char *code) { return strcmp(r->code, code) == 0; }

/* Sets the group's retention (retention_days), once per sink: before its first PutLogEvents, so
 * that a group and stream that already exist get it too (as watchtower, whose
 * log_group_retention_days the Python drop-in maps here, sets it on every start), or right
 * after creating the group when it did not exist. A refusal other than "no such group" is
 * reported and not asked again: the events are sent all the same. Called without mu. */
static void set_retention(cwl *c, int64_t deadline)
{
    if (c->o.retention_days <= 0 || c->retention_done)
        return;
    sky_buf b = {0};
    sky__cwl_result r;
    sky__buf_putc(&b, '{');
    json_kv(&b, "logGroupName", c->group);
    sky__buf_lit(&b, ",\"retentionInDays\":");
    sky__buf_i64(&b, c->o.retention_days);
    sky__buf_putc(&b, '}');
    if (call(c, "PutRetentionPolicy", b.p, b.len, NULL, deadline, 0, NULL, &r) == SKY_OK) {
        c->retention_done = true;
    } else if (!is_code(&r, "ResourceNotFoundException")) {
        c->retention_done = true;
        sky__diag(NULL, SKY_LEVEL_WARN, "cloudwatch: cannot set retention on %s: %s %s",
                  c->group, r.code, r.message);
    }
    sky__cwl_result_clear(&r);
    sky__buf_free(&b);
}

/* Creates the group (once) and the stream. Called without mu. On failure, *fail (may be NULL)
 * gets the failed call's result (the caller clears it). */
static bool create_resources(cwl *c, stream_q *s, int64_t deadline, sky__cwl_result *fail)
{
    sky__cwl_result r;
    sky_buf b = {0};
    bool ok = true;
    if (!c->group_ready && !c->o.no_create_group) {
        sky__buf_putc(&b, '{');
        json_kv(&b, "logGroupName", c->group);
        sky__buf_putc(&b, '}');
        if (call(c, "CreateLogGroup", b.p, b.len, NULL, deadline, 0, NULL, &r) == SKY_OK ||
            is_code(&r, "ResourceAlreadyExistsException")) {
            c->group_ready = true;
            set_retention(c, deadline);
        } else {
            sky__diag(NULL, SKY_LEVEL_ERROR, "cloudwatch: CreateLogGroup %s failed: %s %s",
                      c->group, r.code, r.message);
            ok = false;
        }
        if (!ok && fail)
            *fail = r;
        else
            sky__cwl_result_clear(&r);
    }
    if (ok && !c->o.no_create_stream) {
        sky__buf_reset(&b);
        sky__buf_putc(&b, '{');
        json_kv(&b, "logGroupName", c->group);
        sky__buf_putc(&b, ',');
        json_kv(&b, "logStreamName", s->name);
        sky__buf_putc(&b, '}');
        if (call(c, "CreateLogStream", b.p, b.len, NULL, deadline, 0, NULL, &r) == SKY_OK ||
            is_code(&r, "ResourceAlreadyExistsException")) {
            s->ready = true;
        } else {
            sky__diag(NULL, SKY_LEVEL_ERROR, "cloudwatch: CreateLogStream %s/%s failed: %s %s",
                      c->group, s->name, r.code, r.message);
            ok = false;
        }
        if (!ok && fail)
            *fail = r;
        else
            sky__cwl_result_clear(&r);
    }
    sky__buf_free(&b);
    return ok;
}

/* Errors after which waiting can help (the request was not refused on its merits). Refused
 * credentials and the like are r->persistent, handled before this is asked. */
static bool worth_retrying(const sky__cwl_result *r)
{
    if (r->status == SKY_ENET || r->status == SKY_ETIMEDOUT || r->status == SKY_ETHROTTLED ||
        r->http_status == 0 || r->http_status >= 500 || r->http_status == 429)
        return true;
    static const char *const codes[] = {
        "ThrottlingException", "ServiceUnavailableException", "InvalidSequenceTokenException",
        "LimitExceededException", "OperationAbortedException", "RequestTimeout",
    };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (is_code(r, codes[i]))
            return true;
    return false;
}

static void set_error(cwl *c, const sky__cwl_result *r)
{
    sky_buf b = {0};
    sky__buf_printf(&b, "%s (HTTP %ld)%s%s", r->code[0] ? r->code : sky_strerror(r->status),
                    r->http_status, r->message[0] ? ": " : "", r->message);
    size_t n = b.len < sizeof c->st.last_error - 1 ? b.len : sizeof c->st.last_error - 1;
    memcpy(c->st.last_error, b.p ? b.p : "", n);
    c->st.last_error[n] = '\0';
    sky__buf_free(&b);
}

/* How an attempt at a batch ended, for the state sky_cwl_stats reports (failures_in_a_row,
 * failing_since_mono_ms, throttled): `failed`, or answered (delivered, or refused for what the
 * events are: the service works either way); a throttling answer is a failure that shows the
 * service is there, so it ends a run of failures too. mu held. */
static void note_attempt(cwl *c, bool failed, bool throttling)
{
    c->st.throttled = failed && throttling;
    if (!failed || throttling) {
        c->st.failures_in_a_row = 0;
        c->st.failing_since_mono_ms = 0;
    } else if (c->st.failures_in_a_row++ == 0) {
        c->st.failing_since_mono_ms = sky_monotonic_ns() / 1000000;
    }
}

static bool throttling_answer(const sky__cwl_result *r)
{
    return r->throttles > 0 || r->http_status == 429 || sky_aws_is_throttling_code(r->code);
}

/* Reads rejectedLogEventsInfo; the indices refer to the sorted batch. */
static void apply_rejections(cwl *c, cwl_ev **batch, size_t n, const sky__cwl_result *r)
{
    if (!r->body)
        return;
    json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
    json_t *info = j ? json_object_get(j, "rejectedLogEventsInfo") : NULL;
    if (json_is_object(info)) {
        json_t *v;
        size_t too_new = n, too_old = 0, expired = 0;
        if ((v = json_object_get(info, "tooNewLogEventStartIndex")) && json_is_integer(v))
            too_new = (size_t)json_integer_value(v);
        if ((v = json_object_get(info, "tooOldLogEventEndIndex")) && json_is_integer(v))
            too_old = (size_t)json_integer_value(v);
        if ((v = json_object_get(info, "expiredLogEventEndIndex")) && json_is_integer(v))
            expired = (size_t)json_integer_value(v);
        if (too_new > n)
            too_new = n;
        if (too_old > n)
            too_old = n;
        if (expired > n)
            expired = n;
        /* [0, expired) expired, [0, too_old) too old (expired wins), [too_new, n) too new */
        size_t old_end = too_old > expired ? too_old : expired;
        c->st.rejected[SKY_CWL_REJECT_EXPIRED] += expired;
        c->st.rejected[SKY_CWL_REJECT_TOO_OLD] += old_end - expired;
        size_t new_n = too_new < old_end ? n - old_end : n - too_new;
        c->st.rejected[SKY_CWL_REJECT_TOO_NEW] += new_n;
        c->st.sent_events -= old_end + new_n;
        to_fallback(c, batch, old_end);
        to_fallback(c, batch + (n - new_n), new_n);
    }
    json_decref(j);
}

/* A message as a JSON string. Messages are long (a shipper's lines): straight to the escaper,
 * without the short-string precheck sky__json_str makes (a second pass over every byte). */
static void json_msg(sky_buf *b, const char *msg, size_t len)
{
    if (len > SKY_JSON_DIRECT_MAX || !sky__buf_reserve(b, 6 * len + 2)) {
        sky__json_str(b, msg, len); /* chunked: no 6x reservation for a huge one */
        return;
    }
    char *d = b->p + b->len;
    *d++ = '"';
    d = sky__json_escape_slow(d, (const unsigned char *)msg, len);
    *d++ = '"';
    b->len = (size_t)(d - b->p);
}

/* The request body for a batch, in the transport's format; a PutLogEvents body is also hashed
 * into held.sha256 when the transport asks (held.hashed). */
static void build_body(cwl *c, sky_buf *b, const char *stream, cwl_ev *const *batch, size_t n)
{
    c->held.hashed = false;
    sky__buf_reset(b);
    if (c->o.transport == SKY_CWL_NDJSON) {
        for (size_t i = 0; i < n; i++) {
            sky__buf_lit(b, "{\"timestamp\":");
            sky__buf_i64(b, batch[i]->ts_ms);
            sky__buf_lit(b, ",\"message\":");
            json_msg(b, batch[i]->msg, batch[i]->len);
            sky__buf_lit(b, "}\n");
        }
        return;
    }
    if (c->o.transport == SKY_CWL_OTLP) { /* the OTLP exporter's encoding (otlp.h) */
        sky__otlp_prefix(b, "", 0);
        for (size_t i = 0; i < n; i++) {
            if (i)
                sky__buf_putc(b, ',');
            sky__otlp_text_record(b, batch[i]->ts_ms * 1000000, batch[i]->msg, batch[i]->len);
        }
        sky__buf_lit(b, SKY__OTLP_SUFFIX);
        return;
    }
    /* SigV4 signs the body's SHA-256: hashed here, an event at a time, as it is written. The
     * hash is a chain of dependent rounds that leaves the core partly idle, and some of the
     * next event's escaping runs in its shadow; hashed in a pass of its own after the body was
     * built, the two cost 2.5-4 % more (bench/bench_body_hash.c, bench/RESULTS.md session 9).
     * NULL: the transport hashes. */
    sky__sha256_stream *h = c->t.body_sha256 ? sky__sha256_begin() : NULL;
    size_t hashed = 0;
    sky__buf_putc(b, '{');
    json_kv(b, "logGroupName", c->group);
    sky__buf_putc(b, ',');
    json_kv(b, "logStreamName", stream);
    sky__buf_lit(b, ",\"logEvents\":[");
    /* An event's fixed text and its message go in with one room check; its timestamp's digits
     * are the previous event's when the time is the same (a sorted batch: text lines read
     * together share their read's time, and logs put out many events a millisecond). */
    static const char head[] = ",{\"timestamp\":", mid[] = ",\"message\":\"";
    char ts_txt[24] = {0}; /* copied whole: a fixed-size copy */
    size_t ts_len = 0;
    int64_t ts_prev = 0;
    for (size_t i = 0; i < n; i++) {
        /* The events were written by another thread (another core) and a sorted batch visits
         * them out of address order (text lines are stamped when read, JSON lines carry their
         * own time), which the hardware does not prefetch: ask for the next ones' first lines. */
        if (i + PREFETCH_AHEAD < n) {
            const char *p = (const char *)batch[i + PREFETCH_AHEAD];
            __builtin_prefetch(p);
            __builtin_prefetch(p + 64);
            __builtin_prefetch(p + 128);
            __builtin_prefetch(p + 192);
            __builtin_prefetch(p + 256);
        }
        const cwl_ev *e = batch[i];
        if (!ts_len || e->ts_ms != ts_prev) {
            ts_len = (size_t)(sky__i64_raw(ts_txt, e->ts_ms) - ts_txt);
            ts_prev = e->ts_ms;
        }
        if (e->len > SKY_JSON_DIRECT_MAX ||
            !sky__buf_reserve(b, sizeof head + sizeof ts_txt + sizeof mid + 6 * (size_t)e->len + 2)) {
            /* chunked: no 6x reservation for a huge message */
            sky__buf_put(b, head + !i, sizeof head - 1 - !i);
            sky__buf_put(b, ts_txt, ts_len);
            sky__buf_lit(b, ",\"message\":");
            sky__json_str(b, e->msg, e->len);
            sky__buf_putc(b, '}');
            continue;
        }
        char *d = b->p + b->len;
        memcpy(d, head + !i, sizeof head - 1);
        d += sizeof head - 1 - !i;
        memcpy(d, ts_txt, sizeof ts_txt);
        d += ts_len;
        memcpy(d, mid, sizeof mid - 1);
        d += sizeof mid - 1;
        d = sky__json_escape_slow(d, (const unsigned char *)e->msg, e->len);
        *d++ = '"';
        *d++ = '}';
        b->len = (size_t)(d - b->p);
        if (h) {
            sky__sha256_add(h, b->p + hashed, b->len - hashed);
            hashed = b->len;
        }
    }
    sky__buf_lit(b, "]}");
    if (h) {
        if (!b->oom)
            sky__sha256_add(h, b->p + hashed, b->len - hashed);
        c->held.hashed = sky__sha256_end(h, c->held.sha256) && !b->oom;
    }
}

/* Picks a stream with something to send; NULL if none is due. *wait_ns: when to look again. */
static stream_q *due_stream(cwl *c, bool force, int64_t now, int64_t *wait_ns)
{
    int64_t interval = c->o.flush_interval_ms * 1000000;
    *wait_ns = INT64_MAX;
    for (size_t k = 0; k < c->n_streams; k++) {
        stream_q *s = c->streams[(c->rr + k) % c->n_streams];
        if (!s->count)
            continue;
        int64_t due = at(s, 0)->enq_ns + interval;
        /* a full queue is due too: writers that block_when_full wait for it to drain, and
         * a queue bound below one batch would otherwise hold them for a whole interval */
        if (force || s->n_ranges || s->count >= c->o.batch_size ||
            s->bytes >= c->o.max_batch_bytes || now >= due ||
            c->total_events >= c->o.max_queue_size || c->total_bytes >= c->o.max_queue_bytes) {
            c->rr = (c->rr + k + 1) % c->n_streams;
            return s;
        }
        if (due - now < *wait_ns)
            *wait_ns = due - now;
    }
    return NULL;
}

/* Rejects, before sending, the events at the head of s that CloudWatch would reject for their
 * age. mu held. */
static void reject_aged_head(cwl *c, stream_q *s)
{
    int64_t now_ms = sky_now_ns() / 1000000;
    bool popped = false;
    while (s->count) {
        cwl_ev *e = at(s, 0);
        sky_cwl_reject why = SKY_CWL_REJECT_COUNT_;
        if (e->ts_ms < now_ms - SKY_CWL_MAX_AGE_MS)
            why = SKY_CWL_REJECT_TOO_OLD;
        else if (e->ts_ms > now_ms + SKY_CWL_MAX_FUTURE_MS)
            why = SKY_CWL_REJECT_TOO_NEW;
        else if (c->o.retention_days > 0 &&
                 e->ts_ms < now_ms - (int64_t)c->o.retention_days * 86400000)
            why = SKY_CWL_REJECT_EXPIRED;
        if (why == SKY_CWL_REJECT_COUNT_)
            break;
        c->st.rejected[why]++;
        to_fallback(c, &e, 1);
        pop(c, s, 1);
        popped = true;
    }
    /* the queue shrank without a request: a writer blocked on a full queue (block_when_full)
     * or a flush waiting for it to empty must hear of it, or it waits for ever */
    if (popped)
        pthread_cond_broadcast(&c->done);
}

/* Chooses the next batch of s (the longest prefix within every limit, or the next isolation
 * range) and holds it, sorted. False if there is nothing to send. mu held. */
static bool hold_batch(cwl *c, stream_q *s)
{
    drop_held(c);
    reject_aged_head(c, s);
    if (!s->count)
        return false;
    size_t n = 0, max_n = s->n_ranges ? s->ranges[0] : c->o.batch_size;
    uint64_t bytes = 0;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    while (n < s->count && n < max_n) {
        /* another core wrote the events, one cache line read in each of ~5: fetch ahead (this
         * runs with mu held, and the writer waits for it) */
        if (n + 2 * PREFETCH_AHEAD < s->count)
            __builtin_prefetch(at(s, n + 2 * PREFETCH_AHEAD));
        cwl_ev *e = at(s, n);
        uint64_t cost = e->len + SKY_CWL_EVENT_OVERHEAD;
        int64_t nlo = e->ts_ms < lo ? e->ts_ms : lo, nhi = e->ts_ms > hi ? e->ts_ms : hi;
        /* an event too young/old relative to this batch is left for a later one (the span
         * unsigned: a caller's timestamp may be any int64, and nhi >= nlo) */
        if (bytes + cost > c->o.max_batch_bytes ||
            (uint64_t)nhi - (uint64_t)nlo > (uint64_t)SKY_CWL_MAX_SPAN_MS)
            break;
        bytes += cost;
        lo = nlo;
        hi = nhi;
        n++;
    }
    cwl_ev **batch = malloc(n * sizeof *batch);
    if (!batch)
        return false;
    bool sorted = true;
    for (size_t i = 0; i < n; i++) {
        batch[i] = at(s, i);
        if (i && batch[i]->ts_ms < batch[i - 1]->ts_ms)
            sorted = false;
    }
    if (!sorted && !sort_batch(batch, n, lo)) { /* arrival order is usually time order */
        free(batch);
        return false;
    }
    c->held.valid = true;
    c->held.stream = s->idx;
    c->held.n = n;
    c->held.bytes = bytes;
    c->held.evs = batch;
    return true;
}

/* A request refused as a whole for what may be one of its events: PutLogEvents names no event
 * in these (an invalid character, a size or time limit the sink did not know), so the request
 * is halved until the refused event is alone. Authentication, throttling and missing resources
 * are about the request, never about an event. */
static bool refused_for_an_event(const sky__cwl_result *r)
{
    if (r->http_status == 413) /* too large: smaller requests can pass */
        return true;
    if (r->http_status != 400 && r->http_status != 422)
        return false;
    return is_code(r, "InvalidParameterException") || is_code(r, "SerializationException") ||
           is_code(r, "ValidationException") || r->code[0] == '\0';
}

/* Reports an event the service refused on its own (the others of its request were delivered). */
static void report_refused(cwl *c, const char *stream, const cwl_ev *e)
{
    sky_buf b = {0};
    size_t show = utf8_cut(e->msg, e->len, 120);
    sky__json_str(&b, e->msg, show);
    sky__diag(NULL, SKY_LEVEL_ERROR,
              "cloudwatch: %s/%s refused one event, the others were delivered (%s): timestamp "
              "%lld, message %.*s%s",
              c->group, stream, c->st.last_error, (long long)e->ts_ms, (int)b.len,
              b.p ? b.p : "", show < e->len ? "..." : "");
    sky__buf_free(&b);
}

/* After a write to the sink: the batch policy's fdatasync, and the interval policy's when no
 * sender thread is there to make it (sync_upload). mu held. */
static void spool_after_write(cwl *c)
{
    sky__spool *sp = spool_of(c);
    if (!sp)
        return;
    sky__spool_after_write(sp);
    int64_t wait;
    if (c->o.sync_upload && sky__spool_sync_due(sp, sky_monotonic_ns(), &wait))
        sky__spool_sync(sp);
}

/* Sets the spool state of a batch's records. mu held. */
static void mark_batch(cwl *c, cwl_ev *const *batch, size_t n, unsigned state)
{
    sky__spool *sp = spool_of(c);
    if (sp)
        for (size_t i = 0; i < n; i++)
            if (batch[i]->spool_pos != NO_SPOOL)
                sky__spool_set_state(sp, batch[i]->spool_pos, state);
}

/* Sends one batch from s: the held one (a retry) or a new one. mu held on entry and exit
 * (released during the call). */
static void send_batch(cwl *c, stream_q *s)
{
    if (!(c->held.valid && c->streams[c->held.stream] == s) && !hold_batch(c, s))
        return;
    size_t n = c->held.n;
    uint64_t bytes = c->held.bytes;
    cwl_ev **batch = c->held.evs;
    bool isolating = s->n_ranges > 0;
    char *stream = strdup(s->name);
    int64_t deadline = c->closing ? c->close_deadline_ns : 0;
    /* in flight: a process that dies from here until the answer is applied leaves them to be
     * sent again by the next, which counts them as possibly stored twice */
    mark_batch(c, batch, n, SKY__SPOOL_INFLIGHT);
    c->sending = true;
    c->st.retry_at_mono_ms = 0; /* the planned retry is this attempt */
    pthread_mutex_unlock(&c->mu);

    if (!c->held.built) {
        prefault_body(c, bytes);
        build_body(c, &c->body, stream ? stream : "", batch, n);
        c->held.built = true;
        c->held.body_id = ++c->body_ids;
    }
    sky_buf *b = &c->body;
    set_retention(c, deadline);

    sky__cwl_result r;
    bool created = false, ctl_throttled = false;
    for (;;) {
        call(c, "PutLogEvents", b->p, b->len, stream, deadline, c->held.body_id,
             c->held.hashed ? c->held.sha256 : NULL, &r);
        if (r.status != SKY_OK && is_code(&r, "ResourceNotFoundException") && !created &&
            !(c->o.no_create_group && c->o.no_create_stream)) {
            created = true;
            c->group_ready = false;
            stream_q tmp = {.name = stream};
            sky__cwl_result fail;
            memset(&fail, 0, sizeof fail);
            if (create_resources(c, &tmp, deadline, &fail)) {
                sky__cwl_result_clear(&r);
                continue;
            }
            if (worth_retrying(&fail) || fail.persistent) {
                /* the group or stream could not be created for now (throttled, the service
                 * or the network down, credentials refused): the events are kept and the
                 * batch retried, not dropped as if the group could never exist */
                sky__cwl_result_clear(&r);
                r = fail;
                ctl_throttled = throttling_answer(&fail);
                r.retries = r.throttles = 0; /* call() counted the control call's own */
                r.ambiguous = false; /* the put was answered: its events were not stored */
            } else {
                sky__cwl_result_clear(&fail);
            }
        }
        break;
    }

    pthread_mutex_lock(&c->mu);
    c->sending = false;
    c->st.retries += (uint64_t)r.retries;
    c->st.throttles += (uint64_t)r.throttles;
    if (isolating)
        c->st.isolation_requests++;
    /* failed: kept for a retry (persistent or transient); every other end is an answer */
    note_attempt(c, r.status != SKY_OK && !is_code(&r, "ResourceNotFoundException") &&
                        (r.persistent || worth_retrying(&r)),
                 ctl_throttled || throttling_answer(&r));
    if (r.ambiguous) {
        c->st.ambiguous++;
        if (spool_of(c))
            sky__spool_count_ambiguous(spool_of(c), n);
    } else if (r.status != SKY_OK) {
        mark_batch(c, batch, n, SKY__SPOOL_PENDING); /* answered: not stored */
    }
    if (r.status == SKY_OK) {
        c->st.requests++;
        c->st.sent_events += n;
        c->st.sent_bytes += bytes;
        c->st.last_success_ms = sky_now_ns() / 1000000;
        s->ready = true;
        c->backoff_ns = 0;
        c->backoff_until_ns = 0;
        if (c->st.persistent_error) {
            c->st.persistent_error = false;
            c->st.persistent_error_since_ms = 0;
            sky__diag(NULL, SKY_LEVEL_INFO, "cloudwatch: delivery to %s resumed", c->group);
        }
        apply_rejections(c, batch, n, &r);
        pop_n(c, s, n, bytes);
    } else if (is_code(&r, "ResourceNotFoundException")) {
        set_error(c, &r);
        c->st.dropped[SKY_CWL_DROP_NO_RESOURCE] += n;
        to_fallback(c, batch, n);
        pop(c, s, n);
    } else if (r.persistent) {
        /* waiting cannot fix it, but someone may (rotated keys, a policy granted): kept and
         * retried slowly, said once rather than at every attempt */
        set_error(c, &r);
        c->st.retries++;
        if (!c->st.persistent_error) {
            c->st.persistent_error = true;
            c->st.persistent_error_since_ms = sky_now_ns() / 1000000;
            sky__diag(NULL, SKY_LEVEL_ERROR,
                      "cloudwatch: cannot deliver to %s/%s: %s; waiting cannot fix this: "
                      "events are kept and retried every minute at most",
                      c->group, stream ? stream : "", c->st.last_error);
        }
        c->backoff_ns = c->backoff_ns > 1000000000 ? c->backoff_ns * 2 : 1000000000;
        if (c->backoff_ns > PERSISTENT_BACKOFF_NS)
            c->backoff_ns = PERSISTENT_BACKOFF_NS;
        int64_t half = c->backoff_ns / 2; /* at least half: slow is the point */
        c->backoff_until_ns = sky_monotonic_ns() + half +
                              (int64_t)((uint64_t)sky_monotonic_ns() * 2654435761u % (uint64_t)(half + 1));
        c->st.retry_at_mono_ms = c->backoff_until_ns / 1000000;
    } else if (worth_retrying(&r)) {
        set_error(c, &r);
        c->st.retries++;
        c->backoff_ns = c->backoff_ns ? c->backoff_ns * 2 : c->o.retry_delay_ms * 1000000;
        if (c->o.no_exponential_backoff)
            c->backoff_ns = c->o.retry_delay_ms * 1000000;
        if (c->backoff_ns > MAX_BACKOFF_NS)
            c->backoff_ns = MAX_BACKOFF_NS;
        /* full jitter: wait a random part of the backoff, at least 1 ms */
        int64_t jitter = (int64_t)((uint64_t)sky_monotonic_ns() * 2654435761u % (uint64_t)(c->backoff_ns + 1));
        c->backoff_until_ns = sky_monotonic_ns() + (jitter > 1000000 ? jitter : 1000000);
        c->st.retry_at_mono_ms = c->backoff_until_ns / 1000000;
        sky__diag(NULL, SKY_LEVEL_WARN, "cloudwatch: PutLogEvents to %s/%s failed (%s); %zu events kept, retrying",
                  c->group, stream ? stream : "", c->st.last_error, n);
    } else if (refused_for_an_event(&r) && split_front(s, n)) {
        /* the same events go again, in halves: whatever the service refuses ends up alone */
        set_error(c, &r);
        if (!isolating)
            sky__diag(NULL, SKY_LEVEL_WARN,
                      "cloudwatch: %s/%s refused a request of %zu events (%s); sending it in "
                      "halves to deliver all but the refused event(s)",
                      c->group, stream ? stream : "", n, c->st.last_error);
        drop_held(c);
    } else {
        set_error(c, &r);
        c->st.rejected[SKY_CWL_REJECT_INVALID] += n;
        if (n == 1 && isolating)
            report_refused(c, stream ? stream : "", batch[0]);
        else
            sky__diag(NULL, SKY_LEVEL_ERROR, "cloudwatch: PutLogEvents rejected %zu events: %s",
                      n, c->st.last_error);
        to_fallback(c, batch, n);
        pop(c, s, n);
    }
    sky__cwl_result_clear(&r);
    free(stream);
    pthread_cond_broadcast(&c->done);
}

/* One step of the sender: sends a due batch or says how long to wait. mu held. */
static bool sender_step(cwl *c, int64_t *wait_ns)
{
    int64_t now = sky_monotonic_ns();
    bool force = c->flush_waiters > 0 || c->closing;
    if (c->closing && now >= c->close_deadline_ns) {
        *wait_ns = 0; /* close gave up: what is left is counted as undelivered */
        return false;
    }
    if (c->sending) { /* sync_upload: another thread is sending (it signals `done`) */
        *wait_ns = 1000000;
        return false;
    }
    forget_idle(c);
    if (c->backoff_until_ns > now) {
        *wait_ns = c->backoff_until_ns - now;
        return false;
    }
    /* a held batch (waiting for its retry) goes first: its body is built */
    stream_q *s = c->held.valid && c->streams[c->held.stream]->count
                      ? c->streams[c->held.stream]
                      : due_stream(c, force, now, wait_ns);
    if (!s)
        return false;
    send_batch(c, s);
    return true;
}

static void *sender_main(void *arg)
{
    cwl *c = arg;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        int64_t wait_ns, sync_wait;
        sky__spool *sp = spool_of(c);
        if (sp && sky__spool_sync_due(sp, sky_monotonic_ns(), &sync_wait)) {
            pthread_mutex_unlock(&c->mu); /* writers go on while the disk catches up */
            sky__spool_sync(sp);
            pthread_mutex_lock(&c->mu);
            continue;
        }
        if (sender_step(c, &wait_ns))
            continue;
        if (sp && sync_wait < wait_ns)
            wait_ns = sync_wait;
        /* closing: no last tries against an error that waiting cannot fix */
        /* with a spool, a failing endpoint gets no more tries either: what is left stays in
         * the spool for the next owner, and close does not wait out a backoff for it */
        /* nor for a backoff that ends after the grace: no attempt could be made in it */
        if (c->closing && (c->total_events == 0 || sky_monotonic_ns() >= c->close_deadline_ns ||
                           c->st.persistent_error ||
                           c->backoff_until_ns >= c->close_deadline_ns ||
                           (sp && c->backoff_until_ns > sky_monotonic_ns())))
            break;
        if (c->closing && wait_ns > c->close_deadline_ns - sky_monotonic_ns())
            wait_ns = c->close_deadline_ns - sky_monotonic_ns();
        if (wait_ns == INT64_MAX) {
            pthread_cond_wait(&c->wake, &c->mu);
        } else if (wait_ns > 0) {
            sky__cond_wait_ns(&c->wake, &c->mu, wait_ns);
        }
    }
    c->st.sender_alive = false;
    pthread_cond_broadcast(&c->done);
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* ---- sink vtable ---------------------------------------------------------------------------- */

static sky_status cwl_write(void *self, const sky_record *recs, size_t n)
{
    cwl *c = self;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < n; i++) {
        const sky_event *ev = recs[i].event;
        const char *msg = recs[i].text;
        size_t len = recs[i].len;
        if (c->o.message_only && ev) { /* the message as given, its own newlines kept */
            msg = sky_event_name(ev);
            len = strlen(msg);
        } else {
            while (len && msg[len - 1] == '\n') /* the renderer's line end */
                len--;
        }
        int64_t ts = ev ? sky_event_time_ns(ev) / 1000000 : sky_now_ns() / 1000000;
        stream_q *s = stream_of_field(c, ev);
        if (!s)
            s = stream_for(c, ev ? sky_event_logger(ev) : NULL);
        if (!s) {
            c->st.dropped[SKY_CWL_DROP_QUEUE_FULL]++;
            continue;
        }
        accept_locked(c, s, ts, msg, len);
    }
    spool_after_write(c);
    if (c->o.sync_upload) {
        int64_t wait;
        while (sender_step(c, &wait))
            ;
    }
    pthread_mutex_unlock(&c->mu);
    return SKY_OK;
}

sky_status sky_cwl_put(sky_sink *sink, int64_t ts_ms, const char *msg, size_t len)
{
    if (!sink || sink->vt != &cwl_vt || (!msg && len))
        return SKY_EINVAL;
    cwl *c = sink->self;
    pthread_mutex_lock(&c->mu);
    stream_q *s = stream_for(c, NULL);
    sky_status st = s ? accept_locked(c, s, ts_ms, msg ? msg : "", len) : SKY_ENOMEM;
    spool_after_write(c);
    if (c->o.sync_upload) {
        int64_t wait;
        while (sender_step(c, &wait))
            ;
    }
    pthread_mutex_unlock(&c->mu);
    return st;
}

size_t sky_cwl_put_many(sky_sink *sink, const sky_cwl_msg *msgs, size_t n, sky_status *status)
{
    if (!sink || sink->vt != &cwl_vt || (!msgs && n))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!msgs[i].msg && msgs[i].len)
            return 0;
    cwl *c = sink->self;
    size_t done = 0;
    pthread_mutex_lock(&c->mu);
    stream_q *s = stream_for(c, NULL);
    if (s)
        s->pins++; /* sync_upload sends between messages: s must outlive them */
    while (done < n) {
        const sky_cwl_msg *m = &msgs[done];
        sky_status st = s ? accept_locked(c, s, m->ts_ms, m->msg ? m->msg : "", m->len)
                          : SKY_ENOMEM;
        if (status)
            status[done] = st;
        done++;
        if (c->o.sync_upload) {
            int64_t wait;
            while (sender_step(c, &wait))
                ;
        }
        if (st == SKY_EFULL || st == SKY_ENOMEM)
            break;
    }
    if (s)
        s->pins--;
    spool_after_write(c);
    pthread_mutex_unlock(&c->mu);
    return done;
}

static sky_status cwl_flush(void *self, int64_t deadline)
{
    cwl *c = self;
    sky_status st = SKY_OK;
    pthread_mutex_lock(&c->mu);
    if (c->o.sync_upload) {
        c->flush_waiters++;
        int64_t wait;
        while (c->total_events && sky_monotonic_ns() < deadline) {
            if (!sender_step(c, &wait) && c->total_events) {
                pthread_mutex_unlock(&c->mu);
                int64_t w = wait < deadline - sky_monotonic_ns() ? wait : deadline - sky_monotonic_ns();
                if (w > 0)
                    usleep((useconds_t)(w / 1000));
                pthread_mutex_lock(&c->mu);
            }
        }
        c->flush_waiters--;
    } else {
        c->flush_waiters++;
        pthread_cond_signal(&c->wake);
        while ((c->total_events || c->sending) && c->st.sender_alive) {
            if (sky__cond_wait_until(&c->done, &c->mu, deadline) != 0 && sky_monotonic_ns() >= deadline)
                break;
        }
        c->flush_waiters--;
    }
    if (c->total_events)
        st = SKY_ETIMEDOUT;
    pthread_mutex_unlock(&c->mu);
    if (c->fallback && c->fallback->vt->flush)
        c->fallback->vt->flush(c->fallback->self, deadline);
    return st;
}

static void cwl_free(cwl *c)
{
    for (size_t i = 0; i < c->n_streams; i++) {
        stream_q *s = c->streams[i];
        free_blocks(s);
        free(s->ring);
        free(s->name);
        free(s);
    }
    free(c->streams);
    free(c->buckets);
    for (ev_block *b = c->spare, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(c->held.evs);
    if (c->t.free)
        c->t.free(c->t.self);
    if (c->fallback) {
        if (c->fallback->vt->close)
            c->fallback->vt->close(c->fallback->self);
        free(c->fallback->name);
        free(c->fallback);
    }
    sky__buf_free(&c->body);
    sky__spool_close(c->spool);
    free(c->group);
    free(c->stream_tmpl);
    free(c->fixed_stream);
    free(c->bearer);
    pthread_mutex_destroy(&c->mu);
    pthread_mutex_destroy(&c->fb_mu);
    pthread_cond_destroy(&c->wake);
    pthread_cond_destroy(&c->done);
    free(c);
}

/* Everything close does but freeing: last sends, then the leftovers counted. Idempotent. */
static void cwl_finish(cwl *c)
{
    if (c->finished)
        return;
    c->finished = true;
    pthread_mutex_lock(&c->mu);
    c->closing = true;
    /* The pipeline flushed with its own deadline just before; this is a last, short chance. */
    c->close_deadline_ns = sky_monotonic_ns() + CLOSE_GRACE_NS;
    /* with a spool nothing is lost by not waiting: while the endpoint fails, the leftovers
     * stay in the spool at once instead of after the grace period */
    if (spool_of(c) && c->backoff_until_ns > sky_monotonic_ns())
        c->close_deadline_ns = sky_monotonic_ns();
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->mu);
    if (c->thread_started)
        pthread_join(c->thread, NULL);
    else {
        pthread_mutex_lock(&c->mu);
        int64_t wait;
        while (c->total_events && sky_monotonic_ns() < c->close_deadline_ns &&
               c->backoff_until_ns < c->close_deadline_ns &&
               !(spool_of(c) && c->backoff_until_ns > sky_monotonic_ns())) {
            if (!sender_step(c, &wait)) {
                pthread_mutex_unlock(&c->mu);
                usleep(1000);
                pthread_mutex_lock(&c->mu);
            }
        }
        pthread_mutex_unlock(&c->mu);
    }
    /* whatever is left could not be delivered in time: counted, and to the fallback */
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->n_streams; i++) {
        stream_q *s = c->streams[i];
        if (!s->count)
            continue;
        if (spool_of(c)) { /* not lost: the next sink opened on the spool sends them first */
            c->st.spool_kept += s->count;
            sky__diag(NULL, SKY_LEVEL_WARN,
                      "cloudwatch: %zu events for %s/%s could not be delivered before close "
                      "(%s); they stay in the spool for the next process",
                      s->count, c->group, s->name,
                      c->st.last_error[0] ? c->st.last_error : "timeout");
            pop_n_keep(c, s, s->count, UINT64_MAX, true);
            continue;
        }
        c->st.dropped[SKY_CWL_DROP_UNDELIVERED] += s->count;
        sky__diag(NULL, SKY_LEVEL_ERROR,
                  "cloudwatch: %zu events for %s/%s could not be delivered before close (%s)",
                  s->count, c->group, s->name,
                  c->st.persistent_error ? "the error reported above"
                  : c->st.last_error[0]  ? c->st.last_error
                                         : "timeout");
        for (size_t k = 0; k < s->count; k++) {
            cwl_ev *e = at(s, k);
            to_fallback(c, &e, 1);
        }
        pop(c, s, s->count);
    }
    pthread_mutex_unlock(&c->mu);
    if (c->fallback && c->fallback->vt->flush)
        c->fallback->vt->flush(c->fallback->self, sky_monotonic_ns() + 1000000000);
}

static void cwl_close(void *self)
{
    cwl_finish(self);
    cwl_free(self);
}

static void cwl_stats(void *self, sky_sink_stats *out)
{
    cwl *c = self;
    pthread_mutex_lock(&c->mu);
    out->bytes = c->st.sent_bytes;
    uint64_t d = 0;
    for (int i = 0; i < SKY_CWL_DROP_COUNT_; i++)
        d += c->st.dropped[i];
    for (int i = 0; i < SKY_CWL_REJECT_COUNT_; i++)
        d += c->st.rejected[i];
    out->dropped += d;
    pthread_mutex_unlock(&c->mu);
}

static const sky_sink_vtable cwl_vt = {
    .type = "cloudwatch_logs",
    .write = cwl_write,
    .flush = cwl_flush,
    .close = cwl_close,
    .stats = cwl_stats,
};

const char *sky_cwl_stream_name(sky_sink *sink)
{
    if (!sink || sink->vt != &cwl_vt)
        return NULL;
    return ((cwl *)sink->self)->fixed_stream; /* set once at creation: no lock needed */
}

sky_status sky_cwl_stats_get(sky_sink *sink, sky_cwl_stats *out)
{
    if (!sink || !out || sink->vt != &cwl_vt)
        return SKY_EINVAL;
    cwl *c = sink->self;
    pthread_mutex_lock(&c->mu);
    *out = c->st;
    out->retries += atomic_load(&c->ctl_retries);
    out->throttles += atomic_load(&c->ctl_throttles);
    out->rate_limited_ms = atomic_load(&c->rate_limited_ns) / 1000000;
    out->queued_events = c->total_events;
    out->queued_bytes = c->total_bytes;
    out->streams = c->n_streams;
    out->streams_forgotten = c->forgotten;
    if (!c->total_events) /* what failed left otherwise (aged out, given up at close) */
        out->retry_at_mono_ms = 0;
    if (c->spool)
        sky__spool_stats(c->spool, out);
    pthread_mutex_unlock(&c->mu);
    if (c->t.creds_stats) {
        sky_aws_creds_stats cs;
        c->t.creds_stats(c->t.self, &cs);
        out->creds_refreshes = cs.refreshes;
        out->creds_failures = cs.failures;
        out->creds_retries = cs.retries;
        out->creds_throttles = cs.throttles;
    }
    return SKY_OK;
}

sky_status sky_cwl_creds_stats_get(sky_sink *sink, sky_aws_creds_stats *out)
{
    if (!sink || !out || sink->vt != &cwl_vt)
        return SKY_EINVAL;
    cwl *c = sink->self;
    memset(out, 0, sizeof *out); /* a transport without a provider (bearer token, tests) */
    if (c->t.creds_stats)
        c->t.creds_stats(c->t.self, out);
    return SKY_OK;
}

sky_status sky_cwl_retry_stats_get(sky_sink *sink, sky_aws_retry_stats *out)
{
    if (!sink || !out || sink->vt != &cwl_vt)
        return SKY_EINVAL;
    cwl *c = sink->self;
    memset(out, 0, sizeof *out); /* a transport without AWS clients (tests' fakes) */
    if (c->t.retry_stats)
        c->t.retry_stats(c->t.self, out);
    return SKY_OK;
}

sky_status sky_cwl_stop_blocking(sky_sink *sink)
{
    if (!sink || sink->vt != &cwl_vt)
        return SKY_EINVAL;
    cwl *c = sink->self;
    pthread_mutex_lock(&c->mu);
    c->o.block_when_full = false;       /* enqueue_locked() waits only while it is set */
    pthread_cond_broadcast(&c->done);   /* what the waiting writers wait on */
    pthread_mutex_unlock(&c->mu);
    return SKY_OK;
}

sky_status sky_cwl_close(sky_sink *sink, sky_cwl_stats *final_stats)
{
    if (!sink || sink->vt != &cwl_vt)
        return SKY_EINVAL;
    cwl *c = sink->self;
    cwl_finish(c);
    if (final_stats)
        sky_cwl_stats_get(sink, final_stats);
    uint64_t lost = c->st.dropped[SKY_CWL_DROP_UNDELIVERED];
    sky_sink_close(sink);
    return lost ? SKY_ETIMEDOUT : SKY_OK;
}

/* ---- construction --------------------------------------------------------------------------- */

static sky_status bad(char **errmsg, const char *fmt, const char *arg)
{
    if (errmsg) {
        sky_buf b = {0};
        sky__buf_printf(&b, fmt, arg ? arg : "");
        *errmsg = sky__buf_strdup(&b);
        sky__buf_free(&b);
    }
    return SKY_EINVAL;
}

static sky_status validate(sky_cwl_opts *o, char **errmsg)
{
    if (SKY__CHECK_RESERVED(o, sky_cwl_opts, NULL, errmsg) != SKY_OK)
        return SKY_EINVAL;
    if (!o->log_group || !sky_cwl_valid_group_name(o->log_group))
        return bad(errmsg,
                   "cloudwatch: log_group '%s' is invalid: 1-512 characters of "
                   "[.-_/#A-Za-z0-9] are required",
                   o->log_group ? o->log_group : "(none)");
    if (!o->log_stream)
        o->log_stream = DEFAULT_STREAM;
    if (!o->batch_size)
        o->batch_size = SKY_CWL_MAX_BATCH_EVENTS;
    if (o->batch_size > SKY_CWL_MAX_BATCH_EVENTS)
        return bad(errmsg, "cloudwatch: batch_size%s exceeds the AWS limit of 10,000 events", NULL);
    if (!o->max_batch_bytes)
        o->max_batch_bytes = SKY_CWL_MAX_BATCH_BYTES;
    if (o->max_batch_bytes > SKY_CWL_MAX_BATCH_BYTES || o->max_batch_bytes < 1024)
        return bad(errmsg, "cloudwatch: max_batch_bytes%s must be 1024..1,048,576", NULL);
    if (!o->max_event_bytes)
        o->max_event_bytes = SKY_CWL_MAX_EVENT_BYTES;
    if (o->max_event_bytes > SKY_CWL_MAX_EVENT_BYTES || o->max_event_bytes < 128)
        return bad(errmsg, "cloudwatch: max_event_bytes%s must be 128..1,048,576", NULL);
    if (o->max_event_bytes > o->max_batch_bytes)
        o->max_event_bytes = o->max_batch_bytes;
    if (!o->flush_interval_ms)
        o->flush_interval_ms = 1000;
    if (o->flush_interval_ms < 0)
        return bad(errmsg, "cloudwatch: flush_interval_ms%s must be positive", NULL);
    if (!o->max_queue_size)
        o->max_queue_size = 100000;
    if (!o->max_queue_bytes)
        o->max_queue_bytes = 64u << 20;
    if (!o->retry_delay_ms)
        o->retry_delay_ms = 100;
    /* max_retries 0: AWS_MAX_ATTEMPTS / max_attempts, else 3; < 0: none (cwl_aws.c) */
    if (o->retry_delay_ms < 0)
        return bad(errmsg, "cloudwatch: retry_delay_ms%s must be >= 0", NULL);
    static const int valid_days[] = {1,   3,   5,   7,    14,   30,   60,   90,   120,  150, 180,
                                     365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653};
    if (o->retention_days) {
        bool ok = false;
        for (size_t i = 0; i < sizeof valid_days / sizeof valid_days[0]; i++)
            ok |= valid_days[i] == o->retention_days;
        if (!ok)
            return bad(errmsg,
                       "cloudwatch: retention_days%s must be one of 1, 3, 5, 7, 14, 30, 60, 90, "
                       "120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, "
                       "3653",
                       NULL);
    }
    if ((unsigned)o->oversize > SKY_CWL_OVERSIZE_DROP || (unsigned)o->transport > SKY_CWL_OTLP)
        return bad(errmsg, "cloudwatch: unknown oversize policy or transport%s", NULL);
    if ((unsigned)o->http_transport > SKY_HTTP_TRANSPORT_NATIVE)
        return bad(errmsg, "cloudwatch: unknown http_transport (auto, native or curl)%s", NULL);
    if (o->spool_path && !*o->spool_path)
        o->spool_path = NULL;
    if (!o->spool_max_bytes)
        o->spool_max_bytes = 64u << 20;
    if (o->spool_max_bytes < SKY__SPOOL_MIN_BYTES || (uint64_t)o->spool_max_bytes > SKY__SPOOL_MAX_BYTES)
        return bad(errmsg, "cloudwatch: spool_max_bytes%s must be 64K..1T", NULL);
    if ((unsigned)o->spool_fsync > SKY_CWL_FSYNC_INTERVAL)
        return bad(errmsg, "cloudwatch: unknown spool_fsync policy%s", NULL);
    if (!o->spool_fsync_every_ms)
        o->spool_fsync_every_ms = 1000;
    if (o->spool_fsync_every_ms < 0)
        return bad(errmsg, "cloudwatch: spool_fsync_every_ms%s must be positive", NULL);
    return SKY_OK;
}

/* An event of the spool's previous owner: queued (ahead of every new one) in the stream it
 * was meant for, whatever the limits, since it was accepted once already. */
static void replay_one(void *user, const sky__spool_rec *rec)
{
    cwl *c = user;
    char name[SKY__SPOOL_MAX_STREAM + 1];
    memcpy(name, rec->stream, rec->stream_len);
    name[rec->stream_len] = '\0';
    stream_q *s = sky_cwl_valid_stream_name(name) && strlen(name) == rec->stream_len
                      ? stream_named(c, name, NULL)
                      : NULL;
    cwl_ev *e = s ? alloc_ev(c, s, rec->len) : NULL;
    if (!e) { /* out of memory, or a name no request can carry: counted, and acknowledged */
        c->st.dropped[s ? SKY_CWL_DROP_QUEUE_FULL : SKY_CWL_DROP_NO_RESOURCE]++;
        sky__spool_done(c->spool, rec->pos);
        return;
    }
    e->ts_ms = rec->ts_ms;
    e->enq_ns = coarse_now_ns();
    e->seq = c->seq++;
    e->spool_pos = rec->pos;
    e->len = (uint32_t)rec->len;
    memcpy(e->msg, rec->msg, rec->len);
    if (!push(s, e)) {
        unalloc_ev(s, e);
        c->st.dropped[SKY_CWL_DROP_QUEUE_FULL]++;
        sky__spool_done(c->spool, rec->pos);
        return;
    }
    c->total_events++;
    c->total_bytes += rec->len + SKY_CWL_EVENT_OVERHEAD;
    c->st.spool_replayed++;
}

sky_status sky__sink_cloudwatch_logs_with(const sky_cwl_opts *opts, sky__cwl_transport t,
                                          sky_sink **out, char **errmsg)
{
    if (errmsg)
        *errmsg = NULL;
    if (out)
        *out = NULL;
    sky_cwl_opts o = opts ? *opts : (sky_cwl_opts){0};
    sky_status st = out ? validate(&o, errmsg) : SKY_EINVAL;
    cwl *c = st == SKY_OK ? calloc(1, sizeof *c) : NULL;
    if (!c) {
        if (t.free)
            t.free(t.self);
        sky_sink_close(o.fallback); /* owned, also on failure */
        return st == SKY_OK ? SKY_ENOMEM : st;
    }
    c->o = o;
    c->t = t;
    c->fallback = o.fallback;
    c->group = strdup(o.log_group);
    c->stream_tmpl = strdup(o.log_stream);
    c->per_logger = strstr(o.log_stream, "{logger}") != NULL;
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->fb_mu, NULL);
    sky__cond_init_monotonic(&c->wake);
    sky__cond_init_monotonic(&c->done);
    if (!c->group || !c->stream_tmpl) {
        cwl_free(c);
        return SKY_ENOMEM;
    }
    if (!c->per_logger) {
        c->fixed_stream = expand_stream(o.log_stream, NULL, (time_t)(sky_now_ns() / 1000000000));
        if (!c->fixed_stream || !sky_cwl_valid_stream_name(c->fixed_stream)) {
            st = bad(errmsg,
                     "cloudwatch: log_stream '%s' is invalid: 1-512 characters without ':' or "
                     "'*' are required",
                     c->fixed_stream ? c->fixed_stream : o.log_stream);
            cwl_free(c);
            return st;
        }
    }
    c->o.log_group = c->group;
    c->o.log_stream = c->stream_tmpl;
    c->o.spool_path = NULL; /* the caller's string: not kept */
    if (o.spool_path) {
        st = sky__spool_open(o.spool_path, o.spool_max_bytes, o.spool_fsync,
                             o.spool_fsync_every_ms, &c->spool, errmsg);
        if (st != SKY_OK) {
            cwl_free(c);
            return st;
        }
        sky__spool_replay(c->spool, replay_one, c);
        if (c->st.spool_replayed)
            sky__diag(NULL, SKY_LEVEL_INFO,
                      "cloudwatch: %llu events left in spool %s by an earlier process are sent "
                      "first",
                      (unsigned long long)c->st.spool_replayed, o.spool_path);
    }
    c->st.sender_alive = !o.sync_upload;
    if (!o.sync_upload) {
        if (sky__thread_start(&c->thread, "skylog-cwl", sender_main, c) != 0) {
            cwl_free(c);
            return bad(errmsg, "cloudwatch: cannot start the sender thread%s", NULL);
        }
        c->thread_started = true;
    }
    *out = sky_sink_new(&cwl_vt, c, o.message_only ? SKY_FORMAT_NONE : SKY_FORMAT_JSON);
    return *out ? SKY_OK : SKY_ENOMEM;
}

static sky_status sink_cloudwatch_logs_body(const sky_cwl_opts *opts, sky_sink **out, char **errmsg)
{
    if (errmsg)
        *errmsg = NULL;
    sky_cwl_opts o = opts ? *opts : (sky_cwl_opts){0};
    char *e = NULL;
    if (validate(&o, &e) != SKY_OK) {
        if (errmsg)
            *errmsg = e;
        else
            free(e);
        if (out)
            *out = NULL;
        sky_sink_close(o.fallback); /* owned, also on failure */
        return SKY_EINVAL;
    }
    sky__cwl_transport t = {0};
    sky_status st = sky__cwl_aws_transport(&o, &t, errmsg);
    if (st != SKY_OK) {
        if (out)
            *out = NULL;
        sky_sink_close(o.fallback);
        return st;
    }
    return sky__sink_cloudwatch_logs_with(opts, t, out, errmsg);
}

sky_status sky_sink_cloudwatch_logs(const sky_cwl_opts *opts, sky_sink **out, char **errmsg)
{
    char *mine = NULL;
    sky_status st = sink_cloudwatch_logs_body(opts, out, errmsg ? errmsg : &mine);
    return sky__errmsg_route(NULL, st, mine);
}
