/*
 * skylog/metrics.h - counters, gauges and histograms/timers, aggregated in the process and
 * published to CloudWatch as Embedded Metric Format log records or with PutMetricData.
 *
 * A registry (sky_metrics) holds instruments (sky_metric). Instruments are created once (at
 * start-up, from any thread) and then recorded from any thread, cheaply and without a lock:
 * each thread records into its own shard of the instrument (allocated on its first record
 * there), so threads never write a shared cache line and a record never waits, neither for
 * another thread nor for a flush. A counter add or a histogram record is a few dozen
 * instructions with no locked instruction (the flush pays for the ordering with one
 * membarrier() system call; where the kernel refuses it, each record takes one atomic
 * exchange instead). See bench/RESULTS.md ("Metrics").
 *
 * Every flush interval (default 60 s) and on sky_flush()/sky_close() of a pipeline a metrics
 * sink is attached to, the registry's shards are drained into one datum per instrument (one
 * million increments make one datum) and handed to every attached output (see
 * sky_sink_metrics_emf() and sky_sink_metrics_cloudwatch()). A record made while a flush is
 * draining lands in that interval or the next, never in neither or both.
 *
 * Histograms keep exact values (and their counts) while an interval has at most
 * SKY_METRIC_EXACT_VALUES distinct values; past that they switch to log-linear buckets (64 per
 * binary octave) whose representatives are within SKY_METRIC_SKETCH_ERROR relative error of
 * every value they stand for (0.78%, for magnitudes 2^-30 .. 2^50, about 9.3e-10 .. 1.1e15;
 * smaller magnitudes count as 0, larger ones in the top bucket, both counted in
 * sky_metrics_stats.clamped). Count, sum, min and max are always exact. So any
 * percentile CloudWatch computes from the published Values/Counts is within 1% of the same
 * percentile of the recorded values.
 *
 *     sky_metrics *m = sky_metrics_default();
 *     sky_metric *req;
 *     sky_metric_new(m, &(sky_metric_opts){ .ns = "Shop", .name = "RequestCount",
 *                    .kind = SKY_METRIC_COUNTER, .unit = SKY_UNIT_COUNT,
 *                    .dims = (sky_dim[]){{"Operation", "checkout"}}, .n_dims = 1 }, &req, NULL);
 *     sky_counter_add(req, 1);
 */
#ifndef SKYLOG_METRICS_H
#define SKYLOG_METRICS_H

#include <skylog.h>

