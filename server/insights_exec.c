/*
 * insights_exec.c - runs a parsed Logs Insights query (insights_prog.h) over the store.
 *
 * Events stream from one SQLite statement (newest first, as Insights lists events, or oldest
 * first when the query sorts by @timestamp asc) through the commands that look at one event
 * at a time (fields, parse, filter, display) until the first command that needs more than one
 * row (stats, sort, limit, dedup): stats folds rows into groups as they come; the others keep
 * rows, and the remaining commands then run over the rows kept. Kept rows hold copies of
 * their values in an arena; strings of the current event point into SQLite's row or into a
 * per-event scratch buffer, so streaming allocates nothing per event.
 *
 * JSON messages are not parsed into trees: a scanner walks the text once and picks out only
 * the fields the query names (nested names with dots, array elements by index), so a query
 * about two fields costs one pass over the bytes whatever the message holds.
 *
 * Bounds (docs/SERVE.md, Limits): the rows and bytes kept, the groups of a stats, the values a
 * pct() or count_distinct() holds, JSON depth, regex match work. Past a bound the query ends
 * as Failed with the reason, never with a silently partial answer. A query checks its cancel
 * flag and deadline every few thousand events.
 */
#include "insights_prog.h"

#include "util/buf.h"

#include <skylog.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_KEPT_ROWS 2000000
#define MAX_ARENA_BYTES (512u << 20)
#define MAX_GROUPS 500000
#define MAX_AGG_VALUES 20000000
#define JSON_DEPTH 64
#define CHECK_EVERY 4096
#define REGEX_MATCH_LIMIT 1000000
#define REGEX_DEPTH_LIMIT 10000

enum { V_NONE = 0, V_STR, V_NUM, V_TIME };

typedef struct val {
    const char *s;
    uint32_t len;
    uint8_t kind;
    double num;
} val;

/* ---- arena: stable pointers, freed at once ------------------------------------------------ */

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    char data[];
} chunk;

typedef struct arena {
    chunk *head;
    size_t total;
    bool full;
} arena;

static void *arena_alloc(arena *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if (!a->head || a->head->cap - a->head->used < n) {
        size_t cap = n > (1u << 20) ? n : (1u << 20);
        if (a->total + cap > MAX_ARENA_BYTES) {
            a->full = true;
            return NULL;
        }
        chunk *c = malloc(sizeof *c + cap);
        if (!c) {
            a->full = true;
            return NULL;
        }
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
        a->total += cap;
    }
    void *p = a->head->data + a->head->used;
    a->head->used += n;
    return p;
}

static const char *arena_str(arena *a, const char *s, size_t n)
{
    char *d = arena_alloc(a, n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static void arena_free(arena *a)
{
    while (a->head) {
        chunk *c = a->head;
        a->head = c->next;
        free(c);
    }
}

/* ---- a hash set/map of byte strings (stats groups, dedup keys, count_distinct) ---------- */

typedef struct hent {
    uint64_t h;
    const char *key;
    uint32_t len;
    void *val;
} hent;

typedef struct hmap {
    hent *e;
    size_t cap, n;
} hmap;

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a, then a final mix */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h | 1; /* 0 marks an empty slot */
}

static bool hmap_grow(hmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    hent *e = calloc(cap, sizeof *e);
    if (!e)
        return false;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->e[i].h)
            continue;
        size_t j = m->e[i].h & (cap - 1);
        while (e[j].h)
            j = (j + 1) & (cap - 1);
        e[j] = m->e[i];
    }
    free(m->e);
    m->e = e;
    m->cap = cap;
    return true;
}

/* The entry for key; *added when it was not there (its key copied into the arena). NULL on
 * out-of-memory. */
static hent *hmap_get(hmap *m, arena *a, const char *key, size_t len, bool *added)
{
    *added = false;
    if ((m->n + 1) * 2 > m->cap && !hmap_grow(m))
        return NULL;
    uint64_t h = hash_bytes(key, len);
    size_t j = h & (m->cap - 1);
    while (m->e[j].h) {
        if (m->e[j].h == h && m->e[j].len == len && memcmp(m->e[j].key, key, len) == 0)
            return &m->e[j];
        j = (j + 1) & (m->cap - 1);
    }
    const char *k = arena_str(a, key, len);
    if (!k)
        return NULL;
    m->e[j] = (hent){.h = h, .key = k, .len = (uint32_t)len};
    m->n++;
    *added = true;
    return &m->e[j];
}

static void hmap_free(hmap *m)
{
    free(m->e);
    m->e = NULL;
    m->cap = m->n = 0;
}

/* ---- values ------------------------------------------------------------------------------ */

void sky__ins_fmt_ts(int64_t ms, char out[24])
{
    time_t s = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int frac = (int)(ms - (int64_t)s * 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char buf[64]; /* room for any int the compiler can imagine; the text is 23 characters */
    snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%03d",
             (tm.tm_year + 1900) % 10000, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
             tm.tm_sec, frac);
    memcpy(out, buf, 23);
    out[23] = '\0';
}

/* The text of a value; a time is formatted into buf. */
static const char *text_of(const val *v, char buf[24], size_t *len)
{
    if (v->kind == V_TIME) {
        sky__ins_fmt_ts((int64_t)v->num, buf);
        *len = 23;
        return buf;
    }
    *len = v->len;
    return v->s;
}

/* A string that reads wholly as a finite number. */
static bool parse_num(const char *s, size_t n, double *out)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    double d = strtod(buf, &end);
    if (*end || end == buf || !isfinite(d) || buf[0] == ' ' || buf[0] == '\t')
        return false;
    *out = d;
    return true;
}

static bool num_of(const val *v, double *out)
{
    if (v->kind == V_NUM || v->kind == V_TIME) {
        *out = v->num;
        return true;
    }
    return v->kind == V_STR && parse_num(v->s, v->len, out);
}

static int cmp_text(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}

/* Orders two present values: numerically when both read as numbers (and `numeric` allows),
 * else by their text. */
static int cmp_vals(const val *a, const val *b, bool numeric)
{
    double x, y;
    if (numeric && num_of(a, &x) && num_of(b, &y))
        return (x > y) - (x < y);
    char ba[24], bb[24];
    size_t an, bn;
    const char *sa = text_of(a, ba, &an), *sb = text_of(b, bb, &bn);
    return cmp_text(sa, an, sb, bn);
}

/* ---- JSON fields ------------------------------------------------------------------------- */

typedef struct want {
    int sym;
    const char *name;
    size_t len;
} want;

typedef struct jx {
    const char *p, *end;
    const want *w;
    size_t n_w;
    val *v;
    sky_buf *scratch; /* reserved to the message's size: pointers into it stay valid */
    char path[512];
    bool bad;
} jx;

