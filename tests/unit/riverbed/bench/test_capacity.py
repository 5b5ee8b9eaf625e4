"""The capacity model on a hand-made bench JSON; every expected number worked by hand.

Figures: orders 70 us/ev, inventory 35 us/ev (divided by the 2-vs-1 efficiency 0.7: 100
and 50), PostgreSQL 50 us/ev, broker 20 us/ev, gateway 20,000 ev/cpu-s, raw batch 80,000
ev/s over 8 partitions (10,000 per partition). Assumed: utilisation 0.7, brokers of 8
cores, PostgreSQL nodes of 16 cores, replication 3.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from riverbed.bench import capacity as cap
from riverbed.commands.capacity import command

pytestmark = pytest.mark.unit


def fig(name: str, value: float, baseline: float | None = None) -> dict[str, Any]:
    ratio = None if baseline is None else round(value / baseline, 3)
    return {"name": name, "value": value, "unit": "x", "baseline": baseline, "ratio": ratio,
            "target": None, "met": None}  # fmt: skip


FIGURES = [
    fig("CPU per event, orders worker", 70.0),
    fig("CPU per event, inventory worker", 35.0),
    fig("CPU per event, postgresql", 50.0),
    fig("CPU per event, broker", 20.0),
    fig("gateway per server CPU-second", 20_000.0),
    fig("raw aiokafka batch API", 80_000.0, 10_000.0),
    fig("events per worker-CPU-second, 2 workers per kind vs 1", 7_000.0, 10_000.0),
    fig("latency p99 at 50% load (1 ev/s)", 9.0),  # ignored
]


def test_inputs_read_the_named_figures() -> None:
    m = cap.inputs(FIGURES)
    assert (m.orders_us, m.inventory_us, m.postgres_us, m.broker_us) == (70, 35, 50, 20)
    assert m.gateway_ev_per_cpu_s == 20_000
    assert m.partition_ev_s == 10_000  # 80,000 / 8
    assert m.efficiency == 0.7
    assert m.rows_per_event is None


def test_ten_thousand() -> None:
    r = cap.size(10_000, cap.inputs(FIGURES), cap.Assumptions())
    # orders 10,000 x 100 / 700,000 = 1.43 -> 2; inventory 0.71 -> 1
    assert r.workers == {"orders": 2, "inventory": 1}
    assert r.gateways == 1  # 10,000 / 14,000 = 0.71
    assert r.brokers == 3  # 10,000 x 20 x 3 / 5.6e6 = 0.11, but never below replication 3
    assert r.postgres_cores == pytest.approx(0.5)
    assert r.postgres_shards == 1
    assert r.partitions == 3  # max(10,000 / 7,000 -> 2, 2 workers) = 2, a multiple of 3


def test_hundred_thousand() -> None:
    r = cap.size(100_000, cap.inputs(FIGURES), cap.Assumptions())
    assert r.workers == {"orders": 15, "inventory": 8}  # 14.3, 7.1
    assert r.gateways == 8  # 7.1
    assert r.brokers == 3  # 6e6 / 5.6e6 = 1.07 -> 2, raised to 3
    assert r.postgres_shards == 1  # 5 cores of 11.2
    assert r.partitions == 15  # 100,000 / 7,000 = 14.3 -> 15, a multiple of 3


def test_a_million_splits_postgresql() -> None:
    r = cap.size(1_000_000, cap.inputs(FIGURES), cap.Assumptions())
    assert r.workers == {"orders": 143, "inventory": 72}  # 142.9, 71.4
    assert r.gateways == 72  # 71.4
    assert r.brokers == 11  # 6e7 / 5.6e6 = 10.7
    assert r.postgres_cores == pytest.approx(50.0)
    assert r.postgres_shards == 5  # 50 / 11.2 = 4.5
    assert r.partitions == 165  # 143 rounded up to a multiple of lcm(11, 5) = 55
    assert r.partitions % r.postgres_shards == 0 and r.partitions % r.brokers == 0


def test_single_postgres_limit() -> None:
    m = cap.inputs(FIGURES)
    assert cap.single_postgres_limit(m, cap.Assumptions()) == pytest.approx(224_000)  # 11.2e6/50
    assert cap.single_postgres_limit(m, cap.Assumptions(postgres_cores=32)) == pytest.approx(
        448_000
    )


def test_efficiency_above_one_is_capped_and_rows_are_used_when_measured() -> None:
    figures = [f for f in FIGURES if not f["name"].startswith("events per worker")]
    figures += [
        fig("events per worker-CPU-second, 2 workers per kind vs 1", 12_000.0, 10_000.0),
        fig("PostgreSQL rows per event, commerce", 4.5),
    ]
    m = cap.inputs(figures)
    assert m.efficiency == 1.0
    r = cap.size(10_000, m, cap.Assumptions())
    assert r.workers == {"orders": 1, "inventory": 1}  # 10,000 x 70 / 700,000 = 1.0 exactly
    assert r.rows_per_s == 45_000


def test_a_missing_figure_is_named() -> None:
    figures = [f for f in FIGURES if f["name"] != "CPU per event, broker"]
    with pytest.raises(cap.MissingFigure, match="'CPU per event, broker'"):
        cap.inputs(figures)
    with pytest.raises(cap.MissingFigure, match="not a bench JSON"):
        cap.inputs({"name": "x"})  # type: ignore[arg-type]
    zero = [fig("CPU per event, postgresql", 0.0) if f["name"].endswith("postgresql") else f
            for f in FIGURES]  # fmt: skip
    with pytest.raises(cap.MissingFigure, match="not a positive measurement"):
        cap.inputs(zero)


def test_render_names_every_source_and_the_limit() -> None:
    m = cap.inputs(FIGURES)
    text = cap.render(m, cap.Assumptions(), cap.model(m, cap.Assumptions()), "run.json")
    assert "| 1,000,000 |" in text and "5 shards by store" in text
    assert "from run.json" in text and "'CPU per event, broker'" in text
    assert "not measured" in text and "is the limit at 224,000 ev/s" in text


def test_cli_json_and_errors(tmp_path: Path) -> None:
    good = tmp_path / "run.json"
    good.write_text(json.dumps(FIGURES))
    out = CliRunner().invoke(command, ["--from", str(good), "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert [r["postgres_shards"] for r in doc["rows"]] == [1, 1, 5]
    assert doc["single_postgres_limit_ev_s"] == 224_000
    missing = CliRunner().invoke(command, ["--from", str(tmp_path / "none.json")])
    assert missing.exit_code == 1 and "no bench JSON at" in missing.output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(FIGURES[:2]))
    lacking = CliRunner().invoke(command, ["--from", str(bad)])
    assert lacking.exit_code == 1 and "lacks 'CPU per event, postgresql'" in lacking.output
