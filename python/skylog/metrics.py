"""skylog.metrics - counters, gauges, histograms and timers from Python, aggregated by libskylog
and published by the metrics sinks of your configuration (metrics_cloudwatch: PutMetricData,
metrics_emf: Embedded Metric Format, metrics_statsd), as the C library's are (docs/METRICS.md).

    import skylog
    skylog.configure(yaml=\"\"\"
    sinks:
      - console: {}
      - metrics_cloudwatch: { flush_interval_ms: 60s }
    \"\"\")
    skylog.set_namespace("Shop")
    orders = skylog.counter("Orders", dimensions={"Region": "eu"})
    orders.add()
    with skylog.track_operation("checkout"):        # Duration, Success/Failure, one event
        ...
    @skylog.timed("DatabaseQueryTime")
    def fetch(user_id): ...

Recording is a call into C that adds to the calling thread's own shard (no lock, no Python
object kept per value): one million add() calls make one datum per interval. Instruments are
identified by namespace, name and dimensions: asking twice gives the same one. Values that are
not finite numbers are refused by the registry (counted in skylog.metrics_stats()["invalid"]).
Metrics are published at each interval and by skylog.flush() / skylog.close() of a pipeline
whose configuration has a metrics sink.
"""

import functools
import logging
import os
import threading
import time

from skylog._skylog import Metric, metrics_stats

__all__ = ["Counter", "Gauge", "Histogram", "Timer", "counter", "gauge", "histogram", "timer",
           "timed", "track_operation", "set_namespace", "metrics_stats"]

_COUNTER, _GAUGE, _HISTOGRAM = 0, 1, 2
_TIME_UNITS = {"Seconds": 1e9, "Milliseconds": 1e6, "Microseconds": 1e3}
_namespace = None
_ns_lock = threading.Lock()


def set_namespace(namespace):
    """The namespace of instruments made without one (default: the SKYLOG_METRICS_NAMESPACE
    environment variable)."""
    global _namespace
    with _ns_lock:
        _namespace = namespace


def _ns(namespace):
    ns = namespace or _namespace or os.environ.get("SKYLOG_METRICS_NAMESPACE")
    if not ns:
        raise ValueError("no metrics namespace: pass namespace=..., call "
                         "skylog.set_namespace(...) or set SKYLOG_METRICS_NAMESPACE")
    return ns


def _dims(dimensions):
    if not dimensions:
        return ()
    items = dimensions.items() if isinstance(dimensions, dict) else dimensions
    return tuple((str(k), str(v)) for k, v in items)


class _Instrument:
    __slots__ = ("_m", "namespace", "name", "unit", "dimensions")
    _kind = None

    def __init__(self, name, *, namespace=None, unit="None", dimensions=None,
                 high_resolution=False):
        self.namespace = _ns(namespace)
        self.name = name
        self.unit = unit
        self.dimensions = _dims(dimensions)
        self._m = Metric(self.namespace, name, self._kind, unit, self.dimensions,
                         high_resolution)

    def __repr__(self):
        return (f"<skylog.{type(self).__name__} {self.namespace}/{self.name} "
                f"{dict(self.dimensions)} {self.unit}>")


class Counter(_Instrument):
    """The sum of add() over each interval (CloudWatch Sum, one datum)."""
    __slots__ = ()
    _kind = _COUNTER

    def __init__(self, name, *, namespace=None, unit="Count", dimensions=None,
                 high_resolution=False):
        super().__init__(name, namespace=namespace, unit=unit, dimensions=dimensions,
                         high_resolution=high_resolution)

    def add(self, value=1):
        self._m.add(value)

    inc = add


class Gauge(_Instrument):
    """The last value set in each interval."""
    __slots__ = ()
    _kind = _GAUGE

    def set(self, value):
        self._m.set(value)


class Histogram(_Instrument):
    """Every value recorded: exact count, sum, min and max, and values with counts (exact up to
    150 distinct a interval, then buckets within 1%), so percentiles work in CloudWatch."""
    __slots__ = ()
    _kind = _HISTOGRAM

    def record(self, value):
        self._m.record(value)


class _Timing:
    """A running timing: a context manager (and, through Timer.time(), a decorator)."""
    __slots__ = ("_timer", "_t0")

    def __init__(self, timer):
        self._timer = timer

    def __enter__(self):
        self._t0 = time.perf_counter_ns()
        return self

    def __exit__(self, *exc):
        self._timer.record_ns(time.perf_counter_ns() - self._t0)
        return False


