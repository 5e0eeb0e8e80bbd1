"""skylog for Python: logging handlers over libskylog.

Design: the Python side only decides what an event is (a LogRecord's message, level, callsite,
exception, `extra` fields, the current skylog.context()); the C side (skylog._skylog, which
contains libskylog) copies it into the async ring of a pipeline, and libskylog's own threads
render, batch and send it without the GIL. So a log call costs the application about one
LogRecord and one copy, whatever the sinks do.

    import logging, skylog
    logging.getLogger().addHandler(skylog.Handler())   # the default pipeline (SKYLOG_* env)
    with skylog.context(request_id="r-1"):
        logging.getLogger("app").info("paid %s", 42, extra={"user": "ann"})

Field types (`extra`, context): str, int, float, bool and None keep their JSON type (ints
beyond 64 bits become their decimal text); dicts, lists and tuples are embedded as JSON when
json.dumps accepts them; anything else becomes its repr(). A str with lone surrogates
(undecodable bytes read with surrogateescape) is sent with backslash escapes.
"""

import atexit
import collections.abc
import contextlib
import contextvars
import datetime
import json
import logging
import os
import platform
import re
import string
import sys
import threading
import warnings
import weakref

from skylog._skylog import LIBSKYLOG_VERSION, Pipeline, SkylogError, _set_json_type
from skylog._skylog import Span as _CSpan
from skylog._skylog import trace_stats  # sky_trace_stats (docs/PYTHON.md)
from skylog.metrics import (Counter, Gauge, Histogram, Timer, counter, gauge, histogram,
                            metrics_stats, set_namespace, timed, timer, track_operation)

__all__ = [
    "Handler", "CloudWatchLogHandler", "CloudWatchLogFormatter", "WatchtowerError",
    "WatchtowerWarning", "DEFAULT_LOG_STREAM_NAME", "Pipeline", "SkylogError", "SkylogWarning", "Json",
    "configure", "context", "get_context", "flush", "close", "default_pipeline",
    "span", "Span", "current_span",
    "Counter", "Gauge", "Histogram", "Timer", "counter", "gauge", "histogram", "timer", "timed",
    "track_operation", "set_namespace", "metrics_stats", "trace_stats",
]
__version__ = LIBSKYLOG_VERSION  # the package is versioned as the libskylog it contains


class SkylogWarning(UserWarning):
    """What watchtower warns of (WatchtowerWarning is this class): a record dropped because
    its message was empty or it came after close()."""


class Json(str):
    """Text that is already JSON: embedded as is in the event (invalid JSON becomes a string)."""


_set_json_type(Json)

# ---- levels ----------------------------------------------------------------------------------

TRACE, DEBUG, INFO, WARN, ERROR, CRITICAL = range(6)


def _sky_level(levelno):
    """Python's level number -> skylog's: each standard level to its namesake, a custom level
    to the standard level at or below it (below DEBUG: TRACE)."""
    if levelno >= logging.CRITICAL:
        return CRITICAL
    if levelno >= logging.ERROR:
        return ERROR
    if levelno >= logging.WARNING:
        return WARN
    if levelno >= logging.INFO:
        return INFO
    if levelno >= logging.DEBUG:
        return DEBUG
    return TRACE


# ---- context ---------------------------------------------------------------------------------

_context = contextvars.ContextVar("skylog_context", default={})


@contextlib.contextmanager
def context(**fields):
    """Adds `fields` to every event logged in this block, by this thread or asyncio task (a
    context variable: each task and thread has its own; a task created inside the block starts
    with it). Blocks nest; an inner key wins. Also a decorator."""
    merged = dict(_context.get())
    merged.update(fields)
    token = _context.set(merged)
    try:
        yield
    finally:
        _context.reset(token)


def get_context():
    """The fields skylog.context() adds here, as a new dict."""
    return dict(_context.get())


# ---- spans ------------------------------------------------------------------------------------

_current_span = contextvars.ContextVar("skylog_span", default=None)
_FORMATS = {"w3c": 1, "xray": 2, "plain": 4}
_KINDS = ("internal", "server", "client", "producer", "consumer")


