"""One generated stream shared by the simulator tests (generating it takes a second).

Streams are stamped from the fixed epoch (``SimulationConfig.epoch``), not the wall
clock: the tests compare times between events and across runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from typing import Any

import pytest

from producers.simulators import DEFAULT_MIX, Simulation, SimulationConfig, parse_mix
from producers.simulators.clock import EPOCH
from schemas import Envelope

STREAM_EVENTS = 30_000


@dataclass
class Generated:
    sim: Simulation
    opening: list[Envelope[Any]]
    events: list[Envelope[Any]]

    def of_type(self, *types: str) -> list[Envelope[Any]]:
        return [e for e in self.events if e.type in types]


def generate(seed: int, n: int, mix: str = DEFAULT_MIX) -> Generated:
    sim = Simulation(seed, parse_mix(mix), SimulationConfig(epoch=EPOCH))
    return Generated(sim, list(sim.initial_stock()), list(islice(sim.events(), n)))


@pytest.fixture(scope="session")
def generated() -> Generated:
    """Seed 11, default mix: the opening stock and 30,000 events."""
    return generate(11, STREAM_EVENTS)


@pytest.fixture(scope="session")
def make_stream() -> Callable[..., Generated]:
    """``make_stream(seed, n, mix=DEFAULT_MIX)``: a fresh simulation and its events."""
    return generate
