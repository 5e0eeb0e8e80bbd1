/*
 * audit.c - the audit sink (hash-chained JSON lines, see skylog/audit.h and docs/AUDIT.md) and
 * the chain verifier behind `skylog audit verify` (audit_chain.h).
 *
 * The sink wraps each JSON event the encoder made: it adds the sequence number and the previous
 * entry's hash in front, and the entry's own hash (and HMAC) at the end, so the chain fields are
 * at fixed places and checking a line is two memcmp()s and one SHA-256 - no JSON parser, which
 * keeps `verify` fast, streaming and free of recursion on hostile input. A batch is one write(2)
 * on an O_APPEND descriptor, like the file sink (sky__write_all), and the in-memory chain state
 * advances only once the write succeeded; a failed write may have left a torn line, so the next
 * write resumes from the file first, exactly as a restart does. The file is flock()ed: two
 * writers would fork the chain. Never does: rotate (a chain spans one file), rewrite or truncate
 * what is in the file (a torn line stays, as evidence, recorded by a chain_resumed entry), or
 * let the key reach a log, a message or the file.
 */
#include "core/errmsg.h"
#include "core/reserved.h"
#include "core/pipeline.h"
#include "aws/crypto_api.h"
#include "util/text.h"
#include "sinks/audit_chain.h"
#include "sinks/fdio.h"
#include "util/secmem.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- the line format ------------------------------------------------------------------------- */

static const char k_seq[] = "{\"seq\":";       /* 7 */
static const char k_prev[] = ",\"prev\":\"";   /* 9 */
static const char k_hash[] = ",\"hash\":\"";   /* 9 */
static const char k_hmac[] = "\",\"hmac\":\""; /* 10 */
static const char k_resumed[] = "\"message\":\"chain_resumed\"";
static const char k_torn[] = "\"torn_sha256\":\"";
#define LIT(s) (sizeof(s) - 1)
#define TAIL_PLAIN (LIT(k_hash) + 64 + 2)                 /* ,"hash":"H"}          */
#define TAIL_HMAC (LIT(k_hash) + 64 + LIT(k_hmac) + 64 + 2) /* ,"hash":"H","hmac":"M"} */

/* Lower case only: one spelling per hash. */
static bool from_hex(const char *in, size_t n, uint8_t *out) { return sky__unhex(in, n, out, true); }

bool sky__audit_check_line(const char *line, size_t len, const uint8_t *key, size_t keylen,
                           sky__audit_line *out)
{
    memset(out, 0, sizeof *out);
    size_t p = LIT(k_seq);
    if (len < p || memcmp(line, k_seq, p) != 0)
        return true;
    size_t d0 = p;
    uint64_t seq = 0;
    while (p < len && line[p] >= '0' && line[p] <= '9' && p - d0 < 20) {
        uint64_t dig = (uint64_t)(line[p] - '0');
        if (seq > (UINT64_MAX - dig) / 10)
            return true;
        seq = seq * 10 + dig;
        p++;
    }
    if (p == d0 || len - p < LIT(k_prev) + 65 || memcmp(line + p, k_prev, LIT(k_prev)) != 0)
        return true;
    p += LIT(k_prev);
    uint8_t prev[32];
    if (!from_hex(line + p, 32, prev) || line[p + 64] != '"')
        return true;
    p += 65; /* the body's fixed head ends here */
    size_t body_end;
    const char *h, *m = NULL;
    if (len >= p + TAIL_HMAC && memcmp(line + len - TAIL_HMAC, k_hash, LIT(k_hash)) == 0 &&
        memcmp(line + len - 2 - 64 - LIT(k_hmac), k_hmac, LIT(k_hmac)) == 0) {
        body_end = len - TAIL_HMAC;
        h = line + body_end + LIT(k_hash);
        m = line + len - 2 - 64;
    } else if (len >= p + TAIL_PLAIN &&
               memcmp(line + len - TAIL_PLAIN, k_hash, LIT(k_hash)) == 0) {
        body_end = len - TAIL_PLAIN;
        h = line + body_end + LIT(k_hash);
    } else {
        return true;
    }
    if (line[len - 2] != '"' || line[len - 1] != '}' || (body_end > p && line[p] != ','))
        return true;
    uint8_t hash[32], hmac[32];
    if (!from_hex(h, 32, hash) || (m && !from_hex(m, 32, hmac)))
        return true;
    out->parsed = true;
    out->seq = seq;
    memcpy(out->prev, prev, 32);
    memcpy(out->hash, hash, 32);
    out->has_hmac = m != NULL;
    uint8_t calc[32];
    if (!sky__sha256(line, body_end, calc))
        return false;
    out->hash_ok = sky__ct_equal(calc, hash, 32);
    if (key && m) {
        if (!sky__hmac_sha256(key, keylen, line, body_end, calc))
            return false;
        out->hmac_ok = sky__ct_equal(calc, hmac, 32);
    }
    const char *body = line + p;
    size_t blen = body_end - p;
    out->resumed = memmem(body, blen, k_resumed, LIT(k_resumed)) != NULL;
    const char *t = out->resumed ? memmem(body, blen, k_torn, LIT(k_torn)) : NULL;
    if (t && (size_t)(body + blen - (t + LIT(k_torn))) >= 65 && t[LIT(k_torn) + 64] == '"')
        out->torn_marker = from_hex(t + LIT(k_torn), 32, out->torn_sha);
    sky__wipe(calc, sizeof calc);
    return true;
}

