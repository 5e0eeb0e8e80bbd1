/*
 * env.c - sky_open_env() and the default pipeline: a pipeline configured from SKYLOG_*
 * environment variables, so a program gets sensible logging with one call and operators can
 * change it without a rebuild.
 *
 * There is no list of variables here: every row of the option tables (registry.c) is a
 * variable, SKYLOG_<SECTION>__<OPTION> for sinks and processors and SKYLOG_<KEY> for the
 * pipeline's top-level keys, parsed by the same parsers as a YAML file, and the short names
 * of wave 1 (SKYLOG_FILE, SKYLOG_REDACT, ...) are aliases in the same table. So whatever a
 * file can set, a variable can, and `skylog config options` and the docs list both.
 *
 * Strict like the file loader: a bad value, an unknown SKYLOG_<SECTION>__<OPTION>, or a name
 * that looks like a misspelling of one of ours (edit distance) is an error naming the variable
 * (with a did-you-mean), found before anything is built. Other SKYLOG_ names are left alone:
 * build scripts and tools use the prefix too (SKYLOG_BUILD_DIR). The error goes to the caller,
 * who decides; sky_open_env_ex(SKY_ENV_FALLBACK) also hands back a console-only pipeline.
 *
 * SKYLOG_CONFIG=path hands the pipeline to a YAML file (config/yaml.c); the pipeline's own
 * variables still win over the file's top-level keys (an operator turning on debug logging
 * should not have to edit a file), and the variables that describe sinks or processors are
 * refused next to it, because two descriptions of one pipeline would leave the reader
 * guessing. A skylog.yaml in the working directory is never read implicitly.
 *
 * The default pipeline (sky_default()) lives here rather than in the core because it is this
 * configuration; the core only flushes every open pipeline at exit (core/pipeline.c). So do
 * sky_logger_get() and sky_set_level(), whose NULL sky_t means it: they are thin wrappers over
 * the core's sky__logger_get/sky__set_level, so the core never reaches up into configuration,
 * and a program linked with libskylog.a that logs through NULL pulls this file in by that very
 * call (a constructor registering a hook would not be linked from a static archive).
 */
#include "core/errmsg.h"
#include "core/pipeline.h"
#include "config/loader.h"
#include "config/registry.h"
#include "core/logger.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

extern char **environ;

#define MSG_MAX 1400
#define NAME_MAX_ 96
#define SECTIONS_MAX 32

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

typedef struct section {
    const sky__component *c;
    void *opts;      /* c->opts_size bytes */
    sky_route route; /* sinks */
    sky__proc_keys keys; /* processors */
    bool on;
    char key_var[NAME_MAX_]; /* the variable of its first required option, else the first read */
} section;

typedef struct env_ctx {
    char err[MSG_MAX];
    sky_status st;
    section secs[SECTIONS_MAX];
    size_t n_secs;
    void **owned; /* lists and their text, freed at the end */
    size_t n_owned, cap_owned;
} env_ctx;

