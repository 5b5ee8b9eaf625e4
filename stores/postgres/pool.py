"""Connection pools for workers and the read side; nothing connects at import time."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg


def quote_ident(name: str) -> str:
    """``name`` as a double-quoted SQL identifier (for a ``search_path`` value)."""
    return '"' + name.replace('"', '""') + '"'


async def _init(conn: asyncpg.Connection) -> None:
    """Run once per new connection: jsonb columns read and write plain Python objects."""
    await conn.set_type_codec(
        "jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog", format="text"
    )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """A pool ``reset`` that sends nothing (asyncpg still rolls back an open transaction)."""


async def create_pool(
    dsn: str,
    *,
    min_size: int = 1,
    max_size: int = 5,
    schema: str | None = None,
    statement_timeout_ms: int | None = None,
    reset_sessions: bool = True,
) -> asyncpg.Pool:
    """A pool whose connections decode jsonb and, given ``schema``, resolve names in it.

    ``reset_sessions=False`` is for code that never changes a session (no ``SET``,
    ``LISTEN``, advisory lock or cursor outside a transaction): asyncpg's default reset
    sends ``RESET ALL`` and friends to the server each time a connection goes back to
    the pool, one more round trip that the releasing request waits for (the read API's
    recommendations: two round trips instead of one; BENCHMARKS.md).

    ``search_path`` is a connection start-up parameter rather than a ``SET`` in ``init``:
    asyncpg runs ``RESET ALL`` when a connection goes back to the pool, which would undo a
    ``SET`` after the first use but resets to the start-up value.
    """
    server_settings = {"search_path": quote_ident(schema)} if schema else {}
    if statement_timeout_ms is not None:
        # A start-up parameter too, so RESET ALL keeps it; the server cancels longer reads.
        server_settings["statement_timeout"] = str(statement_timeout_ms)
    pool: asyncpg.Pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init,
        reset=None if reset_sessions else _keep_session,
        server_settings=server_settings or None,
    )
    return pool


@asynccontextmanager
async def transaction(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection inside a transaction: committed on exit, rolled back on error."""
    async with pool.acquire() as conn, conn.transaction():
        yield conn