class Timer(Histogram):
    """A histogram of durations in a time unit (default Milliseconds)."""
    __slots__ = ()

    def __init__(self, name, *, namespace=None, unit="Milliseconds", dimensions=None,
                 high_resolution=False):
        if unit not in _TIME_UNITS:
            raise ValueError(f"a timer's unit is Seconds, Milliseconds or Microseconds, not {unit!r}")
        super().__init__(name, namespace=namespace, unit=unit, dimensions=dimensions,
                         high_resolution=high_resolution)

    def record_ns(self, ns):
        self._m.record_ns(int(ns))

    def record_seconds(self, seconds):
        self._m.record_ns(int(seconds * 1e9))

    def time(self):
        """`with timer.time(): ...` records the block's duration; `@timer.time()` each call's."""
        return _TimingFactory(self)


class _TimingFactory:
    __slots__ = ("_timer", "_cur")

    def __init__(self, timer):
        self._timer = timer
        self._cur = None

    def __enter__(self):
        self._cur = _Timing(self._timer).__enter__()
        return self._cur

    def __exit__(self, *exc):
        return self._cur.__exit__(*exc)

    def __call__(self, func):
        timer = self._timer

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with _Timing(timer):
                return func(*args, **kwargs)
        return wrapper


def counter(name, **kw):
    return Counter(name, **kw)


def gauge(name, **kw):
    return Gauge(name, **kw)


def histogram(name, **kw):
    return Histogram(name, **kw)


def timer(name, **kw):
    return Timer(name, **kw)


def timed(name, **kw):
    """Seed 003's log_execution_time: a decorator (or `with`) recording each call's duration
    in the timer `name` (Milliseconds)."""
    return Timer(name, **kw).time()


_op_log = logging.getLogger("skylog.operation")


class track_operation:
    """Seed 003's track_operation, as a context manager and a decorator:

        with skylog.track_operation("DatabaseWrite"):
            db.save(data)

        @skylog.track_operation("DatabaseWrite")
        def save(data): ...

    records, in the namespace, `Duration` (Milliseconds) and `Success` or `Failure` (Count,
    Failure when the block raised), each with the dimension Operation=<operation>, and logs
    one event "operation" (fields operation, duration_ms, success; INFO, or ERROR on failure)
    to `logger` (default "skylog.operation"), so the thread's skylog.context() is on it, as
    the C library's SKY_TRACK_OPERATION does. The exception is never swallowed. `log=False`
    records the metrics only."""

    __slots__ = ("operation", "_duration", "_success", "_failure", "_log", "__weakref__")

    def __init__(self, operation, *, namespace=None, logger=None, log=True):
        dims = (("Operation", operation),)
        ns = _ns(namespace)
        self.operation = operation
        self._duration = Metric(ns, "Duration", _HISTOGRAM, "Milliseconds", dims, False)
        self._success = Metric(ns, "Success", _COUNTER, "Count", dims, False)
        self._failure = Metric(ns, "Failure", _COUNTER, "Count", dims, False)
        if not log:
            self._log = None
        elif logger is None:
            self._log = _op_log
        else:
            self._log = logging.getLogger(logger) if isinstance(logger, str) else logger

    def _end(self, t0, failed):
        ns = time.perf_counter_ns() - t0
        self._duration.record_ns(ns)
        (self._failure if failed else self._success).add(1)
        if self._log is not None:
            # stacklevel 3: the module, func and line of the code that ran the operation
            self._log.log(logging.ERROR if failed else logging.INFO, "operation", extra={
                "operation": self.operation, "duration_ms": ns / 1e6, "success": not failed},
                stacklevel=3)

    def __enter__(self):
        # one object may be entered by several threads at once (one made at import time and
        # shared): each entry's start time is kept on the thread's own stack of entries
        stack = _starts.__dict__.setdefault(id(self), [])
        stack.append(time.perf_counter_ns())
        return self

    def __exit__(self, exc_type, exc, tb):
        stack = _starts.__dict__.get(id(self))
        t0 = stack.pop()
        if not stack:
            del _starts.__dict__[id(self)]
        self._end(t0, exc_type is not None)
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter_ns()
            failed = True
            try:
                result = func(*args, **kwargs)
                failed = False
                return result
            finally:
                self._end(t0, failed)
        return wrapper


_starts = threading.local()
