/*
 * pipeline.h - the pipeline: its processors and sinks, the router, derived events,
 * diagnostics, async mode's entry points and the thread's context.
 *
 * Included by src/core and the layers above it. Fields that several threads touch are C11
 * atomics; everything else is either fixed after configuration or owned by the processing
 * thread (the caller under the pipeline lock in sync mode, the worker in async mode).
 */
#ifndef SKY_CORE_PIPELINE_H
#define SKY_CORE_PIPELINE_H

#include "core/event.h"
#include "core/logger.h"

#include <pthread.h>
#include <stdatomic.h>

/* ---- processors and sinks ------------------------------------------------------------------- */

typedef struct sky__processor {
    char *name;
    sky_processor_fn fn;
    void *user;
    void (*free_user)(void *);
    _Atomic uint64_t calls, drops, failures, total_ns;
} sky__processor;

/* The i-th processor's `user` if it runs `fn` (so a processor type can answer for its own
 * handles: sky_security_monitor_get()), else NULL; under the lock, as sky_add_processor() may
 * be moving the array. */
void *sky__processor_user(sky_t *sky, size_t i, sky_processor_fn fn);
/* The `user` of the i-th (in the order registered, from 0) of sky's close hooks that run `fn`,
 * else NULL: how a type that stops with its pipeline (the sampler: sky_sampler_get()) finds
 * the ones a configuration made. */
void *sky__close_hook_user(sky_t *sky, void (*fn)(void *user), size_t i);

struct sky_sink {
    const sky_sink_vtable *vt;
    void *self;
    sky_format format;
    const sky__renderer *render; /* its format's renderers (sky_sink_new); NULL for NONE */
    char *name;
    sky_level level;
    sky_filter_fn filter;
    void *filter_user;
    _Atomic int reopen_requested;
    _Atomic uint64_t written, errors, dropped, filtered;
};

/* ---- pipeline ------------------------------------------------------------------------------- */

typedef struct sky__async sky__async; /* src/core/async.c: ring, worker, flush, fork */

/* Records the async router collects per sink, written with one sink call per batch. */
typedef struct sky__sink_batch {
    sky_record *recs;
    size_t n, cap;
    bool ok; /* the batch's write succeeded */
} sky__sink_batch;

typedef struct sky__batch {
    sky__sink_batch *sinks; /* one per sink */
    size_t n_sinks;
    uint8_t *tried; /* per event: some sink's route accepted it */
    size_t cap;     /* events */
} sky__batch;

struct sky {
    sky_options opts;
    char *name;

    pthread_mutex_t lock;      /* sync mode: serialises processing and sinks */
    pthread_mutex_t reg_lock;  /* logger registry and levels */
    sky_logger *loggers;       /* registry (linked list; lookups are rare: loggers are cached) */
    sky_logger *root;
    sky_logger *bound_loggers;

    sky__processor *procs;
    size_t n_procs;
    sky_sink **sinks;
    size_t n_sinks;
    /* n_procs and n_sinks for sky_stats_get(), which runs without the lock (a sink may call it
     * from its write, under the lock): stored (release) once the new element is in place */
    _Atomic size_t n_procs_pub, n_sinks_pub;

    sky_event ev; /* sync mode: the one event being processed, under `lock` */
    sky__render_room rcache; /* sync mode: ev's callsite cache */
    sky__async *async; /* async mode only; NULL in sync mode */
    _Atomic int lock_waiters; /* threads waiting for `lock`: the busy worker yields it to them */
    struct sky *next_open, *prev_open; /* every open pipeline, for fork handlers */

    _Atomic int closing; /* SKY__CLOSING | SKY__NO_WORKER bits; every log call reads it once */
    _Atomic uint64_t emitted, processed, routed, proc_failures;
    _Atomic uint64_t dropped[SKY_DROP_REASON_COUNT_];
    _Atomic uint64_t dropped_by_level[SKY_LEVEL_COUNT_];

    /* Events derived by processors and sinks (derived.c): a FIFO owned by the processing
     * thread, drained after each event (sync) or batch (async), through derived_ev. */
    struct sky__derived *derived;
    size_t derived_head, n_derived;
    sky_event derived_ev;

    /* diagnostics rate limit */
    pthread_mutex_t diag_lock;
    int64_t diag_window_start;
    int diag_in_window;
    uint64_t diag_suppressed;
};

/* Processes the derived events waiting (derived.c); the processing thread only. */
void sky__derived_drain_slow(sky_t *sky);
static inline void sky__derived_drain(sky_t *sky)
{
    if (SKY_UNLIKELY(sky->n_derived))
        sky__derived_drain_slow(sky);
}
void sky__derived_free(sky_t *sky);
/* The pipeline whose sink is being called on this thread (set around each sink write), so that
 * a sink can derive events: sky__emit_derived_like() derives one from `ev` (same level, logger,
 * name and fields) plus `extra`. SKY_EINVAL outside a sink call. */
extern _Thread_local sky_t *sky__sink_pipeline;
sky_status sky__emit_derived_like(const sky_event *ev, const sky_field *extra, size_t n_extra);

/* Bits of sky->closing. CLOSING: sky_close() has begun. NO_WORKER: a forked child whose
 * worker is not started yet (async mode): the first log call starts it, so a child that only
 * calls exec() never creates a thread. */
#define SKY__CLOSING 1
#define SKY__NO_WORKER 2

/* Runs the processor chain and the router on a built event. Called by exactly one thread at a
 * time per pipeline. */
