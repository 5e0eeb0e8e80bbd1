/*
 * json.c - the JSON-lines renderer: one RFC 8259 object per event, one line.
 *
 * Layout: {"timestamp","level","logger","message","module","func","line", then the fields in
 * event order}. Standard keys come first so humans and Insights find them in the same place;
 * a user field that would shadow one is written with a leading '_' ("_level"), never dropped.
 * Non-finite doubles are written as the strings "NaN", "Infinity", "-Infinity" (JSON has no
 * such numbers), raw JSON fragments are embedded only if they validate, strings are repaired
 * to UTF-8. Every line this writes parses.
 */
#include "encode/render.h"
#include "util/text.h"
#include "util/keybits.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

void sky__callsite_module(const sky_callsite *cs, const char **p, size_t *n)
{
    const char *f = cs && cs->file ? cs->file : "";
    const char *slash = strrchr(f, '/');
    const char *base = slash ? slash + 1 : f;
    const char *dot = strrchr(base, '.');
    *p = base;
    *n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
}

static void json_value(sky_buf *b, const sky_field *f)
{
    switch (f->type) {
    case SKY_T_STR: sky__json_str(b, f->v.str.ptr, f->v.str.len); break;
    case SKY_T_INT: sky__buf_i64(b, f->v.i); break;
    case SKY_T_UINT: sky__buf_u64(b, f->v.u); break;
    case SKY_T_F64:
        if (isnan(f->v.f))
            sky__buf_lit(b, "\"NaN\"");
        else if (isinf(f->v.f))
            sky__buf_puts(b, f->v.f > 0 ? "\"Infinity\"" : "\"-Infinity\"");
        else
            sky__buf_f64(b, f->v.f);
        break;
    case SKY_T_BOOL: sky__buf_puts(b, f->v.b ? "true" : "false"); break;
    case SKY_T_TIME: {
        char ts[SKY_ISO8601_LEN];
        sky__iso8601_ms(ts, f->v.ns);
        sky__buf_putc(b, '"');
        sky__buf_put(b, ts, sizeof ts);
        sky__buf_putc(b, '"');
        break;
    }
    case SKY_T_DUR: sky__buf_f64(b, (double)f->v.ns / 1e6); break;
    case SKY_T_ERRNO: {
        const char *name = strerrorname_np(f->v.err);
        const char *desc = strerrordesc_np(f->v.err);
        sky__buf_putc(b, '"');
        if (name) {
            sky__buf_puts(b, name);
            sky__buf_lit(b, ": ");
            sky__buf_puts(b, desc ? desc : "");
        } else {
            sky__buf_lit(b, "errno ");
            sky__buf_i64(b, f->v.err);
        }
        sky__buf_putc(b, '"');
        break;
    }
    case SKY_T_JSON:
        if (sky__json_valid(f->v.str.ptr, f->v.str.len)) {
            size_t at = b->len;
            sky__buf_put(b, f->v.str.ptr, f->v.str.len);
            /* A pretty-printed fragment would split the line. In valid JSON a CR or LF can
             * only be white space between tokens (strings escape them), so a space keeps the
             * value and makes it one line. */
            for (size_t i = at; !b->oom && i < b->len; i++)
                if (b->p[i] == '\n' || b->p[i] == '\r')
                    b->p[i] = ' ';
        } else {
            sky__json_str(b, f->v.str.ptr, f->v.str.len);
        }
        break;
    default: sky__buf_lit(b, "null"); break;
    }
}

static void json_callsite_text(const sky_callsite *cs, sky_buf *b)
{
    const char *mod;
    size_t ml;
    sky__callsite_module(cs, &mod, &ml);
    sky__buf_lit(b, ",\"module\":");
    sky__json_str(b, mod, ml);
    if (cs->func) {
        sky__buf_lit(b, ",\"func\":");
        sky__json_str(b, cs->func, strlen(cs->func));
    }
    sky__buf_lit(b, ",\"line\":");
    sky__buf_i64(b, cs->line);
}

/* An event's timestamp at d (SKY_ISO8601_LEN bytes), from the owner's cache when its
 * millisecond repeats: a call instead of a few instructions, for most events of a batch. */