class Span:
    """A span of libskylog's tracing (skylog/trace.h), as a context manager: skylog.span().

    Inside the block, every event logged through a skylog.Handler by this thread or asyncio
    task carries trace_id, span_id and (but for a trace's root) parent_span_id, as skylog.context()
    fields, and a span begun inside is its child. Leaving the block ends the span: libskylog
    logs span_finished (span, duration_ms, status...) to the pipeline's logger `logger`, which
    an OTLP sink exports as an OpenTelemetry Span. An exception leaving the block marks the
    span failed with "<type>: <message>", unless set_status("ok") was called. Its trace flags
    and tracestate come from the parent; a span continuing an unsampled caller is not sampled
    (it still logs, but is not exported as a Span: docs/TRACING.md)."""

    __slots__ = ("_name", "_logger", "_kind", "_headers", "_parent", "_pipeline", "_span",
                 "_ok", "_tokens")

    def __init__(self, name, *, logger="root", kind=None, headers=None, parent=None,
                 pipeline=None):
        if kind is not None and kind not in _KINDS:
            raise ValueError(f"kind must be one of {', '.join(_KINDS)}")
        if parent is not None and not isinstance(parent, Span):
            raise TypeError("parent must be a skylog.Span")
        self._name = str(name)
        self._logger = logger if isinstance(logger, str) else logger.name  # a logging.Logger
        self._kind = kind
        self._headers = headers
        self._parent = parent
        self._pipeline = pipeline
        self._span = None
        self._ok = False
        self._tokens = None

    def __enter__(self):
        if self._span is not None:
            raise RuntimeError("a Span is entered once")
        p = self._pipeline if self._pipeline is not None else default_pipeline()
        parent = self._parent if self._parent is not None else _current_span.get()
        self._span = s = _CSpan(p, self._logger, self._name,
                                parent._span if parent is not None else None, self._headers)
        if self._kind is not None:
            s.set_kind(self._kind)
        ctx = dict(_context.get())
        ctx["trace_id"], ctx["span_id"] = s.trace_id, s.span_id
        if s.parent_span_id is not None:
            ctx["parent_span_id"] = s.parent_span_id
        else:
            ctx.pop("parent_span_id", None)  # a root inside another trace's span
        self._tokens = (_context.set(ctx), _current_span.set(self))
        return self

    def __exit__(self, et, ev, tb):
        ctx_token, span_token = self._tokens
        try:
            if et is not None and not self._ok:
                self._span.fail(f"{et.__name__}: {ev}" if str(ev) else et.__name__)
        finally:
            _current_span.reset(span_token)
            _context.reset(ctx_token)
            self._span.end()
        return False

    def _begun(self):
        if self._span is None:
            raise RuntimeError("the span has not begun: use it in a with block")
        return self._span

    def fail(self, message=None):
        """Marks the span failed (status ERROR), with `message` (cut to 127 bytes)."""
        self._ok = False
        self._begun().fail(None if message is None else str(message))

    def set_status(self, status):
        """"unset", "ok" (explicitly successful: OTLP's STATUS_CODE_OK) or "error"."""
        self._begun().set_status(status)
        self._ok = status == "ok"

    def set_kind(self, kind):
        """"internal" (the default), "server", "client", "producer" or "consumer"."""
        self._begun().set_kind(kind)

    def headers(self, *formats):
        """The headers that carry this span to a service it calls, as a dict: formats "w3c"
        (traceparent, tracestate: the default), "xray" (X-Amzn-Trace-Id), "plain"
        (X-Trace-Id, X-Span-Id, X-Parent-Span)."""
        mask = 0
        for f in formats or ("w3c",):
            if f not in _FORMATS:
                raise ValueError(f"unknown header format {f!r} (w3c, xray, plain)")
            mask |= _FORMATS[f]
        return self._begun().headers(mask)

    trace_id = property(lambda self: self._begun().trace_id, doc="32 lower-case hex digits")
    span_id = property(lambda self: self._begun().span_id, doc="16 lower-case hex digits")
    parent_span_id = property(lambda self: self._begun().parent_span_id,
                              doc="the parent span's id; None for a trace's root")
    trace_flags = property(lambda self: self._begun().trace_flags,
                           doc="W3C trace flags: bit 0 (1) is sampled")
    sampled = property(lambda self: bool(self._begun().trace_flags & 1))
    tracestate = property(lambda self: self._begun().tracestate,
                          doc="the W3C tracestate carried ('' for none)")
    name = property(lambda self: self._name)


def span(name, *, logger="root", kind=None, headers=None, parent=None, pipeline=None):
    """A span named `name` to use in a with block (see Span):

        with skylog.span("checkout", kind="server", headers=request.headers) as sp:
            log.info("cart_loaded")          # carries trace_id, span_id
            requests.get(url, headers=sp.headers())

    logger: the logger name (or a logging.Logger) span_finished is logged to; kind: "server",
    "client", "producer", "consumer" or "internal"; headers: an incoming request's headers (a
    mapping: traceparent/tracestate, X-Amzn-Trace-Id or X-Trace-Id) whose trace it continues;
    parent: a Span (default: the current one of this thread or task); pipeline: default the
    default pipeline."""
    return Span(name, logger=logger, kind=kind, headers=headers, parent=parent,
                pipeline=pipeline)


