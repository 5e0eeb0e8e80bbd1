/*
 * skylog/microhttpd.h - request logging (skylog/request.h) for libmicrohttpd servers.
 *
 * Header-only: it calls the program's own libmicrohttpd, so libskylog does not link it.
 * Include <microhttpd.h> first, or let this header include it. Three calls:
 *
 *     static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
 *                                    const char *method, const char *version,
 *                                    const char *upload, size_t *upload_size, void **req_cls)
 *     {
 *         sky_request *r = sky_mhd_enter(rl, c, method, url, req_cls);  (begins or resumes)
 *         if (!r)
 *             return MHD_NO;
 *         ... log: events carry request_id, trace_id, span_id ...
 *         enum MHD_Result ret = sky_mhd_respond(r, c, 200, "ok\n", 3, "text/plain");
 *         sky_mhd_leave(r);                        (off this thread until it completes)
 *         return ret;
 *     }
 *     MHD_start_daemon(..., MHD_OPTION_NOTIFY_COMPLETED, sky_mhd_completed, NULL, ...);
 *
 * sky_mhd_completed() logs the request (status and bytes as sky_mhd_respond() queued them;
 * "aborted" when the client went away first) and frees it. The trace is continued from the
 * request's traceparent / X-Amzn-Trace-Id / X-Trace-Id headers (libmicrohttpd's header
 * lookup is case-insensitive) and the response carries X-Request-Id.
 */
#ifndef SKYLOG_MICROHTTPD_H
#define SKYLOG_MICROHTTPD_H

#include <microhttpd.h>
#include <skylog/request.h>
#include <stdlib.h>

#if MHD_VERSION < 0x00097002
typedef int sky__mhd_result; /* before 0.9.71 handlers returned int */
#else
typedef enum MHD_Result sky__mhd_result;
#endif

/* A request with what the response will report. */
typedef struct sky_mhd_request {
    sky_request r; /* first: a sky_request * is a sky_mhd_request * */
    unsigned status;
    uint64_t bytes;
} sky_mhd_request;

static inline const char *sky__mhd_header(void *conn, const char *name)
{
    return MHD_lookup_connection_value((struct MHD_Connection *)conn, MHD_HEADER_KIND, name);
}

static inline void sky__mhd_add_header(void *resp, const char *name, const char *value)
{
    MHD_add_response_header((struct MHD_Response *)resp, name, value);
}

/* The request of this connection, begun on its first call (*req_cls NULL) and entered on the
 * calling thread on the next ones. NULL when out of memory (answer MHD_NO). */
static inline sky_request *sky_mhd_enter(sky_request_log *rl, struct MHD_Connection *c,
                                         const char *method, const char *url, void **req_cls)
{
    sky_mhd_request *m = (sky_mhd_request *)*req_cls;
    if (m) {
        sky_request_enter(&m->r);
        return &m->r;
    }
    m = (sky_mhd_request *)calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->status = 0;
    sky_request_begin(rl, &m->r, method, url, sky__mhd_header, c);
    *req_cls = m;
    return &m->r;
}

/* Queues a response from a buffer (copied) with Content-Type and X-Request-Id, and notes its
 * status and size for the request event. */
static inline sky__mhd_result sky_mhd_respond(sky_request *r, struct MHD_Connection *c,
                                              unsigned status, const void *body, size_t len,
                                              const char *content_type)
{
    sky_mhd_request *m = (sky_mhd_request *)r;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    if (content_type)
        MHD_add_response_header(resp, "Content-Type", content_type);
    sky_request_response_headers(r, sky__mhd_add_header, resp);
    m->status = status;
    m->bytes = len;
    sky__mhd_result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Takes the request off the calling thread until its next callback or its completion. */
static inline void sky_mhd_leave(sky_request *r) { sky_request_leave(r); }

/* MHD_OPTION_NOTIFY_COMPLETED callback: logs the request and frees it. */
static inline void sky_mhd_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                                     enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    sky_mhd_request *m = (sky_mhd_request *)*req_cls;
    if (!m)
        return;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        sky_request_abort(&m->r);
    sky_request_end(&m->r, m->status ? (int)m->status : 499, m->bytes);
    free(m);
    *req_cls = NULL;
}

#endif /* SKYLOG_MICROHTTPD_H */
