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

/* Shared with the other Logs handlers (insights_api.c). A group name's AWS validation message
 * (in buf), NULL when it is valid; `field` names the member in the message. */
const char *sky__logs_check_group_name(const char *name, const char *field, char *buf, size_t cap);
/* The group a logGroupIdentifier names (a name, or the name inside an ARN; may point into buf). */
const char *sky__logs_group_from_identifier(const char *id, char *buf, size_t cap);
/* A group's id and retention in days (0: none): -1 when there is none, -2 when the store
 * failed (sqlite3_errmsg says why). Call with the store locked. */
#include <sqlite3.h>
int64_t sky__logs_find_group(sqlite3 *db, const char *name, int *retention);

#endif
