/*
 * alarms.h - CloudWatch alarms in the local endpoint: PutMetricAlarm, PutCompositeAlarm,
 * DescribeAlarms, DescribeAlarmsForMetric, DeleteAlarms, SetAlarmState, DescribeAlarmHistory,
 * EnableAlarmActions, DisableAlarmActions (both metrics wire forms, dispatched from
 * metrics_api.c), and their evaluation from stored datapoints: on a timer, and on demand at a
 * given time for tests (POST /_skylog/evaluate-alarms?at=MS, only when the environment has
 * SKYLOG_SERVE_TEST_HOOKS=1).
 */
#ifndef SKY_SERVE_ALARMS_H
#define SKY_SERVE_ALARMS_H

#include "reply.h"

#include <stdbool.h>
#include <stdint.h>

/* The operation's name (a static string: it outlives the request body `op` may point into)
 * when it is one of those below, else NULL. */
const char *sky__alarms_known(const char *op);
/* Answers one of them: *result gets the JSON result, or r an error. */
void sky__alarms_handle(const sky__request *req, sky__api api, const char *op, json_t *body,
                        sky__reply *r, json_t **result);

/* Evaluates every alarm as of now_ms (metric alarms, then composite alarms in dependency
 * order), storing transitions, their history and their actions (stamped with the time they
 * are made: now_ms only says which periods are evaluated). Returns the number of
 * transitions, or -1 when the store failed (the reason on stderr). Thread-safe (takes the
 * store lock). */
int sky__alarms_evaluate(sky__server *srv, int64_t now_ms);

/* The evaluation timer: a thread evaluating every interval_ms (> 0) until stopped. NULL when
 * the thread could not start. stop joins it (NULL-safe). */
typedef struct sky__alarm_timer sky__alarm_timer;
sky__alarm_timer *sky__alarm_timer_start(sky__server *srv, int64_t interval_ms);
void sky__alarm_timer_stop(sky__alarm_timer *t);

/* POST /_skylog/evaluate-alarms[?at=<epoch ms>]: false when the request is not that (or the
 * test hooks are off), else answers {"transitions": n}. */
bool sky__alarms_test_hook(const sky__request *req, sky__reply *r);

#endif
