"""Dispatch figures: latency order.confirmed -> delivery.assigned at a paced rate on the
real stack, and the quality of the assignment and routes against exact answers.

Latency: one dispatch worker in its own namespace, the simulated catalog's stores (real
city positions), ``SHOPPERS_PER_STORE`` shoppers online around each store, then
``order.confirmed`` events (each with a door within 4 km of its store) sent at ``rate``.
Each order's latency runs from the bench's wall clock just before its send to the
moment the bench's consumer of ``riverbed.deliveries`` receives the ``delivery.assigned``
that names it (same host clock): producer linger, broker, the worker's fetch and batch,
the batching window (``RIVERBED_DISPATCH_WINDOW_MS``), the matching transaction, the
outbox publish and the consumer's fetch.

Quality (no services): random small instances solved by :mod:`processors.dispatch.solver`
and by brute force (:mod:`processors.dispatch.exact`), and against two greedy baselines:
nearest shopper per trip (the same trips), and nearest shopper per order (no batching).
"""

from __future__ import annotations

import asyncio
import gc
import math
import os
import random
import statistics
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiokafka import TopicPartition

from core.kafka import new_consumer
from core.settings import Settings
from processors.dispatch.exact import best_route, best_total
from processors.dispatch.geo import street_m
from processors.dispatch.solver import (
    IdleShopper,
    Trip,
    WaitingOrder,
    assign,
    greedy_assign,
    improve,
    make_batches,
    nearest_neighbour,
    route_length,
)
from processors.dispatch.worker import FETCH_MAX_WAIT_MS
from producers.simulators.simulation import Simulation
from riverbed.bench import processors as proc
from riverbed.bench.cpu import CpuMeter, per_event_us
from riverbed.bench.feed import flood, paced, records
from riverbed.bench.latency import percentiles
from riverbed.bench.report import Figure, at_least, at_most, progress
from riverbed.sandbox import Namespace
from schemas import DELIVERIES_TOPIC, GeoPoint, OrderConfirmed, ShopperOnline, decode, new_event

P99_MS, RATE = 500.0, 1_000.0
QUALITY_MAX = 1.05
# Enough shoppers for every trip of the run (~3.4 orders per trip measured; 2.5 leaves
# room): nobody comes back in the run, so each order needs a free shopper on arrival.
ORDERS_PER_SHOPPER = 2.5
DOOR_KM = 4.0


def _near(rng: random.Random, lat: float, lon: float, km: float) -> GeoPoint:
    r, a = km * rng.random() ** 0.5, rng.uniform(0, 2 * math.pi)
    return GeoPoint(lat=lat + r * 0.009 * math.cos(a), lon=lon + r * 0.014 * math.sin(a))


