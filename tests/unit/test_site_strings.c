/*
 * test_site_strings.c - what the inlined call site does with a call's values (skylog.h:
 * sky__strlen, sky__copy_str16, sky__log_site's schema signature). SKY_STR's length is measured
 * with 16-byte loads that may read past the string's NUL but never into another page, and
 * short strings are copied into the ring 16 bytes at once; strings that end at the last byte
 * of a page followed by an unmapped one must be measured and copied without a fault, whatever
 * their length and alignment. Calls whose types or key lengths are not what the site learned,
 * NULL strings and sites of more fields than the one-compare signature covers take the
 * general path and log what was passed. (Under ASan and TSan the header uses strlen() and
 * memcpy() instead; the clang stage of `make test` runs the vector code.)
 *
 * On x86-64 a SKY_STR string longer than its first block is measured, and a string of over 32
 * bytes copied, by the library's routines (src/util/strtail.c, SSE2 or AVX2, chosen at load):
 * the measuring and copying tests run once with each (sky__strtail_select), and each routine
 * is checked to leave every register the header does not name as clobbered as it found it.
 */
#include "skytest.h"
#include "util/strtail.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Two pages, the second unmapped for access: any read past the first one faults. */
static char *guarded_page(size_t *page)
{
    *page = (size_t)sysconf(_SC_PAGESIZE);
    char *p = mmap(NULL, 2 * *page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(p != MAP_FAILED);
    assert_int_equal(mprotect(p + *page, *page, PROT_NONE), 0);
    return p;
}

/* The string of length n ending at the page's last byte (its NUL), of letters from seed. */
static const char *at_page_end(char *page, size_t size, size_t n, int seed)
{
    char *s = page + size - n - 1;
    for (size_t i = 0; i < n; i++)
        s[i] = (char)('a' + (seed + (int)i) % 26);
    s[n] = '\0';
    return s;
}

static void test_strlen_never_leaves_the_page(void **state)
{
    (void)state;
    size_t size;
    char *page = guarded_page(&size);
    memset(page, 'x', size);
    for (size_t n = 0; n <= 100; n++) /* ending at the page's end: every alignment of the end */
        assert_int_equal(sky__strlen(at_page_end(page, size, n, (int)n)), n);
    /* starting at every offset of a block, with the NUL in the same, the next or a later one */
    for (size_t off = 0; off < 48; off++)
        for (size_t n = 0; n <= 70; n++) {
            char *s = page + 64 + off;
            memset(page + 64, 'y', 200);
            s[n] = '\0';
            assert_int_equal(sky__strlen(s), n);
        }
    munmap(page, 2 * size);
}

/* Starting at each of a page's last 260 bytes, every length that ends in the page, letters
 * after the NUL up to the page's end: where the routine reads unaligned windows (the 208
 * bytes from s in the page) and where it must not. */
static void test_strlen_near_a_page_end(void **state)
{
    (void)state;
    size_t size;
    char *page = guarded_page(&size);
    for (size_t start = size - 260; start < size; start++)
        for (size_t n = 0; start + n < size; n++) {
            memset(page + start, 'w', size - start);
            page[start + n] = '\0';
            assert_int_equal(sky__strlen(page + start), n);
        }
    munmap(page, 2 * size);
}

static void test_short_copy_never_leaves_the_page(void **state)
{
    (void)state;
    size_t size;
    char *page = guarded_page(&size);
    for (size_t n = 0; n <= 40; n++) {
        char dst[64];
        memset(dst, 0, sizeof dst);
        /* NUL-terminated at the page's end, and n bytes ending exactly there (SKY_STRN) */
        const char *s = at_page_end(page, size, n, 3);
        sky__copy_str16(dst, s, n);
        assert_memory_equal(dst, s, n);
        const char *t = page + size - n;
        sky__copy_str16(dst, t, n);
        assert_memory_equal(dst, t, n);
    }
    munmap(page, 2 * size);
}

/* Every length 0..300 at every offset 0..63 from a 64-byte boundary (the measuring goes by a
 * block, a pair, then aligned groups of four blocks, so this reaches every entry and exit):
 * zero bytes just before the string (a block holding them must not count them), letters past
 * its NUL; then the same lengths ending at the page's last byte. Each string is also copied by
 * sky__copy_str (which writes exactly n bytes) and sky__copy_str16 (n bytes, or 16 for a string
 * of 1..15 bytes whose first 16 lie in one page), and the copies checked with what is around
 * them. */
#define LONGEST 300
static void check_copies(const char *s, size_t n)
{
    char dst[LONGEST + 64];
    memset(dst, '#', sizeof dst);
    sky__copy_str(dst + 16, s, n);
    assert_memory_equal(dst + 16, s, n);
    for (size_t i = 0; i < sizeof dst; i++)
        if (i < 16 || i >= 16 + n)
            assert_int_equal(dst[i], '#');
    memset(dst, '#', sizeof dst);
    sky__copy_str16(dst + 16, s, n);
    assert_memory_equal(dst + 16, s, n);
    size_t end = 16 + (n > 16 ? n : 16);
    for (size_t i = 0; i < sizeof dst; i++)
        if (i < 16 || i >= end)
            assert_int_equal(dst[i], '#');
}

static void test_every_length_and_alignment(void **state)
{
    (void)state;
    size_t size;
    char *page = guarded_page(&size);
    char *base = page + 128; /* 64-byte aligned: the page is */
    for (size_t off = 0; off < 64; off++)
        for (size_t n = 0; n <= LONGEST; n++) {
            memset(page, 0, 128 + off);
            char *s = base + off;
            for (size_t i = 0; i < n; i++)
                s[i] = (char)(1 + (i * 7 + off) % 255); /* every non-zero byte, >= 0x80 too */
            s[n] = '\0';
            memset(s + n + 1, 'z', LONGEST + 64);
            assert_int_equal(sky__strlen(s), n);
            check_copies(s, n);
        }
    memset(page, 0, size);
    for (size_t n = 0; n <= LONGEST; n++) {
        const char *s = at_page_end(page, size, n, (int)n);
        assert_int_equal(sky__strlen(s), n);
        check_copies(s, n);
        check_copies(page + size - n, n); /* n bytes ending at the page's end, no NUL */
        memset(page + size - n - 1, 0, n + 1);
    }
    munmap(page, 2 * size);
}

static sky_t *open_json(skytest_capture *cap)
{
    sky_t *sky = NULL;
    assert_int_equal(sky_open(&(sky_options){.mode = SKY_MODE_ASYNC}, &sky), SKY_OK);
    assert_int_equal(sky_add_sink(sky, skytest_capture_sink(cap, SKY_FORMAT_JSON), NULL), SKY_OK);
    return sky;
}

/* Through the macros: every string ends at a page's end, as SKY_STR and as SKY_STRN of a
 * prefix; the logged text is the string, byte for byte. */
static void test_logged_strings_at_page_ends(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_json(&cap);
    sky_logger *log = sky_logger_get(sky, "app");
    size_t size;
    char *page = guarded_page(&size);
    const size_t max = 48;
    for (int rep = 0; rep < 2; rep++) /* the first call of each site learns its schema */
        for (size_t n = 0; n <= max; n++) {
            const char *s = at_page_end(page, size, n, (int)n);
            sky_info(log, "edge", SKY_STR("s", s), SKY_STRN("p", page + size - 1 - n / 2, n / 2),
                     SKY_INT("n", n));
            assert_int_equal(sky_flush(sky, 5000), SKY_OK); /* before the page is rewritten */
        }
    assert_int_equal(cap.n, 2 * (max + 1));
    for (size_t i = 0; i < cap.n; i++) {
        size_t n = i % (max + 1);
        char s[64], want[200];
        for (size_t k = 0; k < n; k++)
            s[k] = (char)('a' + (int)(n + k) % 26);
        s[n] = '\0';
        snprintf(want, sizeof want, ",\"s\":\"%s\",\"p\":\"%s\",\"n\":%zu}\n", s, s + n - n / 2,
                 n);
        const char *p = strstr(cap.lines[i], ",\"s\":");
        assert_non_null(p);
        assert_string_equal(p, want);
    }
    assert_int_equal(sky_close(sky), SKY_OK);
    munmap(page, 2 * size);
    skytest_capture_reset(&cap);
}

static void log_varying(sky_logger *log, int i, const char *maybe)
{
    /* a type and a key length that are not constants at this site */
    sky_field odd = {.key = "abc", .key_len = i % 3 == 2 ? 2 : 3, .type = SKY_T_INT,
                     .v = {.i = i}};
    sky_info(log, "vary", SKY_STR("s", maybe),
             i % 4 == 1 ? SKY_UINT("v", (uint64_t)-1) : SKY_INT("v", -1), odd);
}

/* NULL strings, types chosen at run time and a key length that is not its key's strlen() take
 * the general path at a site that learned other values, and log what was passed. */
static void test_calls_unlike_the_schema(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_json(&cap);
    sky_logger *log = sky_logger_get(sky, "app");
    for (int i = 0; i < 12; i++)
        log_varying(log, i, i % 5 == 3 ? NULL : "x");
    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    assert_int_equal(cap.n, 12);
    for (int i = 0; i < 12; i++) {
        char want[200];
        snprintf(want, sizeof want, ",\"s\":%s,\"v\":%s,\"%s\":%d}\n",
                 i % 5 == 3 ? "null" : "\"x\"", i % 4 == 1 ? "18446744073709551615" : "-1",
                 i % 3 == 2 ? "ab" : "abc", i);
        const char *p = strstr(cap.lines[i], ",\"s\":");
        assert_non_null(p);
        assert_string_equal(p, want);
    }
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&cap);
}