static inline void put_ts(char *d, const sky_event *ev)
{
    _Static_assert(sizeof ev->rcache->ts_text == SKY_ISO8601_LEN, "timestamp cache");
    sky__render_cache *c = ev->rcache;
    int64_t ns = ev->ts_ns;
    if (SKY_LIKELY(c && (uint64_t)ns - c->ts_lo < c->ts_span)) {
        memcpy(d, c->ts_text, SKY_ISO8601_LEN);
        return;
    }
    if (!c || ns < 0) {
        sky__iso8601_ms(d, ns);
        return;
    }
    sky__iso8601_ms(c->ts_text, ns);
    c->ts_lo = (uint64_t)ns - (uint64_t)ns % 1000000;
    c->ts_span = 1000000;
    memcpy(d, c->ts_text, SKY_ISO8601_LEN);
}

/* The JSON text of errno values below ERRNO_TEXTS, as json_value writes it, made once per
 * process: an errno field then costs a copy, not two strerror lookups and two strlen calls. A
 * text longer than ERRNO_TEXT_MAX bytes has length 0 there (json_value writes it). */
#define ERRNO_TEXTS 256
#define ERRNO_TEXT_MAX 96
static struct {
    uint8_t len;
    char text[ERRNO_TEXT_MAX];
} errno_texts[ERRNO_TEXTS];
static pthread_once_t errno_once = PTHREAD_ONCE_INIT;
static void json_value(sky_buf *b, const sky_field *f);
static void errno_texts_init(void)
{
    for (int e = 0; e < ERRNO_TEXTS; e++) {
        sky_buf b = {0};
        json_value(&b, &(const sky_field){.type = SKY_T_ERRNO, .v.err = e});
        if (!b.oom && b.len <= ERRNO_TEXT_MAX) {
            memcpy(errno_texts[e].text, b.p, b.len);
            errno_texts[e].len = (uint8_t)b.len;
        }
        sky__buf_free(&b);
    }
}

/* `,"key":value` of a field, through the checked helpers (any length, any type). */
static void json_field(sky_buf *b, const sky_field *f)
{
    sky__buf_lit(b, ",\"");
    if (sky__is_reserved_key(f->key, f->key_len))
        sky__buf_putc(b, '_');
    sky__json_str_body(b, f->key, f->key_len);
    sky__buf_lit(b, "\":");
    json_value(b, f);
}

/* A fragment's text in b, field by field as sky__render_json writes a field (put_field);
 * with the key set of its fields. */
static inline uint64_t frag_text(sky_buf *b, const sky__frag *f);

/* The scratch room a fragment is rendered in before it is copied where it stays: the usual
 * scope or bound logger fits (room for a field is reserved as 6 bytes a key or string byte
 * + 32); a larger one is rendered into an allocation that grows. */
#define FRAG_SCRATCH 2048

bool sky__frag_render(sky__frag *f)
{
    if (SKY_LIKELY(f->json_state == 1))
        return true;
    if (f->json_state == 2)
        return false;
    char scratch[FRAG_SCRATCH];
    sky_buf b = {.p = scratch, .cap = sizeof scratch, .fixed = true};
    uint64_t bits = frag_text(&b, f);
    if (b.oom) {
        b = (sky_buf){0};
        bits = frag_text(&b, f);
    }
    size_t len = b.len;
    bool heap = b.p != scratch;
    /* 16 bytes past the text are readable: put_frags copies it 16 bytes at a time */
    if (b.oom || len > UINT32_MAX / 8)
        goto fail;
    if (len + 16 <= f->json_cap) {
        memcpy(f->json, b.p, len); /* a context block's room (the usual scope fits) */
        if (heap)
            sky__buf_free(&b);
    } else {
        size_t cap = len + 16;
        if (f->in_record) /* freed with its record: its events are rendered field by field */
            goto fail;
        /* text the block's room cannot hold is counted against its pipeline's bound: past
         * it, the records of this scope are rendered field by field */
        if (f->budget && !sky__budget_take(f->budget, cap, false))
            goto fail;
        char *p = malloc(cap);
        if (!p) {
            if (f->budget)
                sky__budget_give(f->budget, cap);
            goto fail;
        }
        memcpy(p, b.p, len);
        if (heap)
            sky__buf_free(&b);
        f->json = p;
        f->json_cap = (uint32_t)cap;
        f->json_own = 1;
    }
    f->json_len = (uint32_t)len;
    f->key_bits = bits;
    f->json_state = 1;
    return true;
fail:
    if (heap)
        sky__buf_free(&b);
    f->json_state = 2;
    return false;
}

