"""The page in headless Chromium against real workers fed by the simulator.

Needs Debian's ``chromium`` (``apt-get install -y chromium``) and Playwright for Python,
driven with ``executable_path``: no browser is downloaded. The simulator stamps events
with the wall clock (no ``--epoch``), as in ``riverbed demo``. Screenshots are saved to
``artifacts/dashboard.png`` and ``artifacts/dashboard-orders-minute.png`` (git-ignored).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from riverbed.sandbox import Namespace
from schemas import INVENTORY_TOPIC, ORDERS_TOPIC, VIEWING_TOPIC
from tests.integration.ports import free_ports

pytestmark = pytest.mark.asyncio(loop_scope="session")
playwright = pytest.importorskip("playwright.async_api", reason="Playwright for Python is needed")

CHROMIUM = Path(os.environ.get("RIVERBED_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[3] / "artifacts"
REFRESH_S = 1.0
SLACK_S = 0.3
GROUPS = {"orders": ORDERS_TOPIC, "inventory": INVENTORY_TOPIC, "viewing": VIEWING_TOPIC}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
FUTURE = datetime(2099, 1, 1, tzinfo=UTC)
# The demo's rate and the wall clock (no --epoch); stopped by the test once it has read.
SIMULATE_DEMO_LIKE = ["--duration", "60", "--rate", "200", "--seed", "5", "--via", "publisher"]


async def wait_http(url: str, seconds: float) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(int(seconds * 5)):
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError(f"{url} did not answer 200 in {seconds}s")


async def orders_in_db(ns: Namespace) -> int:
    conn = await ns.owner()
    try:
        count: int = await conn.fetchval("select count(*) from orders")
        return count
    finally:
        await conn.close()


async def read_page(page: Any) -> dict[str, str]:
    values: dict[str, str] = await page.evaluate(
        """() => ({
            orders: document.getElementById('orders-total').dataset.value,
            updated: document.getElementById('updated-at').textContent,
            rate: document.getElementById('events-per-s').textContent,
            confirmed: document.getElementById('orders-confirmed').textContent,
        })"""
    )
    return values


async def test_dashboard_in_a_browser(ns: Namespace, tmp_path: Path) -> None:
    assert CHROMIUM.is_file() or shutil.which("chromium"), (  # noqa: ASYNC240
        "Debian's chromium is missing: apt-get install -y chromium (make setup-browser)"
    )
    env = {**os.environ, **ns.env}
    for kind in GROUPS:
        ns.start(kind)
    (port,) = free_ports(1)
    log = (tmp_path / "dashboard.log").open("wb")
    dashboard = subprocess.Popen(  # noqa: ASYNC220 - a long-lived child, not awaited
        [sys.executable, "-m", "dashboard", "--port", str(port)], env=env, stdout=log, stderr=log
    )
    simulator: subprocess.Popen[bytes] | None = None
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_http(f"{base}/readyz", 60)
        simulator = subprocess.Popen(  # noqa: ASYNC220
            [
                sys.executable,
                "-m",
                "riverbed",
                "simulate",
                "--count",
                "2000",
                "--via",
                "publisher",
                "--rate",
                "200",
                "--seed",
                "5",
            ],
            env=env,
            stdout=log,
            stderr=log,
        )
        async with playwright.async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=str(CHROMIUM),
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            page = await browser.new_page(viewport={"width": 1440, "height": 1000})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(base)
            await page.wait_for_function(
                "() => Number(document.getElementById('orders-total').dataset.value) > 0",
                timeout=60_000,
            )
            # The numbers move while the simulator runs.
            first = await read_page(page)
            await asyncio.sleep(2.5)
            second = await read_page(page)
            assert second["updated"] != first["updated"], (first, second, errors)
            assert int(second["orders"]) > int(first["orders"]), (first, second)
            # While orders flow: what the page shows lies between the database count one
            # refresh interval before the read (plus the poll's query time and the page's
            # render, SLACK_S) and the count after it.
            before = await orders_in_db(ns)
            await asyncio.sleep(REFRESH_S + SLACK_S)
            shown = int((await read_page(page))["orders"])
            after = await orders_in_db(ns)
            assert before <= shown <= after, (before, shown, after)
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
            # Once everything is processed the page shows the exact count.
            assert simulator.wait(timeout=120) == 0
            await ns.wait_caught_up(GROUPS)
            exact = await orders_in_db(ns)
            t0 = time.monotonic()
            await page.wait_for_function(
                f"() => Number(document.getElementById('orders-total').dataset.value) === {exact}",
                timeout=(REFRESH_S * 2 + 1) * 1000,
            )
            assert time.monotonic() - t0 <= REFRESH_S * 2 + 1
            await browser.close()
        assert errors == [], errors
    finally:
        for proc in (simulator, dashboard):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=30)
        log.close()
        print((tmp_path / "dashboard.log").read_text()[-4000:])


async def decided_in_minute(ns: Namespace, minute: datetime) -> tuple[int, int]:
    """Orders confirmed or rejected with their last change in ``minute``, and every
    cancelled order (a cancellation is the one way an order leaves that count)."""
    conn = await ns.owner()
    try:
        row = await conn.fetchrow(
            "select count(*) filter (where status in ('confirmed', 'rejected') "
            "  and updated_at >= $1 and updated_at < $2) as decided, "
            "count(*) filter (where status = 'cancelled') as cancelled from orders",
            minute,
            minute + timedelta(minutes=1),
        )
        assert row is not None
        return int(row["decided"]), int(row["cancelled"])
    finally:
        await conn.close()


async def add_outlier_order(ns: Namespace) -> None:
    """A confirmed order stamped in 2099: the newest stored time for the whole test."""
    conn = await ns.owner()
    try:
        await conn.execute(
            "insert into orders values ($1, 's-outlier', 'c-outlier', 'confirmed', null, $2, "
            "'EUR', $3, $3, $4)",
            "o-outlier",
            Decimal("1000.00"),
            FUTURE,
            uuid.uuid4(),
        )
    finally:
        await conn.close()


async def this_minute(page: Any) -> tuple[float, int]:
    """The page's current minute (epoch seconds) and its orders, confirmed + rejected."""
    shown: list[float] = await page.evaluate(
        """() => { const d = document.getElementById('orders-minute').dataset;
                   return [Number(d.minute), Number(d.confirmed) + Number(d.rejected)]; }"""
    )
    return shown[0], int(shown[1])


