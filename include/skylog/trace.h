/*
 * skylog/trace.h - request tracing: trace and span ids, spans as scopes that put the ids on
 * every event logged inside them, and the HTTP headers that carry a trace between services
 * (W3C traceparent/tracestate, AWS X-Ray X-Amzn-Trace-Id, and X-Trace-Id/X-Span-Id/
 * X-Parent-Span). docs/TRACING.md is the guide.
 *
 *     sky_span span;
 *     sky_span_begin(&span, log, "checkout", NULL);   (a child of the thread's current span,
 *                                                       or the root of a new trace)
 *     sky_info(log, "cart_loaded", SKY_INT("items", 3));   (carries trace_id, span_id,
 *                                                           parent_span_id)
 *     sky_span_end(&span);                              (logs "span_finished")
 *
 * or, with GCC and Clang, as a block that ends the span however it is left:
 *
 *     SKY_SPAN(span, log, "checkout") { ... sky_span_fail(&span, "card declined"); ... }
 *
 * Ids: 128-bit trace ids and 64-bit span ids come from a per-thread generator (wyrand) seeded
 * from getrandom(2), reseeded in a forked child; no lock, no system call per id. A new trace
 * id begins with the current Unix time in seconds (32 bits, then 96 random bits), the form
 * AWS X-Ray requires, so every trace skylog starts can also be written as X-Amzn-Trace-Id.
 *
 * Spans are per thread and nest: a span begun on a thread is the parent of the next one begun
 * there, until it ends. Spans must end in the reverse order they began on a thread. To carry a
 * trace to another thread (a thread pool, an event loop), copy it out with sky_trace_current()
 * and begin a span there with that context as the parent, or move a span itself with
 * sky_span_leave() / sky_span_enter().
 *
 * Incoming headers are outside input: every parser here checks lengths and characters before
 * it copies anything, and an invalid header is ignored (a new trace starts), never trusted in
 * part.
 */
#ifndef SKYLOG_TRACE_H
#define SKYLOG_TRACE_H

#include <skylog.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Text sizes, NUL included. */
#define SKY_TRACE_ID_HEX 33   /* 32 lower-case hex digits */
#define SKY_SPAN_ID_HEX 17    /* 16 lower-case hex digits */
#define SKY_TRACEPARENT_LEN 56 /* "00-<32>-<16>-<2>" */
#define SKY_XRAY_HEADER_LEN 96 /* "Root=1-<8>-<24>;Parent=<16>;Sampled=1" and then some */
/* The longest tracestate kept (the W3C minimum a vendor must propagate). A longer one is cut
 * as W3C says a vendor truncates: whole members, those over 128 characters first, then from
 * the end; each member dropped is counted (sky_trace_stats.tracestate_trimmed). */
#define SKY_TRACESTATE_MAX 512

/* W3C trace-flags' sampled bit. A trace skylog starts is sampled; a span continues its parent's
 * flags. A span whose context is not sampled (a caller sent traceparent "...-00", or
 * X-Amzn-Trace-Id Sampled=0) is what OpenTelemetry calls a non-recording span: it still has
 * its ids, puts them on the events logged inside it and passes the flag on (sky_trace_inject
 * writes "-00" / Sampled=0), and it still logs span_finished (logs are not sampled: the line
 * says trace_flags "00"), but an OTLP exporter does not export it as a Span (counted in the
 * traces signal's `skipped`, as every event that is not a span to export). */
#define SKY_TRACE_FLAG_SAMPLED 0x01u

/* A trace context as a value: what crosses a thread or a process. Plain data: copy it freely.
 * Every member is public, so its layout (549 bytes, byte-aligned) is fixed within ABI 1. */
typedef struct sky_trace_ctx {
    uint8_t trace_id[16];
    uint8_t span_id[8];   /* the current span: the parent of a span begun from this context */
    uint8_t parent_id[8]; /* that span's parent (X-Parent-Span), when has_parent */
    bool valid;           /* false: no trace (nothing was extracted, or no span is current) */
    bool has_span;        /* span_id is set (X-Amzn-Trace-Id without Parent= has none) */
    bool has_parent;
    uint8_t flags;        /* W3C trace-flags; SKY_TRACE_FLAG_SAMPLED */
    char tracestate[SKY_TRACESTATE_MAX + 1]; /* validated and normalised, "" for none */
} sky_trace_ctx;

