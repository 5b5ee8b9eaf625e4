"""Events per second per topic, from end offsets sampled once a poll (pure).

A topic's end offset (summed over its partitions) counts every event ever appended, so
the rate between two samples is the difference over the time between them. A topic
that shrinks (deleted and created again) or appears for the first time gives 0, not a
negative or an invented spike.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


def rate(previous: int | None, current: int, seconds: float) -> float:
    """Events per second between two end-offset sums ``seconds`` apart."""
    if previous is None or seconds <= 0 or current < previous:
        return 0.0
    return (current - previous) / seconds


@dataclass
class RateSeries:
    """A sliding window of per-topic rates: one point per sample, ``window_s`` long."""

    topics: Sequence[str]
    window_s: float = 300.0
    _last: tuple[float, dict[str, int]] | None = None
    _points: deque[tuple[float, dict[str, float]]] = field(default_factory=deque)

    def add(self, t: float, ends: Mapping[str, int]) -> dict[str, float]:
        """Record the end-offset sums seen at time ``t`` (seconds); return the rates."""
        prev_t, prev = self._last if self._last is not None else (t, {})
        rates = {topic: rate(prev.get(topic), ends[topic], t - prev_t) for topic in ends}
        self._last = (t, dict(ends))
        if prev:  # the first sample has nothing to compare with
            self._points.append((t, rates))
        while self._points and t - self._points[0][0] >= self.window_s:
            self._points.popleft()
        return rates

    def latest(self) -> dict[str, float]:
        return dict(self._points[-1][1]) if self._points else {}

    def series(self) -> dict[str, Any]:
        """``{"t": [...], "topics": {topic: [...]}}``: columns, as the chart takes them."""
        return {
            "t": [round(t, 3) for t, _ in self._points],
            "topics": {
                topic: [round(r.get(topic, 0.0), 2) for _, r in self._points]
                for topic in self.topics
            },
        }
