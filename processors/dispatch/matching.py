"""One store's matching pass, in the caller's transaction: load, solve, write, stage.

A transaction-scoped advisory lock per store serialises passes over one store (the
worker's flush and its timer, or two replicas during a rebalance), and every write is
conditional (an order only while ``waiting``, a shopper only while idle and online): if
either finds fewer rows than the plan needs, the pass raises and the transaction rolls
back, so an order is never given to two trips nor a shopper to two trips. Emits one
``delivery.assigned`` per trip through the outbox, with an event id derived from the
trip id (itself derived from its orders), so a re-published row is a duplicate that
consumers drop by id.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import asyncpg

from processors.dispatch.geo import Point, cells_within
from processors.dispatch.solver import IdleShopper, Match, Trip, WaitingOrder, assign, make_batches
from schemas import DeliveryAssigned, Envelope, GeoPoint, Stop, new_event

S = TypeVar("S")
Stage = Callable[[asyncpg.Connection, Sequence[Envelope[Any]]], Awaitable[list[S]]]
NAMESPACE = uuid.UUID("7f0c5d0e-3b7a-4f43-9a55-2f1f3d6c9b10")
MAX_WAITING = 200  # per pass and store: enough for 10 s of a busy store's orders
SOURCE = "dispatch"

# One statement per step for every store of the pass (a pass covers the stores of a batch
# or of a timer tick): per-store statements were 7 round trips per store, and at 1,000
# orders/s over 8 stores the worker spent most of its time waiting on them.
LOCK = (
    "select count(pg_advisory_xact_lock(hashtext('riverbed.dispatch'), hashtext(s))) "
    "from (select unnest($1::text[]) as s order by 1) as u"
)
WAITING = (
    "select store_id, order_id, lat, lon, received_at from (select *, row_number() over "
    "(partition by store_id order by received_at) as n from dispatch_orders "
    "where store_id = any($1::text[]) and status = 'waiting') as w where n <= $2"
)
CAPACITY = (
    "select store_id, max(capacity) as most from shoppers where store_id = any($1::text[]) "
    "and online and delivery_id is null group by store_id"
)
# The nearest idle shoppers of each store with ready trips: as many as it has ready trips
# plus SPARE, and as many again among those who can carry its largest trip (else a full
# trip waits while the nearest shoppers carry less). Planar distance in degrees orders
# them (fine within a city); the assignment then uses street metres. Reading every idle
# shopper was 300 rows per store and pass at 1,000 orders/s.
IDLE = (
    "select st.id as store_id, x.shopper_id, x.lat, x.lon, x.capacity, x.cell "
    "from unnest($1::text[], $2::float8[], $3::float8[], $4::int[], $5::float8[], $7::int[]) "
    "as st(id, lat, lon, k, c, big) cross join lateral (("
    "select shopper_id, lat, lon, capacity, cell from shoppers s where s.store_id = st.id "
    "and s.online and s.delivery_id is null and s.cell = any($6::text[]) "
    "order by (s.lat - st.lat) ^ 2 + ((s.lon - st.lon) * st.c) ^ 2 limit st.k"
    ") union ("
    "select shopper_id, lat, lon, capacity, cell from shoppers s where s.store_id = st.id "
    "and s.online and s.delivery_id is null and s.cell = any($6::text[]) "
    "and s.capacity >= st.big "
    "order by (s.lat - st.lat) ^ 2 + ((s.lon - st.lon) * st.c) ^ 2 limit st.k"
    ")) as x"
)
SPARE = 10
INSERT_TRIPS = (
    "insert into deliveries (delivery_id, shopper_id, store_id, order_ids, route, to_store_m, "
    "route_m, assigned_at, eta) select d, s, st, string_to_array(o, ','), r::jsonb, t, m, $3, e "
    "from unnest($1::text[], $2::text[], $4::text[], $5::text[], $6::float8[], $7::float8[], "
    "$8::timestamptz[], $9::text[]) as u(d, s, o, r, t, m, e, st)"
)
TAKE_ORDERS = (
    "update dispatch_orders o set status = 'assigned', delivery_id = u.d, assigned_at = $3 "
    "from unnest($1::text[], $2::text[]) as u(id, d) "
    "where o.order_id = u.id and o.status = 'waiting'"
)
TAKE_SHOPPERS = (
    "update shoppers s set delivery_id = u.d from unnest($1::text[], $2::text[]) as u(id, d) "
    "where s.shopper_id = u.id and s.delivery_id is null and s.online"
)
WAITING_STORES = (
    "select distinct o.store_id from dispatch_orders o where o.status = 'waiting' and exists "
    "(select 1 from shoppers s where s.store_id = o.store_id and s.online "
    "and s.delivery_id is null)"
)


class Conflict(RuntimeError):
    """The dispatch tables changed under a pass (cannot happen under the store lock)."""


@dataclass(frozen=True, slots=True)
class Rules:
    window_s: float
    radius_km: float
    speed_mps: float


def trip_id(order_ids: Sequence[str]) -> str:
    """The same orders always make the same trip id."""
    return "d-" + uuid.uuid5(NAMESPACE, ",".join(sorted(order_ids))).hex


def _event(store_id: str, store: Point, m: Match, now: datetime, rules: Rules) -> DeliveryAssigned:
    ids = [o.order_id for o in m.trip.orders]
    route = [Stop(kind="pickup", position=GeoPoint(lat=store[0], lon=store[1]))] + [
        Stop(
            kind="dropoff",
            position=GeoPoint(lat=o.dropoff[0], lon=o.dropoff[1]),
            order_id=o.order_id,
        )
        for o in m.trip.orders
    ]
    return DeliveryAssigned(
        delivery_id=trip_id(ids),
        shopper_id=m.shopper.shopper_id,
        store_id=store_id,
        order_ids=tuple(ids),
        route=tuple(route),
        distance_m=round(m.total_m, 1),
        eta=now + timedelta(seconds=m.total_m / rules.speed_mps),
    )


async def match_stores(
    conn: asyncpg.Connection,
    stores: Mapping[str, Point],
    now: datetime,
    rules: Rules,
    stage: Stage[S],
) -> list[S]:
    """Give each store's ready trips to its idle shoppers nearby; the staged events."""
    if not stores:
        return []
    ids = sorted(stores)
    await conn.fetchval(LOCK, ids)  # in store order: two passes never wait on each other
    waiting = await conn.fetch(WAITING, ids, MAX_WAITING)
    if not waiting:
        return []
    orders: dict[str, list[WaitingOrder]] = {}
    for r in waiting:
        waited = (now - r["received_at"]).total_seconds()
        orders.setdefault(r["store_id"], []).append(
            WaitingOrder(r["order_id"], (r["lat"], r["lon"]), waited)
        )
    most = dict(await conn.fetch(CAPACITY, sorted(orders)))
    trips: dict[str, list[Trip]] = {}
    for store_id, wait in orders.items():
        if most.get(store_id):
            ready = [
                t
                for t in make_batches(
                    stores[store_id], wait, max_size=most[store_id], window_s=rules.window_s
                )
                if t.ready
            ]
            if ready:
                trips[store_id] = ready
    if not trips:
        return []
    ids = sorted(trips)
    cells = sorted({c for s in ids for c in _disk(stores[s], rules)})
    idle = await conn.fetch(
        IDLE,
        ids,
        [stores[s][0] for s in ids],
        [stores[s][1] for s in ids],
        [len(trips[s]) + SPARE for s in ids],
        [math.cos(math.radians(stores[s][0])) for s in ids],
        cells,
        [max(len(t.orders) for t in trips[s]) for s in ids],
    )
    shoppers: dict[str, list[tuple[IdleShopper, str]]] = {}
    for r in idle:
        shoppers.setdefault(r["store_id"], []).append(
            (IdleShopper(r["shopper_id"], (r["lat"], r["lon"]), r["capacity"]), r["cell"])
        )
    events: list[DeliveryAssigned] = []
    matches: list[Match] = []
    for store_id in ids:
        # The pass read the union of the stores' disks: keep those near this store.
        near = set(_disk(stores[store_id], rules))
        free = [f for f, c in shoppers.get(store_id, ()) if c in near]
        for m in assign(stores[store_id], trips[store_id], free):
            matches.append(m)
            events.append(_event(store_id, stores[store_id], m, now, rules))
    if not events:
        return []
    await conn.execute(
        INSERT_TRIPS,
        [e.delivery_id for e in events],
        [e.shopper_id for e in events],
        now,
        [",".join(e.order_ids) for e in events],
        [
            json.dumps([s.model_dump(mode="json", exclude_none=True) for s in e.route])
            for e in events
        ],
        [m.to_store_m for m in matches],
        [m.trip.route_m for m in matches],
        [e.eta for e in events],
        [e.store_id for e in events],
    )
    order_ids = [o for e in events for o in e.order_ids]
    taken = await conn.execute(
        TAKE_ORDERS, order_ids, [e.delivery_id for e in events for _ in e.order_ids], now
    )
    busy = await conn.execute(
        TAKE_SHOPPERS, [e.shopper_id for e in events], [e.delivery_id for e in events]
    )
    if taken != f"UPDATE {len(order_ids)}" or busy != f"UPDATE {len(events)}":
        raise Conflict(f"{taken} of {len(order_ids)} orders, {busy} of {len(events)} shoppers")
    envelopes = [
        new_event(e, source=SOURCE, occurred_at=now, event_id=uuid.uuid5(NAMESPACE, e.delivery_id))
        for e in events
    ]
    return await stage(conn, envelopes)