static bool failf(env_ctx *E, sky_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool failf(env_ctx *E, sky_status st, const char *fmt, ...)
{
    char raw[MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    /* values are quoted in messages: an endpoint's password must not be */
    sky__scrub_userinfo(raw, E->err, sizeof E->err);
    E->st = st;
    return false;
}

static bool own(env_ctx *E, void *p)
{
    if (!p)
        return false;
    if (E->n_owned == E->cap_owned) {
        size_t cap = E->cap_owned ? E->cap_owned * 2 : 8;
        void **o = realloc(E->owned, cap * sizeof *o);
        if (!o) {
            free(p);
            return false;
        }
        E->owned = o;
        E->cap_owned = cap;
    }
    E->owned[E->n_owned++] = p;
    return true;
}

/* ---- names ---------------------------------------------------------------------------------- */

static void upcase(char *s)
{
    for (; *s; s++)
        *s = (char)toupper((unsigned char)*s);
}

/* Every variable name we read, for recognising and suggesting. */
typedef struct names {
    char (*v)[NAME_MAX_];
    size_t n, cap;
} names;

static void add_name(names *N, const char *s)
{
    if (N->n < N->cap)
        snprintf(N->v[N->n++], NAME_MAX_, "%s", s);
}

static void add_rows(names *N, const sky__component *c, const sky__component *rows)
{
    char name[NAME_MAX_];
    for (size_t i = 0; i < rows->n_opts; i++)
        if (sky__env_name(c, &rows->opts[i], name, sizeof name))
            add_name(N, name);
}

static void all_names(names *N)
{
    add_rows(N, &sky__config_pipeline, &sky__config_pipeline);
    for (size_t i = 0; sky__config_components[i]; i++) {
        const sky__component *c = sky__config_components[i];
        add_rows(N, c, c);
        if (sky__config_common(c))
            add_rows(N, c, sky__config_common(c));
    }
    for (size_t i = 0; sky__env_aliases[i].name; i++)
        add_name(N, sky__env_aliases[i].name);
    for (size_t i = 0; sky__env_other[i]; i++)
        add_name(N, sky__env_other[i]);
}

static const char *suggest_among(const char *word, names *N, size_t skip_prefix)
{
    const char *cands[256];
    size_t n = 0;
    for (size_t i = 0; i < N->n && n < 256; i++)
        cands[n++] = N->v[i] + skip_prefix;
    return sky__config_suggest(word, cands, n);
}

static const sky__component *section_named(const char *upper, size_t len)
{
    for (size_t i = 0; sky__config_components[i]; i++) {
        const char *nm = sky__config_components[i]->name;
        if (strlen(nm) == len && strncasecmp(nm, upper, len) == 0)
            return sky__config_components[i];
    }
    return NULL;
}

/* Judges one SKYLOG_ variable we do not read: false (an error) if it is evidently meant for us. */
static bool judge_unknown(env_ctx *E, const char *var, names *N)
{
    const char *rest = var + 7; /* after SKYLOG_ */
    const char *dunder = strstr(rest, "__");
    char want[NAME_MAX_];
    if (dunder) { /* SKYLOG_<SECTION>__<OPTION>: only ours look like this */
        const sky__component *c = section_named(rest, (size_t)(dunder - rest));
        if (!c) {
            char sec[NAME_MAX_];
            snprintf(sec, sizeof sec, "%.*s", (int)(dunder - rest), rest);
            const char *cands[SECTIONS_MAX];
            size_t n = 0;
            for (size_t i = 0; sky__config_components[i] && n < SECTIONS_MAX; i++)
                cands[n++] = sky__config_components[i]->name;
            const char *sug = sky__config_suggest(sec, cands, n);
            if (sug) {
                snprintf(want, sizeof want, "SKYLOG_%s%s", sug, dunder);
                upcase(want);
                return failf(E, SKY_EINVAL, "%s: unknown variable: no sink or processor '%s' "
                             "(did you mean %s?)", var, sec, want);
            }
            sug = suggest_among(rest, N, 7); /* FIEL__PATH: the whole name is closer */
            if (sug)
                return failf(E, SKY_EINVAL, "%s: unknown variable: no sink or processor '%s' "
                             "(did you mean SKYLOG_%s?)", var, sec, sug);
            return failf(E, SKY_EINVAL, "%s: unknown variable: no sink or processor '%s' (see "
                         "`skylog config options --env`)", var, sec);
        }
        const char *opt = dunder + 2;
        const char *cands[128];
        size_t n = 0;
        for (size_t i = 0; i < c->n_opts && n < 128; i++)
            cands[n++] = c->opts[i].name;
        const sky__component *common = sky__config_common(c);
        for (size_t i = 0; common && i < common->n_opts && n < 128; i++)
            cands[n++] = common->opts[i].name;
        const char *sug = sky__config_suggest(opt, cands, n);
        if (sug) {
            snprintf(want, sizeof want, "SKYLOG_%s__%s", c->name, sug);
            upcase(want);
            return failf(E, SKY_EINVAL, "%s: unknown variable: %s has no option '%s' (did you "
                         "mean %s?)", var, c->name, opt, want);
        }
        return failf(E, SKY_EINVAL, "%s: unknown variable: %s has no option '%s' (see `skylog "
                     "config options %s`)", var, c->name, opt, c->name);
    }
    /* SKYLOG_FILE_MODE for SKYLOG_FILE__MODE: a section's name (or the prefix of its aliases,
     * CLOUDWATCH), one underscore, an option */
    size_t n_pre = 0;
    const char *pre[SECTIONS_MAX * 2];
    size_t pre_len[SECTIONS_MAX * 2];
    const char *pre_sec[SECTIONS_MAX * 2];
    for (size_t i = 0; sky__config_components[i] && n_pre < SECTIONS_MAX; i++, n_pre++) {
        pre[n_pre] = pre_sec[n_pre] = sky__config_components[i]->name;
        pre_len[n_pre] = strlen(pre[n_pre]);
    }
    for (size_t i = 0; sky__env_aliases[i].name && n_pre < SECTIONS_MAX * 2; i++) {
        const char *a = sky__env_aliases[i].name + 7, *us = strchr(a, '_');
        if (us) {
            pre[n_pre] = a;
            pre_len[n_pre] = (size_t)(us - a);
            pre_sec[n_pre++] = sky__env_aliases[i].section;
        }
    }
    for (size_t i = 0; i < n_pre; i++) {
        size_t l = pre_len[i];
        if (strncasecmp(rest, pre[i], l) == 0 && rest[l] == '_' && rest[l + 1]) {
            snprintf(want, sizeof want, "SKYLOG_%s__%s", pre_sec[i], rest + l + 1);
            upcase(want);
            for (size_t k = 0; k < N->n; k++)
                if (strcmp(N->v[k], want) == 0)
                    return failf(E, SKY_EINVAL, "%s: unknown variable (did you mean %s?)", var,
                                 want);
        }
    }
    const char *sug = suggest_among(rest, N, 7);
    if (sug)
        return failf(E, SKY_EINVAL, "%s: unknown variable (did you mean SKYLOG_%s?)", var, sug);
    return true; /* SKYLOG_BUILD_DIR and the like: somebody else's */
}

static bool check_names(env_ctx *E)
{
    char buf[256][NAME_MAX_];
    names N = {buf, 0, 256};
    all_names(&N);
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, "SKYLOG_", 7) != 0)
            continue;
        const char *eq = strchr(*e, '=');
        if (!eq || !eq[1])
            continue; /* empty: as if unset */
        char var[NAME_MAX_];
        size_t len = (size_t)(eq - *e);
        if (len >= sizeof var)
            len = sizeof var - 1;
        memcpy(var, *e, len);
        var[len] = 0;
        bool known = false;
        for (size_t i = 0; i < N.n && !known; i++)
            known = strcmp(N.v[i], var) == 0;
        if (!known && !judge_unknown(E, var, &N))
            return false;
    }
    return true;
}

