/*
 * redact.c - removes secrets before they leave the process.
 *
 * Two checks. By key: a field whose key contains a listed name as whole words (split at '_',
 * '-', '.', and case changes are not split: "db_password", "X-Api-Key", "http.authorization")
 * has its value replaced. By value: string values are scanned for things that look like
 * secrets wherever they appear: AWS access key ids (AKIA/ASIA + 16), AWS secret access keys
 * (40 base64 characters with mixed classes, standing alone), "Bearer <token>" and PEM private
 * key blocks; only the secret part is replaced, so the message stays readable.
 * It must never leave a secret partially visible, and never touch non-string values other than
 * by key (a numeric "token" field is replaced too).
 */
#include <skylog.h>

#include "core/reserved.h"
#include "util/buf.h"

#include <ctype.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>

static const char *const default_fields[] = {
    "password", "passwd", "api_key", "apikey", "token", "secret",
    "authorization", "cookie", "private_key", NULL,
};

typedef struct redact {
    char **names; /* normalised: lower case, '-' and '.' as '_' */
    size_t n;
    bool values;
    char *replacement;
    size_t repl_len;
} redact;

static char norm(char c)
{
    c = (char)tolower((unsigned char)c);
    return c == '-' || c == '.' ? '_' : c;
}

/* Does normalised `name` occur in key as a run of whole '_'-separated words? */
static bool key_matches(const char *key, size_t kl, const char *name)
{
    size_t nl = strlen(name);
    if (nl > kl)
        return false;
    for (size_t i = 0; i + nl <= kl; i++) {
        if (i > 0 && norm(key[i - 1]) != '_')
            continue;
        if (i + nl < kl && norm(key[i + nl]) != '_')
            continue;
        size_t j = 0;
        while (j < nl && norm(key[i + j]) == name[j])
            j++;
        if (j == nl)
            return true;
    }
    return false;
}

static bool is_b64(unsigned char c) { return isalnum(c) || c == '/' || c == '+' || c == '='; }
static bool is_upper_digit(unsigned char c) { return isupper(c) || isdigit(c); }
static bool is_token_char(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '+' || c == '/' ||
           c == '=';
}

/* Finds the next secret in s[from..n); returns its start and sets *len, or returns n. */
static size_t next_secret(const char *s, size_t n, size_t from, size_t *len)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = from; i < n; i++) {
        /* AWS access key id: AKIA|ASIA + 16 [A-Z0-9], standing alone */
        if (i + 20 <= n && (u[i] == 'A') && (u[i + 1] == 'K' || u[i + 1] == 'S') &&
            u[i + 2] == 'I' && u[i + 3] == 'A' && (i == 0 || !isalnum(u[i - 1]))) {
            size_t j = i + 4;
            while (j < n && j < i + 20 && is_upper_digit(u[j]))
                j++;
            if (j == i + 20 && (j == n || !isalnum(u[j]))) {
                *len = 20;
                return i;
            }
        }
        /* Bearer token */
        if (i + 7 < n && (u[i] == 'B' || u[i] == 'b') && strncasecmp(s + i, "bearer ", 7) == 0 &&
            (i == 0 || !isalnum(u[i - 1]))) {
            size_t j = i + 7;
            while (j < n && u[j] == ' ')
                j++;
            size_t k = j;
            while (k < n && is_token_char(u[k]))
                k++;
            if (k - j >= 8) {
                *len = k - i;
                return i;
            }
        }
        /* PEM private key block */
        if (u[i] == '-' && i + 11 < n && strncmp(s + i, "-----BEGIN ", 11) == 0) {
            const char *end = memmem(s + i, n - i, "PRIVATE KEY-----", 16);
            if (end) {
                const char *stop = memmem(end + 16, n - (size_t)(end + 16 - s), "-----END ", 9);
                size_t e = n;
                if (stop) {
                    const char *tail = memmem(stop + 9, n - (size_t)(stop + 9 - s), "-----", 5);
                    e = tail ? (size_t)(tail + 5 - s) : n;
                }
                *len = e - i;
                return i;
            }
        }
        /* AWS secret access key: exactly 40 base64 chars, bounded, mixed upper/lower/digit-ish */
        if (is_b64(u[i]) && (i == 0 || !is_b64(u[i - 1]))) {
            size_t j = i;
            bool up = false, lo = false, other = false;
            while (j < n && is_b64(u[j])) {
                up |= isupper(u[j]) != 0;
                lo |= islower(u[j]) != 0;
                other |= isdigit(u[j]) || u[j] == '/' || u[j] == '+';
                j++;
            }
            if (j - i == 40 && up && lo && other) {
                *len = 40;
                return i;
            }
        }
    }
    return n;
}

