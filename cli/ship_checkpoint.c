/*
 * ship_checkpoint.c - the anchor and the settling step of a resumed `skylog ship` (see
 * ship_checkpoint.h for the method, docs/CLI.md for its guarantees and limits).
 *
 * Why an anchor and not a count: CloudWatch has no cheap "how many events does this stream
 * hold", and reading a whole stream to count it would make a resume cost as much as the
 * shipping. The last few acknowledged events, with their timestamps, are almost always unique
 * in the window read back; when they are not (the same lines in the same millisecond), the
 * latest place they match is taken, which can only cause a duplicate, never a loss, and the
 * lines concerned are counted as ambiguous.
 */
#include "ship_checkpoint.h"
#include "safetext.h"

#include "util/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- hash --------------------------------------------------------------------------------- */

static inline uint64_t load_le64(const unsigned char *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
           (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
           (uint64_t)p[7] << 56;
}

static inline uint64_t mix(uint64_t h, uint64_t w)
{
    h ^= w * 0x9FB21C651E98DF25ULL;
    h = (h << 29 | h >> 35) * 0x94D049BB133111EBULL;
    return h;
}

static inline uint64_t rotl64(uint64_t x, int r) { return x << r | x >> (64 - r); }

static inline uint64_t finish(uint64_t h, const unsigned char *p, size_t n)
{
    while (n >= 8) {
        h = mix(h, load_le64(p));
        p += 8;
        n -= 8;
    }
    if (n) {
        unsigned char last[8] = {0};
        memcpy(last, p, n);
        h = mix(h, load_le64(last));
    }
    h ^= h >> 32;
    h *= 0xD6E8FEB86659FD93ULL;
    h ^= h >> 32;
    return h;
}

/* Checkpoint version 2's hash: one chain, eight bytes a step (5 cycles each: the xor, the
 * rotation and the multiply wait for the step before), little-endian whatever the machine,
 * so a checkpoint means the same everywhere. Kept to resume version 2 checkpoints. */
uint64_t sky__ship_hash_v2(const char *s, size_t n)
{
    return finish(0x243F6A8885A308D3ULL ^ (uint64_t)n, (const unsigned char *)s, n);
}

/* Version 3: four independent chains over 32 bytes a step, folded together, then the tail as
 * version 2 does. Every line read is hashed when --checkpoint is on: one chain cost
 * ~0.2 ns a byte on the benchmark's machine, the four ~0.1 (bench/RESULTS.md). */
uint64_t sky__ship_hash(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    const uint64_t k = 0x9FB21C651E98DF25ULL;
    uint64_t a = 0x243F6A8885A308D3ULL ^ (uint64_t)n, b = 0x13198A2E03707344ULL,
             c = 0xA4093822299F31D0ULL, d = 0x082EFA98EC4E6C89ULL;
    while (n >= 32) {
        a = rotl64((a ^ load_le64(p)) * k, 31);
        b = rotl64((b ^ load_le64(p + 8)) * k, 31);
        c = rotl64((c ^ load_le64(p + 16)) * k, 31);
        d = rotl64((d ^ load_le64(p + 24)) * k, 31);
        p += 32;
        n -= 32;
    }
    return finish(mix(mix(mix(a, b), c), d), p, n);
}

/* ---- the anchor ---------------------------------------------------------------------------- */

void sky__anchor_push(sky__anchor_tail *t, sky__anchor a)
{
    if (t->n == SKY__ANCHOR_MAX) {
        memmove(t->a, t->a + 1, (SKY__ANCHOR_MAX - 1) * sizeof *t->a);
        t->n--;
    }
    t->a[t->n++] = a;
}

json_t *sky__anchor_json(const sky__anchor_tail *t)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < t->n; i++) {
        char hex[17];
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)t->a[i].h);
        json_array_append_new(arr, json_pack("[I,s,i,i]", (json_int_t)t->a[i].ts, hex,
                                             (int)t->a[i].n, (int)t->a[i].flags));
    }
    return arr;
}