/* ---- values --------------------------------------------------------------------------------- */

/* Parses a variable's text as `row` wants into *v. LIST: comma-separated. */
static bool parse_var(env_ctx *E, const char *var, const sky__opt *row, const char *text,
                      sky__value *v)
{
    char err[512];
    if (row->type != SKY__OPT_LIST) {
        if (!sky__opt_parse(row, text, v, err, sizeof err))
            return failf(E, SKY_EINVAL, "%s: %s", var, row->secret ? "invalid value" : err);
        return true;
    }
    size_t n = 1;
    for (const char *p = text; *p; p++)
        n += *p == ',';
    char *copy = strdup(text);
    const char **list = calloc(n + 1, sizeof *list);
    if (!own(E, copy) || !own(E, list))
        return failf(E, SKY_ENOMEM, "%s: out of memory", var);
    size_t k = 0;
    for (char *save = NULL, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*t))
            t++;
        char *end = t + strlen(t);
        while (end > t && isspace((unsigned char)end[-1]))
            *--end = 0;
        if (*t)
            list[k++] = t;
    }
    if (!k)
        return failf(E, SKY_EINVAL, "%s: expected a comma-separated list, got '%s'", var, text);
    memset(v, 0, sizeof *v);
    v->text = text;
    v->list = list;
    return true;
}

/* The text of (c, row) from its variable or its alias (*text NULL if neither is set); *var is
 * the variable it came from: `name` (the generated name, written there) or the alias. */
static bool lookup(env_ctx *E, const sky__component *c, const sky__opt *row,
                   char name[NAME_MAX_], const char **var, const char **text)
{
    sky__env_name(c, row, name, NAME_MAX_);
    const sky__env_alias *a = c == &sky__config_pipeline ? NULL : sky__env_alias_of(c, row);
    const char *v = env(name), *av = a ? env(a->name) : NULL;
    *var = v ? name : (av ? a->name : NULL);
    *text = v ? v : av;
    if (v && av)
        return failf(E, SKY_EINVAL, "%s and %s are both set: they are one option (%s is the "
                     "older name); keep one", name, a->name, a->name);
    if (!v && av && a->off_word && strcasecmp(av, "off") == 0)
        *text = NULL; /* the switch, read by read_section() */
    return true;
}

