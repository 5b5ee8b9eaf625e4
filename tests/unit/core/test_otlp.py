"""core.otlp: the hand-written OTLP encoding equals the SDK encoder's, and the exporter
sends it over HTTP as the SDK's exporter would."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as sdk_encode
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
    set_span_in_context,
)

from core.otlp import OTLPExporter, encode_spans

pytestmark = pytest.mark.unit

REMOTE = SpanContext(
    0x4BF92F3577B34DA6A3CE929D0E0E4736,
    0x00F067AA0BA902B7,
    is_remote=True,
    trace_flags=TraceFlags(TraceFlags.SAMPLED),
    trace_state=TraceState([("vendor", "x1"), ("other", "y")]),
)


def provider(name: str, memory: InMemorySpanExporter, **limits: Any) -> TracerProvider:
    p = TracerProvider(
        resource=Resource.create({"service.name": name, "host.cores": 2}),
        span_limits=SpanLimits(**limits),
    )
    p.add_span_processor(SimpleSpanProcessor(memory))
    return p


def every_shape() -> tuple[ReadableSpan, ...]:
    """Spans of two providers (resources) and three scopes, with every kind of field."""
    memory = InMemorySpanExporter()
    first = provider("riverbed-orders", memory, max_span_attributes=12, max_links=2)
    second = provider("riverbed-inventory", memory)
    tracer = first.get_tracer("riverbed")
    versioned = first.get_tracer("other", "1.2.3", schema_url="https://example.com/s/1.0")
    with tracer.start_as_current_span(
        "process t",
        kind=SpanKind.CONSUMER,
        attributes={
            "s": "kafka",
            "empty": "",
            "yes": True,
            "no": False,
            "n": 7,
            "big": 2**40,
            "negative": -3,
            "f": 0.25,
            "strings": ("a", "", "ü"),
            "ints": [1, -2, 300],
            "floats": (1.5,),
            "bools": (True, False),
            "utf8 ключ": "значение",
        },
        links=[
            Link(REMOTE, {"why": "batch", "n": 2}),
            Link(SpanContext(5, 6, is_remote=False)),
            Link(SpanContext(7, 8, is_remote=True)),  # over max_links: dropped
        ],
    ) as batch:
        batch.add_event("retry", {"attempt": 2, "s": "kafka"})
        batch.add_event("bare")
        batch.set_attribute("late", "x" * 300)  # 14 over a limit of 12: 2 dropped
        with tracer.start_as_current_span("transaction") as tx:
            tx.set_status(Status(StatusCode.ERROR, "deadlock detected"))
        with versioned.start_as_current_span("ok", kind=SpanKind.CLIENT) as ok:
            ok.set_status(Status(StatusCode.OK))
    second.get_tracer("riverbed").start_span(
        "skip stock.reserved",
        context=set_span_in_context(NonRecordingSpan(REMOTE)),
        kind=SpanKind.CONSUMER,
        attributes={"s": "kafka", "riverbed.skipped": "already applied"},
    ).end()
    for kind in (SpanKind.SERVER, SpanKind.PRODUCER, SpanKind.INTERNAL):
        second.get_tracer("riverbed").start_span(f"k{kind.value}", kind=kind).end()
    return memory.get_finished_spans()


def test_every_field_encodes_as_the_sdk_encoder_does() -> None:
    spans = every_shape()
    assert len(spans) == 7
    ours = ExportTraceServiceRequest.FromString(encode_spans(spans))
    assert ours == sdk_encode(spans)
    # Not vacuous: the fields that could be lost are there.
    assert len(ours.resource_spans) == 2
    batch = next(
        s for rs in ours.resource_spans for ss in rs.scope_spans for s in ss.spans if s.links
    )
    assert batch.dropped_attributes_count == 2 and batch.dropped_links_count == 1
    assert [e.name for e in batch.events] == ["retry", "bare"]


def test_each_batch_of_a_stream_encodes_alike_with_the_cache_warm() -> None:
    spans = every_shape()
    for _ in range(3):  # the string cache is filled by the first round
        for one in spans:
            assert ExportTraceServiceRequest.FromString(encode_spans([one])) == sdk_encode([one])


def test_an_empty_batch_is_an_empty_request() -> None:
    assert encode_spans([]) == b""
    assert sdk_encode([]).SerializeToString() == b""


class Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, str, bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, self.headers["Content-Type"], body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def collector() -> Iterator[tuple[str, list[tuple[str, str, bytes]]]]:
    server = HTTPServer(("127.0.0.1", 0), Collector)
    Collector.received = []
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", Collector.received
    finally:
        server.shutdown()
        server.server_close()


def test_the_exporter_posts_the_encoded_request_over_otlp_http(
    collector: tuple[str, list[tuple[str, str, bytes]]],
) -> None:
    url, received = collector
    spans = every_shape()
    exporter = OTLPExporter(endpoint=f"{url}/v1/traces")
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    [(path, content_type, body)] = received
    assert path == "/v1/traces"
    assert content_type == "application/x-protobuf"
    assert ExportTraceServiceRequest.FromString(body) == sdk_encode(spans)
    exporter.shutdown()  # type: ignore[no-untyped-call]
    assert exporter.export(spans) is SpanExportResult.FAILURE  # as the SDK's, after shutdown