bool sky__anchor_parse(json_t *j, sky__anchor_tail *out)
{
    memset(out, 0, sizeof *out);
    if (!json_is_array(j) || json_array_size(j) > SKY__ANCHOR_MAX)
        return false;
    for (size_t i = 0; i < json_array_size(j); i++) {
        json_t *e = json_array_get(j, i);
        json_int_t ts, n, flags;
        const char *hex;
        if (json_unpack(e, "[I,s,I,I]", &ts, &hex, &n, &flags) != 0 || strlen(hex) != 16 ||
            n < 1 || n > 1000000 || flags < 0 || flags > 3)
            return false;
        char *end;
        unsigned long long h = strtoull(hex, &end, 16);
        if (*end)
            return false;
        out->a[out->n++] = (sky__anchor){.ts = ts, .h = h, .n = (uint32_t)n,
                                         .flags = (uint32_t)flags};
    }
    return true;
}

/* ---- the stream's tail ------------------------------------------------------------------------ */

/* Stored messages the sink made out of a line that is not their text. */
static bool transformed(const char *m, size_t n)
{
    return (n > 6 && memcmp(m, "[part ", 6) == 0) || memmem(m, n, "[truncated ", 11) ||
           memmem(m, n, "\xEF\xBF\xBD", 3); /* U+FFFD: invalid UTF-8 repaired */
}

typedef struct stored_ev {
    int64_t ts;
    uint64_t h;
    bool wild;
    uint32_t parts; /* n of "[part i/n] ", else 1 */
} stored_ev;

static uint32_t parts_of(const char *m, size_t n)
{
    if (n < 10 || memcmp(m, "[part ", 6) != 0)
        return 1;
    const char *slash = memchr(m + 6, '/', n - 6 < 12 ? n - 6 : 12);
    if (!slash)
        return 1;
    uint64_t v = 0; /* digits within the message: it need not end with a NUL */
    for (const char *d = slash + 1; d < m + n && *d >= '0' && *d <= '9' && v <= 1000000; d++)
        v = v * 10 + (uint64_t)(*d - '0');
    return v >= 1 && v <= 1000000 ? (uint32_t)v : 1;
}

/* Reads the last `max` events of the stream (oldest first) into *out. *missing: no such
 * stream or group. *full: the window was filled (there may be more before it). */
static bool read_tail(sky_aws_client *c, const char *group, const char *stream, size_t max,
                      sky__ship_hash_fn hash, stored_ev **out, size_t *n_out, bool *missing,
                      bool *full, bool *denied)
{
    *missing = *full = *denied = false;
    stored_ev *ev = malloc((max ? max : 1) * sizeof *ev);
    if (!ev) {
        fprintf(stderr, "skylog ship: out of memory reading the stream's tail\n");
        return false;
    }
    size_t n = 0; /* filled from the end: ev[max - n .. max) */
    char *token = NULL;
    bool ok = true;
    while (n < max) {
        size_t want = max - n < 10000 ? max - n : 10000;
        json_t *body = json_pack("{s:s,s:s,s:b,s:i}", "logGroupName", group, "logStreamName",
                                 stream, "startFromHead", 0, "limit", (int)want);
        if (body && token)
            json_object_set_new(body, "nextToken", json_string(token));
        sky_aws_error e;
        json_t *r = body ? sky__logs_call_err(c, "GetLogEvents", body, &e) : NULL;
        json_decref(body);
        if (!r) {
            if (strcmp(e.code, "ResourceNotFoundException") == 0) {
                *missing = true;
                break;
            }
            if (strcmp(e.code, "AccessDeniedException") == 0) {
                *denied = true; /* a role allowed to write, not to read: the caller decides */
                ok = false;
                break;
            }
            sky__safe_printf(stderr, "skylog ship: cannot read the stream's tail to settle the "
                             "last batch: GetLogEvents: %s%s%s\n",
                             e.code[0] ? e.code : sky_strerror(e.status),
                             e.message[0] ? ": " : "", e.message);
            ok = false;
            break;
        }
        json_t *events = json_object_get(r, "events");
        size_t k = json_array_size(events);
        if (k > max - n)
            k = max - n; /* a service answering more than asked: keep the latest */
        size_t first = json_array_size(events) - k;
        for (size_t i = 0; i < k; i++) {
            json_t *e2 = json_array_get(events, first + i);
            const char *m = json_string_value(json_object_get(e2, "message"));
            size_t ml = json_string_length(json_object_get(e2, "message"));
            json_int_t ts = json_integer_value(json_object_get(e2, "timestamp"));
            ev[max - n - k + i] = (stored_ev){.ts = ts, .h = hash(m ? m : "", ml),
                                               .wild = m && transformed(m, ml),
                                               .parts = m ? parts_of(m, ml) : 1};
        }
        n += k;
        const char *next = json_string_value(json_object_get(r, "nextBackwardToken"));
        bool more = k > 0 && next && (!token || strcmp(next, token) != 0);
        free(token);
        token = more ? strdup(next) : NULL;
        json_decref(r);
        if (!more)
            break;
        if (!token) {
            ok = false;
            break;
        }
    }
    free(token);
    if (!ok) {
        free(ev);
        return false;
    }
    *full = n == max;
    memmove(ev, ev + (max - n), n * sizeof *ev);
    *out = ev;
    *n_out = n;
    return true;
}

