"""How far the workers of a namespace got: committed offsets against end offsets.

Every call tolerates an unreachable broker or database (a fault is running): it returns
``None`` and the clients are built again on the next call.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from core.kafka import new_admin, new_consumer
from riverbed.sandbox import Namespace
from schemas import TOPIC_PARTITIONS

log = logging.getLogger("riverbed.chaos")


@dataclass
class Sample:
    at: float
    committed: dict[str, int]  # kind -> sum of committed offsets
    lag: dict[str, int]


@dataclass
class Progress:
    ns: Namespace
    groups: dict[str, str]  # worker kind -> logical topic
    samples: list[Sample] = field(default_factory=list)
    _admin: AIOKafkaAdminClient | None = None
    _consumer: AIOKafkaConsumer | None = None

    async def _clients(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self._admin is None or self._consumer is None:
            await self.close()
            settings = self.ns.settings
            admin = new_admin(settings, request_timeout_ms=5000)
            consumer = new_consumer(settings, enable_auto_commit=False, request_timeout_ms=5000)
            self._admin, self._consumer = admin, consumer
            await admin.start()
            await consumer.start()
        return self._admin, self._consumer

    async def close(self) -> None:
        for client in (self._admin, self._consumer):
            if client is not None:
                with contextlib.suppress(Exception):
                    await (
                        client.close() if isinstance(client, AIOKafkaAdminClient) else client.stop()
                    )
        self._admin = self._consumer = None

    async def sample(self) -> Sample | None:
        """Committed offsets and lag of every group, or None while Kafka is unreachable."""
        try:
            admin, consumer = await self._clients()
            committed: dict[str, int] = {}
            lag: dict[str, int] = {}
            for kind, logical in self.groups.items():
                topic = self.ns.topic(logical)
                parts = [TopicPartition(topic, p) for p in range(TOPIC_PARTITIONS[logical])]
                ends = await consumer.end_offsets(parts)
                offsets = await admin.list_consumer_group_offsets(self.ns.group(kind))
                done = {tp: max(offsets[tp].offset, 0) if tp in offsets else 0 for tp in parts}
                committed[kind] = sum(done.values())
                lag[kind] = sum(ends[tp] - done[tp] for tp in parts)
        except Exception as exc:
            log.debug("progress unavailable: %s", exc)
            await self.close()
            return None
        s = Sample(time.monotonic(), committed, lag)
        self.samples.append(s)
        return s

    async def unpublished_outbox(self) -> int | None:
        try:
            conn = await asyncpg.connect(
                self.ns.settings.postgres_owner_dsn.get_secret_value(),
                server_settings={"search_path": self.ns.schema},
                timeout=5,
            )
        except Exception:
            return None
        try:
            n: int = await conn.fetchval("select coalesce(sum(events), 0) from outbox")
            return n
        except Exception:
            return None
        finally:
            with contextlib.suppress(Exception):
                await conn.close()


def committed_rate(
    samples: Sequence[Sample], kinds: tuple[str, ...], since: float, until: float
) -> float | None:
    """Events/s committed by ``kinds`` between two times, from the samples inside; None
    when fewer than two samples a second apart fall inside (no rate to speak of)."""
    inside = [s for s in samples if since <= s.at <= until]
    if len(inside) < 2 or inside[-1].at - inside[0].at < 1.0:
        return None
    done = sum(inside[-1].committed[k] - inside[0].committed[k] for k in kinds)
    return done / (inside[-1].at - inside[0].at)
