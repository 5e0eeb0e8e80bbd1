/*
 * fuzz_serve_alarms.c - alarm requests through skylog serve's real handlers and store
 * (server/alarms.c, alarm_rule.c, metrics_api.c), each followed by an evaluation of every
 * stored alarm at a fixed time, so hostile configurations, rules and datapoints reach the
 * evaluator too.
 *
 * Input: as fuzz_serve_metrics ("<Operation>\n<JSON body>", or "Q\n<form body>"). Any reply
 * and any verdict is fine; crashes, leaks and sanitizer reports are not.
 */
#include "alarms.h"
#include "serve_harness.h"

/* 2026-12-07T00:00:00Z: a fixed clock, so a replay evaluates the same periods every time. */
#define EVAL_AT_MS 1796601600000LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sky__alarms_evaluate(fz_metrics_call(data, size), EVAL_AT_MS);
    return 0;
}
