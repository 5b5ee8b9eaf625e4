"""Where the recommender reads its views and writes its versions.

Reads: every ended session of the read model (``viewing_session_index``), one row per
view, oldest first. Writes, per training: the version row (``recs_models``: params,
metrics, training time) and the served rows (``recs_user_items``) in one PostgreSQL
transaction, under an advisory lock so two trainers never interleave; then the same
lists as one MongoDB document per user in ``recommendations``, inserted fresh under a
versioned ``_id`` (FerretDB 1.24 runs each update by ``_id`` as its own ~40 ms
transaction, while ``insert_many`` of 2,000 documents takes ~80 ms; BENCHMARKS.md), and
the older versions' documents removed with one ``delete_many`` (one scan).

Idempotent per version: a retried publication of the same version finds its documents
already there and skips them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg
from pymongo.asynchronous.database import AsyncDatabase

from core.timeofday import BUCKETS
from processors.recs.data import View
from stores.mongo.client import Doc
from stores.mongo.viewing import insert_new

COLLECTION = "recommendations"
SERVED = 20  # titles kept per (user, bucket): a page of 10 after the finished ones go
TRAIN_LOCK = 0x72656373  # advisory lock key: one publication at a time

LOAD_VIEWS = """
select user_id, title_id, started_at, completed from viewing_session_index
where ended_at is not null order by started_at, session_id
"""
SAVE_MODEL = """
insert into recs_models (trained_at, training_s, views, users, titles, params, metrics)
values ($1, $2, $3, $4, $5, $6, $7) returning version
"""
LATEST = """
select version, trained_at, training_s, views, users, titles, params, metrics
from recs_models order by version desc limit 1
"""
ITEM_COLUMNS = ("user_id", "bucket", "rank", "title_id", "score", "version")


async def load_views(conn: asyncpg.Connection) -> list[View]:
    rows = await conn.fetch(LOAD_VIEWS)
    return [View(r["user_id"], r["title_id"], r["started_at"], r["completed"]) for r in rows]


async def save_version(
    conn: asyncpg.Connection,
    *,
    trained_at: datetime,
    training_s: float,
    views: int,
    users: int,
    titles: int,
    params: Mapping[str, Any],
    metrics: Mapping[str, Any],
    lists: Mapping[str, Sequence[Sequence[tuple[str, float]]]],
) -> int:
    """One transaction: the version row, then its served rows instead of the last's."""
    async with conn.transaction():
        await conn.execute("select pg_advisory_xact_lock($1)", TRAIN_LOCK)
        version: int = await conn.fetchval(
            SAVE_MODEL, trained_at, training_s, views, users, titles, dict(params), dict(metrics)
        )
        await conn.execute("delete from recs_user_items")
        records = [
            (user, bucket, rank, title, score, version)
            for user, per_bucket in sorted(lists.items())
            for bucket, items in enumerate(per_bucket)
            for rank, (title, score) in enumerate(items[:SERVED])
        ]
        await conn.copy_records_to_table("recs_user_items", records=records, columns=ITEM_COLUMNS)
    return version


async def publish_documents(
    db: AsyncDatabase[Doc],
    version: int,
    trained_at: datetime,
    lists: Mapping[str, Sequence[Sequence[tuple[str, float]]]],
) -> None:
    """One ``recommendations`` document per user for this version; older ones go."""
    docs: list[Doc] = [
        {
            "_id": f"model:{version}:{user}",
            "kind": "model",
            "version": version,
            "user_id": user,
            "trained_at": trained_at,
            "buckets": [
                {
                    "bucket": BUCKETS[b],
                    "items": [{"title_id": t, "score": round(s, 4)} for t, s in items[:SERVED]],
                }
                for b, items in enumerate(per_bucket)
            ],
        }
        for user, per_bucket in sorted(lists.items())
    ]
    await insert_new(db, COLLECTION, docs)
    await db[COLLECTION].delete_many({"kind": "model", "version": {"$lt": version}})


async def latest(conn: asyncpg.Connection) -> dict[str, Any] | None:
    row = await conn.fetchrow(LATEST)
    return dict(row) if row else None
