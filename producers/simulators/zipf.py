"""A small Zipf sampler: a few items are very popular, most are rarely picked."""

from __future__ import annotations

import bisect
import random
from collections.abc import Sequence
from itertools import accumulate
from typing import Generic, TypeVar

T = TypeVar("T")


class ZipfSampler(Generic[T]):
    """Picks ``items[k]`` with probability proportional to ``1 / (k + 1) ** s``.

    The first item is the most popular. Sampling is one ``rng.random()`` and a bisect
    over the cumulative weights, so it is O(log n) and reproducible for a seeded rng.
    """

    def __init__(self, items: Sequence[T], s: float = 1.0) -> None:
        if not items:
            raise ValueError("ZipfSampler needs at least one item")
        if s < 0:
            raise ValueError("the exponent s must not be negative")
        self.items = tuple(items)
        self._cumulative: list[float] = list(
            accumulate(1.0 / (rank**s) for rank in range(1, len(items) + 1))
        )
        self._total = self._cumulative[-1]

    def index(self, rng: random.Random) -> int:
        i = bisect.bisect_right(self._cumulative, rng.random() * self._total)
        return min(i, len(self.items) - 1)  # guards the float edge r * total == total

    def sample(self, rng: random.Random) -> T:
        return self.items[self.index(rng)]

    def probability(self, index: int) -> float:
        previous = self._cumulative[index - 1] if index else 0.0
        return (self._cumulative[index] - previous) / self._total

    def __len__(self) -> int:
        return len(self.items)
