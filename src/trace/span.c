/*
 * span.c - trace and span ids, and spans as context scopes.
 *
 * Ids come from wyrand, one 64-bit state per thread, seeded from getrandom(2) at the thread's
 * first id: no lock and no shared cache line, so threads never contend, and ~2 ns an id. A
 * forked child would otherwise repeat its parent's sequence (the child's one thread copies
 * the forking thread's state): a pthread_atfork child handler, which runs on exactly that
 * thread, marks its state unseeded. wyrand is not a cryptographic generator: ids must be
 * unique, not secret (W3C: "random", not "unpredictable").
 *
 * A span is a context frame (sky_context_push) of three fields pointing into the span itself,
 * so begin costs the ids, their hex and a push, and every event inside carries them through
 * the context machinery that already exists (async site events included: the frame becomes a
 * context block at the scope's first event). The thread's chain of current spans is a linked
 * list through the spans (sky__trace_frame), so a child finds its parent without a lookup
 * and there is no depth limit of our own.
 *
 * Uses the public API only (skylog.h: sky_context_push, sky_emit, sky__ctx_depth), and marks
 * span_finished with its own call site (origin.h) so an exporter knows it from look-alikes.
 */
#include <skylog/trace.h>

#include "trace/origin.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define TLS_IE __attribute__((tls_model("initial-exec")))

static _Thread_local TLS_IE struct {
    uint64_t s;
    bool seeded;
} rng;
static _Thread_local TLS_IE sky__trace_frame *cur;
static _Thread_local TLS_IE char self_tag; /* its address names the thread */

static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static void in_child(void) { rng.seeded = false; }
static void register_fork(void) { pthread_atfork(NULL, NULL, in_child); }

static void seed(void)
{
    pthread_once(&fork_once, register_fork);
    uint64_t s = 0;
    if (getrandom(&s, sizeof s, GRND_NONBLOCK) != (ssize_t)sizeof s) {
        /* no entropy yet (early boot) or no getrandom: time, address and a counter still
         * make threads and processes differ */
        static _Atomic uint64_t n;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)(uintptr_t)&self_tag ^
            (atomic_fetch_add(&n, 1) * 0x9e3779b97f4a7c15ull);
    }
    rng.s = s;
    rng.seeded = true;
}

static inline uint64_t next64(void)
{
    if (SKY_UNLIKELY(!rng.seeded))
        seed();
    rng.s += 0xa0761d6478bd642full;
    __uint128_t t = (__uint128_t)rng.s * (rng.s ^ 0xe7037ed1a0b428dbull);
    return (uint64_t)(t >> 64) ^ (uint64_t)t;
}

static inline void put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

void sky_span_id_new(uint8_t out[8])
{
    uint64_t v;
    while (!(v = next64()))
        ;
    put64(out, v);
}

void sky_trace_id_new(uint8_t out[16])
{
    /* X-Ray's form: the first 32 bits are the Unix time in seconds (never zero) */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    uint32_t t = (uint32_t)ts.tv_sec;
    out[0] = (uint8_t)(t >> 24);
    out[1] = (uint8_t)(t >> 16);
    out[2] = (uint8_t)(t >> 8);
    out[3] = (uint8_t)t;
    uint64_t a = next64(), b = next64();
    out[4] = (uint8_t)(a >> 56);
    out[5] = (uint8_t)(a >> 48);
    out[6] = (uint8_t)(a >> 40);
    out[7] = (uint8_t)(a >> 32);
    put64(out + 8, b);
}

/* 4 bytes to 8 lower-case hex digits, in one 64-bit word: spread the nibbles one a byte
 * (least significant first), add '0', add 39 more to those above 9 ('a' - '0' - 10), and swap
 * to memory order. ~20 instructions instead of a table lookup per nibble. */
static inline void hex4(const uint8_t *b, char *out)
{
    uint64_t x = (uint64_t)b[0] << 24 | (uint64_t)b[1] << 16 | (uint64_t)b[2] << 8 | b[3];
    x = (x | x << 16) & 0x0000ffff0000ffffull;
    x = (x | x << 8) & 0x00ff00ff00ff00ffull;
    x = (x | x << 4) & 0x0f0f0f0f0f0f0f0full;
    uint64_t above9 = ((x + 0x0606060606060606ull) >> 4) & 0x0101010101010101ull;
    x += 0x3030303030303030ull + above9 * 39;
    x = __builtin_bswap64(x);
    memcpy(out, &x, 8);
}

