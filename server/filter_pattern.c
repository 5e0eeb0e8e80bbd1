/*
 * filter_pattern.c - compiles and matches CloudWatch Logs filter patterns (see
 * filter_pattern.h for the syntax supported).
 *
 * A pattern is compiled once per FilterLogEvents call and matched against every candidate
 * event, so matching does no parsing of the pattern; a JSON pattern parses the message with
 * jansson once per event (a message that is not a JSON object never matches a JSON pattern).
 * Unsupported syntax is an error, never a silent "match all": a filter that quietly returns
 * everything would make tests pass that should fail.
 */
#include "filter_pattern.h"

#include "filter_regex.h"
#include "jsonbody.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- term patterns ------------------------------------------------------------------------ */

/* A term pattern is a disjunction of conjunctions (CloudWatch's "term groups"): every ?term
 * starts a new group, and the plain and -terms after it, up to the next ?term, belong to it
 * (AWS's CDK writes "ERROR and MainThread, or WARN and Deadlock" as
 * ?"ERROR" "MainThread" ?"WARN" "Deadlock"). Terms before the first ?term form a group of
 * their own. The pattern matches when one group does: all of its terms appear and none of its
 * -terms. */
typedef enum term_kind { T_MUST, T_NOT } term_kind;

typedef struct term {
    term_kind kind;
    bool starts_group; /* a ?term: the first of a new group */
    char *text;
    size_t len;
} term;

/* ---- JSON patterns ------------------------------------------------------------------------ */

typedef enum node_kind { N_AND, N_OR, N_CMP } node_kind;
typedef enum cmp_op { OP_EQ, OP_NE, OP_LT, OP_GT, OP_LE, OP_GE, OP_IS_NULL, OP_IS_TRUE,
                      OP_IS_FALSE, OP_NOT_EXISTS, OP_EXISTS } cmp_op;

/* One step of a selector: $.a (a member), [0] (an element), .* or [*] (every member of an
 * object, every element of an array: a wildcard), ['a.b'] (a member whose name needs quoting). */
typedef enum step_kind { S_KEY, S_INDEX, S_ANY } step_kind;

typedef struct step {
    step_kind kind;
    char *key; /* S_KEY */
    long index; /* S_INDEX */
} step;

typedef struct node {
    node_kind kind;
    struct node *a, *b; /* N_AND, N_OR */
    /* N_CMP */
    step *path;
    size_t n_path;
    bool wild; /* a step is S_ANY: the comparison holds when it holds for one selected value */
    cmp_op op;
    bool is_num;
    double num;
    char *str; /* string value (may contain '*' wildcards) */
    sky__fregex *re; /* a %regex% value (= and != only) */
} node;

/* ---- space-delimited patterns ------------------------------------------------------------ */

/* One slot of [a, b=x*, ..., c>1]: "..." (any number of fields) or a named field with an
 * optional condition on its text (n_path 0 in its comparisons: they test the field itself). */
typedef struct slot {
    bool ellipsis;
    char *name;
    node *cond; /* NULL: any value */
    size_t field; /* index among the named slots */
} slot;

struct sky__pattern {
    bool match_all;
    term *terms;
    size_t n_terms;
    node *json;
    size_t json_cmps; /* comparisons in the JSON pattern */
    slot *slots;      /* space-delimited pattern: n_slots > 0 */
    size_t n_slots, n_named, sp_cmps;
    bool has_ellipsis;
    sky__fregex *re; /* a whole-pattern %regex% */
    size_t n_regex;  /* regular expressions in the pattern */
    size_t re_cost;  /* their program sizes, summed (steps per byte) */
};

/* ---- helpers ------------------------------------------------------------------------------ */

/* '*' wildcards only: the literal pieces between stars must appear in order, the first at the
 * start and the last at the end. Matching each middle piece at its leftmost place is exact for
 * such patterns, and with memmem the whole match is linear in the message: a backtracking
 * matcher took O(message x pattern) steps, a second per megabyte message under the store lock
 * for a pattern such as "*a*a*a*...*b". */
static bool glob_match(const char *pat, const char *s, size_t n)
{
    const char *first_star = strchr(pat, '*');
    if (!first_star)
        return strlen(pat) == n && memcmp(pat, s, n) == 0;
    size_t head = (size_t)(first_star - pat);
    const char *last_star = strrchr(pat, '*');
    size_t tail = strlen(last_star + 1);
    if (head + tail > n || memcmp(s, pat, head) != 0 ||
        memcmp(s + n - tail, last_star + 1, tail) != 0)
        return false;
    size_t pos = head, end = n - tail;
    for (const char *p = first_star + 1; p <= last_star;) {
        const char *q = strchr(p, '*');
        size_t len = (size_t)(q - p);
        if (len) {
            const char *f = memmem(s + pos, end - pos, p, len);
            if (!f)
                return false;
            pos = (size_t)(f - s) + len;
        }
        p = q + 1;
    }
    return true;
}