static bool key_in(const sky_field *fs, size_t n, const char *k, size_t kl)
{
    for (size_t i = 0; i < n; i++)
        if (fs[i].key_len == kl && memcmp(fs[i].key, k, kl) == 0)
            return true;
    return false;
}

/* Key sets whose bits (util/keybits.h) do not meet share no key. */
static inline bool frags_disjoint(const sky_event *ev, const sky__frag *c, const sky__frag *bf)
{
    uint64_t sb = ev->schema->key_bits, cb = c ? c->key_bits : 0, bb = bf ? bf->key_bits : 0;
    return !(sb & (cb | bb)) && !(cb & bb);
}

/* frags_ok's slow path: renders the fragments, then compares the keys where the bits meet.
 * The answers for the last few schemas are kept in the fragment (a scope usually logs from a
 * few sites); not with a second fragment, a bound logger whose address a later one may take. */
static __attribute__((noinline)) bool frags_check(const sky_event *ev)
{
    sky__frag *c = sky__event_ctx(ev), *bf = ev->bnd, *own = c ? c : bf;
    if ((!c || sky__frag_render(c)) && (!bf || sky__frag_render(bf)) && frags_disjoint(ev, c, bf))
        return true;
    bool cache = !(c && bf);
    for (int k = 0; cache && k < SKY__FRAG_CHECKS; k++)
        if (own->chk_sc[k] == ev->schema)
            return own->chk_ok >> k & 1;
    bool ok = (!c || sky__frag_render(c)) && (!bf || sky__frag_render(bf));
    const sky__schema *sc = &ev->schema->pub;
    for (size_t i = 0; ok && i < sc->n; i++)
        ok = !(c && key_in(c->fields, c->n, sc->keys[i], sc->key_lens[i])) &&
             !(bf && key_in(bf->fields, bf->n, sc->keys[i], sc->key_lens[i]));
    for (size_t i = 0; ok && c && bf && i < bf->n; i++)
        ok = !key_in(c->fields, c->n, bf->fields[i].key, bf->fields[i].key_len);
    if (cache && own->json_state != 2) { /* one that cannot render is asked each time */
        int k = own->chk_next++ % SKY__FRAG_CHECKS;
        own->chk_sc[k] = ev->schema;
        own->chk_ok = (uint8_t)((own->chk_ok & ~(1u << k)) | (unsigned)ok << k);
    }
    return ok;
}

/* A site event's context and bound fragments can be copied into its line as they are: both
 * rendered, and no key of one is the key of another or of the call (the general path then
 * de-duplicates). Inline, the usual answer: rendered already, key sets disjoint. */
static inline bool frags_ok(const sky_event *ev)
{
    const sky__frag *c = sky__event_ctx(ev), *bf = ev->bnd;
    if (SKY_LIKELY((!c || c->json_state == 1) && (!bf || bf->json_state == 1)) &&
        frags_disjoint(ev, c, bf))
        return true;
    return frags_check(ev);
}

/* The bytes a site event's fragments add to its line (frags_ok said yes). */
static inline size_t frags_len(const sky_event *ev)
{
    if (SKY_LIKELY(!ev->ctxh && !ev->bnd))
        return 0;
    const sky__frag *c = sky__event_ctx(ev);
    return (c ? c->json_len : 0) + (ev->bnd ? ev->bnd->json_len : 0);
}

/* Makes room for `need` more bytes after d and returns where to write (d itself unless the
 * buffer moved), or NULL on out-of-memory (the buffer is then marked). */
static inline char *room(sky_buf *b, char *d, size_t need)
{
    if (SKY_LIKELY((size_t)(b->p + b->cap - d) > need))
        return d;
    b->len = (size_t)(d - b->p);
    if (!sky__buf_reserve(b, need))
        return NULL;
    return b->p + b->len;
}

