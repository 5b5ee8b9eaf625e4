"""The dispatch worker on the real stack: every order assigned once, replays and kill -9."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from riverbed.bench.children import child_env
from riverbed.sandbox import Namespace
from schemas import (
    DELIVERIES_TOPIC,
    ORDER_DECISIONS_TOPIC,
    SHOPPERS_TOPIC,
    DeliveryDelivered,
    Envelope,
    GeoPoint,
    OrderConfirmed,
    ShopperOnline,
    decode,
    new_event,
)

STORES = {"s1": (52.370, 4.890), "s2": (48.137, 11.575), "s3": (45.464, 9.190)}
TOPICS = (ORDER_DECISIONS_TOPIC, SHOPPERS_TOPIC, DELIVERIES_TOPIC)


def near(rng: random.Random, p: tuple[float, float], km: float) -> GeoPoint:
    return GeoPoint(
        lat=p[0] + rng.uniform(-km, km) * 0.009, lon=p[1] + rng.uniform(-km, km) * 0.014
    )


def shoppers(rng: random.Random, per_store: int) -> list[Envelope[Any]]:
    t0 = datetime.now(UTC) - timedelta(minutes=1)
    return [
        new_event(
            ShopperOnline(
                shopper_id=f"{s}-sh{i}", store_id=s, position=near(rng, p, 3), capacity=3
            ),
            source="test",
            occurred_at=t0,
        )
        for s, p in STORES.items()
        for i in range(per_store)
    ]


def orders(rng: random.Random, count: int, first: int = 0) -> list[Envelope[Any]]:
    out = []
    for i in range(first, first + count):
        store = rng.choice(list(STORES))
        out.append(
            new_event(
                OrderConfirmed(
                    order_id=f"o{i}",
                    customer_id="c1",
                    store_id=store,
                    total=Decimal("9.90"),
                    currency="EUR",
                    delivery_location=near(rng, STORES[store], 4),
                ),
                source="test",
            )
        )
    return out


async def setup(ns: Namespace, rng: random.Random, per_store: int) -> None:
    conn = await ns.owner()
    try:
        await conn.executemany(
            "insert into stores (store_id, name, lat, lon) values ($1, $1, $2, $3)",
            [(s, p[0], p[1]) for s, p in STORES.items()],
        )
    finally:
        await conn.close()
    await ns.publish(shoppers(rng, per_store))


async def caught_up(ns: Namespace, *, waiting: int = 0, wait_s: float = 60) -> None:
    """No lag on the three topics, the outbox drained and ``waiting`` orders left waiting."""
    async with asyncio.timeout(wait_s):
        while True:
            lags = [await ns.lag("dispatch", t) for t in TOPICS]
            conn = await ns.owner()
            try:
                left = await conn.fetchval("select coalesce(sum(events), 0) from outbox")
                still = await conn.fetchval(
                    "select count(*) from dispatch_orders where status = 'waiting'"
                )
            finally:
                await conn.close()
            if not any(lags) and left == 0 and still == waiting:
                return
            await asyncio.sleep(0.3)


async def trips(ns: Namespace) -> list[Any]:
    conn = await ns.owner()
    try:
        return list(await conn.fetch("select * from deliveries order by delivery_id"))
    finally:
        await conn.close()


def assert_once(rows: list[Any], expect_orders: set[str]) -> None:
    assigned = [o for r in rows for o in r["order_ids"]]
    assert len(assigned) == len(set(assigned)), "an order is in two trips"
    assert set(assigned) == expect_orders
    open_by_shopper = [r["shopper_id"] for r in rows if r["finished_at"] is None]
    assert len(open_by_shopper) == len(set(open_by_shopper)), "a shopper holds two trips"
    assert all(1 <= len(r["order_ids"]) <= 3 for r in rows)


async def test_every_order_is_assigned_once_and_a_replay_changes_nothing(ns: Namespace) -> None:
    rng = random.Random(5)
    await setup(ns, rng, per_store=15)  # 45 shoppers x 3 = 135 places
    stream = orders(rng, 60)
    ns.start("dispatch", child_env(ns.settings))
    await ns.publish(stream)
    await caught_up(ns)
    rows = await trips(ns)
    assert_once(rows, {e.payload.order_id for e in stream})
    assert any(len(r["order_ids"]) > 1 for r in rows)  # orders going one way share trips
    events = await ns.read(DELIVERIES_TOPIC, expect=len(rows))
    assigned = {decode(m.value, m.headers).payload.delivery_id for m in events}
    assert assigned == {r["delivery_id"] for r in rows}

    before = await ns.dump()
    ns.stop_all()
    for topic in TOPICS:
        await ns.reset_offsets("dispatch", topic)
    ns.start("dispatch", child_env(ns.settings))
    await caught_up(ns)
    assert await ns.dump() == before


async def test_kill_minus_nine_loses_no_order_and_assigns_none_twice(ns: Namespace) -> None:
    rng = random.Random(9)
    await setup(ns, rng, per_store=4)  # 12 shoppers: fewer places than orders
    stream = orders(rng, 90)
    worker = ns.start("dispatch", child_env(ns.settings))
    await ns.publish(stream[:45])
    async with asyncio.timeout(60):
        while not await trips(ns):  # noqa: ASYNC110 - polls the database
            await asyncio.sleep(0.1)
    ns.kill(worker)  # mid-stream: some batches matched, offsets not all committed
    await ns.publish(stream[45:])
    ns.start("dispatch", child_env(ns.settings))
    done: set[str] = set()
    async with asyncio.timeout(90):
        while True:
            rows = await trips(ns)
            assert_once(rows, {o for r in rows for o in r["order_ids"]})
            # The shoppers deliver their trips; freed shoppers take the orders still waiting.
            finished = [
                new_event(
                    DeliveryDelivered(
                        delivery_id=r["delivery_id"],
                        shopper_id=r["shopper_id"],
                        store_id=r["store_id"],
                        order_id=o,
                    ),
                    source="test",
                )
                for r in rows
                if r["delivery_id"] not in done
                for o in r["order_ids"]
            ]
            done |= {r["delivery_id"] for r in rows}
            await ns.publish(finished)
            if sum(len(r["order_ids"]) for r in rows) == len(stream):
                break
            await asyncio.sleep(0.5)
    await caught_up(ns)
    rows = await trips(ns)
    assert_once(rows, {e.payload.order_id for e in stream})
    conn = await ns.owner()
    try:
        assert await conn.fetchval("select count(*) from dispatch_orders") == len(stream)
        assert (
            await conn.fetchval("select count(*) from dispatch_orders where status <> 'delivered'")
            == 0
        )
        assert (
            await conn.fetchval("select count(*) from shoppers where delivery_id is not null") == 0
        )
    finally:
        await conn.close()
