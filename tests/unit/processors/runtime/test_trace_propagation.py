"""Trace context from an HTTP header to the worker that skips the emitted stock event.

The real gateway app (in-memory producer), the publisher's ``send`` span, the wire
format, the orders worker's batch span and the decision logic, and the inventory
worker's skip hook, each with its own tracer provider and the SDK's in-memory exporter.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import httpx
import pytest
from aiokafka.structs import RecordMetadata
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from pydantic import SecretStr

from core.settings import Settings
from core.tracing import Tracing, is_sampled, span_context_of, traceparent_of, tracing_for
from processors.commerce.logic import apply
from processors.commerce.state import CommerceState, Level
from processors.commerce.worker import already_applied, applied_by
from processors.runtime.tracing import BatchTracing, child, later
from producers.gateway import create_app
from producers.publisher import Publisher
from schemas import HEADER_TYPE, Envelope, decode, encode
from schemas.wire import HEADER_TRACEPARENT, Encoded

pytestmark = pytest.mark.unit

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
KEY = "bootstrap-key-for-tracing-tests"


class CapturingProducer:
    """Acknowledges each send at once and keeps what it was given."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, list[tuple[str, bytes]]]] = []

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def flush(self) -> None:
        return None

    async def send(
        self, topic: str, value: bytes, *, key: bytes, headers: list[tuple[str, bytes]]
    ) -> asyncio.Future[Any]:
        self.sent.append((topic, value, headers))
        future = asyncio.get_running_loop().create_future()
        future.set_result(RecordMetadata(topic, 2, None, 41 + len(self.sent), -1, None, 0))
        return future


