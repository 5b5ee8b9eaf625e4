"""The fault scenarios: what each publishes, and when and how its fault hits."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from riverbed.chaos import cluster, faults
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
    cluster: bool = False  # needs `stack up --brokers 3` (riverbed chaos --cluster)
    max_stall_s: float | None = None  # longest time without a commit allowed (with lag)
    no_worker_restart: bool = False  # a worker exiting on its own fails the run
    own: bool = False  # runs its own workload (riverbed/chaos/dispatch.py), not the mix


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
    # Quick: 8,000 events, so that the slow window (from 20% to 80% of the stream, see
    # riverbed/chaos/slow.py) spans several progress samples.
    Scenario("slow-db", "slow databases (proxy)", 30_000, 8_000, (0.2,), (0.2,), slow=True),
    Scenario("poison", "poison inputs", 30_000, 2_500, (), (), poison=True),
    Scenario(
        "dispatch", "kill -9 dispatch worker", 6_000, 600, (1 / 3, 2 / 3), (1 / 3, 2 / 3), own=True
    ),
)
KEYS = tuple(s.key for s in SCENARIOS)

# On the three-node cluster (riverbed/chaos/cluster.py). Target of the leader kill: the
# leader moves (broker session 3 s, then a new leader from the ISR) and the workers go on
# within 10 s, none of them restarted.
CLUSTER_SCENARIOS = (
    Scenario(
        "leader-kill",
        "kill -9 busiest leader",
        30_000,
        2_500,
        (0.4,),
        (0.4,),
        cluster.kill_leader,
        cluster=True,
        max_stall_s=10.0,
        no_worker_restart=True,
    ),
    Scenario(
        "rolling",
        "rolling restart (3 nodes)",
        30_000,
        4_000,
        (0.2,),
        (0.2,),
        cluster.rolling_restart,
        cluster=True,
    ),
    Scenario(
        "two-down",
        "2 of 3 nodes down",
        30_000,
        2_500,
        (0.4,),
        (0.4,),
        cluster.two_down,
        cluster=True,
    ),
)
CLUSTER_KEYS = tuple(s.key for s in CLUSTER_SCENARIOS)
