/*
 * crc32c.c - CRC-32C for the spools' records (see crc32c.h).
 *
 * Why CRC-32C and not zlib's CRC-32: that one cost 5.4 instructions a byte, three quarters of
 * what the CloudWatch sink's spool added per event (bench/RESULTS.md); SSE4.2 has an
 * instruction for this polynomial that takes 8 bytes at a time. Elsewhere, a table a byte at
 * a time. Moved here from src/sinks/spool.c when the async ring's spool needed it too.
 */
#include "util/crc32c.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;
static bool crc_hw;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_table[i] = c;
    }
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    crc_hw = __builtin_cpu_supports("sse4.2");
#endif
}

static uint32_t crc_sw(uint32_t c, const uint8_t *p, size_t n)
{
    while (n--)
        c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
    return c;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("sse4.2"))) static uint32_t crc_hw8(uint32_t c, const uint8_t *p, size_t n)
{
    uint64_t c64 = c;
    for (; n >= 8; n -= 8, p += 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c64 = __builtin_ia32_crc32di(c64, w);
    }
    c = (uint32_t)c64;
    while (n--)
        c = __builtin_ia32_crc32qi(c, *p++);
    return c;
}
#endif

uint32_t sky__crc32c_update(uint32_t c, const void *p, size_t n)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (crc_hw)
        return crc_hw8(c, p, n);
#endif
    return crc_sw(c, p, n);
}

void sky__crc32c_init(void) { pthread_once(&crc_once, crc_init); }

uint32_t sky__crc32c(const void *p, size_t n)
{
    sky__crc32c_init();
    return ~sky__crc32c_update(~0u, p, n);
}

