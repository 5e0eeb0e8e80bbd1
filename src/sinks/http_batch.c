/*
 * http_batch.c - the batching HTTP sender of the generic HTTP sink and the OTLP exporter, and
 * the generic sink's codec ({"logs":[...]}, a JSON array, ND-JSON).
 *
 * Shape (the CloudWatch sink's, without its AWS rules): write() runs on the pipeline's thread,
 * encodes each event (outside the lock) and appends it to one bounded FIFO; it never waits
 * for the network and never evicts what was accepted (a full queue refuses, counted). One
 * sender thread takes the longest prefix of the FIFO that fits batch_size/max_batch_bytes,
 * frames it, compresses it once, and sends it with no lock held. The prefix stays at the head
 * of the FIFO, with its body, until the endpoint has answered for it, so a retry resends the
 * very same bytes (and X-Skylog-Batch id) and an event is never sent again once accepted.
 * The writer only ever appends after the tail; the sender only reads the held prefix and pops
 * it, so the body can be built without the lock.
 *
 * Answers: 2xx delivered; 408/429/5xx and network failures kept and retried after backoff
 * (exponential, jittered, Retry-After honoured when longer); 401/403/407, an unknown host and
 * an untrusted certificate kept and retried slowly (60 s at most), said once, since waiting
 * alone does not fix them but an operator may; 413 halves the batch; another status rejects
 * the batch (counted). A request sent whole without an answer is `ambiguous`. A 2xx whose body
 * the codec reads (OTLP's partial success: codec.answer) may still say some events were not
 * kept: counted `partial_rejected` and said, never retried.
 *
 * It must never log through skylog (diagnostics: sky__diag), hold the lock across a network
 * call, or drop an accepted event without counting it.
 */
#include "core/errmsg.h"
#include "core/reserved.h"
#include "core/pipeline.h"
#include "sinks/http_batch.h"
#include "sinks/otlp.h"

#include "aws/transport.h"
#include "util/text.h"
#include "util/cond.h"
#include "util/thread.h"
#include "util/secmem.h"

#include <skylog/aws.h>
#include <skylog/trace.h>

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define MS 1000000LL
#define PERSISTENT_BACKOFF_NS (60000 * MS)
#define BASE_BACKOFF_NS (100 * MS)
#define MAX_EXTRA_HEADERS 16

typedef struct hb_item {
    struct hb_item *next;
    int64_t enq_ns; /* monotonic arrival, for flush_interval */
    uint32_t len;
    char data[];
} hb_item;

typedef struct hb {
    sky_http_batch_opts o;
    char *url;
    char *api_key, *api_key_header, *bearer, *ca_bundle;
    char *auth_line; /* "Bearer <token>" */
    char *xh_name[MAX_EXTRA_HEADERS], *xh_value[MAX_EXTRA_HEADERS];
    size_t n_xh;
    sky__hb_codec codec;
    sky_http_client *http;

    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    pthread_t thread;
    bool thread_started, closing, finished;
    int flush_waiters;
    int64_t close_deadline_ns;

    hb_item *head, *tail;
    size_t count;
    uint64_t bytes;

    /* the batch in flight or waiting for its retry (sender only, or under mu) */
    struct {
        bool valid, built, sending;
        size_t n;
        uint64_t bytes;
        char id[64];
    } held;
    size_t limit_n; /* after a 413: the next batches have at most this many events */
    int attempt;
    int64_t backoff_until_ns;
    bool persistent_said;
    uint64_t batch_seq;
    uint32_t rnd; /* jitter */

    sky_buf body;   /* sender only */
    void *gz;       /* sender only */
    size_t gz_len;
    sky_buf enc;    /* writer only */
    sky_http_sink_stats st;
} hb;

static const sky_sink_vtable hb_vt, hb_vt_otlp;

static const char *const drop_names[SKY_HTTP_DROP_COUNT_] = {"queue_full", "too_large", "rejected",
                                                             "undelivered", "encoding"};

const char *sky_http_drop_name(sky_http_drop d)
{
    return (unsigned)d < SKY_HTTP_DROP_COUNT_ ? drop_names[d] : "?";
}

