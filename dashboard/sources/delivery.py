"""The delivery map and its figures, from the dispatch tables in PostgreSQL.

Bounded reads (the page draws what fits on a map): online shoppers, trips on the way
with their planned routes, stores with a position, and over the last ``WINDOW_MIN``
minutes the time to assign (p50/p99), orders per trip, street metres per order and the
share of delivered orders that arrived within the promise.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from dashboard.clock import Clock, wall_clock
from dashboard.stores import Stores

WINDOW_MIN = 15
MAX_SHOPPERS = 2000
MAX_TRIPS = 500

STORES = (
    "select store_id, name, lat, lon from stores where lat is not null "
    "and store_id in (select store_id from shoppers union select store_id from dispatch_orders) "
    "order by store_id limit 100"
)
SHOPPERS = (
    "select shopper_id, store_id, lat, lon, delivery_id is not null as busy from shoppers "
    "where online order by shopper_id limit $1"
)
EN_ROUTE = (
    "select delivery_id, shopper_id, store_id, status, route from deliveries "
    "where status in ('assigned', 'picked_up') order by assigned_at desc limit $1"
)
ASSIGN_TIMES = (
    "select percentile_cont(array[0.5, 0.99]) within group "
    "(order by extract(epoch from assigned_at - confirmed_at)) as q, count(*) as n "
    "from dispatch_orders where assigned_at >= $1"
)
TRIPS = (
    "select count(*) as trips, coalesce(sum(cardinality(order_ids)), 0) as orders, "
    "coalesce(sum(to_store_m + route_m), 0) as metres from deliveries where assigned_at >= $1"
)
ON_TIME = (
    "select count(*) filter (where delivered_at <= confirmed_at + $2 * interval '1 minute') "
    "as on_time, count(*) as delivered from dispatch_orders "
    "where status = 'delivered' and delivered_at >= $1"
)
WAITING = "select count(*) from dispatch_orders where status = 'waiting'"


class DeliverySource:
    def __init__(self, stores: Stores, *, promise_min: int, clock: Clock = wall_clock) -> None:
        self._stores = stores
        self._promise_min = promise_min
        self._clock = clock

    async def sample(self) -> dict[str, Any]:
        since = self._clock() - timedelta(minutes=WINDOW_MIN)
        pool = await self._stores.pool()
        async with pool.acquire() as conn:
            stores = await conn.fetch(STORES)
            shoppers = await conn.fetch(SHOPPERS, MAX_SHOPPERS)
            trips = await conn.fetch(EN_ROUTE, MAX_TRIPS)
            times = await conn.fetchrow(ASSIGN_TIMES, since)
            made = await conn.fetchrow(TRIPS, since)
            punctual = await conn.fetchrow(ON_TIME, since, self._promise_min)
            waiting = await conn.fetchval(WAITING)
        q = times["q"] or [None, None]
        return {
            "window_minutes": WINDOW_MIN,
            "stores": [dict(r) for r in stores],
            "shoppers": [dict(r) for r in shoppers],
            "en_route": [
                {
                    "delivery_id": r["delivery_id"],
                    "shopper_id": r["shopper_id"],
                    "store_id": r["store_id"],
                    "status": r["status"],
                    "route": [[s["position"]["lat"], s["position"]["lon"]] for s in r["route"]],
                }
                for r in trips
            ],
            "waiting": waiting,
            "assign_p50_ms": None if q[0] is None else round(q[0] * 1000, 1),
            "assign_p99_ms": None if q[1] is None else round(q[1] * 1000, 1),
            "assigned": times["n"],
            "trips": made["trips"],
            "orders_per_trip": round(made["orders"] / made["trips"], 2) if made["trips"] else None,
            "metres_per_order": round(made["metres"] / made["orders"]) if made["orders"] else None,
            "on_time_rate": (
                round(punctual["on_time"] / punctual["delivered"], 3)
                if punctual["delivered"]
                else None
            ),
            "delivered": punctual["delivered"],
        }
