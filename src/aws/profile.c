/*
 * profile.c - reads the AWS shared files (~/.aws/credentials and ~/.aws/config) and answers
 * "what does profile X say about key K". The credentials file names sections after profiles
 * ("[dev]"); the config file prefixes them ("[profile dev]"), except "[default]".
 *
 * It must never print a value: values include secret keys. Parsed files are wiped when freed.
 * Plain C string handling; no dependency beyond libc (secrets are wiped with util/secmem.h).
 */
#include "aws/profile.h"

#include "aws/buf.h"
#include "util/secmem.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_trim(const char *s, size_t n)
{
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static void wipe_free(char *s)
{
    if (s) {
        sky__wipe(s, strlen(s));
        free(s);
    }
}

static bool ini_add(sky__ini *ini, const char *section, char *key, char *value)
{
    if (ini->n == ini->cap) {
        size_t cap = ini->cap ? ini->cap * 2 : 16;
        sky__ini_kv *kv = realloc(ini->kv, cap * sizeof *kv);
        if (!kv)
            return false;
        ini->kv = kv;
        ini->cap = cap;
    }
    ini->kv[ini->n++] = (sky__ini_kv){section, key, value};
    return true;
}

/* Keeps a section's name once for all its keys: a copy per key would let a long header over
 * many short lines cost their product in memory. */
static const char *ini_section(sky__ini *ini, char *name)
{
    if (ini->n_sections == ini->cap_sections) {
        size_t cap = ini->cap_sections ? ini->cap_sections * 2 : 8;
        char **s = realloc(ini->sections, cap * sizeof *s);
        if (!s) {
            free(name);
            return NULL;
        }
        ini->sections = s;
        ini->cap_sections = cap;
    }
    ini->sections[ini->n_sections++] = name;
    return name;
}

/* Appends "\n" and more to a value that has room for `*cap` bytes, growing it geometrically (a
 * value continued over many lines must not be copied once per line). Old copies are wiped:
 * values may be secrets. */
static bool value_append(char **value, size_t *len, size_t *cap, const char *more, size_t n)
{
    size_t need = *len + 1 + n + 1;
    if (need > *cap) {
        size_t c = *cap * 2 > need ? *cap * 2 : need;
        char *nv = malloc(c);
        if (!nv)
            return false;
        memcpy(nv, *value, *len + 1);
        wipe_free(*value);
        *value = nv;
        *cap = c;
    }
    (*value)[(*len)++] = '\n';
    memcpy(*value + *len, more, n);
    *len += n;
    (*value)[*len] = '\0';
    return true;
}

sky_status sky__ini_parse(const char *text, sky__ini *out)
{
    memset(out, 0, sizeof *out);
    const char *section = NULL;
    const char *p = text ? text : "";
    sky__ini_kv *last = NULL;
    size_t last_len = 0, last_cap = 0;
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        const char *line = p;
        p = eol ? eol + 1 : p + len;
        size_t i = 0;
        while (i < len && (line[i] == ' ' || line[i] == '\t'))
            i++;
        bool indented = i > 0;
        if (i == len || line[i] == '\r' || line[i] == '#' || line[i] == ';')
            continue;
        if (indented && last) {
            /* continuation line (nested settings such as "s3 =\n  key = v") */
            const char *more = line + i;
            size_t n = len - i;
            while (n && isspace((unsigned char)*more))
                more++, n--;
            while (n && isspace((unsigned char)more[n - 1]))
                n--;
            if (!value_append(&last->value, &last_len, &last_cap, more, n))
                goto oom;
            continue;
        }
        if (line[i] == '[') {
            /* RawConfigParser's "\[(?P<header>.+)\]": up to the last ']', the name as written
             * (botocore finds no profile in "[ profile dev ]": it does not start "profile") */
            const char *close = NULL;
            for (size_t k = len; k > i + 1; k--)
                if (line[k - 1] == ']') {
                    close = line + k - 1;
                    break;
                }
            if (!close || close == line + i + 1)
                continue; /* malformed header: ignored, as the SDKs skip bad lines */
            size_t nl = (size_t)(close - line - i - 1);
            char *name = malloc(nl + 1);
            if (name) {
                memcpy(name, line + i + 1, nl);
                name[nl] = '\0';
            }
            if (!name || !(section = ini_section(out, name)))
                goto oom;
            last = NULL;
            continue;
        }
        if (!section)
            continue;
        const char *sep = NULL;
        for (size_t k = i; k < len; k++)
            if (line[k] == '=' || line[k] == ':') {
                sep = line + k;
                break;
            }
        if (!sep)
            continue;
        char *key = dup_trim(line + i, (size_t)(sep - line - i));
        char *val = dup_trim(sep + 1, (size_t)(line + len - sep - 1));
        if (!key || !val) {
            free(key);
            wipe_free(val);
            goto oom;
        }
        for (char *c = key; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        if (!ini_add(out, section, key, val)) {
            free(key);
            wipe_free(val);
            goto oom;
        }
        last = &out->kv[out->n - 1];
        last_len = strlen(val);
        last_cap = last_len + 1;
    }
    return SKY_OK;
oom:
    sky__ini_free(out);
    return SKY_ENOMEM;
}

sky_status sky__ini_load(const char *path, sky__ini *out)
{
    memset(out, 0, sizeof *out);
    if (!path)
        return SKY_ENOTFOUND;
    FILE *f = fopen(path, "rb");
    if (!f)
        return SKY_ENOTFOUND;
    sky__buf b = {0};
    char chunk[4096];
    size_t r;
    bool big = false;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0 && !(big = b.len + r > SKY__INI_MAX_BYTES))
        sky__buf_append(&b, chunk, r);
    fclose(f);
    sky__wipe(chunk, sizeof chunk);
    if (b.oom || big) {
        sky__buf_wipe(&b);
        return big ? SKY_ELIMIT : SKY_ENOMEM;
    }
    sky_status st = sky__ini_parse(sky__buf_cstr(&b), out);
    sky__buf_wipe(&b);
    return st;
}

