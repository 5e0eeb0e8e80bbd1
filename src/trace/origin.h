/*
 * origin.h - how an exporter knows a span's event from an application's event of the same name.
 *
 * span_finished (trace/span.c) and request (trace/request.c) are logged with a call site of
 * their own: no file, no function, and a line number no source line has. The event name alone
 * would make any application event called "request" a span by accident; the call site cannot
 * be given by accident (sky_info() and the bindings always name a file), survives the async
 * ring and the disk spool (they keep a call site's contents), and renders as nothing (the JSON
 * renderer writes no call site that names no place).
 */
#ifndef SKY_TRACE_ORIGIN_H
#define SKY_TRACE_ORIGIN_H

#include <skylog.h>
#include <skylog/trace.h>

enum { SKY__ORIGIN_NONE = 0, SKY__ORIGIN_SPAN, SKY__ORIGIN_REQUEST };

extern const sky_callsite sky__span_site;    /* span_finished */
extern const sky_callsite sky__request_site; /* request */

/* Which of the library's span events a call site marks: SKY__ORIGIN_* (by its contents, not
 * its address: a spooled event has a copy). */
int sky__span_origin(const sky_callsite *cs);

/* The W3C facts a span event carries when they are not the usual: `trace_flags` (two hex
 * digits, written into flags_hex, which must live as long as the fields) unless "01", and
 * `tracestate` when not empty. Writes at most 2 fields at f; returns how many. */
size_t sky__span_w3c_fields(const sky_trace_ctx *ctx, sky_field *f, char flags_hex[3]);

#endif
