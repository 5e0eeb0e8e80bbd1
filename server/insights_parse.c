/*
 * insights_parse.c - the Logs Insights query language (the subset in insights.h) parsed into
 * the program of insights_prog.h, with AWS's MalformedQueryException text for anything else.
 *
 * A hand-written recursive descent over a tokenizer that works on the query text in place.
 * Only boolean expressions recurse (parentheses and `not`), and a depth counter stops them at
 * SKY__INS_MAX_DEPTH; every list (commands, items, `in` values, fields) has a fixed maximum
 * checked before it grows, and the whole text is at most SKY__INS_MAX_QUERY characters, so a
 * query can neither exhaust the stack nor make the parser allocate more than a few times its
 * own size. Regular expressions are PCRE2 (close to the Java regexes AWS runs), compiled with
 * a length limit and matched later with match and depth limits (insights_exec.c).
 *
 * Errors name a position the way AWS does: "unexpected symbol found X at line L and position
 * P" with a 1-based line and the 0-based column in it; queryCompileError gets the absolute
 * offsets. Commands and functions that exist in Insights but not here say so in the same form,
 * so a user can tell "not supported by skylog serve" from a typo.
 */
#include "insights_prog.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum { T_EOF, T_IDENT, T_STR, T_REGEX, T_NUM, T_PIPE, T_COMMA, T_LP, T_RP, T_LB, T_RB,
               T_OP, T_STAR, T_BANG, T_BAD } tok_kind;

typedef struct tok {
    tok_kind kind;
    int pos, len;     /* in the query text */
    char *text;       /* T_IDENT, T_STR, T_REGEX: the value (unescaped); T_NUM, T_OP: as written */
    size_t text_len;
    double num;
    char unit[8];     /* T_NUM: letters right after the digits ("5m") */
    bool quoted;      /* T_IDENT in backticks */
} tok;

typedef struct parser {
    const char *q;
    int n;
    int at;           /* next unread character */
    tok t;            /* the current token */
    sky__ins_query *prog;
    sky__ins_error *err;
    bool failed;
    int depth;
    bool defined[SKY__INS_MAX_SYMS]; /* set by an earlier command */
    bool after_stats;
} parser;

static const char *const builtin_names[SKY__INS_NBUILTIN] = {"@timestamp", "@message",
                                                             "@logStream", "@log", "@ptr"};

/* ---- errors ------------------------------------------------------------------------------ */

