"""OTLP/protobuf encoding of finished spans, written straight to bytes, and the exporter
that sends them (OTLP/HTTP, the SDK's own client).

Why not the SDK's encoder (``opentelemetry-exporter-otlp-proto-common``): it builds a
protobuf object per span, per attribute and per value, copies each into its parent, and
hashes the span's ``Resource`` (a ``json.dumps`` of its attributes) once per span. In the
workers that was ~35-55 us per span on the exporter's thread, which holds the GIL in the
worker process: the larger part of what tracing cost per kept message (BENCHMARKS.md,
"Tracing"). Here a span is a few byte strings joined; the resource and scope of a batch
are encoded once, and a repeated string attribute (``messaging.system=kafka``, a topic)
is looked up, not encoded again.

The output is the same ``ExportTraceServiceRequest`` the SDK's encoder builds (the unit
tests parse both and compare them), so any OTLP collector reads it; only the HTTP
request is sent by the SDK's exporter (retries, headers, TLS, compression from the
usual ``OTEL_EXPORTER_OTLP_*`` variables).
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind

log = logging.getLogger("riverbed.otlp")

# OTLP's Span.SpanKind: UNSPECIFIED = 0, then the API's kinds in their order.
_KIND = {
    SpanKind.INTERNAL: b"\x30\x01",
    SpanKind.SERVER: b"\x30\x02",
    SpanKind.CLIENT: b"\x30\x03",
    SpanKind.PRODUCER: b"\x30\x04",
    SpanKind.CONSUMER: b"\x30\x05",
}
# SpanFlags: the context's is_remote is known (0x100), and true (0x200).
_FLAGS_LOCAL = b"\x85\x01" + struct.pack("<I", 0x100)
_FLAGS_REMOTE = b"\x85\x01" + struct.pack("<I", 0x300)
_LINK_FLAGS_LOCAL = b"\x35" + struct.pack("<I", 0x100)
_LINK_FLAGS_REMOTE = b"\x35" + struct.pack("<I", 0x300)
_SMALL = [bytes([n]) for n in range(128)]
_FIXED64 = struct.Struct("<Q").pack
_DOUBLE = struct.Struct("<d").pack
# KeyValue bytes of string attributes seen before; bounded (message ids never repeat).
# Shared by the exporter threads of a process: a lookup that races a clear() only misses.
_CACHE_MAX = 4096
_cache: dict[tuple[bytes, str, str], bytes] = {}


def _varint(n: int) -> bytes:
    if n < 0x80:
        return _SMALL[n]
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field (a string, bytes or a message)."""
    n = len(payload)
    return tag + (_SMALL[n] if n < 0x80 else _varint(n)) + payload


def _any_value(value: Any) -> bytes:
    """An ``AnyValue``'s bytes, by the SDK encoder's order of type checks."""
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, str):
        return _field(b"\x0a", value.encode())
    if isinstance(value, int):
        return b"\x18" + _varint(value & 0xFFFFFFFFFFFFFFFF)  # int64: two's complement
    if isinstance(value, float):
        return b"\x21" + _DOUBLE(value)
    if isinstance(value, bytes):
        return _field(b"\x3a", value)
    if isinstance(value, Sequence):
        items = b"".join(_field(b"\x0a", _any_value(v)) for v in value)
        return _field(b"\x2a", items)
    if isinstance(value, Mapping):
        pairs = b"".join(_field(b"\x0a", _key_value(str(k), v)) for k, v in value.items())
        return _field(b"\x32", pairs)
    raise TypeError(f"invalid attribute value of type {type(value).__name__}: {value!r}")


def _key_value(key: str, value: Any) -> bytes:
    return (_field(b"\x0a", key.encode()) if key else b"") + _field(b"\x12", _any_value(value))


def _attributes(tag: bytes, attributes: Mapping[str, Any] | None) -> bytes:
    """Repeated ``KeyValue`` fields (``tag``); a string attribute seen before is one
    dict lookup."""
    if not attributes:
        return b""
    parts = []
    for key, value in attributes.items():
        if type(value) is str:
            found = _cache.get((tag, key, value))
            if found is None:
                found = _field(tag, _key_value(key, value))
                if len(_cache) >= _CACHE_MAX:
                    _cache.clear()
                _cache[(tag, key, value)] = found
            parts.append(found)
            continue
        try:
            parts.append(_field(tag, _key_value(key, value)))
        except Exception:  # as the SDK's encoder: one bad attribute is left out, logged
            log.exception("Failed to encode key %s", key)
    return b"".join(parts)


def _flags(parent: SpanContext | None, local: bytes, remote: bytes) -> bytes:
    return remote if parent is not None and parent.is_remote else local


def _trace_state(context: SpanContext) -> bytes:
    state = context.trace_state
    if not state:
        return b""
    return _field(b"\x1a", ",".join(f"{k}={v}" for k, v in state.items()).encode())


