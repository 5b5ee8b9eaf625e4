"""The commerce repository on the real PostgreSQL: two transactions, one event.

A worker that keeps its partition past a rebalance (it was slow, its session expired)
can apply a batch while the partition's new owner applies the same one. The first to
commit wins; the second must not apply the events again on the stock levels it reads
after the first committed. Its copied rows hit the unique keys and roll it back, and
its retry finds the events processed (``processors.commerce.writes``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from processors.commerce import repository
from riverbed.sandbox import Namespace
from schemas import (
    Envelope,
    OrderLine,
    OrderPlaced,
    StockLine,
    StockReceived,
    StockReserved,
    new_event,
)
from schemas.wire import Encoded
from stores.postgres.pool import create_pool, transaction
from tests.integration.processors.conftest import CUSTOMERS


async def _stage(conn: asyncpg.Connection, emitted: Sequence[Encoded], at: datetime) -> list[str]:
    return [e.type for e in emitted]


async def test_a_second_transaction_of_the_same_event_rolls_back_and_its_retry_skips_it(
    ns: Namespace,
) -> None:
    settings = ns.local_settings()
    pool = await create_pool(
        settings.postgres_dsn.get_secret_value(), schema=settings.postgres_schema, max_size=2
    )
    stock = new_event(StockReceived(store_id="s1", sku="k1", quantity=5), source="test")
    line = OrderLine(sku="k1", quantity=2, unit_price=Decimal("1.50"), currency="EUR")
    order = new_event(
        OrderPlaced(order_id="o1", customer_id=CUSTOMERS[0], store_id="s1", lines=(line,)),
        source="test",
    )

    async def process(conn: asyncpg.Connection, kind: str, event: Envelope[Any]) -> list[str]:
        return await repository.process(conn, kind, [event], default_threshold=1, stage=_stage)

    try:
        async with transaction(pool) as conn:
            await process(conn, "inventory", stock)
        async with pool.acquire() as first, pool.acquire() as second:
            one, two = first.transaction(), second.transaction()
            await one.start()
            assert await process(first, "orders", order) == ["stock.reserved", "order.confirmed"]
            await two.start()
            again = asyncio.create_task(process(second, "orders", order))
            await asyncio.sleep(0.5)
            assert not again.done(), "the second transaction waits for the stock row's lock"
            await one.commit()
            with pytest.raises(asyncpg.UniqueViolationError):
                await again
            await two.rollback()
        async with transaction(pool) as conn:
            assert await process(conn, "orders", order) == []  # the retry: already processed
            level = await conn.fetchrow(
                "select on_hand, reserved from inventory where store_id = 's1' and sku = 'k1'"
            )
            ledger = await conn.fetchval(
                "select count(*) from inventory_movements where order_id = 'o1'"
            )
        assert (level["on_hand"], level["reserved"], ledger) == (5, 2, 1)
    finally:
        await pool.close()


async def test_an_order_whose_reservation_was_made_elsewhere_fails_instead_of_counting_twice(
    ns: Namespace,
) -> None:
    """A ``stock.reserved`` from another system for the order and SKU holds the ledger
    id the order's own reservation would take: the order's event fails (and its batch's
    retry dead-letters it alone) and the stock level keeps one reservation."""
    settings = ns.local_settings()
    pool = await create_pool(
        settings.postgres_dsn.get_secret_value(), schema=settings.postgres_schema, max_size=1
    )
    stock = new_event(StockReceived(store_id="s1", sku="k1", quantity=5), source="test")
    elsewhere = new_event(
        StockReserved(store_id="s1", order_id="o1", lines=(StockLine(sku="k1", quantity=2),)),
        source="another-system",
    )
    line = OrderLine(sku="k1", quantity=2, unit_price=Decimal("1.50"), currency="EUR")
    order = new_event(
        OrderPlaced(order_id="o1", customer_id=CUSTOMERS[0], store_id="s1", lines=(line,)),
        source="test",
    )
    try:
        async with transaction(pool) as conn:
            await repository.process(
                conn, "inventory", [stock, elsewhere], default_threshold=1, stage=_stage
            )
        with pytest.raises(asyncpg.UniqueViolationError, match="inventory_movements_pkey"):
            async with transaction(pool) as conn:
                await repository.process(conn, "orders", [order], default_threshold=1, stage=_stage)
        async with pool.acquire() as conn:
            reserved = await conn.fetchval(
                "select reserved from inventory where store_id = 's1' and sku = 'k1'"
            )
        assert reserved == 2
    finally:
        await pool.close()
