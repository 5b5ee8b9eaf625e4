"""The dashboard's read pool: every statement is cancelled by the server after
``dashboard_statement_timeout_ms``, and the setting survives a connection's reuse."""

from __future__ import annotations

import asyncpg
import pytest

from core.settings import Settings
from dashboard.stores import Stores


async def test_a_slow_read_is_cancelled_by_the_server(settings: Settings) -> None:
    stores = Stores(settings.model_copy(update={"dashboard_statement_timeout_ms": 200}))
    try:
        pool = await stores.pool()
        for _ in range(2):  # the second time on a connection back from the pool
            async with pool.acquire() as conn:
                assert await conn.fetchval("show statement_timeout") == "200ms"
                with pytest.raises(asyncpg.QueryCanceledError):
                    await conn.fetchval("select pg_sleep(2)")
    finally:
        await stores.close()