def _span(span: ReadableSpan) -> bytes:
    context = span.get_span_context()
    assert context is not None  # a finished SDK span always has one
    parent = span.parent
    parts = [
        b"\x0a\x10",
        context.trace_id.to_bytes(16, "big"),
        b"\x12\x08",
        context.span_id.to_bytes(8, "big"),
        _trace_state(context),
        b"" if parent is None else b"\x22\x08" + parent.span_id.to_bytes(8, "big"),
        _field(b"\x2a", span.name.encode()) if span.name else b"",
        _KIND[span.kind],
        b"\x39" + _FIXED64(span.start_time) if span.start_time else b"",
        b"\x41" + _FIXED64(span.end_time) if span.end_time else b"",
        _attributes(b"\x4a", span.attributes),
    ]
    if dropped := span.dropped_attributes:
        parts.append(b"\x50" + _varint(dropped))
    for event in span.events:
        body = (b"\x09" + _FIXED64(event.timestamp) if event.timestamp else b"") + (
            _field(b"\x12", event.name.encode()) if event.name else b""
        )
        body += _attributes(b"\x1a", event.attributes)
        if dropped := event.dropped_attributes:
            body += b"\x20" + _varint(dropped)
        parts.append(_field(b"\x5a", body))
    if dropped := span.dropped_events:
        parts.append(b"\x60" + _varint(dropped))
    for link in span.links:
        linked = link.context
        body = b"".join(
            (
                b"\x0a\x10",
                linked.trace_id.to_bytes(16, "big"),
                b"\x12\x08",
                linked.span_id.to_bytes(8, "big"),
                _attributes(b"\x22", link.attributes),
                b"\x28" + _varint(link.dropped_attributes) if link.dropped_attributes else b"",
                _flags(linked, _LINK_FLAGS_LOCAL, _LINK_FLAGS_REMOTE),
            )
        )
        parts.append(_field(b"\x6a", body))
    if dropped := span.dropped_links:
        parts.append(b"\x70" + _varint(dropped))
    status = span.status
    code = status.status_code.value
    parts.append(
        _field(
            b"\x7a",
            (_field(b"\x12", status.description.encode()) if status.description else b"")
            + (b"\x18" + _varint(code) if code else b""),
        )
    )
    parts.append(_flags(parent, _FLAGS_LOCAL, _FLAGS_REMOTE))
    return b"".join(parts)


def _scope(scope: InstrumentationScope | None) -> bytes:
    if scope is None:
        return b""
    return (
        (_field(b"\x0a", scope.name.encode()) if scope.name else b"")
        + (_field(b"\x12", scope.version.encode()) if scope.version else b"")
        + _attributes(b"\x1a", scope.attributes)
    )


def encode_spans(spans: Sequence[ReadableSpan]) -> bytes:
    """The serialized ``ExportTraceServiceRequest`` of ``spans``: one ``ResourceSpans``
    per resource and, in it, one ``ScopeSpans`` per instrumentation scope, equal ones
    merged and the spans in their order, as the SDK's encoder does."""
    # Each distinct object is compared once (a Resource's hash is a json.dumps of its
    # attributes): then a span costs two lookups by identity. The objects are kept in
    # ``seen`` so that their ids stay theirs while this runs.
    canonical: dict[int, Any] = {}
    seen: list[Any] = []
    groups: dict[int, tuple[Resource, dict[int, tuple[InstrumentationScope | None, list[bytes]]]]]
    groups = {}
    for span in spans:
        resource = canonical.get(id(span.resource))
        if resource is None:
            resource = canonical[id(span.resource)] = _first_equal(span.resource, seen)
        scope = canonical.get(id(span.instrumentation_scope), _MISSING)
        if scope is _MISSING:
            scope = canonical[id(span.instrumentation_scope)] = _first_equal(
                span.instrumentation_scope, seen
            )
        group = groups.get(id(resource))
        if group is None:
            group = groups[id(resource)] = (resource, {})
        found = group[1].get(id(scope))
        if found is None:
            found = group[1][id(scope)] = (scope, [])
        found[1].append(_field(b"\x12", _span(span)))
    out = []
    for resource, scopes in groups.values():
        body = [_field(b"\x0a", _attributes(b"\x0a", resource.attributes))]
        for scope, encoded in scopes.values():
            scope_spans = _field(b"\x0a", _scope(scope)) + b"".join(encoded)
            if scope is not None and scope.schema_url:
                scope_spans += _field(b"\x1a", scope.schema_url.encode())
            body.append(_field(b"\x12", scope_spans))
        if resource.schema_url:
            body.append(_field(b"\x1a", resource.schema_url.encode()))
        out.append(_field(b"\x0a", b"".join(body)))
    return b"".join(out)


_MISSING = object()


def _first_equal(obj: Any, seen: list[Any]) -> Any:
    """The first object of ``seen`` of the same type equal to ``obj``, else ``obj``
    (added to ``seen``)."""
    for other in seen:
        if type(other) is type(obj) and other == obj:
            return other
    seen.append(obj)
    return obj


class OTLPExporter(OTLPSpanExporter):
    """The SDK's OTLP/HTTP span exporter with :func:`encode_spans` as its encoder;
    sending, retries and settings are the SDK's.

    ``export`` is the SDK's (opentelemetry-exporter-otlp-proto-http 1.45) less its
    64 MiB request-size check (a batch is at most ``OTEL_BSP_MAX_EXPORT_BATCH_SIZE``
    spans, 512 by default: ~0.1 MiB here), and uses its private ``_client``,
    ``_metrics`` and ``_shutdown``: tests/unit/core/test_otlp.py posts through it to a
    local HTTP server, so an upgrade that changes them fails there, not in a worker.
    """

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shutdown:
            log.warning("Exporter already shutdown, ignoring batch")
            return SpanExportResult.FAILURE
        with self._metrics.export_operation(len(spans)) as result:
            try:
                data = encode_spans(spans)
            except Exception as error:
                log.exception("Failed to encode span batch")
                result.error = error
                return SpanExportResult.FAILURE
            sent = self._client.export(data)
            if not sent.success:
                result.error = sent.error
                return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS
