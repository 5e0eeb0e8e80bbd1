/*
 * otlp.h - the OTLP/HTTP JSON logs encoding shared by the OTLP exporter (otlp.c, which also
 * writes protobuf and traces) and the CloudWatch sink's `/v1/logs` transport (JSON only): the
 * request's envelope, and a LogRecord made from a message alone (what a sink that keeps only
 * the text can send); and the exporter's per-signal senders, for the stats getters.
 */
#ifndef SKY_SINKS_OTLP_H
#define SKY_SINKS_OTLP_H

#include "util/buf.h"

#include <skylog.h>

#include <stddef.h>
#include <stdint.h>

/* The text before a batch's records: one ResourceLogs whose resource has `attrs` (rendered
 * KeyValue objects separated by commas, "" for none) and one ScopeLogs of scope "skylog",
 * up to its opened "logRecords" array. */
void sky__otlp_prefix(sky_buf *b, const char *attrs, size_t n);
/* What closes it. */
#define SKY__OTLP_SUFFIX "]}]}]}"
/* A LogRecord: timeUnixNano and a string body. */
void sky__otlp_text_record(sky_buf *b, int64_t time_ns, const char *msg, size_t len);

/* The batch sender (an http_batch sink) of an otlp sink's signal (SKY_OTLP_LOGS or
 * SKY_OTLP_TRACES; 0: its first, logs before traces). NULL when `s` is not an otlp sink made
 * by sky_sink_otlp() or does not export that signal. */
sky_sink *sky__otlp_signal_sink(sky_sink *s, unsigned signal);
/* Whether `s` is an otlp sink made by sky_sink_otlp() (which may export no signal at all:
 * OTEL_LOGS_EXPORTER=none and OTEL_TRACES_EXPORTER=none). */
bool sky__otlp_sink_is(const sky_sink *s);

#endif
