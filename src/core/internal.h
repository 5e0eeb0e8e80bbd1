/*
 * internal.h - the core's private structures: pipeline, logger, event, sink wrapper, processor.
 *
 * Only src/core, src/processors, src/sinks and src/encode include this. Layers below the core
 * (src/aws) never do. Fields that several threads touch are C11 atomics; everything else is
 * either fixed after configuration or owned by the processing thread (the caller under the
 * pipeline lock in sync mode, the worker in async mode).
 */
#ifndef SKY_CORE_INTERNAL_H
#define SKY_CORE_INTERNAL_H

#include <skylog.h>

#include "util/buf.h"

#include <pthread.h>
#include <stdatomic.h>

/* ---- event ---------------------------------------------------------------------------------- */

/* Bump allocator for strings copied into an event; reset (keeping its first chunk) per event. */
typedef struct sky__arena_chunk {
    struct sky__arena_chunk *next;
    size_t used, cap;
    char data[];
} sky__arena_chunk;

typedef struct sky__arena {
    sky__arena_chunk *head;
} sky__arena;

void *sky__arena_alloc(sky__arena *a, size_t n);
char *sky__arena_strndup(sky__arena *a, const char *s, size_t n);
void sky__arena_reset(sky__arena *a);
void sky__arena_free(sky__arena *a);

/* Renderers' per-callsite cache: the JSON of an event's logger, name and callsite ("logger",
 * "message", "module", "func", "line") nearly always repeats at one call site, so it is
 * rendered once. Owned by whoever owns the events (the pipeline in sync mode, the worker in
 * async mode); events point at it. */
#define SKY__CS_CACHE_SLOTS 64
typedef struct sky__cs_entry {
    const sky_callsite *cs;
    const char *file, *func; /* compared too: a callsite struct reused at the same address */
    int line;
    const char *logger; /* logger names live as long as their pipeline */
    size_t logger_len;
    uint16_t len, name_len;
    char name[48];
    char text[256];
} sky__cs_entry;
/* The JSON of an untouched call-site event between its timestamp and its first value:
 * level, logger, message, callsite and the first key; per (site schema, logger, level). */
#define SKY__LINE_CACHE_SLOTS 32
typedef struct sky__line_entry {
    const void *schema;
    const char *logger;
    int level;
    uint16_t len;
    uint32_t bound; /* the line's room but for its values (json.c: render_site) */
    char text[300];
} sky__line_entry;
typedef struct sky__render_cache {
    sky__cs_entry json[SKY__CS_CACHE_SLOTS];
    sky__line_entry lines[SKY__LINE_CACHE_SLOTS];
    /* The last JSON timestamp: a batch's events mostly share their millisecond. ts_text is
     * the text of Unix nanoseconds [ts_lo, ts_lo + ts_span): one unsigned compare tests an
     * event's time (a negative one never falls in); ts_span 0: empty. */
    uint64_t ts_lo, ts_span;
    char ts_text[24];
} sky__render_cache;

/* A call site's schema (see sky__site in skylog.h) with what the JSON renderer needs: each
 * field's `,"key":` text, rendered once (escaped, reserved keys prefixed with '_'). Immutable
 * once published; never freed (a site is static, so is what it points at). */
typedef struct sky__site_schema {
    sky__schema pub; /* must be first */
    size_t name_len;
    uint16_t key_off[SKY__SITE_MAX + 1]; /* field i's text is text[key_off[i] .. key_off[i+1]) */
    uint64_t key_bits; /* every key's sky__key_bit (util/keybits.h) */
    char text[]; /* followed by 16 spare bytes (zeroes): keys are copied as 16-byte words */
} sky__site_schema;

/* Reserves a site record for `payload` bytes of values in the async ring, as
 * sky__fast_reserve does inline, for any call the inlined path leaves to the library. Returns
 * 1 (write them at slot->p, then sky__fast_commit), -1 (the event was dropped and counted:
 * do nothing), or 0 (this call cannot have a site record: use sky__emit_site). */
int sky__site_reserve(sky_logger *log, sky_level level, sky__site *site, size_t payload,
                      sky__slot *slot);

/* Learns a site's schema from a call that took the general path (no-op once decided). */
void sky__site_learn(sky__site *site, const char *name, const sky_field *fields, size_t n);

/* Field i of a site record's values, as sky__log_site() (skylog.h) stores them: `v` holds 8
 * bytes per schema field (a string's or raw JSON's slot holds its length, BOOL 0 or 1, ERRNO
 * the int widened, the other types their 8 bytes), then each string's bytes and a NUL, in field
 * order. *s walks those strings: it starts at (const char *)(v + n) and moves past field i's
 * string when it has one. Both the event's decoding and the JSON renderer read values here. */
