"""The reduced fault suite (``riverbed chaos --quick``) on the real stack.

Each scenario runs a few thousand seeded events through real workers while its fault
hits, then the tables must equal what the decision logic computes from the same input.
The broker, PostgreSQL and FerretDB scenarios restart the local stack's own services
through the stack manager and leave every service healthy again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from core.settings import Settings
from riverbed.chaos.report import Result
from riverbed.chaos.runner import SCENARIOS, Scenario, run_scenario
from riverbed.stack.manager import Stack
from riverbed.stack.process import RunState, pid_alive

pytestmark = pytest.mark.integration

RESTARTS = {"broker": "kafka", "postgres": "postgres", "ferretdb": "ferretdb"}
# Scenarios that touch only their own namespace and workers, and whose checks are counts
# (nothing lost, duplicated or left undelivered), not timings: they run at once, started
# with the first of them. Mostly they wait (killed workers' sessions time out, 10 s a
# kill), so together they took 39.4 s where one after the other took 73 s (37.5 + 28.2 +
# 7.2 s in the suite). The restart scenarios wait for them (they would hit their streams),
# and slow-db runs alone (its check samples throughput in a window).
TOGETHER = ("workers", "poison", "dispatch")
POISON_REASONS = (
    "decode_error: malformed JSON",
    "unknown_event_type",
    "unknown_event_version",
    "validation_failed",  # invalid payload
    "exceeds",  # oversized message
)


def managed(stack: Stack, name: str) -> bool:
    service = next(s for s in stack.services if s.name == name)
    state = RunState.load(stack.paths.run, name)
    return bool(state and state.managed and pid_alive(state.pid, service.marker))


class Together:
    """The TOGETHER scenarios selected in this session, started at once on first use."""

    def __init__(self, settings: Settings, keys: list[str]) -> None:
        self.settings = settings
        self.keys = keys
        self.runs: dict[str, asyncio.Task[Result]] = {}

    def start(self) -> None:
        if not self.runs:
            for scenario in SCENARIOS:
                if scenario.key in self.keys:
                    self.runs[scenario.key] = asyncio.create_task(
                        run_scenario(self.settings, scenario, quick=True, say=print, seed=7)
                    )

    async def done(self) -> None:
        """Until every one that started has finished (before a service restart)."""
        await asyncio.gather(*self.runs.values(), return_exceptions=True)


@pytest.fixture(scope="module")
async def together(settings: Settings, request: pytest.FixtureRequest) -> AsyncIterator[Together]:
    selected = [
        item.callspec.params["scenario"].key
        for item in request.session.items
        if item.module is request.module and hasattr(item, "callspec")
    ]
    group = Together(settings, [k for k in TOGETHER if k in selected])
    yield group
    for task in group.runs.values():
        task.cancel()
    await group.done()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.key for s in SCENARIOS])
async def test_quick_fault_scenario_loses_and_duplicates_nothing(
    settings: Settings, stack: Stack, scenario: Scenario, together: Together
) -> None:
    service = RESTARTS.get(scenario.key)
    if service and not managed(stack, service):
        pytest.skip(f"{service} was not started by `riverbed stack up`; it is not ours to restart")

    if scenario.key in TOGETHER:
        together.start()
        result = await together.runs[scenario.key]
    else:
        await together.done()  # nothing else streams while a service restarts
        result = await run_scenario(settings, scenario, quick=True, say=print, seed=7)

    assert result.catch_up_s is not None, result.notes
    assert (result.lost, result.duplicated) == (0, 0), result.details.get("checks")
    assert result.passed, result.notes
    if scenario.poison:
        reasons = result.details["dead_letters"]
        for fragment in POISON_REASONS:
            assert any(fragment in r for r in reasons), (fragment, reasons)
    statuses = await stack.status()
    # Jaeger may still be building from its Go module on a cold machine: not a fault.
    assert all(s.state in ("running", "external", "building") for s in statuses), statuses
