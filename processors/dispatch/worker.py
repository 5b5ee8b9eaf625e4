"""The dispatch worker: confirmed orders and shopper events in, ``delivery.assigned`` out.

Batch-native like the commerce workers (:class:`~processors.runtime.consumer.BatchConsumer`,
the outbox, isolation and retries): it reads ``riverbed.order-decisions``,
``riverbed.shoppers`` and ``riverbed.deliveries``, all keyed by ``store_id`` with one
partition count, and assigns partitions with Kafka's range assignor, so a store's orders
and its shoppers always land on the same member: one store's matching runs in one place.

Each batch is one transaction: the events not yet in ``processed_events`` are applied
(:mod:`processors.dispatch.state`), the touched stores are matched
(:mod:`processors.dispatch.matching`), the ``delivery.assigned`` events staged in the
outbox, the event ids recorded; then the staged rows are published. A timer matches the
owned stores whose orders still wait (the batching window ran out, or a shopper came
free) in a transaction of its own, under the same lock as the flush. Idempotent by event
id; a crash before the commit replays the batch, after it the outbox relay publishes.
Its own ``delivery.assigned`` events carry ``riverbed-applied-by: dispatch`` and are
skipped before decoding.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.partitioner import murmur2

from core.kafka import new_consumer, new_producer
from core.settings import Settings
from processors.commerce.repository import unprocessed
from processors.commerce.writes import INSERT_PROCESSED
from processors.dispatch.matching import (
    Conflict,
    Rules,
    StoreLocations,
    match_stores,
    waiting_stores,
)
from processors.dispatch.state import apply_events
from processors.kinds import topic_of, topics_of
from processors.runtime.app import app_id
from processors.runtime.batching import tune_gc
from processors.runtime.consumer import BatchConsumer
from processors.runtime.metrics import WorkerMetrics
from processors.runtime.outbox import HEADER_APPLIED_BY, Outbox, Staged
from processors.runtime.retry import is_transient
from processors.runtime.sending import BatchSender
from schemas import DLQ_TOPIC, Envelope
from stores.postgres.pool import create_pool, transaction

log = logging.getLogger("riverbed.dispatch")
KIND = "dispatch"
RELAY_EVERY_S = 5.0
# The dispatch flush waits at most this long for a batch to fill: the batching window
# (RIVERBED_DISPATCH_WINDOW_MS) is the matcher's, not the consumer's.
MAX_WAIT_MS = 100
_APPLIED = (HEADER_APPLIED_BY, KIND.encode())


def applied_by(env: Envelope[Any]) -> list[tuple[str, bytes]]:
    return [_APPLIED]


def own_event(headers: Sequence[tuple[str, bytes]]) -> bool:
    """True for a ``delivery.assigned`` this worker wrote (its effect is already stored)."""
    return any(h == _APPLIED for h in headers)


def partition_of(key: str, partitions: int) -> int:
    """The partition a store's events go to (aiokafka's default partitioner)."""
    return int(murmur2(key.encode()) & 0x7FFFFFFF) % partitions


class DispatchWorker:
    """The consumer loop, the matching timer, the outbox relay, pool, producer and metrics."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = WorkerMetrics(settings, KIND)
        self.rules = Rules(
            window_s=settings.dispatch_window_ms / 1000,
            radius_km=settings.dispatch_radius_km,
            speed_mps=settings.dispatch_speed_kmh / 3.6,
        )
        self.stores = StoreLocations()
        self.assigned = 0
        self._pool: asyncpg.Pool | None = None
        self._stop = asyncio.Event()
        self._lock = asyncio.Lock()  # one pass over the tables at a time (flush or timer)
        self._consumer: AIOKafkaConsumer | None = None
        self._passed_at = 0.0  # when the last matching pass ended (monotonic)

    async def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            self._pool = await create_pool(
                self.settings.postgres_dsn.get_secret_value(),
                min_size=1,
                max_size=3,
                schema=self.settings.postgres_schema,
            )
        return self._pool

    def stop(self) -> None:
        self._stop.set()

    def _clients(self) -> tuple[AIOKafkaConsumer, AIOKafkaProducer]:
        s = self.settings
        consumer = new_consumer(
            s,
            group_id=app_id(s, KIND),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=int(s.worker_session_timeout_s * 1000),
            heartbeat_interval_ms=int(s.worker_session_timeout_s * 1000 / 5),
            max_poll_records=s.sink_batch_size,
            # Range, not aiokafka's round robin: partition n of every topic to one member.
            partition_assignment_strategy=(RangePartitionAssignor,),
        )
        producer = new_producer(s, acks="all", linger_ms=s.publisher_linger_ms)
        return consumer, producer

    async def run(self) -> None:
        """Consume until :meth:`stop`; the last batch is flushed and committed on the way out."""
        s = self.settings
        consumer, producer = self._clients()
        self._consumer = consumer
        await producer.start()
        sender = BatchSender(producer, s.topic)
        outbox = Outbox(sender, self.pool, applied_by)
        runner = BatchConsumer(
            name=KIND,
            consumer=consumer,
            flush=self.metrics.observe(self._flusher(outbox)),
            dead_letters=self.metrics.dead_letters(sender.send_one, KIND, s.topic(DLQ_TOPIC)),
            max_events=s.sink_batch_size,
            max_wait_ms=MAX_WAIT_MS,
            skip=own_event,
            on_retry=self.metrics.retried,
        )
        consumer.subscribe([s.topic(t) for t in topics_of(KIND)], listener=runner.listener)
        tune_gc()
        tasks: list[asyncio.Task[Any]] = []
        try:
            await consumer.start()
            await outbox.relay()  # what a crashed predecessor left behind
            tasks = [
                asyncio.create_task(runner.run(), name="dispatch.consume"),
                asyncio.create_task(self._tick(outbox), name="dispatch.tick"),
                asyncio.create_task(self._relay(outbox), name="dispatch.relay"),
                asyncio.create_task(self.metrics.run(consumer), name="dispatch.metrics"),
            ]
            stopped = asyncio.create_task(self._stop.wait())
            done, _ = await asyncio.wait([stopped, *tasks], return_when=asyncio.FIRST_COMPLETED)
            runner.stop()
            for task in done:
                if task is not stopped:
                    task.result()
            await tasks[0]
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(BaseException):
                    await task
            await consumer.stop()
            await producer.stop()
            if self._pool is not None:
                await self._pool.close()

    async def _match(
        self, conn: asyncpg.Connection, stores: Sequence[str], outbox: Outbox
    ) -> list[Staged]:
        where = await self.stores.get(conn, sorted(stores))
        return await match_stores(conn, where, datetime.now(UTC), self.rules, outbox.stage)

    def _flusher(self, outbox: Outbox) -> Any:
        async def flush(envelopes: list[Envelope[Any]]) -> None:
            """One transaction: apply, match the touched stores, stage; then publish."""
            pool = await self.pool()
            async with self._lock:
                async with transaction(pool) as conn:
                    fresh = await unprocessed(conn, KIND, envelopes)
                    now = datetime.now(UTC)
                    touched = await apply_events(conn, fresh, now)
                    # Every store with work: the batch's, and those still waiting (the
                    # timer then has nothing to do while batches keep coming).
                    touched |= set(await self._waiting(conn))
                    staged = await self._match(conn, sorted(touched), outbox)
                    await conn.execute(
                        INSERT_PROCESSED,
                        KIND,
                        [e.event_id for e in fresh],
                        [e.occurred_at for e in fresh],
                    )
                await outbox.publish(staged)
                self.assigned += len(staged)
                self._passed_at = time.monotonic()

        return flush

    def _owned(self) -> set[int] | None:
        """Partitions of the order topic this member holds (None before the first join)."""
        if self._consumer is None:
            return None
        topic = self.settings.topic(topic_of(KIND))
        return {tp.partition for tp in self._consumer.assignment() if tp.topic == topic}

    async def tick(self, outbox: Outbox) -> int:
        """Match the owned stores whose orders wait while a shopper is idle; how many trips."""
        pool = await self.pool()
        async with self._lock:
            async with transaction(pool) as conn:
                stores = await self._waiting(conn)
                staged = await self._match(conn, stores, outbox) if stores else []
            await outbox.publish(staged)
            self._passed_at = time.monotonic()
        self.assigned += len(staged)
        return len(staged)

    async def _waiting(self, conn: asyncpg.Connection) -> list[str]:
        """Owned stores with an order waiting and a shopper idle."""
        owned = self._owned()
        if not owned:
            return []
        assert self._consumer is not None
        topic = self.settings.topic(topic_of(KIND))
        count = len(self._consumer.partitions_for_topic(topic) or ())
        return [s for s in await waiting_stores(conn) if partition_of(s, count) in owned]

    async def _tick(self, outbox: Outbox) -> None:
        every = self.settings.dispatch_tick_ms / 1000
        while True:
            await asyncio.sleep(every)
            if time.monotonic() - self._passed_at < every:
                continue  # a batch's pass just covered every waiting store
            try:
                await self.tick(outbox)
            except Exception as exc:
                if not (is_transient(exc) or isinstance(exc, Conflict)):
                    raise
                log.warning("dispatch timer: %s: %s; next tick retries", type(exc).__name__, exc)

    async def _relay(self, outbox: Outbox) -> None:
        while True:
            await asyncio.sleep(RELAY_EVERY_S)
            await outbox.relay()
