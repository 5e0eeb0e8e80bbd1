/*
 * headers.c - trace context in HTTP headers: W3C traceparent/tracestate, AWS X-Ray
 * X-Amzn-Trace-Id, and the plain X-Trace-Id/X-Span-Id/X-Parent-Span of seed 004.
 *
 * Every value here comes from another process, so every parser is a bounded scan over
 * (pointer, length) that checks each character against the grammar before anything is stored,
 * with no recursion and no allocation; the output is written only when the whole value was
 * valid, so a bad header never leaves half a context behind. A value longer than MAX_VALUE is
 * refused unread. Strictness follows each spec's "MUST": traceparent is lower-case hex only,
 * with its exact dashes; tracestate keys and values follow the W3C grammar (an invalid
 * tracestate is dropped whole, the traceparent still applies).
 */
#include "util/text.h"

#include <skylog/trace.h>

#include <stdatomic.h>
#include <string.h>

#define MAX_VALUE 8192
#define TS_MAX_MEMBERS 32

static _Atomic uint64_t n_extracted, n_invalid, n_ts_trimmed;

static inline bool ows(char c) { return c == ' ' || c == '\t'; }

static void trim(const char **s, size_t *len)
{
    while (*len && ows(**s))
        (*s)++, (*len)--;
    while (*len && ows((*s)[*len - 1]))
        (*len)--;
}

/* The next `sep`-separated member of s[0, len) from *i, trimmed of optional whitespace (may be
 * empty); false past the end. */
static bool next_member(const char *s, size_t len, char sep, size_t *i, const char **m,
                        size_t *mn)
{
    if (*i > len)
        return false;
    size_t j = *i;
    while (j < len && s[j] != sep)
        j++;
    *m = s + *i;
    *mn = j - *i;
    *i = j + 1;
    trim(m, mn);
    return true;
}

static bool all_zero(const uint8_t *b, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= b[i];
    return acc == 0;
}

/* ---- W3C traceparent --------------------------------------------------------------------- */

bool sky_traceparent_parse(const char *s, size_t len, sky_trace_ctx *out)
{
    if (!s || !out || len > MAX_VALUE)
        return false;
    trim(&s, &len);
    if (len < 55)
        return false;
    uint8_t ver, tid[16], sid[8], flags;
    if (!sky__unhex(s, 1, &ver, true) || ver == 0xff)
        return false;
    if (ver == 0 ? len != 55 : (len > 55 && s[55] != '-'))
        return false;
    if (s[2] != '-' || s[35] != '-' || s[52] != '-')
        return false;
    if (!sky__unhex(s + 3, 16, tid, true) || !sky__unhex(s + 36, 8, sid, true) ||
        !sky__unhex(s + 53, 1, &flags, true))
        return false;
    if (all_zero(tid, 16) || all_zero(sid, 8))
        return false;
    memcpy(out->trace_id, tid, 16);
    memcpy(out->span_id, sid, 8);
    out->flags = flags & 0x03; /* sampled, random: the bits defined so far */
    out->valid = out->has_span = true;
    out->has_parent = false;
    out->tracestate[0] = '\0';
    return true;
}

size_t sky_traceparent_format(const sky_trace_ctx *ctx, char *buf, size_t cap)
{
    if (!ctx || !ctx->valid || !ctx->has_span || cap < SKY_TRACEPARENT_LEN)
        return 0;
    memcpy(buf, "00-", 3);
    sky_trace_hex(ctx->trace_id, 16, buf + 3);
    buf[35] = '-';
    sky_trace_hex(ctx->span_id, 8, buf + 36);
    buf[52] = '-';
    uint8_t f = ctx->flags & 0x03;
    sky_trace_hex(&f, 1, buf + 53);
    return 55;
}

/* ---- W3C tracestate ---------------------------------------------------------------------- */

static inline bool lcalpha(char c) { return c >= 'a' && c <= 'z'; }
static inline bool digit(char c) { return c >= '0' && c <= '9'; }
static inline bool keychr(char c)
{
    return lcalpha(c) || digit(c) || c == '_' || c == '-' || c == '*' || c == '/';
}

