"""Connection pools for workers and the read side; nothing connects at import time."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg


def quote_ident(name: str) -> str:
    """``name`` as a double-quoted SQL identifier (for a ``search_path`` value)."""
    return '"' + name.replace('"', '""') + '"'


# Every array type a worker's statements take. asyncpg looks up a type it has not met
# on a connection with an introspection query, at the first statement that uses it: the
# orders worker's first batch of a flood took 287 ms for 751 events, and 373 ms for
# 1,871 with this prepared at connect time (its later batches of 2,001: 350-410 ms;
# BENCHMARKS.md, issue 12, seventh session). Preparing it moves that to the start.
_WARM_TYPES = (
    "select $1::text[], $2::int[], $3::bigint[], $4::bool[], $5::numeric[], $6::uuid[], "
    "$7::timestamptz[], $8::jsonb"
)


async def _init(conn: asyncpg.Connection) -> None:
    """Run once per new connection: jsonb columns read and write plain Python objects."""
    await conn.set_type_codec(
        "jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog", format="text"
    )


async def _init_warm(conn: asyncpg.Connection) -> None:
    await _init(conn)
    await conn.prepare(_WARM_TYPES)


async def _keep(conn: asyncpg.Connection) -> None:
    """A pool ``reset`` that sends nothing (see ``keep_session``)."""


async def create_pool(
    dsn: str,
    *,
    min_size: int = 1,
    max_size: int = 5,
    schema: str | None = None,
    statement_timeout_ms: int | None = None,
    keep_session: bool = False,
    warm: bool = False,
) -> asyncpg.Pool:
    """A pool whose connections decode jsonb and, given ``schema``, resolve names in it.

    ``search_path`` is a connection start-up parameter rather than a ``SET`` in ``init``:
    asyncpg runs ``RESET ALL`` when a connection goes back to the pool, which would undo a
    ``SET`` after the first use but resets to the start-up value.

    ``keep_session`` skips that reset (``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL``, a round trip per release) for a caller that leaves no session state
    behind: only transaction-scoped locks, no ``SET``, ``LISTEN`` or open cursors.

    ``warm`` looks up the array types at connect time (``_WARM_TYPES``), for a worker
    whose first batch should not wait for it.
    """
    server_settings = {"search_path": quote_ident(schema)} if schema else {}
    if statement_timeout_ms is not None:
        # A start-up parameter too, so RESET ALL keeps it; the server cancels longer reads.
        server_settings["statement_timeout"] = str(statement_timeout_ms)
    pool: asyncpg.Pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_warm if warm else _init,
        server_settings=server_settings or None,
        **({"reset": _keep} if keep_session else {}),
    )
    return pool


@asynccontextmanager
async def transaction(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection inside a transaction: committed on exit, rolled back on error."""
    async with pool.acquire() as conn, conn.transaction():
        yield conn
