"""The transactional outbox, one owner: stage in the transaction, publish the staged bytes.

* :meth:`Outbox.stage` runs inside the transaction that decided: the emitted events,
  already encoded once by the decision (``schemas.wire``), are written to ``outbox`` as
  one row (their payloads as arrays in emitted order; the headers are rebuilt from them
  when the relay needs them) with the state change (the worker then records its
  processed ids, the last statement). One row per batch, not per event: migrations 0010
  and 0012 have the measurements.
* :meth:`Outbox.hand_over` takes a committed batch's staged events; :meth:`Outbox.publisher`
  (a task beside the consume loop) publishes them in commit order, so the loop goes on
  with its next batch meanwhile (below).
* :meth:`Outbox.relay` runs at start and on a timer (:meth:`Outbox.relayer`), for rows a
  crashed batch or a failed publish left.

Both publish through one path: in a transaction, claim the rows (``FOR UPDATE SKIP
LOCKED`` for the relay, ``DELETE ... RETURNING`` for the batch's own row, which waits for
a relay holding it and then finds it gone), send the staged bytes in one record batch
per partition, delete them and commit: the table holds only what is not yet published
(migration 0006 says what marking them cost). A row is therefore never published by two
workers at once (replicas, or the orders and inventory workers); a crash between the
send and the commit publishes it again later, which is harmless: emitted ids derive
from the cause.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, NamedTuple, Protocol

import asyncpg

from processors.runtime.retry import is_transient
from schemas import decode, topic_for
from schemas.wire import Encoded, headers_of

log = logging.getLogger("riverbed.outbox")

# Rows (batches of up to a consumer batch's emitted events each) per relay transaction.
RELAY_BATCH = 20
# The relay's period: how long rows a crash or a failed publish left wait at most (plus
# one publish) while the worker runs.
RELAY_EVERY_S = 5.0
# Set on an emitted event whose effect the emitting worker already applied in the same
# transaction (e.g. the orders worker's own stock reservations): consumers of the same
# state skip it by header, before decoding; every other consumer receives it as usual.
HEADER_APPLIED_BY = "riverbed-applied-by"

STAGE = (
    "insert into outbox (events, topics, keys, payloads, created_at) "
    "values ($1, $2, $3, $4, $5) returning id"
)
CLAIM_OWN = "delete from outbox where id = any($1::bigint[]) returning id"
CLAIM_LEFT = (
    "select id, topics, keys, payloads from outbox order by id limit $1 for update skip locked"
)
MARK = "delete from outbox where id = any($1::bigint[])"
# Unpublished events (the outbox keeps nothing else), summed over the rows on the primary
# key and capped: past the cap the figure only has to say "far too many", and it stays
# cheap (``events`` is a plain column: the arrays are never read for it).
BACKLOG_CAP = 10_000
BACKLOG = "select coalesce(sum(events), 0) from (select events from outbox limit $1) as waiting"


class Staged(NamedTuple):
    """One staged event as published: its outbox row (batch) id, logical topic, key, the
    encoded value and headers."""

    id: int
    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


class Sender(Protocol):
    """Sends staged rows (one record batch per partition) and waits for the acks."""

    async def __call__(self, rows: Sequence[Staged]) -> None: ...


# Headers a worker adds to the events it emits, by event type (e.g. "applied by").
ExtraHeaders = Callable[[str], list[tuple[str, bytes]]]
# Opens the span that a handed-over batch's publish runs in (tracing), or None.
PublishSpan = Callable[[], AbstractContextManager[Any]]


class Outbox:
    def __init__(
        self,
        send: Sender,
        pool: Callable[[], Awaitable[asyncpg.Pool]],
        extra_headers: ExtraHeaders | None = None,
    ) -> None:
        self._send = send
        self._pool = pool
        self._extra = extra_headers
        self.published = 0
        self._handed: asyncio.Queue[tuple[Sequence[Staged], PublishSpan | None]] = asyncio.Queue()

    async def stage(
        self, conn: asyncpg.Connection, events: Sequence[Encoded], at: datetime
    ) -> list[Staged]:
        """Write the encoded ``events`` in the caller's transaction, as one row created
        ``at``; the staged events in emitted order.

        A replay of a batch stages nothing: ``processed_events`` filtered its events
        before they were applied, in the same transaction that staged them the first time.
        The headers are not stored: they repeat the body (``schemas.wire.headers_of``)
        plus the worker's extra ones by type, so the relay rebuilds them from the payload
        (migration 0012: a JSON text per event was ~4 % of the orders worker's CPU).
        """
        if not events:
            return []
        # Plain lists, one append each: a loop over zip(columns, row) and a frozen
        # dataclass per row were ~8 % of the orders worker's CPU (py-spy, 40,000 events).
        topics, keys, values, headers = [], [], [], []
        for e in events:
            heads = e.headers
            if self._extra is not None:
                heads = heads + self._extra(e.type)
            topics.append(topic_for(e.type))
            keys.append(e.key)
            values.append(e.value)
            headers.append(heads)
        row_id = await conn.fetchval(STAGE, len(events), topics, keys, values, at)
        return [
            Staged(row_id, topic, key.encode(), value, heads)
            for topic, key, value, heads in zip(topics, keys, values, headers, strict=True)
        ]

    async def publish(self, staged: Sequence[Staged]) -> None:
        """Publish a committed batch's own rows (those no relay took meanwhile)."""
        if not staged:
            return
        pool = await self._pool()
        async with pool.acquire() as conn, conn.transaction():
            claimed = {r["id"] for r in await conn.fetch(CLAIM_OWN, list({s.id for s in staged}))}
            mine = [s for s in staged if s.id in claimed]  # emitted order kept
            await self._send(mine)
        self.published += len(mine)

    def hand_over(self, staged: Sequence[Staged], span: PublishSpan | None = None) -> None:
        """Queue a committed batch's staged events for :meth:`publisher` (``span``, when
        tracing, opens the batch's ``outbox publish`` span around its publish)."""
        if staged:
            self._handed.put_nowait((staged, span))

    async def publisher(self) -> None:
        """Publish handed-over batches in commit order, several at once when they queue up.

        A side task, so that the consume loop does not wait: publishing in the loop (the
        claim transaction and the broker's acks, 15-90 ms a batch) held up the next batch
        every time (the dispatch worker's passes, and 33-90 ms of each ~500 ms commerce
        flush of 2,000 events). The consumer's offsets may be committed before the
        publish: the rows are committed in the outbox, and rows a failed publish leaves
        there go out with the relay (every :data:`RELAY_EVERY_S`, and at the next start),
        as after a crash. A permanent failure stops the worker.
        """
        while True:
            handed = [await self._handed.get()]
            while not self._handed.empty():
                handed.append(self._handed.get_nowait())
            try:
                with contextlib.ExitStack() as spans:
                    for _, span in handed:
                        if span is not None:
                            spans.enter_context(span())
                    await self.publish([row for staged, _ in handed for row in staged])
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.warning(
                    "outbox publish failed (%s: %s); the relay retries", type(exc).__name__, exc
                )
            finally:
                for _ in handed:
                    self._handed.task_done()

    async def drained(self, timeout_s: float = RELAY_EVERY_S) -> None:
        """Until every handed-over batch was published (or ``timeout_s`` passed: what is
        left stays in the table for the relay). Run before the publisher is cancelled."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._handed.join(), timeout=timeout_s)

    async def relayer(
        self,
        every_s: float = RELAY_EVERY_S,
        backlog: Callable[[int | None], None] | None = None,
    ) -> None:
        """The relay's timer: every ``every_s``, report the backlog (what no batch
        published, measured before the relay takes it), then relay it."""
        while True:
            await asyncio.sleep(every_s)
            if backlog is not None:
                backlog(await self.backlog())
            await self.relay()

    async def relay(self) -> int:
        """Publish every row a crashed batch left behind; returns how many.

        Runs on a timer, where an exception would stop the whole worker: a transient
        failure (database or broker down) is logged and left to the next tick.
        """
        try:
            return await self._relay()
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning("outbox relay failed (%s: %s); next tick retries", type(exc).__name__, exc)
            return 0

    async def backlog(self) -> int | None:
        """Events staged and not yet published (in at most :data:`BACKLOG_CAP` rows); ``None``
        when the database is unreachable (transient), like a failed relay tick."""
        try:
            pool = await self._pool()
            async with pool.acquire() as conn:
                count: int = await conn.fetchval(BACKLOG, BACKLOG_CAP)
                return count
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning("outbox backlog not measured (%s: %s)", type(exc).__name__, exc)
            return None

    async def _relay(self) -> int:
        pool = await self._pool()
        total = 0
        while True:
            async with pool.acquire() as conn, conn.transaction():
                rows = await conn.fetch(CLAIM_LEFT, RELAY_BATCH)
                if not rows:
                    return total
                staged = [
                    Staged(r["id"], topic, key.encode(), value, self._headers(value))
                    for r in rows
                    for topic, key, value in zip(r["topics"], r["keys"], r["payloads"], strict=True)
                ]
                await self._send(staged)
                await conn.execute(MARK, [r["id"] for r in rows])
            total += len(staged)
            self.published += len(staged)

    def _headers(self, value: bytes) -> list[tuple[str, bytes]]:
        """The headers a staged event is published with, from its body (the relay's path:
        rows a crash or a failed publish left)."""
        env = decode(value)
        heads = headers_of(env.type, env.version, env.event_id, env.traceparent)
        return heads + self._extra(env.type) if self._extra is not None else heads
