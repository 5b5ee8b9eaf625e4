"""Matching passes: plan from the in-memory view (no I/O), then write the plan, stage events.

:func:`plan` gives one store's ready trips to its nearest idle shoppers from the worker's
view of the store (:mod:`processors.dispatch.memory`); :func:`write` records the trips in
the caller's transaction. A transaction-scoped advisory lock per store serialises writes
over one store (two replicas during a rebalance), and every write is conditional (an
order only while ``waiting``, a shopper only while idle, online and still the store's):
if either finds fewer rows than the plan needs, the pass raises :class:`Conflict`, the
transaction rolls back and the worker reloads its view, so an order is never given to
two trips nor a shopper to two trips. Emits one ``delivery.assigned`` per trip through
the outbox, with an event id derived from the trip id (itself derived from its orders),
so a re-published row is a duplicate that consumers drop by id.
"""

from __future__ import annotations

import heapq
import itertools
import json
import math
import operator
import time
import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import asyncpg

from processors.dispatch.geo import Point, cells_within
from processors.dispatch.memory import StoreState
from processors.dispatch.solver import IdleShopper, Match, WaitingOrder, assign, make_batches
from schemas import DeliveryAssigned, GeoPoint, Stop
from schemas.wire import Encoded, encode_event

S = TypeVar("S")
Stage = Callable[[asyncpg.Connection, Sequence[Encoded], datetime], Awaitable[list[S]]]
NAMESPACE = uuid.UUID("7f0c5d0e-3b7a-4f43-9a55-2f1f3d6c9b10")
MAX_WAITING = 200  # per pass and store: enough for 10 s of a busy store's orders
SOURCE = "dispatch"
# The nearest idle shoppers of a store are offered its ready trips: as many as it has
# ready trips plus SPARE, and as many again among those who can carry its largest trip
# (else a full trip waits while the nearest shoppers carry less). Planar distance in
# degrees orders them (fine within a city); the assignment then uses street metres.
# Offering all of them (500 a store in the bench) cost a street distance each per pass.
SPARE = 10

LOCK = (
    "select count(pg_advisory_xact_lock(hashtext('riverbed.dispatch'), hashtext(s))) "
    "from (select unnest($1::text[]) as s order by 1) as u"
)
# The trips, their orders and their shoppers in one statement (three were three round
# trips per pass); the counts say whether every order was still waiting and every
# shopper still idle.
ASSIGN = (
    "with t as (insert into deliveries (delivery_id, shopper_id, store_id, order_ids, route, "
    "to_store_m, route_m, assigned_at, eta) select d, s, st, string_to_array(o, ','), r::jsonb, "
    "t, m, $3, e from unnest($1::text[], $2::text[], $4::text[], $5::text[], $6::float8[], "
    "$7::float8[], $8::timestamptz[], $9::text[]) as u(d, s, o, r, t, m, e, st) returning 1), "
    "o as (update dispatch_orders o set status = 'assigned', delivery_id = u.d, assigned_at = $3 "
    "from unnest($10::text[], $11::text[]) as u(id, d) "
    "where o.order_id = u.id and o.status = 'waiting' returning 1), "
    "s as (update shoppers s set delivery_id = u.d "
    "from unnest($2::text[], $1::text[], $9::text[]) as u(id, d, st) "
    "where s.shopper_id = u.id and s.store_id = u.st and s.delivery_id is null and s.online "
    "returning 1) "
    "select (select count(*) from t) as trips, (select count(*) from o) as orders, "
    "(select count(*) from s) as shoppers"
)
# The stores of this worker's partitions that need a pass after a start or a rebalance.
WAITING_STORES = (
    "select distinct o.store_id from dispatch_orders o where o.status = 'waiting' and exists "
    "(select 1 from shoppers s where s.store_id = o.store_id and s.online "
    "and s.delivery_id is null)"
)


class Conflict(RuntimeError):
    """The tables changed under the worker's view (a second replica wrote them): retry."""


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


