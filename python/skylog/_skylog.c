/*
 * _skylog.c - the C half of the skylog Python package: a Pipeline type over one sky_t.
 *
 * Design: Python decides what to log (logging.Handler, context variables) and turns a record
 * into (logger, level, message, fields); this module converts the fields to sky_field views of
 * the Python objects' own UTF-8 buffers and calls sky_emit(), which copies everything into the
 * async ring before returning. Rendering, batching and sending then run on libskylog's threads,
 * which never touch Python objects or the GIL. The GIL is released where a call may wait
 * (flush, close); emit keeps it, since in async mode it is a copy into memory (only the BLOCK
 * overflow policy waits, at most block_max_wait_ms).
 *
 * Only the public API (skylog.h and the headers of include/skylog/) is used.
 *
 * Time: a LogRecord knows when it was made (record.created), which may be well before the
 * handler sees it (a QueueHandler's listener, a SocketHandler's receiver). emit() passes it as
 * a hidden field that a processor every Pipeline gets (time_proc) turns into the event's time
 * (sky_event_set_time) and removes, so sinks show the record's own time.
 *
 * Metrics: Metric objects are instruments of the process-wide registry (sky_metrics_default(),
 * which the metrics sinks of any pipeline's configuration publish); they live as long as the
 * process, so a Metric holds a plain pointer.
 *
 * Spans: a Span object holds a sky_span from begin to end (skylog/__init__.py's span() is the
 * API). It is never a thread's current span: begin takes it off the thread at once
 * (sky_span_leave), because in Python "current" belongs to a context (a thread or an asyncio
 * task; __init__.py keeps the current span in a context variable and its ids in
 * skylog.context()), and tasks interleaving on one thread would break C's per-thread order.
 * end() logs span_finished through the pipeline's logger, looked up again at that moment, so
 * a pipeline closed in between is seen (the span then ends without an event), never a freed
 * logger.
 *
 * Closing: close() takes the sky_t out of the object under the GIL before releasing it, so a
 * concurrent emit sees a closed pipeline, never a freed one; flushes in progress (GIL released)
 * are counted in `busy` and close waits for them.
 */
#define Py_LIMITED_API 0x030a0000
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <skylog.h>
#include <skylog/aws.h>
#include <skylog/cloudwatch.h>
#include <skylog/config.h>
#include <skylog/http_sink.h>
#include <skylog/metrics.h>
#include <skylog/trace.h>

#include <stddef.h>
#include <stdint.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

typedef struct {
    PyObject_HEAD
    sky_t *sky;
    PyObject *loggers;      /* dict: name (str) -> int (sky_logger *) */
    sky_sink *cw;           /* the CloudWatch sink added by add_cloudwatch, for stats */
    int busy;               /* calls running with the GIL released */
    Py_ssize_t max_message; /* bytes; longer messages are cut at a UTF-8 boundary */
    bool cut_marker;        /* a cut message ends with "...[truncated N bytes]" */
    /* messages cut to max_message, and the bytes cut off: the binding's own counters, under
     * stats()["python"] (changed with the GIL held, in emit) */
    uint64_t cut_messages, cut_bytes;
} Pipeline;

static PyObject *SkylogError;

static PyObject *raise_status(sky_status st, char *msg)
{
    PyErr_Format(SkylogError, "%s", msg ? msg : sky_strerror(st));
    free(msg);
    return NULL;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

static sky_t *take_sky(Pipeline *self)
{
    sky_t *sky = self->sky;
    self->sky = NULL;
    self->cw = NULL;
    /* a flush with the GIL released may still be using it */
    while (self->busy > 0) {
        Py_BEGIN_ALLOW_THREADS sleep_ms(1);
        Py_END_ALLOW_THREADS
    }
    return sky;
}

static void Pipeline_dealloc(PyObject *o)
{
    Pipeline *self = (Pipeline *)o;
    sky_t *sky = take_sky(self);
    if (sky) {
        Py_BEGIN_ALLOW_THREADS sky_close(sky);
        Py_END_ALLOW_THREADS
    }
    Py_XDECREF(self->loggers);
    PyTypeObject *tp = Py_TYPE(o);
    freefunc f = (freefunc)PyType_GetSlot(tp, Py_tp_free);
    f(o);
    Py_DECREF(tp);
}

#define TIME_KEY "\x1f" "created_ns" /* a key no Python field can collide with in practice */

static sky_proc_result time_proc(void *user, sky_event *ev)
{
    (void)user;
    const sky_field *f = sky_event_get(ev, TIME_KEY);
    if (f && f->type == SKY_T_TIME) {
        int64_t ns = f->v.ns;
        sky_event_remove(ev, TIME_KEY);
        sky_event_set_time(ev, ns);
    }
    return SKY_PROC_KEEP;
}

static PyObject *wrap(PyTypeObject *type, sky_t *sky)
{
    sky_status pst = sky_add_processor(sky, "python_time", time_proc, NULL, NULL);
    if (pst != SKY_OK) {
        sky_close(sky);
        return raise_status(pst, NULL);
    }
    allocfunc alloc = (allocfunc)PyType_GetSlot(type, Py_tp_alloc);
    Pipeline *self = (Pipeline *)alloc(type, 0);
    if (!self) {
        sky_close(sky);
        return NULL;
    }
    self->sky = sky;
    self->max_message = SKY_CWL_MAX_EVENT_BYTES;
    self->cut_marker = true;
    self->loggers = PyDict_New();
    if (!self->loggers) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static int parse_level(PyObject *o, sky_level *out)
{
    if (o == NULL || o == Py_None)
        return 0;
    const char *s = PyUnicode_AsUTF8AndSize(o, NULL);
    if (!s)
        return -1;
    if (sky_level_parse(s, out) != SKY_OK) {
        PyErr_Format(PyExc_ValueError, "unknown level '%s'", s);
        return -1;
    }
    return 1;
}

/* Pipeline(mode="async", level="trace", ring_bytes=0, overflow="block", close_timeout_ms=0,
 *          block_max_wait_ms=0, ring_spool_path=None): an empty pipeline; add sinks next.
 *          ring_spool_path keeps the async ring in that file (docs/DURABILITY.md). */
static PyObject *Pipeline_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"mode", "level", "ring_bytes", "overflow", "close_timeout_ms",
                             "block_max_wait_ms", "ring_spool_path", NULL};
    const char *mode = "async", *overflow = "block", *spool = NULL;
    PyObject *level = NULL;
    Py_ssize_t ring = 0;
    long long close_ms = 0, block_ms = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|sOnsLLz", kwlist, &mode, &level, &ring,
                                     &overflow, &close_ms, &block_ms, &spool))
        return NULL;
    sky_options o = {0};
    if (!strcmp(mode, "async"))
        o.mode = SKY_MODE_ASYNC;
    else if (!strcmp(mode, "sync"))
        o.mode = SKY_MODE_SYNC;
    else
        return PyErr_Format(PyExc_ValueError, "mode must be 'async' or 'sync', not '%s'", mode);
    if (!strcmp(overflow, "block"))
        o.overflow = SKY_OVERFLOW_BLOCK;
    else if (!strcmp(overflow, "drop_newest"))
        o.overflow = SKY_OVERFLOW_DROP_NEWEST;
    else if (!strcmp(overflow, "drop_oldest"))
        o.overflow = SKY_OVERFLOW_DROP_OLDEST;
    else
        return PyErr_Format(PyExc_ValueError,
                            "overflow must be 'block', 'drop_newest' or 'drop_oldest', not '%s'",
                            overflow);
    o.level = SKY_LEVEL_TRACE; /* Python's logging already filtered */
    o.level_set = true;
    int r = parse_level(level, &o.level);
    if (r < 0)
        return NULL;
    if (ring < 0 || close_ms < 0 || block_ms < 0)
        return PyErr_Format(PyExc_ValueError, "sizes and timeouts must not be negative");
    o.ring_bytes = (size_t)ring;
    o.close_timeout_ms = close_ms;
    o.block_max_wait_ms = block_ms;
    o.ring_spool_path = spool;
    o.name = "skylog-python";
    sky_t *sky;
    char *why = NULL;
    sky_status st = sky_open_ex(&o, &sky, &why);
    if (st != SKY_OK)
        return raise_status(st, why);
    return wrap(type, sky);
}

/* from_yaml(text) / from_file(path) / from_env(): the C library's three configurations. */
static PyObject *Pipeline_from_yaml(PyObject *cls, PyObject *arg)
{
    Py_ssize_t n;
    const char *text = PyUnicode_AsUTF8AndSize(arg, &n);
    if (!text)
        return NULL;
    sky_t *sky = NULL;
    char *err = NULL;
    sky_status st;
    Py_BEGIN_ALLOW_THREADS st = sky_open_yaml(text, (size_t)n, &sky, &err);
    Py_END_ALLOW_THREADS
    if (st != SKY_OK)
        return raise_status(st, err);
    return wrap((PyTypeObject *)cls, sky);
}

static PyObject *Pipeline_from_file(PyObject *cls, PyObject *arg)
{
    PyObject *b = NULL;
    if (!PyUnicode_FSConverter(arg, &b))
        return NULL;
    sky_t *sky = NULL;
    char *err = NULL;
    sky_status st;
    const char *path = PyBytes_AsString(b);
    Py_BEGIN_ALLOW_THREADS st = sky_open_file(path, &sky, &err);
    Py_END_ALLOW_THREADS
    Py_DECREF(b);
    if (st != SKY_OK)
        return raise_status(st, err);
    return wrap((PyTypeObject *)cls, sky);
}

/* from_env(async_default=False): sky_open_env_ex(); async_default makes the pipeline async
 * when SKYLOG_MODE is not set (SKY_ENV_ASYNC), without touching os.environ. */
static PyObject *Pipeline_from_env(PyObject *cls, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"async_default", NULL};
    int async_default = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|p", kwlist, &async_default))
        return NULL;
    sky_t *sky = NULL;
    char *err = NULL;
    sky_status st;
    unsigned flags = async_default ? SKY_ENV_ASYNC : 0;
    Py_BEGIN_ALLOW_THREADS st = sky_open_env_ex(flags, &sky, &err);
    Py_END_ALLOW_THREADS
    if (st != SKY_OK)
        return raise_status(st, err);
    return wrap((PyTypeObject *)cls, sky);
}

static int check_open(Pipeline *self)
{
    if (!self->sky) {
        PyErr_SetString(SkylogError, "the pipeline is closed");
        return -1;
    }
    return 0;
}

