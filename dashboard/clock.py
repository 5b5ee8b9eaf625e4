"""The dashboard's clock: every time window ends *now*, on the wall clock.

Windows used to end at the newest stored event time. One outlier was then enough to
freeze a panel: an order stamped in the future (a test's leftover, a client with a wrong
clock) held every window there, and the live stream fell outside it. Anchored on the
wall clock, a window always covers the last minutes; events stamped after the current
minute are not counted in any window (they have not happened yet), and old ones simply
fall out.

Times compared here are event times (``occurred_at`` as stored by the workers), so a
producer that stamps with the wall clock (``riverbed simulate`` without ``--epoch``)
shows up in the current minute. Tests pass a fixed clock instead of :func:`wall_clock`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]
MINUTE = timedelta(minutes=1)


def wall_clock() -> datetime:
    return datetime.now(UTC)


def minute_of(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


@dataclass(frozen=True)
class Window:
    """Event times ``since <= t < until``: from ``minutes`` back from ``now`` to the end
    of the current minute (so an event stamped a few seconds ahead by another host's
    clock still counts, one stamped in a later minute does not)."""

    since: datetime
    until: datetime
    now: datetime

    @classmethod
    def back(cls, now: datetime, minutes: int) -> Window:
        return cls(now - timedelta(minutes=minutes), minute_of(now) + MINUTE, now)

    @classmethod
    def whole_minutes(cls, now: datetime, minutes: int) -> Window:
        """The current minute and the ``minutes - 1`` before it, whole."""
        end = minute_of(now) + MINUTE
        return cls(end - minutes * MINUTE, end, now)

    def minutes(self) -> list[datetime]:
        """The start of every minute in the window, oldest first."""
        first = minute_of(self.since)
        if first < self.since:
            first += MINUTE
        count = (self.until - first) // MINUTE
        return [first + i * MINUTE for i in range(count)]
