/*
 * yaml.c - sky_open_file() / sky_open_yaml(): a pipeline from a YAML file.
 *
 * Two phases. First the whole document is read (libyaml's node tree, which keeps every node's
 * line and column) and every value is parsed through the option tables of registry.c into the
 * public options structs; any error stops here, before a file is created or a thread started.
 * Then the pipeline is built with the public constructors, in file order, so a value the tables
 * let through is still judged by the same code as a C caller's. A failure in either phase
 * closes whatever was built and names the file, line, column and option.
 *
 * It must never ignore a key: an unknown key, a duplicate or a wrong type is an error.
 * Scalars are taken as text (no YAML 1.1 type guessing): "0644", "off" and "yes" mean what the
 * option's type says they mean.
 *
 * Limits come before libyaml builds anything (sky/config.h lists them): the text's size, then a
 * pass over libyaml's events that stops at the first node nested too deep or past the node
 * count. Deep flow nesting is not just memory: libyaml's scanner does work per flow level for
 * every token, so 100,000 '[' took over a minute. Aliases are node references, not copies, so
 * what they could multiply (lists, processors, sinks) has limits of its own.
 */
#include "core/errmsg.h"
#include "core/pipeline.h"
#include "config/loader.h"
#include "config/registry.h"

#include <skylog/config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define MSG_MAX 1024
#define MAX_BYTES ((size_t)1 << 20) /* a configuration file is kilobytes */
#define MAX_DEPTH 32                /* the schema needs 4 levels; room for style */
#define MAX_NODES 100000
#define MAX_LIST 1024  /* entries of a list option (redact fields, filter globs) */
#define MAX_ITEMS 256  /* processors, and sinks, of one pipeline */
#define MAX_LOGGERS 256 /* logger levels: each sky_set_level() revisits every logger and level */

typedef struct item {
    const sky__component *comp;
    void *opts;      /* comp->opts_size bytes */
    sky_route route; /* sinks */
    sky__proc_keys keys; /* processors */
    yaml_node_t *node;
    char where[128]; /* "sinks[1].file" */
} item;

typedef struct loader {
    const char *name;
    yaml_document_t doc;
    char err[MSG_MAX];
    sky_status st;
    void **owned; /* lists handed to option structs, freed at the end */
    size_t n_owned, cap_owned;
    sky_options pipeline;
    item *procs, *sinks;
    size_t n_procs, n_sinks;
    yaml_node_t *loggers;
    FILE *summary; /* open_memstream, or NULL */
} loader;

static bool fail_at(loader *L, const yaml_node_t *node, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static bool fail_at(loader *L, const yaml_node_t *node, const char *where, const char *fmt, ...)
{
    char what[MSG_MAX - 128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (node)
        snprintf(L->err, sizeof L->err, "%s:%zu:%zu: %s%s%s", L->name, node->start_mark.line + 1,
                 node->start_mark.column + 1, where ? where : "", where ? ": " : "", what);
    else
        snprintf(L->err, sizeof L->err, "%s: %s%s%s", L->name, where ? where : "",
                 where ? ": " : "", what);
    if (L->st == SKY_OK)
        L->st = SKY_EINVAL;
    return false;
}

static const char *node_kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_MAPPING_NODE: return "a mapping";
    case YAML_SEQUENCE_NODE: return "a list";
    default: return "a value";
    }
}

static const char *scalar(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

/* A plain `key:` with nothing after it, or `~` / `null`. */
static bool is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *s = scalar(n);
    return !*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
           strcmp(s, "NULL") == 0;
}

static bool own(loader *L, void *p)
{
    if (L->n_owned == L->cap_owned) {
        size_t cap = L->cap_owned ? L->cap_owned * 2 : 16;
        void **o = realloc(L->owned, cap * sizeof *o);
        if (!o)
            return false;
        L->owned = o;
        L->cap_owned = cap;
    }
    L->owned[L->n_owned++] = p;
    return true;
}

static int key_cmp(const void *a, const void *b)
{
    const yaml_node_t *x = *(yaml_node_t *const *)a, *y = *(yaml_node_t *const *)b;
    int c = strcmp(scalar(x), scalar(y));
    if (c)
        return c;
    /* equal keys in file order, so the first one is named */
    return x->start_mark.index < y->start_mark.index ? -1 : x->start_mark.index > y->start_mark.index;
}