/* Optional str keyword -> C string (NULL when absent or None). */
static int opt_str(PyObject *kw, const char *key, const char **out)
{
    PyObject *v = kw ? PyDict_GetItemString(kw, key) : NULL;
    if (!v || v == Py_None)
        return 0;
    if (!PyUnicode_Check(v)) {
        PyErr_Format(PyExc_TypeError, "%s must be a str", key);
        return -1;
    }
    *out = PyUnicode_AsUTF8AndSize(v, NULL);
    return *out ? 0 : -1;
}

static int opt_ll(PyObject *kw, const char *key, long long *out)
{
    PyObject *v = kw ? PyDict_GetItemString(kw, key) : NULL;
    if (!v || v == Py_None)
        return 0;
    long long x = PyLong_AsLongLong(v);
    if (x == -1 && PyErr_Occurred())
        return -1;
    if (x < 0) {
        PyErr_Format(PyExc_ValueError, "%s must not be negative", key);
        return -1;
    }
    *out = x;
    return 0;
}

static int opt_bool(PyObject *kw, const char *key, bool *out)
{
    PyObject *v = kw ? PyDict_GetItemString(kw, key) : NULL;
    if (!v || v == Py_None)
        return 0;
    int t = PyObject_IsTrue(v);
    if (t < 0)
        return -1;
    *out = t;
    return 0;
}

static const char *const cw_keys[] = {
    "log_group", "log_stream", "region", "endpoint", "profile", "access_key_id",
    "secret_access_key", "session_token", "no_create_group", "no_create_stream",
    "retention_days", "batch_size", "max_batch_bytes", "flush_interval_ms", "max_queue_size",
    "sync_upload", "max_event_bytes", "level", "message_only", "max_retries", NULL};

/* add_cloudwatch(**opts): a CloudWatch Logs sink (sky_cwl_opts, same names; max_retries=0 is
 * no retries, as in a config file, not the default). */
static PyObject *Pipeline_add_cloudwatch(PyObject *o, PyObject *args, PyObject *kw)
{
    Pipeline *self = (Pipeline *)o;
    if (check_open(self))
        return NULL;
    if (PyTuple_Size(args) != 0)
        return PyErr_Format(PyExc_TypeError, "add_cloudwatch takes keyword arguments only");
    if (kw) {
        PyObject *key;
        PyObject *val;
        Py_ssize_t pos = 0;
        while (PyDict_Next(kw, &pos, &key, &val)) {
            const char *k = PyUnicode_AsUTF8AndSize(key, NULL);
            if (!k)
                return NULL;
            int known = 0;
            for (int i = 0; cw_keys[i]; i++)
                known |= !strcmp(cw_keys[i], k);
            if (!known)
                return PyErr_Format(PyExc_TypeError, "add_cloudwatch: unknown option '%s'", k);
        }
    }
    sky_cwl_opts c = {0};
    long long retention = 0, batch = 0, batch_bytes = 0, interval = 0, queue = 0, event = 0;
    long long retries = -1; /* not given (or None): the default, as a config file's unset */
    const char *level_s = NULL;
    if (opt_str(kw, "log_group", &c.log_group) || opt_str(kw, "log_stream", &c.log_stream) ||
        opt_str(kw, "region", &c.region) || opt_str(kw, "endpoint", &c.endpoint) ||
        opt_str(kw, "profile", &c.profile) || opt_str(kw, "access_key_id", &c.access_key_id) ||
        opt_str(kw, "secret_access_key", &c.secret_access_key) ||
        opt_str(kw, "session_token", &c.session_token) ||
        opt_bool(kw, "no_create_group", &c.no_create_group) ||
        opt_bool(kw, "no_create_stream", &c.no_create_stream) ||
        opt_bool(kw, "sync_upload", &c.sync_upload) ||
        opt_bool(kw, "message_only", &c.message_only) ||
        opt_ll(kw, "retention_days", &retention) || opt_ll(kw, "batch_size", &batch) ||
        opt_ll(kw, "max_batch_bytes", &batch_bytes) ||
        opt_ll(kw, "flush_interval_ms", &interval) || opt_ll(kw, "max_queue_size", &queue) ||
        opt_ll(kw, "max_event_bytes", &event) || opt_ll(kw, "max_retries", &retries) ||
        opt_str(kw, "level", &level_s))
        return NULL;
    /* max_retries=0 is "no retries", as in a config file (docs/CLOUDWATCH.md); sky_cwl_opts
     * spells that < 0, its 0 being "unset" */
    if (retries > 100)
        return PyErr_Format(PyExc_ValueError, "max_retries must be 0..100, not %lld", retries);
    c.max_retries = retries < 0 ? 0 : retries == 0 ? -1 : (int)retries;
    if (retention > 100000)
        return PyErr_Format(PyExc_ValueError, "retention_days out of range");
    c.retention_days = (int)retention;
    c.batch_size = (size_t)batch;
    c.max_batch_bytes = (size_t)batch_bytes;
    c.flush_interval_ms = interval;
    c.max_queue_size = (size_t)queue;
    c.max_event_bytes = (size_t)event;
    sky_route route = {.name = "cloudwatch_logs", .level = SKY_LEVEL_TRACE};
    if (level_s && sky_level_parse(level_s, &route.level) != SKY_OK)
        return PyErr_Format(PyExc_ValueError, "unknown level '%s'", level_s);
    sky_sink *sink = NULL;
    char *err = NULL;
    sky_status st = sky_sink_cloudwatch_logs(&c, &sink, &err);
    if (st != SKY_OK)
        return raise_status(st, err);
    st = sky_add_sink(self->sky, sink, &route);
    if (st != SKY_OK)
        return raise_status(st, NULL);
    self->cw = sink;
    Py_RETURN_NONE;
}

/* add_file(path, level=None): a JSON-lines file sink. */
static PyObject *Pipeline_add_file(PyObject *o, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"path", "level", NULL};
    Pipeline *self = (Pipeline *)o;
    PyObject *path = NULL, *level = NULL;
    if (check_open(self) || !PyArg_ParseTupleAndKeywords(args, kw, "O&|O", kwlist,
                                                         PyUnicode_FSConverter, &path, &level))
        return NULL;
    sky_route route = {.name = "file", .level = SKY_LEVEL_TRACE};
    if (parse_level(level, &route.level) < 0) {
        Py_DECREF(path);
        return NULL;
    }
    sky_sink *sink = NULL;
    char *err = NULL;
    sky_status st =
        sky_sink_file(&(sky_file_opts){.path = PyBytes_AsString(path), .format = SKY_FORMAT_JSON},
                      &sink, &err);
    Py_DECREF(path);
    if (st != SKY_OK)
        return raise_status(st, err);
    st = sky_add_sink(self->sky, sink, &route);
    if (st != SKY_OK)
        return raise_status(st, NULL);
    Py_RETURN_NONE;
}

static sky_logger *get_logger(Pipeline *self, PyObject *name)
{
    PyObject *v = PyDict_GetItemWithError(self->loggers, name);
    if (v)
        return (sky_logger *)PyLong_AsVoidPtr(v);
    if (PyErr_Occurred())
        return NULL;
    const char *s = PyUnicode_AsUTF8AndSize(name, NULL);
    if (!s)
        return NULL;
    /* "root" is Python's name for the root logger; skylog's root is "" */
    sky_logger *log = sky_logger_get(self->sky, strcmp(s, "root") ? s : "");
    PyObject *p = PyLong_FromVoidPtr(log);
    if (!p || PyDict_SetItem(self->loggers, name, p) < 0) {
        Py_XDECREF(p);
        return NULL;
    }
    Py_DECREF(p);
    return log;
}

/* UTF-8 of a str; lone surrogates (undecodable bytes read with surrogateescape) become
 * backslash escapes instead of failing the log call. `*keep` owns the bytes when one was made. */
static const char *utf8_of(PyObject *s, Py_ssize_t *len, PyObject **keep)
{
    *keep = NULL;
    const char *p = PyUnicode_AsUTF8AndSize(s, len);
    if (p)
        return p;
    if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError))
        return NULL;
    PyErr_Clear();
    *keep = PyUnicode_AsEncodedString(s, "utf-8", "backslashreplace");
    if (!*keep)
        return NULL;
    char *b;
    if (PyBytes_AsStringAndSize(*keep, &b, len) < 0)
        return NULL;
    return b;
}

/* Fields: str, int (64-bit; beyond, its decimal text), float, bool, None; skylog.Json(text)
 * instances are handed over as JSON (the Python side makes them); anything else is repr(). */
#define MAX_FIELDS 256

static PyObject *JsonType; /* set by _set_json_type */

static int to_field(PyObject *key, PyObject *val, sky_field *f, PyObject *keep)
{
    Py_ssize_t kn;
    PyObject *kk = NULL;
    const char *k = utf8_of(key, &kn, &kk);
    if (!k)
        return -1;
    if (kk && PyList_Append(keep, kk) < 0)
        return -1;
    Py_XDECREF(kk);
    if (val == Py_None) {
        *f = sky_field_null(k);
    } else if (PyBool_Check(val)) {
        *f = sky_field_bool(k, val == Py_True);
    } else if (PyLong_Check(val)) {
        int ovf = 0;
        long long x = PyLong_AsLongLongAndOverflow(val, &ovf);
        if (x == -1 && PyErr_Occurred())
            return -1;
        if (!ovf) {
            *f = sky_field_int(k, x);
        } else {
            unsigned long long u = PyLong_AsUnsignedLongLong(val);
            if (!PyErr_Occurred()) {
                *f = sky_field_uint(k, u);
            } else {
                PyErr_Clear();
                PyObject *t = PyObject_Str(val);
                if (!t || PyList_Append(keep, t) < 0) {
                    Py_XDECREF(t);
                    return -1;
                }
                Py_DECREF(t);
                Py_ssize_t n;
                const char *p = PyUnicode_AsUTF8AndSize(t, &n);
                if (!p)
                    return -1;
                *f = sky_field_strn(k, p, (size_t)n);
            }
        }
    } else if (PyFloat_Check(val)) {
        *f = sky_field_f64(k, PyFloat_AsDouble(val));
    } else {
        int json = JsonType && PyObject_IsInstance(val, JsonType) == 1;
        PyObject *t = PyUnicode_Check(val) ? (Py_INCREF(val), val) : PyObject_Repr(val);
        if (!t)
            return -1;
        if (PyList_Append(keep, t) < 0) {
            Py_DECREF(t);
            return -1;
        }
        Py_DECREF(t);
        Py_ssize_t n;
        PyObject *tb = NULL;
        const char *p = utf8_of(t, &n, &tb);
        if (!p)
            return -1;
        if (tb) {
            int r = PyList_Append(keep, tb);
            Py_DECREF(tb);
            if (r < 0)
                return -1;
        }
        *f = sky_field_strn(k, p, (size_t)n);
        if (json)
            f->type = SKY_T_JSON;
    }
    return 0;
}