static bool read_rows(env_ctx *E, section *S, const sky__component *rows, void *obj, bool *any)
{
    char name[NAME_MAX_];
    for (size_t i = 0; i < rows->n_opts; i++) {
        const sky__opt *row = &rows->opts[i];
        const char *var = NULL, *text = NULL;
        if (!lookup(E, S->c, row, name, &var, &text))
            return false;
        if (!text)
            continue;
        sky__value v;
        if (!parse_var(E, var, row, text, &v))
            return false;
        sky__opt_store(row, obj, &v);
        *any = true;
        bool key = rows == S->c && row->required;
        if (!*S->key_var || key)
            snprintf(S->key_var, sizeof S->key_var, "%s", var);
    }
    return true;
}

/* Reads every variable of one sink or processor; decides whether it is in the pipeline. */
static bool read_section(env_ctx *E, section *S)
{
    const sky__component *c = S->c;
    S->opts = calloc(1, c->opts_size);
    if (!S->opts)
        return failf(E, SKY_ENOMEM, "%s: out of memory", c->name);
    bool any = false;
    if (!read_rows(E, S, c, S->opts, &any))
        return false;
    void *common_obj = c->kind == SKY__KIND_SINK ? (void *)&S->route : (void *)&S->keys;
    if (sky__config_common(c) && !read_rows(E, S, sky__config_common(c), common_obj, &any))
        return false;
    char why[256], name_var[NAME_MAX_];
    if (S->keys.name && !sky__config_proc_name_ok(S->keys.name, why, sizeof why)) {
        snprintf(name_var, sizeof name_var, "SKYLOG_%s__NAME", c->name);
        upcase(name_var);
        return failf(E, SKY_EINVAL, "%s: %s", name_var, why);
    }
    bool on = c->env_default_on || any;
    const sky__env_alias *sw = sky__env_alias_of(c, NULL);
    const char *swv = sw ? env(sw->name) : NULL;
    if (swv) {
        bool off;
        if (sw->off_word) {
            off = strcasecmp(swv, "off") == 0;
        } else {
            sky__opt boolrow = {.name = sw->name, .type = SKY__OPT_BOOL};
            sky__value v;
            if (!parse_var(E, sw->name, &boolrow, swv, &v))
                return false;
            off = !v.i;
        }
        if (off && any)
            return failf(E, SKY_EINVAL, "%s=%s leaves out the %s %s, but %s is set", sw->name,
                         swv, c->name, c->kind == SKY__KIND_SINK ? "sink" : "processor",
                         S->key_var);
        on = !off;
    }
    S->on = on;
    if (!on)
        return true;
    char name[NAME_MAX_];
    for (size_t i = 0; i < c->n_opts; i++) {
        const sky__opt *row = &c->opts[i];
        const char *var = NULL, *text = NULL;
        lookup(E, c, row, name, &var, &text);
        if (row->required && !text) {
            const sky__env_alias *a = sky__env_alias_of(c, row);
            char also[NAME_MAX_ + 8] = "";
            if (a)
                snprintf(also, sizeof also, " (or %s)", a->name);
            return failf(E, SKY_EINVAL, "%s is set, but the %s %s also needs %s%s: %s",
                         S->key_var, c->name,
                         c->kind == SKY__KIND_SINK ? "sink" : "processor", name, also, row->desc);
        }
    }
    return true;
}

/* The variables that describe sinks and processors, refused next to SKYLOG_CONFIG. */
static bool refuse_with_config(env_ctx *E, const char *path)
{
    for (size_t i = 0; sky__config_components[i]; i++) {
        const sky__component *c = sky__config_components[i];
        for (int pass = 0; pass < 2; pass++) {
            const sky__component *rows = pass ? sky__config_common(c) : c;
            if (!rows)
                break;
            for (size_t k = 0; k < rows->n_opts; k++) {
                char name[NAME_MAX_];
                const char *var = NULL, *text = NULL;
                if (!lookup(E, c, &rows->opts[k], name, &var, &text))
                    return false;
                if (var)
                    return failf(E, SKY_EINVAL, "%s is set, but SKYLOG_CONFIG=%s describes the "
                                 "pipeline: set the option in the file (only the pipeline's own "
                                 "variables, such as SKYLOG_LEVEL and SKYLOG_MODE, override it)",
                                 var, path);
            }
        }
        const sky__env_alias *sw = sky__env_alias_of(c, NULL);
        if (sw && env(sw->name))
            return failf(E, SKY_EINVAL, "%s is set, but SKYLOG_CONFIG=%s describes the pipeline: "
                         "set the option in the file", sw->name, path);
    }
    return true;
}

