"""One order through the gateway, the orders and the inventory worker, found whole in the
real Jaeger's query API; then followed on the dashboard in headless Chromium.

The gateway runs in-process (tracing to Jaeger over OTLP/HTTP, sampling ratio 1), the
workers as processes of a namespace of this module's own, with service names of their
own (``t<uid>-gateway``, ``t<uid>-orders``, ``t<uid>-inventory``). The screenshot is
saved to ``artifacts/follow-an-order.png`` (git-ignored).
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from core.settings import Settings
from core.tracing import tracing_for
from producers.gateway import create_app
from riverbed.sandbox import Namespace
from riverbed.stack.jaeger import Jaeger
from schemas import INVENTORY_TOPIC, ORDERS_TOPIC
from tests.integration.dashboard.conftest import ns_settings
from tests.integration.dashboard.test_browser import CHROMIUM, CHROMIUM_ARGS, live_dashboard

pytestmark = pytest.mark.asyncio(loop_scope="session")

KEY = "gateway-key-of-the-tracing-test"
ARTIFACTS = Path(__file__).resolve().parents[3] / "artifacts"
STEPS = [
    "accepted",
    "appended",
    "batch wait",
    "decision",
    "commit",
    "decision published",
    "stock movement applied",
]


@dataclass
class Sent:
    ns: Namespace
    settings: Settings
    service: str  # the services' name prefix
    trace_id: str
    order_id: str
    event_id: str


@pytest.fixture(scope="module")
async def sent(
    settings: Settings, jaeger: Jaeger, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Sent]:
    uid = uuid.uuid4().hex[:10]
    ns = Namespace(settings, uid, tmp_path_factory.mktemp("tracing"))
    await ns.create()
    try:
        conn = await ns.owner()
        try:
            await conn.execute("insert into customers (customer_id, name) values ('c-1', 'C')")
            await conn.execute(
                "insert into inventory (store_id, sku, on_hand, updated_at) values ($1, $2, $3, $4)",
                "s-1",
                "A",
                5,
                datetime(2025, 1, 6, tzinfo=UTC),
            )
        finally:
            await conn.close()
        traced = {
            "otel_endpoint": f"http://{jaeger.host}:{jaeger.otlp_port}",
            "otel_sample_ratio": 1.0,
            "otel_service_name": f"t{uid}",
        }
        env = {f"RIVERBED_{k.upper()}": str(v) for k, v in traced.items()}
        for kind in ("orders", "inventory"):
            ns.start(kind, env)
        local = ns_settings(settings, ns).model_copy(
            update={**traced, "gateway_api_key": SecretStr(KEY)}
        )
        tracing = tracing_for(local, "gateway")
        assert tracing is not None
        trace_id = secrets.token_hex(16)
        app = create_app(local, tracing=tracing)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
                answer = await client.post(
                    "/v1/events",
                    json={
                        "type": "order.placed",
                        "version": 1,
                        "payload": {
                            "order_id": f"o-{uid}",
                            "customer_id": "c-1",
                            "store_id": "s-1",
                            "lines": [
                                {"sku": "A", "quantity": 2, "unit_price": "4.00", "currency": "EUR"}
                            ],
                        },
                    },
                    headers={"X-API-Key": KEY, "traceparent": f"00-{trace_id}-{'1' * 16}-01"},
                )
        assert answer.status_code == 202, answer.text
        assert tracing.flush()
        await ns.wait_caught_up({"orders": ORDERS_TOPIC, "inventory": INVENTORY_TOPIC}, wait_s=60)
        yield Sent(ns, local, f"t{uid}", trace_id, f"o-{uid}", answer.json()["event_id"])
    finally:
        await ns.drop()


async def whole_trace(sent: Sent, wait_s: float = 30) -> dict[str, Any]:
    """The trace from Jaeger once it holds the spans of all three services (the workers
    export every few seconds)."""
    want = {f"{sent.service}-{c}" for c in ("gateway", "orders", "inventory")}
    url = f"{sent.settings.jaeger_url.rstrip('/')}/api/traces/{sent.trace_id}"
    found: dict[str, Any] = {}
    async with httpx.AsyncClient(timeout=5) as client:
        for _ in range(int(wait_s * 2)):
            answer = await client.get(url)
            if answer.status_code == 200:
                found = answer.json()["data"][0]
                services = {p["serviceName"] for p in found["processes"].values()}
                names = {s["operationName"] for s in found["spans"]}
                if want <= services and {"transaction", "skip stock.reserved"} <= names:
                    return found
            await asyncio.sleep(0.5)
    raise AssertionError(f"Jaeger never held the whole trace {sent.trace_id}: {found}")


async def test_the_whole_trace_is_in_jaeger(sent: Sent) -> None:
    found = await whole_trace(sent)
    spans = found["spans"]
    service = {k: p["serviceName"] for k, p in found["processes"].items()}
    by_name = {(service[s["processID"]], s["operationName"]): s for s in spans}
    assert {s["traceID"] for s in spans} == {sent.trace_id}

    gateway = f"{sent.service}-gateway"
    server = by_name[(gateway, "POST /v1/events")]
    send = next(
        s for (svc, name), s in by_name.items() if svc == gateway and name.startswith("send ")
    )
    assert [r["spanID"] for r in server["references"]] == ["1" * 16]  # the caller's parent
    assert {r["spanID"] for r in send["references"]} == {server["spanID"]}
    tags = {t["key"]: t["value"] for t in send["tags"]}
    assert tags["messaging.message.id"] == sent.event_id
    assert tags["messaging.destination.name"] == sent.ns.topic(ORDERS_TOPIC)

    orders = f"{sent.service}-orders"
    batch = by_name[(orders, f"process {sent.ns.topic(ORDERS_TOPIC)}")]
    assert send["spanID"] in {r["spanID"] for r in batch["references"]}
    transaction = by_name[(orders, "transaction")]
    assert {t["key"]: t["value"] for t in transaction["tags"]}["db.system.name"] == "postgresql"
    assert [r["spanID"] for r in transaction["references"]] == [batch["spanID"]]
    decide = by_name[(orders, "decide")]
    assert [r["spanID"] for r in decide["references"]] == [transaction["spanID"]]
    published = by_name[(orders, "outbox publish")]
    # order.confirmed, stock.reserved and stock.low (3 of 5 left, below the default 5)
    assert {t["key"]: t["value"] for t in published["tags"]}["riverbed.emitted"] == 3

    skipped = by_name[(f"{sent.service}-inventory", "skip stock.reserved")]
    assert skipped["startTime"] >= transaction["startTime"]


async def test_follow_the_order_on_the_dashboard(sent: Sent, tmp_path: Path) -> None:
    assert CHROMIUM.is_file(), "Debian's chromium is missing: apt-get install -y chromium"
    playwright = pytest.importorskip("playwright.async_api")
    await whole_trace(sent)
    log_path = tmp_path / "dashboard.log"
    try:
        async with (
            live_dashboard(sent.ns, log_path, {"RIVERBED_OTEL_SERVICE_NAME": sent.service}) as base,
            playwright.async_playwright() as pw,
        ):
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = await browser.new_page(viewport={"width": 1440, "height": 1400})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(base)
            await page.fill("#follow-id", sent.order_id)
            await page.click("#follow-form button")
            await page.wait_for_function(
                f"() => document.querySelectorAll('#follow-steps tr').length >= {len(STEPS)}",
                timeout=20_000,
            )
            shown = await page.evaluate(
                """() => [...document.querySelectorAll('#follow-steps tr')].map(
                    (tr) => [...tr.cells].map((td) => td.textContent))"""
            )
            link = await page.get_attribute("#follow-link", "href")
            await page.locator("#follow").scroll_into_view_if_needed()
            ARTIFACTS.mkdir(exist_ok=True)
            await page.locator("#follow").screenshot(path=str(ARTIFACTS / "follow-an-order.png"))
            await browser.close()
        assert [row[0] for row in shown] == STEPS, shown
        assert all(row[2].endswith(" ms") for row in shown), shown
        appended = shown[1]
        assert appended[4].startswith(sent.ns.topic(ORDERS_TOPIC) + " / partition "), appended
        assert "skipped" in shown[-1][4], shown[-1]
        assert link == f"{sent.settings.jaeger_url.rstrip('/')}/trace/{sent.trace_id}"
        assert errors == []
    finally:
        print(log_path.read_text()[-3000:])
