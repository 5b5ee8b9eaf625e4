"""MongoDB, sampled once a poll: active viewers.

A viewing session is active when it is playing or paused and its last event is within
the last ``active_minutes`` of event time, counted back from the newest active session.
Session documents that carry no ``last_event_at`` are bounded by their start instead
(the ``state_recent`` index on ``viewing_sessions_open`` serves that read on MongoDB;
FerretDB scans that collection, which holds only the sessions in flight).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from dashboard.stores import Stores
from stores.mongo.viewing import OPEN

ACTIVE_STATES = ["playing", "paused"]


class MongoSource:
    def __init__(self, stores: Stores, *, active_minutes: int) -> None:
        self._stores = stores
        self._minutes = active_minutes
        self.queries = 0  # operations run: the shared-poller test reads it

    async def sample(self) -> dict[str, Any]:
        sessions = self._stores.mongo()[OPEN]  # sessions in flight: a small collection
        active = {"state": {"$in": ACTIVE_STATES}}
        newest = await sessions.find_one(
            active, {"started_at": 1, "last_event_at": 1}, sort=[("started_at", -1)]
        )
        self.queries += 1
        count, as_of = 0, None
        if newest is not None:
            field = "last_event_at" if newest.get("last_event_at") else "started_at"
            as_of = newest[field]
            since = as_of - timedelta(minutes=self._minutes)
            count = await sessions.count_documents({**active, field: {"$gte": since}})
            self.queries += 1
        return {
            "active_viewers": count,
            "window_minutes": self._minutes,
            "as_of": as_of.isoformat() if as_of else None,
        }