/* Checks `map` is a mapping whose keys are distinct scalars: sorted, so a mapping of many keys
 * (loggers) costs n log n, not n^2. */
static bool check_mapping(loader *L, yaml_node_t *map, const char *where)
{
    if (map->type != YAML_MAPPING_NODE)
        return fail_at(L, map, where, "expected a mapping (key: value), got %s", node_kind(map));
    size_t n = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
    yaml_node_t **keys = malloc((n ? n : 1) * sizeof *keys);
    if (!keys) {
        L->st = SKY_ENOMEM;
        return fail_at(L, map, where, "out of memory");
    }
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        yaml_node_t *k = yaml_document_get_node(&L->doc, map->data.mapping.pairs.start[i].key);
        keys[i] = k;
        if (k->type != YAML_SCALAR_NODE)
            ok = fail_at(L, k, where, "keys must be plain names, got %s", node_kind(k));
    }
    if (ok && n > 1) {
        qsort(keys, n, sizeof *keys, key_cmp);
        /* the duplicate reported is the one earliest in the file */
        yaml_node_t *dup = NULL, *first = NULL;
        for (size_t i = 1; i < n; i++)
            if (strcmp(scalar(keys[i - 1]), scalar(keys[i])) == 0 &&
                (!dup || keys[i]->start_mark.index < dup->start_mark.index)) {
                size_t f = i - 1;
                while (f > 0 && strcmp(scalar(keys[f - 1]), scalar(keys[i])) == 0)
                    f--;
                dup = keys[i];
                first = keys[f];
            }
        if (dup)
            ok = fail_at(L, dup, where, "duplicate key '%s' (first at line %zu)", scalar(dup),
                         first->start_mark.line + 1);
    }
    free(keys);
    return ok;
}

static void summary_value(loader *L, const sky__opt *row, const yaml_node_t *v)
{
    if (!L->summary)
        return;
    fprintf(L->summary, " %s=", row->name);
    if (row->secret) {
        fputs("***", L->summary);
    } else if (v->type == YAML_SEQUENCE_NODE) {
        fputc('[', L->summary);
        for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top;
             i++)
            fprintf(L->summary, "%s%s", i > v->data.sequence.items.start ? "," : "",
                    scalar(yaml_document_get_node(&L->doc, *i)));
        fputc(']', L->summary);
    } else {
        char text[1024];
        sky__scrub_userinfo(scalar(v), text, sizeof text);
        fputs(text, L->summary);
    }
}

/* Parses one option value node into `obj`. */
static bool set_option(loader *L, const sky__opt *row, yaml_node_t *v, void *obj,
                       const char *where)
{
    char ctx[160];
    snprintf(ctx, sizeof ctx, "%s%s%s", where ? where : "", where ? "." : "", row->name);
    sky__value val;
    if (row->type == SKY__OPT_LIST) {
        size_t n = v->type == YAML_SEQUENCE_NODE
                       ? (size_t)(v->data.sequence.items.top - v->data.sequence.items.start)
                       : 1;
        if (v->type == YAML_MAPPING_NODE || is_null(v))
            return fail_at(L, v, ctx, "expected a list of strings, got %s",
                           is_null(v) ? "nothing" : node_kind(v));
        if (n > MAX_LIST) {
            L->st = SKY_ELIMIT;
            return fail_at(L, v, ctx, "a list of %zu entries; at most %d", n, MAX_LIST);
        }
        const char **list = calloc(n + 1, sizeof *list);
        if (!list || !own(L, list)) {
            free(list);
            L->st = SKY_ENOMEM;
            return fail_at(L, v, ctx, "out of memory");
        }
        if (v->type == YAML_SCALAR_NODE) {
            list[0] = scalar(v);
        } else {
            for (size_t i = 0; i < n; i++) {
                yaml_node_t *e = yaml_document_get_node(&L->doc, v->data.sequence.items.start[i]);
                if (e->type != YAML_SCALAR_NODE || is_null(e))
                    return fail_at(L, e, ctx, "expected a string in the list, got %s",
                                   is_null(e) ? "nothing" : node_kind(e));
                list[i] = scalar(e);
            }
        }
        memset(&val, 0, sizeof val);
        val.list = list;
    } else {
        if (v->type != YAML_SCALAR_NODE) {
            char what[300];
            sky__opt_describe(row, what, sizeof what);
            return fail_at(L, v, ctx, "expected %s, got %s", what, node_kind(v));
        }
        if (is_null(v))
            return fail_at(L, v, ctx, "no value given");
        char err[512];
        if (!sky__opt_parse(row, scalar(v), &val, err, sizeof err))
            return fail_at(L, v, ctx, "%s", err);
    }
    sky__opt_store(row, obj, &val);
    summary_value(L, row, v);
    return true;
}

