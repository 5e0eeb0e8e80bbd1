/*
 * log_metrics.c - metrics from log events (seed 004's MetricsProcessor): a processor that, for
 * each event, applies rules - count the events matching a name glob and a level, histogram a
 * numeric field (duration_ms), set a gauge from a field (queue_size) - with dimensions taken
 * from the event (its name, level, logger, or any field).
 *
 * Series. A rule's instruments are one per distinct tuple of dimension values, kept in the
 * rule's own hash table so that an event costs a hash and a probe, not the registry's lock.
 * Dimension values come from the events, so their number is bounded: past max_series tuples a
 * rule records into one more series whose every dimension is "other", and counts the event as
 * an overflow. Totals therefore stay right while the number of CloudWatch metrics cannot run
 * away with a field that turns out to be an id.
 *
 * Processors of one pipeline never run concurrently (core), so the tables need no lock; the
 * instruments are recorded lock-free as any others. The rule text parser (one rule a string:
 * the YAML and SKYLOG_* form) is here too, with its limits applied before any allocation, and
 * has a fuzz target (tests/fuzz/fuzz_metrics_rules.c).
 */
#include "core/errmsg.h"
#include "core/pipeline.h"
#include "core/reserved.h"
#include "metrics/metrics_internal.h"

#include <fnmatch.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OTHER "other"
#define NONE "none"

/* ---- parsing a rule's text -------------------------------------------------------------------- */

static bool bad(char *err, size_t cap, const char *fmt, const char *a)
{
    snprintf(err, cap, fmt, a);
    return false;
}

/* A dimension or field name: 1-255 characters, none of them blank or '+'. */
static bool name_ok(const char *s, size_t n)
{
    if (n == 0 || n > SKY_METRIC_MAX_NAME)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == '+' || s[i] == '=')
            return false;
    return true;
}

void sky__log_rule_free(sky__log_rule *r)
{
    free(r->text);
    memset(r, 0, sizeof *r);
}

bool sky__log_rule_parse(const char *text, sky__log_rule *r, char *err, size_t cap)
{
    memset(r, 0, sizeof *r);
    size_t len = text ? strlen(text) : 0;
    if (len == 0 || len > SKY__LOG_RULE_MAX_TEXT)
        return bad(err, cap, "metrics rule: expected 1-%s characters", "4096");
    r->text = malloc(len + 1);
    if (!r->text)
        return bad(err, cap, "metrics rule: %s", "out of memory");
    memcpy(r->text, text, len + 1);
    char *save = NULL, *tok = strtok_r(r->text, " \t\n\r", &save);
    sky_log_metric_rule *o = &r->rule;
    if (!tok)
        goto empty;
    if (strcmp(tok, "count") == 0) {
        o->kind = SKY_METRIC_COUNTER;
    } else if (strcmp(tok, "histogram") == 0) {
        o->kind = SKY_METRIC_HISTOGRAM;
    } else if (strcmp(tok, "gauge") == 0) {
        o->kind = SKY_METRIC_GAUGE;
    } else {
        bad(err, cap, "metrics rule: '%.64s' is not count, histogram or gauge", tok);
        goto fail;
    }
    if (o->kind != SKY_METRIC_COUNTER) {
        tok = strtok_r(NULL, " \t\n\r", &save);
        if (!tok || strchr(tok, '=') || !name_ok(tok, strlen(tok))) {
            bad(err, cap, "metrics rule: %s needs the name of a numeric field after it",
                o->kind == SKY_METRIC_HISTOGRAM ? "histogram" : "gauge");
            goto fail;
        }
        o->field = tok;
    }
    while ((tok = strtok_r(NULL, " \t\n\r", &save))) {
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok || !eq[1]) {
            bad(err, cap, "metrics rule: expected key=value, got '%.64s'", tok);
            goto fail;
        }
        *eq = 0;
        const char *key = tok, *val = eq + 1;
        if (strcmp(key, "events") == 0) {
            o->events = val;
        } else if (strcmp(key, "level") == 0) {
            if (sky_level_parse(val, &o->min_level) != SKY_OK) {
                bad(err, cap, "metrics rule: unknown level '%.64s'", val);
                goto fail;
            }
        } else if (strcmp(key, "name") == 0) {
            if (!name_ok(val, strlen(val))) {
                bad(err, cap, "metrics rule: metric name '%.64s' must be 1-255 characters", val);
                goto fail;
            }
            o->name = val;
        } else if (strcmp(key, "unit") == 0) {
            if (sky_unit_parse(val, &o->unit) != SKY_OK) {
                bad(err, cap, "metrics rule: unknown unit '%.64s' (CloudWatch's: Milliseconds, "
                              "Bytes, Count, ...)", val);
                goto fail;
            }
        } else if (strcmp(key, "dims") == 0) {
            if (r->n_dims) {
                bad(err, cap, "metrics rule: %s given twice", "dims");
                goto fail;
            }
            if (strcmp(val, "none") == 0) {
                o->no_dims = true;
                continue;
            }
            for (char *p = (char *)val;;) {
                char *plus = strchr(p, '+');
                size_t n = plus ? (size_t)(plus - p) : strlen(p);
                if (r->n_dims == SKY_METRIC_MAX_DIMS || !name_ok(p, n)) {
                    bad(err, cap, "metrics rule: dims: at most 30 field names joined by '+', "
                                  "got '%.64s'", val);
                    goto fail;
                }
                p[n] = 0;
                r->dims[r->n_dims++] = p;
                if (!plus)
                    break;
                p = plus + 1;
            }
            r->dims[r->n_dims] = NULL;
            o->dims = r->dims;
        } else {
            bad(err, cap, "metrics rule: unknown key '%.64s' (events, level, name, unit, dims)",
                key);
            goto fail;
        }
    }
    return true;
