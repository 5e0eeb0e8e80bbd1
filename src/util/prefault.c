/*
 * prefault.c - see prefault.h. MADV_POPULATE_WRITE is asked for by number where the headers
 * predate it (glibc's lag the kernel's); a kernel without it answers EINVAL, which is latched
 * so that a shipper on an old kernel pays one failed system call, not one per block. Any other
 * failure (ENOMEM, a page that cannot be populated) is left to the writes that follow, which
 * fault as they always did.
 */
#include "util/prefault.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>

#ifdef __linux__
#include <sys/mman.h>
#include <unistd.h>
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#endif

static atomic_bool refused;      /* the kernel does not know the advice */
static atomic_bool test_refuse;

void sky__prefault_test_refuse(bool on)
{
    atomic_store(&test_refuse, on);
}

void sky__prefault_test_forget(void)
{
    atomic_store(&refused, false);
}

bool sky__prefault(void *p, size_t len)
{
#ifdef __linux__
    static atomic_size_t page_size;
    if (!p || !len || atomic_load_explicit(&refused, memory_order_relaxed))
        return false;
    size_t ps = atomic_load_explicit(&page_size, memory_order_relaxed);
    if (!ps) {
        long v = sysconf(_SC_PAGESIZE);
        ps = v > 0 ? (size_t)v : 4096;
        atomic_store_explicit(&page_size, ps, memory_order_relaxed);
    }
    uintptr_t a = (uintptr_t)p, end = a + len;
    if (end < a)
        return false;
    uintptr_t lo = (a + ps - 1) & ~(uintptr_t)(ps - 1), hi = end & ~(uintptr_t)(ps - 1);
    if (lo >= hi)
        return false; /* no whole page inside */
    int advice = atomic_load_explicit(&test_refuse, memory_order_relaxed) ? -1
                                                                          : MADV_POPULATE_WRITE;
    if (madvise((void *)lo, hi - lo, advice) == 0)
        return true;
    if (errno == EINVAL || errno == ENOSYS || errno == EPERM)
        atomic_store_explicit(&refused, true, memory_order_relaxed);
    return false;
#else
    (void)p, (void)len;
    return false;
#endif
}