static void free_node(node *nd)
{
    if (!nd)
        return;
    free_node(nd->a);
    free_node(nd->b);
    for (size_t i = 0; i < nd->n_path; i++)
        free(nd->path[i].key);
    free(nd->path);
    free(nd->str);
    sky__fregex_free(nd->re);
    free(nd);
}

void sky__pattern_free(sky__pattern *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_terms; i++)
        free(p->terms[i].text);
    free(p->terms);
    free_node(p->json);
    for (size_t i = 0; i < p->n_slots; i++) {
        free(p->slots[i].name);
        free_node(p->slots[i].cond);
    }
    free(p->slots);
    sky__fregex_free(p->re);
    free(p);
}

/* A %regex% among terms: CloudWatch's syntax has it as a whole pattern or as a value. */
#define REGEX_TERM                                                                          \
    "a regular expression (%...%) is a whole pattern, or a value in a JSON or "            \
    "space-delimited pattern: it cannot be combined with terms"

/* ---- term pattern parser ------------------------------------------------------------------ */

static bool parse_terms(sky__pattern *p, const char *s, const char **why)
{
    while (*s) {
        while (isspace((unsigned char)*s))
            s++;
        if (!*s)
            break;
        term t = {.kind = T_MUST};
        if (*s == '-' && s[1] && !isspace((unsigned char)s[1])) {
            t.kind = T_NOT;
            s++;
        } else if (*s == '?' && s[1] && !isspace((unsigned char)s[1])) {
            t.starts_group = true;
            s++;
        }
        const char *start;
        size_t len;
        if (*s == '"') {
            start = ++s;
            while (*s && *s != '"')
                s++;
            if (*s != '"') {
                *why = "unterminated quoted term";
                return false;
            }
            len = (size_t)(s - start);
            s++;
        } else {
            start = s;
            while (*s && !isspace((unsigned char)*s))
                s++;
            len = (size_t)(s - start);
            if (len >= 2 && start[0] == '%' && start[len - 1] == '%') {
                *why = REGEX_TERM;
                return false;
            }
        }
        term *nt = realloc(p->terms, (p->n_terms + 1) * sizeof *nt);
        if (!nt) {
            *why = "out of memory";
            return false;
        }
        p->terms = nt;
        t.text = strndup(start, len);
        t.len = len;
        if (!t.text) {
            *why = "out of memory";
            return false;
        }
        p->terms[p->n_terms++] = t;
    }
    return true;
}

static bool contains(const char *msg, size_t len, const term *t)
{
    if (t->len == 0)
        return true;
    return memmem(msg, len, t->text, t->len) != NULL;
}

/* ---- JSON pattern parser (recursive descent) ---------------------------------------------- */

typedef struct lexer {
    const char *s;
    const char *why;
    int depth;    /* parentheses open now */
    size_t terms; /* comparisons so far */
    size_t wild_cmps; /* comparisons with a wildcard selector (each may visit every value) */
    size_t regexes, re_cost; /* %regex% values so far, and their program sizes */
    char *buf;    /* for a reason with the pattern's own text in it (why points here) */
    size_t cap;
    unsigned rx_flags; /* sky__fregex_compile_ex's */
    bool *rx_limited;  /* set when a regex was refused for the process-wide limit */
} lexer;

static void skip_ws(lexer *lx)
{
    while (isspace((unsigned char)*lx->s))
        lx->s++;
}

static bool accept(lexer *lx, const char *tok)
{
    skip_ws(lx);
    size_t n = strlen(tok);
    if (strncmp(lx->s, tok, n) == 0) {
        lx->s += n;
        return true;
    }
    return false;
}

static bool accept_word(lexer *lx, const char *word)
{
    skip_ws(lx);
    size_t n = strlen(word);
    if (strncasecmp(lx->s, word, n) == 0 && !isalnum((unsigned char)lx->s[n]) && lx->s[n] != '_') {
        lx->s += n;
        return true;
    }
    return false;
}

static node *parse_or(lexer *lx);

static bool key_char(char c)
{
    return c && !isspace((unsigned char)c) && !strchr(".[]=!<>()&|{}\"", c);
}

/* ['name'] or ["name"] after the '[': the name up to the same quote (no escapes: a name with
 * one kind of quote is written in the other). Its length is checked before it is copied. */
static bool parse_quoted_key(lexer *lx, step *st)
{
    char q = *lx->s++;
    const char *start = lx->s, *end = strchr(start, q);
    if (!end) {
        lx->why = "unterminated quoted name in selector";
        return false;
    }
    size_t len = (size_t)(end - start);
    if (len == 0) {
        lx->why = "empty key in selector";
        return false;
    }
    if (len > SKY__SELECTOR_MAX_KEY) {
        lx->why = "a selector's key is longer than 256 characters";
        return false;
    }
    if (end[1] != ']') {
        lx->why = "expected ] after a quoted name in selector";
        return false;
    }
    if (!(st->key = strndup(start, len))) {
        lx->why = "out of memory";
        return false;
    }
    st->kind = S_KEY;
    lx->s = end + 2;
    return true;
}

