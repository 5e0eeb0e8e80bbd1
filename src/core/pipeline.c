/*
 * pipeline.c - the pipeline: lifecycle, the log call, processors, routing, stats, fork.
 *
 * Synchronous mode (this file): the log call builds the event and runs processors and sinks
 * on the calling thread, under the pipeline lock, so sinks and processors never run
 * concurrently. Async mode (core/async.c) slots in at sky_emit(): callers copy the event into
 * the ring (queue/ring.c) and a worker runs the same processors and router, holding the same
 * lock; its router collects records per sink and writes them in batches.
 *
 * fork(): every open pipeline is on a list; the prepare handler takes each one's locks, so no
 * lock is held by a thread that will not exist in the child, and the child's handlers release
 * them (and restart async workers, core/async.c).
 *
 * exit(): one atexit handler, registered with the first pipeline, flushes every pipeline on
 * the same list (skylog.h promises a normal exit loses nothing, for every pipeline, not only
 * the default one). It flushes, never frees: other threads may still be logging. It holds the
 * list's lock throughout, so a sky_close() racing it cannot free a pipeline under it (the
 * close waits at unregister_open), and pipelines already closing are left to their close. A
 * forked child inherits the handler and the list, and its pipelines work there (above), so its
 * exit() flushes what the child logged.
 *
 * Accounting invariant: every event that passes the level check is counted in `emitted`, and
 * ends up either routed to at least one sink or counted in exactly one `dropped` reason.
 */
#include "core/pipeline.h"
#include "core/reserved.h"
#include "util/termsafe.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

sky_logger *sky__logger_root(sky_t *sky, sky_level level);

/* ---- open pipelines, for fork --------------------------------------------------------------- */

static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static sky_t *open_list;
static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;

void sky__lock(sky_t *sky)
{
    atomic_fetch_add(&sky->lock_waiters, 1);
    pthread_mutex_lock(&sky->lock);
}

void sky__unlock(sky_t *sky)
{
    pthread_mutex_unlock(&sky->lock);
    atomic_fetch_sub(&sky->lock_waiters, 1);
}

static void fork_prepare(void)
{
    pthread_mutex_lock(&open_lock);
    for (sky_t *s = open_list; s; s = s->next_open) {
        sky__lock(s);
        if (s->async)
            sky__async_fork_prepare(s);
        pthread_mutex_lock(&s->reg_lock);
        pthread_mutex_lock(&s->diag_lock);
    }
}

static void fork_release(bool child)
{
    for (sky_t *s = open_list; s; s = s->next_open) {
        pthread_mutex_unlock(&s->diag_lock);
        pthread_mutex_unlock(&s->reg_lock);
        if (s->async) {
            if (child)
                sky__async_fork_child(s);
            else
                sky__async_fork_parent(s);
        }
        sky__unlock(s);
    }
    pthread_mutex_unlock(&open_lock);
}

static void fork_parent(void) { fork_release(false); }
static void fork_child(void) { fork_release(true); }

static void flush_all_at_exit(void)
{
    pthread_mutex_lock(&open_lock);
    for (sky_t *s = open_list; s; s = s->next_open) {
        if (atomic_load(&s->closing) & SKY__CLOSING)
            continue; /* its sky_close() is flushing it, on another thread */
        sky_status st = sky_flush(s, s->opts.close_timeout_ms);
        if (st != SKY_OK)
            sky__diag(s, SKY_LEVEL_ERROR, "exit: pipeline '%s' not flushed: %s; events still "
                                          "queued are lost", s->name, sky_strerror(st));
    }
    pthread_mutex_unlock(&open_lock);
}

static void hooks_init(void)
{
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    atexit(flush_all_at_exit);
}

static void register_open(sky_t *sky)
{
    pthread_once(&hooks_once, hooks_init);
    pthread_mutex_lock(&open_lock);
    sky->next_open = open_list;
    if (open_list)
        open_list->prev_open = sky;
    open_list = sky;
    pthread_mutex_unlock(&open_lock);
}

static void unregister_open(sky_t *sky)
{
    pthread_mutex_lock(&open_lock);
    if (sky->prev_open)
        sky->prev_open->next_open = sky->next_open;
    else if (open_list == sky)
        open_list = sky->next_open;
    if (sky->next_open)
        sky->next_open->prev_open = sky->prev_open;
    pthread_mutex_unlock(&open_lock);
}

#define DIAG_PER_SECOND 10