def memory(service: str) -> tuple[Tracing, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    return Tracing.build(service, 1.0, exporter, batch=False), exporter


def order(order_id: str = "o-1") -> dict[str, Any]:
    return {
        "type": "order.placed",
        "version": 1,
        "payload": {
            "order_id": order_id,
            "customer_id": "c-1",
            "store_id": "store-1",
            "lines": [{"sku": "A", "quantity": 1, "unit_price": "3.10", "currency": "EUR"}],
        },
    }


async def gateway_post(
    producer: CapturingProducer,
    tracing: Tracing | None,
    path: str,
    body: Any,
    headers: dict[str, str],
    **settings: Any,
) -> httpx.Response:
    """POST ``body`` through the real gateway app, its publisher sending to ``producer``."""
    config = Settings(gateway_api_key=SecretStr(KEY), **settings)
    tracer = None if tracing is None else tracing.tracer
    publisher = Publisher(config, producer=producer, tracer=tracer)  # type: ignore[arg-type]
    app = create_app(config, publisher=publisher, tracing=tracing)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            return await client.post(path, json=body, headers={"X-API-Key": KEY, **headers})


async def post(tracing: Tracing, body: dict[str, Any], headers: dict[str, str]) -> Any:
    """POST one event through the real gateway app; the message the producer got."""
    producer = CapturingProducer()
    answer = await gateway_post(producer, tracing, "/v1/events", body, headers)
    assert answer.status_code == 202, answer.text
    assert len(producer.sent) == 1
    return producer.sent[0]


def by_name(spans: tuple[ReadableSpan, ...], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, [s.name for s in spans]
    return found[0]


async def test_one_trace_from_the_http_header_to_the_skipped_stock_event() -> None:
    gateway, gateway_spans = memory("riverbed-gateway")
    topic, value, headers = await post(
        gateway, order(), {"traceparent": f"00-{TRACE_ID}-{PARENT}-01"}
    )

    # The gateway continued the caller's trace: server span under the header's parent,
    # the send span under the server span, and the message carries the send span.
    spans = gateway_spans.get_finished_spans()
    server = next(s for s in spans if s.kind is SpanKind.SERVER)
    send = by_name(spans, f"send {topic}")
    assert f"{server.context.trace_id:032x}" == TRACE_ID
    assert server.parent is not None and f"{server.parent.span_id:016x}" == PARENT
    assert send.parent is not None and send.parent.span_id == server.context.span_id
    assert send.kind is SpanKind.PRODUCER
    assert send.attributes is not None
    assert send.attributes["messaging.destination.partition.id"] == "2"
    assert send.attributes["messaging.kafka.offset"] == 42
    carried = traceparent_of(send.context)
    assert dict(headers)["traceparent"] == carried.encode()
    placed = decode(value, headers)
    assert placed.traceparent == carried  # envelope and header agree
    assert send.attributes["messaging.message.id"] == str(placed.event_id)

    # The orders worker: one batch span linked to the message, parented on it, with
    # its children; the decision emits events carrying the cause's trace.
    orders_tracing, orders_spans = memory("riverbed-orders")
    orders = BatchTracing(orders_tracing, kind="orders", topic=topic, group="g-orders")
    state = CommerceState(known_customers={"c-1"}, default_threshold=0)
    state.levels[("store-1", "A")] = Level(on_hand=5, reserved=0)
    emitted: list[Encoded] = []
    publish: list[Callable[[], AbstractContextManager[Any]] | None] = []

    async def flush(envelopes: list[Envelope[Any]]) -> None:
        with child(orders, "transaction"), child(orders, "decide"):
            emitted.extend(apply(state, envelopes).emitted)
        publish.append(later(orders, "outbox publish"))  # the outbox's publisher opens it

    await orders.flush(flush)([placed])
    [opens] = publish
    assert opens is not None
    with opens():  # after the batch span ended, in another task
        pass
    spans = orders_spans.get_finished_spans()
    batch = by_name(spans, f"process {topic}")
    assert batch.kind is SpanKind.CONSUMER
    assert batch.context.trace_id == send.context.trace_id
    assert batch.parent is not None and batch.parent.span_id == send.context.span_id
    assert [link.context.span_id for link in batch.links] == [send.context.span_id]
    for name in ("transaction", "decide", "outbox publish"):
        span = by_name(spans, name)
        assert span.context.trace_id == send.context.trace_id
    assert by_name(spans, "decide").parent.span_id == by_name(spans, "transaction").context.span_id  # type: ignore[union-attr]
    assert by_name(spans, "outbox publish").parent.span_id == batch.context.span_id  # type: ignore[union-attr]
    assert sorted(e.type for e in emitted) == ["order.confirmed", "stock.reserved"]
    assert {e.traceparent for e in emitted} == {carried}

    # The inventory worker skips the reservation the orders worker applied, and says so
    # in the same trace.
    reserved = next(e for e in emitted if e.type == "stock.reserved")
    reserved_headers = reserved.headers + applied_by(reserved.type)
    inventory_tracing, inventory_spans = memory("riverbed-inventory")
    inventory = BatchTracing(inventory_tracing, kind="inventory", topic="t.inv", group="g-inv")
    assert inventory.skip(already_applied)(reserved_headers) is True
    (skipped,) = inventory_spans.get_finished_spans()
    assert skipped.name == "skip stock.reserved"
    assert skipped.context.trace_id == send.context.trace_id
    assert skipped.parent is not None and skipped.parent.span_id == send.context.span_id
    assert skipped.attributes is not None
    assert skipped.attributes["messaging.message.id"] == str(reserved.event_id)
    # A message that is not skipped records nothing.
    assert inventory.skip(already_applied)(encode(placed)[1]) is False
    assert len(inventory_spans.get_finished_spans()) == 1


async def test_an_unsampled_caller_is_followed_not_recorded() -> None:
    gateway, spans = memory("riverbed-gateway")
    _, value, headers = await post(gateway, order(), {"traceparent": f"00-{TRACE_ID}-{PARENT}-00"})
    assert spans.get_finished_spans() == ()
    carried = decode(value, headers).traceparent
    assert carried is not None and carried.startswith(f"00-{TRACE_ID}-")
    assert carried.endswith("-00")  # the decision travels on: downstream drops it too


async def test_without_a_header_the_gateway_starts_a_trace() -> None:
    gateway, spans = memory("riverbed-gateway")
    _, value, headers = await post(gateway, order(), {})
    (server,) = [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert server.parent is None
    carried = span_context_of(decode(value, headers).traceparent)
    assert carried is not None and carried.trace_id == server.context.trace_id


async def test_a_batch_links_every_kept_message_and_follows_the_first_one() -> None:
    tracing, spans = memory("riverbed-orders")
    worker = BatchTracing(tracing, kind="orders", topic="t", group="g")
    sampled = {1: "00", 2: "01", 3: "01"}
    parents = [f"00-{n:032x}-{n:016x}-{flag}" for n, flag in sampled.items()]
    events = [decode(*_placed(f"o-{n}", tp)) for n, tp in enumerate(parents)]
    seen: list[int] = []

    async def flush(envelopes: list[Envelope[Any]]) -> None:
        seen.append(len(envelopes))

    await worker.flush(flush)(events)
    batch, other = sorted(spans.get_finished_spans(), key=lambda s: s.context.trace_id)
    assert seen == [3]
    # Links name the kept traces' messages only: the dropped trace (1) has no span anywhere.
    assert [link.context.trace_id for link in batch.links] == [2, 3]
    assert batch.context.trace_id == 2 and batch.parent is not None and batch.parent.span_id == 2
    assert batch.attributes is not None and batch.attributes["messaging.batch.message_count"] == 3
    # The other kept trace (3) gets a span under its message that links to the batch;
    # the dropped one (1) gets nothing.
    assert other.context.trace_id == 3 and other.parent is not None and other.parent.span_id == 3
    assert [link.context.span_id for link in other.links] == [batch.context.span_id]
    assert (other.start_time, other.end_time) == (batch.start_time, batch.end_time)


async def test_a_batch_of_dropped_traces_records_nothing() -> None:
    tracing, spans = memory("riverbed-orders")
    worker = BatchTracing(tracing, kind="orders", topic="t", group="g")
    events = [decode(*_placed(f"o-{n}", f"00-{n:032x}-{n:016x}-00")) for n in (1, 2)]

    async def flush(envelopes: list[Envelope[Any]]) -> None:
        with child(worker, "transaction"):
            pass

    await worker.flush(flush)(events)
    # The first message's dropped trace is the batch's parent: ParentBased drops the
    # batch and its children, although the ratio sampler alone (1.0 here) would keep them.
    assert spans.get_finished_spans() == ()


@pytest.mark.parametrize(
    ("traceparent", "sampled"),
    [
        (f"00-{TRACE_ID}-{PARENT}-01", True),
        (f"00-{TRACE_ID}-{PARENT}-00", False),
        (f"00-{TRACE_ID}-{PARENT}-03", True),  # other flag bits set
        (f"00-{TRACE_ID}-{PARENT}-02", False),
        (f"01-{TRACE_ID}-{PARENT}-09-future", True),  # a later version's extra field
        (None, False),
        ("00-short", False),
    ],
)
def test_the_sampled_flag_is_read_without_parsing(traceparent: str | None, sampled: bool) -> None:
    assert is_sampled(traceparent) is sampled
    remote = span_context_of(traceparent)
    assert remote is None or remote.trace_flags.sampled is sampled


def _placed(order_id: str, traceparent: str) -> tuple[bytes, list[tuple[str, bytes]]]:
    from schemas import OrderPlaced, new_event

    body = order(order_id)["payload"]
    return encode(new_event(OrderPlaced.model_validate(body), source="t", traceparent=traceparent))


def test_tracing_is_off_without_an_endpoint() -> None:
    settings = Settings(otel_endpoint=None)
    assert tracing_for(settings, "gateway") is None
    assert BatchTracing.of(settings, "orders", topic="t", group="g") is None
    with child(None, "decide"):  # the worker's spans cost a null context
        pass
    assert Publisher(settings)._tracer is None


async def test_tracing_off_leaves_the_envelope_as_sent() -> None:
    producer = CapturingProducer()
    answer = await gateway_post(
        producer,
        None,
        "/v1/events",
        order(),
        {"traceparent": f"00-{TRACE_ID}-{PARENT}-01"},
        otel_endpoint=None,
    )
    assert answer.status_code == 202
    _, value, headers = producer.sent[0]
    assert decode(value, headers).traceparent is None
    assert "traceparent" not in dict(headers)


async def post_batch(tracing: Tracing, traceparent: str) -> list[Any]:
    producer = BatchProducer()
    answer = await gateway_post(
        producer,
        tracing,
        "/v1/events/batch",
        [order("o-1"), order("o-2")],
        {"traceparent": traceparent},
    )
    assert answer.status_code == 202, answer.text
    return [decode(value, headers) for value, headers in producer.records]


class BatchProducer(CapturingProducer):
    """Also takes record batches (``publish_many``), acknowledged at once."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[tuple[bytes, list[tuple[str, bytes]]]] = []

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1}

    def create_batch(self) -> Any:
        owner = self

        class Builder:
            def append(self, *, timestamp: Any, key: bytes, value: bytes, headers: Any) -> object:
                owner.records.append((value, headers))
                return object()

            def close(self) -> None:
                return None

        return Builder()

    async def send_batch(self, builder: Any, topic: str, *, partition: int) -> asyncio.Future[Any]:
        future = asyncio.get_running_loop().create_future()
        future.set_result(RecordMetadata(topic, partition, None, 7, -1, None, 0))
        return future


async def test_a_sampled_batch_gives_each_event_a_create_span_naming_it() -> None:
    gateway, spans = memory("riverbed-gateway")
    events = await post_batch(gateway, f"00-{TRACE_ID}-{PARENT}-01")
    finished = spans.get_finished_spans()
    send = next(s for s in finished if s.name.startswith("send "))
    creates = {
        s.attributes["messaging.message.id"]: s  # type: ignore[index]
        for s in finished
        if s.name.startswith("create ")
    }
    assert set(creates) == {str(e.event_id) for e in events}
    for event in events:
        create = creates[str(event.event_id)]
        assert create.parent is not None and create.parent.span_id == send.context.span_id
        assert event.traceparent == traceparent_of(create.context)
        assert create.attributes is not None and "messaging.kafka.offset" in create.attributes


async def test_an_unsampled_batch_costs_no_span_per_event() -> None:
    gateway, spans = memory("riverbed-gateway")
    events = await post_batch(gateway, f"00-{TRACE_ID}-{PARENT}-00")
    assert spans.get_finished_spans() == ()
    assert len({e.traceparent for e in events}) == 1  # the batch's unsampled context
    assert str(events[0].traceparent).startswith(f"00-{TRACE_ID}-")


def test_a_skipped_message_of_a_dropped_trace_records_nothing() -> None:
    tracing, spans = memory("riverbed-inventory")
    inventory = BatchTracing(tracing, kind="inventory", topic="t.inv", group="g-inv")
    kept, dropped = (f"00-{TRACE_ID}-{PARENT}-{flags}" for flags in ("01", "00"))
    skip = inventory.skip(lambda headers: True)
    assert skip([(HEADER_TRACEPARENT, dropped.encode()), (HEADER_TYPE, b"stock.reserved")]) is True
    assert spans.get_finished_spans() == ()
    assert skip([(HEADER_TRACEPARENT, kept.encode()), (HEADER_TYPE, b"stock.reserved")]) is True
    (span,) = spans.get_finished_spans()
    assert span.name == "skip stock.reserved" and span.parent is not None
    assert f"{span.parent.span_id:016x}" == PARENT
