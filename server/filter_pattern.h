/*
 * filter_pattern.h - CloudWatch Logs filter patterns, as FilterLogEvents understands them:
 *
 *   ERROR                      every term must appear (case-sensitive substring)
 *   "connection reset"         a quoted phrase is one term
 *   ERROR -DEBUG               a term prefixed with '-' must not appear
 *   ?ERROR ?WARN               at least one '?' term must appear
 *   { $.level = "ERROR" && ($.ms > 100 || $.user.id = 4*) }
 *                              JSON pattern: selectors $.a.b[0], operators = != < > <= >=,
 *                              && || and parentheses, strings (with * wildcards), numbers,
 *                              IS NULL / IS TRUE / IS FALSE, NOT EXISTS
 *
 * An empty pattern matches everything. Space-delimited patterns ([a, b, ...]) are not supported
 * and are reported as invalid rather than silently matching.
 *
 * Limits (whatever the caller checked): at most SKY__PATTERN_MAX_LEN bytes (CloudWatch's own
 * limit on filterPattern), parentheses nested at most SKY__PATTERN_MAX_DEPTH deep and at most
 * SKY__PATTERN_MAX_TERMS comparisons, so compiling, matching and freeing recurse a bounded depth.
 */
#ifndef SKY_SERVE_FILTER_PATTERN_H
#define SKY_SERVE_FILTER_PATTERN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define SKY__PATTERN_MAX_LEN 1024
#define SKY__PATTERN_MAX_DEPTH 32
#define SKY__PATTERN_MAX_TERMS 256

typedef struct sky__pattern sky__pattern;

/* Compiles `text`; NULL on a syntax error (with a static reason in *why). */
sky__pattern *sky__pattern_compile(const char *text, const char **why);
bool sky__pattern_match(const sky__pattern *p, const char *msg, size_t len);
/* Matching `p` against a message of n bytes takes at most ~cost x n steps (every term or
 * comparison is a linear search): what a caller bounding its work per call counts. */
size_t sky__pattern_cost(const sky__pattern *p);
void sky__pattern_free(sky__pattern *p);

/* True for a JSON pattern ({ ... }): the kind metric filters may take dimensions from. */
bool sky__pattern_is_json(const sky__pattern *p);
/* As sky__pattern_match, with the message already parsed (root: the message as JSON, or NULL
 * when it is not JSON), for callers matching several patterns against one message. */
bool sky__pattern_match_parsed(const sky__pattern *p, const char *msg, size_t len, json_t *root);

/* A JSON selector alone ("$.a.b[0]", as in patterns; at most SKY__PATTERN_MAX_LEN bytes): NULL
 * when it is not one. get returns the selected value of root (borrowed) or NULL. */
typedef struct sky__selector sky__selector;
sky__selector *sky__selector_compile(const char *text);
json_t *sky__selector_get(const sky__selector *sel, json_t *root);
void sky__selector_free(sky__selector *sel);

#endif
