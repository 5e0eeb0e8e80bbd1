/*
 * ringspool.c - the self-contained event records of an async ring kept in a file (layout and
 * why: ringspool.h). Written by log callers (async.c's emit, in spool mode), checked by the
 * ring file's reader when a process takes a file back, decoded by the worker.
 *
 * Checking is the reader's defence against a file that is damaged or was written by anyone:
 * a record whose checksum matches is still only trusted once each of its lengths and pointers
 * stays inside it. Decoding then needs no checks, and a record this process wrote (its
 * address is its `base`) is decoded without copying, like an ordinary ring record.
 */
#include "core/logger.h"
#include "core/ringspool.h"

#include <stdlib.h>
#include <string.h>

size_t sky__prec_extra(const sky_logger *log, const sky_callsite *cs, size_t cs_lens[2])
{
    size_t n = log->name_len + 1;
    cs_lens[0] = cs_lens[1] = 0;
    if (cs) {
        cs_lens[0] = cs->file ? strlen(cs->file) : 0;
        cs_lens[1] = cs->func ? strlen(cs->func) : 0;
        n += cs_lens[0] + cs_lens[1] + 2;
    }
    return n;
}

static char *put_str(char *s, const char *src, size_t len)
{
    memcpy(s, src, len);
    s[len] = '\0';
    return s + len + 1;
}

char *sky__prec_fill(char *p, sky_level level, size_t nf, const char *name, size_t name_len,
                     int64_t ts_ns, const sky_logger *log, const sky_callsite *cs,
                     const size_t cs_lens[2])
{
    sky__prec *r = (sky__prec *)p;
    r->f.h.aux = (uint32_t)level | SKY__REC_SPOOL;
    r->f.aux2 = (uint32_t)nf;
    r->base = (uint64_t)(uintptr_t)p;
    r->ts_ns = ts_ns;
    r->name_len = (uint32_t)name_len;
    r->logger_len = (uint32_t)log->name_len;
    char *s = (char *)((sky_field *)(p + sizeof *r) + nf);
    s = put_str(s, name, name_len);
    s = put_str(s, log->name, log->name_len);
    r->has_cs = cs != NULL;
    r->line = cs ? cs->line : 0;
    r->file_len = r->func_len = SKY__PREC_NONE;
    if (cs) {
        size_t fl = cs_lens[0], gl = cs_lens[1];
        s = put_str(s, cs->file ? cs->file : "", fl);
        s = put_str(s, cs->func ? cs->func : "", gl);
        r->file_len = cs->file ? (uint32_t)fl : SKY__PREC_NONE;
        r->func_len = cs->func ? (uint32_t)gl : SKY__PREC_NONE;
    }
    return s;
}

/* A string of `len` bytes and its NUL at offset `at` of a record of `size` bytes. */
static bool str_in(const char *rec, uint64_t size, uint64_t at, uint64_t len)
{
    return at <= size && len < size - at && rec[at + len] == '\0';
}

/* A pointer the producer stored, as an offset into the record (its address was `base`). */
static bool ptr_in(const char *rec, uint64_t size, uint64_t base, const void *ptr, uint64_t len,
                   uint64_t lo)
{
    uint64_t at = (uint64_t)(uintptr_t)ptr - base; /* wraps to huge when below base */
    return at >= lo && str_in(rec, size, at, len);
}

bool sky__prec_check(void *user, const char *rec, uint32_t size)
{
    (void)user;
    const sky__prec *r = (const sky__prec *)rec;
    uint32_t aux = r->f.h.aux;
    if (size < sizeof *r || (aux & ~(uint32_t)0x7f) != SKY__REC_SPOOL ||
        (aux & 0x7f) >= SKY_LEVEL_OFF || r->has_cs > 1)
        return false;
    uint64_t n = r->f.aux2;
    if (n > (size - sizeof *r) / sizeof(sky_field))
        return false;
    uint64_t at = sizeof *r + n * sizeof(sky_field), strs = at;
    if (!str_in(rec, size, at, r->name_len))
        return false;
    at += (uint64_t)r->name_len + 1;
    if (!str_in(rec, size, at, r->logger_len))
        return false;
    at += (uint64_t)r->logger_len + 1;
    if (r->has_cs) {
        for (int k = 0; k < 2; k++) {
            uint32_t l = k ? r->func_len : r->file_len;
            uint64_t len = l == SKY__PREC_NONE ? 0 : l;
            if (!str_in(rec, size, at, len))
                return false;
            at += len + 1;
        }
    }
    const sky_field *fs = (const sky_field *)(rec + sizeof *r);
    for (uint64_t i = 0; i < n; i++) {
        sky_field f;
        memcpy(&f, &fs[i], sizeof f);
        if (f.type == SKY_T_NONE || f.type >= SKY_T_LAZY)
            return false;
        if (!ptr_in(rec, size, r->base, f.key, f.key_len, strs))
            return false;
        if ((f.type == SKY_T_STR || f.type == SKY_T_JSON) &&
            !ptr_in(rec, size, r->base, f.v.str.ptr, f.v.str.len, strs))
            return false;
    }
    return true;
}

void sky__prec_decode(const char *p, sky_event *ev, sky_callsite *cs, sky__prec_scratch *sc)
{
    const sky__prec *r = (const sky__prec *)p;
    sky__event_reset(ev);
    ev->level = (sky_level)(r->f.h.aux & 0x7f);
    size_t n = r->f.aux2;
    const sky_field *fs = (const sky_field *)(p + sizeof *r);
    const char *s = (const char *)(fs + n);
    ev->name = s;
    ev->name_len = r->name_len;
    s += r->name_len + 1;
    ev->logger = s;
    ev->logger_len = r->logger_len;
    s += r->logger_len + 1;
    ev->ts_ns = r->ts_ns;
    ev->cs = NULL;
    if (r->has_cs) {
        cs->file = r->file_len == SKY__PREC_NONE ? NULL : s;
        s += (r->file_len == SKY__PREC_NONE ? 0 : r->file_len) + 1;
        cs->func = r->func_len == SKY__PREC_NONE ? NULL : s;
        cs->line = r->line;
        ev->cs = cs;
    }
    uintptr_t delta = (uintptr_t)p - (uintptr_t)r->base;
    if (delta && n) {
        /* recovered at another address: the pointers move, in a copy */
        if (sc->cap < n) {
            sky_field *nf = realloc(sc->f, n * sizeof *nf);
            if (!nf) {
                ev->n = 0; /* out of memory: keep the event, without its fields */
                return;
            }
            sc->f = nf;
            sc->cap = n;
        }
        memcpy(sc->f, fs, n * sizeof *fs);
        for (size_t i = 0; i < n; i++) {
            sc->f[i].key = (const char *)((uintptr_t)sc->f[i].key + delta);
            if (sc->f[i].type == SKY_T_STR || sc->f[i].type == SKY_T_JSON)
                sc->f[i].v.str.ptr = (const char *)((uintptr_t)sc->f[i].v.str.ptr + delta);
        }
        fs = sc->f;
    }
    if (!sky__event_load(ev, fs, n))
        ev->n = 0;
}
