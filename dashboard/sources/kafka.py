"""Kafka, sampled once a poll: end offsets (events/s), the dead-letter count, and each
worker group's state, lag in messages and lag in seconds.

Three clients per process, whatever the number of pages: an admin client (groups and
committed offsets), a consumer without a group for offsets, and one that fetches the
message at a committed offset to read its timestamp. Timestamps are cached by
(partition, offset): a group that did not move costs no fetch.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from core.kafka import new_admin, new_consumer
from core.settings import Settings
from dashboard.config import CHART_TOPICS, DashboardConfig
from dashboard.lag import PartitionLag, health, lag_messages, lag_seconds
from dashboard.rates import RateSeries
from dashboard.sources import admin as kafka_admin
from processors.kinds import WORKER_TOPICS
from schemas import DLQ_TOPIC

METADATA_EVERY_S = 30.0
FETCH_WAIT_S = 0.5


class KafkaSource:
    def __init__(self, settings: Settings, config: DashboardConfig) -> None:
        self._settings = settings
        self._config = config
        self.groups = {kind: f"{settings.group_prefix}-{kind}" for kind in WORKER_TOPICS}
        self.rates = RateSeries(CHART_TOPICS, window_s=config.history_s)
        self._admin: AIOKafkaAdminClient | None = None
        self._offsets: AIOKafkaConsumer | None = None
        self._fetcher: AIOKafkaConsumer | None = None
        self._partitions: dict[str, list[TopicPartition]] = {}
        self._metadata_at = 0.0
        self._stamps: dict[tuple[TopicPartition, int], int] = {}
        self._coordinators: dict[str, int] = {}
        self.requests = 0  # Kafka requests made: the shared-poller test reads it

    async def start(self) -> None:
        settings = self._settings
        self._admin = new_admin(settings, request_timeout_ms=5000)
        self._offsets = new_consumer(settings, enable_auto_commit=False)
        self._fetcher = new_consumer(
            settings,
            enable_auto_commit=False,
            max_partition_fetch_bytes=64 * 1024,
            fetch_max_wait_ms=100,
        )
        try:
            await self._admin.start()
            await self._offsets.start()
            await self._fetcher.start()
        except BaseException:
            await self.close()  # the next poll starts over
            raise

    async def close(self) -> None:
        for client in (self._fetcher, self._offsets):
            if client is not None:
                await client.stop()
        if self._admin is not None:
            await self._admin.close()
        self._admin = self._offsets = self._fetcher = None
        self._metadata_at = 0.0

    async def sample(self) -> dict[str, Any]:
        if self._offsets is None:
            await self.start()
        assert self._offsets is not None and self._admin is not None
        await self._refresh_partitions(self._admin)
        every = [tp for tps in self._partitions.values() for tp in tps]
        ends: dict[TopicPartition, int] = await self._offsets.end_offsets(every) if every else {}
        self.requests += 1
        sums = {
            logical: sum(ends[tp] for tp in self._partitions.get(logical, []))
            for logical in CHART_TOPICS
        }
        rates = self.rates.add(time.time(), sums)
        return {
            "rates": self.rates.series(),
            "rates_now": {k: round(v, 2) for k, v in rates.items()},
            "events_per_s": round(sum(rates.values()), 2),
            "groups": await self._groups(self._admin, ends),
            "dlq_count": await self._dlq_count(self._offsets, ends),
        }

    async def _refresh_partitions(self, admin: AIOKafkaAdminClient) -> None:
        if time.monotonic() - self._metadata_at < METADATA_EVERY_S:
            return
        names = {logical: self._settings.topic(logical) for logical in CHART_TOPICS}
        found = await kafka_admin.partitions(admin, list(names.values()))
        self.requests += 1
        self._partitions = {
            logical: [TopicPartition(topic, p) for p in found.get(topic, [])]
            for logical, topic in names.items()
        }
        # Topics created later (a fresh stack) are picked up on a later poll.
        self._metadata_at = time.monotonic() if all(self._partitions.values()) else 0.0

    async def _dlq_count(self, consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> int:
        tps = self._partitions.get(DLQ_TOPIC, [])
        if not tps:
            return 0
        begins: dict[TopicPartition, int] = await consumer.beginning_offsets(tps)
        self.requests += 1
        return sum(ends[tp] - begins[tp] for tp in tps)

    async def _groups(
        self, admin: AIOKafkaAdminClient, ends: dict[TopicPartition, int]
    ) -> list[dict[str, Any]]:
        described = await kafka_admin.describe(
            admin, list(self.groups.values()), self._coordinators
        )
        offsets = await asyncio.gather(
            *(kafka_admin.committed(admin, group) for group in self.groups.values())
        )
        self.requests += 1 + len(offsets)
        lags: dict[str, list[PartitionLag]] = {}
        wanted: dict[TopicPartition, int] = {}
        for kind, committed in zip(self.groups, offsets, strict=True):
            parts = []
            for tp in self._partitions.get(WORKER_TOPICS[kind], []):
                at = committed.get((tp.topic, tp.partition))
                parts.append(PartitionLag(tp.partition, ends[tp], at))
                if ends[tp] > (at or 0):
                    wanted[tp] = at or 0
            lags[kind] = parts
        stamps = await self._timestamps(wanted)
        now_ms = int(time.time() * 1000)
        out = []
        for kind, group in self.groups.items():
            topic = self._settings.topic(WORKER_TOPICS[kind])
            parts = [
                PartitionLag(
                    p.partition, p.end, p.committed, stamps.get(TopicPartition(topic, p.partition))
                )
                for p in lags[kind]
            ]
            info = described.get(group)
            seconds = lag_seconds(parts, now_ms)
            out.append(
                {
                    "kind": kind,
                    "group": group,
                    "topic": topic,
                    "lag": lag_messages(parts),
                    "lag_s": seconds,
                    "state": info.state if info else None,
                    "members": info.members if info else 0,
                    "health": health(
                        info.state if info else None,
                        info.members if info else 0,
                        seconds,
                        self._config.lag_alert_s,
                    ),
                }
            )
        return out

    async def _timestamps(self, wanted: dict[TopicPartition, int]) -> dict[TopicPartition, int]:
        """Timestamp (ms) of the message at each wanted offset: cached, else fetched."""
        found = {
            tp: self._stamps[(tp, at)] for tp, at in wanted.items() if (tp, at) in self._stamps
        }
        missing = {tp: at for tp, at in wanted.items() if tp not in found}
        if missing and self._fetcher is not None:
            found.update(await self._fetch(self._fetcher, missing))
        self._stamps = {(tp, wanted[tp]): ts for tp, ts in found.items()}
        return found

    async def _fetch(
        self, fetcher: AIOKafkaConsumer, missing: dict[TopicPartition, int]
    ) -> dict[TopicPartition, int]:
        fetcher.assign(list(missing))
        for tp, at in missing.items():
            fetcher.seek(tp, at)
        got: dict[TopicPartition, int] = {}
        deadline = time.monotonic() + FETCH_WAIT_S
        try:
            while len(got) < len(missing) and time.monotonic() < deadline:
                pending = [tp for tp in missing if tp not in got]
                batch = await fetcher.getmany(*pending, timeout_ms=100)
                self.requests += 1
                for tp, messages in batch.items():
                    if messages:
                        got[tp] = messages[0].timestamp
        finally:
            fetcher.pause(*missing)  # no background prefetch until the next poll
        return got
