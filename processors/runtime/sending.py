"""Sending with aiokafka: staged rows in one record batch per partition, or one message.

The commerce workers send their emitted events as the publisher does
(``producers.publisher``): rows are grouped by partition (chosen as aiokafka's default
partitioner does, murmur2 of the key, so keys stay co-partitioned with their streams),
each group goes out as ``send_batch`` and the acks are awaited together. Sending 2-3
events per order one ``send`` at a time was ~10 % of the orders worker's profile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

from processors.runtime.outbox import Staged

KEYS_CACHED = 100_000


class BatchSender:
    """The outbox's :class:`~processors.runtime.outbox.Sender` over one producer."""

    def __init__(self, producer: AIOKafkaProducer, topic: Callable[[str], str] = str) -> None:
        self._producer = producer
        self._topic = topic
        self._partitions: dict[str, int] = {}
        # Partition by key, remembered: aiokafka's murmur2 is pure Python (2.5 % of the
        # orders worker's CPU, py-spy, 40,960 events) and keys repeat (a store's events
        # share its id). Bounded: cleared when it reaches KEYS_CACHED keys.
        self._hashes: dict[bytes, int] = {}

    async def _count(self, topic: str) -> int:
        n = self._partitions.get(topic)
        if n is None:
            n = self._partitions[topic] = len(await self._producer.partitions_for(topic))
        return n

    async def __call__(self, rows: Sequence[Staged]) -> None:
        producer = self._producer
        builders: dict[tuple[str, int], Any] = {}
        futures = []
        for r in rows:
            topic = self._topic(r.topic)
            partition = self._hash(r.key) % await self._count(topic)
            where = (topic, partition)
            builder = builders.get(where) or builders.setdefault(where, producer.create_batch())
            if builder.append(key=r.key, value=r.value, timestamp=None, headers=r.headers) is None:
                futures.append(await producer.send_batch(builder, topic, partition=partition))
                builder = builders[where] = producer.create_batch()
                builder.append(key=r.key, value=r.value, timestamp=None, headers=r.headers)
        for (topic, partition), builder in builders.items():
            futures.append(await producer.send_batch(builder, topic, partition=partition))
        await asyncio.gather(*futures)

    def _hash(self, key: bytes) -> int:
        h = self._hashes.get(key)
        if h is None:
            if len(self._hashes) >= KEYS_CACHED:
                self._hashes.clear()
            h = self._hashes[key] = murmur2(key) & 0x7FFFFFFF
        return h

    async def send_one(
        self, topic: str, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]
    ) -> Any:
        """One message, acked (the dead-letter path): ``topic`` is the physical name."""
        return await self._producer.send_and_wait(topic, value, key=key, headers=headers)