/* A diagnostic often quotes what came from outside (a service's error message, a file's
 * line): it is written as util/termsafe.h says, one line that cannot drive the terminal. */
static void diag_stderr(void *user, sky_level level, const char *msg)
{
    (void)user;
    char line[7 * 1024]; /* a message of 1 KiB, each byte escaped as \xHH or \uXXXX at most */
    sky_buf b = {.p = line, .cap = sizeof line, .fixed = true};
    const char *lv = sky_level_name(level);
    sky__buf_put(&b, "skylog: ", 8);
    sky__buf_put(&b, lv, strlen(lv));
    sky__buf_put(&b, ": ", 2);
    sky__termsafe(&b, msg, strlen(msg), SKY__TERMSAFE_LINE);
    sky__buf_put(&b, "\n", 1);
    if (!b.oom) {
        ssize_t w = write(STDERR_FILENO, b.p, b.len);
        (void)w;
    }
}

/* Diagnostics without a pipeline (sinks used standalone, layers below the core) share one
 * process-wide limiter. */
static pthread_mutex_t global_diag_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t global_diag_window;
static int global_diag_in_window;
static uint64_t global_diag_suppressed;

/* Token window: at most DIAG_PER_SECOND a second; returns whether to print, and how many were
 * suppressed since the last one printed. */
static bool diag_admit(pthread_mutex_t *lock, int64_t *window, int *in_window,
                       uint64_t *suppressed, uint64_t *report)
{
    int64_t now = sky_monotonic_ns();
    pthread_mutex_lock(lock);
    if (now - *window >= 1000000000) {
        *window = now;
        *in_window = 0;
    }
    bool pass = *in_window < DIAG_PER_SECOND;
    if (pass) {
        (*in_window)++;
        *report = *suppressed;
        *suppressed = 0;
    } else {
        (*suppressed)++;
    }
    pthread_mutex_unlock(lock);
    return pass;
}

void sky__diag(sky_t *sky, sky_level level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    uint64_t suppressed = 0;
    bool pass = sky ? diag_admit(&sky->diag_lock, &sky->diag_window_start, &sky->diag_in_window,
                                 &sky->diag_suppressed, &suppressed)
                    : diag_admit(&global_diag_lock, &global_diag_window, &global_diag_in_window,
                                 &global_diag_suppressed, &suppressed);
    if (!pass)
        return;
    if (suppressed) {
        size_t l = strlen(msg);
        snprintf(msg + l, sizeof msg - l, " (%llu earlier diagnostics suppressed)",
                 (unsigned long long)suppressed);
    }
    sky_diag_fn fn = sky && sky->opts.diag ? sky->opts.diag : diag_stderr;
    fn(sky ? sky->opts.diag_user : NULL, level, msg);
}

/* The last of a pipeline, once nothing else refers to it: its loggers, locks and itself (the
 * end of sky_close, and of a sky_open that failed late). */
static void free_pipeline(sky_t *sky)
{
    sky__loggers_free(sky);
    pthread_mutex_destroy(&sky->lock);
    pthread_mutex_destroy(&sky->reg_lock);
    pthread_mutex_destroy(&sky->diag_lock);
    free(sky->name);
    free(sky);
}

/* Why sky_open_ex() failed: to the caller's *errmsg if it asked, else through the options' diag
 * function, if any. Returns st. */
static sky_status open_failed(const sky_options *o, char **errmsg, sky_status st,
                              const char *msg)
{
    if (errmsg) {
        *errmsg = strdup(msg);
    } else if (o->diag) {
        o->diag(o->diag_user, SKY_LEVEL_ERROR, msg);
    } else {
        sky__diag(NULL, SKY_LEVEL_ERROR, "%s", msg);
    }
    return st;
}

sky_status sky_open(const sky_options *opts, sky_t **out) { return sky_open_ex(opts, out, NULL); }

