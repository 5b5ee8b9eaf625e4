"""The slow-database scenario: a fault window that sits inside the stream, and a check
that fails when it does not.

A window that opens after the last event was processed measures nothing ("throughput
636 -> 0 ev/s while slow" once passed that way). So the window is placed by
construction:

* it opens when the workers have committed ``at`` of the stream, and the publisher is
  held at that point of the stream until it has opened (:class:`Gate`), so the rest of
  the stream is published, and processed, while the databases are slow;
* it closes after ``max_s`` seconds or when the stream reaches ``UNTIL`` of its
  progress, whichever comes first: the stream still has events left when it closes.

The check (:func:`check`) still fails a window that saw no committed events or too few
samples to measure a rate (nothing to compare), and one that closed only after the
stream was done (its rate would count idle time as slowness), as well as one where
throughput did not drop or a worker outgrew the memory bound.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
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


@dataclass
class Gate:
    """Holds the publisher at ``at`` of the stream until the window has opened."""

    at_event: int  # publishing stops before sending past this many stream records
    opened: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    def at_fraction(cls, fraction: float, stream_size: int) -> Gate:
        return cls(math.ceil(fraction * stream_size))

    async def hold(self, sent: int, *, wait_s: float, broken: Callable[[], str | None]) -> None:
        """Wait (before sending more than ``sent``) until the window is open."""
        deadline = time.monotonic() + wait_s
        while sent >= self.at_event and not self.opened.is_set():
            if (reason := broken()) is not None:
                raise RuntimeError(reason)
            if time.monotonic() >= deadline:
                raise TimeoutError(f"the slow window did not open within {wait_s:.0f}s")
            await asyncio.sleep(0.2)


@dataclass
class Window:
    start: float | None = None  # monotonic seconds
    end: float | None = None
    fraction_at_end: float | None = None


async def run_window(
    link: Latency,
    window: Window,
    fraction: Callable[[], float],
    *,
    max_s: float,
    until: float = UNTIL,
    on_open: Callable[[], object] | None = None,
    clock: Callable[[], float] = time.monotonic,
    poll_s: float = 0.2,
) -> str:
    """Slow the link from now until ``max_s`` have passed or the stream reaches ``until``;
    ``on_open`` is called once it is slow (it releases the publisher's :class:`Gate`)."""
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
) -> tuple[bool, list[str], dict[str, Any]]:
    """Whether the slow window passed; the notes and details for the report."""
    start, end = window.start, window.end
    if start is None or end is None:
        return False, ["the slow window never opened"], {}
    before = committed_rate(samples, kinds, stream_start, start)
    during = committed_rate(samples, kinds, start, end)
    events = committed_between(samples, kinds, start, end)
    details = {"rate_before": before, "rate_slow": during, "events_slow": events}
    notes = [
        f"throughput {before or 0:,.0f} -> {during or 0:,.0f} ev/s while slow "
        f"({events:,} events in {end - start:.1f}s); peak RSS {peak_mib} MiB "
        f"(bound {MEMORY_BOUND_MIB})"
    ]
    if events == 0 or during is None:
        notes.append("the slow window saw no events: nothing to compare")
        return False, notes, details
    if window.fraction_at_end is not None and window.fraction_at_end >= 1.0:
        notes.append("the stream ended inside the slow window: its rate counts idle time")
        return False, notes, details
    if before is None:
        notes.append("no throughput to compare with before the slow window")
        return False, notes, details
    ok = during < before and peak_mib <= MEMORY_BOUND_MIB
    return ok, notes, details
