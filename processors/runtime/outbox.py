"""Publish the events a transaction emitted, from the ``outbox`` table.

The batch that decided writes its emitted events to ``outbox`` in the same transaction,
publishes them right after the commit and marks them published. If the worker dies in
between, :meth:`Outbox.relay` (run at start and on a timer) publishes what is left.
A duplicate publish is harmless: emitted events have ids derived from their cause.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from uuid import UUID

import asyncpg

from processors.runtime.retry import is_transient
from schemas import Envelope, encode, topic_for

log = logging.getLogger("riverbed.outbox")

Send = Callable[[str, bytes | None, bytes | None, list[tuple[str, bytes]]], Awaitable[Any]]
RELAY_BATCH = 1000


class Outbox:
    def __init__(
        self,
        send: Send,
        pool: Callable[[], Awaitable[asyncpg.Pool]],
        topic: Callable[[str], str] = str,
    ) -> None:
        self._send = send
        self._topic = topic
        self._pool = pool
        self.published = 0

    async def publish(self, events: Sequence[Envelope[Any]]) -> None:
        if not events:
            return
        sends = []
        for env in events:
            value, headers = encode(env)
            sends.append(
                self._send(self._topic(topic_for(env.type)), env.key.encode(), value, headers)
            )
        await asyncio.gather(*sends)
        await self._mark([env.event_id for env in events])

    async def _mark(self, ids: list[UUID]) -> None:
        pool = await self._pool()
        await pool.execute(
            "update outbox set published_at = now() where event_id = any($1::uuid[]) and published_at is null",
            ids,
        )

    async def relay(self) -> int:
        """Publish every row a crashed batch left behind; returns how many.

        Runs on a faust timer, where an exception crashes the whole worker: a transient
        failure (database or broker down) is logged and left to the next tick.
        """
        try:
            return await self._relay()
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning("outbox relay failed (%s: %s); next tick retries", type(exc).__name__, exc)
            return 0

    async def _relay(self) -> int:
        pool = await self._pool()
        total = 0
        while True:
            rows = await pool.fetch(
                "select event_id, topic, key, value, headers from outbox "
                "where published_at is null order by id limit $1",
                RELAY_BATCH,
            )
            if not rows:
                return total
            await asyncio.gather(
                *(
                    self._send(
                        self._topic(r["topic"]),
                        r["key"].encode(),
                        r["value"],
                        [(k, str(v).encode()) for k, v in r["headers"].items()],
                    )
                    for r in rows
                )
            )
            await self._mark([r["event_id"] for r in rows])
            total += len(rows)
            self.published += len(rows)
