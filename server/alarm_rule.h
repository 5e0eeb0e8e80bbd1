/*
 * alarm_rule.h - the rule language of CloudWatch composite alarms (PutCompositeAlarm's
 * AlarmRule):
 *
 *   ALARM(name) | OK(name) | INSUFFICIENT_DATA(name)   true when that alarm is in that state
 *   TRUE | FALSE
 *   NOT x, x AND y, x OR y, ( x )                      NOT binds tightest, then AND, then OR
 *
 * A name is written bare (ALARM(cpu-high)) or in double quotes (ALARM("CPU high"), where \"
 * and \\ escape). Operators and functions are upper case, as AWS documents them.
 *
 * Limits, checked while parsing, before anything grows with the input: the text is at most
 * SKY__RULE_MAX_LEN bytes (the API's limit), parentheses and NOTs nest at most
 * SKY__RULE_MAX_DEPTH deep, and at most SKY__RULE_MAX_REFS alarms are named (CloudWatch's
 * quota of underlying alarms). A rule compiles to a postfix program, so evaluating it needs no
 * recursion at all.
 */
#ifndef SKY_SERVE_ALARM_RULE_H
#define SKY_SERVE_ALARM_RULE_H

#include <stdbool.h>
#include <stddef.h>

#define SKY__RULE_MAX_LEN 10240
#define SKY__RULE_MAX_DEPTH 32
#define SKY__RULE_MAX_REFS 100

typedef enum sky__alarm_state {
    SKY__STATE_OK = 0,
    SKY__STATE_ALARM,
    SKY__STATE_INSUFFICIENT_DATA,
} sky__alarm_state;

/* "OK", "ALARM", "INSUFFICIENT_DATA"; and back (-1 for anything else). */
const char *sky__alarm_state_name(sky__alarm_state s);
int sky__alarm_state_parse(const char *s);

typedef struct sky__rule sky__rule;

/* Compiles `text`; NULL with a reason naming the position in why (cap bytes) when it is not a
 * valid rule or exceeds a limit. */
sky__rule *sky__rule_compile(const char *text, char *why, size_t cap);
/* The distinct alarm names the rule refers to, in order of first appearance. */
size_t sky__rule_n_refs(const sky__rule *r);
const char *sky__rule_ref(const sky__rule *r, size_t i);
/* The rule's value when alarm i (sky__rule_ref) is in states[i]; a negative state (an alarm
 * that does not exist) makes every function of it false. */
bool sky__rule_eval(const sky__rule *r, const int *states);
void sky__rule_free(sky__rule *r);

#endif
