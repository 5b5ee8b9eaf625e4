"""The read API over a seeded namespace: found, not found and pagination everywhere."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from processors.kinds import KINDS
from tests.integration.dashboard.conftest import (
    INVENTORY_S1,
    ORDERS,
    ORDERS_NOW,
    SESSIONS_U1,
    T0,
    TITLES,
    TRENDING_NOW,
    Running,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

LIST_ENDPOINTS = [
    "/api/stores/s-1/inventory",
    "/api/users/u-1/sessions",
    "/api/users/u-1/recommendations",
    "/api/trending",
]


@pytest.fixture
def trending_time(running: Running) -> Iterator[None]:
    """The dashboard's clock inside the seeded trending minutes, for one test."""
    running.clock.at = TRENDING_NOW
    yield
    running.clock.at = ORDERS_NOW


def assert_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()["error"]
    assert body["status"] == status and body["message"]
    return body


async def test_order_with_lines_and_history(running: Running) -> None:
    r = await running.client.get("/api/orders/o-0001")
    assert r.status_code == 200, r.text
    order = r.json()
    assert order["order_id"] == "o-0001" and order["status"] == "confirmed"
    assert order["total"] == "12.50" and order["currency"] == "EUR"
    assert [(line["line_no"], line["sku"]) for line in order["lines"]] == [
        (1, "sku-001"),
        (2, "sku-002"),
    ]
    assert [h["status"] for h in order["history"]] == ["confirmed", "cancelled"]
    assert order["history"][1]["reason"] == "customer"


async def test_unknown_order_is_404(running: Running) -> None:
    body = assert_error(await running.client.get("/api/orders/nope"), 404)
    assert "nope" in body["message"]


async def test_inventory_pages_by_sku(running: Running) -> None:
    first = (await running.client.get("/api/stores/s-1/inventory")).json()
    assert (first["store_id"], first["name"], first["region"]) == ("s-1", "Store One", "north")
    assert first["total"] == INVENTORY_S1 and (first["limit"], first["offset"]) == (20, 0)
    assert [i["sku"] for i in first["items"]] == [f"sku-{i:03}" for i in range(20)]
    last = (await running.client.get("/api/stores/s-1/inventory?limit=20&offset=40")).json()
    assert [i["sku"] for i in last["items"]] == [f"sku-{i:03}" for i in range(40, 45)]
    item = last["items"][0]
    assert item["available"] == item["on_hand"] - item["reserved"] and item["low"] is True
    past = (await running.client.get("/api/stores/s-1/inventory?offset=500")).json()
    assert past["items"] == [] and past["total"] == INVENTORY_S1


async def test_store_known_only_from_its_stock_is_found(running: Running) -> None:
    r = (await running.client.get("/api/stores/s-2/inventory")).json()
    assert r["name"] is None and r["total"] == 3


async def test_unknown_store_is_404(running: Running) -> None:
    assert_error(await running.client.get("/api/stores/s-404/inventory"), 404)


async def test_sessions_newest_first_with_pages(running: Running) -> None:
    first = (await running.client.get("/api/users/u-1/sessions?limit=10")).json()
    assert first["total"] == SESSIONS_U1
    assert [s["session_id"] for s in first["items"]] == [f"u-1-s{i:02}" for i in range(24, 14, -1)]
    assert first["items"][0]["state"] == "playing" and first["items"][0]["ended_at"] is None
    last = (await running.client.get("/api/users/u-1/sessions?limit=10&offset=20")).json()
    assert [s["session_id"] for s in last["items"]] == [f"u-1-s{i:02}" for i in range(4, -1, -1)]


async def test_unknown_user_sessions_is_404(running: Running) -> None:
    assert_error(await running.client.get("/api/users/nobody/sessions"), 404)