static void jx_ws(jx *x)
{
    while (x->p < x->end && (*x->p == ' ' || *x->p == '\t' || *x->p == '\n' || *x->p == '\r'))
        x->p++;
}

/* Scans a string at x->p ('"'); its content span, and whether it has escapes. */
static bool jx_string(jx *x, const char **s, size_t *n, bool *esc)
{
    const char *p = x->p + 1;
    *esc = false;
    while (p < x->end && *p != '"') {
        if (*p == '\\') {
            *esc = true;
            p++;
        }
        p++;
    }
    if (p >= x->end)
        return false;
    *s = x->p + 1;
    *n = (size_t)(p - *s);
    x->p = p + 1;
    return true;
}

static unsigned hexval(const char *s)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v = v * 16 + (unsigned)(c >= '0' && c <= '9' ? c - '0'
                                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                       : 0);
    }
    return v;
}

/* Undoes JSON escapes of s[0..n) into d (room for n bytes: escapes never grow); the length. */
static size_t unescape(const char *s, size_t n, char *d)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\' || i + 1 >= n) {
            d[k++] = s[i];
            continue;
        }
        char e = s[++i];
        switch (e) {
        case 'n': d[k++] = '\n'; break;
        case 't': d[k++] = '\t'; break;
        case 'r': d[k++] = '\r'; break;
        case 'b': d[k++] = '\b'; break;
        case 'f': d[k++] = '\f'; break;
        case 'u': {
            if (i + 4 >= n) {
                d[k++] = '?';
                break;
            }
            unsigned c = hexval(s + i + 1);
            i += 4;
            if (c >= 0xd800 && c < 0xdc00 && i + 6 < n && s[i + 1] == '\\' && s[i + 2] == 'u') {
                unsigned lo = hexval(s + i + 3);
                if (lo >= 0xdc00 && lo < 0xe000) {
                    c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
                    i += 6;
                }
            }
            /* \uXXXX is 6 bytes, its UTF-8 at most 3 (4 for a pair's 12): never grows */
            if (c < 0x80) {
                d[k++] = (char)c;
            } else if (c < 0x800) {
                d[k++] = (char)(0xc0 | (c >> 6));
                d[k++] = (char)(0x80 | (c & 0x3f));
            } else if (c < 0x10000) {
                d[k++] = (char)(0xe0 | (c >> 12));
                d[k++] = (char)(0x80 | ((c >> 6) & 0x3f));
                d[k++] = (char)(0x80 | (c & 0x3f));
            } else {
                d[k++] = (char)(0xf0 | (c >> 18));
                d[k++] = (char)(0x80 | ((c >> 12) & 0x3f));
                d[k++] = (char)(0x80 | ((c >> 6) & 0x3f));
                d[k++] = (char)(0x80 | (c & 0x3f));
            }
            break;
        }
        default: d[k++] = e; break;
        }
    }
    return k;
}

/* Skips one value without looking inside (iterative: any depth). */
static bool jx_skip(jx *x)
{
    int depth = 0;
    do {
        jx_ws(x);
        if (x->p >= x->end)
            return false;
        char c = *x->p;
        if (c == '"') {
            const char *s;
            size_t n;
            bool e;
            if (!jx_string(x, &s, &n, &e))
                return false;
        } else if (c == '{' || c == '[') {
            depth++;
            x->p++;
        } else if (c == '}' || c == ']') {
            depth--;
            x->p++;
        } else if (c == ',' || c == ':') {
            x->p++;
        } else {
            while (x->p < x->end && !strchr(",}] \t\r\n", *x->p))
                x->p++;
        }
    } while (depth > 0);
    return depth == 0;
}

/* Which wanted names the path is (exact) or leads to (prefix + '.'). */
static void jx_match(const jx *x, size_t plen, int *exact, bool *deeper)
{
    *exact = -1;
    *deeper = plen == 0 && x->n_w > 0; /* the message itself */
    for (size_t i = 0; i < x->n_w; i++) {
        const want *w = &x->w[i];
        if (w->len < plen || memcmp(w->name, x->path, plen) != 0)
            continue;
        if (w->len == plen)
            *exact = w->sym;
        else if (w->name[plen] == '.')
            *deeper = true;
    }
}

static bool jx_value(jx *x, size_t plen, int depth);

/* Appends ".key" (or "key" at the top) to the path; false when it does not fit. */
static bool jx_push(jx *x, size_t plen, const char *k, size_t kn, size_t *out)
{
    size_t n = plen + (plen ? 1 : 0) + kn;
    if (n >= sizeof x->path)
        return false;
    if (plen)
        x->path[plen] = '.';
    memcpy(x->path + plen + (plen ? 1 : 0), k, kn);
    *out = n;
    return true;
}

static bool jx_container(jx *x, size_t plen, int depth)
{
    bool obj = *x->p == '{';
    x->p++;
    jx_ws(x);
    if (x->p < x->end && *x->p == (obj ? '}' : ']')) {
        x->p++;
        return true;
    }
    for (size_t idx = 0;; idx++) {
        jx_ws(x);
        size_t child;
        bool fits;
        if (obj) {
            const char *k;
            size_t kn;
            bool esc;
            if (x->p >= x->end || *x->p != '"' || !jx_string(x, &k, &kn, &esc))
                return false;
            if (esc) {
                char kb[256];
                if (kn > sizeof kb)
                    kn = sizeof kb; /* a longer escaped key cannot be a field we want */
                kn = unescape(k, kn, kb);
                fits = jx_push(x, plen, kb, kn, &child);
            } else {
                fits = jx_push(x, plen, k, kn, &child);
            }
            jx_ws(x);
            if (x->p >= x->end || *x->p != ':')
                return false;
            x->p++;
        } else {
            char ib[24];
            int in = snprintf(ib, sizeof ib, "%zu", idx);
            fits = jx_push(x, plen, ib, (size_t)in, &child);
        }
        if (!(fits ? jx_value(x, child, depth + 1) : jx_skip(x)))
            return false;
        jx_ws(x);
        if (x->p < x->end && *x->p == ',') {
            x->p++;
            continue;
        }
        if (x->p < x->end && *x->p == (obj ? '}' : ']')) {
            x->p++;
            return true;
        }
        return false;
    }
}

/* The value at x->p, whose name is path[0..plen): stored when wanted, entered when a wanted
 * name lies inside it, skipped otherwise. Recursion only follows wanted names, at most
 * JSON_DEPTH deep. */