sky_status sky_open_ex(const sky_options *opts, sky_t **out, char **errmsg)
{
    if (errmsg)
        *errmsg = NULL;
    if (!out)
        return SKY_EINVAL;
    *out = NULL;
    sky_options o = opts ? *opts : (sky_options){0};
    char why[320];
    if (SKY__RESERVED_MSG(&o, sky_options, why, sizeof why))
        return open_failed(&o, errmsg, SKY_EINVAL, why);
    sky_level level = o.level_set ? o.level : SKY_LEVEL_INFO;
    if ((unsigned)level >= SKY_LEVEL_COUNT_)
        return open_failed(&o, errmsg, SKY_EINVAL, "the pipeline's level is out of range");
    if ((unsigned)o.mode > SKY_MODE_ASYNC)
        return open_failed(&o, errmsg, SKY_EINVAL, "the pipeline's mode is not sync or async");
    if ((unsigned)o.overflow > SKY_OVERFLOW_DROP_OLDEST)
        return open_failed(&o, errmsg, SKY_EINVAL,
                           "the pipeline's overflow policy is not block, drop_newest or "
                           "drop_oldest");
    if (!o.ring_bytes)
        o.ring_bytes = 4u << 20;
    if (o.ring_spool_path && (o.mode != SKY_MODE_ASYNC || !*o.ring_spool_path))
        return open_failed(&o, errmsg, SKY_EINVAL,
                           o.ring_spool_path[0] ? "ring_spool_path needs mode: async (a "
                                                  "synchronous pipeline has no ring to keep)"
                                                : "ring_spool_path is empty");
    if (!o.block_max_wait_ms)
        o.block_max_wait_ms = 1000; /* of no progress by the worker (async.c: reserve_slow) */
    if (!o.close_timeout_ms)
        o.close_timeout_ms = 5000;
    sky_t *sky = calloc(1, sizeof *sky);
    if (!sky)
        return open_failed(&o, errmsg, SKY_ENOMEM, "out of memory");
    sky->opts = o;
    sky->name = strdup(o.name ? o.name : "skylog");
    sky->opts.name = sky->name;
    sky->ev.rcache = (sky__render_cache *)(void *)&sky->rcache;
    pthread_mutex_init(&sky->lock, NULL);
    pthread_mutex_init(&sky->reg_lock, NULL);
    pthread_mutex_init(&sky->diag_lock, NULL);
    if (!sky->name || !sky__logger_root(sky, level)) {
        free(sky->name);
        free(sky);
        return open_failed(&o, errmsg, SKY_ENOMEM, "out of memory");
    }
    if (o.mode == SKY_MODE_ASYNC) {
        sky_status st = sky__async_start(sky, errmsg);
        sky->opts.ring_spool_path = NULL; /* the caller's string: used by the start only */
        if (st != SKY_OK) {
            free_pipeline(sky);
            if (errmsg && !*errmsg)
                *errmsg = strdup(sky_strerror(st));
            return st;
        }
    }
    register_open(sky);
    *out = sky;
    return SKY_OK;
}

void sky__count_drop(sky_t *sky, sky_drop_reason reason, sky_level level, uint64_t n)
{
    atomic_fetch_add_explicit(&sky->dropped[reason], n, memory_order_relaxed);
    if ((unsigned)level < SKY_LEVEL_COUNT_)
        atomic_fetch_add_explicit(&sky->dropped_by_level[level], n, memory_order_relaxed);
    /* no_sink also counts events every sink's level or filter declined, which is routing
     * working; only a pipeline without any sink is a mistake worth a line */
    if (reason == SKY_DROP_NO_SINK &&
        atomic_load_explicit(&sky->n_sinks_pub, memory_order_acquire) == 0 &&
        !atomic_exchange_explicit(&sky->said_no_sink, true, memory_order_relaxed))
        sky__diag(sky, SKY_LEVEL_WARN, "an event was logged to a pipeline that has no sink: it "
                  "and every other one are discarded (counted in sky_stats.dropped[no_sink]); "
                  "add one with sky_add_sink(), or open the pipeline with sky_open_env(), "
                  "which writes to the console");
}

static void run_reopen(sky_sink *s)
{
    if (atomic_exchange_explicit(&s->reopen_requested, 0, memory_order_acq_rel) && s->vt->reopen)
        s->vt->reopen(s->self);
}

bool sky__pipeline_run_processors(sky_t *sky, sky_event *ev)
{
    sky_level level_in = ev->level;
    for (size_t i = 0; i < sky->n_procs; i++) {
        sky__processor *p = &sky->procs[i];
        sky__event_turn_begin(ev);
        int64_t t0 = sky_monotonic_ns();
        sky_proc_result r = p->fn(p->user, ev);
        int64_t dt = sky_monotonic_ns() - t0;
        atomic_fetch_add_explicit(&p->calls, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&p->total_ns, (uint64_t)dt, memory_order_relaxed);
        if (r == SKY_PROC_DROP) {
            atomic_fetch_add_explicit(&p->drops, 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&sky->processed, 1, memory_order_relaxed);
            sky__count_drop(sky, SKY_DROP_PROCESSOR, level_in, 1);
            return false;
        }
        if (r != SKY_PROC_KEEP) {
            sky__event_turn_undo(ev);
            atomic_fetch_add_explicit(&p->failures, 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&sky->proc_failures, 1, memory_order_relaxed);
            sky__diag(sky, SKY_LEVEL_WARN, "processor '%s' failed on event '%s'; event kept",
                      p->name, ev->name);
        }
    }
    atomic_fetch_add_explicit(&sky->processed, 1, memory_order_relaxed);
    return true;
}

