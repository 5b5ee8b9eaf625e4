"""The capacity model: what 10k, 100k and 1M commerce events/s need, from a bench JSON.

Pure arithmetic on the figures ``riverbed bench --json`` wrote (no I/O here), so the
model moves with the code: a faster worker in the next bench run needs fewer replicas.
Each figure used is named in :data:`FIGURES`; a missing one is a :class:`MissingFigure`
error, never a default. The rest are stated :class:`Assumptions` (cores per pod, target
utilisation, replication factor), printed beside the table.

Sizing, per rate R (commerce events/s entering through the gateway):

* worker replicas of a kind = ceil(R x CPU us/ev of the kind / 1e6 / (1 core x util)),
  the us/ev divided by the measured 2-vs-1 CPU efficiency (a worker is one Python
  process: one core);
* gateway replicas = ceil(R / (gateway ev per CPU-second x gateway cores x util));
* brokers = max(RF, ceil(R x broker us/ev x RF / 1e6 / (broker cores x util))): the
  broker CPU was measured at replication factor 1; each follower copy is charged as
  much as the leader's write (fetch, disk and network), which overstates it a little;
* partitions of each store-keyed topic = max(R / per-partition rate, largest worker
  replica count), rounded up to a multiple of brokers and PostgreSQL shards, so that
  leaders spread evenly and every partition's stores live on exactly one shard;
* PostgreSQL shards = ceil(R x PostgreSQL us/ev / 1e6 / (PostgreSQL cores x util)).
  Shard s holds the stores whose partition p has p mod shards == s: one worker's batch
  (one partition) touches one shard and one transaction, as today.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

RATES = (10_000, 100_000, 1_000_000)
KINDS = ("orders", "inventory")

# What each input is called in the bench JSON (riverbed/bench/suite.py, publisher.py).
ORDERS_US = "CPU per event, orders worker"
INVENTORY_US = "CPU per event, inventory worker"
POSTGRES_US = "CPU per event, postgresql"
BROKER_US = "CPU per event, broker"
GATEWAY = "gateway per server CPU-second"
RAW_BATCH = "raw aiokafka batch API"
EFFICIENCY = "events per worker-CPU-second, 2 workers per kind vs 1"
ROWS = "PostgreSQL rows per event, commerce"  # optional: no bench part measures it yet
FIGURES = (ORDERS_US, INVENTORY_US, POSTGRES_US, BROKER_US, GATEWAY, RAW_BATCH, EFFICIENCY)
# The publisher bench writes to 2 topics x 4 partitions (riverbed/bench/publisher.py).
BENCH_PARTITIONS = 8


class MissingFigure(ValueError):
    """The bench JSON lacks a figure the model needs (or is not a bench JSON at all)."""


@dataclass(frozen=True)
class Assumptions:
    """What the model assumes beyond the measured figures; each is a CLI option."""

    worker_cores: float = 1.0  # one Python process per pod: one core at most
    gateway_cores: float = 1.0  # one uvicorn worker per pod
    broker_cores: float = 8.0
    postgres_cores: float = 16.0
    utilisation: float = 0.7  # headroom for bursts, rebalances and a lost node
    replication: int = 3  # min.insync.replicas=2, acks=all


@dataclass(frozen=True)
class Inputs:
    """The measured figures the model uses, in their units."""

    orders_us: float
    inventory_us: float
    postgres_us: float
    broker_us: float
    gateway_ev_per_cpu_s: float
    partition_ev_s: float  # one producer's batch rate over the bench's partitions
    efficiency: float  # CPU efficiency of 2 workers per kind against 1, at most 1
    rows_per_event: float | None  # None: not measured, reported as such


@dataclass(frozen=True)
class Row:
    """What one rate needs."""

    rate: int
    brokers: int
    partitions: int
    workers: dict[str, int]
    gateways: int
    postgres_shards: int
    postgres_cores: float
    rows_per_s: float | None


def inputs(figures: Sequence[Mapping[str, Any]]) -> Inputs:
    """The model's inputs from a bench JSON's list of figures; MissingFigure names the gaps."""
    if not isinstance(figures, Sequence) or not all(isinstance(f, Mapping) for f in figures):
        raise MissingFigure("not a bench JSON: expected a list of figure objects")
    values: dict[str, float] = {}
    for f in figures:
        if isinstance(f.get("name"), str) and isinstance(f.get("value"), int | float):
            values[f["name"]] = float(f["value"])
    missing = [name for name in FIGURES if name not in values]
    if missing:
        raise MissingFigure("the bench JSON lacks " + ", ".join(repr(m) for m in missing))
    for name in FIGURES:
        if values[name] <= 0:
            raise MissingFigure(f"{name!r} is {values[name]}, not a positive measurement")
    return Inputs(
        orders_us=values[ORDERS_US],
        inventory_us=values[INVENTORY_US],
        postgres_us=values[POSTGRES_US],
        broker_us=values[BROKER_US],
        gateway_ev_per_cpu_s=values[GATEWAY],
        partition_ev_s=values[RAW_BATCH] / BENCH_PARTITIONS,
        efficiency=min(1.0, efficiency(figures)),
        rows_per_event=values.get(ROWS),
    )


def efficiency(figures: Sequence[Mapping[str, Any]]) -> float:
    """The 2-vs-1 figure's ratio (value / baseline): the CPU lost to a second replica."""
    for f in figures:
        if f.get("name") == EFFICIENCY:
            ratio = f.get("ratio")
            if isinstance(ratio, int | float) and ratio > 0:
                return float(ratio)
    raise MissingFigure(f"{EFFICIENCY!r} has no ratio (its baseline is missing)")


