"""Consumer lag in messages and seconds, and a worker kind's health from it (pure).

Lag in messages is the end offset minus the committed offset, summed over partitions.
Lag in seconds is the age of the oldest unprocessed message: the message *at* the
committed offset is the next one the group will process, so its Kafka timestamp (set
when it was produced) says how long it has waited. A partition with no lag adds nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

REBALANCING = frozenset({"PreparingRebalance", "CompletingRebalance"})


@dataclass(frozen=True)
class PartitionLag:
    partition: int
    end: int
    committed: int | None  # None: the group never committed on this partition
    oldest_ms: int | None = None  # timestamp of the message at ``committed``, when fetched

    @property
    def messages(self) -> int:
        return max(0, self.end - (self.committed or 0))


def lag_messages(parts: Iterable[PartitionLag]) -> int:
    return sum(p.messages for p in parts)


def lag_seconds(parts: Iterable[PartitionLag], now_ms: int) -> float | None:
    """Age of the oldest unprocessed message; 0 without lag, None if it is unknown."""
    ages: list[float] = []
    for p in parts:
        if p.messages == 0:
            continue
        if p.oldest_ms is None:
            return None
        ages.append(max(0.0, (now_ms - p.oldest_ms) / 1000))
    return round(max(ages), 3) if ages else 0.0


def health(state: str | None, members: int, seconds: float | None, alert_s: float) -> str:
    """``down`` (no consumer), ``rebalancing``, ``behind`` (lag over ``alert_s``) or ``ok``.

    ``unknown`` when the group could not be described.
    """
    if state is None:
        return "unknown"
    if state in REBALANCING:
        return "rebalancing"
    if members == 0:
        return "down"
    if seconds is not None and seconds > alert_s:
        return "behind"
    return "ok"
