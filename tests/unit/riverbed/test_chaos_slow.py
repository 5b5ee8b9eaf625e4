"""The fault window on fakes: it sits inside the stream, and the slow check can fail.

Progress samples are made up (time, committed offsets per kind); the link is a fake
that records the latencies it was given and counts chunks it held back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from riverbed.chaos import slow
from riverbed.chaos.gate import Gate
from riverbed.chaos.progress import Sample
from riverbed.chaos.slow import SLOW_LATENCY_S, Window, run_window

pytestmark = pytest.mark.unit

KINDS = ("orders", "viewing")


def samples(*points: tuple[float, int]) -> list[Sample]:
    """One sample per (time, events committed), split evenly over the two kinds."""
    return [
        Sample(at, {"orders": n // 2, "viewing": n - n // 2}, {"orders": 0, "viewing": 0})
        for at, n in points
    ]


def check(
    points: list[Sample], window: Window, peak_mib: int = 100, held_at: int | None = None
) -> tuple[bool, list[str]]:
    def busy(s: Sample) -> bool:  # the publisher holds at ``held_at`` until the window closes
        return held_at is None or sum(s.committed.values()) < held_at

    ok, notes, _ = slow.check(
        points, KINDS, stream_start=0.0, window=window, peak_mib=peak_mib, busy=busy
    )
    return ok, notes


SLOWED = {"postgres": 40, "mongodb": 25}  # chunks the proxies held back in the window
# The stream (1,000 events) was all committed by t = 2 s; the window opened at t = 5 s.
ENDED_BEFORE = samples(*((t / 2, min(1000, 500 * t // 2)) for t in range(0, 27)))
# 400 ev/s for 4 s, then 100 ev/s in the window from 4 s to 8 s.
SLOWER = samples(*((t / 2, 200 * t if t <= 8 else 1600 + 50 * (t - 8)) for t in range(17)))


def test_a_window_that_saw_no_events_fails_the_scenario() -> None:
    ok, notes = check(ENDED_BEFORE, Window(start=5.0, end=13.0, delayed=dict(SLOWED)))
    assert not ok
    assert "the slow window saw no events: nothing was processed while slow" in notes
    assert notes[0].startswith("0 events in the 8.0s slow window")
    assert "throughput 200 -> 0 ev/s" in notes[0]


def test_a_window_with_one_sample_inside_saw_no_events() -> None:
    points = samples((0.0, 0), (0.5, 100), (1.0, 300), (1.5, 500), (2.0, 700))
    ok, notes = check(points, Window(start=1.9, end=2.1, delayed=dict(SLOWED)))
    assert not ok and "the slow window saw no events: nothing was processed while slow" in notes


def test_a_window_that_outlasted_the_stream_fails() -> None:
    points = samples(*((t / 2, min(2000, 200 * t)) for t in range(17)))
    window = Window(start=4.0, end=8.0, fraction_at_end=1.0, delayed=dict(SLOWED))
    ok, notes = check(points, window)
    assert not ok and "the stream ended inside the slow window" in notes


def test_a_window_that_delayed_no_database_traffic_fails() -> None:
    for delayed in ({}, {"postgres": 40, "mongodb": 0}):
        ok, notes = check(SLOWER, Window(start=4.0, end=8.0, delayed=delayed))
        assert not ok
        assert "a database's traffic was never delayed: the fault missed the workers" in notes


def test_a_window_that_never_opened_fails() -> None:
    assert check(ENDED_BEFORE, Window()) == (False, ["the slow window never opened"])


def test_a_window_inside_the_stream_passes_and_reports_throughput() -> None:
    ok, notes = check(SLOWER, Window(start=4.0, end=8.0, delayed=dict(SLOWED)))
    assert ok, notes
    assert notes == [
        "400 events in the 4.0s slow window, chunks delayed: 40 postgres, 25 mongodb; "
        "throughput 400 -> 100 ev/s; peak RSS 100 MiB (bound 400)"
    ]
    # Not slower is reported, not failed (batching may absorb the latency).
    steady = samples(*((t / 2, 200 * t) for t in range(17)))
    assert check(steady, Window(start=4.0, end=8.0, delayed=dict(SLOWED)))[0]
    ok, notes = check(SLOWER, Window(start=4.0, end=8.0, delayed=dict(SLOWED)), peak_mib=401)
    assert not ok and "a worker's peak RSS exceeded 400 MiB" in notes


def test_idle_time_at_the_closing_gate_is_not_counted_in_the_slow_rate() -> None:
    # 400 ev/s before the window (0-4 s) and in it, until the workers reach the 2,400
    # records published (at 6 s) and wait there for the window to close (at 8 s).
    points = samples(*((t / 2, min(2400, 200 * t)) for t in range(17)))
    window = Window(start=4.0, end=8.0, fraction_at_end=0.8, delayed=dict(SLOWED))
    assert "throughput 400 -> 400 ev/s" in check(points, window, held_at=2400)[1][0]
    # Counting the idle seconds would have reported half the rate.
    assert "throughput 400 -> 200 ev/s" in check(points, window)[1][0]


class FakeLink:
    """Records the latencies set; each progress reading while slow is a delayed chunk."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.chunks = 7  # delayed before the window: not the window's

    def set_latency(self, latency_s: float) -> None:
        self.latencies.append(latency_s)

    def delayed_chunks(self) -> dict[str, int]:
        return {"postgres": self.chunks, "mongodb": 2 * self.chunks}

    def reading(self, fraction: float) -> float:
        if self.latencies and self.latencies[-1] > 0:
            self.chunks += 1
        return fraction


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
    link, window, opened, closed = FakeLink(), Window(), [], []
    stream = progress(0.2, 0.35, 0.5, 0.7, 0.78, 0.81, 0.85, 1.0)
    what = await run_window(
        link,
        window,
        lambda: link.reading(next(stream)),
        max_s=60.0,
        on_open=lambda: opened.append(link.latencies[:]),
        on_close=lambda: closed.append(link.latencies[:]),
        clock=FakeClock(),
        poll_s=0,
    )
    # The publisher is released once it is slow, and again once it is fast.
    assert opened == [[SLOW_LATENCY_S]] and closed == [[SLOW_LATENCY_S, 0.0]]
    assert link.latencies == [SLOW_LATENCY_S, 0.0]
    # Closed once the stream passed 80%, with events of it still to process.
    assert window.fraction_at_end == 0.85
    assert window.start is not None and window.end is not None and window.end > window.start
    assert "until 85% of the stream" in what
    assert window.delayed == {"postgres": 6, "mongodb": 12}  # six readings while slow


