/*
 * thread.h - starting the library's threads (the async worker, sink senders, the metrics
 * interval thread, the system sampler): sky__thread_start returns only once the new thread runs
 * our code.
 *
 * Why wait: a thread still starting is outside every lock of ours, so pthread_atfork handlers
 * cannot wait for it, and its start-up may hold a lock of the C runtime's. GCC 12's ASan
 * allocator takes one there, and a child forked in that moment deadlocked in its first malloc.
 * Once the thread runs its function it works under the locks its owner's fork handlers take.
 * The wait is a futex handshake (Linux), a few microseconds, never a sleep.
 */
#ifndef SKY_UTIL_THREAD_H
#define SKY_UTIL_THREAD_H

#include <pthread.h>

/* pthread_create(t, NULL, fn, arg), then waits until the thread has entered fn's caller (our
 * trampoline, just before fn). `name` (at most 15 characters, or NULL) names the thread for
 * debuggers and top. Returns pthread_create's result: 0, or an error number and no thread. */
int sky__thread_start(pthread_t *t, const char *name, void *(*fn)(void *), void *arg);

#endif
