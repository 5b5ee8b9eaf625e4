"""The benchmark's one Figure type: ratio, met, the table and the JSON shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from riverbed.bench.report import KEYS, Figure, at_least, at_most, table, write_json

pytestmark = pytest.mark.unit


def test_ratio_and_met_follow_the_target() -> None:
    publisher = Figure("publisher", 900.0, "ev/s", 1000.0, at_least(0.8, on="ratio"))
    assert publisher.ratio == 0.9
    assert publisher.met is True
    slow = Figure("workers", 100.0, "ev/s", 1000.0, at_least(0.5, on="ratio"))
    assert slow.met is False
    assert Figure("p99", 251.0, "ms", None, at_most(250)).met is False
    assert Figure("rss", 120.0, "MiB", None, at_most(300)).met is True


def test_a_figure_without_baseline_or_target_has_none_for_them() -> None:
    info = Figure("raw send", 10.0, "ev/s")
    assert (info.ratio, info.met) == (None, None)
    # A ratio target without a baseline cannot be met.
    assert Figure("x", 1.0, "ev/s", None, at_least(0.5, on="ratio")).met is False
    assert Figure("x", 1.0, "ev/s", 0.0, at_least(0.5, on="ratio")).met is False


def test_json_has_one_object_per_figure_with_the_seven_keys(tmp_path: Path) -> None:
    figures = [
        Figure("publisher", 900.0, "ev/s", 1000.0, at_least(0.8, on="ratio")),
        Figure("raw send", 1000.0, "ev/s"),
    ]
    path = tmp_path / "out" / "bench.json"
    write_json(figures, path)
    rows = json.loads(path.read_text())
    assert [tuple(row) for row in rows] == [KEYS, KEYS]
    assert rows[0] == {
        "name": "publisher",
        "value": 900.0,
        "unit": "ev/s",
        "baseline": 1000.0,
        "ratio": 0.9,
        "target": "ratio >= 0.8",
        "met": True,
    }
    assert rows[1]["baseline"] is None and rows[1]["target"] is None and rows[1]["met"] is None


def test_table_shows_every_figure_with_its_verdict() -> None:
    text = table(
        [
            Figure("gateway", 18_444.0, "ev/s", 31_382.0, at_least(20_000)),
            Figure("rss", 126.0, "MiB", None, at_most(300)),
        ]
    )
    header, gateway, rss = text.splitlines()
    assert header.split()[:3] == ["figure", "value", "unit"]
    assert "18,444" in gateway and "31,382" in gateway and "0.59" in gateway
    assert "value >= 20,000" in gateway and gateway.endswith("NO")
    assert "value <= 300" in rss and rss.endswith("yes")
