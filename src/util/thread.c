/* thread.c - see thread.h. The start record lives on the starter's stack: the starter waits
 * until the thread has copied what it needs and said so, and the thread touches the record no
 * more after that (a FUTEX_WAKE on an address that is gone is harmless: it reads nothing). */
#include "util/thread.h"

#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef struct start_rec {
    void *(*fn)(void *);
    void *arg;
    _Atomic uint32_t running;
} start_rec;

static void *trampoline(void *p)
{
    start_rec *r = p;
    void *(*fn)(void *) = r->fn;
    void *arg = r->arg;
    atomic_store(&r->running, 1);
    syscall(SYS_futex, &r->running, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    return fn(arg);
}

int sky__thread_start(pthread_t *t, const char *name, void *(*fn)(void *), void *arg)
{
    start_rec r = {.fn = fn, .arg = arg};
    atomic_init(&r.running, 0);
    int rc = pthread_create(t, NULL, trampoline, &r);
    if (rc != 0)
        return rc;
    if (name)
        pthread_setname_np(*t, name);
    while (!atomic_load(&r.running))
        syscall(SYS_futex, &r.running, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    return 0;
}
