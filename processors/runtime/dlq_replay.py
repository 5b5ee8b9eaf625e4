"""Read the dead-letter topic and put its events back on their original topics."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition

from core.kafka import new_consumer, new_producer
from core.settings import Settings
from processors.runtime.dlq import (
    DLQ_HEADERS,
    H_AT,
    H_EXCEPTION,
    H_OFFSET,
    H_PARTITION,
    H_REASON,
    H_TOPIC,
)
from schemas import DLQ_TOPIC, HEADER_TYPE


@dataclass(frozen=True)
class DeadLetter:
    offset: int
    partition: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    def header(self, name: str) -> str:
        for k, v in self.headers:
            if k == name:
                return v.decode(errors="replace")
        return ""

    @property
    def reason(self) -> str:
        return self.header(H_REASON)

    @property
    def exception(self) -> str:
        return self.header(H_EXCEPTION)

    @property
    def event_type(self) -> str:
        return self.header(HEADER_TYPE)

    @property
    def origin(self) -> str:
        return f"{self.header(H_TOPIC)}[{self.header(H_PARTITION)}]@{self.header(H_OFFSET)}"

    @property
    def at(self) -> datetime | None:
        raw = self.header(H_AT)
        return datetime.fromisoformat(raw) if raw else None

    def original_headers(self) -> list[tuple[str, bytes]]:
        return [(k, v) for k, v in self.headers if k not in DLQ_HEADERS]


async def read_all(settings: Settings) -> list[DeadLetter]:
    """Every dead letter currently on the topic (from the start to the end offsets)."""
    topic = settings.topic(DLQ_TOPIC)
    consumer = new_consumer(settings, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or await _partitions(consumer, topic)
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out: list[DeadLetter] = []
        remaining = {tp for tp in tps if ends[tp] > 0}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, messages in batch.items():
                for m in messages:
                    out.append(DeadLetter(m.offset, m.partition, m.key, m.value, tuple(m.headers)))
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
            if not batch:
                remaining = {tp for tp in remaining if await consumer.position(tp) < ends[tp]}
        return sorted(out, key=lambda d: (d.at or datetime.min, d.partition, d.offset))
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(topic) or set()


def select(
    letters: Iterable[DeadLetter], *, event_type: str | None, since: datetime | None
) -> list[DeadLetter]:
    return [
        d
        for d in letters
        if (event_type is None or d.event_type == event_type)
        and (since is None or (d.at is not None and d.at >= since))
    ]


async def replay(settings: Settings, letters: list[DeadLetter]) -> int:
    """Re-publish to the original topics (original key, value and headers)."""
    producer = new_producer(settings, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        futures = [
            await producer.send(d.header(H_TOPIC), d.value, key=d.key, headers=d.original_headers())
            for d in letters
            if d.header(H_TOPIC)
        ]
        for fut in futures:
            await fut
        return len(futures)
    finally:
        await producer.stop()
