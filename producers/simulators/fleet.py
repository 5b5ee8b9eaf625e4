"""Run a :class:`~producers.simulators.shoppers.Fleet` live against Kafka.

Listens to ``riverbed.deliveries`` for the trips dispatch gives our shoppers, steps the
fleet on the wall clock every ``tick_s`` and publishes what the shoppers report, keyed
by store like every shopper and delivery event. Runs until ``stop`` is set.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aiokafka.structs import TopicPartition

from core.kafka import new_consumer, new_producer
from core.settings import Settings
from producers.simulators.shoppers import Fleet
from schemas import (
    DELIVERIES_TOPIC,
    DeliveryAssigned,
    Payload,
    SchemaError,
    decode,
    encode,
    new_event,
    topic_for,
)

log = logging.getLogger("riverbed.simulate.shoppers")
SOURCE = "sim-shoppers"


class FleetStats:
    def __init__(self) -> None:
        self.sent = 0
        self.trips = 0


async def run_fleet(
    settings: Settings, fleet: Fleet, stop: asyncio.Event, *, tick_s: float = 0.5
) -> FleetStats:
    """Drive ``fleet`` until ``stop``; how many events it sent and trips it took."""
    stats = FleetStats()
    producer = new_producer(settings, acks="all", linger_ms=20)
    consumer = new_consumer(settings, enable_auto_commit=False, group_id=None)
    await producer.start()
    await consumer.start()
    try:
        topic = settings.topic(DELIVERIES_TOPIC)
        parts = [TopicPartition(topic, p) for p in sorted(await producer.partitions_for(topic))]
        consumer.assign(parts)
        await consumer.seek_to_end(*parts)  # trips given before we started are not ours
        while not stop.is_set():
            fetched = await consumer.getmany(timeout_ms=int(tick_s * 1000))
            for messages in fetched.values():
                for m in messages:
                    try:
                        env = decode(m.value, m.headers)
                    except SchemaError:
                        continue
                    if isinstance(env.payload, DeliveryAssigned) and fleet.assigned(env.payload):
                        stats.trips += 1
            stats.sent += await _send(settings, producer, fleet.step(time.monotonic()))
        stats.sent += await _send(settings, producer, fleet.end_shifts())
    finally:
        await consumer.stop()
        await producer.stop()
    return stats


async def _send(settings: Settings, producer: Any, payloads: list[Payload]) -> int:
    sends = []
    for payload in payloads:
        env = new_event(payload, source=SOURCE)
        value, headers = encode(env)
        sends.append(
            await producer.send(
                settings.topic(topic_for(env.type)), value, key=env.key.encode(), headers=headers
            )
        )
    if sends:
        await asyncio.gather(*sends)
    return len(sends)