static bool jx_value(jx *x, size_t plen, int depth)
{
    jx_ws(x);
    if (x->p >= x->end)
        return false;
    int exact;
    bool deeper;
    jx_match(x, plen, &exact, &deeper);
    const char *start = x->p;
    char c = *x->p;
    if (exact < 0 && !deeper)
        return jx_skip(x);
    if (c == '{' || c == '[') {
        bool ok = deeper && depth < JSON_DEPTH ? jx_container(x, plen, depth) : jx_skip(x);
        if (ok && exact >= 0)
            x->v[exact] = (val){.s = start, .len = (uint32_t)(x->p - start), .kind = V_STR};
        return ok;
    }
    if (exact < 0)
        return jx_skip(x);
    if (c == '"') {
        const char *s;
        size_t n;
        bool esc;
        if (!jx_string(x, &s, &n, &esc))
            return false;
        if (esc) {
            char *d = x->scratch->p + x->scratch->len;
            n = unescape(s, n, d);
            x->scratch->len += n;
            s = d;
        }
        x->v[exact] = (val){.s = s, .len = (uint32_t)n, .kind = V_STR};
        return true;
    }
    if (!jx_skip(x))
        return false;
    size_t n = (size_t)(x->p - start);
    if (n == 4 && memcmp(start, "null", 4) == 0)
        return true;
    double d;
    if (parse_num(start, n, &d))
        x->v[exact] = (val){.s = start, .len = (uint32_t)n, .kind = V_NUM, .num = d};
    else
        x->v[exact] = (val){.s = start, .len = (uint32_t)n, .kind = V_STR};
    return true;
}

/* ---- the run ----------------------------------------------------------------------------- */

typedef struct agg_state {
    uint64_t n;
    double sum, min, max;
    double *vals;
    size_t nv, cap;
    hmap *distinct;
} agg_state;

typedef struct group {
    val *by;          /* n_by values (copied) */
    agg_state *aggs;  /* n_aggs */
    int64_t newest;   /* its newest event's timestamp */
} group;

typedef struct kept {
    val *v;
    int64_t id;
} kept;

typedef struct exec {
    const sky__ins_query *q;
    const sky__ins_run *run;
    size_t ns;              /* symbols */
    want w[SKY__INS_MAX_SYMS];
    size_t n_w;
    val *v;                 /* the current event's values */
    sky_buf scratch;
    pcre2_match_data *md;
    pcre2_match_context *mc;
    arena ar;
    arena names;            /* stream names: outlive a top-k compaction of `ar` */
    const val *topk_bar;    /* the last of the top rows kept: a row not before it is skipped */
    /* kept rows */
    kept *rows;
    size_t n_rows, cap_rows;
    /* stats */
    const ins_cmd *st;
    hmap groups;
    group **order;          /* groups in the order they appeared */
    size_t n_groups, cap_groups;
    size_t agg_values;
    sky_buf key;
    char *why;
    size_t why_cap;
    bool failed;
} exec;

static void fail(exec *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(exec *x, const char *fmt, ...)
{
    if (x->failed)
        return;
    x->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->why, x->why_cap, fmt, ap);
    va_end(ap);
}

static bool regex_match(exec *x, pcre2_code *re, const char *s, size_t n)
{
    int rc = pcre2_match(re, (PCRE2_SPTR)s, n, 0, 0, x->md, x->mc);
    return rc >= 0;
}

static bool operand_val(exec *x, const val *row, const ins_operand *o, val *out)
{
    (void)x;
    if (o->kind == OPD_FIELD) {
        *out = row[o->sym];
        return out->kind != V_NONE;
    }
    *out = (val){.s = o->s, .len = (uint32_t)o->len, .kind = o->kind == OPD_NUM ? V_NUM : V_STR,
                 .num = o->num};
    return true;
}

static bool eq_literal(const val *a, const ins_operand *lit)
{
    val b = {.s = lit->s, .len = (uint32_t)lit->len, .kind = lit->kind == OPD_NUM ? V_NUM : V_STR,
             .num = lit->num};
    return cmp_vals(a, &b, lit->kind == OPD_NUM) == 0;
}

static bool eval(exec *x, const val *row, const ins_expr *e)
{
    switch (e->kind) {
    case X_AND:
        for (size_t i = 0; i < e->n_kids; i++)
            if (!eval(x, row, e->kids[i]))
                return false;
        return true;
    case X_OR:
        for (size_t i = 0; i < e->n_kids; i++)
            if (eval(x, row, e->kids[i]))
                return true;
        return false;
    case X_NOT: return !eval(x, row, e->kids[0]);
    case X_PRESENT: return row[e->l.sym].kind != V_NONE;
    case X_ISEMPTY: return row[e->l.sym].kind == V_NONE || (row[e->l.sym].kind == V_STR && row[e->l.sym].len == 0);
    default: break;
    }
    val l, r;
    if (!operand_val(x, row, &e->l, &l))
        return false;
    char buf[24];
    size_t n;
    const char *s = text_of(&l, buf, &n);
    switch (e->kind) {
    case X_LIKE: {
        bool m = e->r.len == 0 || (n >= e->r.len && memmem(s, n, e->r.s, e->r.len) != NULL);
        return m != e->negate;
    }
    case X_REGEX: return regex_match(x, e->re, s, n) != e->negate;
    case X_IN: {
        bool m = false;
        for (size_t i = 0; i < e->n_list && !m; i++)
            m = eq_literal(&l, &e->list[i]);
        return m != e->negate;
    }
    case X_CMP: {
        if (!operand_val(x, row, &e->r, &r))
            return false;
        /* A string literal compares as text; a number literal numerically (a value that is
         * not a number then never matches); two fields as numbers when both are. */
        bool numeric = e->r.kind != OPD_STR && e->l.kind != OPD_STR;
        double a, b;
        if ((e->r.kind == OPD_NUM && !num_of(&l, &a)) || (e->l.kind == OPD_NUM && !num_of(&r, &b)))
            return false;
        int c = cmp_vals(&l, &r, numeric);
        switch (e->cmp) {
        case CMP_EQ: return c == 0;
        case CMP_NE: return c != 0;
        case CMP_LT: return c < 0;
        case CMP_LE: return c <= 0;
        case CMP_GT: return c > 0;
        case CMP_GE: return c >= 0;
        }
        return false;
    }
    default: return false;
    }
}

