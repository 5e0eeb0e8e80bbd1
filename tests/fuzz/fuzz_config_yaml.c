/*
 * fuzz_config_yaml.c - YAML configuration text through sky_open_yaml() (parse, validate through
 * the option tables, build with the public constructors, close) and, when that succeeds, once
 * more through the loader with the summary `skylog config check` prints.
 *
 * Side effects are bounded by the sandbox (fuzz_common.h): a file sink's relative path is
 * created in a scratch directory; no event is logged, so nothing is written or sent.
 */
#include "config/loader.h"
#include "fuzz_common.h"

#include <skylog/config.h>

#include <stdint.h>
#include <stdlib.h>

SKY_FUZZ_SANDBOXED

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sky_t *sky = NULL;
    char *err = NULL;
    sky_status st = sky_open_yaml((const char *)data, size, &sky, &err);
    if (st == SKY_OK) {
        if (!sky || err)
            abort(); /* success means a pipeline and no message */
        sky_close(sky);
        char *summary = NULL;
        st = sky__config_load("fuzz.yaml", (const char *)data, size, NULL, &sky, &summary, &err);
        if (st == SKY_OK) {
            if (!summary)
                abort();
            sky_close(sky);
        }
        free(summary);
    } else if (sky || !err || !*err) {
        abort(); /* failure means no pipeline and a message */
    }
    free(err);
    return 0;
}