/* $ then steps: .name, .*, [n], [*], ['name'] (also written .['name']). At most
 * SKY__SELECTOR_MAX_STEPS steps (JSON deeper than that is refused anyway) and names of at most
 * SKY__SELECTOR_MAX_KEY bytes, checked before a step is stored; a loop, no recursion. */
static bool parse_selector(lexer *lx, node *nd)
{
    skip_ws(lx);
    if (*lx->s != '$') {
        lx->why = "JSON pattern terms start with a $ selector";
        return false;
    }
    lx->s++;
    while (*lx->s == '.' || *lx->s == '[') {
        if (nd->n_path == SKY__SELECTOR_MAX_STEPS) {
            lx->why = "a selector has more than 64 steps";
            return false;
        }
        step st = {.kind = S_KEY};
        const char *name = NULL; /* a .name, stored once its length is checked */
        size_t name_len = 0;
        if (*lx->s == '.' && lx->s[1] == '[')
            lx->s++; /* .['name'] is ['name'] */
        if (*lx->s == '.') {
            lx->s++;
            const char *start = lx->s;
            while (key_char(*lx->s))
                lx->s++;
            size_t len = (size_t)(lx->s - start);
            if (len == 0) {
                lx->why = "empty key in selector";
                return false;
            }
            if (len == 1 && *start == '*') {
                st.kind = S_ANY;
            } else if (len > SKY__SELECTOR_MAX_KEY) {
                lx->why = "a selector's key is longer than 256 characters";
                return false;
            } else {
                name = start;
                name_len = len;
            }
        } else { /* '[' */
            lx->s++;
            if (*lx->s == '*' && lx->s[1] == ']') {
                st.kind = S_ANY;
                lx->s += 2;
            } else if (*lx->s == '\'' || *lx->s == '"') {
                if (!parse_quoted_key(lx, &st))
                    return false;
            } else {
                char *end;
                if (!isdigit((unsigned char)*lx->s) ||
                    (st.index = strtol(lx->s, &end, 10), *end != ']') || st.index < 0) {
                    lx->why = "bad array index in selector ([0], [*] or ['name'])";
                    return false;
                }
                st.kind = S_INDEX;
                lx->s = end + 1;
            }
        }
        if (name && !(st.key = strndup(name, name_len))) {
            lx->why = "out of memory";
            return false;
        }
        step *np = realloc(nd->path, (nd->n_path + 1) * sizeof *np);
        if (!np) {
            free(st.key);
            lx->why = "out of memory";
            return false;
        }
        nd->path = np;
        nd->path[nd->n_path++] = st;
        nd->wild |= st.kind == S_ANY;
    }
    if (nd->n_path == 0) {
        lx->why = "selector needs a field ($.name)";
        return false;
    }
    return true;
}

static bool parse_value_until(lexer *lx, node *nd, const char *stops)
{
    skip_ws(lx);
    if (*lx->s == '"') {
        const char *start = ++lx->s;
        while (*lx->s && *lx->s != '"')
            lx->s++;
        if (*lx->s != '"') {
            lx->why = "unterminated string";
            return false;
        }
        nd->str = strndup(start, (size_t)(lx->s - start));
        lx->s++;
        return nd->str != NULL;
    }
    if (*lx->s == '%') { /* %regex%: it may hold spaces, | } ] and commas, but never % */
        const char *start = ++lx->s, *end = strchr(start, '%');
        if (!end) {
            lx->why = "a regular expression (%...%) is not closed with %";
            return false;
        }
        lx->s = end + 1;
        if (++lx->regexes > SKY__PATTERN_MAX_REGEX) {
            lx->why = "at most 2 regular expressions (%...%) in a JSON or space-delimited "
                      "pattern (CloudWatch's limit)";
            return false;
        }
        if (!(nd->re = sky__fregex_compile_ex(start, (size_t)(end - start), lx->rx_flags,
                                              lx->buf, lx->cap, lx->rx_limited))) {
            lx->why = lx->buf;
            return false;
        }
        lx->re_cost += sky__fregex_size(nd->re);
        return true;
    }
    const char *start = lx->s;
    while (*lx->s && !isspace((unsigned char)*lx->s) && !strchr(stops, *lx->s))
        lx->s++;
    if (lx->s == start) {
        lx->why = "missing value";
        return false;
    }
    nd->str = strndup(start, (size_t)(lx->s - start));
    if (!nd->str)
        return false;
    char *end;
    double v = strtod(nd->str, &end);
    if (*end == '\0' && end != nd->str) {
        nd->is_num = true;
        nd->num = v;
    }
    return true;
}

