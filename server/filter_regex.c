/*
 * filter_regex.c - compiles CloudWatch's filter-pattern regular expressions (syntax in
 * filter_regex.h) to a small program (an NFA) and runs it as a lazily built DFA.
 *
 * Why not PCRE2 (which Insights uses): a backtracking engine's time on a hostile expression
 * is exponential or needs a step limit that turns "too slow" into a silent "no match", and
 * CloudWatch's dialect is small enough (no groups: every repetition applies to one character
 * or class) that Thompson's construction is a few dozen lines. The simulation advances every
 * live state by one character at a time and drops duplicates, so a text of n bytes costs at
 * most n x (program size) steps. The sets of live states it goes through are few for most
 * expressions and texts, so each is made a DFA state the first time it is reached and its
 * transitions remembered (RE2's idea, in a bounded cache); the simulation remains for the texts
 * whose sets do not fit, and for checking the DFA (sky__fregex_search_nfa). A required text
 * (a run of plain characters every match has) is looked for first, with memmem.
 *
 * Compiling runs the same parser twice: the first pass only counts instructions (and finds
 * every syntax error), so the program is allocated once, at its final size, and only when it
 * is within SKY__FREGEX_MAX_INSNS. No recursion anywhere: alternatives are flat (no
 * parentheses), and the epsilon closure uses an explicit stack of bounded size.
 */
#include "filter_regex.h"

#include <ctype.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum op { I_CHAR, I_SET, I_ANY, I_BOL, I_EOL, I_SPLIT, I_JMP, I_MATCH } op;

/* One instruction. A character is an ASCII byte, or "a non-ASCII character" (pattern literals
 * are ASCII only, so I_CHAR never matches one; a set says whether it does). */
typedef struct insn {
    uint8_t op;
    uint8_t c;        /* I_CHAR */
    bool nonascii;    /* I_SET: matches a non-ASCII character */
    int x, y;         /* I_SPLIT: both; I_JMP: x */
    uint32_t set[4];  /* I_SET: ASCII bitmap */
} insn;

#define DFA_STATES 64
#define DFA_SYMBOLS 129 /* 0-127: that ASCII character; 128: any other character */

struct sky__fregex {
    insn *prog;
    size_t n;
    bool first[256];     /* bytes a match can start with (away from the text's start) */
    bool matches_at_end; /* a match can start at the end of a text that is not empty ($) */
    /* Matching workspace, allocated with the program (see the header on threads). */
    int *cur, *next, *stack;
    size_t *mark;
    size_t gen;
    /* Text every match contains (the longest run of plain characters of a one-alternative
     * expression): a text without it is refused by one memmem, the simulation never run. */
    char lit[64];
    size_t lit_len;
    /* Symbols (0-127: that ASCII character, 128: any other character) the program cannot
     * tell apart share a class (%ERROR% has 4: E, R, O and the rest); a DFA row has one
     * transition per class, not per symbol. */
    uint8_t cls[DFA_SYMBOLS];
    size_t n_classes;
    /* The DFA cache: up to DFA_STATES sets of live instructions (bitsets of `words` words),
     * each with its transitions on the classes (DFA_UNKNOWN until first taken, DFA_MATCH
     * when a match ends there). Allocated by the first search, for DFA_FIRST_STATES states,
     * and doubled while a text needs more, so an expression that is never searched, or whose
     * texts go through few states, holds little; cap_states is what is allocated. */
    size_t words, n_states, cap_states, flushes;
    uint64_t *sets, *scratch;
    uint64_t *hash;
    int16_t *trans;
    size_t counted; /* bytes in the programs' process-wide total (prog_bytes) */
};

#define DFA_FIRST_STATES 8
#define DFA_UNKNOWN (-1)
#define DFA_MATCH (-2)
#define DFA_FULL (-3)
#define DFA_MAX_FLUSHES 16 /* per search: past it the cache does not fit the text's states */

/* ---- characters --------------------------------------------------------------------------- */

/* What CloudWatch lets a regex contain: letters, digits, its symbol characters, its operators,
 * and space (its own example %^starting|^initializing|^shutting down% has one). */
static bool allowed(unsigned char c)
{
    return c < 0x80 && (isalnum(c) || (c && strchr(":_#=@/;,- ^$?[]{}|\\*+.", c)));
}

static bool is_operator(unsigned char c) { return c && strchr("^$?[]{}|\\*+.", c) != NULL; }

static void set_add(uint32_t set[4], unsigned c) { set[c >> 5] |= 1u << (c & 31); }

