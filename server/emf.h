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

/* Limits. The EMF specification's: 100 metrics per directive, 30 dimension keys per set, 100
 * values per metric. skylog serve's own (CloudWatch documents none; these keep one request's
 * time under the store lock bounded): 30 dimension sets per directive, 1,000 datapoints per
 * event, 10,000 per request (sky__emf_extract's budget). */
#define SKY__EMF_MAX_SETS 30
#define SKY__EMF_MAX_POINTS_PER_EVENT 1000
#define SKY__EMF_MAX_POINTS_PER_REQUEST 10000

/* Extracts the metrics of one message, if it is EMF; anything else is ignored silently (a log
 * line is never rejected because its EMF is wrong, as in CloudWatch). A directive over a limit
 * is skipped whole, as is one whose _aws.Timestamp is not an integer within the window
 * PutMetricData accepts (2 weeks past, 2 hours future of `now_ms`). Stores at most *budget
 * datapoints and decrements it. Called with the store lock held, inside the PutLogEvents
 * transaction. Returns the number of datapoints stored. */
int sky__emf_extract(sqlite3 *db, const char *msg, size_t len, int64_t event_ts_ms, int64_t now_ms,
                     int *budget);

#endif