void sky__pipeline_process(sky_t *sky, sky_event *ev);
/* The two halves of sky__pipeline_process(). run_processors returns false when the event was
 * dropped (and counted). route renders the event for each sink that takes it, writes it and
 * does the accounting. */
bool sky__pipeline_run_processors(sky_t *sky, sky_event *ev);
void sky__pipeline_route(sky_t *sky, sky_event *ev);
/* The async router: collects each sink's records of the n events of a batch (those whose
 * `live` is set) into batch->sinks[] and sets batch->tried[]; returns how many events some sink
 * took. The caller writes the records with sky__sink_write_batch() and does the accounting. */
size_t sky__pipeline_route_batch(sky_t *sky, sky_event *evs, const uint8_t *live, size_t n,
                                 sky__batch *batch);
/* Writes n records to a sink (reopen if asked, counters, diagnostics); true on success. */
bool sky__sink_write_batch(sky_t *sky, sky_sink *s, const sky_record *recs, size_t n);
/* Flushes every sink before the deadline (CLOCK_MONOTONIC ns). Under `lock`. */
sky_status sky__flush_sinks(sky_t *sky, int64_t deadline);
/* Takes / releases `lock` from outside the processing thread; a busy worker yields to it. */
void sky__lock(sky_t *sky);
void sky__unlock(sky_t *sky);
/* Counts an event as dropped. */
void sky__count_drop(sky_t *sky, sky_drop_reason reason, sky_level level, uint64_t n);

/* Internal diagnostics: formatted, rate-limited, never re-enter the pipeline. `sky` may be
 * NULL (goes to stderr). */
void sky__diag(sky_t *sky, sky_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Async mode (src/core/async.c). */
sky_status sky__async_start(sky_t *sky, char **errmsg);
/* Points a logger at its pipeline's fast handle, if it may take the inlined path. */
void sky__async_logger_init(sky_t *sky, sky_logger *l);
/* Sets bits of sky->closing (and of the copy inlined call sites read). */
void sky__closing_or(sky_t *sky, int bits);
void sky__async_emit(const sky_logger *log, sky_level level, const char *name,
                     const sky_callsite *cs, const sky_field *fields, size_t n);
sky_status sky__async_flush(sky_t *sky, int64_t deadline);
/* Flushes until the deadline, stops and joins the worker. Returns SKY_ETIMEDOUT if the flush
 * did not finish (the rest is counted as dropped, reason closed); *leak is set when the worker
 * could not be joined at all (stuck in a sink), and the pipeline must then not be freed. */
sky_status sky__async_stop(sky_t *sky, int64_t deadline, bool *leak);
void sky__async_free(sky_t *sky);
void sky__async_stats(sky_t *sky, sky_stats *out);
/* fork() handlers, called with `lock` held by the forking thread (prepare) */
void sky__async_fork_prepare(sky_t *sky);
void sky__async_fork_parent(sky_t *sky);
void sky__async_fork_child(sky_t *sky);

/* A context frame that never gets a block: a field is lazy (the general path evaluates it). */
#define SKY__CTXBLK_LAZY ((sky__ctxblk *)1)
/* A push of depth d (context.c): its block for the thread's home pipeline, from its pool, if
 * it has a pooled block and no pipeline closed since the home was set; else left to the
 * scope's first event. */
void sky__async_ctx_push(size_t d);
/* The block's scope ended: freed once no queued record can reference it. */
void sky__async_ctx_retire(sky__ctxblk *b);
/* A bound logger released: freed likewise (false: not async, free it now). */
bool sky__async_logger_retire(sky_logger *log);
/* Frees a fragment's worker-made parts. */
void sky__frag_free(sky__frag *f);
/* The calling thread's context stack (context.c; the depth is skylog.h's sky__ctx_depth).
 * Here so that the scope's first event (async.c: sky__site_emit_values, context_block)
 * reads it and makes the block inline, without two more calls (mix caller -1.5 an event).
 * initial-exec, as the other context TLS. */
typedef struct sky__ctx_stack {
    const sky_field *fields[SKY_CONTEXT_MAX_DEPTH];
    size_t counts[SKY_CONTEXT_MAX_DEPTH];
    sky__ctxblk *blk[SKY_CONTEXT_MAX_DEPTH]; /* NULL: not made yet; SKY__CTXBLK_LAZY; a block */
    size_t refused; /* pushes refused and not yet popped */
    bool armed;     /* the thread-exit hook is set (sky__context_arm) */
    /* The pipeline this thread last made a block for at a scope's first event, and the close
     * count (async.c: close_epoch) then: a push makes its block for it (sky__async_ctx_push)
     * while no pipeline has closed since. NULL: none. */
    struct sky__async *home;
    uint64_t home_epoch;
} sky__ctx_stack;
extern _Thread_local __attribute__((tls_model("initial-exec"))) sky__ctx_stack sky__ctx;
/* Sets the calling thread's exit hook, which retires the blocks of scopes it never popped
 * (context.c; once a thread). */
void sky__context_arm(void);

/* True when one of the calling thread's context frames holds block b (context.c). */
bool sky__context_holds(const sky__ctxblk *b);

/* Depth of the calling thread's context stack (context.c): declared in skylog.h, exported,
 * since inlined call sites read it. */
/* Context of the calling thread, outer to inner. */
size_t sky__context_frames(const sky_field *const **fields, const size_t **counts);
uint64_t sky__context_overflows(void);

#endif
