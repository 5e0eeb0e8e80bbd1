/*
 * context.c - per-thread scoped context: a small stack of field arrays.
 *
 * A push stores a pointer to the caller's array, not a copy: SKY_WITH_CONTEXT's array lives
 * in the caller's block for exactly as long as the scope, so pushing costs a few stores. Pushes
 * beyond SKY_CONTEXT_MAX_DEPTH are refused and counted; their pops are matched so the stack
 * never goes out of step.
 *
 * Async site events do not copy the context per event: the scope's fields (every frame,
 * merged) are copied once into a block for a pipeline that the worker renders once, and
 * each record carries the block's address. The block is made at the push, from the pool of
 * the thread's home pipeline (the one its last block made at a first event was for:
 * async.c, sky__async_ctx_push), so that the scope's first event takes the inlined path
 * too; else (no home yet, an empty pool, a pipeline closed since) at the scope's first site
 * event for a pipeline (async.c: context_block, ctx_new). A first event for another
 * pipeline than the block's makes that pipeline the home. `sky__ctx_cur` is what inlined
 * call sites read: NULL without context, the innermost frame's block, or `pending` (whose
 * pipeline is none) until the block exists. The values are therefore read at the push or
 * at the scope's first event: changing a pushed field in place after the push may not be
 * seen by site events of an async pipeline (documented at sky_context_push).
 *
 * A block's life (the lists are the pipeline's, under async.c's blk_lock, held for a few
 * dozen instructions, whose waiters spin briefly and then sleep; never taken on a log call):
 *   pooled  - free, in its pipeline's pool, its worker-side state (JSON, key-check answers)
 *             reset by the worker that pooled it.
 *   live    - taken from the pool (or made to measure when the pool is empty or its head
 *             is too small, which is then freed) and filled at the push or first event, then
 *             linked into the pipeline's `blocks` with its `owner` and `hdr.q` set; this
 *             thread's frame points at it. Only this thread writes its fields, once, before
 *             any record names it; the worker reads them after the record's release-commit.
 *             The room after its fields is for the JSON the worker renders from them.
 *   retired - at the frame's pop (or at thread exit, by a TLS key destructor, for frames
 *             never popped): unlinked from `blocks` and put on the pipeline's `retired` list
 *             with the ring's head at that moment (`at`). Every record that names the block
 *             was reserved before that head.
 *   waiting - the worker moves the retired list, oldest first, into its own queue; once the
 *             ring's tail passes a block's `at` (every record naming it is written), the
 *             worker pools it (or frees it, if it is over CTX_POOL_CAP).
 * Memory: every block of a pipeline, in whatever state, and any JSON the worker allocates for
 * one, is counted in the pipeline's budget (async.c: CTX_BUDGET_SHARE, a quarter of the
 * ring); a scope whose block would pass it gets none (async.c: context_block returns NULL, the
 * frame stays without a block and asks again at its next event): each of its events carries
 * a copy of the context in its record (async.c: ctx_copy), which goes with the record, and
 * sky_stats.context_copied counts them. Nothing waits and nothing is lost; the frames,
 * nesting, thread exit and fork are as for any frame whose block is not made yet.
 * sky_close, once the worker has stopped, walks `blocks`: each live block forgets its
 * pipeline (`owner` and `hdr.q` NULL, its JSON freed), so its scope's later events take the
 * general path and its pop frees it; `hdr.q` cleared also keeps a later pipeline at the same
 * address from matching it. Close then frees the pool, the retired and the waiting blocks.
 * fork: blk_lock is taken around fork (pthread_atfork, before the pipelines' locks); a child
 * keeps its thread's frames and their blocks, which its pipeline's new worker reclaims. The
 * frames of threads that do not exist in the child are never popped there, so the child's
 * fork handler frees their live blocks (async.c: sky__async_fork_child, asking
 * sky__context_holds which are the forking thread's): else they would stay counted against
 * the child's bound for its whole life.
 */
#include "core/pipeline.h"

#include <pthread.h>

#define BLK_NEVER SKY__CTXBLK_LAZY /* a frame whose fields cannot have a block (lazy) */

/* initial-exec: the async hot path reads this on every call; the default model in a PIC
 * library costs a __tls_get_addr call each time. The block is small (~780 bytes). */