static bool valid_key(const char *k, size_t n)
{
    const char *at = memchr(k, '@', n);
    if (!at) { /* simple-key = lcalpha 0*255( lcalpha / DIGIT / "_" / "-"/ "*" / "/" ) */
        if (n < 1 || n > 256 || !lcalpha(k[0]))
            return false;
        for (size_t i = 1; i < n; i++)
            if (!keychr(k[i]))
                return false;
        return true;
    }
    /* multi-tenant-key = tenant-id "@" system-id */
    size_t t = (size_t)(at - k), sys = n - t - 1;
    if (t < 1 || t > 241 || !(lcalpha(k[0]) || digit(k[0])) || sys < 1 || sys > 14 ||
        !lcalpha(at[1]))
        return false;
    for (size_t i = 1; i < t; i++)
        if (!keychr(k[i]))
            return false;
    for (size_t i = 2; i <= sys; i++)
        if (!keychr(at[i]))
            return false;
    return true;
}

/* value = 0*255(chr) nblk-chr; nblk-chr = %x21-2B / %x2D-3C / %x3E-7E; chr = %x20 / nblk-chr */
static bool valid_value(const char *v, size_t n)
{
    if (n < 1 || n > 256 || v[n - 1] == ' ')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c < 0x20 || c > 0x7e || c == ',' || c == '=')
            return false;
    }
    return true;
}

/* W3C trace-context, "tracestate Limits": a vendor that must cut a tracestate removes members
 * longer than 128 characters first, then members from the end. */
#define TS_LONG_MEMBER 128

bool sky_tracestate_parse(const char *s, size_t len, sky_trace_ctx *out)
{
    if (!out)
        return false;
    out->tracestate[0] = '\0';
    if (!s || len > MAX_VALUE)
        return false;
    struct {
        const char *m; /* the member, "key=value" */
        size_t mn, kn;
        bool keep;
    } mem[TS_MAX_MEMBERS];
    size_t nm = 0, total = 0; /* total: the members joined with commas */
    size_t i = 0;
    const char *m, *eq;
    size_t mn;
    while (next_member(s, len, ',', &i, &m, &mn)) {
        if (!mn)
            continue; /* empty and whitespace-only members are allowed */
        if (!(eq = memchr(m, '=', mn)))
            return false;
        size_t kn = (size_t)(eq - m);
        if (!valid_key(m, kn) || !valid_value(eq + 1, mn - kn - 1) || nm == TS_MAX_MEMBERS)
            return false;
        for (size_t q = 0; q < nm; q++)
            if (mem[q].kn == kn && !memcmp(mem[q].m, m, kn))
                return false; /* duplicate keys */
        mem[nm].m = m;
        mem[nm].mn = mn;
        mem[nm].kn = kn;
        mem[nm++].keep = true;
        total += (total ? 1 : 0) + mn;
    }
    size_t kept = nm;
    for (int pass = 0; pass < 2; pass++) /* the long members, then any, from the end */
        for (size_t q = nm; q-- > 0 && total > SKY_TRACESTATE_MAX;)
            if (mem[q].keep && (pass || mem[q].mn > TS_LONG_MEMBER)) {
                mem[q].keep = false;
                total -= mem[q].mn + (--kept ? 1 : 0); /* and a comma, unless it was the last */
            }
    uint64_t dropped = nm - kept;
    size_t used = 0;
    for (size_t q = 0; q < nm; q++) {
        if (!mem[q].keep)
            continue;
        if (used)
            out->tracestate[used++] = ',';
        memcpy(out->tracestate + used, mem[q].m, mem[q].mn);
        used += mem[q].mn;
    }
    out->tracestate[used] = '\0';
    if (dropped)
        atomic_fetch_add_explicit(&n_ts_trimmed, dropped, memory_order_relaxed);
    return true;
}

/* ---- AWS X-Ray --------------------------------------------------------------------------- */

