/* common.c - see common.h. */
#include "common.h"

#include "cli.h"
#include "safetext.h"
#include "aws/endpoint.h"
#include "util/text.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

bool sky__aws_cli_opt(sky__aws_cli_opts *o, int c, const char *arg)
{
    switch (c) {
    case SKY__OPT_ENDPOINT: o->endpoint = arg; return true;
    case SKY__OPT_REGION: o->region = arg; return true;
    case SKY__OPT_PROFILE: o->profile = arg; return true;
    case SKY__OPT_CA_BUNDLE: o->ca_bundle = arg; return true;
    default: return false;
    }
}

static bool stopped(void *flag)
{
    return flag && *(volatile sig_atomic_t *)flag;
}

const char *sky__aws_cli_region(const sky__aws_cli_opts *o, const char *service,
                                const char *cmd, char *buf, size_t cap)
{
    if (o->region)
        return o->region;
    if (sky_aws_resolve_region(NULL, o->profile, NULL, buf, cap) == SKY_OK)
        return buf;
    /* A local endpoint needs some region to sign with; AWS itself needs the real one. An
     * endpoint configured anywhere (option, variables, config file) decides, and a bad one
     * (a --endpoint that is no URL, a profile naming a missing services section) is the
     * client's to name, so it must not be hidden behind "no region". */
    char ep[512], why[256];
    if (o->endpoint || sky__aws_configured_endpoint(service, NULL, o->profile, NULL, NULL, ep,
                                                    sizeof ep, why, sizeof why) != SKY_ENOTFOUND)
        return "us-east-1";
    fprintf(stderr, "skylog %s: no AWS region: pass --region REGION, or set AWS_REGION (or region "
            "in ~/.aws/config); for skylog serve, pass --endpoint URL instead\n", cmd);
    return NULL;
}

sky_aws_client *sky__aws_cli_client(const sky__aws_cli_opts *o, const char *service,
                                    const char *cmd)
{
    char region[64];
    const char *r = sky__aws_cli_region(o, service, cmd, region, sizeof region);
    if (!r)
        return NULL;
    sky_aws_client_opts co = {.service = service, .region = r, .endpoint = o->endpoint,
                              .profile = o->profile,
                              .http = {.ca_bundle = o->ca_bundle},
                              .retry = {.cancelled = stopped, .cancel_user = (void *)o->stop}};
    sky_aws_client *c = NULL;
    char err[256] = "";
    if (sky_aws_client_new(&co, &c, err, sizeof err) != SKY_OK) {
        sky__safe_printf(stderr, "skylog %s: %s\n", cmd,
                         err[0] ? err : "cannot create the AWS client (set --region or AWS_REGION)");
        return NULL;
    }
    return c;
}

/* The answer of a call, or NULL after printing why (shared by the Logs and CloudWatch calls). */
static json_t *answer(const char *cmd, const char *op, sky_status st, const sky_aws_error *e,
                      const char *body, size_t len)
{
    if (st != SKY_OK) {
        sky__safe_printf(stderr, "skylog %s: %s: %s%s%s\n", cmd, op,
                         e->code[0] ? e->code : sky_strerror(st), e->message[0] ? ": " : "",
                         e->message);
        return NULL;
    }
    json_t *j = json_loadb(body && len ? body : "{}", body && len ? len : 2, 0, NULL);
    if (!j)
        fprintf(stderr, "skylog %s: %s: the service answered something that is not JSON\n", cmd,
                op);
    return j;
}

json_t *sky__logs_call_err(sky_aws_client *c, const char *op, json_t *body, sky_aws_error *e)
{
    char target[96];
    snprintf(target, sizeof target, "Logs_20140328.%s", op);
    memset(e, 0, sizeof *e);
    char *text = json_dumps(body, JSON_COMPACT);
    if (!text) {
        e->status = SKY_ENOMEM;
        return NULL;
    }
    sky_aws_call call = {.target = target, .body = text, .body_len = strlen(text)};
    sky_http_response resp = {0};
    sky_status st = sky_aws_client_call(c, &call, &resp, e);
    free(text);
    if (st != SKY_OK) {
        e->status = st;
        return NULL;
    }
    json_t *j = json_loadb(resp.body ? resp.body : "{}", resp.body_len ? resp.body_len : 2, 0, NULL);
    sky_http_response_free(&resp);
    if (!j) {
        e->status = SKY_EREMOTE;
        snprintf(e->message, sizeof e->message, "the service answered something that is not JSON");
    }
    return j;
}

json_t *sky__logs_call(sky_aws_client *c, const char *cmd, const char *op, json_t *body)
{
    sky_aws_error e;
    json_t *j = sky__logs_call_err(c, op, body, &e);
    if (!j)
        answer(cmd, op, e.status, &e, NULL, 0); /* says why */
    return j;
}

