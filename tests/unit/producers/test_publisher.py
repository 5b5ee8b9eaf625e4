"""Publisher logic against a fake producer injected through the constructor.

The real broker's side (offsets a consumer finds, ordering, an absent broker) is in
tests/integration/producers/test_publisher.py.
"""

from __future__ import annotations

import asyncio
import re
import time
from decimal import Decimal
from typing import Any

import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    MessageSizeTooLargeError,
    NotEnoughReplicasError,
    ProducerClosed,
)
from aiokafka.partitioner import murmur2
from aiokafka.structs import RecordMetadata, TopicPartition

from core.settings import Settings
from producers.errors import PublishError, PublishRejected, PublishTimeout
from producers.publisher import Publisher
from schemas import Envelope, OrderPlaced, new_event

pytestmark = pytest.mark.unit


class FakeBuilder:
    def __init__(self, capacity: int) -> None:
        self.records: list[tuple[bytes, bytes]] = []
        self.capacity = capacity
        self.closed = False

    def append(self, *, timestamp: Any, key: bytes, value: bytes, headers: Any) -> object | None:
        if len(self.records) >= self.capacity or self.closed:
            return None
        self.records.append((key, value))
        return object()

    def close(self) -> None:
        self.closed = True


class FakeProducer:
    """Acknowledges what it is handed (or holds it until :meth:`ack_all`)."""

    def __init__(self, *, auto_ack: bool = True, batch_capacity: int = 1000) -> None:
        self.auto_ack = auto_ack
        self.refuse_after: int | None = None  # send_batch raises after this many batches
        self.batch_capacity = batch_capacity
        self.start_error: BaseException | None = None
        self.start_delay = 0.0
        self.fail_with: BaseException | None = None
        self.held: list[tuple[asyncio.Future[Any], str, int, int]] = []
        self.offsets: dict[tuple[str, int], int] = {}
        self.events: list[str] = []

    async def start(self) -> None:
        await asyncio.sleep(self.start_delay)
        if self.start_error is not None:
            raise self.start_error
        self.events.append("start")

    async def flush(self) -> None:
        self.events.append("flush")

    async def stop(self) -> None:
        self.events.append("stop")

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1, 2, 3}

    def create_batch(self) -> FakeBuilder:
        return FakeBuilder(self.batch_capacity)

    async def send_batch(self, builder: FakeBuilder, topic: str, *, partition: int) -> Any:
        if self.refuse_after is not None and len(self.held) >= self.refuse_after:
            raise ProducerClosed()
        return self._hand(topic, partition, len(builder.records))

    async def send(self, topic: str, value: bytes, key: bytes, headers: Any) -> Any:
        partition = (murmur2(key) & 0x7FFFFFFF) % 4
        return self._hand(topic, partition, 1)

    def _hand(self, topic: str, partition: int, count: int) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.held.append((future, topic, partition, count))
        if self.auto_ack:
            self.ack_all()
        return future

    def ack_all(self) -> None:
        held, self.held = self.held, []
        for future, topic, partition, count in held:
            if self.fail_with is not None:
                future.set_exception(self.fail_with)
                continue
            base = self.offsets.get((topic, partition), 0)
            self.offsets[(topic, partition)] = base + count
            tp = TopicPartition(topic, partition)
            future.set_result(RecordMetadata(topic, partition, tp, base, -1, 0, 0))


def order(store: str, n: int = 0) -> Envelope[Any]:
    line = {"sku": "A", "quantity": 1, "unit_price": Decimal("1.00"), "currency": "EUR"}
    payload = OrderPlaced.model_validate(
        {"order_id": f"o-{n}", "customer_id": "c", "store_id": store, "lines": [line]}
    )
    return new_event(payload, source="test")


@pytest.fixture
def fast(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"publisher_send_timeout_s": 0.3, "publisher_max_pending": 1000}
    )


async def started(settings: Settings, producer: FakeProducer) -> Publisher:
    publisher = Publisher(settings, producer=producer)
    await publisher.start()
    return publisher


async def test_publish_many_returns_deliveries_in_input_order_on_the_keys_partitions(
    fast: Settings,
) -> None:
    producer = FakeProducer(batch_capacity=7)  # several batches per partition
    publisher = await started(fast, producer)
    events = [order(f"store-{i % 5}", i) for i in range(100)]

    deliveries = await publisher.publish_many(events)

    assert [d.event_id for d in deliveries] == [e.event_id for e in events]
    seen: dict[int, list[int]] = {}
    for event, delivery in zip(events, deliveries, strict=True):
        assert delivery.topic == "riverbed.orders"
        assert delivery.partition == (murmur2(event.key.encode()) & 0x7FFFFFFF) % 4
        seen.setdefault(delivery.partition, []).append(delivery.offset)
    for offsets in seen.values():  # input order is offset order within a partition
        assert offsets == list(range(len(offsets)))
    await asyncio.sleep(0)  # slots come back in the acks' done-callbacks
    assert publisher.pending == 0