static void fail_at(parser *p, int pos, int len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail_at(parser *p, int pos, int len, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = true;
    int line = 1, col = 0;
    for (int i = 0; i < pos && i < p->n; i++) {
        if (p->q[i] == '\n') {
            line++;
            col = 0;
        } else {
            col++;
        }
    }
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(p->err->message, sizeof p->err->message, "%s at line %d and position %d", what, line,
             col);
    p->err->start = pos;
    p->err->end = pos + (len > 0 ? len : 1) - 1;
}

/* "unexpected symbol found X": X is the token as written, cut to 40 characters. */
static void unexpected(parser *p)
{
    if (p->t.kind == T_EOF) {
        fail_at(p, p->n, 0, "unexpected end of query");
        return;
    }
    int len = p->t.len > 40 ? 40 : p->t.len;
    fail_at(p, p->t.pos, p->t.len, "unexpected symbol found %.*s", len, p->q + p->t.pos);
}

static void unsupported(parser *p, const char *what)
{
    fail_at(p, p->t.pos, p->t.len, "%s is not supported by skylog serve", what);
}

/* ---- tokens ------------------------------------------------------------------------------ */

static bool ident_start(int c) { return isalpha(c) || c == '_' || c == '@' || c == '$'; }
static bool ident_char(int c) { return isalnum(c) || c == '_' || c == '@' || c == '$' || c == '.'; }

static void tok_clear(tok *t)
{
    free(t->text);
    memset(t, 0, sizeof *t);
}

/* Reads a quoted run (string, regex, backticked name) ending at `close`, backslash escapes
 * undone (a regex keeps them, except for its own delimiter). False when it is not closed. */
static bool read_quoted(parser *p, char close, bool keep_escapes, tok *t)
{
    int i = p->at + 1;
    char *out = malloc((size_t)(p->n - p->at) + 1);
    size_t k = 0;
    if (!out)
        return false;
    while (i < p->n && p->q[i] != close) {
        char c = p->q[i];
        if (c == '\\' && i + 1 < p->n) {
            char e = p->q[i + 1];
            if (keep_escapes && e != close)
                out[k++] = c;
            else if (!keep_escapes)
                e = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
            out[k++] = e;
            i += 2;
            continue;
        }
        out[k++] = c;
        i++;
    }
    if (i >= p->n || memchr(out, '\0', k)) { /* also an escaped NUL */
        free(out);
        return false;
    }
    out[k] = '\0';
    t->text = out;
    t->text_len = k;
    t->len = i + 1 - p->at;
    p->at = i + 1;
    return true;
}

static void next(parser *p)
{
    tok_clear(&p->t);
    for (;;) { /* blanks and # comments */
        while (p->at < p->n && isspace((unsigned char)p->q[p->at]))
            p->at++;
        if (p->at < p->n && p->q[p->at] == '#') {
            while (p->at < p->n && p->q[p->at] != '\n')
                p->at++;
            continue;
        }
        break;
    }
    tok *t = &p->t;
    t->pos = p->at;
    if (p->at >= p->n) {
        t->kind = T_EOF;
        return;
    }
    const char *s = p->q + p->at;
    int c = (unsigned char)s[0];
    int rest = p->n - p->at;
    t->len = 1;
    if (c == '"' || c == '\'' || c == '`' || c == '/') {
        t->kind = c == '`' ? T_IDENT : c == '/' ? T_REGEX : T_STR;
        t->quoted = c == '`';
        if (!read_quoted(p, (char)c, c == '/', t)) {
            t->kind = T_BAD;
            t->len = rest;
            fail_at(p, t->pos, 1, "unexpected symbol found %c", c);
        }
        return;
    }
    if (isdigit(c) || (c == '-' && rest > 1 && (isdigit((unsigned char)s[1]) || s[1] == '.')) ||
        (c == '.' && rest > 1 && isdigit((unsigned char)s[1]))) {
        int i = c == '-' ? 1 : 0;
        while (i < rest && (isdigit((unsigned char)s[i]) || s[i] == '.'))
            i++;
        if (i < rest && (s[i] == 'e' || s[i] == 'E') && i + 1 < rest &&
            (isdigit((unsigned char)s[i + 1]) ||
             ((s[i + 1] == '-' || s[i + 1] == '+') && i + 2 < rest &&
              isdigit((unsigned char)s[i + 2])))) {
            i += 2;
            while (i < rest && isdigit((unsigned char)s[i]))
                i++;
        }
        int digits = i;
        while (i < rest && isalpha((unsigned char)s[i]) && i - digits < 7)
            i++;
        t->kind = T_NUM;
        t->len = i;
        memcpy(t->unit, s + digits, (size_t)(i - digits));
        char buf[64];
        if (digits >= (int)sizeof buf) {
            t->kind = T_BAD;
            fail_at(p, t->pos, t->len, "unexpected symbol found %.*s", 40, s);
        } else {
            memcpy(buf, s, (size_t)digits);
            buf[digits] = '\0';
            char *end;
            errno = 0;
            t->num = strtod(buf, &end);
            if (*end || !isfinite(t->num))
                t->kind = T_BAD;
        }
        t->text = strndup(s, (size_t)t->len);
        t->text_len = t->text ? (size_t)t->len : 0;
        p->at += t->len;
        if (t->kind == T_BAD)
            unexpected(p);
        return;
    }
    if (ident_start(c)) {
        int i = 1;
        while (i < rest && ident_char((unsigned char)s[i]))
            i++;
        t->kind = T_IDENT;
        t->len = i;
        t->text = strndup(s, (size_t)i);
        t->text_len = (size_t)i;
        p->at += i;
        return;
    }
    p->at++;
    switch (c) {
    case '|': t->kind = T_PIPE; return;
    case ',': t->kind = T_COMMA; return;
    case '(': t->kind = T_LP; return;
    case ')': t->kind = T_RP; return;
    case '[': t->kind = T_LB; return;
    case ']': t->kind = T_RB; return;
    case '*': t->kind = T_STAR; return;
    case '=':
    case '!':
    case '<':
    case '>':
        if (rest > 1 && (s[1] == '=' || (c == '=' && s[1] == '~') || (c == '!' && s[1] == '~'))) {
            t->len = 2;
            p->at++;
        } else if (c == '!') {
            t->kind = T_BANG;
            return;
        }
        t->kind = T_OP;
        t->text = strndup(s, (size_t)t->len);
        t->text_len = (size_t)t->len;
        return;
    default:
        t->kind = T_BAD;
        /* a whole UTF-8 character, so the message quotes it intact */
        while (p->at < p->n && ((unsigned char)p->q[p->at] & 0xc0) == 0x80)
            p->at++;
        t->len = p->at - t->pos;
        unexpected(p);
        return;
    }
}

static bool is_word(const parser *p, const char *w)
{
    return p->t.kind == T_IDENT && !p->t.quoted && strcasecmp(p->t.text, w) == 0;
}

static bool accept(parser *p, tok_kind k)
{
    if (p->failed || p->t.kind != k)
        return false;
    next(p);
    return true;
}

static bool expect(parser *p, tok_kind k)
{
    if (accept(p, k))
        return true;
    unexpected(p);
    return false;
}

static bool accept_word(parser *p, const char *w)
{
    if (p->failed || !is_word(p, w))
        return false;
    next(p);
    return true;
}

/* ---- symbols ----------------------------------------------------------------------------- */

static int intern(parser *p, const char *name, size_t len, int pos)
{
    sky__ins_query *q = p->prog;
    for (size_t i = 0; i < q->n_syms; i++)
        if (strlen(q->names[i]) == len && memcmp(q->names[i], name, len) == 0)
            return (int)i;
    if (q->n_syms == SKY__INS_MAX_SYMS) {
        fail_at(p, pos, (int)len, "too many fields (at most %d)", SKY__INS_MAX_SYMS);
        return -1;
    }
    char *copy = strndup(name, len);
    if (!copy) {
        fail_at(p, pos, (int)len, "out of memory");
        return -1;
    }
    q->names[q->n_syms] = copy;
    return (int)q->n_syms++;
}

/* A field read by a command: one not set by an earlier command comes from the event (its JSON
 * when it is not a built-in). */
static void use_sym(parser *p, int sym)
{
    if (sym < 0)
        return;
    if (sym == SKY__INS_MSG)
        p->prog->needs_message = true;
    if (sym >= SKY__INS_NBUILTIN && !p->defined[sym] && !p->after_stats) {
        p->prog->from_json[sym] = true;
        p->prog->needs_message = true;
    }
}

static void define_sym(parser *p, int sym)
{
    if (sym >= 0)
        p->defined[sym] = true;
}

/* A field name (identifier or `quoted`); -1 after an error. Words that start a function call
 * are refused here: the subset has none outside stats. */
static int field(parser *p, bool read)
{
    if (p->failed)
        return -1;
    if (p->t.kind != T_IDENT) {
        unexpected(p);
        return -1;
    }
    if (!p->t.quoted && p->at < p->n && p->q[p->at] == '(') {
        char what[80];
        snprintf(what, sizeof what, "the function %.40s()", p->t.text);
        unsupported(p, what);
        return -1;
    }
    int sym = intern(p, p->t.text, p->t.text_len, p->t.pos);
    if (sym >= 0 && read)
        use_sym(p, sym);
    next(p);
    return sym;
}

/* `as NAME` after an item: the name's symbol, or `dflt` without one. */
static int alias(parser *p, int dflt)
{
    if (!accept_word(p, "as"))
        return dflt;
    return field(p, false);
}

/* ---- filter expressions ------------------------------------------------------------------ */

static void expr_free(ins_expr *e);

static void operand_free(ins_operand *o) { free(o->s); }

static ins_expr *expr_new(parser *p, ins_x_kind kind)
{
    ins_expr *e = calloc(1, sizeof *e);
    if (!e)
        fail_at(p, p->t.pos, p->t.len, "out of memory");
    else
        e->kind = kind;
    return e;
}

static void expr_free(ins_expr *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->n_kids; i++)
        expr_free(e->kids[i]);
    free(e->kids);
    operand_free(&e->l);
    operand_free(&e->r);
    for (size_t i = 0; i < e->n_list; i++)
        operand_free(&e->list[i]);
    free(e->list);
    if (e->re)
        pcre2_code_free(e->re);
    free(e);
}

