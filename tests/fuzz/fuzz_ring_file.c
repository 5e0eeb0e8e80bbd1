/*
 * fuzz_ring_file.c - the async ring spool's reader (src/queue/ring_file.c, with the event
 * records' check and decoder of src/core/ringspool.c) on arbitrary files: the very code
 * sky_open() runs on a ring file left by an earlier process, which may have been cut short,
 * damaged, or replaced by anything. It must never read outside the image, loop without bound,
 * or accept a record whose decoded event (name, logger, call site, every key and string)
 * reaches outside the record.
 *
 * Input: one flag byte, then the image (zero-padded to the header and a 4 KiB ring). Flag bit
 * 0 writes a valid header (magic, version, sizes) over the input's, keeping its positions, so
 * that the fuzzer spends its time in the records; bit 2 seals (position and checksum) every
 * record whose commit word could be one, so that the records' own check (lengths, pointers,
 * types) is what is fuzzed rather than the CRC. Every record the check accepts is decoded
 * from a copy of exactly its size at another address (so its pointers are moved, and a read
 * past its end is a heap overflow ASan reports), and every byte the event names is read. The
 * scan runs twice, repairing the first time: the second must find the same records and no
 * torn range.
 */
#include "core/ringspool.h"
#include "queue/ring_file.h"
#include "util/crc32c.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CAP 4096u

typedef struct seen {
    uint64_t n;
    unsigned x;
} seen;

static unsigned touch(const char *p, size_t n)
{
    unsigned x = 0;
    for (size_t i = 0; i < n; i++)
        x += (unsigned char)p[i];
    return x;
}

static bool check_and_decode(void *user, const char *rec, uint32_t size)
{
    seen *s = user;
    if (!sky__prec_check(NULL, rec, size))
        return false;
    char *copy = malloc(size);
    if (!copy)
        return true;
    memcpy(copy, rec, size);
    sky_event ev;
    memset(&ev, 0, sizeof ev);
    sky_callsite cs;
    sky__prec_scratch sc = {0};
    sky__prec_decode(copy, &ev, &cs, &sc);
    unsigned x = touch(ev.name, ev.name_len + 1) + touch(ev.logger, ev.logger_len + 1);
    if (ev.cs) {
        if (ev.cs->file)
            x += touch(ev.cs->file, strlen(ev.cs->file));
        if (ev.cs->func)
            x += touch(ev.cs->func, strlen(ev.cs->func));
    }
    for (size_t i = 0; i < ev.n; i++) {
        const sky_field *f = &ev.fields[i];
        x += touch(f->key, f->key_len + 1);
        if (f->type == SKY_T_STR || f->type == SKY_T_JSON)
            x += touch(f->v.str.ptr, f->v.str.len + 1);
    }
    s->x += x;
    s->n++;
    sky__event_free(&ev);
    free(sc.f);
    free(copy);
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t img_size = SKY__RFILE_HEADER + CAP;
    uint8_t *img = calloc(1, img_size);
    if (!img)
        return 0;
    size_t n = size - 1 < img_size ? size - 1 : img_size;
    memcpy(img, data + 1, n);
    if (data[0] & 1) {
        sky__rfile_hdr *h = (sky__rfile_hdr *)img;
        memcpy(h->magic, "SKYRING", 8);
        h->version = SKY__RFILE_VERSION;
        h->header_size = SKY__RFILE_HEADER;
        h->cap = CAP;
    }
    if ((data[0] & 5) == 5) {
        sky__rfile_hdr *h = (sky__rfile_hdr *)img;
        uint8_t *ring = img + SKY__RFILE_HEADER;
        uint64_t pos = h->consumer & ~(uint64_t)15, lap = pos + CAP;
        while (pos < lap) {
            uint32_t c;
            memcpy(&c, ring + (pos & (CAP - 1)), 4);
            if (c && c % 16 == 0 && c >= sizeof(sky__rfile_rec) && c <= CAP / 2 &&
                (pos & (CAP - 1)) + c <= CAP) {
                sky__crc32c_init();
                sky__rfile_seal((char *)ring + (pos & (CAP - 1)), c, pos);
                pos += c;
            } else {
                pos += 16;
            }
        }
    }
    /* a file shorter than its header says (bit 1) */
    size_t claimed = (data[0] & 2) ? img_size - (size_t)(data[0] >> 2) * 16 : img_size;
    sky__rfile_found a, b;
    char err[160];
    seen s1 = {0, 0}, s2 = {0, 0};
    sky_status st = sky__rfile_scan(img, claimed, true, check_and_decode, &s1, &a, err, sizeof err);
    if (st == SKY_OK) {
        if (a.records != s1.n || a.end < a.consumer || a.end - a.consumer > CAP ||
            a.ambiguous > a.records)
            abort();
        if (sky__rfile_scan(img, claimed, false, check_and_decode, &s2, &b, err, sizeof err) !=
                SKY_OK ||
            b.records != a.records || b.end != a.end || b.torn != 0 || s2.x != s1.x)
            abort();
    }
    free(img);
    return 0;
}
