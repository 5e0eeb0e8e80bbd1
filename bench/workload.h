/*
 * workload.h - the benchmark's events, shared by the drivers (C and C++) and the output checker.
 *
 * Every value an event carries is a function of its id (0 .. events-1), computed at run time
 * from tables built at start-up, so the compiler cannot fold any of them and the checker can
 * rebuild what each line must hold. Workloads:
 *   lit    user="alice", id=i, ms=1.5 with literal values (the old benchmark's event; the
 *          compiler folds the string and the double)
 *   rt     the same three fields, the string and the double read at run time
 *   ctx    rt inside SKY_WITH_CONTEXT(request_id, tenant), the scope held across calls
 *   bound  rt through a SKY_BIND(request_id, tenant) logger
 *   scope  ctx's event in a scope of its own: push, the call, pop around every event (what a
 *          scope costs at the least: its block made and retired for one event)
 *   mix    the realistic mix: 6, 7 or 8 fields (user, path, id, ms, ok, err, then bytes, then
 *          agent); strings of 5..200 bytes, a quarter needing JSON escapes (quote, backslash,
 *          newline, tab, control characters), some UTF-8; a quarter of the calls inside a
 *          context scope of two fields (request_id, tenant), opened for 4 calls in every 16
 *   mixn   the same events, the strings passed with their lengths (SKY_STRN), as a program
 *          does that has them (mix: SKY_STR, the length measured at the call)
 */
#ifndef BENCH_WORKLOAD_H
#define BENCH_WORKLOAD_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WL_POOL 1024 /* distinct strings per role */
#define WL_MAXSTR 200

static inline uint64_t wl_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

typedef struct wl_str {
    char s[WL_MAXSTR + 1];
    size_t n;
} wl_str;

static wl_str wl_users[WL_POOL], wl_paths[WL_POOL], wl_agents[WL_POOL], wl_reqs[WL_POOL];
static const char *wl_names[] = {"alice", "bob", "carol", "dave", "erin", "frank", "grace",
                                 "heidi"};
static const int wl_errnos[] = {ENOENT, EACCES, ETIMEDOUT, ECONNRESET, EAGAIN, EINVAL};

/* A string of length lo..hi from seed: plain ASCII words; a quarter of them (escapes) get
 * a quote, a backslash, a newline, a tab or a control character; one in eight gets UTF-8. */
static inline void wl_make(wl_str *out, uint64_t seed, size_t lo, size_t hi, bool escapes)
{
    static const char *const utf8[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                                       "\xc3\xbc"};
    uint64_t h = wl_mix64(seed);
    size_t n = lo + (size_t)(h % (hi - lo + 1)), w = 0;
    bool esc = escapes && (h >> 20) % 4 == 0, u8 = (h >> 24) % 8 == 0;
    while (w < n) {
        h = wl_mix64(h);
        unsigned r = (unsigned)(h % 64);
        if (esc && r < 3) {
            static const char e[] = {'"', '\\', '\n', '\t', '\x01', '\x1f'};
            out->s[w++] = e[(h >> 8) % sizeof e];
        } else if (u8 && r < 6) {
            const char *u = utf8[(h >> 8) % 4];
            size_t l = strlen(u);
            if (w + l > n)
                break;
            memcpy(out->s + w, u, l);
            w += l;
        } else {
            out->s[w++] = r < 12 ? ' ' : (char)('a' + (h >> 16) % 26);
        }
    }
    if (esc && w) { /* at least one: "a quarter needing escapes" means needing them */
        size_t k = (h >> 32) % w;
        while (k < w && (unsigned char)out->s[k] >= 0x80) /* not inside a UTF-8 sequence */
            k++;
        if (k < w)
            out->s[k] = '"';
    }
    out->s[w] = '\0';
    out->n = w;
}

static inline void wl_init(void)
{
    for (uint64_t k = 0; k < WL_POOL; k++) {
        wl_make(&wl_users[k], 4 * k + 1, 5, 40, true);
        wl_make(&wl_paths[k], 4 * k + 2, 10, 200, true);
        wl_make(&wl_agents[k], 4 * k + 3, 20, 120, true);
        wl_make(&wl_reqs[k], 4 * k + 4, 16, 36, false);
    }
}

/* What event i holds. */
typedef struct wl_event {
    const char *user;
    size_t user_n;
    const char *path;
    size_t path_n;
    int64_t id;
    double ms;
    bool ok;
    int err;
    uint64_t bytes;
    const char *agent;
    size_t agent_n;
    int nfields;   /* mix: 6, 7 or 8 */
    bool in_ctx;   /* mix: logged inside the context scope */
    const char *req, *tenant; /* the context's / bound logger's values */
} wl_event;

/* The scope a mix event belongs to: events 16k .. 16k+3 share one. */
static inline void wl_scope(long i, const char **req, const char **tenant)
{
    uint64_t h = wl_mix64((uint64_t)(i / 16) ^ 0x5555);
    *req = wl_reqs[h % WL_POOL].s;
    *tenant = wl_names[(h >> 32) % 8];
}

/* Values repeat every WL_EVENTS ids (the drivers read them from a table of that many events
 * built at start-up, so the log call itself is all the caller's measured cost); the id does
 * not. */
#define WL_EVENTS 4096
static inline void wl_event_of(const char *workload, long i, wl_event *e)
{
    uint64_t h = wl_mix64((uint64_t)i % WL_EVENTS);
    memset(e, 0, sizeof *e);
    e->id = i;
    if (strncmp(workload, "mix", 3) != 0) { /* mix, mixn */
        if (strcmp(workload, "lit") == 0) {
            e->user = "alice";
            e->ms = 1.5;
        } else {
            e->user = wl_names[h % 8];
            e->ms = (double)(h >> 40 & 0xfffff) / 1000.0;
        }
        e->user_n = strlen(e->user);
        e->nfields = 3;
        if (strcmp(workload, "ctx") == 0 || strcmp(workload, "bound") == 0 ||
            strcmp(workload, "scope") == 0) {
            e->in_ctx = true;
            e->req = wl_reqs[0].s; /* one scope (one bound logger) per thread's run */
            e->tenant = "acme";
        }
        return;
    }
    const wl_str *u = &wl_users[h % WL_POOL], *p = &wl_paths[(h >> 10) % WL_POOL],
                 *a = &wl_agents[(h >> 20) % WL_POOL];
    e->user = u->s, e->user_n = u->n;
    e->path = p->s, e->path_n = p->n;
    e->agent = a->s, e->agent_n = a->n;
    /* latencies in microseconds, some computed ratios that are not short decimals */
    e->ms = (h >> 30) % 8 ? (double)((h >> 33) % 5000000) / 1000.0
                          : (double)((h >> 33) % 1000 + 1) / 3.0;
    e->ok = (h >> 40) & 1;
    e->err = wl_errnos[(h >> 41) % 6];
    e->bytes = (h >> 44) % 1000000;
    e->nfields = 6 + (int)((h >> 50) % 3);
    e->in_ctx = i % 16 < 4;
    if (e->in_ctx)
        wl_scope(i, &e->req, &e->tenant);
}

#endif
