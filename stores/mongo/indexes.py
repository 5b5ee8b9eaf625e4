"""Indexes for every query the viewing worker and read side make (idempotent)."""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from stores.mongo.client import Doc


async def ensure_indexes(db: AsyncDatabase[Doc]) -> None:
    await db["viewing_marks"].create_index([("session_id", ASCENDING)], name="session")
    sessions = db["viewing_sessions"]
    await sessions.create_index([("session_id", ASCENDING)], unique=True, name="session_id_unique")
    await sessions.create_index(
        [("user_id", ASCENDING), ("started_at", DESCENDING)], name="user_recent"
    )
    await sessions.create_index([("title_id", ASCENDING)], name="title")
    await sessions.create_index(  # active viewers (dashboard)
        [("state", ASCENDING), ("started_at", DESCENDING)], name="state_recent"
    )
    await db["user_profiles"].create_index(
        [("user_id", ASCENDING)], unique=True, name="user_id_unique"
    )
    await db["co_watch_edges"].create_index(
        [("title_id", ASCENDING), ("other_title_id", ASCENDING)], name="title_other"
    )