def _up(x: float) -> int:
    return max(1, math.ceil(round(x, 9)))  # round: 2.0000000001 from float noise is 2


def _multiple(n: int, *of: int) -> int:
    step = math.lcm(*of)
    return step * math.ceil(n / step)


def size(rate: int, m: Inputs, a: Assumptions) -> Row:
    """What ``rate`` commerce events/s need under ``a``."""
    per_core = a.utilisation * 1e6  # usable CPU microseconds per core-second
    workers = {
        kind: _up(rate * us / m.efficiency / (a.worker_cores * per_core))
        for kind, us in (("orders", m.orders_us), ("inventory", m.inventory_us))
    }
    gateways = _up(rate / (m.gateway_ev_per_cpu_s * a.gateway_cores * a.utilisation))
    brokers = max(
        a.replication, _up(rate * m.broker_us * a.replication / (a.broker_cores * per_core))
    )
    pg_cores = rate * m.postgres_us / 1e6
    shards = _up(pg_cores / (a.postgres_cores * a.utilisation))
    needed = max(_up(rate / (m.partition_ev_s * a.utilisation)), *workers.values())
    partitions = _multiple(needed, brokers, shards)
    rows = None if m.rows_per_event is None else rate * m.rows_per_event
    return Row(rate, brokers, partitions, workers, gateways, shards, pg_cores, rows)


def single_postgres_limit(m: Inputs, a: Assumptions) -> float:
    """The commerce events/s one PostgreSQL node of ``a.postgres_cores`` sustains."""
    return a.postgres_cores * a.utilisation * 1e6 / m.postgres_us


def model(m: Inputs, a: Assumptions, rates: Sequence[int] = RATES) -> list[Row]:
    return [size(r, m, a) for r in rates]


def as_json(m: Inputs, a: Assumptions, rows: Sequence[Row], source: str) -> dict[str, Any]:
    return {
        "source": source,
        "inputs": asdict(m),
        "assumptions": asdict(a),
        "single_postgres_limit_ev_s": round(single_postgres_limit(m, a), 1),
        "rows": [asdict(r) for r in rows],
    }


def render(m: Inputs, a: Assumptions, rows: Sequence[Row], source: str) -> str:
    """The table, then where each input came from and what is assumed."""
    head = ["events/s", "brokers", "partitions", *(f"{k} workers" for k in KINDS)]
    head += ["gateways", "PostgreSQL", "PG cores", "PG rows/s"]
    body = []
    for r in rows:
        body.append(
            [
                f"{r.rate:,}",
                str(r.brokers),
                str(r.partitions),
                *(str(r.workers[k]) for k in KINDS),
                str(r.gateways),
                "1 node" if r.postgres_shards == 1 else f"{r.postgres_shards} shards by store",
                f"{r.postgres_cores:,.1f}",
                "not measured" if r.rows_per_s is None else f"{r.rows_per_s:,.0f}",
            ]
        )
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for b in body:
        lines.append("| " + " | ".join(c.rjust(w) for c, w in zip(b, widths, strict=True)) + " |")
    limit = single_postgres_limit(m, a)
    rows_src = (
        f"{m.rows_per_event:g} from {ROWS!r}"
        if m.rows_per_event is not None
        else f"not measured: the JSON has no {ROWS!r} figure; shards are sized on CPU"
    )
    notes = [
        "",
        f"Measured (from {source}):",
        f"- orders worker {m.orders_us:g} us/ev, inventory worker {m.inventory_us:g} us/ev "
        f"({ORDERS_US!r}, {INVENTORY_US!r}), divided by the 2-vs-1 CPU efficiency "
        f"{m.efficiency:g} ({EFFICIENCY!r})",
        f"- PostgreSQL {m.postgres_us:g} us/ev ({POSTGRES_US!r})",
        f"- broker {m.broker_us:g} us/ev at replication factor 1 ({BROKER_US!r})",
        f"- gateway {m.gateway_ev_per_cpu_s:,.0f} ev per CPU-second ({GATEWAY!r})",
        f"- partition {m.partition_ev_s:,.0f} ev/s: {RAW_BATCH!r} / {BENCH_PARTITIONS} "
        "partitions, one producer (a lower bound on what a partition takes)",
        f"- rows per event: {rows_src}",
        "Assumed:",
        f"- target utilisation {a.utilisation:g} of every core; a worker pod "
        f"{a.worker_cores:g} core, a gateway pod {a.gateway_cores:g} core, a broker "
        f"{a.broker_cores:g} cores, a PostgreSQL node {a.postgres_cores:g} cores",
        f"- replication factor {a.replication}: each follower copy costs the broker as much "
        "CPU, disk and network as the leader's write",
        "- partitions: a multiple of brokers and PostgreSQL shards, and at least the largest "
        "worker replica count (a consumer group uses one consumer per partition)",
        f"One PostgreSQL node ({a.postgres_cores:g} cores at {a.utilisation:g}) is the limit "
        f"at {limit:,.0f} ev/s; beyond it the stores are split across shards by partition "
        "(shard = partition mod shards), so a worker's batch stays one transaction on one shard.",
    ]
    return "\n".join(lines + notes)