static bool unknown_key(loader *L, yaml_node_t *k, const char *where, const char *what,
                        const sky__opt *a, size_t na, const sky__opt *b, size_t nb,
                        const char *const *extra, size_t nextra)
{
    const char *names[96];
    size_t n = 0;
    char list[1024];
    size_t len = 0;
    list[0] = 0;
    for (size_t i = 0; i < na + nb + nextra && n < 96; i++) {
        names[n] = i < na ? a[i].name : (i < na + nb ? b[i - na].name : extra[i - na - nb]);
        len += (size_t)snprintf(list + len, len < sizeof list ? sizeof list - len : 0, "%s%s",
                                n ? ", " : "", names[n]);
        n++;
    }
    const char *sug = sky__config_suggest(scalar(k), names, n);
    if (sug)
        return fail_at(L, k, where, "unknown %s '%s' (did you mean '%s'?)", what, scalar(k), sug);
    return fail_at(L, k, where, "unknown %s '%s'; accepted: %s", what, scalar(k), list);
}

/* Fills `obj` from the options mapping `map` of component `c` (plus route keys for sinks). */
static bool check_proc_names(loader *L);

static bool parse_options(loader *L, item *it, yaml_node_t *map)
{
    const sky__component *c = it->comp, *common = sky__config_common(c);
    void *common_obj = c->kind == SKY__KIND_SINK ? (void *)&it->route : (void *)&it->keys;
    if (is_null(map))
        return true; /* "- redact:" with no options */
    if (!check_mapping(L, map, it->where))
        return false;
    bool seen[128] = {0};
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&L->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(&L->doc, p->value);
        const sky__opt *row = sky__config_find_opt(c, scalar(k));
        if (row) {
            seen[row - c->opts] = true;
            if (!set_option(L, row, v, it->opts, it->where))
                return false;
            continue;
        }
        row = common ? sky__config_find_opt(common, scalar(k)) : NULL;
        if (row) {
            if (!set_option(L, row, v, common_obj, it->where))
                return false;
            continue;
        }
        return unknown_key(L, k, it->where, "option", c->opts, c->n_opts,
                           common ? common->opts : NULL, common ? common->n_opts : 0, NULL, 0);
    }
    for (size_t i = 0; i < c->n_opts; i++)
        if (c->opts[i].required && !seen[i])
            return fail_at(L, map, it->where, "missing required option '%s': %s", c->opts[i].name,
                           c->opts[i].desc);
    return true;
}

