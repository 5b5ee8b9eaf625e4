"""One figure of a benchmark, next to its baseline from the same run; the table and JSON.

Every part of ``riverbed bench`` returns :class:`Figure` objects and this module prints
them (one table) and writes them (one JSON list, one object per figure with exactly the
keys of :data:`KEYS`). Progress goes to stderr, so stdout carries only the table.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KEYS = ("name", "value", "unit", "baseline", "ratio", "target", "met")
_T0 = time.monotonic()


@dataclass(frozen=True)
class Target:
    """``ratio >= 1.6``, ``value <= 250``: what a figure must reach, and on which number."""

    on: str  # "value" or "ratio"
    op: str  # ">=" or "<="
    bound: float

    def __str__(self) -> str:
        bound = f"{self.bound:,.0f}" if self.bound >= 100 else f"{self.bound:g}"
        return f"{self.on} {self.op} {bound}"

    def met(self, value: float, ratio: float | None) -> bool:
        number = value if self.on == "value" else ratio
        if number is None or math.isnan(number):
            return False
        return number >= self.bound if self.op == ">=" else number <= self.bound


def at_least(bound: float, *, on: str = "value") -> Target:
    return Target(on, ">=", bound)


def at_most(bound: float, *, on: str = "value") -> Target:
    return Target(on, "<=", bound)


@dataclass(frozen=True)
class Figure:
    """A measured value, its same-run baseline (if any) and its target (if any)."""

    name: str
    value: float
    unit: str
    baseline: float | None = None
    target: Target | None = None

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return round(self.value / self.baseline, 3)

    @property
    def met(self) -> bool | None:
        """True/False against the target; None for a figure reported without one."""
        return None if self.target is None else self.target.met(self.value, self.ratio)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": round(self.value, 3),
            "unit": self.unit,
            "baseline": None if self.baseline is None else round(self.baseline, 3),
            "ratio": self.ratio,
            "target": None if self.target is None else str(self.target),
            "met": self.met,
        }


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"


def table(figures: Sequence[Figure]) -> str:
    width = max([len(f.name) for f in figures] + [6])
    lines = [
        f"{'figure':<{width}}  {'value':>10} {'unit':<9} {'baseline':>10} {'ratio':>6}  "
        f"{'target':<16} met"
    ]
    for f in figures:
        ratio = "-" if f.ratio is None else f"{f.ratio:.2f}"
        met = "-" if f.met is None else ("yes" if f.met else "NO")
        target = "-" if f.target is None else str(f.target)
        lines.append(
            f"{f.name:<{width}}  {_number(f.value):>10} {f.unit:<9} {_number(f.baseline):>10} "
            f"{ratio:>6}  {target:<16} {met}"
        )
    return "\n".join(lines)


def write_json(figures: Sequence[Figure], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([f.as_json() for f in figures], indent=2) + "\n")


def progress(message: str) -> None:
    """One line on stderr, stamped with the seconds since the run started."""
    print(f"[bench {time.monotonic() - _T0:6.1f}s] {message}", file=sys.stderr, flush=True)
