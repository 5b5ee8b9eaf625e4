"""Writes and reads of the viewing session documents, shaped by FerretDB 1.x.

Measured on FerretDB 1.24.2 (SQLite backend, this machine): ``insert_many`` of 2,000
documents ~50-80 ms (a unique index checks ``_id``); ``update_one``/``replace_one``/
``delete_one`` by ``_id`` ~25-40 ms each (one transaction per statement; concurrent ones
are slower, not faster); a ``bulk_write`` of 150 updates by ``_id`` did not return within
30 s. Every filter scans, ``_id`` equality included: FerretDB pushes ``{_id: x}`` down
as ``WHERE``, but SQLite's plan is ``SCAN`` (``explain``), so ``find_one`` costs the
document's position (0.9 ms first, 13 ms middle, 22 ms last of 2,432 documents) and a
miss the whole collection; ``delete_many`` of 100 ids by ``$in`` took 830 ms at 20k. So:

* ``viewing_sessions`` holds ended sessions: each is inserted once (``insert_many``,
  duplicates skipped) and only a late event within the grace period rewrites one
  (``delete_one`` + insert, by ``_id``: rare by construction).
* ``viewing_sessions_open`` holds sessions in flight, so it stays as small as the number
  of people watching now: a batch rewrites the ones it changed with one ``delete_many``
  by ``$in`` (a scan of that small collection) and one ``insert_many``, and removes those
  that ended.

Nothing on the hot path or the read API reads these collections (see
``processors/viewing/index.py``); the documents are the record of every session, and on
MongoDB proper, where ``_id`` is indexed, readable by ``_id``.
"""

from __future__ import annotations

from collections.abc import Sequence

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from stores.mongo.client import Doc

DUPLICATE_KEY = 11000
ENDED = "viewing_sessions"
OPEN = "viewing_sessions_open"


async def insert_new(db: AsyncDatabase[Doc], collection: str, docs: Sequence[Doc]) -> None:
    """Insert documents, skipping those whose ``_id`` exists (idempotent)."""
    if not docs:
        return
    try:
        await db[collection].insert_many(list(docs), ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(e.get("code") != DUPLICATE_KEY for e in errors) or exc.details.get(
            "writeConcernErrors"
        ):
            raise


async def write_sessions(
    db: AsyncDatabase[Doc],
    *,
    open_docs: Sequence[Doc],
    ended_docs: Sequence[Doc],
    rewritten: Sequence[Doc],
) -> None:
    """One batch's session documents; every step is idempotent, so a replay repeats it.

    ``ended_docs`` ended in this batch (inserted, then dropped from the open collection);
    ``rewritten`` had ended before and changed (a late event): replaced by ``_id``.
    """
    await insert_new(db, ENDED, ended_docs)
    for doc in rewritten:
        await db[ENDED].delete_one({"_id": doc["_id"]})
        await insert_new(db, ENDED, [doc])
    stale = [d["_id"] for d in (*open_docs, *ended_docs, *rewritten)]
    if stale:
        await db[OPEN].delete_many({"_id": {"$in": stale}})
    await insert_new(db, OPEN, open_docs)
