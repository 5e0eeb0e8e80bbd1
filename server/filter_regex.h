/*
 * filter_regex.h - the regular expressions of CloudWatch Logs filter patterns (%...%), in the
 * restricted syntax CloudWatch documents ("Supported regular expressions (regex) syntax",
 * CloudWatch Logs User Guide, FilterAndPatternSyntax):
 *
 *   characters   letters, digits, the symbols : _ # = @ / ; , - and space; anything else
 *                (parentheses, !, ", %, multi-byte characters, ...) is refused, as CloudWatch
 *                refuses it ("Invalid character(s) in term"); \xhh names one such character
 *   operators    ^ $ (start and end of the text), . (any one character), [abc] [a-z] [^0-9]
 *                classes, ? * + {m,n} {m} {m,} {,n} repetitions, | (alternatives of the whole
 *                expression: there is no grouping), \ before an operator or symbol (itself),
 *                \d \D \s \S \w \W, \xhh (an ASCII character, 00-7F)
 *
 * Refused, with the reason: parentheses (so no groups, backreferences or lookaround), other
 * escapes (\b, \1, \n, \p, ...), a repetition of nothing or of a repetition (a** or a{2}+; a
 * lazy a*? is accepted: it matches the same texts), an empty expression.
 *
 * A match may start anywhere in the text (%AUTHORIZED% matches "UNAUTHORIZED"), case-sensitive
 * as every filter pattern. The text is read as UTF-8: a multi-byte character is one character
 * to ., \D, \S, \W and [^...] (a byte that is not valid UTF-8 is one character too).
 *
 * Bounds: compiling checks the size of the program before allocating it (at most
 * SKY__FREGEX_MAX_INSNS instructions, counts at most SKY__FREGEX_MAX_REPEAT) and never
 * recurses. Matching runs the automaton (Thompson's construction) as a DFA built lazily in a
 * cache of at most 64 states kept across searches (one table lookup per character once warm),
 * and falls back to simulating it (Pike's: every live state advances together) for a text
 * whose states do not fit the cache; either way it takes at most (text length x program size)
 * steps, whatever the expression (a*a*a*a*b on a long run of a's too), and keeps no stack of
 * its own beyond the program's size.
 *
 * Memory (sky__fregex_memory): the program and its workspace (about 52 bytes per program
 * step), plus the DFA cache, which the first search allocates and which grows only while texts
 * need more states (8, 16, 32, then 64 at most). A cached state costs 16 bytes, plus 8 per 64
 * program steps, plus 2 per class of characters the expression tells apart (%ERROR% has 4:
 * E, R, O and the rest; at most 129): %ERROR% holds about 1 KB in all, the largest program
 * (2,000 steps) at most 140 KB, of which 33 KB of cache. The caches of all the expressions
 * in the process count against one limit (SKY__FREGEX_CACHE_LIMIT, sky__fregex_cache_bytes):
 * past it, or when memory is short, a cache stops growing and the search simulates instead
 * (the same answers, more steps per character). The programs themselves (with their
 * workspace) of all the expressions alive count against another (SKY__FREGEX_PROGRAM_LIMIT,
 * sky__fregex_program_bytes), checked before anything is allocated: past it, compiling is
 * refused (sky__fregex_compile_ex: *limited), since a program cannot be made smaller.
 *
 * Threads: a compiled expression holds its matching workspace, so one thread at a time
 * matches with it (as every caller does: a pattern is compiled per request).
 */
#ifndef SKY_SERVE_FILTER_REGEX_H
#define SKY_SERVE_FILTER_REGEX_H

#include <stdbool.h>
#include <stddef.h>

#define SKY__FREGEX_MAX_INSNS 2000
#define SKY__FREGEX_MAX_REPEAT 1000
#define SKY__FREGEX_MAX_BYTES (140 * 1024) /* the most sky__fregex_memory() reports */
#define SKY__FREGEX_CACHE_LIMIT (32u << 20) /* DFA caches of the whole process, in bytes */
/* Programs (and their workspace) of every expression alive in the process, in bytes: about
 * 160 of the largest, thousands of usual ones. */
#define SKY__FREGEX_PROGRAM_LIMIT (16u << 20)

/* sky__fregex_compile_ex flags. UNLIMITED: counted in the programs' total, never refused for
 * it (a caller bounded otherwise: ingestion's metric filters, one request at a time). */
#define SKY__FREGEX_UNLIMITED 1u

typedef struct sky__fregex sky__fregex;

/* Compiles the len bytes of src (the text between the % signs). NULL on an error, with a
 * sentence in why (at most cap bytes) that names the term as "%src%". */
sky__fregex *sky__fregex_compile(const char *src, size_t len, char *why, size_t cap);
/* As sky__fregex_compile; when the program would take the programs of the whole process past
 * their limit (SKY__FREGEX_PROGRAM_LIMIT) it is refused, NULL with *limited (if not NULL) set
 * true and the reason in why: a server answers that as a limit of its own, not as the
 * pattern's fault. */
sky__fregex *sky__fregex_compile_ex(const char *src, size_t len, unsigned flags, char *why,
                                    size_t cap, bool *limited);
/* True when the expression matches somewhere in the n bytes of s. */
bool sky__fregex_search(const sky__fregex *re, const char *s, size_t n);
/* The same answer by the automaton simulation alone (no required-text filter, no DFA cache):
 * what tests and the fuzz target hold sky__fregex_search to. */
bool sky__fregex_search_nfa(const sky__fregex *re, const char *s, size_t n);
/* The program's size: matching takes at most this many steps per byte of text. */
size_t sky__fregex_size(const sky__fregex *re);
/* Bytes the compiled expression holds now (program, workspace and DFA cache). */
size_t sky__fregex_memory(const sky__fregex *re);
/* Bytes of DFA cache all the expressions alive in the process hold (thread-safe). */
size_t sky__fregex_cache_bytes(void);
/* Sets the process-wide limit on DFA caches (SKY__FREGEX_CACHE_LIMIT by default; caches
 * already above it keep what they have) and returns the previous one. Thread-safe. */
size_t sky__fregex_set_cache_limit(size_t bytes);
/* Bytes the programs of all the expressions alive in the process hold, and the limit on them
 * (set returns the previous one; programs already above it keep what they have). */
size_t sky__fregex_program_bytes(void);
size_t sky__fregex_set_program_limit(size_t bytes);
void sky__fregex_free(sky__fregex *re);

#endif
