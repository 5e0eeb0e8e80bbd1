/*
 * alarm_rule.c - parses composite alarm rules into a postfix program (see alarm_rule.h).
 *
 * Recursive descent over a bounded depth (SKY__RULE_MAX_DEPTH), emitting instructions as each
 * construct completes: the program is at most one instruction per token, so its size is
 * bounded by the text's. Evaluation runs the program on a stack no deeper than the program.
 */
#include "alarm_rule.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum op_kind { I_REF, I_TRUE, I_FALSE, I_NOT, I_AND, I_OR } op_kind;

typedef struct instr {
    op_kind kind;
    int ref;   /* I_REF: index into refs */
    int state; /* I_REF: the state the function tests */
} instr;

struct sky__rule {
    instr *prog;
    size_t n, cap;
    char *refs[SKY__RULE_MAX_REFS];
    size_t n_refs;
};

typedef struct parser {
    const char *text, *s;
    sky__rule *r;
    int depth;
    char *why;
    size_t cap;
    bool failed;
} parser;

const char *sky__alarm_state_name(sky__alarm_state s)
{
    switch (s) {
    case SKY__STATE_OK: return "OK";
    case SKY__STATE_ALARM: return "ALARM";
    case SKY__STATE_INSUFFICIENT_DATA: return "INSUFFICIENT_DATA";
    }
    return "INSUFFICIENT_DATA";
}

int sky__alarm_state_parse(const char *s)
{
    if (!s)
        return -1;
    if (strcmp(s, "OK") == 0)
        return SKY__STATE_OK;
    if (strcmp(s, "ALARM") == 0)
        return SKY__STATE_ALARM;
    if (strcmp(s, "INSUFFICIENT_DATA") == 0)
        return SKY__STATE_INSUFFICIENT_DATA;
    return -1;
}

static bool fail(parser *p, const char *what)
{
    if (!p->failed)
        snprintf(p->why, p->cap, "%s at position %zu of the alarm rule", what,
                 (size_t)(p->s - p->text) + 1);
    p->failed = true;
    return false;
}

