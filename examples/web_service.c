/*
 * web_service.c - a request handler that logs what CloudWatch Logs Insights queries ask about:
 * one "request" event per request (endpoint, path, status_code, duration_ms, user_id,
 * funcName) and a "request_failed" error with an error_code for every 5xx. The events go to
 * CloudWatch Logs; `skylog query` (or the console) then answers the usual questions:
 *
 *   AWS_ENDPOINT_URL_CLOUDWATCH_LOGS=http://127.0.0.1:4566 ./example_web_service /demo/web 500
 *   skylog query --group /demo/web 'filter level = "ERROR" | stats count() by path'
 *   skylog query --group /demo/web 'stats avg(duration_ms) as avg_duration by endpoint
 *                                   | sort avg_duration desc'
 *
 * The traffic is made up but deterministic (the same requests every run), so its numbers
 * can be checked: tests/integration/test_serve_insights.py runs the queries of the seed
 * documents over it and computes the answers independently.
 */
#include <skylog.h>
#include <skylog/cloudwatch.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    const char *group = argc > 1 ? argv[1] : "/skylog/web";
    long requests = argc > 2 ? strtol(argv[2], NULL, 10) : 500;

    sky_t *sky = NULL;
    if (sky_open(&(sky_options){.mode = SKY_MODE_ASYNC}, &sky) != SKY_OK)
        return 1;
    sky_sink *cw = NULL;
    char *err = NULL;
    if (sky_sink_cloudwatch_logs(&(sky_cwl_opts){.log_group = group, .log_stream = "web-1"}, &cw,
                                 &err) != SKY_OK) {
        fprintf(stderr, "example_web_service: %s\n", err);
        free(err);
        sky_close(sky);
        return 1;
    }
    sky_add_sink(sky, cw, NULL);
    sky_logger *log = sky_logger_get(sky, "web");

    static const char *const endpoints[] = {"/api/cart", "/api/login", "/api/search",
                                            "/api/orders", "/health"};
    static const char *const users[] = {"user123", "alice", "bob", "carol", "dave", "erin",
                                        "frank"};
    for (long i = 0; i < requests; i++) {
        const char *ep = endpoints[(i * 7 + i / 5) % 5];
        const char *user = users[i % 7];
        /* 10 ms to 1.5 s, a few slow ones over the 1 s threshold the queries look for */
        double ms = 10.0 + (double)((i * 379) % 1500) + (i % 4) * 0.25;
        int status = i % 11 == 3 ? 503 : i % 13 == 5 ? 500 : 200;
        sky_info(log, "request", SKY_STR("funcName", "handle_request"), SKY_STR("endpoint", ep),
                 SKY_STR("path", ep), SKY_INT("status_code", status), SKY_F64("duration_ms", ms),
                 SKY_F64("response_time_ms", ms), SKY_STR("user_id", user));
        if (status >= 500)
            sky_error(log, "request_failed", SKY_STR("funcName", "handle_request"),
                      SKY_STR("path", ep), SKY_STR("user_id", user),
                      SKY_STR("error_code", status == 503 ? "Unavailable" : "InternalError"),
                      SKY_STR("exception", status == 500 ? "RuntimeException: boom" : "timeout"));
    }
    sky_status fs = sky_flush(sky, 60000);
    sky_cwl_stats st;
    sky_cwl_stats_get(cw, &st);
    printf("requests=%ld sent=%llu\n", requests, (unsigned long long)st.sent_events);
    sky_close(sky);
    return fs == SKY_OK ? 0 : 1;
}