void sky_trace_hex(const uint8_t *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        hex4(bytes + i, out + 2 * i);
    for (; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

/* ---- spans -------------------------------------------------------------------------------- */

/* Lines no source file has: the marks of origin.h. */
#define SPAN_SITE_LINE (-0x7370616e)    /* "span" */
#define REQUEST_SITE_LINE (-0x72657175) /* "requ" */

const sky_callsite sky__span_site = {.file = NULL, .func = NULL, .line = SPAN_SITE_LINE};
const sky_callsite sky__request_site = {.file = NULL, .func = NULL, .line = REQUEST_SITE_LINE};

size_t sky__span_w3c_fields(const sky_trace_ctx *ctx, sky_field *f, char flags_hex[3])
{
    size_t n = 0;
    if (ctx->flags != SKY_TRACE_FLAG_SAMPLED) { /* "01", the usual, is not written */
        sky_trace_hex(&ctx->flags, 1, flags_hex);
        f[n++] = sky_field_strn("trace_flags", flags_hex, 2);
    }
    if (ctx->tracestate[0])
        f[n++] = sky_field_strn("tracestate", ctx->tracestate,
                                strnlen(ctx->tracestate, SKY_TRACESTATE_MAX));
    return n;
}

int sky__span_origin(const sky_callsite *cs)
{
    if (!cs || cs->file || cs->func)
        return SKY__ORIGIN_NONE;
    return cs->line == SPAN_SITE_LINE      ? SKY__ORIGIN_SPAN
           : cs->line == REQUEST_SITE_LINE ? SKY__ORIGIN_REQUEST
                                           : SKY__ORIGIN_NONE;
}

/* Copies a context's value without the unused tail of tracestate (512 bytes). */
static void ctx_copy(sky_trace_ctx *dst, const sky_trace_ctx *src)
{
    memcpy(dst, src, offsetof(sky_trace_ctx, tracestate));
    size_t n = strnlen(src->tracestate, SKY_TRACESTATE_MAX);
    memcpy(dst->tracestate, src->tracestate, n);
    dst->tracestate[n] = '\0';
}

/* A root span's third field on the thread it is current on (or ends on): none, or a null
 * parent_span_id when that thread has a span of its own, whose parent_span_id would otherwise
 * show through the context (the most specific key winning) and give the root a parent. Decided
 * per thread, not once at begin: a root begun on an idle thread can be entered, or ended, on a
 * thread inside a child span. Returns the number of fields (2 or 3) with *third set. */
static size_t span_fields(const sky_span *sp, sky_field *third)
{
    if (sp->ctx.has_parent)
        *third = sp->fields[2];
    else if (cur && cur != &sp->frame)
        *third = sky_field_null("parent_span_id");
    else
        return 2;
    return 3;
}

static void push(sky_span *sp)
{
    sky_field third;
    if (span_fields(sp, &third) == 3)
        sp->fields[2] = third;
    else
        sp->fields[2].key = NULL;
    sky_context_push(sp->fields, sp->fields[2].key ? 3 : 2); /* a refusal is counted there */
    sp->ctx_depth = sky__ctx_depth;
    sp->frame.prev = cur;
    sp->frame.thread = &self_tag;
    cur = &sp->frame;
}

/* Takes the span's frame off this thread's chain and its fields off the context. */
static void pop(sky_span *sp)
{
    if (cur == &sp->frame) {
        cur = sp->frame.prev;
    } else { /* ended out of order: unlink it anyway, the chain must not point at it */
        for (sky__trace_frame *f = cur; f; f = f->prev)
            if (f->prev == &sp->frame) {
                f->prev = sp->frame.prev;
                break;
            }
    }
    sp->frame.thread = NULL;
    sp->frame.prev = NULL;
    sky_context_pop();
}

void sky_span_begin(sky_span *sp, sky_logger *log, const char *name, const sky_trace_ctx *parent)
{
    const sky_trace_ctx *p = parent && parent->valid ? parent : cur ? cur->ctx : NULL;
    /* a child of the thread's current span copies its parent's hex instead of encoding it */
    const char *phex = p && p == (cur ? cur->ctx : NULL) ? cur->hex : NULL;
    if (p) {
        memcpy(sp->ctx.trace_id, p->trace_id, 16);
        sp->ctx.flags = p->flags;
        sp->ctx.has_parent = p->has_span;
        if (p->has_span)
            memcpy(sp->ctx.parent_id, p->span_id, 8);
        size_t n = strnlen(p->tracestate, SKY_TRACESTATE_MAX);
        memcpy(sp->ctx.tracestate, p->tracestate, n);
        sp->ctx.tracestate[n] = '\0';
    } else {
        sky_trace_id_new(sp->ctx.trace_id);
        sp->ctx.flags = SKY_TRACE_FLAG_SAMPLED;
        sp->ctx.has_parent = false;
        sp->ctx.tracestate[0] = '\0';
    }
    sky_span_id_new(sp->ctx.span_id);
    sp->ctx.valid = sp->ctx.has_span = true;
    sp->log = log;
    sp->name = name ? name : "span";
    sp->status = SKY_SPAN_UNSET;
    sp->kind = SKY_SPAN_KIND_INTERNAL;
    sp->status_msg[0] = '\0';
    sp->begun = true;
    sp->ended = false;
    sp->frame.ctx = &sp->ctx;

    char *h = sp->hex, *ph = h + SKY_TRACE_ID_HEX + SKY_SPAN_ID_HEX;
    if (phex) {
        memcpy(h, phex, SKY_TRACE_ID_HEX);
        memcpy(ph, phex + SKY_TRACE_ID_HEX, SKY_SPAN_ID_HEX);
    } else {
        sky_trace_hex(sp->ctx.trace_id, 16, h);
        if (sp->ctx.has_parent)
            sky_trace_hex(sp->ctx.parent_id, 8, ph);
    }
    sky_trace_hex(sp->ctx.span_id, 8, h + SKY_TRACE_ID_HEX);
    sp->fields[0] = sky_field_strn("trace_id", h, 32);
    sp->fields[1] = sky_field_strn("span_id", h + SKY_TRACE_ID_HEX, 16);
    if (sp->ctx.has_parent) /* a root's third field is push's to choose (span_fields) */
        sp->fields[2] = sky_field_strn("parent_span_id", ph, 16);
    sp->frame.hex = h;
    push(sp);
    sp->start_ns = sky_monotonic_ns();
}

void sky_span_set_status(sky_span *sp, sky_span_status status)
{
    if (sp && (unsigned)status <= SKY_SPAN_ERROR)
        sp->status = status;
}

void sky_span_set_kind(sky_span *sp, sky_span_kind kind)
{
    if (sp && (unsigned)kind <= SKY_SPAN_KIND_CONSUMER)
        sp->kind = (uint8_t)kind;
}

void sky_span_fail(sky_span *sp, const char *message)
{
    if (!sp)
        return;
    sp->status = SKY_SPAN_ERROR;
    if (message)
        snprintf(sp->status_msg, sizeof sp->status_msg, "%s", message);
}

void sky_span_end(sky_span *sp)
{
    if (!sp || !sp->begun || sp->ended)
        return;
    sp->ended = true;
    int64_t ns = sky_monotonic_ns() - sp->start_ns;
    bool here = sp->frame.thread == &self_tag;
    bool elsewhere = sp->frame.thread && !here;
    if (!here && !elsewhere)
        push(sp); /* left: enter for the event, so it carries the ids */
    bool err = sp->status == SKY_SPAN_ERROR;
    sky_level lv = err ? SKY_LEVEL_ERROR : SKY_LEVEL_INFO;
    if (sp->log && sky_enabled(sp->log, lv)) {
        /* the kinds' names as OpenTelemetry spells them, lower case as skylog's values are */
        static const char *const kinds[] = {NULL, "server", "client", "producer", "consumer"};
        sky_field f[11];
        size_t n = 0;
        char flags[3];
        f[n++] = sky_field_str("span", sp->name);
        f[n++] = sky_field_dur("duration_ms", ns);
        f[n++] = sky_field_str("status", err ? "error" : "ok");
        if (sp->status != SKY_SPAN_UNSET) /* only when set: existing lines do not change */
            f[n++] = sky_field_str("status_code", err ? "error" : "ok");
        if (sp->kind != SKY_SPAN_KIND_INTERNAL && sp->kind <= SKY_SPAN_KIND_CONSUMER)
            f[n++] = sky_field_str("span_kind", kinds[sp->kind]);
        if (err && sp->status_msg[0])
            f[n++] = sky_field_str("error", sp->status_msg);
        n += sky__span_w3c_fields(&sp->ctx, f + n, flags);
        if (elsewhere) { /* misuse: do not touch the other thread's context (nor the fields it
                          * points at), name the ids here, masked as this thread needs */
            f[n++] = sp->fields[0];
            f[n++] = sp->fields[1];
            if (span_fields(sp, &f[n]) == 3)
                n++;
        }
        sky_emit(sp->log, lv, "span_finished", &sky__span_site, f, n);
    }
    if (!elsewhere)
        pop(sp);
}

sky_status sky_span_leave(sky_span *sp)
{
    if (!sp || !sp->begun || sp->ended || cur != &sp->frame || sky__ctx_depth != sp->ctx_depth)
        return SKY_EINVAL;
    pop(sp);
    return SKY_OK;
}

sky_status sky_span_enter(sky_span *sp)
{
    if (!sp || !sp->begun || sp->ended || sp->frame.thread)
        return SKY_EINVAL;
    push(sp);
    return SKY_OK;
}

bool sky_trace_current(sky_trace_ctx *out)
{
    if (!cur) {
        memset(out, 0, offsetof(sky_trace_ctx, tracestate));
        out->tracestate[0] = '\0';
        return false;
    }
    ctx_copy(out, cur->ctx);
    return true;
}

sky_span *sky__span_scope(sky_span *sp, sky_logger *log, const char *name,
                          const sky_trace_ctx *parent)
{
    sky_span_begin(sp, log, name, parent);
    return sp;
}

void sky__span_cleanup(sky_span *sp) { sky_span_end(sp); }
