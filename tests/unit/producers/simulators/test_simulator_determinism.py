from __future__ import annotations

from itertools import islice
from typing import Any

import pytest

from producers.simulators import Simulation, parse_mix
from schemas import Envelope, encode

pytestmark = pytest.mark.unit


def wire(events: list[Envelope[Any]]) -> list[bytes]:
    return [encode(e)[0] for e in events]


def test_same_seed_gives_byte_identical_events_ids_and_times(make_stream: Any) -> None:
    a, b = make_stream(42, 5000), make_stream(42, 5000)
    assert wire(a.opening) == wire(b.opening)
    assert wire(a.events) == wire(b.events)
    assert len({e.event_id for e in a.opening + a.events}) == len(a.opening) + 5000


def test_different_seeds_differ(make_stream: Any) -> None:
    a, b = make_stream(1, 500), make_stream(2, 500)
    assert not set(wire(a.events)) & set(wire(b.events))
    assert not {e.event_id for e in a.events} & {e.event_id for e in b.events}
    assert a.sim.catalog != b.sim.catalog


def test_a_shorter_run_is_a_prefix_of_a_longer_one(make_stream: Any) -> None:
    assert wire(make_stream(5, 500).events) == wire(make_stream(5, 1000).events)[:500]


def test_the_mix_stream_does_not_depend_on_publishing_the_opening_stock() -> None:
    with_opening = Simulation(9, parse_mix("orders=1,viewing=1"))
    list(with_opening.initial_stock())
    without = Simulation(9, parse_mix("orders=1,viewing=1"))
    assert wire(list(islice(with_opening.events(), 300))) == wire(
        list(islice(without.events(), 300))
    )


def test_times_come_from_the_simulated_clock(make_stream: Any) -> None:
    run = make_stream(3, 100)
    times = [e.occurred_at for e in run.events]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert times[0].isoformat() == "2025-01-06T08:00:00.100000+00:00"
    assert all(e.occurred_at < times[0] for e in run.opening)
