"""The late/early windows of the bench: steady runs give 1, a slowing run less."""

from __future__ import annotations

import pytest

from riverbed.bench.rates import edge_rates

pytestmark = pytest.mark.unit


def test_a_steady_run_has_equal_edges_and_the_first_batch_is_not_counted() -> None:
    # The first commit holds work done before the window (start-up): 2,000 events.
    commits = [(0.0, 2000)] + [(i * 0.1, 500) for i in range(1, 101)]
    early, late = edge_rates(commits)
    assert early == pytest.approx(late) == pytest.approx(5000.0)


def test_a_run_that_slows_down_has_a_slower_late_window() -> None:
    commits = [(i * 0.1, 500) for i in range(50)] + [(5.0 + i * 0.2, 500) for i in range(50)]
    early, late = edge_rates(commits)
    assert late / early == pytest.approx(0.5, abs=0.1)  # half the rate, +- a batch per window


def test_too_few_commits_to_compare_is_an_error() -> None:
    with pytest.raises(ValueError, match="too few"):
        edge_rates([(0.0, 10), (1.0, 10)])
