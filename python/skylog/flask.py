"""skylog.flask - one event per Flask request, and the request id in every event logged
while the request runs.

    from flask import Flask
    import skylog, skylog.flask
    app = Flask(__name__)
    skylog.flask.init_app(app)

For each request: the request id is the incoming X-Request-ID header when it is a sane token
(1-128 characters of [A-Za-z0-9._:-]), else a new uuid4 hex; it is put in skylog.context()
(so every event logged by the view and what it calls carries "request_id"), in flask.g.request_id
and in the response's X-Request-ID header. When the response is ready one event is logged, to
the logger "skylog.flask" (propagating to the handlers you set up, skylog.Handler among them):
message "request", fields request_id, method, path, status, duration_ms (a float), at INFO,
WARNING for 4xx, ERROR for 5xx (a view that raised gives 500).

Metrics, as seed 003's middleware: RequestCount (Count; dimensions Method, Endpoint,
StatusCode) and ResponseTime (Milliseconds; dimension Endpoint) in `namespace` (default:
skylog.set_namespace()'s, else the app's name), published by the metrics sinks of your
configuration (docs/METRICS.md). Endpoint is the matched URL rule ("/users/<int:id>"), never
the raw path, so ids in paths do not become metrics; requests that match no rule (404, 405)
count as "unmatched". Method is one of HTTP's (GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS,
TRACE, PATCH), any other a client sends counting as "_OTHER" (OpenTelemetry's rule): what a
client chooses never becomes a new metric series. `metrics=False` turns them off.
"""

import logging
import re
import time
import uuid

import skylog
import skylog.metrics

_TOKEN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# RFC 9110's methods and PATCH (RFC 5789); a client may send any token as a method
_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE",
                      "PATCH"))


def init_app(app, *, logger="skylog.flask", header="X-Request-ID", namespace=None,
             metrics=True):
    from flask import g, request

    log = logging.getLogger(logger) if isinstance(logger, str) else logger
    ns = None
    if metrics:
        try:
            ns = skylog.metrics._ns(namespace)
        except ValueError:
            ns = app.name
    counts, times = {}, {}

    def record(method, status, ms):
        method = method if method in _METHODS else "_OTHER"
        rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
        key = (method, rule, status)
        c = counts.get(key)
        if c is None:
            c = counts[key] = skylog.Counter("RequestCount", namespace=ns, dimensions=(
                ("Method", method), ("Endpoint", rule), ("StatusCode", str(status))))
        t = times.get(rule)
        if t is None:
            t = times[rule] = skylog.Histogram("ResponseTime", namespace=ns,
                                               unit="Milliseconds",
                                               dimensions=(("Endpoint", rule),))
        c.add(1)
        t.record(ms)

    @app.before_request
    def _skylog_start():
        rid = request.headers.get(header, "")
        if not _TOKEN.match(rid):
            rid = uuid.uuid4().hex
        g.request_id = rid
        g._skylog_start = time.perf_counter()
        g._skylog_token = skylog._context.set({**skylog._context.get(), "request_id": rid})

    @app.after_request
    def _skylog_log(response):
        start = g.get("_skylog_start")
        if start is None:  # a before_request handler before ours failed
            return response
        status = response.status_code
        ms = (time.perf_counter() - start) * 1000.0
        level = logging.ERROR if status >= 500 else logging.WARNING if status >= 400 else logging.INFO
        log.log(level, "request", extra={
            "method": request.method, "path": request.path, "status": status,
            "duration_ms": ms,
        })
        if ns is not None:
            record(request.method, status, ms)
        response.headers[header] = g.request_id
        return response

    @app.teardown_request
    def _skylog_end(exc):
        token = g.pop("_skylog_token", None)
        if token is not None:
            try:
                skylog._context.reset(token)
            except ValueError:  # reset from another context (a streamed response's thread)
                pass

    return app