/* A span's status, OpenTelemetry's three: UNSET (the default: nothing said), OK (the caller
 * says it succeeded) and ERROR. span_finished's `status` is "error" for ERROR and "ok" for the
 * other two (as before OK existed, so queries on it keep working); `status_code` ("ok" or
 * "error") is there only when the status was set, so an exporter tells OK from UNSET. */
typedef enum sky_span_status {
    SKY_SPAN_UNSET = 0,
    SKY_SPAN_OK,
    SKY_SPAN_ERROR,
} sky_span_status;

/* A span's kind, OpenTelemetry's SpanKind: what the span stands for in the trace. Logged as
 * span_finished's `span_kind` ("server", "client", "producer", "consumer"), absent for
 * INTERNAL, the default. */
typedef enum sky_span_kind {
    SKY_SPAN_KIND_INTERNAL = 0, /* work inside the process */
    SKY_SPAN_KIND_SERVER,       /* handling a synchronous request from a remote caller */
    SKY_SPAN_KIND_CLIENT,       /* a synchronous request to a remote service */
    SKY_SPAN_KIND_PRODUCER,     /* handing a message or job to a queue (not waiting for it) */
    SKY_SPAN_KIND_CONSUMER,     /* processing such a message or job */
} sky_span_kind;

/* A per-thread link of the current-span chain (private to the library; in the header for
 * sizes). */
typedef struct sky__trace_frame {
    const sky_trace_ctx *ctx;
    const char *hex; /* the span's "<trace hex>\0<span hex>\0", so a child copies, not encodes */
    struct sky__trace_frame *prev;
    void *thread; /* the thread it is current on, NULL when left */
} sky__trace_frame;

/* A span: lives on the caller's stack (or in a request object) from begin to end; do not
 * copy it while it is begun. Its members are private except where said.
 * Layout guarantee: the program allocates it (SKY_SPAN declares one on its stack; sky_request
 * holds one by value), so within ABI 1 (SONAME libskylog.so.1) sizeof(sky_span) stays 920 and
 * its alignment 8 (LP64 Linux), and the public member `ctx` stays at offset 0 with
 * sky_trace_ctx's layout unchanged. There are no reserved_ slots and none can be added without
 * a new ABI: a new private member may only take padding (kind took tail padding; 5 bytes of it
 * remain, and 4 between members). Private members may move; a program must not read them.
 * tests/unit/test_abi.c asserts the sizes and public offsets at compile time
 * (docs/COMPATIBILITY.md). */
typedef struct sky_span {
    sky_trace_ctx ctx;     /* public, read only: this span's ids (ctx.span_id is its own) */
    sky_logger *log;       /* where span_finished goes; NULL: nowhere */
    const char *name;      /* must outlive the span */
    int64_t start_ns;      /* sky_monotonic_ns() at begin */
    sky_span_status status;
    char status_msg[128];
    char hex[SKY_TRACE_ID_HEX + 2 * SKY_SPAN_ID_HEX];
    sky_field fields[3];   /* trace_id, span_id, parent_span_id: the context frame */
    sky__trace_frame frame;
    size_t ctx_depth;      /* the thread's context depth with this span's frame on it */
    bool begun, ended;
    uint8_t kind; /* sky_span_kind; in what was tail padding, so sizeof is ABI 1's (920) */
} sky_span;

/* ---- ids ------------------------------------------------------------------------------------ */

/* A new trace id (never all zero) / span id (never zero). Thread-safe, lock-free. */
SKY_API void sky_trace_id_new(uint8_t out[16]);
SKY_API void sky_span_id_new(uint8_t out[8]);
/* Lower-case hex of `n` bytes into `out` (2n + 1 bytes, NUL-terminated). */
SKY_API void sky_trace_hex(const uint8_t *bytes, size_t n, char *out);

/* ---- spans ---------------------------------------------------------------------------------- */

