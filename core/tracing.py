"""OpenTelemetry tracing, set up from settings: off (no provider, no cost) unless
``otel_endpoint`` names an OTLP/HTTP collector (Jaeger, or any other).

Each component (``gateway``, ``orders``, ``inventory``, ...) gets a :class:`Tracing` of
its own, so several components in one process (``riverbed worker all``, tests) still
report as separate services (``<otel_service_name>-<component>``). Nothing here touches
OpenTelemetry's global tracer provider: a process-wide provider can be set only once.

Sampling is parent-based: a trace started here is kept with ``otel_sample_ratio``; a
span with a parent (an HTTP ``traceparent``, an event's envelope) follows its parent's
decision, so a trace is kept or dropped whole across the gateway and the workers.

The W3C ``traceparent`` text is built and parsed here (:func:`traceparent_of`,
:func:`span_context_of`) without a propagator: the workers parse one per event, and the
envelope already validated it (``schemas.traceparent``).
"""

from __future__ import annotations

import threading

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, TraceFlags
from opentelemetry.util.types import Attributes

from core.settings import Settings

# A worker batch links to every message it processed (OTel messaging conventions for
# batches); the SDK's default keeps 128 links and drops the rest.
MAX_LINKS = 10_000
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_NOT_SAMPLED = TraceFlags(TraceFlags.DEFAULT)


SCOPE = "riverbed"


class Tracing:
    """One component's tracer provider and tracer."""

    def __init__(
        self, provider: TracerProvider, service: str, processor: SpanProcessor | None = None
    ) -> None:
        self.provider = provider
        self.service = service
        self.tracer = provider.get_tracer(SCOPE)
        self._processor = processor
        # As ``get_tracer(SCOPE)`` makes it (version ""): one scope in an export.
        self._scope = InstrumentationScope(SCOPE, "")
        self._new_span_id = provider.id_generator.generate_span_id

    def record(
        self,
        name: str,
        parent: SpanContext,
        *,
        kind: SpanKind,
        attributes: Attributes,
        links: tuple[Link, ...] = (),
        start_ns: int,
        end_ns: int,
    ) -> SpanContext | None:
        """A finished span under ``parent`` handed straight to the exporter, without the
        SDK's ``Span``: for the workers' per-message spans (one per kept message).

        ``parent`` must be sampled (the caller checked its flags): the provider's
        sampler (parent-based) would keep such a span, so none is asked. What is left
        out is the SDK's live-span machinery (sampler call, ``BoundedAttributes`` with a
        lock per span, ``BoundedList`` links, start/end processor calls, the copy into a
        ``ReadableSpan`` at the end): 4.5 us per span instead of ~25 us on this machine
        (BENCHMARKS.md, "Tracing"). ``attributes`` and ``links`` are not copied or
        limited: pass few, and do not change them afterwards. None when this
        :class:`Tracing` has no processor of its own (built around another provider).
        """
        if self._processor is None or not parent.trace_flags.sampled:
            return None
        context = SpanContext(
            parent.trace_id, self._new_span_id(), False, _SAMPLED, parent.trace_state
        )
        self._processor.on_end(
            ReadableSpan(
                name,
                context,
                parent,
                self.provider.resource,
                attributes,
                links=links,
                kind=kind,
                instrumentation_scope=self._scope,
                start_time=start_ns,
                end_time=end_ns,
            )
        )
        return context

    @classmethod
    def build(
        cls, service: str, ratio: float, exporter: SpanExporter, *, batch: bool = True
    ) -> Tracing:
        """A provider exporting to ``exporter`` (``batch=False``: each span at its end,
        for tests with the SDK's in-memory exporter)."""
        provider = TracerProvider(
            resource=Resource.create({"service.name": service}),
            sampler=ParentBased(TraceIdRatioBased(ratio)),
            span_limits=SpanLimits(max_links=MAX_LINKS),
        )
        processor = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
        provider.add_span_processor(processor)
        return cls(provider, service, processor)

    def flush(self, timeout_ms: int = 5000) -> bool:
        return bool(self.provider.force_flush(timeout_ms))

    def shutdown(self) -> None:
        self.provider.shutdown()


_components: dict[tuple[str, str], Tracing] = {}
_lock = threading.Lock()


def service_name(settings: Settings, component: str) -> str:
    """The service a component's spans report as (``<otel_service_name>-<component>``)."""
    return f"{settings.otel_service_name}-{component}"


def tracing_for(settings: Settings, component: str) -> Tracing | None:
    """The component's tracing when ``otel_endpoint`` is set, else None (tracing off).

    One provider per (endpoint, service) and process, exported in batches over OTLP/HTTP.
    """
    endpoint = settings.otel_endpoint
    if not endpoint:
        return None
    service = service_name(settings, component)
    with _lock:
        found = _components.get((endpoint, service))
        if found is None:
            from core.otlp import OTLPExporter  # the SDK's, with an encoder ~3x cheaper

            exporter = OTLPExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces")
            found = _components[(endpoint, service)] = Tracing.build(
                service, settings.otel_sample_ratio, exporter
            )
        return found


def traceparent_of(context: SpanContext) -> str:
    """The W3C ``traceparent`` of a span context (version 00)."""
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"


def span_context_of(traceparent: str | None) -> SpanContext | None:
    """The remote span context a ``traceparent`` names, or None (absent or malformed)."""
    if traceparent is None or len(traceparent) < 55:
        return None
    try:
        trace_id = int(traceparent[3:35], 16)
        span_id = int(traceparent[36:52], 16)
        sampled = int(traceparent[53:55], 16) & 1
    except ValueError:
        return None
    if not trace_id or not span_id:
        return None
    return SpanContext(
        trace_id, span_id, is_remote=True, trace_flags=_SAMPLED if sampled else _NOT_SAMPLED
    )


def context_in(remote: SpanContext) -> Context:
    """An OpenTelemetry context whose parent is the (remote) span ``remote``."""
    return trace.set_span_in_context(NonRecordingSpan(remote))


def context_of(traceparent: str | None) -> Context | None:
    """An OpenTelemetry context whose parent is the span a ``traceparent`` names."""
    remote = span_context_of(traceparent)
    return None if remote is None else context_in(remote)


def is_sampled(traceparent: str | bytes | None) -> bool:
    """Whether a ``traceparent`` (text, or a Kafka header's bytes) says "sampled", read
    from its flags' last hex digit (the sampled bit is the flags' lowest bit) without
    parsing the rest: a worker asks this of every message and builds a context only for
    the ~ratio that say yes."""
    return traceparent is not None and len(traceparent) >= 55 and traceparent[54] in _ODD_HEX


# Odd hex digits, as text and as the byte values indexing ``bytes`` gives.
_ODD_HEX: frozenset[str | int] = frozenset("13579bdfBDF") | frozenset(b"13579bdfBDF")
