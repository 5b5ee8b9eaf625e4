"""PostgreSQL, sampled once a poll on one pooled connection: orders per minute
(confirmed vs rejected, revenue), order totals by status, low-stock SKUs, trending.

Minutes are event time on the dashboard's clock: the chart is the last
``ORDER_MINUTES`` minutes up to the current one, trending the last ``TRENDING_MINUTES``
(:mod:`dashboard.clock` says why not the newest stored time).
"""

from __future__ import annotations

from typing import Any

from dashboard import queries
from dashboard.clock import Clock, Window, wall_clock
from dashboard.stores import Stores

ORDER_MINUTES = 15
TRENDING_MINUTES = 5
TRENDING_TOP = 10


def per_minute(rows: list[Any], window: Window) -> dict[str, list[Any]]:
    """Columns for the chart: every minute of the window, zeros where nothing happened."""
    axis = window.minutes()
    at = {m: i for i, m in enumerate(axis)}
    out: dict[str, list[Any]] = {
        "minute": [m.timestamp() for m in axis],
        "confirmed": [0] * len(axis),
        "rejected": [0] * len(axis),
        "revenue": [0.0] * len(axis),
    }
    for r in rows:
        i = at.get(r["minute"])
        if i is None:
            continue
        out[r["status"]][i] = r["orders"]
        if r["status"] == "confirmed":
            out["revenue"][i] = round(float(r["revenue"]), 2)
    return out


class PostgresSource:
    def __init__(self, stores: Stores, *, clock: Clock = wall_clock) -> None:
        self._stores = stores
        self._clock = clock
        self.queries = 0  # statements run: the shared-poller test reads it

    async def sample(self) -> dict[str, Any]:
        now = self._clock()
        orders = Window.whole_minutes(now, ORDER_MINUTES)
        trending = Window.back(now, TRENDING_MINUTES)
        pool = await self._stores.pool()
        async with pool.acquire() as conn:
            rows = await conn.fetch(queries.ORDERS_PER_MINUTE, orders.since, orders.until)
            statuses = dict(await conn.fetch(queries.ORDERS_BY_STATUS))
            low = await conn.fetchval(queries.LOW_STOCK_COUNT)
            top = await conn.fetch(
                queries.TRENDING, trending.since, trending.until, TRENDING_TOP, 0
            )
        self.queries += 4
        chart = per_minute(rows, orders)
        return {
            "orders": {
                "total": sum(statuses.values()),
                "confirmed": statuses.get("confirmed", 0),
                "rejected": statuses.get("rejected", 0),
                "cancelled": statuses.get("cancelled", 0),
                "as_of": now.isoformat(),
                "per_minute": chart,
                "revenue_window": round(sum(chart["revenue"]), 2),
            },
            "low_stock_skus": low,
            "trending": {
                "window_minutes": TRENDING_MINUTES,
                "as_of": now.isoformat(),
                "titles": [{"title_id": r["title_id"], "starts": r["starts"]} for r in top],
            },
        }
