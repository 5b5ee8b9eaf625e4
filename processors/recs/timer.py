"""Periodic retraining on a worker's timer (the viewing worker installs it).

Every ``recs_retrain_s`` the group's leader (faust's ``on_leader``: one retraining per
group however many workers) trains a new version from the stored views and publishes it
(:func:`processors.recs.train.train`). The fitting runs in a thread, so consuming goes
on. A failed training is logged and tried again at the next tick: it never stops the
worker, and the served rows stay those of the last good version. Emits nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import asyncpg
import faust
from pymongo.asynchronous.database import AsyncDatabase

from core.settings import Settings
from processors.recs.train import Trained, train
from stores.mongo.client import Doc

log = logging.getLogger("riverbed.recs")

Resources = Callable[[], Awaitable[tuple[AsyncDatabase[Doc], asyncpg.Pool]]]


class Retrainer:
    def __init__(self, settings: Settings, resources: Resources) -> None:
        self.interval = settings.recs_retrain_s
        self._resources = resources
        self._running = False
        self.last: Trained | None = None

    def install(self, app: faust.App) -> None:
        if self.interval > 0:
            app.timer(self.interval, on_leader=True, name="riverbed.recs.retrain")(self.run)

    async def run(self) -> None:
        if self._running:  # a slow training is not started twice
            return
        self._running = True
        try:
            db, pool = await self._resources()
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
