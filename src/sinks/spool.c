/*
 * spool.c - the crash-safe spool: file format, reader, writer, acknowledgement (see spool.h
 * for the design and docs/DURABILITY.md for what each fsync policy guarantees).
 *
 * File: a 4 KiB header, then `cap` bytes of records laid end to end in a ring. Every record
 * starts on an 8-byte boundary with a 32-byte header:
 *
 *     u32 len | u32 crc | u64 pos | i64 ts_ms | u16 stream_len | u8 kind | u8 0 | u32 state
 *     stream name (stream_len bytes), message (len bytes), zero padding to 8
 *
 * `crc` is CRC-32C of len, pos .. kind and the payload; `state` is outside it because it
 * changes in place (pending -> in flight -> done). A record that would not fit before the end
 * of the area is preceded by a skip record covering the rest (kind SKIP, no payload, state
 * done); fewer than 32 bytes left are skipped implicitly. The writer stores the header, then
 * the payload, then the checksum, so a writer killed in the middle leaves a record whose
 * position matches and whose checksum does not: torn, counted, and cut off (or, when a valid
 * record follows, turned into a skip record).
 *
 * Why mmap and not write(2): an append is a memcpy into the page cache with no system call,
 * and an acknowledgement is one store; SIGKILL cannot lose either. The price is that the
 * file's blocks must exist before they are touched (a store into a hole on a full disk is
 * SIGBUS): the whole file is allocated at open with posix_fallocate(), which fails cleanly.
 */
#include "sinks/spool.h"

#include "core/pipeline.h"
#include "util/crc32c.h"
#include "util/lockfile.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAGIC "SKYSPOOL"
#define VERSION 1u
#define KIND_EVENT 1u
#define KIND_SKIP 2u

typedef struct spool_hdr {
    char magic[8];
    uint32_t version, header_size;
    uint64_t data_cap;
    uint64_t head; /* the acknowledged position: one aligned store */
    /* cumulative over every owner, each changed by one store */
    uint64_t ambiguous, torn, dropped, replayed;
    int32_t owner_pid;
    uint32_t pad;
} spool_hdr;

typedef struct rec_hdr {
    uint32_t len;
    uint32_t crc;
    uint64_t pos;
    int64_t ts_ms;
    uint16_t stream_len;
    uint8_t kind;
    uint8_t zero;
    uint32_t state;
} rec_hdr;
_Static_assert(sizeof(rec_hdr) == SKY__SPOOL_REC_HDR, "record header layout");
_Static_assert(sizeof(spool_hdr) <= SKY__SPOOL_HEADER, "header layout");

struct sky__spool {
    int fd;
    char *path;
    uint8_t *map;
    size_t map_len;
    spool_hdr *h;
    uint8_t *data;
    uint64_t cap;
    uint64_t head, tail;
    sky_cwl_fsync policy;
    int64_t interval_ns;
    int64_t last_sync_ns;
    bool dirty;
    unsigned fork_gen;
    sky__spool_scan_result at_open;
    uint64_t replayed;
    sky__spool *next_open; /* open_list */
};


/* ---- fork: a child must not write into its parent's mapping, nor keep its lock ------------- */

/* A child that does not exec (a pre-fork server's worker) would otherwise hold the file's lock
 * through its copy of the descriptor after the parent died, and the restarted parent could
 * not open its spool: the child closes its copies of every open spool's descriptor (the lock
 * belongs to the open file, which the parent still references) and never writes. */
static _Atomic unsigned fork_gen;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t open_mu = PTHREAD_MUTEX_INITIALIZER;
static sky__spool *open_list;
static void on_fork_prepare(void) { pthread_mutex_lock(&open_mu); }
static void on_fork_parent(void) { pthread_mutex_unlock(&open_mu); }
static void on_fork_child(void)
{
    /* the mapping references the open file too, so it goes as well (nothing in the child reads
     * it: a foreign spool is never used, and its stats come from the copies below) */
    for (sky__spool *sp = open_list; sp; sp = sp->next_open) {
        if (sp->fd >= 0) {
            close(sp->fd);
            sp->fd = -1;
        }
        if (sp->map) {
            munmap(sp->map, sp->map_len);
            sp->map = NULL;
            sp->h = NULL;
            sp->data = NULL;
        }
    }
    atomic_fetch_add_explicit(&fork_gen, 1, memory_order_relaxed);
    pthread_mutex_unlock(&open_mu);
}
static void fork_init(void) { pthread_atfork(on_fork_prepare, on_fork_parent, on_fork_child); }