_Thread_local sky_t *sky__sink_pipeline;

bool sky__sink_write_batch(sky_t *sky, sky_sink *s, const sky_record *recs, size_t n)
{
    run_reopen(s);
    sky_t *outer = sky__sink_pipeline; /* a sink may call another pipeline's */
    sky__sink_pipeline = sky;
    sky_status st = s->vt->write(s->self, recs, n);
    sky__sink_pipeline = outer;
    if (st == SKY_OK) {
        atomic_fetch_add_explicit(&s->written, n, memory_order_relaxed);
        return true;
    }
    atomic_fetch_add_explicit(&s->errors, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->dropped, n, memory_order_relaxed);
    sky__diag(sky, SKY_LEVEL_ERROR, "sink '%s' failed to write: %s", s->name, sky_strerror(st));
    return false;
}

/* Whether sink s takes the event: its level, then its route's filter. */
static inline bool sink_takes(const sky_sink *s, const sky_event *ev)
{
    return (int)ev->level >= (int)s->level && (!s->filter || s->filter(s->filter_user, ev));
}

/* Counts n events a sink lost before its write (render or batch out of memory). */
static void sink_lost(sky_sink *s, uint64_t n)
{
    atomic_fetch_add_explicit(&s->errors, n, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->dropped, n, memory_order_relaxed);
}

/* Room for n more records in a sink's part of an async batch; false on out-of-memory. */
static bool batch_reserve(sky__sink_batch *sb, size_t n)
{
    if (sb->cap - sb->n >= n)
        return true;
    size_t cap = sb->cap ? sb->cap : 64;
    while (cap - sb->n < n)
        cap *= 2;
    sky_record *r = realloc(sb->recs, cap * sizeof *r);
    if (!r)
        return false;
    sb->recs = r;
    sb->cap = cap;
    return true;
}

void sky__pipeline_route(sky_t *sky, sky_event *ev)
{
    bool delivered = false, tried = false;
    for (size_t i = 0; i < sky->n_sinks; i++) {
        sky_sink *s = sky->sinks[i];
        if (!sink_takes(s, ev)) {
            atomic_fetch_add_explicit(&s->filtered, 1, memory_order_relaxed);
            continue;
        }
        tried = true;
        sky_record rec = {.event = ev};
        if (s->format != SKY_FORMAT_NONE) {
            const sky_buf *b = sky__event_render(ev, s->format, s->render);
            if (!b) {
                sink_lost(s, 1);
                continue;
            }
            rec.text = b->p;
            rec.len = b->len;
        }
        delivered |= sky__sink_write_batch(sky, s, &rec, 1);
    }
    if (delivered)
        atomic_fetch_add_explicit(&sky->routed, 1, memory_order_relaxed);
    else
        sky__count_drop(sky, tried ? SKY_DROP_SINK_ERROR : SKY_DROP_NO_SINK, ev->level, 1);
}

/* Sink by sink, so that what is the same for every event of the batch (the sink's level,
 * filter, format, its part of the batch, its counters) is read and written once per batch. */
