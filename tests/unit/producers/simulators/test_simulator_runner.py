from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from itertools import count as counting
from typing import Any

import pytest

from producers.simulators import BatchResult, Pacer, RunStats, run
from producers.simulators.runner import PACE_TICK_S

pytestmark = pytest.mark.unit


class Collect:
    """A sink that keeps every batch; fails the batches whose number is in ``fail``."""

    def __init__(self, *, fail: Sequence[int] = (), delay: float = 0.0) -> None:
        self.batches: list[list[Any]] = []
        self.fail = set(fail)
        self.delay = delay

    async def send(self, batch: Sequence[Any]) -> BatchResult:
        self.batches.append(list(batch))
        if self.delay:
            await asyncio.sleep(self.delay)
        if len(self.batches) in self.fail:
            return BatchResult(failed=len(batch), error=f"batch {len(self.batches)} failed")
        return BatchResult()

    @property
    def events(self) -> list[Any]:
        return [e for b in self.batches for e in b]


class Counted:
    """An endless stream (of ints: the runner never looks inside events) that counts."""

    def __init__(self) -> None:
        self.taken = 0

    def __iter__(self) -> Iterator[Any]:
        for n in counting():
            self.taken += 1
            yield n


# -- pacing math (pure) -------------------------------------------------------------


def test_pacer_counts_what_is_due_from_the_start() -> None:
    pacer = Pacer(100.0, start=10.0)
    assert pacer.due(10.0) == 0
    assert pacer.due(10.5) == 50
    assert pacer.due(9.0) == 0
    assert pacer.wait(sent=50, want=10, now=10.5) == pytest.approx(0.1)
    assert pacer.wait(sent=50, want=10, now=11.0) == 0.0  # behind: no wait


def test_pacer_does_not_drift_when_every_sleep_overshoots() -> None:
    pacer = Pacer(200.0, start=0.0)
    now, sent = 0.0, 0
    for _ in range(1000):
        now += pacer.wait(sent, 10, now) + 0.004  # every wake-up 4 ms late
        sent += 10
    # 10,000 events at 200/s: 50 s, plus only the last overshoot (not 1000 of them)
    assert now == pytest.approx(50.004)
    assert sent / now == pytest.approx(200.0, rel=1e-3)


def test_pacer_chunks_are_about_one_tick_of_events() -> None:
    assert Pacer(10_000, 0).chunk(500) == 500
    assert Pacer(1000, 0).chunk(500) == round(1000 * PACE_TICK_S)
    assert Pacer(1, 0).chunk(500) == 1
    with pytest.raises(ValueError):
        Pacer(0, 0)


# -- the run loop -------------------------------------------------------------------


async def test_sends_exactly_count_events_in_order_in_bounded_batches() -> None:
    sink = Collect()
    seen: list[RunStats] = []
    stats = await run(sink, Counted(), count=1234, batch_size=100, progress=seen.append)
    assert sink.events == list(range(1234))
    assert max(len(b) for b in sink.batches) == 100
    assert (stats.sent, stats.failed) == (1234, 0)
    assert len(seen) == len(sink.batches) == 13
    assert stats.rate > 0


async def test_counts_failed_batches_and_keeps_the_last_error() -> None:
    stats = await run(Collect(fail=[2, 3]), Counted(), count=50, batch_size=10)
    assert (stats.sent, stats.failed) == (30, 20)
    assert stats.last_error == "batch 3 failed"


async def test_a_finite_stream_ends_the_run() -> None:
    sink = Collect()
    stats = await run(sink, iter(range(7)), batch_size=3)
    assert sink.events == list(range(7)) and stats.sent == 7


async def test_stop_flushes_what_was_taken_and_ends() -> None:
    stop = asyncio.Event()
    stream = Counted()

    class StopAtThird(Collect):
        async def send(self, batch: Sequence[Any]) -> BatchResult:
            if len(self.batches) == 2:
                stop.set()
            return await super().send(batch)

    sink = StopAtThird()
    stats = await run(sink, stream, batch_size=10, stop=stop)
    assert 3 <= len(sink.batches) <= 4
    assert stats.sent == stream.taken == len(sink.events)  # nothing taken and left unsent


async def test_duration_bounds_the_run() -> None:
    started = time.monotonic()
    stats = await run(Collect(delay=0.01), Counted(), duration=0.2, batch_size=10)
    assert 0.2 <= time.monotonic() - started < 1.0
    assert stats.sent > 0


async def test_rate_paces_the_sends() -> None:
    sink = Collect()
    started = time.monotonic()
    stats = await run(sink, Counted(), count=400, rate=2000.0)
    elapsed = time.monotonic() - started
    assert 0.19 <= elapsed < 1.5
    assert stats.sent == 400
    assert {len(b) for b in sink.batches} == {100}  # one tick's worth per send


async def test_a_paced_run_with_a_duration_sends_about_rate_times_duration() -> None:
    stats = await run(Collect(), Counted(), duration=0.3, rate=1000.0)
    assert 200 <= stats.sent <= 350
