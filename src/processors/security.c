/*
 * security.c - the security monitor: per-key sliding windows and thresholds that turn
 * brute-force logins and request floods into `security_alert` events (docs/SECURITY_MONITOR.md).
 *
 * Window. A key keeps the times of its last `threshold` events in a ring; the rule fires when
 * the ring is full and its oldest time is within window_ms of the newest - exactly "at least N
 * events in any window of W", with N timestamps of memory per key and no timer.
 *
 * Memory. Each rule has a hash table (chained, bucket array fixed at 2 x max_keys) and an LRU
 * list of its keys. A new key when max_keys are tracked evicts the least recently seen one, so
 * a flood of distinct keys (1M spoofed IPs) costs a constant amount of memory: one allocation
 * per key, freed on eviction. Every eviction is counted, in the stats and in the next alert
 * (an evicted key's window starts again: an attacker spreading over more keys than max_keys
 * can delay an alert, and the evictions say so).
 *
 * Alerts are derived events (sky_emit_derived): in sync mode this processor runs under the
 * pipeline lock and cannot log. The monitor ignores `security_alert` events, its own included.
 */
#include "core/reserved.h"
#include "core/logger.h"
#include "core/pipeline.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEY_BYTES 256
#define MAX_RULES 64
#define MAX_RULE_TEXT 512
#define ALERT_NAME "security_alert"

typedef struct key_ent {
    struct key_ent *chain;       /* next in its bucket */
    struct key_ent *newer, *older; /* LRU list */
    uint64_t hash;
    uint64_t total;              /* events of this key since it was tracked */
    uint64_t suppressed;         /* alerts held back by the cooldown since the last one */
    int64_t quiet_until_ns;
    uint32_t head, n;            /* the ring of times: ts[head] is the oldest when n == cap */
    uint16_t key_len;
    char *key;                   /* points after ts[] */
    int64_t ts[];
} key_ent;

typedef struct rule {
    char *name, *event, *key; /* event NULL: any */
    uint32_t threshold;
    int64_t window_ns;
    key_ent **buckets;
    size_t n_buckets; /* a power of two */
    key_ent *newest, *oldest;
    size_t n_keys;
    uint64_t evictions;
} rule;

struct sky_security_monitor {
    rule *rules;
    size_t n_rules;
    size_t max_keys;
    int64_t cooldown_ns; /* < 0: the rule's window */
    sky_logger *log;
    sky_level level;
    char *time_field;
    _Atomic uint64_t counted, alerts, suppressed, evictions, tracked, no_key;
};

/* ---- rules as text ------------------------------------------------------------------------ */

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* A word of [A-Za-z0-9_.*-]; copies it to *dst (NUL-terminated), returns past it or NULL. */
static const char *word(const char *p, char **dst, char **buf, char *end)
{
    p = skip_ws(p);
    const char *s = p;
    while (isalnum((unsigned char)*p) || *p == '_' || *p == '.' || *p == '-' || *p == '*')
        p++;
    size_t n = (size_t)(p - s);
    if (!n || (size_t)(end - *buf) < n + 1)
        return NULL;
    memcpy(*buf, s, n);
    (*buf)[n] = '\0';
    *dst = *buf;
    *buf += n + 1;
    return p;
}

static const char *keyword(const char *p, const char *kw)
{
    p = skip_ws(p);
    size_t n = strlen(kw);
    return strncmp(p, kw, n) == 0 ? p + n : NULL;
}