/* parse: sets the command's fields from the source value (absent when it does not match). */
static void run_parse(exec *x, val *row, const ins_cmd *c)
{
    val src = row[c->parse_src];
    for (size_t i = 0; i < c->n_outs; i++)
        row[c->outs[i]] = (val){0};
    if (src.kind == V_NONE)
        return;
    char buf[24];
    size_t n;
    const char *s = text_of(&src, buf, &n);
    if (src.kind == V_TIME)
        return; /* its text is in a buffer of this call: nothing to point at */
    if (c->re) {
        int rc = pcre2_match(c->re, (PCRE2_SPTR)s, n, 0, 0, x->md, x->mc);
        if (rc < 0)
            return;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(x->md);
        uint32_t npairs = pcre2_get_ovector_count(x->md);
        for (size_t i = 0; i < c->n_outs; i++) {
            uint32_t g = c->groups[i];
            if (g >= npairs || (int)g >= rc || ov[2 * g] == PCRE2_UNSET)
                continue;
            row[c->outs[i]] = (val){.s = s + ov[2 * g], .len = (uint32_t)(ov[2 * g + 1] - ov[2 * g]),
                                    .kind = V_STR};
        }
        return;
    }
    /* glob: literal pieces around '*'s; each '*' takes the shortest run that lets the next
     * piece follow (the last takes the rest when the pattern ends with '*') */
    size_t at = 0, len0 = strlen(c->glob[0]);
    const char *first = len0 ? memmem(s, n, c->glob[0], len0) : s;
    if (!first)
        return;
    at = (size_t)(first - s) + len0;
    val tmp[SKY__INS_MAX_ITEMS];
    for (size_t i = 0; i < c->n_outs; i++) {
        const char *lit = c->glob[i + 1];
        size_t ll = strlen(lit), end;
        if (ll == 0) {
            end = i + 1 == c->n_outs ? n : at;
        } else {
            const char *f = memmem(s + at, n - at, lit, ll);
            if (!f)
                return;
            end = (size_t)(f - s);
        }
        tmp[i] = (val){.s = s + at, .len = (uint32_t)(end - at), .kind = V_STR};
        at = end + ll;
    }
    for (size_t i = 0; i < c->n_outs; i++) {
        double d;
        if (parse_num(tmp[i].s, tmp[i].len, &d)) {
            tmp[i].kind = V_NUM;
            tmp[i].num = d;
        }
        row[c->outs[i]] = tmp[i];
    }
}

/* One row through the commands that look at one row: false when a filter drops it. */
static bool run_row_cmd(exec *x, val *row, const ins_cmd *c)
{
    switch (c->kind) {
    case CMD_FIELDS:
        for (size_t i = 0; i < c->n_items; i++)
            if (c->items[i].out != c->items[i].src)
                row[c->items[i].out] = row[c->items[i].src];
        return true;
    case CMD_FILTER: return eval(x, row, c->filter);
    case CMD_PARSE: run_parse(x, row, c); return true;
    default: return true;
    }
}

static bool streaming(ins_cmd_kind k)
{
    return k == CMD_FIELDS || k == CMD_FILTER || k == CMD_PARSE || k == CMD_DISPLAY;
}

/* Copies a row's values into an arena. */
static val *copy_vals(exec *x, arena *a, const val *row)
{
    val *v = arena_alloc(a, x->ns * sizeof *v);
    if (!v)
        return NULL;
    for (size_t i = 0; i < x->ns; i++) {
        v[i] = row[i];
        if (row[i].kind != V_NONE && row[i].kind != V_TIME) {
            v[i].s = arena_str(a, row[i].s, row[i].len);
            if (!v[i].s)
                return NULL;
        }
    }
    return v;
}

static bool keep_row(exec *x, const val *row, int64_t id)
{
    if (x->n_rows == MAX_KEPT_ROWS) {
        fail(x, "the query keeps more than %d rows before its sort, limit or dedup: narrow the "
                "time range or filter first", MAX_KEPT_ROWS);
        return false;
    }
    if (x->n_rows == x->cap_rows) {
        size_t cap = x->cap_rows ? x->cap_rows * 2 : 256;
        kept *r = realloc(x->rows, cap * sizeof *r);
        if (!r) {
            fail(x, "out of memory");
            return false;
        }
        x->rows = r;
        x->cap_rows = cap;
    }
    val *v = copy_vals(x, &x->ar, row);
    if (!v) {
        fail(x, "the query keeps more than %u MiB of rows: narrow the time range or filter first",
             MAX_ARENA_BYTES >> 20);
        return false;
    }
    x->rows[x->n_rows++] = (kept){.v = v, .id = id};
    return true;
}

/* ---- stats ------------------------------------------------------------------------------- */

static bool agg_push(exec *x, agg_state *s, double d)
{
    if (x->agg_values >= MAX_AGG_VALUES) {
        fail(x, "pct() holds more than %d values: narrow the time range or filter first",
             MAX_AGG_VALUES);
        return false;
    }
    if (s->nv == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        double *nv = realloc(s->vals, cap * sizeof *nv);
        if (!nv) {
            fail(x, "out of memory");
            return false;
        }
        s->vals = nv;
        s->cap = cap;
    }
    s->vals[s->nv++] = d;
    x->agg_values++;
    return true;
}

