"""Rows a crashed batch left in the outbox go out with the relay, headers rebuilt.

The outbox stores each batch's payloads, not their headers (migration 0012): the relay
rebuilds them from the payload. What a consumer receives from the relay must be what the
batch's own publish would have sent, the worker's "applied by" header included.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from core.kafka import new_producer
from processors.commerce.logic import apply
from processors.commerce.state import CommerceState, Level
from processors.commerce.worker import applied_by
from processors.runtime.outbox import Outbox
from processors.runtime.sending import BatchSender
from riverbed.sandbox import Namespace
from schemas import OrderLine, OrderPlaced, new_event, topic_for
from stores.postgres.pool import create_pool, transaction

pytestmark = pytest.mark.integration


async def test_the_relay_publishes_left_rows_with_the_headers_a_publish_sends(
    ns: Namespace,
) -> None:
    local = ns.local_settings()
    placed = new_event(
        OrderPlaced(
            order_id="o-1",
            customer_id="c1",
            store_id="s-1",
            lines=(OrderLine(sku="A", quantity=2, unit_price=Decimal("4.00"), currency="EUR"),),
        ),
        source="tests",
        traceparent=f"00-{'a' * 32}-{'b' * 16}-01",
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    state = CommerceState(known_customers={"c1"})
    state.levels[("s-1", "A")] = Level(on_hand=10)
    emitted = apply(state, [placed]).emitted
    assert sorted(e.type for e in emitted) == ["order.confirmed", "stock.reserved"]

    pool = await create_pool(local.postgres_dsn.get_secret_value(), schema=local.postgres_schema)
    producer = new_producer(local, acks="all")
    await producer.start()

    async def get_pool() -> Any:
        return pool

    try:
        outbox = Outbox(BatchSender(producer, local.topic), get_pool, applied_by)
        async with transaction(pool) as conn:
            staged = await outbox.stage(conn, emitted, placed.occurred_at)
        sent = {s.value: s.headers for s in staged}  # what the batch's publish would send
        # The worker "crashed" here: nothing was published. The relay takes the rows.
        assert await outbox.relay() == 2
        async with pool.acquire() as conn:
            assert await conn.fetchval("select count(*) from outbox") == 0
        got = [m for e in emitted for m in await ns.read(topic_for(e.type), expect=1, wait_s=30)]
        assert {m.value: list(m.headers) for m in got} == sent
        reserved = next(e for e in emitted if e.type == "stock.reserved")
        assert sent[reserved.value] == [*reserved.headers, *applied_by("stock.reserved")]
        assert await outbox.relay() == 0  # published rows are gone: never sent twice
    finally:
        await producer.stop()
        await pool.close()