/* Begins a span named `name` (copied by reference: it must outlive the span) and makes it the
 * thread's current span: until it ends (or leaves), every event logged on this thread carries
 * `trace_id`, `span_id` and, except for the root of a trace, `parent_span_id` (as a context
 * frame, sky_context_push()). Its parent is `parent` when it is a valid context (extracted from
 * headers, or copied from another thread), else the thread's current span, else none: a new
 * trace. `log` (may be NULL) receives the span_finished event. Never fails: a context stack
 * already full (SKY_CONTEXT_MAX_DEPTH) is counted as usual and the span still has its ids. */
SKY_API void sky_span_begin(sky_span *span, sky_logger *log, const char *name,
                            const sky_trace_ctx *parent);
/* Marks the span failed: span_finished then has status "error", this message (copied,
 * truncated to 127 bytes; may be NULL) as `error`, and level ERROR. */
SKY_API void sky_span_fail(sky_span *span, const char *message);
/* Sets the status (SKY_SPAN_ERROR as sky_span_fail(span, NULL); SKY_SPAN_OK marks it
 * explicitly successful, exported as OTLP's STATUS_CODE_OK; the last call wins). Between begin
 * and end; an unknown value is ignored. */
SKY_API void sky_span_set_status(sky_span *span, sky_span_status status);
/* Sets the span's kind (SKY_SPAN_KIND_*; INTERNAL until set), e.g. CLIENT for a span around
 * an outgoing call. Between begin and end (begin resets it); an unknown value is ignored. */
SKY_API void sky_span_set_kind(sky_span *span, sky_span_kind kind);
/* Ends the span once (later calls do nothing): logs "span_finished" to its logger (INFO, or
 * ERROR when failed) with `span` (its name), `duration_ms`, `status` ("ok" or "error"), and
 * when set `status_code` ("ok" or "error": see sky_span_status), `span_kind` (see
 * sky_span_kind), `trace_flags` (two lower-case hex digits, as in traceparent; only when they
 * are not "01", sampled, the flags of every trace skylog starts) and `tracestate` (the W3C
 * tracestate the span carries, when not empty), inside the span (so with its ids), then
 * restores the thread's previous context. A span that was left (sky_span_leave) may be ended
 * on any thread; its event carries its own trace_id, span_id and parent (none for a root),
 * never those of the spans current on the ending thread. The OTLP sink exports span_finished
 * as a Span only when the library logged it (an application's own event of that name is a log
 * record, never a span). */
SKY_API void sky_span_end(sky_span *span);
/* Takes a begun span off this thread (its fields leave the thread's context), so another
 * thread can sky_span_enter() it, or end it. Only the thread's innermost span can leave. */
SKY_API sky_status sky_span_leave(sky_span *span);
/* Makes a span that left current on the calling thread again (SKY_EINVAL if it is current on
 * a thread, or ended). */
SKY_API sky_status sky_span_enter(sky_span *span);

/* Copies the thread's current trace context into *out; false (and out->valid false) when no
 * span is current. The copy can be handed to another thread or written as headers. */
SKY_API bool sky_trace_current(sky_trace_ctx *out);

#if defined(__GNUC__) && !defined(__cplusplus)
SKY_API sky_span *sky__span_scope(sky_span *span, sky_logger *log, const char *name,
                                  const sky_trace_ctx *parent);
SKY_API void sky__span_cleanup(sky_span *span);
/* Runs the following block as a span; `span` names the sky_span inside it. The span ends
 * however the block is left (break, return, goto). GCC and Clang, C only. */
#define SKY_SPAN(span, log, name) SKY_SPAN_FROM(span, log, name, NULL)
/* As SKY_SPAN, with an explicit parent context (may be NULL). */
#define SKY_SPAN_FROM(span, log, name, parent)                                                     \
    for (sky_span span __attribute__((cleanup(sky__span_cleanup))),                               \
         *SKY__CAT(sky__span_once_, __LINE__) = sky__span_scope(&span, (log), (name), (parent));    \
         SKY__CAT(sky__span_once_, __LINE__); SKY__CAT(sky__span_once_, __LINE__) = NULL)
#endif

/* ---- headers -------------------------------------------------------------------------------- */

/* Header formats, for sky_trace_inject(). */
#define SKY_TRACE_W3C 1u   /* traceparent, tracestate */
#define SKY_TRACE_XRAY 2u  /* X-Amzn-Trace-Id */
#define SKY_TRACE_PLAIN 4u /* X-Trace-Id, X-Span-Id, X-Parent-Span (seed 004's headers) */
#define SKY_TRACE_ALL 7u

