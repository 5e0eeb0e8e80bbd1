/*
 * fuzz_config_values.c - the option value parsers of src/config/registry.c (sizes, durations,
 * integers, numbers, booleans, enums), as the YAML loader and `skylog config` use them: the
 * input is parsed by every row of every component. A value accepted must be one the row's
 * C member can hold and within the row's range; a value refused must come with a message.
 */
#include "config/registry.h"
#include "fuzz_common.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_row(const sky__opt *row, const char *text)
{
    if (row->type == SKY__OPT_LIST)
        return; /* built by the loader from a YAML sequence, never parsed from text */
    sky__value v;
    char err[512];
    err[0] = '\0';
    if (!sky__opt_parse(row, text, &v, err, sizeof err)) {
        if (!err[0])
            abort(); /* a refusal says why */
        return;
    }
    switch (row->type) {
    case SKY__OPT_INT:
    case SKY__OPT_SIZE:
    case SKY__OPT_DURATION:
        if (v.i < row->min || (row->max && v.i > row->max))
            abort();
        if ((row->type != SKY__OPT_INT || row->min >= 0) && v.i < 0)
            abort();
        if (!row->set && row->width == 4 && (v.i > INT32_MAX || v.i < INT32_MIN))
            abort(); /* would be truncated when stored */
        break;
    case SKY__OPT_NUMBER:
        if (!isfinite(v.d) || v.d < row->dmin || v.d > row->dmax)
            abort();
        break;
    case SKY__OPT_BOOL:
        if (v.i != 0 && v.i != 1)
            abort();
        break;
    default: break;
    }
}

static void check_component(const sky__component *c, const char *text)
{
    for (size_t i = 0; i < c->n_opts; i++)
        check_row(&c->opts[i], text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0; /* values are short; longer inputs only slow the search */
    char *text = sky_fuzz_cstr(data, size);
    check_component(&sky__config_pipeline, text);
    check_component(&sky__config_route, text);
    for (size_t i = 0; sky__config_components[i]; i++)
        check_component(sky__config_components[i], text);
    /* the suggestion helper sees every unknown name a user writes */
    const char *names[] = {"cloudwatch_logs", "console", "file", "redact"};
    (void)sky__config_suggest(text, names, 4);
    free(text);
    return 0;
}