/* Call sites. sky_emit() wants a callsite that outlives the call (the async worker reads it
 * later), as the C macros' static ones do: each distinct (path, function, line) gets one,
 * allocated once and kept for the life of the process, like code. A program that makes call
 * sites without end (exec() of generated code) stops getting new ones past MAX_CALLSITES: its
 * later events have no module/func/line rather than unbounded memory. */
#define MAX_CALLSITES 100000
static PyObject *callsites; /* dict: (path, func, line) -> int (sky_callsite *) */

static const sky_callsite *callsite_of(PyObject *path, PyObject *func, int line)
{
    if (path == Py_None)
        return NULL;
    PyObject *key = Py_BuildValue("(OOi)", path, func, line);
    if (!key)
        return NULL;
    PyObject *v = PyDict_GetItemWithError(callsites, key);
    if (v || PyErr_Occurred() || PyDict_Size(callsites) >= MAX_CALLSITES) {
        Py_DECREF(key);
        return v ? (const sky_callsite *)PyLong_AsVoidPtr(v) : NULL;
    }
    const char *p = PyUnicode_AsUTF8AndSize(path, NULL);
    const char *f = func == Py_None ? "" : PyUnicode_AsUTF8AndSize(func, NULL);
    sky_callsite *cs = malloc(sizeof *cs);
    char *pd = p ? strdup(p) : NULL, *fd = f ? strdup(f) : NULL;
    PyObject *ptr = cs && pd && fd ? PyLong_FromVoidPtr(cs) : NULL;
    if (!ptr || PyDict_SetItem(callsites, key, ptr) < 0) {
        free(cs);
        free(pd);
        free(fd);
        Py_XDECREF(ptr);
        Py_DECREF(key);
        PyErr_Clear(); /* an event without its callsite beats a failed log call */
        return NULL;
    }
    *cs = (sky_callsite){.file = pd, .func = fd, .line = line};
    Py_DECREF(ptr);
    Py_DECREF(key);
    return cs;
}

/* emit(logger, level, message, fields, path=None, func=None, line=0, time_ns=None): fields is
 * a sequence of (key, value) pairs; `level` a skylog level number (0 trace .. 5 critical);
 * path, func and line the call site (rendered as module, func, line); time_ns the event's time
 * (Unix epoch ns; default: now). */
static PyObject *Pipeline_emit(PyObject *o, PyObject *args)
{
    Pipeline *self = (Pipeline *)o;
    PyObject *name, *msg, *fields, *path = Py_None, *func = Py_None, *tns = Py_None;
    int level, line = 0;
    if (!PyArg_ParseTuple(args, "UiUO|OOiO", &name, &level, &msg, &fields, &path, &func, &line,
                          &tns))
        return NULL;
    long long time_ns = 0;
    if (tns != Py_None) {
        time_ns = PyLong_AsLongLong(tns);
        if (time_ns == -1 && PyErr_Occurred())
            return NULL;
    }
    if ((path != Py_None && !PyUnicode_Check(path)) || (func != Py_None && !PyUnicode_Check(func)))
        return PyErr_Format(PyExc_TypeError, "path and func must be str or None");
    if (check_open(self))
        return NULL;
    if (level < SKY_LEVEL_TRACE || level > SKY_LEVEL_CRITICAL)
        return PyErr_Format(PyExc_ValueError, "level %d out of range", level);
    sky_logger *log = get_logger(self, name);
    if (!log)
        return NULL;
    if (!sky_enabled(log, (sky_level)level))
        Py_RETURN_NONE;
    PyObject *seq = PySequence_Fast(fields, "fields must be a sequence of (key, value) pairs");
    if (!seq)
        return NULL;
    PyObject *keep = PyList_New(0);
    PyObject *mkeep = NULL;
    char *cut = NULL;
    PyObject *ret = NULL;
    Py_ssize_t n = PySequence_Size(seq);
    if (!keep || n < 0)
        goto out;
    if (n > MAX_FIELDS) {
        PyErr_Format(PyExc_ValueError, "at most %d fields per event", MAX_FIELDS);
        goto out;
    }
    sky_field fs[MAX_FIELDS + 1];
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *pair = PySequence_GetItem(seq, i);
        if (!pair)
            goto out;
        PyObject *k = NULL, *v = NULL;
        int ok = PyTuple_Check(pair) && PyTuple_Size(pair) == 2 &&
                 PyUnicode_Check(k = PyTuple_GetItem(pair, 0)) && (v = PyTuple_GetItem(pair, 1));
        if (!ok) {
            Py_DECREF(pair);
            PyErr_SetString(PyExc_TypeError, "each field must be a (str, value) tuple");
            goto out;
        }
        int r = to_field(k, v, &fs[i], keep);
        Py_DECREF(pair); /* the values stay alive: `fields` holds them, `keep` holds copies */
        if (r < 0)
            goto out;
    }
    if (tns != Py_None)
        fs[n++] = sky_field_time(TIME_KEY, time_ns); /* fs has room for one more */
    Py_ssize_t mlen;
    const char *m = utf8_of(msg, &mlen, &mkeep);
    if (!m)
        goto out;
    /* The event name is a C string: a NUL would end it, so the message is copied with each
     * NUL written as the two characters \0; a message past max_message bytes is cut at a
     * UTF-8 boundary with a marker saying how much was cut. */
    Py_ssize_t max = self->max_message;
    Py_ssize_t keep_len = mlen > max ? max : mlen;
    while (keep_len > 0 && keep_len < mlen && ((unsigned char)m[keep_len] & 0xC0) == 0x80)
        keep_len--;
    size_t nuls = 0;
    for (Py_ssize_t i = 0; i < keep_len; i++)
        nuls += m[i] == '\0';
    if (keep_len == mlen && nuls == 0) { /* the usual case: Python's own NUL-ended UTF-8 */
        sky_emit(log, (sky_level)level, m, callsite_of(path, func, line), fs, (size_t)n);
        ret = Py_None;
        Py_INCREF(ret);
        goto out;
    }
    cut = malloc((size_t)keep_len + nuls + 64);
    if (!cut) {
        PyErr_NoMemory();
        goto out;
    }
    size_t w = 0;
    for (Py_ssize_t i = 0; i < keep_len; i++) {
        if (m[i] == '\0') {
            cut[w++] = '\\';
            cut[w++] = '0';
        } else {
            cut[w++] = m[i];
        }
    }
    if (keep_len < mlen) {
        if (self->cut_marker)
            w += (size_t)snprintf(cut + w, 64, "...[truncated %zd bytes]", mlen - keep_len);
        self->cut_messages++;
        self->cut_bytes += (uint64_t)(mlen - keep_len);
    }
    cut[w] = '\0';
    sky_emit(log, (sky_level)level, cut, callsite_of(path, func, line), fs, (size_t)n);
    ret = Py_None;
    Py_INCREF(ret);
out:
    free(cut);
    Py_XDECREF(mkeep);
    Py_XDECREF(keep);
    Py_DECREF(seq);
    return ret;
}

static PyObject *Pipeline_flush(PyObject *o, PyObject *args)
{
    Pipeline *self = (Pipeline *)o;
    long long timeout = 5000;
    if (!PyArg_ParseTuple(args, "|L", &timeout))
        return NULL;
    if (!self->sky)
        Py_RETURN_FALSE;
    sky_t *sky = self->sky;
    sky_status st;
    self->busy++;
    Py_BEGIN_ALLOW_THREADS st = sky_flush(sky, timeout);
    Py_END_ALLOW_THREADS
    self->busy--;
    if (st == SKY_OK)
        Py_RETURN_TRUE;
    if (st == SKY_ETIMEDOUT)
        Py_RETURN_FALSE;
    return raise_status(st, NULL);
}

static PyObject *Pipeline_close(PyObject *o, PyObject *unused)
{
    (void)unused;
    sky_t *sky = take_sky((Pipeline *)o);
    if (!sky)
        Py_RETURN_NONE;
    sky_status st;
    Py_BEGIN_ALLOW_THREADS st = sky_close(sky);
    Py_END_ALLOW_THREADS
    if (st == SKY_OK)
        Py_RETURN_TRUE;
    Py_RETURN_FALSE;
}

/* ---- statistics: one table per public C stats struct ----------------------------------------
 *
 * Every stats dict is built from a table of the struct's members, each written once as its C
 * name (FIELD(S, f) stringifies f, so a key cannot differ from the member) and typed by
 * _Generic from the member itself, so a table cannot read a member as the wrong type. A
 * member added in C and missing here is caught by python/tests/test_stats.py, which parses
 * the headers and compares their members with _stats_fields(), built from these tables. */

typedef enum {
    SF_UNKNOWN = 0, /* a member type this file does not convert: an error when read */
    SF_U64,
    SF_I64,
    SF_INT,
    SF_UINT,
    SF_BOOL,
    SF_TEXT,  /* char[N], NUL-terminated */
    SF_CTEXT, /* const char * (may be NULL) */
    SF_U64S,  /* uint64_t[N] indexed by an enum: a dict by the enum's names */
    SF_DOUBLE,
    SF_STRUCT, /* a struct member: a dict by its own table (SUB()) */
} sf_type;

/* flags */
#define SF_FLAT 1u   /* SF_U64S: a key per entry in the enclosing dict; the member's is the sum */
#define SF_AS_INT 2u /* SF_BOOL: 0/1, not False/True (what the key always gave) */

typedef struct stat_field {
    const char *name;
    size_t off;
    sf_type type;
    size_t size;                    /* the member's, in bytes */
    const char *(*entry)(size_t i); /* SF_U64S: entry i's name; SF_INT/SF_UINT (an enum,
                                       NAMED()): the value's name, given instead of the number */
    unsigned flags;
    const struct stat_field *sub; /* SF_STRUCT: the member's table */
    size_t n_sub;
} stat_field;

