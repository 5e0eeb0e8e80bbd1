/*
 * test_thread.c - unit tests for src/util/thread.h, how every library thread is started: the
 * thread gets its argument and name, sky__thread_start returns before the function needs any
 * lock of the caller's, start records on the caller's stack are not mixed up when many starts
 * run at once, and a fork right after a start leaves a child that can allocate (the GCC 12 ASan
 * deadlock the handshake fixed: a child forked while a thread was still starting hung in malloc).
 */
#include "skytest.h"

#include "util/thread.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;

static void *takes_the_lock(void *arg)
{
    pthread_mutex_lock(&held);
    pthread_mutex_unlock(&held);
    return arg;
}

static void test_argument_name_and_result(void **state)
{
    (void)state;
    int x = 42;
    pthread_t t;
    /* the caller holds what the thread's function locks first: starting must not need it */
    pthread_mutex_lock(&held);
    assert_int_equal(sky__thread_start(&t, "skylog-test", takes_the_lock, &x), 0);
    char name[16] = "";
    assert_int_equal(pthread_getname_np(t, name, sizeof name), 0);
    assert_string_equal(name, "skylog-test");
    pthread_mutex_unlock(&held);
    void *ret = NULL;
    assert_int_equal(pthread_join(t, &ret), 0);
    assert_ptr_equal(ret, &x);

    assert_int_equal(sky__thread_start(&t, NULL, takes_the_lock, NULL), 0); /* unnamed */
    assert_int_equal(pthread_join(t, &ret), 0);
    assert_null(ret);
}

static void *identity(void *arg) { return arg; }

static void *starter(void *arg)
{
    uintptr_t base = (uintptr_t)arg, sum = 0;
    for (uintptr_t i = 0; i < 50; i++) {
        pthread_t t;
        if (sky__thread_start(&t, "skylog-id", identity, (void *)(base + i)) != 0)
            return NULL;
        void *r;
        pthread_join(t, &r);
        sum += (uintptr_t)r;
    }
    return (void *)sum;
}

static void test_many_starts_at_once(void **state)
{
    (void)state;
    pthread_t s[6];
    for (uintptr_t k = 0; k < 6; k++)
        assert_int_equal(sky__thread_start(&s[k], NULL, starter, (void *)(k * 1000)), 0);
    for (uintptr_t k = 0; k < 6; k++) {
        void *r;
        pthread_join(s[k], &r);
        assert_int_equal((uintptr_t)r, k * 1000 * 50 + 49 * 50 / 2); /* each got its own args */
    }
}

static atomic_bool stop_spinning;
static void *spins(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop_spinning)) {
        free(malloc(64));
        sched_yield();
    }
    return NULL;
}

static void test_fork_right_after_a_start(void **state)
{
    (void)state;
    for (int i = 0; i < 30; i++) {
        atomic_store(&stop_spinning, false);
        pthread_t t;
        assert_int_equal(sky__thread_start(&t, "skylog-spin", spins, NULL), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            char *p = malloc(4096);
            memset(p, 1, 4096);
            free(p);
            _exit(0);
        }
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        atomic_store(&stop_spinning, true);
        pthread_join(t, NULL);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_argument_name_and_result),
        cmocka_unit_test(test_many_starts_at_once),
        cmocka_unit_test(test_fork_right_after_a_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
