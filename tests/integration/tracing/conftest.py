"""Jaeger for the tracing tests: waited for here, and only here.

On a cold machine ``riverbed stack up`` builds Jaeger from its Go module in the
background (about 11 minutes); ``tests/integration/conftest.py`` runs these tests after
every other integration test, so the rest of the suite never waits for that build.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from core.settings import Settings
from riverbed.stack.base import StackPaths
from riverbed.stack.jaeger import Jaeger
from riverbed.stack.process import RunState, pid_alive, tail

BUILD_WAIT_S = 30 * 60  # a cold build under the suite's load; a warm start takes < 1 s


@pytest.fixture(scope="session")
async def jaeger(settings: Settings) -> Jaeger:
    """The local stack's Jaeger once it answers (the ``stack`` fixture started it)."""
    service = Jaeger(settings, StackPaths.from_settings(settings))
    deadline = time.monotonic() + BUILD_WAIT_S
    while not await service.healthy():
        state = RunState.load(service.paths.run, service.name)
        alive = state is not None and pid_alive(state.pid, service.marker)
        if not alive or time.monotonic() > deadline:
            pytest.fail(
                f"Jaeger does not answer at {settings.jaeger_url} "
                f"({'still building' if alive else 'not running'}); its log:\n"
                f"{tail(service.log_file)}"
            )
        await asyncio.sleep(2)
    return service
