/*
 * event.h - the event the core processes: its fields, arena and undo log, the call-site
 * schemas and context fragments site records reference, and the event's rendered lines.
 *
 * Included by src/core and the layers above it, never below. Events are owned by the processing
 * thread (the caller under the pipeline lock in sync mode, the worker in async mode).
 */
#ifndef SKY_CORE_EVENT_H
#define SKY_CORE_EVENT_H

#include <skylog.h>

#include "util/buf.h"

#include <stdatomic.h>
#include <stddef.h>

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

/* The renderers' per-callsite cache (src/encode/render.h: its layout is theirs). The core
 * keeps one wherever it keeps events (the pipeline in sync mode, the worker in async mode), as
 * room of this size it never looks inside; render.h asserts that the cache fits. */
typedef struct sky__render_cache sky__render_cache;
typedef union sky__render_room {
    max_align_t align;
    unsigned char bytes[36u << 10];
} sky__render_room;

/* A call site's schema (see sky__site in skylog.h) with what the JSON renderer needs: each
 * field's `,"key":` text, rendered once (escaped, reserved keys prefixed with '_'). Immutable
 * once published; never freed (a site is static, so is what it points at). */
typedef struct sky__site_schema {
    sky__schema pub; /* must be first */
    size_t name_len;
    uint16_t key_off[SKY__SITE_MAX + 1]; /* field i's text is text[key_off[i] .. key_off[i+1]) */
    uint64_t key_bits; /* every key's sky__key_bit (util/keybits.h) */
    uint32_t str_mask; /* bit i: field i is a string (SKY_T_STR or SKY_T_JSON) */
    char text[]; /* followed by 16 spare bytes (zeroes): keys are copied as 16-byte words */
} sky__site_schema;

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

/* The memory a pipeline's context blocks hold (async.c), and its bound: the blocks and any
 * text the worker allocates for them are counted here, and refused past `limit` (the scope's
 * events then copy its fields into their records, as without blocks). `high`: the most ever
 * held. */
typedef struct sky__budget {
    _Atomic uint64_t used, high;
    uint64_t limit;
} sky__budget;

/* Takes n bytes of g; false (nothing taken) when that would pass the limit, unless `force`. */
static inline bool sky__budget_take(sky__budget *g, uint64_t n, bool force)
{
    if (!force && atomic_load_explicit(&g->used, memory_order_relaxed) + n > g->limit)
        return false; /* the usual refusal: a load, no write to the shared line */
    uint64_t now = atomic_fetch_add_explicit(&g->used, n, memory_order_relaxed) + n;
    if (!force && now > g->limit) {
        atomic_fetch_sub_explicit(&g->used, n, memory_order_relaxed);
        return false;
    }
    uint64_t h = atomic_load_explicit(&g->high, memory_order_relaxed);
    while (h < now && !atomic_compare_exchange_weak_explicit(&g->high, &h, now,
                                                             memory_order_relaxed,
                                                             memory_order_relaxed))
        ;
    return true;
}
static inline void sky__budget_give(sky__budget *g, uint64_t n)
{
    atomic_fetch_sub_explicit(&g->used, n, memory_order_relaxed);
}

/* Fields copied once and rendered once, which site records reference instead of carrying
 * them: a bound logger's fields, or a thread's context scope (its frames merged, outer to
 * inner). The fields' keys are distinct and no field is lazy. The rest is the worker's own
 * (the worker of the one pipeline the fragment belongs to): the fields' JSON, made at first
 * use, and whether the last schema (and other fragment) it met share no key with it. */
typedef struct sky__frag {
    const sky_field *fields;
    size_t n;
    /* `,"key":value` for each field, as the JSON renderer writes them. A context block gives
     * it the room left after its fields (json_own 0); text that does not fit there, and a
     * bound logger's, has an allocation of its own (json_own 1), counted in `budget` if set. */
    char *json;
    uint32_t json_len;
    uint32_t json_cap; /* json's room */
    uint8_t json_state; /* 0: not made yet; 1: made; 2: cannot be (out of memory, budget) */
    uint8_t json_own;
    uint8_t in_record; /* a scope's copy in its record (async.c): nothing may be allocated */
    sky__budget *budget; /* a context block's pipeline's; NULL: not counted */
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
    struct sky__ctxslab *slab; /* the allocation it shares with others (async.c), or NULL */
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
/* How an event becomes a line. The renderers are above the core (src/encode); each sink carries
 * its format's table (sky_sink.render, set by sky_sink_new in src/sinks/sink.c), and the router
 * calls through it, so the core names no renderer. */
typedef struct sky__renderer {
    /* Appends the event's line in format f, ending in '\n' (NULL for SKY_FORMAT_NONE, AUTO). */
    void (*line[SKY_FORMAT_COUNT_])(const sky_event *ev, sky_buf *out);
    /* The JSON line of an untouched call-site event (ev->schema set) at d, with `avail` bytes
     * of room, when its line is in the render cache and every value has a direct writer:
     * returns the line's end. NULL: render it with line[SKY_FORMAT_JSON]. */
    char *(*site_at)(const sky_event *ev, char *d, size_t avail);
} sky__renderer;
/* The event in a format, rendered with r on first request. NULL on out-of-memory. */
const sky_buf *sky__event_render(sky_event *ev, sky_format format, const sky__renderer *r);
/* Its two halves. The event's JSON line in the batch's text area (sky_event.shared): rendered
 * there on first request; NULL when the event has no area, or its line is already in its own
 * buffer, or does not fit what is left of the area. Inline: the async router calls it for
 * every event. */
static inline const sky_buf *sky__event_render_area(sky_event *ev, const sky__renderer *r)
{
    const uint8_t bit = 1u << SKY_FORMAT_JSON;
    if (ev->rendered & bit)
        return ev->viewed & bit ? &ev->view : NULL;
    sky__textbuf *t = ev->shared;
    if (!t || t->cap - t->used <= 256)
        return NULL;
    char *end;
    char *at = t->p + t->used;
    if (ev->schema && (end = r->site_at(ev, at, t->cap - t->used))) {
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
    r->line[SKY_FORMAT_JSON](ev, &ev->view);
    if (ev->view.oom)
        return NULL; /* too long for what is left of the area: the event's own buffer */
    t->used += ev->view.len;
    ev->rendered |= bit;
    ev->viewed |= bit;
    return &ev->view;
}
/* The event in a format in the event's own buffer (or the area, if its line is there). */
const sky_buf *sky__event_render_own(sky_event *ev, sky_format format, const sky__renderer *r);

/* The top-level keys an event's line reserves for its header (timestamp, level, logger, message,
 * module, func, line): the JSON renderer writes a user field with one with a leading '_', and
 * the call-site schemas render their keys the same way. Inline: the renderer asks for every
 * field, and most keys fail the first test (reserved keys are 4..9 bytes, start with f, l, m
 * or t). */
static inline bool sky__is_reserved_key(const char *k, size_t n)
{
    if (!(n - 4 <= 5 && ((1u << (k[0] & 31)) & (1u << ('f' & 31) | 1u << ('l' & 31) |
                                                 1u << ('m' & 31) | 1u << ('t' & 31)))))
        return false;
    switch (n) {
    case 4: return memcmp(k, "func", 4) == 0 || memcmp(k, "line", 4) == 0;
    case 5: return memcmp(k, "level", 5) == 0;
    case 6: return memcmp(k, "logger", 6) == 0 || memcmp(k, "module", 6) == 0;
    case 7: return memcmp(k, "message", 7) == 0;
    case 9: return memcmp(k, "timestamp", 9) == 0;
    default: return false;
    }
}

#endif
