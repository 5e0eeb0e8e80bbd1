/*
 * cwl_transport.h - how the CloudWatch Logs sink talks to the service, as an interface.
 *
 * The sink decides what to send (batching, ordering, limits, accounting); a transport only
 * performs one call and reports what happened. The AWS transport (awsJson 1.1 + SigV4, or the
 * HTTP ingestion endpoints) lives in cwl_aws.c; tests plug in a scripted fake. A transport is
 * used by one thread at a time.
 */
#ifndef SKY_SINKS_CWL_TRANSPORT_H
#define SKY_SINKS_CWL_TRANSPORT_H

#include <skylog.h>
#include <skylog/aws.h>
#include <skylog/cloudwatch.h>

typedef struct sky__cwl_result {
    sky_status status;  /* SKY_OK: the service answered 2xx */
    long http_status;   /* 0 if no answer */
    char code[128];     /* service error code, e.g. "ResourceNotFoundException" */
    char message[512];  /* service error message (never contains secrets) */
    char *body;         /* response body (malloc'd, NUL-terminated) or NULL */
    size_t body_len;
    bool ambiguous;     /* the request may have been processed although no answer came */
    bool persistent;    /* waiting cannot help until something changes (sky_aws_error) */
    int retries;        /* attempts beyond the first, made inside the transport */
    int throttles;      /* attempts answered with a throttling error */
    int64_t rate_limited_ns; /* held back by the AWS layer's rate limiter (adaptive mode) */
} sky__cwl_result;

typedef struct sky__cwl_call {
    const char *op;      /* "PutLogEvents", "CreateLogGroup", "CreateLogStream", ... */
    const char *body;    /* awsJson request body */
    size_t len;
    /* For PutLogEvents over the ingestion endpoints: */
    const char *group, *stream;
    int64_t deadline_ns; /* 0 = none; else no work past this sky_monotonic_ns() time */
    /* 0, or an id of the body's bytes: a later call with the same id sends exactly the same
     * body (a retry), so the transport may reuse what it derived from it (compressed form,
     * payload hash) instead of computing it again. */
    uint64_t body_id;
    /* NULL, or the SHA-256 of body, computed by the sink while it wrote the body (only when
     * the transport asked for it: body_sha256 below). */
    const uint8_t *body_sha256;
} sky__cwl_call;

typedef struct sky__cwl_transport {
    sky_status (*call)(void *self, const sky__cwl_call *call, sky__cwl_result *out);
    void (*free)(void *self);
    /* Optional (NULL in fakes): the credentials provider's counters, for the sink's stats.
     * Thread-safe, unlike call(). */
    void (*creds_stats)(void *self, sky_aws_creds_stats *out);
    /* Optional (NULL in fakes): its AWS clients' retry policy (sky_cwl_retry_stats_get()).
     * Thread-safe. */
    void (*retry_stats)(void *self, sky_aws_retry_stats *out);
    void *self;
    /* The transport signs PutLogEvents bodies as they are (SigV4 over the uncompressed body):
     * the sink then hashes each body while it writes it and passes the digest (body_sha256),
     * where a pass of its own over the finished body cost 2.5-4 % more CPU for the two. */
    bool body_sha256;
    /* Optional (NULL: the monotonic clock): the clock, in ns, by which the sink tells how long
     * a stream has been idle (forget_idle() in cloudwatch_logs.c). Tests step it instead of
     * sleeping. Called with the sink's lock held, from writers and the sender. */
    int64_t (*mono_ns)(void *self);
} sky__cwl_transport;

void sky__cwl_result_clear(sky__cwl_result *r);

/* Creates the AWS transport from the sink options; *errmsg on failure. */
sky_status sky__cwl_aws_transport(const sky_cwl_opts *o, sky__cwl_transport *out, char **errmsg);

/* Test hook: build a CloudWatch Logs sink over a given transport (takes ownership of it). */
sky_status sky__sink_cloudwatch_logs_with(const sky_cwl_opts *opts, sky__cwl_transport t,
                                          sky_sink **out, char **errmsg);

#endif
