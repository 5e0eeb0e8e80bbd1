/*
 * context.c - scoped context and bound loggers: fields that follow a request through the code
 * without being passed to every call.
 */
#include <skylog.h>

#include <stdio.h>

static void query_database(sky_logger *log, int rows)
{
    /* No request_id here: the enclosing SKY_WITH_CONTEXT adds it. */
    sky_info(log, "query_done", SKY_INT("rows", rows), SKY_F64("duration_ms", 12.5));
}

static void handle_request(sky_logger *log, const char *request_id, const char *user)
{
    SKY_WITH_CONTEXT(SKY_STR("request_id", request_id), SKY_STR("user_id", user)) {
        sky_info(log, "request_started", SKY_STR("path", "/cart"));
        query_database(log, 3);
        SKY_WITH_CONTEXT(SKY_STR("phase", "payment")) {
            sky_warn(log, "slow_payment", SKY_F64("duration_ms", 950.0));
        }
        sky_info(log, "request_finished", SKY_INT("status", 200));
    }
    sky_info(log, "outside_any_request");
}

int main(void)
{
    sky_t *sky = NULL;
    if (sky_open(NULL, &sky) != SKY_OK)
        return 1;
    sky_add_sink(sky, sky_sink_console(&(sky_console_opts){.stream = SKY_STDOUT,
                                                            .format = SKY_FORMAT_JSON}),
                 NULL);
    sky_logger *log = sky_logger_get(sky, "shop.api");

    handle_request(log, "req-1", "u-17");

    /* A bound logger carries its fields on every event, like structlog's bind(). */
    sky_logger *worker = SKY_BIND(log, SKY_STR("worker", "w-3"), SKY_INT("shard", 7));
    sky_info(worker, "job_picked", SKY_STR("job", "resize-images"));
    sky_logger_release(worker);

    return sky_close(sky) == SKY_OK ? 0 : 1;
}