/* Routes a batch to sink i (see sky__pipeline_route_batch); returns how many events it newly
 * marked as tried. Inlined twice: once with constant `first`, `room` and `json` for the
 * common case (the first sink, JSON, room for the records), once for everything else. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline size_t route_sink(sky_sink *s, sky__sink_batch *sb, sky_event *evs,
                                const uint8_t *live, size_t n, uint8_t *tried, bool first,
                                bool room, bool json)
{
    const sky_format format = s->format;
    const sky__renderer *render = s->render;
    const int min_level = (int)s->level;
    const sky_filter_fn filter = s->filter;
    sky_record *recs = sb->recs;
    size_t k = sb->n; /* records so far (a local: stores through recs cannot change it) */
    size_t n_tried = 0;
    uint64_t filtered = 0, lost = 0;
    for (size_t e = 0; e < n; e++) {
        sky_event *ev = &evs[e];
        if (!live[e])
            continue;
        if ((int)ev->level < min_level || (filter && !filter(s->filter_user, ev))) {
            filtered++;
            continue;
        }
        n_tried += first || !tried[e]; /* the first sink finds every mark cleared */
        tried[e] = 1;
        if (!room) {
            lost++;
            continue;
        }
        const char *text = NULL;
        size_t len = 0;
        if (format != SKY_FORMAT_NONE) {
            const sky_buf *b = json ? sky__event_render_area(ev, render) : NULL;
            if (!b && !(b = sky__event_render_own(ev, format, render))) {
                lost++;
                continue;
            }
            text = b->p;
            len = b->len;
        }
        /* member by member: a struct copy from the stack read its freshly stored halves
         * back as one 16-byte load, which store forwarding cannot serve (perf: half the
         * time of routing went to that stall) */
        sky_record *r = &recs[k++];
        r->event = ev;
        r->text = text;
        r->len = len;
    }
    sb->n = k;
    if (filtered)
        atomic_fetch_add_explicit(&s->filtered, filtered, memory_order_relaxed);
    if (lost)
        sink_lost(s, lost);
    return n_tried;
}

size_t sky__pipeline_route_batch(sky_t *sky, sky_event *evs, const uint8_t *live, size_t n,
                                 sky__batch *batch)
{
    memset(batch->tried, 0, n);
    size_t n_tried = 0;
    for (size_t i = 0; i < sky->n_sinks; i++) {
        sky_sink *s = sky->sinks[i];
        sky__sink_batch *sb = &batch->sinks[i];
        bool room = batch_reserve(sb, n);
        if (i == 0 && room && s->format == SKY_FORMAT_JSON)
            n_tried += route_sink(s, sb, evs, live, n, batch->tried, true, true, true);
        else
            n_tried += route_sink(s, sb, evs, live, n, batch->tried, i == 0, room,
                                  s->format == SKY_FORMAT_JSON);
    }
    return n_tried;
}

void sky__pipeline_process(sky_t *sky, sky_event *ev)
{
    if (sky__pipeline_run_processors(sky, ev))
        sky__pipeline_route(sky, ev);
}

/* Sync mode: build and process the event on this thread, under the pipeline lock. Out of
 * line so that sky_emit() stays a small dispatcher that tail-calls the async path. */
__attribute__((noinline)) static void emit_sync(sky_t *sky, sky_logger *log, sky_level level,
                                                const char *event, const sky_callsite *cs,
                                                const sky_field *fields, size_t n)
{
    int64_t ts = sky_now_ns();
    atomic_fetch_add_explicit(&sky->emitted, 1, memory_order_relaxed);
    if (atomic_load_explicit(&sky->closing, memory_order_acquire) & SKY__CLOSING) {
        sky__count_drop(sky, SKY_DROP_CLOSED, level, 1);
        return;
    }
    pthread_mutex_lock(&sky->lock);
    if (sky__event_build(&sky->ev, log, level, event, cs, ts, fields, n))
        sky__pipeline_process(sky, &sky->ev);
    else
        sky__count_drop(sky, SKY_DROP_TOO_LARGE, level, 1);
    sky__derived_drain(sky); /* what its processors derived from it, still under the lock */
    pthread_mutex_unlock(&sky->lock);
}

void sky_emit(sky_logger *log, sky_level level, const char *event, const sky_callsite *cs,
              const sky_field *fields, size_t n)
{
    sky_t *sky = log ? log->sky : NULL;
    if (SKY_UNLIKELY(!sky || (unsigned)level >= SKY_LEVEL_OFF || (!fields && n)))
        return;
    if (sky->async)
        sky__async_emit(log, level, event, cs, fields, n); /* a tail call */
    else
        emit_sync(sky, log, level, event, cs, fields, n);
}

sky_status sky__flush_sinks(sky_t *sky, int64_t deadline)
{
    sky_status result = SKY_OK;
    for (size_t i = 0; i < sky->n_sinks; i++) {
        sky_sink *s = sky->sinks[i];
        if (!s->vt->flush)
            continue;
        sky_status st = s->vt->flush(s->self, deadline);
        if (st != SKY_OK) {
            sky__diag(sky, SKY_LEVEL_WARN, "sink '%s' flush: %s", s->name, sky_strerror(st));
            if (result == SKY_OK)
                result = st;
        }
    }
    return result;
}