async def latency(settings: Settings, tmp: Path, *, seconds: float, wait_s: float) -> list[Figure]:
    rng = random.Random(16)  # noqa: S311 - a workload, not a secret
    sim = Simulation(16, {"orders": 1})
    stores = sim.catalog.stores
    ns = await proc.fresh(settings, tmp, sim)
    try:
        count = int(RATE * seconds)
        per_store = math.ceil(count / ORDERS_PER_SHOPPER / len(stores))
        online = [
            new_event(
                ShopperOnline(
                    shopper_id=f"{s.store_id}-b{i:04d}",
                    store_id=s.store_id,
                    position=_near(rng, s.lat, s.lon, 3.0),
                    capacity=rng.choice((2, 3, 4)),
                ),
                source="bench",
            )
            for s in stores
            for i in range(per_store)
        ]
        orders = []
        for i in range(count):
            s = rng.choice(stores)
            orders.append(
                new_event(
                    OrderConfirmed(
                        order_id=f"b-{i}",
                        customer_id="c-1",
                        store_id=s.store_id,
                        total=Decimal("10.00"),
                        currency="EUR",
                        delivery_location=_near(rng, s.lat, s.lon, DOOR_KM),
                    ),
                    source="bench",
                )
            )
        batch = records(ns, orders)
        # The workload (10,000 envelopes and records) into the permanent generation: a
        # full collection that scanned it paused this process, listener included, for
        # 520 ms mid-run (gc.callbacks), and every delivery.assigned it then received
        # counted those 520 ms. The workers do the same at start (tune_gc).
        gc.collect()
        gc.freeze()
        proc.start(ns, {"dispatch": 1})
        progress(f"dispatch: {len(online):,} shoppers online, one worker")
        await proc.wait_ready([(ns, {"dispatch": 1})])
        await flood(ns, records(ns, online))
        await _until(ns, "select count(*) = $1 from shoppers", len(online), wait_s)
        got: dict[str, float] = {}
        trips: dict[str, int] = {}
        listening = asyncio.Event()
        listener = asyncio.create_task(_listen(ns, got, trips, listening))
        await listening.wait()
        progress(f"dispatch latency: {count:,} order.confirmed at {RATE:,.0f}/s")
        meter = await CpuMeter.of(settings, ns, ("dispatch",))
        cpu0 = meter.read()
        t0 = time.monotonic()
        sent = await paced(ns, batch, RATE)
        achieved = count / (time.monotonic() - t0)
        ids = {e.event_id: e.payload.order_id for e in orders}
        try:
            async with asyncio.timeout(wait_s):
                while len(got) < count:  # noqa: ASYNC110 - polls a dict the listener fills
                    await asyncio.sleep(0.2)
        except TimeoutError:
            pass
        listener.cancel()
        cpu = per_event_us(cpu0, meter.read(), count)
        load = os.getloadavg()[0]
        lat = [(got[ids[i]] - t) * 1000 for i, t in sent.items() if ids[i] in got]
        missing = count - len(lat)
        twice = await _scalar(
            ns,
            "select count(*) from (select o from deliveries, unnest(order_ids) o "
            "group by o having count(*) > 1) d",
        )
        cuts = (
            percentiles(lat)
            if len(lat) > 2
            else {50: float("nan"), 95: float("nan"), 99: float("nan")}
        )
        per_trip = sum(trips.values()) / len(trips) if trips else float("nan")
        metres = await _scalar(
            ns,
            "select sum(to_store_m + route_m) / sum(cardinality(order_ids)) from deliveries",
        )
        return [
            Figure(
                "dispatch: confirmed orders sent", achieved, "orders/s", None, at_least(RATE * 0.95)
            ),
            Figure(f"dispatch latency p50 at {RATE:,.0f} orders/s", cuts[50], "ms"),
            Figure(f"dispatch latency p95 at {RATE:,.0f} orders/s", cuts[95], "ms"),
            Figure(
                f"dispatch latency p99 at {RATE:,.0f} orders/s (confirmed -> assigned)",
                cuts[99],
                "ms",
                None,
                at_most(P99_MS),
            ),
            Figure("dispatch: orders never assigned", missing, "orders", None, at_most(0)),
            Figure(
                "dispatch: orders assigned twice", float(twice or 0), "orders", None, at_most(0)
            ),
            Figure("dispatch worker CPU per order", cpu["dispatch worker"], "us"),
            Figure("dispatch: PostgreSQL CPU per order", cpu.get("postgresql", float("nan")), "us"),
            Figure("host load average (1 min) during the dispatch run", load, "procs"),
            Figure("dispatch: orders per trip", per_trip, "orders"),
            Figure("dispatch: street metres per order", float(metres or 0), "m"),
        ]
    finally:
        gc.unfreeze()
        for workers in ns.workers.values():
            for w in workers:
                w.terminate()
        await ns.drop()


