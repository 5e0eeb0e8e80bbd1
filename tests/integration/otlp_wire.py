"""An independent reader and writer of OTLP/HTTP protobuf logs and traces for the tests: the
protobuf wire format (varints, fixed64/fixed32, length-delimited fields) written here from the
protobuf encoding rules, with the field numbers of opentelemetry-proto's logs_service.proto,
logs.proto, trace_service.proto, trace.proto, common.proto and resource.proto typed in from the
.proto files, not from skylog's C sources.

decode_traces(body) does for an ExportTraceServiceRequest what decode_logs does for logs.

decode_logs(body) turns an ExportLogsServiceRequest into the dict its OTLP/JSON encoding would
parse to (proto3 JSON names; 64-bit integers as strings, enums as numbers, trace and span ids
as hex, bytes as base64, NaN and the infinities as strings), so a test can hold a protobuf body
to the same checks as a JSON one. It is strict where skylog's encoder must be: an unknown field,
a wire type that does not match the schema, a singular field given twice or a length varint
longer than needed raise ValueError."""
import base64
import math
import struct

# message -> field number -> (json name, type, repeated)
SCHEMA = {
    "ExportLogsServiceRequest": {1: ("resourceLogs", "ResourceLogs", True)},
    "ResourceLogs": {1: ("resource", "Resource", False), 2: ("scopeLogs", "ScopeLogs", True),
                     3: ("schemaUrl", "string", False)},
    "Resource": {1: ("attributes", "KeyValue", True),
                 2: ("droppedAttributesCount", "uint32", False)},
    "ScopeLogs": {1: ("scope", "InstrumentationScope", False),
                  2: ("logRecords", "LogRecord", True), 3: ("schemaUrl", "string", False)},
    "InstrumentationScope": {1: ("name", "string", False), 2: ("version", "string", False),
                             3: ("attributes", "KeyValue", True),
                             4: ("droppedAttributesCount", "uint32", False)},
    "LogRecord": {1: ("timeUnixNano", "fixed64", False),
                  11: ("observedTimeUnixNano", "fixed64", False),
                  2: ("severityNumber", "enum", False), 3: ("severityText", "string", False),
                  5: ("body", "AnyValue", False), 6: ("attributes", "KeyValue", True),
                  7: ("droppedAttributesCount", "uint32", False), 8: ("flags", "fixed32", False),
                  9: ("traceId", "id", False), 10: ("spanId", "id", False),
                  12: ("eventName", "string", False)},
    "ExportTraceServiceRequest": {1: ("resourceSpans", "ResourceSpans", True)},
    "ResourceSpans": {1: ("resource", "Resource", False), 2: ("scopeSpans", "ScopeSpans", True),
                      3: ("schemaUrl", "string", False)},
    "ScopeSpans": {1: ("scope", "InstrumentationScope", False), 2: ("spans", "Span", True),
                   3: ("schemaUrl", "string", False)},
    "Span": {1: ("traceId", "id", False), 2: ("spanId", "id", False),
             3: ("traceState", "string", False), 4: ("parentSpanId", "id", False),
             16: ("flags", "fixed32", False), 5: ("name", "string", False),
             6: ("kind", "enum", False), 7: ("startTimeUnixNano", "fixed64", False),
             8: ("endTimeUnixNano", "fixed64", False), 9: ("attributes", "KeyValue", True),
             10: ("droppedAttributesCount", "uint32", False), 11: ("events", "SpanEvent", True),
             12: ("droppedEventsCount", "uint32", False), 13: ("links", "SpanLink", True),
             14: ("droppedLinksCount", "uint32", False), 15: ("status", "Status", False)},
    "SpanEvent": {1: ("timeUnixNano", "fixed64", False), 2: ("name", "string", False),
                  3: ("attributes", "KeyValue", True),
                  4: ("droppedAttributesCount", "uint32", False)},
    "SpanLink": {1: ("traceId", "id", False), 2: ("spanId", "id", False),
                 3: ("traceState", "string", False), 4: ("attributes", "KeyValue", True),
                 5: ("droppedAttributesCount", "uint32", False), 6: ("flags", "fixed32", False)},
    "Status": {2: ("message", "string", False), 3: ("code", "enum", False)},
    "KeyValue": {1: ("key", "string", False), 2: ("value", "AnyValue", False)},
    "AnyValue": {1: ("stringValue", "string", False), 2: ("boolValue", "bool", False),
                 3: ("intValue", "int64", False), 4: ("doubleValue", "double", False),
                 5: ("arrayValue", "ArrayValue", False), 6: ("kvlistValue", "KeyValueList", False),
                 7: ("bytesValue", "bytes", False)},
    "ArrayValue": {1: ("values", "AnyValue", True)},
    "ExportLogsServiceResponse": {1: ("partialSuccess", "ExportLogsPartialSuccess", False)},
    "ExportLogsPartialSuccess": {1: ("rejectedLogRecords", "int64", False),
                                 2: ("errorMessage", "string", False)},
    "ExportTraceServiceResponse": {1: ("partialSuccess", "ExportTracePartialSuccess", False)},
    "ExportTracePartialSuccess": {1: ("rejectedSpans", "int64", False),
                                  2: ("errorMessage", "string", False)},
    "KeyValueList": {1: ("values", "KeyValue", True)},
}
WIRE = {"fixed64": 1, "double": 1, "fixed32": 5, "enum": 0, "uint32": 0, "int64": 0, "bool": 0}


