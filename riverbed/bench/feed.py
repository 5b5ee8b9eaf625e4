"""Write pre-encoded events to a namespace's topics: as fast as possible, or paced.

Events are encoded before any clock starts, so the benchmark's own process spends as
little CPU as it can while the workers under test share the machine with it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

from core.kafka import new_producer
from riverbed.sandbox import Namespace
from schemas import TOPIC_PARTITIONS, Envelope, encode, topic_for

PACE_TICK_S = 0.005


@dataclass(frozen=True)
class Record:
    event_id: UUID
    topic: str
    partition: int
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


def records(ns: Namespace, events: Iterable[Envelope[Any]]) -> list[Record]:
    """Events as the bytes a publisher sends, partitioned as aiokafka's default does."""
    out = []
    for e in events:
        value, headers = encode(e)
        logical = topic_for(e.type)
        key = e.key.encode()
        partition = (murmur2(key) & 0x7FFFFFFF) % TOPIC_PARTITIONS[logical]
        out.append(Record(e.event_id, ns.topic(logical), partition, key, value, headers))
    return out


def _producer(ns: Namespace) -> AIOKafkaProducer:
    return new_producer(
        ns.settings,
        acks="all",
        enable_idempotence=True,
        linger_ms=2,
        max_batch_size=256 * 1024,
    )


async def flood(ns: Namespace, batch: list[Record]) -> float:
    """Send every record with one record batch per partition; returns the start time."""
    producer = _producer(ns)
    await producer.start()
    try:
        for topic in {r.topic for r in batch}:
            await producer.partitions_for(topic)
        started = time.time()
        futures = []
        builders: dict[tuple[str, int], Any] = {}
        for r in batch:
            where = (r.topic, r.partition)
            builder = builders.get(where) or builders.setdefault(where, producer.create_batch())
            if builder.append(timestamp=None, key=r.key, value=r.value, headers=r.headers) is None:
                futures.append(await producer.send_batch(builder, r.topic, partition=r.partition))
                builder = builders[where] = producer.create_batch()
                builder.append(timestamp=None, key=r.key, value=r.value, headers=r.headers)
        for (topic, partition), builder in builders.items():
            futures.append(await producer.send_batch(builder, topic, partition=partition))
        await asyncio.gather(*futures)
        return started
    finally:
        await producer.stop()


async def paced(ns: Namespace, batch: list[Record], rate: float) -> dict[UUID, float]:
    """Send ``rate`` records per second (in ticks of 5 ms); returns each one's send time."""
    sent: dict[UUID, float] = {}
    producer = _producer(ns)
    await producer.start()
    try:
        for topic in {r.topic for r in batch}:
            await producer.partitions_for(topic)
        futures = []
        start = time.monotonic()
        wall0 = time.time() - start
        i = 0
        while i < len(batch):
            due = min(len(batch), int((time.monotonic() - start) * rate) + 1)
            while i < due:
                r = batch[i]
                sent[r.event_id] = wall0 + time.monotonic()
                futures.append(
                    await producer.send(
                        r.topic, r.value, key=r.key, partition=r.partition, headers=r.headers
                    )
                )
                i += 1
            await asyncio.sleep(PACE_TICK_S)
        await asyncio.gather(*futures)
        return sent
    finally:
        await producer.stop()