/* = != < > <= >=, then the value (stopping at `stops`); numeric operators need a number. */
static bool parse_op_value(lexer *lx, node *nd, const char *stops)
{
    if (accept(lx, "!="))
        nd->op = OP_NE;
    else if (accept(lx, "<="))
        nd->op = OP_LE;
    else if (accept(lx, ">="))
        nd->op = OP_GE;
    else if (accept(lx, "="))
        nd->op = OP_EQ;
    else if (accept(lx, "<"))
        nd->op = OP_LT;
    else if (accept(lx, ">"))
        nd->op = OP_GT;
    else {
        lx->why = "expected an operator (=, !=, <, >, <=, >=)";
        return false;
    }
    if (!parse_value_until(lx, nd, stops))
        return false;
    if (nd->op != OP_EQ && nd->op != OP_NE && !nd->is_num) {
        lx->why = nd->re ? "a regular expression (%...%) is compared with = or != only"
                         : "<, >, <= and >= need a number";
        return false;
    }
    return true;
}

/* A new comparison, counted against SKY__PATTERN_MAX_TERMS. */
static node *new_cmp(lexer *lx)
{
    if (++lx->terms > SKY__PATTERN_MAX_TERMS) {
        lx->why = "too many comparisons (at most 256)";
        return NULL;
    }
    node *nd = calloc(1, sizeof *nd);
    if (!nd)
        lx->why = "out of memory";
    else
        nd->kind = N_CMP;
    return nd;
}

static node *parse_cmp(lexer *lx)
{
    node *nd = new_cmp(lx);
    if (!nd)
        return NULL;
    if (!parse_selector(lx, nd))
        goto fail;
    lx->wild_cmps += nd->wild;
    if (accept_word(lx, "IS")) {
        if (accept_word(lx, "NULL"))
            nd->op = OP_IS_NULL;
        else if (accept_word(lx, "TRUE"))
            nd->op = OP_IS_TRUE;
        else if (accept_word(lx, "FALSE"))
            nd->op = OP_IS_FALSE;
        else {
            lx->why = "IS must be followed by NULL, TRUE or FALSE";
            goto fail;
        }
        return nd;
    }
    if (accept_word(lx, "NOT")) {
        if (!accept_word(lx, "EXISTS")) {
            lx->why = "NOT must be followed by EXISTS";
            goto fail;
        }
        nd->op = OP_NOT_EXISTS;
        return nd;
    }
    if (accept_word(lx, "EXISTS")) {
        nd->op = OP_EXISTS;
        return nd;
    }
    if (!parse_op_value(lx, nd, ")&|}")) {
        if (lx->why && strncmp(lx->why, "expected an operator", 20) == 0)
            lx->why = "expected an operator (=, !=, <, >, <=, >=, IS, NOT EXISTS)";
        goto fail;
    }
    return nd;
fail:
    free_node(nd);
    return NULL;
}

static node *parse_unary(lexer *lx)
{
    if (accept(lx, "(")) {
        if (++lx->depth > SKY__PATTERN_MAX_DEPTH) {
            lx->why = "parentheses nested too deep (at most 32)";
            return NULL;
        }
        node *nd = parse_or(lx);
        lx->depth--;
        if (nd && !accept(lx, ")")) {
            lx->why = "missing )";
            free_node(nd);
            return NULL;
        }
        return nd;
    }
    return parse_cmp(lx);
}

static node *join(lexer *lx, node_kind kind, node *a, node *b)
{
    node *nd = calloc(1, sizeof *nd);
    if (!nd) {
        lx->why = "out of memory";
        free_node(a);
        free_node(b);
        return NULL;
    }
    nd->kind = kind;
    nd->a = a;
    nd->b = b;
    return nd;
}

static node *parse_and(lexer *lx)
{
    node *left = parse_unary(lx);
    while (left && accept(lx, "&&")) {
        node *right = parse_unary(lx);
        if (!right) {
            free_node(left);
            return NULL;
        }
        left = join(lx, N_AND, left, right);
    }
    return left;
}

static node *parse_or(lexer *lx)
{
    node *left = parse_and(lx);
    while (left && accept(lx, "||")) {
        node *right = parse_and(lx);
        if (!right) {
            free_node(left);
            return NULL;
        }
        left = join(lx, N_OR, left, right);
    }
    return left;
}

/* ---- JSON evaluation ---------------------------------------------------------------------- */

/* A key or index step from v: the member or element, or NULL. */
static json_t *step_into(json_t *v, const step *st)
{
    if (st->kind == S_KEY)
        return json_is_object(v) ? json_object_get(v, st->key) : NULL;
    return json_is_array(v) ? json_array_get(v, (size_t)st->index) : NULL;
}

/* The value a selector without wildcards selects, or NULL. */
static json_t *select_path(json_t *root, const node *nd)
{
    json_t *cur = root;
    for (size_t i = 0; i < nd->n_path && cur; i++)
        cur = step_into(cur, &nd->path[i]);
    return cur;
}

/* The k-th child (member value or element) of v for a wildcard step, or NULL past the last.
 * Objects are walked with an iterator kept in *it (k counts calls, for arrays). */
static json_t *wild_child(json_t *v, size_t k, void **it)
{
    if (json_is_array(v))
        return json_array_get(v, k);
    if (!json_is_object(v))
        return NULL;
    *it = k == 0 ? json_object_iter(v) : json_object_iter_next(v, *it);
    return *it ? json_object_iter_value(*it) : NULL;
}

