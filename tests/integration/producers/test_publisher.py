"""The publisher against the real broker: acknowledged offsets, order, bounds, absence."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

import pytest

from core.settings import Settings
from producers.errors import PublishError
from producers.publisher import Publisher
from schemas import ORDERS_TOPIC, Envelope, OrderPlaced, PlaybackHeartbeat, decode, new_event


def order(store: str, n: int) -> Envelope[Any]:
    line = {"sku": "A", "quantity": 1 + n % 5, "unit_price": Decimal("2.50"), "currency": "EUR"}
    payload = OrderPlaced.model_validate(
        {"order_id": f"o-{n}", "customer_id": "c-1", "store_id": store, "lines": [line]}
    )
    return new_event(payload, source="test")


def heartbeat(session: str, n: int) -> Envelope[Any]:
    payload = PlaybackHeartbeat(session_id=session, user_id="u", title_id="t", position_s=float(n))
    return new_event(payload, source="test")


@pytest.fixture
async def publisher(settings: Settings, pub_topics: dict[str, str]) -> Any:
    async with Publisher(settings, topics=pub_topics) as started:
        yield started


async def test_publish_returns_the_offset_a_consumer_finds_the_event_at(
    publisher: Publisher, pub_topics: dict[str, str], read_at: Any
) -> None:
    event = order("store-1", 1)
    delivery = await publisher.publish(event)
    assert (delivery.event_id, delivery.topic) == (event.event_id, pub_topics[ORDERS_TOPIC])
    record = await read_at(delivery.topic, delivery.partition, delivery.offset)
    assert record.key == b"store-1"
    assert decode(record.value, record.headers) == event


async def test_publish_many_keeps_input_order_per_key_and_reports_real_offsets(
    publisher: Publisher, pub_topics: dict[str, str], read_all: Any
) -> None:
    events = [
        order(f"store-{n % 3}", n) if n % 2 else heartbeat(f"sess-{n % 4}", n) for n in range(600)
    ]
    deliveries = await publisher.publish_many(events)

    assert [d.event_id for d in deliveries] == [e.event_id for e in events]
    records = await read_all(list(pub_topics.values()), len(events))
    at = {(r.topic, r.partition, r.offset): decode(r.value, r.headers) for r in records}
    for event, d in zip(events, deliveries, strict=True):
        assert at[(d.topic, d.partition, d.offset)].event_id == event.event_id
    by_key: dict[str, list[Any]] = {}
    for r in sorted(records, key=lambda r: (r.topic, r.partition, r.offset)):
        by_key.setdefault(r.key.decode(), []).append(decode(r.value, r.headers).event_id)
    for key, ids in by_key.items():
        assert ids == [e.event_id for e in events if e.key == key]


async def test_pending_events_stay_within_max_pending(
    settings: Settings, pub_topics: dict[str, str]
) -> None:
    bounded = settings.model_copy(update={"publisher_max_pending": 5})
    async with Publisher(bounded, topics=pub_topics) as publisher:
        samples: list[int] = []

        async def watch() -> None:
            while True:
                samples.append(publisher.pending)
                await asyncio.sleep(0)

        watcher = asyncio.create_task(watch())
        events = [order(f"store-{n % 7}", n) for n in range(300)]
        many = asyncio.create_task(publisher.publish_many(events[:200]))
        singles = await asyncio.gather(*(publisher.publish(e) for e in events[200:]))
        deliveries = await many
        watcher.cancel()
    assert len(deliveries) == 200 and len(singles) == 100
    assert max(samples) <= 5 and publisher.peak_pending <= 5
    assert max(samples) > 1  # the bound was actually reached for, not trivially kept


async def test_an_absent_broker_is_a_clear_publish_error_within_the_deadline(
    settings: Settings,
) -> None:
    absent = settings.model_copy(
        update={"kafka_bootstrap": "127.0.0.1:1", "publisher_send_timeout_s": 3.0}
    )
    publisher = Publisher(absent)
    t0 = time.monotonic()
    with pytest.raises(PublishError, match=r"cannot connect to Kafka at 127\.0\.0\.1:1"):
        await publisher.start()
    assert time.monotonic() - t0 < 3.5
    with pytest.raises(PublishError, match="not started"):
        await publisher.publish(order("store-1", 1))


async def test_a_broker_that_never_answers_does_not_hang_start(settings: Settings) -> None:
    silent_clients: list[asyncio.StreamWriter] = []

    async def accept_and_say_nothing(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        silent_clients.append(writer)

    server = await asyncio.start_server(accept_and_say_nothing, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    silent = settings.model_copy(
        update={"kafka_bootstrap": f"127.0.0.1:{port}", "publisher_send_timeout_s": 1.5}
    )
    t0 = time.monotonic()
    try:
        with pytest.raises(PublishError, match=f"127.0.0.1:{port}"):
            await Publisher(silent).start()
        assert time.monotonic() - t0 < 3
    finally:
        for writer in silent_clients:
            writer.close()
        server.close()
        await server.wait_closed()
