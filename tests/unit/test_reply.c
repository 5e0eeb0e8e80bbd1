/*
 * test_reply.c - unit tests for server/reply.c, what every `skylog serve` handler answers
 * through: here the end of a paged listing (offset tokens and the reply with its nextToken).
 * The server is not a library, so its source is compiled into this test directly; the listings
 * end to end are covered by tests/integration/test_serve_logs.py, test_serve_insights.py and
 * test_serve_metric_filters.py (paging through real stores with the AWS CLI and boto3).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../server/reply.c"

static void test_offset_tokens(void **state)
{
    (void)state;
    int64_t off = -1;
    assert_true(sky__offset_token_parse(NULL, &off)); /* no token: the first page */
    assert_int_equal(off, 0);
    assert_true(sky__offset_token_parse("o/0", &off));
    assert_int_equal(off, 0);
    assert_true(sky__offset_token_parse("o/150", &off));
    assert_int_equal(off, 150);
    assert_true(sky__offset_token_parse("o/9223372036854775807", &off));
    assert_int_equal(off, INT64_MAX);
    const char *bad[] = {"", "o/", "o/-1", "o/+1", "o/ 1", "o/1x", "p/1", "O/1", "1",
                         "o/9223372036854775808"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        off = 7;
        assert_false(sky__offset_token_parse(bad[i], &off));
    }
}

static json_t *body_of(const sky__reply *r)
{
    assert_int_equal(r->status, 200);
    assert_string_equal(r->content_type, SKY__CT_JSON11);
    json_t *j = json_loadb(r->body, r->len, 0, NULL);
    assert_non_null(j);
    return j;
}

static void test_reply_page(void **state)
{
    (void)state;
    sky__reply r = {0};
    sky__reply_page(&r, SKY__CT_JSON11, json_pack("{s:[i]}", "items", 1), "p/42");
    json_t *j = body_of(&r);
    assert_string_equal(json_string_value(json_object_get(j, "nextToken")), "p/42");
    assert_int_equal(json_array_size(json_object_get(j, "items")), 1);
    json_decref(j);
    sky__reply_clear(&r);

    sky__reply_page(&r, SKY__CT_JSON11, json_pack("{s:[]}", "items"), NULL); /* the last page */
    j = body_of(&r);
    assert_null(json_object_get(j, "nextToken"));
    json_decref(j);
    sky__reply_clear(&r);

    /* an offset page's token reads back as the offset it was made from */
    sky__reply_offset_page(&r, SKY__CT_JSON11, json_object(), true, 250);
    j = body_of(&r);
    int64_t off = 0;
    assert_true(sky__offset_token_parse(json_string_value(json_object_get(j, "nextToken")), &off));
    assert_int_equal(off, 250);
    json_decref(j);
    sky__reply_clear(&r);

    sky__reply_offset_page(&r, SKY__CT_JSON11, json_object(), false, 250);
    j = body_of(&r);
    assert_null(json_object_get(j, "nextToken"));
    json_decref(j);
    sky__reply_clear(&r);

    sky__reply_page(&r, SKY__CT_JSON11, NULL, "o/1"); /* out of memory building it: "{}" */
    assert_int_equal(r.status, 200);
    assert_memory_equal(r.body, "{}", 2);
    sky__reply_clear(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offset_tokens),
        cmocka_unit_test(test_reply_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