static sky_proc_result redact_run(void *user, sky_event *ev)
{
    redact *r = user;
    for (size_t i = 0; i < sky_event_field_count(ev); i++) {
        const sky_field *f = sky_event_field_at(ev, i);
        bool by_key = false;
        for (size_t k = 0; k < r->n && !by_key; k++)
            by_key = key_matches(f->key, f->key_len, r->names[k]);
        if (by_key) {
            if (!(f->type == SKY_T_STR && f->v.str.len == r->repl_len &&
                  memcmp(f->v.str.ptr, r->replacement, r->repl_len) == 0)) {
                char key[256];
                size_t kl = f->key_len < sizeof key - 1 ? f->key_len : sizeof key - 1;
                memcpy(key, f->key, kl);
                key[kl] = '\0';
                if (kl != f->key_len)
                    return SKY_PROC_FAILED; /* absurdly long key: let undo keep things sane */
                if (sky_event_set(ev, SKY_STR(key, r->replacement)) != SKY_OK)
                    return SKY_PROC_FAILED;
            }
            continue;
        }
        if (!r->values || (f->type != SKY_T_STR && f->type != SKY_T_JSON))
            continue;
        const char *s = f->v.str.ptr;
        size_t n = f->v.str.len, len = 0;
        size_t at = next_secret(s, n, 0, &len);
        if (at == n)
            continue;
        sky_buf b = {0};
        size_t from = 0;
        while (at < n) {
            sky__buf_put(&b, s + from, at - from);
            sky__buf_put(&b, r->replacement, r->repl_len);
            from = at + len;
            at = next_secret(s, n, from, &len);
        }
        sky__buf_put(&b, s + from, n - from);
        sky_field nf = *f;
        nf.type = SKY_T_STR; /* a redacted JSON fragment is no longer the JSON it was */
        nf.v.str.ptr = b.p ? b.p : "";
        nf.v.str.len = b.len;
        char keybuf[256];
        bool ok = !b.oom && f->key_len < sizeof keybuf;
        if (ok) {
            memcpy(keybuf, f->key, f->key_len);
            keybuf[f->key_len] = '\0';
            nf.key = keybuf;
            ok = sky_event_set(ev, nf) == SKY_OK;
        }
        sky__buf_free(&b);
        if (!ok)
            return SKY_PROC_FAILED;
    }
    return SKY_PROC_KEEP;
}

static void redact_free(void *user)
{
    redact *r = user;
    for (size_t i = 0; i < r->n; i++)
        free(r->names[i]);
    free(r->names);
    free(r->replacement);
    free(r);
}

sky_status sky_add_redact(sky_t *sky, const sky_redact_opts *opts)
{
    if (!sky)
        return SKY_EINVAL;
    sky_redact_opts o = opts ? *opts : (sky_redact_opts){0};
    if (SKY__CHECK_RESERVED(&o, sky_redact_opts, sky, NULL) != SKY_OK)
        return SKY_EINVAL;
    const char *const *names = o.fields ? o.fields : default_fields;
    redact *r = calloc(1, sizeof *r);
    if (!r)
        return SKY_ENOMEM;
    size_t n = 0;
    while (names[n])
        n++;
    r->names = calloc(n ? n : 1, sizeof *r->names);
    r->replacement = strdup(o.replacement ? o.replacement : SKY_REDACTED);
    if (!r->names || !r->replacement) {
        redact_free(r);
        return SKY_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        char *c = strdup(names[i]);
        if (!c) {
            redact_free(r);
            return SKY_ENOMEM;
        }
        for (char *p = c; *p; p++)
            *p = norm(*p);
        r->names[r->n++] = c;
    }
    r->values = !o.no_value_patterns;
    r->repl_len = strlen(r->replacement);
    return sky_add_processor(sky, "redact", redact_run, r, redact_free);
}