bool sky_security_rule_parse(const char *text, sky_security_rule *out, char *out_buf, size_t cap,
                             char *err, size_t errcap)
{
    memset(out, 0, sizeof *out);
#define BAD(...)                                                                                   \
    do {                                                                                           \
        snprintf(err, errcap, __VA_ARGS__);                                                        \
        return false;                                                                              \
    } while (0)
    if (!text || !out_buf)
        BAD("no rule");
    size_t len = strnlen(text, MAX_RULE_TEXT + 1);
    if (len > MAX_RULE_TEXT)
        BAD("a rule is at most %d characters", MAX_RULE_TEXT);
    if (cap < len + 1)
        BAD("rule buffer too small");
    char *buf = out_buf, *end = out_buf + cap;
    char *name, *event, *key, *tail;
    const char *p = word(text, &name, &buf, end);
    if (!p || !(p = keyword(p, ":")))
        BAD("expected 'NAME: EVENT by KEY >= N in WINDOW', e.g. 'brute_force: login_failed by "
            "user >= 5 in 5m' (got '%.80s')", text);
    if (!(p = word(p, &event, &buf, end)) || !(p = keyword(p, "by ")))
        BAD("'%.80s': expected 'EVENT by KEY' after the name", text);
    if (!(p = word(p, &key, &buf, end)) || strchr(key, '*'))
        BAD("'%.80s': expected a field name after 'by'", text);
    if (!(p = keyword(p, ">=")))
        BAD("'%.80s': expected '>= N' after the key", text);
    p = skip_ws(p);
    char *num_end;
    unsigned long n = strtoul(p, &num_end, 10);
    if (num_end == p || !isdigit((unsigned char)*p) || n < 1 || n > 10000)
        BAD("'%.80s': the threshold must be 1..10000", text);
    p = num_end;
    if (!(p = keyword(p, "in")))
        BAD("'%.80s': expected 'in WINDOW' after the threshold", text);
    p = skip_ws(p);
    double w = strtod(p, &tail);
    if (tail == p || !(w > 0))
        BAD("'%.80s': expected a window such as 30s, 5m, 1h", text);
    int64_t unit = 0;
    const char *u = tail;
    if (strncmp(u, "ms", 2) == 0)
        unit = 1, u += 2;
    else if (*u == 's')
        unit = 1000, u++;
    else if (*u == 'm')
        unit = 60000, u++;
    else if (*u == 'h')
        unit = 3600000, u++;
    else if (*u == 'd')
        unit = 86400000, u++;
    double ms = w * (double)unit;
    if (!unit || *skip_ws(u) || !(ms >= 1) || ms > 7.0 * 86400000)
        BAD("'%.80s': the window must be 1ms..7d with a unit (ms, s, m, h, d)", text);
    out->name = name;
    out->event = strcmp(event, "*") == 0 ? NULL : event;
    out->key = key;
    out->threshold = (uint32_t)n;
    out->window_ms = (int64_t)ms;
    return true;
#undef BAD
}

/* ---- keys ---------------------------------------------------------------------------------- */

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h ^ (h >> 29);
}

