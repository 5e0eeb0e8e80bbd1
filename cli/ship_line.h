/*
 * ship_line.h - what `skylog ship` reads from a line of its input besides the text: the time of
 * a JSON object line (cmd_ship.c's header says which fields and forms).
 */
#ifndef SKY_CLI_SHIP_LINE_H
#define SKY_CLI_SHIP_LINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Timestamps a line may carry, in ms: beyond them a number is not a time (and not an int64
 * either once scaled: 1e300 or "nan" must never reach a conversion that is undefined). */
#define SKY__SHIP_TS_MAX_MS 999999999999999999LL

/* The Unix time in ms of the JSON object line s[0..n) (not NUL-terminated: ship takes lines in
 * place from its read buffer, so nothing past n is read), from its top-level "timestamp",
 * "time" or "ts" field: ISO-8601 text, or a number (ms, or s when below 10^11) within
 * +-SKY__SHIP_TS_MAX_MS. False if the line has none of them in a usable form. */
bool sky__line_timestamp(const char *s, size_t n, int64_t *ms);

#endif
