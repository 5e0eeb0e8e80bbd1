/*
 * fuzz_otel_env.c - the OpenTelemetry variables the OTLP sink reads when it is made
 * (src/sinks/otlp.c, and the headers list through src/sinks/http_batch.c): OTEL_LOGS_EXPORTER
 * and OTEL_TRACES_EXPORTER lists, the endpoints (generic and per signal), the protocols, the
 * service name, OTEL_RESOURCE_ATTRIBUTES and the headers, as a container or an SDK's
 * environment may hand them over.
 *
 * Input: one line per variable, in the order of `vars` below (a line that is one byte 0x01
 * unsets it). The sink is made with default options and closed, nothing logged, so nothing is
 * sent (SKYLOG_HTTP_TRANSPORT=native and no proxy: libcurl is never loaded). Checks: made, or
 * refused with a message; never both, never neither.
 */
#include "fuzz_common.h"

#include <skylog.h>
#include <skylog/http_sink.h>

#include <stdlib.h>
#include <string.h>

static const char *const vars[] = {
    "OTEL_LOGS_EXPORTER",
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
};
#define NVARS (sizeof vars / sizeof vars[0])

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    sky_fuzz_sandbox(argc, argv);
    setenv("SKYLOG_HTTP_TRANSPORT", "native", 1);
    const char *proxies[] = {"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"};
    for (size_t i = 0; i < sizeof proxies / sizeof proxies[0]; i++)
        unsetenv(proxies[i]);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384)
        return 0;
    char *text = sky_fuzz_cstr(data, size);
    sky_fuzz_setenv_lines(vars, NVARS, text, size);
    sky_otlp_opts o = {0};
    sky_sink *s = NULL;
    char *err = NULL;
    sky_status st = sky_sink_otlp(&o, &s, &err);
    if ((st == SKY_OK) != (s != NULL) || (st != SKY_OK && !err) || (st == SKY_OK && err))
        abort();
    if (s)
        sky_sink_close(s);
    free(err);
    for (size_t i = 0; i < NVARS; i++)
        unsetenv(vars[i]);
    free(text);
    return 0;
}
