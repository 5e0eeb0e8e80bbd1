/*
 * termsafe.h - text that did not come from us, made safe to show on a terminal: the one rule
 * the library's own diagnostics and the `skylog` command's output follow (docs/CLI.md,
 * "Untrusted text in the output"). Nothing in it may be able to drive the terminal it is
 * shown on: move the cursor, rewrite lines, set a title, ring the bell, reorder a line.
 *
 * A character is "hidden" when it changes how text is shown rather than being shown: C0
 * controls, DEL, the C1 controls U+0080..U+009F, and the invisible marks that reorder or break
 * a line (U+061C, U+200E, U+200F, U+2028, U+2029, U+202A..U+202E, U+2066..U+2069). UTF-8 is
 * decoded as strictly as sky__utf8_seq_len() (util/text.h) does.
 */
#ifndef SKY_UTIL_TERMSAFE_H
#define SKY_UTIL_TERMSAFE_H

#include "util/buf.h"

#include <stddef.h>

typedef enum sky__termsafe_mode {
    /* For people, one line: LF CR TAB as \n \r \t, other hidden characters as \u001b, bytes
     * that are not valid UTF-8 as \xff. */
    SKY__TERMSAFE_LINE,
    /* Inside an RFC 4180 CSV field: as LINE, but LF and TAB are kept (the field is quoted). */
    SKY__TERMSAFE_CSV,
    /* JSON text from an encoder that escapes control characters in strings (jansson): hidden
     * characters from DEL up as \u007F (what such an encoder leaves raw), C0 kept (outside
     * strings they are the layout), invalid bytes as \uFFFD. */
    SKY__TERMSAFE_JSON,
} sky__termsafe_mode;

/* Appends s[0..n) as `mode` says to out (NULL: appends nothing); returns the characters of
 * what is (or would be) appended: the columns it takes on a terminal, one per character. */
size_t sky__termsafe(sky_buf *out, const char *s, size_t n, sky__termsafe_mode mode);

#endif