def current_span():
    """The Span whose block this thread or asyncio task is in, or None."""
    return _current_span.get()


# ---- pipelines -------------------------------------------------------------------------------

_lock = threading.RLock()
_default = None
_handlers = weakref.WeakSet()  # handlers owning a pipeline: flushed at exit, reset after fork


def configure(path=None, *, yaml=None, **options):
    """Builds the default pipeline and returns it (closing the previous default).

    - configure(): from the environment, exactly as the C library's sky_open_env(): the
      SKYLOG_* variables, or the YAML file named by SKYLOG_CONFIG. One difference: when
      SKYLOG_MODE is not set the pipeline is async (the C default is sync), so that log calls
      never wait for a sink.
    - configure("skylog.yaml") or configure(yaml="..."): a YAML description
      (docs/CONFIGURATION.md).
    - configure(level="debug", sinks=[{"file": {"path": "app.jsonl"}}], ...): the same
      document as keyword arguments (mode defaults to "async").

    Errors (a bad option, a missing file) raise SkylogError with the library's message.
    """
    given = [x for x in (path, yaml, options or None) if x is not None]
    if len(given) > 1:
        raise TypeError("configure() takes a path, yaml= or options, not several")
    if path is not None:
        p = Pipeline.from_file(os.fspath(path))
    elif yaml is not None:
        p = Pipeline.from_yaml(yaml)
    elif options:
        options.setdefault("mode", "async")
        p = Pipeline.from_yaml(json.dumps(options))  # JSON is YAML's flow style
    else:
        # async unless SKYLOG_MODE says otherwise, without writing to os.environ (another
        # thread may read or change it meanwhile)
        p = Pipeline.from_env(async_default=True)
    _set_default(p)
    return p


def _set_default(p):
    global _default
    with _lock:
        old, _default = _default, p
    if old is not None:
        old.close()


def default_pipeline():
    """The default pipeline, built by configure() on first use."""
    p = _default
    if p is None or p.closed:
        with _lock:
            if _default is None or _default.closed:
                configure()
            p = _default
    return p


def flush(timeout=5.0):
    """Waits until every event logged so far has been written by every sink (the default
    pipeline's and each handler's own), at most `timeout` seconds each. True when all were."""
    ok = True
    pipes = [h._own for h in list(_handlers) if h._own is not None]
    if _default is not None:
        pipes.append(_default)
    for p in pipes:
        ok = p.flush(int(timeout * 1000)) and ok
    return ok


def close():
    """Flushes and closes the default pipeline (a later log call makes a new one)."""
    global _default
    with _lock:
        p, _default = _default, None
    return p.close() if p is not None else True


@atexit.register
def _at_exit():
    # libskylog also flushes every open pipeline at exit(); doing it here, before the
    # interpreter tears down, keeps the order of logging.shutdown() and C's atexit irrelevant.
    try:
        flush()
    except Exception:  # pragma: no cover - exit must not fail because of logging
        pass


def _after_fork_in_child():
    # libskylog gives each pipeline a fresh worker in the child; only this module's own
    # bookkeeping of flushes in progress (threads that do not exist in the child) is reset.
    for h in list(_handlers):
        if h._own is not None:
            h._own._after_fork()
    if _default is not None:
        _default._after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)

# ---- handlers --------------------------------------------------------------------------------

# LogRecord attributes that are not `extra`: everything a bare record has, plus what
# Formatter.format() adds.
_RESERVED = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message", "asctime", "taskName"}
_PLAIN = (str, int, float, bool, type(None))


