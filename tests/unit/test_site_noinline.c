/*
 * test_site_noinline.c - test_site.c again with SKY_NO_INLINE_RING: call sites that match
 * their schema reserve through the library (sky__site_emit_values) instead of inline, as on
 * platforms without the inlined ring. Same schemas, same records, same output.
 */
#define SKY_NO_INLINE_RING 1
#include "test_site.c"
