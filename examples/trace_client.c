/*
 * trace_client.c - a client that starts a span and calls a service with libcurl, passing the
 * trace on in its headers (skylog/curl.h, skylog/trace.h; docs/TRACING.md).
 *
 *   SKYLOG_FORMAT=json ./example_trace_client http://127.0.0.1:PORT/orders/17
 *
 * Its events and the server's (example_trace_server) share one trace_id; the server's span is
 * a child of the client's span.
 */
#include <skylog.h>
#include <skylog/curl.h>

#include <stdio.h>
#include <stdlib.h>

static size_t discard(char *p, size_t size, size_t n, void *user)
{
    (void)p, (void)user;
    return size * n;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: example_trace_client URL\n");
        return 2;
    }
    char *err = NULL;
    sky_t *sky = sky_open_env(&err);
    if (!sky) {
        fprintf(stderr, "example_trace_client: %s\n", err);
        free(err);
        return 2;
    }
    sky_logger *log = sky_logger_get(sky, "client");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *curl = curl_easy_init();
    long status = 0;
    SKY_SPAN(span, log, "checkout") {
        sky_span_set_kind(&span, SKY_SPAN_KIND_CLIENT); /* it wraps a call to another service */
        sky_info(log, "calling_orders", SKY_STR("url", argv[1]));
        struct curl_slist *h = sky_trace_curl_headers(NULL, SKY_TRACE_ALL);
        curl_easy_setopt(curl, CURLOPT_URL, argv[1]);
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
        CURLcode rc = curl_easy_perform(curl);
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        curl_slist_free_all(h);
        if (rc != CURLE_OK)
            sky_span_fail(&span, curl_easy_strerror(rc));
        sky_info(log, "orders_answered", SKY_INT("status", status));
    }
    curl_easy_cleanup(curl);
    curl_global_cleanup();
    sky_close(sky);
    return status == 200 ? 0 : 1;
}