/* Parses a `processors:` or `sinks:` list into items. */
static bool parse_list(loader *L, yaml_node_t *seq, sky__kind kind, item **out, size_t *n_out)
{
    const char *section = kind == SKY__KIND_SINK ? "sinks" : "processors";
    if (is_null(seq))
        return true;
    if (seq->type != YAML_SEQUENCE_NODE)
        return fail_at(L, seq, section, "expected a list ('- name: { options }'), got %s",
                       node_kind(seq));
    size_t n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    if (n > MAX_ITEMS) {
        L->st = SKY_ELIMIT;
        return fail_at(L, seq, section, "%zu entries; at most %d", n, MAX_ITEMS);
    }
    item *items = calloc(n ? n : 1, sizeof *items);
    if (!items) {
        L->st = SKY_ENOMEM;
        return fail_at(L, seq, section, "out of memory");
    }
    *out = items;
    for (size_t i = 0; i < n; i++) {
        item *it = &items[i];
        yaml_node_t *e = yaml_document_get_node(&L->doc, seq->data.sequence.items.start[i]);
        char where[48];
        snprintf(where, sizeof where, "%s[%zu]", section, i);
        yaml_node_t *name_node, *opts_node = NULL;
        if (e->type == YAML_SCALAR_NODE && !is_null(e)) {
            name_node = e; /* "- redact" */
        } else if (e->type == YAML_MAPPING_NODE) {
            if (!check_mapping(L, e, where))
                return false;
            size_t pairs = (size_t)(e->data.mapping.pairs.top - e->data.mapping.pairs.start);
            if (pairs != 1)
                return fail_at(L, e, where,
                               "expected one %s name with its options ('- file: { path: x }'), "
                               "got %zu keys (indent the options under the name?)",
                               kind == SKY__KIND_SINK ? "sink" : "processor", pairs);
            name_node = yaml_document_get_node(&L->doc, e->data.mapping.pairs.start->key);
            opts_node = yaml_document_get_node(&L->doc, e->data.mapping.pairs.start->value);
        } else {
            return fail_at(L, e, where, "expected '- name: { options }', got %s", node_kind(e));
        }
        const char *name = scalar(name_node);
        const sky__component *c = sky__config_find(name);
        if (!c || c->kind != kind) {
            const char *names[32];
            char list[512];
            size_t m = 0, len = 0;
            list[0] = 0;
            for (size_t j = 0; sky__config_components[j] && m < 32; j++)
                if (sky__config_components[j]->kind == kind) {
                    names[m] = sky__config_components[j]->name;
                    len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", m ? ", " : "",
                                            names[m]);
                    m++;
                }
            const char *what = kind == SKY__KIND_SINK ? "sink" : "processor";
            if (c)
                return fail_at(L, name_node, where, "'%s' is a %s, not a %s (move it to '%s:')",
                               name, what[0] == 's' ? "processor" : "sink", what,
                               kind == SKY__KIND_SINK ? "processors" : "sinks");
            const char *sug = sky__config_suggest(name, names, m);
            if (sug)
                return fail_at(L, name_node, where, "unknown %s '%s' (did you mean '%s'?)", what,
                               name, sug);
            return fail_at(L, name_node, where, "unknown %s '%s'; expected one of: %s", what, name,
                           list);
        }
        it->comp = c;
        it->node = name_node;
        snprintf(it->where, sizeof it->where, "%s.%s", where, c->name);
        it->opts = calloc(1, c->opts_size);
        (*n_out)++;
        if (!it->opts) {
            L->st = SKY_ENOMEM;
            return fail_at(L, e, where, "out of memory");
        }
        if (L->summary)
            fprintf(L->summary, "  [%zu] %s", i, c->name);
        if (opts_node && !parse_options(L, it, opts_node))
            return false;
        if (L->summary && kind == SKY__KIND_SINK)
            fprintf(L->summary, "  -> route '%s', level >= %s", it->route.name ? it->route.name : c->name,
                    sky_level_name(it->route.level));
        if (L->summary && it->keys.name)
            fprintf(L->summary, "  -> name '%s'", it->keys.name);
        if (L->summary)
            fputc('\n', L->summary);
    }
    return true;
}

static const char *const sections[] = {"processors", "sinks", "loggers"};

