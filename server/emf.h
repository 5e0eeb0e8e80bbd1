/*
 * emf.h - CloudWatch Embedded Metric Format: a log event whose message is a JSON object with
 * "_aws": {"Timestamp": ms, "CloudWatchMetrics": [{"Namespace", "Dimensions": [[...]],
 * "Metrics": [{"Name", "Unit", "StorageResolution"}]}]} also becomes metric datapoints, as
 * CloudWatch does when such events reach a log group.
 */
#ifndef SKY_SERVE_EMF_H
#define SKY_SERVE_EMF_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

/* Extracts the metrics of one message, if it is EMF; anything else is ignored silently (a log
 * line is never rejected because its EMF is wrong, as in CloudWatch). Called with the store
 * lock held, inside the PutLogEvents transaction. Returns the number of datapoints stored. */
int sky__emf_extract(sqlite3 *db, const char *msg, size_t len, int64_t event_ts_ms);

#endif
