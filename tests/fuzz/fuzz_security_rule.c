/*
 * fuzz_security_rule.c - the security monitor's rule syntax ("NAME: EVENT by KEY >= N in
 * WINDOW", src/processors/security.c), which comes from YAML and the environment. An accepted
 * rule must be within the documented bounds and its strings inside the caller's buffer; a
 * refused one must say why.
 */
#include "fuzz_common.h"

#include <skylog.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int inside(const char *p, const char *buf, size_t cap)
{
    return p >= buf && p < buf + cap && memchr(p, '\0', (size_t)(buf + cap - p)) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 2048)
        return 0;
    char *text = sky_fuzz_cstr(data, size);
    char buf[600], err[256];
    sky_security_rule r;
    err[0] = '\0';
    if (sky_security_rule_parse(text, &r, buf, sizeof buf, err, sizeof err)) {
        if (r.threshold < 1 || r.threshold > 10000 || r.window_ms < 1 ||
            r.window_ms > 7 * 86400000LL || !inside(r.name, buf, sizeof buf) ||
            !inside(r.key, buf, sizeof buf) || (r.event && !inside(r.event, buf, sizeof buf)) ||
            !*r.name || !*r.key || strchr(r.key, '*'))
            abort();
    } else if (!err[0]) {
        abort();
    }
    free(text);
    return 0;
}
