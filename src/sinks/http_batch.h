/*
 * http_batch.h - the batching HTTP sender behind the generic HTTP sink and the OTLP exporter
 * (see http_batch.c for the design, skylog/http_sink.h for the contract). A codec says how an
 * event becomes bytes and how a batch's bytes are framed; the engine does the rest.
 */
#ifndef SKY_SINKS_HTTP_BATCH_H
#define SKY_SINKS_HTTP_BATCH_H

#include "core/event.h"

#include <skylog/http_sink.h>

/* What an endpoint's 2xx answer says beyond its status (OTLP's partial success). */
typedef struct sky__hb_answer {
    uint64_t rejected; /* events of the batch it did not keep anyway */
    char message[256]; /* its reason, made terminal-safe and cut; "" if none */
    char error[200];   /* why the answer could not be read (the codec's answer() was -1) */
} sky__hb_answer;

typedef struct sky__hb_codec {
    const char *type;         /* the sink's name in messages: "http", "otlp", "otlp traces" */
    const char *content_type;
    sky_format format;        /* what the pipeline renders for encode(): JSON, or NONE */
    /* Whether the codec carries this event at all (NULL: every event). One it does not is
     * counted `skipped`, never dropped (an OTLP traces exporter given a log line). */
    bool (*accept)(void *self, const sky_record *rec);
    /* Appends one event's encoding to `out` (pipeline thread); false: not encodable. */
    bool (*encode)(void *self, const sky_record *rec, sky_buf *out);
    /* Framing of a batch: prefix, separator between events, suffix. begin() is told the
     * bytes that will follow it before the suffix (the events and separators), which a
     * length-prefixed framing (protobuf) needs up front. */
    void (*begin)(void *self, sky_buf *body, size_t payload);
    /* Reads a 2xx answer's body (NULL: not read): 0 with *a filled, -1 when the body is not
     * what the endpoint must answer (a->error says how). The batch counts as answered either
     * way: a 2xx is never retried. */
    int (*answer)(void *self, const char *body, size_t len, sky__hb_answer *a);
    const char *sep;
    const char *suffix;
    void (*free)(void *self);
    void *self;
} sky__hb_codec;

/* Creates the sink. Takes ownership of codec.self (freed on failure too). *errmsg malloc'd. */
sky_status sky__http_batch_new(const char *url, const sky_http_batch_opts *opts,
                               const sky__hb_codec *codec, sky_sink **out, char **errmsg);

/* The next member of a "key=value,key=value" list (OTEL_RESOURCE_ATTRIBUTES' and
 * OTEL_EXPORTER_OTLP_HEADERS' syntax) from *i: key and value trimmed of blanks and
 * percent-decoded into the buffers (cut to their size), members without '=' skipped. The list
 * is read up to 64 KiB. False at the end (or with list NULL). */
bool sky__kv_next(const char *list, size_t *i, char *key, size_t kcap, size_t *kl, char *val,
                  size_t vcap, size_t *vl);

/* Starts a sink's close (its last tries, close_timeout_ms from now) without waiting, so
 * several senders closed together share one timeout; sky_sink_close() then finishes it. */
void sky__http_batch_close_begin(sky_sink *s);

/* Fills the defaults of unset (zero) members; `batch_size` is the codec's default. */
void sky__http_batch_defaults(sky_http_batch_opts *o, size_t batch_size);

#endif
