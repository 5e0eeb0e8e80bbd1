/*
 * fuzz_json_writer.c - the JSON-lines renderer (src/encode/json.c, src/util/text.c) through the public
 * API: an event with arbitrary names, keys, values and bytes, logged through a real pipeline
 * (bound fields, thread context, call site) to a sink that checks every line with jansson.
 * json.c promises that every line it writes parses; here that is checked, and more:
 *   - one line: a single '\n', at the end;
 *   - an object whose "message" is the event name, "level" its level;
 *   - a string that was valid UTF-8 reads back byte for byte (text.c repairs only invalid
 *     bytes), an integer reads back exactly, under a key no other field has;
 *   - the same event logged twice renders the same (the per-call-site caches change nothing).
 * The logfmt and pretty renderers get the same events (crashes and sanitizer reports only).
 *
 * Input: [level][flags] then length-prefixed strings: logger, event name, and up to 32 fields
 * [type][key][value] (see next_field). Missing bytes read as zeros.
 */
#include "fuzz_common.h"

#include <skylog.h>

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FIELDS 32

typedef struct reader {
    const uint8_t *p, *end;
} reader;

static unsigned u8(reader *r)
{
    return r->p < r->end ? *r->p++ : 0;
}

static uint64_t u64(reader *r)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | u8(r);
    return v;
}

/* A string: one length byte, or 0xff and two more for up to 65535 bytes. */
static const char *str(reader *r, size_t *n)
{
    size_t len = u8(r);
    if (len == 0xff)
        len = u8(r) << 8 | u8(r);
    size_t left = (size_t)(r->end - r->p);
    if (len > left)
        len = left;
    const char *s = (const char *)r->p;
    r->p += len;
    *n = len;
    return s;
}

/* Every line rendered by the sinks below, for the checks after the log call. */
typedef struct capture {
    char *lines[4];
    size_t n;
} capture;

static capture json_out;

static sky_status capture_write(void *self, const sky_record *rec, size_t n)
{
    capture *c = self;
    for (size_t i = 0; i < n; i++) {
        if (!rec[i].text || !rec[i].len || rec[i].text[rec[i].len - 1] != '\n' ||
            memchr(rec[i].text, '\n', rec[i].len - 1)) {
            /* one line, ending with its only '\n' */
            fprintf(stderr, "fuzz_json_writer: %s renderer, not one line: ",
                    c ? "JSON" : "logfmt or pretty");
            fwrite(rec[i].text ? rec[i].text : "", 1, rec[i].text ? rec[i].len : 0, stderr);
            fputc('\n', stderr);
            abort();
        }
        if (c && c->n < 4) {
            c->lines[c->n] = malloc(rec[i].len + 1);
            memcpy(c->lines[c->n], rec[i].text, rec[i].len);
            c->lines[c->n][rec[i].len] = '\0';
            c->n++;
        }
    }
    return SKY_OK;
}

static void capture_close(void *self)
{
    (void)self;
}

static const sky_sink_vtable capture_vt = {.type = "fuzz", .write = capture_write,
                                           .close = capture_close};

/* ---- an independent strict reader: RFC 8259, UTF-8 (RFC 3629), paired surrogate escapes ----
 * jansson is the semantic oracle below, but it cannot hold some valid JSON (a NUL in a key, an
 * integer past int64): grammar is judged here, on its own. */
typedef struct strict {
    const unsigned char *s;
    size_t i, n;
} strict;

static bool st_value(strict *p, int depth);

static void st_ws(strict *p)
{
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' ||
                           p->s[p->i] == '\r'))
        p->i++;
}

