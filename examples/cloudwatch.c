/*
 * cloudwatch.c - an example service that logs to CloudWatch Logs (and the console):
 * requests with context, errors with fields, then a burst of events, and prints the sink's
 * accounting at the end.
 *
 *   AWS_ENDPOINT_URL_CLOUDWATCH_LOGS=http://127.0.0.1:4566 AWS_REGION=us-east-1 \
 *   AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... ./example_cloudwatch /demo/shop 100000
 *
 * Without an endpoint variable it talks to the real AWS endpoint of AWS_REGION.
 */
#include <skylog.h>
#include <skylog/cloudwatch.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    const char *group = argc > 1 ? argv[1] : "/skylog/example";
    long burst = argc > 2 ? strtol(argv[2], NULL, 10) : 1000;

    sky_t *sky = NULL;
    /* async: log calls only copy the event into a ring; a worker renders and hands it on */
    if (sky_open(&(sky_options){.mode = SKY_MODE_ASYNC, .ring_bytes = 16u << 20}, &sky) != SKY_OK)
        return 1;
    sky_sink *cw = NULL;
    char *err = NULL;
    if (sky_sink_cloudwatch_logs(&(sky_cwl_opts){.log_group = group,
                                                 .log_stream = "{hostname}-{pid}",
                                                 .retention_days = 7,
                                                 .max_queue_size = 200000},
                                 &cw, &err) != SKY_OK) {
        fprintf(stderr, "example_cloudwatch: %s\n", err);
        free(err);
        sky_close(sky);
        return 1;
    }
    sky_add_sink(sky, cw, NULL);
    /* humans see warnings and errors on the console; CloudWatch gets everything */
    sky_add_sink(sky, sky_sink_console(NULL), &(sky_route){.level = SKY_LEVEL_WARN});
    sky_add_enrich(sky, &(sky_enrich_opts){.service = "shop", .environment = "demo",
                                          .hostname = true});
    sky_add_redact(sky, NULL);

    sky_logger *api = sky_logger_get(sky, "shop.api");
    sky_logger *db = sky_logger_get(sky, "shop.db");
    const char *users[] = {"alice", "bob", "carol"};
    for (int r = 0; r < 6; r++) {
        char rid[32];
        snprintf(rid, sizeof rid, "req-%04d", r);
        SKY_WITH_CONTEXT(SKY_STR("request_id", rid), SKY_STR("user", users[r % 3])) {
            sky_info(api, "request_started", SKY_STR("path", "/cart"), SKY_STR("method", "GET"));
            sky_info(db, "query", SKY_STR("table", "carts"), SKY_F64("ms", 3.25 * (r + 1)));
            if (r == 4)
                sky_error(api, "payment_failed", SKY_STR("provider", "acme"), SKY_INT("status", 502),
                          SKY_STR("api_key", "sk_live_do_not_log_me"));
            else
                sky_info(api, "request_finished", SKY_INT("status", 200), SKY_F64("ms", 12.5 + r));
        }
    }
    for (long i = 0; i < burst; i++)
        sky_info(api, "burst_event", SKY_INT("i", i), SKY_STR("user", users[i % 3]),
                 SKY_F64("ms", 1.5));

    sky_status fs = sky_flush(sky, 60000);
    sky_cwl_stats st;
    sky_cwl_stats_get(cw, &st);
    unsigned long long rejected = 0, dropped = 0;
    for (int i = 0; i < SKY_CWL_REJECT_COUNT_; i++)
        rejected += st.rejected[i];
    for (int i = 0; i < SKY_CWL_DROP_COUNT_; i++)
        dropped += st.dropped[i];
    printf("accepted=%llu sent=%llu requests=%llu retries=%llu rejected=%llu dropped=%llu\n",
           (unsigned long long)st.accepted, (unsigned long long)st.sent_events,
           (unsigned long long)st.requests, (unsigned long long)st.retries, rejected, dropped);
    sky_close(sky);
    return fs == SKY_OK && rejected + dropped == 0 ? 0 : 1;
}
