/* test_prefault.c - sky__prefault (src/util/prefault.h): the whole pages inside the range, and
 * only those, are resident after it (mincore()), the bytes unchanged; a range with no whole
 * page asks for nothing; a kernel that refuses the advice (made to by the test hook, which
 * passes the kernel an advice it does not know) gives false, leaves the pages to be faulted
 * as they are written, and is not asked again until the latch is forgotten. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/prefault.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGES 16

static size_t page(void) { return (size_t)sysconf(_SC_PAGESIZE); }

static unsigned char *fresh(void)
{
    void *p = mmap(NULL, PAGES * page(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    assert_true(p != MAP_FAILED);
    return p;
}

/* which of the PAGES pages at p are resident, as a bit set */
static unsigned resident(unsigned char *p)
{
    unsigned char v[PAGES];
    assert_int_equal(mincore(p, PAGES * page(), v), 0);
    unsigned bits = 0;
    for (int i = 0; i < PAGES; i++)
        if (v[i] & 1)
            bits |= 1u << i;
    return bits;
}

static bool all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static void test_whole_pages_inside_only(void **state)
{
    (void)state;
    size_t ps = page();
    unsigned char *p = fresh();
    assert_int_equal(resident(p), 0);
    /* from the middle of page 1 to the middle of page 12: pages 2..11 are whole */
    if (!sky__prefault(p + ps + ps / 2, 11 * ps)) {
        munmap(p, PAGES * ps);
        skip(); /* a kernel before 5.14: the fallback is tested below */
    }
    unsigned want = 0;
    for (int i = 2; i <= 11; i++)
        want |= 1u << i;
    assert_int_equal(resident(p), want);
    assert_true(all_zero(p + 2 * ps, 10 * ps)); /* (reading others would map the zero page) */
    /* exactly whole pages: all of them */
    assert_true(sky__prefault(p + 12 * ps, 2 * ps));
    assert_int_equal(resident(p), want | 1u << 12 | 1u << 13);
    /* less than a page, or a range inside one page: nothing asked, nothing resident */
    assert_false(sky__prefault(p + 14 * ps + 1, ps - 2));
    assert_false(sky__prefault(p + 14 * ps + 10, ps));
    assert_false(sky__prefault(NULL, ps));
    assert_false(sky__prefault(p, 0));
    assert_int_equal(resident(p) >> 14, 0);
    /* memory already written is left as it is */
    memset(p + 2 * ps, 0xab, ps);
    assert_true(sky__prefault(p, 4 * ps));
    assert_int_equal(p[2 * ps], 0xab);
    assert_int_equal(p[3 * ps - 1], 0xab);
    munmap(p, PAGES * ps);
}

static void test_refused_falls_back_and_latches(void **state)
{
    (void)state;
    size_t ps = page();
    unsigned char *p = fresh();
    sky__prefault_test_refuse(true);
    assert_false(sky__prefault(p, 4 * ps));
    assert_int_equal(resident(p), 0); /* nothing populated ... */
    memset(p, 0x5a, 4 * ps);          /* ... and the memory is written as usual */
    assert_int_equal(resident(p) & 0xf, 0xf);
    assert_int_equal(p[4 * ps - 1], 0x5a);
    /* the refusal is remembered: the kernel is not asked again (it would accept now) */
    sky__prefault_test_refuse(false);
    bool supported;
    {
        unsigned char *q = fresh();
        assert_false(sky__prefault(q + 8 * ps, 4 * ps));
        assert_int_equal(resident(q), 0);
        sky__prefault_test_forget();
        supported = sky__prefault(q + 8 * ps, 4 * ps);
        if (supported)
            assert_int_equal(resident(q), 0xfu << 8);
        munmap(q, PAGES * ps);
    }
    munmap(p, PAGES * ps);
    if (!supported)
        skip(); /* the kernel itself refuses: the fallback above is all there is */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_pages_inside_only),
        cmocka_unit_test(test_refused_falls_back_and_latches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