static bool set_has(const uint32_t set[4], unsigned c) { return set[c >> 5] >> (c & 31) & 1u; }

/* \d \D \s \S \w \W into set; the upper-case ones also match every non-ASCII character. */
static void add_escape_class(uint32_t set[4], bool *nonascii, char e)
{
    uint32_t s[4] = {0};
    for (unsigned c = 0; c < 128; c++) {
        bool in = tolower((unsigned char)e) == 'd'   ? isdigit((int)c)
                  : tolower((unsigned char)e) == 's' ? (c == ' ' || (c >= '\t' && c <= '\r'))
                                                     : (isalnum((int)c) || c == '_');
        if (in)
            set_add(s, c);
    }
    if (isupper((unsigned char)e)) {
        for (int i = 0; i < 4; i++)
            s[i] = ~s[i];
        *nonascii = true;
    }
    for (int i = 0; i < 4; i++)
        set[i] |= s[i];
}

static int hexval(char c)
{
    return isdigit((unsigned char)c) ? c - '0'
           : (c >= 'a' && c <= 'f')  ? c - 'a' + 10
           : (c >= 'A' && c <= 'F')  ? c - 'A' + 10
                                     : -1;
}

/* ---- parser ------------------------------------------------------------------------------- */

typedef struct parser {
    const char *s;
    size_t len, i;
    insn *prog; /* NULL on the counting pass */
    size_t n;
    char *why;
    size_t cap;
    bool alternatives;         /* a '|' was seen */
    char run[64], best[64];    /* plain characters in a row, and the longest such run */
    size_t run_len, best_len;
} parser;

static bool rx_fail(parser *p, const char *fmt, const char *detail)
{
    char what[200];
    snprintf(what, sizeof what, fmt, detail);
    snprintf(p->why, p->cap, "%s in the regular expression '%%%.*s%%'", what,
             (int)(p->len > 100 ? 100 : p->len), p->s);
    return false;
}

static void emit(parser *p, insn in)
{
    if (p->prog)
        p->prog[p->n] = in;
    p->n++;
}

/* An escape after '\' at p->i (p->i is past the backslash). Either a class (\d ...: into set,
 * *is_set true) or one character (*ch). */
static bool parse_escape(parser *p, uint32_t set[4], bool *nonascii, bool *is_set,
                         unsigned char *ch)
{
    if (p->i >= p->len)
        return rx_fail(p, "%sa '\\' ends the expression", "");
    char e = p->s[p->i++];
    *is_set = false;
    if (strchr("dDsSwW", e)) {
        add_escape_class(set, nonascii, e);
        *is_set = true;
        return true;
    }
    if (e == 'x') {
        int hi = p->i < p->len ? hexval(p->s[p->i]) : -1;
        int lo = p->i + 1 < p->len ? hexval(p->s[p->i + 1]) : -1;
        if (hi < 0 || lo < 0)
            return rx_fail(p, "%s\\x needs two hexadecimal digits (\\x28 is '(')", "");
        if (hi > 7)
            return rx_fail(p, "%s\\xhh names an ASCII character (00 to 7F)", "");
        p->i += 2;
        *ch = (unsigned char)(hi * 16 + lo);
        return true;
    }
    if (is_operator((unsigned char)e) || (!isalnum((unsigned char)e) && allowed((unsigned char)e))) {
        *ch = (unsigned char)e;
        return true;
    }
    char esc[3] = {'\\', e, '\0'};
    if (isdigit((unsigned char)e))
        return rx_fail(p, "backreferences (%s) are not supported", esc);
    return rx_fail(p, "unsupported escape %s (supported: \\d \\D \\s \\S \\w \\W \\xhh, and \\ before "
                   "an operator or a symbol)", esc);
}