/* ---- building ------------------------------------------------------------------------------- */

static sky_t *build(env_ctx *E, const sky_options *o)
{
    sky_t *sky = NULL;
    char *why = NULL;
    sky_status st = sky_open_ex(o, &sky, &why);
    if (st != SKY_OK) {
        failf(E, st, "skylog: cannot create the pipeline: %s", why ? why : sky_strerror(st));
        free(why);
        return NULL;
    }
    sky__pipeline_sinkless_ok(sky);
    /* processors in the tables' order, then the sinks */
    for (int kind = SKY__KIND_PROCESSOR; kind >= SKY__KIND_SINK; kind--) {
        for (size_t i = 0; i < E->n_secs; i++) {
            section *S = &E->secs[i];
            if (!S->on || (int)S->c->kind != kind)
                continue;
            char *err = NULL;
            if (kind == SKY__KIND_PROCESSOR) {
                st = S->c->add_processor(sky, S->opts, &err);
                if (st == SKY_OK && S->keys.name)
                    st = sky__processor_label_last(sky, S->keys.name, &err);
            } else {
                sky_sink *sink = NULL;
                st = S->c->build_sink(S->opts, &sink, &err);
                if (st == SKY_OK) {
                    if (!S->route.name)
                        S->route.name = S->c->name;
                    st = sky_add_sink(sky, sink, &S->route);
                }
            }
            if (st != SKY_OK) {
                char what[NAME_MAX_];
                snprintf(what, sizeof what, "SKYLOG_%s__*", S->c->name);
                upcase(what);
                failf(E, st, "%s: %s", *S->key_var ? S->key_var : what,
                      err ? err : sky_strerror(st));
                free(err);
                sky_close(sky);
                return NULL;
            }
        }
    }
    return sky;
}

static sky_t *open_env(env_ctx *E, unsigned flags)
{
    if (!check_names(E))
        return NULL;
    /* the pipeline's own options (SKYLOG_LEVEL, SKYLOG_MODE, ...) */
    sky_options o = {0};
    sky__config_overrides ov = {0};
    char from[SKY__OVERRIDES_MAX][NAME_MAX_];
    const sky__component *P = &sky__config_pipeline;
    for (size_t i = 0; i < P->n_opts && ov.n < SKY__OVERRIDES_MAX; i++) {
        const char *var = NULL, *text = NULL;
        if (!lookup(E, P, &P->opts[i], from[ov.n], &var, &text))
            return NULL;
        if (!text)
            continue;
        sky__value *v = &ov.vals[ov.n];
        if (!parse_var(E, var, &P->opts[i], text, v))
            return NULL;
        sky__opt_store(&P->opts[i], &o, v);
        ov.rows[ov.n] = &P->opts[i];
        ov.from[ov.n] = from[ov.n];
        ov.n++;
    }
    if ((flags & SKY_ENV_ASYNC) && ov.n < SKY__OVERRIDES_MAX) {
        /* the caller's default mode, unless SKYLOG_MODE was among the variables just read */
        bool given = false;
        for (size_t i = 0; i < ov.n; i++)
            given |= strcmp(ov.rows[i]->name, "mode") == 0;
        for (size_t i = 0; !given && i < P->n_opts; i++) {
            if (strcmp(P->opts[i].name, "mode") != 0)
                continue;
            char err[256];
            if (!sky__opt_parse(&P->opts[i], "async", &ov.vals[ov.n], err, sizeof err)) {
                failf(E, SKY_EINVAL, "internal: %s", err);
                return NULL;
            }
            sky__opt_store(&P->opts[i], &o, &ov.vals[ov.n]);
            ov.rows[ov.n] = &P->opts[i];
            ov.from[ov.n] = "sky_open_env_ex(SKY_ENV_ASYNC)";
            ov.n++;
        }
    }
    const char *path = env("SKYLOG_CONFIG");
    if (path) {
        if (!refuse_with_config(E, path))
            return NULL;
        sky_t *sky = NULL;
        char *err = NULL;
        sky_status st = sky__config_load_file(path, &ov, &sky, NULL, &err);
        if (st != SKY_OK) {
            failf(E, st, "SKYLOG_CONFIG: %s", err ? err : sky_strerror(st));
            free(err);
            return NULL;
        }
        return sky;
    }
    for (size_t i = 0; sky__config_components[i] && E->n_secs < SECTIONS_MAX; i++) {
        section *S = &E->secs[E->n_secs++];
        S->c = sky__config_components[i];
        if (!read_section(E, S))
            return NULL;
    }
    return build(E, &o);
}

