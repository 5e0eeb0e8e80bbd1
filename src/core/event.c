/*
 * event.c - the mutable event that processors and sinks see.
 *
 * An event is a view: its fields point at the caller's strings (sync mode) or at the ring slot
 * they were copied into (async mode). Only what processors add is copied, into a per-event bump
 * arena. One event object is reused for every event of a pipeline, so in steady state building,
 * processing and rendering an event allocates nothing.
 *
 * Duplicate keys: later fields win (call > bound > inner context > outer context), and the
 * winner keeps its own position. Small lists are checked pairwise; lists longer than
 * DEDUP_LINEAR use an open-addressed index, so a 10,000-field event stays linear.
 */
#include "core/pipeline.h"

#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK 4096
#define DEDUP_LINEAR 24
#define LAZY_BUF 256
_Static_assert(SKY_FORMAT_COUNT_ <= 8, "sky_event.rendered is a byte of flags");

/* ---- arena ---------------------------------------------------------------------------------- */

void *sky__arena_alloc(sky__arena *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    sky__arena_chunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
        sky__arena_chunk *nc = malloc(sizeof *nc + cap);
        if (!nc)
            return NULL;
        nc->used = 0;
        nc->cap = cap;
        nc->next = c;
        a->head = nc;
        c = nc;
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

char *sky__arena_strndup(sky__arena *a, const char *s, size_t n)
{
    char *p = sky__arena_alloc(a, n + 1);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void sky__arena_reset(sky__arena *a)
{
    sky__arena_chunk *c = a->head;
    if (!c)
        return;
    /* keep the oldest chunk (the last in the list), free the rest */
    while (c->next) {
        sky__arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    c->used = 0;
    a->head = c;
}

void sky__arena_free(sky__arena *a)
{
    sky__arena_chunk *c = a->head;
    while (c) {
        sky__arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

void sky__event_free(sky_event *ev)
{
    free(ev->fields);
    free(ev->snap);
    free(ev->index);
    sky__arena_free(&ev->arena);
    if (ev->out)
        for (int f = 0; f < SKY_FORMAT_COUNT_; f++)
            sky__buf_free(&ev->out[f]);
    free(ev->out);
    memset(ev, 0, sizeof *ev);
}

static bool reserve_fields(sky_event *ev, size_t extra)
{
    if (ev->cap - ev->n >= extra)
        return true;
    size_t cap = ev->cap ? ev->cap : 4; /* the async worker keeps 2,050 events: RSS */
    while (cap - ev->n < extra)
        cap *= 2;
    sky_field *f = realloc(ev->fields, cap * sizeof *f);
    if (!f)
        return false;
    ev->fields = f;
    ev->cap = cap;
    return true;
}

bool sky__event_append(sky_event *ev, const sky_field *f)
{
    if (!f->key || f->type == SKY_T_NONE || f->type >= SKY_T_COUNT_)
        return true; /* unusable slots are skipped, not errors */
    if (!reserve_fields(ev, 1))
        return false;
    ev->fields[ev->n++] = *f;
    return true;
}

sky_field *sky__event_fields(sky_event *ev, size_t n)
{
    if (!reserve_fields(ev, n))
        return NULL;
    ev->n = n;
    return ev->fields;
}

void sky__event_decode(sky_event *ev)
{
    const sky__site_schema *sc = ev->schema;
    size_t n = sc->pub.n;
    /* render order: the context scope's fields, the bound logger's, the call's */
    sky__frag *ctx = sky__event_ctx(ev);
    size_t nc = ctx ? ctx->n : 0, nb = ev->bnd ? ev->bnd->n : 0;
    ev->lazy = false;
    sky_field *f = sky__event_fields(ev, nc + nb + n);
    if (!f && nc + nb + n) {
        /* out of memory: keep the event, without its fields; it is no longer the record */
        ev->n = 0;
        ev->schema = NULL;
        return;
    }
    if (nc)
        memcpy(f, ctx->fields, nc * sizeof *f);
    if (nb)
        memcpy(f + nc, ev->bnd->fields, nb * sizeof *f);
    const char *s = (const char *)(ev->vals + n);
    for (size_t i = 0; i < n; i++)
        sky__site_field(sc, i, ev->vals, &s, &f[nc + nb + i]);
    if (nc + nb && !sky__event_dedup(ev))
        ev->n = nc + nb + n; /* out of memory for the index: keep every field */
}

bool sky__event_load(sky_event *ev, const sky_field *fields, size_t n)
{
    if (!reserve_fields(ev, n))
        return false;
    if (n)
        memcpy(ev->fields, fields, n * sizeof *fields);
    ev->n = n;
    return sky__event_dedup(ev);
}

static void resolve_lazy(sky_event *ev, sky_field *f)
{
    char *buf = sky__arena_alloc(&ev->arena, LAZY_BUF);
    sky_field v;
    if (!buf) {
        v = sky_field_null(NULL);
    } else {
        buf[0] = '\0';
        v = f->v.lazy.fn(f->v.lazy.user, buf, LAZY_BUF);
        if (v.type == SKY_T_LAZY || v.type >= SKY_T_COUNT_ || v.type == SKY_T_NONE)
            v.type = SKY_T_NULL;
        if ((v.type == SKY_T_STR || v.type == SKY_T_JSON) && !v.v.str.ptr)
            v.type = SKY_T_NULL;
    }
    f->type = v.type;
    f->v = v.v;
}

static inline bool key_eq(const sky_field *a, const sky_field *b)
{
    return a->key_len == b->key_len &&
           (a->key_len == 0 || (a->key[0] == b->key[0] && memcmp(a->key, b->key, a->key_len) == 0));
}

static uint32_t key_hash(const char *k, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)k[i]) * 16777619u;
    return h;
}

bool sky__event_dedup(sky_event *ev)
{
    size_t n = ev->n;
    if (n < 2)
        return true;
    /* Walk from the end; keep a field if no later one has its key. Mark losers with NONE. */
    bool any = false;
    if (n <= DEDUP_LINEAR) {
        for (size_t i = n - 1; i-- > 0;) {
            for (size_t j = i + 1; j < n; j++) {
                if (ev->fields[j].type != SKY_T_NONE && key_eq(&ev->fields[i], &ev->fields[j])) {
                    ev->fields[i].type = SKY_T_NONE;
                    any = true;
                    break;
                }
            }
        }
    } else {
        size_t cap = 1;
        while (cap < n * 2)
            cap <<= 1;
        if (ev->index_cap < cap) {
            uint32_t *ix = realloc(ev->index, cap * sizeof *ix);
            if (!ix)
                return false;
            ev->index = ix;
            ev->index_cap = cap;
        }
        memset(ev->index, 0xff, cap * sizeof *ev->index);
        for (size_t i = n; i-- > 0;) {
            sky_field *f = &ev->fields[i];
            size_t h = key_hash(f->key, f->key_len) & (cap - 1);
            for (;;) {
                uint32_t slot = ev->index[h];
                if (slot == UINT32_MAX) {
                    ev->index[h] = (uint32_t)i;
                    break;
                }
                if (key_eq(&ev->fields[slot], f)) {
                    f->type = SKY_T_NONE;
                    any = true;
                    break;
                }
                h = (h + 1) & (cap - 1);
            }
        }
    }
    if (any) {
        size_t w = 0;
        for (size_t i = 0; i < n; i++)
            if (ev->fields[i].type != SKY_T_NONE)
                ev->fields[w++] = ev->fields[i];
        ev->n = w;
    }
    return true;
}

bool sky__event_build(sky_event *ev, const sky_logger *log, sky_level level, const char *name,
                      const sky_callsite *cs, int64_t ts_ns, const sky_field *fields, size_t n)
{
    sky__event_reset(ev);
    ev->level = level;
    ev->name = name ? name : "";
    ev->name_len = strlen(ev->name);
    ev->logger = log->name;
    ev->logger_len = log->name_len;
    ev->ts_ns = ts_ns;
    ev->cs = cs;

    const sky_field *const *frames;
    const size_t *counts;
    size_t depth = sky__context_frames(&frames, &counts);
    size_t total = n + log->n_fields;
    for (size_t d = 0; d < depth; d++)
        total += counts[d];
    if (!reserve_fields(ev, total))
        return false;
    for (size_t d = 0; d < depth; d++)
        for (size_t i = 0; i < counts[d]; i++)
            sky__event_append(ev, &frames[d][i]);
    for (size_t i = 0; i < log->n_fields; i++)
        sky__event_append(ev, &log->fields[i]);
    for (size_t i = 0; i < n; i++)
        sky__event_append(ev, &fields[i]);
    for (size_t i = 0; i < ev->n; i++)
        if (ev->fields[i].type == SKY_T_LAZY)
            resolve_lazy(ev, &ev->fields[i]);
    return sky__event_dedup(ev);
}

/* ---- undo for failing processors ------------------------------------------------------------ */

void sky__event_turn_begin(sky_event *ev) { ev->snap_taken = false; }

/* Called before the first change in a processor's turn. */
static bool snapshot(sky_event *ev)
{
    /* Every change goes through here: from now on the event is no longer its call site's
     * record as the schema describes it, and renders the general way. */
    sky__event_ready(ev); /* decoding needs the schema */
    ev->schema = NULL;
    if (ev->snap_taken)
        return true;
    if (ev->snap_cap < ev->n) {
        size_t cap = ev->n < 32 ? 32 : ev->n;
        sky_field *s = realloc(ev->snap, cap * sizeof *s);
        if (!s)
            return false;
        ev->snap = s;
        ev->snap_cap = cap;
    }
    if (ev->n)
        memcpy(ev->snap, ev->fields, ev->n * sizeof *ev->fields);
    ev->snap_n = ev->n;
    ev->snap_level = ev->level;
    ev->snap_name = ev->name;
    ev->snap_name_len = ev->name_len;
    ev->snap_ts_ns = ev->ts_ns;
    ev->snap_taken = true;
    return true;
}

void sky__event_turn_undo(sky_event *ev)
{
    if (!ev->snap_taken)
        return;
    memcpy(ev->fields, ev->snap, ev->snap_n * sizeof *ev->fields);
    ev->n = ev->snap_n;
    ev->level = ev->snap_level;
    ev->name = ev->snap_name;
    ev->name_len = ev->snap_name_len;
    ev->ts_ns = ev->snap_ts_ns;
    ev->snap_taken = false;
}

/* ---- public accessors ----------------------------------------------------------------------- */

sky_level sky_event_level(const sky_event *ev) { return ev->level; }
const char *sky_event_name(const sky_event *ev) { return ev->name; }
const char *sky_event_logger(const sky_event *ev) { return ev->logger; }
int64_t sky_event_time_ns(const sky_event *ev) { return ev->ts_ns; }
const sky_callsite *sky_event_callsite(const sky_event *ev) { return ev->cs; }
size_t sky_event_field_count(const sky_event *ev)
{
    sky__event_ready(ev);
    return ev->n;
}

const sky_field *sky_event_field_at(const sky_event *ev, size_t i)
{
    sky__event_ready(ev);
    return i < ev->n ? &ev->fields[i] : NULL;
}

static ptrdiff_t find(const sky_event *ev, const char *key, size_t len)
{
    sky__event_ready(ev);
    for (size_t i = 0; i < ev->n; i++)
        if (ev->fields[i].key_len == len && memcmp(ev->fields[i].key, key, len) == 0)
            return (ptrdiff_t)i;
    return -1;
}

const sky_field *sky_event_get(const sky_event *ev, const char *key)
{
    if (!key)
        return NULL;
    ptrdiff_t i = find(ev, key, strlen(key));
    return i < 0 ? NULL : &ev->fields[i];
}

sky_status sky_event_set(sky_event *ev, sky_field f)
{
    if (!f.key || f.type == SKY_T_NONE || f.type >= SKY_T_COUNT_)
        return SKY_EINVAL;
    if (!snapshot(ev))
        return SKY_ENOMEM;
    f.key_len = (uint32_t)strlen(f.key);
    char *k = sky__arena_strndup(&ev->arena, f.key, f.key_len);
    if (!k)
        return SKY_ENOMEM;
    f.key = k;
    if (f.type == SKY_T_LAZY)
        resolve_lazy(ev, &f);
    if (f.type == SKY_T_STR || f.type == SKY_T_JSON) {
        char *v = sky__arena_strndup(&ev->arena, f.v.str.ptr, f.v.str.len);
        if (!v)
            return SKY_ENOMEM;
        f.v.str.ptr = v;
    }
    ev->rendered = 0;
    ptrdiff_t at = find(ev, k, f.key_len);
    if (at >= 0) {
        ev->fields[at] = f;
        return SKY_OK;
    }
    if (!reserve_fields(ev, 1))
        return SKY_ENOMEM;
    ev->fields[ev->n++] = f;
    return SKY_OK;
}

bool sky_event_remove(sky_event *ev, const char *key)
{
    if (!key)
        return false;
    ptrdiff_t at = find(ev, key, strlen(key));
    if (at < 0 || !snapshot(ev))
        return false;
    memmove(&ev->fields[at], &ev->fields[at + 1], (ev->n - (size_t)at - 1) * sizeof *ev->fields);
    ev->n--;
    ev->rendered = 0;
    return true;
}

sky_status sky_event_rename(sky_event *ev, const char *from, const char *to)
{
    if (!from || !to || !*to)
        return SKY_EINVAL;
    ptrdiff_t at = find(ev, from, strlen(from));
    if (at < 0)
        return SKY_ENOTFOUND;
    if (!snapshot(ev))
        return SKY_ENOMEM;
    size_t tl = strlen(to);
    char *k = sky__arena_strndup(&ev->arena, to, tl);
    if (!k)
        return SKY_ENOMEM;
    ptrdiff_t clash = find(ev, to, tl);
    ev->fields[at].key = k;
    ev->fields[at].key_len = (uint32_t)tl;
    if (clash >= 0 && clash != at) {
        memmove(&ev->fields[clash], &ev->fields[clash + 1],
                (ev->n - (size_t)clash - 1) * sizeof *ev->fields);
        ev->n--;
    }
    ev->rendered = 0;
    return SKY_OK;
}

void sky_event_set_level(sky_event *ev, sky_level level)
{
    if ((unsigned)level >= SKY_LEVEL_OFF || !snapshot(ev))
        return;
    ev->level = level;
    ev->rendered = 0;
}

void sky_event_set_time(sky_event *ev, int64_t ns)
{
    if (!snapshot(ev))
        return;
    ev->ts_ns = ns;
    ev->rendered = 0;
}

sky_status sky_event_set_name(sky_event *ev, const char *name)
{
    if (!name)
        return SKY_EINVAL;
    if (!snapshot(ev))
        return SKY_ENOMEM;
    size_t n = strlen(name);
    char *p = sky__arena_strndup(&ev->arena, name, n);
    if (!p)
        return SKY_ENOMEM;
    ev->name = p;
    ev->name_len = n;
    ev->rendered = 0;
    return SKY_OK;
}

/* ---- rendering cache ------------------------------------------------------------------------ */

const sky_buf *sky__event_render_own(sky_event *ev, sky_format format, const sky__renderer *r)
{
    if ((unsigned)format >= SKY_FORMAT_COUNT_ || format == SKY_FORMAT_NONE)
        return NULL;
    uint8_t bit = (uint8_t)(1u << format);
    if (ev->rendered & bit && ev->viewed & bit)
        return &ev->view;
    if (!ev->out && !(ev->out = calloc(SKY_FORMAT_COUNT_, sizeof *ev->out)))
        return NULL;
    sky_buf *b = &ev->out[format];
    if (ev->rendered & bit)
        return b->oom ? NULL : b;
    ev->viewed &= (uint8_t)~bit;
    sky__buf_reset(b);
    r->line[format](ev, b);
    ev->rendered |= bit;
    return b->oom ? NULL : b;
}

const sky_buf *sky__event_render(sky_event *ev, sky_format format, const sky__renderer *r)
{
    const sky_buf *b = format == SKY_FORMAT_JSON ? sky__event_render_area(ev, r) : NULL;
    return b ? b : sky__event_render_own(ev, format, r);
}
