/*
 * operation.c - sky_operation: an operation's duration and Success/Failure counts as metrics,
 * plus one log event, logged on the caller's thread so that its scoped context applies.
 */
#include "core/errmsg.h"
#include <skylog/metrics.h>

#include <string.h>

static sky_status op_metrics_new_body(sky_metrics *m, const char *ns, const char *operation,
                                      sky_op_metrics *out, char **errmsg)
{
    memset(out, 0, sizeof *out);
    sky_dim op[] = {{"Operation", operation}};
    sky_metric_opts o = {.ns = ns, .name = "Duration", .kind = SKY_METRIC_HISTOGRAM,
                         .unit = SKY_UNIT_MILLISECONDS, .dims = op, .n_dims = 1};
    sky_status st = sky_metric_new(m, &o, &out->duration, errmsg);
    o.kind = SKY_METRIC_COUNTER;
    o.unit = SKY_UNIT_COUNT;
    o.name = "Success";
    if (st == SKY_OK)
        st = sky_metric_new(m, &o, &out->success, errmsg);
    o.name = "Failure";
    if (st == SKY_OK)
        st = sky_metric_new(m, &o, &out->failure, errmsg);
    return st;
}

sky_status sky_op_metrics_new(sky_metrics *m, const char *ns, const char *operation,
                              sky_op_metrics *out, char **errmsg)
{
    char *mine = NULL;
    sky_status st = op_metrics_new_body(m, ns, operation, out, errmsg ? errmsg : &mine);
    return sky__errmsg_route(NULL, st, mine);
}

sky_operation sky_operation_begin(sky_logger *log, const sky_op_metrics *m, const char *name)
{
    return (sky_operation){.log = log, .m = m, .name = name ? name : "operation",
                           .start_ns = sky_monotonic_ns(), .once = 1};
}

void sky_operation_end(sky_operation *op)
{
    if (!op || op->ended)
        return;
    op->ended = true;
    int64_t ns = sky_monotonic_ns() - op->start_ns;
    if (op->m) {
        sky_timer_record_ns(op->m->duration, ns);
        sky_counter_add(op->failed ? op->m->failure : op->m->success, 1);
    }
    if (op->log) {
        sky_field f[] = {sky_field_str("operation", op->name),
                         sky_field_f64("duration_ms", (double)ns / 1e6),
                         sky_field_bool("success", !op->failed)};
        sky_emit(op->log, op->failed ? SKY_LEVEL_ERROR : SKY_LEVEL_INFO, "operation", NULL, f, 3);
    }
}