#ifdef __cplusplus
extern "C" {
#endif

/* CloudWatch limits, checked when an instrument is created. */
#define SKY_METRIC_MAX_DIMS 30
#define SKY_METRIC_MAX_NAME 255      /* namespace, metric name, dimension name */
#define SKY_METRIC_MAX_DIM_VALUE 1024
#define SKY_METRIC_EXACT_VALUES 150  /* distinct values a datum carries (CloudWatch Values) */
#define SKY_METRIC_SKETCH_ERROR 0.01 /* relative error of a sketch bucket's representative */

/* The 27 CloudWatch units. */
typedef enum sky_unit {
    SKY_UNIT_NONE = 0,
    SKY_UNIT_SECONDS,
    SKY_UNIT_MICROSECONDS,
    SKY_UNIT_MILLISECONDS,
    SKY_UNIT_BYTES,
    SKY_UNIT_KILOBYTES,
    SKY_UNIT_MEGABYTES,
    SKY_UNIT_GIGABYTES,
    SKY_UNIT_TERABYTES,
    SKY_UNIT_BITS,
    SKY_UNIT_KILOBITS,
    SKY_UNIT_MEGABITS,
    SKY_UNIT_GIGABITS,
    SKY_UNIT_TERABITS,
    SKY_UNIT_PERCENT,
    SKY_UNIT_COUNT,
    SKY_UNIT_BYTES_PER_SECOND,
    SKY_UNIT_KILOBYTES_PER_SECOND,
    SKY_UNIT_MEGABYTES_PER_SECOND,
    SKY_UNIT_GIGABYTES_PER_SECOND,
    SKY_UNIT_TERABYTES_PER_SECOND,
    SKY_UNIT_BITS_PER_SECOND,
    SKY_UNIT_KILOBITS_PER_SECOND,
    SKY_UNIT_MEGABITS_PER_SECOND,
    SKY_UNIT_GIGABITS_PER_SECOND,
    SKY_UNIT_TERABITS_PER_SECOND,
    SKY_UNIT_COUNT_PER_SECOND,
    SKY_UNIT_COUNT_
} sky_unit;

/* CloudWatch's spelling ("Milliseconds", "Bytes/Second"); "None" out of range. */
SKY_API const char *sky_unit_name(sky_unit unit);
/* Parses CloudWatch's spelling (case-insensitive). SKY_EINVAL if unknown. */
SKY_API sky_status sky_unit_parse(const char *text, sky_unit *out);

typedef enum sky_metric_kind {
    SKY_METRIC_COUNTER = 0, /* sum of the adds over the interval: one value per datum */
    SKY_METRIC_GAUGE,       /* the last value set in the interval (none if it was not set) */
    SKY_METRIC_HISTOGRAM,   /* every value recorded: count, sum, min, max, Values/Counts */
    SKY_METRIC_KIND_COUNT_
} sky_metric_kind;

typedef struct sky_dim {
    const char *name;  /* 1-255 characters, not starting with ':' */
    const char *value; /* 1-1024 characters */
} sky_dim;

typedef struct sky_metrics_opts {
    int64_t flush_interval_ms; /* default 60000; minimum 1000 */
    /* The clock of the datums' timestamps (Unix epoch ns; tests); default sky_now_ns. */
    int64_t (*now_ns)(void *user);
    void *clock_user;
    uint64_t reserved_[8]; /* zero; room to grow in the same ABI (docs/COMPATIBILITY.md) */
} sky_metrics_opts;

typedef struct sky_metrics sky_metrics;
typedef struct sky_metric sky_metric;

/* Creates a registry (`opts` may be NULL). Free it with sky_metrics_free() after every sink
 * attached to it is closed. */
SKY_API sky_status sky_metrics_new(const sky_metrics_opts *opts, sky_metrics **out);
/* The process-wide registry: what metrics sinks built from configuration (skylog.yaml,
 * SKYLOG_* variables) publish. Created on first use, never freed. Thread-safe. */
SKY_API sky_metrics *sky_metrics_default(void);
/* Frees a registry and its instruments. NULL-safe; never the default one. */
SKY_API void sky_metrics_free(sky_metrics *m);

typedef struct sky_metric_opts {
    const char *ns;   /* namespace, 1-255 characters, not "AWS/..." nor starting with ':' */
    const char *name; /* 1-255 characters */
    sky_metric_kind kind;
    sky_unit unit;
    const sky_dim *dims; /* up to 30, distinct names; copied */
    size_t n_dims;
    bool high_resolution; /* StorageResolution 1 (per-second metrics) instead of 60 */
    uint64_t reserved_[8]; /* zero; room to grow in the same ABI (docs/COMPATIBILITY.md) */
} sky_metric_opts;

/* Creates an instrument, or returns the one already registered with the same namespace, name
 * and dimensions (of the same kind and unit: otherwise SKY_EINVAL). Validates every CloudWatch
 * limit (SKY_EINVAL with a message in *errmsg, which may be NULL; free() it). The instrument
 * lives as long as its registry. Thread-safe (takes the registry's lock). */
SKY_API sky_status sky_metric_new(sky_metrics *m, const sky_metric_opts *opts, sky_metric **out,
                                  char **errmsg);

/* Recording. Thread-safe, lock-free, never blocks on I/O, never allocates after a thread's
 * first record on an instrument (histograms: and after its first switch to buckets, 40 KiB
 * per sign of the values and buffer). Up to 1023 threads alive at once record each into their
 * own shard; more share the last one (their records then take turns). NaN and
 * infinities are refused (counted as sky_metrics_stats.invalid); a call on the wrong kind of
 * instrument is counted the same way and otherwise ignored. NULL instruments are ignored. */
SKY_API void sky_counter_add(sky_metric *counter, double delta);
SKY_API void sky_gauge_set(sky_metric *gauge, double value);
SKY_API void sky_histogram_record(sky_metric *histogram, double value);
/* A timer is a histogram whose unit is a time unit: records `ns` converted to that unit
 * (Seconds, Milliseconds or Microseconds; None and other units take milliseconds). */
SKY_API void sky_timer_record_ns(sky_metric *histogram, int64_t ns);

/* One aggregated datum, as outputs receive them. Views valid during the delivery only. */
typedef struct sky_metric_datum {
    const char *ns, *name;
    const sky_dim *dims;
    size_t n_dims;
    sky_unit unit;
    sky_metric_kind kind;
    bool high_resolution;
    int64_t timestamp_ms; /* end of the interval, Unix ms */
    /* Counters and gauges: value. Histograms: count/sum/min/max (exact) and n_values distinct
     * values (exact, or sketch bucket representatives) with their counts, ascending. */
    double value;
    double count, sum, min, max;
    const double *values;
    const double *counts;
    size_t n_values;
} sky_metric_datum;

typedef struct sky_metrics_stats {
    uint64_t instruments;
    uint64_t records;      /* recording calls that were kept */
    uint64_t invalid;      /* NaN/infinite values, wrong-kind calls */
    uint64_t clamped;      /* histogram values outside the sketch's range */
    uint64_t flushes;      /* intervals drained */
    uint64_t datums;       /* datums handed to the outputs */
    uint64_t reserved_[8]; /* zero; room to grow in the same ABI (docs/COMPATIBILITY.md) */
} sky_metrics_stats;

/* Snapshot of a registry's counters. Thread-safe. */
SKY_API void sky_metrics_stats_get(sky_metrics *m, sky_metrics_stats *out);

/* Drains every instrument now and hands the datums to the attached outputs (what a sink's
 * flush does). `deadline_ns` (CLOCK_MONOTONIC, 0 = none) bounds the outputs' sending.
 * Returns the first output error. Thread-safe (flushes are serialised). */
SKY_API sky_status sky_metrics_flush(sky_metrics *m, int64_t deadline_ns);

/* ---- operations: duration plus Success/Failure counts, and a log event (seed 003's
 * track_operation) ---------------------------------------------------------------------------- */

/* The instruments of one operation, dimension Operation=<operation>: "Duration" (a
 * Milliseconds histogram), "Success" and "Failure" (Count counters). */
typedef struct sky_op_metrics {
    sky_metric *duration, *success, *failure;
} sky_op_metrics;

/* Creates (or finds) the three instruments in `ns`. Thread-safe. SKY_EINVAL as sky_metric_new. */
SKY_API sky_status sky_op_metrics_new(sky_metrics *m, const char *ns, const char *operation,
                                      sky_op_metrics *out, char **errmsg);

/* One run of an operation, on the caller's stack. */
typedef struct sky_operation {
    sky_logger *log;          /* may be NULL: no log event */
    const sky_op_metrics *m;  /* may be NULL: no metrics */
    const char *name;         /* must outlive the operation */
    int64_t start_ns;         /* sky_monotonic_ns() */
    bool failed;
    int once;                 /* private to the macros */
    bool ended;
} sky_operation;

SKY_API sky_operation sky_operation_begin(sky_logger *log, const sky_op_metrics *m,
                                          const char *name);
/* Marks the operation failed (it then counts in Failure and logs at ERROR). */
static inline void sky_operation_fail(sky_operation *op) { op->failed = true; }
/* Ends it once (later calls do nothing): records the duration and Success or Failure, and logs
 * the event "operation" with fields operation, duration_ms and success (INFO, or ERROR when
 * failed). The event is logged on the calling thread, so it carries the thread's context
 * (SKY_WITH_CONTEXT: request ids...). */
SKY_API void sky_operation_end(sky_operation *op);

/* Runs the following block as an operation named `name`; `op` names the sky_operation inside
 * it (sky_operation_fail(&op)). With GCC and Clang the operation ends however the block is left
 * (break, return, goto); with other compilers, only by reaching its end.
 *
 *     SKY_TRACK_OPERATION(op, log, &db_metrics, "db_query") {
 *         if (query() != 0)
 *             sky_operation_fail(&op);
 *     }
 */
#if defined(__GNUC__)
#define SKY_TRACK_OPERATION(op, log, metrics, name)                                                \
    for (sky_operation op __attribute__((cleanup(sky_operation_end))) =                            \
             sky_operation_begin((log), (metrics), (name));                                        \
         op.once; op.once = 0)
#else
#define SKY_TRACK_OPERATION(op, log, metrics, name)                                                \
    for (sky_operation op = sky_operation_begin((log), (metrics), (name)); op.once;               \
         sky_operation_end(&op))
#endif
/* SKY_TRACK_OPERATION without a name for the operation: logs and records the duration. */
#define SKY_TIMED(log, metrics, name)                                                              \
    SKY_TRACK_OPERATION(SKY__CAT(sky__op_, __LINE__), log, metrics, name)

/* ---- outputs: each is a sky_sink, attached to a pipeline with sky_add_sink() so that the
 * pipeline's sky_flush() and sky_close() flush the metrics. The sink ignores log events. ---- */

typedef struct sky_emf_opts {
    sky_metrics *metrics; /* NULL = sky_metrics_default() */
    /* Where the EMF records go, owned by the EMF sink from the call on (also on failure): a
     * file or console sink (Lambda, the CloudWatch agent), or a CloudWatch Logs sink (records
     * then go through sky_cwl_put()). NULL = stdout. */
    sky_sink *output;
    int64_t flush_interval_ms; /* sets the registry's interval when > 0 */
    /* Caps a flush's output (EMF has no counts, so a histogram value recorded n times is
     * written n times): at most max_values values per datum (default 1,000,000: 10,000
     * records) and max_records records per flush (default 100,000). Values past them are not
     * written, and are counted in sky_emf_stats.dropped_values (and the sink's dropped):
     * prefer PutMetricData for high-volume histograms. */
    size_t max_values;
    size_t max_records;
    uint64_t reserved_[8]; /* zero; room to grow in the same ABI (docs/COMPATIBILITY.md) */
} sky_emf_opts;

/* An Embedded Metric Format output. Records follow every EMF limit: at most 100 metrics per
 * directive, 30 dimension keys, 100 values per metric; datums that do not fit one record are
 * split over several, which CloudWatch adds back together. A histogram's Values/Counts are
 * written as repeated values (EMF has no counts). SKY_EINVAL with *errmsg (may be NULL). */
SKY_API sky_status sky_sink_metrics_emf(const sky_emf_opts *opts, sky_sink **out, char **errmsg);

typedef struct sky_emf_stats {
    uint64_t records;        /* EMF records the output accepted */
    uint64_t errors;         /* records the output refused (each counted; the others written) */
    uint64_t dropped_values; /* metric values past max_values / max_records, not written */
    uint64_t reserved_[8]; /* zero; room to grow in the same ABI (docs/COMPATIBILITY.md) */
} sky_emf_stats;

/* Counters of an EMF sink; SKY_EINVAL if `sink` is not one. Thread-safe. */
SKY_API sky_status sky_emf_stats_get(sky_sink *sink, sky_emf_stats *out);

typedef struct sky_cwm_opts {
    sky_metrics *metrics;     /* NULL = sky_metrics_default() */
    const char *region;       /* default: AWS_REGION, AWS_DEFAULT_REGION, config file */
    const char *endpoint;     /* default: AWS_ENDPOINT_URL_CLOUDWATCH, AWS_ENDPOINT_URL, the
                                 config file, AWS (sky_aws_resolve_endpoint()) */
    const char *profile;
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token;
    int64_t flush_interval_ms; /* sets the registry's interval when > 0 */
    int max_retries;           /* per request; 0 (unset) = AWS_MAX_ATTEMPTS - 1 or the
                                  profile's max_attempts - 1 when set, else 3; < 0 = no
                                  retries (a config file's `max_retries: 0`). The retry mode
                                  is AWS_RETRY_MODE's or the profile's retry_mode */
    int64_t retry_delay_ms;    /* backoff base, default 100 */
    size_t max_queue_datums;   /* datums kept for a later try while the endpoint fails;
                                  default 100,000 (older ones are dropped, counted) */
    bool no_compress;          /* default: gzip bodies of 10 KiB or more, as botocore does */
    int64_t request_timeout_ms; /* default 30000 */
    const char *ca_bundle;
    /* Which HTTP client sends: auto (the default), native or curl; a sky_http_transport
     * (skylog/aws.h, where the rule is). $SKYLOG_HTTP_TRANSPORT overrides it. */
    int http_transport;
    uint64_t reserved_[8]; /* zero; room to grow in the same ABI (docs/COMPATIBILITY.md) */
} sky_cwm_opts;

/* A CloudWatch PutMetricData output (awsJson 1.0, GraniteServiceVersion20100801.PutMetricData).
 * Requests hold at most 1000 datums and 1,000,000 bytes; a datum with more than 150 values is
 * split into several datums of the same metric and timestamp. Datums older than 14 days or
 * more than 2 hours ahead are rejected before sending (counted). A failed request is kept and
 * retried at the next flush; nothing is dropped without being counted. Does not contact AWS on
 * creation. SKY_EINVAL/SKY_EUNSUPPORTED with *errmsg (may be NULL). */
SKY_API sky_status sky_sink_metrics_cloudwatch(const sky_cwm_opts *opts, sky_sink **out,
                                               char **errmsg);

typedef struct sky_cwm_stats {
    uint64_t datums_sent;      /* accepted by CloudWatch */
    uint64_t requests;         /* PutMetricData calls that succeeded */
    uint64_t failed_requests;  /* calls that failed after the AWS layer's retries */
    uint64_t retries;          /* attempts beyond the first */
    uint64_t rejected_invalid; /* datums in requests CloudWatch refused as invalid */
    uint64_t rejected_too_old; /* datums older than 14 days when sent */
    uint64_t rejected_too_new; /* datums more than 2 hours in the future */
    uint64_t dropped_queue_full;
    uint64_t dropped_undelivered; /* still queued when the sink closed */
    uint64_t queued_datums;    /* now */
    char last_error[256];
    uint64_t throttles;        /* attempts answered with a throttling error */
    uint64_t rate_limited_ms;  /* adaptive retry mode: time the client-side rate limiter held
                                  requests back */
    /* The sink's credentials provider (sky_aws_creds_stats_get() in skylog/aws.h): chain
     * resolutions that gave credentials and that failed, retries of its calls (STS, SSO,
     * container endpoint, IMDS) and throttling answers to them. */
    uint64_t creds_refreshes, creds_failures, creds_retries, creds_throttles;
    uint64_t reserved_[8]; /* zero; room to grow in the same ABI (docs/COMPATIBILITY.md) */
} sky_cwm_stats;

/* Counters of a PutMetricData sink; SKY_EINVAL if `sink` is not one. Thread-safe. */
SKY_API sky_status sky_cwm_stats_get(sky_sink *sink, sky_cwm_stats *out);
/* The whole of the sink's credentials provider's counters (skylog/aws.h's sky_aws_creds_stats,
 * of which sky_cwm_stats has four as creds_*: this adds stale_used and last_error).
 * SKY_EINVAL if `sink` is not a PutMetricData sink. Thread-safe. */
struct sky_aws_creds_stats; /* skylog/aws.h */
SKY_API sky_status sky_cwm_creds_stats_get(sky_sink *sink, struct sky_aws_creds_stats *out);
/* The retry policy of the sink's AWS client (skylog/aws.h's sky_aws_client_retry_stats(): the
 * resolved retry mode and attempts, retries and throttling answers of its PutMetricData calls,
 * the retry quota, the adaptive rate limiter's waits). SKY_EINVAL if `sink` is not a
 * PutMetricData sink. Thread-safe. */
struct sky_aws_retry_stats; /* skylog/aws.h */
SKY_API sky_status sky_cwm_retry_stats_get(sky_sink *sink, struct sky_aws_retry_stats *out);

typedef struct sky_statsd_opts {
    sky_metrics *metrics;      /* NULL = sky_metrics_default() */
    const char *host;          /* numeric IPv4/IPv6 address or name; default "127.0.0.1" */
    int port;                  /* default 8125 */
    bool no_tags;              /* plain StatsD: dimensions dropped (default: DogStatsD tags) */
    size_t max_packet;         /* bytes a datagram; default 1432 (fits a 1500-byte MTU) */
    int64_t flush_interval_ms; /* sets the registry's interval when > 0 */
    uint64_t reserved_[8]; /* zero; room to grow in the same ABI (docs/COMPATIBILITY.md) */
} sky_statsd_opts;

/* A StatsD / DogStatsD output over UDP: one line per datum, "<namespace>.<name>:<value>|<type>"
 * with "|#dim:value,..." tags (DogStatsD). Counters are "c", gauges "g", histograms one line per
 * distinct value: "ms" for time units, else "h", with "|@<1/count>" when a value was recorded
 * more than once (the agent multiplies back). ':', '|', '@', '#' and ',' in names and tags
 * become '_'. Lines are packed into datagrams of at most max_packet bytes. UDP does not say
 * what arrived: datagrams the kernel refused are counted in the sink's errors. */
SKY_API sky_status sky_sink_metrics_statsd(const sky_statsd_opts *opts, sky_sink **out,
                                           char **errmsg);

/* ---- metrics from log events (seed 004's MetricsProcessor) ----------------------------------
 *
 * A processor that records metrics from the events passing through a pipeline, by rules:
 * count the events (by name glob and minimum level), histogram a numeric field (duration_ms),
 * set a gauge from a numeric field (queue_size). Dimensions come from the event: "event" (its
 * name, dimension Event), "level" (Level), "logger" (Logger), or any field (the dimension takes
 * the field's name; its string, integer, float or bool value; "none" when the event lacks it;
 * cut to 1024 bytes). Events pass on unchanged.
 *
 * Cardinality is bounded: a rule keeps at most max_series distinct tuples of dimension values;
 * events with a new tuple past that are recorded in the rule's "other" series (every dimension
 * "other"), so totals stay right, and counted in sky_log_metrics_stats.overflow. In
 * skylog.yaml: a processor of type `metrics` with `namespace`, `rules` (one string each, see
 * docs/METRICS.md) and `max_series`. */

typedef struct sky_log_metric_rule {
    sky_metric_kind kind;   /* COUNTER: counts events; HISTOGRAM, GAUGE: the value of `field`
                               (events without that field are left out) */
    const char *field;      /* the numeric field (int, uint, float, duration as ms) */
    const char *events;     /* fnmatch glob on the event name; NULL or "*" = every event */
    sky_level min_level;    /* events below it are not counted (default TRACE: all) */
    const char *name;       /* metric name; default "EventCount" (counters) or `field` */
    sky_unit unit;          /* default Count for counters, None otherwise */
    const char *const *dims; /* event fields as dimensions, NULL-terminated; NULL = {"event"} */
    bool no_dims;           /* no dimensions at all */
} sky_log_metric_rule;

typedef struct sky_log_metrics_opts {
    sky_metrics *metrics; /* NULL = sky_metrics_default() */
    const char *ns;       /* the namespace of every rule's metrics (required) */
    const sky_log_metric_rule *rules;
    size_t n_rules;
    size_t max_series; /* distinct dimension tuples a rule keeps; default 100, at most 100000 */
    uint64_t reserved_[8]; /* zero; room to grow in the same ABI (docs/COMPATIBILITY.md) */
} sky_log_metrics_opts;

typedef struct sky_log_metrics sky_log_metrics;

/* Appends the processor to `sky` (it records into `metrics`, which a metrics sink publishes).
 * Every rule's metric is validated against CloudWatch's limits now: SKY_EINVAL with *errmsg
 * (may be NULL; free() it). `out` (may be NULL) receives a handle for the stats, valid while
 * the pipeline is open. */
SKY_API sky_status sky_add_log_metrics(sky_t *sky, const sky_log_metrics_opts *opts,
                                       sky_log_metrics **out, char **errmsg);

typedef struct sky_log_metrics_stats {
    uint64_t events;      /* events seen */
    uint64_t recorded;    /* records made (one per rule an event matched) */
    uint64_t not_numeric; /* had a histogram/gauge rule's field, not a finite number (events
                             without the field are not the rule's: not counted) */
    uint64_t overflow;    /* recorded in an "other" series: past max_series */
    uint64_t failed;      /* not recorded: out of memory */
    uint64_t reserved_[8]; /* zero; room to grow in the same ABI (docs/COMPATIBILITY.md) */
} sky_log_metrics_stats;

SKY_API sky_status sky_log_metrics_stats_get(sky_log_metrics *lm, sky_log_metrics_stats *out);
/* The i-th processor (in the order added, as sky_processor_stats_get() counts them) if it is a
 * log-metrics processor, also one a configuration made (a `metrics` processor of a YAML file);
 * NULL for another processor or past the end. By name: sky_processor_find(sky, "metrics", ...)
 * gives i. Valid, and owned by the pipeline, until it is closed. Thread-safe. */
SKY_API sky_log_metrics *sky_log_metrics_get(sky_t *sky, size_t i);

/* ---- the system sampler (opt-in): the process's CPU, memory, threads and descriptors --------
 *
 * A thread reads /proc/self/stat and /proc/self/fd every interval and publishes gauges
 * cpu_percent (Percent), rss_bytes (Bytes), threads and open_fds (Count) in a namespace, and/or
 * logs an INFO event "system_metrics" with fields cpu_percent, rss_bytes, memory_mb, threads,
 * open_fds (seed 004's SystemMetricsLogger). Linux only (SKY_EIO elsewhere). In skylog.yaml: a
 * processor section `system_metrics` (docs/METRICS.md), stopped when its pipeline closes. */

typedef struct sky_sample {
    int64_t time_ns;     /* when, Unix epoch */
    int64_t mono_ns;     /* when, sky_monotonic_ns() */
    double cpu_seconds;  /* the process's CPU time so far, user + system (clock-tick precision) */
    double cpu_percent;  /* CPU time over wall time since the previous sample, in % of one core
                            (above 100 with several busy threads); 0 without a previous one */
    uint64_t rss_bytes;  /* resident memory */
    uint64_t threads;
    uint64_t open_fds;
} sky_sample;

/* One sample now; `prev` (may be NULL) for cpu_percent. SKY_EIO if /proc cannot be read. */
SKY_API sky_status sky_sample_process(const sky_sample *prev, sky_sample *out);

typedef struct sky_sampler_opts {
    int64_t interval_ms;   /* default 60000; minimum 100 */
    sky_metrics *metrics;  /* NULL = sky_metrics_default() */
    const char *ns;        /* namespace of the gauges; NULL = no metrics */
    const sky_dim *dims;   /* dimensions of every gauge (copied) */
    size_t n_dims;
    sky_logger *log;       /* logs "system_metrics" here each sample; NULL = no events. The
                              sampler must be stopped before its pipeline closes (see
                              sky_on_close()). */
    uint64_t reserved_[8]; /* zero; room to grow in the same ABI (docs/COMPATIBILITY.md) */
} sky_sampler_opts;

typedef struct sky_sampler sky_sampler;

/* Starts the sampler thread (the first sample after one interval). SKY_EINVAL with *errmsg
 * (neither metrics nor events, interval too short, a gauge CloudWatch would refuse), SKY_EIO
 * without /proc, SKY_ENOMEM. */
SKY_API sky_status sky_sampler_start(const sky_sampler_opts *opts, sky_sampler **out,
                                     char **errmsg);
/* Stops and frees it (joins the thread). NULL-safe. In a forked child, where the thread does
 * not exist (it is the parent's), only frees: start a new sampler in the child to sample it. */
SKY_API void sky_sampler_stop(sky_sampler *s);

typedef struct sky_sampler_stats {
    uint64_t samples; /* published */
    uint64_t errors;  /* samples /proc could not give */
    sky_sample last;  /* the last one (at start: the baseline) */
    uint64_t reserved_[8]; /* zero; room to grow in the same ABI (docs/COMPATIBILITY.md) */
} sky_sampler_stats;

SKY_API sky_status sky_sampler_stats_get(sky_sampler *s, sky_sampler_stats *out);

/* The i-th sampler a configuration started for the pipeline (its `system_metrics` sections,
 * in the order of the file, from 0; sky_open_file(), sky_open_env()), for
 * sky_sampler_stats_get(); NULL past the end. A sampler is not a processor: it has no index
 * among the processors (sky_processor_find() does not find it), and it is counted apart. Valid,
 * and owned by the pipeline (never stop it yourself), until the pipeline is closed.
 * Thread-safe. */
SKY_API sky_sampler *sky_sampler_get(sky_t *sky, size_t i);

#ifdef __cplusplus
}
#endif

#endif