/* A class; p->i is past the '['. */
static bool parse_class(parser *p, insn *out)
{
    *out = (insn){.op = I_SET};
    bool negate = false, any = false;
    if (p->i < p->len && p->s[p->i] == '^') {
        negate = true;
        p->i++;
    }
    for (;;) {
        if (p->i >= p->len)
            return rx_fail(p, "%sa '[' is not closed", "");
        char c = p->s[p->i++];
        if (c == ']') {
            if (!any)
                return rx_fail(p, "%san empty class []", "");
            break;
        }
        if (c == '[')
            return rx_fail(p, "%sa '[' inside a class must be escaped (\\[)", "");
        any = true;
        unsigned char lo = (unsigned char)c;
        if (c == '\\') {
            bool is_set;
            if (!parse_escape(p, out->set, &out->nonascii, &is_set, &lo))
                return false;
            if (is_set)
                continue;
        }
        /* a range lo-hi (a '-' first, last or after a range is itself) */
        if (p->i + 1 < p->len && p->s[p->i] == '-' && p->s[p->i + 1] != ']') {
            p->i++;
            unsigned char hi = (unsigned char)p->s[p->i++];
            if (hi == '\\') {
                bool is_set;
                uint32_t junk[4] = {0};
                bool junk_na = false;
                if (!parse_escape(p, junk, &junk_na, &is_set, &hi))
                    return false;
                if (is_set)
                    return rx_fail(p, "%sa range cannot end with a class escape", "");
            } else if (hi == '[') {
                return rx_fail(p, "%sa '[' inside a class must be escaped (\\[)", "");
            }
            if (hi < lo)
                return rx_fail(p, "%sa range whose end comes before its start", "");
            for (unsigned k = lo; k <= hi; k++)
                set_add(out->set, k);
            continue;
        }
        set_add(out->set, lo);
    }
    if (negate) {
        for (int i = 0; i < 4; i++)
            out->set[i] = ~out->set[i];
        out->nonascii = !out->nonascii;
    }
    return true;
}

/* A count of {m,n} (spaces around it are allowed); -1 when there is none. */
static bool parse_count(parser *p, long *v)
{
    while (p->i < p->len && p->s[p->i] == ' ')
        p->i++;
    *v = -1;
    size_t start = p->i;
    while (p->i < p->len && isdigit((unsigned char)p->s[p->i])) {
        if (p->i - start >= 5)
            return rx_fail(p, "%sa repetition count above 1000", "");
        *v = (*v < 0 ? 0 : *v * 10) + (p->s[p->i++] - '0');
    }
    while (p->i < p->len && p->s[p->i] == ' ')
        p->i++;
    if (*v > SKY__FREGEX_MAX_REPEAT)
        return rx_fail(p, "%sa repetition count above 1000", "");
    return true;
}

/* The repetition after an atom, if any: min and max (-1: unbounded). */
static bool parse_quantifier(parser *p, long *min, long *max)
{
    *min = *max = 1;
    if (p->i >= p->len)
        return true;
    char c = p->s[p->i];
    if (c == '?' || c == '*' || c == '+') {
        p->i++;
        *min = c == '+';
        *max = c == '?' ? 1 : -1;
    } else if (c == '{') {
        p->i++;
        if (!parse_count(p, min))
            return false;
        bool comma = p->i < p->len && p->s[p->i] == ',';
        if (comma) {
            p->i++;
            if (!parse_count(p, max))
                return false;
        } else {
            *max = *min;
        }
        if (p->i >= p->len || p->s[p->i] != '}' || (*min < 0 && *max < 0))
            return rx_fail(p, "%sa '{' that is not a repetition {m,n}, {m}, {m,} or {,n}", "");
        p->i++;
        if (*min < 0)
            *min = 0;
        if (*max >= 0 && *max < *min)
            return rx_fail(p, "%sa repetition {m,n} with n below m", "");
    } else {
        return true;
    }
    if (p->i < p->len && p->s[p->i] == '?') /* lazy: the same texts match */
        p->i++;
    if (p->i < p->len && strchr("?*+{", p->s[p->i])) {
        char q[2] = {p->s[p->i], '\0'};
        return rx_fail(p, "a repetition ('%s') of a repetition", q);
    }
    return true;
}

static bool over(parser *p)
{
    if (p->n <= SKY__FREGEX_MAX_INSNS)
        return false;
    snprintf(p->why, p->cap,
             "the regular expression '%%%.*s%%' is too large (its repetitions expand to more "
             "than %d steps)",
             (int)(p->len > 100 ? 100 : p->len), p->s, SKY__FREGEX_MAX_INSNS);
    return true;
}

/* The atom, repeated min..max times (max -1: unbounded). */
static void emit_repeat(parser *p, insn atom, long min, long max)
{
    for (long k = 0; k < min; k++)
        emit(p, atom);
    if (max < 0 && min == 0) {
        int loop = (int)p->n;
        emit(p, (insn){.op = I_SPLIT, .x = loop + 1, .y = loop + 3});
        emit(p, atom);
        emit(p, (insn){.op = I_JMP, .x = loop});
    } else if (max < 0) {
        emit(p, (insn){.op = I_SPLIT, .x = (int)p->n - 1, .y = (int)p->n + 1});
    } else {
        int end = (int)(p->n + 2 * (size_t)(max - min));
        for (long k = min; k < max; k++) {
            emit(p, (insn){.op = I_SPLIT, .x = (int)p->n + 1, .y = end});
            emit(p, atom);
        }
    }
}