/* Sites of 14 fields (the signature's limit), 15 and 16 (n and types tested one by one). */
static void test_wide_sites(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_json(&cap);
    sky_logger *log = sky_logger_get(sky, "app");
    for (int i = 0; i < 3; i++) {
        sky_info(log, "w14", SKY_INT("a", i), SKY_INT("b", 1), SKY_INT("c", 2), SKY_INT("d", 3),
                 SKY_INT("e", 4), SKY_INT("f", 5), SKY_INT("g", 6), SKY_INT("h", 7),
                 SKY_INT("i", 8), SKY_INT("j", 9), SKY_INT("k", 10), SKY_INT("l", 11),
                 SKY_INT("m", 12), SKY_STR("n", "last"));
        sky_info(log, "w15", SKY_INT("a", i), SKY_INT("b", 1), SKY_INT("c", 2), SKY_INT("d", 3),
                 SKY_INT("e", 4), SKY_INT("f", 5), SKY_INT("g", 6), SKY_INT("h", 7),
                 SKY_INT("i", 8), SKY_INT("j", 9), SKY_INT("k", 10), SKY_INT("l", 11),
                 SKY_INT("m", 12), SKY_INT("n", 13), SKY_STR("o", "last"));
        sky_info(log, "w16", SKY_INT("a", i), SKY_INT("b", 1), SKY_INT("c", 2), SKY_INT("d", 3),
                 SKY_INT("e", 4), SKY_INT("f", 5), SKY_INT("g", 6), SKY_INT("h", 7),
                 SKY_INT("i", 8), SKY_INT("j", 9), SKY_INT("k", 10), SKY_INT("l", 11),
                 SKY_INT("m", 12), SKY_INT("n", 13), SKY_INT("o", 14),
                 i == 2 ? SKY_UINT("p", 15) : SKY_INT("p", 15));
    }
    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    assert_int_equal(cap.n, 9);
    for (int i = 0; i < 3; i++) {
        char want[64];
        snprintf(want, sizeof want, "\"a\":%d,\"b\":1,", i);
        for (int k = 0; k < 3; k++)
            assert_non_null(strstr(cap.lines[3 * i + k], want));
        assert_non_null(strstr(cap.lines[3 * i], ",\"m\":12,\"n\":\"last\"}\n"));
        assert_non_null(strstr(cap.lines[3 * i + 1], ",\"n\":13,\"o\":\"last\"}\n"));
        assert_non_null(strstr(cap.lines[3 * i + 2], ",\"o\":14,\"p\":15}\n"));
    }
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&cap);
}