#define SF_TYPE_OF(x)                                                                              \
    _Generic((x), uint64_t: SF_U64, int64_t: SF_I64, int: SF_INT, unsigned: SF_UINT,              \
             bool: SF_BOOL, char *: SF_TEXT, const char *: SF_CTEXT, uint64_t *: SF_U64S,          \
             double: SF_DOUBLE, sky_sample: SF_STRUCT, default: SF_UNKNOWN)
/* clang-format off */
#define ARRAY_F(S, f, namer, fl) \
    {#f, offsetof(S, f), SF_TYPE_OF(((S *)0)->f), sizeof(((S *)0)->f), namer, fl}
/* clang-format on */
#define FIELD_F(S, f, fl) ARRAY_F(S, f, NULL, fl)
#define FIELD(S, f) FIELD_F(S, f, 0)
#define ARRAY(S, f, namer) ARRAY_F(S, f, namer, 0)
#define NAMED(S, f, namer) ARRAY_F(S, f, namer, 0)
/* clang-format off */
#define SUB(S, f, table) \
    {#f, offsetof(S, f), SF_TYPE_OF(((S *)0)->f), sizeof(((S *)0)->f), NULL, 0, table, \
     sizeof table / sizeof table[0]}
/* clang-format on */

static const char *drop_reason_name(size_t i)
{
    return sky_drop_reason_name((sky_drop_reason)i);
}
static const char *level_name(size_t i)
{
    return sky_level_name((sky_level)i);
}
static const char *cwl_reject_name(size_t i)
{
    return sky_cwl_reject_name((sky_cwl_reject)i);
}
static const char *cwl_drop_name(size_t i)
{
    return sky_cwl_drop_name((sky_cwl_drop)i);
}
static const char *http_drop_name(size_t i)
{
    return sky_http_drop_name((sky_http_drop)i);
}
static const char *retry_mode_name(size_t i)
{
    return sky_aws_retry_mode_name((sky_aws_retry_mode)i);
}

static const stat_field stats_fields[] = {
    FIELD(sky_stats, emitted),
    FIELD(sky_stats, processed),
    FIELD(sky_stats, routed),
    /* flat, as stats() has always given it: "dropped" the total, each reason its own key */
    ARRAY_F(sky_stats, dropped, drop_reason_name, SF_FLAT),
    ARRAY(sky_stats, dropped_by_level, level_name),
    FIELD(sky_stats, processor_failures),
    FIELD(sky_stats, context_overflows),
    FIELD(sky_stats, ring_high_water),
    FIELD(sky_stats, ring_capacity),
    FIELD_F(sky_stats, worker_alive, SF_AS_INT),
    FIELD(sky_stats, processor_count),
    FIELD(sky_stats, sink_count),
    FIELD(sky_stats, enqueued),
    FIELD(sky_stats, spool_recovered),
    FIELD(sky_stats, spool_torn),
    FIELD(sky_stats, spool_ambiguous),
    FIELD(sky_stats, spool_recovered_total),
    FIELD(sky_stats, spool_torn_total),
    FIELD(sky_stats, spool_ambiguous_total),
    FIELD(sky_stats, context_block_bytes),
    FIELD(sky_stats, context_block_high_water),
    FIELD(sky_stats, context_block_limit),
    FIELD(sky_stats, context_copied),
};

static const stat_field processor_stats_fields[] = {
    FIELD(sky_processor_stats, name),     FIELD(sky_processor_stats, calls),
    FIELD(sky_processor_stats, drops),    FIELD(sky_processor_stats, failures),
    FIELD(sky_processor_stats, total_ns),
};

static const stat_field sink_stats_fields[] = {
    FIELD(sky_sink_stats, written),  FIELD(sky_sink_stats, bytes),
    FIELD(sky_sink_stats, errors),   FIELD(sky_sink_stats, dropped),
    FIELD(sky_sink_stats, filtered), FIELD(sky_sink_stats, rotations),
};

static const stat_field cwl_stats_fields[] = {
    FIELD(sky_cwl_stats, queued_events),
    FIELD(sky_cwl_stats, queued_bytes),
    FIELD(sky_cwl_stats, sender_alive),
    FIELD(sky_cwl_stats, accepted),
    FIELD(sky_cwl_stats, sent_events),
    FIELD(sky_cwl_stats, sent_bytes),
    FIELD(sky_cwl_stats, requests),
    FIELD(sky_cwl_stats, retries),
    FIELD(sky_cwl_stats, throttles),
    FIELD(sky_cwl_stats, ambiguous),
    FIELD(sky_cwl_stats, truncated),
    FIELD(sky_cwl_stats, split),
    ARRAY(sky_cwl_stats, rejected, cwl_reject_name),
    ARRAY(sky_cwl_stats, dropped, cwl_drop_name),
    FIELD(sky_cwl_stats, fallback_events),
    FIELD(sky_cwl_stats, last_success_ms),
    FIELD(sky_cwl_stats, last_error),
    FIELD(sky_cwl_stats, persistent_error),
    FIELD(sky_cwl_stats, persistent_error_since_ms),
    FIELD(sky_cwl_stats, split_parts),
    FIELD(sky_cwl_stats, truncated_bytes),
    FIELD(sky_cwl_stats, isolation_requests),
    FIELD(sky_cwl_stats, spool_bytes),
    FIELD(sky_cwl_stats, spool_used_bytes),
    FIELD(sky_cwl_stats, spool_replayed),
    FIELD(sky_cwl_stats, spool_torn),
    FIELD(sky_cwl_stats, spool_kept),
    FIELD(sky_cwl_stats, spool_ambiguous_total),
    FIELD(sky_cwl_stats, spool_torn_total),
    FIELD(sky_cwl_stats, spool_dropped_total),
    FIELD(sky_cwl_stats, rate_limited_ms),
    /* delivery's state now: the _mono_ms times are sky_monotonic_ns() / 1000000, which is
     * time.monotonic_ns() // 1000000 (both CLOCK_MONOTONIC) */
    FIELD(sky_cwl_stats, failures_in_a_row),
    FIELD(sky_cwl_stats, failing_since_mono_ms),
    FIELD(sky_cwl_stats, throttled),
    FIELD(sky_cwl_stats, retry_at_mono_ms),
    FIELD(sky_cwl_stats, creds_refreshes),
    FIELD(sky_cwl_stats, creds_failures),
    FIELD(sky_cwl_stats, creds_retries),
    FIELD(sky_cwl_stats, creds_throttles),
};

static const stat_field cwm_stats_fields[] = {
    FIELD(sky_cwm_stats, datums_sent),         FIELD(sky_cwm_stats, requests),
    FIELD(sky_cwm_stats, failed_requests),     FIELD(sky_cwm_stats, retries),
    FIELD(sky_cwm_stats, rejected_invalid),    FIELD(sky_cwm_stats, rejected_too_old),
    FIELD(sky_cwm_stats, rejected_too_new),    FIELD(sky_cwm_stats, dropped_queue_full),
    FIELD(sky_cwm_stats, dropped_undelivered), FIELD(sky_cwm_stats, queued_datums),
    FIELD(sky_cwm_stats, last_error),          FIELD(sky_cwm_stats, throttles),
    FIELD(sky_cwm_stats, rate_limited_ms),     FIELD(sky_cwm_stats, creds_refreshes),
    FIELD(sky_cwm_stats, creds_failures),      FIELD(sky_cwm_stats, creds_retries),
    FIELD(sky_cwm_stats, creds_throttles),
};

static const stat_field emf_stats_fields[] = {
    FIELD(sky_emf_stats, records),
    FIELD(sky_emf_stats, errors),
    FIELD(sky_emf_stats, dropped_values),
};

static const stat_field http_sink_stats_fields[] = {
    FIELD(sky_http_sink_stats, received),
    FIELD(sky_http_sink_stats, queued_events),
    FIELD(sky_http_sink_stats, queued_bytes),
    FIELD(sky_http_sink_stats, sent_events),
    FIELD(sky_http_sink_stats, sent_bytes),
    FIELD(sky_http_sink_stats, requests),
    FIELD(sky_http_sink_stats, retries),
    FIELD(sky_http_sink_stats, throttles),
    FIELD(sky_http_sink_stats, ambiguous),
    FIELD(sky_http_sink_stats, splits),
    ARRAY(sky_http_sink_stats, dropped, http_drop_name),
    FIELD(sky_http_sink_stats, last_status),
    FIELD(sky_http_sink_stats, last_success_ms),
    FIELD(sky_http_sink_stats, last_error),
    FIELD(sky_http_sink_stats, sender_alive),
    FIELD(sky_http_sink_stats, skipped),
};

static const stat_field creds_stats_fields[] = {
    FIELD(sky_aws_creds_stats, refreshes),  FIELD(sky_aws_creds_stats, failures),
    FIELD(sky_aws_creds_stats, stale_used), FIELD(sky_aws_creds_stats, retries),
    FIELD(sky_aws_creds_stats, throttles),  FIELD(sky_aws_creds_stats, last_error),
    FIELD(sky_aws_creds_stats, expiry_extensions), FIELD(sky_aws_creds_stats, near_expiry),
};

static const stat_field retry_stats_fields[] = {
    NAMED(sky_aws_retry_stats, mode, retry_mode_name), FIELD(sky_aws_retry_stats, max_attempts),
    FIELD(sky_aws_retry_stats, retries),         FIELD(sky_aws_retry_stats, throttles),
    FIELD(sky_aws_retry_stats, quota_refusals),  FIELD(sky_aws_retry_stats, rate_limited),
    FIELD(sky_aws_retry_stats, rate_limited_ns), FIELD(sky_aws_retry_stats, quota_available),
};

static const stat_field sample_fields[] = {
    FIELD(sky_sample, time_ns),     FIELD(sky_sample, mono_ns),   FIELD(sky_sample, cpu_seconds),
    FIELD(sky_sample, cpu_percent), FIELD(sky_sample, rss_bytes), FIELD(sky_sample, threads),
    FIELD(sky_sample, open_fds),
};

static const stat_field sampler_stats_fields[] = {
    FIELD(sky_sampler_stats, samples),
    FIELD(sky_sampler_stats, errors),
    SUB(sky_sampler_stats, last, sample_fields),
};

static const stat_field trace_stats_fields[] = {
    FIELD(sky_trace_stats, extracted),
    FIELD(sky_trace_stats, invalid),
    FIELD(sky_trace_stats, tracestate_trimmed),
};

static const stat_field metrics_stats_fields[] = {
    FIELD(sky_metrics_stats, instruments), FIELD(sky_metrics_stats, records),
    FIELD(sky_metrics_stats, invalid),     FIELD(sky_metrics_stats, clamped),
    FIELD(sky_metrics_stats, flushes),     FIELD(sky_metrics_stats, datums),
};

static const stat_field security_stats_fields[] = {
    FIELD(sky_security_stats, counted),   FIELD(sky_security_stats, alerts),
    FIELD(sky_security_stats, suppressed), FIELD(sky_security_stats, evictions),
    FIELD(sky_security_stats, tracked),   FIELD(sky_security_stats, no_key),
};

static const stat_field log_metrics_stats_fields[] = {
    FIELD(sky_log_metrics_stats, events),   FIELD(sky_log_metrics_stats, recorded),
    FIELD(sky_log_metrics_stats, not_numeric), FIELD(sky_log_metrics_stats, overflow),
    FIELD(sky_log_metrics_stats, failed),
};

#define TABLE(S, t)                                                                                \
    {                                                                                              \
#S, t, sizeof t / sizeof t[0]                                                              \
    }
static const struct {
    const char *c_struct;
    const stat_field *fields;
    size_t n;
} stat_tables[] = {
    TABLE(sky_stats, stats_fields),
    TABLE(sky_processor_stats, processor_stats_fields),
    TABLE(sky_sink_stats, sink_stats_fields),
    TABLE(sky_cwl_stats, cwl_stats_fields),
    TABLE(sky_cwm_stats, cwm_stats_fields),
    TABLE(sky_emf_stats, emf_stats_fields),
    TABLE(sky_http_sink_stats, http_sink_stats_fields),
    TABLE(sky_aws_creds_stats, creds_stats_fields),
    TABLE(sky_metrics_stats, metrics_stats_fields),
    TABLE(sky_security_stats, security_stats_fields),
    TABLE(sky_log_metrics_stats, log_metrics_stats_fields),
    TABLE(sky_aws_retry_stats, retry_stats_fields),
    TABLE(sky_sampler_stats, sampler_stats_fields),
    TABLE(sky_sample, sample_fields), /* sky_sampler_stats.last */
    TABLE(sky_trace_stats, trace_stats_fields),
};

static PyObject *text(const char *s, size_t cap)
{
    if (!s) Py_RETURN_NONE;
    size_t n = 0;
    while (n < cap && s[n])
        n++;
    return PyUnicode_DecodeUTF8(s, (Py_ssize_t)n, "replace");
}

/* d[key] = v, v's reference taken; -1 with the error set. */
static int put(PyObject *d, const char *key, PyObject *v)
{
    int r = v ? PyDict_SetItemString(d, key, v) : -1;
    Py_XDECREF(v);
    return r;
}

static PyObject *u64(uint64_t v)
{
    return PyLong_FromUnsignedLongLong((unsigned long long)v);
}

/* Adds the members `fields` describe of the struct at `base` to dict d; -1 with the error set. */
static int stats_fill(PyObject *d, const void *base, const stat_field *fields, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const stat_field *f = &fields[i];
        const char *p = (const char *)base + f->off;
        PyObject *v = NULL;
        switch (f->type) {
        case SF_U64:
            v = u64(*(const uint64_t *)p);
            break;
        case SF_I64:
            v = PyLong_FromLongLong((long long)*(const int64_t *)p);
            break;
        case SF_INT:
            v = f->entry ? PyUnicode_FromString(f->entry((size_t)*(const int *)p))
                         : PyLong_FromLong(*(const int *)p);
            break;
        case SF_UINT:
            v = f->entry ? PyUnicode_FromString(f->entry(*(const unsigned *)p))
                         : PyLong_FromUnsignedLong(*(const unsigned *)p);
            break;
        case SF_DOUBLE:
            v = PyFloat_FromDouble(*(const double *)p);
            break;
        case SF_STRUCT:
            if (!f->sub) { /* FIELD() where SUB() was meant */
                PyErr_Format(PyExc_SystemError, "skylog: stats member %s: no table", f->name);
                return -1;
            }
            v = PyDict_New();
            if (v && stats_fill(v, p, f->sub, f->n_sub) < 0)
                Py_CLEAR(v);
            break;
        case SF_BOOL:
            v = f->flags & SF_AS_INT ? PyLong_FromLong(*(const bool *)p)
                                     : PyBool_FromLong(*(const bool *)p);
            break;
        case SF_TEXT:
            v = text(p, f->size);
            break;
        case SF_CTEXT:
            v = text(*(const char *const *)p, SIZE_MAX);
            break;
        case SF_U64S: {
            const uint64_t *a = (const uint64_t *)p;
            uint64_t sum = 0;
            if (!f->entry) { /* FIELD() where ARRAY() was meant */
                PyErr_Format(PyExc_SystemError, "skylog: stats member %s: no entry names", f->name);
                return -1;
            }
            PyObject *sub = f->flags & SF_FLAT ? d : PyDict_New();
            if (!sub)
                return -1;
            for (size_t k = 0; k < f->size / sizeof *a; k++) {
                sum += a[k];
                if (put(sub, f->entry(k), u64(a[k])) < 0) {
                    if (sub != d) Py_DECREF(sub);
                    return -1;
                }
            }
            v = sub == d ? u64(sum) : sub;
            break;
        }
        default:
            PyErr_Format(PyExc_SystemError,
                         "skylog: stats member %s has a type _skylog.c "
                         "does not convert",
                         f->name);
            return -1;
        }
        if (put(d, f->name, v) < 0)
            return -1;
    }
    return 0;
}