/* Whether test (NULL: any value) holds for one of the values a wildcard selector selects.
 * Depth first over the selector's steps with one frame per step (no recursion, nothing
 * allocated): the JSON is a tree, so each of its values is reached at most once, and a call
 * costs at most (values in the message) steps plus the tests. */
static bool any_selected(const node *nd, json_t *root, bool (*test)(const node *, json_t *))
{
    json_t *at[SKY__SELECTOR_MAX_STEPS + 1]; /* at[d]: the value steps 0..d-1 led to */
    size_t k[SKY__SELECTOR_MAX_STEPS];       /* wildcard steps: the child being visited */
    void *it[SKY__SELECTOR_MAX_STEPS];
    size_t d = 0;
    at[0] = root;
    for (;;) {
        /* down: take each step from at[d], a wildcard's first child first */
        while (d < nd->n_path) {
            const step *st = &nd->path[d];
            json_t *next;
            if (st->kind == S_ANY) {
                k[d] = 0;
                next = wild_child(at[d], 0, &it[d]);
            } else {
                next = step_into(at[d], st);
            }
            if (!next)
                break;
            at[++d] = next;
        }
        if (d == nd->n_path && (!test || test(nd, at[d])))
            return true;
        /* up: to the deepest wildcard with another child, and down again from it */
        for (;;) {
            if (d == 0)
                return false;
            d--;
            if (nd->path[d].kind == S_ANY) {
                json_t *next = wild_child(at[d], ++k[d], &it[d]);
                if (next) {
                    at[++d] = next;
                    break;
                }
            }
        }
    }
}

static bool test_value(const node *nd, json_t *v);

static bool eval_cmp(const node *nd, json_t *root)
{
    if (nd->wild) {
        bool exists_only = nd->op == OP_NOT_EXISTS || nd->op == OP_EXISTS;
        bool any = any_selected(nd, root, exists_only ? NULL : test_value);
        return nd->op == OP_NOT_EXISTS ? !any : any;
    }
    json_t *v = select_path(root, nd);
    if (nd->op == OP_NOT_EXISTS)
        return v == NULL;
    return v && (nd->op == OP_EXISTS || test_value(nd, v));
}

/* The comparison against one selected value. */
static bool test_value(const node *nd, json_t *v)
{
    switch (nd->op) {
    case OP_IS_NULL: return json_is_null(v);
    case OP_IS_TRUE: return json_is_true(v);
    case OP_IS_FALSE: return json_is_false(v);
    case OP_EXISTS: return true;
    default: break;
    }
    if (json_is_number(v) && nd->is_num) {
        double x = json_number_value(v);
        switch (nd->op) {
        case OP_EQ: return x == nd->num;
        case OP_NE: return x != nd->num;
        case OP_LT: return x < nd->num;
        case OP_GT: return x > nd->num;
        case OP_LE: return x <= nd->num;
        case OP_GE: return x >= nd->num;
        default: return false;
        }
    }
    if (nd->op != OP_EQ && nd->op != OP_NE)
        return false; /* numeric comparison of a non-number */
    char buf[64];
    const char *text = NULL;
    size_t len = 0;
    if (json_is_string(v)) {
        text = json_string_value(v);
        len = json_string_length(v);
    } else if (json_is_integer(v)) {
        len = (size_t)snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        text = buf;
    } else if (json_is_real(v)) {
        len = (size_t)snprintf(buf, sizeof buf, "%.17g", json_real_value(v));
        text = buf;
    } else if (json_is_boolean(v)) {
        text = json_is_true(v) ? "true" : "false";
        len = strlen(text);
    } else {
        return false; /* objects, arrays and null never equal a string */
    }
    bool eq = nd->re ? sky__fregex_search(nd->re, text, len) : glob_match(nd->str, text, len);
    return nd->op == OP_EQ ? eq : !eq;
}

static bool eval(const node *nd, json_t *root)
{
    switch (nd->kind) {
    case N_AND: return eval(nd->a, root) && eval(nd->b, root);
    case N_OR: return eval(nd->a, root) || eval(nd->b, root);
    case N_CMP: return eval_cmp(nd, root);
    }
    return false;
}

/* ---- space-delimited patterns: parser ---------------------------------------------------- */

#define SP_STOPS ",]&|"

static bool name_char(char c)
{
    return c && !isspace((unsigned char)c) && !strchr(",[]=!<>&|\"(){}$", c);
}

/* NAME op value, where NAME must be the slot's own name (a condition tests its own field). */
static node *parse_field_cmp(lexer *lx, const char *name, bool name_read)
{
    if (!name_read) {
        skip_ws(lx);
        size_t n = strlen(name);
        if (strncmp(lx->s, name, n) != 0 || name_char(lx->s[n])) {
            lx->why = "a field's condition can only test that field";
            return NULL;
        }
        lx->s += n;
    }
    node *nd = new_cmp(lx);
    if (nd && !parse_op_value(lx, nd, SP_STOPS)) {
        free_node(nd);
        return NULL;
    }
    return nd;
}