bool sky__spool_foreign(const sky__spool *sp)
{
    return sp->fork_gen != atomic_load_explicit(&fork_gen, memory_order_relaxed);
}

/* ---- records -------------------------------------------------------------------------------- */

static uint64_t rec_size(uint64_t stream_len, uint64_t len)
{
    return (SKY__SPOOL_REC_HDR + stream_len + len + 7) & ~(uint64_t)7;
}

uint32_t sky__spool_crc32c(const void *p, size_t n) { return sky__crc32c(p, n); }

static uint32_t rec_crc(const rec_hdr *h, bool payload)
{
    uint32_t c = ~0u;
    c = sky__crc32c_update(c, &h->len, 4);
    c = sky__crc32c_update(c, &h->pos, 20); /* pos, ts_ms, stream_len, kind, zero */
    if (payload)
        c = sky__crc32c_update(c, h + 1, (size_t)h->stream_len + h->len);
    return ~c;
}

enum { AT_END = 0, AT_VALID = 1, AT_TORN = -1 };

/* What lies at logical position L (whose physical offset leaves `room` >= 32 bytes): a valid
 * record (*rs its size), the end (another lap's or no record), or a torn one (*rs its size
 * when its lengths are plausible, else 0). `room` bounds every length before it is used. */
static int check_at(const uint8_t *data, uint64_t cap, uint64_t L, uint64_t *rs)
{
    uint64_t phys = L % cap, room = cap - phys;
    const rec_hdr *h = (const rec_hdr *)(data + phys);
    *rs = 0;
    if (h->pos != L)
        return AT_END;
    if (h->kind == KIND_SKIP) {
        if (h->stream_len || h->len % 8 || (uint64_t)h->len > room - SKY__SPOOL_REC_HDR)
            return AT_TORN;
        *rs = SKY__SPOOL_REC_HDR + (uint64_t)h->len;
        return h->crc == rec_crc(h, false) ? AT_VALID : AT_TORN;
    }
    if (h->kind != KIND_EVENT || h->zero || h->stream_len == 0 ||
        h->stream_len > SKY__SPOOL_MAX_STREAM || h->len == 0 || h->len > SKY_CWL_MAX_EVENT_BYTES)
        return AT_TORN;
    uint64_t size = rec_size(h->stream_len, h->len);
    if (size > room)
        return AT_TORN;
    *rs = size;
    return h->crc == rec_crc(h, true) ? AT_VALID : AT_TORN;
}

static void make_skip(uint8_t *data, uint64_t cap, uint64_t L, uint64_t size)
{
    rec_hdr *h = (rec_hdr *)(data + L % cap);
    h->kind = KIND_SKIP;
    h->stream_len = 0;
    h->zero = 0;
    h->ts_ms = 0;
    h->len = (uint32_t)(size - SKY__SPOOL_REC_HDR);
    h->pos = L;
    h->state = SKY__SPOOL_DONE;
    h->crc = rec_crc(h, false);
}

/* The implicit skip: fewer than a header's bytes before the end of the area. */
static uint64_t tail_gap(uint64_t cap, uint64_t L)
{
    uint64_t room = cap - L % cap;
    return room < SKY__SPOOL_REC_HDR ? room : 0;
}

static void set_err(char *err, size_t cap, const char *msg)
{
    if (err && cap)
        snprintf(err, cap, "%s", msg);
}

