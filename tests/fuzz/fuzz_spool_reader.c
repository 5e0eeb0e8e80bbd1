/*
 * fuzz_spool_reader.c - the CloudWatch sink's spool reader (src/sinks/spool.c) on arbitrary
 * files: the very function sky__spool_open() runs on a spool left by an earlier process,
 * which may have been cut short, damaged, or replaced by anything. It must never read outside
 * the image, loop without bound, or hand out a record whose text lies outside it.
 *
 * Input: one flag byte, then the image (zero-padded to a header and the smallest data area).
 * Flag bit 0 writes a valid header (magic, version, sizes) over the input's, keeping its
 * acknowledged position, so that the fuzzer spends its time in the records. The scan runs
 * twice, repairing the first time: the second must find the same live records.
 */
#include "sinks/spool.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct seen {
    const uint8_t *lo, *hi;
    uint64_t n, bytes, last_pos;
} seen;

static void on_rec(void *user, const sky__spool_rec *r)
{
    seen *s = user;
    const uint8_t *m = (const uint8_t *)r->msg, *st = (const uint8_t *)r->stream;
    if (st < s->lo || st + r->stream_len > s->hi || m < s->lo || m + r->len > s->hi)
        abort();
    if (s->n && r->pos <= s->last_pos)
        abort(); /* records come in position order */
    uint8_t x = 0;
    for (size_t i = 0; i < r->stream_len; i++)
        x ^= st[i];
    for (size_t i = 0; i < r->len; i++)
        x ^= m[i];
    s->bytes += x;
    s->n++;
    s->last_pos = r->pos;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t cap = SKY__SPOOL_MIN_BYTES, img_size = SKY__SPOOL_HEADER + cap;
    uint8_t *img = calloc(1, img_size);
    if (!img)
        return 0;
    size_t n = size - 1 < img_size ? size - 1 : img_size;
    memcpy(img, data + 1, n);
    if (data[0] & 1) {
        uint32_t v = 1, hs = SKY__SPOOL_HEADER;
        uint64_t c = cap;
        memcpy(img, "SKYSPOOL", 8);
        memcpy(img + 8, &v, 4);
        memcpy(img + 12, &hs, 4);
        memcpy(img + 16, &c, 8);
    }
    /* the size the input claims (bit 1 set): a file shorter than its header says */
    size_t claimed = (data[0] & 2) && size > 1 ? img_size - (data[0] >> 2) * 8 : img_size;
    sky__spool_scan_result a, b;
    char err[160];
    seen s1 = {img, img + img_size, 0, 0, 0}, s2 = s1;
    sky_status st = sky__spool_scan(img, claimed, true, on_rec, &s1, &a, err, sizeof err);
    if (st == SKY_OK) {
        if (a.live != s1.n || a.end < a.head || a.end - a.head > cap)
            abort();
        if (sky__spool_scan(img, claimed, false, on_rec, &s2, &b, err, sizeof err) != SKY_OK ||
            b.live != a.live || s2.bytes != s1.bytes)
            abort();
    }
    free(img);
    return 0;
}