json_t *sky__cw_call(sky_aws_client *c, const char *cmd, const char *op, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(17));
    if (!text)
        return NULL;
    char *out = NULL;
    size_t len = 0;
    sky_aws_error e;
    sky_status st = sky_cloudwatch_call(c, op, text, strlen(text), &out, &len, &e);
    free(text);
    json_t *j = answer(cmd, op, st, &e, out, len);
    free(out);
    return j;
}

/* The furthest a time (as ms since 1970) or a duration may reach: 9999-12-31T23:59:59.999Z,
 * the last time ISO-8601 (and CloudWatch) writes. Beyond, a value is refused before any cast:
 * 1e300h or inf would make an undefined conversion, and now minus it an overflow. */
#define WHEN_MAX_MS 253402300799999.0

bool sky__parse_when(const char *s, int64_t now_ms, int64_t *out)
{
    if (!s || !*s)
        return false;
    if (strcmp(s, "now") == 0) { /* what every --until's help gives as its default */
        *out = now_ms;
        return true;
    }
    char *end;
    double v = strtod(s, &end);
    if (end != s && !(v <= WHEN_MAX_MS)) /* also NaN; a duration in ms is the smallest */
        return false;
    if (end != s && *end && !end[1]) {
        int64_t unit = 0;
        switch (*end) {
        case 's': unit = 1000; break;
        case 'm': unit = 60 * 1000; break;
        case 'h': unit = 3600 * 1000; break;
        case 'd': unit = 24LL * 3600 * 1000; break;
        case 'w': unit = 7LL * 24 * 3600 * 1000; break;
        default: break;
        }
        if (unit && v >= 0 && v * (double)unit <= WHEN_MAX_MS) {
            *out = now_ms - (int64_t)(v * (double)unit);
            return true;
        }
    }
    if (end != s && !*end && v >= 0) {
        *out = (int64_t)v;
        return true;
    }
    int64_t ns;
    if (sky_aws_parse_time(s, &ns) == SKY_OK) {
        *out = ns / 1000000;
        return true;
    }
    return false;
}

bool sky__cli_when(const char *cmd, const char *sub, const char *flag, const char *s,
                   int64_t now_ms, int64_t *out)
{
    if (sky__parse_when(s, now_ms, out))
        return true;
    fprintf(stderr, "skylog %s%s%s: %s: cannot read the time '%s': expected 10m, 2h, 3d (ago), "
            "now, ISO-8601 or Unix ms (see skylog %s --help)\n", cmd, sub ? " " : "",
            sub ? sub : "", flag, s, cmd);
    return false;
}

void sky__fmt_ms(int64_t ms, char out[25])
{
    /* the times shown come from answers (any int64, or a double rounded): clamped to what ns
     * hold (years 1677 to 2262), never an overflow */
    const int64_t lim = INT64_MAX / 1000000;
    sky__iso8601_ms(out, (ms > lim ? lim : ms < -lim ? -lim : ms) * 1000000);
    out[24] = '\0';
}

/* Lock-free atomics only: safe in a signal handler, and read by other threads (ship's
 * watchdog). The sig_atomic_t copy is what the AWS client's waits poll. */
static volatile sig_atomic_t stop_flag;
static atomic_int stop_signal; /* the first signal's number */
static atomic_int stop_count;

/* Posted by each signal (sem_post is async-signal-safe) and by sky__cli_stop_poke(): a thread
 * that waits for a signal sleeps instead of polling the flag. */
static sem_t stop_sem;
static atomic_bool stop_sem_ok;

static void on_stop_signal(int sig)
{
    stop_flag = 1;
    int none = 0;
    atomic_compare_exchange_strong(&stop_signal, &none, sig);
    atomic_fetch_add(&stop_count, 1);
    if (atomic_load(&stop_sem_ok))
        sem_post(&stop_sem);
}

void sky__cli_stop_wait(int64_t timeout_ms)
{
    if (!atomic_load(&stop_sem_ok)) {
        usleep((useconds_t)(timeout_ms * 1000));
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(timeout_ms / 1000);
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    while (sem_timedwait(&stop_sem, &ts) != 0 && errno == EINTR)
        ;
}

void sky__cli_stop_poke(void)
{
    if (atomic_load(&stop_sem_ok))
        sem_post(&stop_sem);
}

void sky__cli_catch_stop(void)
{
    if (!atomic_load(&stop_sem_ok) && sem_init(&stop_sem, 0, 0) == 0)
        atomic_store(&stop_sem_ok, true);
    struct sigaction sa = {.sa_handler = on_stop_signal}; /* no SA_RESTART: reads see EINTR */
    sigemptyset(&sa.sa_mask);
    /* A signal ignored when the command started stays ignored: a non-interactive shell starts
     * a background job (`skylog ship ... &`) with SIGINT ignored so that Ctrl-C at the
     * terminal does not reach it, and a wrapper ignores SIGTERM for the same reason. Taking
     * them anyway would stop a command its parent asked to keep running. */
    const int sigs[] = {SIGINT, SIGTERM};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction old;
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
            continue;
        sigaction(sigs[i], &sa, NULL);
    }
    /* a command that says what Ctrl-C and SIGTERM do takes them also when started with them
     * blocked (a mask is inherited through exec): one sent before the handler was in place
     * is taken now, by it */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_UNBLOCK, &stop, NULL);
}

