"""Send an event stream to a sink in batches: as fast as possible or paced to a rate.

The loop stops at ``count`` events, after ``duration`` seconds, when the stream ends or
when ``stop`` is set (Ctrl-C): what is in flight is flushed first, and counted.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any, Protocol

from schemas import Envelope

BATCH_SIZE = 500
PACE_TICK_S = 0.05  # with a rate, send about this often: smooth, yet batched


@dataclass
class RunStats:
    """What a run achieved so far; ``rate`` is events the sink accepted per second."""

    sent: int = 0
    failed: int = 0
    elapsed: float = 0.0
    last_error: str | None = None

    @property
    def rate(self) -> float:
        return self.sent / self.elapsed if self.elapsed > 0 else 0.0


@dataclass(frozen=True, slots=True)
class BatchResult:
    """How a sink fared with one batch: how many events it could not deliver, and why."""

    failed: int = 0
    error: str | None = None


class Sink(Protocol):
    """Where a run's batches go (the publisher, the HTTP gateway, a file)."""

    async def send(self, batch: Sequence[Envelope[Any]]) -> BatchResult: ...


Progress = Callable[[RunStats], object]


class Pacer:
    """A fixed schedule: event ``n`` is due ``n / rate`` seconds after ``start``.

    Waits are computed from the start, never from the previous send, so slow sends and
    sleep overshoot do not accumulate: after ``t`` seconds, ``rate * t`` events are due.
    """

    def __init__(self, rate: float, start: float) -> None:
        if not rate > 0 or not math.isfinite(rate):
            raise ValueError("rate must be a finite number above zero")
        self.rate = rate
        self.start = start

    def due(self, now: float) -> int:
        """How many events may have been sent by ``now``."""
        return max(0, math.floor((now - self.start) * self.rate + 1e-9))

    def wait(self, sent: int, want: int, now: float) -> float:
        """Seconds from ``now`` until ``want`` more events (after ``sent``) are due."""
        return max(0.0, self.start + (sent + want) / self.rate - now)

    def chunk(self, batch_size: int) -> int:
        """Events per send: about one tick's worth, at least 1, at most ``batch_size``."""
        return max(1, min(batch_size, math.ceil(self.rate * PACE_TICK_S)))


async def run(
    sink: Sink,
    events: Iterable[Envelope[Any]],
    *,
    count: int | None = None,
    duration: float | None = None,
    rate: float | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
    stop: asyncio.Event | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> RunStats:
    """Take events from ``events`` and send them to ``sink`` until a limit is reached.

    ``count``: events to take; ``duration``: seconds to run; neither: until the stream
    ends or ``stop`` is set. ``rate``: events per second, ``None`` for as fast as the
    sink goes. ``progress`` is called with the running stats after every batch.

    The next batch is generated in a worker thread while the current one is sent (the
    stream is only ever advanced by one thread at a time, so its order is kept). A batch
    once generated is always sent, even when stopping: every event taken from the
    stream is counted as sent or failed.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    stream = iter(events)
    stop = stop or asyncio.Event()
    stats = RunStats()
    start = clock()
    pacer = Pacer(rate, start) if rate is not None else None
    deadline = start + duration if duration is not None else None
    size = pacer.chunk(batch_size) if pacer else batch_size
    taken = 0

    def finishing() -> bool:
        return stop.is_set() or (deadline is not None and clock() >= deadline)

    def generate_ahead() -> tuple[asyncio.Future[list[Envelope[Any]]], int] | None:
        want = size if count is None else min(size, count - taken)
        if want <= 0 or finishing():
            return None
        return asyncio.ensure_future(asyncio.to_thread(_take, stream, want)), want

    ahead = generate_ahead()
    while ahead is not None:
        future, want = ahead
        if pacer is not None and not finishing():
            delay = pacer.wait(taken, want, clock())
            if deadline is not None:
                delay = min(delay, deadline - clock())
            await _sleep_unless_stopped(stop, delay)
        batch = await future
        if not batch:
            break
        taken += len(batch)
        ahead = generate_ahead()
        result = await sink.send(batch)
        stats.failed += result.failed
        stats.sent += len(batch) - result.failed
        stats.last_error = result.error or stats.last_error
        stats.elapsed = clock() - start
        if progress is not None:
            progress(stats)
    stats.elapsed = clock() - start
    return stats


def _take(stream: Iterator[Envelope[Any]], n: int) -> list[Envelope[Any]]:
    return list(islice(stream, n))


async def _sleep_unless_stopped(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep ``seconds``; return True (at once) if ``stop`` is set meanwhile."""
    if seconds <= 0:
        return stop.is_set()
    try:
        async with asyncio.timeout(seconds):
            await stop.wait()
    except TimeoutError:
        return False
    return True