sky_status sky_flush(sky_t *sky, int64_t timeout_ms)
{
    if (!sky)
        return SKY_EINVAL;
    int64_t deadline = sky_monotonic_ns() + (timeout_ms < 0 ? 0 : timeout_ms) * 1000000;
    if (sky->async)
        return sky__async_flush(sky, deadline);
    pthread_mutex_lock(&sky->lock);
    sky_status st = sky__flush_sinks(sky, deadline);
    pthread_mutex_unlock(&sky->lock);
    if (st == SKY_OK && sky_monotonic_ns() > deadline)
        st = SKY_ETIMEDOUT;
    return st;
}

static void free_sink(sky_sink *s)
{
    if (s->vt->close)
        s->vt->close(s->self);
    free(s->name);
    free(s);
}

/* ---- close hooks: kept beside the pipeline (a list keyed by it), run first by sky_close() -- */

typedef struct close_hook {
    struct close_hook *next;
    sky_t *sky;
    void (*fn)(void *user);
    void *user;
} close_hook;
static pthread_mutex_t hooks_lock = PTHREAD_MUTEX_INITIALIZER;
static close_hook *close_hooks; /* most recent first */

sky_status sky_on_close(sky_t *sky, void (*fn)(void *user), void *user)
{
    if (!sky || !fn)
        return SKY_EINVAL;
    close_hook *h = malloc(sizeof *h);
    if (!h)
        return SKY_ENOMEM;
    *h = (close_hook){.sky = sky, .fn = fn, .user = user};
    pthread_mutex_lock(&hooks_lock);
    h->next = close_hooks;
    close_hooks = h;
    pthread_mutex_unlock(&hooks_lock);
    return SKY_OK;
}

void *sky__close_hook_user(sky_t *sky, void (*fn)(void *user), size_t i)
{
    /* the list is most recent first: the i-th registered is the (n - 1 - i)-th found */
    size_t n = 0;
    void *user = NULL;
    pthread_mutex_lock(&hooks_lock);
    for (close_hook *h = close_hooks; h; h = h->next)
        n += h->sky == sky && h->fn == fn;
    size_t k = n; /* index in registration order of the hook at h */
    for (close_hook *h = close_hooks; h && i < n; h = h->next)
        if (h->sky == sky && h->fn == fn && --k == i) {
            user = h->user;
            break;
        }
    pthread_mutex_unlock(&hooks_lock);
    return user;
}

static void run_close_hooks(sky_t *sky)
{
    for (;;) {
        pthread_mutex_lock(&hooks_lock);
        close_hook **pp = &close_hooks, *h = NULL;
        while (*pp && (*pp)->sky != sky)
            pp = &(*pp)->next;
        if ((h = *pp))
            *pp = h->next;
        pthread_mutex_unlock(&hooks_lock);
        if (!h)
            return;
        h->fn(h->user); /* unlocked: a hook may join a thread that registers hooks */
        free(h);
    }
}

sky_status sky_close(sky_t *sky)
{
    if (!sky)
        return SKY_OK;
    run_close_hooks(sky);
    sky__closing_or(sky, SKY__CLOSING);
    int64_t deadline = sky_monotonic_ns() + sky->opts.close_timeout_ms * 1000000;
    sky_status ast = SKY_OK;
    if (sky->async) {
        bool leak;
        ast = sky__async_stop(sky, deadline, &leak);
        if (leak) {
            /* The worker is stuck in a sink: freeing would pull memory from under it. */
            sky__diag(sky, SKY_LEVEL_ERROR, "close: the worker did not stop in time (a sink is "
                                            "blocked); the pipeline is left allocated");
            return ast;
        }
    }
    unregister_open(sky);
    pthread_mutex_lock(&sky->lock);
    sky_status st = sky__flush_sinks(sky, deadline);
    if (ast != SKY_OK)
        st = ast;
    for (size_t i = 0; i < sky->n_sinks; i++)
        free_sink(sky->sinks[i]);
    free(sky->sinks);
    for (size_t i = 0; i < sky->n_procs; i++) {
        if (sky->procs[i].free_user)
            sky->procs[i].free_user(sky->procs[i].user);
        free(sky->procs[i].name);
        free(sky->procs[i].label);
    }
    free(sky->procs);
    sky__event_free(&sky->ev);
    sky__derived_free(sky);
    sky__async_free(sky);
    pthread_mutex_unlock(&sky->lock);
    free_pipeline(sky);
    return st;
}

