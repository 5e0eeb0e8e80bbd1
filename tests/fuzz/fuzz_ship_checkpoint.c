/*
 * fuzz_ship_checkpoint.c - what `skylog ship --resume` reads from outside besides the input: the
 * checkpoint's anchor ("tail", a file anyone may have edited) and the stored messages it
 * classifies when settling (cli/ship_checkpoint.c, compiled in here: the CLI is not a
 * library). An accepted anchor must be within its bounds and survive a round trip; the message
 * helpers must stay inside the message.
 */
#include "fuzz_common.h"

#include "../../cli/common.c"
#include "../../cli/safetext.c" /* common.c and ship_checkpoint.c print through it */
#include "../../cli/ship_checkpoint.c"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536) /* ship refuses a checkpoint over 64 KiB before parsing it */
        return 0;
    (void)transformed((const char *)data, size);
    uint32_t parts = parts_of((const char *)data, size);
    if (parts < 1 || parts > 1000000)
        abort();
    (void)sky__ship_hash((const char *)data, size);
    (void)sky__ship_hash_v2((const char *)data, size);
    json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!j)
        return 0;
    json_t *tail = json_is_object(j) ? json_object_get(j, "tail") : j;
    sky__anchor_tail t;
    if (sky__anchor_parse(tail, &t)) {
        if (t.n > SKY__ANCHOR_MAX)
            abort();
        for (size_t i = 0; i < t.n; i++)
            if (t.a[i].n < 1 || t.a[i].n > 1000000 || t.a[i].flags > 3)
                abort();
        json_t *again = sky__anchor_json(&t);
        sky__anchor_tail t2;
        if (!again || !sky__anchor_parse(again, &t2) || t2.n != t.n ||
            memcmp(t.a, t2.a, t.n * sizeof *t.a) != 0)
            abort();
        json_decref(again);
    }
    json_decref(j);
    return 0;
}
