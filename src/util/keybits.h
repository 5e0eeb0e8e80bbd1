/*
 * keybits.h - a field key's bit in a 64-bit set of keys (a one-hash Bloom filter).
 *
 * The async worker copies a context scope's or bound logger's rendered fields into a site
 * event's line only when no key repeats between them and the call's schema. Comparing every
 * key with every other costs hundreds of instructions a scope; two sets whose bits do not
 * meet share no key, which one AND says. Equal keys always have the same bit, so a
 * disjoint pair is exact; meeting bits only mean "compare the keys".
 */
#ifndef SKY_UTIL_KEYBITS_H
#define SKY_UTIL_KEYBITS_H

#include <stddef.h>
#include <stdint.h>

/* The bit of the key k[0 .. n): from its length and its first, second and last bytes. */
static inline uint64_t sky__key_bit(const char *k, size_t n)
{
    if (!n)
        return 1;
    uint32_t h = (uint32_t)n * 0x9e3779b1u ^ (uint8_t)k[0] * 0x85ebca77u ^
                 (uint8_t)k[n > 1] * 0xc2b2ae3du ^ (uint8_t)k[n - 1] * 0x27d4eb2fu;
    return 1ull << (h >> 26);
}

#endif
