"""The page in headless Chromium against real workers fed by the simulator.

Needs Debian's ``chromium`` (``apt-get install -y chromium``) and Playwright for Python,
driven with ``executable_path``: no browser is downloaded. The screenshot is saved to
``artifacts/dashboard.png`` (git-ignored).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from riverbed.sandbox import Namespace
from schemas import INVENTORY_TOPIC, ORDERS_TOPIC, VIEWING_TOPIC

pytestmark = pytest.mark.asyncio(loop_scope="session")
playwright = pytest.importorskip("playwright.async_api", reason="Playwright for Python is needed")

CHROMIUM = Path(os.environ.get("RIVERBED_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[3] / "artifacts"
REFRESH_S = 1.0
SLACK_S = 0.3
GROUPS = {"orders": ORDERS_TOPIC, "inventory": INVENTORY_TOPIC, "viewing": VIEWING_TOPIC}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


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
    port = free_port()
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