#define PUT_LIT(d, s)                                                                              \
    do {                                                                                           \
        memcpy((d), (s), sizeof(s) - 1);                                                           \
        (d) += sizeof(s) - 1;                                                                      \
    } while (0)

/* A JSON string at d: quoted, escaped. Only for n <= SKY_JSON_DIRECT_MAX and 6n + 2 bytes of
 * room. */
static inline __attribute__((always_inline)) char *put_str(char *d, const char *s, size_t n)
{
    *d++ = '"';
    d = sky__json_escape_raw(d, s, n);
    *d++ = '"';
    return d;
}

/* "logger", "message" and the callsite's keys, rendered. */
static void json_head_text(const sky_event *ev, sky_buf *b)
{
    char *d = b->p + b->len;
    bool direct = ev->logger_len <= SKY_JSON_DIRECT_MAX && ev->name_len <= SKY_JSON_DIRECT_MAX;
    if (direct) {
        if (!(d = room(b, d, 6 * (ev->logger_len + ev->name_len) + 32)))
            return;
        if (ev->logger_len)
            d = put_str(d, ev->logger, ev->logger_len);
        else
            PUT_LIT(d, "\"root\"");
        PUT_LIT(d, ",\"message\":");
        d = put_str(d, ev->name, ev->name_len);
        b->len = (size_t)(d - b->p);
    } else {
        if (ev->logger_len)
            sky__json_str(b, ev->logger, ev->logger_len);
        else
            sky__buf_lit(b, "\"root\"");
        sky__buf_lit(b, ",\"message\":");
        sky__json_str(b, ev->name, ev->name_len);
    }
    if (ev->cs && (ev->cs->file || ev->cs->func)) /* one naming no place says nothing */
        json_callsite_text(ev->cs, b);
}

/* memcmp(a, b, n) == 0 without a call for the usual short event name: overlapping word loads,
 * as sky__copy_small does. */
static inline bool eq_small(const char *a, const char *b, size_t n)
{
    if (n >= 8 && n <= 16) {
        uint64_t a0, a1, b0, b1;
        memcpy(&a0, a, 8);
        memcpy(&a1, a + n - 8, 8);
        memcpy(&b0, b, 8);
        memcpy(&b1, b + n - 8, 8);
        return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }
    if (n >= 4 && n < 8) {
        uint32_t a0, a1, b0, b1;
        memcpy(&a0, a, 4);
        memcpy(&a1, a + n - 4, 4);
        memcpy(&b0, b, 4);
        memcpy(&b1, b + n - 4, 4);
        return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }
    return memcmp(a, b, n) == 0;
}

/* The same, from the owner's per-callsite cache when there is one: at one call site the
 * logger, the event name and the callsite nearly always repeat, so their JSON is rendered
 * once. An entry is used only if all of them match (the name by its bytes: processors may
 * rename events; loggers' names live as long as the pipeline). */
static void json_head(const sky_event *ev, sky_buf *b)
{
    const sky_callsite *cs = ev->cs;
    if (!cs || !ev->rcache || ev->name_len > sizeof ev->rcache->json[0].name) {
        json_head_text(ev, b);
        return;
    }
    sky__cs_entry *e = &ev->rcache->json[((uintptr_t)cs >> 4) % SKY__CS_CACHE_SLOTS];
    if (e->cs == cs && e->file == cs->file && e->func == cs->func && e->line == cs->line &&
        e->logger == ev->logger && e->logger_len == ev->logger_len &&
        e->name_len == ev->name_len && eq_small(e->name, ev->name, ev->name_len)) {
        sky__buf_put(b, e->text, e->len);
        return;
    }
    size_t start = b->len;
    json_head_text(ev, b);
    size_t len = b->len - start;
    if (!b->oom && len <= sizeof e->text) {
        memcpy(e->text, b->p + start, len);
        e->len = (uint16_t)len;
        e->cs = cs;
        e->file = cs->file;
        e->func = cs->func;
        e->line = cs->line;
        e->logger = ev->logger;
        e->logger_len = ev->logger_len;
        memcpy(e->name, ev->name, ev->name_len);
        e->name_len = (uint16_t)ev->name_len;
    }
}

