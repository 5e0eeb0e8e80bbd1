/*
 * sky_lazycurl_probe.c - test-only: proves that libskylog maps libcurl only once an HTTP client
 * is created (tests/integration/test_lazy_curl.py).
 *
 *   sky_lazycurl_probe LOGFILE [--http]
 *
 * Logs a few events to LOGFILE only, then prints one JSON line
 * {"curl_mapped": BOOL, "maxrss_kib": N}; with --http it then creates and frees an HTTP client
 * and prints a second line {"http": "ok"|REASON, "curl_mapped": BOOL}. Whether libcurl is
 * mapped is read from /proc/self/maps, so it is what this very process has loaded.
 */
#include <skylog.h>
#include <skylog/aws.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static bool curl_mapped(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return false;
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, "/libcurl") != NULL;
    fclose(f);
    return found;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: sky_lazycurl_probe LOGFILE [--http]\n");
        return 2;
    }
    char *err = NULL;
    sky_sink *sink;
    sky_t *sky;
    if (sky_sink_file(&(sky_file_opts){.path = argv[1]}, &sink, &err) != SKY_OK ||
        sky_open(NULL, &sky) != SKY_OK || sky_add_sink(sky, sink, NULL) != SKY_OK) {
        fprintf(stderr, "sky_lazycurl_probe: %s\n", err ? err : "cannot set up logging");
        return 1;
    }
    sky_logger *log = sky_logger_get(sky, "probe");
    for (int i = 0; i < 100; i++)
        sky_info(log, "file_only", SKY_INT("i", i), SKY_STR("sink", "file"));
    if (sky_close(sky) != SKY_OK)
        return 1;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"curl_mapped\": %s, \"maxrss_kib\": %ld}\n", curl_mapped() ? "true" : "false",
           ru.ru_maxrss);
    if (argc > 2 && strcmp(argv[2], "--http") == 0) {
        sky_http_client *c;
        char why[512] = "ok";
        if (sky_http_client_new(NULL, &c) == SKY_OK)
            sky_http_client_free(c);
        else
            sky_http_init(why, sizeof why);
        printf("{\"http\": \"%s\", \"curl_mapped\": %s}\n", why, curl_mapped() ? "true" : "false");
    }
    return 0;
}
