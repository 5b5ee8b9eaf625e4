"""The viewing worker: playback events into session documents (MongoDB) and the per-user
index, co-watch counts and trending (PostgreSQL).

Each session's marks live in the worker's memory (:mod:`processors.viewing.state`), so a
batch folds only the sessions it touched and reads nothing back but sessions it has never
seen. Per batch, in this order: the changed session documents go to MongoDB (insert-only
or a small collection, see :mod:`stores.mongo.viewing`); then one PostgreSQL transaction
stores the changed sessions' state, the index rows, co-watch edges and view starts (see
:mod:`processors.viewing.index`); then the offsets become committable. Idempotent by
event id: a replay finds its events already in the state and writes nothing. Emits
nothing but dead letters.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from typing import Any

import asyncpg
from aiokafka import TopicPartition
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from core.errors import PermanentError
from core.kafka import new_producer
from core.settings import Settings
from processors.recs.timer import Retrainer
from processors.runtime.consumer import BatchConsumer
from processors.runtime.metrics import WorkerMetrics
from processors.runtime.sending import BatchSender
from processors.runtime.shell import SideTask, group_consumer, serve
from processors.viewing import index, profiles, sessions
from processors.viewing.state import SessionCache, SessionState, encode_mark, restore
from schemas import DLQ_TOPIC, VIEWING_TOPIC, Envelope
from stores.mongo.client import Doc, create_client, database
from stores.mongo.indexes import ensure_indexes
from stores.mongo.viewing import write_sessions
from stores.postgres.pool import create_pool, transaction

log = logging.getLogger("riverbed.viewing")
KIND = "viewing"
# How long an ended session keeps its marks, so that an event arriving after the end (out
# of order) still gives the exact fold; after it, the session is closed (see state.py).
CLOSE_AFTER_S = 30.0


class ViewingWorker:
    """The consumer loop (:class:`~processors.runtime.consumer.BatchConsumer`), the session
    cache, the MongoDB client, the pool and the metrics of one viewing worker process.

    It runs on the batch-native loop, not a faust agent: it keeps its state itself (see
    :mod:`processors.viewing.state`) and so uses no faust table, and faust's per-message
    stream delivery was the largest part of its CPU (BENCHMARKS.md, issue 13).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: AsyncMongoClient[Doc] | None = None
        self._db: AsyncDatabase[Doc] | None = None
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()
        self._stop = asyncio.Event()
        self.cache = SessionCache(close_after_s=CLOSE_AFTER_S)
        self.metrics = WorkerMetrics(settings, KIND)
        # The recommender retrains from the stored views on a timer (processors/recs).
        self.retrainer = Retrainer(settings, self.resources)

    def stop(self) -> None:
        self._stop.set()

    async def revoked(self, _partitions: frozenset[TopicPartition]) -> None:
        """Sessions of partitions that move away may change elsewhere: forget them all
        (the group's eager protocol revokes every partition at each rebalance), and load
        whichever come back from the stored state when a batch meets them."""
        self.cache.clear()

    async def run(self) -> None:
        """Consume until :meth:`stop`; the last batch is flushed and committed on the way out."""
        s = self.settings
        consumer = group_consumer(s, KIND)
        # Only for dead letters: the viewing worker emits nothing else.
        producer = new_producer(s, acks="all", linger_ms=s.publisher_linger_ms)
        await producer.start()
        sender = BatchSender(producer, s.topic)
        runner = BatchConsumer(
            name=KIND,
            consumer=consumer,
            flush=self.metrics.observe(self.flush),
            dead_letters=self.metrics.dead_letters(sender.send_one, KIND, s.topic(DLQ_TOPIC)),
            max_events=s.sink_batch_size,
            max_wait_ms=s.sink_flush_ms,
            on_retry=self.metrics.retried,  # riverbed_retries_total, shown by the dashboard
            on_revoked=self.revoked,
        )
        consumer.subscribe([s.topic(VIEWING_TOPIC)], listener=runner.listener)
        side: list[tuple[str, SideTask]] = [("metrics", lambda: self.metrics.run(consumer))]
        if self.retrainer.interval > 0:
            side.append(("recs", self.retrainer.loop))
        try:
            await serve(KIND, consumer, producer, runner, self._stop, side=side)
        finally:
            if self._pool is not None:
                await self._pool.close()
            if self._client is not None:
                await self._client.close()

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
