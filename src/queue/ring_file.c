/*
 * ring_file.c - the async ring in a memory-mapped file, and the reader that takes it back
 * after its owner died (see ring_file.h; what it guarantees: docs/DURABILITY.md).
 *
 * Design: the ring's buffer *is* the file's data area (MAP_SHARED), so producers pay nothing
 * for the file beyond what their records carry (a checksum and copies of what a record
 * otherwise only points at): no second copy, no system call. Positions are those of the ring
 * (64-bit byte counts that only grow); a fresh file starts at one lap (cap), so zero memory
 * never carries the position the reader expects.
 *
 * The header's `consumer` is stored by the worker once every sink's write() returned for a
 * batch, and before the ring clears the batch's commit words; `inflight` just before the
 * batch goes to the sinks. A process killed between the two leaves the batch to be written
 * again: those records are counted as ambiguous (a sink may have them twice).
 *
 * The reader walks one lap from `consumer`, 16 bytes (the ring's alignment) at a time: a
 * commit word that is not zero and whose record checks (size, position, checksum, then the
 * owner's own check) is a record; the ring's wrap filler (which runs exactly to the end of the
 * buffer) and skip records are passed over; anything else starts a torn range, which ends at
 * the next good record. A producer killed between reservation and commit leaves a zero
 * commit word in front of records that other producers committed after it: a torn range in
 * the middle. Each torn range counts once (it may hide more than one record: several threads
 * killed in the middle of theirs). The ring itself never lets a zero commit word be read past
 * (a slow producer holds the consumer back), so a torn range is rewritten as skip records
 * (commit = size | PAD, aux = SKIP, the position) and the region past the last good record is
 * cleared as the consumer clears what it frees (the commit word of every 16-byte unit): the
 * ring's invariants hold again before the first producer reserves.
 *
 * Why flock and not a pid file: the kernel drops the lock when its last holder dies, so a
 * restart after SIGKILL opens at once; a second owner gets a clear error. The descriptor is
 * O_CLOEXEC, and a forked child closes its copy (sky__rfile_detach), so neither an exec'd
 * program nor a long-lived child keeps the lock from the restarted parent.
 */
#include "queue/ring_file.h"

#include "util/crc32c.h"
#include "util/lockfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAGIC "SKYRING"

_Static_assert(sizeof(sky__rfile_hdr) <= SKY__RFILE_HEADER, "ring file header");

struct sky__rfile {
    int fd;
    char *path;
    uint8_t *map;
    size_t map_len;
};

static uint32_t rec_crc(const char *rec, uint32_t size)
{
    uint32_t c = sky__crc32c_update(~0u, rec + 4, 12); /* aux, pos */
    c = sky__crc32c_update(c, rec + 20, size - 20);    /* aux2 and the content */
    return ~c;
}

void sky__rfile_seal(char *rec, uint32_t size, uint64_t pos)
{
    sky__rfile_rec *h = (sky__rfile_rec *)rec;
    h->pos = pos;
    h->crc = rec_crc(rec, size);
}

static uint32_t commit_at(const uint8_t *data, uint64_t off)
{
    return atomic_load_explicit(&((const sky__ring_hdr *)(data + off))->commit,
                                memory_order_relaxed);
}

/* A skip record over [pos, pos + len) of the ring: no piece crosses the end of the buffer or
 * is larger than the ring's largest record (the commit word is 32 bits). */
static void write_skip(uint8_t *data, uint64_t cap, uint64_t pos, uint64_t len)
{
    while (len) {
        uint64_t off = pos & (cap - 1), n = len;
        if (n > cap - off)
            n = cap - off;
        if (n > ((uint64_t)1 << 30))
            n = (uint64_t)1 << 30;
        sky__rfile_rec *h = (sky__rfile_rec *)(data + off);
        h->h.aux = SKY__RFILE_SKIP;
        if (n >= 16)
            h->pos = pos;
        atomic_store_explicit(&h->h.commit, (uint32_t)n | SKY__RING_PAD, memory_order_relaxed);
        pos += n;
        len -= n;
    }
}

/* Clears the commit word of every 16-byte unit of [from, to), as the ring's release does;
 * only those that are not zero already, so that a clean file's pages are read, not dirtied. */