/* A literal (string or number); false after an error. */
static bool literal(parser *p, ins_operand *o)
{
    if (p->failed)
        return false;
    if (p->t.kind == T_STR || (p->t.kind == T_NUM && !p->t.unit[0])) {
        o->kind = p->t.kind == T_STR ? OPD_STR : OPD_NUM;
        o->s = p->t.text;
        o->len = p->t.text_len;
        o->num = p->t.num;
        p->t.text = NULL;
        next(p);
        return true;
    }
    unexpected(p);
    return false;
}

static bool operand(parser *p, ins_operand *o)
{
    if (p->t.kind == T_IDENT) {
        o->kind = OPD_FIELD;
        o->sym = field(p, true);
        return o->sym >= 0;
    }
    return literal(p, o);
}

/* Compiles a regex token; NULL after an error naming its position. */
static pcre2_code *regex(parser *p)
{
    if (p->t.kind != T_REGEX) {
        unexpected(p);
        return NULL;
    }
    int ec;
    PCRE2_SIZE eo;
    pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
    if (cc) /* PCRE2's own limit on nested parentheses, far below the stack */
        pcre2_set_parens_nest_limit(cc, 64);
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)p->t.text, p->t.text_len,
                                   PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &ec, &eo, cc);
    pcre2_compile_context_free(cc);
    if (!re) {
        PCRE2_UCHAR msg[120];
        pcre2_get_error_message(ec, msg, sizeof msg);
        fail_at(p, p->t.pos + 1 + (int)eo, 1, "invalid regular expression: %s", (char *)msg);
        return NULL;
    }
    next(p);
    return re;
}

