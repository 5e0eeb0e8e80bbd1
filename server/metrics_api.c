/* metrics_api.c - placeholder, replaced below */
#include "metrics_api.h"
void sky__metrics_handle(const sky__request *req, sky__api api, const char *op, sky__reply *r)
{
    (void)req; (void)op;
    sky__reply_error(r, api, 400, "InvalidAction", "not yet");
}
int sky__metrics_store_point(sqlite3 *db, const char *ns, const char *name, json_t *dims,
                             int64_t ts_ms, const char *unit, double count, double sum,
                             double min, double max)
{
    (void)db; (void)ns; (void)name; (void)dims; (void)ts_ms; (void)unit; (void)count; (void)sum; (void)min; (void)max;
    return 0;
}