/* Does the anchor end exactly at S[0..p)? Greedy from its newest entry backwards; optional
 * entries are taken when they match. At least one entry must match. */
static bool anchor_ends_at(const stored_ev *s, size_t p, const sky__anchor_tail *a)
{
    size_t q = p, matched = 0;
    for (size_t j = a->n; j-- > 0;) {
        const sky__anchor *e = &a->a[j];
        bool ok;
        if (e->flags & SKY__ANCHOR_WILD) {
            ok = q >= e->n;
            for (size_t i = 0; ok && i < e->n; i++)
                ok = s[q - 1 - i].ts == e->ts;
            if (ok)
                q -= e->n;
        } else {
            ok = q >= 1 && s[q - 1].ts == e->ts && s[q - 1].h == e->h;
            if (ok)
                q--;
        }
        if (ok)
            matched++;
        else if (!(e->flags & SKY__ANCHOR_OPTIONAL))
            return false;
    }
    return matched > 0;
}

static int cmp_pending(const void *a, const void *b)
{
    uint64_t x = ((const sky__settle_ev *)a)->h, y = ((const sky__settle_ev *)b)->h;
    return x < y ? -1 : x > y;
}

bool sky__settle_load(sky_aws_client *c, const char *group, const char *stream,
                      const sky__anchor_tail *anchor, sky__anchor_tail *fresh,
                      sky__ship_hash_fn hash, sky__settle *s, bool *denied)
{
    memset(s, 0, sizeof *s);
    s->hash = hash;
    stored_ev *ev = NULL;
    size_t n = 0;
    bool missing, full;
    if (fresh) {
        /* the first run: what the stream already holds is the anchor, nothing to settle */
        memset(fresh, 0, sizeof *fresh);
        if (!read_tail(c, group, stream, SKY__ANCHOR_MAX, hash, &ev, &n, &missing, &full, denied))
            return false;
        for (size_t i = 0; i < n; i++)
            sky__anchor_push(fresh, (sky__anchor){.ts = ev[i].ts, .h = ev[i].h, .n = 1,
                                                  .flags = ev[i].wild ? SKY__ANCHOR_WILD : 0});
        free(ev);
        return true;
    }
    if (!read_tail(c, group, stream, SKY__SETTLE_WINDOW, hash, &ev, &n, &missing, &full, denied))
        return false;
    size_t p = 0;
    if (anchor && anchor->n) {
        size_t min = 0;
        for (size_t j = 0; j < anchor->n; j++)
            if (!(anchor->a[j].flags & SKY__ANCHOR_OPTIONAL))
                min += (anchor->a[j].flags & SKY__ANCHOR_WILD) ? anchor->a[j].n : 1;
        bool found = false;
        for (size_t q = n + 1; q-- > (min ? min : 1);) {
            if (!anchor_ends_at(ev, q, anchor))
                continue;
            if (!found) {
                found = true;
                p = q;
                continue;
            }
            /* it matches earlier too: the events between may be ours, stored without the
             * acknowledgement, or the same lines acknowledged before - say so */
            s->ambiguous = p - q;
            break;
        }
        if (!found) {
            fprintf(stderr, "skylog ship: cannot settle the last batch: the checkpoint's last "
                    "acknowledged events are not among the last %zu of stream %s (%s); "
                    "refusing to guess. Use --start-offset to choose where to start.\n",
                    n, stream, missing ? "the stream does not exist"
                    : full ? "more events were stored after them: another writer?"
                           : "deleted, expired, or written by another writer?");
            free(ev);
            return false;
        }
        for (size_t j = 0; j < anchor->n; j++)
            if (anchor->a[j].ts > s->anchor_max_ts)
                s->anchor_max_ts = anchor->a[j].ts;
    } else if (full) {
        fprintf(stderr, "skylog ship: cannot settle the last batch: stream %s holds more than "
                "%d events after a checkpoint that says it was empty (another writer?). Use "
                "--start-offset to choose where to start.\n", stream, SKY__SETTLE_WINDOW);
        free(ev);
        return false;
    }
    size_t k = n - p;
    s->total = k;
    if (k) {
        s->ev = calloc(k, sizeof *s->ev);
        if (!s->ev) {
            free(ev);
            sky__settle_free(s);
            fprintf(stderr, "skylog ship: out of memory settling the last batch\n");
            return false;
        }
        for (size_t i = 0; i < k; i++)
            s->ev[s->n++] = (sky__settle_ev){.h = ev[p + i].h, .ts = ev[p + i].ts,
                                             .parts = ev[p + i].parts, .wild = ev[p + i].wild};
        qsort(s->ev, s->n, sizeof *s->ev, cmp_pending);
        s->left = s->n;
        s->active = true;
    }
    free(ev);
    return true;
}

