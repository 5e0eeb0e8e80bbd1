/*
 * sky_lazycurl_probe.c - test-only: proves that libskylog maps libcurl only once an HTTP client
 * needs it (transport curl, or a proxy), and libcrypto only once something is signed
 * (tests/integration/test_lazy_curl.py).
 *
 *   sky_lazycurl_probe LOGFILE [--http [URL] | --sign | --env]
 *
 * Logs a few events to LOGFILE only, then prints one JSON line
 * {"curl_mapped": BOOL, "crypto_mapped": BOOL, "maxrss_kib": N}; with --http it then creates
 * and frees an HTTP client (default options), having sent a GET to URL if given (its outcome
 * does not matter), and prints a second line {"http": "ok"|REASON, "curl_mapped": BOOL}; with --sign it signs a request instead and prints
 * {"sign": "ok"|REASON, "curl_mapped": BOOL, "crypto_mapped": BOOL}; with --env it opens the
 * pipeline the SKYLOG_ variables describe (sky_open_env(): a CloudWatch Logs sink, say), logs
 * three events "env 0".."env 2", closes it and prints {"env": "ok"|ERROR, "curl_mapped": BOOL}.
 * Whether a library is mapped is read from /proc/self/maps, so it is what this very process has
 * loaded.
 */
#include <skylog.h>
#include <skylog/aws.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static bool mapped(const char *lib)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return false;
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, lib) != NULL;
    fclose(f);
    return found;
}

static const char *yes(const char *lib)
{
    return mapped(lib) ? "true" : "false";
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: sky_lazycurl_probe LOGFILE [--http | --sign]\n");
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
    printf("{\"curl_mapped\": %s, \"crypto_mapped\": %s, \"maxrss_kib\": %ld}\n",
           yes("/libcurl"), yes("/libcrypto"), ru.ru_maxrss);
    if (argc > 2 && strcmp(argv[2], "--http") == 0) {
        sky_http_client *c;
        char why[512] = "ok";
        if (sky_http_client_new(NULL, &c) == SKY_OK) {
            if (argc > 3) {
                sky_http_response r;
                char ignored[256];
                if (sky_http_perform(c, &(sky_http_request){.method = "GET", .url = argv[3]},
                                     &r, ignored, sizeof ignored) == SKY_OK)
                    sky_http_response_free(&r);
            }
            sky_http_client_free(c);
        } else
            sky_http_init(why, sizeof why);
        printf("{\"http\": \"%s\", \"curl_mapped\": %s}\n", why, yes("/libcurl"));
    }
    if (argc > 2 && strcmp(argv[2], "--env") == 0) {
        char *why = NULL;
        sky_t *env = sky_open_env(&why);
        if (env) {
            sky_logger *l = sky_logger_get(env, "probe");
            for (int i = 0; i < 3; i++)
                sky_info(l, "env", SKY_INT("i", i));
            if (sky_close(env) != SKY_OK)
                why = strdup("sky_close failed");
        }
        /* the error is one line of text without quotes or backslashes to escape */
        printf("{\"env\": \"%s\", \"curl_mapped\": %s}\n", why ? why : "ok",
               yes("/libcurl"));
        free(why);
    }
    if (argc > 2 && strcmp(argv[2], "--sign") == 0) {
        sky_aws_header h[] = {{"Host", "logs.us-east-1.amazonaws.com"}};
        sky_sigv4_result r;
        char why[512] = "ok";
        if (sky_sigv4_sign(&(sky_sigv4_request){.method = "POST", .path = "/", .headers = h,
                                                .n_headers = 1, .payload = "{}", .payload_len = 2},
                           &(sky_sigv4_params){.access_key_id = "AKIDEXAMPLE",
                                               .secret_access_key = "secret",
                                               .region = "us-east-1", .service = "logs"},
                           &r) == SKY_OK)
            sky_sigv4_result_free(&r);
        else
            sky_aws_crypto_init(why, sizeof why);
        printf("{\"sign\": \"%s\", \"curl_mapped\": %s, \"crypto_mapped\": %s}\n", why,
               yes("/libcurl"), yes("/libcrypto"));
    }
    return 0;
}
