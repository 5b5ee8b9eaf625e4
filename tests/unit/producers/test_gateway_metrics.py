"""The gateway's /metrics through the real app and an in-memory broker: every refusal
counted under its reason, publish outcomes timed, and labels bounded (route templates,
known methods, registered event types)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from core.settings import Settings
from producers.errors import PublishRejected, PublishTimeout
from producers.gateway import KeyStore
from producers.gateway.metrics import UNMATCHED, GatewayMetrics, RequestMetrics, route_of
from schemas.registry import OTHER_TYPE
from tests.unit.producers.gateway_fakes import MemoryPublisher, gateway_settings, order, stock

pytestmark = pytest.mark.unit

BOOTSTRAP = "bootstrap-key-for-metrics-tests"
AUTH = {"X-API-Key": BOOTSTRAP}
JSON = {"content-type": "application/json"}


@pytest.fixture
def gw_settings(settings: Settings, tmp_path: Path) -> Settings:
    return gateway_settings(
        settings,
        tmp_path,
        BOOTSTRAP,
        gateway_max_batch=5,
        gateway_auth_failures_per_min=2,
    )


@pytest.fixture
def peer() -> tuple[str, int]:
    return ("10.0.0.7", 4000)


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, frozenset[Any]], float]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def refused(scraped: dict[Any, float]) -> dict[str, float]:
    return {
        dict(labels)["reason"]: v
        for (name, labels), v in scraped.items()
        if name == "riverbed_gateway_events_refused_total"
    }


async def test_each_refusal_is_counted_under_its_reason_with_its_events(
    client: httpx.AsyncClient, key_store: KeyStore
) -> None:
    scoped = {"X-API-Key": key_store.create("stock-only", types=["stock.*"])}
    calls = [
        # (request, its status); the reasons and counts are asserted below
        (client.post("/v1/events", content=b"{", headers=AUTH | JSON), 400),
        (client.post("/v1/events", content=b"<x/>", headers=AUTH), 415),
        (client.post("/v1/events/batch", json=[order(n) for n in range(6)], headers=AUTH), 413),
        (client.post("/v1/events/batch", json=[order(1), order(2)], headers=scoped), 403),
        (client.post("/v1/events/batch", json=[{}, {"type": "x"}, {}], headers=AUTH), 422),
        (client.post("/v1/events/batch", json=[stock(1), {}, order(2)], headers=AUTH), 202),
    ]
    for call, status in calls:
        response = await call
        assert response.status_code == status, response.text
    assert refused(await scrape(client)) == {
        "malformed": 1,
        "unsupported_media_type": 1,
        "too_large": 1,  # refused before the items were counted
        "out_of_scope": 2,
        "invalid": 3 + 1,  # the whole batch of three, and one item of the accepted batch
    }


async def test_failed_authentication_then_throttling_are_two_reasons(
    client: httpx.AsyncClient,
) -> None:
    wrong = {"X-API-Key": "not-a-key"}
    statuses = [(await client.post("/v1/events", json=order(), headers=wrong)).status_code]
    statuses += [(await client.post("/v1/events", json=order(), headers=wrong)).status_code]
    statuses += [(await client.post("/v1/events", json=order(), headers=AUTH)).status_code]
    assert statuses == [401, 401, 429]
    assert refused(await scrape(client)) == {"unauthenticated": 2, "auth_throttled": 1}


async def test_publish_outcomes_are_timed_and_accepted_events_counted_by_type(
    client: httpx.AsyncClient, publisher: MemoryPublisher
) -> None:
    ok = await client.post("/v1/events/batch", json=[order(1), stock(2), order(3)], headers=AUTH)
    assert ok.status_code == 202, ok.text
    publisher.fail = PublishTimeout("no acknowledgement within 5 s")
    assert (await client.post("/v1/events", json=order(4), headers=AUTH)).status_code == 503
    publisher.fail = PublishRejected("message too large")
    assert (await client.post("/v1/events", json=order(5), headers=AUTH)).status_code == 422
    scraped = await scrape(client)

    def count(outcome: str) -> float | None:
        key = frozenset({"outcome": outcome}.items())
        return scraped.get(("riverbed_gateway_publish_seconds_count", key))

    assert (count("acknowledged"), count("failed"), count("refused")) == (1, 1, 1)
    accepted = {
        dict(labels)["type"]: v
        for (name, labels), v in scraped.items()
        if name == "riverbed_gateway_events_accepted_total"
    }
    assert accepted == {"order.placed": 2, "stock.received": 1}
    assert refused(scraped) == {"unavailable": 1, "broker_refused": 1}


async def test_labels_stay_bounded_whatever_the_clients_send(client: httpx.AsyncClient) -> None:
    for n in range(30):
        await client.get(f"/wp-admin/{n}.php")
        await client.request("BREW", f"/coffee/{n}")
    await client.get("/docs/assets/swagger-ui.css")
    await client.get("/v1/events")  # a known route, the wrong method
    scraped = await scrape(client)
    requests = {
        (dict(labels)["route"], dict(labels)["method"], dict(labels)["status"]): v
        for (name, labels), v in scraped.items()
        if name == "riverbed_gateway_requests_total"
    }
    assert requests == {
        (UNMATCHED, "GET", "404"): 30,
        (UNMATCHED, "other", "404"): 30,
        ("/docs/assets/{path}", "GET", "200"): 1,
        ("/v1/events", "GET", "405"): 1,
    }
    # Only POSTs to the event routes count as refused events.
    assert refused(scraped) == {}


def test_route_of_reads_the_template_never_the_path() -> None:
    class Route:
        path = "/v1/events"

    assert route_of({"route": Route(), "path": "/v1/events"}) == "/v1/events"
    assert route_of({"path": "/etc/passwd"}) == UNMATCHED
    # A mount: the prefix it added to root_path, whatever file was asked for.
    assert route_of({"root_path": "/api/docs/assets"}, "/api") == "/docs/assets/{path}"
    assert route_of({"root_path": "/api"}, "/api") == UNMATCHED


def test_accepted_types_outside_the_registry_share_one_label() -> None:
    m = GatewayMetrics()

    class Env:
        def __init__(self, type_: str) -> None:
            self.type = type_

    m.accept([Env("order.placed"), Env("made.up.1"), Env("made.up.2")])  # type: ignore[list-item]
    assert (
        m.registry.get_sample_value("riverbed_gateway_events_accepted_total", {"type": OTHER_TYPE})
        == 2
    )


async def test_an_escaping_error_is_a_500_and_a_cancelled_request_is_not_counted() -> None:
    metrics = GatewayMetrics()

    class Batch:
        path = "/v1/events/batch"

    async def failing(scope: Any, receive: Any, send: Any) -> None:
        scope["route"] = Batch()
        raise RuntimeError("a bug")

    async def cancelled(scope: Any, receive: Any, send: Any) -> None:
        scope["route"] = Batch()
        raise asyncio.CancelledError

    async def nothing(*_: Any) -> None:
        return None

    for inner, raised in ((failing, RuntimeError), (cancelled, asyncio.CancelledError)):
        scope = {"type": "http", "method": "POST", "path": "/v1/events/batch", "root_path": ""}
        with pytest.raises(raised):
            await RequestMetrics(inner, metrics)(scope, nothing, nothing)
    labels = {"route": "/v1/events/batch", "method": "POST", "status": "500"}
    assert metrics.registry.get_sample_value("riverbed_gateway_requests_total", labels) == 1
    count = metrics.registry.get_sample_value(
        "riverbed_gateway_request_seconds_count", {"route": "/v1/events/batch"}
    )
    assert count == 1  # the cancelled one left no trace
    assert (
        metrics.registry.get_sample_value(
            "riverbed_gateway_events_refused_total", {"reason": "internal_error"}
        )
        == 1
    )
