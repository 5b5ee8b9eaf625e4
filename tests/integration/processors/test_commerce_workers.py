"""Orders and inventory workers on the real stack: decisions, replays, kill -9."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from core.settings import Settings
from processors.commerce.logic import apply
from processors.commerce.state import CommerceState
from riverbed.sandbox import Namespace
from schemas import (
    INVENTORY_TOPIC,
    ORDER_DECISIONS_TOPIC,
    ORDERS_TOPIC,
    STOCK_ALERTS_TOPIC,
    Envelope,
    OrderCancelled,
    OrderLine,
    OrderPlaced,
    StockReceived,
    decode,
    new_event,
)
from tests.integration.processors.conftest import CUSTOMERS

STORES = ["s1", "s2", "s3"]
SKUS = [f"k{i}" for i in range(8)]
GROUPS = {"orders": ORDERS_TOPIC, "inventory": INVENTORY_TOPIC}


def scenario(seed: int, orders: int) -> tuple[list[Envelope[Any]], list[Envelope[Any]]]:
    """(initial stock, a stream of orders with cancellations and unknown customers)."""
    rng = random.Random(seed)
    clock = datetime(2026, 1, 1, tzinfo=UTC)

    def at() -> datetime:
        nonlocal clock
        clock += timedelta(milliseconds=rng.randint(1, 50))
        return clock

    stock = [
        new_event(
            StockReceived(store_id=s, sku=k, quantity=rng.randint(1, 12)),
            source="test",
            occurred_at=at(),
        )
        for s in STORES
        for k in SKUS
    ]
    stream: list[Envelope[Any]] = []
    placed: list[OrderPlaced] = []
    for i in range(orders):
        if placed and rng.random() < 0.08:
            victim = rng.choice(placed)
            stream.append(
                new_event(
                    OrderCancelled(order_id=victim.order_id, store_id=victim.store_id),
                    source="test",
                    occurred_at=at(),
                )
            )
            continue
        customer = rng.choice(CUSTOMERS) if rng.random() > 0.05 else f"ghost{i}"
        lines = tuple(
            OrderLine(
                sku=rng.choice(SKUS),
                quantity=rng.randint(1, 3),
                unit_price=Decimal(rng.randint(50, 999)) / 100,
                currency="EUR",
            )
            for _ in range(rng.randint(1, 3))
        )
        order = OrderPlaced(
            order_id=f"o{i}", customer_id=customer, store_id=rng.choice(STORES), lines=lines
        )
        placed.append(order)
        stream.append(new_event(order, source="test", occurred_at=at()))
    return stock, stream


def expected(settings: Settings, events: list[Envelope[Any]]) -> tuple[CommerceState, Any]:
    state = CommerceState(
        known_customers=set(CUSTOMERS), default_threshold=settings.low_stock_threshold
    )
    return state, apply(state, events)


async def stored(
    ns: Namespace,
) -> tuple[dict[str, tuple[Any, ...]], dict[tuple[str, str], tuple[int, int, bool]]]:
    conn = await ns.owner()
    try:
        orders = {
            r["order_id"]: (r["status"], r["reject_reason"], r["total"])
            for r in await conn.fetch("select * from orders")
        }
        levels = {
            (r["store_id"], r["sku"]): (r["on_hand"], r["reserved"], r["low"])
            for r in await conn.fetch("select * from inventory")
        }
        bad = await conn.fetch(
            "select i.store_id, i.sku from inventory i left join ("
            "  select store_id, sku, sum(on_hand_delta) oh, sum(reserved_delta) rs"
            "  from inventory_movements group by 1, 2) m using (store_id, sku) "
            "where coalesce(m.oh, 0) <> i.on_hand or coalesce(m.rs, 0) <> i.reserved"
        )
        assert bad == [], "ledger sums differ from stock levels"
        return orders, levels
    finally:
        await conn.close()


def assert_matches(state: CommerceState, orders: dict[str, Any], levels: dict[Any, Any]) -> None:
    want_orders = {o.order_id: (o.status, o.reject_reason, o.total) for o in state.orders.values()}
    assert orders == want_orders
    want_levels = {
        k: (v.on_hand, v.reserved, v.low)
        for k, v in state.levels.items()
        if (v.on_hand, v.reserved) != (0, 0) or k in levels
    }
    assert {k: v for k, v in levels.items()} == want_levels
    assert all(0 <= r <= oh for oh, r, _ in levels.values())


async def test_workers_decide_like_the_logic_and_replays_change_nothing(
    ns: Namespace, settings: Settings
) -> None:
    stock, stream = scenario(seed=11, orders=1500)
    state, effects = expected(settings, stock + stream)
    for kind in GROUPS:
        ns.start(kind)
    await ns.publish(stock)
    await ns.wait_caught_up({"inventory": INVENTORY_TOPIC})
    await ns.publish(stream)
    await ns.wait_caught_up(GROUPS)

    orders, levels = await stored(ns)
    assert_matches(state, orders, levels)
    statuses = [s for s, _, _ in orders.values()]
    assert {"confirmed", "rejected", "cancelled"} <= set(
        statuses
    )  # the scenario exercises all paths

    decisions = await ns.read(ORDER_DECISIONS_TOPIC, expect=len(state.orders))
    decided = {
        (decode(m.value, m.headers).payload.order_id, decode(m.value, m.headers).type)
        for m in decisions
    }
    want = {(e.payload.order_id, e.type) for e in effects.emitted if e.type.startswith("order.")}
    assert decided == want
    alerts = await ns.read(
        STOCK_ALERTS_TOPIC, expect=sum(e.type == "stock.low" for e in effects.emitted)
    )
    assert len({decode(m.value, m.headers).event_id for m in alerts}) == sum(
        e.type == "stock.low" for e in effects.emitted
    )

    # Replay: rewind both groups to offset 0 and process everything again.
    before = await ns.dump()
    ns.stop_all()
    for kind, topic in GROUPS.items():
        await ns.reset_offsets(kind, topic)
        assert await ns.lag(kind, topic) > 0
    for kind in GROUPS:
        ns.start(kind)
    await ns.wait_caught_up(GROUPS)
    assert await ns.dump() == before


async def test_kill_minus_nine_mid_stream_loses_and_duplicates_nothing(
    ns: Namespace, settings: Settings
) -> None:
    stock, stream = scenario(seed=23, orders=3000)
    state, _ = expected(settings, stock + stream)
    inventory = ns.start("inventory")
    orders_worker = ns.start("orders")
    await ns.publish(stock)
    await ns.wait_caught_up({"inventory": INVENTORY_TOPIC})
    third = len(stream) // 3
    await ns.publish(stream[:third])
    await asyncio.sleep(1.0)
    ns.kill(orders_worker)  # mid-stream: some batches decided, some offsets not committed
    await ns.publish(stream[third : 2 * third])
    ns.start("orders")
    await asyncio.sleep(1.0)
    ns.kill(inventory)
    ns.start("inventory")
    await ns.publish(stream[2 * third :])
    await ns.wait_caught_up(GROUPS)

    orders, levels = await stored(ns)
    assert_matches(state, orders, levels)
    conn = await ns.owner()
    try:
        assert await conn.fetchval("select count(*) from orders") == len(state.orders)
        assert await conn.fetchval(
            "select count(*) from processed_events where consumer = 'orders'"
        ) == len(stream)
    finally:
        await conn.close()