/* The renderer reserves room once per piece and writes straight into the buffer: no per-byte
 * capacity checks. Values whose size it cannot bound cheaply (doubles, errno texts, huge
 * strings, raw JSON) go through the checked sky_buf helpers. */
static const struct {
    char s[8]; /* padded: copied as one 8-byte word */
    size_t n;
} levels[SKY_LEVEL_COUNT_] = {{"TRACE", 5}, {"DEBUG", 5}, {"INFO", 4}, {"WARN", 4},
                              {"ERROR", 5}, {"CRITICAL", 8}, {"OFF", 3}};

/* A value's direct text at d, where room for it (6 bytes per string byte + 32) is reserved,
 * from its type and 8-byte slot as a site record holds it (see sky__site_field): a string's
 * slot is its length, its bytes are at *s, and *s moves past them and their NUL. Returns the
 * end, or NULL (with *s unmoved) when the value needs the checked path (json_value): a string
 * over SKY_JSON_DIRECT_MAX, a non-finite double, and the types whose text is not bounded that
 * way or that are rare (TIME, DUR, ERRNO, JSON). */
static inline __attribute__((always_inline)) char *put_slot(char *d, unsigned type, uint64_t x,
                                                             const char **s, const char *lim)
{
    switch (type) {
    case SKY_T_STR:
#if defined(__SSE2__)
        /* A site record's string of up to 16 bytes whose record goes on for 16 bytes from it
         * (lim: the record's end; the call site reserves 15 bytes after its last string): one
         * 16-byte load tests it, one store copies it (the bytes past it are overwritten or
         * left past the line's end; room: 32 bytes a value). Not from a sky_field (lim NULL),
         * whose string may end at the end of its page. */
        if (lim && x <= 16 && (size_t)(lim - *s) >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)*s);
            if (!(sky__json_plain_mask16(v) & ((1u << x) - 1))) {
                *d = '"';
                _mm_storeu_si128((__m128i *)(void *)(d + 1), v);
                d[x + 1] = '"';
                *s += x + 1;
                return d + x + 2;
            }
        }
#endif
        if (x > SKY_JSON_DIRECT_MAX)
            return NULL;
        d = put_str(d, *s, x);
        *s += x + 1;
        return d;
    case SKY_T_INT: return sky__i64_raw(d, (int64_t)x);
    case SKY_T_UINT: return sky__u64_raw(d, x);
    case SKY_T_BOOL:
        if (x)
            PUT_LIT(d, "true");
        else
            PUT_LIT(d, "false");
        return d;
    case SKY_T_NULL: PUT_LIT(d, "null"); return d;
    case SKY_T_F64: {
        double f;
        memcpy(&f, &x, 8);
        /* room: 32 reserved >= SKY_F64_MAX; NULL for NaN and infinities (strings) */
        return sky__f64_raw_finite(d, f);
    }
    case SKY_T_ERRNO: /* only in site lines, whose room has ERRNO_TEXT_MAX per errno field */
        if (x < ERRNO_TEXTS && errno_texts[x].len) {
            for (size_t k = 0; k < ERRNO_TEXT_MAX; k += 16)
                memcpy(d + k, errno_texts[x].text + k, 16);
            return d + errno_texts[x].len;
        }
        return NULL;
    default: return NULL;
    }
}

/* The same for a field. */
static inline char *put_direct(char *d, const sky_field *f)
{
    const char *s = f->v.str.ptr;
    uint64_t x;
    if (f->type == SKY_T_STR)
        x = f->v.str.len;
    else if (f->type == SKY_T_BOOL)
        x = f->v.b;
    else if (f->type == SKY_T_ERRNO)
        return NULL; /* its room is not reserved here */
    else
        memcpy(&x, &f->v, 8);
    return put_slot(d, f->type, x, &s, NULL);
}

/* Field f's value at d (room reserved as for put_direct); returns the end, or NULL on
 * out-of-memory. */
static inline char *put_value(sky_buf *b, char *d, const sky_field *f)
{
    char *e = put_direct(d, f);
    if (SKY_LIKELY(e != NULL))
        return e;
    b->len = (size_t)(d - b->p);
    json_value(b, f);
    return b->oom ? NULL : b->p + b->len;
}