sky_status sky__spool_scan(uint8_t *image, size_t size, bool repair, sky__spool_cb cb, void *user,
                           sky__spool_scan_result *out, char *err, size_t err_cap)
{
    memset(out, 0, sizeof *out);
    sky__crc32c_init();
    if (size < SKY__SPOOL_HEADER) {
        set_err(err, err_cap, "shorter than a spool header");
        return SKY_EINVAL;
    }
    const spool_hdr *h = (const spool_hdr *)image;
    static const uint8_t zero[sizeof(spool_hdr)];
    if (memcmp(h, zero, sizeof zero) == 0)
        return SKY_ENOTFOUND;
    if (memcmp(h->magic, MAGIC, 8) != 0) {
        set_err(err, err_cap, "not a skylog spool (no SKYSPOOL magic)");
        return SKY_EINVAL;
    }
    if (h->version != VERSION || h->header_size != SKY__SPOOL_HEADER) {
        set_err(err, err_cap, "a spool of another version of skylog");
        return SKY_EINVAL;
    }
    uint64_t cap = h->data_cap;
    if (cap < SKY__SPOOL_MIN_BYTES || cap > SKY__SPOOL_MAX_BYTES || cap % 4096 ||
        cap != (uint64_t)size - SKY__SPOOL_HEADER) {
        set_err(err, err_cap, "its header's size does not match the file (truncated?)");
        return SKY_EINVAL;
    }
    uint64_t head = h->head;
    if (head % 8 || head > UINT64_MAX - 4 * cap) {
        set_err(err, err_cap, "its acknowledged position is not valid");
        return SKY_EINVAL;
    }
    uint8_t *data = image + SKY__SPOOL_HEADER;
    uint64_t L = head;
    out->head = head;
    for (;;) {
        uint64_t gap = tail_gap(cap, L);
        if (gap) {
            if (L - head + gap >= cap)
                break;
            L += gap;
        }
        uint64_t rs;
        int k = check_at(data, cap, L, &rs);
        if (k == AT_END)
            break;
        if (k == AT_VALID && L - head + rs > cap)
            k = AT_TORN, rs = 0; /* would overlap the head: not a record this lap wrote */
        if (k == AT_TORN) {
            out->torn++;
            /* skipped only when a valid record follows it; else it is the tail, cut off */
            uint64_t next = L + rs, nrs;
            if (!rs || L - head + rs >= cap)
                break;
            uint64_t ng = tail_gap(cap, next);
            if (next - head + ng >= cap)
                break;
            next += ng;
            if (check_at(data, cap, next, &nrs) != AT_VALID || next - head + nrs > cap)
                break;
            if (repair)
                make_skip(data, cap, L, rs);
            L += rs;
            continue;
        }
        const rec_hdr *r = (const rec_hdr *)(data + L % cap);
        if (r->kind == KIND_EVENT) {
            if (r->state == SKY__SPOOL_DONE) {
                out->done++;
            } else {
                out->live++;
                out->live_bytes += r->len;
                bool inflight = r->state == SKY__SPOOL_INFLIGHT;
                out->inflight += inflight;
                if (cb) {
                    const char *p = (const char *)(r + 1);
                    sky__spool_rec rec = {.pos = L, .ts_ms = r->ts_ms, .stream = p,
                                          .stream_len = r->stream_len, .msg = p + r->stream_len,
                                          .len = r->len, .inflight = inflight};
                    cb(user, &rec);
                }
            }
        }
        L += rs;
        if (L - head >= cap)
            break;
    }
    out->end = L;
    return SKY_OK;
}

/* ---- open ----------------------------------------------------------------------------------- */

static sky_status fail(char **errmsg, sky_status st, const char *fmt, const char *path,
                       const char *why)
{
    if (errmsg) {
        char m[1024];
        snprintf(m, sizeof m, fmt, path, why);
        *errmsg = strdup(m);
    }
    return st;
}

static sky_status map_file(sky__spool *sp, size_t len, char **errmsg)
{
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, sp->fd, 0);
    if (m == MAP_FAILED)
        return fail(errmsg, SKY_EIO, "cloudwatch: spool %s: mmap: %s", sp->path, strerror(errno));
    sp->map = m;
    sp->map_len = len;
    sp->h = m;
    sp->data = sp->map + SKY__SPOOL_HEADER;
    return SKY_OK;
}

static void unmap(sky__spool *sp)
{
    if (sp->map)
        munmap(sp->map, sp->map_len);
    sp->map = NULL;
    sp->h = NULL;
    sp->data = NULL;
}

/* A new, empty spool of `cap` data bytes. The magic is written last: a process killed
 * before it leaves a zero header, which the next open initialises again. */
