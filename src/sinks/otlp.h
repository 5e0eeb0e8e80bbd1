/*
 * otlp.h - the OTLP/HTTP JSON logs encoding shared by the OTLP exporter (otlp.c, which also
 * writes protobuf and traces) and the CloudWatch sink's `/v1/logs` transport (JSON only): the
 * request's envelope, and a LogRecord made from a message alone (what a sink that keeps only
 * the text can send); and the exporter's per-signal senders, for the stats getters.
 */
#ifndef SKY_SINKS_OTLP_H
#define SKY_SINKS_OTLP_H

#include "sinks/http_batch.h"
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

/* An OTLP/HTTP collector's 2xx answer (`body`, `len`: the whole answer; NULL/0 for none) to a
 * request sent in protobuf (`pb`) or JSON, of the traces signal or the logs: an empty answer
 * or one without partial_success is full success; else a->rejected is partial_success's
 * rejected_log_records (traces: rejected_spans) and a->message its error_message.
 * -1 (a->error says why) for an answer that is not an Export*ServiceResponse in that
 * encoding, a negative count, or more than 64 KiB (checked before jansson sees it). */
int sky__otlp_partial_parse(const char *body, size_t len, bool pb, bool traces,
                            sky__hb_answer *a);

/* The batch sender (an http_batch sink) of an otlp sink's signal (SKY_OTLP_LOGS or
 * SKY_OTLP_TRACES; 0: its first, logs before traces). NULL when `s` is not an otlp sink made
 * by sky_sink_otlp() or does not export that signal. */
sky_sink *sky__otlp_signal_sink(sky_sink *s, unsigned signal);
/* Whether `s` is an otlp sink made by sky_sink_otlp() (which may export no signal at all:
 * OTEL_LOGS_EXPORTER=none and OTEL_TRACES_EXPORTER=none). */
bool sky__otlp_sink_is(const sky_sink *s);

#endif
