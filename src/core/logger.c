/*
 * logger.c - named loggers, their levels, and bound child loggers.
 *
 * Loggers are looked up by name under a mutex and then cached by the caller, so the registry is
 * a plain list. Each logger stores its *effective* level in an atomic the level check reads;
 * setting a level recomputes every logger's effective level (rare; one pass over the loggers
 * with a hash table of the explicit levels, recompute_levels_hashed). Inheritance
 * is by dotted prefix: "app.db" takes "app"'s level unless it has its own.
 */
#include "core/pipeline.h"
#include "util/text.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Returned when a logger cannot be allocated: its level check always fails. */
static sky_logger null_logger = {.hdr = {.level = INT_MAX}, .name = "", .explicit_level = -1};

/* True if `anc` is `name` or a dotted ancestor of it ("" is everyone's ancestor). */
static bool is_ancestor(const char *anc, const char *name)
{
    size_t al = strlen(anc);
    if (al == 0)
        return true;
    return strncmp(anc, name, al) == 0 && (name[al] == '\0' || name[al] == '.');
}

static int effective_level(sky_t *sky, const sky_logger *log)
{
    /* nearest registered ancestor (longest name) with an explicit level */
    int level = sky->root->explicit_level;
    size_t best = 0;
    for (sky_logger *l = sky->loggers; l; l = l->next) {
        if (l->explicit_level < 0 || !is_ancestor(l->name, log->name))
            continue;
        size_t len = strlen(l->name);
        if (len >= best) {
            best = len;
            level = l->explicit_level;
        }
    }
    return level;
}

static uint64_t name_hash(const char *s, size_t len) { return sky__fnv1a64(s, len); }

/* The logger of `tab` (a table of `mask + 1` slots, linear probing) named s[0..len), or NULL. */
static sky_logger *table_find(sky_logger **tab, size_t mask, uint64_t h, const char *s, size_t len)
{
    for (size_t i = (size_t)h & mask; tab[i]; i = (i + 1) & mask)
        if (tab[i]->name_len == len && memcmp(tab[i]->name, s, len) == 0)
            return tab[i];
    return NULL;
}

/* Every logger's effective level, as effective_level() would give it, in one pass: the loggers
 * with an explicit level go into a hash table by name, and each logger looks up its dotted
 * prefixes (the only ancestors is_ancestor() accepts) left to right, the FNV state carried along
 * so a name is hashed once; the last hit is the nearest ancestor. O(loggers + the names'
 * length) per sky_set_level, where calling effective_level() for each was O(loggers^2): a
 * service with thousands of loggers changing a level at run time would stall its registry. */
static bool recompute_levels_hashed(sky_t *sky)
{
    size_t n = 0, cap = 8;
    for (sky_logger *l = sky->loggers; l; l = l->next)
        n += l->explicit_level >= 0;
    while (cap < 2 * n)
        cap *= 2;
    sky_logger **tab = calloc(cap, sizeof *tab);
    if (!tab)
        return false;
    size_t mask = cap - 1;
    for (sky_logger *l = sky->loggers; l; l = l->next) {
        if (l->explicit_level < 0)
            continue;
        size_t i = (size_t)name_hash(l->name, l->name_len) & mask;
        while (tab[i])
            i = (i + 1) & mask;
        tab[i] = l;
    }
    for (sky_logger *l = sky->loggers; l; l = l->next) {
        int level = sky->root->explicit_level;
        uint64_t h = name_hash("", 0);
        for (size_t k = 0;; k++) {
            if (k == l->name_len || l->name[k] == '.') {
                sky_logger *a = table_find(tab, mask, h, l->name, k);
                if (a)
                    level = a->explicit_level;
            }
            if (k == l->name_len)
                break;
            h = (h ^ (unsigned char)l->name[k]) * 1099511628211ull;
        }
        atomic_store_explicit(&l->hdr.level, level, memory_order_relaxed);
    }
    free(tab);
    return true;
}

static void recompute_levels(sky_t *sky)
{
    if (!recompute_levels_hashed(sky)) /* out of memory: the same levels, the slow way */
        for (sky_logger *l = sky->loggers; l; l = l->next)
            atomic_store_explicit(&l->hdr.level, effective_level(sky, l), memory_order_relaxed);
    for (sky_logger *b = sky->bound_loggers; b; b = b->next)
        atomic_store_explicit(&b->hdr.level, atomic_load(&b->base->hdr.level),
                              memory_order_relaxed);
}

static sky_logger *find_logger(sky_t *sky, const char *name)
{
    for (sky_logger *l = sky->loggers; l; l = l->next)
        if (strcmp(l->name, name) == 0)
            return l;
    return NULL;
}

static sky_logger *create_logger(sky_t *sky, const char *name)
{
    sky_logger *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->name = strdup(name);
    if (!l->name) {
        free(l);
        return NULL;
    }
    l->name_len = strlen(name);
    l->sky = sky;
    l->explicit_level = -1;
    if (sky->async)
        sky__async_logger_init(sky, l);
    l->next = sky->loggers;
    sky->loggers = l;
    return l;
}

/* Called by sky_open() under no lock (the pipeline is not shared yet). */
sky_logger *sky__logger_root(sky_t *sky, sky_level level);
sky_logger *sky__logger_root(sky_t *sky, sky_level level)
{
    sky_logger *root = create_logger(sky, "");
    if (!root)
        return NULL;
    root->explicit_level = (int)level;
    atomic_store(&root->hdr.level, (int)level);
    sky->root = root;
    return root;
}

