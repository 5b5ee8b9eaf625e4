"""Spans of the batch workers, wrapped around the runtime's seams (no change to the loop).

* :meth:`BatchTracing.flush` wraps a batch's flush (the ``flush`` a
  :class:`~processors.runtime.consumer.BatchConsumer` calls, once per attempt): a
  ``process <topic>`` span with a **link to every kept message** of the batch (the
  OpenTelemetry messaging conventions for batches, less the links to dropped traces,
  which no backend holds). Its parent is the first *sampled* message's context, so a
  kept trace shows the worker, its database transaction and what it published under
  the request that caused them; each other kept message gets a ``process`` span in its
  own trace, linked to the batch span. An unsampled message costs one character
  compare: no context, link or span. Events emitted by the batch carry their cause's ``traceparent``
  (``processors/commerce/logic.py``), so their consumers join the same trace.
* :meth:`BatchTracing.child` opens a child of the batch span (decision, transaction);
  :meth:`BatchTracing.later` one that another task opens after the batch span ended
  (``outbox publish``: the outbox's publisher sends a committed batch while the loop
  goes on with the next one).
* :meth:`BatchTracing.skip` wraps a ``skip(headers)`` predicate: a message skipped
  before decoding (e.g. ``stock.reserved`` that the orders worker already applied) gets
  a short span under its sampled context, so its trace shows it was handled.

The spans made per kept message (a message's own ``process`` span, ``skip``) are
recorded finished (:meth:`core.tracing.Tracing.record`), and every span is encoded by
:mod:`core.otlp`: the SDK's live spans and its OTLP encoder cost ~60-80 us per kept
message on this machine, these ~20 us (BENCHMARKS.md, "Tracing").

Tracing off: the worker does not wrap anything (``BatchTracing.of`` returns None), so a
batch costs what it did; :func:`child` of None is a shared null context.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from types import MappingProxyType
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, Span, SpanContext, SpanKind

from core.settings import Settings
from core.tracing import Tracing, context_in, is_sampled, span_context_of, tracing_for
from processors.runtime.consumer import Skip
from processors.runtime.isolation import Flush
from schemas import HEADER_TYPE, Envelope
from schemas.wire import HEADER_EVENT_ID, HEADER_TRACEPARENT

_NULL: AbstractContextManager[None] = contextlib.nullcontext()
SKIPPED = "already applied by the emitting worker"


class BatchTracing:
    """One worker kind's spans (see the module docstring)."""

    def __init__(self, tracing: Tracing, *, kind: str, topic: str, group: str) -> None:
        self.tracing = tracing
        self._tracer = tracing.tracer
        self.kind = kind
        self.topic = topic
        self._attributes: dict[str, Any] = {
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.operation.name": "process",
            "messaging.destination.name": topic,
            "messaging.consumer.group.name": group,
        }
        # Shared by every per-message span (Tracing.record does not copy): read-only.
        self._own = MappingProxyType(
            {"messaging.system": "kafka", "messaging.destination.name": topic}
        )
        self._process = f"process {topic}"

    @classmethod
    def of(cls, settings: Settings, kind: str, *, topic: str, group: str) -> BatchTracing | None:
        tracing = tracing_for(settings, kind)
        return None if tracing is None else cls(tracing, kind=kind, topic=topic, group=group)

    def flush(self, flush: Flush) -> Flush:
        """``flush`` inside a batch span linked to every sampled message it applies."""

        async def traced(envelopes: list[Envelope[Any]]) -> None:
            with self.batch_span(envelopes):
                await flush(envelopes)

        return traced

    @contextlib.contextmanager
    def batch_span(self, envelopes: Sequence[Envelope[Any]]) -> Iterator[Span]:
        # Only kept (sampled) traces get anything per message: a message's flags are read
        # from one character of its traceparent (core.tracing.is_sampled) and a context is
        # built only when it says "sampled". A link to a dropped trace names a span no
        # backend holds, and the SDK's per-link work was the cost: with a link to every
        # message, ~every 2,000-event batch at ratio 0.1 holds a sampled message, so every
        # batch span linked all 2,000 (cProfile: 20 us per event, most of it in
        # Span._new_links; linking only the kept ones: see BENCHMARKS.md, Tracing).
        kept: list[SpanContext] = []
        first: str | None = None
        for e in envelopes:
            traceparent = e.traceparent
            if traceparent is None:
                continue
            if first is None:
                first = traceparent
            if is_sampled(traceparent):
                remote = span_context_of(traceparent)
                if remote is not None:
                    kept.append(remote)
        # The parent: the first kept message, else the first one's dropped trace (so
        # ParentBased drops the batch too), else none (a root, sampled by the ratio).
        parent = kept[0] if kept else span_context_of(first)
        span = self._tracer.start_span(
            f"process {self.topic}",
            context=None if parent is None else context_in(parent),
            kind=SpanKind.CONSUMER,
            attributes={**self._attributes, "messaging.batch.message_count": len(envelopes)},
            links=[Link(c) for c in kept] if kept else None,
        )
        try:
            with trace.use_span(span, end_on_exit=False):
                yield span
        finally:
            span.end()
            if len(kept) > 1 and span.get_span_context().is_valid:
                self._in_own_traces(span, kept[1:])

    def _in_own_traces(self, batch: Span, others: Sequence[SpanContext]) -> None:
        """A span in each other kept message's trace, linked to the batch span: so any
        kept order's trace shows where it was processed ("Follow an order"). Recorded
        finished (``Tracing.record``: one per kept message, ~5x cheaper than the SDK's
        live span), with the batch span's times."""
        link = (Link(batch.get_span_context()),)
        now = time.time_ns()
        started = getattr(batch, "start_time", None) or now
        ended = getattr(batch, "end_time", None) or now
        for c in others:
            self.tracing.record(
                self._process,
                c,
                kind=SpanKind.CONSUMER,
                attributes=self._own,
                links=link,
                start_ns=started,
                end_ns=ended,
            )

    def child(self, name: str, **attributes: Any) -> AbstractContextManager[Any]:
        """A child span of the current (batch) span."""
        return self._tracer.start_as_current_span(name, attributes=attributes or None)

    def later(self, name: str, **attributes: Any) -> Callable[[], AbstractContextManager[Any]]:
        """A child span of the current (batch) span, opened later by another task (the
        outbox publisher publishes after the batch span ended)."""
        parent = otel_context.get_current()
        return lambda: self._tracer.start_as_current_span(
            name, context=parent, attributes=attributes or None
        )

    def skip(self, skip: Skip) -> Skip:
        """``skip`` that also records each skipped message whose trace is kept."""

        def traced(headers: Sequence[tuple[str, bytes]]) -> bool:
            if not skip(headers):
                return False
            for key, raw in headers:
                if key == HEADER_TRACEPARENT:
                    # Read from the header's bytes: dropped traces cost no decode.
                    if is_sampled(raw):
                        self._skipped(raw.decode(errors="replace"), headers)
                    break
            return True

        return traced

    def _skipped(self, traceparent: str, headers: Sequence[tuple[str, bytes]]) -> None:
        remote = span_context_of(traceparent)
        if remote is None:
            return
        named = dict(headers)
        event_type = named.get(HEADER_TYPE, b"").decode(errors="replace")
        now = time.time_ns()
        self.tracing.record(
            f"skip {event_type}",
            remote,
            kind=SpanKind.CONSUMER,
            attributes={
                **self._attributes,
                "messaging.message.id": named.get(HEADER_EVENT_ID, b"").decode(errors="replace"),
                "riverbed.event.type": event_type,
                "riverbed.skipped": SKIPPED,
            },
            start_ns=now,
            end_ns=now,
        )


def child(
    tracing: BatchTracing | None, name: str, **attributes: Any
) -> AbstractContextManager[Any]:
    """``tracing.child(...)``, or a null context when tracing is off."""
    return _NULL if tracing is None else tracing.child(name, **attributes)


def later(
    tracing: BatchTracing | None, name: str, **attributes: Any
) -> Callable[[], AbstractContextManager[Any]] | None:
    """``tracing.later(...)``, or None when tracing is off."""
    return None if tracing is None else tracing.later(name, **attributes)
