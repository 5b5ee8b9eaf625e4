"""Hand events to aiokafka one record batch per partition (its batch API).

``AIOKafkaProducer.send`` costs a coroutine, a future and a partitioner call per event;
filling a ``BatchBuilder`` per partition and handing it over with ``send_batch`` costs
one of each per batch. The partition is the one aiokafka's default partitioner (and the
Java client) would choose: murmur2 of the key, so ``send`` and this path agree.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

from aiokafka.partitioner import murmur2

Headers = list[tuple[str, bytes]]
Record = tuple[int, str, bytes, bytes, Headers]  # index, topic, key, value, headers
Handed = tuple["asyncio.Future[Any]", list[int]]  # the batch's ack, indexes in order

_KEY_CACHE_SIZE = 65_536


class BatchWriter:
    """Writes records into per-partition batches; ``settled(n)`` runs when a batch of
    ``n`` records is acknowledged or failed (the publisher's pending count)."""

    def __init__(self, producer: Any, settled: Callable[[int], None]) -> None:
        self._producer = producer
        self._settled = settled
        self._partition_of: dict[tuple[bytes, int], int] = {}

    async def write(
        self, records: Iterable[Record], topics: Iterable[str], handed: list[Handed]
    ) -> None:
        """Hand over every record, appending each batch to ``handed`` as it goes, so that
        after an error the caller knows which records left (only those settle)."""
        producer = self._producer
        counts = {topic: len(await producer.partitions_for(topic)) for topic in set(topics)}
        open_batches: dict[tuple[str, int], tuple[Any, list[int]]] = {}
        for index, topic, key, value, headers in records:
            where = (topic, self.partition(key, counts[topic]))
            batch = open_batches.get(where)
            if batch is None:
                batch = open_batches[where] = (producer.create_batch(), [])
            if batch[0].append(timestamp=None, key=key, value=value, headers=headers) is None:
                handed.append(await self._hand_over(where, *batch))  # full: the next one
                batch = open_batches[where] = (producer.create_batch(), [])
                batch[0].append(timestamp=None, key=key, value=value, headers=headers)
            batch[1].append(index)
        for where, batch in open_batches.items():
            handed.append(await self._hand_over(where, *batch))

    def partition(self, key: bytes, count: int) -> int:
        """The default partitioner's choice for ``key``, cached per key."""
        partition = self._partition_of.get((key, count))
        if partition is None:
            if len(self._partition_of) >= _KEY_CACHE_SIZE:
                self._partition_of.clear()
            partition = (murmur2(key) & 0x7FFFFFFF) % count
            self._partition_of[(key, count)] = partition
        return partition

    async def _hand_over(self, where: tuple[str, int], builder: Any, indexes: list[int]) -> Handed:
        builder.close()  # so that producer.send() never appends to our batch
        future: asyncio.Future[Any] = await self._producer.send_batch(
            builder, where[0], partition=where[1]
        )
        count, settled = len(indexes), self._settled
        future.add_done_callback(lambda _: settled(count))
        return future, indexes
