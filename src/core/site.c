/*
 * site.c - call-site schemas: what the sky_info() macros' fast path checks a call against.
 *
 * The first call at a site takes the general path (sky__emit_site), then this file decides,
 * once, whether the site gets a schema. It does when the event name and every key are in
 * read-only memory (a PT_LOAD segment without write permission of a loaded object: string
 * literals), the keys are distinct, there are at most SKY__SITE_MAX fields and none is lazy.
 * Read-only memory is what makes the fast path's pointer compares sound: a key in a writable
 * buffer could be rewritten at the same address, so such a site never gets a schema. A site
 * that does not qualify is marked with a shared "never" schema, so the decision is made once.
 *
 * The schema also carries each key's JSON text (`,"key":`, escaped, reserved keys prefixed
 * with '_'), so the worker renders a site's keys once, not once per event.
 */
#include "core/pipeline.h"
#include "util/text.h"
#include "util/keybits.h"

#include <link.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const sky__site_schema never = {.pub = {.n = UINT32_MAX, .sig = UINT64_MAX}};

typedef struct ro_query {
    uintptr_t lo, hi; /* [lo, hi) must lie in one read-only segment */
    bool found;
} ro_query;

static int ro_cb(struct dl_phdr_info *info, size_t size, void *user)
{
    (void)size;
    ro_query *q = user;
    for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || (ph->p_flags & PF_W))
            continue;
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (q->lo >= start && q->hi <= start + ph->p_memsz) {
            q->found = true;
            return 1;
        }
    }
    return 0;
}

/* True if the n bytes at p (and the NUL after them) are in read-only memory of a loaded object. */
static bool readonly(const char *p, size_t n)
{
    ro_query q = {(uintptr_t)p, (uintptr_t)p + n + 1, false};
    dl_iterate_phdr(ro_cb, &q);
    return q.found;
}

static const sky__site_schema *build(const char *name, const sky_field *fs, size_t n)
{
    if (!name || n > SKY__SITE_MAX)
        return &never;
    size_t name_len = strlen(name);
    if (!readonly(name, name_len))
        return &never;
    size_t text = 0;
    for (size_t i = 0; i < n; i++) {
        const sky_field *f = &fs[i];
        if (!f->key || f->type == SKY_T_NONE || f->type == SKY_T_LAZY || f->type >= SKY_T_COUNT_ ||
            f->key_len != strlen(f->key) || f->key_len >> 24 || !readonly(f->key, f->key_len))
            return &never;
        for (size_t j = 0; j < i; j++)
            if (fs[j].key_len == f->key_len && memcmp(fs[j].key, f->key, f->key_len) == 0)
                return &never; /* duplicates: the general path de-duplicates */
        text += 6 * (size_t)f->key_len + 5;
    }
    if (text > UINT16_MAX)
        return &never;
    /* 16 spare bytes: the JSON renderer copies keys as whole 16-byte words */
    sky__site_schema *sc = calloc(1, sizeof *sc + text + 16);
    if (!sc)
        return NULL; /* try again next time */
    sc->pub.n = (uint32_t)n;
    sc->pub.sig = n <= SKY__SIG_MAX ? n : UINT64_MAX;
    sc->pub.name = name;
    sc->name_len = name_len;
    char *d = sc->text;
    for (size_t i = 0; i < n; i++) {
        sc->pub.keys[i] = fs[i].key;
        sc->pub.key_lens[i] = fs[i].key_len;
        sc->pub.types[i] = fs[i].type;
        sc->pub.shapes[i] = SKY__SHAPE(fs[i].key_len, fs[i].type);
        sc->key_bits |= sky__key_bit(fs[i].key, fs[i].key_len);
        if (fs[i].type == SKY_T_STR || fs[i].type == SKY_T_JSON)
            sc->str_mask |= (uint32_t)1 << i;
        if (n <= SKY__SIG_MAX)
            sc->pub.sig = SKY__SIG_ADD(sc->pub.sig, i, fs[i].type);
        sc->key_off[i] = (uint16_t)(d - sc->text);
        *d++ = ',';
        *d++ = '"';
        if (sky__is_reserved_key(fs[i].key, fs[i].key_len))
            *d++ = '_';
        d = sky__json_escape_raw(d, fs[i].key, fs[i].key_len);
        *d++ = '"';
        *d++ = ':';
    }
    sc->key_off[n] = (uint16_t)(d - sc->text);
    return sc;
}

/* What the macros' sites start with: nothing matches it (its name is NULL and no call's n and
 * types make UINT64_MAX), so inlined sites need no NULL test. Sites compiled before it (and
 * C++ sites) start with NULL: both mean "not decided yet". */
const sky__schema sky__schema_unlearned = {.n = UINT32_MAX, .sig = UINT64_MAX};

static inline bool unlearned(const sky__schema *sc) { return !sc || sc == &sky__schema_unlearned; }

void sky__site_learn(sky__site *site, const char *name, const sky_field *fields, size_t n)
{
    const sky__schema *expected = atomic_load_explicit(&site->schema, memory_order_acquire);
    if (!unlearned(expected))
        return;
    const sky__site_schema *sc = build(name, fields, n);
    if (!sc)
        return;
    if (!atomic_compare_exchange_strong_explicit(&site->schema, &expected, &sc->pub,
                                                 memory_order_acq_rel, memory_order_acquire) &&
        sc != &never)
        free((void *)sc); /* another thread published first */
}

void sky__emit_site(sky_logger *log, sky_level level, const char *event, sky__site *site,
                    const sky_field *fields, size_t n)
{
    sky_emit(log, level, event, site ? &site->cs : NULL, fields, n);
    /* Schemas serve the async path only; a sync pipeline never pays for learning. */
    if (site && log && log->sky && log->sky->async &&
        unlearned(atomic_load_explicit(&site->schema, memory_order_relaxed)))
        sky__site_learn(site, event, fields, n);
}

/* Here n is not a constant: GCC unrolls the loops 16 times and cannot see that only the first
 * n slots of the value arrays are read, which they always are. */
#if defined(__GNUC__) && !defined(__clang__) /* clang has no such warning */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
void sky__log_site_call(sky_logger *log, sky_level level, const char *event, sky__site *site,
                        const sky_field *fs, size_t n)
{
    sky__log_site(log, level, event, site, atomic_load_explicit(&site->schema, memory_order_acquire),
                  fs, n);
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