/* ---- the public calls ----------------------------------------------------------------------- */

/* One report per message per process: sky_open_env(NULL) failing and then the default
 * pipeline (which a program logging through NULL falls back to) meeting the same variables
 * must not say it twice. */
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;
static char reported[MSG_MAX];

static void report_once(const char *msg, const char *then)
{
    pthread_mutex_lock(&report_lock);
    bool fresh = strcmp(reported, msg) != 0;
    if (fresh)
        snprintf(reported, sizeof reported, "%s", msg);
    pthread_mutex_unlock(&report_lock);
    if (!fresh)
        return;
    char line[MSG_MAX + 200];
    int n = snprintf(line, sizeof line, "skylog: error: %s%s\n", msg, then);
    if (n > 0) {
        ssize_t w = write(STDERR_FILENO, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
        (void)w;
    }
}

static sky_t *fallback_pipeline(void)
{
    sky_options o = {0};
    const char *lv = env("SKYLOG_LEVEL");
    if (lv && sky_level_parse(lv, &o.level) == SKY_OK)
        o.level_set = true;
    sky_t *sky = NULL;
    if (sky_open(&o, &sky) != SKY_OK)
        return NULL;
    if (sky_add_sink(sky, sky_sink_console(NULL), NULL) != SKY_OK) {
        sky_close(sky);
        return NULL;
    }
    return sky;
}

static sky_status open_env_ex_body(unsigned flags, sky_t **out, char **errmsg)
{
    if (errmsg)
        *errmsg = NULL;
    if (!out)
        return SKY_EINVAL;
    env_ctx E;
    memset(&E, 0, sizeof E);
    *out = open_env(&E, flags);
    for (size_t i = 0; i < E.n_secs; i++)
        free(E.secs[i].opts);
    for (size_t i = 0; i < E.n_owned; i++)
        free(E.owned[i]);
    free(E.owned);
    if (*out)
        return SKY_OK;
    sky_status st = E.st != SKY_OK ? E.st : SKY_ENOMEM;
    if (!*E.err)
        snprintf(E.err, sizeof E.err, "skylog: %s", sky_strerror(st));
    if (errmsg)
        *errmsg = strdup(E.err);
    if (flags & SKY_ENV_FALLBACK)
        *out = fallback_pipeline();
    return st;
}

sky_status sky_open_env_ex(unsigned flags, sky_t **out, char **errmsg)
{
    char *mine = NULL;
    sky_status st = open_env_ex_body(flags, out, errmsg ? errmsg : &mine);
    return sky__errmsg_route(NULL, st, mine);
}

sky_t *sky_open_env(char **errmsg)
{
    sky_t *sky = NULL;
    char *err = NULL;
    if (sky_open_env_ex(0, &sky, &err) == SKY_OK)
        return sky;
    if (errmsg)
        *errmsg = err;
    else {
        report_once(err ? err : "cannot configure skylog from the environment", "");
        free(err);
    }
    return NULL;
}

/* ---- the default pipeline ------------------------------------------------------------------- */

static sky_t *default_sky;
static char *default_err;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void default_init(void)
{
    /* Never freed: other threads may log through it while the process exits; the core flushes
     * it (as every open pipeline) at exit. */
    sky_open_env_ex(SKY_ENV_FALLBACK, &default_sky, &default_err);
    if (default_err)
        report_once(default_err, default_sky ? " (the default pipeline logs to stderr only)" : "");
}

sky_t *sky_default(void)
{
    pthread_once(&default_once, default_init);
    return default_sky;
}

const char *sky_default_error(void)
{
    pthread_once(&default_once, default_init);
    return default_err;
}

sky_logger *sky_logger_get(sky_t *sky, const char *name)
{
    return sky__logger_get(sky ? sky : sky_default(), name);
}

sky_status sky_set_level(sky_t *sky, const char *name, sky_level level)
{
    if (!sky && (unsigned)level < SKY_LEVEL_COUNT_) /* an invalid level creates nothing */
        sky = sky_default();
    return sky__set_level(sky, name, level);
}