def read_varint(buf, i):
    start, shift, v = i, 0, 0
    while True:
        if i >= len(buf) or shift > 63:
            raise ValueError("truncated or overlong varint")
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    if i - start != len(varint(v)):
        raise ValueError(f"non-minimal varint at {start}")
    return v, i


def fields(buf):
    """(number, wire type, value) for each field: ints for 0/1/5, bytes for 2."""
    i = 0
    while i < len(buf):
        tag, i = read_varint(buf, i)
        num, wire = tag >> 3, tag & 7
        if num == 0:
            raise ValueError("field number 0")
        if wire == 0:
            v, i = read_varint(buf, i)
        elif wire == 1:
            if i + 8 > len(buf):
                raise ValueError("truncated fixed64")
            v, i = struct.unpack_from("<Q", buf, i)[0], i + 8
        elif wire == 5:
            if i + 4 > len(buf):
                raise ValueError("truncated fixed32")
            v, i = struct.unpack_from("<I", buf, i)[0], i + 4
        elif wire == 2:
            n, i = read_varint(buf, i)
            if i + n > len(buf):
                raise ValueError("length past the end")
            v, i = bytes(buf[i:i + n]), i + n
        else:
            raise ValueError(f"wire type {wire}")
        yield num, wire, v


def decode(msg, buf):
    out = {}
    for num, wire, v in fields(buf):
        if num not in SCHEMA[msg]:
            raise ValueError(f"{msg}: unknown field {num}")
        name, typ, repeated = SCHEMA[msg][num]
        want = 2 if typ in SCHEMA or typ in ("string", "bytes", "id") else WIRE[typ]
        if wire != want:
            raise ValueError(f"{msg}.{name}: wire type {wire}, expected {want}")
        if typ in SCHEMA:
            val = decode(typ, v)
        elif typ == "string":
            val = v.decode("utf-8")  # proto3 strings must be UTF-8
        elif typ == "bytes":
            val = base64.b64encode(v).decode()
        elif typ == "id":
            val = v.hex()
        elif typ in ("fixed64",):
            val = str(v)
        elif typ == "int64":
            val = str(v - (1 << 64) if v >= 1 << 63 else v)
        elif typ == "double":
            d = struct.unpack("<d", struct.pack("<Q", v))[0]
            val = "NaN" if math.isnan(d) else ("Infinity" if d > 0 else "-Infinity") \
                if math.isinf(d) else d
        elif typ == "bool":
            val = bool(v)
        else:  # enum, uint32, fixed32
            val = v
        if repeated:
            out.setdefault(name, []).append(val)
        elif name in out:
            raise ValueError(f"{msg}.{name} given twice")
        else:
            out[name] = val
    return out


def decode_logs(body):
    return decode("ExportLogsServiceRequest", body)


def decode_traces(body):
    return decode("ExportTraceServiceRequest", body)