static ins_expr *bool_or(parser *p);

static ins_expr *primary(parser *p)
{
    if (p->failed)
        return NULL;
    if (p->t.kind == T_LP) {
        if (++p->depth > SKY__INS_MAX_DEPTH) {
            fail_at(p, p->t.pos, 1, "expression nested too deeply (at most %d levels)",
                    SKY__INS_MAX_DEPTH);
            return NULL;
        }
        next(p);
        ins_expr *e = bool_or(p);
        p->depth--;
        if (!expect(p, T_RP)) {
            expr_free(e);
            return NULL;
        }
        return e;
    }
    if ((is_word(p, "ispresent") || is_word(p, "isempty")) && p->at < p->n &&
        p->q[p->at] == '(') {
        ins_expr *e = expr_new(p, is_word(p, "ispresent") ? X_PRESENT : X_ISEMPTY);
        next(p);
        next(p);
        if (e) {
            e->l.kind = OPD_FIELD;
            e->l.sym = field(p, true);
        }
        if (!expect(p, T_RP)) {
            expr_free(e);
            return NULL;
        }
        return e;
    }
    ins_expr *e = expr_new(p, X_CMP);
    if (!e || !operand(p, &e->l))
        goto bad;
    bool negate = accept_word(p, "not");
    if (accept_word(p, "like")) {
        e->negate = negate;
        if (p->t.kind == T_REGEX) {
            e->kind = X_REGEX;
            e->re = regex(p);
        } else if (p->t.kind == T_STR) {
            e->kind = X_LIKE;
            literal(p, &e->r);
        } else {
            unexpected(p);
        }
    } else if (accept_word(p, "in")) {
        e->kind = X_IN;
        e->negate = negate;
        if (!expect(p, T_LB))
            goto bad;
        e->list = calloc(SKY__INS_MAX_ITEMS, sizeof *e->list);
        if (!e->list) {
            fail_at(p, p->t.pos, 1, "out of memory");
            goto bad;
        }
        do {
            if (e->n_list == SKY__INS_MAX_ITEMS) {
                fail_at(p, p->t.pos, p->t.len, "too many values in the list (at most %d)",
                        SKY__INS_MAX_ITEMS);
                goto bad;
            }
            if (!literal(p, &e->list[e->n_list]))
                goto bad;
            e->n_list++;
        } while (accept(p, T_COMMA));
        expect(p, T_RB);
    } else if (negate) {
        unexpected(p);
    } else if (p->t.kind == T_OP && (strcmp(p->t.text, "=~") == 0 || strcmp(p->t.text, "!~") == 0)) {
        e->kind = X_REGEX;
        e->negate = p->t.text[0] == '!';
        next(p);
        e->re = regex(p);
    } else if (p->t.kind == T_OP) {
        static const struct { const char *op; ins_cmp cmp; } ops[] = {
            {"=", CMP_EQ}, {"==", CMP_EQ}, {"!=", CMP_NE}, {"<", CMP_LT},
            {"<=", CMP_LE}, {">", CMP_GT}, {">=", CMP_GE},
        };
        size_t k = 0;
        while (k < sizeof ops / sizeof ops[0] && strcmp(ops[k].op, p->t.text) != 0)
            k++;
        if (k == sizeof ops / sizeof ops[0]) {
            unexpected(p);
            goto bad;
        }
        e->cmp = ops[k].cmp;
        next(p);
        operand(p, &e->r);
    } else {
        unexpected(p);
    }
    if (p->failed)
        goto bad;
    return e;
bad:
    expr_free(e);
    return NULL;
}

