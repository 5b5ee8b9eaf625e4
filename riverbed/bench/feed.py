"""Write pre-encoded events to a namespace's topics: as fast as possible, or paced.

Events are encoded before any clock starts, so the benchmark's own process spends as
little CPU as it can while the workers under test share the machine with it.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

from core.kafka import new_producer
from riverbed.sandbox import Namespace
from schemas import TOPIC_PARTITIONS, Envelope, encode, topic_for

PACE_TICK_S = 0.005


@contextmanager
def steady() -> Iterator[None]:
    """No long pause of the sender for its own garbage collection while it sends.

    A paced run holds ~100,000 pre-built records: each full collection walked them all.
    Measured at 4,800 ev/s: a 550 ms collection stopped the sender, which then sent the
    ~2,500 events it owed at once, and their burst set p99 (333-482 ms against ~50 ms
    for the rest of the run). ``gc.freeze`` moves what exists now out of the
    collector's sight, so it only walks what the send creates. (Not ``gc.collect``
    first: with the bench's heap late in a run it took ~1.6 s, inside the viewing
    figure's clock, which starts before its flood.)
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


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


@asynccontextmanager
async def _sending(ns: Namespace, batch: list[Record]) -> AsyncIterator[AIOKafkaProducer]:
    """A started producer that already knows the batch's partitions, the collector kept
    off the pre-built records (:func:`steady`) while it is in use."""
    producer = _producer(ns)
    await producer.start()
    try:
        for topic in {r.topic for r in batch}:
            await producer.partitions_for(topic)
        with steady():
            yield producer
    finally:
        await producer.stop()


async def flood(ns: Namespace, batch: list[Record]) -> float:
    """Send every record with one record batch per partition; returns the start time."""
    async with _sending(ns, batch) as producer:
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


async def paced(ns: Namespace, batch: list[Record], rate: float) -> dict[UUID, float]:
    """Send ``rate`` records per second (in ticks of 5 ms); returns each one's send time."""
    async with _sending(ns, batch) as producer:
        sent: dict[UUID, float] = {}
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
