"""core.tracing.Tracing.record: a span recorded finished is the span the SDK would have
exported for the same call (less its own id), and nothing for a dropped trace."""

from __future__ import annotations

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, SpanKind, TraceFlags, TraceState
from opentelemetry.util.types import Attributes

from core import otlp
from core.tracing import Tracing, context_in

pytestmark = pytest.mark.unit

SAMPLED = SpanContext(
    0x4BF92F3577B34DA6A3CE929D0E0E4736,
    0x00F067AA0BA902B7,
    is_remote=True,
    trace_flags=TraceFlags(TraceFlags.SAMPLED),
    trace_state=TraceState([("vendor", "x1")]),
)
BATCH = SpanContext(0x11, 0x22, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))
ATTRIBUTES: Attributes = {"messaging.system": "kafka", "messaging.message.id": "e-1", "n": 3}


def memory() -> tuple[Tracing, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    return Tracing.build("riverbed-inventory", 0.1, exporter, batch=False), exporter


def as_exported(span: ReadableSpan, span_id: int) -> bytes:
    """The span's OTLP bytes with its own id and times set to fixed values."""
    encoded = encode_spans([span])
    (pb,) = encoded.resource_spans[0].scope_spans[0].spans
    pb.span_id = span_id.to_bytes(8, "big")
    pb.start_time_unix_nano = pb.end_time_unix_nano = 1
    return bytes(encoded.SerializeToString(deterministic=True))


def test_a_recorded_span_is_the_span_the_sdk_would_export() -> None:
    tracing, exported = memory()
    recorded = tracing.record(
        "skip stock.reserved",
        SAMPLED,
        kind=SpanKind.CONSUMER,
        attributes=ATTRIBUTES,
        links=(Link(BATCH),),
        start_ns=5,
        end_ns=9,
    )
    tracing.tracer.start_span(
        "skip stock.reserved",
        context=context_in(SAMPLED),
        kind=SpanKind.CONSUMER,
        attributes=ATTRIBUTES,
        links=[Link(BATCH)],
    ).end()
    ours, sdk = exported.get_finished_spans()
    assert recorded == ours.context
    assert ours.context.trace_id == SAMPLED.trace_id and ours.context.trace_flags.sampled
    assert ours.parent == SAMPLED and ours.context.span_id not in (0, SAMPLED.span_id)
    assert (ours.start_time, ours.end_time) == (5, 9)
    assert as_exported(ours, 1) == as_exported(sdk, 1)  # every other field alike


def test_a_dropped_trace_records_nothing() -> None:
    tracing, exported = memory()
    dropped = SpanContext(SAMPLED.trace_id, SAMPLED.span_id, is_remote=True)
    assert (
        tracing.record("x", dropped, kind=SpanKind.CONSUMER, attributes=None, start_ns=1, end_ns=2)
        is None
    )
    assert exported.get_finished_spans() == ()


def test_recorded_and_sdk_spans_share_one_scope_in_an_export() -> None:
    tracing, exported = memory()
    for n in range(3):  # interleaved: SDK span, recorded span, ...
        tracing.tracer.start_span(f"sdk {n}", context=context_in(SAMPLED)).end()
        tracing.record(
            f"recorded {n}", SAMPLED, kind=SpanKind.CONSUMER, attributes=None, start_ns=1, end_ns=2
        )
    spans = exported.get_finished_spans()
    ours = ExportTraceServiceRequest.FromString(otlp.encode_spans(spans))
    assert ours == encode_spans(spans)
    [resource_spans] = ours.resource_spans
    [scope_spans] = resource_spans.scope_spans
    assert [s.name for s in scope_spans.spans] == [s.name for s in spans]