bool sky_xray_parse(const char *s, size_t len, sky_trace_ctx *out)
{
    if (!s || !out || len > MAX_VALUE)
        return false;
    uint8_t tid[16], sid[8];
    bool root = false, parent = false;
    uint8_t flags = SKY_TRACE_FLAG_SAMPLED; /* "?" or absent: undecided; we record it */
    size_t i = 0;
    const char *m, *eq;
    size_t mn;
    while (next_member(s, len, ';', &i, &m, &mn)) {
        if (!mn)
            continue;
        if (!(eq = memchr(m, '=', mn)))
            return false;
        size_t kn = (size_t)(eq - m);
        const char *v = eq + 1;
        size_t vn = mn - kn - 1;
        if (kn == 4 && !memcmp(m, "Root", 4)) {
            /* 1-<8 hex: epoch seconds>-<24 hex> */
            if (root || vn != 35 || v[0] != '1' || v[1] != '-' || v[10] != '-' ||
                !sky__unhex(v + 2, 4, tid, false) || !sky__unhex(v + 11, 12, tid + 4, false) ||
                all_zero(tid, 16))
                return false;
            root = true;
        } else if (kn == 6 && !memcmp(m, "Parent", 6)) {
            if (parent || vn != 16 || !sky__unhex(v, 8, sid, false) || all_zero(sid, 8))
                return false;
            parent = true;
        } else if (kn == 7 && !memcmp(m, "Sampled", 7)) {
            if (vn == 1 && v[0] == '0')
                flags = 0;
            else if (vn == 1 && (v[0] == '1' || v[0] == '?' || v[0] == 'd'))
                flags = SKY_TRACE_FLAG_SAMPLED;
            else
                return false;
        } /* Self=, Lineage= and other keys: not ours */
    }
    if (!root)
        return false;
    memcpy(out->trace_id, tid, 16);
    if (parent)
        memcpy(out->span_id, sid, 8);
    out->has_span = parent;
    out->has_parent = false;
    out->flags = flags;
    out->valid = true;
    out->tracestate[0] = '\0';
    return true;
}

size_t sky_xray_format(const sky_trace_ctx *ctx, char *buf, size_t cap)
{
    if (!ctx || !ctx->valid || cap < SKY_XRAY_HEADER_LEN)
        return 0;
    char hex[SKY_TRACE_ID_HEX];
    sky_trace_hex(ctx->trace_id, 16, hex);
    char *p = buf;
    memcpy(p, "Root=1-", 7);
    p += 7;
    memcpy(p, hex, 8);
    p += 8;
    *p++ = '-';
    memcpy(p, hex + 8, 24);
    p += 24;
    if (ctx->has_span) {
        memcpy(p, ";Parent=", 8);
        p += 8;
        sky_trace_hex(ctx->span_id, 8, p);
        p += 16;
    }
    memcpy(p, ";Sampled=", 9);
    p += 9;
    *p++ = (ctx->flags & SKY_TRACE_FLAG_SAMPLED) ? '1' : '0';
    *p = '\0';
    return (size_t)(p - buf);
}

/* ---- plain X-Trace-Id / X-Span-Id / X-Parent-Span ----------------------------------------- */

