/*
 * fuzz_alarm_rule.c - composite alarm rules (server/alarm_rule.c): any text is compiled; a
 * rule that compiles is evaluated under a state pattern taken from the input, so parsing and
 * the postfix evaluator both see hostile shapes. Any verdict is fine; crashes, leaks and
 * sanitizer reports are not.
 */
#include "alarm_rule.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char why[256];
    sky__rule *r = sky__rule_compile(text, why, sizeof why);
    if (r) {
        int states[SKY__RULE_MAX_REFS];
        for (size_t i = 0; i < sky__rule_n_refs(r); i++)
            states[i] = (int)((size > i ? data[i] : 0) % 4) - 1; /* -1: no such alarm */
        (void)sky__rule_eval(r, states);
        sky__rule_free(r);
    }
    free(text);
    return 0;
}