async def test_recommendations_from_co_watched_titles(running: Running) -> None:
    r = (await running.client.get("/api/users/u-1/recommendations")).json()
    assert r["based_on"] == ["B", "A"]
    assert r["model_version"] is None and r["time_of_day"] == "morning"  # ORDERS_NOW: 08:25
    # X: 4 viewers with A + 1 with B; Y: 3 with B; Z: 1 with A; A and B were watched.
    # No model is trained here: co-watch first, then trending of the hour before.
    top = [(i["title_id"], i["source"], i["because"]) for i in r["items"][:3]]
    assert top == [
        ("X", "co_watch", ["A", "B"]),
        ("Y", "co_watch", ["B"]),
        ("Z", "co_watch", ["A"]),
    ]
    assert {i["source"] for i in r["items"][3:]} <= {"trending"}
    scores = [i["score"] for i in r["items"]]
    assert scores == sorted(scores, reverse=True)
    page = (await running.client.get("/api/users/u-1/recommendations?limit=1&offset=1")).json()
    assert [i["title_id"] for i in page["items"]] == ["Y"]


async def test_recommendations_at_a_time_that_is_not_a_time(running: Running) -> None:
    body = assert_error(await running.client.get("/api/users/u-1/recommendations?at=noon"), 422)
    assert "at" in str(body)


async def test_recommendations_of_a_user_without_ended_sessions_are_empty(
    running: Running,
) -> None:
    r = await running.client.get("/api/users/u-2/recommendations")
    # u-2 has no history (no co-watch) and no model rows: only what is trending remains.
    assert r.status_code == 200
    assert {i["source"] for i in r.json()["items"]} <= {"trending"}


async def test_unknown_user_recommendations_is_404(running: Running) -> None:
    assert_error(await running.client.get("/api/users/nobody/recommendations"), 404)


@pytest.mark.usefixtures("trending_time")
async def test_trending_in_a_window_of_event_time(running: Running) -> None:
    r = (await running.client.get("/api/trending?window=1&limit=3")).json()
    # Only the current minute (m = 9): title t started t + 9 times.
    assert r["as_of"].startswith("2025-01-06T09:09:30")
    expected = [(f"title-{t:02}", t + 9) for t in range(TITLES - 1, TITLES - 4, -1)]
    assert [(i["title_id"], i["starts"]) for i in r["items"]] == expected
    wide = (await running.client.get("/api/trending?window=60&limit=2&offset=1")).json()
    top = TITLES - 1
    assert [i["starts"] for i in wide["items"]] == [
        sum(top - 1 + m for m in range(10)),
        sum(top - 2 + m for m in range(10)),
    ]


async def test_trending_of_an_empty_window_is_empty_not_an_error(running: Running) -> None:
    r = (await running.client.get("/api/trending?offset=99")).json()
    assert r["items"] == []


async def test_trending_ends_now_not_at_the_newest_start(running: Running) -> None:
    # Before any seeded view start nothing has started yet, however recent the newest
    # stored minute; eight minutes after the last, a 5-minute window is empty again.
    running.clock.at = T0 - timedelta(hours=1)
    try:
        assert (await running.client.get("/api/trending?window=60")).json()["items"] == []
        running.clock.at = TRENDING_NOW + timedelta(minutes=8)
        assert (await running.client.get("/api/trending?window=5")).json()["items"] == []
        wide = (await running.client.get("/api/trending?window=20&limit=1")).json()["items"]
        assert wide == [
            {"title_id": f"title-{TITLES - 1:02}", "starts": sum(TITLES - 1 + m for m in range(10))}
        ]
    finally:
        running.clock.at = ORDERS_NOW


@pytest.mark.parametrize("path", LIST_ENDPOINTS)
@pytest.mark.parametrize("query", ["limit=0", "limit=101", "offset=-1", "limit=x"])
async def test_pagination_out_of_range_is_422(running: Running, path: str, query: str) -> None:
    body = assert_error(await running.client.get(f"{path}?{query}"), 422)
    assert body["details"][0]["loc"][0] == "query"