/* Field f's `,"key":value` at d, the end of b's text: room reserved once for it and written
 * directly (keys and strings escaped by sky__json_escape_raw), or through the checked
 * helpers when a key or string is too long for that. `sc`: the event is an untouched site
 * event whose field i this is (its `,"key":` is the schema's). Returns the end, or NULL on
 * out-of-memory. Events and fragments alike: a scope's text is what its fields would be in
 * the line. */
static inline __attribute__((always_inline)) char *put_field(sky_buf *b, char *d,
                                                              const sky_field *f,
                                                              const sky__site_schema *sc,
                                                              size_t i)
{
    size_t vl = f->type == SKY_T_STR ? f->v.str.len : 0;
    if (f->key_len > SKY_JSON_DIRECT_MAX || vl > SKY_JSON_DIRECT_MAX) {
        b->len = (size_t)(d - b->p);
        json_field(b, f);
        return b->oom ? NULL : b->p + b->len;
    }
    if (!(d = room(b, d, 6 * ((size_t)f->key_len + vl) + 32)))
        return NULL;
    if (sc) { /* untouched: field i has the schema's key i */
        /* the site's `,"key":`, rendered when its schema was made */
        size_t o = sc->key_off[i], kl = (size_t)sc->key_off[i + 1] - o;
        sky__copy_small(d, sc->text + o, kl);
        d += kl;
    } else {
        *d++ = ',';
        *d++ = '"';
        if (sky__is_reserved_key(f->key, f->key_len))
            *d++ = '_';
        d = sky__json_escape_raw(d, f->key, f->key_len);
        *d++ = '"';
        *d++ = ':';
    }
    return put_value(b, d, f);
}

/* Closes the object and the line at d and sets b's length. */
static inline void put_end(sky_buf *b, char *d)
{
    if (!(d = room(b, d, 2)))
        return;
    PUT_LIT(d, "}\n");
    b->len = (size_t)(d - b->p);
}

/* Where the line cache keeps an untouched call-site event's entry (rcache set): the top
 * bits of a multiplicative hash of the schema's and the logger's addresses. Schemas are
 * allocations of one size (0x600 bytes for the mix's sites), often made one after another:
 * their addresses' low bits (the index was (schema >> 4) % 32) were then all equal, and a
 * program's sites took turns evicting each other (a third of the mix's lines rendered the
 * general way, worker 1,362 -> 1,658 instructions an event after a change of heap layout). */
static inline sky__line_entry *line_slot(const sky_event *ev)
{
    _Static_assert((SKY__LINE_CACHE_SLOTS & (SKY__LINE_CACHE_SLOTS - 1)) == 0, "a power of two");
    uint64_t h = ((uint64_t)(uintptr_t)ev->schema ^ (uint64_t)(uintptr_t)ev->logger << 17) *
                 0x9e3779b97f4a7c15ull;
    return &ev->rcache->lines[h >> (64 - __builtin_ctz(SKY__LINE_CACHE_SLOTS))];
}

/* Its entry if the cache has it. The logger's name pointer is compared: its length is the
 * logger's too (site events are untouched). */
static inline const sky__line_entry *line_hit(const sky_event *ev)
{
    if (!ev->rcache)
        return NULL;
    const sky__line_entry *e = line_slot(ev);
    return e->schema == ev->schema && e->logger == ev->logger && e->level == (int)ev->level ? e
                                                                                           : NULL;
}

/* The line cache entry of an untouched call-site event (see sky__line_entry), made on first
 * use; NULL if its text does not fit. */
