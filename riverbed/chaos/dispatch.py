"""The dispatch scenario: kill -9 the dispatch worker while orders stream in.

Its own namespace: the simulated catalog's stores (with positions), shoppers online
around them, one dispatch worker, then a stream of ``order.confirmed`` published in
chunks; at each fault point the worker is killed with SIGKILL and a new one started.
Meanwhile a stand-in for the shoppers' app answers each ``delivery.assigned`` with a
``delivery.delivered`` per order, so shoppers come free and later orders need them.
Passed when every order was assigned exactly once (no order in two trips, none left
waiting), every trip was delivered and no shopper still holds one.
"""

from __future__ import annotations

import asyncio
import math
import random
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from core.settings import Settings
from producers.simulators.seed import seed_reference_data
from producers.simulators.simulation import Simulation
from riverbed.chaos.report import Result
from riverbed.chaos.workload import Message, Publisher, Say, as_message
from riverbed.sandbox import Namespace
from schemas import DeliveryDelivered, GeoPoint, OrderConfirmed, ShopperOnline, new_event

SHOPPERS_PER_STORE = 6
KILLS = (1 / 3, 2 / 3)


def _near(rng: random.Random, lat: float, lon: float, km: float) -> GeoPoint:
    r, a = km * rng.random() ** 0.5, rng.uniform(0, 2 * math.pi)
    return GeoPoint(lat=lat + r * 0.009 * math.cos(a), lon=lon + r * 0.014 * math.sin(a))


def workload(seed: int, orders: int) -> tuple[Simulation, list[Message], list[Message]]:
    rng = random.Random(seed)  # noqa: S311 - a workload, not a secret
    sim = Simulation(seed, {"orders": 1})
    stores = sim.catalog.stores
    shoppers = [
        as_message(
            new_event(
                ShopperOnline(
                    shopper_id=f"{s.store_id}-c{i}",
                    store_id=s.store_id,
                    position=_near(rng, s.lat, s.lon, 2.0),
                    capacity=rng.choice((2, 3, 4)),
                ),
                source="chaos",
            )
        )
        for s in stores
        for i in range(SHOPPERS_PER_STORE)
    ]
    stream = []
    for i in range(orders):
        s = rng.choice(stores)
        stream.append(
            as_message(
                new_event(
                    OrderConfirmed(
                        order_id=f"x-{i}",
                        customer_id="c-1",
                        store_id=s.store_id,
                        total=Decimal("5.00"),
                        currency="EUR",
                        delivery_location=_near(rng, s.lat, s.lon, 4.0),
                    ),
                    source="chaos",
                )
            )
        )
    return sim, shoppers, stream


async def run_dispatch_kill(
    settings: Settings, *, quick: bool, say: Say, seed: int, fault: str
) -> Result:
    t0 = time.monotonic()
    count = 600 if quick else 6_000
    ns = Namespace(
        settings,
        f"c{uuid.uuid4().hex[:9]}",
        Path(tempfile.mkdtemp(prefix="riverbed-chaos-dispatch-")),
    )
    sim, shoppers, stream = workload(seed, count)
    result = Result(fault, count, 0, 0, None, passed=False)
    publisher = Publisher(ns, say, chunk=100)
    answer: asyncio.Task[None] | None = None
    try:
        await ns.create()
        await seed_reference_data(
            settings.postgres_owner_dsn.get_secret_value(), sim.catalog, schema=ns.schema
        )
        worker = ns.start("dispatch")
        await publisher.publish(shoppers)
        answer = asyncio.create_task(_deliver(ns))
        kills = [int(count * f) for f in KILLS]
        done = 0
        for cut in [*kills, count]:
            await publisher.publish(stream[done:cut])
            done = cut
            if cut < count:
                # Mid-flight: once this worker has assigned trips of this part (batches
                # matched, offsets not all committed), not while it is still starting.
                await _assigning(ns, cut, wait_s=120)
                ns.kill(worker)
                result.details.setdefault("faults", []).append(f"kill -9 dispatch at {cut}")
                say(f"dispatch: kill -9 the dispatch worker after {cut:,} orders; starting another")
                worker = ns.start("dispatch")
        published = time.monotonic()
        wait_s = 180 if quick else 900
        finished = await _settled(ns, count, wait_s)
        result.catch_up_s = round(time.monotonic() - published, 1) if finished else None
        lost, twice, details = await _check(ns, count)
        result.lost, result.duplicated = lost, twice
        result.details.update(details)
        if not finished:
            result.notes.append(f"not every order delivered within {wait_s}s")
        result.passed = finished and lost == 0 and twice == 0 and details["shoppers_busy"] == 0
    except Exception as exc:
        result.notes.append(f"error: {type(exc).__name__}: {exc}")
        say(f"dispatch: {type(exc).__name__}: {exc}\n{ns.logs()[-3000:]}")
    finally:
        if answer is not None:
            answer.cancel()
            await asyncio.gather(answer, return_exceptions=True)
        await publisher.close()
        await ns.stop()
        await asyncio.wait_for(ns.drop(), 120)
        result.elapsed_s = round(time.monotonic() - t0, 1)
    return result