#ifdef SKY__TAILS
typedef long long v2 __attribute__((vector_size(16)));
#define XR(k) register v2 x##k __asm__("xmm" #k) = {k + 1, -(k + 1)}
#define XOK(k) (x##k[0] == k + 1 && x##k[1] == -(k + 1))
#define GR(r, v) register uint64_t r __asm__(#r) = (uint64_t)(v)

/* The string routine leaves every register but rdx (s in, its result out) and those the
 * header names (rcx, r11, xmm13-15) as it found them: were it to write another, a call site
 * would find a value changed under it. The entry point of programs built with earlier
 * headers (sky__strlen_tail: s and the result in rax; rcx, rdx and r11 clobbered) too. (asm
 * takes 30 operands at most: general registers, then vector ones.) */
#define STRLEN_JUMP(entry, io, clob, ...)                                                             \
    SKY__OVERREAD_BEGIN /* the operand says "some bytes from s" by a huge array, as skylog.h */   \
    __asm__ volatile(SKY__TAIL_JUMP                                                               \
                     : io, __VA_ARGS__                                                            \
                     : [fn] "m"(entry), "m"(*(const sky__bytes *)(const void *)s)                    \
                     : clob, "rcx", "r11", "cc", "xmm13", "xmm14", "xmm15");                      \
    SKY__OVERREAD_END
