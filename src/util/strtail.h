/*
 * strtail.h - choosing the routines that measure SKY_STR's long strings and copy long strings
 * for inlined call sites (strtail.c; the call sites and their pointers are in skylog.h).
 */
#ifndef SKY_UTIL_STRTAIL_H
#define SKY_UTIL_STRTAIL_H

#include <skylog.h>

#include <stdbool.h>

enum { SKY__STRTAIL_SSE2 = 0, SKY__STRTAIL_AVX2 = 1, SKY__STRTAIL_BEST = -1 };

/* Makes call sites use `variant` (SKY__STRTAIL_BEST: what the CPU has; done before main).
 * Returns the variant chosen, or -1 if the CPU lacks it (nothing changed). For tests, which
 * run each; not thread-safe against call sites measuring at the same time. */
int sky__strtail_select(int variant);

#endif