def decode_response(body, traces=False):
    """An Export{Logs,Trace}ServiceResponse (a server's answer) as its JSON would parse."""
    return decode("ExportTraceServiceResponse" if traces else "ExportLogsServiceResponse", body)


# ---- writing (requests for skylog serve) ----------------------------------------------------

def varint(v):
    v &= (1 << 64) - 1
    out = bytearray()
    while v >= 0x80:
        out.append(v & 0x7F | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def tag(num, wire):
    return varint(num << 3 | wire)


def ld(num, payload):
    """A length-delimited field: a string, bytes or a nested message."""
    if isinstance(payload, str):
        payload = payload.encode()
    return tag(num, 2) + varint(len(payload)) + payload


def vi(num, v):
    return tag(num, 0) + varint(v)


def f64(num, v):
    return tag(num, 1) + struct.pack("<Q", v)


def f32(num, v):
    return tag(num, 5) + struct.pack("<I", v)


def dbl(num, d):
    return tag(num, 1) + struct.pack("<d", d)


def any_value(v):
    """An AnyValue from a Python value (str, bool, int, float, bytes, list, dict, None)."""
    if v is None:
        return b""
    if isinstance(v, bool):
        return vi(2, int(v))
    if isinstance(v, int):
        return vi(3, v)
    if isinstance(v, float):
        return dbl(4, v)
    if isinstance(v, str):
        return ld(1, v)
    if isinstance(v, bytes):
        return ld(7, v)
    if isinstance(v, list):
        return ld(5, b"".join(ld(1, any_value(e)) for e in v))
    if isinstance(v, dict):
        return ld(6, b"".join(ld(1, key_value(k, e)) for k, e in v.items()))
    raise TypeError(type(v))


def key_value(k, v):
    return ld(1, k) + ld(2, any_value(v))


def log_record(time_ns=0, body=None, severity=0, severity_text="", attrs=None, trace_id=b"",
               span_id=b"", observed_ns=0, extra=b""):
    out = b""
    if time_ns:
        out += f64(1, time_ns)
    if observed_ns:
        out += f64(11, observed_ns)
    if severity:
        out += vi(2, severity)
    if severity_text:
        out += ld(3, severity_text)
    if body is not None:
        out += ld(5, any_value(body))
    for k, v in (attrs or {}).items():
        out += ld(6, key_value(k, v))
    if trace_id:
        out += ld(9, trace_id)
    if span_id:
        out += ld(10, span_id)
    return out + extra


def request(records, resource=None, scope=("", "")):
    """An ExportLogsServiceRequest: one ResourceLogs, one ScopeLogs with these records."""
    res = b"".join(ld(1, key_value(k, v)) for k, v in (resource or {}).items())
    sc = (ld(1, scope[0]) if scope[0] else b"") + (ld(2, scope[1]) if scope[1] else b"")
    sl = ld(1, sc) + b"".join(ld(2, r) for r in records)
    return ld(1, ld(1, res) + ld(2, sl))


def span(trace_id=b"", span_id=b"", parent=b"", name="", kind=0, start_ns=0, end_ns=0,
         attrs=None, status=None, extra=b"", trace_state="", flags=0):
    """A Span; status is (code, message) or None."""
    out = b""
    if trace_id:
        out += ld(1, trace_id)
    if span_id:
        out += ld(2, span_id)
    if trace_state:
        out += ld(3, trace_state)
    if flags:
        out += f32(16, flags)
    if parent:
        out += ld(4, parent)
    if name:
        out += ld(5, name)
    if kind:
        out += vi(6, kind)
    if start_ns:
        out += f64(7, start_ns)
    if end_ns:
        out += f64(8, end_ns)
    for k, v in (attrs or {}).items():
        out += ld(9, key_value(k, v))
    if status is not None:
        out += ld(15, (ld(2, status[1]) if status[1] else b"") + (vi(3, status[0]) if status[0] else b""))
    return out + extra


def traces_request(spans, resource=None, scope=("", "")):
    """An ExportTraceServiceRequest: one ResourceSpans, one ScopeSpans with these spans (the
    same shape and numbers as request())."""
    return request(spans, resource, scope)
