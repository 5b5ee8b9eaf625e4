"""``riverbed recs evaluate`` on a simulated population: the report a person reads."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from riverbed.cli import main

pytestmark = pytest.mark.unit


def test_evaluate_a_simulated_population_as_json_and_as_a_table() -> None:
    args = ["recs", "evaluate", "--simulated", "60", "--views-per-user", "20", "--seed", "4"]
    result = CliRunner().invoke(main, [*args, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report["results"]) == {"model", "model_no_time", "co_watch", "popularity"}
    assert report["users"] == 60 and report["k"] == 10
    assert report["train_views"] + report["test_views"] <= 60 * 20
    for r in report["results"].values():
        assert r["all"]["views"] == report["test_views"]
        assert 0 <= r["all"]["ndcg_at_10"] <= r["all"]["hit_rate_at_10"] <= 1
    table = CliRunner().invoke(main, args)
    assert table.exit_code == 0 and "off usual time" in table.output
    assert [line.split()[0] for line in table.output.splitlines()[2:6]] == [
        "model", "model_no_time", "co_watch", "popularity",
    ]  # fmt: skip


def test_a_population_too_small_to_split_is_a_clear_error() -> None:
    result = CliRunner().invoke(main, ["recs", "evaluate", "--simulated", "5"])
    assert result.exit_code == 2 and "--simulated" in result.output
