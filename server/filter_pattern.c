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

#include "jsonbody.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- term patterns ------------------------------------------------------------------------ */

typedef enum term_kind { T_MUST, T_NOT, T_ANY } term_kind;

typedef struct term {
    term_kind kind;
    char *text;
    size_t len;
} term;

/* ---- JSON patterns ------------------------------------------------------------------------ */

typedef enum node_kind { N_AND, N_OR, N_CMP } node_kind;
typedef enum cmp_op { OP_EQ, OP_NE, OP_LT, OP_GT, OP_LE, OP_GE, OP_IS_NULL, OP_IS_TRUE,
                      OP_IS_FALSE, OP_NOT_EXISTS, OP_EXISTS } cmp_op;

typedef struct step {
    char *key; /* object member, or NULL for an array index */
    long index;
} step;

typedef struct node {
    node_kind kind;
    struct node *a, *b; /* N_AND, N_OR */
    /* N_CMP */
    step *path;
    size_t n_path;
    cmp_op op;
    bool is_num;
    double num;
    char *str; /* string value (may contain '*' wildcards) */
} node;

struct sky__pattern {
    bool match_all;
    term *terms;
    size_t n_terms;
    bool has_any;
    node *json;
    size_t json_cmps; /* comparisons in the JSON pattern */
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
    free(p);
}

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
            t.kind = T_ANY;
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
        if (t.kind == T_ANY)
            p->has_any = true;
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

static bool parse_selector(lexer *lx, node *nd)
{
    skip_ws(lx);
    if (*lx->s != '$') {
        lx->why = "JSON pattern terms start with a $ selector";
        return false;
    }
    lx->s++;
    for (;;) {
        step st = {NULL, 0};
        if (*lx->s == '.') {
            lx->s++;
            const char *start = lx->s;
            while (key_char(*lx->s))
                lx->s++;
            if (lx->s == start) {
                lx->why = "empty key in selector";
                return false;
            }
            st.key = strndup(start, (size_t)(lx->s - start));
            if (!st.key) {
                lx->why = "out of memory";
                return false;
            }
        } else if (*lx->s == '[') {
            char *end;
            st.index = strtol(lx->s + 1, &end, 10);
            if (end == lx->s + 1 || *end != ']' || st.index < 0) {
                lx->why = "bad array index in selector";
                return false;
            }
            lx->s = end + 1;
        } else {
            break;
        }
        step *np = realloc(nd->path, (nd->n_path + 1) * sizeof *np);
        if (!np) {
            free(st.key);
            lx->why = "out of memory";
            return false;
        }
        nd->path = np;
        nd->path[nd->n_path++] = st;
    }
    if (nd->n_path == 0) {
        lx->why = "selector needs a field ($.name)";
        return false;
    }
    return true;
}

static bool parse_value(lexer *lx, node *nd)
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
    const char *start = lx->s;
    while (*lx->s && !isspace((unsigned char)*lx->s) && !strchr(")&|}", *lx->s))
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

static node *parse_cmp(lexer *lx)
{
    if (++lx->terms > SKY__PATTERN_MAX_TERMS) {
        lx->why = "too many comparisons (at most 256)";
        return NULL;
    }
    node *nd = calloc(1, sizeof *nd);
    if (!nd) {
        lx->why = "out of memory";
        return NULL;
    }
    nd->kind = N_CMP;
    if (!parse_selector(lx, nd))
        goto fail;
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
        lx->why = "expected an operator (=, !=, <, >, <=, >=, IS, NOT EXISTS)";
        goto fail;
    }
    if (!parse_value(lx, nd))
        goto fail;
    if (nd->op != OP_EQ && nd->op != OP_NE && !nd->is_num) {
        lx->why = "<, >, <= and >= need a number";
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

static json_t *select_path(json_t *root, const node *nd)
{
    json_t *cur = root;
    for (size_t i = 0; i < nd->n_path && cur; i++) {
        if (nd->path[i].key)
            cur = json_is_object(cur) ? json_object_get(cur, nd->path[i].key) : NULL;
        else
            cur = json_is_array(cur) ? json_array_get(cur, (size_t)nd->path[i].index) : NULL;
    }
    return cur;
}

static bool eval_cmp(const node *nd, json_t *root)
{
    json_t *v = select_path(root, nd);
    switch (nd->op) {
    case OP_NOT_EXISTS: return v == NULL;
    case OP_EXISTS: return v != NULL;
    case OP_IS_NULL: return v && json_is_null(v);
    case OP_IS_TRUE: return v && json_is_true(v);
    case OP_IS_FALSE: return v && json_is_false(v);
    default: break;
    }
    if (!v)
        return false;
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
    bool eq = glob_match(nd->str, text, len);
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

/* ---- public ------------------------------------------------------------------------------- */

sky__pattern *sky__pattern_compile(const char *text, const char **why)
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
    if (text[0] == '[') {
        *why = "space-delimited patterns ([...]) are not supported by skylog serve";
        goto fail;
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
        lexer lx = {.s = inner};
        p->json = parse_or(&lx);
        p->json_cmps = lx.terms;
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

size_t sky__pattern_cost(const sky__pattern *p)
{
    return 1 + (p->json ? p->json_cmps : p->n_terms);
}

bool sky__pattern_is_json(const sky__pattern *p) { return p->json != NULL; }

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
    if (!parse_selector(&lx, &sel->nd) || (skip_ws(&lx), *lx.s)) {
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
    if (p->json)
        return root && json_is_object(root) && eval(p->json, root);
    return sky__pattern_match(p, msg, len);
}

bool sky__pattern_match(const sky__pattern *p, const char *msg, size_t len)
{
    if (p->match_all)
        return true;
    if (p->json) {
        const char *why;
        json_t *root = sky__json_load(msg, len, &why); /* bounded: messages are client data */
        bool ok = root && json_is_object(root) && eval(p->json, root);
        json_decref(root);
        return ok;
    }
    bool any = false;
    for (size_t i = 0; i < p->n_terms; i++) {
        const term *t = &p->terms[i];
        bool has = contains(msg, len, t);
        if (t->kind == T_MUST && !has)
            return false;
        if (t->kind == T_NOT && has)
            return false;
        if (t->kind == T_ANY && has)
            any = true;
    }
    return !p->has_any || any;
}