static bool parse_document(loader *L, const sky__config_overrides *ov)
{
    yaml_node_t *root = yaml_document_get_root_node(&L->doc);
    if (!root)
        return fail_at(L, NULL, NULL, "the configuration is empty (expected at least 'sinks:')");
    if (!check_mapping(L, root, NULL))
        return false;
    yaml_node_t *sec[3] = {NULL, NULL, NULL};
    if (L->summary)
        fputs("pipeline:", L->summary);
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(&L->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(&L->doc, p->value);
        const sky__opt *row = sky__config_find_opt(&sky__config_pipeline, scalar(k));
        if (row) {
            if (!set_option(L, row, v, &L->pipeline, NULL))
                return false;
            continue;
        }
        size_t s = 0;
        while (s < 3 && strcmp(sections[s], scalar(k)) != 0)
            s++;
        if (s == 3)
            return unknown_key(L, k, NULL, "key", sky__config_pipeline.opts,
                               sky__config_pipeline.n_opts, NULL, 0, sections, 3);
        sec[s] = v;
    }
    for (size_t i = 0; ov && i < ov->n; i++) {
        sky__opt_store(ov->rows[i], &L->pipeline, &ov->vals[i]);
        if (L->summary) {
            char text[512];
            sky__scrub_userinfo(ov->vals[i].text ? ov->vals[i].text : "", text, sizeof text);
            fprintf(L->summary, " %s=%s(from %s)", ov->rows[i]->name,
                    ov->rows[i]->secret ? "***" : text, ov->from[i]);
        }
    }
    if (L->summary)
        fputs("\nprocessors:\n", L->summary);
    if (sec[0] && !parse_list(L, sec[0], SKY__KIND_PROCESSOR, &L->procs, &L->n_procs))
        return false;
    if (!check_proc_names(L))
        return false;
    if (L->summary)
        fputs("sinks:\n", L->summary);
    if (sec[1] && !parse_list(L, sec[1], SKY__KIND_SINK, &L->sinks, &L->n_sinks))
        return false;
    if (sec[2] && !is_null(sec[2])) {
        if (!check_mapping(L, sec[2], "loggers"))
            return false;
        size_t n = (size_t)(sec[2]->data.mapping.pairs.top - sec[2]->data.mapping.pairs.start);
        if (n > MAX_LOGGERS) {
            L->st = SKY_ELIMIT;
            return fail_at(L, sec[2], "loggers", "%zu logger levels; at most %d", n, MAX_LOGGERS);
        }
        L->loggers = sec[2];
        if (L->summary)
            fputs("loggers:\n", L->summary);
        for (yaml_node_pair_t *p = sec[2]->data.mapping.pairs.start;
             p < sec[2]->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(&L->doc, p->key);
            yaml_node_t *v = yaml_document_get_node(&L->doc, p->value);
            char where[128];
            snprintf(where, sizeof where, "loggers.%s", scalar(k));
            sky__value val;
            char err[512];
            const sky__opt *row = sky__config_find_opt(&sky__config_route, "level");
            if (v->type != YAML_SCALAR_NODE || is_null(v))
                return fail_at(L, v, where, "expected a level (trace, debug, info, warn, error, "
                                            "critical, off)");
            if (!sky__opt_parse(row, scalar(v), &val, err, sizeof err))
                return fail_at(L, v, where, "%s", err);
            if (L->summary)
                fprintf(L->summary, "  %s: %s\n", scalar(k), sky_level_name((sky_level)val.i));
        }
    }
    return true;
}

/* Processors' `name:`: never a type's name, and each used once (the second use is the error). */
static bool check_proc_names(loader *L)
{
    for (size_t i = 0; i < L->n_procs; i++) {
        const item *it = &L->procs[i];
        if (!it->keys.name)
            continue;
        char err[256];
        if (!sky__config_proc_name_ok(it->keys.name, err, sizeof err))
            return fail_at(L, it->node, it->where, "%s", err);
        for (size_t j = 0; j < i; j++)
            if (L->procs[j].keys.name && strcmp(L->procs[j].keys.name, it->keys.name) == 0)
                return fail_at(L, it->node, it->where,
                               "processor name '%s' is used twice (first by %s): names must be "
                               "unique", it->keys.name, L->procs[j].where);
    }
    return true;
}

/* A processor or sink that would not build: the error at its place in the file, and the
 * pipeline built so far closed. */
static bool item_failed(loader *L, const item *it, sky_status st, char *err, sky_t *sky)
{
    L->st = st;
    fail_at(L, it->node, it->where, "%s", err ? err : sky_strerror(st));
    free(err);
    sky_close(sky);
    return false;
}