static void lru_unlink(rule *r, key_ent *e)
{
    if (e->newer)
        e->newer->older = e->older;
    else
        r->newest = e->older;
    if (e->older)
        e->older->newer = e->newer;
    else
        r->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void lru_push(rule *r, key_ent *e)
{
    e->older = r->newest;
    e->newer = NULL;
    if (r->newest)
        r->newest->newer = e;
    r->newest = e;
    if (!r->oldest)
        r->oldest = e;
}

static void drop_key(rule *r, key_ent *e)
{
    key_ent **pp = &r->buckets[e->hash & (r->n_buckets - 1)];
    while (*pp != e)
        pp = &(*pp)->chain;
    *pp = e->chain;
    lru_unlink(r, e);
    r->n_keys--;
    free(e);
}

/* The entry for a key, made (evicting the least recently seen when full) if new. */
static key_ent *find_key(sky_security_monitor *m, rule *r, const char *k, size_t n)
{
    uint64_t h = hash_bytes(k, n);
    for (key_ent *e = r->buckets[h & (r->n_buckets - 1)]; e; e = e->chain)
        if (e->hash == h && e->key_len == n && memcmp(e->key, k, n) == 0) {
            lru_unlink(r, e);
            lru_push(r, e);
            return e;
        }
    if (r->n_keys >= m->max_keys && r->oldest) {
        drop_key(r, r->oldest);
        r->evictions++;
        atomic_fetch_add_explicit(&m->evictions, 1, memory_order_relaxed);
        atomic_fetch_sub_explicit(&m->tracked, 1, memory_order_relaxed);
    }
    key_ent *e = calloc(1, sizeof *e + r->threshold * sizeof(int64_t) + n + 1);
    if (!e)
        return NULL;
    e->hash = h;
    e->key_len = (uint16_t)n;
    e->key = (char *)(e->ts + r->threshold);
    memcpy(e->key, k, n);
    e->chain = r->buckets[h & (r->n_buckets - 1)];
    r->buckets[h & (r->n_buckets - 1)] = e;
    lru_push(r, e);
    r->n_keys++;
    atomic_fetch_add_explicit(&m->tracked, 1, memory_order_relaxed);
    return e;
}

/* ---- the processor ------------------------------------------------------------------------- */

/* The key field's value as text: strings as they are (cut at MAX_KEY_BYTES), integers in
 * decimal; other types are not keys. */
static bool key_text(const sky_field *f, char *tmp, const char **k, size_t *n)
{
    switch (f->type) {
    case SKY_T_STR:
        *k = f->v.str.ptr;
        *n = f->v.str.len < MAX_KEY_BYTES ? f->v.str.len : MAX_KEY_BYTES;
        return true;
    case SKY_T_INT:
        *n = (size_t)snprintf(tmp, 32, "%lld", (long long)f->v.i);
        *k = tmp;
        return true;
    case SKY_T_UINT:
        *n = (size_t)snprintf(tmp, 32, "%llu", (unsigned long long)f->v.u);
        *k = tmp;
        return true;
    default:
        return false;
    }
}

static int64_t event_time(const sky_security_monitor *m, const sky_event *ev)
{
    if (m->time_field) {
        const sky_field *f = sky_event_get(ev, m->time_field);
        if (f && f->type == SKY_T_TIME)
            return f->v.ns;
        if (f && f->type == SKY_T_INT)
            return f->v.i * 1000000;
        if (f && f->type == SKY_T_UINT && f->v.u < (uint64_t)INT64_MAX / 1000000)
            return (int64_t)f->v.u * 1000000;
    }
    return sky_event_time_ns(ev);
}

static void alert(sky_security_monitor *m, rule *r, key_ent *e, const char *k, size_t kn,
                  int64_t first, int64_t last)
{
    sky_field f[] = {
        sky_field_str("alert", r->name),
        sky_field_str("event", r->event ? r->event : "*"),
        sky_field_str("key", r->key),
        sky_field_strn(r->key, k, kn),
        sky_field_uint("count", r->threshold),
        sky_field_uint("threshold", r->threshold),
        sky_field_int("window_ms", r->window_ns / 1000000),
        sky_field_time("first_seen", first),
        sky_field_time("last_seen", last),
        sky_field_uint("key_total", e->total),
        sky_field_uint("suppressed", e->suppressed),
        sky_field_uint("evicted_keys", r->evictions),
    };
    if (sky_emit_derived(m->log, m->level, ALERT_NAME, f, sizeof f / sizeof *f) == SKY_OK) {
        atomic_fetch_add_explicit(&m->alerts, 1, memory_order_relaxed);
        e->suppressed = 0;
    }
}

static sky_proc_result monitor_run(void *user, sky_event *ev)
{
    sky_security_monitor *m = user;
    const char *name = sky_event_name(ev);
    if (strcmp(name, ALERT_NAME) == 0)
        return SKY_PROC_KEEP;
    int64_t now = -1;
    for (size_t i = 0; i < m->n_rules; i++) {
        rule *r = &m->rules[i];
        if (r->event && strcmp(r->event, name) != 0)
            continue;
        const sky_field *f = sky_event_get(ev, r->key);
        char tmp[32];
        const char *k;
        size_t kn;
        if (!f || !key_text(f, tmp, &k, &kn)) {
            if (r->event) /* an event of the rule's name without its key */
                atomic_fetch_add_explicit(&m->no_key, 1, memory_order_relaxed);
            continue;
        }
        if (now < 0)
            now = event_time(m, ev);
        key_ent *e = find_key(m, r, k, kn);
        if (!e)
            return SKY_PROC_FAILED; /* out of memory: counted as the processor's failure */
        atomic_fetch_add_explicit(&m->counted, 1, memory_order_relaxed);
        e->total++;
        uint32_t cap = r->threshold;
        if (e->n < cap) {
            e->ts[(e->head + e->n) % cap] = now;
            e->n++;
        } else {
            e->ts[e->head] = now; /* the oldest goes */
            e->head = (e->head + 1) % cap;
        }
        if (e->n < cap)
            continue;
        int64_t first = e->ts[e->head];
        if (now - first > r->window_ns)
            continue;
        if (now < e->quiet_until_ns) {
            e->suppressed++;
            atomic_fetch_add_explicit(&m->suppressed, 1, memory_order_relaxed);
            continue;
        }
        alert(m, r, e, k, kn, first, now);
        e->quiet_until_ns = now + (m->cooldown_ns >= 0 ? m->cooldown_ns : r->window_ns);
    }
    return SKY_PROC_KEEP;
}

static void monitor_free(void *user)
{
    sky_security_monitor *m = user;
    if (!m)
        return;
    for (size_t i = 0; i < m->n_rules; i++) {
        rule *r = &m->rules[i];
        while (r->oldest)
            drop_key(r, r->oldest);
        free(r->buckets);
        free(r->name);
        free(r->event);
        free(r->key);
    }
    free(m->rules);
    free(m->time_field);
    free(m);
}

static bool add_rule(sky_security_monitor *m, const sky_security_rule *s)
{
    if (!s->name || !*s->name || !s->key || !*s->key || s->threshold < 1 ||
        s->threshold > 10000 || s->window_ms < 1 || s->window_ms > 7 * 86400000LL ||
        m->n_rules == MAX_RULES)
        return false;
    rule *r = &m->rules[m->n_rules];
    memset(r, 0, sizeof *r);
    r->name = strdup(s->name);
    r->key = strdup(s->key);
    r->event = s->event && strcmp(s->event, "*") != 0 ? strdup(s->event) : NULL;
    r->threshold = s->threshold;
    r->window_ns = s->window_ms * 1000000;
    size_t nb = 16;
    while (nb < 2 * m->max_keys)
        nb *= 2;
    r->n_buckets = nb;
    r->buckets = calloc(nb, sizeof *r->buckets);
    m->n_rules++; /* freed by monitor_free from here on */
    return r->name && r->key && (!s->event || !strcmp(s->event, "*") || r->event) && r->buckets;
}

sky_status sky_add_security_monitor(sky_t *sky, const sky_security_opts *opts,
                                    sky_security_monitor **out)
{
    static const char *const defaults[] = {"brute_force: login_failed by user >= 5 in 5m",
                                           "rate_abuse: * by ip >= 100 in 1m", NULL};
    sky_security_opts o = opts ? *opts : (sky_security_opts){0};
    if (!sky || (o.n_rules && !o.rules) || o.max_keys > 10000000 ||
        (o.level && ((unsigned)o.level >= SKY_LEVEL_OFF)))
        return SKY_EINVAL;
    if (SKY__CHECK_RESERVED(&o, sky_security_opts, sky, NULL) != SKY_OK)
        return SKY_EINVAL;
    const char *const *specs = o.rule_specs;
    if (!o.n_rules && !specs)
        specs = defaults;
    size_t n_specs = 0;
    while (specs && specs[n_specs])
        n_specs++;
    if (o.n_rules + n_specs == 0 || o.n_rules + n_specs > MAX_RULES)
        return SKY_EINVAL;
    sky_security_monitor *m = calloc(1, sizeof *m);
    if (!m)
        return SKY_ENOMEM;
    m->max_keys = o.max_keys ? o.max_keys : 10000;
    /* 0: unset, the rule's window; < 0: none */
    m->cooldown_ns = o.cooldown_ms > 0 ? o.cooldown_ms * 1000000 : o.cooldown_ms < 0 ? 0 : -1;
    m->level = o.level ? o.level : SKY_LEVEL_WARN;
    m->log = sky__logger_get(sky, o.logger ? o.logger : "security");
    m->rules = calloc(o.n_rules + n_specs, sizeof *m->rules);
    m->time_field = o.time_field ? strdup(o.time_field) : NULL;
    sky_status st = SKY_OK;
    if (!m->log || !m->rules || (o.time_field && !m->time_field))
        st = SKY_ENOMEM;
    for (size_t i = 0; st == SKY_OK && i < o.n_rules; i++)
        if (!add_rule(m, &o.rules[i]))
            st = SKY_EINVAL;
    for (size_t i = 0; st == SKY_OK && i < n_specs; i++) {
        char buf[MAX_RULE_TEXT + 1], err[200];
        sky_security_rule r;
        if (!sky_security_rule_parse(specs[i], &r, buf, sizeof buf, err, sizeof err) ||
            !add_rule(m, &r))
            st = SKY_EINVAL;
    }
    for (size_t i = 0; st == SKY_OK && i < m->n_rules; i++)
        if ((uint64_t)m->max_keys * m->rules[i].threshold > 100000000)
            st = SKY_EINVAL; /* max_keys x threshold times: at most 800 MB a rule */
    if (st != SKY_OK) {
        monitor_free(m);
        return st;
    }
    st = sky_add_processor(sky, "security_monitor", monitor_run, m, monitor_free);
    if (st == SKY_OK && out)
        *out = m;
    return st;
}

sky_security_monitor *sky_security_monitor_get(sky_t *sky, size_t i)
{
    return sky__processor_user(sky, i, monitor_run);
}

void sky_security_stats_get(const sky_security_monitor *m, sky_security_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!m)
        return;
    sky_security_monitor *w = (sky_security_monitor *)m; /* atomics are read, not changed */
    out->counted = atomic_load_explicit(&w->counted, memory_order_relaxed);
    out->alerts = atomic_load_explicit(&w->alerts, memory_order_relaxed);
    out->suppressed = atomic_load_explicit(&w->suppressed, memory_order_relaxed);
    out->evictions = atomic_load_explicit(&w->evictions, memory_order_relaxed);
    out->tracked = atomic_load_explicit(&w->tracked, memory_order_relaxed);
    out->no_key = atomic_load_explicit(&w->no_key, memory_order_relaxed);
}