async def _listen(
    ns: Namespace, got: dict[str, float], trips: dict[str, int], ready: asyncio.Event
) -> None:
    # fetch_max_wait as the worker's (processors/dispatch/worker.py): with aiokafka's 500 ms
    # default a fetch for the partitions that had nothing buffered held back the others,
    # and the figure measured the bench's own consumer.
    consumer = new_consumer(
        ns.settings, enable_auto_commit=False, group_id=None, fetch_max_wait_ms=FETCH_MAX_WAIT_MS
    )
    await consumer.start()
    try:
        topic = ns.topic(DELIVERIES_TOPIC)
        parts = [TopicPartition(topic, p) for p in range(4)]
        consumer.assign(parts)
        await consumer.seek_to_end(*parts)
        for p in parts:
            await consumer.position(p)
        ready.set()
        while True:
            fetched = await consumer.getmany(timeout_ms=100)
            now = time.time()
            for messages in fetched.values():
                for m in messages:
                    payload: Any = decode(m.value, m.headers).payload
                    if payload.__class__.__name__ != "DeliveryAssigned":
                        continue
                    trips[payload.delivery_id] = len(payload.order_ids)
                    for o in payload.order_ids:
                        got.setdefault(o, now)
    finally:
        await consumer.stop()


async def _scalar(ns: Namespace, sql: str, *args: Any) -> Any:
    conn = await ns.owner()
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def _until(ns: Namespace, sql: str, arg: Any, wait_s: float) -> None:
    async with asyncio.timeout(wait_s):
        while not await _scalar(ns, sql, arg):  # noqa: ASYNC110 - polls the database
            await asyncio.sleep(0.2)


def quality(instances: int = 300, seed: int = 3) -> list[Figure]:
    """Against brute force (worst and mean ratio) and against the greedy baselines."""
    rng = random.Random(seed)  # noqa: S311
    store = (52.37, 4.89)

    def at(km: float) -> tuple[float, float]:
        g = _near(rng, *store, km)
        return (g.lat, g.lon)

    ratios, greedy_ratios, single_ratios = [], [], []
    for _ in range(instances):
        n_shoppers = rng.randint(1, 4)
        shoppers = [IdleShopper(f"s{i}", at(5.0), rng.choice((1, 2, 3))) for i in range(n_shoppers)]
        orders = [
            WaitingOrder(f"o{i}", at(DOOR_KM), rng.uniform(1, 60)) for i in range(rng.randint(1, 7))
        ]
        cap = max(s.capacity for s in shoppers)
        trips = make_batches(store, orders, max_size=cap, window_s=0)[:n_shoppers]
        ours = assign(store, trips, shoppers)
        served: list[Trip] = [m.trip for m in ours]
        if not served:
            continue
        total = sum(m.total_m for m in ours)
        ratios.append(total / best_total(store, served, shoppers))
        greedy = greedy_assign(store, served, shoppers)
        if len(greedy) == len(ours):
            greedy_ratios.append(sum(m.total_m for m in greedy) / total)
        # No batching: each order of the served trips goes alone to its nearest free shopper.
        singles = [o for t in served for o in t.orders]
        free = sorted(shoppers, key=lambda s: street_m(s.position, store))
        if len(singles) <= len(free):
            alone = sum(
                street_m(s.position, store) + street_m(store, o.dropoff)
                for s, o in zip(free, singles, strict=False)
            )
            single_ratios.append(alone / total)
    # Routes beyond the exact size (7 stops: nearest neighbour + 2-opt/or-opt).
    heuristic = []
    for _ in range(30):
        stops = [at(DOOR_KM) for _ in range(7)]
        order = improve(store, stops, nearest_neighbour(store, stops))
        heuristic.append(route_length(store, [stops[i] for i in order]) / best_route(store, stops))
    return [
        Figure(
            "dispatch routes of 7 stops (heuristic) / brute-force optimum, worst of 30",
            max(heuristic),
            "x",
            None,
            at_most(QUALITY_MAX),
        ),
        Figure(
            f"dispatch quality: total metres / brute-force optimum, worst of {len(ratios)}",
            max(ratios),
            "x",
            None,
            at_most(QUALITY_MAX),
        ),
        Figure("dispatch quality: total metres / optimum, mean", statistics.fmean(ratios), "x"),
        Figure(
            f"greedy nearest shopper (same trips) / ours, mean of {len(greedy_ratios)}",
            statistics.fmean(greedy_ratios),
            "x",
        ),
        Figure(
            f"greedy nearest shopper, one order per trip / ours, mean of {len(single_ratios)}",
            statistics.fmean(single_ratios),
            "x",
        ),
    ]