const char *sky__ini_get(const sky__ini *ini, const char *section, const char *key)
{
    const char *v = NULL;
    for (size_t i = 0; i < ini->n; i++)
        if (strcmp(ini->kv[i].section, section) == 0 && strcmp(ini->kv[i].key, key) == 0)
            v = ini->kv[i].value;
    return v;
}

bool sky__ini_has_section(const sky__ini *ini, const char *section)
{
    for (size_t i = 0; i < ini->n; i++)
        if (strcmp(ini->kv[i].section, section) == 0)
            return true;
    return false;
}

void sky__ini_free(sky__ini *ini)
{
    for (size_t i = 0; i < ini->n; i++) {
        free(ini->kv[i].key);
        wipe_free(ini->kv[i].value);
    }
    for (size_t i = 0; i < ini->n_sections; i++)
        free(ini->sections[i]);
    free(ini->kv);
    free(ini->sections);
    memset(ini, 0, sizeof *ini);
}

char *sky__expand_home(const char *path)
{
    if (!path)
        return NULL;
    if (path[0] == '~' && (path[1] == '/' || path[1] == '\0')) {
        const char *home = getenv("HOME");
        sky__buf b = {0};
        sky__buf_puts(&b, home ? home : "");
        sky__buf_puts(&b, path + 1);
        return sky__buf_steal(&b);
    }
    return strdup(path);
}

static sky_status load_one(const char *explicit_path, const char *env, const char *def, sky__ini *out)
{
    const char *path = explicit_path;
    if (!path || !*path)
        path = getenv(env);
    if (!path || !*path)
        path = def;
    char *full = sky__expand_home(path);
    if (!full)
        return SKY_ENOMEM;
    sky_status st = sky__ini_load(full, out);
    free(full);
    return st == SKY_ENOTFOUND ? SKY_OK : st;
}

sky_status sky__profiles_load(sky__profiles *p, const char *creds_path, const char *config_path)
{
    memset(p, 0, sizeof *p);
    sky_status st = load_one(creds_path, "AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials",
                             &p->creds);
    if (st == SKY_OK)
        st = load_one(config_path, "AWS_CONFIG_FILE", "~/.aws/config", &p->config);
    if (st != SKY_OK)
        sky__profiles_free(p);
    return st;
}