/* The condition after a slot's name: comparisons joined by && (binding tighter) and ||. */
static node *parse_field_cond(lexer *lx, const char *name)
{
    node *and_acc = parse_field_cmp(lx, name, true), *or_acc = NULL;
    while (and_acc) {
        bool is_and = accept(lx, "&&");
        if (!is_and && !accept(lx, "||"))
            break;
        node *c = parse_field_cmp(lx, name, false);
        if (!c) {
            free_node(and_acc);
            free_node(or_acc);
            return NULL;
        }
        if (is_and) {
            and_acc = join(lx, N_AND, and_acc, c);
        } else {
            if (or_acc && !(or_acc = join(lx, N_OR, or_acc, and_acc))) {
                free_node(c);
                return NULL;
            }
            if (!or_acc)
                or_acc = and_acc;
            and_acc = c;
        }
    }
    if (!and_acc) {
        free_node(or_acc);
        return NULL;
    }
    return or_acc ? join(lx, N_OR, or_acc, and_acc) : and_acc;
}

/* `inner` is the text between [ and ]. */
static bool parse_space(sky__pattern *p, const char *inner, const char **why, char *buf,
                        size_t cap, unsigned rx_flags, bool *rx_limited)
{
    lexer lx = {.s = inner, .buf = buf, .cap = cap, .rx_flags = rx_flags,
                .rx_limited = rx_limited};
    for (;;) {
        skip_ws(&lx);
        if (p->n_slots == SKY__PATTERN_MAX_TERMS) {
            lx.why = "too many fields (at most 256)";
            break;
        }
        slot sl = {0};
        if (strncmp(lx.s, "...", 3) == 0) {
            lx.s += 3;
            sl.ellipsis = true;
            p->has_ellipsis = true;
        } else {
            const char *start = lx.s;
            while (name_char(*lx.s))
                lx.s++;
            if (lx.s == start) {
                lx.why = *lx.s ? "expected a field name or ..." : "empty field list";
                break;
            }
            if (!(sl.name = strndup(start, (size_t)(lx.s - start)))) {
                lx.why = "out of memory";
                break;
            }
            for (size_t i = 0; i < p->n_slots; i++)
                if (p->slots[i].name && strcmp(p->slots[i].name, sl.name) == 0)
                    lx.why = "a field name appears twice";
            skip_ws(&lx);
            if (!lx.why && *lx.s && *lx.s != ',' && !(sl.cond = parse_field_cond(&lx, sl.name)) &&
                !lx.why)
                lx.why = "out of memory";
            if (lx.why) {
                free(sl.name);
                free_node(sl.cond);
                break;
            }
            sl.field = p->n_named++;
        }
        slot *ns = realloc(p->slots, (p->n_slots + 1) * sizeof *ns);
        if (!ns) {
            free(sl.name);
            free_node(sl.cond);
            lx.why = "out of memory";
            break;
        }
        p->slots = ns;
        p->slots[p->n_slots++] = sl;
        skip_ws(&lx);
        if (!*lx.s)
            break;
        if (*lx.s != ',') {
            lx.why = "expected , between fields";
            break;
        }
        lx.s++;
    }
    p->sp_cmps = lx.terms;
    p->n_regex = lx.regexes;
    p->re_cost = lx.re_cost;
    *why = lx.why;
    return lx.why == NULL;
}

/* ---- space-delimited patterns: matching --------------------------------------------------- */

/* The next field of a message from *pos: runs of spaces separate fields; "..." and [...]
 * are one field each, given without their quotes or brackets (an unclosed one runs to the end
 * of the message). False at the end. */
static bool next_field(const char *m, size_t len, size_t *pos, sky__field *f)
{
    size_t i = *pos;
    while (i < len && (m[i] == ' ' || m[i] == '\t'))
        i++;
    if (i == len) {
        *pos = i;
        return false;
    }
    if (m[i] == '"' || m[i] == '[') {
        char close = m[i] == '"' ? '"' : ']';
        const char *end = memchr(m + i + 1, close, len - i - 1);
        f->ptr = m + i + 1;
        f->len = end ? (size_t)(end - f->ptr) : len - i - 1;
        *pos = end ? (size_t)(end - m) + 1 : len;
        return true;
    }
    size_t start = i;
    while (i < len && m[i] != ' ' && m[i] != '\t')
        i++;
    f->ptr = m + start;
    f->len = i - start;
    *pos = i;
    return true;
}

bool sky__field_number(const sky__field *f, double *v)
{
    char buf[64];
    if (f->len == 0 || f->len >= sizeof buf)
        return false;
    memcpy(buf, f->ptr, f->len);
    buf[f->len] = '\0';
    char *end;
    *v = strtod(buf, &end);
    return *end == '\0' && !isspace((unsigned char)buf[0]);
}

