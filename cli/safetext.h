/*
 * safetext.h - how every `skylog` command prints text it did not write itself: log messages,
 * stream and group names, field keys and values, query results, metric and alarm names, and
 * the service's error messages. All of it may come from whoever could write a log line, so it
 * must never be able to drive the terminal it is shown on (move the cursor, rewrite earlier
 * lines, set the window title, ring the bell, hide text) nor break the shape of the output.
 *
 * One rule (docs/CLI.md, "Untrusted text in the output"; the characters are decided by the
 * library's util/termsafe.h, which its diagnostics use too), applied by the functions below:
 *   - text for people (tables, tail's pretty/text/short lines, lists, error messages) is one
 *     line per record: LF, CR and TAB are written as \n \r \t; every other C0 control, DEL,
 *     the C1 controls U+0080..U+009F, and the invisible characters that reorder or break text
 *     (U+061C, U+200E, U+200F, U+2028, U+2029, U+202A..U+202E, U+2066..U+2069) as \uXXXX;
 *     a byte that is not part of valid UTF-8 as \xHH. Everything else, any language's text
 *     included, is printed as it is. The escapes are for reading (a backslash in the data is
 *     not doubled): --output json gives the exact text.
 *   - JSON is written with those characters as \uXXXX escapes, so a JSON parser reads back
 *     exactly what the service held, and the same bytes are safe on a terminal.
 *   - CSV follows RFC 4180: a field that holds a comma, a double quote, CR or LF is enclosed in
 *     double quotes, a double quote inside doubled. LF and TAB stay as they are (a multi-line
 *     message is one quoted field); CR and the other characters above are escaped as for
 *     people, since CSV has no escapes of its own and a CR would hide what precedes it when
 *     the file is shown with cat.
 * Records end with LF in every format.
 */
#ifndef SKY_CLI_SAFETEXT_H
#define SKY_CLI_SAFETEXT_H

#include <jansson.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* `s` (NULL: nothing) for people; returns the terminal columns written: wcwidth() of each
 * character (2 for East Asian wide and fullwidth ones, 0 for combining marks), so that text in
 * any script lines up in a table. */
size_t sky__safe_put(FILE *out, const char *s);
/* The same, followed by spaces up to `width` columns. */
void sky__safe_pad(FILE *out, const char *s, size_t width);
/* What sky__safe_put would write, malloc'd (NULL: out of memory). */
char *sky__safe_dup(const char *s);
/* The columns sky__safe_put would write for `s`. */
size_t sky__safe_width(const char *s);

/* `s` (NULL: empty) as one RFC 4180 CSV field. */
void sky__csv_put(FILE *out, const char *s);

/* `v` as JSON (jansson's json_dumps `flags`) and a newline, the characters above escaped.
 * False if it could not be encoded (out of memory). */
bool sky__json_put(FILE *out, const json_t *v, size_t flags);
/* The same without the newline (a value inside a line). */
bool sky__json_write(FILE *out, const json_t *v, size_t flags);

/* printf to `out`, the whole message written as for people except a final newline: for
 * one-line messages that quote untrusted text ("skylog tail: FilterLogEvents: <code>: <the
 * service's message>"). */
void sky__safe_printf(FILE *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