/* One pass over the expression: counts (p->prog NULL) or emits. */
static bool parse(parser *p)
{
    p->i = 0;
    p->n = 0;
    p->run_len = p->best_len = 0;
    p->alternatives = false;
    size_t alt = p->n;
    emit(p, (insn){.op = I_SPLIT}); /* patched when the alternative ends */
    for (size_t k = 0; k < p->len; k++) { /* CloudWatch's character list, escapes included */
        unsigned char c = (unsigned char)p->s[k];
        if (c >= 0x80)
            return rx_fail(p, "%sa multi-byte character (not supported: \\xhh names ASCII ones)",
                        "");
        if (!allowed(c)) {
            char hint[64] = "";
            char ch[2] = {(char)c, '\0'};
            if (isprint(c))
                snprintf(hint, sizeof hint, "'%s' (\\x%02X matches it)", ch, c);
            else
                snprintf(hint, sizeof hint, "byte 0x%02X (\\x%02X matches it)", c, c);
            snprintf(p->why, p->cap,
                     "Invalid character(s) in term '%%%.*s%%': %s is not supported in a "
                     "regular expression",
                     (int)(p->len > 100 ? 100 : p->len), p->s, hint);
            return false;
        }
    }
    while (p->i < p->len) {
        unsigned char c = (unsigned char)p->s[p->i++];
        insn atom = {.op = I_CHAR, .c = c};
        switch (c) {
        case '|':
            p->alternatives = true;
            emit(p, (insn){.op = I_JMP, .x = -1}); /* to the end, patched */
            if (p->prog)
                p->prog[alt] = (insn){.op = I_SPLIT, .x = (int)alt + 1, .y = (int)p->n};
            alt = p->n;
            emit(p, (insn){.op = I_SPLIT});
            continue;
        case '^':
        case '$':
            emit(p, (insn){.op = c == '^' ? I_BOL : I_EOL});
            if (p->i < p->len && strchr("?*+{", p->s[p->i])) {
                char q[2] = {p->s[p->i], '\0'};
                return rx_fail(p, "nothing to repeat before '%s' (an anchor is not a character)",
                            q);
            }
            continue;
        case '?':
        case '*':
        case '+':
        case '{': {
            char q[2] = {(char)c, '\0'};
            return rx_fail(p, "nothing to repeat before '%s'", q);
        }
        case '.': atom = (insn){.op = I_ANY}; break;
        case '[':
            if (!parse_class(p, &atom))
                return false;
            break;
        case '\\': {
            atom = (insn){.op = I_SET};
            bool is_set;
            unsigned char ch;
            if (!parse_escape(p, atom.set, &atom.nonascii, &is_set, &ch))
                return false;
            if (!is_set)
                atom = (insn){.op = I_CHAR, .c = ch};
            break;
        }
        default: break; /* a literal, ']' and '}' included */
        }
        long min, max;
        if (!parse_quantifier(p, &min, &max))
            return false;
        /* the count is bounded before the loop emits: at most 2 x 1000 per atom */
        size_t add = (size_t)min + (max < 0 ? (min ? 1 : 3) : 2 * (size_t)(max - min));
        p->n += p->prog ? 0 : add;
        if (over(p))
            return false;
        if (p->prog)
            emit_repeat(p, atom, min, max);
        /* A character that must appear continues the run; once if it may repeat, then the
         * run ends (what follows need not be next to it). Anchors take no room: ^ and $ keep
         * the run going only where they cannot match, which leaves it a sound filter. */
        if (atom.op == I_CHAR && min >= 1 && p->run_len < sizeof p->run)
            p->run[p->run_len++] = (char)atom.c;
        if (atom.op != I_CHAR || min != 1 || max != 1 || p->run_len == sizeof p->run) {
            if (p->run_len > p->best_len)
                memcpy(p->best, p->run, p->best_len = p->run_len);
            p->run_len = 0;
        }
    }
    if (p->run_len > p->best_len)
        memcpy(p->best, p->run, p->best_len = p->run_len);
    if (p->prog)
        p->prog[alt] = (insn){.op = I_JMP, .x = (int)alt + 1};
    emit(p, (insn){.op = I_MATCH});
    if (over(p))
        return false;
    if (p->prog)
        for (size_t k = 0; k < p->n; k++)
            if (p->prog[k].op == I_JMP && p->prog[k].x < 0)
                p->prog[k].x = (int)p->n - 1;
    return true;
}