static bool aggregate(exec *x, const val *row)
{
    const ins_cmd *c = x->st;
    sky_buf *k = &x->key;
    sky__buf_reset(k);
    for (size_t i = 0; i < c->n_by; i++) {
        const ins_by *b = &c->by[i];
        if (b->src < 0) {
            int64_t ts = (int64_t)row[SKY__INS_TS].num;
            int64_t bin = ts - ((ts % b->bin_ms) + b->bin_ms) % b->bin_ms;
            sky__buf_put(k, &bin, sizeof bin);
            continue;
        }
        const val *v = &row[b->src];
        char buf[24];
        size_t n = 0;
        const char *s = v->kind == V_NONE ? "" : text_of(v, buf, &n);
        uint32_t n32 = (uint32_t)n;
        sky__buf_putc(k, (char)v->kind);
        sky__buf_put(k, &n32, sizeof n32);
        sky__buf_put(k, s, n);
    }
    if (k->oom) {
        fail(x, "out of memory");
        return false;
    }
    bool added;
    hent *e = hmap_get(&x->groups, &x->ar, k->p ? k->p : "", k->len, &added);
    if (!e) {
        fail(x, "out of memory");
        return false;
    }
    if (added) {
        if (x->n_groups == MAX_GROUPS) {
            fail(x, "stats makes more than %d groups: narrow the time range or the 'by' fields",
                 MAX_GROUPS);
            return false;
        }
        group *g = arena_alloc(&x->ar, sizeof *g);
        val *by = g ? arena_alloc(&x->ar, (c->n_by ? c->n_by : 1) * sizeof *by) : NULL;
        agg_state *as = by ? arena_alloc(&x->ar, c->n_aggs * sizeof *as) : NULL;
        if (!as) {
            fail(x, "stats holds more than %u MiB: narrow the time range or the 'by' fields",
                 MAX_ARENA_BYTES >> 20);
            return false;
        }
        memset(as, 0, c->n_aggs * sizeof *as);
        for (size_t i = 0; i < c->n_by; i++) {
            const ins_by *b = &c->by[i];
            if (b->src < 0) {
                int64_t ts = (int64_t)row[SKY__INS_TS].num;
                by[i] = (val){.kind = V_TIME,
                              .num = (double)(ts - ((ts % b->bin_ms) + b->bin_ms) % b->bin_ms)};
            } else {
                by[i] = row[b->src];
                if (by[i].kind == V_STR || by[i].kind == V_NUM)
                    by[i].s = arena_str(&x->ar, by[i].s, by[i].len);
                if ((by[i].kind == V_STR || by[i].kind == V_NUM) && !by[i].s) {
                    fail(x, "out of memory");
                    return false;
                }
            }
        }
        g->by = by;
        g->aggs = as;
        e->val = g;
        if (x->n_groups == x->cap_groups) {
            size_t cap = x->cap_groups ? x->cap_groups * 2 : 64;
            group **o = realloc(x->order, cap * sizeof *o);
            if (!o) {
                fail(x, "out of memory");
                return false;
            }
            x->order = o;
            x->cap_groups = cap;
        }
        x->order[x->n_groups++] = g;
    }
    group *g = e->val;
    int64_t ts = (int64_t)row[SKY__INS_TS].num;
    if (added || ts > g->newest)
        g->newest = ts;
    for (size_t i = 0; i < c->n_aggs; i++) {
        const ins_agg *a = &c->aggs[i];
        agg_state *s = &g->aggs[i];
        if (a->fn == AGG_COUNT_ALL) {
            s->n++;
            continue;
        }
        const val *v = &row[a->arg];
        if (v->kind == V_NONE)
            continue;
        if (a->fn == AGG_COUNT) {
            s->n++;
            continue;
        }
        if (a->fn == AGG_COUNT_DISTINCT) {
            if (!s->distinct && !(s->distinct = calloc(1, sizeof *s->distinct))) {
                fail(x, "out of memory");
                return false;
            }
            char buf[24];
            size_t n;
            const char *t = text_of(v, buf, &n);
            bool add;
            if (x->agg_values >= MAX_AGG_VALUES) {
                fail(x, "count_distinct() holds more than %d values: narrow the time range or "
                        "filter first", MAX_AGG_VALUES);
                return false;
            }
            if (!hmap_get(s->distinct, &x->ar, t, n, &add)) {
                fail(x, "out of memory");
                return false;
            }
            if (add) {
                s->n++;
                x->agg_values++;
            }
            continue;
        }
        double d;
        if (!num_of(v, &d))
            continue;
        if (s->n == 0 || d < s->min)
            s->min = d;
        if (s->n == 0 || d > s->max)
            s->max = d;
        s->n++;
        s->sum += d;
        if (a->fn == AGG_PCT && !agg_push(x, s, d))
            return false;
    }
    return true;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* An aggregate's text: whole numbers without a fraction ("12", as Insights shows counts),
 * others in the shortest form that reads back exactly. */
static val num_val(exec *x, double d)
{
    char buf[SKY_F64_MAX + 1];
    char *end = fabs(d) < 9007199254740992.0 && d == floor(d)
                    ? sky__i64_raw(buf, (int64_t)d)
                    : sky__f64_raw(buf, d);
    const char *s = arena_str(&x->ar, buf, (size_t)(end - buf));
    return s ? (val){.s = s, .len = (uint32_t)(end - buf), .kind = V_NUM, .num = d} : (val){0};
}

/* The groups become the kept rows. */
static void stats_rows(exec *x)
{
    const ins_cmd *c = x->st;
    for (size_t gi = 0; gi < x->n_groups && !x->failed; gi++) {
        group *g = x->order[gi];
        val *v = arena_alloc(&x->ar, x->ns * sizeof *v);
        if (!v) {
            fail(x, "out of memory");
            return;
        }
        memset(v, 0, x->ns * sizeof *v);
        for (size_t i = 0; i < c->n_by; i++)
            v[c->by[i].out] = g->by[i];
        for (size_t i = 0; i < c->n_aggs; i++) {
            const ins_agg *a = &c->aggs[i];
            agg_state *s = &g->aggs[i];
            val r = {0};
            switch (a->fn) {
            case AGG_COUNT_ALL:
            case AGG_COUNT:
            case AGG_COUNT_DISTINCT: r = num_val(x, (double)s->n); break;
            case AGG_SUM: if (s->n) r = num_val(x, s->sum); break;
            case AGG_AVG: if (s->n) r = num_val(x, s->sum / (double)s->n); break;
            case AGG_MIN: if (s->n) r = num_val(x, s->min); break;
            case AGG_MAX: if (s->n) r = num_val(x, s->max); break;
            case AGG_PCT:
                if (s->nv) {
                    /* nearest rank: the smallest value with at least pct% of values <= it */
                    qsort(s->vals, s->nv, sizeof *s->vals, cmp_double);
                    double rank = ceil(a->pct / 100.0 * (double)s->nv);
                    size_t i2 = rank < 1 ? 0 : (size_t)rank - 1;
                    if (i2 >= s->nv)
                        i2 = s->nv - 1;
                    r = num_val(x, s->vals[i2]);
                }
                break;
            }
            v[a->out] = r;
        }
        if (!keep_row(x, v, 0))
            return;
    }
}

static void stats_free(exec *x)
{
    const ins_cmd *c = x->st;
    for (size_t gi = 0; c && gi < x->n_groups; gi++) {
        for (size_t i = 0; i < c->n_aggs; i++) {
            free(x->order[gi]->aggs[i].vals);
            if (x->order[gi]->aggs[i].distinct) {
                hmap_free(x->order[gi]->aggs[i].distinct);
                free(x->order[gi]->aggs[i].distinct);
            }
        }
    }
    free(x->order);
    hmap_free(&x->groups);
}

/* ---- commands over kept rows ------------------------------------------------------------- */

static _Thread_local const ins_cmd *tl_sort;
static _Thread_local const kept *tl_rows;

/* Two rows in a sort command's order (absent values last, either way); 0 for ties. */
static int cmp_keys(const ins_cmd *sort, const val *ra, const val *rb)
{
    for (size_t k = 0; k < sort->n_items; k++) {
        int s = sort->items[k].src;
        const val *va = &ra[s], *vb = &rb[s];
        int c;
        if (va->kind == V_NONE || vb->kind == V_NONE)
            c = (va->kind == V_NONE) - (vb->kind == V_NONE);
        else
            c = sort->items[k].desc ? cmp_vals(vb, va, true) : cmp_vals(va, vb, true);
        if (c)
            return c;
    }
    return 0;
}

static int cmp_kept(const void *a, const void *b)
{
    size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
    int c = cmp_keys(tl_sort, tl_rows[ia].v, tl_rows[ib].v);
    return c ? c : (ia > ib) - (ia < ib); /* stable */
}

static void sort_rows(exec *x, const ins_cmd *c)
{
    size_t *idx = malloc((x->n_rows ? x->n_rows : 1) * sizeof *idx);
    kept *out = malloc((x->n_rows ? x->n_rows : 1) * sizeof *out);
    if (!idx || !out) {
        free(idx);
        free(out);
        fail(x, "out of memory");
        return;
    }
    for (size_t i = 0; i < x->n_rows; i++)
        idx[i] = i;
    tl_sort = c;
    tl_rows = x->rows;
    qsort(idx, x->n_rows, sizeof *idx, cmp_kept);
    for (size_t i = 0; i < x->n_rows; i++)
        out[i] = x->rows[idx[i]];
    free(idx);
    free(x->rows);
    x->rows = out;
    x->cap_rows = x->n_rows ? x->n_rows : 1;
}

/* `sort ... | limit K` while scanning: every so often the rows kept are sorted and cut to the
 * K first, the survivors copied into a fresh arena and the old one freed, so the memory is
 * O(K) whatever the scan reads. The sort is stable and survivors stay ahead of later rows, so
 * the K kept at the end are those a full sort would put first. */
static void compact_topk(exec *x, const ins_cmd *sort, size_t k)
{
    sort_rows(x, sort);
    if (x->failed || x->n_rows <= k)
        return;
    x->n_rows = k;
    arena fresh = {0};
    for (size_t i = 0; i < x->n_rows; i++) {
        val *v = copy_vals(x, &fresh, x->rows[i].v);
        if (!v) {
            arena_free(&fresh);
            fail(x, "out of memory");
            return;
        }
        x->rows[i].v = v;
    }
    arena_free(&x->ar);
    x->ar = fresh;
    x->topk_bar = x->rows[k - 1].v;
}

static void dedup_rows(exec *x, const ins_cmd *c)
{
    hmap seen = {0};
    size_t w = 0;
    for (size_t i = 0; i < x->n_rows && !x->failed; i++) {
        sky_buf *k = &x->key;
        sky__buf_reset(k);
        bool null = false;
        for (size_t j = 0; j < c->n_items; j++) {
            const val *v = &x->rows[i].v[c->items[j].src];
            if (v->kind == V_NONE) {
                null = true; /* a row without the field is never a duplicate */
                break;
            }
            char buf[24];
            size_t n;
            const char *s = text_of(v, buf, &n);
            uint32_t n32 = (uint32_t)n;
            sky__buf_put(k, &n32, sizeof n32);
            sky__buf_put(k, s, n);
        }
        bool added = true;
        if (!null && !hmap_get(&seen, &x->ar, k->p ? k->p : "", k->len, &added))
            fail(x, "out of memory");
        if (added)
            x->rows[w++] = x->rows[i];
    }
    x->n_rows = w;
    hmap_free(&seen);
}

static void run_kept(exec *x, size_t from)
{
    const sky__ins_query *q = x->q;
    for (size_t ci = from; ci < q->n_cmds && !x->failed; ci++) {
        const ins_cmd *c = &q->cmds[ci];
        switch (c->kind) {
        case CMD_SORT: sort_rows(x, c); break;
        case CMD_LIMIT:
            if ((int64_t)x->n_rows > c->limit)
                x->n_rows = (size_t)c->limit;
            break;
        case CMD_DEDUP: dedup_rows(x, c); break;
        case CMD_STATS:
            if (x->st == c)
                break; /* folded while scanning */
            /* after a sort, limit or dedup: over the rows kept (parse allows one stats) */
            x->st = c;
            for (size_t i = 0; i < x->n_rows && !x->failed; i++)
                if (!aggregate(x, x->rows[i].v))
                    break;
            x->n_rows = 0;
            if (!x->failed)
                stats_rows(x);
            break;
        default: {
            size_t w = 0;
            for (size_t i = 0; i < x->n_rows; i++)
                if (run_row_cmd(x, x->rows[i].v, c))
                    x->rows[w++] = x->rows[i];
            x->n_rows = w;
        }
        }
    }
}

/* The fields shown: `fields` adds, `display` replaces, stats starts over with its own. */
static size_t projection(const sky__ins_query *q, int *out)
{
    size_t n = 0;
    for (size_t ci = 0; ci < q->n_cmds; ci++) {
        const ins_cmd *c = &q->cmds[ci];
        if (c->kind == CMD_DISPLAY)
            n = 0;
        if (c->kind == CMD_STATS) {
            n = 0;
            for (size_t i = 0; i < c->n_by; i++)
                out[n++] = c->by[i].out;
            for (size_t i = 0; i < c->n_aggs; i++)
                out[n++] = c->aggs[i].out;
        }
        if (c->kind == CMD_FIELDS || c->kind == CMD_DISPLAY) {
            for (size_t i = 0; i < c->n_items; i++) {
                bool dup = false;
                for (size_t k = 0; k < n; k++)
                    dup |= out[k] == c->items[i].out;
                if (!dup && n < SKY__INS_MAX_SYMS)
                    out[n++] = c->items[i].out;
            }
        }
        if (c->kind == CMD_PARSE && n == 0)
            continue;
    }
    if (n == 0 && q->stats_at < 0) {
        static const int dflt[] = {SKY__INS_TS, SKY__INS_MSG, SKY__INS_STREAM, SKY__INS_LOG};
        for (size_t i = 0; i < 4; i++)
            out[n++] = dflt[i];
    }
    return n;
}

static json_t *results_json(exec *x)
{
    int proj[SKY__INS_MAX_SYMS];
    size_t np = projection(x->q, proj);
    bool stats = x->q->stats_at >= 0;
    json_t *rows = json_array();
    size_t n = x->n_rows < x->run->limit ? x->n_rows : x->run->limit;
    for (size_t i = 0; rows && i < n; i++) {
        json_t *row = json_array();
        for (size_t k = 0; row && k < np; k++) {
            const val *v = &x->rows[i].v[proj[k]];
            if (v->kind == V_NONE)
                continue;
            char buf[24];
            size_t len;
            const char *s = text_of(v, buf, &len);
            json_array_append_new(row, json_pack("{s:s,s:s%}", "field", x->q->names[proj[k]],
                                                 "value", s, len));
        }
        if (row && !stats) {
            char ptr[32];
            snprintf(ptr, sizeof ptr, "%" PRId64, x->rows[i].id);
            json_array_append_new(row, json_pack("{s:s,s:s}", "field", "@ptr", "value", ptr));
        }
        if (!row || json_array_append_new(rows, row) != 0) {
            json_decref(rows);
            return NULL;
        }
    }
    return rows;
}

/* ---- scanning ---------------------------------------------------------------------------- */

typedef struct stream_name {
    int64_t id;
    const char *name;
} stream_name;

static int cmp_stream(const void *a, const void *b)
{
    int64_t x = ((const stream_name *)a)->id, y = ((const stream_name *)b)->id;
    return (x > y) - (x < y);
}

/* The streams of the groups, sorted by id (names in the arena). */
static stream_name *load_streams(exec *x, size_t *n)
{
    sqlite3 *db = x->run->db;
    stream_name *s = NULL;
    size_t cap = 0;
    *n = 0;
    for (size_t g = 0; g < x->run->n_groups; g++) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db, "SELECT id, name FROM log_streams WHERE group_id=?", -1, &st,
                               NULL) != SQLITE_OK) {
            fail(x, "store error: %s", sqlite3_errmsg(db));
            free(s);
            return NULL;
        }
        sqlite3_bind_int64(st, 1, x->run->groups[g].id);
        while (sqlite3_step(st) == SQLITE_ROW) {
            if (*n == cap) {
                cap = cap ? cap * 2 : 64;
                stream_name *ns = realloc(s, cap * sizeof *ns);
                if (!ns)
                    break;
                s = ns;
            }
            const char *name = arena_str(&x->names, (const char *)sqlite3_column_text(st, 1),
                                         (size_t)sqlite3_column_bytes(st, 1));
            if (!name)
                break;
            s[(*n)++] = (stream_name){sqlite3_column_int64(st, 0), name};
        }
        sqlite3_finalize(st);
    }
    if (*n)
        qsort(s, *n, sizeof *s, cmp_stream);
    return s;
}