static void take(sky__settle *s, sky__settle_ev *e)
{
    e->taken = true;
    s->left--;
}

/* One untaken event with hash h, or NULL. */
static sky__settle_ev *find_hash(sky__settle *s, uint64_t h)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->ev[mid].h < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < s->n && s->ev[lo].h == h; lo++)
        if (!s->ev[lo].taken)
            return &s->ev[lo];
    return NULL;
}

static sky__settle_ev *find_wild(sky__settle *s, int64_t ts, bool same_ts)
{
    for (size_t i = 0; i < s->n; i++)
        if (!s->ev[i].taken && s->ev[i].wild && (!same_ts || s->ev[i].ts == ts))
            return &s->ev[i];
    return NULL;
}

sky__settle_verdict sky__settle_line(sky__settle *s, const char *line, size_t n, int64_t ts,
                                     bool ts_from_line, bool long_line, sky__anchor *stored)
{
    s->lines_seen++;
    if (!s->active) {
        /* Lines whose own time is older than the anchor would be stored before it, out of the
         * part read back: if they were in flight, a duplicate cannot be ruled out. */
        if (ts_from_line && s->anchor_max_ts && ts < s->anchor_max_ts &&
            s->lines_seen <= SKY__SETTLE_WINDOW)
            s->ambiguous++;
        return SKY__SETTLE_SEND;
    }
    sky__settle_ev *e = find_hash(s, s->hash(line, n));
    if (e) {
        take(s, e);
        *stored = (sky__anchor){.ts = e->ts, .h = e->h, .n = 1};
    } else if ((long_line || !sky__utf8_valid(line, n)) && (e = find_wild(s, ts, false))) {
        /* a truncated, split or repaired line: it became the events that are not its text
         * (all parts of a split line carry the line's timestamp) */
        int64_t at = e->ts;
        uint32_t parts = e->parts;
        take(s, e);
        for (uint32_t i = 1; i < parts && (e = find_wild(s, at, true)); i++)
            take(s, e);
        *stored = (sky__anchor){.ts = at, .n = parts, .flags = SKY__ANCHOR_WILD};
    } else {
        return SKY__SETTLE_MISMATCH;
    }
    s->skipped++;
    if (s->left == 0)
        s->active = false;
    return SKY__SETTLE_SKIP;
}

void sky__settle_free(sky__settle *s)
{
    free(s->ev);
    s->ev = NULL;
    s->active = false;
}
