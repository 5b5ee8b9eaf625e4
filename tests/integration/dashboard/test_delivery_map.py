"""The delivery map in headless Chromium, against real workers, dispatch and simulated
shoppers: the shoppers move on the map, the dispatch figures fill in, and the read API
answers for an order's delivery and a shopper. Screenshot: artifacts/dashboard-delivery.png.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from riverbed.bench.children import child_env
from riverbed.sandbox import Namespace
from tests.integration.dashboard.test_browser import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    wait_http,
)
from tests.integration.ports import free_ports

pytestmark = pytest.mark.asyncio(loop_scope="session")
playwright = pytest.importorskip("playwright.async_api", reason="Playwright for Python is needed")

SIMULATE = [
    "simulate", "--duration", "60", "--rate", "60", "--seed", "5", "--via", "publisher",
    "--mix", "orders=1,inventory=0,viewing=0", "--shoppers", "4", "--time-scale", "30",
]  # fmt: skip


async def read_map(page: Any) -> dict[str, str]:
    values: dict[str, str] = await page.evaluate(
        """() => ({
            positions: document.getElementById('map').dataset.positions || '',
            legend: document.getElementById('map-legend').textContent,
            p50: document.getElementById('assign-p50').textContent,
            perTrip: document.getElementById('orders-per-trip').textContent,
        })"""
    )
    return values


async def test_the_map_moves_and_the_read_api_answers(ns: Namespace, tmp_path: Path) -> None:
    env = {**os.environ, **ns.env, **child_env(ns.settings)}
    for kind in ("orders", "inventory", "dispatch"):
        ns.start(kind, child_env(ns.settings))
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
            [sys.executable, "-m", "riverbed", *SIMULATE], env=env, stdout=log, stderr=log
        )
        async with playwright.async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = await browser.new_page(viewport={"width": 1440, "height": 1400})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(base)
            # Trips are drawn once dispatch has given some and the shoppers ride them.
            await page.wait_for_function(
                "() => /[1-9][0-9]* busy/.test(document.getElementById('map-legend').textContent)",
                timeout=90_000,
            )
            first = await read_map(page)
            await asyncio.sleep(3.0)
            second = await read_map(page)
            assert first["positions"] and second["positions"] != first["positions"], (first, second)
            assert second["p50"].endswith(" ms") and second["perTrip"] != "\u2013", second
            await page.locator("#delivery").scroll_into_view_if_needed()
            ARTIFACTS.mkdir(exist_ok=True)
            await page.locator("#delivery").screenshot(
                path=str(ARTIFACTS / "dashboard-delivery.png")
            )
            await browser.close()
        assert errors == [], errors

        conn = await ns.owner()
        try:
            row = await conn.fetchrow(
                "select order_id, shopper_id from dispatch_orders join deliveries using (delivery_id) limit 1"
            )
        finally:
            await conn.close()
        assert row is not None
        async with httpx.AsyncClient(base_url=base) as client:
            order = (await client.get(f"/api/orders/{row['order_id']}/delivery")).json()
            assert order["trip"]["shopper_id"] == row["shopper_id"]
            assert order["trip"]["route"][0]["kind"] == "pickup"
            assert row["order_id"] in order["trip"]["order_ids"]
            shopper = (await client.get(f"/api/shoppers/{row['shopper_id']}")).json()
            assert shopper["trips"] >= 1 and shopper["store_id"] == order["store_id"]
            missing = await client.get("/api/shoppers/nobody")
            assert missing.status_code == 404 and "nobody" in missing.text
            bad = await client.get("/api/orders/bad%20id/delivery")
            assert bad.status_code == 422
    finally:
        for proc in (simulator, dashboard):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=30)
        log.close()
        print((tmp_path / "dashboard.log").read_text()[-4000:])