static ins_expr *unary(parser *p)
{
    if (p->failed)
        return NULL;
    if (is_word(p, "not") || p->t.kind == T_BANG) {
        if (++p->depth > SKY__INS_MAX_DEPTH) {
            fail_at(p, p->t.pos, p->t.len, "expression nested too deeply (at most %d levels)",
                    SKY__INS_MAX_DEPTH);
            return NULL;
        }
        next(p);
        ins_expr *e = expr_new(p, X_NOT);
        ins_expr *kid = unary(p);
        p->depth--;
        if (!e || !kid || !(e->kids = malloc(sizeof *e->kids))) {
            expr_free(kid);
            expr_free(e);
            return NULL;
        }
        e->kids[0] = kid;
        e->n_kids = 1;
        return e;
    }
    return primary(p);
}

/* An n-ary `and` or `or` of what `sub` parses. */
static ins_expr *chain(parser *p, const char *word, ins_x_kind kind, ins_expr *(*sub)(parser *))
{
    ins_expr *first = sub(p);
    if (!first || !is_word(p, word))
        return first;
    ins_expr *e = expr_new(p, kind);
    size_t cap = 4;
    if (e && !(e->kids = malloc(cap * sizeof *e->kids)))
        fail_at(p, p->t.pos, p->t.len, "out of memory");
    if (p->failed) {
        expr_free(first);
        expr_free(e);
        return NULL;
    }
    e->kids[e->n_kids++] = first;
    while (accept_word(p, word)) {
        ins_expr *k = sub(p);
        if (!k)
            break;
        if (e->n_kids == cap) {
            cap *= 2;
            ins_expr **nk = realloc(e->kids, cap * sizeof *nk);
            if (!nk) {
                expr_free(k);
                fail_at(p, p->t.pos, p->t.len, "out of memory");
                break;
            }
            e->kids = nk;
        }
        e->kids[e->n_kids++] = k;
    }
    if (p->failed) {
        expr_free(e);
        return NULL;
    }
    return e;
}

static ins_expr *bool_and(parser *p) { return chain(p, "and", X_AND, unary); }
static ins_expr *bool_or(parser *p) { return chain(p, "or", X_OR, bool_and); }

/* ---- commands ---------------------------------------------------------------------------- */

static void *items_alloc(parser *p, size_t size)
{
    void *a = calloc(SKY__INS_MAX_ITEMS, size);
    if (!a)
        fail_at(p, p->t.pos, p->t.len, "out of memory");
    return a;
}

static bool room(parser *p, size_t n)
{
    if (n < SKY__INS_MAX_ITEMS)
        return true;
    fail_at(p, p->t.pos, p->t.len, "too many items (at most %d)", SKY__INS_MAX_ITEMS);
    return false;
}

/* fields / display / dedup / sort: a list of fields. */
static void field_list(parser *p, ins_cmd *c, bool aliases, bool sort)
{
    if (!(c->items = items_alloc(p, sizeof *c->items)))
        return;
    do {
        if (!room(p, c->n_items))
            return;
        ins_item *it = &c->items[c->n_items];
        it->src = field(p, true);
        it->out = aliases ? alias(p, it->src) : it->src;
        if (sort) {
            if (accept_word(p, "desc"))
                it->desc = true;
            else
                accept_word(p, "asc");
        }
        if (p->failed)
            return;
        define_sym(p, it->out);
        c->n_items++;
    } while (accept(p, T_COMMA));
}