/* True when the groups (ids, "1,2") hold at least half of the stored bytes. */
static bool mostly_ours(exec *x, const char *ids)
{
    char *sql = NULL;
    sqlite3_stmt *st = NULL;
    bool yes = false;
    if (asprintf(&sql,
                 "SELECT COALESCE(SUM(CASE WHEN id IN (%s) THEN stored_bytes END), 0), "
                 "COALESCE(SUM(stored_bytes), 0) FROM log_groups",
                 ids) < 0)
        return false;
    if (sqlite3_prepare_v2(x->run->db, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        yes = sqlite3_column_int64(st, 0) * 2 >= sqlite3_column_int64(st, 1);
    sqlite3_finalize(st);
    free(sql);
    return yes;
}

static _Thread_local group **tl_order;

/* Newest event first, then first seen: the order an index scan newest-first finds them in. */
static int cmp_newest(const void *a, const void *b)
{
    const group *x = tl_order[*(const size_t *)a], *y = tl_order[*(const size_t *)b];
    if (x->newest != y->newest)
        return x->newest < y->newest ? 1 : -1;
    return (*(const size_t *)a > *(const size_t *)b) - (*(const size_t *)a < *(const size_t *)b);
}

static void order_groups(exec *x)
{
    if (x->n_groups < 2)
        return;
    size_t *idx = malloc((x->n_groups ? x->n_groups : 1) * sizeof *idx);
    group **o = malloc((x->n_groups ? x->n_groups : 1) * sizeof *o);
    if (!idx || !o) {
        free(idx);
        free(o);
        return; /* left in the order seen */
    }
    for (size_t i = 0; i < x->n_groups; i++)
        idx[i] = i;
    tl_order = x->order;
    qsort(idx, x->n_groups, sizeof *idx, cmp_newest);
    for (size_t i = 0; i < x->n_groups; i++)
        o[i] = x->order[idx[i]];
    memcpy(x->order, o, x->n_groups * sizeof *o);
    free(idx);
    free(o);
}

sky__ins_outcome sky__ins_execute(const sky__ins_query *q, const sky__ins_run *run,
                                  json_t **results, char *why, size_t cap)
{
    exec x = {.q = q, .run = run, .ns = q->n_syms, .why = why, .why_cap = cap};
    sky__ins_outcome outcome = SKY__INS_COMPLETE;
    sqlite3_stmt *st = NULL;
    stream_name *streams = NULL;
    char **logs = NULL;
    size_t n_streams = 0;
    *results = NULL;
    why[0] = '\0';
    for (size_t i = SKY__INS_NBUILTIN; i < q->n_syms; i++)
        if (q->from_json[i])
            x.w[x.n_w++] = (want){(int)i, q->names[i], strlen(q->names[i])};
    x.v = calloc(x.ns, sizeof *x.v);
    x.md = pcre2_match_data_create(64, NULL);
    x.mc = pcre2_match_context_create(NULL);
    logs = calloc(run->n_groups ? run->n_groups : 1, sizeof *logs);
    if (!x.v || !x.md || !x.mc || !logs) {
        fail(&x, "out of memory");
        goto out;
    }
    pcre2_set_match_limit(x.mc, REGEX_MATCH_LIMIT);
    pcre2_set_depth_limit(x.mc, REGEX_DEPTH_LIMIT);
    for (size_t g = 0; g < run->n_groups; g++)
        if (asprintf(&logs[g], "%s:%s", run->account_id, run->groups[g].name) < 0) {
            logs[g] = NULL;
            fail(&x, "out of memory");
            goto out;
        }
    streams = load_streams(&x, &n_streams);
    if (x.failed)
        goto out;

    /* Where the first command needing whole rows is, the scan's order, and when to stop. */
    size_t barrier = 0;
    while (barrier < q->n_cmds && streaming(q->cmds[barrier].kind))
        barrier++;
    bool asc = false;
    size_t stop_after = SIZE_MAX, after = barrier;
    if (barrier < q->n_cmds && q->cmds[barrier].kind == CMD_SORT &&
        q->cmds[barrier].n_items == 1 && q->cmds[barrier].items[0].src == SKY__INS_TS) {
        asc = !q->cmds[barrier].items[0].desc;
        after = barrier + 1; /* the scan's order is the sort */
    }
    if (after == q->n_cmds)
        stop_after = run->limit;
    else if (q->cmds[after].kind == CMD_LIMIT)
        stop_after = (size_t)q->cmds[after].limit;
    bool stats = barrier < q->n_cmds && q->cmds[barrier].kind == CMD_STATS;
    /* sort (not the scan's order) then limit: keep only the top rows while scanning */
    size_t topk = 0;
    if (after == barrier && barrier + 1 < q->n_cmds && q->cmds[barrier].kind == CMD_SORT &&
        q->cmds[barrier + 1].kind == CMD_LIMIT)
        topk = (size_t)q->cmds[barrier + 1].limit;
    if (stats)
        x.st = &q->cmds[barrier];

    char *sql = NULL;
    sky_buf ids = {0};
    for (size_t g = 0; g < run->n_groups; g++)
        sky__buf_printf(&ids, "%s%" PRId64, g ? "," : "", run->groups[g].id);
    /* A stats query needs no order: when the groups hold most of the store, reading the
     * table in its own order beats a lookup per event through the index ("+group_id" keeps
     * SQLite off it); its groups are then put newest first at the end, as an index scan
     * would have found them. */
    bool table_scan = stats && mostly_ours(&x, ids.p ? ids.p : "-1");
    const char *order = table_scan ? "" : asc ? "ORDER BY ts ASC, id ASC" : "ORDER BY ts DESC, id DESC";
    if (ids.oom || asprintf(&sql,
                            "SELECT id, ts, stream_id, message, group_id FROM events WHERE "
                            "%sgroup_id IN (%s) AND ts>=?1 AND ts<=?2 %s",
                            table_scan ? "+" : "", ids.p ? ids.p : "-1", order) < 0)
        sql = NULL;
    sky__buf_free(&ids);
    if (!sql) {
        fail(&x, "out of memory");
        goto out;
    }
    int rc = sqlite3_prepare_v2(run->db, sql, -1, &st, NULL);
    free(sql);
    if (rc != SQLITE_OK) {
        fail(&x, "store error: %s", sqlite3_errmsg(run->db));
        goto out;
    }
    sqlite3_bind_int64(st, 1, run->start_ms);
    sqlite3_bind_int64(st, 2, run->end_ms);
    uint64_t scanned = 0, bytes = 0, matched = 0;
    size_t gi = 0;
    while (!x.failed && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (++scanned % CHECK_EVERY == 0) {
            atomic_store_explicit(&run->stats->scanned, scanned, memory_order_relaxed);
            atomic_store_explicit(&run->stats->bytes, bytes, memory_order_relaxed);
            atomic_store_explicit(&run->stats->matched, matched, memory_order_relaxed);
            if (run->cancel && atomic_load(run->cancel)) {
                outcome = SKY__INS_CANCELLED;
                break;
            }
            if (run->deadline_ns && sky_monotonic_ns() >= run->deadline_ns) {
                outcome = SKY__INS_TIMEOUT;
                break;
            }
        }
        int64_t id = sqlite3_column_int64(st, 0), ts = sqlite3_column_int64(st, 1);
        int64_t gid = sqlite3_column_int64(st, 4);
        if (run->groups[gi].id != gid)
            for (gi = 0; gi + 1 < run->n_groups && run->groups[gi].id != gid; gi++)
                ;
        if (ts < run->groups[gi].min_ts) { /* hidden by the group's retention */
            scanned--;
            continue;
        }
        const char *msg = NULL;
        size_t mlen;
        if (q->needs_message) {
            msg = (const char *)sqlite3_column_text(st, 3);
            mlen = (size_t)sqlite3_column_bytes(st, 3);
            if (!msg)
                msg = "";
        } else {
            mlen = (size_t)sqlite3_column_bytes(st, 3); /* the text stays unread */
        }
        bytes += mlen;
        memset(x.v, 0, x.ns * sizeof *x.v);
        x.v[SKY__INS_TS] = (val){.kind = V_TIME, .num = (double)ts};
        if (msg)
            x.v[SKY__INS_MSG] = (val){.s = msg, .len = (uint32_t)mlen, .kind = V_STR};
        stream_name key = {sqlite3_column_int64(st, 2), NULL};
        stream_name *sn = n_streams ? bsearch(&key, streams, n_streams, sizeof key, cmp_stream)
                                    : NULL;
        if (sn)
            x.v[SKY__INS_STREAM] = (val){.s = sn->name, .len = (uint32_t)strlen(sn->name),
                                         .kind = V_STR};
        x.v[SKY__INS_LOG] = (val){.s = logs[gi], .len = (uint32_t)strlen(logs[gi]), .kind = V_STR};
        if (x.n_w && msg) {
            size_t i = 0;
            while (i < mlen && (msg[i] == ' ' || msg[i] == '\t' || msg[i] == '\n' || msg[i] == '\r'))
                i++;
            if (i < mlen && msg[i] == '{') {
                sky__buf_reset(&x.scratch);
                if (!sky__buf_reserve(&x.scratch, mlen + 1)) {
                    fail(&x, "out of memory");
                    break;
                }
                jx j = {.p = msg + i, .end = msg + mlen, .w = x.w, .n_w = x.n_w, .v = x.v,
                        .scratch = &x.scratch};
                if (!jx_value(&j, 0, 0))
                    for (size_t k = 0; k < x.n_w; k++) /* not JSON after all: no fields */
                        x.v[x.w[k].sym] = (val){0};
            }
        }
        bool pass = true;
        for (size_t ci = 0; ci < barrier && pass; ci++)
            pass = run_row_cmd(&x, x.v, &q->cmds[ci]);
        if (!pass)
            continue;
        matched++;
        if (stats) {
            if (!aggregate(&x, x.v))
                break;
        } else if (x.topk_bar && cmp_keys(&q->cmds[barrier], x.v, x.topk_bar) >= 0) {
            continue; /* cannot be among the top rows (a tie loses: it came later) */
        } else if (!keep_row(&x, x.v, id) || x.n_rows >= stop_after) {
            break;
        } else if (topk && x.n_rows >= 2 * topk && x.n_rows >= 1024) {
            compact_topk(&x, &q->cmds[barrier], topk);
        }
    }
    if (!x.failed && outcome == SKY__INS_COMPLETE && rc != SQLITE_ROW && rc != SQLITE_DONE)
        fail(&x, "store error: %s", sqlite3_errmsg(run->db));
    atomic_store_explicit(&run->stats->scanned, scanned, memory_order_relaxed);
    atomic_store_explicit(&run->stats->bytes, bytes, memory_order_relaxed);
    atomic_store_explicit(&run->stats->matched, matched, memory_order_relaxed);
    if (x.failed || outcome != SKY__INS_COMPLETE)
        goto out;
    if (stats) {
        if (table_scan)
            order_groups(&x);
        stats_rows(&x);
        barrier++;
    }
    run_kept(&x, stats ? barrier : after);
    if (!x.failed && !(*results = results_json(&x)))
        fail(&x, "out of memory");
out:
    if (x.failed)
        outcome = SKY__INS_FAILED;
    sqlite3_finalize(st);
    stats_free(&x);
    free(x.rows);
    free(streams);
    for (size_t g = 0; logs && g < run->n_groups; g++)
        free(logs[g]);
    free(logs);
    free(x.v);
    sky__buf_free(&x.scratch);
    sky__buf_free(&x.key);
    pcre2_match_data_free(x.md);
    pcre2_match_context_free(x.mc);
    arena_free(&x.ar);
    arena_free(&x.names);
    return outcome;
}