static void clear_range(uint8_t *data, uint64_t cap, uint64_t from, uint64_t to)
{
    for (; from < to; from += SKY__RING_ALIGN) {
        _Atomic uint32_t *c = &((sky__ring_hdr *)(data + (from & (cap - 1))))->commit;
        if (atomic_load_explicit(c, memory_order_relaxed))
            atomic_store_explicit(c, 0, memory_order_relaxed);
    }
}

static bool fail_why(char *err, size_t cap, const char *why)
{
    if (err && cap)
        snprintf(err, cap, "%s", why);
    return false;
}

static bool header_ok(const sky__rfile_hdr *h, size_t size, char *err, size_t err_cap)
{
    if (memcmp(h->magic, MAGIC, 8) != 0)
        return fail_why(err, err_cap, "it does not start with the ring spool's magic");
    if (h->version != SKY__RFILE_VERSION)
        return fail_why(err, err_cap, "it is of another version of the format");
    if (h->header_size != SKY__RFILE_HEADER)
        return fail_why(err, err_cap, "its header size is not 4096");
    if (h->cap < 4096 || h->cap > ((uint64_t)1 << 40) || (h->cap & (h->cap - 1)))
        return fail_why(err, err_cap, "its capacity is not a power of two from 4K to 1T");
    if ((uint64_t)size != SKY__RFILE_HEADER + h->cap)
        return fail_why(err, err_cap, "its size does not match the capacity in its header");
    uint64_t c = atomic_load_explicit(&h->consumer, memory_order_relaxed);
    if (c % SKY__RING_ALIGN || c > UINT64_MAX / 2)
        return fail_why(err, err_cap, "its consumer position is not a ring position");
    return true;
}

/* Is a good record at position `pos` (offset `off`, commit word `c`, not the filler)? */
static bool record_ok(const uint8_t *data, uint64_t cap, uint64_t pos, uint32_t c,
                      sky__rfile_check check, void *user)
{
    uint64_t off = pos & (cap - 1);
    if (c % SKY__RING_ALIGN || c < sizeof(sky__rfile_rec) || c > cap / 2 || off + c > cap)
        return false;
    const char *rec = (const char *)(data + off);
    const sky__rfile_rec *h = (const sky__rfile_rec *)rec;
    if (h->pos != pos || h->crc != rec_crc(rec, c))
        return false;
    return !check || check(user, rec, c);
}

/* The filler the ring puts before a record that would not fit before the end of the buffer,
 * or a skip record: how many bytes it covers, 0 if it is neither. */
static uint64_t skip_len(const uint8_t *data, uint64_t cap, uint64_t pos, uint32_t c)
{
    uint64_t off = pos & (cap - 1), n = c & ~(uint64_t)(SKY__RING_ALIGN - 1);
    if (!(c & SKY__RING_PAD) || !n || off + n > cap)
        return 0;
    if (off + n == cap)
        return n; /* the wrap filler: the ring writes nothing but its commit word */
    const sky__rfile_rec *h = (const sky__rfile_rec *)(data + off);
    return h->h.aux == SKY__RFILE_SKIP && h->pos == pos ? n : 0;
}

