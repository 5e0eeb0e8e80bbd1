/*
 * sky_tsan_race.c - a program with one deliberate data race, for the integration harness's
 * own test (tests/integration/test_harness_reports.py): under TSan (build/tsan) it must make
 * a report, and the harness must turn that report into a failed test, whether the process is
 * a server the harness stopped or a command it ran. It never ships: it exists so that a
 * harness that stopped seeing reports (a changed TSAN_OPTIONS, a lost log_path) is a failure
 * and not a silent pass. Outside TSan the race is harmless and unreported.
 *
 *   sky_tsan_race          race, then exit 0
 *   sky_tsan_race serve    print a URL line (as `skylog serve` does), race, then wait for
 *                          SIGTERM/SIGINT and exit 0
 */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static long counter; /* written by two threads without a lock: the race */

static void *bump(void *arg)
{
    (void)arg;
    counter++;
    return NULL;
}

int main(int argc, char **argv)
{
    bool serve = argc > 1 && strcmp(argv[1], "serve") == 0;
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    if (serve) {
        printf("http://127.0.0.1:9\n");
        fflush(stdout);
    }
    pthread_t t;
    if (pthread_create(&t, NULL, bump, NULL) != 0)
        return 1;
    counter++;
    pthread_join(t, NULL);
    if (serve) {
        int sig;
        sigwait(&stop, &sig);
    }
    return 0;
}