/* 32 hex digits, or a UUID's 8-4-4-4-12 (seed 004 sends str(uuid4())). */
static bool plain_trace_id(const char *s, size_t n, uint8_t out[16])
{
    trim(&s, &n);
    if (n == 32)
        return sky__unhex(s, 16, out, false) && !all_zero(out, 16);
    if (n != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-')
        return false;
    char h[32];
    memcpy(h, s, 8);
    memcpy(h + 8, s + 9, 4);
    memcpy(h + 12, s + 14, 4);
    memcpy(h + 16, s + 19, 4);
    memcpy(h + 20, s + 24, 12);
    return sky__unhex(h, 16, out, false) && !all_zero(out, 16);
}

static bool plain_span_id(const char *s, size_t n, uint8_t out[8])
{
    trim(&s, &n);
    return n == 16 && sky__unhex(s, 8, out, false) && !all_zero(out, 8);
}

/* ---- extract / inject -------------------------------------------------------------------- */

/* A header's value and length, or NULL when absent or too long (then counted invalid). */
static const char *header(sky_header_get_fn get, void *user, const char *name, size_t *len)
{
    const char *v = get(user, name);
    if (!v)
        return NULL;
    *len = strnlen(v, MAX_VALUE + 1);
    if (*len > MAX_VALUE) {
        atomic_fetch_add_explicit(&n_invalid, 1, memory_order_relaxed);
        return NULL;
    }
    return v;
}

static void invalid(void) { atomic_fetch_add_explicit(&n_invalid, 1, memory_order_relaxed); }

bool sky_trace_extract(sky_trace_ctx *out, sky_header_get_fn get, void *user)
{
    if (!out)
        return false;
    memset(out, 0, offsetof(sky_trace_ctx, tracestate));
    out->tracestate[0] = '\0';
    if (!get)
        return false;
    size_t n;
    const char *v;
    sky_trace_ctx c;
    memset(&c, 0, offsetof(sky_trace_ctx, tracestate));
    c.tracestate[0] = '\0';
    bool ok = false;
    if ((v = header(get, user, "traceparent", &n))) {
        if (sky_traceparent_parse(v, n, &c)) {
            const char *ts = header(get, user, "tracestate", &n);
            if (ts && !sky_tracestate_parse(ts, n, &c))
                invalid(); /* tracestate dropped, traceparent kept (W3C) */
            ok = true;
        } else {
            invalid();
        }
    }
    if (!ok && (v = header(get, user, "X-Amzn-Trace-Id", &n))) {
        if (sky_xray_parse(v, n, &c))
            ok = true;
        else
            invalid();
    }
    if (!ok && (v = header(get, user, "X-Trace-Id", &n))) {
        if (plain_trace_id(v, n, c.trace_id)) {
            ok = true;
            c.valid = true;
            c.flags = SKY_TRACE_FLAG_SAMPLED;
            c.has_span = c.has_parent = false;
            c.tracestate[0] = '\0';
            if ((v = header(get, user, "X-Span-Id", &n))) {
                if (plain_span_id(v, n, c.span_id))
                    c.has_span = true;
                else
                    invalid(); /* the trace continues, without a parent span */
            }
            if (c.has_span && (v = header(get, user, "X-Parent-Span", &n)) &&
                plain_span_id(v, n, c.parent_id))
                c.has_parent = true;
        } else {
            invalid();
        }
    }
    if (!ok)
        return false;
    size_t tl = strlen(c.tracestate);
    memcpy(out, &c, offsetof(sky_trace_ctx, tracestate));
    memcpy(out->tracestate, c.tracestate, tl + 1);
    atomic_fetch_add_explicit(&n_extracted, 1, memory_order_relaxed);
    return true;
}

int sky_trace_inject(const sky_trace_ctx *ctx, unsigned formats, sky_header_set_fn set,
                     void *user)
{
    sky_trace_ctx here;
    if (!ctx) {
        if (!sky_trace_current(&here))
            return 0;
        ctx = &here;
    }
    if (!set || !ctx->valid)
        return 0;
    int n = 0;
    char buf[SKY_XRAY_HEADER_LEN];
    if ((formats & SKY_TRACE_W3C) && sky_traceparent_format(ctx, buf, sizeof buf)) {
        set(user, "traceparent", buf), n++;
        if (ctx->tracestate[0])
            set(user, "tracestate", ctx->tracestate), n++;
    }
    if ((formats & SKY_TRACE_XRAY) && sky_xray_format(ctx, buf, sizeof buf))
        set(user, "X-Amzn-Trace-Id", buf), n++;
    if (formats & SKY_TRACE_PLAIN) {
        sky_trace_hex(ctx->trace_id, 16, buf);
        set(user, "X-Trace-Id", buf), n++;
        if (ctx->has_span) {
            sky_trace_hex(ctx->span_id, 8, buf);
            set(user, "X-Span-Id", buf), n++;
        }
        if (ctx->has_parent) {
            sky_trace_hex(ctx->parent_id, 8, buf);
            set(user, "X-Parent-Span", buf), n++;
        }
    }
    return n;
}

void sky_span_begin_headers(sky_span *span, sky_logger *log, const char *name,
                            sky_header_get_fn get, void *user)
{
    sky_trace_ctx c;
    sky_trace_extract(&c, get, user);
    sky_span_begin(span, log, name, c.valid ? &c : NULL);
}

void sky_trace_stats_get(sky_trace_stats *out)
{
    memset(out, 0, sizeof *out); /* reserved_ included (docs/COMPATIBILITY.md) */
    out->extracted = atomic_load_explicit(&n_extracted, memory_order_relaxed);
    out->invalid = atomic_load_explicit(&n_invalid, memory_order_relaxed);
    out->tracestate_trimmed = atomic_load_explicit(&n_ts_trimmed, memory_order_relaxed);
}