async def test_a_stalled_stream_closes_the_window_after_max_s() -> None:
    link, window = FakeLink(), Window()
    await run_window(link, window, lambda: 0.3, max_s=8.0, clock=FakeClock(), poll_s=0)
    assert window.start is not None and window.end is not None
    assert 8.0 <= window.end - window.start <= 9.0
    assert link.latencies == [SLOW_LATENCY_S, 0.0] and window.fraction_at_end == 0.3


async def test_the_publisher_waits_at_each_point_until_it_is_released() -> None:
    gate = Gate.at_fractions([0.2, 0.8], 2_700)
    assert gate.points == [540, 2160]
    await gate.hold(500, wait_s=5, broken=lambda: None)  # before the first point: no wait
    held = asyncio.create_task(gate.hold(600, wait_s=5, broken=lambda: None))
    await asyncio.sleep(0.2)
    assert not held.done()
    gate.release()  # the window opened
    await asyncio.wait_for(held, 1)
    await gate.hold(2000, wait_s=5, broken=lambda: None)
    held = asyncio.create_task(gate.hold(2200, wait_s=5, broken=lambda: None))
    await asyncio.sleep(0.2)
    assert not held.done()
    gate.release()  # the window closed
    await asyncio.wait_for(held, 1)
    await gate.hold(2700, wait_s=5, broken=lambda: None)  # no point left


async def test_the_gate_gives_up_when_workers_are_broken_or_the_fault_never_starts() -> None:
    gate = Gate([10])
    with pytest.raises(RuntimeError, match="workers exited"):
        await gate.hold(10, wait_s=5, broken=lambda: "workers exited 7 times")
    with pytest.raises(TimeoutError, match="did not start within 0s"):
        await gate.hold(10, wait_s=0.1, broken=lambda: None)