#define STATS_DICT(S, table, ptr)                                                                  \
    stats_dict_((const S *){(ptr)}, table, sizeof table / sizeof table[0])
static PyObject *stats_dict_(const void *base, const stat_field *fields, size_t n)
{
    PyObject *d = PyDict_New();
    if (d && stats_fill(d, base, fields, n) < 0) Py_CLEAR(d);
    return d;
}

/* _stats_fields(): {C struct: its members as the tables give them}, for the test that a
 * member added in C is not missed here (python/tests/test_stats.py). */
static PyObject *mod_stats_fields(PyObject *m, PyObject *unused)
{
    (void)m, (void)unused;
    PyObject *d = PyDict_New();
    for (size_t t = 0; d && t < sizeof stat_tables / sizeof stat_tables[0]; t++) {
        PyObject *names = PyTuple_New((Py_ssize_t)stat_tables[t].n);
        for (size_t i = 0; names && i < stat_tables[t].n; i++) {
            PyObject *s = PyUnicode_FromString(stat_tables[t].fields[i].name);
            if (!s || PyTuple_SetItem(names, (Py_ssize_t)i, s) < 0) Py_CLEAR(names);
        }
        if (put(d, stat_tables[t].c_struct, names) < 0) Py_CLEAR(d);
    }
    return d;
}

/* A snapshot of one sink's counters, taken without the GIL (snapshot()). */
typedef struct {
    const char *name; /* the route's: valid while the pipeline is open */
    sky_sink_stats ss;
    bool cwl_ok, cwm_ok, emf_ok, http_ok, logs_ok, traces_ok, creds_ok, retry_ok;
    sky_cwl_stats cwl;
    sky_cwm_stats cwm;
    sky_emf_stats emf;
    sky_http_sink_stats http, logs, traces; /* logs, traces: an otlp sink's signals */
    sky_aws_creds_stats creds;
    sky_aws_retry_stats retry;
} sink_snap;

/* One processor's: its sky_processor_stats, and its type's own counters. */
typedef struct {
    sky_processor_stats ps;
    bool security_ok, log_metrics_ok;
    sky_security_stats security;
    sky_log_metrics_stats log_metrics;
} proc_snap;

typedef struct {
    sky_stats s;
    sink_snap *sinks;
    size_t n_sinks;
    proc_snap *procs;
    size_t n_procs;
    bool cw_ok; /* the "cloudwatch" sink's: add_cloudwatch's, else the first one found */
    sky_cwl_stats cw;
    sky_sampler_stats *samplers; /* a configuration's system_metrics sections' */
    size_t n_samplers;
} snap;

/* Every counter of the pipeline. sky_sink_stats_get() waits for the pipeline's lock, which the
 * async worker holds while it writes a batch, so this runs with the GIL released (the caller
 * counts itself in `busy`, so close waits for it). -1 when out of memory. */
static int snapshot(sky_t *sky, sky_sink *cw, snap *out)
{
    sky_stats_get(sky, &out->s);
    out->sinks = calloc(out->s.sink_count + 1, sizeof *out->sinks);
    out->procs = calloc(out->s.processor_count + 1, sizeof *out->procs);
    if (!out->sinks || !out->procs)
        return -1;
    for (size_t i = 0; i < out->s.sink_count; i++) {
        sink_snap *e = &out->sinks[out->n_sinks];
        if (sky_sink_stats_get(sky, i, &e->name, &e->ss) != SKY_OK)
            break;
        out->n_sinks++;
        sky_sink *sink = sky_sink_get(sky, i);
        e->cwl_ok = sky_cwl_stats_get(sink, &e->cwl) == SKY_OK;
        e->cwm_ok = sky_cwm_stats_get(sink, &e->cwm) == SKY_OK;
        e->emf_ok = sky_emf_stats_get(sink, &e->emf) == SKY_OK;
        e->http_ok = sky_http_sink_stats_get(sink, &e->http) == SKY_OK;
        e->logs_ok = sky_otlp_sink_stats_get(sink, SKY_OTLP_LOGS, &e->logs) == SKY_OK;
        e->traces_ok = sky_otlp_sink_stats_get(sink, SKY_OTLP_TRACES, &e->traces) == SKY_OK;
        e->creds_ok = sky_cwl_creds_stats_get(sink, &e->creds) == SKY_OK ||
                      sky_cwm_creds_stats_get(sink, &e->creds) == SKY_OK;
        e->retry_ok = sky_cwl_retry_stats_get(sink, &e->retry) == SKY_OK ||
                      sky_cwm_retry_stats_get(sink, &e->retry) == SKY_OK;
        if (!cw && e->cwl_ok)
            cw = sink;
    }
    for (; out->n_procs < out->s.processor_count; out->n_procs++) {
        size_t i = out->n_procs;
        proc_snap *e = &out->procs[i];
        if (sky_processor_stats_get(sky, i, &e->ps) != SKY_OK)
            break;
        const sky_security_monitor *m = sky_security_monitor_get(sky, i);
        if ((e->security_ok = m != NULL))
            sky_security_stats_get(m, &e->security);
        e->log_metrics_ok =
            sky_log_metrics_stats_get(sky_log_metrics_get(sky, i), &e->log_metrics) == SKY_OK;
    }
    out->cw_ok = cw && sky_cwl_stats_get(cw, &out->cw) == SKY_OK;
    sky_sampler *smp;
    while ((smp = sky_sampler_get(sky, out->n_samplers)) != NULL) {
        sky_sampler_stats *grown =
            realloc(out->samplers, (out->n_samplers + 1) * sizeof *out->samplers);
        if (!grown)
            return -1;
        out->samplers = grown;
        sky_sampler_stats_get(smp, &out->samplers[out->n_samplers++]);
    }
    return 0;
}

