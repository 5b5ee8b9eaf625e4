"""The fault scenarios: what each publishes, and when and how its fault hits."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from riverbed.chaos import faults
from riverbed.chaos.faults import Harness


@dataclass(frozen=True)
class Scenario:
    key: str  # for --only
    fault: str  # the table's label
    events: int
    quick_events: int
    at: tuple[float, ...]  # fractions of stream progress at which the fault fires
    quick_at: tuple[float, ...]
    inject: Callable[[Harness], Awaitable[str]] | None = None
    poison: bool = False
    slow: bool = False


SCENARIOS = (
    Scenario(
        "workers",
        "kill -9 random workers",
        100_000,
        3_000,
        (0.1, 0.25, 0.4, 0.55, 0.7),
        (0.15, 0.45, 0.75),
        faults.kill_worker,
    ),
    Scenario("broker", "kill -9 Kafka broker", 30_000, 2_500, (0.4,), (0.4,), faults.kill_broker),
    Scenario(
        "postgres", "restart PostgreSQL", 30_000, 2_500, (0.4,), (0.4,), faults.restart_postgres
    ),
    Scenario(
        "ferretdb", "restart FerretDB", 30_000, 2_500, (0.4,), (0.4,), faults.restart_ferretdb
    ),
    # Quick: 12,000 events, not 2,500: the batch-native commerce workers applied a
    # 1,000-event stream in under a second, before the rate ahead of the slow window
    # could be sampled (two samples 1 s apart), so the check had nothing to compare.
    Scenario("slow-db", "slow databases (proxy)", 30_000, 12_000, (0.2,), (0.2,), slow=True),
    Scenario("poison", "poison inputs", 30_000, 2_500, (), (), poison=True),
)
KEYS = tuple(s.key for s in SCENARIOS)
