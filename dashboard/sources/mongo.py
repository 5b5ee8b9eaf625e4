"""MongoDB, sampled once a poll: active viewers.

A viewing session is active when it is playing or paused and its last event lies in
the last ``active_minutes`` on the dashboard's clock (:mod:`dashboard.clock`): a session
stamped in a later minute is not counted, one that went quiet falls out. Session
documents that carry no ``last_event_at`` are bounded by their start instead (the
``state_recent`` index on ``viewing_sessions_open`` serves that read on MongoDB;
FerretDB scans that collection, which holds only the sessions in flight).
"""

from __future__ import annotations

from typing import Any

from dashboard.clock import Clock, Window, wall_clock
from dashboard.stores import Stores
from stores.mongo.viewing import OPEN

ACTIVE_STATES = ["playing", "paused"]


def active_filter(window: Window) -> dict[str, Any]:
    inside = {"$gte": window.since, "$lt": window.until}
    return {
        "state": {"$in": ACTIVE_STATES},
        "$or": [
            {"last_event_at": inside},
            {"last_event_at": None, "started_at": inside},  # None: missing or null
        ],
    }


class MongoSource:
    def __init__(self, stores: Stores, *, active_minutes: int, clock: Clock = wall_clock) -> None:
        self._stores = stores
        self._minutes = active_minutes
        self._clock = clock
        self.queries = 0  # operations run: the shared-poller test reads it

    async def sample(self) -> dict[str, Any]:
        window = Window.back(self._clock(), self._minutes)
        sessions = self._stores.mongo()[OPEN]  # sessions in flight: a small collection
        count = await sessions.count_documents(active_filter(window))
        self.queries += 1
        return {
            "active_viewers": count,
            "window_minutes": self._minutes,
            "as_of": window.now.isoformat(),
        }
