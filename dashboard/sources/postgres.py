"""PostgreSQL, sampled once a poll on one pooled connection: orders per minute
(confirmed vs rejected, revenue), order totals by status, low-stock SKUs, trending.

Minutes are event time: the window ends at the newest stored order (or view start),
so a replayed or simulated stream shows its own recent past.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from dashboard import queries
from dashboard.stores import Stores

ORDER_MINUTES = 15
TRENDING_MINUTES = 5
TRENDING_TOP = 10


def per_minute(rows: list[Any], latest: datetime | None, minutes: int) -> dict[str, list[Any]]:
    """Columns for the chart: every minute of the window, zeros where nothing happened."""
    if latest is None:
        return {"minute": [], "confirmed": [], "rejected": [], "revenue": []}
    last = latest.replace(second=0, microsecond=0)
    axis = [last - timedelta(minutes=minutes - 1 - i) for i in range(minutes)]
    at = {m: i for i, m in enumerate(axis)}
    out: dict[str, list[Any]] = {
        "minute": [m.timestamp() for m in axis],
        "confirmed": [0] * minutes,
        "rejected": [0] * minutes,
        "revenue": [0.0] * minutes,
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
    def __init__(self, stores: Stores) -> None:
        self._stores = stores
        self.queries = 0  # statements run: the shared-poller test reads it

    async def sample(self) -> dict[str, Any]:
        pool = await self._stores.pool()
        async with pool.acquire() as conn:
            latest = await conn.fetchval(queries.ORDERS_LATEST)
            since = (
                latest.replace(second=0, microsecond=0) - timedelta(minutes=ORDER_MINUTES - 1)
                if latest
                else None
            )
            rows = await conn.fetch(queries.ORDERS_PER_MINUTE, since) if since else []
            statuses = dict(await conn.fetch(queries.ORDERS_BY_STATUS))
            low = await conn.fetchval(queries.LOW_STOCK_COUNT)
            newest_minute = await conn.fetchval(queries.TRENDING_LATEST)
            trending = (
                await conn.fetch(
                    queries.TRENDING,
                    newest_minute - timedelta(minutes=TRENDING_MINUTES),
                    TRENDING_TOP,
                    0,
                )
                if newest_minute
                else []
            )
        self.queries += 4 + bool(since) + bool(newest_minute)
        chart = per_minute(rows, latest, ORDER_MINUTES)
        return {
            "orders": {
                "total": sum(statuses.values()),
                "confirmed": statuses.get("confirmed", 0),
                "rejected": statuses.get("rejected", 0),
                "cancelled": statuses.get("cancelled", 0),
                "as_of": latest.isoformat() if latest else None,
                "per_minute": chart,
                "revenue_window": round(sum(chart["revenue"]), 2),
            },
            "low_stock_skus": low,
            "trending": {
                "window_minutes": TRENDING_MINUTES,
                "as_of": newest_minute.isoformat() if newest_minute else None,
                "titles": [{"title_id": r["title_id"], "starts": r["starts"]} for r in trending],
            },
        }
