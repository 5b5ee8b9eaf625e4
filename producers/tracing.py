"""The publisher's spans: one ``send`` span per call, its context stamped on the events.

Following the OpenTelemetry messaging conventions, a message carries the context of the
span that created it: each envelope's ``traceparent`` (and so the ``traceparent`` Kafka
header that ``schemas.wire.encode`` copies from it) becomes the ``send`` span's. The
span's parent is the event's own ``traceparent`` when the client sent one, else the
current span (the gateway's HTTP span, which continued an incoming ``traceparent``
header). A batch gets one ``send`` span; its events keep a ``traceparent`` of their own
and the others take the span's, or, when the batch is sampled, each its own ``create``
span under it (the conventions' creation context per message), which names the event
(``messaging.message.id``) and where it was appended: so any sampled order can be found
by its event id ("Follow an order"). An unsampled batch costs no span per event.

Only used when tracing is on (a ``Publisher`` built with a tracer): off, the publisher
does exactly what it did before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.trace import Span, SpanKind, Tracer

from core.tracing import context_of, traceparent_of
from schemas.envelope import Envelope

SYSTEM = "kafka"


def send_span(
    tracer: Tracer, topic: str, events: Sequence[Envelope[Any]], *, own_parent: bool
) -> Span:
    """Start the ``send <topic>`` span of one publish call (not made current)."""
    parent = context_of(events[0].traceparent) if own_parent else None
    attributes: dict[str, Any] = {
        "messaging.system": SYSTEM,
        "messaging.operation.type": "send",
        "messaging.operation.name": "send",
        "messaging.destination.name": topic,
    }
    if len(events) == 1:
        event = events[0]
        attributes["messaging.message.id"] = str(event.event_id)
        attributes["messaging.kafka.message.key"] = event.key
        attributes["riverbed.event.type"] = event.type
    else:
        attributes["messaging.batch.message_count"] = len(events)
    return tracer.start_span(
        f"send {topic}", context=parent, kind=SpanKind.PRODUCER, attributes=attributes
    )


def create_span(tracer: Tracer, topic: str, event: Envelope[Any]) -> Span:
    """The ``create <topic>`` span of one event of a sampled batch (child of the current
    ``send`` span; not made current)."""
    return tracer.start_span(
        f"create {topic}",
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": SYSTEM,
            "messaging.operation.type": "create",
            "messaging.destination.name": topic,
            "messaging.message.id": str(event.event_id),
            "riverbed.event.type": event.type,
        },
    )


def stamped(event: Envelope[Any], span: Span, *, replace: bool) -> Envelope[Any]:
    """``event`` carrying ``span``'s context (``replace=False``: only if it has none)."""
    if event.traceparent is not None and not replace:
        return event
    context = span.get_span_context()
    if not context.is_valid:
        return event
    return event.model_copy(update={"traceparent": traceparent_of(context)})


def delivered(span: Span, partition: int, offset: int) -> None:
    """Where the broker appended a single event (the dashboard's "appended" step)."""
    span.set_attribute("messaging.destination.partition.id", str(partition))
    span.set_attribute("messaging.kafka.offset", offset)