/* The general registers in two groups (with all in one asm, clang has none left for s). */
#define STRLEN_NEW(...)                                                                            \
    {                                                                                              \
        GR(rdx, (uintptr_t)s);                                                                     \
        STRLEN_JUMP(sky__strlen_rdx, "+r"(rdx), "cc", __VA_ARGS__);                               \
        len = rdx; /* before any call, which may change rdx */                                     \
    }
#define STRLEN_OLD(...)                                                                            \
    {                                                                                              \
        uintptr_t r = (uintptr_t)s;                                                                \
        STRLEN_JUMP(sky__strlen_tail, "+a"(r), "rdx", __VA_ARGS__);                               \
        len = r;                                                                                   \
    }
static void check_strlen_keeps_registers(const char *s, size_t n)
{
    uint64_t len;
    for (int old = 0; old <= 1; old++) {
        {
            GR(rbx, 0x1b); GR(rsi, 0x2b); GR(rdi, 0x3b); GR(r8, 0x4b); GR(r9, 0x5b);
            if (old)
                STRLEN_OLD("+r"(rbx), "+r"(rsi), "+r"(rdi), "+r"(r8), "+r"(r9))
            else
                STRLEN_NEW("+r"(rbx), "+r"(rsi), "+r"(rdi), "+r"(r8), "+r"(r9))
            bool kept = rbx == 0x1b && rsi == 0x2b && rdi == 0x3b && r8 == 0x4b && r9 == 0x5b;
            assert_true(kept);
            assert_int_equal(len, n);
        }
        {
            GR(r10, 0x6b); GR(r12, 0x7b); GR(r13, 0x8b); GR(r14, 0x9b); GR(r15, 0xab);
            if (old) {
                STRLEN_OLD("+r"(r10), "+r"(r12), "+r"(r13), "+r"(r14), "+r"(r15))
            } else {
                GR(rax, 0x0b);
                STRLEN_NEW("+r"(rax), "+r"(r10), "+r"(r12), "+r"(r13), "+r"(r14), "+r"(r15))
                assert_true(rax == 0x0b);
            }
            bool kept = r10 == 0x6b && r12 == 0x7b && r13 == 0x8b && r14 == 0x9b && r15 == 0xab;
            assert_true(kept);
            assert_int_equal(len, n);
        }
        {
            XR(0); XR(1); XR(2); XR(3); XR(4); XR(5); XR(6); XR(7); XR(8); XR(9); XR(10);
            XR(11); XR(12);
            if (old)
                STRLEN_OLD("+x"(x0), "+x"(x1), "+x"(x2), "+x"(x3), "+x"(x4), "+x"(x5), "+x"(x6),
                           "+x"(x7), "+x"(x8), "+x"(x9), "+x"(x10), "+x"(x11), "+x"(x12))
            else
                STRLEN_NEW("+x"(x0), "+x"(x1), "+x"(x2), "+x"(x3), "+x"(x4), "+x"(x5), "+x"(x6),
                           "+x"(x7), "+x"(x8), "+x"(x9), "+x"(x10), "+x"(x11), "+x"(x12))
            bool kept = XOK(0) && XOK(1) && XOK(2) && XOK(3) && XOK(4) && XOK(5) && XOK(6) &&
                        XOK(7) && XOK(8) && XOK(9) && XOK(10) && XOK(11) && XOK(12);
            assert_true(kept);
            assert_int_equal(len, n);
        }
    }
}

/* The copy routine: the same for every register but r11 and xmm14-15; its arguments (r8,
 * r9, r10) kept too. (Each check reads the registers right after the jump: a call would be
 * free to change them.) */
#define COPY_JUMP(...)                                                                             \
    __asm__ volatile(SKY__TAIL_JUMP                                                               \
                     : "+r"(r8), "+r"(r9), "+r"(r10), __VA_ARGS__                                 \
                     : [fn] "m"(sky__copy_tail)                                                   \
                     : "r11", "cc", "memory", "xmm14", "xmm15")
#define COPY_ARGS                                                                                  \
    register char *r8 __asm__("r8") = d;                                                           \
    register const char *r9 __asm__("r9") = s;                                                     \
    register size_t r10 __asm__("r10") = n