static inline void sky__site_field(const sky__site_schema *sc, size_t i, const uint64_t *v,
                                   const char **s, sky_field *f)
{
    f->key = sc->pub.keys[i];
    f->key_len = sc->pub.key_lens[i];
    f->type = sc->pub.types[i];
    switch (f->type) {
    case SKY_T_STR:
    case SKY_T_JSON:
        f->v.str.ptr = *s;
        f->v.str.len = v[i];
        *s += v[i] + 1;
        break;
    case SKY_T_BOOL: f->v.b = v[i] != 0; break;
    case SKY_T_ERRNO: f->v.err = (int)(int64_t)v[i]; break;
    default: memcpy(&f->v, &v[i], 8); break; /* INT, UINT, F64, TIME, DUR; NULL ignores it */
    }
}

/* Fields copied once and rendered once, which site records reference instead of carrying
 * them: a bound logger's fields, or a thread's context scope (its frames merged, outer to
 * inner). The fields' keys are distinct and no field is lazy. The rest is the worker's own
 * (the worker of the one pipeline the fragment belongs to): the fields' JSON, made at first
 * use, and whether the last schema (and other fragment) it met share no key with it. */
typedef struct sky__frag {
    const sky_field *fields;
    size_t n;
    char *json; /* `,"key":value` for each field, as the JSON renderer writes them */
    uint32_t json_len;
    uint32_t json_cap; /* json's allocation (kept when a context block is reused) */
    uint8_t json_state; /* 0: not made yet; 1: made; 2: cannot be (out of memory) */
    uint64_t key_bits;  /* with the JSON: every key's sky__key_bit (util/keybits.h) */
    /* the last SKY__FRAG_CHECKS schemas checked against this fragment alone, and the answers */
#define SKY__FRAG_CHECKS 4
    uint8_t chk_ok, chk_next; /* bit k: schema k shares no key */
    const void *chk_sc[SKY__FRAG_CHECKS];
} sky__frag;

/* What retires, once every record before ring position `at` is freed (async.c): a context
 * block whose scope ended, a bound logger released. */
typedef struct sky__retired {
    struct sky__retired *next;
    uint64_t at;
    void (*free_fn)(struct sky__retired *);
} sky__retired;

/* A context scope's block (skylog.h: sky__ctx_hdr), made for one pipeline at the scope's first
 * site event there. */
typedef struct sky__ctxblk {
    sky__ctx_hdr hdr; /* must be first */
    sky__frag frag;
    struct sky__async *owner;         /* NULL once the pipeline closed (under the block lock) */
    struct sky__ctxblk *next, *prev;  /* the owner's live blocks, or its pool of free ones */
    sky__retired ret;
    size_t cap; /* bytes after the block for its fields and their text */
} sky__ctxblk;

struct sky_event {
    sky_level level;
    const char *name;
    size_t name_len;
    const char *logger;
    size_t logger_len;
    int64_t ts_ns;
    const sky_callsite *cs;
    /* Set when the event comes from a call site's record and nothing changed the event since
     * (the first change clears it): field i has the schema's key i, the name is the schema's.
     * NULL otherwise. */
    const sky__site_schema *schema;
    /* A site event's values (see sky__site_field), in the ring record: valid until the worker
     * frees the batch's ring space, read only while `schema` is set. NULL for other events. */
    const uint64_t *vals;
    uint32_t vals_bytes; /* the record's bytes from `vals` to its end: bounds the values' text */
    /* A site event's context scope (its block's header: sky__event_ctx) and bound logger's
     * fields, rendered before its own fields (NULL: none). Valid while `vals` is. */
    const sky__ctx_hdr *ctxh;
    sky__frag *bnd;
    /* The fields are not decoded from `vals` yet (n is 0): whatever reads or changes fields
     * calls sky__event_ready() first. Processors, filters and sinks that look only at the
     * header (level, name, logger, time, callsite) never pay for decoding. */
    bool lazy;

    sky_field *fields;
    size_t n, cap;
    sky__arena arena;

    /* Undo log for the processor being run: taken on its first change. */
    bool snap_taken;
    sky_field *snap;
    size_t snap_n, snap_cap;
    sky_level snap_level;
    const char *snap_name;
    size_t snap_name_len;
    int64_t snap_ts_ns;

    /* Key index for de-duplicating large field lists. */
    uint32_t *index;
    size_t index_cap;

    /* Async batches: the worker's text area for the batch's JSON lines, so that a batch's
     * lines lie end to end in memory (a file sink then writes them without copying). NULL in
     * sync mode. A line that does not fit goes to the event's own buffer. */
    struct sky__textbuf *shared;
    sky_buf view;   /* the event's JSON line in `shared`, when bit JSON of `viewed` is set */
    uint8_t viewed;
    /* Render cache: each format rendered at most once per event. */
    sky_buf *out; /* SKY_FORMAT_COUNT_ buffers, allocated on the first render into them: the
                   * async worker keeps thousands of events whose lines go to its text area */
    uint8_t rendered; /* bit f: out[f] holds format f */
    sky__render_cache *rcache; /* may be NULL; not owned */
};