@asynccontextmanager
async def live_dashboard(
    ns: Namespace, log_path: Path, extra_env: dict[str, str] | None = None
) -> AsyncIterator[str]:
    """The dashboard over ``ns`` (and ``extra_env``) in a process of its own; yields its
    base URL."""
    (port,) = free_ports(1)
    with log_path.open("ab") as log:
        proc = subprocess.Popen(  # noqa: ASYNC220 - a long-lived child, not awaited
            [sys.executable, "-m", "dashboard", "--port", str(port)],
            env={**os.environ, **ns.env, **(extra_env or {})},
            stdout=log,
            stderr=log,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        await wait_http(f"{base}/readyz", 60)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


async def test_orders_per_minute_counts_the_current_minute(ns: Namespace, tmp_path: Path) -> None:
    """While a demo-like stream runs (workers, simulator on the wall clock at the demo's
    200 events/s), the panel's current minute is the wall clock's, and its count is the
    database's for that minute, although the newest stored order is dated 2099."""
    await add_outlier_order(ns)
    for kind in GROUPS:
        ns.start(kind)
    log_path = tmp_path / "processes.log"
    simulator: subprocess.Popen[bytes] | None = None
    try:
        async with live_dashboard(ns, log_path) as base:
            with log_path.open("ab") as log:
                simulator = subprocess.Popen(  # noqa: ASYNC220
                    [sys.executable, "-m", "riverbed", "simulate", *SIMULATE_DEMO_LIKE],
                    env={**os.environ, **ns.env},
                    stdout=log,
                    stderr=log,
                )
            async with playwright.async_playwright() as pw:
                browser = await pw.chromium.launch(
                    executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
                )
                page = await browser.new_page(viewport={"width": 1440, "height": 1000})
                errors: list[str] = []
                page.on("pageerror", lambda e: errors.append(str(e)))
                await page.goto(base)
                await page.wait_for_function(
                    "() => { const d = document.getElementById('orders-minute').dataset;"
                    "  return Number(d.confirmed) + Number(d.rejected) > 0; }",
                    timeout=60_000,
                )
                # Orders decided in the wall clock's minute m, read before and after the
                # page's value: the page read the database between the two reads (one
                # refresh interval plus slack after the first), so it lies between them,
                # give or take the orders cancelled meanwhile (each leaves the count).
                # A read that straddles a minute boundary is tried again.
                for _ in range(3):
                    minute = datetime.now(UTC).replace(second=0, microsecond=0)
                    before, cancelled_before = await decided_in_minute(ns, minute)
                    await asyncio.sleep(REFRESH_S + SLACK_S)
                    page_minute, shown = await this_minute(page)
                    after, cancelled_after = await decided_in_minute(ns, minute)
                    if datetime.now(UTC) - minute < timedelta(minutes=1):
                        break
                cancelled = cancelled_after - cancelled_before
                print(f"minute {minute:%H:%M}: database {before}..{after}, page {shown}")
                assert page_minute == minute.timestamp(), (page_minute, minute)
                assert shown > 0
                assert before - cancelled <= shown <= after + cancelled, (
                    before,
                    shown,
                    after,
                    cancelled,
                )
                conn = await ns.owner()
                try:
                    assert await conn.fetchval("select max(updated_at) from orders") == FUTURE
                finally:
                    await conn.close()
                ARTIFACTS.mkdir(exist_ok=True)
                await page.screenshot(
                    path=str(ARTIFACTS / "dashboard-orders-minute.png"), full_page=True
                )
                await browser.close()
            assert errors == [], errors
    finally:
        if simulator is not None and simulator.poll() is None:
            simulator.terminate()
            simulator.wait(timeout=30)
        print(log_path.read_text()[-4000:])