sky_status sky__rfile_scan(uint8_t *image, size_t size, bool repair, sky__rfile_check check,
                           void *user, sky__rfile_found *out, char *err, size_t err_cap)
{
    memset(out, 0, sizeof *out);
    sky__crc32c_init();
    if (size < SKY__RFILE_HEADER)
        return fail_why(err, err_cap, "it is shorter than the header"), SKY_EINVAL;
    sky__rfile_hdr *h = (sky__rfile_hdr *)image;
    /* all zero: a file made by a process killed before it wrote anything into it. Only then
     * is it made again; a file of something else is never overwritten. */
    size_t z = 0;
    while (z < SKY__RFILE_HEADER && !image[z])
        z++;
    if (z == SKY__RFILE_HEADER)
        return SKY_ENOTFOUND;
    if (!header_ok(h, size, err, err_cap))
        return SKY_EINVAL;
    uint8_t *data = image + SKY__RFILE_HEADER;
    uint64_t cap = h->cap;
    uint64_t consumer = atomic_load_explicit(&h->consumer, memory_order_relaxed);
    uint64_t inflight = atomic_load_explicit(&h->inflight, memory_order_relaxed);
    uint64_t pos = consumer, lap = consumer + cap, end = consumer;
    uint64_t torn_from = 0;
    bool in_torn = false, dirty = false; /* dirty: the torn range has a nonzero commit word */
    while (pos < lap) {
        uint64_t off = pos & (cap - 1);
        uint32_t c = commit_at(data, off);
        uint64_t n;
        if (c && (n = skip_len(data, cap, pos, c)) != 0 && pos + n <= lap) {
            /* filler is no record: a torn range before it stays open */
            if (!in_torn)
                end = pos + n;
            pos += n;
            continue;
        }
        if (c && !(c & SKY__RING_PAD) && pos + c <= lap &&
            record_ok(data, cap, pos, c, check, user)) {
            if (in_torn) {
                out->torn++;
                if (repair)
                    write_skip(data, cap, torn_from, pos - torn_from);
                in_torn = false;
            }
            out->records++;
            if (pos < inflight)
                out->ambiguous++;
            pos += c;
            end = pos;
            continue;
        }
        if (!in_torn) {
            in_torn = true;
            dirty = false;
            torn_from = pos;
        }
        dirty |= c != 0;
        pos += SKY__RING_ALIGN;
    }
    if (in_torn && dirty)
        out->torn++; /* at the tail: a record cut short, or one never committed */
    if (repair)
        clear_range(data, cap, end, consumer + cap);
    out->consumer = consumer;
    out->end = end;
    return SKY_OK;
}

/* ---- the file ------------------------------------------------------------------------------- */

static sky_status failf(char **errmsg, sky_status st, const char *fmt, const char *path,
                        const char *why)
{
    if (errmsg) {
        char m[1024];
        snprintf(m, sizeof m, fmt, path, why);
        *errmsg = strdup(m);
    }
    return st;
}

static void unmap(sky__rfile *f)
{
    if (f->map)
        munmap(f->map, f->map_len);
    f->map = NULL;
}

static sky_status map_file(sky__rfile *f, size_t len, char **errmsg)
{
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd, 0);
    if (m == MAP_FAILED)
        return failf(errmsg, SKY_EIO, "ring spool %s: mmap: %s", f->path,
                     strerror(errno));
    f->map = m;
    f->map_len = len;
    return SKY_OK;
}

/* A new, empty ring file of `cap` bytes. Its blocks are allocated first (a store into a hole
 * of a full disk is SIGBUS, a failed posix_fallocate a clear error); the magic is written
 * last, so a process killed before leaves a file the next open makes again. */
static sky_status init_file(sky__rfile *f, uint64_t cap, char **errmsg)
{
    unmap(f);
    uint64_t len = SKY__RFILE_HEADER + cap;
    if (ftruncate(f->fd, 0) != 0 || ftruncate(f->fd, (off_t)len) != 0)
        return failf(errmsg, SKY_EIO, "ring spool %s: cannot size it: %s", f->path,
                     strerror(errno));
    int e = posix_fallocate(f->fd, 0, (off_t)len);
    if (e)
        return failf(errmsg, SKY_EIO, "ring spool %s: cannot allocate it: %s", f->path,
                     strerror(e));
    sky_status st = map_file(f, (size_t)len, errmsg);
    if (st != SKY_OK)
        return st;
    sky__rfile_hdr *h = (sky__rfile_hdr *)f->map;
    h->version = SKY__RFILE_VERSION;
    h->header_size = SKY__RFILE_HEADER;
    h->cap = cap;
    atomic_store(&h->consumer, cap);
    atomic_store(&h->inflight, cap);
    atomic_thread_fence(memory_order_release);
    memcpy(h->magic, MAGIC, 8);
    return SKY_OK;
}

