"""Periodic retraining on a worker's timer (the viewing worker runs :meth:`Retrainer.loop`).

Every ``recs_retrain_s`` a worker trains a new version from the stored views and
publishes it (:func:`processors.recs.train.train`), unless the newest stored version is
younger than most of that interval: so with several viewing workers, whichever ticks
first retrains and the others skip (two that tick at the same moment publish one version
each, serialised by the publication's advisory lock: harmless). No leader election is
needed (faust's ``on_leader`` timers never fired here: its election needs a topic of its
own that the workers do not declare; a demo with them never trained). The fitting runs
in a thread, so consuming goes
on. A failed training is logged and tried again at the next tick: it never stops the
worker, and the served rows stay those of the last good version. Emits nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg
from pymongo.asynchronous.database import AsyncDatabase

from core.settings import Settings
from processors.recs import store
from processors.recs.train import Trained, train
from stores.mongo.client import Doc

log = logging.getLogger("riverbed.recs")
SKIP_SHARE = 0.8  # a version younger than 80 % of the interval: another worker just trained

Resources = Callable[[], Awaitable[tuple[AsyncDatabase[Doc], asyncpg.Pool]]]


class Retrainer:
    def __init__(self, settings: Settings, resources: Resources) -> None:
        self.interval = settings.recs_retrain_s
        self._resources = resources
        self._running = False
        self.last: Trained | None = None

    async def loop(self) -> None:
        """Tick every ``interval`` seconds until cancelled (the worker's task)."""
        while True:
            await asyncio.sleep(self.interval)
            await self.run()

    def due(self, newest: datetime) -> bool:
        """Whether the newest version is old enough to train another."""
        return datetime.now(UTC) - newest >= timedelta(seconds=self.interval * SKIP_SHARE)

    async def run(self) -> None:
        if self._running:  # a slow training is not started twice
            return
        self._running = True
        try:
            db, pool = await self._resources()
            async with pool.acquire() as conn:
                newest = await store.latest(conn)
            if newest is not None and not self.due(newest["trained_at"]):
                return
            trained = await train(pool, db)
            if trained is not None:
                self.last = trained
                log.info(
                    "recommender version %d: %d views, fitted in %.2f s, %s",
                    trained.version,
                    trained.views,
                    trained.training_s,
                    trained.metrics,
                )
        except Exception:
            log.exception("retraining the recommender failed; the last version stays served")
        finally:
            self._running = False
