/*
 * insights_prog.h - the parsed form of a Logs Insights query, shared by the parser
 * (insights_parse.c) and the executor (insights_exec.c) only.
 *
 * Fields are interned as symbols (small integers): a row is an array of values indexed by
 * symbol, so no command looks a name up while rows stream by. `and` / `or` are n-ary nodes,
 * so an expression's depth is its nesting (bounded by SKY__INS_MAX_DEPTH), never the length
 * of a chain: evaluating and freeing recurse at most that deep.
 */
#ifndef SKY_SERVE_INSIGHTS_PROG_H
#define SKY_SERVE_INSIGHTS_PROG_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include "insights.h"

#include <pcre2.h>

typedef enum { OPD_FIELD, OPD_STR, OPD_NUM } ins_opd_kind;

typedef struct ins_operand {
    ins_opd_kind kind;
    int sym;     /* OPD_FIELD */
    char *s;     /* OPD_STR / OPD_NUM: the literal's text (NUL-terminated, owned) */
    size_t len;
    double num;  /* OPD_NUM */
} ins_operand;

typedef enum { X_AND, X_OR, X_NOT, X_CMP, X_LIKE, X_REGEX, X_IN, X_PRESENT, X_ISEMPTY } ins_x_kind;
typedef enum { CMP_EQ, CMP_NE, CMP_LT, CMP_LE, CMP_GT, CMP_GE } ins_cmp;

typedef struct ins_expr {
    ins_x_kind kind;
    ins_cmp cmp;
    bool negate;             /* not like, not in, !~ */
    struct ins_expr **kids;  /* X_AND / X_OR (n_kids), X_NOT (1) */
    size_t n_kids;
    ins_operand l, r;        /* X_CMP: l op r; X_LIKE: l like r (a string); X_PRESENT: l */
    ins_operand *list;       /* X_IN */
    size_t n_list;
    pcre2_code *re;          /* X_REGEX */
} ins_expr;

typedef enum { AGG_COUNT_ALL, AGG_COUNT, AGG_SUM, AGG_AVG, AGG_MIN, AGG_MAX, AGG_PCT,
               AGG_COUNT_DISTINCT } ins_agg_fn;

typedef struct ins_agg {
    ins_agg_fn fn;
    int arg;      /* the field (-1 for count() / count(*)) */
    double pct;   /* AGG_PCT: 0..100 */
    int out;      /* the symbol it is shown as */
} ins_agg;

typedef struct ins_by {
    int src;        /* a field, or -1 for bin() */
    int64_t bin_ms; /* bin(): the period */
    int out;
} ins_by;

typedef struct ins_item {
    int src, out;
    bool desc;      /* sort keys */
} ins_item;

typedef enum { CMD_FIELDS, CMD_FILTER, CMD_STATS, CMD_SORT, CMD_LIMIT, CMD_DISPLAY, CMD_PARSE,
               CMD_DEDUP } ins_cmd_kind;

typedef struct ins_cmd {
    ins_cmd_kind kind;
    int pos;              /* offset of the command word */
    ins_expr *filter;     /* CMD_FILTER */
    ins_item *items;      /* fields, display, sort, dedup (src) */
    size_t n_items;
    ins_agg *aggs;        /* CMD_STATS */
    size_t n_aggs;
    ins_by *by;
    size_t n_by;
    int64_t limit;        /* CMD_LIMIT */
    int parse_src;        /* CMD_PARSE: the field parsed */
    char **glob;          /* glob parse: n_glob (n_outs + 1) literal pieces around the '*'s */
    size_t n_glob;
    pcre2_code *re;       /* regex parse: named groups give the fields */
    int *outs;            /* the fields parse sets */
    uint32_t *groups;     /* regex parse: the capture group number of each out */
    size_t n_outs;
} ins_cmd;

struct sky__ins_query {
    char *names[SKY__INS_MAX_SYMS];
    size_t n_syms;
    bool from_json[SKY__INS_MAX_SYMS]; /* read before any command sets it: taken from the JSON */
    bool needs_message;                 /* @message, JSON fields or parse are used */
    ins_cmd cmds[SKY__INS_MAX_CMDS];
    size_t n_cmds;
    int stats_at;                       /* index of the stats command, -1 if none */
};

#endif
