/*
 * skylog/stream.h - event streams (seed 004's EventStream): named streams whose events carry
 * `stream`, a per-stream `sequence` number and `event_type`, so a consumer can tell that it
 * has every event of a stream, in order, or which ones it missed.
 *
 *     sky_event_stream *orders;
 *     sky_event_stream_new(log, "orders", &orders);
 *     sky_stream_emit(orders, "order_created", SKY_STR("order_id", "ord_123"), SKY_F64("total", 99.99));
 *     sky_stream_emit(orders, "order_shipped", SKY_STR("carrier", "fedex"));
 *
 * Each event is named by its event_type and carries, before its own fields, stream (the
 * stream's name), sequence (1, 2, 3, ... per stream) and event_type. Sequence numbers are
 * given only to events that pass the logger's level, and a stream's lock is held from the
 * number to the log call, so in one process a stream's events enter the pipeline in sequence
 * order, from any number of threads, and (a single worker or the pipeline lock writing them)
 * reach every sink in that order. A missing number means a lost event: counted by the
 * pipeline (overflow, a sink error) or dropped by a filter or sampler, which a consumer can
 * then detect. Numbers start again at 1 in a new process (pair `stream` with a process or
 * instance field, e.g. the enrich processor's hostname/pid, to tell runs apart).
 */
#ifndef SKYLOG_STREAM_H
#define SKYLOG_STREAM_H

#include <skylog.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sky_event_stream sky_event_stream;

/* A stream named `name` (copied; 1-255 bytes) logging to `log`. SKY_EINVAL, SKY_ENOMEM. */
SKY_API sky_status sky_event_stream_new(sky_logger *log, const char *name,
                                        sky_event_stream **out);
/* Frees it; no emit may be running. NULL-safe. */
SKY_API void sky_event_stream_free(sky_event_stream *s);
/* Logs one event of the stream at `level` with `n` fields (at most 61; more are cut). Returns the sequence number it
 * got, or 0 when the level is off (no number used). Thread-safe. */
SKY_API uint64_t sky_event_stream_emit(sky_event_stream *s, sky_level level,
                                       const char *event_type, const sky_field *fields,
                                       size_t n);
/* The last sequence number given (0 before the first). */
SKY_API uint64_t sky_event_stream_last(sky_event_stream *s);

#ifndef __cplusplus
/* sky_stream_emit(stream, event_type, fields...): at INFO. sky_stream_emit_at: any level. */
#define sky_stream_emit(s, ...) sky_stream_emit_at((s), SKY_LEVEL_INFO, __VA_ARGS__)
#define sky_stream_emit_at(s, level, ...)                                                          \
    SKY__STREAM_EMIT((s), (level), SKY__FIRST(__VA_ARGS__), SKY__REST(__VA_ARGS__))
#define SKY__STREAM_EMIT(s, level, type, ...)                                                      \
    sky_event_stream_emit((s), (level), (type), (const sky_field[]){SKY__ZF, __VA_ARGS__} + 1,     \
                          sizeof((const sky_field[]){SKY__ZF, __VA_ARGS__}) / sizeof(sky_field) - \
                              2)
#endif

#ifdef __cplusplus
}
#endif

#endif /* SKYLOG_STREAM_H */
