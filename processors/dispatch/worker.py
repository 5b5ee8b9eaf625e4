"""The dispatch worker: confirmed orders and shopper events in, ``delivery.assigned`` out.

Batch-native like the commerce workers (:class:`~processors.runtime.consumer.BatchConsumer`,
the outbox, isolation and retries): it reads ``riverbed.order-decisions``,
``riverbed.shoppers`` and ``riverbed.deliveries``, all keyed by ``store_id`` with one
partition count, and assigns partitions with Kafka's range assignor, so a store's orders
and its shoppers always land on the same member: one store's matching runs in one place.

Each batch is one transaction: the events not yet in ``processed_events`` are claimed
and applied (:mod:`processors.dispatch.state`), the touched stores and those whose
orders became ready are planned from the worker's in-memory view of its stores
(:mod:`processors.dispatch.memory`; the tables stay the truth, the view is kept only
after a commit), the trips written and the ``delivery.assigned`` events staged in the
outbox; then the staged rows are published. A timer wakes when the next waiting order's
batching window runs out (known from the view, no query) and matches the stores that
became due in a transaction of its own, under the same lock as the flush. After a start
or a rebalance it also looks up, once, the owned stores with orders still waiting (what
a crashed predecessor left). Idempotent by event id; a crash before the commit replays
the batch, after it the outbox relay publishes. Its own ``delivery.assigned`` events
carry ``riverbed-applied-by: dispatch`` and are skipped before decoding.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer
from aiokafka.partitioner import murmur2

from core.kafka import new_producer
from core.settings import Settings
from processors.dispatch.geo import Point
from processors.dispatch.matching import (
    Conflict,
    Rules,
    StoreLocations,
    plan,
    waiting_stores,
    write,
)
from processors.dispatch.memory import Memory, View
from processors.dispatch.solver import Match
from processors.dispatch.state import apply_events, claim
from processors.kinds import topic_of, topics_of
from processors.runtime.consumer import BatchConsumer
from processors.runtime.metrics import WorkerMetrics
from processors.runtime.outbox import HEADER_APPLIED_BY, Outbox, Staged
from processors.runtime.retry import is_transient
from processors.runtime.sending import BatchSender
from processors.runtime.shell import group_consumer, serve
from schemas import DLQ_TOPIC, Envelope
from stores.postgres.pool import create_pool, transaction

log = logging.getLogger("riverbed.dispatch")
KIND = "dispatch"
# The dispatch flush waits at most this long for a batch to fill: the batching window
# (RIVERBED_DISPATCH_WINDOW_MS) is the matcher's, not the consumer's.
MAX_WAIT_MS = 100
# aiokafka leaves a partition whose fetched records are not consumed yet out of the next
# fetch request, and sends no second request to a broker while one is waiting there: a
# request for quiet partitions only (the shopper and delivery topics) held the order
# partitions back for the broker's fetch_max_wait (500 ms by default). Measured: polls
# returning orders 430-850 ms old in the 10 s bench.
FETCH_MAX_WAIT_MS = 20
_APPLIED = (HEADER_APPLIED_BY, KIND.encode())


def applied_by(event_type: str) -> list[tuple[str, bytes]]:
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
        self.memory = Memory()
        self.window = timedelta(milliseconds=settings.dispatch_window_ms)
        self.assigned = 0
        self._swept = False  # looked up the owned stores left waiting since the last join
        self._wake = asyncio.Event()  # the view changed: the timer recomputes its next wake
        self._passed_at = 0.0  # when the last transaction ended (monotonic)
        self._pool: asyncpg.Pool | None = None
        self._stop = asyncio.Event()
        self._lock = asyncio.Lock()  # one pass over the tables at a time (flush or timer)
        self._consumer: AIOKafkaConsumer | None = None
        self._outbox: Outbox | None = None

    async def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            self._pool = await create_pool(
                self.settings.postgres_dsn.get_secret_value(),
                min_size=1,
                max_size=3,
                schema=self.settings.postgres_schema,
                # Transaction-scoped locks only: the release reset was a round trip per
                # transaction, 18 % of the statements (366 of 2,043 in a 10 s bench run).
                keep_session=True,
            )
        return self._pool

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Consume until :meth:`stop`; the last batch is flushed and committed on the way out."""
        s = self.settings
        # The range assignor (the shell's) puts partition n of all three topics on one member.
        consumer = group_consumer(s, KIND, fetch_max_wait_ms=FETCH_MAX_WAIT_MS)
        producer = new_producer(s, acks="all", linger_ms=s.publisher_linger_ms)
        self._consumer = consumer
        await producer.start()
        sender = BatchSender(producer, s.topic)
        outbox = self._outbox = Outbox(sender, self.pool, applied_by)
        runner = BatchConsumer(
            name=KIND,
            consumer=consumer,
            flush=self.metrics.observe(self._flusher(outbox)),
            dead_letters=self.metrics.dead_letters(sender.send_one, KIND, s.topic(DLQ_TOPIC)),
            max_events=s.sink_batch_size,
            max_wait_ms=MAX_WAIT_MS,
            skip=own_event,
            on_retry=self.metrics.retried,
            on_revoked=self._rebalanced,
            on_assigned=self._rebalanced,
        )
        consumer.subscribe([s.topic(t) for t in topics_of(KIND)], listener=runner.listener)
        try:
            await serve(
                KIND,
                consumer,
                producer,
                runner,
                self._stop,
                side=[
                    ("tick", lambda: self._tick(outbox)),
                    ("relay", outbox.relayer),
                    ("publish", outbox.publisher),
                    ("metrics", lambda: self.metrics.run(consumer)),
                ],
                on_start=outbox.relay,  # what a crashed predecessor left behind
                on_drained=outbox.drained,  # the publisher sends the last trips
            )
        finally:
            if self._pool is not None:
                await self._pool.close()

    async def _rebalanced(self, partitions: frozenset[Any]) -> None:
        """Partitions moved: forget the view (reloaded from the tables when needed)."""
        self.memory.clear()
        self._swept = False

    async def _pass(
        self,
        conn: asyncpg.Connection,
        view: View,
        stores: Sequence[str],
        now: datetime,
        locked: Collection[str],
    ) -> list[Staged]:
        """Plan ``stores`` from the view, write the trips; the view follows."""
        # Every store is loaded at the start of the transaction, before its writes.
        where = await self.stores.get(conn, sorted(s for s in stores if view.known(s)))
        plans: list[tuple[str, Point, Match]] = []
        for store_id in sorted(where):
            plans += [
                (store_id, where[store_id], m)
                for m in plan(where[store_id], view.state(store_id), now, self.rules)
            ]
        assert self._outbox is not None
        staged = await write(conn, plans, now, self.rules, self._outbox.stage, locked)
        for store_id, _, m in plans:
            view.assigned(store_id, (o.order_id for o in m.trip.orders), m.shopper.shopper_id)
        view.passed([s for s in stores if view.known(s)], now)  # also those with no position
        return staged

    async def _transaction(self, envelopes: Sequence[Envelope[Any]]) -> list[Staged]:
        """Claim and apply ``envelopes``, match what is due; retried once on a stale view."""
        pool = await self.pool()
        for attempt in (1, 2):
            view = self.memory.view()
            try:
                async with transaction(pool) as conn:
                    # The stores this pass will most likely write, locked with the claim.
                    locked = sorted(
                        {e.payload.store_id for e in envelopes}
                        | set(self.memory.due(datetime.now(UTC), self.window))
                    )
                    fresh = await claim(conn, KIND, envelopes, locked)
                    if not envelopes:
                        locked = []  # no statement ran: nothing is locked yet
                    now = datetime.now(UTC)
                    stores = {e.payload.store_id for e in fresh}
                    if not self._swept:
                        stores |= set(await self._waiting(conn))
                    # Load before the batch writes: the view starts from committed rows.
                    await view.load(conn, (await self.stores.get(conn, sorted(stores))))
                    changes = await apply_events(conn, fresh, now)
                    view.orders(changes.orders)
                    view.shoppers(changes.shoppers)
                    staged = await self._pass(conn, view, view.due(now, self.window), now, locked)
            except Conflict:
                self.memory.clear()  # someone else wrote the tables: reload and plan again
                if attempt == 2:
                    raise
                continue
            except BaseException:
                # The commit may have happened (a connection lost during COMMIT) while the
                # view was not kept: start again from the tables, sweep included.
                self.memory.clear()
                self._swept = False
                raise
            if self.memory.install(view):
                self._swept = True
            self._passed_at = time.monotonic()
            self._wake.set()
            return staged
        raise AssertionError("unreachable")

    def _flusher(self, outbox: Outbox) -> Any:
        async def flush(envelopes: list[Envelope[Any]]) -> None:
            """One transaction: claim, apply, match what is due, stage; then publish."""
            async with self._lock:
                self._hand_over(await self._transaction(envelopes))

        return flush

    def _hand_over(self, staged: list[Staged]) -> None:
        """Committed trips go to the publisher; the loop goes on with the next batch."""
        if staged:
            self.assigned += len(staged)
            assert self._outbox is not None
            self._outbox.hand_over(staged)

    def _owned(self) -> set[int] | None:
        """Partitions of the order topic this member holds (None before the first join)."""
        if self._consumer is None:
            return None
        topic = self.settings.topic(topic_of(KIND))
        return {tp.partition for tp in self._consumer.assignment() if tp.topic == topic}

    async def tick(self, outbox: Outbox) -> int:
        """Match the stores whose orders became ready (from the view); how many trips."""
        async with self._lock:
            now = datetime.now(UTC)
            if self._swept and not self.memory.due(now, self.window):
                return 0  # nothing ripe: no transaction at all
            staged = await self._transaction([])
            self._hand_over(staged)
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
        """Wake when the view's next order becomes ready (at most every tick setting)."""
        every = self.settings.dispatch_tick_ms / 1000
        while True:
            self._wake.clear()
            at = self.memory.next_due(self.window)
            delay = every
            if at is not None:
                delay = min(every, max((at - datetime.now(UTC)).total_seconds(), 0.0))
            # Not within a tick of the last pass: under load the batches' passes come
            # every ~50-150 ms and cover every due store; a timer pass in between only
            # made the next batch wait for the lock (twice the passes, same latency).
            delay = max(delay, self._passed_at + every - time.monotonic())
            with contextlib.suppress(TimeoutError):
                # A commit changes the view: recompute the wake time (a new store may
                # become ready sooner than the one waited for).
                await asyncio.wait_for(self._wake.wait(), timeout=delay + 0.001)
                continue
            try:
                await self.tick(outbox)
            except Exception as exc:
                if not (is_transient(exc) or isinstance(exc, Conflict)):
                    raise
                log.warning("dispatch timer: %s: %s; next tick retries", type(exc).__name__, exc)