/* ---- matching ----------------------------------------------------------------------------- */

/* Length of the character at s: a valid UTF-8 sequence, else one byte. */
static size_t char_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len = c < 0x80                  ? 1
                 : c >= 0xC2 && c <= 0xDF ? 2
                 : c >= 0xE0 && c <= 0xEF ? 3
                 : c >= 0xF0 && c <= 0xF4 ? 4
                                          : 1;
    if (len > n)
        return 1;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 1;
    return len;
}

/* Adds pc's epsilon closure at text position pos (of n) to list (*count entries); true when
 * it reaches MATCH. mark[] == re->gen means already added in this step. */
static bool add_closure(sky__fregex *re, int *list, size_t *count, int pc, size_t pos, size_t n)
{
    size_t sp = 0;
    re->stack[sp++] = pc;
    while (sp) {
        int k = re->stack[--sp];
        if (re->mark[k] == re->gen)
            continue;
        re->mark[k] = re->gen;
        const insn *in = &re->prog[k];
        switch (in->op) {
        case I_MATCH: return true;
        case I_JMP: re->stack[sp++] = in->x; break;
        case I_SPLIT:
            re->stack[sp++] = in->y;
            re->stack[sp++] = in->x;
            break;
        case I_BOL:
            if (pos == 0)
                re->stack[sp++] = k + 1;
            break;
        case I_EOL: /* kept when it fails: the DFA checks it again at the text's end */
            if (pos == n)
                re->stack[sp++] = k + 1;
            else
                list[(*count)++] = k;
            break;
        default: list[(*count)++] = k; break;
        }
    }
    return false;
}

static bool consumes(const insn *in, unsigned char b, size_t clen)
{
    bool ascii = clen == 1 && b < 0x80;
    switch (in->op) {
    case I_ANY: return true;
    case I_CHAR: return ascii && b == in->c;
    case I_SET: return ascii ? set_has(in->set, b) : in->nonascii;
    default: return false;
    }
}

static bool pike_search(sky__fregex *re, const unsigned char *s, size_t n)
{
    size_t nc = 0;
    re->gen++;
    if (add_closure(re, re->cur, &nc, 0, 0, n) || (n > 0 && re->matches_at_end))
        return true;
    for (size_t pos = 0; pos < n;) {
        size_t clen = char_len(s + pos, n - pos), nn = 0;
        re->gen++;
        for (size_t t = 0; t < nc; t++)
            if (consumes(&re->prog[re->cur[t]], s[pos], clen) &&
                add_closure(re, re->next, &nn, re->cur[t] + 1, pos + clen, n))
                return true;
        pos += clen;
        int *tmp = re->cur;
        re->cur = re->next;
        re->next = tmp;
        nc = nn;
        if (pos == n)
            break;
        if (nc == 0) { /* nothing alive: skip to a byte a match can start with */
            while (pos < n && !re->first[s[pos]])
                pos++;
            if (pos == n)
                break;
            re->gen++; /* the marks were for the position skipped from */
        }
        /* a match may start at any position: the start state joins the live ones */
        if (add_closure(re, re->cur, &nc, 0, pos, n))
            return true;
    }
    return false;
}

/* ---- the DFA cache ------------------------------------------------------------------------ */

/* The DFA caches of every compiled expression in the process, counted together against one
 * limit: a request holds a few expressions, but the server runs many requests at once, and
 * only a process-wide count bounds them all. An expression whose cache cannot grow searches
 * by simulation (same answers, more steps per character), so the limit costs time, never
 * results. */
static _Atomic size_t cache_bytes;
static _Atomic size_t cache_limit = SKY__FREGEX_CACHE_LIMIT;

static size_t state_bytes(const sky__fregex *re)
{
    return re->words * sizeof *re->sets + sizeof *re->hash + re->n_classes * sizeof *re->trans;
}

/* Room for more states: the first DFA_FIRST_STATES, then twice as many, up to DFA_STATES.
 * False when the cache is at its size, the process-wide limit would be passed, or memory is
 * short: the search then falls back to the simulation, which needs nothing more. Pointers
 * into the cache do not survive a call. */
