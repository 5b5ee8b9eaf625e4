"""The PostgreSQL pool and MongoDB database of one dashboard process.

Opened on first use, not at start: the page and ``/healthz`` come up even while a
database is down, and a pool that failed to open is tried again on the next use.
PostgreSQL is read as the reader role (``RIVERBED_POSTGRES_READER_DSN``), which may only
SELECT: nothing the dashboard or its read API runs can change a table; and every
statement is cancelled by the server after ``dashboard_statement_timeout_ms``.
"""

from __future__ import annotations

import asyncio

import asyncpg
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from core.settings import Settings
from stores.mongo.client import Doc, create_client, database
from stores.postgres.pool import create_pool


class Stores:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()
        self._client: AsyncMongoClient[Doc] | None = None

    async def pool(self) -> asyncpg.Pool:
        async with self._lock:
            if self._pool is None:
                self._pool = await asyncio.wait_for(
                    create_pool(
                        self._settings.postgres_reader_dsn.get_secret_value(),
                        min_size=1,
                        max_size=5,
                        schema=self._settings.postgres_schema,
                        statement_timeout_ms=self._settings.dashboard_statement_timeout_ms,
                        # Nothing here changes a session (reader role, plain SELECTs;
                        # the timeout and search_path are start-up parameters).
                        keep_session=True,
                    ),
                    timeout=5.0,
                )
            return self._pool

    def mongo(self) -> AsyncDatabase[Doc]:
        if self._client is None:  # the client connects lazily, on its first operation
            self._client = create_client(self._settings)
        return database(self._client, self._settings)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
        if self._client is not None:
            await self._client.close()
        self._pool = self._client = None
