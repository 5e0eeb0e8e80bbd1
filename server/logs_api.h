/*
 * logs_api.h - the CloudWatch Logs API (awsJson1.1, X-Amz-Target: Logs_20140328.<Op>) of the
 * local endpoint: log groups, streams, retention, PutLogEvents with every documented rule,
 * GetLogEvents and FilterLogEvents.
 */
#ifndef SKY_SERVE_LOGS_API_H
#define SKY_SERVE_LOGS_API_H

#include "reply.h"

#include <stdint.h>

/* Answers one Logs operation (`op` is the part of X-Amz-Target after the dot). */
void sky__logs_handle(const sky__request *req, const char *op, sky__reply *r);

/* One event for sky__logs_ingest(). */
typedef struct sky__log_event {
    int64_t ts_ms;
    const char *msg;
    size_t len;
} sky__log_event;

/* Appends events for the HTTP ingestion endpoints: creates the group and stream when missing,
 * sorts nothing (events are stored as given) and applies the time-window rules (events CloudWatch
 * would reject as too old/new/expired are skipped). Fills an error reply and returns false on
 * invalid names or a store failure. */
bool sky__logs_ingest(sky__server *srv, const char *group, const char *stream,
                      const sky__log_event *ev, size_t n, sky__reply *r);

#endif