bool sky__audit_read_key_file(const char *path, uint8_t *key, size_t *keylen,
                              bool (*wait)(int fd, void *user), void *user, bool *stopped,
                              char *err, size_t errcap)
{
    if (stopped)
        *stopped = false;
    /* without blocking when the caller waits: a FIFO's open would wait for a writer, where no
     * signal can be told from one that came just before */
    int fd = open(path, O_RDONLY | O_CLOEXEC | (wait ? O_NONBLOCK : 0));
    if (fd < 0) {
        snprintf(err, errcap, "cannot open key file '%s': %s", path, strerror(errno));
        return false;
    }
    uint8_t tmp[SKY__AUDIT_MAX_KEY + 3];
    size_t n = 0;
    for (;;) {
        if (wait && !wait(fd, user)) {
            *stopped = true;
            snprintf(err, errcap, "reading key file '%s' was stopped", path);
            close(fd);
            sky__wipe(tmp, sizeof tmp);
            return false;
        }
        ssize_t r = read(fd, tmp + n, sizeof tmp - n);
        if (r < 0 && (errno == EINTR || (wait && errno == EAGAIN)))
            continue;
        if (r < 0) {
            snprintf(err, errcap, "cannot read key file '%s': %s", path, strerror(errno));
            close(fd);
            sky__wipe(tmp, sizeof tmp);
            return false;
        }
        if (r == 0 || (n += (size_t)r) == sizeof tmp)
            break;
    }
    close(fd);
    if (n && tmp[n - 1] == '\n')
        n--;
    if (n && tmp[n - 1] == '\r')
        n--;
    bool ok = n >= 1 && n <= SKY__AUDIT_MAX_KEY;
    if (ok) {
        memcpy(key, tmp, n);
        *keylen = n;
    } else {
        snprintf(err, errcap, "key file '%s': the key must be 1 to %d bytes", path,
                 SKY__AUDIT_MAX_KEY);
    }
    sky__wipe(tmp, sizeof tmp);
    return ok;
}

/* ---- the sink -------------------------------------------------------------------------------- */

typedef struct audit_sink {
    pthread_mutex_t lock; /* the chain is one sequence, whatever thread writes */
    char *path;
    int fd;
    sky_audit_fsync fsync;
    int64_t interval_ns, last_sync_ns;
    uint8_t key[SKY__AUDIT_MAX_KEY];
    size_t keylen;
    uint64_t seq;     /* of the last entry in the file */
    uint8_t last[32]; /* its hash */
    bool need_resume; /* a write failed: the file's tail is unknown */
    char marker[512];  /* the chain_resumed entry's fields, written before the next entry */
    size_t marker_len; /* 0: none pending */
    bool marker_nl;    /* ... after a newline that ends a torn line */
    sky_buf buf;
    uint64_t bytes, errors, dropped;
    bool echo;
} audit_sink;

/* Appends one entry for `inner` (the members of a JSON object, without braces) to a->buf,
 * chaining from (*seq, last); advances them. */
