/*
 * fuzz_audit_verify.c - `skylog audit verify`'s reader (src/sinks/audit.c) on arbitrary files:
 * lines of any length (the 1 MiB limit), broken chain fields, bad hex, huge sequence numbers,
 * torn-line markers that lie. It must never crash, read out of bounds or hold more than its
 * bounded buffers. The first byte chooses whether an HMAC key is given.
 */
#include "sinks/audit_chain.h"

#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    static const uint8_t key[] = "fuzz-key";
    bool keyed = data[0] & 1;
    FILE *f = fmemopen((void *)(data + 1), size - 1 ? size - 1 : 1, "rb");
    if (!f)
        return 0;
    if (size == 1) /* fmemopen needs a non-empty buffer: read nothing */
        fseek(f, 0, SEEK_END);
    sky__audit_report rep;
    sky__audit_verify(f, keyed ? key : NULL, keyed ? sizeof key - 1 : 0, &rep);
    fclose(f);
    sky__audit_line l;
    sky__audit_check_line((const char *)data, size, keyed ? key : NULL, sizeof key - 1, &l);
    return 0;
}