/* Phase two: the real constructors. */
static bool build(loader *L, sky_t **out)
{
    sky_t *sky = NULL;
    char *why = NULL;
    sky_status st = sky_open_ex(&L->pipeline, &sky, &why);
    if (st != SKY_OK) {
        L->st = st;
        fail_at(L, NULL, NULL, "cannot create the pipeline: %s", why ? why : sky_strerror(st));
        free(why);
        return false;
    }
    sky__pipeline_sinkless_ok(sky);
    for (size_t i = 0; i < L->n_procs; i++) {
        item *it = &L->procs[i];
        char *err = NULL;
        st = it->comp->add_processor(sky, it->opts, &err);
        if (st == SKY_OK && it->keys.name)
            st = sky__processor_label_last(sky, it->keys.name, &err);
        if (st != SKY_OK)
            return item_failed(L, it, st, err, sky);
    }
    for (size_t i = 0; i < L->n_sinks; i++) {
        item *it = &L->sinks[i];
        char *err = NULL;
        sky_sink *sink = NULL;
        st = it->comp->build_sink(it->opts, &sink, &err);
        if (st == SKY_OK) {
            if (!it->route.name)
                it->route.name = it->comp->name;
            st = sky_add_sink(sky, sink, &it->route);
        }
        if (st != SKY_OK)
            return item_failed(L, it, st, err, sky);
    }
    if (L->loggers) {
        for (yaml_node_pair_t *p = L->loggers->data.mapping.pairs.start;
             p < L->loggers->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(&L->doc, p->key);
            yaml_node_t *v = yaml_document_get_node(&L->doc, p->value);
            sky_level lvl;
            sky_level_parse(scalar(v), &lvl); /* checked in phase one */
            st = sky_set_level(sky, scalar(k), lvl);
            if (st != SKY_OK) {
                L->st = st;
                fail_at(L, k, "loggers", "cannot set the level of '%s': %s", scalar(k),
                        sky_strerror(st));
                sky_close(sky);
                return false;
            }
        }
    }
    *out = sky;
    return true;
}

/* The pass over libyaml's events that enforces MAX_DEPTH and MAX_NODES before a tree is built.
 * A syntax error ends it quietly: the load that follows reports it, with the same position. */
static bool within_limits(loader *L, const char *text, size_t len)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
        L->st = SKY_ENOMEM;
        return fail_at(L, NULL, NULL, "out of memory");
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    size_t depth = 0, nodes = 0;
    bool ok = true;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev))
            break;
        yaml_event_type_t t = ev.type;
        yaml_node_t at = {.start_mark = ev.start_mark}; /* for fail_at's line and column */
        yaml_event_delete(&ev);
        if (t == YAML_STREAM_END_EVENT)
            break;
        if (t == YAML_SEQUENCE_END_EVENT || t == YAML_MAPPING_END_EVENT) {
            depth--;
            continue;
        }
        if (t != YAML_SCALAR_EVENT && t != YAML_ALIAS_EVENT && t != YAML_SEQUENCE_START_EVENT &&
            t != YAML_MAPPING_START_EVENT)
            continue;
        if (++nodes > MAX_NODES) {
            ok = fail_at(L, &at, NULL, "more than %d values; a configuration is not that big",
                         MAX_NODES);
            break;
        }
        if ((t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT) &&
            ++depth > MAX_DEPTH) {
            ok = fail_at(L, &at, NULL, "nested more than %d levels deep", MAX_DEPTH);
            break;
        }
    }
    yaml_parser_delete(&p);
    if (!ok)
        L->st = SKY_ELIMIT;
    return ok;
}

