"""The viewing worker: playback events into session documents (MongoDB) and the per-user
index, co-watch counts and trending (PostgreSQL).

Each session's marks live in the worker's memory (:mod:`processors.viewing.state`), so a
batch folds only the sessions it touched and reads nothing back but sessions it has never
seen. Per batch, in this order: the changed session documents go to MongoDB (insert-only
or a small collection, see :mod:`stores.mongo.viewing`); then one PostgreSQL transaction
stores the changed sessions' state, the index rows, co-watch edges and view starts (see
:mod:`processors.viewing.index`); then the offsets become committable. Idempotent by
event id: a replay finds its events already in the state and writes nothing. Emits
nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from typing import Any

import asyncpg
import faust
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from core.errors import PermanentError
from core.settings import Settings
from processors.recs.timer import Retrainer
from processors.runtime.app import create_app, raw_topic, send_raw
from processors.runtime.batching import BatchRunner
from processors.runtime.metrics import WorkerMetrics
from processors.viewing import index, profiles, sessions
from processors.viewing.state import SessionCache, SessionState, encode_mark, restore
from schemas import DLQ_TOPIC, VIEWING_TOPIC, Envelope
from stores.mongo.client import Doc, create_client, database
from stores.mongo.indexes import ensure_indexes
from stores.mongo.viewing import write_sessions
from stores.postgres.pool import create_pool, transaction

log = logging.getLogger("riverbed.viewing")
# How long an ended session keeps its marks, so that an event arriving after the end (out
# of order) still gives the exact fold; after it, the session is closed (see state.py).
CLOSE_AFTER_S = 30.0


class ViewingWorker:
    def __init__(self, settings: Settings, app: faust.App | None = None) -> None:
        self.settings = settings
        self.app = app or create_app(settings, "viewing")
        self._client: AsyncMongoClient[Doc] | None = None
        self._db: AsyncDatabase[Doc] | None = None
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()
        self.cache = SessionCache(close_after_s=CLOSE_AFTER_S)
        self.metrics = WorkerMetrics(settings, "viewing")
        self.runner = BatchRunner(
            name="viewing",
            flush=self.metrics.observe(self.flush),
            dead_letters=self.metrics.dead_letters(
                self._send, "viewing", settings.topic(DLQ_TOPIC)
            ),
            max_events=settings.sink_batch_size,
            max_wait_ms=settings.sink_flush_ms,
            on_retry=self.metrics.retried,  # riverbed_retries_total, shown by the dashboard
        )
        self.app.agent(
            raw_topic(self.app, settings.topic(VIEWING_TOPIC)),
            name="riverbed.viewing",
            concurrency=1,
        )(self.runner.run)
        self.app.timer(max(self.runner.max_wait / 2, 0.05), name="riverbed.viewing.tick")(
            self.runner.tick
        )
        # Sessions of partitions that move away may change elsewhere: forget them all, and
        # load whichever come back from the stored state.
        self.app.on_partitions_revoked.connect(self._revoked)
        self.metrics.install(self.app)
        # The recommender retrains from the stored views on a timer (processors/recs).
        Retrainer(settings, self.resources).install(self.app)

    async def _revoked(self, *_args: Any, **_kwargs: Any) -> None:
        self.cache.clear()

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
        """Fold the touched sessions on copies; install them only after the commit, so a
        failed attempt (retried, or split one by one) starts again from the same state."""
        db, pool = await self.resources()
        try:
            marks = [sessions.mark_of(e) for e in envelopes]
        except sessions.UnsafeKey as exc:
            raise PermanentError(str(exc)) from exc
        generation = self.cache.generation
        now = time.monotonic()
        by_session: dict[str, list[Doc]] = defaultdict(list)
        for m in marks:
            by_session[m["session_id"]].append(m)
        loaded, closed = await self._load(pool, self.cache.missing(by_session))
        changed: dict[str, SessionState] = {}
        for sid, ms in by_session.items():
            if sid in closed:
                self.cache.late += len(ms)
                continue
            current = self.cache.sessions.get(sid) or loaded.get(sid) or SessionState(sid)
            state = current.copy()
            if state.add(ms):
                state.fold(now)
                changed[sid] = state
        closing = [s for s in self.cache.closable(now) if s.session_id not in changed]
        await self._write(db, pool, changed, loaded, closing, envelopes)
        if generation == self.cache.generation:
            self.cache.sessions.update((sid, st.committed()) for sid, st in changed.items())
            self.cache.sessions.update((s, st) for s, st in loaded.items() if s not in changed)
            self.cache.evict(s.session_id for s in closing)

    async def _load(
        self, pool: asyncpg.Pool, missing: list[str]
    ) -> tuple[dict[str, SessionState], set[str]]:
        """Stored state of sessions not in memory: open ones rebuilt, closed ones named."""
        if not missing:
            return {}, set()
        async with pool.acquire() as conn:
            rows, closed = await index.load_states(conn, missing)
        now = time.monotonic()
        loaded = {sid: restore(sid, rs, now) for sid, rs in rows.items() if sid not in closed}
        return loaded, closed

    async def _write(
        self,
        db: AsyncDatabase[Doc],
        pool: asyncpg.Pool,
        changed: dict[str, SessionState],
        loaded: dict[str, SessionState],
        closing: list[SessionState],
        envelopes: list[Envelope[Any]],
    ) -> None:
        open_docs, ended_docs, rewritten = [], [], []
        for sid, state in changed.items():
            doc = state.document
            assert doc is not None
            before = self.cache.sessions.get(sid) or loaded.get(sid)
            if doc["ended_at"] is None:
                open_docs.append(doc)
            elif sid in loaded or (before is not None and before.ended):
                # A late event, or a session just loaded after a crash, which may have left
                # an older copy of this document: replace it by _id (rare; on FerretDB a
                # delete by _id scans, ~20 ms per 2,500 ended sessions stored).
                rewritten.append(doc)
            else:
                ended_docs.append(doc)
        await write_sessions(db, open_docs=open_docs, ended_docs=ended_docs, rewritten=rewritten)
        ended_users = sorted({d["user_id"] for d in (*ended_docs, *rewritten)})
        rows = [(sid, encode_mark(m)) for sid, s in changed.items() for m in s.fresh.values()]
        starts = [
            (e.event_id, e.payload.title_id, profiles.minute_of(e.occurred_at))
            for e in envelopes
            if e.type == "playback.started"
        ]
        async with transaction(pool) as conn:
            await index.lock_users(conn, ended_users)
            await index.append_marks(conn, rows)
            await index.close(conn, [s.session_id for s in closing])
            await index.save_index(conn, [s.document for s in changed.values() if s.document])
            await index.co_watch(conn, ended_users)
            await index.trending(conn, starts)
