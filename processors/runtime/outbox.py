"""The transactional outbox, one owner: stage in the transaction, publish the staged bytes.

* :meth:`Outbox.stage` runs inside the transaction that decided: each emitted event is
  encoded **once** and its bytes and headers are written to ``outbox`` with the state
  change (the worker then records its processed ids, the last statement).
* :meth:`Outbox.publish` runs right after the commit, with the staged rows it got back.
* :meth:`Outbox.relay` runs at start and on a timer, for rows a crashed batch left.

Both publish through one path (:meth:`Outbox._publish`): in a transaction, claim the rows
(``FOR UPDATE SKIP LOCKED`` for the relay, ``DELETE ... RETURNING`` for the batch's own
rows, which waits for a relay holding them and then finds them gone), send the staged
bytes in one record batch per partition, delete them and commit: the table holds only
what is not yet published (migration 0006 says what marking them cost). A row is
therefore never published by two workers at once (replicas, or the orders and
inventory workers); a crash between the send and the commit publishes it again later,
which is harmless: emitted ids derive from the cause.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NamedTuple, Protocol

import asyncpg

from processors.runtime.retry import is_transient
from schemas import Envelope, encode, topic_for

log = logging.getLogger("riverbed.outbox")

RELAY_BATCH = 1000
# Set on an emitted event whose effect the emitting worker already applied in the same
# transaction (e.g. the orders worker's own stock reservations): consumers of the same
# state skip it by header, before decoding; every other consumer receives it as usual.
HEADER_APPLIED_BY = "riverbed-applied-by"

STAGE = (
    "insert into outbox (event_id, topic, key, value, headers, created_at) "
    "select e, t, k, v, h::jsonb, c from unnest($1::uuid[], $2::text[], $3::text[], "
    "$4::bytea[], $5::text[], $6::timestamptz[]) with ordinality as u(e, t, k, v, h, c, n) "
    "order by u.n "  # outbox ids follow the emitted order: the relay publishes by id
    "on conflict do nothing returning id, event_id"
)
CLAIM_OWN = "delete from outbox where id = any($1::bigint[]) returning id"
CLAIM_LEFT = (
    "select id, topic, key, value, headers from outbox order by id limit $1 for update skip locked"
)
MARK = "delete from outbox where id = any($1::bigint[])"
# Unpublished rows (the outbox keeps nothing else), counted on its primary key and
# capped: past the cap the figure only has to say "far too many", and the count stays cheap.
BACKLOG_CAP = 100_000
BACKLOG = "select count(*) from (select 1 from outbox limit $1) as waiting"


class Staged(NamedTuple):
    """One outbox row as published: logical topic, key, the encoded value and headers."""

    id: int
    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


class Sender(Protocol):
    """Sends staged rows (one record batch per partition) and waits for the acks."""

    async def __call__(self, rows: Sequence[Staged]) -> None: ...


ExtraHeaders = Callable[[Envelope[Any]], list[tuple[str, bytes]]]


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

    async def stage(
        self, conn: asyncpg.Connection, events: Sequence[Envelope[Any]]
    ) -> list[Staged]:
        """Encode once and write ``events`` in the caller's transaction; the new rows.

        Rows still present (a replayed batch whose first run crashed before publishing)
        are not returned: the relay publishes them. A replay of a published batch
        stages nothing: ``processed_events`` filtered its events before they were applied.
        """
        if not events:
            return []
        # Plain lists, one append each: a loop over zip(columns, row) and a frozen
        # dataclass per row were ~8 % of the orders worker's CPU (py-spy, 40,000 events).
        ids, topics, keys, values, headers, texts, times = [], [], [], [], [], [], []
        for env in events:
            value, heads = encode(env)
            if self._extra is not None:
                heads += self._extra(env)
            ids.append(env.event_id)
            topics.append(topic_for(env.type))
            keys.append(env.key)
            values.append(value)
            headers.append(heads)
            texts.append(json.dumps({k: v.decode() for k, v in heads}))
            times.append(env.occurred_at)
        rows = await conn.fetch(STAGE, ids, topics, keys, values, texts, times)
        at = {e: n for n, e in enumerate(ids)}
        staged = []
        for r in rows:
            n = at[r["event_id"]]
            staged.append(Staged(r["id"], topics[n], keys[n].encode(), values[n], headers[n]))
        staged.sort()  # by outbox id: the emitted order
        return staged

    async def publish(self, staged: Sequence[Staged]) -> None:
        """Publish a committed batch's own rows (those no relay took meanwhile)."""
        if not staged:
            return
        by_id = {s.id: s for s in staged}
        pool = await self._pool()
        async with pool.acquire() as conn, conn.transaction():
            claimed = await conn.fetch(CLAIM_OWN, list(by_id))
            await self._send([by_id[r["id"]] for r in sorted(claimed, key=lambda r: r["id"])])
        self.published += len(claimed)

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
        """Rows staged and not yet published (at most :data:`BACKLOG_CAP`); ``None``
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
                await self._send(
                    [
                        Staged(
                            r["id"],
                            r["topic"],
                            r["key"].encode(),
                            r["value"],
                            [(k, str(v).encode()) for k, v in r["headers"].items()],
                        )
                        for r in rows
                    ]
                )
                await conn.execute(MARK, [r["id"] for r in rows])
            total += len(rows)
            self.published += len(rows)
