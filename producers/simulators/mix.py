"""The mix: how the simulated stream divides between orders, inventory and viewing.

``--mix orders=1,inventory=1,viewing=3`` means that, on average, three in five events
are viewing events. Names left out get weight zero.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Mapping
from itertools import accumulate

import click

DOMAINS = ("orders", "inventory", "viewing")
DEFAULT_MIX = "orders=1,inventory=1,viewing=3"


def parse_mix(text: str) -> dict[str, float]:
    """``"orders=1,viewing=3"`` -> ``{"orders": 1.0, "inventory": 0.0, "viewing": 3.0}``.

    Raises :class:`click.BadParameter` naming the offending part.
    """
    weights = dict.fromkeys(DOMAINS, 0.0)
    seen: set[str] = set()
    for part in text.split(","):
        name, sep, raw = (s.strip() for s in part.partition("="))
        if not sep or not name or not raw:
            raise click.BadParameter(f"{part.strip()!r} is not NAME=WEIGHT (e.g. {DEFAULT_MIX})")
        if name not in weights:
            raise click.BadParameter(f"unknown stream {name!r}; choose from {', '.join(DOMAINS)}")
        if name in seen:
            raise click.BadParameter(f"{name!r} is given twice")
        try:
            weight = float(raw)
        except ValueError:
            raise click.BadParameter(f"weight of {name!r} is not a number: {raw!r}") from None
        if not math.isfinite(weight) or weight < 0:
            raise click.BadParameter(f"weight of {name!r} must be a finite number >= 0, got {raw}")
        weights[name] = weight
        seen.add(name)
    if not any(weights.values()):
        raise click.BadParameter("at least one weight must be above zero")
    return weights


class MixPicker:
    """Picks a stream name with probability proportional to its weight."""

    def __init__(self, weights: Mapping[str, float]) -> None:
        self._names = [name for name, w in weights.items() if w > 0]
        if not self._names:
            raise ValueError("at least one weight must be above zero")
        self._cumulative = list(accumulate(weights[name] for name in self._names))

    def pick(self, rng: random.Random) -> str:
        i = bisect.bisect_right(self._cumulative, rng.random() * self._cumulative[-1])
        return self._names[min(i, len(self._names) - 1)]
