"""PostgreSQL side of viewing: session state, the per-user index, co-watch and trending.

Written by the viewing worker in one transaction per batch, after the batch's MongoDB
documents: a crash before the commit replays the batch (its documents are rewritten the
same), a crash after it finds every event already in the stored state (no-op). Read by
the read API (reader role) and the chaos check.

Why here and not in MongoDB: a user's sessions and a title's co-watch partners span every
partition (viewing is keyed by session), so they are aggregates that several workers
write. FerretDB 1.24 runs each update by ``_id`` as its own transaction (~40 ms measured
at 20k documents, SQLite backend), hangs on a ``bulk_write`` of 150 such updates, and
scans for every other filter; PostgreSQL upserts them set-wise (``unnest``), serialises
writers per user with an advisory lock, and answers the reads from indexes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

from processors.viewing.profiles import HISTORY_LIMIT

# Two-key advisory locks live in their own key space; this class names viewing users.
USER_LOCK_CLASS = 0x76696577

LOAD_MARKS = """
select session_id, mark from viewing_session_marks where session_id = any($1::text[])
"""
LOAD_CLOSED = """
select session_id from viewing_sessions_closed where session_id = any($1::text[])
"""
APPEND_MARKS = """
insert into viewing_session_marks (session_id, mark) select * from unnest($1::text[], $2::text[])
"""
CLOSE = """
with gone as (delete from viewing_session_marks where session_id = any($1::text[]))
insert into viewing_sessions_closed (session_id) select unnest($1::text[]) order by 1
on conflict do nothing
"""

LOCK_USERS = """
select pg_advisory_xact_lock($2::int, hashtext(u))
from (select distinct unnest($1::text[]) as u order by 1) as users
"""

INDEX_FIELDS = (
    "session_id",
    "user_id",
    "title_id",
    "genre",
    "state",
    "started_at",
    "ended_at",
    "last_position_s",
    "watched_seconds",
    "pauses",
    "completed",
    "events",
    "context",
)
SAVE_INDEX = """
insert into viewing_session_index (session_id, user_id, title_id, genre, state, started_at,
    ended_at, last_position_s, watched_seconds, pauses, completed, events, context)
select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
    $6::timestamptz[], $7::timestamptz[], $8::float8[], $9::float8[], $10::int[], $11::bool[],
    $12::int[], $13::jsonb[])
on conflict (session_id) do update
    set user_id = excluded.user_id, title_id = excluded.title_id, genre = excluded.genre,
        state = excluded.state, started_at = excluded.started_at, ended_at = excluded.ended_at,
        last_position_s = excluded.last_position_s, watched_seconds = excluded.watched_seconds,
        pauses = excluded.pauses, completed = excluded.completed, events = excluded.events,
        context = excluded.context
    where viewing_session_index.events <= excluded.events
"""

# Every pair of distinct titles in each user's recent history is an edge, counted once per
# user: only edges new to ``co_watch_edges`` add to ``co_watch_counts``, so replays do not.
CO_WATCH = """
with recent as (
    select user_id, title_id from (
        select user_id, title_id,
               row_number() over (partition by user_id order by ended_at desc, session_id desc)
                   as n
        from viewing_session_index
        where user_id = any($1::text[]) and ended_at is not null
    ) as r
    where n <= $2
), pairs as (
    select distinct a.title_id, b.title_id as other_title_id, a.user_id
    from recent a join recent b on a.user_id = b.user_id and a.title_id <> b.title_id
), new as (
    insert into co_watch_edges (title_id, other_title_id, user_id)
    select * from pairs order by 1, 2, 3
    on conflict do nothing
    returning title_id, other_title_id
)
insert into co_watch_counts (title_id, other_title_id, viewers)
select title_id, other_title_id, count(*) from new group by 1, 2 order by 1, 2
on conflict (title_id, other_title_id)
    do update set viewers = co_watch_counts.viewers + excluded.viewers
