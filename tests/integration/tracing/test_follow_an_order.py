"""One order through ``riverbed demo``: posted to the demo's gateway with a known
``traceparent``, found whole (gateway, orders worker with its database span, inventory
worker) in the real Jaeger's query API; then followed on the demo's own dashboard in
headless Chromium while the demo runs.

The demo runs as a subprocess in a namespace of this module's own (topics, groups,
schema, ports, data dir) with service names of its own (``t<uid>-gateway``,
``t<uid>-orders``, ``t<uid>-inventory``), its simulator posting through the same
gateway. The screenshot is saved to ``artifacts/follow-an-order.png`` (git-ignored).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.settings import Settings
from riverbed.sandbox import Namespace
from riverbed.stack.jaeger import Jaeger
from schemas import ORDERS_TOPIC
from tests.integration.dashboard.test_browser import CHROMIUM, CHROMIUM_ARGS
from tests.integration.ports import free_ports

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
# The demo's simulator, slowed down: it only has to run beside the order followed here.
DEMO_RATE = "20"
DEMO_READY_S = 90


@dataclass
class Sent:
    ns: Namespace
    settings: Settings
    service: str  # the services' name prefix
    trace_id: str
    order_id: str
    event_id: str
    dashboard: str  # the demo's dashboard, base URL


async def wait_ready(url: str, demo: asyncio.subprocess.Process, log: Path) -> None:
    async with httpx.AsyncClient(timeout=3) as client:
        for _ in range(DEMO_READY_S * 2):
            if demo.returncode is not None:
                break
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)
    said = await asyncio.to_thread(log.read_text)
    raise AssertionError(f"{url} of the demo not ready:\n{said[-3000:]}")


@pytest.fixture(scope="module")
async def sent(
    settings: Settings, jaeger: Jaeger, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Sent]:
    uid = uuid.uuid4().hex[:10]
    tmp = tmp_path_factory.mktemp("tracing")
    ns = Namespace(settings, uid, tmp)
    await ns.create()
    demo: asyncio.subprocess.Process | None = None
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
        gateway_port, dashboard_port = free_ports(2)
        gateway = f"http://127.0.0.1:{gateway_port}"
        data_dir = tmp / "data"
        env = {
            **os.environ,
            **ns.env,
            "RIVERBED_DATA_DIR": str(data_dir),
            "RIVERBED_GATEWAY_KEYS_FILE": str(data_dir / "api-keys.json"),
            "RIVERBED_GATEWAY_API_KEY": KEY,
            "RIVERBED_GATEWAY_PORT": gateway.rsplit(":", 1)[1],
            "RIVERBED_GATEWAY_URL": gateway,
            "RIVERBED_DASHBOARD_PORT": str(dashboard_port),
            "RIVERBED_OTEL_ENDPOINT": f"http://{jaeger.host}:{jaeger.otlp_port}",
            "RIVERBED_OTEL_SERVICE_NAME": f"t{uid}",
            # Only the order posted here with a sampled traceparent is kept (parent-based
            # sampling): a kept simulator order in the same batch could parent the batch
            # span in its own trace instead.
            "RIVERBED_OTEL_SAMPLE_RATIO": "0",
            # Spans leave every 0.5 s instead of the SDK's 5 s: the trace is whole sooner.
            "OTEL_BSP_SCHEDULE_DELAY": "500",
            "PYTHONUNBUFFERED": "1",
        }
        for name in ("postgres_dsn", "postgres_owner_dsn", "postgres_reader_dsn"):
            env[f"RIVERBED_{name.upper()}"] = getattr(ns.settings, name).get_secret_value()
        log = tmp / "demo.out"
        with log.open("wb") as out:
            demo = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "riverbed",
                "demo",
                "--rate",
                DEMO_RATE,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        await wait_ready(f"{gateway}/readyz", demo, log)
        trace_id = secrets.token_hex(16)
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.post(
                f"{gateway}/v1/events",
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
        dashboard = f"http://127.0.0.1:{dashboard_port}"
        await wait_ready(f"{dashboard}/readyz", demo, log)
        yield Sent(
            ns, settings, f"t{uid}", trace_id, f"o-{uid}", answer.json()["event_id"], dashboard
        )
    finally:
        if demo is not None and demo.returncode is None:
            os.killpg(demo.pid, signal.SIGTERM)  # the demo stops its children itself
            try:
                await asyncio.wait_for(demo.wait(), 60)
            except TimeoutError:
                os.killpg(demo.pid, signal.SIGKILL)
        await ns.drop()


async def whole_trace(sent: Sent, wait_s: float = 30) -> dict[str, Any]:
    """The trace from Jaeger once it holds the spans of all three services (the workers
    export every few seconds; the outbox's publisher ends its span after the batch's)."""
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
                if (
                    want <= services
                    and {"transaction", "outbox publish", "skip stock.reserved"} <= names
                ):
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
    # At least order.confirmed, stock.reserved and stock.low (3 of 5 left, below the
    # default 5); the demo's own orders may share the batch.
    assert {t["key"]: t["value"] for t in published["tags"]}["riverbed.emitted"] >= 3

    skipped = by_name[(f"{sent.service}-inventory", "skip stock.reserved")]
    assert skipped["startTime"] >= transaction["startTime"]


async def test_follow_the_order_on_the_demos_dashboard(sent: Sent) -> None:
    assert CHROMIUM.is_file(), "Debian's chromium is missing: apt-get install -y chromium"
    playwright = pytest.importorskip("playwright.async_api")
    await whole_trace(sent)
    async with playwright.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1440, "height": 1400})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        await page.goto(sent.dashboard)
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
