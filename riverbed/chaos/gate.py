"""Holds the stream's publisher at each fault's point until that fault has started.

A fault fires when the workers have committed a set fraction of the stream. If the
publisher ran ahead freely, a fast run could process the whole stream before the fault
fired, and the fault would hit no events ("fault at 100% of the stream"). With the gate,
publishing stops (at most one chunk past) at each fault's point until the fault is
released, so the rest of the stream is published after it started: every fault hits a
stream still in flight, by construction. The slow-database window also holds the
publisher at its closing point until it has closed, so the stream outlasts it too.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass
class Gate:
    points: list[int]  # ascending: stream records before which publishing waits
    released: int = 0  # points passed so far

    @classmethod
    def at_fractions(cls, fractions: Sequence[float], stream_size: int) -> Gate:
        return cls([math.ceil(f * stream_size) for f in fractions])

    def release(self) -> None:
        """Let the publisher past the next point."""
        self.released += 1

    def holding(self, sent: int) -> bool:
        return self.released < len(self.points) and sent >= self.points[self.released]

    async def hold(self, sent: int, *, wait_s: float, broken: Callable[[], str | None]) -> None:
        """Return once records from ``sent`` on may be published."""
        deadline = time.monotonic() + wait_s
        while self.holding(sent):
            if (reason := broken()) is not None:
                raise RuntimeError(reason)
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"the fault at record {sent:,} did not start within {wait_s:.0f}s"
                )
            await asyncio.sleep(0.05)