sky_status sky__rfile_open(const char *path, uint64_t cap, sky__rfile_check check, void *user,
                           sky__ring *r, sky__rfile **out, sky__rfile_found *found,
                           char **errmsg)
{
    *out = NULL;
    memset(found, 0, sizeof *found);
    if (errmsg)
        *errmsg = NULL;
    sky__crc32c_init(); /* producers seal records with it */
    sky__rfile *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        return SKY_ENOMEM;
    }
    sky_status st = SKY_OK;
    /* opened and locked (one owner; 0600: it holds events): util/lockfile.h */
    off_t size;
    st = sky__lockfile_open(path, MAGIC, offsetof(sky__rfile_hdr, owner_pid),
                            &(sky__lockfile_words){"", "ring spool", "ring_spool_path"},
                            &f->fd, &size, errmsg);
    if (st != SKY_OK)
        goto out;
    if (size == 0) {
        st = init_file(f, cap, errmsg);
        goto attach;
    }
    if ((uint64_t)size < SKY__RFILE_HEADER + 4096 ||
        (uint64_t)size > SKY__RFILE_HEADER + ((uint64_t)1 << 40)) {
        st = failf(errmsg, SKY_EINVAL,
                   "%s is not a skylog ring spool (%s); move it away or choose another "
                   "ring_spool_path",
                   path, "its size is not a ring spool's");
        goto out;
    }
    int e = posix_fallocate(f->fd, 0, size);
    if (e) {
        st = failf(errmsg, SKY_EIO, "ring spool %s: cannot allocate it: %s", path,
                   strerror(e));
        goto out;
    }
    if ((st = map_file(f, (size_t)size, errmsg)) != SKY_OK)
        goto out;
    char why[128];
    st = sky__rfile_scan(f->map, f->map_len, true, check, user, found, why, sizeof why);
    if (st == SKY_ENOTFOUND) {
        st = init_file(f, cap, errmsg);
        goto attach;
    }
    if (st != SKY_OK) {
        st = failf(errmsg, SKY_EINVAL,
                   "%s is not a usable skylog ring spool: %s; move it away (its events "
                   "are not delivered) or choose another ring_spool_path",
                   path, why);
        goto out;
    }
    if (((sky__rfile_hdr *)f->map)->cap != cap && !found->records) {
        st = init_file(f, cap, errmsg); /* resized: nothing in it to keep */
        memset(found, 0, sizeof *found);
    }
attach:
    if (st == SKY_OK) {
        sky__rfile_hdr *h = (sky__rfile_hdr *)f->map;
        if (!found->consumer) /* a new file */
            found->consumer = found->end = h->cap;
        atomic_fetch_add(&h->recovered_total, found->records);
        atomic_fetch_add(&h->torn_total, found->torn);
        atomic_fetch_add(&h->ambiguous_total, found->ambiguous);
        /* what was in flight is accounted for: a later death must not count it again */
        atomic_store(&h->inflight, found->consumer);
        atomic_store(&h->owner_pid, (int32_t)getpid());
        sky__ring_attach(r, (char *)f->map + SKY__RFILE_HEADER, h->cap, found->consumer,
                         found->end);
    }
out:
    if (st != SKY_OK) {
        unmap(f);
        if (f->fd >= 0)
            close(f->fd); /* releases the lock */
        free(f->path);
        free(f);
        return st;
    }
    *out = f;
    return SKY_OK;
}

sky__rfile_hdr *sky__rfile_header(sky__rfile *f) { return (sky__rfile_hdr *)f->map; }

const char *sky__rfile_path(const sky__rfile *f) { return f->path; }

void sky__rfile_detach(sky__rfile *f)
{
    if (f->fd < 0)
        return;
    /* MAP_FIXED replaces the shared pages at the same addresses: the ring's buffer pointer
     * (which inlined call sites read) stays valid. Zero pages: the ring is reset next. */
    if (mmap(f->map, f->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
             -1, 0) == MAP_FAILED)
        munmap(f->map, f->map_len), f->map = NULL; /* never seen; a fault beats a shared write */
    close(f->fd);
    f->fd = -1;
}

void sky__rfile_close(sky__rfile *f)
{
    if (!f)
        return;
    if (f->fd >= 0 && f->map)
        atomic_store(&((sky__rfile_hdr *)f->map)->owner_pid, 0);
    unmap(f);
    if (f->fd >= 0)
        close(f->fd);
    free(f->path);
    free(f);
}