/* "5m" and friends: the period in ms, 0 when not a duration. */
static int64_t duration_ms(const tok *t)
{
    static const struct { const char *unit; int64_t ms; } units[] = {
        {"ms", 1},           {"s", 1000},         {"sec", 1000},       {"m", 60000},
        {"min", 60000},      {"h", 3600000},      {"hr", 3600000},     {"d", 86400000},
        {"day", 86400000},   {"w", 604800000},    {"week", 604800000},
    };
    if (t->kind != T_NUM || t->num <= 0 || t->num > 1e6 || t->num != floor(t->num))
        return 0;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(t->unit, units[i].unit) == 0)
            return (int64_t)t->num * units[i].ms;
    return 0;
}

static void stats(parser *p, ins_cmd *c)
{
    static const struct { const char *name; ins_agg_fn fn; } fns[] = {
        {"count", AGG_COUNT},  {"sum", AGG_SUM},  {"avg", AGG_AVG},
        {"min", AGG_MIN},      {"max", AGG_MAX},  {"pct", AGG_PCT},
        {"count_distinct", AGG_COUNT_DISTINCT},   {"percentile", AGG_PCT},
    };
    if (!(c->aggs = items_alloc(p, sizeof *c->aggs)) || !(c->by = items_alloc(p, sizeof *c->by)))
        return;
    int outs[SKY__INS_MAX_ITEMS * 2];
    size_t n_out = 0;
    do {
        if (!room(p, c->n_aggs))
            return;
        ins_agg *a = &c->aggs[c->n_aggs];
        int start = p->t.pos;
        if (p->t.kind != T_IDENT || p->t.quoted) {
            unexpected(p);
            return;
        }
        size_t k = 0;
        while (k < sizeof fns / sizeof fns[0] && strcasecmp(fns[k].name, p->t.text) != 0)
            k++;
        if (k == sizeof fns / sizeof fns[0]) {
            char what[80];
            snprintf(what, sizeof what, "the aggregation %.40s()", p->t.text);
            if (p->at < p->n && p->q[p->at] == '(')
                unsupported(p, what);
            else
                unexpected(p);
            return;
        }
        a->fn = fns[k].fn;
        a->arg = -1;
        next(p);
        if (!expect(p, T_LP))
            return;
        if (a->fn == AGG_COUNT && (p->t.kind == T_RP || p->t.kind == T_STAR)) {
            a->fn = AGG_COUNT_ALL;
            accept(p, T_STAR);
        } else {
            a->arg = field(p, true);
            if (a->fn == AGG_PCT && !p->failed) {
                if (!expect(p, T_COMMA))
                    return;
                if (p->t.kind != T_NUM || p->t.unit[0] || p->t.num < 0 || p->t.num > 100) {
                    unexpected(p);
                    return;
                }
                a->pct = p->t.num;
                next(p);
            }
        }
        int end = p->t.pos + 1;
        if (!expect(p, T_RP))
            return;
        int dflt = intern(p, p->q + start, (size_t)(end - start), start);
        a->out = alias(p, dflt);
        if (p->failed)
            return;
        outs[n_out++] = a->out;
        c->n_aggs++;
    } while (accept(p, T_COMMA));
    if (accept_word(p, "by")) {
        do {
            if (!room(p, c->n_by))
                return;
            ins_by *b = &c->by[c->n_by];
            if (is_word(p, "bin") && p->at < p->n && p->q[p->at] == '(') {
                int start = p->t.pos;
                next(p);
                next(p);
                b->src = -1;
                b->bin_ms = duration_ms(&p->t);
                if (!b->bin_ms) {
                    if (p->t.kind == T_NUM)
                        fail_at(p, p->t.pos, p->t.len,
                                "unexpected symbol found %.*s: bin() takes a period such as 5m "
                                "(units ms, s, m, h, d, w)",
                                p->t.len > 40 ? 40 : p->t.len, p->q + p->t.pos);
                    else
                        unexpected(p);
                    return;
                }
                next(p);
                int end = p->t.pos + 1;
                if (!expect(p, T_RP))
                    return;
                b->out = alias(p, intern(p, p->q + start, (size_t)(end - start), start));
            } else {
                b->src = field(p, true);
                b->out = alias(p, b->src);
            }
            if (p->failed)
                return;
            outs[n_out++] = b->out;
            c->n_by++;
        } while (accept(p, T_COMMA));
    }
    for (size_t i = 0; i < n_out; i++)
        define_sym(p, outs[i]);
}