static void put_entry(audit_sink *a, const char *inner, size_t ilen, uint64_t *seq,
                      uint8_t last[32])
{
    size_t start = a->buf.len;
    char hex[64];
    sky__buf_lit(&a->buf, "{\"seq\":");
    sky__buf_u64(&a->buf, ++*seq);
    sky__buf_put(&a->buf, k_prev, LIT(k_prev));
    sky__hex_digits(last, 32, hex);
    sky__buf_put(&a->buf, hex, 64);
    sky__buf_putc(&a->buf, '"');
    if (ilen) {
        sky__buf_putc(&a->buf, ',');
        sky__buf_put(&a->buf, inner, ilen);
    }
    if (a->buf.oom)
        return;
    const char *body = a->buf.p + start;
    size_t blen = a->buf.len - start;
    uint8_t mac[32];
    bool ok = sky__sha256(body, blen, last);
    if (a->keylen)
        ok = ok && sky__hmac_sha256(a->key, a->keylen, body, blen, mac);
    if (!ok) { /* libcrypto was loaded at open; this cannot happen, but never write a zero hash */
        a->buf.oom = true;
        return;
    }
    sky__buf_put(&a->buf, k_hash, LIT(k_hash));
    sky__hex_digits(last, 32, hex);
    sky__buf_put(&a->buf, hex, 64);
    if (a->keylen) {
        sky__buf_put(&a->buf, k_hmac, LIT(k_hmac));
        sky__hex_digits(mac, 32, hex);
        sky__buf_put(&a->buf, hex, 64);
        sky__wipe(mac, sizeof mac);
    }
    sky__buf_lit(&a->buf, "\"}\n");
}

static bool sync_now(audit_sink *a)
{
    a->last_sync_ns = sky_now_ns();
    return fsync(a->fd) == 0;
}

/* Writes a->buf and makes it as durable as the policy says; the chain state is the caller's. */
static sky_status commit(audit_sink *a)
{
    if (a->buf.oom)
        return SKY_ENOMEM;
    if (!sky__write_all(a->fd, a->buf.p, a->buf.len)) {
        a->errors++;
        a->need_resume = true;
        return SKY_EIO;
    }
    a->bytes += a->buf.len;
    bool due = a->fsync == SKY_AUDIT_FSYNC_ENTRY ||
               (a->fsync == SKY_AUDIT_FSYNC_INTERVAL &&
                sky_now_ns() - a->last_sync_ns >= a->interval_ns);
    if (due && !sync_now(a)) {
        a->errors++;
        return SKY_EIO;
    }
    return SKY_OK;
}