static void skip_ws(parser *p)
{
    while (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r')
        p->s++;
}

/* An upper-case word (keyword or function) at the cursor, not followed by a name character. */
static bool word(parser *p, const char *w)
{
    skip_ws(p);
    size_t n = strlen(w);
    if (strncmp(p->s, w, n) != 0)
        return false; /* only now is p->s[n] known to be inside the text */
    char after = p->s[n];
    if ((after >= 'A' && after <= 'Z') ||
        (after >= 'a' && after <= 'z') || (after >= '0' && after <= '9') || after == '_' ||
        after == '-')
        return false;
    p->s += n;
    return true;
}

static bool emit(parser *p, instr in)
{
    if (p->r->n == p->r->cap) {
        size_t cap = p->r->cap ? p->r->cap * 2 : 16;
        instr *np = realloc(p->r->prog, cap * sizeof *np);
        if (!np)
            return fail(p, "out of memory");
        p->r->prog = np;
        p->r->cap = cap;
    }
    p->r->prog[p->r->n++] = in;
    return true;
}

/* The name inside FUNC( ... ): quoted with \" and \\ escapes, or bare up to ')' or space. */
static bool name(parser *p, int *ref)
{
    skip_ws(p);
    char buf[256];
    size_t n = 0;
    if (*p->s == '"') {
        p->s++;
        while (*p->s && *p->s != '"') {
            if (*p->s == '\\' && (p->s[1] == '"' || p->s[1] == '\\'))
                p->s++;
            if (n == sizeof buf - 1)
                return fail(p, "alarm name longer than 255 characters");
            buf[n++] = *p->s++;
        }
        if (*p->s != '"')
            return fail(p, "unterminated quoted alarm name");
        p->s++;
    } else {
        while (*p->s && *p->s != ')' && *p->s != '(' && *p->s != ' ' && *p->s != '\t' &&
               *p->s != '\n' && *p->s != '\r' && *p->s != '"') {
            if (n == sizeof buf - 1)
                return fail(p, "alarm name longer than 255 characters");
            buf[n++] = *p->s++;
        }
    }
    buf[n] = '\0';
    if (n == 0)
        return fail(p, "expected an alarm name");
    for (size_t i = 0; i < p->r->n_refs; i++)
        if (strcmp(p->r->refs[i], buf) == 0) {
            *ref = (int)i;
            return true;
        }
    if (p->r->n_refs == SKY__RULE_MAX_REFS)
        return fail(p, "more than 100 alarms named");
    if (!(p->r->refs[p->r->n_refs] = strdup(buf)))
        return fail(p, "out of memory");
    *ref = (int)p->r->n_refs++;
    return true;
}

static bool parse_or(parser *p);

static bool parse_primary(parser *p)
{
    skip_ws(p);
    static const struct {
        const char *w;
        sky__alarm_state st;
    } funcs[] = {{"INSUFFICIENT_DATA", SKY__STATE_INSUFFICIENT_DATA},
                 {"ALARM", SKY__STATE_ALARM},
                 {"OK", SKY__STATE_OK}};
    for (size_t i = 0; i < 3; i++) {
        if (!word(p, funcs[i].w))
            continue;
        skip_ws(p);
        if (*p->s != '(')
            return fail(p, "expected '(' after a state function");
        p->s++;
        int ref;
        if (!name(p, &ref))
            return false;
        skip_ws(p);
        if (*p->s != ')')
            return fail(p, "expected ')' after the alarm name");
        p->s++;
        return emit(p, (instr){I_REF, ref, (int)funcs[i].st});
    }
    if (word(p, "TRUE"))
        return emit(p, (instr){I_TRUE, 0, 0});
    if (word(p, "FALSE"))
        return emit(p, (instr){I_FALSE, 0, 0});
    if (*p->s == '(') {
        if (++p->depth > SKY__RULE_MAX_DEPTH)
            return fail(p, "parentheses and NOT nested more than 32 deep");
        p->s++;
        if (!parse_or(p))
            return false;
        skip_ws(p);
        if (*p->s != ')')
            return fail(p, "expected ')'");
        p->s++;
        p->depth--;
        return true;
    }
    return fail(p, *p->s ? "expected ALARM(...), OK(...), INSUFFICIENT_DATA(...), TRUE, FALSE, "
                           "NOT or '('"
                         : "unexpected end");
}

static bool parse_not(parser *p)
{
    if (!word(p, "NOT"))
        return parse_primary(p);
    if (++p->depth > SKY__RULE_MAX_DEPTH)
        return fail(p, "parentheses and NOT nested more than 32 deep");
    bool ok = parse_not(p) && emit(p, (instr){I_NOT, 0, 0});
    p->depth--;
    return ok;
}

static bool parse_and(parser *p)
{
    if (!parse_not(p))
        return false;
    while (word(p, "AND"))
        if (!parse_not(p) || !emit(p, (instr){I_AND, 0, 0}))
            return false;
    return true;
}

static bool parse_or(parser *p)
{
    if (!parse_and(p))
        return false;
    while (word(p, "OR"))
        if (!parse_and(p) || !emit(p, (instr){I_OR, 0, 0}))
            return false;
    return true;
}

sky__rule *sky__rule_compile(const char *text, char *why, size_t cap)
{
    snprintf(why, cap, "invalid alarm rule");
    size_t len = strlen(text);
    if (len < 1 || len > SKY__RULE_MAX_LEN) {
        snprintf(why, cap, "the alarm rule must have 1 to %d characters", SKY__RULE_MAX_LEN);
        return NULL;
    }
    sky__rule *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(why, cap, "out of memory");
        return NULL;
    }
    parser p = {.text = text, .s = text, .r = r, .why = why, .cap = cap};
    if (parse_or(&p)) {
        skip_ws(&p);
        if (*p.s)
            fail(&p, "unexpected text (expected AND, OR or the end)");
    }
    if (p.failed) {
        sky__rule_free(r);
        return NULL;
    }
    return r;
}

size_t sky__rule_n_refs(const sky__rule *r) { return r->n_refs; }
const char *sky__rule_ref(const sky__rule *r, size_t i) { return i < r->n_refs ? r->refs[i] : NULL; }

bool sky__rule_eval(const sky__rule *r, const int *states)
{
    bool stack_small[64];
    bool *stack = r->n <= 64 ? stack_small : malloc(r->n * sizeof *stack);
    if (!stack)
        return false;
    size_t top = 0;
    for (size_t i = 0; i < r->n; i++) {
        const instr *in = &r->prog[i];
        switch (in->kind) {
        case I_REF: stack[top++] = states[in->ref] >= 0 && states[in->ref] == in->state; break;
        case I_TRUE: stack[top++] = true; break;
        case I_FALSE: stack[top++] = false; break;
        case I_NOT: stack[top - 1] = !stack[top - 1]; break;
        case I_AND: top--; stack[top - 1] = stack[top - 1] && stack[top]; break;
        case I_OR: top--; stack[top - 1] = stack[top - 1] || stack[top]; break;
        }
    }
    bool v = top ? stack[top - 1] : false;
    if (stack != stack_small)
        free(stack);
    return v;
}

void sky__rule_free(sky__rule *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_refs; i++)
        free(r->refs[i]);
    free(r->prog);
    free(r);
}