static const sky__line_entry *site_line(const sky_event *ev, sky_buf *b)
{
    const sky__site_schema *sc = ev->schema; /* set: the event is untouched (internal.h) */
    const sky__line_entry *hit = line_hit(ev);
    if (hit || !ev->rcache)
        return hit;
    sky__line_entry *e = line_slot(ev);
    if (!ev->cs || (unsigned)ev->level >= SKY_LEVEL_COUNT_)
        return NULL; /* (only entries made below match) */
    /* render the piece at the end of b, keep it, then take it back off */
    size_t start = b->len;
    sky__buf_lit(b, "\",\"level\":\"");
    sky__buf_put(b, levels[ev->level].s, levels[ev->level].n);
    sky__buf_lit(b, "\",\"logger\":");
    json_head_text(ev, b);
    sky__buf_put(b, sc->text, sc->key_off[1]);
    size_t len = b->len - start;
    bool ok = !b->oom && len <= sizeof e->text;
    if (ok) {
        memcpy(e->text, b->p + start, len);
        e->len = (uint16_t)len;
        e->schema = sc;
        e->logger = ev->logger;
        e->level = (int)ev->level;
        /* room for the line copied as 128 bytes (render_site) */
        e->bound = 32 + SKY_ISO8601_LEN + (len < 128 ? 128 : len) + sc->key_off[sc->pub.n];
        for (size_t i = 0; i < sc->pub.n; i++)
            if (sc->pub.types[i] == SKY_T_ERRNO) {
                pthread_once(&errno_once, errno_texts_init); /* before put_slot reads it */
                e->bound += ERRNO_TEXT_MAX;
            }
    }
    b->len = start;
    if (b->p)
        b->p[start] = '\0';
    return ok ? e : NULL;
}

/* The line of an untouched call-site event whose line entry is e, at d, where room for
 * e->bound + 6 * vals_bytes is reserved: the constant text between the timestamp and the
 * first value comes from the line entry, each further key from the schema, each value from
 * its slot in the record. A value the direct writers cannot write (a long string, a
 * non-finite double, an errno text, raw JSON) goes through b, or without b makes this return
 * NULL. Returns the line's end. */
/* A rendered fragment at d: 16 bytes at a time, without a memcpy call, for the usual few
 * fields (its buffer has 16 readable bytes past the text, sky__frag_render; the line's room
 * has them past the fragment: the values' room follows). */
static inline char *put_frag(char *d, const sky__frag *f)
{
    size_t n = f->json_len;
    if (SKY_LIKELY(n <= 128)) {
        for (size_t k = 0; k < n; k += 16)
            memcpy(d + k, f->json + k, 16);
    } else {
        memcpy(d, f->json, n);
    }
    return d + n;
}

/* A site event's fragments (frags_ok) at d, the end of its line's cached head: they go
 * between the head and the first key, which the head ends with, so back up over the key and
 * write it again after them. */
static __attribute__((noinline)) char *put_frags(char *d, const sky_event *ev)
{
    const sky__site_schema *sc = ev->schema;
    size_t k0 = sc->pub.n ? (size_t)sc->key_off[1] - sc->key_off[0] : 0;
    d -= k0;
    const sky__frag *c = sky__event_ctx(ev);
    if (c && c->json_len)
        d = put_frag(d, c);
    if (ev->bnd && ev->bnd->json_len)
        d = put_frag(d, ev->bnd);
    memcpy(d, sc->text, k0);
    return d + k0;
}

static inline __attribute__((always_inline)) char *site_text(const sky_event *ev,
                                                             const sky__line_entry *e, char *d,
                                                             sky_buf *b, bool frags)
{
    const sky__site_schema *sc = ev->schema;
    size_t n = sc->pub.n;
    PUT_LIT(d, "{\"timestamp\":\"");
    put_ts(d, ev);
    d += SKY_ISO8601_LEN;
    if (SKY_LIKELY(e->len <= 128)) {
        /* eight 16-byte moves, past the line's end (room reserved: e->bound): cheaper than a
         * memcpy call of a length the compiler does not know */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 8
#endif
        for (size_t k = 0; k < 128; k += 16)
            memcpy(d + k, e->text + k, 16);
    } else {
        memcpy(d, e->text, e->len);
    }
    d += e->len;
    if (frags) /* a constant where inlined: the caller has tested it */
        d = put_frags(d, ev);
    const uint64_t *v = ev->vals;
    const char *s = (const char *)(v + n), *lim = (const char *)v + ev->vals_bytes;
    for (size_t i = 0; i < n; i++) {
        if (i) { /* the first key is in the line cache */
            size_t o = sc->key_off[i], kl = (size_t)sc->key_off[i + 1] - o;
            if (SKY_LIKELY(kl <= 16))
                memcpy(d, sc->text + o, 16); /* the schema's text has 16 spare bytes */
            else
                memcpy(d, sc->text + o, kl);
            d += kl;
        }
        char *end = put_slot(d, sc->pub.types[i], v[i], &s, lim);
        if (SKY_LIKELY(end != NULL)) {
            d = end;
            continue;
        }
        if (!b)
            return NULL;
        sky_field f;
        sky__site_field(sc, i, v, &s, &f);
        b->len = (size_t)(d - b->p);
        json_value(b, &f);
        if (b->oom || !(d = room(b, b->p + b->len, e->bound + 6 * (size_t)ev->vals_bytes)))
            return NULL; /* (the fragments are written: the room is for the values) */
    }
    PUT_LIT(d, "}\n");
    return d;
}

