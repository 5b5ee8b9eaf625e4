"""Indexes for the viewing reads that are not by ``_id`` (idempotent).

Every read of the hot path and the read API is by ``_id``; the only other one is the
dashboard's count of active viewers, over the small collection of open sessions. FerretDB
1.x uses no index for it (it scans; the collection is as small as the audience), MongoDB
does.
"""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from stores.mongo.client import Doc
from stores.mongo.viewing import OPEN


async def ensure_indexes(db: AsyncDatabase[Doc]) -> None:
    await db[OPEN].create_index(  # active viewers (dashboard)
        [("state", ASCENDING), ("started_at", DESCENDING)], name="state_recent"
    )
