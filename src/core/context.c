/*
 * context.c - per-thread scoped context: a small stack of field arrays.
 *
 * A push stores a pointer to the caller's array, not a copy: SKY_WITH_CONTEXT's array lives
 * in the caller's block for exactly as long as the scope, so pushing costs a few stores. Pushes
 * beyond SKY_CONTEXT_MAX_DEPTH are refused and counted; their pops are matched so the stack
 * never goes out of step.
 *
 * Async site events do not copy the context per event: at a scope's first site event for a
 * pipeline, the scope's fields (every frame, merged) are copied once into a block
 * (async.c: sky__async_ctx_new) that the worker renders once, and each record carries the
 * block's address. `sky__ctx_cur` is what inlined call sites read: NULL without context, the
 * innermost frame's block, or `pending` (whose pipeline is none) until the block exists. A
 * frame's block is retired at its pop, or at thread exit for frames never popped, and freed
 * by the worker once no queued record can reference it. The values are therefore read at the
 * scope's first event: changing a pushed field in place afterwards is not seen by site events
 * of an async pipeline (documented at sky_context_push).
 */
#include "core/pipeline.h"

#include <pthread.h>

#define BLK_NEVER ((sky__ctxblk *)1) /* a frame whose fields cannot have a block (lazy) */

/* initial-exec: the async hot path reads this on every call; the default model in a PIC
 * library costs a __tls_get_addr call each time. The block is small (~780 bytes). */
static _Thread_local __attribute__((tls_model("initial-exec"))) struct {
    const sky_field *fields[SKY_CONTEXT_MAX_DEPTH];
    size_t counts[SKY_CONTEXT_MAX_DEPTH];
    sky__ctxblk *blk[SKY_CONTEXT_MAX_DEPTH]; /* NULL: not made yet; BLK_NEVER; a block */
    size_t refused; /* pushes refused and not yet popped */
} ctx;
/* The stack's depth, apart so inlined call sites can test it (skylog.h). */
_Thread_local __attribute__((tls_model("initial-exec"))) size_t sky__ctx_depth;
_Thread_local __attribute__((tls_model("initial-exec"))) const sky__ctx_hdr *sky__ctx_cur;

static const sky__ctx_hdr pending = {NULL};

static inline bool real_blk(const sky__ctxblk *b) { return b && b != BLK_NEVER; }

/* What call sites see for the current depth. */
static inline void set_cur(void)
{
    size_t d = sky__ctx_depth;
    sky__ctx_cur = !d ? NULL : real_blk(ctx.blk[d - 1]) ? &ctx.blk[d - 1]->hdr : &pending;
}

/* Blocks of frames a thread never popped are retired when it exits. */
static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;
static void at_thread_exit(void *unused)
{
    (void)unused;
    while (sky__ctx_depth) {
        sky__ctx_depth--;
        if (real_blk(ctx.blk[sky__ctx_depth]))
            sky__async_ctx_retire(ctx.blk[sky__ctx_depth]);
    }
    sky__ctx_cur = NULL;
}
static void make_exit_key(void) { pthread_key_create(&exit_key, at_thread_exit); }
/* this thread's exit_key value is set (a forked child's thread inherits it with the value) */
static _Thread_local __attribute__((tls_model("initial-exec"))) bool exit_armed;

const sky__ctxblk *sky__context_block(sky_t *sky)
{
    size_t d = sky__ctx_depth;
    if (!d)
        return NULL;
    sky__ctxblk *b = ctx.blk[d - 1];
    if (b == BLK_NEVER)
        return NULL;
    if (b)
        /* made for another pipeline (or one that closed): the general path */
        return atomic_load_explicit(&b->hdr.q, memory_order_relaxed) ==
                       (sky__fast *)(void *)sky->async /* its first member */
                   ? b
                   : NULL;
    pthread_once(&exit_once, make_exit_key);
    b = sky__async_ctx_new(sky, ctx.fields, ctx.counts, d);
    if (!b)
        return NULL; /* lazy fields (marked by the maker) or out of memory: try next time */
    if (!exit_armed) { /* once a thread: ~35 instructions a scope otherwise */
        pthread_setspecific(exit_key, (void *)1);
        exit_armed = true;
    }
    ctx.blk[d - 1] = b;
    set_cur();
    return b;
}

static _Atomic uint64_t overflows;

sky_status sky_context_push(const sky_field *fields, size_t n)
{
    if (sky__ctx_depth == SKY_CONTEXT_MAX_DEPTH || ctx.refused) {
        ctx.refused++;
        atomic_fetch_add_explicit(&overflows, 1, memory_order_relaxed);
        return SKY_EFULL;
    }
    if (!fields && n)
        return SKY_EINVAL;
    ctx.fields[sky__ctx_depth] = fields;
    ctx.counts[sky__ctx_depth] = n;
    ctx.blk[sky__ctx_depth] = NULL;
    for (size_t i = 0; i < n; i++)
        if (fields[i].type == SKY_T_LAZY) /* evaluated per event: no block */
            ctx.blk[sky__ctx_depth] = BLK_NEVER;
    if (sky__ctx_depth && ctx.blk[sky__ctx_depth - 1] == BLK_NEVER)
        ctx.blk[sky__ctx_depth] = BLK_NEVER; /* blocks hold every frame */
    sky__ctx_depth++;
    set_cur();
    return SKY_OK;
}

void sky_context_pop(void)
{
    if (ctx.refused) {
        ctx.refused--;
    } else if (sky__ctx_depth) {
        sky__ctx_depth--;
        if (real_blk(ctx.blk[sky__ctx_depth]))
            sky__async_ctx_retire(ctx.blk[sky__ctx_depth]);
        set_cur();
    }
}

size_t sky_context_size(void)
{
    size_t n = 0;
    for (size_t i = 0; i < sky__ctx_depth; i++)
        n += ctx.counts[i];
    return n;
}

sky_context_scope sky__context_scope_begin(const sky_field *fields, size_t n)
{
    /* A refused push is still a scope: its end pops the refusal. */
    sky_context_push(fields, n);
    return (sky_context_scope){.once = 1};
}

void sky__context_scope_end(sky_context_scope *scope)
{
    (void)scope;
    sky_context_pop();
}

size_t sky__context_frames(const sky_field *const **fields, const size_t **counts)
{
    *fields = ctx.fields;
    *counts = ctx.counts;
    return sky__ctx_depth;
}

uint64_t sky__context_overflows(void)
{
    return atomic_load_explicit(&overflows, memory_order_relaxed);
}
