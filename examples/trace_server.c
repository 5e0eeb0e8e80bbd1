/*
 * trace_server.c - a small libmicrohttpd server that logs each request and continues the
 * caller's trace (skylog/microhttpd.h, skylog/request.h; docs/TRACING.md).
 *
 *   SKYLOG_FORMAT=json ./example_trace_server [PORT]   (0 or none: any free port)
 *
 * Listens on 127.0.0.1, prints "listening on PORT", and serves GET /orders/<id> and POST
 * /orders (whose body arrives over several callbacks) until its standard input is closed.
 * Every event logged while handling a request carries request_id, trace_id, span_id and
 * parent_span_id (the caller's span, from its traceparent header);
 * each request ends with a `request` event and RequestCount/ResponseTime metrics (shown with
 * SKYLOG_METRICS_EMF__PATH=file). example_trace_client calls it.
 */
#include <skylog.h>
#include <skylog/microhttpd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static sky_request_log *rl;
static sky_logger *log_;

static sky__mhd_result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **req_cls)
{
    (void)cls, (void)version, (void)upload;
    bool first = *req_cls == NULL; /* headers only: libmicrohttpd calls again with the body */
    sky_request *r = sky_mhd_enter(rl, c, method, url, req_cls);
    if (!r)
        return MHD_NO;
    sky__mhd_result ret;
    if (!strcmp(method, "POST") && !strcmp(url, "/orders")) {
        /* a body arrives over several calls: the request is entered on each, left after */
        if (*upload_size) {
            sky_request_add_bytes_in(r, *upload_size);
            sky_info(log_, "order_chunk", SKY_UINT("bytes", *upload_size));
            *upload_size = 0;
            sky_mhd_leave(r);
            return MHD_YES;
        }
        if (first) {
            sky_mhd_leave(r);
            return MHD_YES;
        }
        sky_request_set_endpoint(r, "/orders");
        ret = sky_mhd_respond(r, c, 201, "{\"created\":true}\n", 16, "application/json");
    } else if (!strncmp(url, "/orders/", 8) && strlen(url) > 8) {
        sky_request_set_endpoint(r, "/orders/{id}");
        sky_info(log_, "order_loaded", SKY_STR("order", url + 8));
        char body[128];
        int n = snprintf(body, sizeof body, "{\"order\":\"%.64s\",\"status\":\"shipped\"}\n",
                         url + 8);
        ret = sky_mhd_respond(r, c, 200, body, (size_t)n, "application/json");
    } else {
        ret = sky_mhd_respond(r, c, 404, "not found\n", 10, "text/plain");
    }
    sky_mhd_leave(r);
    return ret;
}

int main(int argc, char **argv)
{
    char *err = NULL;
    sky_t *sky = sky_open_env(&err);
    if (!sky) {
        fprintf(stderr, "example_trace_server: %s\n", err);
        free(err);
        return 2;
    }
    log_ = sky_logger_get(sky, "orders");
    if (sky_request_log_new(&(sky_request_opts){.log = sky_logger_get(sky, "http")}, &rl,
                            &err) != SKY_OK) {
        fprintf(stderr, "example_trace_server: %s\n", err);
        return 2;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)(argc > 1 ? atoi(argv[1]) : 0))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, &sa,
        MHD_OPTION_NOTIFY_COMPLETED, sky_mhd_completed, NULL, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "example_trace_server: cannot listen\n");
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("listening on %u\n", info ? (unsigned)info->port : 0u);
    fflush(stdout);
    char buf[64];
    while (read(0, buf, sizeof buf) > 0)
        ;
    MHD_stop_daemon(d); /* completes what is in progress */
    sky_request_log_free(rl);
    return sky_close(sky) == SKY_OK ? 0 : 1;
}