/* parse FIELD "glob with * as" a, b | parse FIELD /(?<a>...)/ */
static void parse_cmd(parser *p, ins_cmd *c)
{
    c->parse_src = SKY__INS_MSG;
    if (p->t.kind == T_IDENT)
        c->parse_src = field(p, true);
    use_sym(p, c->parse_src);
    if (p->failed)
        return;
    if (!(c->outs = items_alloc(p, sizeof *c->outs)))
        return;
    if (p->t.kind == T_STR) {
        tok g = p->t;
        int stars = 0;
        for (size_t i = 0; i < g.text_len; i++)
            stars += g.text[i] == '*';
        if (stars == 0 || stars > SKY__INS_MAX_ITEMS - 1) {
            fail_at(p, g.pos, g.len, "the parse pattern needs 1 to %d '*'",
                    SKY__INS_MAX_ITEMS - 1);
            return;
        }
        if (!(c->glob = calloc((size_t)stars + 1, sizeof *c->glob))) {
            fail_at(p, g.pos, g.len, "out of memory");
            return;
        }
        c->n_glob = (size_t)stars + 1;
        const char *s = g.text;
        for (int i = 0; i <= stars; i++) {
            const char *e = i < stars ? strchr(s, '*') : s + strlen(s);
            if (!(c->glob[i] = strndup(s, (size_t)(e - s)))) {
                fail_at(p, g.pos, g.len, "out of memory");
                return;
            }
            s = e + 1;
        }
        int gpos = g.pos, glen = g.len;
        next(p);
        if (!accept_word(p, "as")) {
            unexpected(p);
            return;
        }
        do {
            if (!room(p, c->n_outs))
                return;
            c->outs[c->n_outs++] = field(p, false);
        } while (!p->failed && accept(p, T_COMMA));
        if (!p->failed && (int)c->n_outs != stars)
            fail_at(p, gpos, glen, "the parse pattern has %d '*' but %zu names follow 'as'",
                    stars, c->n_outs);
    } else if (p->t.kind == T_REGEX) {
        int rpos = p->t.pos, rlen = p->t.len;
        if (!(c->re = regex(p)))
            return;
        uint32_t count = 0, size = 0;
        PCRE2_SPTR table;
        pcre2_pattern_info(c->re, PCRE2_INFO_NAMECOUNT, &count);
        pcre2_pattern_info(c->re, PCRE2_INFO_NAMEENTRYSIZE, &size);
        pcre2_pattern_info(c->re, PCRE2_INFO_NAMETABLE, &table);
        if (count == 0 || count >= SKY__INS_MAX_ITEMS) {
            fail_at(p, rpos, rlen, "the parse regular expression needs 1 to %d named groups "
                    "(?<name>...)", SKY__INS_MAX_ITEMS - 1);
            return;
        }
        if (!(c->groups = calloc(count, sizeof *c->groups))) {
            fail_at(p, rpos, rlen, "out of memory");
            return;
        }
        for (uint32_t i = 0; i < count; i++) {
            PCRE2_SPTR e = table + (size_t)i * size;
            c->groups[i] = ((uint32_t)e[0] << 8) | e[1];
            const char *name = (const char *)e + 2;
            c->outs[c->n_outs++] = intern(p, name, strlen(name), rpos);
        }
    } else {
        unexpected(p);
        return;
    }
    for (size_t i = 0; i < c->n_outs; i++)
        define_sym(p, c->outs[i]);
}

