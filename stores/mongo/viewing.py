"""Writes and reads of the viewing session documents, shaped by FerretDB 1.x.

Measured on FerretDB 1.24.2 (SQLite backend, this machine, 20k documents): ``insert_many``
of 2,000 documents ~50 ms; ``find_one({_id})`` ~1 ms and flat (the only filter pushed down
to SQLite); ``update_one``/``replace_one``/``delete_one`` by ``_id`` ~40 ms each (one
transaction per statement; concurrent ones are slower, not faster); a ``bulk_write`` of
150 updates by ``_id`` did not return within 30 s; any other filter, ``$in`` included,
scans the collection (``delete_many`` of 100 ids by ``$in``: 830 ms). So:

* ``viewing_sessions`` holds ended sessions: each is inserted once (``insert_many``,
  duplicates skipped) and only a late event within the grace period rewrites one
  (``delete_one`` + insert, by ``_id``: rare by construction).
* ``viewing_sessions_open`` holds sessions in flight, so it stays as small as the number
  of people watching now: a batch rewrites the ones it changed with one ``delete_many``
  by ``$in`` (a scan of that small collection) and one ``insert_many``, and removes those
  that ended.

Readers find a document by ``_id`` in one collection or the other.
"""

from __future__ import annotations

import asyncio
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


async def session_documents(db: AsyncDatabase[Doc], pages: Sequence[tuple[str, bool]]) -> list[Doc]:
    """Documents of (session id, ended) pairs, in order, each read by ``_id``.

    A session that ended between the index read and this one is found in the other
    collection; one missing from both (a replay in progress) is left out.
    """

    async def one(session_id: str, ended: bool) -> Doc | None:
        first, second = (ENDED, OPEN) if ended else (OPEN, ENDED)
        doc: Doc | None = await db[first].find_one({"_id": session_id})
        if doc is None:
            doc = await db[second].find_one({"_id": session_id})
        return doc

    found = await asyncio.gather(*(one(sid, ended) for sid, ended in pages))
    return [d for d in found if d is not None]