sky_logger *sky__logger_get(sky_t *sky, const char *name)
{
    if (!sky)
        return &null_logger;
    if (!name)
        name = "";
    pthread_mutex_lock(&sky->reg_lock);
    sky_logger *l = find_logger(sky, name);
    if (!l) {
        l = create_logger(sky, name);
        if (l)
            atomic_store_explicit(&l->hdr.level, effective_level(sky, l), memory_order_relaxed);
    }
    pthread_mutex_unlock(&sky->reg_lock);
    return l ? l : &null_logger;
}

sky_status sky__set_level(sky_t *sky, const char *name, sky_level level)
{
    if ((unsigned)level >= SKY_LEVEL_COUNT_)
        return SKY_EINVAL;
    if (!sky)
        return SKY_ENOMEM;
    if (!name)
        name = "";
    pthread_mutex_lock(&sky->reg_lock);
    sky_logger *l = find_logger(sky, name);
    if (!l)
        l = create_logger(sky, name);
    if (!l) {
        pthread_mutex_unlock(&sky->reg_lock);
        return SKY_ENOMEM;
    }
    l->explicit_level = (int)level;
    recompute_levels(sky);
    pthread_mutex_unlock(&sky->reg_lock);
    return SKY_OK;
}

sky_status sky_logger_set_level(sky_logger *log, sky_level level)
{
    if (!log || log == &null_logger)
        return SKY_EINVAL;
    sky_logger *base = log->bound ? log->base : log;
    return sky__set_level(base->sky, base->name, level);
}

sky_level sky_logger_level(const sky_logger *log)
{
    int l = atomic_load_explicit(&log->hdr.level, memory_order_relaxed);
    return l > SKY_LEVEL_OFF ? SKY_LEVEL_OFF : (sky_level)l;
}

const char *sky_logger_name(const sky_logger *log) { return log->name; }

/* Deep copy of fields into one allocation: [fields][keys and strings]. */
static sky_field *copy_fields(const sky_field *a, size_t na, const sky_field *b, size_t nb,
                              size_t *out_n)
{
    size_t bytes = 0, n = 0;
    const sky_field *src[2] = {a, b};
    size_t cnt[2] = {na, nb};
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < cnt[s]; i++) {
            const sky_field *f = &src[s][i];
            if (!f->key || f->type == SKY_T_NONE || f->type >= SKY_T_COUNT_)
                continue;
            n++;
            bytes += (size_t)f->key_len + 1; /* key_len is the key's length; it need not end in NUL */
            if (f->type == SKY_T_STR || f->type == SKY_T_JSON)
                bytes += f->v.str.len + 1;
        }
    sky_field *out = malloc(n * sizeof *out + bytes + 1);
    if (!out)
        return NULL;
    char *p = (char *)(out + n);
    size_t w = 0;
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < cnt[s]; i++) {
            const sky_field *f = &src[s][i];
            if (!f->key || f->type == SKY_T_NONE || f->type >= SKY_T_COUNT_)
                continue;
            sky_field c = *f;
            size_t kl = f->key_len;
            memcpy(p, f->key, kl);
            p[kl] = '\0';
            c.key = p;
            c.key_len = (uint32_t)kl;
            p += kl + 1;
            if (f->type == SKY_T_STR || f->type == SKY_T_JSON) {
                if (f->v.str.len)
                    memcpy(p, f->v.str.ptr, f->v.str.len);
                p[f->v.str.len] = '\0';
                c.v.str.ptr = p;
                p += f->v.str.len + 1;
            }
            out[w++] = c;
        }
    *out_n = n;
    return out;
}

sky_logger *sky_logger_bind(sky_logger *parent, const sky_field *fields, size_t n)
{
    if (!parent || parent == &null_logger || (!fields && n))
        return NULL;
    sky_t *sky = parent->sky;
    sky_logger *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->fields = copy_fields(parent->fields, parent->n_fields, fields, n, &c->n_fields);
    if (!c->fields) {
        free(c);
        return NULL;
    }
    c->sky = sky;
    c->bound = true;
    c->base = parent->bound ? parent->base : parent;
    c->name = c->base->name;
    c->name_len = c->base->name_len;
    c->explicit_level = -1;
    if (sky->async)
        sky__async_logger_init(sky, c); /* site records may reference its fields */
    pthread_mutex_lock(&sky->reg_lock);
    atomic_store(&c->hdr.level, atomic_load(&c->base->hdr.level));
    c->next = sky->bound_loggers;
    if (c->next)
        c->next->prev = c;
    sky->bound_loggers = c;
    pthread_mutex_unlock(&sky->reg_lock);
    return c;
}

void sky_logger_release(sky_logger *log)
{
    if (!log || !log->bound)
        return;
    sky_t *sky = log->sky;
    pthread_mutex_lock(&sky->reg_lock);
    if (log->prev)
        log->prev->next = log->next;
    else
        sky->bound_loggers = log->next;
    if (log->next)
        log->next->prev = log->prev;
    pthread_mutex_unlock(&sky->reg_lock);
    /* queued site records may still reference its fields: freed once they are written */
    if (sky__async_logger_retire(log))
        return;
    free(log->fields);
    free(log);
}

void sky__loggers_free(sky_t *sky)
{
    sky_logger *l = sky->loggers;
    while (l) {
        sky_logger *next = l->next;
        free(l->name);
        free(l->fields);
        free(l);
        l = next;
    }
    /* Bound loggers still held by the user are detached and freed: they must not be used
     * after sky_close(), as documented. */
    sky_logger *b = sky->bound_loggers;
    while (b) {
        sky_logger *next = b->next;
        sky__frag_free(&b->frag);
        free(b->fields);
        free(b);
        b = next;
    }
    sky->loggers = sky->root = sky->bound_loggers = NULL;
}
