"""Simulated time and reproducible identity: why two runs of one seed are identical.

Nothing here reads the wall clock or the global ``random``: event ids are drawn from a
seeded :class:`random.Random` and ``occurred_at`` is a fixed epoch plus simulated
milliseconds, so a seed names one exact event stream, byte for byte.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from schemas import Envelope, Payload, new_event

EPOCH = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)
"""Simulated time zero: a Monday morning, when the stores open."""


def new_uuid(rng: random.Random) -> UUID:
    """A version-4 UUID drawn from ``rng`` (reproducible, unlike :func:`uuid.uuid4`)."""
    return UUID(int=rng.getrandbits(128), version=4)


def seeded_rng(seed: int) -> random.Random:
    """A generator of simulated data (never of secrets: hence no ``secrets`` module)."""
    return random.Random(seed)  # noqa: S311 - reproducible simulation, not cryptography


def child_rng(parent: random.Random) -> random.Random:
    """An independent generator seeded from ``parent``: one per part of the simulation,
    so that e.g. more viewing never changes which orders are drawn."""
    return seeded_rng(parent.getrandbits(64))


class SimClock:
    """Milliseconds of simulated time since ``start``, advanced one step per event."""

    def __init__(self, start: datetime = EPOCH, *, step_ms: int = 100) -> None:
        if step_ms < 1:
            raise ValueError("step_ms must be at least 1")
        self.start = start
        self.step_ms = step_ms
        self.now_ms = 0

    def tick(self) -> int:
        """Advance one step; return the new simulated time in milliseconds."""
        self.now_ms += self.step_ms
        return self.now_ms

    def at(self, ms: int) -> datetime:
        return self.start + timedelta(milliseconds=ms)


class EventFactory:
    """Wraps payloads in envelopes with rng-drawn ids and simulated times."""

    def __init__(self, rng: random.Random, clock: SimClock, source: str) -> None:
        self._rng = rng
        self._clock = clock
        self._source = source

    def event(
        self, payload: Payload, at_ms: int, *, correlation_id: str | None = None
    ) -> Envelope[Any]:
        return new_event(
            payload,
            source=self._source,
            correlation_id=correlation_id,
            occurred_at=self._clock.at(at_ms),
            event_id=new_uuid(self._rng),
        )
