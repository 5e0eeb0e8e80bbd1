/*
 * prefault.h - faulting in, with one system call, anonymous memory that is about to be written
 * in full: a shipper's queue blocks, its request body, its TLS gathering buffer, its read
 * buffer. Each first write to a fresh page is a page fault, and on a guest whose page tables
 * are shadowed by the hypervisor one fault costs ~12 us of CPU; MADV_POPULATE_WRITE (Linux
 * 5.14) takes half of that per page (bench/RESULTS.md, session 11). Only whole pages inside
 * the range are touched, so nothing beyond what the caller will write becomes resident.
 */
#ifndef SKY_UTIL_PREFAULT_H
#define SKY_UTIL_PREFAULT_H

#include <stdbool.h>
#include <stddef.h>

/* Makes the whole pages within [p, p + len) resident and writable now. True when the kernel
 * did it; false when it could not or would not (older kernels, other systems, a refusal): the
 * pages are then faulted in as they are written, as without this call. Never changes the
 * bytes. After the kernel refuses the advice once, later calls return false without asking
 * again. Thread-safe. */
bool sky__prefault(void *p, size_t len);

/* Tests: while `on`, the kernel is asked for an advice it does not know, so that it refuses
 * as a kernel before 5.14 does; sky__prefault_test_forget() forgets a refusal seen. */
void sky__prefault_test_refuse(bool on);
void sky__prefault_test_forget(void);

#endif