void sky__http_batch_defaults(sky_http_batch_opts *o, size_t batch_size)
{
    if (!o->batch_size)
        o->batch_size = batch_size;
    if (!o->max_batch_bytes)
        o->max_batch_bytes = 1u << 20;
    if (!o->flush_interval_ms)
        o->flush_interval_ms = 5000;
    if (!o->max_queue_size)
        o->max_queue_size = 10000;
    if (!o->max_queue_bytes)
        o->max_queue_bytes = 16u << 20;
    if (!o->max_event_bytes)
        o->max_event_bytes = 256u << 10;
    if (o->max_event_bytes > o->max_batch_bytes)
        o->max_event_bytes = o->max_batch_bytes;
    if (!o->timeout_ms)
        o->timeout_ms = 10000;
    if (!o->max_backoff_ms)
        o->max_backoff_ms = 30000;
    if (!o->max_retry_after_ms)
        o->max_retry_after_ms = 300000;
    if (!o->close_timeout_ms)
        o->close_timeout_ms = 2000;
    if (!o->api_key_header)
        o->api_key_header = "X-API-Key";
}

/* ---- key=value lists ----------------------------------------------------------------------- */

/* Trims blanks off [s, s+n) and percent-decodes it into out (at most cap - 1 bytes). */
static size_t kv_text(const char *s, size_t n, char *out, size_t cap)
{
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < cap; i++) {
        uint8_t b;
        if (s[i] == '%' && i + 2 < n && sky__unhex(s + i + 1, 1, &b, false)) {
            out[k++] = (char)b;
            i += 2;
        } else {
            out[k++] = s[i];
        }
    }
    out[k] = '\0';
    return k;
}

bool sky__kv_next(const char *list, size_t *i, char *key, size_t kcap, size_t *kl, char *val,
                  size_t vcap, size_t *vl)
{
    if (!list)
        return false;
    size_t len = strnlen(list, 65536);
    while (*i < len) {
        size_t j = *i;
        while (j < len && list[j] != ',')
            j++;
        const char *m = list + *i, *eq = memchr(m, '=', j - *i);
        *i = j + 1;
        if (!eq)
            continue;
        *kl = kv_text(m, (size_t)(eq - m), key, kcap);
        *vl = kv_text(eq + 1, (size_t)(list + j - eq - 1), val, vcap);
        return true;
    }
    return false;
}

/* ---- queue (mu held) ------------------------------------------------------------------------ */

static void pop_n(hb *h, size_t n)
{
    for (size_t i = 0; i < n && h->head; i++) {
        hb_item *it = h->head;
        h->head = it->next;
        if (!h->head)
            h->tail = NULL;
        h->count--;
        h->bytes -= it->len;
        free(it);
    }
    h->held.valid = h->held.built = false;
}

static void set_error(hb *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(hb *h, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->st.last_error, sizeof h->st.last_error, fmt, ap);
    va_end(ap);
}

/* ---- sending -------------------------------------------------------------------------------- */

/* Chooses the batch at the head. mu held. */
static void select_batch(hb *h)
{
    size_t n = 0, max_n = h->o.batch_size;
    uint64_t bytes = 0;
    if (h->limit_n && h->limit_n < max_n)
        max_n = h->limit_n;
    size_t sep = strlen(h->codec.sep);
    for (hb_item *it = h->head; it && n < max_n; it = it->next) {
        if (n && bytes + sep + it->len > h->o.max_batch_bytes)
            break;
        bytes += (n ? sep : 0) + it->len;
        n++;
    }
    h->held.valid = true;
    h->held.built = false;
    h->held.n = n;
    h->held.bytes = bytes;
    uint8_t r[8];
    sky_span_id_new(r);
    char hex[17];
    sky_trace_hex(r, 8, hex);
    snprintf(h->held.id, sizeof h->held.id, "%s-%llu", hex,
             (unsigned long long)++h->batch_seq);
}

/* Frames the held batch into body (and gz). No lock: the writer never touches the prefix. */
static bool build_body(hb *h)
{
    sky__buf_reset(&h->body);
    if (h->codec.begin)
        h->codec.begin(h->codec.self, &h->body, (size_t)h->held.bytes);
    size_t sep = strlen(h->codec.sep);
    hb_item *it = h->head;
    for (size_t i = 0; i < h->held.n; i++, it = it->next) {
        if (i)
            sky__buf_put(&h->body, h->codec.sep, sep);
        sky__buf_put(&h->body, it->data, it->len);
    }
    sky__buf_puts(&h->body, h->codec.suffix);
    if (h->body.oom)
        return false;
    free(h->gz);
    h->gz = NULL;
    if (h->o.gzip && sky_aws_gzip(h->body.p, h->body.len, &h->gz, &h->gz_len) != SKY_OK)
        return false;
    return true;
}

