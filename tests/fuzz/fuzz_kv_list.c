/*
 * fuzz_kv_list.c - sky__kv_next() (src/sinks/http_batch.c): the "key=value,key=value" lists of
 * the HTTP/OTLP sinks' `headers` and `resource_attributes` options and of the OTEL_* variables
 * (OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS), which come from the environment or a
 * configuration file. Every pair must fit its buffers, terminated, and the reader must end.
 */
#include "fuzz_common.h"

#include "sinks/http_batch.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *list = sky_fuzz_cstr(data, size);
    char k[16], v[32];
    size_t kl, vl, i = 0, n = 0, last = 0;
    while (sky__kv_next(list, &i, k, sizeof k, &kl, v, sizeof v, &vl)) {
        if (kl >= sizeof k || vl >= sizeof v || k[kl] || v[vl] || strlen(k) > kl ||
            strlen(v) > vl)
            abort();
        if (i <= last || ++n > size + 1) /* always moves on */
            abort();
        last = i;
    }
    free(list);
    return 0;
}
