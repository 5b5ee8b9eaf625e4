"""Property-based fuzzing of the read API from its own OpenAPI document (schemathesis),
against a seeded namespace, in-process, as a loopback client in development.

Whatever is sent (huge offsets, NUL bytes, odd ids), the dashboard must never answer
5xx, and invalid parameters must be refused (4xx). ``/api/stream`` never ends by design,
so it is left out.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from core.settings import get_settings
from dashboard import create_app
from tests.integration.dashboard.conftest import Running

CHECKS = [checks.not_a_server_error, checks.negative_data_rejection]


class LiveDashboard:
    """Forwards requests to the module's running app; its lifespan is the fixture's, so
    schemathesis' own lifespan events are answered here, not passed on."""

    def __init__(self) -> None:
        self.running: Running | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"].removeprefix("lifespan.")
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        if self.running is None:
            raise RuntimeError("no dashboard: the test must use the live fixture")
        await self.running.app(scope, receive, send)


LIVE = LiveDashboard()
schema = schemathesis.openapi.from_dict(create_app(get_settings()).openapi()).exclude(
    path="/api/stream"
)
schema.app = LIVE
schema.config.update(base_url="http://127.0.0.1")


@pytest.fixture
async def live(running: Running) -> Any:
    # Ready first: until the first poll, /readyz and /api/snapshot rightly answer 503.
    for _ in range(150):
        if (await running.client.get("/readyz")).status_code == 200:
            break
        await asyncio.sleep(0.2)
    else:
        pytest.fail("the dashboard never became ready")
    LIVE.running = running
    try:
        yield running
    finally:
        LIVE.running = None


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_5xx_and_invalid_parameters_are_refused(case: Any, live: Running) -> None:
    response = case.call_and_validate(checks=CHECKS)
    assert response.text != "Invalid host header"  # the requests reached the read API