/* The delay a Retry-After header asks for (ns; 0 without a usable one). */
static int64_t retry_after(const sky_http_response *r)
{
    const char *v = sky_http_response_header(r, "Retry-After");
    if (!v)
        return 0;
    while (*v == ' ')
        v++;
    if (isdigit((unsigned char)*v)) {
        char *end;
        errno = 0;
        unsigned long long s = strtoull(v, &end, 10);
        if (errno || (*end && *end != ' '))
            return 0;
        return s > 86400 ? 86400 * 1000 * MS : (int64_t)s * 1000 * MS;
    }
    int64_t at;
    if (sky_aws_parse_http_date(v, &at) != SKY_OK)
        return 0;
    int64_t d = at - sky_now_ns();
    return d > 0 ? d : 0;
}

static uint32_t xorshift(uint32_t *s)
{
    uint32_t x = *s ? *s : 2463534242u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

/* Schedules the next attempt of the held batch (a retry, counted). mu held. */
static void back_off(hb *h, int64_t floor_ns, int64_t cap_ns)
{
    h->st.retries++;
    int a = h->attempt < 20 ? h->attempt : 20;
    h->attempt++;
    int64_t d = BASE_BACKOFF_NS << a;
    if (d > cap_ns)
        d = cap_ns;
    /* equal jitter: half fixed, half random, so many clients do not retry in step */
    d = d / 2 + (int64_t)((double)(d / 2) * (xorshift(&h->rnd) / 4294967296.0));
    if (d < floor_ns)
        d = floor_ns;
    h->backoff_until_ns = sky_monotonic_ns() + d;
}

/* What a 2xx answer says was not kept (OTLP's partial success): counted as the endpoint's
 * refusal and said, never retried (the OTLP spec: the request was accepted). An answer the
 * codec cannot read is said too; its batch counts as delivered, as its status says. mu held. */
static uint64_t partial(hb *h, const sky_http_response *r, size_t n)
{
    sky__hb_answer a;
    if (h->codec.answer(h->codec.self, r->body, r->body_len, &a) < 0) {
        set_error(h, "HTTP %ld with an unreadable answer: %s", r->status, a.error);
        sky__diag(NULL, SKY_LEVEL_WARN, "%s sink: %s (the batch of %zu is taken as delivered)",
                  h->codec.type, h->st.last_error, n);
        return 0;
    }
    if (a.rejected > n) /* more than it was sent: it cannot have refused those */
        a.rejected = n;
    if (!a.rejected && !a.message[0])
        return 0;
    h->st.partial_rejected += a.rejected;
    set_error(h, "the endpoint kept the request but rejected %llu of its %zu events: %s",
              (unsigned long long)a.rejected, n, a.message[0] ? a.message : "(no reason given)");
    /* rejected 0 with a message is the spec's warning: said, nothing lost */
    sky__diag(NULL, a.rejected ? SKY_LEVEL_ERROR : SKY_LEVEL_WARN, "%s sink: %s", h->codec.type,
              h->st.last_error);
    return a.rejected;
}

/* Handles an attempt's outcome. mu held. */
static void answered(hb *h, sky_status rc, const sky_http_response *r, const char *err)
{
    size_t n = h->held.n;
    long s = rc == SKY_OK ? r->status : 0;
    h->st.last_status = s;
    if (rc == SKY_OK && s >= 200 && s < 300) {
        uint64_t rejected = h->codec.answer ? partial(h, r, n) : 0;
        h->st.sent_events += n - rejected;
        h->st.sent_bytes += h->held.bytes;
        h->st.requests++;
        h->st.last_success_ms = sky_now_ns() / MS;
        h->attempt = 0;
        h->backoff_until_ns = 0;
        if (h->persistent_said)
            sky__diag(NULL, SKY_LEVEL_INFO, "%s sink: delivering again", h->codec.type);
        h->persistent_said = false;
        h->limit_n = 0;
        pop_n(h, n);
        return;
    }
    if (rc != SKY_OK) {
        if (r->failure == SKY_HTTP_NO_ANSWER)
            h->st.ambiguous++;
        set_error(h, "%s", err && err[0] ? err : sky_strerror(rc));
        bool persistent = r->failure == SKY_HTTP_NOT_RESOLVED || r->failure == SKY_HTTP_CERT_FAILED;
        if (persistent && !h->persistent_said) {
            sky__diag(NULL, SKY_LEVEL_ERROR, "%s sink: %s (events are kept and retried)",
                      h->codec.type, h->st.last_error);
            h->persistent_said = true;
        }
        back_off(h, 0, persistent ? PERSISTENT_BACKOFF_NS : h->o.max_backoff_ms * MS);
        return;
    }
    set_error(h, "HTTP %ld from %s", s, h->codec.type);
    int64_t ra = retry_after(r);
    if (ra > h->o.max_retry_after_ms * MS)
        ra = h->o.max_retry_after_ms * MS;
    if (s == 408 || s == 429 || s >= 500) {
        if (s == 429 || (s == 503 && ra))
            h->st.throttles++;
        back_off(h, ra, h->o.max_backoff_ms * MS);
        return;
    }
    if (s == 401 || s == 403 || s == 407) {
        if (!h->persistent_said) {
            sky__diag(NULL, SKY_LEVEL_ERROR,
                      "%s sink: the endpoint refused our credentials (HTTP %ld); events are "
                      "kept and retried every minute at most",
                      h->codec.type, s);
            h->persistent_said = true;
        }
        back_off(h, ra, PERSISTENT_BACKOFF_NS);
        return;
    }
    if (s == 413 && n > 1) {
        h->limit_n = n / 2;
        h->st.splits++;
        h->held.valid = h->held.built = false;
        return;
    }
    h->st.dropped[SKY_HTTP_DROP_REJECTED] += n;
    sky__diag(NULL, SKY_LEVEL_ERROR, "%s sink: HTTP %ld: %zu events rejected", h->codec.type, s,
              n);
    pop_n(h, n);
}

/* Whether the head is due. mu held. *wait_ns: when to look again otherwise. */
static bool due(hb *h, int64_t now, int64_t *wait_ns)
{
    *wait_ns = INT64_MAX;
    if (!h->count)
        return false;
    if (now < h->backoff_until_ns) {
        *wait_ns = h->backoff_until_ns - now;
        return false;
    }
    int64_t at = h->head->enq_ns + h->o.flush_interval_ms * MS;
    if (h->held.valid || h->flush_waiters || h->closing || h->count >= h->o.batch_size ||
        h->bytes >= h->o.max_batch_bytes || now >= at || h->count >= h->o.max_queue_size ||
        h->bytes >= h->o.max_queue_bytes)
        return true;
    *wait_ns = at - now;
    return false;
}

static void *sender(void *arg)
{
    hb *h = arg;
    pthread_mutex_lock(&h->mu);
    for (;;) {
        int64_t now = sky_monotonic_ns(), wait_ns;
        if (h->closing && (!h->count || now >= h->close_deadline_ns))
            break;
        if (!due(h, now, &wait_ns)) {
            if (!h->count)
                pthread_cond_broadcast(&h->done);
            if (h->closing && wait_ns > h->close_deadline_ns - now)
                wait_ns = h->close_deadline_ns - now;
            if (wait_ns == INT64_MAX) {
                pthread_cond_wait(&h->wake, &h->mu);
            } else if (wait_ns > 0) {
                sky__cond_wait_ns(&h->wake, &h->mu, wait_ns);
            }
            continue;
        }
        if (!h->held.valid)
            select_batch(h);
        bool need_build = !h->held.built;
        int64_t timeout = h->o.timeout_ms;
        if (h->closing) {
            int64_t left = (h->close_deadline_ns - now) / MS;
            timeout = left < 1 ? 1 : left < timeout ? left : timeout;
        }
        h->held.sending = true;
        pthread_mutex_unlock(&h->mu);

        bool ok = !need_build || build_body(h);
        sky_http_response resp = {0};
        char err[256] = "";
        sky_status rc = SKY_ENOMEM;
        if (ok) {
            sky_aws_header hd[6 + MAX_EXTRA_HEADERS];
            size_t nh = 0;
            hd[nh++] = (sky_aws_header){"Content-Type", h->codec.content_type};
            hd[nh++] = (sky_aws_header){"X-Skylog-Batch", h->held.id};
            if (h->o.gzip)
                hd[nh++] = (sky_aws_header){"Content-Encoding", "gzip"};
            if (h->api_key)
                hd[nh++] = (sky_aws_header){h->api_key_header, h->api_key};
            if (h->auth_line)
                hd[nh++] = (sky_aws_header){"Authorization", h->auth_line};
            for (size_t x = 0; x < h->n_xh; x++)
                hd[nh++] = (sky_aws_header){h->xh_name[x], h->xh_value[x]};
            sky_http_request req = {.method = "POST", .url = h->url, .headers = hd,
                                    .n_headers = nh,
                                    .body = h->o.gzip ? h->gz : h->body.p,
                                    .body_len = h->o.gzip ? h->gz_len : h->body.len,
                                    .timeout_ms = timeout};
            rc = sky_http_perform(h->http, &req, &resp, err, sizeof err);
        }

        pthread_mutex_lock(&h->mu);
        h->held.sending = false;
        if (!ok) { /* out of memory building the body: these events cannot go */
            h->st.dropped[SKY_HTTP_DROP_ENCODING] += h->held.n;
            set_error(h, "out of memory building a request body");
            pop_n(h, h->held.n);
        } else {
            h->held.built = true;
            answered(h, rc, &resp, err);
        }
        sky_http_response_free(&resp);
        pthread_cond_broadcast(&h->done);
    }
    h->st.sender_alive = false;
    pthread_cond_broadcast(&h->done);
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

/* ---- sink vtable ---------------------------------------------------------------------------- */

static sky_status hb_write(void *self, const sky_record *recs, size_t n)
{
    hb *h = self;
    /* encode outside the lock; items chained privately, appended in one go */
    hb_item *first = NULL, *last = NULL;
    size_t k = 0, too_large = 0, enc_fail = 0, skipped = 0;
    uint64_t bytes = 0;
    int64_t now = sky_monotonic_ns();
    for (size_t i = 0; i < n; i++) {
        if (h->codec.accept && !h->codec.accept(h->codec.self, &recs[i])) {
            skipped++;
            continue;
        }
        sky__buf_reset(&h->enc);
        if (!h->codec.encode(h->codec.self, &recs[i], &h->enc) || h->enc.oom) {
            enc_fail++;
            continue;
        }
        size_t len = h->enc.len;
        while (len && (h->enc.p[len - 1] == '\n' || h->enc.p[len - 1] == '\r'))
            len--;
        if (len > h->o.max_event_bytes) {
            too_large++;
            continue;
        }
        hb_item *it = malloc(sizeof *it + len);
        if (!it) {
            enc_fail++;
            continue;
        }
        it->next = NULL;
        it->enq_ns = now;
        it->len = (uint32_t)len;
        memcpy(it->data, h->enc.p, len);
        if (last)
            last->next = it;
        else
            first = it;
        last = it;
        k++;
        bytes += len;
    }
    if (h->enc.cap > (1u << 20)) /* one huge event must not pin its buffer */
        sky__buf_free(&h->enc);

    pthread_mutex_lock(&h->mu);
    h->st.received += n;
    h->st.skipped += skipped;
    h->st.dropped[SKY_HTTP_DROP_TOO_LARGE] += too_large;
    h->st.dropped[SKY_HTTP_DROP_ENCODING] += enc_fail;
    bool was_empty = !h->count;
    size_t refused = 0;
    for (hb_item *it = first, *next; it; it = next) {
        next = it->next;
        if (h->closing || h->count >= h->o.max_queue_size ||
            h->bytes + it->len > h->o.max_queue_bytes) {
            refused++;
            free(it);
            continue;
        }
        it->next = NULL;
        if (h->tail)
            h->tail->next = it;
        else
            h->head = it;
        h->tail = it;
        h->count++;
        h->bytes += it->len;
    }
    h->st.dropped[SKY_HTTP_DROP_QUEUE_FULL] += refused;
    /* nothing appended (all skipped or refused): no reason to wake the sender */
    if (k > refused &&
        (was_empty || h->count >= h->o.batch_size || h->bytes >= h->o.max_batch_bytes))
        pthread_cond_signal(&h->wake);
    pthread_mutex_unlock(&h->mu);
    (void)bytes;
    return SKY_OK;
}

static sky_status hb_flush(void *self, int64_t deadline)
{
    hb *h = self;
    pthread_mutex_lock(&h->mu);
    h->flush_waiters++;
    pthread_cond_signal(&h->wake);
    while (h->count && h->st.sender_alive) {
        if (sky__cond_wait_until(&h->done, &h->mu, deadline) != 0 &&
            sky_monotonic_ns() >= deadline)
            break;
    }
    h->flush_waiters--;
    sky_status st = h->count ? SKY_ETIMEDOUT : SKY_OK;
    pthread_mutex_unlock(&h->mu);
    return st;
}

static void hb_free(hb *h)
{
    pthread_mutex_lock(&h->mu);
    pop_n(h, h->count);
    pthread_mutex_unlock(&h->mu);
    sky_http_client_free(h->http);
    if (h->codec.free)
        h->codec.free(h->codec.self);
    sky__buf_free(&h->body);
    sky__buf_free(&h->enc);
    free(h->gz);
    free(h->url);
    if (h->api_key)
        sky__wipe(h->api_key, strlen(h->api_key));
    if (h->auth_line)
        sky__wipe(h->auth_line, strlen(h->auth_line));
    free(h->api_key);
    free(h->api_key_header);
    free(h->auth_line);
    for (size_t x = 0; x < h->n_xh; x++) {
        sky__wipe(h->xh_value[x], strlen(h->xh_value[x]));
        free(h->xh_name[x]);
        free(h->xh_value[x]);
    }
    free(h->ca_bundle);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->wake);
    pthread_cond_destroy(&h->done);
    free(h);
}

/* Starts the last tries (close_timeout_ms from now) without waiting for them; once. */
static void close_begin(hb *h)
{
    pthread_mutex_lock(&h->mu);
    if (!h->closing) {
        h->closing = true;
        h->close_deadline_ns = sky_monotonic_ns() + h->o.close_timeout_ms * MS;
    }
    pthread_cond_signal(&h->wake);
    pthread_mutex_unlock(&h->mu);
}

void sky__http_batch_close_begin(sky_sink *s)
{
    if (s && (s->vt == &hb_vt || s->vt == &hb_vt_otlp))
        close_begin(s->self);
}

static void hb_close(void *self)
{
    hb *h = self;
    close_begin(h);
    if (h->thread_started)
        pthread_join(h->thread, NULL);
    pthread_mutex_lock(&h->mu);
    if (h->count) {
        h->st.dropped[SKY_HTTP_DROP_UNDELIVERED] += h->count;
        sky__diag(NULL, SKY_LEVEL_ERROR,
                  "%s sink: %zu events could not be delivered before close (%s)", h->codec.type,
                  h->count, h->st.last_error[0] ? h->st.last_error : "timeout");
    }
    pthread_mutex_unlock(&h->mu);
    hb_free(h);
}

static void hb_stats(void *self, sky_sink_stats *out)
{
    hb *h = self;
    pthread_mutex_lock(&h->mu);
    out->bytes = h->st.sent_bytes;
    for (int i = 0; i < SKY_HTTP_DROP_COUNT_; i++)
        out->dropped += h->st.dropped[i];
    out->dropped += h->st.partial_rejected;
    pthread_mutex_unlock(&h->mu);
}

/* One per codec type, so stats and diagnostics name the sink by its kind. */
static const sky_sink_vtable hb_vt = {
    .type = "http", .write = hb_write, .flush = hb_flush, .close = hb_close, .stats = hb_stats,
};
static const sky_sink_vtable hb_vt_otlp = {
    .type = "otlp", .write = hb_write, .flush = hb_flush, .close = hb_close, .stats = hb_stats,
};

sky_status sky_http_sink_stats_get(sky_sink *sink, sky_http_sink_stats *out)
{
    sky_sink *signal = sink ? sky__otlp_signal_sink(sink, 0) : NULL;
    if (signal) /* an otlp sink: the batch sender of its first signal */
        sink = signal;
    else if (sky__otlp_sink_is(sink) && out) /* one that exports nothing */
        return SKY_ENOTFOUND;
    if (!sink || !out || (sink->vt != &hb_vt && sink->vt != &hb_vt_otlp))
        return SKY_EINVAL;
    hb *h = sink->self;
    pthread_mutex_lock(&h->mu);
    *out = h->st;
    out->queued_events = h->count;
    out->queued_bytes = h->bytes;
    pthread_mutex_unlock(&h->mu);
    return SKY_OK;
}

/* ---- construction --------------------------------------------------------------------------- */

static sky_status fail(char **errmsg, sky_status st, const char *type, const char *msg)
{
    if (errmsg) {
        sky_buf b = {0};
        sky__buf_printf(&b, "%s: %s", type, msg);
        *errmsg = sky__buf_strdup(&b);
        sky__buf_free(&b);
    }
    return st;
}

static bool tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Parses opts.headers into h; a message for the first bad member, NULL when all are good. */
static const char *parse_headers(hb *h, const char *list)
{
    static const char *const ours[] = {"content-type", "content-length", "content-encoding",
                                       "host", "x-skylog-batch", "authorization"};
    char k[128], v[1024];
    size_t kl, vl, i = 0;
    while (sky__kv_next(list, &i, k, sizeof k, &kl, v, sizeof v, &vl)) {
        if (h->n_xh == MAX_EXTRA_HEADERS)
            return "headers: at most 16";
        if (!kl || kl >= sizeof k - 1)
            return "headers: a name must be 1-126 characters";
        for (size_t c = 0; c < kl; c++)
            if (!tchar((unsigned char)k[c]))
                return "headers: a name has a character HTTP does not allow";
        for (size_t c = 0; c < vl; c++)
            if ((unsigned char)v[c] < 0x20 || v[c] == 0x7f)
                return "headers: a value has a control character";
        for (size_t o = 0; o < sizeof ours / sizeof *ours; o++)
            if (!strcasecmp(k, ours[o]) && (o < 5 || h->auth_line))
                return "headers: that header is set by the sink";
        if (!(h->xh_name[h->n_xh] = strdup(k)) || !(h->xh_value[h->n_xh] = strdup(v))) {
            free(h->xh_name[h->n_xh]);
            return "out of memory";
        }
        h->n_xh++;
    }
    return NULL;
}

static bool http_url(const char *u)
{
    return u && (!strncmp(u, "http://", 7) || !strncmp(u, "https://", 8)) &&
           strlen(u) > (u[4] == 's' ? 8u : 7u) && !strpbrk(u, " \t\r\n");
}

sky_status sky__http_batch_new(const char *url, const sky_http_batch_opts *opts,
                               const sky__hb_codec *codec, sky_sink **out, char **errmsg)
{
    if (errmsg)
        *errmsg = NULL;
    if (out)
        *out = NULL;
    sky_http_batch_opts o = *opts;
    if (SKY__CHECK_RESERVED(&o, sky_http_batch_opts, NULL, errmsg) != SKY_OK) {
        if (codec->free)
            codec->free(codec->self);
        return SKY_EINVAL;
    }
    sky_status st = SKY_OK;
    const char *why = NULL;
    if (!out)
        st = SKY_EINVAL, why = "no output sink pointer";
    else if (!http_url(url))
        st = SKY_EINVAL, why = "url must be an http:// or https:// URL";
    else if (o.max_batch_bytes && o.max_batch_bytes < 64)
        st = SKY_EINVAL, why = "max_batch_bytes must be at least 64";
    else if (o.flush_interval_ms < 0 || o.timeout_ms < 0 || o.max_backoff_ms < 0 ||
             o.max_retry_after_ms < 0 || o.close_timeout_ms < 0)
        st = SKY_EINVAL, why = "durations must not be negative";
    else if ((o.api_key && strpbrk(o.api_key, "\r\n")) ||
             (o.bearer_token && strpbrk(o.bearer_token, "\r\n")) ||
             (o.api_key_header && (!o.api_key_header[0] || strpbrk(o.api_key_header, ": \r\n"))))
        st = SKY_EINVAL, why = "api_key, api_key_header and bearer_token must be one line each";
    if (st != SKY_OK) {
        if (codec->free)
            codec->free(codec->self);
        return fail(errmsg, st, codec->type, why);
    }
    sky__http_batch_defaults(&o, o.batch_size ? o.batch_size : 100);

    hb *h = calloc(1, sizeof *h);
    if (!h) {
        if (codec->free)
            codec->free(codec->self);
        return fail(errmsg, SKY_ENOMEM, codec->type, "out of memory");
    }
    h->codec = *codec;
    h->o = o;
    pthread_mutex_init(&h->mu, NULL);
    sky__cond_init_monotonic(&h->wake);
    sky__cond_init_monotonic(&h->done);
    h->url = strdup(url);
    h->api_key_header = strdup(o.api_key_header);
    h->api_key = o.api_key && o.api_key[0] ? strdup(o.api_key) : NULL;
    h->ca_bundle = o.ca_bundle ? strdup(o.ca_bundle) : NULL;
    if (o.bearer_token && o.bearer_token[0]) {
        sky_buf b = {0};
        sky__buf_printf(&b, "Bearer %s", o.bearer_token);
        h->auth_line = sky__buf_strdup(&b);
        sky__buf_wipe(&b);
    }
    const char *bad_header = parse_headers(h, o.headers);
    h->o.api_key = h->o.bearer_token = h->o.headers = NULL; /* the copies are what is used */
    h->o.api_key_header = h->api_key_header;
    h->o.ca_bundle = h->ca_bundle;
    h->rnd = (uint32_t)sky_monotonic_ns() | 1;
    if (!h->url || !h->api_key_header || (o.api_key && o.api_key[0] && !h->api_key) ||
        (o.ca_bundle && !h->ca_bundle) || (o.bearer_token && o.bearer_token[0] && !h->auth_line)) {
        hb_free(h);
        return fail(errmsg, SKY_ENOMEM, codec->type, "out of memory");
    }
    if (bad_header) {
        hb_free(h);
        return fail(errmsg, SKY_EINVAL, codec->type, bad_header);
    }
    sky_http_opts ho = {.connect_timeout_ms = o.timeout_ms < 3000 ? o.timeout_ms : 3000,
                        .timeout_ms = o.timeout_ms,
                        .ca_bundle = h->ca_bundle,
                        .insecure = o.insecure,
                        .max_response_bytes = 1u << 20,
                        .transport = (sky_http_transport)o.http_transport};
    char why2[512] = "";
    if (sky__http_mode(&ho, &(sky_http_transport){0}, why2, sizeof why2) != SKY_OK) {
        hb_free(h);
        return fail(errmsg, SKY_EINVAL, codec->type, why2);
    }
    st = sky_http_client_new(&ho, &h->http);
    if (st == SKY_OK)
        st = sky__http_client_prepare(h->http, h->url, why2, sizeof why2);
    if (st != SKY_OK) {
        if (st == SKY_EUNSUPPORTED && !why2[0])
            sky_http_init(why2, sizeof why2);
        hb_free(h);
        return fail(errmsg, st, codec->type, why2[0] ? why2 : "cannot create the HTTP client");
    }
    sky_sink *s = sky_sink_new(strncmp(codec->type, "otlp", 4) ? &hb_vt : &hb_vt_otlp, h, codec->format);
    if (!s)
        return fail(errmsg, SKY_ENOMEM, codec->type, "out of memory"); /* vt->close freed h */
    h->st.sender_alive = true;
    if (sky__thread_start(&h->thread, "skylog-http", sender, h) != 0) {
        h->st.sender_alive = false;
        sky_sink_close(s);
        return fail(errmsg, SKY_ENOMEM, codec->type, "cannot start the sender thread");
    }
    h->thread_started = true;
    *out = s;
    return SKY_OK;
}

/* ---- the generic codec ---------------------------------------------------------------------- */

static bool generic_encode(void *self, const sky_record *rec, sky_buf *out)
{
    (void)self;
    if (!rec->text)
        return false;
    sky__buf_put(out, rec->text, rec->len);
    return true;
}

static void logs_begin(void *self, sky_buf *b, size_t payload)
{
    (void)payload;
    (void)self;
    sky__buf_lit(b, "{\"logs\":[");
}

static void array_begin(void *self, sky_buf *b, size_t payload)
{
    (void)payload;
    (void)self;
    sky__buf_putc(b, '[');
}

static sky_status sink_http_body(const sky_http_sink_opts *opts, sky_sink **out, char **errmsg)
{
    static const sky_http_sink_opts none;
    if (!opts)
        opts = &none;
    if (errmsg)
        *errmsg = NULL;
    if (out)
        *out = NULL;
    if (SKY__CHECK_RESERVED(opts, sky_http_sink_opts, NULL, errmsg) != SKY_OK)
        return SKY_EINVAL;
    sky__hb_codec c = {.type = "http", .format = SKY_FORMAT_JSON, .encode = generic_encode};
    switch (opts->body) {
    case SKY_HTTP_BODY_LOGS:
        c.content_type = "application/json", c.begin = logs_begin, c.sep = ",", c.suffix = "]}";
        break;
    case SKY_HTTP_BODY_ARRAY:
        c.content_type = "application/json", c.begin = array_begin, c.sep = ",", c.suffix = "]";
        break;
    case SKY_HTTP_BODY_NDJSON:
        c.content_type = "application/x-ndjson", c.sep = "\n", c.suffix = "\n";
        break;
    default:
        if (errmsg)
            *errmsg = strdup("http: unknown body format");
        return SKY_EINVAL;
    }
    return sky__http_batch_new(opts->url, &opts->batch, &c, out, errmsg);
}

sky_status sky_sink_http(const sky_http_sink_opts *opts, sky_sink **out, char **errmsg)
{
    char *mine = NULL;
    sky_status st = sink_http_body(opts, out, errmsg ? errmsg : &mine);
    return sky__errmsg_route(NULL, st, mine);
}
