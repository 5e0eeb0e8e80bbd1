/*
 * fuzz_utf8_copy.c - sky__utf8_copy_valid() (src/util/text.c), the copy that checks UTF-8
 * as the CloudWatch sink queues a message: for any bytes, at any length and alignment,
 *   - its answer is sky__utf8_valid()'s, and sky__utf8_repair() leaves exactly the bytes it
 *     calls valid unchanged;
 *   - the copy is the input, byte for byte, and nothing past it is written (a guard byte;
 *     ASan catches reads past the input, which is an allocation of exactly its size).
 *
 * Input: [offset byte] then the bytes; the offset (0-15) places them at every alignment
 * relative to the copy's 16- and 64-byte blocks.
 */
#include "fuzz_common.h"

#include "util/text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size)
        return 0;
    size_t off = data[0] & 15;
    size_t n = size - 1;
    char *in = malloc(n ? n : 1), *out = malloc(off + n + 1);
    if (!in || !out)
        abort();
    memcpy(in, data + 1, n);
    out[off + n] = 0x5a;
    bool ok = sky__utf8_copy_valid(out + off, in, n);
    if (ok != sky__utf8_valid(in, n))
        abort();
    if (memcmp(out + off, in, n) != 0 || out[off + n] != 0x5a)
        abort();
    sky_buf r = {0};
    sky__utf8_repair(&r, in, n);
    if (!r.oom && ok != (r.len == n && (n == 0 || memcmp(r.p, in, n) == 0)))
        abort(); /* valid: repair changes nothing; invalid: it does */
    sky__buf_free(&r);
    free(in);
    free(out);
    return 0;
}
