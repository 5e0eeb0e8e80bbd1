/*
 * crc32c.h - CRC-32C (Castagnoli), the checksum of the crash-safe spools' records (the
 * CloudWatch sink's spool, src/sinks/spool.c, and the async ring's, src/queue/ring_file.c).
 * With SSE4.2 eight bytes an instruction; elsewhere a table, a byte at a time.
 */
#ifndef SKY_UTIL_CRC32C_H
#define SKY_UTIL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Picks the implementation; once, thread-safe. Call it before sky__crc32c_update(). */
void sky__crc32c_init(void);
/* Continues a running CRC: start with ~0u, finish with ~c. */
uint32_t sky__crc32c_update(uint32_t c, const void *p, size_t n);
/* The CRC-32C of n bytes (init included). */
uint32_t sky__crc32c(const void *p, size_t n);

#endif