async def _deliver(ns: Namespace) -> None:
    """The shoppers' app: every new trip is delivered at once, order by order."""
    answered: set[str] = set()
    publisher = Publisher(ns, lambda _m: None, chunk=500)
    try:
        while True:
            rows = await _fetch(
                ns,
                "select delivery_id, shopper_id, store_id, order_ids from deliveries where finished_at is null",
            )
            fresh = [r for r in rows if r["delivery_id"] not in answered]
            msgs = [
                as_message(
                    new_event(
                        DeliveryDelivered(
                            delivery_id=r["delivery_id"],
                            shopper_id=r["shopper_id"],
                            store_id=r["store_id"],
                            order_id=o,
                        ),
                        source="chaos",
                    )
                )
                for r in fresh
                for o in r["order_ids"]
            ]
            if msgs:
                await publisher.publish(msgs)
                answered |= {r["delivery_id"] for r in fresh}
            await asyncio.sleep(0.3)
    finally:
        await publisher.close()


async def _assigning(ns: Namespace, cut: int, *, wait_s: float) -> None:
    """Until an order of the part just published (ids below ``cut``) is in a trip."""
    async with asyncio.timeout(wait_s):
        while True:
            [row] = await _fetch(
                ns,
                "select count(*) as n from dispatch_orders where delivery_id is not null "
                "and split_part(order_id, '-', 2)::int >= $1",
                max(cut - 100, 0),
            )
            if row["n"]:
                return
            await asyncio.sleep(0.1)


async def _fetch(ns: Namespace, sql: str, *args: Any) -> list[Any]:
    conn = await ns.owner()
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def _settled(ns: Namespace, count: int, wait_s: float) -> bool:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        [row] = await _fetch(
            ns,
            "select count(*) filter (where status = 'delivered') as done, "
            "(select coalesce(sum(events), 0) from outbox) as left from dispatch_orders",
        )
        if row["done"] == count and row["left"] == 0:
            return True
        await asyncio.sleep(0.5)
    return False


async def _check(ns: Namespace, count: int) -> tuple[int, int, dict[str, Any]]:
    rows = await _fetch(ns, "select order_ids from deliveries")
    assigned = [o for r in rows for o in r["order_ids"]]
    twice = len(assigned) - len(set(assigned))
    want = {f"x-{i}" for i in range(count)}
    lost = len(want - set(assigned))
    [state] = await _fetch(
        ns,
        "select (select count(*) from dispatch_orders where status = 'waiting') as waiting, "
        "(select count(*) from shoppers where delivery_id is not null) as busy, "
        "(select count(*) from deliveries) as trips",
    )
    return (
        lost,
        twice,
        {
            "trips": state["trips"],
            "orders_waiting": state["waiting"],
            "shoppers_busy": state["busy"],
        },
    )
