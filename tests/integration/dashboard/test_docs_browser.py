"""``/docs`` of both apps in headless Chromium: Swagger UI renders from the apps' own
files, and the Content-Security-Policy blocks nothing it needs (no console errors)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from riverbed.sandbox import Namespace
from tests.integration.dashboard.test_browser import CHROMIUM, wait_http
from tests.integration.ports import free_ports

pytestmark = pytest.mark.asyncio(loop_scope="session")
playwright = pytest.importorskip("playwright.async_api", reason="Playwright for Python is needed")


@pytest.mark.parametrize(
    ("command", "title"),
    [
        (["-m", "dashboard"], "Riverbed dashboard"),
        (["-m", "riverbed", "gateway"], "Riverbed gateway"),
    ],
)
async def test_swagger_ui_renders_under_the_csp(
    ns: Namespace, tmp_path: Path, command: list[str], title: str
) -> None:
    (port,) = free_ports(1)
    log = (tmp_path / "app.log").open("wb")
    app = subprocess.Popen(  # noqa: ASYNC220 - a child for this test, not awaited
        [sys.executable, *command, "--port", str(port)],
        env={**os.environ, **ns.env},
        stdout=log,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_http(f"{base}/openapi.json", 60)
        async with playwright.async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=str(CHROMIUM),
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            page = await browser.new_page()
            errors: list[str] = []
            outside: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on(
                "request",
                lambda r: outside.append(r.url) if not r.url.startswith(base) else None,
            )
            response = await page.goto(f"{base}/docs")
            assert response is not None and "content-security-policy" in response.headers
            await page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
            assert title in await page.inner_text(".swagger-ui .info .title")
            await page.wait_for_selector(".opblock", timeout=30_000)  # the operations
            await browser.close()
        assert errors == [], errors
        assert [u for u in outside if not u.startswith("data:")] == []
    finally:
        app.terminate()
        app.wait(timeout=30)
        log.close()
        print((tmp_path / "app.log").read_text()[-3000:])