class Handler(logging.Handler):
    """A logging.Handler that turns each LogRecord into a skylog event:

    message   record.getMessage() (args applied), or self.format(record) when a formatter was
              set on the handler
    logger    record.name ("root" is skylog's root logger)
    level     DEBUG/INFO/WARNING/ERROR/CRITICAL -> DEBUG/INFO/WARN/ERROR/CRITICAL; a custom
              level maps to the standard level at or below it (below DEBUG: TRACE)
    time      record.created (when the record was made, not when the handler saw it: a
              QueueListener's or a SocketHandler receiver's events keep their own time)
    callsite  module, func, line: from record.pathname, funcName, lineno
    fields    exception (the formatted traceback) when exc_info is set;
              stack when stack_info is set; then skylog.context() fields; then `extra` fields
              (which win over context fields of the same key)

    A field named like a standard key ("level", "message", "line", ...) is written with a
    leading "_" ("_level"), never dropped. emit() holds the GIL only while the event is copied
    into the ring (with the "block" overflow policy and a full ring it waits for room, at most
    block_max_wait_ms); rendering and sending happen on libskylog's threads, without it.

    pipeline: the Pipeline to log to; default: skylog's default pipeline (configure()).
    json_default: as json.dumps(default=): used for `extra` values that are not str, int,
    float, bool, None, dict, list or tuple (they are embedded as JSON); without it such values
    are sent as their repr().

    A record that reaches the handler after its pipeline was closed (handler.close(),
    logging.shutdown() at exit, or the pipeline's own close()) is dropped, counted in
    `dropped_closed` and, like any other error in emit(), passed to handleError() (which
    prints it unless logging.raiseExceptions is False: the count stays).
    """

    def __init__(self, level=logging.NOTSET, *, pipeline=None, json_default=None):
        super().__init__(level)
        self._pipeline = pipeline
        self._own = None  # a pipeline this handler made and closes
        self._json_default = json_default
        self.dropped_closed = 0  # records dropped: the pipeline was closed (C's "closed" reason)

    @property
    def pipeline(self):
        return self._pipeline if self._pipeline is not None else default_pipeline()

    def _value(self, v):
        if isinstance(v, _PLAIN):
            return v
        if self._json_default is not None or isinstance(v, (dict, list, tuple)):
            try:
                return Json(json.dumps(v, default=self._json_default, ensure_ascii=False))
            except (TypeError, ValueError, RecursionError):
                pass
        return v  # repr() in C

    def emit(self, record):
        p = None
        try:
            p = self._pipeline if self._pipeline is not None else default_pipeline()
            if self.formatter is not None:
                msg = self.format(record)
            elif isinstance(record.msg, dict) and not record.args:
                msg = json.dumps(record.msg, default=self._json_default or repr,
                                 ensure_ascii=False)
            else:
                msg = record.getMessage()
            fields = {}
            if record.exc_info and record.exc_info[0] is not None:
                if not record.exc_text:
                    record.exc_text = _exc_formatter.formatException(record.exc_info)
                fields["exception"] = record.exc_text
            elif record.exc_text:
                fields["exception"] = record.exc_text
            if record.stack_info:
                fields["stack"] = record.stack_info
            ctx = _context.get()
            if ctx:
                for k, v in ctx.items():
                    fields[k] = self._value(v)
            for k, v in record.__dict__.items():
                if k not in _RESERVED and k[:1] != "_":
                    fields[k] = self._value(v)
            created = getattr(record, "created_ns", None)  # Python 3.13+
            if created is None:  # seconds and fraction apart: a float of ns would round
                whole = int(record.created)
                created = whole * 1000000000 + round((record.created - whole) * 1e9)
            p.emit(record.name, _sky_level(record.levelno), msg, tuple(fields.items()),
                   record.pathname, record.funcName, record.lineno or 0, created)
        except RecursionError:
            raise
        except Exception:
            # checked only here: a closed pipeline's emit raises, so the log call pays nothing;
            # emit runs under the handler's lock (logging.Handler.handle)
            if p is not None and p.closed:
                self.dropped_closed += 1
            self.handleError(record)

    def flush(self):
        p = self._own if self._own is not None else self._pipeline
        if p is not None and not p.closed:
            p.flush()

    def close(self):
        # a pipeline the handler made is closed with it; a shared one is only flushed
        try:
            if self._own is not None:
                self._own.close()
            elif self._pipeline is not None and not self._pipeline.closed:
                self._pipeline.flush()
        finally:
            super().close()


_exc_formatter = logging.Formatter()

# ---- watchtower compatibility ----------------------------------------------------------------
#
# `import skylog as watchtower` must leave a watchtower program's CloudWatch data as it was: the
# same text per event (CloudWatchLogFormatter: the record formatted by logging.Formatter, a
# dict message as JSON), the same stream names (the template formatted per record), the same
# group, retention and batching. What differs is who sends: libskylog's C sink, off the GIL.
# docs/PYTHON.md "watchtower" has the table, argument by argument; python/tests checks it.

DEFAULT_LOG_STREAM_NAME = "{machine_name}/{program_name}/{logger_name}/{process_id}"
_DEFAULT_LOG_GROUP_NAME = "watchtower"  # watchtower's default: its module's __name__
WatchtowerWarning = SkylogWarning  # watchtower's warning class, by its name


class WatchtowerError(Exception):
    """watchtower's exception, raised for the argument conflicts watchtower refuses (both a
    deprecated name and its replacement; both boto3_client and boto3_profile_name)."""