static sky_status init_file(sky__spool *sp, uint64_t cap, char **errmsg)
{
    unmap(sp);
    uint64_t len = SKY__SPOOL_HEADER + cap;
    if (ftruncate(sp->fd, 0) != 0 || ftruncate(sp->fd, (off_t)len) != 0)
        return fail(errmsg, SKY_EIO, "cloudwatch: spool %s: cannot size it: %s", sp->path,
                    strerror(errno));
    int e = posix_fallocate(sp->fd, 0, (off_t)len);
    if (e)
        return fail(errmsg, SKY_EIO, "cloudwatch: spool %s: cannot allocate it: %s", sp->path,
                    strerror(e));
    sky_status st = map_file(sp, (size_t)len, errmsg);
    if (st != SKY_OK)
        return st;
    spool_hdr *h = sp->h;
    h->version = VERSION;
    h->header_size = SKY__SPOOL_HEADER;
    h->data_cap = cap;
    /* positions start at one lap, not 0: never-written (zero) memory then never carries the
     * position the scan expects, and reads as the end rather than as a torn record */
    h->head = cap;
    memcpy(h->magic, MAGIC, 8);
    sp->cap = cap;
    sp->head = sp->tail = cap;
    memset(&sp->at_open, 0, sizeof sp->at_open);
    return SKY_OK;
}

sky_status sky__spool_open(const char *path, uint64_t bytes, sky_cwl_fsync fsync_policy,
                           int64_t fsync_interval_ms, sky__spool **out, char **errmsg)
{
    *out = NULL;
    if (errmsg)
        *errmsg = NULL;
    pthread_once(&fork_once, fork_init);
    sky__crc32c_init();
    bytes = (bytes + 4095) & ~(uint64_t)4095;
    if (bytes < SKY__SPOOL_MIN_BYTES || bytes > SKY__SPOOL_MAX_BYTES)
        return fail(errmsg, SKY_EINVAL, "cloudwatch: spool_max_bytes%s%s must be 64K..1T", "", "");
    sky__spool *sp = calloc(1, sizeof *sp);
    if (!sp || !(sp->path = strdup(path))) {
        free(sp);
        return SKY_ENOMEM;
    }
    sp->fd = -1;
    sp->policy = fsync_policy;
    sp->interval_ns = (fsync_interval_ms > 0 ? fsync_interval_ms : 1000) * 1000000;
    sp->fork_gen = atomic_load_explicit(&fork_gen, memory_order_relaxed);
    sky_status st = SKY_OK;
    /* opened and locked (one owner; 0600: it holds events): util/lockfile.h */
    off_t size;
    st = sky__lockfile_open(path, MAGIC, offsetof(spool_hdr, owner_pid),
                            &(sky__lockfile_words){"cloudwatch: ", "spool", "spool_path"},
                            &sp->fd, &size, errmsg);
    if (st != SKY_OK)
        goto out;
    if (size == 0) {
        st = init_file(sp, bytes, errmsg);
        goto out;
    }
    if ((uint64_t)size < SKY__SPOOL_HEADER + SKY__SPOOL_MIN_BYTES ||
        (uint64_t)size > SKY__SPOOL_HEADER + SKY__SPOOL_MAX_BYTES) {
        st = fail(errmsg, SKY_EINVAL,
                  "cloudwatch: %s is not a skylog spool (%s); move it away or choose another "
                  "spool_path",
                  path, "its size is not a spool's");
        goto out;
    }
    /* its blocks exist before any store touches them (a hole on a full disk is SIGBUS) */
    int e = posix_fallocate(sp->fd, 0, size);
    if (e) {
        st = fail(errmsg, SKY_EIO, "cloudwatch: spool %s: cannot allocate it: %s", path,
                  strerror(e));
        goto out;
    }
    if ((st = map_file(sp, (size_t)size, errmsg)) != SKY_OK)
        goto out;
    char why[160];
    st = sky__spool_scan(sp->map, sp->map_len, true, NULL, NULL, &sp->at_open, why, sizeof why);
    if (st == SKY_ENOTFOUND) {
        st = init_file(sp, bytes, errmsg);
        goto out;
    }
    if (st != SKY_OK) {
        st = fail(errmsg, SKY_EINVAL,
                  "cloudwatch: %s is not a usable skylog spool: %s; move it away (its events "
                  "are not delivered) or choose another spool_path",
                  path, why);
        goto out;
    }
    sp->cap = sp->h->data_cap;
    if (sp->cap != bytes && sp->at_open.live == 0) {
        st = init_file(sp, bytes, errmsg); /* resized: nothing in it to keep */
        goto out;
    }
    if (sp->cap != bytes)
        sky__diag(NULL, SKY_LEVEL_WARN,
                  "cloudwatch: spool %s keeps its size (%llu bytes) until its %llu events are "
                  "delivered",
                  path, (unsigned long long)sp->cap, (unsigned long long)sp->at_open.live);
    sp->head = sp->at_open.head;
    sp->tail = sp->at_open.end;
    sp->h->torn += sp->at_open.torn;
    if (sp->at_open.torn)
        sky__diag(NULL, SKY_LEVEL_WARN,
                  "cloudwatch: spool %s: %llu damaged record(s) skipped (a writer stopped in "
                  "the middle of an event)",
                  path, (unsigned long long)sp->at_open.torn);
out:
    if (st != SKY_OK) {
        unmap(sp);
        if (sp->fd >= 0)
            close(sp->fd); /* releases the lock */
        free(sp->path);
        free(sp);
        return st;
    }
    sp->h->owner_pid = (int32_t)getpid();
    sp->last_sync_ns = sky_monotonic_ns();
    pthread_mutex_lock(&open_mu);
    sp->next_open = open_list;
    open_list = sp;
    pthread_mutex_unlock(&open_mu);
    *out = sp;
    return SKY_OK;
}

