/*
 * fuzz_trace_headers.c - the trace header parsers (src/trace/headers.c): traceparent,
 * tracestate, X-Amzn-Trace-Id and the plain X-Trace-Id/X-Span-Id/X-Parent-Span, each alone
 * (sky_*_parse over the raw bytes, not NUL-terminated) and together (sky_trace_extract over
 * "Name: value" lines). Whatever parses must format back to something that parses to the same
 * ids, and a tracestate kept must be within its bound and re-parse to itself.
 */
#include "fuzz_common.h"

#include <skylog/trace.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_HEADERS 8

typedef struct {
    const char *name[MAX_HEADERS], *value[MAX_HEADERS];
    int n;
} hdrs;

static const char *get(void *user, const char *name)
{
    hdrs *h = user;
    for (int i = 0; i < h->n; i++)
        if (!strcasecmp(h->name[i], name))
            return h->value[i];
    return NULL;
}

static void check_round_trip(const sky_trace_ctx *c)
{
    if (!c->valid)
        return;
    size_t tl = strnlen(c->tracestate, sizeof c->tracestate);
    if (tl > SKY_TRACESTATE_MAX)
        abort();
    char buf[SKY_XRAY_HEADER_LEN];
    sky_trace_ctx back;
    if (sky_xray_format(c, buf, sizeof buf) == 0 || !sky_xray_parse(buf, strlen(buf), &back) ||
        memcmp(back.trace_id, c->trace_id, 16))
        abort();
    if (c->has_span) {
        if (sky_traceparent_format(c, buf, sizeof buf) != 55 ||
            !sky_traceparent_parse(buf, 55, &back) || memcmp(back.span_id, c->span_id, 8) ||
            memcmp(back.trace_id, c->trace_id, 16))
            abort();
    }
    if (tl) {
        sky_trace_ctx ts;
        if (!sky_tracestate_parse(c->tracestate, tl, &ts) || strcmp(ts.tracestate, c->tracestate))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* each parser over the raw bytes: a copy of exactly `size` bytes, so ASan sees overreads */
    uint8_t *raw = malloc(size ? size : 1);
    if (!raw)
        abort();
    memcpy(raw, data, size);
    sky_trace_ctx c;
    memset(&c, 0, sizeof c);
    if (sky_traceparent_parse((const char *)raw, size, &c))
        check_round_trip(&c);
    memset(&c, 0, sizeof c);
    if (sky_xray_parse((const char *)raw, size, &c))
        check_round_trip(&c);
    memset(&c, 0, sizeof c);
    c.valid = true;
    c.has_span = false;
    c.trace_id[0] = 1;
    if (sky_tracestate_parse((const char *)raw, size, &c))
        check_round_trip(&c);
    free(raw);

    /* all of them as request headers */
    char *text = sky_fuzz_cstr(data, size);
    hdrs h = {.n = 0};
    char *p = text;
    while (p && *p && h.n < MAX_HEADERS) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        char *colon = strchr(p, ':');
        if (colon) {
            *colon = '\0';
            char *v = colon + 1;
            while (*v == ' ')
                v++;
            h.name[h.n] = p;
            h.value[h.n++] = v;
        }
        p = nl ? nl + 1 : NULL;
    }
    if (sky_trace_extract(&c, get, &h)) {
        check_round_trip(&c);
        sky_span sp;
        sky_span_begin(&sp, NULL, "fuzz", &c);
        if (memcmp(sp.ctx.trace_id, c.trace_id, 16))
            abort();
        sky_span_end(&sp);
    }
    free(text);
    return 0;
}