bool sky__cli_wait_readable(int fd)
{
    sigset_t stop, outside;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, &outside);
    bool go;
    while ((go = !stop_flag)) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = ppoll(&p, 1, NULL, &outside);
        if (r > 0 || (r < 0 && errno != EINTR))
            break;
    }
    pthread_sigmask(SIG_SETMASK, &outside, NULL);
    return go;
}

bool sky__cli_stopping(void) { return stop_flag != 0; }
volatile sig_atomic_t *sky__cli_stop_flag(void) { return &stop_flag; }
int sky__cli_stop_signal(void) { return atomic_load(&stop_signal); }
int sky__cli_stop_count(void) { return atomic_load(&stop_count); }

const char *sky__cli_signal_name(int sig)
{
    return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal";
}

int sky__cli_interrupted(const char *cmd)
{
    int sig = sky__cli_stop_signal();
    if (!sig)
        return 0;
    fflush(stdout); /* what was printed before the signal goes out whole, before the line */
    fprintf(stderr, "skylog %s: interrupted by %s\n", cmd, sky__cli_signal_name(sig));
    return 128 + sig;
}

/* The default rule: STALL_FAILURES or more attempts failed in a row, the first of them STALL_MS
 * ago or more (sky_cwl_stats.failures_in_a_row, failing_since_mono_ms: a delivery, a refusal of
 * the events themselves or a throttling answer ends the run, the service is there). Both are
 * needed: on a slow or loaded machine, or through a run of resets, 10 s can pass between
 * deliveries of a service that works, and a dead endpoint fails this many attempts within the
 * sink's backoff schedule. Only attempts that failed count, never time spent waiting: however
 * long the sink waits out a backoff (after throttling too), ship does not give up before it
 * tried again. --give-up-after N is for whoever wants a dead endpoint reported in a second, not
 * a minute (CI, tests): N attempts, however quickly they failed. */
#define STALL_MS 10000LL
#define STALL_FAILURES 12u

bool sky__cli_delivery_stalled(const sky_cwl_stats *st, uint64_t give_up_after,
                               int64_t now_mono_ms)
{
    if (give_up_after)
        return st->failures_in_a_row >= give_up_after;
    return st->failures_in_a_row >= STALL_FAILURES &&
           now_mono_ms - st->failing_since_mono_ms >= STALL_MS;
}

bool sky__cli_retry_too_late(const sky_cwl_stats *st, int64_t deadline_mono_ms)
{
    /* retry_at_mono_ms is 0 while an attempt is being sent (it may yet succeed) and when
     * nothing failed */
    return st->queued_events && st->retry_at_mono_ms > deadline_mono_ms;
}

int sky__cli_sub_usage(const char *cmd, const char *sub, const char *fmt, const char *what)
{
    fprintf(stderr, "skylog %s%s%s: ", cmd, sub ? " " : "", sub ? sub : "");
    fprintf(stderr, fmt, what);
    fprintf(stderr, " (see skylog %s --help)\n", cmd);
    return SKY_EXIT_USAGE;
}

bool sky__cw_stat_basic(const char *s)
{
    static const char *const basic[] = {"SampleCount", "Average", "Sum", "Minimum", "Maximum"};
    for (size_t i = 0; i < sizeof basic / sizeof *basic; i++)
        if (strcmp(basic[i], s) == 0)
            return true;
    return false;
}

/* p0 to p100 with up to 10 digits after the point, as CloudWatch's ExtendedStatistic; a digit
 * first, so strtod's signs, spaces and "p.5" are not accepted. */
bool sky__cw_stat_percentile(const char *s)
{
    if (s[0] != 'p' || !(s[1] >= '0' && s[1] <= '9'))
        return false;
    char *end;
    double v = strtod(s + 1, &end);
    const char *dot = strchr(s, '.');
    return !*end && v >= 0 && v <= 100 && (!dot || strlen(dot + 1) <= 10);
}

bool sky__cw_name_ok(const char *s) { return s && strlen(s) >= 1 && strlen(s) <= 255; }

bool sky__cw_dimension_add(json_t *dims, const char *arg, bool bare_ok)
{
    const char *eq = strchr(arg, '=');
    size_t klen = eq ? (size_t)(eq - arg) : strlen(arg);
    if (klen < 1 || klen > 255 || (!eq && !bare_ok) ||
        (eq && (strlen(eq + 1) < 1 || strlen(eq + 1) > 1024)))
        return false;
    json_t *d = json_pack("{s:s%}", "Name", arg, klen);
    if (d && eq)
        json_object_set_new(d, "Value", json_string(eq + 1));
    return d && json_array_append_new(dims, d) == 0;
}
