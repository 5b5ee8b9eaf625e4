"""The orders and inventory workers: batch-native consumers over co-partitioned topics.

Both apply their batches to the one authoritative stock state in PostgreSQL (see
ARCHITECTURE.md): ``orders`` consumes ``riverbed.orders`` and decides, ``inventory``
consumes ``riverbed.inventory`` and moves stock. Idempotent by event id; emits through
the outbox. They keep no faust table or window, so they run on the runtime's
:class:`~processors.runtime.consumer.BatchConsumer` (aiokafka ``getmany``) instead of a
faust agent; the consumer group is the same ``<group_prefix>-<kind>``.

The stock events the orders worker emits (``stock.reserved``/``stock.released``) were
applied in its own transaction; they carry ``riverbed-applied-by: orders``, and the
inventory worker skips them by that header before decoding (they used to be decoded
and applied as no-ops: one extra event per order). Other consumers receive them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from core.kafka import new_producer
from core.settings import Settings
from processors.commerce import repository
from processors.commerce.logic import APPLIED_WHEN_EMITTED
from processors.kinds import COMMERCE_KINDS, topic_of
from processors.runtime.app import app_id
from processors.runtime.consumer import BatchConsumer, Skip
from processors.runtime.metrics import WorkerMetrics
from processors.runtime.outbox import HEADER_APPLIED_BY, Outbox
from processors.runtime.sending import BatchSender
from processors.runtime.shell import group_consumer, serve
from processors.runtime.tracing import BatchTracing, child, later
from schemas import DLQ_TOPIC, Envelope
from stores.postgres.pool import create_pool, transaction

log = logging.getLogger("riverbed.commerce")
# The kind whose transactions apply the stock events it emits (see the module docstring).
APPLIER = "orders"
_APPLIED = (HEADER_APPLIED_BY, APPLIER.encode())
_DB = {"db.system.name": "postgresql", "db.operation.name": "TRANSACTION"}


def applied_by(event_type: str) -> list[tuple[str, bytes]]:
    return [_APPLIED] if event_type in APPLIED_WHEN_EMITTED else []


def already_applied(headers: Sequence[tuple[str, bytes]]) -> bool:
    """True for an event the orders worker applied when it emitted it."""
    return any(h == _APPLIED for h in headers)


class CommerceWorker:
    """One kind's consumer loop, outbox relay, pool, producer and metrics."""

    def __init__(self, settings: Settings, kind: str) -> None:
        if kind not in COMMERCE_KINDS:
            raise ValueError(
                f"unknown commerce worker kind {kind!r}; expected one of {', '.join(COMMERCE_KINDS)}"
            )
        self.settings = settings
        self.kind = kind
        self.metrics = WorkerMetrics(settings, kind)
        self._pool: asyncpg.Pool | None = None
        self._stop = asyncio.Event()

    async def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            self._pool = await create_pool(
                self.settings.postgres_dsn.get_secret_value(),
                min_size=1,
                max_size=3,
                schema=self.settings.postgres_schema,
                # Transactions only: no session state to reset on each release (a round
                # trip and a RESET ALL per batch).
                keep_session=True,
                warm=True,
            )
        return self._pool

    def stop(self) -> None:
        self._stop.set()

    def _producer(self) -> AIOKafkaProducer:
        s = self.settings
        return new_producer(
            s,
            acks="all",
            linger_ms=s.publisher_linger_ms,
            max_batch_size=s.publisher_batch_bytes,
            compression_type=None if s.publisher_compression == "none" else s.publisher_compression,
        )

    async def run(self) -> None:
        """Consume until :meth:`stop`; the last batch is flushed and committed on the way out."""
        s = self.settings
        consumer, producer = group_consumer(s, self.kind), self._producer()
        await producer.start()
        sender = BatchSender(producer, s.topic)
        outbox = Outbox(sender, self.pool, applied_by)
        # Tracing off (no otel_endpoint): None, and nothing below is wrapped.
        tracing = BatchTracing.of(
            s, self.kind, topic=s.topic(topic_of(self.kind)), group=app_id(s, self.kind)
        )
        flush = self._flusher(outbox, tracing)
        skip: Skip | None = already_applied if self.kind != APPLIER else None
        if tracing is not None:
            flush = tracing.flush(flush)
            skip = tracing.skip(skip) if skip is not None else None
        runner = BatchConsumer(
            name=self.kind,
            consumer=consumer,
            flush=self.metrics.observe(flush),
            dead_letters=self.metrics.dead_letters(sender.send_one, self.kind, s.topic(DLQ_TOPIC)),
            max_events=s.sink_batch_size,
            max_wait_ms=s.sink_flush_ms,
            skip=skip,
            on_retry=self.metrics.retried,
            # The next batch is fetched and decoded while a transaction waits on
            # PostgreSQL (BENCHMARKS.md, issue 12: the loop's steps overlapped).
            overlap=True,
        )
        consumer.subscribe(
            [s.topic(topic_of(self.kind))], listener=self.metrics.listening(runner.listener)
        )
        try:
            await serve(
                self.kind,
                consumer,
                producer,
                runner,
                self._stop,
                side=[
                    ("publish", outbox.publisher),
                    ("relay", lambda: outbox.relayer(backlog=self.metrics.outbox)),
                    ("metrics", lambda: self.metrics.run(consumer)),
                ],
                on_start=outbox.relay,  # what a crashed predecessor left behind
                on_drained=outbox.drained,  # the publisher sends the last batches
            )
        finally:
            if self._pool is not None:
                await self._pool.close()

    def _flusher(self, outbox: Outbox, tracing: BatchTracing | None = None) -> Any:
        async def flush(envelopes: list[Envelope[Any]]) -> None:
            """One transaction for the batch; the outbox's publisher publishes what it
            staged, while the loop goes on with the next batch.

            Traced: ``transaction`` (the database span, commit included) holds
            ``decide`` (load, decide, write, stage); ``outbox publish`` follows, opened
            by the publisher.
            """
            pool = await self.pool()
            with child(tracing, "transaction", **_DB):
                async with transaction(pool) as conn:
                    with child(tracing, "decide", **{"riverbed.events": len(envelopes)}):
                        staged = await repository.process(
                            conn,
                            self.kind,
                            envelopes,
                            default_threshold=self.settings.low_stock_threshold,
                            stage=outbox.stage,
                        )
            outbox.hand_over(
                staged, later(tracing, "outbox publish", **{"riverbed.emitted": len(staged)})
            )

        return flush