"""

TRENDING = """
with new as (
    insert into viewing_starts (event_id, title_id, minute)
    select * from unnest($1::uuid[], $2::text[], $3::timestamptz[])
    on conflict do nothing
    returning title_id, minute
)
insert into title_views_minute (title_id, minute, starts)
select title_id, minute, count(*) from new group by title_id, minute order by 1, 2
on conflict (title_id, minute) do update set starts = title_views_minute.starts + excluded.starts
"""


async def load_states(
    conn: asyncpg.Connection, session_ids: Sequence[str]
) -> tuple[dict[str, list[str]], set[str]]:
    """Stored mark rows of open sessions by id, and which of the ids are closed."""
    if not session_ids:
        return {}, set()
    ids = list(session_ids)
    rows: dict[str, list[str]] = {}
    for r in await conn.fetch(LOAD_MARKS, ids):
        rows.setdefault(r["session_id"], []).append(r["mark"])
    closed = {r["session_id"] for r in await conn.fetch(LOAD_CLOSED, ids)}
    return rows, closed


async def append_marks(conn: asyncpg.Connection, rows: Sequence[tuple[str, str]]) -> None:
    """(session id, mark row) of each mark new to the state."""
    if rows:
        await conn.execute(APPEND_MARKS, [r[0] for r in rows], [r[1] for r in rows])


async def close(conn: asyncpg.Connection, session_ids: Sequence[str]) -> None:
    """Drop the closed sessions' rows; remember that they are closed."""
    if session_ids:
        await conn.execute(CLOSE, sorted(session_ids))


async def lock_users(conn: asyncpg.Connection, users: Sequence[str]) -> None:
    """Serialise writers of the same users (in key order: no deadlock) until commit."""
    if users:
        await conn.execute(LOCK_USERS, sorted(users), USER_LOCK_CLASS)


async def save_index(conn: asyncpg.Connection, docs: Sequence[Mapping[str, Any]]) -> None:
    """Each changed session's summary row (never replaced by one with fewer events)."""
    if not docs:
        return
    ordered = sorted(docs, key=lambda d: d["session_id"])
    # jsonb goes through the pool's codec (stores.postgres.pool): plain Python objects.
    await conn.execute(SAVE_INDEX, *([d[f] for d in ordered] for f in INDEX_FIELDS))


async def co_watch(conn: asyncpg.Connection, users: Sequence[str]) -> None:
    if users:
        await conn.execute(CO_WATCH, sorted(users), HISTORY_LIMIT)


async def trending(conn: asyncpg.Connection, starts: Sequence[tuple[Any, str, Any]]) -> None:
    """(event id, title id, minute) of each view start, counted once per event."""
    if starts:
        await conn.execute(TRENDING, *(list(c) for c in zip(*starts, strict=True)))


# Reads (read API, chaos check). Each is an index range on one user or a few titles.

USER_SESSIONS = """
select session_id, title_id, genre, state, started_at, ended_at, last_position_s,
       watched_seconds, pauses, completed, events, context
from viewing_session_index
where user_id = $1 order by started_at desc, session_id limit $2 offset $3
"""
USER_TOTAL = "select count(*) from viewing_session_index where user_id = $1"
HISTORY = """
select session_id, title_id, genre, ended_at, watched_seconds, completed
from viewing_session_index where user_id = $1 and ended_at is not null
order by ended_at desc, session_id desc limit $2
"""
FINISHED = """
select distinct title_id from viewing_session_index
where user_id = $1 and completed order by title_id
"""


async def user_sessions(
    conn: asyncpg.Connection, user_id: str, *, limit: int, offset: int
) -> tuple[int, list[dict[str, Any]]]:
    """The user's total and one page of session summaries, newest first."""
    total: int = await conn.fetchval(USER_TOTAL, user_id)
    rows = await conn.fetch(USER_SESSIONS, user_id, limit, offset) if total else []
    return total, [dict(r) for r in rows]


async def history(
    conn: asyncpg.Connection, user_id: str, limit: int = HISTORY_LIMIT
) -> list[dict[str, Any]]:
    """The user's ended sessions, newest first (a profile's ``history``)."""
    return [dict(r) for r in await conn.fetch(HISTORY, user_id, limit)]


async def finished(conn: asyncpg.Connection, user_id: str) -> list[str]:
    """Every title the user has watched to the end."""
    return [r["title_id"] for r in await conn.fetch(FINISHED, user_id)]
