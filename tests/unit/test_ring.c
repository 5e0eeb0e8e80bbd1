/* test_ring.c - the MPSC byte ring (src/queue/ring.c) on its own: full laps, filler at the
 * end of the buffer, the consumer holding a whole lap unreleased, reuse after release. */
#include "skytest.h"

#include "queue/ring.h"

#include <string.h>

static char *put(sky__ring *r, uint32_t size, unsigned char tag)
{
    uint64_t used;
    char *p = sky__ring_reserve(r, size, &used);
    if (p) {
        memset(p + 8, tag, size - 8);
        sky__ring_commit(p, size);
    }
    return p;
}

static void test_full_lap_held_by_consumer(void **state)
{
    (void)state;
    sky__ring r;
    assert_true(sky__ring_init(&r, 4096));
    assert_int_equal(r.cap, 4096);
    for (int lap = 0; lap < 5; lap++) {
        /* fill the ring exactly */
        for (int i = 0; i < 32; i++)
            assert_non_null(put(&r, 128, (unsigned char)(lap * 32 + i)));
        assert_null(put(&r, 16, 0xEE)); /* full */
        /* the consumer takes everything without releasing: no record may be seen twice */
        uint32_t size;
        char *p;
        int seen = 0;
        while ((p = sky__ring_peek(&r, &size))) {
            assert_int_equal(size, 128);
            assert_int_equal((unsigned char)p[8], (unsigned char)(lap * 32 + seen));
            sky__ring_advance(&r, size);
            seen++;
        }
        assert_int_equal(seen, 32);
        assert_true(sky__ring_drained(&r));
        assert_null(put(&r, 16, 0xEE)); /* still held */
        sky__ring_release(&r);
        assert_int_equal(sky__ring_used(&r), 0);
    }
    sky__ring_free(&r);
}

static void test_filler_and_sizes(void **state)
{
    (void)state;
    sky__ring r;
    assert_true(sky__ring_init(&r, 1)); /* rounded up to 4 KiB */
    assert_int_equal(sky__ring_max_record(&r), 2048);
    unsigned char tag = 0;
    unsigned char next = 0;
    uint64_t total = 0;
    /* records of varying sizes force filler at the end of the buffer, lap after lap */
    for (int round = 0; round < 2000; round++) {
        uint32_t size = 16u * (uint32_t)(1 + (round * 7) % 100); /* 16 .. 1600 */
        while (!put(&r, size, tag)) {
            uint32_t s;
            char *p = sky__ring_peek(&r, &s);
            assert_non_null(p);
            assert_int_equal((unsigned char)p[8], next);
            next++;
            sky__ring_advance(&r, s);
            sky__ring_release(&r);
        }
        tag++;
        total++;
    }
    uint32_t s;
    char *p;
    while ((p = sky__ring_peek(&r, &s))) {
        assert_int_equal((unsigned char)p[8], next);
        next++;
        sky__ring_advance(&r, s);
    }
    sky__ring_release(&r);
    assert_int_equal(next, (unsigned char)total);
    assert_true(sky__ring_drained(&r));
    sky__ring_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_lap_held_by_consumer),
        cmocka_unit_test(test_filler_and_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
