"""One scenario's result, the printed table and the JSON report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Result:
    fault: str
    events: int
    lost: int
    duplicated: int
    catch_up_s: float | None  # from the last event published / fault over to no lag
    passed: bool
    elapsed_s: float = 0.0
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


def as_json(results: list[Result]) -> list[dict[str, Any]]:
    return [
        {
            "fault": r.fault,
            "events": r.events,
            "lost": r.lost,
            "duplicated": r.duplicated,
            "catch_up_s": r.catch_up_s,
            "passed": r.passed,
            "elapsed_s": r.elapsed_s,
            "notes": r.notes,
            "details": r.details,
        }
        for r in results
    ]


def table(results: list[Result]) -> str:
    lines = [
        f"{'fault':<26} {'events':>8} {'lost':>6} {'duplicated':>10} {'catch-up (s)':>12} "
        f"{'stall (s)':>9}  result"
    ]
    for r in results:
        catch = f"{r.catch_up_s:.1f}" if r.catch_up_s is not None else "-"
        stall = r.details.get("longest_stall_s")
        stalled = f"{stall:.1f}" if isinstance(stall, (int, float)) else "-"
        lines.append(
            f"{r.fault:<26} {r.events:>8,} {r.lost:>6} {r.duplicated:>10} {catch:>12} "
            f"{stalled:>9}  "
            f"{'passed' if r.passed else 'FAILED'}"
            + (f"  ({'; '.join(r.notes)})" if r.notes else "")
        )
    return "\n".join(lines)
