"""The orders and inventory workers: faust agents over co-partitioned topics.

Both apply their batches to the one authoritative stock state in PostgreSQL (see
ARCHITECTURE.md): ``orders`` consumes ``riverbed.orders`` and decides, ``inventory``
consumes ``riverbed.inventory`` and moves stock. Idempotent by event id; emits through
the outbox.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import faust

from core.settings import Settings
from processors.commerce import repository
from processors.kinds import COMMERCE_KINDS, topic_of
from processors.runtime.app import create_app, raw_topic, send_raw
from processors.runtime.batching import BatchRunner, tune_gc
from processors.runtime.metrics import WorkerMetrics
from processors.runtime.outbox import Outbox
from schemas import DLQ_TOPIC, Envelope
from stores.postgres.pool import create_pool, transaction


class CommerceWorker:
    """Wires one kind's agent, timers, pool and outbox onto a faust app."""

    def __init__(self, settings: Settings, kind: str, app: faust.App | None = None) -> None:
        if kind not in COMMERCE_KINDS:
            raise ValueError(
                f"unknown commerce worker kind {kind!r}; expected one of {', '.join(COMMERCE_KINDS)}"
            )
        self.settings = settings
        self.kind = kind
        self.app = app or create_app(settings, kind)
        self._pool: asyncpg.Pool | None = None
        self._pool_lock = asyncio.Lock()
        self.outbox = Outbox(self._send, self.pool, settings.topic)
        self.metrics = WorkerMetrics(settings, kind)
        self.runner = BatchRunner(
            name=kind,
            flush=self.metrics.observe(self.flush),
            dead_letters=self.metrics.dead_letters(self._send, kind, settings.topic(DLQ_TOPIC)),
            max_events=settings.sink_batch_size,
            max_wait_ms=settings.sink_flush_ms,
        )
        self._install()
        self.metrics.install(self.app)
        tune_gc()

    async def _send(
        self, topic: str, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]
    ) -> Any:
        return await send_raw(self.app, topic, key, value, headers)

    async def pool(self) -> asyncpg.Pool:
        async with self._pool_lock:
            if self._pool is None:
                self._pool = await create_pool(
                    self.settings.postgres_dsn.get_secret_value(),
                    min_size=1,
                    max_size=3,
                    schema=self.settings.postgres_schema,
                )
            return self._pool

    async def flush(self, envelopes: list[Envelope[Any]]) -> None:
        """One transaction for the batch, then publish what it emitted."""
        pool = await self.pool()
        async with transaction(pool) as conn:
            effects = await repository.process(
                conn, self.kind, envelopes, default_threshold=self.settings.low_stock_threshold
            )
        await self.outbox.publish(effects.emitted)

    def _install(self) -> None:
        app, runner = self.app, self.runner
        app.agent(
            raw_topic(app, self.settings.topic(topic_of(self.kind))),
            name=f"riverbed.{self.kind}",
            concurrency=1,
        )(runner.run)
        app.timer(max(runner.max_wait / 2, 0.05), name=f"riverbed.{self.kind}.tick")(runner.tick)
        app.timer(5.0, name=f"riverbed.{self.kind}.outbox-relay")(self.outbox.relay)
