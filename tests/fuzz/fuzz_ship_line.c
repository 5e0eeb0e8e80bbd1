/*
 * fuzz_ship_line.c - the time `skylog ship` takes from a JSON line of the files it ships
 * (cli/ship_line.c, compiled in here: the CLI is not a library). Shipped files are anyone's.
 *
 * The line is given in a buffer of exactly its size, as ship takes lines in place from its read
 * buffer with no NUL after them (ASan catches a read past the end), and again followed by more
 * digits, as the next line or the stale end of ship's buffer would be: the answer must not
 * change. A time accepted is within +-SKY__SHIP_TS_MAX_MS (1e300 or "nan" once became
 * INT64_MIN through an undefined conversion).
 */
#include "../../cli/ship_line.c"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    char *exact = malloc(size ? size : 1);
    char *more = malloc(size + 16);
    if (!exact || !more)
        abort();
    memcpy(exact, data, size);
    memcpy(more, data, size);
    memcpy(more + size, "123456789e9.5\n{", 16);
    int64_t ms = 0, ms2 = 0;
    bool got = sky__line_timestamp(exact, size, &ms);
    bool got2 = sky__line_timestamp(more, size, &ms2);
    if (got != got2 || (got && ms != ms2))
        abort();
    if (got && (ms > SKY__SHIP_TS_MAX_MS || ms < -SKY__SHIP_TS_MAX_MS))
        abort();
    free(exact);
    free(more);
    return 0;
}