static bool eval_field(const node *nd, const sky__field *f)
{
    if (nd->kind == N_AND)
        return eval_field(nd->a, f) && eval_field(nd->b, f);
    if (nd->kind == N_OR)
        return eval_field(nd->a, f) || eval_field(nd->b, f);
    double x;
    bool num = nd->is_num && sky__field_number(f, &x);
    switch (nd->op) {
    case OP_LT: return num && x < nd->num;
    case OP_GT: return num && x > nd->num;
    case OP_LE: return num && x <= nd->num;
    case OP_GE: return num && x >= nd->num;
    default: break;
    }
    bool eq = nd->re  ? sky__fregex_search(nd->re, f->ptr, f->len)
              : num ? x == nd->num
                    : glob_match(nd->str, f->ptr, f->len);
    return nd->op == OP_EQ ? eq : !eq;
}

/* Slots [from, to) against the fields starting at byte *pos (which must hold enough of
 * them); *pos moves past them. out (or NULL) gets the named fields' values. */
static bool match_run(const sky__pattern *p, size_t from, size_t to, const char *m, size_t len,
                      size_t *pos, sky__field *out)
{
    for (size_t i = from; i < to; i++) {
        sky__field f;
        if (!next_field(m, len, pos, &f))
            return false;
        const slot *sl = &p->slots[i];
        if (sl->cond && !eval_field(sl->cond, &f))
            return false;
        if (out)
            out[sl->field] = f;
    }
    return true;
}

/* Runs of named slots between "..."s: the first run is anchored at the first field and the
 * last at the last one; a run in between is matched at the leftmost place it fits. As for
 * '*' in glob_match, leftmost is exact (it leaves the most fields to what follows), so the
 * work is fields x slots, with no backtracking and no allocation. */
static bool match_space(const sky__pattern *p, const char *m, size_t len, sky__field *out)
{
    size_t nf = 0, pos = 0;
    sky__field f;
    while (next_field(m, len, &pos, &f))
        nf++;
    pos = 0;
    if (!p->has_ellipsis)
        return nf == p->n_slots && match_run(p, 0, p->n_slots, m, len, &pos, out);
    if (nf < p->n_named)
        return false;
    size_t at = 0; /* fields consumed so far */
    size_t i = 0;
    size_t tail_from = p->n_slots;
    while (tail_from > 0 && !p->slots[tail_from - 1].ellipsis)
        tail_from--;
    size_t tail = p->n_slots - tail_from;
    while (i < tail_from) {
        if (p->slots[i].ellipsis) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < tail_from && !p->slots[j].ellipsis)
            j++;
        size_t run = j - i;
        if (i == 0) { /* anchored at the first field */
            if (!match_run(p, i, j, m, len, &pos, out))
                return false;
            at = run;
        } else {
            for (;;) {
                if (at + run + tail > nf)
                    return false;
                size_t try_pos = pos;
                if (match_run(p, i, j, m, len, &try_pos, out)) {
                    pos = try_pos;
                    at += run;
                    break;
                }
                next_field(m, len, &pos, &f);
                at++;
            }
        }
        i = j;
    }
    if (tail) { /* anchored at the last field */
        if (at + tail > nf)
            return false;
        while (at < nf - tail) {
            next_field(m, len, &pos, &f);
            at++;
        }
        return match_run(p, tail_from, p->n_slots, m, len, &pos, out);
    }
    return true;
}

/* ---- public ------------------------------------------------------------------------------- */

/* The reason is a static string in *why, or (when it quotes the pattern) text in buf. */
static sky__pattern *compile(const char *text, const char **why, char *buf, size_t cap,
                             unsigned rx_flags, bool *rx_limited)
{
    *why = NULL;
    sky__pattern *p = calloc(1, sizeof *p);
    if (!p) {
        *why = "out of memory";
        return NULL;
    }
    if (strlen(text) > SKY__PATTERN_MAX_LEN) {
        *why = "longer than 1024 characters";
        goto fail;
    }
    while (isspace((unsigned char)*text))
        text++;
    size_t n = strlen(text);
    while (n > 0 && isspace((unsigned char)text[n - 1]))
        n--;
    if (n == 0 || (n == 2 && text[0] == '"' && text[1] == '"')) {
        p->match_all = true;
        return p;
    }
    if (n >= 2 && text[0] == '%' && text[n - 1] == '%') {
        if (!(p->re = sky__fregex_compile_ex(text + 1, n - 2, rx_flags, buf, cap, rx_limited))) {
            *why = buf;
            goto fail;
        }
        p->n_regex = 1;
        p->re_cost = sky__fregex_size(p->re);
        return p;
    }
    if (text[0] == '[') {
        if (text[n - 1] != ']') {
            *why = "space-delimited pattern must end with ]";
            goto fail;
        }
        char *inner = strndup(text + 1, n - 2);
        if (!inner) {
            *why = "out of memory";
            goto fail;
        }
        bool ok = parse_space(p, inner, why, buf, cap, rx_flags, rx_limited);
        free(inner);
        if (!ok)
            goto fail;
        return p;
    }
    if (text[0] == '{') {
        if (text[n - 1] != '}') {
            *why = "JSON pattern must end with }";
            goto fail;
        }
        char *inner = strndup(text + 1, n - 2);
        if (!inner) {
            *why = "out of memory";
            goto fail;
        }
        lexer lx = {.s = inner, .buf = buf, .cap = cap, .rx_flags = rx_flags,
                    .rx_limited = rx_limited};
        p->json = parse_or(&lx);
        p->json_cmps = lx.terms + lx.wild_cmps;
        p->n_regex = lx.regexes;
        p->re_cost = lx.re_cost;
        skip_ws(&lx);
        if (p->json && *lx.s) {
            lx.why = "unexpected text after the expression";
            free_node(p->json);
            p->json = NULL;
        }
        *why = lx.why;
        free(inner);
        if (!p->json)
            goto fail;
        return p;
    }
    if (!parse_terms(p, text, why))
        goto fail;
    return p;
fail:
    if (!*why)
        *why = "syntax error";
    sky__pattern_free(p);
    return NULL;
}