empty:
    bad(err, cap, "metrics rule: %s", "empty");
fail:
    sky__log_rule_free(r);
    return false;
}

/* ---- the processor --------------------------------------------------------------------------- */

typedef struct series {
    uint64_t hash;
    char *key; /* the dimension values, each NUL-terminated, back to back */
    size_t key_len;
    sky_metric *m;
} series;

typedef struct rule {
    sky_metric_kind kind;
    char *field, *events, *name;
    sky_level min_level;
    sky_unit unit;
    char **dims;     /* the event fields */
    char **dim_names; /* their dimension names ("event" -> "Event") */
    size_t n_dims;
    char *scratch; /* the key being built: n_dims x (1024 + 1) bytes */
    series *tab; /* open addressing, cap a power of two > 2 max_series */
    size_t cap, n;
    sky_metric *other; /* the overflow series */
} rule;

struct sky_log_metrics {
    sky_metrics *m;
    char *ns;
    rule *rules;
    size_t n_rules, max_series;
    _Atomic uint64_t events, recorded, not_numeric, overflow, failed;
};

static uint64_t fnv(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h ? h : 1;
}

/* A dimension's value from the event, into buf (at most 1024 bytes, not cut inside a UTF-8
 * sequence); "none" when the event lacks it or it is empty. */