_AWS_MAX_BATCH_BYTES = 1048576
_EVENT_OVERHEAD = 26  # bytes CloudWatch adds to each message's UTF-8 (watchtower's too)
_STREAM_KEYS = ("machine_name", "program_name", "process_id", "thread_name", "logger_name",
                "strftime")


def _json_serialize_default(o):
    """watchtower's default for values json.dumps cannot encode: dates as isoformat(), the rest
    as repr()."""
    if isinstance(o, (datetime.date, datetime.datetime)):
        return o.isoformat()
    return repr(o)


class CloudWatchLogFormatter(logging.Formatter):
    """The formatter a CloudWatchLogHandler starts with, as watchtower's: a record whose msg is
    a mapping becomes its JSON (json.dumps with json_serialize_default, default: dates as
    isoformat(), anything else repr()); any other record is formatted by logging.Formatter
    (the message, then the traceback when exc_info is set).

    add_log_record_attrs (an argument or attribute, e.g. handler.formatter.add_log_record_attrs
    = ["levelname", "process"]): those LogRecord attributes are added to the JSON; a message
    that is not a mapping is then sent as {"msg": record.msg, ...}. Unlike watchtower, the
    record and the caller's dict are not changed (other handlers see them as logged)."""

    add_log_record_attrs = ()

    def __init__(self, *args, json_serialize_default=None, add_log_record_attrs=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.json_serialize_default = json_serialize_default or _json_serialize_default
        if add_log_record_attrs is not None:
            self.add_log_record_attrs = add_log_record_attrs

    def format(self, record):
        msg = record.msg
        if self.add_log_record_attrs:
            msg = dict(msg) if isinstance(msg, collections.abc.Mapping) else {"msg": msg}
            for name in self.add_log_record_attrs:
                if name != "msg":
                    msg[name] = getattr(record, name)
        if isinstance(msg, collections.abc.Mapping):
            return json.dumps(msg, default=self.json_serialize_default)
        return super().format(record)


def _boto_debug_filter(record):
    # watchtower's filter, kept for the same result: botocore's and urllib3's DEBUG records
    # never reach CloudWatch through this handler
    return not (record.levelno == logging.DEBUG and
                record.name.startswith(("botocore", "urllib3")))


def _boto_filter(record):
    # ... and none of theirs once flush() or close() was called (watchtower's shutdown filter)
    return not record.name.startswith(("botocore", "urllib3"))


def _stream_template(name):
    """watchtower's log_stream_name template -> the CloudWatch sink's (structured=True)."""
    program = (sys.argv[0] if getattr(sys, "argv", None) else "").replace(":", "")
    fields = {"machine_name": "{hostname}", "process_id": "{pid}", "logger_name": "{logger}"}

    def sub(m):
        key, spec = m.group(1), m.group(2)
        if key == "strftime":
            return "{strftime" + (spec or ":%Y-%m-%dT%H:%M:%S") + "}"
        if spec:
            raise ValueError(f"log_stream_name: format spec not supported on {{{key}}} with "
                             "structured=True")
        if key in fields:
            return fields[key]
        if key == "program_name":
            return program.replace("{", "_").replace("}", "_")
        if key == "thread_name":
            raise ValueError("log_stream_name: {thread_name} is not supported with "
                             "structured=True (one stream per process, or per logger with "
                             "{logger_name}); without it, streams per thread work as in "
                             "watchtower")
        raise ValueError(f"log_stream_name: unknown placeholder {{{key}}}; watchtower's are "
                         + ", ".join(_STREAM_KEYS))
    return re.sub(r"\{([a-z_]+)(:[^}]*)?\}", sub, name)


def _check_stream_template(name):
    """Formats `name` once as each record will be, so that a mistake is an error here rather
    than a failed emit per record (watchtower: handleError at every log call)."""
    if not isinstance(name, str):
        raise TypeError(f"log_stream_name must be a str, not {type(name).__name__}")
    try:
        name.format(machine_name="m", program_name="p", process_id=1, thread_name="t",
                    logger_name="l", strftime=datetime.datetime.now(datetime.timezone.utc))
    except (KeyError, IndexError) as e:
        raise ValueError(f"log_stream_name {name!r}: unknown placeholder {e}; watchtower's are "
                         + ", ".join(_STREAM_KEYS)) from None
    except ValueError as e:
        raise ValueError(f"log_stream_name {name!r}: {e}") from None
    used = {f for _, f, _, _ in string.Formatter().parse(name) if f}
    return {f.split(".")[0].split("[")[0] for f in used}


def _seconds(v, what):
    if isinstance(v, datetime.timedelta):
        v = v.total_seconds()
    if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
        raise ValueError(f"{what} must be a number of seconds or a timedelta, not {v!r}")
    return v


class CloudWatchLogHandler(Handler):
    """watchtower.CloudWatchLogHandler with its events sent by libskylog's CloudWatch Logs sink
    (in C, off the GIL) instead of a Python thread per stream: `import skylog as watchtower`
    (and, in a logging dictConfig, "class": "skylog.CloudWatchLogHandler").

    The same constructor (every argument, default and deprecated alias), and the same data in
    CloudWatch: each record is sent as the text its formatter makes (CloudWatchLogFormatter:
    the message, its traceback, a dict as JSON), to the stream named by log_stream_name
    formatted per record ({machine_name} {program_name} {logger_name} {process_id}
    {thread_name} {strftime:FMT}, UTC now), with watchtower's timestamp (record.created), cut
    at max_message_size - 26 bytes. docs/PYTHON.md "watchtower" maps every argument and
    behaviour, and says where skylog differs.

    Refused with an error instead of ignored: an unknown stream placeholder, batch limits
    beyond PutLogEvents' own. log_group_tags are set through boto3 (watchtower's dependency),
    the one control call not made in C.

    skylog additions (keyword only): endpoint_url and region_name (as boto3's), level, and
    structured=True: send skylog's JSON event instead (message, level, logger, module, func,
    line, exception, skylog.context() and `extra` fields: skylog.Handler's event) with
    log_stream_name mapped onto the sink's template ({thread_name} refused, {strftime} taken
    when the handler is made unless the template has {logger_name}).

    Where watchtower warns (WatchtowerWarning), skylog counts: self.pipeline.stats() has
    ["python"]["truncated"] (messages cut to max_message_size) and ["cloudwatch"] (failures,
    retries, throttles, drops, rejects, also reported on stderr by the C sink); records
    dropped because their message was empty are in self.dropped_empty and those logged after
    close() in self.dropped_closed (both also warned, as watchtower does).
    """

    def __init__(self, log_group_name=_DEFAULT_LOG_GROUP_NAME, log_stream_name=DEFAULT_LOG_STREAM_NAME,
                 use_queues=True, send_interval=60, max_batch_size=_AWS_MAX_BATCH_BYTES,
                 max_batch_count=10000, boto3_client=None, boto3_profile_name=None,
                 create_log_group=True, log_group_tags={}, json_serialize_default=None,
                 log_group_retention_days=None, create_log_stream=True,
                 max_message_size=256 * 1024, log_group=None, stream_name=None, *args,
                 endpoint_url=None, region_name=None, structured=False, level=logging.NOTSET,
                 **kwargs):
        if len(args) == 1 and level == logging.NOTSET:  # watchtower passes *args to Handler
            level, args = args[0], ()
        if args or kwargs:
            raise TypeError("CloudWatchLogHandler: unexpected arguments "
                            f"{list(args) + sorted(kwargs)}")
        # the conflicts watchtower refuses, refused alike
        if log_group is not None:
            if log_group_name != _DEFAULT_LOG_GROUP_NAME:
                raise WatchtowerError("Both log_group_name and deprecated log_group parameter "
                                      "specified")
            warnings.warn("Please use log_group_name instead of log_group", DeprecationWarning,
                          2)
            log_group_name = log_group
        if stream_name is not None:
            if log_stream_name != DEFAULT_LOG_STREAM_NAME:
                raise WatchtowerError("Both log_stream_name and deprecated stream_name "
                                      "parameter specified")
            warnings.warn("Please use log_stream_name instead of stream_name",
                          DeprecationWarning, 2)
            log_stream_name = stream_name
        if boto3_client is not None and boto3_profile_name is not None:
            raise WatchtowerError("Either boto3_client or boto3_profile_name can be specified, "
                                  "but not both")
        if not isinstance(max_batch_size, int) or not 1 <= max_batch_size <= _AWS_MAX_BATCH_BYTES:
            raise ValueError(f"max_batch_size must be 1..{_AWS_MAX_BATCH_BYTES} bytes "
                             f"(PutLogEvents' limit), not {max_batch_size!r}")
        if not isinstance(max_batch_count, int) or not 1 <= max_batch_count <= 10000:
            raise ValueError(f"max_batch_count must be 1..10000 (PutLogEvents' limit), "
                             f"not {max_batch_count!r}")
        if (not isinstance(max_message_size, int) or isinstance(max_message_size, bool) or
                max_message_size <= _EVENT_OVERHEAD):
            raise ValueError("max_message_size must be an int above 26 (the bytes CloudWatch "
                             f"adds to each event), not {max_message_size!r}")
        interval = _seconds(send_interval, "send_interval")
        used = _check_stream_template(log_stream_name)
        # watchtower's attributes, for code that reads them back
        self.log_group_name = log_group_name
        self.log_stream_name = log_stream_name
        self.use_queues = use_queues
        self.send_interval = send_interval
        self.max_batch_size = max_batch_size
        self.max_batch_count = max_batch_count
        self.max_message_size = max_message_size
        self.create_log_group = create_log_group
        self.create_log_stream = create_log_stream
        self.log_group_retention_days = log_group_retention_days
        self.json_serialize_default = json_serialize_default or _json_serialize_default
        self.cwl_client = boto3_client  # skylog makes no boto3 client of its own
        self.shutting_down = False
        self.structured = bool(structured)
        self.dropped_empty = 0  # records whose message was "" (watchtower: warned, not sent)
        opts = {
            "log_group": log_group_name,
            # text events: the stream is named per record (below), and given to the sink as
            # the event's logger name, which nothing else in a message-only event shows
            "log_stream": _stream_template(log_stream_name) if structured else "{logger}",
            "message_only": not structured,
            "no_create_group": not create_log_group,
            "no_create_stream": not create_log_stream,
            "retention_days": log_group_retention_days or 0,
            "batch_size": max_batch_count,
            "max_batch_bytes": max_batch_size,
            "flush_interval_ms": max(1, int(interval * 1000)),
            "max_event_bytes": min(max_message_size + (_EVENT_OVERHEAD if structured else 0),
                                   _AWS_MAX_BATCH_BYTES),
            "sync_upload": not use_queues,
            "profile": boto3_profile_name,
            "endpoint": endpoint_url,
            "region": region_name,
        }
        if boto3_client is not None:
            opts.update(_from_boto3_client(boto3_client, opts))
        super().__init__(level, json_default=json_serialize_default)
        self.mapped_options = opts  # what the C sink was given, for inspection
        pipe = Pipeline(mode="async" if use_queues else "sync")
        try:
            pipe.add_cloudwatch(**{k: v for k, v in opts.items() if v is not None})
        except BaseException:
            pipe.close()
            raise
        if structured:
            pipe.max_message_bytes = max_message_size
        else:  # watchtower: the UTF-8 cut at max_message_size - 26, with no marker
            pipe.max_message_bytes = max_message_size - _EVENT_OVERHEAD
            pipe.truncation_marker = False
            self.setFormatter(CloudWatchLogFormatter(
                json_serialize_default=json_serialize_default))
        self.addFilter(_boto_debug_filter)
        self._pipeline = self._own = pipe
        if log_group_tags:
            try:
                _tag_log_group(boto3_client, boto3_profile_name, region_name, endpoint_url,
                               log_group_name, create_log_group, log_group_tags)
            except BaseException:
                pipe.close()
                raise
        # the stream name is watchtower's template formatted per record; one that names neither
        # thread nor time is the same for a logger in a process, so it is kept by logger name
        # (and made again in a forked worker, whose {process_id} differs, as in watchtower)
        self._per_record = bool(used & {"thread_name", "strftime"})
        self._program = (sys.argv[0] if getattr(sys, "argv", None) else "").replace(":", "")
        self._machine = platform.node()
        self._names, self._names_pid = {}, None
        _handlers.add(self)

    def _stream_name(self, record):
        pid = os.getpid()
        if self._per_record:
            return self.log_stream_name.format(
                machine_name=self._machine, program_name=self._program, process_id=pid,
                thread_name=threading.current_thread().name, logger_name=record.name,
                strftime=datetime.datetime.now(datetime.timezone.utc))
        if self._names_pid != pid:
            self._names, self._names_pid = {}, pid
        name = self._names.get(record.name)
        if name is None:
            name = self._names[record.name] = self.log_stream_name.format(
                machine_name=self._machine, program_name=self._program, process_id=pid,
                thread_name="", logger_name=record.name, strftime=None)
        return name

    def emit(self, record):
        if self.shutting_down:
            # watchtower warns and drops a record logged after close(); so does skylog, and
            # counts it
            self.dropped_closed += 1
            warnings.warn("Received message after logging system shutdown", WatchtowerWarning)
            return
        if self.structured:
            return super().emit(record)
        p = self._own
        try:
            if record.getMessage() == "":
                self.dropped_empty += 1
                warnings.warn("Received empty message. Empty messages cannot be sent to "
                              "CloudWatch Logs", WatchtowerWarning)
                return
            msg = self.format(record)
            created = int(record.created * 1000) * 1000000  # watchtower's millisecond
            p.emit(self._stream_name(record), _sky_level(record.levelno), msg, (), None, None,
                   0, created)
        except RecursionError:
            raise
        except Exception:
            if p.closed:
                self.dropped_closed += 1
            self.handleError(record)

    def __repr__(self):  # watchtower's
        return (f"{type(self).__name__}(log_group_name='{self.log_group_name}', "
                f"log_stream_name='{self.log_stream_name}')")

    def flush(self):
        self.addFilter(_boto_filter)  # addFilter adds a filter once
        super().flush()

    def close(self):
        self.addFilter(_boto_filter)
        self.shutting_down = True
        super().close()


# What watchtower does with a failed TagResource: warns. Anything else is raised from the
# constructor, as in watchtower; UnknownOperationException is an endpoint that has no tags
# (`skylog serve`), where the same warning says so.
_TAG_WARN_CODES = ("ResourceNotFoundException", "InvalidParameterException",
                   "ServiceUnavailableException", "TooManyTagsException",
                   "UnknownOperationException")


def _tag_log_group(client, profile, region, endpoint, group, create, tags):
    """watchtower's log_group_tags: when the handler is made, the group (created first, when
    create_log_group) is tagged with TagResource, through boto3 as in watchtower (skylog's C
    sink makes no control call but its own): the boto3_client given, else one of the same
    profile, region and endpoint. The group's ARN is DescribeLogGroups' (watchtower builds it
    from STS GetCallerIdentity: the same ARN, one call and one permission less)."""
    if client is None:
        try:
            import boto3
        except ImportError:
            raise ValueError("log_group_tags needs boto3 (as watchtower does) to tag the log "
                             "group: install it, or tag the group outside the application "
                             "(aws logs tag-resource) and drop the argument") from None
        client = boto3.session.Session(profile_name=profile, region_name=region).client(
            "logs", endpoint_url=endpoint)
    from botocore.exceptions import ClientError
    try:
        if create:
            try:
                client.create_log_group(logGroupName=group)
            except ClientError as e:
                if e.response.get("Error", {}).get("Code") not in (
                        "ResourceAlreadyExistsException", "OperationAbortedException"):
                    raise
        arn = None
        for page in client.get_paginator("describe_log_groups").paginate(
                logGroupNamePrefix=group):
            for g in page.get("logGroups", ()):
                if g.get("logGroupName") == group:
                    arn = g.get("logGroupArn") or re.sub(r":\*$", "", g.get("arn", ""))
        if not arn:
            raise ClientError({"Error": {"Code": "ResourceNotFoundException",
                                         "Message": f"no log group {group}"}}, "TagResource")
        client.tag_resource(resourceArn=arn, tags=dict(tags))
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") not in _TAG_WARN_CODES:
            raise
        warnings.warn(f"Failed to tag log group {group}: {e}", WatchtowerWarning, 3)


def _from_boto3_client(client, opts):
    """What skylog's sink takes from a boto3 logs client: its region, endpoint and credentials.

    Credentials: keys that do not change (given to the client, or static ones it read from the
    environment or a credentials/config file, whichever profile its session used) are copied;
    refreshable ones (an assumed role, SSO, instance or container roles) are not, skylog's own
    chain finds and refreshes them from the same sources (for a role in a named profile, pass
    boto3_profile_name instead of the client)."""
    meta = getattr(client, "meta", None)
    if meta is None or getattr(meta, "service_model", None) is None:
        raise TypeError("boto3_client must be a boto3/botocore client")
    if meta.service_model.service_name != "logs":
        raise ValueError(f"boto3_client is a '{meta.service_model.service_name}' client; "
                         "a 'logs' client is needed")
    out = {}
    if opts.get("region") is None and meta.region_name:
        out["region"] = meta.region_name
    if opts.get("endpoint") is None and meta.endpoint_url:
        out["endpoint"] = meta.endpoint_url
    creds = getattr(getattr(client, "_request_signer", None), "_credentials", None)
    try:
        from botocore.credentials import RefreshableCredentials
    except ImportError:  # pragma: no cover - a boto3 client comes with botocore
        RefreshableCredentials = ()
    if creds is not None and not isinstance(creds, RefreshableCredentials):
        frozen = creds.get_frozen_credentials()
        out["access_key_id"] = frozen.access_key
        out["secret_access_key"] = frozen.secret_key
        if frozen.token:
            out["session_token"] = frozen.token
    return out