async def test_rule_topics_can_be_renamed(fast: Settings) -> None:
    publisher = Publisher(fast, producer=FakeProducer(), topics={"riverbed.orders": "t.x"})
    await publisher.start()
    assert (await publisher.publish(order("s"))).topic == "t.x"


async def test_no_delivery_without_an_ack_publish_many_times_out(fast: Settings) -> None:
    producer = FakeProducer(auto_ack=False)
    publisher = await started(fast, producer)
    t0 = time.monotonic()
    with pytest.raises(PublishTimeout):
        await publisher.publish_many([order("s", i) for i in range(10)])
    assert 0.25 < time.monotonic() - t0 < 2
    assert publisher.pending == 10  # still in flight: counted until the client settles them
    producer.ack_all()
    await asyncio.sleep(0)
    assert publisher.pending == 0


async def test_no_delivery_without_an_ack_publish_times_out(fast: Settings) -> None:
    publisher = await started(fast, FakeProducer(auto_ack=False))
    with pytest.raises(PublishTimeout):
        await publisher.publish(order("s"))


async def test_pending_events_never_exceed_the_bound(fast: Settings) -> None:
    producer = FakeProducer(auto_ack=False)
    publisher = await started(fast.model_copy(update={"publisher_max_pending": 3}), producer)
    task = asyncio.create_task(publisher.publish_many([order(f"s{i}", i) for i in range(20)]))
    samples = []
    while not task.done():
        await asyncio.sleep(0.005)
        samples.append(publisher.pending)
        producer.ack_all()
    assert len(await task) == 20
    assert max(samples) <= 3 and publisher.peak_pending <= 3


async def test_a_broker_error_is_a_publish_error_and_a_too_large_event_is_rejected(
    fast: Settings,
) -> None:
    producer = FakeProducer()
    publisher = await started(fast, producer)
    producer.fail_with = NotEnoughReplicasError()
    with pytest.raises(PublishError):
        await publisher.publish_many([order("s")])
    producer.fail_with = MessageSizeTooLargeError()
    with pytest.raises(PublishRejected):
        await publisher.publish_many([order("s")])


async def test_an_event_whose_key_disagrees_with_its_payload_is_rejected_before_sending(
    fast: Settings,
) -> None:
    producer = FakeProducer()
    publisher = await started(fast, producer)
    bad = order("store-1").model_copy(update={"key": "store-2"})
    with pytest.raises(PublishRejected, match="differs"):
        await publisher.publish_many([order("store-1"), bad])
    assert producer.offsets == {}


async def test_start_failures_name_the_bootstrap_address_and_never_hang(fast: Settings) -> None:
    producer = FakeProducer()
    producer.start_error = KafkaConnectionError("Unable to bootstrap")
    with pytest.raises(PublishError, match=re.escape(fast.kafka_bootstrap)):
        await Publisher(fast, producer=producer).start()

    producer = FakeProducer()
    producer.start_delay = 60
    t0 = time.monotonic()
    with pytest.raises(PublishError, match="timed out"):
        await Publisher(fast, producer=producer).start()
    assert time.monotonic() - t0 < 2


async def test_publishing_before_start_or_after_stop_is_a_publish_error(fast: Settings) -> None:
    producer = FakeProducer()
    publisher = Publisher(fast, producer=producer)
    with pytest.raises(PublishError, match="not started"):
        await publisher.publish(order("s"))
    async with publisher:
        await publisher.publish(order("s"))
    assert producer.events == ["start", "flush", "stop"]
    with pytest.raises(PublishError, match="not started"):
        await publisher.publish_many([order("s")])


async def test_a_failure_midway_counts_only_what_was_handed_over_as_pending(
    fast: Settings,
) -> None:
    producer = FakeProducer(auto_ack=False, batch_capacity=10)
    producer.refuse_after = 2
    publisher = await started(fast, producer)
    with pytest.raises(PublishError):
        await publisher.publish_many([order("same-store", i) for i in range(50)])
    assert publisher.pending == 20  # two batches of 10 left; the other 30 never did
    producer.ack_all()
    await asyncio.sleep(0)
    assert publisher.pending == 0