def plan(store: Point, st: StoreState, now: datetime, rules: Rules) -> list[Match]:
    """One store's ready trips matched with its nearest idle shoppers (pure: no I/O)."""
    if not st.waiting or not st.idle:
        return []
    wait = [
        WaitingOrder(oid, w.dropoff, (now - w.received_at).total_seconds())
        for oid, w in itertools.islice(st.waiting.items(), MAX_WAITING)
    ]
    most = max(s.capacity for s, _ in st.idle.values())
    ready = make_batches(store, wait, max_size=most, window_s=rules.window_s, only_ready=True)
    if not ready:
        return []
    ranked = rank(store, st, _near(store, rules))
    free = nearest(ranked, len(ready) + SPARE, max(len(t.orders) for t in ready))
    return assign(store, ready, free)


def rank(store: Point, st: StoreState, near: frozenset[str]) -> list[tuple[float, IdleShopper]]:
    """The idle shoppers within the store's disk with their planar distance (cached)."""
    if st.ranked_for != store:
        st.rank, st.ranked_for = {}, store
    c = math.cos(math.radians(store[0]))
    out = []
    for sid, (s, cell) in st.idle.items():
        if sid in st.rank:
            r = st.rank[sid]
        else:
            r = st.rank[sid] = (
                (s.position[0] - store[0]) ** 2 + ((s.position[1] - store[1]) * c) ** 2
                if cell in near
                else None
            )
        if r is not None:
            out.append((r, s))
    return out


def nearest(ranked: Sequence[tuple[float, IdleShopper]], k: int, big: int) -> list[IdleShopper]:
    """The ``k`` nearest shoppers, and the ``k`` nearest able to carry ``big`` orders."""
    first = heapq.nsmallest(k, ranked, key=operator.itemgetter(0))
    able = heapq.nsmallest(
        k, (x for x in ranked if x[1].capacity >= big), key=operator.itemgetter(0)
    )
    return list({s.shopper_id: s for _, s in first + able}.values())


async def write(
    conn: asyncpg.Connection,
    plans: Sequence[tuple[str, Point, Match]],
    now: datetime,
    rules: Rules,
    stage: Stage[S],
    locked: Collection[str] = (),
) -> list[S]:
    """Record the planned trips (store, store position, match); the staged events.

    Locks the plans' stores first, except those the transaction ``locked`` already."""
    if not plans:
        return []
    lock = sorted({p[0] for p in plans} - set(locked))
    if lock:
        await conn.fetchval(LOCK, lock)  # in store order: no deadlock
    events = [_event(store_id, store, m, now, rules) for store_id, store, m in plans]
    order_ids = [o for e in events for o in e.order_ids]
    row = await conn.fetchrow(
        ASSIGN,
        [e.delivery_id for e in events],
        [e.shopper_id for e in events],
        now,
        [",".join(e.order_ids) for e in events],
        [
            json.dumps([s.model_dump(mode="json", exclude_none=True) for s in e.route])
            for e in events
        ],
        [m.to_store_m for _, _, m in plans],
        [m.trip.route_m for _, _, m in plans],
        [e.eta for e in events],
        [e.store_id for e in events],
        order_ids,
        [e.delivery_id for e in events for _ in e.order_ids],
    )
    if row["orders"] != len(order_ids) or row["shoppers"] != len(events):
        raise Conflict(
            f"{row['orders']} of {len(order_ids)} orders, "
            f"{row['shoppers']} of {len(events)} shoppers still free"
        )
    emitted = [
        encode_event(
            e, source=SOURCE, occurred_at=now, event_id=uuid.uuid5(NAMESPACE, e.delivery_id)
        )
        for e in events
    ]
    return await stage(conn, emitted, now)


def _near(store: Point, rules: Rules) -> frozenset[str]:
    """The H3 cells of shoppers close enough to be offered the store's trips (cached)."""
    key = (store, rules.radius_km)
    near = _DISKS.get(key)
    if near is None:
        near = _DISKS[key] = frozenset(cells_within(store, rules.radius_km))
    return near


_DISKS: dict[tuple[Point, float], frozenset[str]] = {}


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
