"""Apply a batch's order, shopper and delivery events to the dispatch tables.

Runs inside the batch's transaction (see :mod:`processors.dispatch.worker`). Idempotent:
:func:`claim` keeps only events ``processed_events`` has not seen (and records them, one
statement); an order is inserted once (its primary key); a shopper row only moves forward
in event time (``seen_at``), so a replayed or late location never overwrites a newer one;
a finished order is never reopened. Every write returns the rows it changed, and those
rows (:class:`Changes`) are what the worker's in-memory view of its stores
(:mod:`processors.dispatch.memory`) applies: the view follows the tables, it never
guesses what a statement did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from processors.dispatch.geo import SHOPPER_RES, cell
from schemas import Envelope

INSERT_ORDERS = (
    "insert into dispatch_orders (order_id, store_id, lat, lon, confirmed_at, received_at, status) "
    "select * from unnest($1::text[], $2::text[], $3::float8[], $4::float8[], "
    "$5::timestamptz[], $6::timestamptz[], $7::text[]) on conflict do nothing "
    "returning order_id, store_id, lat, lon, received_at, status"
)
UPSERT_SHOPPERS = (
    "insert into shoppers as s (shopper_id, store_id, online, lat, lon, cell, capacity, seen_at) "
    "select * from unnest($1::text[], $2::text[], $3::bool[], $4::float8[], $5::float8[], "
    "$6::text[], $7::int[], $8::timestamptz[]) "
    "on conflict (shopper_id) do update set store_id = excluded.store_id, online = excluded.online, "
    "lat = excluded.lat, lon = excluded.lon, cell = excluded.cell, capacity = excluded.capacity, "
    "seen_at = excluded.seen_at where s.seen_at <= excluded.seen_at "
    "returning shopper_id, store_id, online, lat, lon, cell, capacity, delivery_id"
)
OFFLINE = (
    "update shoppers s set online = false, seen_at = t.at "
    "from unnest($1::text[], $2::timestamptz[]) as t(id, at) "
    "where s.shopper_id = t.id and s.seen_at <= t.at "
    "returning s.shopper_id, s.store_id, s.online, s.lat, s.lon, s.cell, s.capacity, s.delivery_id"
)
PICKED_UP = (
    "with d as (update deliveries set status = 'picked_up', picked_up_at = $2 "
    "where delivery_id = $1 and status = 'assigned' returning delivery_id) "
    "update dispatch_orders set status = 'picked_up' "
    "where delivery_id in (select delivery_id from d) and status = 'assigned'"
)
FINISH_ORDERS = (
    "update dispatch_orders set status = $3, delivered_at = $4 "
    "where delivery_id = $1 and ($2::text is null or order_id = $2) "
    "and status in ('assigned', 'picked_up') returning store_id"
)
# The trip is over once none of its orders is still on the way: the shopper is free again.
CLOSE_TRIP = (
    "with open as (select 1 from dispatch_orders where delivery_id = $1 "
    "and status in ('assigned', 'picked_up')), "
    "closed as (update deliveries d set finished_at = $2, status = case when exists "
    "(select 1 from dispatch_orders o where o.delivery_id = $1 and o.status = 'delivered') "
    "then 'delivered' else 'failed' end "
    "where d.delivery_id = $1 and d.finished_at is null and not exists (select 1 from open) "
    "returning d.delivery_id) "
    "update shoppers set delivery_id = null where delivery_id in (select delivery_id from closed) "
    "returning shopper_id, store_id, online, lat, lon, cell, capacity, delivery_id"
)
# Claims the batch's events and returns those not applied before: one statement instead
# of a look-up before the work and an insert after it (a round trip per batch less).
# Duplicates within the batch conflict with their first copy and are not returned.
#
# The same statement first takes the matching pass's advisory locks of the batch's stores
# (in store order, see processors.dispatch.matching.LOCK): the uncorrelated sub-select is
# evaluated once, before the first row is inserted, and saves the pass its own round trip.
CLAIM = (
    "with l as (select count(pg_advisory_xact_lock(hashtext('riverbed.dispatch'), hashtext(s))) "
    "as n from (select unnest($4::text[]) as s order by 1) as u) "
    "insert into processed_events (consumer, event_id, processed_at) "
    "select $1, e, a from unnest($2::uuid[], $3::timestamptz[]) as u(e, a) "
    "where (select n from l) >= 0 "
    "on conflict do nothing returning event_id"
)


@dataclass(slots=True)
class Changes:
    """What a batch changed, as the tables returned it: the in-memory view applies these."""

    touched: set[str] = field(default_factory=set)
    orders: list[asyncpg.Record] = field(default_factory=list)  # newly inserted orders
    shoppers: list[asyncpg.Record] = field(default_factory=list)  # shopper rows written


async def claim(
    conn: asyncpg.Connection, consumer: str, events: Sequence[Envelope[Any]], lock: Sequence[str]
) -> list[Envelope[Any]]:
    """Lock the stores ``lock`` and record ``events`` as processed by ``consumer``; the
    events not processed before, in order. Takes no lock when there are no events."""
    if not events:
        return []
    rows = await conn.fetch(
        CLAIM, consumer, [e.event_id for e in events], [e.occurred_at for e in events], lock
    )
    new = {r["event_id"] for r in rows}
    fresh = []
    for e in events:
        if e.event_id in new:
            new.discard(e.event_id)  # the first copy only
            fresh.append(e)
    return fresh


async def apply_events(
    conn: asyncpg.Connection, events: Sequence[Envelope[Any]], now: datetime
) -> Changes:
    """Write ``events`` (already de-duplicated) in order; what they changed."""
    changes = Changes()
    touched = changes.touched
    orders: list[tuple[Any, ...]] = []
    shoppers: dict[str, tuple[Any, ...]] = {}
    offline: dict[str, datetime] = {}
    trips: list[Envelope[Any]] = []
    for e in events:
        p = e.payload
        touched.add(p.store_id)
        if e.type == "order.confirmed":
            loc = p.delivery_location
            orders.append(
                (
                    p.order_id,
                    p.store_id,
                    None if loc is None else loc.lat,
                    None if loc is None else loc.lon,
                    e.occurred_at,
                    now,
                    "waiting" if loc is not None else "unroutable",
                )
            )
        elif e.type in ("shopper.online", "shopper.location"):
            known = shoppers.get(p.shopper_id)
            if known is None or known[-1] <= e.occurred_at:
                pos = (p.position.lat, p.position.lon)
                shoppers[p.shopper_id] = (
                    p.shopper_id,
                    p.store_id,
                    True,
                    pos[0],
                    pos[1],
                    cell(pos, SHOPPER_RES),
                    p.capacity,
                    e.occurred_at,
                )
        elif e.type == "shopper.offline":
            offline[p.shopper_id] = max(e.occurred_at, offline.get(p.shopper_id, e.occurred_at))
        elif e.type.startswith("delivery.") and e.type != "delivery.assigned":
            trips.append(e)
    if orders:
        changes.orders = await conn.fetch(INSERT_ORDERS, *map(list, zip(*orders, strict=True)))
    # Online/location first, then offline: within a batch an offline event newer than the
    # shopper's last position wins (seen_at decides), and an older one changes nothing.
    if shoppers:
        changes.shoppers += await conn.fetch(
            UPSERT_SHOPPERS, *map(list, zip(*shoppers.values(), strict=True))
        )
    if offline:
        changes.shoppers += await conn.fetch(OFFLINE, list(offline), list(offline.values()))
    for e in trips:
        p = e.payload
        if e.type == "delivery.picked_up":
            await conn.execute(PICKED_UP, p.delivery_id, e.occurred_at)
            continue
        status = "delivered" if e.type == "delivery.delivered" else "failed"
        await conn.execute(FINISH_ORDERS, p.delivery_id, p.order_id, status, e.occurred_at)
        changes.shoppers += await conn.fetch(CLOSE_TRIP, p.delivery_id, e.occurred_at)
    return changes