static bool dfa_grow(sky__fregex *re)
{
    size_t cap = re->cap_states ? 2 * re->cap_states : DFA_FIRST_STATES;
    if (cap > DFA_STATES)
        return false;
    size_t add = (cap - re->cap_states) * state_bytes(re);
    if (atomic_fetch_add(&cache_bytes, add) + add > atomic_load(&cache_limit))
        goto refused;
    uint64_t *sets = realloc(re->sets, cap * re->words * sizeof *sets);
    if (!sets)
        goto refused;
    re->sets = sets;
    uint64_t *hash = realloc(re->hash, cap * sizeof *hash);
    if (!hash)
        goto refused;
    re->hash = hash;
    int16_t *trans = realloc(re->trans, cap * re->n_classes * sizeof *trans);
    if (!trans)
        goto refused;
    re->trans = trans;
    re->cap_states = cap;
    return true;
refused: /* the blocks that did grow keep their room unused until freed */
    atomic_fetch_sub(&cache_bytes, add);
    return false;
}

/* The state holding the instructions of list[0..count) (a copy of them as a bitset): its
 * index, a new one, or DFA_FULL. */
static int dfa_intern(sky__fregex *re, const int *list, size_t count)
{
    uint64_t *set = re->scratch;
    memset(set, 0, re->words * sizeof *set);
    for (size_t i = 0; i < count; i++)
        set[list[i] >> 6] |= 1ull << (list[i] & 63);
    uint64_t h = 1469598103934665603ull;
    for (size_t w = 0; w < re->words; w++)
        h = (h ^ set[w]) * 1099511628211ull;
    for (size_t k = 0; k < re->n_states; k++)
        if (re->hash[k] == h && !memcmp(re->sets + k * re->words, set, re->words * sizeof *set))
            return (int)k;
    if (re->n_states == re->cap_states && !dfa_grow(re))
        return DFA_FULL;
    size_t k = re->n_states++;
    memcpy(re->sets + k * re->words, set, re->words * sizeof *set);
    re->hash[k] = h;
    for (size_t c = 0; c < re->n_classes; c++)
        re->trans[k * re->n_classes + c] = DFA_UNKNOWN;
    return (int)k;
}

/* The start state: the closure at the text's start (^ holds there, $ never: texts are not
 * empty here). */
static int dfa_start(sky__fregex *re)
{
    size_t count = 0;
    re->gen++;
    if (add_closure(re, re->cur, &count, 0, 0, SIZE_MAX))
        return DFA_MATCH;
    return dfa_intern(re, re->cur, count);
}

/* The state after `from` reads a character of class c (away from both ends of the text: ^
 * and $ fail), a match starting anew there included. */
static int dfa_step(sky__fregex *re, int from, unsigned c)
{ /* c: a symbol of the class read (they all behave alike) */
    const uint64_t *set = re->sets + (size_t)from * re->words;
    unsigned char b = c < 128 ? (unsigned char)c : 0x80;
    size_t count = 0;
    re->gen++;
    for (size_t w = 0; w < re->words; w++)
        for (uint64_t bits = set[w]; bits; bits &= bits - 1) {
            int pc = (int)(w * 64 + (size_t)__builtin_ctzll(bits));
            if (consumes(&re->prog[pc], b, 1) &&
                add_closure(re, re->cur, &count, pc + 1, 1, SIZE_MAX))
                return DFA_MATCH;
        }
    if (add_closure(re, re->cur, &count, 0, 1, SIZE_MAX))
        return DFA_MATCH;
    return dfa_intern(re, re->cur, count);
}

/* At the text's end (n > 0), whether a $ the state waits at completes a match. */
static bool dfa_end(sky__fregex *re, int state, size_t n)
{
    const uint64_t *set = re->sets + (size_t)state * re->words;
    size_t count = 0;
    re->gen++;
    for (size_t w = 0; w < re->words; w++)
        for (uint64_t bits = set[w]; bits; bits &= bits - 1) {
            int pc = (int)(w * 64 + (size_t)__builtin_ctzll(bits));
            if (re->prog[pc].op == I_EOL && add_closure(re, re->cur, &count, pc, n, n))
                return true;
        }
    return re->matches_at_end;
}

/* The search as a DFA built lazily from the program, kept across searches (most texts reuse
 * a few states): one table lookup per character once warm. When the cache is full it is
 * emptied and refilled; a text that needs that more than DFA_MAX_FLUSHES times (more live
 * combinations than the cache holds) is searched again by the simulation, so the work stays
 * within (text x program) steps either way. */
