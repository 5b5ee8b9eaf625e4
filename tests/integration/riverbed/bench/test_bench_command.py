"""``riverbed bench --quick`` on the local stack: every figure, in the JSON shape."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from riverbed.bench.report import KEYS

EXPECTED = (
    "publisher publish_many",
    "gateway POST /v1/events/batch",
    "orders+inventory workers into PostgreSQL",
    "orders+inventory end to end",
    "latency p99 at 50% load",
    "2 workers per kind vs 1",
    "events per worker-CPU-second, 2 workers per kind vs 1",
    "CPU per event, orders+inventory workers + PostgreSQL",
    "CPU per event, orders worker",
    "CPU per event, inventory worker",
    "CPU per event, postgresql",
    "CPU per event, broker",
    "late/early rate",
    "viewing worker into MongoDB",
    "viewing worker, long run",
    "viewing late/early rate",
    "read API p99, user sessions",
    "read API p99, user recommendations",
    "viewing state reload",
    "viewing rate after kill -9",
    "recommender training, load + fit",
    "read API p99, blended recommendations by time of day",
    "peak RSS, orders worker",
    "peak RSS, inventory worker",
    "peak RSS, viewing worker",
)


@pytest.mark.timeout(240)
def test_quick_bench_writes_every_figure(tmp_path: Path) -> None:
    path = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "-m", "riverbed", "bench", "--quick", "--json", str(path)],
        capture_output=True,
        text=True,
        timeout=230,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "[bench" in result.stderr  # progress on stderr
    rows = json.loads(path.read_text())
    for row in rows:
        assert tuple(row) == KEYS, row
        assert isinstance(row["name"], str) and row["name"]
        assert isinstance(row["value"], int | float), row
        # Counts of what must not happen (target "value <= 0") are 0 when all went well;
        # every measured figure is positive.
        assert row["value"] >= 0 if row["target"] == "value <= 0" else row["value"] > 0, row
        assert isinstance(row["unit"], str) and row["unit"]
        assert row["baseline"] is None or row["baseline"] > 0, row
        assert row["ratio"] is None or isinstance(row["ratio"], int | float), row
        assert (row["ratio"] is None) == (row["baseline"] is None), row
        assert row["target"] is None or isinstance(row["target"], str), row
        assert (row["met"] is None) == (row["target"] is None), row
        assert row["met"] is None or isinstance(row["met"], bool), row
        assert row["name"] in result.stdout  # the table shows it too
    names = [row["name"] for row in rows]
    for prefix in EXPECTED:
        assert any(n.startswith(prefix) for n in names), (prefix, names)
    latency = [n for n in names if n.startswith("latency p")]
    assert len(latency) == 9  # p50/p95/p99 at 25, 50 and 80 % load
