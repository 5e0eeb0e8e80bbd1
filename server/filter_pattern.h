/*
 * filter_pattern.h - CloudWatch Logs filter patterns, as FilterLogEvents understands them:
 *
 *   ERROR                      every term must appear (case-sensitive substring)
 *   "connection reset"         a quoted phrase is one term
 *   ERROR -DEBUG               a term prefixed with '-' must not appear
 *   ?ERROR ?WARN               at least one '?' term must appear
 *   ?ERROR db ?WARN disk       term groups: each '?' term starts a group, the terms after it
 *                              (to the next '?' term) join it; one whole group must match
 *                              ((ERROR and db) or (WARN and disk)); terms before the first
 *                              '?' term are a group of their own
 *   { $.level = "ERROR" && ($.ms > 100 || $.user.id = 4*) }
 *                              JSON pattern: selectors $.a.b[0], operators = != < > <= >=,
 *                              && || and parentheses, strings (with * wildcards), numbers,
 *                              IS NULL / IS TRUE / IS FALSE, NOT EXISTS
 *   { $.tags[*] = "b" || $.*.id = 4 || $.['user.name'] = x }
 *                              selector wildcards: [*] and .* select every element of an array
 *                              and every member of an object; a comparison holds when it
 *                              holds for one selected value (NOT EXISTS: when none is
 *                              selected). ['name'] or ["name"] (also .['name']) names a member
 *                              whose name has dots, spaces, brackets... (no escapes: a name
 *                              with one kind of quote is written in the other). A selector has
 *                              at most SKY__SELECTOR_MAX_STEPS steps, a name at most
 *                              SKY__SELECTOR_MAX_KEY bytes.
 *   [ip, user, ..., status=4*, size>1000]
 *                              space-delimited pattern: the message's fields (separated by
 *                              spaces; "quoted" and [bracketed] text is one field, given
 *                              without its quotes or brackets) are named in order; "..." stands
 *                              for any number of fields; a field may carry a condition on
 *                              itself: = != (strings with * wildcards, or numbers) < > <= >=
 *                              (numbers), joined with && and || (status=4* && status!=404).
 *                              Without "..." the message must have exactly as many fields.
 *   %ERROR|WARN%               a regular expression (CloudWatch's restricted syntax, see
 *                              filter_regex.h): the whole pattern, or a value compared with =
 *                              or != in a JSON or space-delimited pattern ({ $.a = %^x\d+$% },
 *                              [ip=%^10\.%, ...]), at most 2 of them there (CloudWatch's limit).
 *                              It matches anywhere in the message, field or value.
 *
 * An empty pattern matches everything. A %regex% among terms (ERROR %x%) is refused: CloudWatch
 * has none there.
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
#define SKY__PATTERN_MAX_REGEX 2 /* in a JSON or space-delimited pattern */
#define SKY__SELECTOR_MAX_STEPS 64 /* steps of a $ selector: JSON nests 64 deep at most */
#define SKY__SELECTOR_MAX_KEY 256  /* bytes of one member name in a selector */

typedef struct sky__pattern sky__pattern;

/* Compiles `text`; NULL on a syntax error, with the reason in why (cap > 0 bytes; a reason
 * may quote the pattern, as CloudWatch's "Invalid character(s) in term '%x(%'" does). */
sky__pattern *sky__pattern_compile(const char *text, char *why, size_t cap);
/* As sky__pattern_compile, with sky__fregex_compile_ex's flags for its regular expressions;
 * *limited (if not NULL) says a NULL is the process-wide limit on compiled regular
 * expressions (filter_regex.h), not the pattern's fault. */
sky__pattern *sky__pattern_compile_ex(const char *text, unsigned rx_flags, char *why, size_t cap,
                                      bool *limited);
bool sky__pattern_match(const sky__pattern *p, const char *msg, size_t len);
/* Matching `p` against a message of n bytes takes at most ~cost x n steps (every term or
 * comparison is a linear search): what a caller bounding its work per call counts. */
size_t sky__pattern_cost(const sky__pattern *p);
/* How many %regex% the pattern holds (CloudWatch counts patterns with one, per log group). */
size_t sky__pattern_n_regex(const sky__pattern *p);
void sky__pattern_free(sky__pattern *p);

/* True for a JSON pattern ({ ... }): the kind metric filters may take dimensions from. */
bool sky__pattern_is_json(const sky__pattern *p);
/* As sky__pattern_match, with the message already parsed (root: the message as JSON, or NULL
 * when it is not JSON), for callers matching several patterns against one message. */
bool sky__pattern_match_parsed(const sky__pattern *p, const char *msg, size_t len, json_t *root);

/* Space-delimited patterns: their named fields, numbered 0..n-1 in pattern order (0 for other
 * kinds). field_index maps "$name" (as metric filters write it) to its number, or -1. */
typedef struct sky__field {
    const char *ptr; /* into the message */
    size_t len;
} sky__field;
size_t sky__pattern_n_fields(const sky__pattern *p);
long sky__pattern_field_index(const sky__pattern *p, const char *ref);
const char *sky__pattern_field_name(const sky__pattern *p, size_t i);
/* As sky__pattern_match; on a match of a space-delimited pattern, out[0..n_fields) (when not
 * NULL) holds what each named field matched. */
bool sky__pattern_match_fields(const sky__pattern *p, const char *msg, size_t len,
                               sky__field *out);
/* A field's text as a number, when all of it is one (strtod's forms, at most 63 bytes). */
bool sky__field_number(const sky__field *f, double *v);

/* A JSON selector alone ("$.a.b[0]", "$.['a.b']", as in patterns; at most SKY__PATTERN_MAX_LEN
 * bytes) that selects one value: NULL when it is not one, or has a wildcard (.* or [*]). get
 * returns the selected value of root (borrowed) or NULL. */
typedef struct sky__selector sky__selector;
sky__selector *sky__selector_compile(const char *text);
json_t *sky__selector_get(const sky__selector *sel, json_t *root);
void sky__selector_free(sky__selector *sel);

#endif