static size_t dim_value(const sky_event *ev, const char *field, char *buf, size_t cap)
{
    const char *s = NULL;
    size_t n = 0;
    char num[64];
    if (strcmp(field, "event") == 0) {
        s = sky_event_name(ev);
    } else if (strcmp(field, "level") == 0) {
        s = sky_level_name(sky_event_level(ev));
    } else if (strcmp(field, "logger") == 0) {
        s = sky_event_logger(ev);
    } else {
        const sky_field *f = sky_event_get(ev, field);
        if (f) {
            switch (f->type) {
            case SKY_T_STR:
                s = f->v.str.ptr;
                n = f->v.str.len;
                break;
            case SKY_T_INT: snprintf(num, sizeof num, "%" PRId64, f->v.i); s = num; break;
            case SKY_T_UINT: snprintf(num, sizeof num, "%" PRIu64, f->v.u); s = num; break;
            case SKY_T_F64: snprintf(num, sizeof num, "%.17g", f->v.f); s = num; break;
            case SKY_T_BOOL: s = f->v.b ? "true" : "false"; break;
            default: break;
            }
        }
    }
    if (s && !n)
        n = strlen(s);
    if (!s || !n) {
        s = NONE;
        n = strlen(NONE);
    }
    if (n > SKY_METRIC_MAX_DIM_VALUE) {
        n = SKY_METRIC_MAX_DIM_VALUE;
        while (n && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    if (n > cap)
        n = cap;
    memcpy(buf, s, n);
    return n;
}

static sky_metric *make_series(sky_log_metrics *lm, rule *r, const char *key, bool other)
{
    sky_dim dims[SKY_METRIC_MAX_DIMS];
    const char *p = key;
    for (size_t i = 0; i < r->n_dims; i++) {
        dims[i].name = r->dim_names[i];
        dims[i].value = other ? OTHER : p;
        p += strlen(p) + 1;
    }
    sky_metric *m = NULL;
    char *why = NULL; /* the rule was checked when added: only a limit or memory fails here */
    sky_metric_new(lm->m, &(sky_metric_opts){.ns = lm->ns, .name = r->name, .kind = r->kind,
                                            .unit = r->unit, .dims = dims, .n_dims = r->n_dims},
                   &m, &why);
    free(why);
    return m;
}

/* The rule's instrument for the event's dimension values. NULL on OOM. */
static sky_metric *series_for(sky_log_metrics *lm, rule *r, const sky_event *ev)
{
    if (!r->n_dims)
        return r->other;
    char *key = r->scratch;
    size_t len = 0;
    for (size_t i = 0; i < r->n_dims; i++) {
        len += dim_value(ev, r->dims[i], key + len, SKY_METRIC_MAX_DIM_VALUE);
        key[len++] = 0;
    }
    uint64_t h = fnv(key, len);
    size_t i = (size_t)h & (r->cap - 1);
    while (r->tab[i].hash) {
        if (r->tab[i].hash == h && r->tab[i].key_len == len && !memcmp(r->tab[i].key, key, len))
            return r->tab[i].m;
        i = (i + 1) & (r->cap - 1);
    }
    if (r->n >= lm->max_series) {
        atomic_fetch_add_explicit(&lm->overflow, 1, memory_order_relaxed);
        if (!r->other)
            r->other = make_series(lm, r, key, true);
        return r->other;
    }
    char *copy = malloc(len);
    sky_metric *m = copy ? make_series(lm, r, key, false) : NULL;
    if (!m) {
        free(copy);
        return NULL;
    }
    memcpy(copy, key, len);
    r->tab[i] = (series){h, copy, len, m};
    r->n++;
    return m;
}

static bool numeric(const sky_field *f, double *out)
{
    if (!f)
        return false;
    switch (f->type) {
    case SKY_T_INT: *out = (double)f->v.i; return true;
    case SKY_T_UINT: *out = (double)f->v.u; return true;
    case SKY_T_F64: *out = f->v.f; return f->v.f == f->v.f && f->v.f - f->v.f == 0;
    case SKY_T_DUR: *out = (double)f->v.ns / 1e6; return true; /* milliseconds */
    default: return false;
    }
}

static sky_proc_result run(void *user, sky_event *ev)
{
    sky_log_metrics *lm = user;
    atomic_fetch_add_explicit(&lm->events, 1, memory_order_relaxed);
    const char *name = sky_event_name(ev);
    sky_level level = sky_event_level(ev);
    for (size_t k = 0; k < lm->n_rules; k++) {
        rule *r = &lm->rules[k];
        if (level < r->min_level || (r->events && fnmatch(r->events, name, 0) != 0))
            continue;
        double v = 1;
        if (r->kind != SKY_METRIC_COUNTER) {
            const sky_field *f = sky_event_get(ev, r->field);
            if (!f)
                continue; /* the rule is about events that carry the field */
            if (!numeric(f, &v)) {
                atomic_fetch_add_explicit(&lm->not_numeric, 1, memory_order_relaxed);
                continue;
            }
        }
        sky_metric *m = series_for(lm, r, ev);
        if (!m) {
            atomic_fetch_add_explicit(&lm->failed, 1, memory_order_relaxed);
            continue;
        }
        if (r->kind == SKY_METRIC_COUNTER)
            sky_counter_add(m, 1);
        else if (r->kind == SKY_METRIC_HISTOGRAM)
            sky_histogram_record(m, v);
        else
            sky_gauge_set(m, v);
        atomic_fetch_add_explicit(&lm->recorded, 1, memory_order_relaxed);
    }
    return SKY_PROC_KEEP; /* the event goes on unchanged */
}

static void rule_free(rule *r)
{
    for (size_t i = 0; i < r->cap; i++)
        free(r->tab[i].key);
    free(r->tab);
    free(r->scratch);
    for (size_t i = 0; i < r->n_dims; i++) {
        free(r->dims[i]);
        free(r->dim_names[i]);
    }
    free(r->dims);
    free(r->dim_names);
    free(r->field);
    free(r->events);
    free(r->name);
}

static void lm_free(void *user)
{
    sky_log_metrics *lm = user;
    for (size_t i = 0; i < lm->n_rules; i++)
        rule_free(&lm->rules[i]);
    free(lm->rules);
    free(lm->ns);
    free(lm);
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

/* The dimension name of a field: the event's own as CloudWatch spells dimensions. */
static const char *dim_name(const char *field)
{
    if (strcmp(field, "event") == 0)
        return "Event";
    if (strcmp(field, "level") == 0)
        return "Level";
    if (strcmp(field, "logger") == 0)
        return "Logger";
    return field;
}

static sky_status fail(char **errmsg, sky_status st, const char *fmt, const char *a)
{
    if (errmsg) {
        char m[512];
        snprintf(m, sizeof m, fmt, a ? a : "");
        *errmsg = strdup(m);
    }
    return st;
}

/* Validates the rule and makes its instrument once with placeholder dimension values, so a
 * name, unit or dimension CloudWatch would refuse is an error now, not a silent loss later. */
static sky_status rule_init(sky_log_metrics *lm, rule *r, const sky_log_metric_rule *o,
                            char **errmsg)
{
    static const char *const def_dims[] = {"event", NULL};
    if ((unsigned)o->kind >= SKY_METRIC_KIND_COUNT_)
        return fail(errmsg, SKY_EINVAL, "metrics processor: unknown rule kind%s", NULL);
    if (o->kind != SKY_METRIC_COUNTER && (!o->field || !*o->field))
        return fail(errmsg, SKY_EINVAL, "metrics processor: a %s rule needs a field",
                    o->kind == SKY_METRIC_HISTOGRAM ? "histogram" : "gauge");
    r->kind = o->kind;
    r->min_level = o->min_level;
    r->unit = o->unit ? o->unit : o->kind == SKY_METRIC_COUNTER ? SKY_UNIT_COUNT : SKY_UNIT_NONE;
    r->field = dup_or_null(o->field);
    r->events = dup_or_null(o->events && strcmp(o->events, "*") ? o->events : NULL);
    r->name = strdup(o->name ? o->name : o->kind == SKY_METRIC_COUNTER ? "EventCount" : o->field);
    const char *const *dims = o->no_dims ? NULL : o->dims ? o->dims : def_dims;
    while (dims && dims[r->n_dims])
        r->n_dims++;
    if (r->n_dims > SKY_METRIC_MAX_DIMS)
        return fail(errmsg, SKY_EINVAL, "metrics processor: %s: at most 30 dimensions", r->name);
    r->dims = calloc(r->n_dims + 1, sizeof *r->dims);
    r->dim_names = calloc(r->n_dims + 1, sizeof *r->dim_names);
    if (!r->name || !r->dims || !r->dim_names || (o->field && !r->field) ||
        (r->events == NULL && o->events && strcmp(o->events, "*")))
        return SKY_ENOMEM;
    for (size_t i = 0; i < r->n_dims; i++) {
        r->dims[i] = strdup(dims[i]);
        r->dim_names[i] = strdup(dim_name(dims[i]));
        if (!r->dims[i] || !r->dim_names[i])
            return SKY_ENOMEM;
    }
    r->cap = 16;
    while (r->cap < 2 * lm->max_series + 1)
        r->cap *= 2;
    r->tab = calloc(r->cap, sizeof *r->tab);
    r->scratch = malloc(r->n_dims * (SKY_METRIC_MAX_DIM_VALUE + 1) + 1);
    if (!r->tab || !r->scratch)
        return SKY_ENOMEM;
    sky_dim probe[SKY_METRIC_MAX_DIMS];
    for (size_t i = 0; i < r->n_dims; i++)
        probe[i] = (sky_dim){r->dim_names[i], OTHER};
    sky_metric *m;
    char *why = NULL;
    sky_status st = sky_metric_new(lm->m, &(sky_metric_opts){.ns = lm->ns, .name = r->name,
                                                            .kind = r->kind, .unit = r->unit,
                                                            .dims = probe, .n_dims = r->n_dims},
                                   &m, &why);
    if (st != SKY_OK) {
        st = fail(errmsg, st, "metrics processor: %s", why ? why : sky_strerror(st));
        free(why);
        return st;
    }
    if (!r->n_dims)
        r->other = m; /* the rule's one series */
    return SKY_OK;
}

static sky_status add_log_metrics_body(sky_t *sky, const sky_log_metrics_opts *opts,
                                       sky_log_metrics **out, char **errmsg)
{
    if (errmsg)
        *errmsg = NULL;
    if (out)
        *out = NULL;
    if (!sky || !opts || !opts->n_rules || !opts->rules || !opts->ns || !*opts->ns)
        return fail(errmsg, SKY_EINVAL,
                    "metrics processor: a namespace and at least one rule are required%s", NULL);
    if (SKY__CHECK_RESERVED(opts, sky_log_metrics_opts, sky, errmsg) != SKY_OK)
        return SKY_EINVAL;
    if (opts->max_series > 100000)
        return fail(errmsg, SKY_EINVAL, "metrics processor: max_series is at most 100000%s",
                    NULL);
    sky_log_metrics *lm = calloc(1, sizeof *lm);
    if (!lm)
        return SKY_ENOMEM;
    lm->m = opts->metrics ? opts->metrics : sky_metrics_default();
    lm->max_series = opts->max_series ? opts->max_series : 100;
    lm->ns = strdup(opts->ns);
    lm->rules = calloc(opts->n_rules, sizeof *lm->rules);
    sky_status st = lm->ns && lm->rules && lm->m ? SKY_OK : SKY_ENOMEM;
    for (size_t i = 0; st == SKY_OK && i < opts->n_rules; i++) {
        lm->n_rules = i + 1;
        st = rule_init(lm, &lm->rules[i], &opts->rules[i], errmsg);
    }
    if (st != SKY_OK) {
        lm_free(lm);
        return errmsg && !*errmsg ? fail(errmsg, st, "metrics processor: %s", sky_strerror(st))
                                  : st;
    }
    st = sky_add_processor(sky, "metrics", run, lm, lm_free); /* frees lm on failure */
    if (st == SKY_OK && out)
        *out = lm;
    return st;
}

sky_status sky_add_log_metrics(sky_t *sky, const sky_log_metrics_opts *opts,
                               sky_log_metrics **out, char **errmsg)
{
    char *mine = NULL;
    sky_status st = add_log_metrics_body(sky, opts, out, errmsg ? errmsg : &mine);
    return sky__errmsg_route(sky, st, mine);
}

sky_log_metrics *sky_log_metrics_get(sky_t *sky, size_t i)
{
    return sky__processor_user(sky, i, run);
}

sky_status sky_log_metrics_stats_get(sky_log_metrics *lm, sky_log_metrics_stats *out)
{
    if (!lm || !out)
        return SKY_EINVAL;
    memset(out, 0, sizeof *out); /* reserved_ included (docs/COMPATIBILITY.md) */
    out->events = atomic_load(&lm->events);
    out->recorded = atomic_load(&lm->recorded);
    out->not_numeric = atomic_load(&lm->not_numeric);
    out->overflow = atomic_load(&lm->overflow);
    out->failed = atomic_load(&lm->failed);
    return SKY_OK;
}