typedef struct replay_ctx {
    sky__spool *sp;
    sky__spool_cb cb;
    void *user;
} replay_ctx;

static void replay_one(void *user, const sky__spool_rec *rec)
{
    replay_ctx *x = user;
    /* its ambiguity is counted (once, in the header): from here on it is plainly pending */
    if (rec->inflight)
        sky__spool_set_state(x->sp, rec->pos, SKY__SPOOL_PENDING);
    x->sp->replayed++;
    x->cb(x->user, rec);
}

void sky__spool_replay(sky__spool *sp, sky__spool_cb cb, void *user)
{
    if (!sp->at_open.live)
        return;
    /* counted before their state is reset: a process killed in between overcounts, never
     * under */
    sp->h->ambiguous += sp->at_open.inflight;
    sky__spool_scan_result r;
    replay_ctx x = {sp, cb, user};
    /* the image was validated (and repaired) by open: this walk finds the same records */
    sky__spool_scan(sp->map, sp->map_len, false, replay_one, &x, &r, NULL, 0);
    sp->h->replayed += sp->replayed;
    sp->dirty = true;
}

/* ---- writing and acknowledging -------------------------------------------------------------- */

/* The bytes an append of rs bytes needs at the tail: an implicit gap, a skip to the end of
 * the area when the record does not fit before it, the record. */
static uint64_t need_at_tail(const sky__spool *sp, uint64_t rs, uint64_t *gap, uint64_t *wrap)
{
    *gap = tail_gap(sp->cap, sp->tail);
    uint64_t room = sp->cap - (sp->tail + *gap) % sp->cap;
    *wrap = room < rs ? room : 0;
    return *gap + *wrap + rs;
}

static bool fits_ever(const sky__spool *sp, size_t stream_len, size_t len)
{
    return stream_len >= 1 && stream_len <= SKY__SPOOL_MAX_STREAM && len >= 1 &&
           len <= SKY_CWL_MAX_EVENT_BYTES && rec_size(stream_len, len) <= sp->cap / 2;
}

bool sky__spool_has_room(const sky__spool *sp, size_t stream_len, size_t len)
{
    if (!fits_ever(sp, stream_len, len))
        return false;
    uint64_t gap, wrap;
    return sp->tail - sp->head + need_at_tail(sp, rec_size(stream_len, len), &gap, &wrap) <= sp->cap;
}

bool sky__spool_append(sky__spool *sp, int64_t ts_ms, const char *stream, size_t stream_len,
                       const char *msg, size_t len, uint64_t *pos)
{
    if (!fits_ever(sp, stream_len, len))
        return false;
    uint64_t rs = rec_size(stream_len, len), gap, wrap;
    if (sp->tail - sp->head + need_at_tail(sp, rs, &gap, &wrap) > sp->cap)
        return false;
    uint64_t L = sp->tail + gap;
    if (wrap) {
        make_skip(sp->data, sp->cap, L, wrap);
        L += wrap;
    }
    rec_hdr *h = (rec_hdr *)(sp->data + L % sp->cap);
    /* header, payload, checksum last: a writer stopped in between leaves a torn record */
    h->crc = 0;
    h->len = (uint32_t)len;
    h->pos = L;
    h->ts_ms = ts_ms;
    h->stream_len = (uint16_t)stream_len;
    h->kind = KIND_EVENT;
    h->zero = 0;
    h->state = SKY__SPOOL_PENDING;
    char *p = (char *)(h + 1);
    memcpy(p, stream, stream_len);
    memcpy(p + stream_len, msg, len);
    size_t pad = (size_t)(rs - SKY__SPOOL_REC_HDR - stream_len - len);
    memset(p + stream_len + len, 0, pad);
    __atomic_store_n(&h->crc, rec_crc(h, true), __ATOMIC_RELEASE);
    sp->tail = L + rs;
    sp->dirty = true;
    *pos = L;
    return true;
}

