"""Simulated time and reproducible identity: why two runs of one seed are identical.

Event ids are drawn from a seeded :class:`random.Random`, never from the global one, and
the world moves on a simulated clock (one step per event), so a seed names one exact
stream of events: ids, payloads and order.

Only the time *stamped* on each event has two sources:

* :class:`SimClock`: a fixed epoch plus simulated milliseconds. The stream is then
  byte-reproducible (tests, ``simulate --epoch ... --dry-run``).
* :class:`WallClock`: the wall clock when the event is generated (never earlier than the
  previous stamp). A live demo's events then happen *now*, however fast or slow the run
  publishes, so dashboards anchored on the wall clock show them. The simulated clock
  still paces the world (session heartbeats, restock lead times, promotions), so that
  world runs faster than the stamps when publishing faster than one step per step_ms,
  and slower when publishing slower; same seed, same events, different times.
"""

from __future__ import annotations

import random
from collections.abc import Callable
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
        """The time stamped on an event of simulated time ``ms``."""
        return self.start + timedelta(milliseconds=ms)


def utc_now() -> datetime:
    return datetime.now(UTC)


class WallClock(SimClock):
    """Simulated steps as :class:`SimClock`, stamped with the wall clock instead.

    ``at`` ignores the simulated milliseconds: an event is stamped when it is generated,
    which the runner does at most one batch ahead of sending it. Stamps never go back
    (a system clock stepped backwards repeats the last stamp), so the stream stays in
    time order.
    """

    def __init__(self, *, step_ms: int = 100, now: Callable[[], datetime] = utc_now) -> None:
        self._now = now
        self._last: datetime | None = None
        super().__init__(now(), step_ms=step_ms)

    def at(self, ms: int) -> datetime:
        stamp = self._now()
        if self._last is not None and stamp < self._last:
            stamp = self._last
        self._last = stamp
        return stamp


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