_Thread_local __attribute__((tls_model("initial-exec"))) sky__ctx_stack sky__ctx;
/* The stack's depth, apart so inlined call sites can test it (skylog.h). */
_Thread_local __attribute__((tls_model("initial-exec"))) size_t sky__ctx_depth;
_Thread_local __attribute__((tls_model("initial-exec"))) const sky__ctx_hdr *sky__ctx_cur;

static const sky__ctx_hdr pending = {NULL};

static inline bool real_blk(const sky__ctxblk *b) { return b && b != BLK_NEVER; }

/* What call sites see for the current depth. */
static inline void set_cur(void)
{
    size_t d = sky__ctx_depth;
    sky__ctx_cur = !d ? NULL : real_blk(sky__ctx.blk[d - 1]) ? &sky__ctx.blk[d - 1]->hdr : &pending;
}

/* Blocks of frames a thread never popped are retired when it exits. */
static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;
static void at_thread_exit(void *unused)
{
    (void)unused;
    while (sky__ctx_depth) {
        sky__ctx_depth--;
        if (real_blk(sky__ctx.blk[sky__ctx_depth]))
            sky__async_ctx_retire(sky__ctx.blk[sky__ctx_depth]);
    }
    sky__ctx_cur = NULL;
}
static void make_exit_key(void) { pthread_key_create(&exit_key, at_thread_exit); }
/* sky__ctx.armed: this thread's exit_key value is set (a forked child's thread inherits it with
 * the value); checked by async.c's context_block at each block it makes: a
 * pthread_once a scope cost ~35 instructions. */
__attribute__((cold)) void sky__context_arm(void)
{
    pthread_once(&exit_once, make_exit_key);
    pthread_setspecific(exit_key, (void *)1);
    sky__ctx.armed = true;
}

bool sky__context_holds(const sky__ctxblk *b)
{
    for (size_t d = 0; d < sky__ctx_depth; d++)
        if (sky__ctx.blk[d] == b)
            return true;
    return false;
}

static _Atomic uint64_t overflows;

sky_status sky_context_push(const sky_field *fields, size_t n)
{
    if (sky__ctx_depth == SKY_CONTEXT_MAX_DEPTH || sky__ctx.refused) {
        sky__ctx.refused++;
        atomic_fetch_add_explicit(&overflows, 1, memory_order_relaxed);
        return SKY_EFULL;
    }
    if (!fields && n)
        return SKY_EINVAL;
    size_t d = sky__ctx_depth;
    /* a lazy field is evaluated per event: no block; blocks hold every frame. The fields are
     * looked at by the block's fill (a lazy one: the frame never gets a block), here when the
     * thread has a home pipeline, else at the scope's first event. Made here, the block
     * costs the push the fill and a lock (~225 instructions a two-field scope) and saves the
     * first event the library call (~400): realistic mix caller -9 an event. */
    sky__ctxblk *b = d && sky__ctx.blk[d - 1] == BLK_NEVER ? BLK_NEVER : NULL;
    sky__ctx.fields[d] = fields;
    sky__ctx.counts[d] = n;
    sky__ctx.blk[d] = b;
    sky__ctx_depth = d + 1;
    sky__ctx_cur = &pending; /* no block yet, or never one (set_cur) */
    if (sky__ctx.home && !b)
        sky__async_ctx_push(d + 1); /* sets blk[d] and sky__ctx_cur if it makes one */
    return SKY_OK;
}

void sky_context_pop(void)
{
    if (sky__ctx.refused) {
        sky__ctx.refused--;
    } else if (sky__ctx_depth) {
        sky__ctxblk *b = sky__ctx.blk[--sky__ctx_depth];
        set_cur();
        /* last: a tail call, without a frame here (mix caller -0.4 an event) */
        if (real_blk(b))
            sky__async_ctx_retire(b);
    }
}

size_t sky_context_size(void)
{
    size_t n = 0;
    for (size_t i = 0; i < sky__ctx_depth; i++)
        n += sky__ctx.counts[i];
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
    *fields = sky__ctx.fields;
    *counts = sky__ctx.counts;
    return sky__ctx_depth;
}

uint64_t sky__context_overflows(void)
{
    return atomic_load_explicit(&overflows, memory_order_relaxed);
}
