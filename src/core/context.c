/*
 * context.c - per-thread scoped context: a small stack of field arrays.
 *
 * A push stores a pointer to the caller's array, not a copy: SKY_WITH_CONTEXT's array lives
 * in the caller's block for exactly as long as the scope, so pushing costs two stores. Pushes
 * beyond SKY_CONTEXT_MAX_DEPTH are refused and counted; their pops are matched so the stack
 * never goes out of step.
 */
#include "core/internal.h"

/* initial-exec: the async hot path reads this on every call; the default model in a PIC
 * library costs a __tls_get_addr call each time. The block is small (~520 bytes). */
static _Thread_local __attribute__((tls_model("initial-exec"))) struct {
    const sky_field *fields[SKY_CONTEXT_MAX_DEPTH];
    size_t counts[SKY_CONTEXT_MAX_DEPTH];
    size_t refused; /* pushes refused and not yet popped */
} ctx;
/* The stack's depth, apart so inlined call sites can test it (skylog.h). */
_Thread_local __attribute__((tls_model("initial-exec"))) size_t sky__ctx_depth;

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
    sky__ctx_depth++;
    return SKY_OK;
}

void sky_context_pop(void)
{
    if (ctx.refused)
        ctx.refused--;
    else if (sky__ctx_depth)
        sky__ctx_depth--;
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
