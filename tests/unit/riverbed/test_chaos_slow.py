"""The slow-database window on fakes: it sits inside the stream, and its check can fail.

Progress samples are made up (time, committed offsets per kind); the link is a fake
that records the latencies it was given.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from riverbed.chaos import slow
from riverbed.chaos.progress import Sample
from riverbed.chaos.slow import SLOW_LATENCY_S, Gate, Window, run_window

pytestmark = pytest.mark.unit

KINDS = ("orders", "viewing")


def samples(*points: tuple[float, int]) -> list[Sample]:
    """One sample per (time, events committed), split evenly over the two kinds."""
    return [
        Sample(at, {"orders": n // 2, "viewing": n - n // 2}, {"orders": 0, "viewing": 0})
        for at, n in points
    ]


def check(points: list[Sample], window: Window, peak_mib: int = 100) -> tuple[bool, list[str]]:
    ok, notes, _ = slow.check(points, KINDS, stream_start=0.0, window=window, peak_mib=peak_mib)
    return ok, notes


# The stream (1,000 events) was all committed by t = 2 s; the window opened at t = 5 s.
ENDED_BEFORE = samples(*((t / 2, min(1000, 500 * t // 2)) for t in range(0, 27)))


def test_a_window_that_saw_no_events_fails_the_scenario() -> None:
    ok, notes = check(ENDED_BEFORE, Window(start=5.0, end=13.0))
    assert not ok
    assert "the slow window saw no events: nothing to compare" in notes
    assert notes[0].startswith("throughput 200 -> 0 ev/s while slow (0 events in 8.0s)")


def test_a_window_too_short_to_measure_fails() -> None:
    points = samples((0.0, 0), (0.5, 100), (1.0, 300), (1.5, 500), (2.0, 700))
    ok, notes = check(points, Window(start=1.9, end=2.1))  # one sample inside
    assert not ok and "the slow window saw no events: nothing to compare" in notes


def test_a_window_that_outlasted_the_stream_fails() -> None:
    # Slower in the window only because the stream ended in it: idle time, not slowness.
    points = samples(*((t / 2, min(2000, 200 * t)) for t in range(17)))
    window = Window(start=4.0, end=8.0, fraction_at_end=1.0)
    ok, notes = check(points, window)
    assert not ok
    assert "the stream ended inside the slow window: its rate counts idle time" in notes


def test_a_window_that_never_opened_fails() -> None:
    assert check(ENDED_BEFORE, Window()) == (False, ["the slow window never opened"])


def test_a_slower_window_with_events_passes_and_a_faster_one_fails() -> None:
    # 400 ev/s for 4 s, then 100 ev/s in the window from 4 s to 8 s.
    slower = samples(*((t / 2, 200 * t if t <= 8 else 1600 + 50 * (t - 8)) for t in range(17)))
    ok, notes = check(slower, Window(start=4.0, end=8.0))
    assert ok, notes
    assert notes == [
        "throughput 400 -> 100 ev/s while slow (400 events in 4.0s); peak RSS 100 MiB (bound 400)"
    ]
    steady = samples(*((t / 2, 200 * t) for t in range(17)))
    assert not check(steady, Window(start=4.0, end=8.0))[0]  # not slower: the fault missed
    assert not check(slower, Window(start=4.0, end=8.0), peak_mib=401)[0]


class FakeLink:
    def __init__(self) -> None:
        self.latencies: list[float] = []

    def set_latency(self, latency_s: float) -> None:
        self.latencies.append(latency_s)


class FakeClock:
    """Each reading is 0.5 s after the previous one."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        self.t += 0.5
        return self.t


def progress(*fractions: float) -> Iterator[float]:
    yield from fractions
    while True:
        yield fractions[-1]


async def test_the_window_closes_before_the_stream_ends() -> None:
    link, window, opened = FakeLink(), Window(), []
    stream = progress(0.2, 0.35, 0.5, 0.7, 0.78, 0.81, 0.85, 1.0)
    what = await run_window(
        link,
        window,
        lambda: next(stream),
        max_s=60.0,
        on_open=lambda: opened.append(link.latencies[:]),
        clock=FakeClock(),
        poll_s=0,
    )
    assert opened == [[SLOW_LATENCY_S]]  # the publisher is released once it is slow
    assert link.latencies == [SLOW_LATENCY_S, 0.0]
    # Closed once the stream passed 80%, with events of it still to process.
    assert window.fraction_at_end == 0.85
    assert window.start is not None and window.end is not None and window.end > window.start
    assert "until 85% of the stream" in what


async def test_a_stalled_stream_closes_the_window_after_max_s() -> None:
    link, window = FakeLink(), Window()
    await run_window(link, window, lambda: 0.3, max_s=8.0, clock=FakeClock(), poll_s=0)
    assert window.start is not None and window.end is not None
    assert 8.0 <= window.end - window.start <= 9.0
    assert link.latencies == [SLOW_LATENCY_S, 0.0] and window.fraction_at_end == 0.3


async def test_the_publisher_waits_at_the_gate_until_the_window_opens() -> None:
    gate = Gate.at_fraction(0.2, 2_700)
    assert gate.at_event == 540
    await gate.hold(500, wait_s=5, broken=lambda: None)  # before the gate: no wait
    held = asyncio.create_task(gate.hold(1000, wait_s=5, broken=lambda: None))
    await asyncio.sleep(0.3)
    assert not held.done()
    gate.opened.set()
    await asyncio.wait_for(held, 1)


async def test_the_gate_gives_up_when_workers_are_broken_or_the_window_never_opens() -> None:
    gate = Gate(at_event=10)
    with pytest.raises(RuntimeError, match="workers exited"):
        await gate.hold(10, wait_s=5, broken=lambda: "workers exited 7 times")
    with pytest.raises(TimeoutError, match="did not open within 0s"):
        await gate.hold(10, wait_s=0.1, broken=lambda: None)