void sky_reopen(sky_t *sky)
{
    if (!sky)
        return;
    for (size_t i = 0; i < sky->n_sinks; i++)
        atomic_store_explicit(&sky->sinks[i]->reopen_requested, 1, memory_order_release);
}

/* ---- configuration -------------------------------------------------------------------------- */

sky_status sky_add_processor(sky_t *sky, const char *name, sky_processor_fn fn, void *user,
                             void (*free_user)(void *))
{
    if (!sky || !fn) {
        if (free_user)
            free_user(user);
        return SKY_EINVAL;
    }
    sky__lock(sky); /* the async worker may be running */
    sky__processor *np = realloc(sky->procs, (sky->n_procs + 1) * sizeof *np);
    char *nm = strdup(name ? name : "processor");
    if (!np || !nm) {
        if (np)
            sky->procs = np;
        sky__unlock(sky);
        free(nm);
        if (free_user)
            free_user(user);
        return SKY_ENOMEM;
    }
    sky->procs = np;
    sky__processor *p = &np[sky->n_procs++];
    memset(p, 0, sizeof *p);
    p->name = nm;
    p->fn = fn;
    p->user = user;
    p->free_user = free_user;
    atomic_store_explicit(&sky->n_procs_pub, sky->n_procs, memory_order_release);
    sky__unlock(sky);
    return SKY_OK;
}

sky_status sky_add_sink(sky_t *sky, sky_sink *sink, const sky_route *route)
{
    if (!sink)
        return SKY_EINVAL;
    if (!sky) {
        free_sink(sink);
        return SKY_EINVAL;
    }
    if (route && ((unsigned)route->level >= SKY_LEVEL_COUNT_ ||
                  SKY__CHECK_RESERVED(route, sky_route, sky, NULL) != SKY_OK)) {
        free_sink(sink);
        return SKY_EINVAL;
    }
    const char *name = route && route->name ? route->name : sink->vt->type;
    sink->name = strdup(name ? name : "sink");
    sky__lock(sky); /* the async worker may be running */
    sky_sink **ns = realloc(sky->sinks, (sky->n_sinks + 1) * sizeof *ns);
    if (!ns || !sink->name) {
        if (ns)
            sky->sinks = ns;
        sky__unlock(sky);
        free_sink(sink);
        return SKY_ENOMEM;
    }
    if (route) {
        sink->level = route->level;
        sink->filter = route->filter;
        sink->filter_user = route->filter_user;
    }
    sky->sinks = ns;
    sky->sinks[sky->n_sinks++] = sink;
    atomic_store_explicit(&sky->n_sinks_pub, sky->n_sinks, memory_order_release);
    sky__unlock(sky);
    return SKY_OK;
}

/* ---- stats ---------------------------------------------------------------------------------- */

sky_status sky_stats_get(sky_t *sky, sky_stats *out)
{
    if (!sky || !out)
        return SKY_EINVAL;
    memset(out, 0, sizeof *out);
    out->emitted = atomic_load(&sky->emitted);
    out->processed = atomic_load(&sky->processed);
    out->routed = atomic_load(&sky->routed);
    for (int i = 0; i < SKY_DROP_REASON_COUNT_; i++)
        out->dropped[i] = atomic_load(&sky->dropped[i]);
    for (int i = 0; i < SKY_LEVEL_COUNT_; i++)
        out->dropped_by_level[i] = atomic_load(&sky->dropped_by_level[i]);
    out->processor_failures = atomic_load(&sky->proc_failures);
    out->context_overflows = sky__context_overflows();
    out->worker_alive = false;
    if (sky->async)
        sky__async_stats(sky, out);
    else
        out->enqueued = out->emitted;
    /* every index below a count read here is valid for sky_sink_get() and the stats getters */
    out->processor_count = atomic_load_explicit(&sky->n_procs_pub, memory_order_acquire);
    out->sink_count = atomic_load_explicit(&sky->n_sinks_pub, memory_order_acquire);
    return SKY_OK;
}