/* One sink's entry of stats()["sinks"]: its name and sky_sink_stats, and its type's own
 * counters under a key for the type. */
static PyObject *sink_entry(const sink_snap *e)
{
    PyObject *d = STATS_DICT(sky_sink_stats, sink_stats_fields, &e->ss);
    if (!d || put(d, "name", text(e->name, SIZE_MAX)) < 0 ||
        (e->cwl_ok &&
         put(d, "cloudwatch", STATS_DICT(sky_cwl_stats, cwl_stats_fields, &e->cwl)) < 0) ||
        (e->cwm_ok && put(d, "metrics_cloudwatch",
                          STATS_DICT(sky_cwm_stats, cwm_stats_fields, &e->cwm)) < 0) ||
        (e->emf_ok &&
         put(d, "metrics_emf", STATS_DICT(sky_emf_stats, emf_stats_fields, &e->emf)) < 0) ||
        (e->http_ok &&
         put(d, "http", STATS_DICT(sky_http_sink_stats, http_sink_stats_fields, &e->http)) < 0) ||
        (e->logs_ok && put(d, "otlp_logs", STATS_DICT(sky_http_sink_stats,
                                                      http_sink_stats_fields, &e->logs)) < 0) ||
        (e->traces_ok && put(d, "otlp_traces", STATS_DICT(sky_http_sink_stats,
                                                          http_sink_stats_fields, &e->traces)) < 0) ||
        (e->creds_ok &&
         put(d, "creds", STATS_DICT(sky_aws_creds_stats, creds_stats_fields, &e->creds)) < 0) ||
        (e->retry_ok &&
         put(d, "retry", STATS_DICT(sky_aws_retry_stats, retry_stats_fields, &e->retry)) < 0)) {
        Py_XDECREF(d);
        return NULL;
    }
    return d;
}

/* A list of each item's dict; NULL with the error set. */
static PyObject *list_of(size_t n, PyObject *(*make)(const void *item, size_t i),
                         const void *items)
{
    PyObject *l = PyList_New(0);
    for (size_t i = 0; l && i < n; i++) {
        PyObject *e = make(items, i);
        int r = e ? PyList_Append(l, e) : -1;
        Py_XDECREF(e);
        if (r < 0)
            Py_CLEAR(l);
    }
    return l;
}

static PyObject *make_sink(const void *items, size_t i)
{
    return sink_entry(&((const sink_snap *)items)[i]);
}

static PyObject *make_sampler(const void *items, size_t i)
{
    return STATS_DICT(sky_sampler_stats, sampler_stats_fields,
                      &((const sky_sampler_stats *)items)[i]);
}

/* One processor's entry of stats()["processors"]: its sky_processor_stats, and a security
 * monitor's or log-metrics processor's own counters under "security" / "log_metrics". */
static PyObject *make_proc(const void *items, size_t i)
{
    const proc_snap *e = &((const proc_snap *)items)[i];
    PyObject *d = STATS_DICT(sky_processor_stats, processor_stats_fields, &e->ps);
    if (d && ((e->security_ok && put(d, "security", STATS_DICT(sky_security_stats,
                                                               security_stats_fields,
                                                               &e->security)) < 0) ||
              (e->log_metrics_ok &&
               put(d, "log_metrics", STATS_DICT(sky_log_metrics_stats, log_metrics_stats_fields,
                                                &e->log_metrics)) < 0)))
        Py_CLEAR(d);
    return d;
}

/* stats(): sky_stats; "sinks": each sink's entry (sink_entry); "processors": each processor's
 * entry (make_proc); "system_metrics": each sampler's sky_sampler_stats (a configuration's
 * system_metrics sections: no processors); "python": this binding's own (messages cut by
 * emit); "cloudwatch": the CloudWatch Logs sink's sky_cwl_stats (add_cloudwatch's, else a
 * configuration's first). */
static PyObject *Pipeline_stats(PyObject *o, PyObject *unused)
{
    (void)unused;
    Pipeline *self = (Pipeline *)o;
    if (check_open(self))
        return NULL;
    sky_t *sky = self->sky;
    sky_sink *cw = self->cw;
    snap sn = {0};
    int r;
    self->busy++;
    Py_BEGIN_ALLOW_THREADS r = snapshot(sky, cw, &sn);
    Py_END_ALLOW_THREADS
    self->busy--;
    PyObject *d = NULL, *py = NULL;
    if (r < 0) {
        PyErr_NoMemory();
        goto out;
    }
    d = STATS_DICT(sky_stats, stats_fields, &sn.s);
    if (!d || put(d, "sinks", list_of(sn.n_sinks, make_sink, sn.sinks)) < 0 ||
        put(d, "processors", list_of(sn.n_procs, make_proc, sn.procs)) < 0 ||
        put(d, "system_metrics", list_of(sn.n_samplers, make_sampler, sn.samplers)) < 0 ||
        (sn.cw_ok &&
         put(d, "cloudwatch", STATS_DICT(sky_cwl_stats, cwl_stats_fields, &sn.cw)) < 0))
        goto fail;
    py = PyDict_New();
    if (!py || put(d, "python", py) < 0 || put(py, "truncated", u64(self->cut_messages)) < 0 ||
        put(py, "truncated_bytes", u64(self->cut_bytes)) < 0)
        goto fail;
    goto out;
fail:
    Py_CLEAR(d);
out:
    free(sn.sinks);
    free(sn.procs);
    free(sn.samplers);
    return d;
}

static PyObject *Pipeline_closed(PyObject *o, void *unused)
{
    (void)unused;
    return PyBool_FromLong(((Pipeline *)o)->sky == NULL);
}

static PyObject *Pipeline_get_max_message(PyObject *o, void *unused)
{
    (void)unused;
    return PyLong_FromSsize_t(((Pipeline *)o)->max_message);
}

static int Pipeline_set_max_message(PyObject *o, PyObject *v, void *unused)
{
    (void)unused;
    Py_ssize_t n = v ? PyLong_AsSsize_t(v) : -1;
    if (n == -1 && PyErr_Occurred())
        return -1;
    if (n < 1) {
        PyErr_SetString(PyExc_ValueError, "max_message_bytes must be at least 1");
        return -1;
    }
    ((Pipeline *)o)->max_message = n;
    return 0;
}

static PyObject *Pipeline_get_cut_marker(PyObject *o, void *unused)
{
    (void)unused;
    return PyBool_FromLong(((Pipeline *)o)->cut_marker);
}

/* watchtower cuts an oversize message without a marker: its drop-in does the same */
static int Pipeline_set_cut_marker(PyObject *o, PyObject *v, void *unused)
{
    (void)unused;
    int t = v ? PyObject_IsTrue(v) : -1;
    if (t < 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "truncation_marker cannot be deleted");
        return -1;
    }
    ((Pipeline *)o)->cut_marker = t;
    return 0;
}

/* In a forked child no thread of the parent runs: nobody is inside flush any more. */
static PyObject *Pipeline_after_fork(PyObject *o, PyObject *unused)
{
    (void)unused;
    ((Pipeline *)o)->busy = 0;
    Py_RETURN_NONE;
}