/* Parses a W3C traceparent value ("00-<trace-id>-<parent-id>-<flags>", lower-case hex;
 * surrounding spaces and tabs ignored). Version ff, an all-zero id, upper-case hex or a wrong
 * length are invalid; a later version is read by its version-00 prefix, as the spec says. On
 * success fills trace_id, span_id, flags and returns true; otherwise leaves *out alone. */
SKY_API bool sky_traceparent_parse(const char *value, size_t len, sky_trace_ctx *out);
/* Writes "00-<trace>-<span>-<flags>" (SKY_TRACEPARENT_LEN bytes with the NUL). Returns the
 * length, or 0 when ctx has no trace or span, or cap is too small. */
SKY_API size_t sky_traceparent_format(const sky_trace_ctx *ctx, char *buf, size_t cap);
/* Parses a tracestate value into out->tracestate, normalised (no optional whitespace, no empty
 * members): at most 32 members, keys and values per the W3C grammar, no duplicate keys. When
 * the members take more than SKY_TRACESTATE_MAX characters, whole members are dropped as W3C
 * says: those longer than 128 characters first (from the end), then from the end, until the
 * rest fits; each is counted in sky_trace_stats.tracestate_trimmed. Returns false (and clears
 * out->tracestate) when the value is invalid (33 members or more included): the whole header
 * is then ignored (counted `invalid` by sky_trace_extract). */
SKY_API bool sky_tracestate_parse(const char *value, size_t len, sky_trace_ctx *out);
/* Parses X-Amzn-Trace-Id ("Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=<0|1|?>", any
 * order, other keys such as Self= and Lineage= ignored). Root is required; without Parent the
 * context has no span (a span begun from it is the first of the trace in this process). */
SKY_API bool sky_xray_parse(const char *value, size_t len, sky_trace_ctx *out);
/* Writes "Root=1-...;Parent=...;Sampled=0|1" (Parent only when ctx has a span). Returns the
 * length, 0 when ctx is not valid or cap is too small. */
SKY_API size_t sky_xray_format(const sky_trace_ctx *ctx, char *buf, size_t cap);

/* Reads a request header by name (case-insensitive); returns its value (NUL-terminated), or
 * NULL when absent. */
typedef const char *(*sky_header_get_fn)(void *user, const char *name);
/* Receives one header to add to an outgoing request. */
typedef void (*sky_header_set_fn)(void *user, const char *name, const char *value);

/* Reads the trace context of an incoming request: traceparent (with tracestate) if valid, else
 * X-Amzn-Trace-Id if valid, else X-Trace-Id (32 hex digits, or a UUID's 36 characters) with
 * X-Span-Id (16 hex digits) as the caller's span. Returns false (out->valid false) when none
 * is usable: sky_span_begin() with it then starts a new trace. Header values longer than
 * 8 KiB are ignored unread. */
SKY_API bool sky_trace_extract(sky_trace_ctx *out, sky_header_get_fn get, void *user);
/* Calls `set` once for each header of `formats` (SKY_TRACE_*) that carries `ctx` (NULL: the
 * thread's current span). Returns the number of headers, 0 without a trace. */
SKY_API int sky_trace_inject(const sky_trace_ctx *ctx, unsigned formats, sky_header_set_fn set,
                             void *user);
/* Begins a span continuing the trace of an incoming request (sky_trace_extract, then
 * sky_span_begin: a new trace when the headers carry none). */
SKY_API void sky_span_begin_headers(sky_span *span, sky_logger *log, const char *name,
                                    sky_header_get_fn get, void *user);

/* Counters of this process's header parsing (for tests and operations). */
typedef struct sky_trace_stats {
    uint64_t extracted;    /* sky_trace_extract() calls that found a usable context */
    uint64_t invalid;      /* headers present but invalid, so ignored */
    uint64_t tracestate_trimmed; /* tracestate members dropped to keep SKY_TRACESTATE_MAX */
    uint64_t reserved_[7]; /* zero; room to grow in the same ABI (docs/COMPATIBILITY.md) */
} sky_trace_stats;
SKY_API void sky_trace_stats_get(sky_trace_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* SKYLOG_TRACE_H */