sky_status sky_processor_stats_get(sky_t *sky, size_t i, sky_processor_stats *out)
{
    if (!sky || !out)
        return SKY_EINVAL;
    sky__lock(sky); /* sky_add_processor() may be moving the array */
    if (i >= sky->n_procs) {
        sky__unlock(sky);
        return SKY_ENOTFOUND;
    }
    sky__processor *p = &sky->procs[i];
    memset(out, 0, sizeof *out); /* reserved_ included (docs/COMPATIBILITY.md) */
    out->name = p->name;
    out->calls = atomic_load(&p->calls);
    out->drops = atomic_load(&p->drops);
    out->failures = atomic_load(&p->failures);
    out->total_ns = atomic_load(&p->total_ns);
    sky__unlock(sky);
    return SKY_OK;
}

void *sky__processor_user(sky_t *sky, size_t i, sky_processor_fn fn)
{
    if (!sky)
        return NULL;
    sky__lock(sky);
    void *user = i < sky->n_procs && sky->procs[i].fn == fn ? sky->procs[i].user : NULL;
    sky__unlock(sky);
    return user;
}

/* sky_processor_find(), sky_sink_find(): the first of the processors' or the sinks' names equal
 * to `name`, at `from` or after. */
static sky_status find_named(sky_t *sky, bool sinks, const char *name, size_t from, size_t *index)
{
    if (!sky || !name || !index)
        return SKY_EINVAL;
    sky__lock(sky); /* sky_add_processor() and sky_add_sink() may be moving the arrays */
    size_t n = sinks ? sky->n_sinks : sky->n_procs;
    sky_status st = SKY_ENOTFOUND;
    for (size_t i = from; i < n && st != SKY_OK; i++)
        if (strcmp(sinks ? sky->sinks[i]->name : sky->procs[i].name, name) == 0 ||
            (!sinks && sky->procs[i].label && strcmp(sky->procs[i].label, name) == 0)) {
            *index = i;
            st = SKY_OK;
        }
    sky__unlock(sky);
    return st;
}

sky_status sky__processor_label_last(sky_t *sky, const char *label, char **errmsg)
{
    *errmsg = NULL;
    if (!sky || !label || !label[0]) {
        *errmsg = strdup("a processor's name must not be empty");
        return SKY_EINVAL;
    }
    sky__lock(sky);
    sky_status st = SKY_OK;
    char msg[256] = "";
    if (!sky->n_procs) {
        st = SKY_EINVAL;
        snprintf(msg, sizeof msg, "no processor to name '%s'", label);
    }
    for (size_t i = 0; st == SKY_OK && i + 1 < sky->n_procs; i++)
        if (sky->procs[i].label && strcmp(sky->procs[i].label, label) == 0) {
            st = SKY_EINVAL;
            snprintf(msg, sizeof msg,
                     "processor name '%.64s' is used twice (processor %zu, a %s, has it): "
                     "names must be unique", label, i, sky->procs[i].name);
        }
    char *copy = st == SKY_OK ? strdup(label) : NULL;
    if (st == SKY_OK && !copy)
        st = SKY_ENOMEM;
    if (copy) {
        sky__processor *p = &sky->procs[sky->n_procs - 1];
        free(p->label);
        p->label = copy;
    }
    sky__unlock(sky);
    if (msg[0])
        *errmsg = strdup(msg);
    return st;
}

sky_status sky_processor_find(sky_t *sky, const char *name, size_t from, size_t *index)
{
    return find_named(sky, false, name, from, index);
}

sky_status sky_sink_find(sky_t *sky, const char *name, size_t from, size_t *index)
{
    return find_named(sky, true, name, from, index);
}

sky_sink *sky_sink_get(sky_t *sky, size_t i)
{
    if (!sky)
        return NULL;
    sky__lock(sky); /* sky_add_sink() may be growing the array */
    sky_sink *s = i < sky->n_sinks ? sky->sinks[i] : NULL;
    sky__unlock(sky);
    return s;
}

sky_status sky_sink_stats_get(sky_t *sky, size_t i, const char **name, sky_sink_stats *out)
{
    if (!sky || !out)
        return SKY_EINVAL;
    /* under the lock from the start: sky_add_sink() may be moving the array */
    sky__lock(sky);
    if (i >= sky->n_sinks) {
        sky__unlock(sky);
        return SKY_ENOTFOUND;
    }
    sky_sink *s = sky->sinks[i];
    memset(out, 0, sizeof *out);
    if (s->vt->stats)
        s->vt->stats(s->self, out);
    sky__unlock(sky);
    out->written = atomic_load(&s->written);
    out->errors += atomic_load(&s->errors);
    out->dropped += atomic_load(&s->dropped);
    out->filtered = atomic_load(&s->filtered);
    if (name)
        *name = s->name;
    return SKY_OK;
}