static PyMethodDef Pipeline_methods[] = {
    {"_after_fork", Pipeline_after_fork, METH_NOARGS, NULL},
    {"from_yaml", Pipeline_from_yaml, METH_O | METH_CLASS, "A pipeline from YAML text."},
    {"from_file", Pipeline_from_file, METH_O | METH_CLASS, "A pipeline from a YAML file."},
    {"from_env", (PyCFunction)(void (*)(void))Pipeline_from_env,
     METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "A pipeline from SKYLOG_* variables (and SKYLOG_CONFIG)."},
    {"add_cloudwatch", (PyCFunction)(void (*)(void))Pipeline_add_cloudwatch,
     METH_VARARGS | METH_KEYWORDS, "Adds a CloudWatch Logs sink."},
    {"add_file", (PyCFunction)(void (*)(void))Pipeline_add_file, METH_VARARGS | METH_KEYWORDS,
     "Adds a JSON-lines file sink."},
    {"emit", Pipeline_emit, METH_VARARGS, "emit(logger, level, message, fields)"},
    {"flush", Pipeline_flush, METH_VARARGS, "flush(timeout_ms=5000) -> True when all written"},
    {"close", Pipeline_close, METH_NOARGS, "Flushes and closes; True when nothing was lost."},
    {"stats", Pipeline_stats, METH_NOARGS,
     "Counters (sky_stats); each sink's under \"sinks\" (sky_sink_stats and its type's own),"
     " each processor's under \"processors\", and the CloudWatch Logs sink's (sky_cwl_stats)"
     " under \"cloudwatch\" (docs/PYTHON.md)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Pipeline_getset[] = {
    {"closed", Pipeline_closed, NULL, "True after close()", NULL},
    {"max_message_bytes", Pipeline_get_max_message, Pipeline_set_max_message,
     "longer messages are cut (at a UTF-8 boundary) with a marker", NULL},
    {"truncation_marker", Pipeline_get_cut_marker, Pipeline_set_cut_marker,
     "True (the default): a message cut to max_message_bytes ends with "
     "\"...[truncated N bytes]\"; False: it is cut alone, as watchtower does", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot Pipeline_slots[] = {
    {Py_tp_new, Pipeline_new},
    {Py_tp_dealloc, Pipeline_dealloc},
    {Py_tp_methods, Pipeline_methods},
    {Py_tp_getset, Pipeline_getset},
    {Py_tp_doc, "A libskylog pipeline (sky_t)."},
    {0, NULL},
};

static PyType_Spec Pipeline_spec = {"skylog._skylog.Pipeline", sizeof(Pipeline), 0,
                                    Py_TPFLAGS_DEFAULT, Pipeline_slots};

/* ---- Span: a sky_span between begin and end ------------------------------------------------- */

static PyObject *PipelineType; /* set by PyInit__skylog */

typedef struct {
    PyObject_HEAD
    sky_span span;
    PyObject *pipeline; /* Pipeline: where span_finished goes */
    PyObject *logger;   /* str: the name of its logger */
    PyObject *name;     /* str: span.name points into its UTF-8, which lives as long as it */
} Span;

/* sky_header_get_fn over a Python mapping of str to str, names compared case-insensitively
 * (HTTP's rule). A value that is not a str is absent. The value found is kept alive in `keep`
 * until the extraction is over: a mapping's items() may make new objects on each call. */
typedef struct mapping_get {
    PyObject *mapping, *keep; /* keep: a list */
} mapping_get;

static const char *mapping_header(void *user, const char *name)
{
    mapping_get *g = user;
    PyObject *items = PyMapping_Items(g->mapping);
    PyObject *found = NULL;
    Py_ssize_t n = items ? PyList_Size(items) : 0;
    for (Py_ssize_t i = 0; i < n && !found; i++) {
        PyObject *kv = PyList_GetItem(items, i); /* borrowed */
        PyObject *k = kv && PyTuple_Check(kv) && PyTuple_Size(kv) == 2 ? PyTuple_GetItem(kv, 0)
                                                                      : NULL;
        PyObject *v = k ? PyTuple_GetItem(kv, 1) : NULL;
        const char *ks = k && PyUnicode_Check(k) ? PyUnicode_AsUTF8AndSize(k, NULL) : NULL;
        if (ks && !strcasecmp(ks, name) && v && PyUnicode_Check(v) &&
            PyList_Append(g->keep, v) == 0)
            found = v;
    }
    const char *out = found ? PyUnicode_AsUTF8AndSize(found, NULL) : NULL;
    Py_XDECREF(items);
    PyErr_Clear(); /* an odd mapping is a missing header, not a failed span */
    return out;
}

/* Span(pipeline, logger, name, parent=None, headers=None): begins a span named `name` whose
 * span_finished goes to `logger` (a name) of `pipeline`. Its parent: the trace `headers` (a
 * mapping) carry when they carry one, else the Span `parent`, else none (a new trace). */
static PyObject *Span_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"pipeline", "logger", "name", "parent", "headers", NULL};
    PyObject *pipe, *logger, *name, *parent = Py_None, *headers = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OUU|OO", kwlist, &pipe, &logger, &name, &parent,
                                     &headers))
        return NULL;
    if (!PyObject_TypeCheck(pipe, (PyTypeObject *)PipelineType))
        return PyErr_Format(PyExc_TypeError, "pipeline must be a skylog Pipeline");
    if (parent != Py_None && !PyObject_TypeCheck(parent, type))
        return PyErr_Format(PyExc_TypeError, "parent must be a Span or None");
    if (headers != Py_None && !PyMapping_Check(headers))
        return PyErr_Format(PyExc_TypeError, "headers must be a mapping or None");
    if (check_open((Pipeline *)pipe))
        return NULL;
    const char *n = PyUnicode_AsUTF8AndSize(name, NULL);
    if (!n)
        return NULL;
    allocfunc alloc = (allocfunc)PyType_GetSlot(type, Py_tp_alloc);
    Span *self = (Span *)alloc(type, 0);
    if (!self)
        return NULL;
    Py_INCREF(pipe);
    Py_INCREF(logger);
    Py_INCREF(name);
    self->pipeline = pipe;
    self->logger = logger;
    self->name = name;
    sky_trace_ctx remote;
    const sky_trace_ctx *from = parent != Py_None ? &((Span *)parent)->span.ctx : NULL;
    if (headers != Py_None) {
        mapping_get g = {headers, PyList_New(0)};
        if (!g.keep) {
            Py_DECREF(self);
            return NULL;
        }
        if (sky_trace_extract(&remote, mapping_header, &g))
            from = &remote;
        Py_DECREF(g.keep);
    }
    sky_span_begin(&self->span, NULL, n, from); /* no parent: the thread's C span, if any */
    if (sky_span_leave(&self->span) != SKY_OK) { /* the thread's context stack is full */
        sky_span_end(&self->span);
        Py_DECREF(self);
        return PyErr_Format(SkylogError, "the thread's context is full: span not begun");
    }
    return (PyObject *)self;
}

static void Span_dealloc(PyObject *o)
{
    Span *self = (Span *)o; /* a span never ended is dropped: it is on no thread */
    Py_XDECREF(self->pipeline);
    Py_XDECREF(self->logger);
    Py_XDECREF(self->name);
    PyTypeObject *tp = Py_TYPE(o);
    freefunc f = (freefunc)PyType_GetSlot(tp, Py_tp_free);
    f(o);
    Py_DECREF(tp);
}

/* end(): logs span_finished (once; later calls do nothing). A closed pipeline: no event. */
static PyObject *Span_end(PyObject *o, PyObject *unused)
{
    (void)unused;
    Span *self = (Span *)o;
    if (self->span.ended)
        Py_RETURN_NONE;
    Pipeline *p = (Pipeline *)self->pipeline;
    self->span.log = p->sky ? get_logger(p, self->logger) : NULL;
    if (!self->span.log && PyErr_Occurred())
        return NULL;
    sky_span_end(&self->span);
    Py_RETURN_NONE;
}

/* fail(message=None): the span's status is ERROR, with `message` (cut to 127 bytes). */
static PyObject *Span_fail(PyObject *o, PyObject *args)
{
    const char *msg = NULL;
    if (!PyArg_ParseTuple(args, "|z", &msg))
        return NULL;
    sky_span_fail(&((Span *)o)->span, msg);
    Py_RETURN_NONE;
}

static const char *const status_names[] = {"unset", "ok", "error"};
static const char *const kind_names[] = {"internal", "server", "client", "producer", "consumer"};

static int name_index(PyObject *v, const char *const *names, int n, const char *what)
{
    const char *s = PyUnicode_Check(v) ? PyUnicode_AsUTF8AndSize(v, NULL) : NULL;
    for (int i = 0; s && i < n; i++)
        if (!strcmp(s, names[i]))
            return i;
    if (!PyErr_Occurred())
        PyErr_Format(PyExc_ValueError, "unknown span %s %R", what, v);
    return -1;
}

/* set_status("unset" | "ok" | "error") */
static PyObject *Span_set_status(PyObject *o, PyObject *v)
{
    int i = name_index(v, status_names, 3, "status");
    if (i < 0)
        return NULL;
    sky_span_set_status(&((Span *)o)->span, (sky_span_status)i);
    Py_RETURN_NONE;
}

/* set_kind("internal" | "server" | "client" | "producer" | "consumer") */
static PyObject *Span_set_kind(PyObject *o, PyObject *v)
{
    int i = name_index(v, kind_names, 5, "kind");
    if (i < 0)
        return NULL;
    sky_span_set_kind(&((Span *)o)->span, (sky_span_kind)i);
    Py_RETURN_NONE;
}

static void dict_set_header(void *user, const char *name, const char *value)
{
    PyObject *v = PyUnicode_FromString(value);
    if (!v || PyDict_SetItemString((PyObject *)user, name, v) < 0)
        PyErr_Clear(); /* only out of memory: the header is missing */
    Py_XDECREF(v);
}

/* headers(formats=1): {name: value} of the headers carrying this span to a callee; formats a
 * mask of SKY_TRACE_W3C 1, SKY_TRACE_XRAY 2, SKY_TRACE_PLAIN 4. */
static PyObject *Span_headers(PyObject *o, PyObject *args)
{
    unsigned formats = SKY_TRACE_W3C;
    if (!PyArg_ParseTuple(args, "|I", &formats))
        return NULL;
    if (!formats || formats & ~(unsigned)SKY_TRACE_ALL)
        return PyErr_Format(PyExc_ValueError, "formats: a mask of 1 (w3c), 2 (xray), 4 (plain)");
    PyObject *d = PyDict_New();
    if (d)
        sky_trace_inject(&((Span *)o)->span.ctx, formats, dict_set_header, d);
    return d;
}

static PyObject *hex_or_none(const uint8_t *b, size_t n, bool has)
{
    if (!has)
        Py_RETURN_NONE;
    char h[SKY_TRACE_ID_HEX];
    sky_trace_hex(b, n, h);
    return PyUnicode_FromString(h);
}

static PyObject *Span_trace_id(PyObject *o, void *u)
{
    (void)u;
    return hex_or_none(((Span *)o)->span.ctx.trace_id, 16, true);
}

static PyObject *Span_span_id(PyObject *o, void *u)
{
    (void)u;
    return hex_or_none(((Span *)o)->span.ctx.span_id, 8, true);
}

static PyObject *Span_parent_span_id(PyObject *o, void *u)
{
    (void)u;
    const sky_trace_ctx *c = &((Span *)o)->span.ctx;
    return hex_or_none(c->parent_id, 8, c->has_parent);
}

static PyObject *Span_trace_flags(PyObject *o, void *u)
{
    (void)u;
    return PyLong_FromLong(((Span *)o)->span.ctx.flags);
}

static PyObject *Span_tracestate(PyObject *o, void *u)
{
    (void)u;
    return PyUnicode_FromString(((Span *)o)->span.ctx.tracestate);
}

static PyObject *Span_ended(PyObject *o, void *u)
{
    (void)u;
    return PyBool_FromLong(((Span *)o)->span.ended);
}