def _disk(store: Point, rules: Rules) -> list[str]:
    return _DISKS.get((store, rules.radius_km)) or _DISKS.setdefault(
        (store, rules.radius_km), cells_within(store, rules.radius_km)
    )


_DISKS: dict[tuple[Point, float], list[str]] = {}


async def waiting_stores(conn: asyncpg.Connection) -> list[str]:
    """Stores with an order waiting and an idle shopper online (the timer's work list)."""
    return [r["store_id"] for r in await conn.fetch(WAITING_STORES)]


class StoreLocations:
    """Store positions from the ``stores`` table, cached for a minute (a re-seeded store
    may move; a query per pass and store would be most of an idle pass)."""

    def __init__(self, ttl_s: float = 60.0) -> None:
        self._known: dict[str, Point] = {}
        self._ttl_s = ttl_s
        self._read_at = time.monotonic()

    async def get(self, conn: asyncpg.Connection, stores: Sequence[str]) -> dict[str, Point]:
        if time.monotonic() - self._read_at > self._ttl_s:
            self._known, self._read_at = {}, time.monotonic()
        missing = [s for s in stores if s not in self._known]
        if missing:
            rows = await conn.fetch(
                "select store_id, lat, lon from stores where store_id = any($1::text[]) "
                "and lat is not null and lon is not null",
                missing,
            )
            self._known.update({r["store_id"]: (r["lat"], r["lon"]) for r in rows})
        return {s: self._known[s] for s in stores if s in self._known}
