"""One figure of a benchmark, its baseline from the same run, and the printed table."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    baseline: float | None
    target: str  # e.g. "ratio >= 0.5", "<= 300"
    met: bool

    @property
    def ratio(self) -> float | None:
        return round(self.value / self.baseline, 3) if self.baseline else None


def print_table(figures: list[Figure]) -> None:
    print(
        f"{'figure':<44} {'value':>12} {'unit':<8} {'baseline':>12} {'ratio':>7}  {'target':<16} met"
    )
    for f in figures:
        base = f"{f.baseline:,.0f}" if f.baseline else "-"
        ratio = f"{f.ratio:.2f}" if f.ratio is not None else "-"
        print(
            f"{f.name:<44} {f.value:>12,.1f} {f.unit:<8} {base:>12} {ratio:>7}  {f.target:<16} "
            f"{'yes' if f.met else 'NO'}"
        )


def write_json(figures: list[Figure], path: Path) -> None:
    rows = [{**asdict(f), "ratio": f.ratio} for f in figures]
    path.write_text(json.dumps(rows, indent=2))