/* (not inlined: the usual line goes through sky__render_site_at, with site_text inlined) */
static __attribute__((noinline)) void render_site(const sky_event *ev, const sky__line_entry *e,
                                                  sky_buf *b)
{
    char *d = room(b, b->p + b->len, e->bound + 6 * (size_t)ev->vals_bytes + frags_len(ev));
    if (d && (d = site_text(ev, e, d, b, ev->ctxh || ev->bnd)))
        b->len = (size_t)(d - b->p);
}

/* sky__render_site_at for an event with fragments */
static __attribute__((noinline)) char *render_frags_at(const sky_event *ev,
                                                       const sky__line_entry *e, char *d,
                                                       size_t avail)
{
    if (!frags_ok(ev) || avail <= e->bound + 6 * (size_t)ev->vals_bytes + frags_len(ev))
        return NULL;
    return site_text(ev, e, d, NULL, true);
}

char *sky__render_site_at(const sky_event *ev, char *d, size_t avail)
{
    const sky__line_entry *e = line_hit(ev);
    if (!e)
        return NULL;
    if (SKY_UNLIKELY(ev->ctxh || ev->bnd))
        return render_frags_at(ev, e, d, avail);
    if (avail <= e->bound + 6 * (size_t)ev->vals_bytes)
        return NULL;
    return site_text(ev, e, d, NULL, false);
}

void sky__render_json(const sky_event *ev, sky_buf *b)
{
    if (ev->schema && (!(ev->ctxh || ev->bnd) || frags_ok(ev))) {
        const sky__line_entry *e = site_line(ev, b);
        if (e) {
            render_site(ev, e, b);
            return;
        }
    }
    sky__event_ready(ev);
    if (!sky__buf_reserve(b, 64))
        return;
    char *d = b->p + b->len;
    PUT_LIT(d, "{\"timestamp\":\"");
    put_ts(d, ev);
    d += SKY_ISO8601_LEN;
    PUT_LIT(d, "\",\"level\":\"");
    if ((unsigned)ev->level < SKY_LEVEL_COUNT_) {
        memcpy(d, levels[ev->level].s, 8); /* room reserved; only n bytes count */
        d += levels[ev->level].n;
    } else {
        *d++ = '?';
    }
    PUT_LIT(d, "\",\"logger\":");
    b->len = (size_t)(d - b->p);
    json_head(ev, b);
    if (b->oom)
        return;
    d = b->p + b->len;
    /* untouched, without fragments: field i has the schema's key i */
    const sky__site_schema *sc = ev->ctxh || ev->bnd ? NULL : ev->schema;
    for (size_t i = 0; i < ev->n; i++)
        if (!(d = put_field(b, d, &ev->fields[i], sc, i)))
            return;
    put_end(b, d);
}

static inline uint64_t frag_text(sky_buf *b, const sky__frag *f)
{
    uint64_t bits = 0;
    if (!sky__buf_reserve(b, 64))
        return 0;
    char *d = b->p + b->len;
    for (size_t i = 0; i < f->n; i++) {
        bits |= sky__key_bit(f->fields[i].key, f->fields[i].key_len);
        if (!(d = put_field(b, d, &f->fields[i], NULL, 0)))
            return bits; /* b->oom is set */
    }
    b->len = (size_t)(d - b->p);
    return bits;
}

void sky__json_value(sky_buf *b, const sky_field *f) { json_value(b, f); }
