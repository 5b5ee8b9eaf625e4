from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

import pytest

from producers.simulators import Simulation, SimulationConfig, parse_mix
from producers.simulators.clock import EPOCH, WallClock
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
    config = SimulationConfig(epoch=EPOCH)
    with_opening = Simulation(9, parse_mix("orders=1,viewing=1"), config)
    list(with_opening.initial_stock())
    without = Simulation(9, parse_mix("orders=1,viewing=1"), config)
    assert wire(list(islice(with_opening.events(), 300))) == wire(
        list(islice(without.events(), 300))
    )


def test_times_come_from_the_simulated_clock(make_stream: Any) -> None:
    run = make_stream(3, 100)
    times = [e.occurred_at for e in run.events]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert times[0].isoformat() == "2025-01-06T08:00:00.100000+00:00"
    assert all(e.occurred_at < times[0] for e in run.opening)


def test_wall_clock_stamps_never_go_back() -> None:
    t = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    readings = iter(
        [t, t + timedelta(seconds=5), t + timedelta(seconds=2), t + timedelta(seconds=9)]
    )
    clock = WallClock(now=lambda: next(readings))
    stamps = [clock.at(clock.tick()) for _ in range(3)]
    # The system clock stepped back 3 s: the stamp repeats rather than going back.
    assert stamps == [t + timedelta(seconds=5), t + timedelta(seconds=5), t + timedelta(seconds=9)]
    assert clock.now_ms == 300  # simulated time still moves one step per event


def test_a_wall_clock_simulation_is_the_seeded_stream_stamped_now() -> None:
    def stream(epoch: datetime | None) -> tuple[list[Envelope[Any]], list[Envelope[Any]]]:
        sim = Simulation(4, parse_mix("orders=1,viewing=1"), SimulationConfig(epoch=epoch))
        return list(sim.initial_stock()), list(islice(sim.events(), 400))

    before = datetime.now(UTC)
    wall_opening, wall = stream(None)
    after = datetime.now(UTC)
    fixed_opening, fixed = stream(EPOCH)
    times = [e.occurred_at for e in wall_opening + wall]
    assert before <= times[0] and times[-1] <= after and times == sorted(times)
    assert [e.occurred_at for e in fixed] != [e.occurred_at for e in wall]

    def untimed(events: list[Envelope[Any]]) -> list[dict[str, Any]]:
        return [e.model_dump(mode="json", exclude={"occurred_at"}) for e in events]

    assert untimed(wall_opening) == untimed(fixed_opening)
    assert untimed(wall) == untimed(fixed)