async def test_trending_window_out_of_range_is_422(running: Running) -> None:
    assert_error(await running.client.get("/api/trending?window=0"), 422)
    assert_error(await running.client.get("/api/trending?window=1441"), 422)


async def test_openapi_docs_list_every_endpoint(running: Running) -> None:
    assert (await running.client.get("/docs")).status_code == 200
    paths = (await running.client.get("/openapi.json")).json()["paths"]
    for path in (
        "/api/orders/{order_id}",
        "/api/stores/{store_id}/inventory",
        "/api/users/{user_id}/sessions",
        "/api/users/{user_id}/recommendations",
        "/api/trending",
        "/api/stream",
        "/healthz",
        "/readyz",
        "/metrics",
    ):
        assert path in paths, path


async def test_health_readiness_metrics_and_snapshot(running: Running) -> None:
    assert (await running.client.get("/healthz")).json() == {"status": "ok"}
    for _ in range(150):
        if (await running.client.get("/readyz")).status_code == 200:
            break
        await asyncio.sleep(0.2)
    else:
        pytest.fail("the dashboard never became ready")
    snapshot = await snapshot_at(running, ORDERS_NOW.isoformat())
    orders = snapshot["postgres"]["orders"]
    assert orders["total"] == ORDERS
    assert (orders["confirmed"], orders["rejected"]) == (ORDERS - ORDERS // 5, ORDERS // 5)
    # The 15 minutes up to the clock's (08:11 to 08:25): the seeded orders, one every 5 s
    # from 08:00 to 08:19:55, each fifth one rejected, EUR 12.50 each.
    chart = orders["per_minute"]
    minutes = [T0 + timedelta(minutes=m) for m in range(11, 26)]
    assert chart["minute"] == [m.timestamp() for m in minutes]
    placed = [T0 + timedelta(seconds=5 * i) for i in range(ORDERS)]

    def decided(minute: Any, rejected: bool) -> int:
        return sum(
            1
            for i, at in enumerate(placed)
            if at.replace(second=0) == minute and (i % 5 == 0) == rejected
        )

    assert chart["confirmed"] == [decided(m, False) for m in minutes]
    assert chart["rejected"] == [decided(m, True) for m in minutes]
    assert orders["revenue_window"] == 12.5 * sum(chart["confirmed"])
    assert snapshot["postgres"]["low_stock_skus"] == 5
    # Playing or paused, started in the 15 minutes up to the clock: u-1's last two
    # sessions (08:23 and 08:24); u-2's, playing since 08:00, is too old.
    assert snapshot["viewing"]["active_viewers"] == 2
    assert [g["kind"] for g in snapshot["kafka"]["groups"]] == list(KINDS)  # dispatch too
    metrics = (await running.client.get("/metrics")).text
    assert "riverbed_dashboard_polls_total" in metrics
    assert 'riverbed_dashboard_service_up{service="postgres"} 1.0' in metrics


async def snapshot_at(running: Running, as_of: str) -> dict[str, Any]:
    """The first snapshot whose PostgreSQL and MongoDB parts were read at ``as_of``."""
    for _ in range(100):
        snapshot: dict[str, Any] = (await running.client.get("/api/snapshot")).json()
        parts = (snapshot.get("postgres", {}).get("orders", {}), snapshot.get("viewing", {}))
        if all(part.get("as_of") == as_of for part in parts):
            return snapshot
        await asyncio.sleep(0.2)
    pytest.fail(f"no snapshot read at {as_of}")


async def test_page_and_vendored_chart_library(running: Running) -> None:
    page = await running.client.get("/")
    assert page.status_code == 200 and "/vendor/uPlot.iife.min.js" in page.text
    lib = await running.client.get("/vendor/uPlot.iife.min.js")
    assert lib.status_code == 200 and "uPlot" in lib.text
    assert (await running.client.get("/static/app.js")).status_code == 200
    assert_error(await running.client.get("/vendor/other.js"), 404)
