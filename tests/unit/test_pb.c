/* test_pb.c - the protobuf wire format by hand (src/util/pb.c): varint sizes and bytes at every
 * 7-bit boundary, tags of the field numbers OTLP uses, nested messages across the one-byte
 * length boundary, and the reader's refusals (truncation, overlong varints, field 0, groups). */
#include "skytest.h"

#include "util/pb.h"

#include <stdlib.h>
#include <string.h>

static void expect_bytes(const sky_buf *b, const char *want, size_t n)
{
    assert_int_equal(b->len, n);
    assert_memory_equal(b->p, want, n);
}

static void test_varint_edges(void **state)
{
    (void)state;
    struct {
        uint64_t v;
        const char *bytes;
        size_t n;
    } cases[] = {
        {0, "\x00", 1},
        {1, "\x01", 1},
        {127, "\x7f", 1},
        {128, "\x80\x01", 2},
        {300, "\xac\x02", 2}, /* protobuf's documentation example */
        {16383, "\xff\x7f", 2},
        {16384, "\x80\x80\x01", 3},
        {(1ull << 35) - 1, "\xff\xff\xff\xff\x7f", 5},
        {(uint64_t)INT64_MAX, "\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 9},
        {(uint64_t)-1, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10}, /* int64 -1 */
        {1ull << 63, "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 10},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sky_buf b = {0};
        sky__pb_varint(&b, cases[i].v);
        expect_bytes(&b, cases[i].bytes, cases[i].n);
        assert_int_equal(sky__pb_varint_size(cases[i].v), cases[i].n);
        const uint8_t *p = (const uint8_t *)b.p;
        uint64_t back = 0;
        assert_true(sky__pb_read_varint(&p, p + b.len, &back));
        assert_true(back == cases[i].v);
        assert_ptr_equal(p, (const uint8_t *)b.p + b.len);
        sky__buf_free(&b);
    }
    for (int bits = 0; bits < 64; bits++) { /* the size changes exactly every 7 bits */
        uint64_t v = 1ull << bits;
        assert_int_equal(sky__pb_varint_size(v), (size_t)bits / 7 + 1);
        assert_int_equal(sky__pb_varint_size(v - 1), bits ? (size_t)(bits - 1) / 7 + 1 : 1);
    }
}

static void test_tags_and_scalars(void **state)
{
    (void)state;
    sky_buf b = {0};
    sky__pb_tag(&b, 1, SKY_PB_LEN); /* ExportLogsServiceRequest.resource_logs */
    sky__pb_tag(&b, 11, SKY_PB_I64); /* LogRecord.observed_time_unix_nano */
    sky__pb_tag(&b, 16, SKY_PB_VARINT); /* the first two-byte tag */
    sky__pb_tag(&b, SKY_PB_MAX_FIELD, SKY_PB_I32);
    expect_bytes(&b, "\x0a\x59\x80\x01\xfd\xff\xff\xff\x0f", 9);
    sky__buf_reset(&b);
    sky__pb_fixed64(&b, 1, 0x0102030405060708ull); /* little-endian */
    sky__pb_double(&b, 4, 1.0);
    sky__pb_uint(&b, 2, 9);
    expect_bytes(&b, "\x09\x08\x07\x06\x05\x04\x03\x02\x01" "\x21\x00\x00\x00\x00\x00\x00\xf0\x3f"
                     "\x10\x09", 20);
    sky__buf_reset(&b);
    sky__pb_string(&b, 1, "h\xffi", 3); /* invalid UTF-8 is repaired: U+FFFD */
    expect_bytes(&b, "\x0a\x05h\xef\xbf\xbdi", 7);
    sky__buf_free(&b);
}

/* A message of n content bytes nested in another: the length takes as many bytes as it needs
 * and the content is intact. */
static void test_nested_lengths(void **state)
{
    (void)state;
    const size_t sizes[] = {0, 1, 125, 126, 127, 128, 129, 16381, 16383, 16384, 70000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        char *content = malloc(n ? n : 1);
        for (size_t k = 0; k < n; k++)
            content[k] = (char)(k * 7 + 1);
        sky_buf b = {0};
        size_t outer = sky__pb_open(&b, 2);
        sky__pb_uint(&b, 1, 5);
        size_t inner = sky__pb_open(&b, 3);
        sky__buf_put(&b, content, n);
        sky__pb_close(&b, inner);
        sky__pb_close(&b, outer);
        assert_false(b.oom);
        size_t inner_len = 1 + sky__pb_varint_size(n) + n;
        size_t outer_content = 2 + inner_len;
        assert_int_equal(b.len, 1 + sky__pb_varint_size(outer_content) + outer_content);

        sky_pb_reader r = sky__pb_reader(b.p, b.len);
        sky_pb_field f;
        assert_int_equal(sky__pb_next(&r, &f), 1);
        assert_int_equal(f.num, 2);
        assert_int_equal(f.wire, SKY_PB_LEN);
        assert_int_equal(f.len, outer_content);
        assert_int_equal(sky__pb_next(&r, &f), 0);
        sky_pb_reader in = sky__pb_reader(b.p + b.len - outer_content, outer_content);
        assert_int_equal(sky__pb_next(&in, &f), 1);
        assert_true(f.num == 1 && f.wire == SKY_PB_VARINT && f.u == 5);
        assert_int_equal(sky__pb_next(&in, &f), 1);
        assert_true(f.num == 3 && f.wire == SKY_PB_LEN && f.len == n);
        if (n)
            assert_memory_equal(f.data, content, n);
        assert_int_equal(sky__pb_next(&in, &f), 0);
        sky__buf_free(&b);
        free(content);
    }
}

static int next_of(const char *bytes, size_t n, sky_pb_field *f)
{
    sky_pb_reader r = sky__pb_reader(bytes, n);
    int k;
    while ((k = sky__pb_next(&r, f)) > 0)
        ;
    return k;
}

static void test_reader_refuses(void **state)
{
    (void)state;
    sky_pb_field f;
    const struct {
        const char *bytes;
        size_t n;
    } bad[] = {
        {"\x08", 1},                                             /* varint missing */
        {"\x08\x80", 2},                                         /* varint truncated */
        {"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 11},    /* 10th byte above 1 */
        {"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x81\x00", 12}, /* 11 bytes */
        {"\x00\x01", 2},                                         /* field number 0 */
        {"\x0a\x05" "abcd", 6},                                   /* length past the end */
        {"\x09\x01\x02\x03", 4},                                 /* fixed64 truncated */
        {"\x0d\x01\x02", 3},                                     /* fixed32 truncated */
        {"\x0e", 1},                                             /* wire type 6 */
        {"\x0f", 1},                                             /* wire type 7 */
        {"\x0c", 1},                                             /* end group without start */
        {"\x0b\x08\x01", 3},                                     /* group never ended */
        {"\x0b\x14", 2},                                         /* group 1 ended as group 2 */
        {"\xf8\xff\xff\xff\x7f\x00", 6},                         /* field number 2^32-1 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(next_of(bad[i].bytes, bad[i].n, &f), -1);
    /* a group, nested, with fields of every kind inside, is skipped whole */
    const char ok[] = "\x0b\x08\x01\x13\x0a\x01x\x14\x11\x01\x02\x03\x04\x05\x06\x07\x08\x0c"
                      "\x10\x2a";
    sky_pb_reader r = sky__pb_reader(ok, sizeof ok - 1);
    assert_int_equal(sky__pb_next(&r, &f), 1);
    assert_true(f.num == 2 && f.wire == SKY_PB_VARINT && f.u == 42);
    assert_int_equal(sky__pb_next(&r, &f), 0);
    /* groups nested deeper than the reader keeps track of are refused, not recursed into */
    char deep[100];
    for (size_t i = 0; i < 40; i++)
        deep[i] = '\x0b';
    for (size_t i = 0; i < 40; i++)
        deep[40 + i] = '\x0c';
    assert_int_equal(next_of(deep, 80, &f), -1);
    char fine[64];
    for (size_t i = 0; i < 32; i++)
        fine[i] = '\x0b', fine[32 + i] = '\x0c';
    assert_int_equal(next_of(fine, 64, &f), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_varint_edges),
        cmocka_unit_test(test_tags_and_scalars),
        cmocka_unit_test(test_nested_lengths),
        cmocka_unit_test(test_reader_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
