/*
 * skylog/cloudwatch.h - the CloudWatch Logs sink.
 *
 * The sink batches events to every PutLogEvents limit (1,048,576 bytes counted as UTF-8 bytes
 * + 26 per event, 10,000 events, 24 hours, chronological order), sends them from its own
 * thread so a slow network never stalls the other sinks, retries what failed without ever
 * resending what AWS accepted, and accounts for every event: sent, rejected (by reason, handed
 * to an optional fallback sink) or dropped (by reason). See docs/CLOUDWATCH.md. With
 * spool_path, what it accepted survives the process being killed (docs/DURABILITY.md).
 *
 *     sky_sink *cw;
 *     char *err;
 *     if (sky_sink_cloudwatch_logs(&(sky_cwl_opts){ .log_group = "/app/prod" }, &cw, &err)) ...
 *     sky_add_sink(sky, cw, NULL);
 */
#ifndef SKYLOG_CLOUDWATCH_H
#define SKYLOG_CLOUDWATCH_H

#include <skylog.h>

#ifdef __cplusplus
extern "C" {
#endif

/* AWS limits, as documented for PutLogEvents. */
#define SKY_CWL_MAX_BATCH_BYTES 1048576
#define SKY_CWL_MAX_BATCH_EVENTS 10000
#define SKY_CWL_EVENT_OVERHEAD 26
#define SKY_CWL_MAX_EVENT_BYTES 1048576 /* message + 26; older documentation says 256 KiB */
#define SKY_CWL_MAX_SPAN_MS (24LL * 3600 * 1000)
#define SKY_CWL_MAX_AGE_MS (14LL * 24 * 3600 * 1000)
#define SKY_CWL_MAX_FUTURE_MS (2LL * 3600 * 1000)
/* The longest wait between two attempts at a batch (retry_delay_ms doubles up to it). */
#define SKY_CWL_MAX_BACKOFF_MS 30000LL

typedef enum sky_cwl_oversize {
    SKY_CWL_OVERSIZE_TRUNCATE = 0, /* cut at a UTF-8 boundary, end with "...[truncated N bytes]" */
    SKY_CWL_OVERSIZE_SPLIT,        /* send as numbered parts "[part i/n] ..." */
    SKY_CWL_OVERSIZE_DROP,         /* drop (counted) */
} sky_cwl_oversize;

typedef enum sky_cwl_transport {
    SKY_CWL_PUT_LOG_EVENTS = 0, /* awsJson1.1 Logs_20140328.PutLogEvents */
    SKY_CWL_NDJSON,             /* POST /ingest/bulk, one JSON event a line */
    SKY_CWL_OTLP,               /* POST /v1/logs, OTLP/HTTP JSON */
} sky_cwl_transport;

/* When the spool's file is forced to disk (docs/DURABILITY.md). Every policy survives the
 * process being killed (SIGKILL, a crash): the spool is a shared file mapping, in the page
 * cache the moment an event is written. They differ on a power loss or kernel crash. */
typedef enum sky_cwl_fsync {
    SKY_CWL_FSYNC_NONE = 0, /* the kernel writes it back when it likes (~30 s on Linux) */
    SKY_CWL_FSYNC_BATCH,    /* fdatasync after every write to the sink (each pipeline batch,
                               each sky_cwl_put or sky_cwl_put_many): on disk before the call
                               returns */
    SKY_CWL_FSYNC_INTERVAL, /* fdatasync from the sender thread every spool_fsync_every_ms */
} sky_cwl_fsync;

typedef struct sky_cwl_opts {
    const char *log_group; /* required: 1-512 of [.-_/#A-Za-z0-9] */
    /* Stream name template; placeholders {hostname}, {pid}, {logger} (one stream per logger),
     * {strftime:FMT} (UTC, at sink creation). Default "{hostname}_{strftime:%Y%m%d_%H%M%S}".
     * Expanded names must be 1-512 characters without ':' or '*'. */
    const char *log_stream;
    const char *region;   /* default: AWS_REGION, AWS_DEFAULT_REGION, config file */
    const char *endpoint; /* default: AWS_ENDPOINT_URL_CLOUDWATCH_LOGS, AWS_ENDPOINT_URL, AWS */
    const char *profile;  /* default: AWS_PROFILE */
    const char *access_key_id; /* explicit credentials; default: the standard chain */
    const char *secret_access_key;
    const char *session_token;
    bool no_create_group;  /* default: create the group when missing */
    bool no_create_stream; /* default: create the stream when missing */
    int retention_days;    /* the group's, set once before the first send; 0 = leave alone */
    size_t batch_size;     /* events per request, default and max 10,000 */
    size_t max_batch_bytes;     /* default and max 1,048,576 */
    int64_t flush_interval_ms;  /* oldest queued event waits at most this long; default 1000 */
    size_t max_queue_size;      /* events queued before new ones are dropped; default 100,000 */
    size_t max_queue_bytes;     /* bytes queued before new ones are dropped; default 64 MiB */
    /* When the queue is full, make the caller wait for room instead of dropping the event.
     * For shippers reading files (backpressure); never for an application's log calls. */
    bool block_when_full;
    bool compress;              /* gzip request bodies */
    bool sync_upload;           /* send from the logging thread (tests, tiny tools) */
    /* A batch is retried until it is delivered or the sink closes: backoff from
     * retry_delay_ms, doubling (unless no_exponential_backoff) up to SKY_CWL_MAX_BACKOFF_MS (30 s),
     * with full jitter.
     * max_retries bounds the AWS layer's retries of the control calls (CreateLogGroup,
     * CreateLogStream, PutRetentionPolicy). The retry mode (standard, adaptive, legacy) is the
     * AWS configuration's: AWS_RETRY_MODE, else retry_mode of the profile (skylog/aws.h). */
    int max_retries;            /* 0 (unset) = AWS_MAX_ATTEMPTS - 1 or the profile's
                                   max_attempts - 1 when set, else 3; < 0 = no retries (a
                                   config file's `max_retries: 0`) */
    int64_t retry_delay_ms;     /* default 100 */
    bool no_exponential_backoff;
    size_t max_event_bytes;     /* message + 26; default and max SKY_CWL_MAX_EVENT_BYTES */
    sky_cwl_oversize oversize;
    sky_cwl_transport transport;
    const char *bearer_token;   /* ingestion endpoints: Authorization: Bearer instead of SigV4 */
    /* With the ingestion transports the group and stream must exist (or the endpoint creates
     * them, as `skylog serve` does); the control calls still go through awsJson. */
    bool message_only; /* send the event's "message" text (as given, newlines kept) instead of
                          the whole JSON event */
    /* Receives events CloudWatch rejected or that could not be sent. The CloudWatch sink owns
     * it from the call on, also when the call fails (it is then closed). */
    sky_sink *fallback;
    int64_t connect_timeout_ms; /* default 5000 */
    int64_t request_timeout_ms; /* default 30000 */
    /* PEM file of the CAs to trust for https endpoints (a private CA, a TLS-intercepting
     * proxy); default: AWS_CA_BUNDLE, `ca_bundle` of the profile, CURL_CA_BUNDLE,
     * SSL_CERT_FILE, else the system store (sky_aws_resolve_ca_bundle()). */
    const char *ca_bundle;
    /* Which HTTP client sends, a sky_http_transport (skylog/aws.h, where the rule is): auto (the
     * default: skylog's own HTTP/1.1 client, less CPU per request and no libcurl, unless a proxy
     * variable applies to the endpoint: then libcurl, through the proxy), native or curl.
     * Native with a proxy for the endpoint is refused at creation. $SKYLOG_HTTP_TRANSPORT
     * overrides it. The credential providers' requests (STS, SSO, IMDS) follow the same choice. */
    int http_transport;
    /* Crash-safe spool (docs/DURABILITY.md): when set, every accepted event is also written
     * to this memory-mapped file until the service has answered for it, and the next sink
     * opened on the same file (after a crash, a SIGKILL, a close that could not deliver)
     * sends what it holds first, in order. One process at a time: a second one gets an
     * error. NULL: no spool (events queued in memory are lost if the process dies). */
    const char *spool_path;
    size_t spool_max_bytes;     /* its data area; default 64 MiB; 64 KiB .. 1 TiB */
    sky_cwl_fsync spool_fsync;  /* default none */
    int64_t spool_fsync_every_ms; /* SKY_CWL_FSYNC_INTERVAL; default 1000 */
    uint64_t reserved_[8]; /* zero; room to grow in the same ABI (docs/COMPATIBILITY.md) */
} sky_cwl_opts;

/* Creates a CloudWatch Logs sink. Validates every option (names, limits) and returns
 * SKY_EINVAL with a message in *errmsg (free() it) when one is wrong; does not contact AWS
 * (groups and streams are created on first send). */
SKY_API sky_status sky_sink_cloudwatch_logs(const sky_cwl_opts *opts, sky_sink **out,
                                            char **errmsg);

/* Queues one raw message (not an event: no rendering) with a timestamp in Unix milliseconds,
 * applying the same limits, policies and accounting as logged events. For shippers such as
 * `skylog ship`. Returns SKY_OK when accepted, SKY_EFULL when the queue is full, SKY_ELIMIT for
 * an oversize message dropped by policy, SKY_EINVAL for an empty one (all counted).
 * Thread-safe. */
SKY_API sky_status sky_cwl_put(sky_sink *sink, int64_t ts_ms, const char *msg, size_t len);

/* One message for sky_cwl_put_many(). */
typedef struct sky_cwl_msg {
    int64_t ts_ms;   /* Unix milliseconds */
    const char *msg; /* not NUL-terminated; may be NULL when len is 0 */
    size_t len;
} sky_cwl_msg;

/* Queues msgs[0..n) in order, as n calls of sky_cwl_put() would, under one lock: for shippers
 * that read many lines at a time (a lock and a wake-up check per message cost more than the
 * queueing itself). Each message's result goes to status[i] (status may be NULL). Stops after
 * the first message refused for lack of room or memory (SKY_EFULL, SKY_ENOMEM) and returns how
 * many were handled, that one included, so that the caller may decide whether to go on (with
 * block_when_full, a refusal means the sink cannot deliver: see persistent_error); the others
 * (SKY_ELIMIT, SKY_EINVAL) are counted as with sky_cwl_put() and do not stop it. Returns 0 when
 * `sink` is not a CloudWatch sink or an argument is invalid. With a spool and
 * SKY_CWL_FSYNC_BATCH, one fdatasync covers the whole call. Thread-safe. */
SKY_API size_t sky_cwl_put_many(sky_sink *sink, const sky_cwl_msg *msgs, size_t n,
                                sky_status *status);

typedef enum sky_cwl_reject {
    SKY_CWL_REJECT_TOO_OLD = 0, /* older than 14 days (checked before sending, and by AWS) */
    SKY_CWL_REJECT_TOO_NEW,     /* more than 2 hours in the future */
    SKY_CWL_REJECT_EXPIRED,     /* older than the group's retention */
    /* the service refused the event (a request refused as a whole for an event-level reason,
     * e.g. InvalidParameterException, is halved and resent until the refused event is alone:
     * only that one is rejected, the others are delivered) */
    SKY_CWL_REJECT_INVALID,
    SKY_CWL_REJECT_COUNT_
} sky_cwl_reject;

typedef enum sky_cwl_drop {
    SKY_CWL_DROP_QUEUE_FULL = 0, /* max_queue_size/bytes reached (endpoint slow or down) */
    SKY_CWL_DROP_OVERSIZE,       /* oversize policy DROP */
    SKY_CWL_DROP_UNDELIVERED,    /* still queued when close gave up (deadline passed) */
    SKY_CWL_DROP_NO_RESOURCE,    /* group/stream missing and creation disabled or failed */
    SKY_CWL_DROP_EMPTY,          /* empty message (CloudWatch requires at least 1 character) */
    SKY_CWL_DROP_COUNT_
} sky_cwl_drop;

typedef struct sky_cwl_stats {
    uint64_t queued_events; /* now */
    uint64_t queued_bytes;
    bool sender_alive;
    uint64_t accepted;      /* events handed to the sink */
    uint64_t sent_events;   /* accepted by CloudWatch */
    uint64_t sent_bytes;    /* counted as AWS counts them (UTF-8 + 26) */
    uint64_t requests;      /* PutLogEvents calls that succeeded */
    uint64_t retries;       /* requests sent again after a failure (PutLogEvents and the
                               control calls: CreateLogGroup, CreateLogStream, ...) */
    uint64_t throttles;     /* throttling answers among them */
    uint64_t ambiguous;     /* requests whose outcome was unknown (may have been stored) */
    uint64_t truncated, split; /* oversize events truncated / split (see split_parts) */
    uint64_t rejected[SKY_CWL_REJECT_COUNT_];
    uint64_t dropped[SKY_CWL_DROP_COUNT_];
    uint64_t fallback_events; /* events handed to the fallback sink */
    int64_t last_success_ms;  /* Unix ms, 0 if never */
    char last_error[256];     /* "" if none */
    /* An error that waiting cannot fix holds delivery back (credentials missing or refused,
     * access denied, an unknown host, an untrusted certificate): its text is last_error; it
     * was reported once on stderr; batches are kept and retried slowly (backoff up to 60 s)
     * in case it gets fixed (rotated keys, a policy granted), and the flag clears on the next
     * delivery. Writers that block_when_full do not wait while it is set (their events are
     * dropped as queue_full), so a shipper can stop instead of hanging. */
    bool persistent_error;
    int64_t persistent_error_since_ms; /* Unix ms, 0 when none */
    uint64_t split_parts;     /* events the `split` ones became (each counted in sent_events) */
    uint64_t truncated_bytes; /* message bytes cut off by truncation */
    /* Requests sent to find which event made the service refuse a whole request (halves
     * resent after an InvalidParameterException or SerializationException; see
     * rejected[SKY_CWL_REJECT_INVALID]). Also counted in `requests` when they succeed. */
    uint64_t isolation_requests;
    /* The spool (sky_cwl_opts.spool_path); all 0 without one. */
    uint64_t spool_bytes;      /* size of its data area */
    uint64_t spool_used_bytes; /* now: records not yet acknowledged (and what they wait behind) */
    uint64_t spool_replayed;   /* events found in the spool at open, delivered first */
    uint64_t spool_torn;       /* damaged records found at open (a writer killed mid-event) */
    uint64_t spool_kept;       /* events left in the spool at close, for the next owner */
    /* Over every process that used this spool file: events that may have been stored twice
     * (sent, then the process died or the answer was lost before the acknowledgement),
     * damaged records skipped, events refused because the spool was full. */
    uint64_t spool_ambiguous_total;
    uint64_t spool_torn_total;
    uint64_t spool_dropped_total;
    /* With the adaptive AWS retry mode (AWS_RETRY_MODE=adaptive): how long the AWS layer's
     * client-side rate limiter held requests back after throttling, in all. */
    uint64_t rate_limited_ms;
    /* Delivery's state now, so that a caller can tell an endpoint that is down from one that
     * is slow or asks for patience, without copying the sink's retry policy (`skylog ship`
     * gives up on these: docs/CLI.md). The _mono_ms times are sky_monotonic_ns() / 1000000. */
    /* Attempts at sending a batch that failed in a row (network errors, timeouts, 5xx, errors
     * that waiting cannot fix: the batch is kept for a retry). An answer that shows the service
     * at work ends the run: a delivery, a refusal of the events themselves (rejected, dropped
     * no_resource), and a throttling answer (it is there, and asks us to slow down). */
    uint64_t failures_in_a_row;
    int64_t failing_since_mono_ms; /* when the first of those failed; 0 when none did */
    bool throttled;            /* the last attempt was answered with throttling */
    /* When the batch that failed (throttled or not) is tried again: the sink is waiting out its
     * backoff until then. 0 when no retry is planned: nothing failed, the retry is being sent,
     * or nothing is queued. */
    int64_t retry_at_mono_ms;
    /* The sink's credentials provider (sky_aws_creds_stats_get() in skylog/aws.h): chain
     * resolutions that gave credentials and that failed, retries of its calls (STS, SSO,
     * container endpoint, IMDS) and throttling answers to them. All 0 with a bearer token. */
    uint64_t creds_refreshes, creds_failures, creds_retries, creds_throttles;
    uint64_t reserved_[8]; /* zero; room to grow in the same ABI (docs/COMPATIBILITY.md) */
} sky_cwl_stats;

/* Snapshot of a CloudWatch Logs sink's counters; SKY_EINVAL if `sink` is not one. The sink
 * pointer stays valid after sky_add_sink() until the pipeline is closed. Thread-safe. */
SKY_API sky_status sky_cwl_stats_get(sky_sink *sink, sky_cwl_stats *out);
/* The whole of the sink's credentials provider's counters (skylog/aws.h's sky_aws_creds_stats,
 * of which sky_cwl_stats has four as creds_*: this adds stale_used and last_error); all zero
 * with a bearer token. SKY_EINVAL if `sink` is not a CloudWatch Logs sink. Thread-safe. */
struct sky_aws_creds_stats; /* skylog/aws.h */
SKY_API sky_status sky_cwl_creds_stats_get(sky_sink *sink, struct sky_aws_creds_stats *out);
/* The retry policy of the sink's AWS clients (skylog/aws.h's sky_aws_client_retry_stats(): the
 * resolved retry mode and attempts, the retry quota left and its refusals, the adaptive rate
 * limiter's waits), one state its PutLogEvents and control calls share. Its `retries` and
 * `throttles` are the AWS layer's: control calls retried there, throttling answers to any call
 * (the sink retries PutLogEvents itself: sky_cwl_stats.retries counts both kinds). All zero for
 * a sink without AWS clients. SKY_EINVAL if `sink` is not a CloudWatch Logs sink. Thread-safe. */
struct sky_aws_retry_stats; /* skylog/aws.h */
SKY_API sky_status sky_cwl_retry_stats_get(sky_sink *sink, struct sky_aws_retry_stats *out);
/* The stream name the sink's template expanded to at creation ({hostname}, {pid}, {strftime}
 * resolved), valid as long as the sink; NULL for a {logger} template (a stream per logger) or
 * when `sink` is not a CloudWatch sink. A shipper that resumes keeps it, so that it writes to
 * the same stream again. */
SKY_API const char *sky_cwl_stream_name(sky_sink *sink);
/* Closes a CloudWatch sink that was never added to a pipeline (for shippers): last sends
 * (about 2 s), leftovers counted as undelivered, then *final_stats (may be NULL) gets the final
 * counters and the sink is freed. SKY_ETIMEDOUT if something was left undelivered. With a
 * spool, leftovers stay in it for the next owner (spool_kept), which is not a loss: SKY_OK. */
SKY_API sky_status sky_cwl_close(sky_sink *sink, sky_cwl_stats *final_stats);
/* Writers waiting for room (block_when_full) stop waiting, and later ones do not wait: what
 * does not fit is refused (SKY_EFULL, counted as dropped queue_full) as without
 * block_when_full. For a shipper that gives up on delivery while its reading thread may be
 * waiting for room that a failing endpoint will not make. Cannot be undone. SKY_EINVAL if
 * `sink` is not a CloudWatch sink. Thread-safe. */
SKY_API sky_status sky_cwl_stop_blocking(sky_sink *sink);
SKY_API const char *sky_cwl_reject_name(sky_cwl_reject r);
SKY_API const char *sky_cwl_drop_name(sky_cwl_drop d);

/* Validators, exposed for CLIs and configuration checks. */
SKY_API bool sky_cwl_valid_group_name(const char *name);
SKY_API bool sky_cwl_valid_stream_name(const char *name);

#ifdef __cplusplus
}
#endif

#endif