typedef struct sky__textbuf {
    char *p;
    size_t used, cap;
} sky__textbuf;

/* A site event's context fragment, or NULL. */
static inline sky__frag *sky__event_ctx(const sky_event *ev)
{
    return ev->ctxh ? &((sky__ctxblk *)(void *)ev->ctxh)->frag : NULL;
}

/* Empties an event for reuse (keeps its allocations). Inline: the worker resets every event. */
static inline void sky__event_reset(sky_event *ev)
{
    ev->n = 0;
    ev->schema = NULL;
    ev->vals = NULL; /* ring memory: never kept past the event */
    ev->ctxh = NULL;
    ev->bnd = NULL;
    ev->lazy = false;
    ev->snap_taken = false;
    if (SKY_UNLIKELY(ev->arena.head != NULL))
        sky__arena_reset(&ev->arena);
    ev->rendered = 0; /* each buffer is emptied when it is next rendered into */
}
/* sky__event_reset for an event that decode_site() fills next: what it sets is left alone. */
static inline void sky__event_reset_site(sky_event *ev)
{
    ev->n = 0;
    ev->snap_taken = false;
    if (SKY_UNLIKELY(ev->arena.head != NULL))
        sky__arena_reset(&ev->arena);
    ev->rendered = 0;
}
/* Decodes a lazy event's fields from its record (out of memory: the event keeps no fields). */
void sky__event_decode(sky_event *ev);
/* Makes ev->fields and ev->n valid. Every reader of fields calls it first, also through a
 * const pointer: readers see events as const, and decoding changes how the fields are held,
 * not what the event says (events are never const objects; only the processing thread touches
 * them). */
static inline void sky__event_ready(const sky_event *ev)
{
    if (SKY_UNLIKELY(ev->lazy))
        sky__event_decode((sky_event *)ev);
}
void sky__event_free(sky_event *ev);
/* Fills an event from a log call: context fields (outer to inner), the logger's bound fields,
 * then the call's fields; later keys win; lazy fields evaluated. Strings are not copied (the
 * caller keeps them alive while the event is processed). Returns false on out-of-memory. */
bool sky__event_build(sky_event *ev, const sky_logger *log, sky_level level, const char *name,
                      const sky_callsite *cs, int64_t ts_ns, const sky_field *fields, size_t n);
/* Sets the event to n fields (contents left to the caller, who guarantees distinct keys);
 * NULL on out-of-memory. */
sky_field *sky__event_fields(sky_event *ev, size_t n);
/* Appends one field without de-duplication (decoders that already de-duplicated use it). */
bool sky__event_append(sky_event *ev, const sky_field *f);
/* Sets the event's fields to copies of `n` views (usable fields only; strings not copied), then
 * de-duplicates. The async worker uses it on fields that point into a ring record. */
bool sky__event_load(sky_event *ev, const sky_field *fields, size_t n);
/* Removes earlier fields whose key repeats later. */
bool sky__event_dedup(sky_event *ev);
/* Begins/ends one processor's turn (undo support). */
void sky__event_turn_begin(sky_event *ev);
void sky__event_turn_undo(sky_event *ev);
/* Renderers (src/encode). Each appends one line ending in '\n'. */
void sky__render_json(const sky_event *ev, sky_buf *out);
/* One field's value as JSON, as the JSON renderer writes it (strings escaped and repaired,
 * non-finite doubles as strings, errno and times as strings, JSON fragments embedded when
 * valid). For encoders that frame fields their own way (OTLP). */
void sky__json_value(sky_buf *out, const sky_field *f);
/* The JSON line of an untouched call-site event (ev->schema set) at d, with `avail` bytes of
 * room, when its line is in the render cache and every value has a direct writer: returns the
 * line's end. NULL: render it with sky__render_json. */
char *sky__render_site_at(const sky_event *ev, char *d, size_t avail);
void sky__render_logfmt(const sky_event *ev, sky_buf *out);
void sky__render_pretty(const sky_event *ev, sky_buf *out, bool color);
/* The event in a format, rendered on first request. NULL on out-of-memory. */
const sky_buf *sky__event_render(sky_event *ev, sky_format format);
/* Its two halves. The event's JSON line in the batch's text area (sky_event.shared): rendered
 * there on first request; NULL when the event has no area, or its line is already in its own
 * buffer, or does not fit what is left of the area. Inline: the async router calls it for
 * every event. */