static int dfa_search(sky__fregex *re, const unsigned char *s, size_t n)
{
    re->flushes = 0;
    int st = re->n_states ? 0 : dfa_start(re); /* state 0 is always the start state */
    if (st == DFA_MATCH)
        return 1;
    if (st == DFA_FULL)
        return -1; /* no room for a cache at all */
    for (size_t pos = 0; pos < n;) {
        const int16_t *row = re->trans + (size_t)st * re->n_classes;
        while (pos < n && s[pos] < 0x80 && row[re->cls[s[pos]]] == st) /* e.g. no match yet */
            pos++;
        if (pos == n)
            break;
        unsigned c = s[pos];
        size_t clen = 1;
        if (c >= 0x80) {
            clen = char_len(s + pos, n - pos);
            c = 128;
        }
        int next = row[re->cls[c]];
        if (next == DFA_UNKNOWN) {
            next = dfa_step(re, st, c);
            if (next == DFA_FULL) {
                if (++re->flushes > DFA_MAX_FLUSHES)
                    return -1;
                /* keep the current state's set, start the cache again with it */
                memcpy(re->scratch, re->sets + (size_t)st * re->words,
                       re->words * sizeof *re->scratch);
                size_t count = 0;
                for (size_t w = 0; w < re->words; w++)
                    for (uint64_t bits = re->scratch[w]; bits; bits &= bits - 1)
                        re->next[count++] = (int)(w * 64 + (size_t)__builtin_ctzll(bits));
                re->n_states = 0;
                if (dfa_start(re) == DFA_MATCH)
                    return 1; /* cannot happen: it did not match before */
                st = dfa_intern(re, re->next, count);
                next = dfa_step(re, st, c);
                if (next == DFA_FULL)
                    return -1;
            }
            re->trans[(size_t)st * re->n_classes + re->cls[c]] = (int16_t)next;
        }
        if (next == DFA_MATCH)
            return 1;
        st = next;
        pos += clen;
    }
    return dfa_end(re, st, n);
}

bool sky__fregex_search_nfa(const sky__fregex *cre, const char *text, size_t n)
{
    return pike_search((sky__fregex *)cre, (const unsigned char *)text, n);
}

bool sky__fregex_search(const sky__fregex *cre, const char *text, size_t n)
{
    sky__fregex *re = (sky__fregex *)cre; /* the workspace only (see the header) */
    const unsigned char *s = (const unsigned char *)text;
    if (re->lit_len && !memmem(text, n, re->lit, re->lit_len))
        return false;
    int r = n > 0 ? dfa_search(re, s, n) : -1;
    return r < 0 ? pike_search(re, s, n) : r == 1;
}

/* ---- public ------------------------------------------------------------------------------- */

/* Splits the symbols into classes the program treats alike: each instruction that reads a
 * character refines the partition by what it accepts (n x 129 steps, once per compile). */
static void byte_classes(sky__fregex *re)
{
    memset(re->cls, 0, sizeof re->cls);
    re->n_classes = 1;
    for (size_t k = 0; k < re->n; k++) {
        const insn *in = &re->prog[k];
        if (in->op != I_CHAR && in->op != I_SET)
            continue; /* I_ANY accepts every symbol: it splits nothing */
        int16_t to[2][DFA_SYMBOLS];
        memset(to, 0xff, sizeof to); /* -1: no new class yet */
        size_t n = 0;
        for (unsigned c = 0; c < DFA_SYMBOLS; c++) {
            bool yes = consumes(in, c < 128 ? (unsigned char)c : 0x80, 1);
            if (to[yes][re->cls[c]] < 0)
                to[yes][re->cls[c]] = (int16_t)n++;
            re->cls[c] = (uint8_t)to[yes][re->cls[c]];
        }
        re->n_classes = n;
    }
}

/* The programs and workspaces of every expression alive in the process, against one limit:
 * each is at most ~104 KB, but a server compiles a request's patterns before it waits for the
 * store, so without a process-wide count 256 connections could hold thousands of them. */
static _Atomic size_t prog_bytes;
static _Atomic size_t prog_limit = SKY__FREGEX_PROGRAM_LIMIT;

/* What a program of n steps holds besides its DFA cache (sky__fregex_memory's first terms). */
static size_t program_bytes(size_t n)
{
    size_t words = (n + 63) / 64;
    return sizeof(sky__fregex) + n * sizeof(insn) + (2 * n + 2 * n + 1) * sizeof(int) +
           n * sizeof(size_t) + words * sizeof(uint64_t);
}