void sky__profiles_free(sky__profiles *p)
{
    sky__ini_free(&p->creds);
    sky__ini_free(&p->config);
}

/* Whether a config-file section header names `kind NAME` as botocore's shlex split reads it:
 * "profile dev", "services\tlocal ", but not " profile dev" (its startswith fails). */
static bool section_is(const char *s, const char *kind, const char *name)
{
    size_t k = strlen(kind), n = strlen(name);
    if (strncmp(s, kind, k) != 0 || (s[k] != ' ' && s[k] != '\t'))
        return false;
    s += k;
    while (*s == ' ' || *s == '\t')
        s++;
    if (strncmp(s, name, n) != 0)
        return false;
    for (s += n; *s; s++)
        if (*s != ' ' && *s != '\t')
            return false;
    return true;
}

/* Finds the config-file section of a profile: "profile NAME", or for "default" also the bare
 * "[default]". */
static bool profile_section(const char *s, const char *profile)
{
    return section_is(s, "profile", profile) ||
           (strcmp(profile, "default") == 0 && strcmp(s, "default") == 0);
}

static const char *config_get(const sky__ini *ini, const char *profile, const char *key)
{
    const char *v = NULL;
    for (size_t i = 0; i < ini->n; i++)
        if (profile_section(ini->kv[i].section, profile) && strcmp(ini->kv[i].key, key) == 0)
            v = ini->kv[i].value;
    return v;
}

const char *sky__config_section_get(const sky__ini *ini, const char *kind, const char *name,
                                    const char *key, bool *section_found)
{
    const char *v = NULL;
    bool found = false;
    for (size_t i = 0; i < ini->n; i++)
        if (section_is(ini->kv[i].section, kind, name)) {
            found = true;
            if (strcmp(ini->kv[i].key, key) == 0)
                v = ini->kv[i].value;
        }
    if (section_found)
        *section_found = found;
    return v;
}

sky_status sky__ini_subvalue(const char *value, const char *key, const char **start, size_t *len)
{
    if (!value || value[0] != '\n')
        return SKY_EINVAL; /* a plain value, not "name =" followed by indented settings */
    const char *found = NULL;
    size_t found_len = 0, klen = strlen(key);
    for (const char *p = value; *p;) {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        const char *line = p;
        p = eol ? eol + 1 : p + n;
        while (n && isspace((unsigned char)*line))
            line++, n--;
        while (n && isspace((unsigned char)line[n - 1]))
            n--;
        if (!n)
            continue;
        const char *eq = memchr(line, '=', n);
        if (!eq)
            return SKY_EINVAL; /* botocore refuses the whole file ("ConfigParseError") */
        size_t kn = (size_t)(eq - line);
        while (kn && isspace((unsigned char)line[kn - 1]))
            kn--;
        if (kn == klen && memcmp(line, key, klen) == 0) { /* as written: not lower-cased */
            const char *v = eq + 1, *end = line + n;
            while (v < end && isspace((unsigned char)*v))
                v++;
            found = v;
            found_len = (size_t)(end - v);
        }
    }
    if (!found)
        return SKY_ENOTFOUND;
    *start = found;
    *len = found_len;
    return SKY_OK;
}

const char *sky__profile_get(const sky__profiles *p, const char *profile, const char *key,
                             bool creds_file)
{
    if (!profile || !key)
        return NULL;
    return creds_file ? sky__ini_get(&p->creds, profile, key) : config_get(&p->config, profile, key);
}

bool sky__profile_exists(const sky__profiles *p, const char *profile)
{
    if (sky__ini_has_section(&p->creds, profile))
        return true;
    for (size_t i = 0; i < p->config.n; i++)
        if (profile_section(p->config.kv[i].section, profile))
            return true;
    return false;
}

const char *sky__profile_name(const char *explicit_profile)
{
    if (explicit_profile && *explicit_profile)
        return explicit_profile;
    const char *e = getenv("AWS_PROFILE");
    if (e && *e)
        return e;
    e = getenv("AWS_DEFAULT_PROFILE");
    if (e && *e)
        return e;
    return "default";
}
