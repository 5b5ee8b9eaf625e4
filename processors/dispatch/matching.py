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
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import asyncpg

from processors.dispatch.geo import Point, cells_within
from processors.dispatch.solver import IdleShopper, Match, WaitingOrder, assign, make_batches
from schemas import DeliveryAssigned, Envelope, GeoPoint, Stop, new_event

S = TypeVar("S")
Stage = Callable[[asyncpg.Connection, Sequence[Envelope[Any]]], Awaitable[list[S]]]
NAMESPACE = uuid.UUID("7f0c5d0e-3b7a-4f43-9a55-2f1f3d6c9b10")
MAX_WAITING = 200  # per pass and store: enough for 10 s of a busy store's orders
SOURCE = "dispatch"

LOCK = "select pg_advisory_xact_lock(hashtext('riverbed.dispatch'), hashtext($1))"
WAITING = (
    "select order_id, lat, lon, received_at from dispatch_orders "
    "where store_id = $1 and status = 'waiting' order by received_at limit $2"
)
IDLE = (
    "select shopper_id, lat, lon, capacity from shoppers where store_id = $1 and online "
    "and delivery_id is null and cell = any($2::text[])"
)
INSERT_TRIPS = (
    "insert into deliveries (delivery_id, shopper_id, store_id, order_ids, route, to_store_m, "
    "route_m, assigned_at, eta) select d, s, $3, string_to_array(o, ','), r::jsonb, t, m, $4, e "
    "from unnest($1::text[], $2::text[], $5::text[], $6::text[], $7::float8[], $8::float8[], "
    "$9::timestamptz[]) as u(d, s, o, r, t, m, e)"
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


async def match_store(
    conn: asyncpg.Connection,
    store_id: str,
    store: Point,
    now: datetime,
    rules: Rules,
    stage: Stage[S],
) -> list[S]:
    """Give the store's ready trips to its idle shoppers nearby; the staged events."""
    await conn.execute(LOCK, store_id)
    waiting = await conn.fetch(WAITING, store_id, MAX_WAITING)
    if not waiting:
        return []
    idle = await conn.fetch(IDLE, store_id, cells_within(store, rules.radius_km))
    if not idle:
        return []
    shoppers = [IdleShopper(r["shopper_id"], (r["lat"], r["lon"]), r["capacity"]) for r in idle]
    orders = [
        WaitingOrder(r["order_id"], (r["lat"], r["lon"]), (now - r["received_at"]).total_seconds())
        for r in waiting
    ]
    trips = make_batches(
        store, orders, max_size=max(s.capacity for s in shoppers), window_s=rules.window_s
    )
    matches = assign(store, trips, shoppers)
    if not matches:
        return []
    events = [_event(store_id, store, m, now, rules) for m in matches]
    await conn.execute(
        INSERT_TRIPS,
        [e.delivery_id for e in events],
        [e.shopper_id for e in events],
        store_id,
        now,
        [",".join(e.order_ids) for e in events],
        [
            json.dumps([s.model_dump(mode="json", exclude_none=True) for s in e.route])
            for e in events
        ],
        [m.to_store_m for m in matches],
        [m.trip.route_m for m in matches],
        [e.eta for e in events],
    )
    order_ids = [o for e in events for o in e.order_ids]
    taken = await conn.execute(
        TAKE_ORDERS, order_ids, [e.delivery_id for e in events for _ in e.order_ids], now
    )
    busy = await conn.execute(
        TAKE_SHOPPERS, [e.shopper_id for e in events], [e.delivery_id for e in events]
    )
    if taken != f"UPDATE {len(order_ids)}" or busy != f"UPDATE {len(events)}":
        raise Conflict(
            f"store {store_id}: {taken} of {len(order_ids)} orders, {busy} of {len(events)} shoppers"
        )
    envelopes = [
        new_event(e, source=SOURCE, occurred_at=now, event_id=uuid.uuid5(NAMESPACE, e.delivery_id))
        for e in events
    ]
    return await stage(conn, envelopes)


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
