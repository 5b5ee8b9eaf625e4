"""The viewing worker: playback events into MongoDB marks, sessions, profiles and
co-watch edges, and view starts per title-minute into PostgreSQL (trending).

Idempotent by event id: marks are keyed by event id and everything else is derived from
them (see :mod:`stores.mongo.viewing`); trending counts each start once
(``viewing_starts``). Emits nothing.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import asyncpg
import faust
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from core.errors import PermanentError
from core.settings import Settings
from processors.runtime.app import create_app, raw_topic, send_raw
from processors.runtime.batching import BatchRunner
from processors.runtime.metrics import WorkerMetrics
from processors.viewing import profiles, sessions
from schemas import DLQ_TOPIC, VIEWING_TOPIC, Envelope
from stores.mongo.client import Doc, create_client, database
from stores.mongo.indexes import ensure_indexes
from stores.mongo.viewing import find_in, insert_new, rewrite
from stores.postgres.pool import create_pool, transaction

TRENDING_SQL = """
with new as (
    insert into viewing_starts (event_id, title_id, minute)
    select * from unnest($1::uuid[], $2::text[], $3::timestamptz[])
    on conflict do nothing
    returning title_id, minute
)
insert into title_views_minute (title_id, minute, starts)
select title_id, minute, count(*) from new group by title_id, minute
on conflict (title_id, minute) do update set starts = title_views_minute.starts + excluded.starts
"""


class ViewingWorker:
    def __init__(self, settings: Settings, app: faust.App | None = None) -> None:
        self.settings = settings
        self.app = app or create_app(settings, "viewing")
        self._client: AsyncMongoClient[Doc] | None = None
        self._db: AsyncDatabase[Doc] | None = None
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()
        self.metrics = WorkerMetrics(settings, "viewing")
        self.runner = BatchRunner(
            name="viewing",
            flush=self.metrics.observe(self.flush),
            dead_letters=self.metrics.dead_letters(
                self._send, "viewing", settings.topic(DLQ_TOPIC)
            ),
            max_events=settings.sink_batch_size,
            max_wait_ms=settings.sink_flush_ms,
        )
        self.app.agent(
            raw_topic(self.app, settings.topic(VIEWING_TOPIC)),
            name="riverbed.viewing",
            concurrency=1,
        )(self.runner.run)
        self.app.timer(max(self.runner.max_wait / 2, 0.05), name="riverbed.viewing.tick")(
            self.runner.tick
        )
        self.metrics.install(self.app)

    async def _send(
        self, topic: str, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]
    ) -> Any:
        return await send_raw(self.app, topic, key, value, headers)

    async def resources(self) -> tuple[AsyncDatabase[Doc], asyncpg.Pool]:
        async with self._lock:
            if self._db is None:
                self._client = create_client(self.settings)
                db = database(self._client, self.settings)
                await ensure_indexes(db)
                self._db = db
            if self._pool is None:
                self._pool = await create_pool(
                    self.settings.postgres_dsn.get_secret_value(),
                    max_size=2,
                    schema=self.settings.postgres_schema,
                )
            return self._db, self._pool

    async def flush(self, envelopes: list[Envelope[Any]]) -> None:
        """Marks first (the source of truth), then everything derived from them."""
        db, pool = await self.resources()
        try:
            marks = [sessions.mark_of(e) for e in envelopes]
        except sessions.UnsafeKey as exc:
            raise PermanentError(str(exc)) from exc
        await insert_new(db, "viewing_marks", marks)
        touched = {m["session_id"] for m in marks}
        by_session: dict[str, list[Doc]] = defaultdict(list)
        for m in await find_in(db, "viewing_marks", "session_id", touched):
            by_session[m["session_id"]].append(m)
        docs = [sessions.to_document(sessions.fold(ms)) for ms in by_session.values()]
        await rewrite(db, "viewing_sessions", docs)
        ended_users = {d["user_id"] for d in docs if d["ended_at"] is not None}
        if ended_users:
            await self._profiles(db, ended_users)
        await self._trending(pool, envelopes)

    async def _profiles(self, db: AsyncDatabase[Doc], users: set[str]) -> None:
        ended: dict[str, list[Doc]] = defaultdict(list)
        for s in await find_in(db, "viewing_sessions", "user_id", users):
            if s["ended_at"] is not None:
                ended[s["user_id"]].append(s)
        edges = [e for uid, ss in ended.items() for e in profiles.co_watch_edges(uid, ss)]
        await insert_new(db, "co_watch_edges", edges)
        await rewrite(
            db, "user_profiles", [profiles.build_profile(uid, ss) for uid, ss in ended.items()]
        )

    async def _trending(self, pool: asyncpg.Pool, envelopes: list[Envelope[Any]]) -> None:
        starts = [e for e in envelopes if e.type == "playback.started"]
        if not starts:
            return
        async with transaction(pool) as conn:
            await conn.execute(
                TRENDING_SQL,
                [e.event_id for e in starts],
                [e.payload.title_id for e in starts],
                [profiles.minute_of(e.occurred_at) for e in starts],
            )