static long st_hex4(strict *p)
{
    if (p->n - p->i < 4)
        return -1;
    long v = 0;
    for (int k = 0; k < 4; k++) {
        unsigned c = p->s[p->i++];
        int d = c >= '0' && c <= '9' ? (int)c - '0' : c >= 'a' && c <= 'f' ? (int)c - 'a' + 10
              : c >= 'A' && c <= 'F' ? (int)c - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* One UTF-8 character (RFC 3629 table 1: no overlong forms, no surrogates, <= U+10FFFF). */
static bool st_utf8(strict *p)
{
    const unsigned char *c = p->s + p->i;
    size_t left = p->n - p->i;
    unsigned lo = 0x80, hi = 0xbf;
    size_t len;
    if (c[0] >= 0xc2 && c[0] <= 0xdf) len = 2;
    else if (c[0] >= 0xe0 && c[0] <= 0xef) {
        len = 3;
        if (c[0] == 0xe0) lo = 0xa0;
        if (c[0] == 0xed) hi = 0x9f;
    } else if (c[0] >= 0xf0 && c[0] <= 0xf4) {
        len = 4;
        if (c[0] == 0xf0) lo = 0x90;
        if (c[0] == 0xf4) hi = 0x8f;
    } else
        return false;
    if (left < len || c[1] < lo || c[1] > hi)
        return false;
    for (size_t k = 2; k < len; k++)
        if (c[k] < 0x80 || c[k] > 0xbf)
            return false;
    p->i += len;
    return true;
}

static bool st_string(strict *p)
{
    if (p->i >= p->n || p->s[p->i] != '"')
        return false;
    p->i++;
    while (p->i < p->n) {
        unsigned char c = p->s[p->i];
        if (c == '"') {
            p->i++;
            return true;
        }
        if (c < 0x20)
            return false;
        if (c >= 0x80) {
            if (!st_utf8(p))
                return false;
            continue;
        }
        p->i++;
        if (c != '\\')
            continue;
        if (p->i >= p->n)
            return false;
        c = p->s[p->i++];
        if (c == 'u') {
            long u = st_hex4(p);
            if (u < 0 || (u >= 0xdc00 && u <= 0xdfff))
                return false;
            if (u >= 0xd800 && u <= 0xdbff) {
                if (p->n - p->i < 2 || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u')
                    return false;
                p->i += 2;
                long lo = st_hex4(p);
                if (lo < 0xdc00 || lo > 0xdfff)
                    return false;
            }
        } else if (!strchr("\"\\/bfnrt", c) || !c) {
            return false;
        }
    }
    return false;
}

static bool st_digits(strict *p)
{
    size_t from = p->i;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
        p->i++;
    return p->i > from;
}

static bool st_number(strict *p)
{
    if (p->i < p->n && p->s[p->i] == '-')
        p->i++;
    if (p->i < p->n && p->s[p->i] == '0')
        p->i++;
    else if (!st_digits(p))
        return false;
    if (p->i < p->n && p->s[p->i] == '.') {
        p->i++;
        if (!st_digits(p))
            return false;
    }
    if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        p->i++;
        if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-'))
            p->i++;
        if (!st_digits(p))
            return false;
    }
    return true;
}

static bool st_lit(strict *p, const char *lit)
{
    size_t l = strlen(lit);
    if (p->n - p->i < l || memcmp(p->s + p->i, lit, l) != 0)
        return false;
    p->i += l;
    return true;
}

static bool st_value(strict *p, int depth)
{
    st_ws(p);
    if (p->i >= p->n || depth > 256)
        return false;
    unsigned char c = p->s[p->i];
    if (c == '{' || c == '[') {
        unsigned char close = c == '{' ? '}' : ']';
        p->i++;
        st_ws(p);
        if (p->i < p->n && p->s[p->i] == close)
            return p->i++, true;
        for (;;) {
            if (c == '{') {
                st_ws(p);
                if (!st_string(p))
                    return false;
                st_ws(p);
                if (p->i >= p->n || p->s[p->i++] != ':')
                    return false;
            }
            if (!st_value(p, depth + 1))
                return false;
            st_ws(p);
            if (p->i >= p->n)
                return false;
            unsigned char d = p->s[p->i++];
            if (d == close)
                return true;
            if (d != ',')
                return false;
        }
    }
    if (c == '"')
        return st_string(p);
    if (c == 't')
        return st_lit(p, "true");
    if (c == 'f')
        return st_lit(p, "false");
    if (c == 'n')
        return st_lit(p, "null");
    return st_number(p);
}

/* One JSON object, then exactly the final '\n'. */
static bool strict_line(const char *line, size_t len)
{
    strict p = {(const unsigned char *)line, 0, len - 1};
    if (!len || line[len - 1] != '\n' || line[0] != '{')
        return false;
    return st_value(&p, 0) && p.i == p.n;
}

/* The line as jansson reads it, or NULL where jansson cannot hold valid JSON (a NUL in a key;
 * an integer past int64 is read as a double, a number past a double's range not at all). */
static json_t *parse(const char *line)
{
    if (!strict_line(line, strlen(line))) {
        fprintf(stderr, "fuzz_json_writer: line is not strict JSON: %s\n", line);
        abort();
    }
    json_error_t e;
    json_t *j = json_loads(line, JSON_ALLOW_NUL, &e);
    if (!j)
        j = json_loads(line, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &e);
    if (j && !json_is_object(j))
        abort();
    return j;
}

/* Valid UTF-8, by jansson's own check (independent of text.c's). */
static bool utf8(const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    json_decref(j);
    return j != NULL;
}

static bool same_string(json_t *v, const char *s, size_t n)
{
    return json_is_string(v) && json_string_length(v) == n &&
           memcmp(json_string_value(v), s, n) == 0;
}

static const char *const reserved[] = {"timestamp", "level", "logger", "message",
                                       "module",    "func",  "line"};

/* True if `key` is one whose value the line must show as given: no other field (of the call,
 * the bound logger or the context) has it, it is not reserved or '_'-prefixed (reserved keys
 * are written "_level"), and it is valid UTF-8. */
static bool checkable(const sky_field *all, size_t n, size_t i)
{
    const sky_field *f = &all[i];
    if (!f->key || !f->key_len || f->key[0] == '_' || !utf8(f->key, f->key_len))
        return false;
    for (size_t r = 0; r < sizeof reserved / sizeof reserved[0]; r++)
        if (strlen(reserved[r]) == f->key_len && memcmp(reserved[r], f->key, f->key_len) == 0)
            return false;
    for (size_t k = 0; k < n; k++)
        if (k != i && all[k].key_len == f->key_len && all[k].key &&
            memcmp(all[k].key, f->key, f->key_len) == 0)
            return false;
    return true;
}

static bool next_field(reader *r, sky_field *f)
{
    if (r->p >= r->end)
        return false;
    unsigned type = u8(r) % 11;
    size_t kl;
    const char *key = str(r, &kl);
    memset(f, 0, sizeof *f);
    /* keys are C strings with their length, as skylog.h's constructors make them (bound
     * fields are copied by strlen) */
    f->key = strndup(key, kl);
    f->key_len = (uint32_t)strlen(f->key);
    switch (type) {
    case 0: f->type = SKY_T_STR; f->v.str.ptr = str(r, &f->v.str.len); break;
    case 1: f->type = SKY_T_INT; f->v.i = (int64_t)u64(r); break;
    case 2: f->type = SKY_T_UINT; f->v.u = u64(r); break;
    case 3: {
        uint64_t x = u64(r);
        f->type = SKY_T_F64;
        memcpy(&f->v.f, &x, 8);
        break;
    }
    case 4: f->type = SKY_T_BOOL; f->v.b = u8(r) & 1; break;
    case 5: f->type = SKY_T_NULL; break;
    case 6: f->type = SKY_T_TIME; f->v.ns = (int64_t)u64(r); break;
    case 7: f->type = SKY_T_DUR; f->v.ns = (int64_t)u64(r); break;
    case 8: f->type = SKY_T_ERRNO; f->v.err = (int)(int32_t)u64(r); break;
    case 9: f->type = SKY_T_JSON; f->v.str.ptr = str(r, &f->v.str.len); break;
    default: f->type = SKY_T_F64; f->v.f = (double)(int64_t)u64(r) / 1000.0; break;
    }
    return true;
}

static void check_line(json_t *j, sky_level level, const char *name, const sky_field *all,
                       size_t n)
{
    if (!same_string(json_object_get(j, "level"), sky_level_name(level), strlen(sky_level_name(level))))
        abort();
    json_t *msg = json_object_get(j, "message");
    if (!json_is_string(msg))
        abort();
    if (utf8(name, strlen(name)) && !same_string(msg, name, strlen(name)))
        abort(); /* valid UTF-8 reads back as written */
    for (size_t i = 0; i < n; i++) {
        const sky_field *f = &all[i];
        if (!checkable(all, n, i))
            continue;
        char *key = strndup(f->key, f->key_len);
        json_t *v = json_object_get(j, key);
        free(key);
        if (!v)
            abort(); /* a field is never dropped */
        if (f->type == SKY_T_STR && utf8(f->v.str.ptr, f->v.str.len) &&
            !same_string(v, f->v.str.ptr, f->v.str.len))
            abort();
        if (f->type == SKY_T_INT && (json_is_integer(v) ? json_integer_value(v) != f->v.i
                                                        : json_number_value(v) != (double)f->v.i))
            abort();
        if (f->type == SKY_T_F64 && isfinite(f->v.f) &&
            !(json_is_number(v) && json_number_value(v) == f->v.f))
            abort(); /* the shortest text that reads back (skylog.h) */
    }
}

SKY_FUZZ_SANDBOXED

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reader r = {data, data + size};
    sky_level level = (sky_level)(u8(&r) % SKY_LEVEL_OFF);
    unsigned flags = u8(&r);
    size_t ln, en;
    const char *lp = str(&r, &ln), *ep = str(&r, &en);
    char *logger = strndup(lp, ln), *name = strndup(ep, en);
    sky_field fields[MAX_FIELDS], all[MAX_FIELDS];
    size_t n = 0;
    while (n < MAX_FIELDS && next_field(&r, &fields[n]))
        n++;
    /* fields split between the bound logger, the context and the call by two flag bits */
    size_t nb = flags & 1 ? n / 3 : 0, nc = flags & 2 ? n / 3 : 0;

    sky_t *sky;
    if (sky_open(&(sky_options){.level = SKY_LEVEL_TRACE, .level_set = true}, &sky) != SKY_OK)
        abort();
    sky_add_sink(sky, sky_sink_new(&capture_vt, &json_out, SKY_FORMAT_JSON), NULL);
    sky_add_sink(sky, sky_sink_new(&capture_vt, NULL, SKY_FORMAT_LOGFMT), NULL);
    sky_add_sink(sky, sky_sink_new(&capture_vt, NULL, SKY_FORMAT_PRETTY), NULL);
    sky_logger *base = sky_logger_get(sky, logger);
    sky_logger *log = nb ? sky_logger_bind(base, fields, nb) : base;
    if (!log)
        abort();
    bool ctx = nc && sky_context_push(fields + nb, nc) == SKY_OK;
    static const sky_callsite sites[2] = {{"tests/fuzz/fuzz_json_writer.c", "fuzz_site", 1},
                                          {"odd\"file\\name\x7f.c", NULL, -1}};
    const sky_callsite *cs = flags & 4 ? &sites[(flags >> 3) & 1] : NULL;
    int times = flags & 16 ? 2 : 1;
    for (int t = 0; t < times; t++)
        sky_emit(log, level, name, cs, fields + nb + nc, n - nb - nc);
    if (ctx)
        sky_context_pop();

    /* render order: context, bound, call (skylog.h) */
    size_t na = 0;
    for (size_t i = 0; i < nc; i++)
        all[na++] = fields[nb + i];
    for (size_t i = 0; i < nb; i++)
        all[na++] = fields[i];
    for (size_t i = nb + nc; i < n; i++)
        all[na++] = fields[i];
    if (json_out.n != (size_t)times)
        abort(); /* every event reaches the sink */
    json_t *first = NULL;
    for (size_t i = 0; i < json_out.n; i++) {
        json_t *j = parse(json_out.lines[i]);
        if (!j) { /* checked as strict JSON; jansson cannot compare it */
            free(json_out.lines[i]);
            continue;
        }
        check_line(j, level, name, all, na);
        json_object_del(j, "timestamp");
        if (!first)
            first = j;
        else {
            if (!json_equal(first, j))
                abort(); /* the second rendering, from the caches, differs */
            json_decref(j);
        }
        free(json_out.lines[i]);
    }
    json_decref(first);
    json_out.n = 0;
    if (log != base)
        sky_logger_release(log);
    sky_close(sky);
    for (size_t i = 0; i < n; i++)
        free((char *)fields[i].key);
    free(logger);
    free(name);
    return 0;
}
