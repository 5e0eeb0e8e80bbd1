/*
 * status.c - status codes, level names and clocks: the small vocabulary every layer shares.
 * Pure functions, no state.
 */
#include <skylog.h>

#include <strings.h>
#include <time.h>

const char *sky_version(void) { return SKYLOG_VERSION; }

int sky_abi_version(void) { return SKYLOG_ABI_VERSION; }

const char *sky_strerror(sky_status s)
{
    switch (s) {
    case SKY_OK: return "ok";
    case SKY_EINVAL: return "invalid argument";
    case SKY_ENOMEM: return "out of memory";
    case SKY_EIO: return "input/output error";
    case SKY_ETIMEDOUT: return "timed out";
    case SKY_ECLOSED: return "closed";
    case SKY_ENOTFOUND: return "not found";
    case SKY_EFULL: return "queue full";
    case SKY_EUNSUPPORTED: return "not supported";
    case SKY_ENET: return "network error";
    case SKY_EAUTH: return "authentication failed";
    case SKY_EPROTO: return "protocol error";
    case SKY_EREMOTE: return "remote service error";
    case SKY_ETHROTTLED: return "throttled";
    case SKY_ELIMIT: return "limit exceeded";
    case SKY_EINTERNAL: return "internal error";
    case SKY_STATUS_COUNT_: break;
    }
    return "unknown status";
}

static const char *const level_names[SKY_LEVEL_COUNT_] = {
    "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "CRITICAL", "OFF",
};

const char *sky_level_name(sky_level level)
{
    if ((unsigned)level >= SKY_LEVEL_COUNT_)
        return "?";
    return level_names[level];
}

sky_status sky_level_parse(const char *text, sky_level *out)
{
    static const struct {
        const char *name;
        sky_level level;
    } names[] = {
        {"trace", SKY_LEVEL_TRACE}, {"debug", SKY_LEVEL_DEBUG},       {"info", SKY_LEVEL_INFO},
        {"warn", SKY_LEVEL_WARN},   {"warning", SKY_LEVEL_WARN},      {"error", SKY_LEVEL_ERROR},
        {"err", SKY_LEVEL_ERROR},   {"critical", SKY_LEVEL_CRITICAL}, {"fatal", SKY_LEVEL_CRITICAL},
        {"off", SKY_LEVEL_OFF},     {"none", SKY_LEVEL_OFF},
    };
    if (!text || !out)
        return SKY_EINVAL;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(text, names[i].name) == 0) {
            *out = names[i].level;
            return SKY_OK;
        }
    }
    return SKY_EINVAL;
}

const char *sky_drop_reason_name(sky_drop_reason r)
{
    switch (r) {
    case SKY_DROP_PROCESSOR: return "processor";
    case SKY_DROP_OVERFLOW: return "overflow";
    case SKY_DROP_NO_SINK: return "no_sink";
    case SKY_DROP_SINK_ERROR: return "sink_error";
    case SKY_DROP_CLOSED: return "closed";
    case SKY_DROP_TOO_LARGE: return "too_large";
    case SKY_DROP_REASON_COUNT_: break;
    }
    return "unknown";
}

int64_t sky_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t sky_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