sky__fregex *sky__fregex_compile(const char *src, size_t len, char *why, size_t cap)
{
    return sky__fregex_compile_ex(src, len, 0, why, cap, NULL);
}

sky__fregex *sky__fregex_compile_ex(const char *src, size_t len, unsigned flags, char *why,
                                    size_t cap, bool *limited)
{
    parser p = {.s = src, .len = len, .why = why, .cap = cap};
    if (limited)
        *limited = false;
    if (len == 0) {
        snprintf(why, cap, "an empty regular expression (%%%%)");
        return NULL;
    }
    if (!parse(&p))
        return NULL;
    size_t n = p.n, bytes = program_bytes(n);
    size_t was = atomic_fetch_add(&prog_bytes, bytes);
    if (!(flags & SKY__FREGEX_UNLIMITED) && was + bytes > atomic_load(&prog_limit)) {
        atomic_fetch_sub(&prog_bytes, bytes);
        if (limited)
            *limited = true;
        snprintf(why, cap,
                 "the server holds at most %zu KiB of compiled regular expressions (%%...%%) "
                 "at once, for all requests together, and %%%.*s%% (%zu bytes) would pass it: "
                 "retry when fewer requests with regular expressions are running",
                 atomic_load(&prog_limit) >> 10, len > 64 ? 64 : (int)len, src, bytes);
        return NULL;
    }
    sky__fregex *re = calloc(1, sizeof *re);
    if (!re)
        atomic_fetch_sub(&prog_bytes, bytes);
    if (re) {
        re->counted = bytes;
        re->prog = calloc(n, sizeof *re->prog);
        re->cur = calloc(n, sizeof *re->cur);
        re->next = calloc(n, sizeof *re->next);
        re->stack = calloc(2 * n + 1, sizeof *re->stack); /* each insn pushes 2 at most */
        re->mark = calloc(n, sizeof *re->mark);
        re->words = (n + 63) / 64;
        re->scratch = calloc(re->words, sizeof *re->scratch);
    }
    if (!re || !re->prog || !re->cur || !re->next || !re->stack || !re->mark || !re->scratch) {
        sky__fregex_free(re);
        snprintf(why, cap, "out of memory");
        return NULL;
    }
    p.prog = re->prog;
    if (!parse(&p) || p.n != n) { /* the same text parses the same way twice */
        sky__fregex_free(re);
        snprintf(why, cap, "internal error compiling the regular expression");
        return NULL;
    }
    re->n = n;
    byte_classes(re);
    if (!p.alternatives) {
        memcpy(re->lit, p.best, p.best_len);
        re->lit_len = p.best_len;
    }
    /* The bytes a match can start with, away from the text's start (^ fails there). */
    size_t cnt = 0;
    re->gen++;
    re->matches_at_end = add_closure(re, re->cur, &cnt, 0, 1, 1);
    cnt = 0;
    re->gen++;
    if (add_closure(re, re->cur, &cnt, 0, 1, 2)) {
        memset(re->first, 1, sizeof re->first); /* it matches the empty text */
    } else {
        for (size_t t = 0; t < cnt; t++) {
            const insn *in = &re->prog[re->cur[t]];
            for (unsigned b = 0; b < 256; b++)
                if (!re->first[b])
                    re->first[b] = b < 0x80 ? consumes(in, (unsigned char)b, 1)
                                            : (in->op == I_ANY || (in->op == I_SET && in->nonascii));
        }
    }
    return re;
}

size_t sky__fregex_size(const sky__fregex *re) { return re->n; }

size_t sky__fregex_cache_bytes(void) { return atomic_load(&cache_bytes); }

size_t sky__fregex_set_cache_limit(size_t bytes) { return atomic_exchange(&cache_limit, bytes); }

size_t sky__fregex_program_bytes(void) { return atomic_load(&prog_bytes); }

size_t sky__fregex_set_program_limit(size_t bytes) { return atomic_exchange(&prog_limit, bytes); }

size_t sky__fregex_memory(const sky__fregex *re)
{
    return program_bytes(re->n) + re->cap_states * state_bytes(re);
}

void sky__fregex_free(sky__fregex *re)
{
    if (!re)
        return;
    atomic_fetch_sub(&cache_bytes, re->cap_states * state_bytes(re));
    atomic_fetch_sub(&prog_bytes, re->counted);
    free(re->prog);
    free(re->cur);
    free(re->next);
    free(re->stack);
    free(re->mark);
    free(re->sets);
    free(re->scratch);
    free(re->hash);
    free(re->trans);
    free(re);
}
