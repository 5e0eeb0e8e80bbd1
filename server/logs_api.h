/*
 * logs_api.h - the CloudWatch Logs API (awsJson1.1, X-Amz-Target: Logs_20140328.<Op>) of the
 * local endpoint: log groups, streams, retention, PutLogEvents with every documented rule,
 * GetLogEvents and FilterLogEvents.
 */
#ifndef SKY_SERVE_LOGS_API_H
#define SKY_SERVE_LOGS_API_H

#include "reply.h"

#include <sqlite3.h>

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
 * would reject as too old/new/expired are not stored: *rejected counts them, for the caller to
 * report). Fills an error reply and returns false on invalid names or a store failure. */
bool sky__logs_ingest(sky__server *srv, const char *group, const char *stream,
                      const sky__log_event *ev, size_t n, size_t *rejected, sky__reply *r);

/* For the files of other Logs operations (metric_filters.c): a group name checked as every
 * operation checks it (false with InvalidParameterException replied, naming `field`), and a
 * group's id by name (-1 none, -2 store error). Store lock held for the lookup. */
bool sky__logs_group_name_ok(const char *name, const char *field, sky__reply *r);
int64_t sky__logs_find_group(sqlite3 *db, const char *name);
/* A string member of a request (NULL when absent or null): 0, or -1 when it is not a string
 * (SerializationException). */
int sky__logs_str_arg(json_t *o, const char *key, const char **out);
/* For insights_api.c: a group name's validation message (in buf; NULL when valid), the group
 * a logGroupIdentifier names (a name, or the name in an ARN; may point into buf), and a
 * group's id with its retention in days (0: none). */
const char *sky__logs_check_group_name(const char *name, const char *field, char *buf, size_t cap);
const char *sky__logs_group_from_identifier(const char *id, char *buf, size_t cap);
int64_t sky__logs_find_group_retention(sqlite3 *db, const char *name, int *retention);

#endif