static void check_copy_keeps_registers(char *d, const char *s, size_t n)
{
    {
        COPY_ARGS;
        GR(rax, 0x0c); GR(rbx, 0x1c); GR(rcx, 0x5c); GR(rsi, 0x2c); GR(rdi, 0x3c);
        GR(rdx, 0x4c); GR(r12, 0x7c); GR(r13, 0x8c); GR(r14, 0x9c); GR(r15, 0xac);
        COPY_JUMP("+r"(rax), "+r"(rbx), "+r"(rcx), "+r"(rsi), "+r"(rdi), "+r"(rdx), "+r"(r12),
                  "+r"(r13), "+r"(r14), "+r"(r15));
        bool kept = rax == 0x0c && rbx == 0x1c && rcx == 0x5c && rsi == 0x2c && rdi == 0x3c &&
                    rdx == 0x4c && r12 == 0x7c && r13 == 0x8c && r14 == 0x9c && r15 == 0xac &&
                    r8 == d && r9 == s && r10 == n;
        assert_true(kept);
    }
    {
        COPY_ARGS;
        XR(0); XR(1); XR(2); XR(3); XR(4); XR(5); XR(6);
        COPY_JUMP("+x"(x0), "+x"(x1), "+x"(x2), "+x"(x3), "+x"(x4), "+x"(x5), "+x"(x6));
        bool kept = XOK(0) && XOK(1) && XOK(2) && XOK(3) && XOK(4) && XOK(5) && XOK(6);
        assert_true(kept);
    }
    {
        COPY_ARGS;
        XR(7); XR(8); XR(9); XR(10); XR(11); XR(12); XR(13);
        COPY_JUMP("+x"(x7), "+x"(x8), "+x"(x9), "+x"(x10), "+x"(x11), "+x"(x12), "+x"(x13));
        bool kept = XOK(7) && XOK(8) && XOK(9) && XOK(10) && XOK(11) && XOK(12) && XOK(13);
        assert_true(kept);
    }
    assert_memory_equal(d, s, n);
}

/* Lengths through every window, exit and loop of the routines (up to 400 bytes), from a
 * buffer and ending at a page's end (the string routine's path near a page's end). */
static void test_tails_keep_registers(void)
{
    char src[480], dst[480];
    for (size_t n = 17; n < 400; n += 7) {
        memset(src, 'q', sizeof src);
        src[n] = '\0';
        check_strlen_keeps_registers(src, n);
        memset(dst, 0, sizeof dst);
        check_copy_keeps_registers(dst, src, n + 15);
        for (size_t i = n + 15; i < sizeof dst; i++)
            assert_int_equal(dst[i], 0);
    }
    size_t size;
    char *page = guarded_page(&size);
    for (size_t n = 16; n < 300; n += 5)
        check_strlen_keeps_registers(at_page_end(page, size, n, (int)n), n);
    munmap(page, 2 * size);
}
#endif

/* The measuring and copying tests with each routine the CPU has, then as chosen at load. */
static void test_each_routine(void **state)
{
    int chosen = sky__strtail_select(SKY__STRTAIL_BEST);
    int ran = 0;
    for (int v = SKY__STRTAIL_SSE2; v <= SKY__STRTAIL_AVX2; v++) {
        if (sky__strtail_select(v) != v)
            continue; /* not this CPU's (or not x86-64) */
        ran++;
        test_strlen_never_leaves_the_page(state);
        test_strlen_near_a_page_end(state);
        test_short_copy_never_leaves_the_page(state);
        test_every_length_and_alignment(state);
        test_logged_strings_at_page_ends(state);
#ifdef SKY__TAILS
        test_tails_keep_registers();
#endif
    }
    assert_int_equal(sky__strtail_select(SKY__STRTAIL_BEST), chosen);
#if defined(__x86_64__) && defined(__GNUC__)
    assert_true(ran >= 1); /* SSE2 at least: every x86-64 has it */
#else
    (void)ran;
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strlen_never_leaves_the_page),
        cmocka_unit_test(test_strlen_near_a_page_end),
        cmocka_unit_test(test_short_copy_never_leaves_the_page),
        cmocka_unit_test(test_every_length_and_alignment),
        cmocka_unit_test(test_logged_strings_at_page_ends),
        cmocka_unit_test(test_each_routine),
        cmocka_unit_test(test_calls_unlike_the_schema),
        cmocka_unit_test(test_wide_sites),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