static void command(parser *p)
{
    sky__ins_query *q = p->prog;
    static const struct { const char *word; ins_cmd_kind kind; } cmds[] = {
        {"fields", CMD_FIELDS}, {"filter", CMD_FILTER}, {"stats", CMD_STATS},
        {"sort", CMD_SORT},     {"limit", CMD_LIMIT},   {"display", CMD_DISPLAY},
        {"parse", CMD_PARSE},   {"dedup", CMD_DEDUP},
    };
    static const char *const other[] = {"unmask", "unnest", "pattern", "diff", "anomaly",
                                        "lookup", "filterIndex", "SOURCE", "join"};
    if (p->t.kind != T_IDENT || p->t.quoted) {
        unexpected(p);
        return;
    }
    size_t k = 0;
    while (k < sizeof cmds / sizeof cmds[0] && strcasecmp(cmds[k].word, p->t.text) != 0)
        k++;
    if (k == sizeof cmds / sizeof cmds[0]) {
        for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
            if (strcasecmp(other[i], p->t.text) == 0) {
                char what[64];
                snprintf(what, sizeof what, "the %s command", other[i]);
                unsupported(p, what);
                return;
            }
        unexpected(p);
        return;
    }
    if (q->n_cmds == SKY__INS_MAX_CMDS) {
        fail_at(p, p->t.pos, p->t.len, "too many commands (at most %d)", SKY__INS_MAX_CMDS);
        return;
    }
    ins_cmd *c = &q->cmds[q->n_cmds++];
    c->kind = cmds[k].kind;
    c->pos = p->t.pos;
    next(p);
    switch (c->kind) {
    case CMD_FIELDS: field_list(p, c, true, false); break;
    case CMD_DISPLAY: field_list(p, c, false, false); break;
    case CMD_DEDUP: field_list(p, c, false, false); break;
    case CMD_SORT: field_list(p, c, false, true); break;
    case CMD_FILTER: c->filter = bool_or(p); break;
    case CMD_PARSE: parse_cmd(p, c); break;
    case CMD_LIMIT:
        if (p->t.kind != T_NUM || p->t.unit[0] || p->t.num != floor(p->t.num) || p->t.num < 1 ||
            p->t.num > SKY__INS_MAX_RESULTS) {
            if (p->t.kind == T_NUM)
                fail_at(p, p->t.pos, p->t.len, "limit must be an integer from 1 to %d",
                        SKY__INS_MAX_RESULTS);
            else
                unexpected(p);
            return;
        }
        c->limit = (int64_t)p->t.num;
        next(p);
        break;
    case CMD_STATS:
        if (q->stats_at >= 0) {
            fail_at(p, c->pos, 5, "a second stats command is not supported by skylog serve");
            return;
        }
        q->stats_at = (int)(q->n_cmds - 1);
        stats(p, c);
        p->after_stats = true;
        break;
    }
}

static void cmd_free(ins_cmd *c)
{
    expr_free(c->filter);
    free(c->items);
    free(c->aggs);
    free(c->by);
    for (size_t i = 0; i < c->n_glob; i++)
        free(c->glob[i]);
    free(c->glob);
    if (c->re)
        pcre2_code_free(c->re);
    free(c->outs);
    free(c->groups);
}

void sky__ins_free(sky__ins_query *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->n_cmds; i++)
        cmd_free(&q->cmds[i]);
    for (size_t i = 0; i < q->n_syms; i++)
        free(q->names[i]);
    free(q);
}

bool sky__ins_is_stats(const sky__ins_query *q) { return q->stats_at >= 0; }

sky__ins_query *sky__ins_parse(const char *text, size_t n, sky__ins_error *err)
{
    memset(err, 0, sizeof *err);
    parser p = {.q = text, .n = (int)(n > SKY__INS_MAX_QUERY ? SKY__INS_MAX_QUERY : n), .err = err};
    if (n > SKY__INS_MAX_QUERY) {
        p.failed = true;
        snprintf(err->message, sizeof err->message,
                 "query is %zu characters long: at most %d are allowed", n, SKY__INS_MAX_QUERY);
        err->start = SKY__INS_MAX_QUERY;
        err->end = (int)(n > (size_t)INT32_MAX ? INT32_MAX : n) - 1;
        return NULL;
    }
    sky__ins_query *q = calloc(1, sizeof *q);
    if (!q) {
        snprintf(err->message, sizeof err->message, "out of memory");
        return NULL;
    }
    q->stats_at = -1;
    p.prog = q;
    for (int i = 0; i < SKY__INS_NBUILTIN; i++)
        intern(&p, builtin_names[i], strlen(builtin_names[i]), 0);
    next(&p);
    if (p.t.kind == T_EOF)
        fail_at(&p, 0, 0, "the query is empty");
    while (!p.failed) {
        command(&p);
        if (p.failed || p.t.kind == T_EOF)
            break;
        expect(&p, T_PIPE);
    }
    tok_clear(&p.t);
    bool shown = q->stats_at >= 0;
    for (size_t i = 0; i < q->n_cmds; i++)
        shown |= q->cmds[i].kind == CMD_FIELDS || q->cmds[i].kind == CMD_DISPLAY;
    if (!shown) /* the default fields are shown, @message among them */
        q->needs_message = true;
    if (p.failed) {
        sky__ins_free(q);
        return NULL;
    }
    return q;
}