static PyMethodDef Span_methods[] = {
    {"end", Span_end, METH_NOARGS, "Ends the span: logs span_finished (once)."},
    {"fail", Span_fail, METH_VARARGS, "fail(message=None): status ERROR, with the message."},
    {"set_status", Span_set_status, METH_O, "set_status('unset' | 'ok' | 'error')"},
    {"set_kind", Span_set_kind, METH_O,
     "set_kind('internal' | 'server' | 'client' | 'producer' | 'consumer')"},
    {"headers", Span_headers, METH_VARARGS,
     "headers(formats=1) -> dict of the headers carrying the span (1 w3c, 2 xray, 4 plain)"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Span_getset[] = {
    {"trace_id", Span_trace_id, NULL, "32 lower-case hex digits", NULL},
    {"span_id", Span_span_id, NULL, "16 lower-case hex digits", NULL},
    {"parent_span_id", Span_parent_span_id, NULL, "the parent's span id, None for a root", NULL},
    {"trace_flags", Span_trace_flags, NULL, "W3C trace flags (1: sampled)", NULL},
    {"tracestate", Span_tracestate, NULL, "the W3C tracestate carried, '' for none", NULL},
    {"ended", Span_ended, NULL, "True once end() ran", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot Span_slots[] = {
    {Py_tp_new, Span_new},
    {Py_tp_dealloc, Span_dealloc},
    {Py_tp_methods, Span_methods},
    {Py_tp_getset, Span_getset},
    {Py_tp_doc, "A span (skylog/trace.h's sky_span); use skylog.span()."},
    {0, NULL},
};

static PyType_Spec Span_spec = {"skylog._skylog.Span", sizeof(Span), 0, Py_TPFLAGS_DEFAULT,
                                Span_slots};

/* ---- Metric: one instrument of the default registry ----------------------------------------- */

typedef struct {
    PyObject_HEAD
    sky_metric *m;
    int kind;
} Metric;

/* Metric(namespace, name, kind, unit="None", dimensions=(), high_resolution=False): kind 0
 * counter, 1 gauge, 2 histogram (sky_metric_kind); dimensions a sequence of (name, value)
 * str pairs. The same namespace, name and dimensions give the same instrument. */
static PyObject *Metric_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"namespace", "name", "kind", "unit", "dimensions",
                             "high_resolution", NULL};
    const char *ns, *name, *unit = "None";
    int kind, hires = 0;
    PyObject *dims = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "ssi|sOp", kwlist, &ns, &name, &kind, &unit, &dims,
                                     &hires))
        return NULL;
    sky_unit u;
    if (sky_unit_parse(unit, &u) != SKY_OK)
        return PyErr_Format(PyExc_ValueError,
                            "unknown unit '%s' (CloudWatch's: Count, Milliseconds, Bytes, ...)",
                            unit);
    PyObject *seq = dims && dims != Py_None
                        ? PySequence_Fast(dims, "dimensions must be (name, value) pairs")
                        : PyTuple_New(0);
    if (!seq)
        return NULL;
    Py_ssize_t n = PySequence_Size(seq);
    if (n > SKY_METRIC_MAX_DIMS) {
        Py_DECREF(seq);
        return PyErr_Format(PyExc_ValueError, "at most %d dimensions", SKY_METRIC_MAX_DIMS);
    }
    sky_dim d[SKY_METRIC_MAX_DIMS];
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *pair = PySequence_GetItem(seq, i);
        const char *k = NULL, *v = NULL;
        if (pair && PyTuple_Check(pair) && PyTuple_Size(pair) == 2 &&
            PyUnicode_Check(PyTuple_GetItem(pair, 0)) && PyUnicode_Check(PyTuple_GetItem(pair, 1))) {
            /* the strings live in `dims`, which outlives this call */
            k = PyUnicode_AsUTF8AndSize(PyTuple_GetItem(pair, 0), NULL);
            v = PyUnicode_AsUTF8AndSize(PyTuple_GetItem(pair, 1), NULL);
        }
        Py_XDECREF(pair);
        if (!k || !v) {
            Py_DECREF(seq);
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "each dimension must be a (str, str) pair");
            return NULL;
        }
        d[i] = (sky_dim){k, v};
    }
    sky_metric *m = NULL;
    char *err = NULL;
    sky_status st = sky_metric_new(sky_metrics_default(),
                                   &(sky_metric_opts){.ns = ns, .name = name,
                                                      .kind = (sky_metric_kind)kind, .unit = u,
                                                      .dims = d, .n_dims = (size_t)n,
                                                      .high_resolution = hires},
                                   &m, &err);
    Py_DECREF(seq);
    if (st != SKY_OK) {
        PyErr_SetString(PyExc_ValueError, err ? err : sky_strerror(st));
        free(err);
        return NULL;
    }
    allocfunc alloc = (allocfunc)PyType_GetSlot(type, Py_tp_alloc);
    Metric *self = (Metric *)alloc(type, 0);
    if (!self)
        return NULL;
    self->m = m;
    self->kind = kind;
    return (PyObject *)self;
}

static void Metric_dealloc(PyObject *o)
{
    PyTypeObject *tp = Py_TYPE(o);
    freefunc f = (freefunc)PyType_GetSlot(tp, Py_tp_free);
    f(o);
    Py_DECREF(tp);
}

static int number(PyObject *v, double *out)
{
    *out = PyFloat_AsDouble(v);
    return *out == -1.0 && PyErr_Occurred() ? -1 : 0;
}

/* The recording calls: no GIL release (a record is a few dozen instructions). A value of the
 * wrong kind or not finite is counted by the registry as invalid, as in C. */
static PyObject *Metric_add(PyObject *o, PyObject *const *args, Py_ssize_t n)
{
    double v = 1;
    if (n > 1)
        return PyErr_Format(PyExc_TypeError, "add() takes at most one value");
    if (n == 1 && number(args[0], &v) < 0)
        return NULL;
    sky_counter_add(((Metric *)o)->m, v);
    Py_RETURN_NONE;
}

static PyObject *Metric_record(PyObject *o, PyObject *v)
{
    double x;
    if (number(v, &x) < 0)
        return NULL;
    sky_histogram_record(((Metric *)o)->m, x);
    Py_RETURN_NONE;
}

static PyObject *Metric_set(PyObject *o, PyObject *v)
{
    double x;
    if (number(v, &x) < 0)
        return NULL;
    sky_gauge_set(((Metric *)o)->m, x);
    Py_RETURN_NONE;
}

static PyObject *Metric_record_ns(PyObject *o, PyObject *v)
{
    long long ns = PyLong_AsLongLong(v);
    if (ns == -1 && PyErr_Occurred())
        return NULL;
    sky_timer_record_ns(((Metric *)o)->m, ns);
    Py_RETURN_NONE;
}

static PyMethodDef Metric_methods[] = {
    {"add", (PyCFunction)(void (*)(void))Metric_add, METH_FASTCALL, "counter: add(value=1)"},
    {"record", Metric_record, METH_O, "histogram: record(value)"},
    {"set", Metric_set, METH_O, "gauge: set(value)"},
    {"record_ns", Metric_record_ns, METH_O,
     "timer: record_ns(nanoseconds), converted to the histogram's time unit"},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot Metric_slots[] = {
    {Py_tp_new, Metric_new},
    {Py_tp_dealloc, Metric_dealloc},
    {Py_tp_methods, Metric_methods},
    {Py_tp_doc, "An instrument of libskylog's default metrics registry (sky_metric)."},
    {0, NULL},
};

static PyType_Spec Metric_spec = {"skylog._skylog.Metric", sizeof(Metric), 0, Py_TPFLAGS_DEFAULT,
                                  Metric_slots};

/* metrics_stats(): the default registry's counters (sky_metrics_stats). */
static PyObject *mod_metrics_stats(PyObject *m, PyObject *unused)
{
    (void)m, (void)unused;
    sky_metrics_stats s;
    sky_metrics_stats_get(sky_metrics_default(), &s);
    return STATS_DICT(sky_metrics_stats, metrics_stats_fields, &s);
}

static PyObject *mod_trace_stats(PyObject *m, PyObject *unused)
{
    (void)m, (void)unused;
    sky_trace_stats s;
    sky_trace_stats_get(&s);
    return STATS_DICT(sky_trace_stats, trace_stats_fields, &s);
}

/* _trace_extract(headers: dict) -> bool: sky_trace_extract() over the dict (the lookup spans
 * use, mapping_header), for the tests of trace_stats(). */
static PyObject *mod_trace_extract(PyObject *m, PyObject *headers)
{
    (void)m;
    if (!PyDict_Check(headers)) {
        PyErr_SetString(PyExc_TypeError, "_trace_extract: a dict of header values");
        return NULL;
    }
    mapping_get g = {headers, PyList_New(0)};
    if (!g.keep)
        return NULL;
    sky_trace_ctx ctx;
    bool ok = sky_trace_extract(&ctx, mapping_header, &g);
    Py_DECREF(g.keep);
    return PyBool_FromLong(ok);
}

static PyObject *mod_set_json_type(PyObject *m, PyObject *t)
{
    (void)m;
    Py_XDECREF(JsonType);
    Py_INCREF(t);
    JsonType = t;
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"_set_json_type", mod_set_json_type, METH_O, NULL},
    {"metrics_stats", mod_metrics_stats, METH_NOARGS, "The default metrics registry's counters."},
    {"trace_stats", mod_trace_stats, METH_NOARGS,
     "This process's trace header counters (sky_trace_stats: extracted, invalid, "
     "tracestate_trimmed)."},
    {"_trace_extract", mod_trace_extract, METH_O, NULL},
    {"_stats_fields", mod_stats_fields, METH_NOARGS,
     "{C stats struct: the members the stats dicts are built from}"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moddef = {PyModuleDef_HEAD_INIT, "_skylog",
                                    "libskylog for Python (use the skylog package).", -1,
                                    module_methods};

PyMODINIT_FUNC PyInit__skylog(void)
{
    PyObject *m = PyModule_Create(&moddef);
    if (!m)
        return NULL;
    if (!callsites && !(callsites = PyDict_New())) {
        Py_DECREF(m);
        return NULL;
    }
    PyObject *t = PyType_FromSpec(&Pipeline_spec);
    PyObject *mt = PyType_FromSpec(&Metric_spec);
    if (!mt || PyModule_AddObject(m, "Metric", mt) < 0) {
        Py_XDECREF(mt);
        Py_XDECREF(t);
        Py_DECREF(m);
        return NULL;
    }
    PyObject *st = t ? PyType_FromSpec(&Span_spec) : NULL;
    if (!st || PyModule_AddObject(m, "Span", st) < 0) {
        Py_XDECREF(st);
        Py_XDECREF(t);
        Py_DECREF(m);
        return NULL;
    }
    PipelineType = t; /* the module's reference (below) keeps it */
    SkylogError = PyErr_NewException("skylog.SkylogError", PyExc_RuntimeError, NULL);
    if (!t || !SkylogError || PyModule_AddObject(m, "Pipeline", t) < 0 ||
        PyModule_AddObject(m, "SkylogError", SkylogError) < 0 ||
        PyModule_AddStringConstant(m, "LIBSKYLOG_VERSION", sky_version()) < 0) {
        Py_XDECREF(t);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(SkylogError);
    return m;
}
