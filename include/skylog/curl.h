/*
 * skylog/curl.h - adds the current trace context to an outgoing libcurl request.
 *
 * Header-only: it calls the program's own libcurl (curl_slist_append), so libskylog still
 * does not link libcurl. Include <curl/curl.h> first, or let this header include it.
 *
 *     struct curl_slist *h = sky_trace_curl_headers(NULL, SKY_TRACE_ALL);
 *     curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
 *     ... curl_easy_perform(curl); curl_slist_free_all(h);
 *
 * Inside a span the request carries traceparent (and tracestate), X-Amzn-Trace-Id and
 * X-Trace-Id/X-Span-Id/X-Parent-Span (as `formats` selects); outside any span the list is
 * returned unchanged. The receiving service continues the trace with sky_span_begin_headers()
 * or the request logging of skylog/request.h.
 */
#ifndef SKYLOG_CURL_H
#define SKYLOG_CURL_H

#include <curl/curl.h>
#include <skylog/trace.h>
#include <stdio.h>

typedef struct sky__curl_inject {
    struct curl_slist *list;
    int failed;
} sky__curl_inject;

static inline void sky__curl_add(void *user, const char *name, const char *value)
{
    sky__curl_inject *c = (sky__curl_inject *)user;
    char line[SKY_TRACESTATE_MAX + 64];
    if (c->failed || snprintf(line, sizeof line, "%s: %s", name, value) >= (int)sizeof line)
        return;
    struct curl_slist *n = curl_slist_append(c->list, line);
    if (n)
        c->list = n;
    else
        c->failed = 1;
}

/* Appends the trace headers of the thread's current span (`ctx` NULL) or of `ctx` to `list`
 * (which may be NULL) and returns the new list head; on allocation failure, what was appended
 * so far (the request then goes without the missing headers). */
static inline struct curl_slist *sky_trace_curl_headers_ctx(struct curl_slist *list,
                                                            const sky_trace_ctx *ctx,
                                                            unsigned formats)
{
    sky__curl_inject c = {list, 0};
    sky_trace_inject(ctx, formats, sky__curl_add, &c);
    return c.list;
}

static inline struct curl_slist *sky_trace_curl_headers(struct curl_slist *list, unsigned formats)
{
    return sky_trace_curl_headers_ctx(list, NULL, formats);
}

#endif /* SKYLOG_CURL_H */