static void set_msg(char **errmsg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_msg(char **errmsg, const char *fmt, ...)
{
    if (!errmsg)
        return;
    char m[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    free(*errmsg);
    *errmsg = strdup(m);
}

static bool pread_all(int fd, char *buf, size_t n, off_t off)
{
    while (n) {
        ssize_t r = pread(fd, buf, n, off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        buf += r;
        n -= (size_t)r;
        off += r;
    }
    return true;
}

/* Finds the chain's end in the file (its last complete line must be an intact entry), keeps a
 * torn tail as a line of its own, and appends a chain_resumed entry recording the reopening. */
static sky_status resume(audit_sink *a, char **errmsg)
{
    struct stat st;
    if (fstat(a->fd, &st) != 0) {
        set_msg(errmsg, "audit sink: cannot stat '%s': %s", a->path, strerror(errno));
        return SKY_EIO;
    }
    a->seq = 0;
    memset(a->last, 0, 32);
    a->need_resume = false;
    a->marker_len = 0;
    uint64_t size = (uint64_t)st.st_size;
    if (size == 0)
        return SKY_OK;
    /* The last complete line and a torn one are each at most SKY_AUDIT_MAX_LINE. */
    size_t want = size < 2 * (uint64_t)SKY_AUDIT_MAX_LINE + 2 ? (size_t)size
                                                             : 2 * SKY_AUDIT_MAX_LINE + 2;
    char *tail = malloc(want);
    if (!tail)
        return SKY_ENOMEM;
    sky_status st_ = SKY_OK;
    if (!pread_all(a->fd, tail, want, (off_t)(size - want))) {
        set_msg(errmsg, "audit sink: cannot read '%s': %s", a->path, strerror(errno));
        free(tail);
        return SKY_EIO;
    }
    bool whole = want == size;
    char *nl = memrchr(tail, '\n', want);
    const char *frag = nl ? nl + 1 : tail;
    size_t fraglen = (size_t)(tail + want - frag);
    if ((!nl && !whole) || fraglen > SKY_AUDIT_MAX_LINE) {
        set_msg(errmsg, "audit sink: '%s' is not an audit file (no line end in its last %zu bytes)",
                a->path, want);
        st_ = SKY_EINVAL;
        goto out;
    }
    if (nl) {
        char *prev_nl = nl > tail ? memrchr(tail, '\n', (size_t)(nl - tail)) : NULL;
        if (!prev_nl && !whole) {
            set_msg(errmsg, "audit sink: '%s': its last line is longer than %d bytes", a->path,
                    SKY_AUDIT_MAX_LINE);
            st_ = SKY_EINVAL;
            goto out;
        }
        const char *ls = prev_nl ? prev_nl + 1 : tail;
        sky__audit_line L;
        if (!sky__audit_check_line(ls, (size_t)(nl - ls), a->keylen ? a->key : NULL, a->keylen,
                                   &L)) {
            set_msg(errmsg, "audit sink: libcrypto failed while hashing");
            st_ = SKY_EUNSUPPORTED;
            goto out;
        }
        const char *why = !L.parsed    ? "is not an audit entry"
                          : !L.hash_ok ? "does not match its hash"
                          : a->keylen && !L.has_hmac ? "has no HMAC but a key is configured"
                          : a->keylen && !L.hmac_ok ? "fails the HMAC with the configured key"
                          : !a->keylen && L.has_hmac ? "carries an HMAC but no key is configured"
                                                     : NULL;
        if (why) {
            set_msg(errmsg,
                    "audit sink: the last complete line of '%s' %s; refusing to extend the chain "
                    "(check it with: skylog audit verify %s)",
                    a->path, why, a->path);
            st_ = SKY_EINVAL;
            goto out;
        }
        a->seq = L.seq;
        memcpy(a->last, L.hash, 32);
    }
    /* The marker: why the chain was reopened, and what of a torn tail it leaves behind. */
    char inner[512];
    int n;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    if (fraglen) {
        uint8_t th[32];
        char hex[65] = {0};
        sky__sha256(frag, fraglen, th);
        sky__hex_digits(th, 32, hex);
        n = snprintf(inner, sizeof inner,
                     "\"message\":\"chain_resumed\",\"reason\":\"torn_tail\",\"torn_bytes\":%zu,"
                     "\"torn_sha256\":\"%s\",\"pid\":%ld,\"ts_ms\":%" PRId64,
                     fraglen, hex, (long)getpid(), ms);
    } else {
        n = snprintf(inner, sizeof inner,
                     "\"message\":\"chain_resumed\",\"reason\":\"reopen\",\"pid\":%ld,"
                     "\"ts_ms\":%" PRId64,
                     (long)getpid(), ms);
    }
    /* Written with the first entry, not now: opening the file (`skylog config check` does)
     * must not change it. */
    memcpy(a->marker, inner, (size_t)n);
    a->marker_len = (size_t)n;
    a->marker_nl = fraglen > 0; /* the torn bytes stay, on a line of their own */
    if (fraglen)
        sky__diag(NULL, SKY_LEVEL_WARN,
                  "audit sink: '%s' ends with a torn line (%zu bytes); it is kept and will be "
                  "recorded, the chain continues from entry %" PRIu64,
                  a->path, fraglen, a->seq);
out:
    free(tail);
    return st_;
}

static sky_status audit_write(void *self, const sky_record *recs, size_t n)
{
    audit_sink *a = self;
    pthread_mutex_lock(&a->lock);
    sky_status st = SKY_OK;
    if (a->need_resume && (st = resume(a, NULL)) != SKY_OK) {
        a->need_resume = true;
        a->errors++;
        pthread_mutex_unlock(&a->lock);
        return st;
    }
    sky__buf_reset(&a->buf);
    uint64_t seq = a->seq;
    uint8_t last[32];
    memcpy(last, a->last, 32);
    bool with_marker = a->marker_len > 0;
    if (with_marker) {
        if (a->marker_nl)
            sky__buf_putc(&a->buf, '\n');
        put_entry(a, a->marker, a->marker_len, &seq, last);
    }
    /* with echo: each written entry's record, seq and hash, to log after the write */
    struct echo {
        size_t rec;
        uint64_t seq;
        char hash[13];
    } *echo = a->echo && n ? malloc(n * sizeof *echo) : NULL;
    size_t n_echo = 0;
    for (size_t i = 0; i < n; i++) {
        const char *t = recs[i].text;
        size_t l = recs[i].len;
        if (a->echo && recs[i].event && sky_event_get(recs[i].event, "audit_hash"))
            continue; /* an echo: logged normally, never a second entry */
        /* A JSON object on one line, as the encoder makes it; the chain adds 220 bytes at most. */
        if (!t || l < 3 || t[0] != '{' || t[l - 2] != '}' || t[l - 1] != '\n' ||
            memchr(t, '\n', l - 1) || l + 256 > SKY_AUDIT_MAX_LINE) {
            a->dropped++;
            continue;
        }
        put_entry(a, t + 1, l - 3, &seq, last);
        if (echo && recs[i].event) {
            char hex[64];
            sky__hex_digits(last, 32, hex);
            echo[n_echo] = (struct echo){.rec = i, .seq = seq};
            memcpy(echo[n_echo].hash, hex, 12);
            echo[n_echo++].hash[12] = '\0';
        }
    }
    if (a->buf.len && (!with_marker || seq > a->seq + 1)) { /* not a marker alone */
        st = commit(a);
        if (st == SKY_OK || !a->need_resume) { /* written (an fsync failure is still written) */
            a->seq = seq;
            memcpy(a->last, last, 32);
            a->marker_len = 0;
        }
    }
    if (a->buf.cap > (1u << 20))
        sky__buf_free(&a->buf);
    bool written = a->seq == seq;
    pthread_mutex_unlock(&a->lock);
    for (size_t k = 0; written && k < n_echo; k++) {
        sky_field extra[2] = {sky_field_uint("audit_seq", echo[k].seq),
                              sky_field_str("audit_hash", echo[k].hash)};
        if (sky__emit_derived_like(recs[echo[k].rec].event, extra, 2) != SKY_OK) {
            pthread_mutex_lock(&a->lock); /* the entry is written; its echo lost: an error */
            a->errors++;
            pthread_mutex_unlock(&a->lock);
        }
    }
    free(echo);
    return st;
}

static sky_status audit_flush(void *self, int64_t deadline)
{
    (void)deadline;
    audit_sink *a = self;
    pthread_mutex_lock(&a->lock);
    sky_status st = SKY_OK;
    if (a->fsync != SKY_AUDIT_FSYNC_NONE && !sync_now(a)) {
        a->errors++;
        st = SKY_EIO;
    }
    pthread_mutex_unlock(&a->lock);
    return st;
}

static void audit_free(audit_sink *a)
{
    if (a->fd >= 0)
        close(a->fd); /* also releases the flock */
    sky__wipe(a->key, sizeof a->key);
    sky__buf_free(&a->buf);
    pthread_mutex_destroy(&a->lock);
    free(a->path);
    free(a);
}

static void audit_close(void *self)
{
    audit_sink *a = self;
    if (a->fd >= 0 && a->fsync != SKY_AUDIT_FSYNC_NONE)
        fsync(a->fd);
    audit_free(a);
}

static void audit_stats(void *self, sky_sink_stats *out)
{
    audit_sink *a = self;
    pthread_mutex_lock(&a->lock);
    out->bytes = a->bytes;
    out->errors = a->errors;
    out->dropped += a->dropped;
    pthread_mutex_unlock(&a->lock);
}

static const sky_sink_vtable audit_vt = {
    .type = "audit",
    .write = audit_write,
    .flush = audit_flush,
    .close = audit_close,
    .stats = audit_stats,
};

static sky_status sink_audit_body(const sky_audit_opts *opts, sky_sink **out, char **errmsg)
{
    if (errmsg)
        *errmsg = NULL;
    if (!out)
        return SKY_EINVAL;
    *out = NULL;
    if (!opts || !opts->path || !*opts->path) {
        set_msg(errmsg, "audit sink: a path is required");
        return SKY_EINVAL;
    }
    if (SKY__CHECK_RESERVED(opts, sky_audit_opts, NULL, errmsg) != SKY_OK)
        return SKY_EINVAL;
    if ((unsigned)opts->fsync > SKY_AUDIT_FSYNC_NONE || opts->fsync_interval_ms < 0 ||
        (opts->key_file && opts->key_env)) {
        set_msg(errmsg, "audit sink: invalid option (fsync, fsync_interval_ms, or both key_file "
                        "and key_env)");
        return SKY_EINVAL;
    }
    char why[600];
    if (!sky__crypto_load(why, sizeof why)) {
        set_msg(errmsg, "audit sink: SHA-256 needs libcrypto: %s", why);
        return SKY_EUNSUPPORTED;
    }
    audit_sink *a = calloc(1, sizeof *a);
    if (!a)
        return SKY_ENOMEM;
    pthread_mutex_init(&a->lock, NULL);
    a->fd = -1;
    a->fsync = opts->fsync;
    a->echo = opts->echo;
    a->interval_ns = (opts->fsync_interval_ms ? opts->fsync_interval_ms : 1000) * 1000000;
    a->path = strdup(opts->path);
    sky_status st = SKY_OK;
    if (!a->path) {
        st = SKY_ENOMEM;
        goto fail;
    }
    if (opts->key_file &&
        !sky__audit_read_key_file(opts->key_file, a->key, &a->keylen, NULL, NULL, NULL, why,
                                  sizeof why)) {
        set_msg(errmsg, "audit sink: %s", why);
        st = SKY_EINVAL;
        goto fail;
    }
    if (opts->key_env) {
        const char *v = getenv(opts->key_env);
        size_t l = v ? strlen(v) : 0;
        if (l < 1 || l > SKY__AUDIT_MAX_KEY) {
            set_msg(errmsg, "audit sink: the variable %s must hold the key (1 to %d bytes)",
                    opts->key_env, SKY__AUDIT_MAX_KEY);
            st = SKY_EINVAL;
            goto fail;
        }
        memcpy(a->key, v, l);
        a->keylen = l;
    }
    a->fd = open(a->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC,
                 (mode_t)(opts->mode ? opts->mode : 0600));
    if (a->fd < 0) {
        set_msg(errmsg, "audit sink: cannot open '%s': %s", opts->path, strerror(errno));
        st = SKY_EIO;
        goto fail;
    }
    if (flock(a->fd, LOCK_EX | LOCK_NB) != 0) {
        set_msg(errmsg,
                errno == EWOULDBLOCK
                    ? "audit sink: '%s' is already open for writing (by this or another process); "
                      "an audit chain has exactly one writer"
                    : "audit sink: cannot lock '%s'",
                opts->path);
        st = SKY_EIO;
        goto fail;
    }
    a->last_sync_ns = sky_now_ns();
    if ((st = resume(a, errmsg)) != SKY_OK)
        goto fail;
    *out = sky_sink_new(&audit_vt, a, SKY_FORMAT_JSON);
    return *out ? SKY_OK : SKY_ENOMEM;
fail:
    audit_free(a);
    return st;
}

sky_status sky_sink_audit(const sky_audit_opts *opts, sky_sink **out, char **errmsg)
{
    char *mine = NULL;
    sky_status st = sink_audit_body(opts, out, errmsg ? errmsg : &mine);
    return sky__errmsg_route(NULL, st, mine);
}

/* ---- the verifier ---------------------------------------------------------------------------- */

const char *sky__audit_verdict_name(sky__audit_verdict v)
{
    static const char *const names[] = {"intact",    "changed",   "deleted",
                                        "inserted",  "reordered", "truncated",
                                        "malformed", "hmac",      "error"};
    return (unsigned)v < sizeof names / sizeof names[0] ? names[v] : "?";
}

typedef struct reader {
    FILE *in;
    char *blk, *line;
    size_t blen, bpos;
    bool eof, ioerr, stopped;
    uint64_t lineno;
    bool (*stop)(void *user);
    void *user;
} reader;

typedef struct slot {
    bool present, newline, too_long, good;
    uint64_t lineno;
    size_t len;
    sky__audit_line l;
    uint8_t raw_sha[32]; /* of the line's bytes, for a line that is not an entry */
} slot;

#define BLK (256 * 1024)

/* Reads the next line into r->line (at most SKY_AUDIT_MAX_LINE bytes kept; longer is flagged). */
static bool next_line(reader *r, slot *s, const uint8_t *key, size_t keylen, bool *crypto_ok)
{
    memset(s, 0, sizeof *s);
    size_t len = 0;
    bool took = false;
    for (;;) {
        if (r->bpos == r->blen) {
            if (r->eof)
                break;
            if (r->stop && r->stop(r->user)) {
                r->stopped = r->eof = true;
                break;
            }
            errno = 0;
            if (r->stop) { /* one read(2): what stop() saw readable, nothing held back */
                ssize_t got = read(fileno(r->in), r->blk, BLK);
                r->bpos = 0;
                r->blen = got > 0 ? (size_t)got : 0;
                if (got < 0 && errno == EINTR)
                    continue; /* a signal: stop() decides, at the top of the loop */
                if (got <= 0) {
                    r->ioerr = got < 0;
                    r->eof = true;
                    break;
                }
            } else {
                r->blen = fread(r->blk, 1, BLK, r->in);
                r->bpos = 0;
                if (ferror(r->in) && errno == EINTR) {
                    clearerr(r->in); /* a signal: asked again at the top of the loop */
                    if (r->blen == 0)
                        continue;
                }
                if (r->blen == 0) {
                    r->ioerr = ferror(r->in) != 0;
                    r->eof = true;
                    break;
                }
            }
        }
        const char *p = r->blk + r->bpos;
        size_t avail = r->blen - r->bpos;
        const char *nl = memchr(p, '\n', avail);
        size_t take = nl ? (size_t)(nl - p) : avail;
        took = true;
        if (!s->too_long && len + take > SKY_AUDIT_MAX_LINE)
            s->too_long = true;
        if (!s->too_long)
            memcpy(r->line + len, p, take);
        len = s->too_long ? len : len + take;
        r->bpos += take + (nl ? 1 : 0);
        if (nl) {
            s->newline = true;
            break;
        }
    }
    if (!took || (len == 0 && !s->newline && !s->too_long))
        return false;
    s->present = true;
    s->lineno = ++r->lineno;
    s->len = len;
    if (!s->too_long) {
        if (!sky__audit_check_line(r->line, len, key, keylen, &s->l))
            *crypto_ok = false;
        s->good = s->l.parsed && s->l.hash_ok && (!key || (s->l.has_hmac && s->l.hmac_ok));
        if (!s->l.parsed || !s->l.hash_ok)
            sky__sha256(r->line, len, s->raw_sha);
    }
    return true;
}

static sky__audit_verdict fail(sky__audit_report *o, sky__audit_verdict v, uint64_t line,
                               const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static sky__audit_verdict fail(sky__audit_report *o, sky__audit_verdict v, uint64_t line,
                               const char *fmt, ...)
{
    o->verdict = v;
    o->line = line;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->detail, sizeof o->detail, fmt, ap);
    va_end(ap);
    return v;
}

/* Which rule broke on line A (the next line B, if any, decides between the explanations). */
static sky__audit_verdict classify(sky__audit_report *o, const slot *A, const slot *B,
                                   uint64_t expected, const uint8_t last[32],
                                   const uint8_t before_last[32], bool keyed)
{
    bool b_continues = B->present && B->good && B->l.seq == expected &&
                       memcmp(B->l.prev, last, 32) == 0;
    if (!A->newline && !B->present)
        return fail(o, SKY__AUDIT_TRUNCATED, A->lineno,
                    "the file ends in the middle of this line (%zu bytes, no newline)", A->len);
    if (b_continues && A->good && A->l.seq > expected) /* a later entry moved up */
        return fail(o, SKY__AUDIT_REORDERED, A->lineno,
                    "out of order: seq %" PRIu64 " where %" PRIu64 " was expected (line %" PRIu64
                    " has it)",
                    A->l.seq, expected, B->lineno);
    if (b_continues)
        return fail(o, SKY__AUDIT_INSERTED, A->lineno,
                    "this line is not part of the chain: line %" PRIu64
                    " continues from the entry before it (seq %" PRIu64 ")",
                    B->lineno, expected);
    if (A->too_long)
        return fail(o, SKY__AUDIT_MALFORMED, A->lineno, "line longer than %d bytes",
                    SKY_AUDIT_MAX_LINE);
    if (!A->l.parsed)
        return fail(o, SKY__AUDIT_CHANGED, A->lineno,
                    "not a well-formed audit entry (expected seq %" PRIu64 ")", expected);
    if (!A->l.hash_ok)
        return fail(o, SKY__AUDIT_CHANGED, A->lineno,
                    "its content does not match its SHA-256 (seq %" PRIu64 ")", A->l.seq);
    if (keyed && !A->l.has_hmac)
        return fail(o, SKY__AUDIT_HMAC, A->lineno, "no HMAC, but a key was given (seq %" PRIu64 ")",
                    A->l.seq);
    if (keyed && !A->l.hmac_ok)
        return fail(o, SKY__AUDIT_HMAC, A->lineno,
                    "the HMAC does not match: a forged or re-hashed line, or the wrong key "
                    "(seq %" PRIu64 ")",
                    A->l.seq);
    if (A->l.seq == expected) {
        if (A->lineno == 1)
            return fail(o, SKY__AUDIT_CHANGED, 1,
                        "the first entry's prev-hash is not the chain's start (64 zeros)");
        return fail(o, SKY__AUDIT_CHANGED, A->lineno - 1,
                    "changed and re-hashed: line %" PRIu64
                    "'s prev-hash does not match this line's hash",
                    A->lineno);
    }
    if (A->l.seq > expected) {
        if (B->present && B->l.parsed && B->l.seq < A->l.seq)
            return fail(o, SKY__AUDIT_REORDERED, A->lineno,
                        "out of order: seq %" PRIu64 " where %" PRIu64
                        " was expected (line %" PRIu64 " has seq %" PRIu64 ")",
                        A->l.seq, expected, B->lineno, B->l.seq);
        return fail(o, SKY__AUDIT_DELETED, A->lineno,
                    "%" PRIu64 " entr%s missing before this line (seq %" PRIu64 "..%" PRIu64 ")",
                    A->l.seq - expected, A->l.seq - expected == 1 ? "y" : "ies", expected,
                    A->l.seq - 1);
    }
    if (A->l.seq + 1 == expected && A->lineno > 1 && memcmp(A->l.prev, before_last, 32) == 0)
        return fail(o, SKY__AUDIT_INSERTED, A->lineno - 1,
                    "this line is not part of the chain: line %" PRIu64
                    " (seq %" PRIu64 ") continues from the entry before it",
                    A->lineno, A->l.seq);
    return fail(o, A->l.seq + 1 == expected ? SKY__AUDIT_INSERTED : SKY__AUDIT_REORDERED,
                A->lineno,
                "seq %" PRIu64 " goes back (expected %" PRIu64 "): a copied, replayed or moved "
                "entry",
                A->l.seq, expected);
}

sky__audit_verdict sky__audit_verify(FILE *in, const uint8_t *key, size_t keylen,
                                     sky__audit_report *o)
{
    return sky__audit_verify_until(in, key, keylen, NULL, NULL, o);
}

sky__audit_verdict sky__audit_verify_until(FILE *in, const uint8_t *key, size_t keylen,
                                           bool (*stop)(void *user), void *user,
                                           sky__audit_report *o)
{
    memset(o, 0, sizeof *o);
    reader r = {.in = in, .stop = stop, .user = user};
    r.blk = malloc(BLK);
    r.line = malloc(SKY_AUDIT_MAX_LINE);
    if (!r.blk || !r.line) {
        free(r.blk);
        free(r.line);
        return fail(o, SKY__AUDIT_IOERROR, 0, "out of memory");
    }
    bool crypto_ok = true;
    slot s[2];
    slot *A = &s[0], *B = &s[1];
    uint64_t expected = 1;
    uint8_t last[32] = {0}, before_last[32] = {0};
    sky__audit_verdict v = SKY__AUDIT_INTACT;
    next_line(&r, A, key, keylen, &crypto_ok);
    while (A->present) {
        next_line(&r, B, key, keylen, &crypto_ok);
        if (!crypto_ok) {
            v = fail(o, SKY__AUDIT_IOERROR, 0, "libcrypto is missing or failed");
            break;
        }
        if (A->good && A->newline && A->l.seq == expected && memcmp(A->l.prev, last, 32) == 0) {
            expected++;
            memcpy(before_last, last, 32);
            memcpy(last, A->l.hash, 32);
            o->entries++;
            o->resumed += A->l.resumed;
            o->hmac_seen |= A->l.has_hmac;
        } else if (A->newline && (!A->l.parsed || !A->l.hash_ok) && !A->too_long && B->good &&
                   B->l.torn_marker && B->l.seq == expected &&
                   memcmp(B->l.prev, last, 32) == 0 &&
                   memcmp(B->l.torn_sha, A->raw_sha, 32) == 0) {
            o->torn++; /* a torn write, kept and recorded by the entry after it */
        } else {
            v = classify(o, A, B, expected, last, before_last, key != NULL);
            break;
        }
        slot *t = A;
        A = B;
        B = t;
    }
    if (r.stopped) { /* whatever was concluded came from part of the input */
        v = fail(o, SKY__AUDIT_IOERROR, r.lineno, "stopped before the end of the input");
        o->stopped = true;
    } else if (v == SKY__AUDIT_INTACT && r.ioerr) {
        v = fail(o, SKY__AUDIT_IOERROR, r.lineno, "read error");
    }
    o->verdict = v;
    o->last_seq = expected - 1;
    memcpy(o->last_hash, last, 32);
    free(r.blk);
    free(r.line);
    return v;
}