sky_status sky__config_load(const char *name, const char *text, size_t len,
                            const sky__config_overrides *ov, sky_t **out, char **summary,
                            char **errmsg)
{
    if (errmsg)
        *errmsg = NULL;
    if (summary)
        *summary = NULL;
    if (!out)
        return SKY_EINVAL;
    *out = NULL;
    loader L;
    memset(&L, 0, sizeof L);
    L.name = name ? name : "<yaml>";
    char *sumbuf = NULL;
    size_t sumlen = 0;
    if (summary)
        L.summary = open_memstream(&sumbuf, &sumlen);

    yaml_parser_t parser;
    bool have_doc = false;
    if (!text) {
        fail_at(&L, NULL, NULL, "no configuration text");
    } else if (len > MAX_BYTES) {
        L.st = SKY_ELIMIT;
        fail_at(&L, NULL, NULL, "the configuration is larger than %zu KiB", MAX_BYTES >> 10);
    } else if (!within_limits(&L, text, len)) {
        /* fail_at said which */
    } else if (!yaml_parser_initialize(&parser)) {
        L.st = SKY_ENOMEM;
        fail_at(&L, NULL, NULL, "out of memory");
    } else {
        yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
        if (!yaml_parser_load(&parser, &L.doc)) {
            snprintf(L.err, sizeof L.err, "%s:%zu:%zu: YAML syntax error: %s%s%s", L.name,
                     parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                     parser.problem ? parser.problem : "invalid document",
                     parser.context ? " " : "", parser.context ? parser.context : "");
            L.st = parser.error == YAML_MEMORY_ERROR ? SKY_ENOMEM : SKY_EINVAL;
        } else {
            have_doc = true;
            /* A second document ("---") would be silently ignored: refuse it. */
            yaml_document_t extra;
            if (yaml_parser_load(&parser, &extra)) {
                yaml_node_t *r = yaml_document_get_root_node(&extra);
                if (r)
                    fail_at(&L, r, NULL, "a second YAML document ('---'): put everything in one");
                yaml_document_delete(&extra);
            } else {
                snprintf(L.err, sizeof L.err, "%s:%zu:%zu: YAML syntax error: %s%s%s", L.name,
                         parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                         parser.problem ? parser.problem : "invalid document",
                         parser.context ? " " : "", parser.context ? parser.context : "");
                L.st = SKY_EINVAL;
            }
        }
        yaml_parser_delete(&parser);
    }
    if (L.st == SKY_OK && have_doc && parse_document(&L, ov))
        build(&L, out);

    for (size_t i = 0; i < L.n_procs; i++)
        free(L.procs[i].opts);
    for (size_t i = 0; i < L.n_sinks; i++)
        free(L.sinks[i].opts);
    free(L.procs);
    free(L.sinks);
    for (size_t i = 0; i < L.n_owned; i++)
        free(L.owned[i]);
    free(L.owned);
    if (have_doc)
        yaml_document_delete(&L.doc);
    if (L.summary) {
        fclose(L.summary);
        if (L.st == SKY_OK)
            *summary = sumbuf;
        else
            free(sumbuf);
    }
    if (L.st != SKY_OK && errmsg) {
        /* constructors quote values they refuse: an endpoint's password must not be shown */
        char scrubbed[MSG_MAX];
        sky__scrub_userinfo(L.err, scrubbed, sizeof scrubbed);
        *errmsg = strdup(scrubbed);
    }
    return L.st;
}

sky_status sky__config_load_file(const char *path, const sky__config_overrides *ov, sky_t **out,
                                 char **summary, char **errmsg)
{
    if (errmsg)
        *errmsg = NULL;
    if (out)
        *out = NULL;
    if (!path || !out) {
        if (errmsg)
            *errmsg = strdup("skylog: no configuration file given");
        return SKY_EINVAL;
    }
    FILE *f = fopen(path, "rb");
    char msg[MSG_MAX];
    if (!f) {
        int e = errno;
        snprintf(msg, sizeof msg, "%s: cannot open the configuration file: %s", path, strerror(e));
        if (errmsg)
            *errmsg = strdup(msg);
        return e == ENOENT ? SKY_ENOTFOUND : SKY_EIO;
    }
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *t = realloc(text, cap);
            if (!t) {
                free(text);
                fclose(f);
                snprintf(msg, sizeof msg, "%s: out of memory", path);
                if (errmsg)
                    *errmsg = strdup(msg);
                return SKY_ENOMEM;
            }
            text = t;
        }
        size_t got = fread(text + len, 1, cap - len, f);
        len += got;
        if (got == 0 || len > MAX_BYTES) /* past the limit: sky__config_load says so */
            break;
    }
    bool bad = ferror(f);
    int e = errno;
    fclose(f);
    if (bad) {
        free(text);
        snprintf(msg, sizeof msg, "%s: cannot read the configuration file: %s", path, strerror(e));
        if (errmsg)
            *errmsg = strdup(msg);
        return SKY_EIO;
    }
    sky_status st = sky__config_load(path, text, len, ov, out, summary, errmsg);
    free(text);
    return st;
}

static sky_status open_file_body(const char *path, sky_t **out, char **errmsg)
{
    return sky__config_load_file(path, NULL, out, NULL, errmsg);
}

sky_status sky_open_file(const char *path, sky_t **out, char **errmsg)
{
    char *mine = NULL;
    sky_status st = open_file_body(path, out, errmsg ? errmsg : &mine);
    return sky__errmsg_route(NULL, st, mine);
}

static sky_status open_yaml_body(const char *text, size_t len, sky_t **out, char **errmsg)
{
    return sky__config_load(NULL, text, len, NULL, out, NULL, errmsg);
}

sky_status sky_open_yaml(const char *text, size_t len, sky_t **out, char **errmsg)
{
    char *mine = NULL;
    sky_status st = open_yaml_body(text, len, out, errmsg ? errmsg : &mine);
    return sky__errmsg_route(NULL, st, mine);
}
