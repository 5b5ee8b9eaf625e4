"""Batch writers and reads of the viewing collections.

FerretDB 1.x runs each update or replace as its own SQLite transaction (several ms
each, measured), while ``insert_many`` and ``delete_many`` are set operations. So:

* ``viewing_marks`` (one small document per playback event, ``_id`` = event id) is the
  source of truth, written with ``insert_many`` that ignores duplicate ids: idempotent.
* sessions, profiles and co-watch edges are *derived* from the marks and rewritten with
  ``delete_many`` + ``insert_many``. A crash between the two loses nothing: the marks
  are already stored and the replay (offsets were not committed) derives them again.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from stores.mongo.client import Doc

DUPLICATE_KEY = 11000


async def insert_new(db: AsyncDatabase[Doc], collection: str, docs: list[Doc]) -> None:
    """Insert documents, skipping those whose ``_id`` exists (idempotent)."""
    if not docs:
        return
    try:
        await db[collection].insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(e.get("code") != DUPLICATE_KEY for e in errors) or exc.details.get(
            "writeConcernErrors"
        ):
            raise


async def rewrite(db: AsyncDatabase[Doc], collection: str, docs: list[Doc]) -> None:
    """Replace derived documents by ``_id`` (delete, then insert)."""
    if not docs:
        return
    await db[collection].delete_many({"_id": {"$in": [d["_id"] for d in docs]}})
    await insert_new(db, collection, docs)


async def find_in(
    db: AsyncDatabase[Doc],
    collection: str,
    field: str,
    values: Iterable[str],
    projection: Doc | None = None,
) -> list[Doc]:
    values = sorted(set(values))
    if not values:
        return []
    return [d async for d in db[collection].find({field: {"$in": values}}, projection)]


async def user_sessions(
    db: AsyncDatabase[Doc], user_id: str, *, limit: int = 20, skip: int = 0
) -> list[Doc]:
    cursor = (
        db["viewing_sessions"]
        .find({"user_id": user_id})
        .sort([("started_at", -1), ("session_id", 1)])
        .skip(skip)
        .limit(limit)
    )
    return [d async for d in cursor]


async def recommendations(
    db: AsyncDatabase[Doc], title_id: str, *, limit: int = 10
) -> list[dict[str, Any]]:
    """Titles most often watched by the users who watched ``title_id``."""
    pipeline: list[Doc] = [
        {"$match": {"title_id": title_id}},
        {"$group": {"_id": "$other_title_id", "viewers": {"$sum": 1}}},
        {"$sort": {"viewers": -1, "_id": 1}},
        {"$limit": limit},
    ]
    cursor = await db["co_watch_edges"].aggregate(pipeline)
    return [{"title_id": d["_id"], "viewers": d["viewers"]} async for d in cursor]


async def profile(db: AsyncDatabase[Doc], user_id: str) -> Doc | None:
    doc: Doc | None = await db["user_profiles"].find_one({"_id": user_id})
    return doc