sky__pattern *sky__pattern_compile(const char *text, char *why, size_t cap)
{
    return sky__pattern_compile_ex(text, 0, why, cap, NULL);
}

sky__pattern *sky__pattern_compile_ex(const char *text, unsigned rx_flags, char *why, size_t cap,
                                      bool *limited)
{
    const char *reason = NULL;
    bool lim = false;
    sky__pattern *p = compile(text, &reason, why, cap, rx_flags, &lim);
    if (limited)
        *limited = !p && lim;
    if (!p && reason != why)
        snprintf(why, cap, "%s", reason);
    return p;
}

size_t sky__pattern_cost(const sky__pattern *p)
{
    return 1 + p->re_cost +
           (p->json ? p->json_cmps : p->n_slots ? p->n_slots + p->sp_cmps : p->n_terms);
}

size_t sky__pattern_n_regex(const sky__pattern *p) { return p->n_regex; }

bool sky__pattern_is_json(const sky__pattern *p) { return p->json != NULL; }

size_t sky__pattern_n_fields(const sky__pattern *p) { return p->n_named; }

long sky__pattern_field_index(const sky__pattern *p, const char *ref)
{
    if (ref[0] != '$')
        return -1;
    for (size_t i = 0; i < p->n_slots; i++)
        if (p->slots[i].name && strcmp(p->slots[i].name, ref + 1) == 0)
            return (long)p->slots[i].field;
    return -1;
}

const char *sky__pattern_field_name(const sky__pattern *p, size_t i)
{
    for (size_t k = 0; k < p->n_slots; k++)
        if (p->slots[k].name && p->slots[k].field == i)
            return p->slots[k].name;
    return NULL;
}

bool sky__pattern_match_fields(const sky__pattern *p, const char *msg, size_t len,
                               sky__field *out)
{
    if (!p->n_slots)
        return sky__pattern_match(p, msg, len);
    return match_space(p, msg, len, out);
}

struct sky__selector {
    node nd; /* only path/n_path are used */
};

sky__selector *sky__selector_compile(const char *text)
{
    if (strlen(text) > SKY__PATTERN_MAX_LEN)
        return NULL;
    sky__selector *sel = calloc(1, sizeof *sel);
    if (!sel)
        return NULL;
    lexer lx = {.s = text};
    if (!parse_selector(&lx, &sel->nd) || (skip_ws(&lx), *lx.s) || sel->nd.wild) {
        sky__selector_free(sel);
        return NULL;
    }
    return sel;
}

json_t *sky__selector_get(const sky__selector *sel, json_t *root)
{
    return root ? select_path(root, &sel->nd) : NULL;
}

void sky__selector_free(sky__selector *sel)
{
    if (!sel)
        return;
    for (size_t i = 0; i < sel->nd.n_path; i++)
        free(sel->nd.path[i].key);
    free(sel->nd.path);
    free(sel);
}

bool sky__pattern_match_parsed(const sky__pattern *p, const char *msg, size_t len, json_t *root)
{
    if (p->match_all)
        return true;
    if (p->re)
        return sky__fregex_search(p->re, msg, len);
    if (p->json)
        return root && json_is_object(root) && eval(p->json, root);
    return sky__pattern_match(p, msg, len);
}

bool sky__pattern_match(const sky__pattern *p, const char *msg, size_t len)
{
    if (p->match_all)
        return true;
    if (p->re)
        return sky__fregex_search(p->re, msg, len);
    if (p->json) {
        const char *why;
        json_t *root = sky__json_load(msg, len, &why); /* bounded: messages are client data */
        bool ok = root && json_is_object(root) && eval(p->json, root);
        json_decref(root);
        return ok;
    }
    if (p->n_slots)
        return match_space(p, msg, len, NULL);
    /* One pass over the groups: a group that fails skips to the next ?term. */
    for (size_t i = 0; i < p->n_terms;) {
        bool ok = true;
        size_t j = i;
        do {
            const term *t = &p->terms[j];
            if (ok && contains(msg, len, t) != (t->kind == T_MUST))
                ok = false;
            j++;
        } while (j < p->n_terms && !p->terms[j].starts_group);
        if (ok)
            return true;
        i = j;
    }
    return false;
}
