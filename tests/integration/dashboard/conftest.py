"""Fixtures for the dashboard: a seeded sandbox namespace and the app running over it.

PostgreSQL rows are inserted as the owner, so the expected answers are known exactly;
viewing data goes through the real viewing worker (its documents are its own business).
The browser test runs every worker and the simulator instead.

The seeded data lies in January 2025, so the app runs on a :class:`SetClock` (its time
windows end there) that a test may move: ``ORDERS_NOW`` by default, after the last order
and within the active viewers' window; ``TRENDING_NOW`` inside the trending minutes.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from core.settings import Settings
from dashboard import create_app
from riverbed.sandbox import Namespace
from schemas import (
    VIEWING_TOPIC,
    Envelope,
    PlaybackHeartbeat,
    PlaybackStarted,
    PlaybackStopped,
    new_event,
)

T0 = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)
T_TRENDING = T0 + timedelta(hours=1)  # after the viewing worker's own view starts
INVENTORY_S1 = 45
SESSIONS_U1 = 25
ORDERS = 240  # o-0000 .. o-0239, one every 5 s of event time (20 minutes)
TITLES = 30
ORDERS_NOW = T0 + timedelta(minutes=25, seconds=30)
TRENDING_NOW = T_TRENDING + timedelta(minutes=9, seconds=30)  # in the newest trending minute


class SetClock:
    """The dashboard's clock in these tests: a fixed time that a test may set."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def ns_settings(settings: Settings, ns: Namespace) -> Settings:
    return settings.model_copy(
        update=ns.local_settings().model_dump(
            include={"topic_prefix", "group_prefix", "postgres_schema", "mongo_db"}
        )
    )


async def seed_postgres(ns: Namespace) -> None:
    conn = await ns.owner()
    try:
        await conn.execute("insert into stores values ('s-1', 'Store One', 'north')")
        await conn.executemany(
            "insert into inventory (store_id, sku, on_hand, reserved, low, updated_at) "
            "values ($1, $2, $3, $4, $5, $6)",
            [("s-1", f"sku-{i:03}", 10 + i, i % 3, i % 10 == 0, T0) for i in range(INVENTORY_S1)]
            + [("s-2", f"sku-{i:03}", 5, 0, False, T0) for i in range(3)],
        )
        orders, lines, history = [], [], []
        for i in range(ORDERS):
            oid, at = f"o-{i:04}", T0 + timedelta(seconds=5 * i)
            status = "rejected" if i % 5 == 0 else "confirmed"
            orders.append(
                (
                    oid,
                    "s-1",
                    "c-1",
                    status,
                    "out_of_stock" if status == "rejected" else None,
                    Decimal("12.50"),
                    "EUR",
                    at,
                    at,
                    uuid.uuid4(),
                )
            )
            lines += [
                (oid, 1, "sku-001", 1, Decimal("10.00")),
                (oid, 2, "sku-002", 1, Decimal("2.50")),
            ]
            history.append((oid, status, None, uuid.uuid4(), at))
        history.append(("o-0001", "cancelled", "customer", uuid.uuid4(), T0 + timedelta(hours=1)))
        await conn.executemany(
            "insert into orders values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)", orders
        )
        await conn.executemany("insert into order_lines values ($1, $2, $3, $4, $5)", lines)
        await conn.executemany(
            "insert into order_status_history values ($1, $2, $3, $4, $5)", history
        )
        await conn.executemany(
            "insert into title_views_minute values ($1, $2, $3)",
            [
                (f"title-{t:02}", T_TRENDING + timedelta(minutes=m), t + m)
                for t in range(TITLES)
                for m in range(10)
            ],
        )
        for table in (
            "orders",
            "order_lines",
            "order_status_history",
            "inventory",
            "stores",
            "title_views_minute",
        ):
            await conn.execute(f"analyze {table}")
    finally:
        await conn.close()


def playback(
    session: str, user: str, title: str, start: datetime, *, ended: bool
) -> list[Envelope[Any]]:
    """A session's events: started, a heartbeat, and stopped 30 s in when ``ended``."""
    ids = {"session_id": session, "user_id": user, "title_id": title, "context": {"device": "tv"}}
    steps: list[tuple[Any, float]] = [(PlaybackStarted, 0.0), (PlaybackHeartbeat, 10.0)]
    if ended:
        steps.append((PlaybackStopped, 30.0))
    return [
        new_event(
            kind(**ids, position_s=at),
            source="test",
            occurred_at=start + timedelta(seconds=at),
        )
        for kind, at in steps
    ]


def viewing_events() -> list[Envelope[Any]]:
    """u-1 watched A and B (25 sessions, the last 2 still playing); u-2 is playing A.

    Other viewers make the co-watch counts: A+X by four, B+X by one, B+Y by three, A+Z
    by one; so u-1's recommendations are X (5), Y (3), Z (1).
    """
    events = []
    for i in range(SESSIONS_U1):
        title = "A" if i % 2 else "B"
        start = T0 + timedelta(minutes=i)
        events += playback(f"u-1-s{i:02}", "u-1", title, start, ended=i < SESSIONS_U1 - 2)
    events += playback("u-2-s00", "u-2", "A", T0, ended=False)
    pairs = [("A", "X")] * 4 + [("B", "X")] + [("B", "Y")] * 3 + [("A", "Z")]
    for n, (first, second) in enumerate(pairs):
        user, start = f"w{n}", T0 + timedelta(minutes=n)
        events += playback(f"{user}-s0", user, first, start, ended=True)
        events += playback(f"{user}-s1", user, second, start + timedelta(minutes=1), ended=True)
    return events


async def seed_viewing(ns: Namespace) -> None:
    """Through the real viewing worker, so documents have whatever shape it writes."""
    ns.start("viewing")
    await ns.publish(viewing_events())
    await ns.wait_caught_up({"viewing": VIEWING_TOPIC}, wait_s=120)
    ns.stop_all()


@dataclass
class Running:
    ns: Namespace
    settings: Settings
    app: FastAPI
    client: httpx.AsyncClient
    clock: SetClock


@pytest.fixture(scope="package")
async def seeded(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Namespace]:
    """One seeded namespace for the package's read-only tests: seeding it (a viewing
    worker's start and run) was most of each module's 4-5.5 s set-up, four times a suite."""
    ns = Namespace(settings, uuid.uuid4().hex[:10], tmp_path_factory.mktemp("dashboard"))
    await ns.create()
    try:
        await seed_postgres(ns)
        await seed_viewing(ns)
        yield ns
    finally:
        await ns.drop()


@pytest.fixture(scope="module")
async def running(settings: Settings, seeded: Namespace) -> AsyncIterator[Running]:
    """The app over the seeded namespace, one per module (its clock, limits and poller
    start afresh); read-only tests share it."""
    local = ns_settings(settings, seeded)
    clock = SetClock(ORDERS_NOW)
    app = create_app(local, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            yield Running(seeded, local, app, client, clock)