static inline const sky_buf *sky__event_render_area(sky_event *ev)
{
    const uint8_t bit = 1u << SKY_FORMAT_JSON;
    if (ev->rendered & bit)
        return ev->viewed & bit ? &ev->view : NULL;
    sky__textbuf *t = ev->shared;
    if (!t || t->cap - t->used <= 256)
        return NULL;
    char *end;
    char *at = t->p + t->used;
    if (ev->schema && (end = sky__render_site_at(ev, at, t->cap - t->used))) {
        /* an untouched call-site event whose line the cache has: no checks while writing
         * (member by member: a compound literal also writes the padding) */
        ev->view.p = at;
        ev->view.len = (size_t)(end - at);
        ev->view.cap = t->cap - t->used;
        ev->view.oom = false;
        ev->view.fixed = true;
        t->used += ev->view.len;
        ev->rendered |= bit;
        ev->viewed |= bit;
        return &ev->view;
    }
    ev->view.p = t->p + t->used;
    ev->view.len = 0;
    ev->view.cap = t->cap - t->used;
    ev->view.oom = false;
    ev->view.fixed = true;
    sky__render_json(ev, &ev->view);
    if (ev->view.oom)
        return NULL; /* too long for what is left of the area: the event's own buffer */
    t->used += ev->view.len;
    ev->rendered |= bit;
    ev->viewed |= bit;
    return &ev->view;
}
/* The event in a format in the event's own buffer (or the area, if its line is there). */
const sky_buf *sky__event_render_own(sky_event *ev, sky_format format);

/* ---- loggers -------------------------------------------------------------------------------- */

struct sky_logger {
    struct sky__logger_hdr hdr; /* must be first: sky_enabled() reads it */
    sky_t *sky;
    char *name;
    size_t name_len;
    int explicit_level;       /* -1 when inherited */
    bool bound;               /* made by sky_logger_bind(), owned by the user */
    struct sky_logger *base;  /* bound loggers: the registered logger they derive from */
    sky_field *fields;        /* bound fields (deep copy, one allocation with their strings) */
    size_t n_fields;
    sky__frag frag;           /* bound loggers of an async pipeline without lazy fields: the
                                 fields site records reference (fields == this->fields) */
    sky__frag *bfrag;         /* &frag for those, else NULL */
    sky__retired ret;         /* released while site records may reference it */
    struct sky_logger *next;  /* registry list, or the list of bound loggers */
    struct sky_logger *prev;
};

void sky__loggers_free(sky_t *sky);
/* sky_logger_get and sky_set_level on a given pipeline (NULL: the logger that logs nothing, and
 * SKY_ENOMEM). The public functions, where NULL means the default pipeline, are config's
 * (config/env.c): the core knows nothing of how the default pipeline is configured. */
sky_logger *sky__logger_get(sky_t *sky, const char *name);
sky_status sky__set_level(sky_t *sky, const char *name, sky_level level);

/* ---- processors and sinks ------------------------------------------------------------------- */

typedef struct sky__processor {
    char *name;
    sky_processor_fn fn;
    void *user;
    void (*free_user)(void *);
    _Atomic uint64_t calls, drops, failures, total_ns;
} sky__processor;

struct sky_sink {
    const sky_sink_vtable *vt;
    void *self;
    sky_format format;
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

    sky_event ev; /* sync mode: the one event being processed, under `lock` */
    sky__render_cache rcache; /* sync mode: ev's callsite cache */
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

/* Context blocks (async.c). A new block for the pipeline, from the context's frames (NULL when
 * a field is lazy, or out of memory: the general path copies the context per event). */
sky__ctxblk *sky__async_ctx_new(sky_t *sky, const sky_field *const *frames, const size_t *counts,
                                size_t depth);
/* The block's scope ended: freed once no queued record can reference it. */
void sky__async_ctx_retire(sky__ctxblk *b);
/* A bound logger released: freed likewise (false: not async, free it now). */
bool sky__async_logger_retire(sky_logger *log);
/* Frees a fragment's worker-made parts. */
void sky__frag_free(sky__frag *f);
/* The calling thread's context block for the pipeline whose fast handle is q, made at the
 * scope's first event (context.c); NULL: the call copies the context on the general path. */
const sky__ctxblk *sky__context_block(sky_t *sky);
/* Renders a fragment's JSON if not done yet; false if it cannot be. */
bool sky__frag_render(sky__frag *f);

/* Depth of the calling thread's context stack (context.c): declared in skylog.h, exported,
 * since inlined call sites read it. */
/* Context of the calling thread, outer to inner. */
size_t sky__context_frames(const sky_field *const **fields, const size_t **counts);
uint64_t sky__context_overflows(void);


/* Helpers shared by renderers: the "module" of a callsite (file basename without extension). */
void sky__callsite_module(const sky_callsite *cs, const char **p, size_t *n);
/* Reserved top-level keys a user field must not shadow; true if (k, n) is one. */
bool sky__is_reserved_key(const char *k, size_t n);

#endif