static rec_hdr *rec_at(sky__spool *sp, uint64_t pos)
{
    rec_hdr *h = (rec_hdr *)(sp->data + pos % sp->cap);
    return h->pos == pos ? h : NULL;
}

void sky__spool_set_state(sky__spool *sp, uint64_t pos, unsigned state)
{
    rec_hdr *h = rec_at(sp, pos);
    if (h)
        __atomic_store_n(&h->state, state, __ATOMIC_RELEASE);
}

void sky__spool_done(sky__spool *sp, uint64_t pos)
{
    sky__spool_set_state(sp, pos, SKY__SPOOL_DONE);
    /* the head passes every done record (and skip) before the first one still pending: one
     * header read when a record of another stream is still ahead */
    uint64_t head = sp->head;
    while (head != sp->tail) {
        uint64_t gap = tail_gap(sp->cap, head);
        if (gap) {
            head += gap;
            continue;
        }
        const rec_hdr *h = rec_at(sp, head);
        if (!h || h->state != SKY__SPOOL_DONE)
            break;
        head += h->kind == KIND_SKIP ? SKY__SPOOL_REC_HDR + h->len : rec_size(h->stream_len, h->len);
    }
    if (head == sp->head)
        return;
    sp->head = head;
    __atomic_store_n(&sp->h->head, head, __ATOMIC_RELEASE); /* the acknowledgement */
    sp->dirty = true;
}

void sky__spool_count_ambiguous(sky__spool *sp, uint64_t n) { sp->h->ambiguous += n; }
void sky__spool_count_dropped(sky__spool *sp, uint64_t n) { sp->h->dropped += n; }

void sky__spool_after_write(sky__spool *sp)
{
    if (sp->policy == SKY_CWL_FSYNC_BATCH && sp->dirty) {
        sp->dirty = false;
        sky__spool_sync(sp);
    }
}

bool sky__spool_sync_due(sky__spool *sp, int64_t now_ns, int64_t *wait_ns)
{
    *wait_ns = INT64_MAX;
    if (sp->policy != SKY_CWL_FSYNC_INTERVAL || !sp->dirty)
        return false;
    int64_t due = sp->last_sync_ns + sp->interval_ns;
    if (now_ns < due) {
        *wait_ns = due - now_ns;
        return false;
    }
    sp->dirty = false;
    sp->last_sync_ns = now_ns;
    return true;
}

void sky__spool_sync(sky__spool *sp)
{
    if (sp->fd >= 0 && fdatasync(sp->fd) != 0)
        sky__diag(NULL, SKY_LEVEL_ERROR, "cloudwatch: spool %s: fdatasync: %s", sp->path,
                  strerror(errno));
}

void sky__spool_stats(const sky__spool *sp, sky_cwl_stats *out)
{
    out->spool_bytes = sp->cap;
    out->spool_used_bytes = sp->tail - sp->head;
    out->spool_replayed = sp->replayed;
    out->spool_torn = sp->at_open.torn;
    if (sp->h) { /* not in a forked child */
        out->spool_ambiguous_total = sp->h->ambiguous;
        out->spool_torn_total = sp->h->torn;
        out->spool_dropped_total = sp->h->dropped;
    }
}

void sky__spool_close(sky__spool *sp)
{
    if (!sp)
        return;
    pthread_mutex_lock(&open_mu);
    for (sky__spool **pp = &open_list; *pp; pp = &(*pp)->next_open)
        if (*pp == sp) {
            *pp = sp->next_open;
            break;
        }
    pthread_mutex_unlock(&open_mu);
    if (!sky__spool_foreign(sp)) {
        sp->h->owner_pid = 0;
        if (sp->policy != SKY_CWL_FSYNC_NONE)
            sky__spool_sync(sp);
    }
    unmap(sp);
    if (sp->fd >= 0)
        close(sp->fd);
    free(sp->path);
    free(sp);
}
