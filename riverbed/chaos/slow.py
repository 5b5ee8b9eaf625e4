"""The slow-database scenario: a fault window that sits inside the stream, and a check
that fails when it does not.

A window that opens after the last event was processed measures nothing ("throughput
636 -> 0 ev/s while slow" once passed that way). So the window is placed by
construction, with the publisher's :class:`riverbed.chaos.gate.Gate`:

* it opens when the workers have committed ``at`` of the stream; the publisher is held
  there until it has opened, so the rest of the stream is published, and processed,
  while the databases are slow;
* it closes after ``max_s`` seconds or when the workers reach ``UNTIL`` of the stream;
  the publisher is held there until it has closed, so the stream outlasts it.

While the publisher waits at ``UNTIL`` the workers may run out of work before the
window notices (progress is sampled every 0.5 s): the slow rate is measured over the
samples taken before they reached it only, so idle time never passes for slowness.
The check (:func:`check`) fails a window in which no event was committed, one that
closed only after the stream was done, one that delayed no chunk of a database's
traffic (the fault never reached the workers), and a worker over the memory bound.
Throughput before and during the window is reported, not judged: at the quick suite's
scale the workers' batching absorbs 40 ms per round trip (measured with the window
inside the stream: 727 -> 775 and 952 -> 1,014 ev/s), so requiring "slower while
slow" would fail sound runs; the comparison that used to pass it had compared with a
window of no events.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import takewhile
from typing import Any, Protocol

from riverbed.chaos.progress import Sample, committed_rate

SLOW_LATENCY_S = 0.02  # each way: +40 ms on every database round trip
# The window closes by this fraction of the stream at the latest. Progress is sampled
# every 0.5 s, so the window may close a little later than this: the margin keeps the
# stream's last events after it.
UNTIL = 0.8
MEMORY_BOUND_MIB = 400


class Latency(Protocol):
    def set_latency(self, latency_s: float) -> None: ...

    def delayed_chunks(self) -> dict[str, int]: ...


@dataclass
class Window:
    start: float | None = None  # monotonic seconds
    end: float | None = None
    fraction_at_end: float | None = None
    delayed: dict[str, int] = field(default_factory=dict)  # chunks held back, per database


async def run_window(
    link: Latency,
    window: Window,
    fraction: Callable[[], float],
    *,
    max_s: float,
    until: float = UNTIL,
    on_open: Callable[[], object] | None = None,
    on_close: Callable[[], object] | None = None,
    clock: Callable[[], float] = time.monotonic,
    poll_s: float = 0.2,
) -> str:
    """Slow the link from now until ``max_s`` have passed or the stream reaches ``until``;
    ``on_open`` is called once it is slow, ``on_close`` once it is fast again (each
    releases the publisher's gate)."""
    before = link.delayed_chunks()
    window.start = clock()
    link.set_latency(SLOW_LATENCY_S)
    if on_open is not None:
        on_open()
    try:
        # Progress is sampled from the broker, not signalled: poll it.
        while clock() - window.start < max_s and fraction() < until:  # noqa: ASYNC110
            await asyncio.sleep(poll_s)
    finally:
        link.set_latency(0.0)
        window.end = clock()
        window.fraction_at_end = fraction()
        window.delayed = {db: n - before.get(db, 0) for db, n in link.delayed_chunks().items()}
        if on_close is not None:
            on_close()
    return (
        f"{SLOW_LATENCY_S * 1000:.0f} ms each way on every database connection for "
        f"{window.end - window.start:.0f}s (until {window.fraction_at_end:.0%} of the stream)"
    )


def committed_between(
    samples: Sequence[Sample], kinds: tuple[str, ...], since: float, until: float
) -> int:
    """Events the groups of ``kinds`` committed between the first and last sample inside."""
    inside = [s for s in samples if since <= s.at <= until]
    if len(inside) < 2:
        return 0
    return sum(inside[-1].committed[k] - inside[0].committed[k] for k in kinds)


def check(
    samples: Sequence[Sample],
    kinds: tuple[str, ...],
    *,
    stream_start: float,
    window: Window,
    peak_mib: int,
    busy: Callable[[Sample], bool] = lambda _sample: True,
) -> tuple[bool, list[str], dict[str, Any]]:
    """Whether the slow window passed; the notes and details for the report.

    ``busy``: whether the workers still had published work at a sample (the slow rate
    counts only those, see the module's doc)."""
    start, end = window.start, window.end
    if start is None or end is None:
        return False, ["the slow window never opened"], {}
    inside = [s for s in samples if start <= s.at <= end]
    before = committed_rate(samples, kinds, stream_start, start)
    during = committed_rate(list(takewhile(busy, inside)), kinds, start, end)
    events = committed_between(samples, kinds, start, end)
    details = {
        "rate_before": before,
        "rate_slow": during,
        "events_slow": events,
        "delayed_chunks": window.delayed,
    }
    delayed = ", ".join(f"{n:,} {db}" for db, n in window.delayed.items()) or "none"
    notes = [
        f"{events:,} events in the {end - start:.1f}s slow window, chunks delayed: {delayed}; "
        f"throughput {_rate(before)} -> {_rate(during)} ev/s; peak RSS {peak_mib} MiB "
        f"(bound {MEMORY_BOUND_MIB})"
    ]
    failures = []
    if events == 0:
        failures.append("the slow window saw no events: nothing was processed while slow")
    if window.fraction_at_end is not None and window.fraction_at_end >= 1.0:
        failures.append("the stream ended inside the slow window")
    if not window.delayed or not all(window.delayed.values()):
        failures.append("a database's traffic was never delayed: the fault missed the workers")
    if peak_mib > MEMORY_BOUND_MIB:
        failures.append(f"a worker's peak RSS exceeded {MEMORY_BOUND_MIB} MiB")
    return not failures, notes + failures, details


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"
