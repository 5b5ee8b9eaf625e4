"""The newest low-stock alerts and dead letters, read from the end of their topics.

One consumer without a group is assigned every partition of ``riverbed.stock-alerts``
and ``riverbed.dlq``, starts ``size`` messages before each partition's end and then
keeps up as they arrive; the poller takes what it has fetched each tick. Until both
topics exist, each poll looks for them again (with a short-lived admin client).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from core.kafka import new_admin, new_consumer
from core.settings import Settings
from dashboard.sources import admin as kafka_admin
from processors.runtime.dlq_replay import DeadLetter
from schemas import DLQ_TOPIC, STOCK_ALERTS_TOPIC, SchemaError, decode


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")


def alert_of(value: bytes | None, headers: Any, timestamp_ms: int) -> dict[str, Any] | None:
    """The feed item of one ``stock.low`` message; None for anything else."""
    try:
        event = decode(value, headers)
    except SchemaError:
        return None
    if event.type != "stock.low":
        return None
    p = event.payload
    return {
        "store_id": p.store_id,
        "sku": p.sku,
        "available": p.available,
        "threshold": p.threshold,
        "at": _iso(timestamp_ms),
    }


def dead_letter_of(letter: DeadLetter, timestamp_ms: int) -> dict[str, Any]:
    return {
        "reason": letter.reason,
        "exception": letter.exception,
        "type": letter.event_type or None,
        "origin": letter.origin,
        "at": _iso(timestamp_ms),
    }


def _newest(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(items, key=lambda i: str(i["at"]), reverse=True)


class TailSource:
    def __init__(self, settings: Settings, *, size: int) -> None:
        self._settings = settings
        self._alerts_topic = settings.topic(STOCK_ALERTS_TOPIC)
        self._dlq_topic = settings.topic(DLQ_TOPIC)
        self._consumer: AIOKafkaConsumer | None = None
        self._assigned: set[str] = set()
        self.alerts: deque[dict[str, Any]] = deque(maxlen=size)
        self.dead_letters: deque[dict[str, Any]] = deque(maxlen=size)
        self._size = size

    async def close(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
        self._consumer = None
        self._assigned = set()

    async def sample(self) -> dict[str, Any]:
        if self._consumer is None:
            self._consumer = new_consumer(self._settings, enable_auto_commit=False)
            await self._consumer.start()
        consumer = self._consumer
        if len(self._assigned) < 2:
            await self._assign(consumer)
        if self._assigned:
            batch = await consumer.getmany(timeout_ms=0, max_records=1000)
            for messages in batch.values():
                for m in messages:
                    self._add(
                        m.topic,
                        m.key,
                        m.value,
                        tuple(m.headers),
                        m.partition,
                        m.offset,
                        m.timestamp,
                    )
        return {"alerts": _newest(self.alerts), "dead_letters": _newest(self.dead_letters)}

    def _add(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: tuple[tuple[str, bytes], ...],
        partition: int,
        offset: int,
        timestamp_ms: int,
    ) -> None:
        if topic == self._alerts_topic:
            alert = alert_of(value, headers, timestamp_ms)
            if alert is not None:
                self.alerts.append(alert)
        elif topic == self._dlq_topic:
            letter = DeadLetter(offset, partition, key, value, headers)
            self.dead_letters.append(dead_letter_of(letter, timestamp_ms))

    async def _assign(self, consumer: AIOKafkaConsumer) -> None:
        admin = new_admin(self._settings, request_timeout_ms=5000)
        await admin.start()
        try:
            parts = await kafka_admin.partitions(admin, [self._alerts_topic, self._dlq_topic])
        finally:
            await admin.close()
        found = set(parts)
        if found == self._assigned:
            return
        tps = [TopicPartition(topic, p) for topic, ps in parts.items() for p in ps]
        consumer.assign(tps)
        begins = await consumer.beginning_offsets(tps)
        ends = await consumer.end_offsets(tps)
        for tp in tps:
            consumer.seek(tp, max(begins[tp], ends[tp] - self._size))
        self.alerts.clear()
        self.dead_letters.clear()
        self._assigned = found
