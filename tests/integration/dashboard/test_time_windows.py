"""Outliers cannot freeze a panel: every window ends at the dashboard's clock.

Before, windows ended at the newest stored time, so one order stamped in 2099 (a test's
leftover, a client with a wrong clock) held "orders per minute" and "revenue" in 2099,
and the live orders were never shown. Rows go straight into a namespace of their own
(as the owner); the sources read them as the dashboard does, on a clock the test moves
a minute forward like the wall clock would.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from core.settings import Settings
from dashboard.clock import minute_of
from dashboard.sources.mongo import MongoSource
from dashboard.sources.postgres import ORDER_MINUTES, PostgresSource
from dashboard.stores import Stores
from riverbed.sandbox import Namespace
from stores.mongo.viewing import OPEN
from tests.integration.dashboard.conftest import SetClock, ns_settings

pytestmark = pytest.mark.asyncio(loop_scope="session")

PRICE = Decimal("20.00")
FUTURE = datetime(2099, 1, 1, tzinfo=UTC)
PAST = datetime(2001, 1, 1, tzinfo=UTC)


@pytest.fixture
async def stores(settings: Settings, ns: Namespace) -> AsyncIterator[Stores]:
    s = Stores(ns_settings(settings, ns))
    yield s
    await s.close()


async def add_orders(ns: Namespace, times: list[datetime], total: Decimal = PRICE) -> None:
    conn = await ns.owner()
    try:
        await conn.execute(
            "insert into stores values ('s-1', 'Store One', 'north') on conflict do nothing"
        )
        await conn.executemany(
            "insert into orders values ($1, 's-1', 'c-1', 'confirmed', null, $2, 'EUR', $3, $3, $4)",
            [(f"o-{uuid.uuid4().hex[:12]}", total, at, uuid.uuid4()) for at in times],
        )
    finally:
        await conn.close()


async def test_an_outlier_order_does_not_freeze_the_orders_panel(
    ns: Namespace, stores: Stores
) -> None:
    clock = SetClock(datetime.now(UTC))
    minute = minute_of(clock.at)
    # Outliers first: the newest stored order is in 2099, the oldest in 2001.
    await add_orders(ns, [FUTURE, PAST], total=Decimal("1000.00"))
    await add_orders(ns, [minute + timedelta(seconds=s) for s in range(0, 60, 10)])  # 6
    source = PostgresSource(stores, clock=clock)

    orders = (await source.sample())["orders"]
    chart = orders["per_minute"]
    assert len(chart["minute"]) == ORDER_MINUTES
    assert chart["minute"][-1] == minute.timestamp()  # the current minute, not 2099's
    assert chart["confirmed"][-1] == 6 and sum(chart["confirmed"]) == 6
    assert orders["revenue_window"] == float(6 * PRICE)  # neither outlier's EUR 1,000
    assert orders["total"] == 8 and orders["as_of"] == clock.at.isoformat()

    # A minute later, new orders show in the new current minute; the last minute's stay.
    clock.at += timedelta(minutes=1)
    await add_orders(ns, [minute + timedelta(minutes=1, seconds=s) for s in (5, 6, 7)])
    chart = (await source.sample())["orders"]["per_minute"]
    assert chart["minute"][-1] == (minute + timedelta(minutes=1)).timestamp()
    assert chart["confirmed"][-2:] == [6, 3]


async def test_trending_and_active_viewers_end_now(ns: Namespace, stores: Stores) -> None:
    clock = SetClock(datetime.now(UTC))
    minute = minute_of(clock.at)
    conn = await ns.owner()
    try:
        await conn.executemany(
            "insert into title_views_minute values ($1, $2, $3)",
            [
                ("title-now", minute, 4),
                ("title-earlier", minute - timedelta(minutes=3), 2),
                ("title-future", minute_of(FUTURE), 99),
                ("title-old", minute - timedelta(minutes=30), 50),
            ],
        )
    finally:
        await conn.close()
    sessions: list[dict[str, Any]] = [
        {"_id": "now", "state": "playing", "started_at": clock.at - timedelta(minutes=1)},
        {  # started long ago, still sending events
            "_id": "long",
            "state": "paused",
            "started_at": clock.at - timedelta(hours=2),
            "last_event_at": clock.at - timedelta(minutes=2),
        },
        {"_id": "future", "state": "playing", "started_at": FUTURE},
        {"_id": "quiet", "state": "playing", "started_at": clock.at - timedelta(minutes=40)},
        {"_id": "ended", "state": "completed", "started_at": clock.at - timedelta(minutes=1)},
    ]
    await stores.mongo()[OPEN].insert_many(sessions)  # the sessions in flight

    trending = (await PostgresSource(stores, clock=clock).sample())["trending"]
    assert trending["titles"] == [
        {"title_id": "title-now", "starts": 4},
        {"title_id": "title-earlier", "starts": 2},
    ]
    viewing = await MongoSource(stores, active_minutes=15, clock=clock).sample()
    assert viewing["active_viewers"] == 2  # "now" and "long"
    # Twenty minutes on, with nothing new, the panels empty instead of freezing.
    clock.at += timedelta(minutes=20)
    assert (await PostgresSource(stores, clock=clock).sample())["trending"]["titles"] == []
    assert (await MongoSource(stores, active_minutes=15, clock=clock).sample())[
        "active_viewers"
    ] == 0
