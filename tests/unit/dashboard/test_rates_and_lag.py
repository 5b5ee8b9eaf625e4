"""Pure pieces of the dashboard: events/s from offset samples, lag and health."""

from __future__ import annotations

import pytest

from dashboard.clock import Window
from dashboard.lag import PartitionLag, health, lag_messages, lag_seconds
from dashboard.rates import RateSeries, rate
from dashboard.sources.postgres import per_minute

pytestmark = pytest.mark.unit


def test_rate_is_the_offset_difference_over_the_time_between_samples() -> None:
    assert rate(100, 350, 2.5) == 100.0
    assert rate(None, 350, 1.0) == 0.0  # first sight of a topic
    assert rate(500, 20, 1.0) == 0.0  # topic recreated: offsets went back
    assert rate(5, 9, 0.0) == 0.0


def test_series_keeps_one_point_per_sample_over_the_window() -> None:
    series = RateSeries(["a", "b"], window_s=3.0)
    assert series.add(0.0, {"a": 0, "b": 10}) == {"a": 0.0, "b": 0.0}
    assert series.series() == {"t": [], "topics": {"a": [], "b": []}}
    series.add(1.0, {"a": 50, "b": 10})
    series.add(2.0, {"a": 150, "b": 40})
    assert series.latest() == {"a": 100.0, "b": 30.0}
    series.add(3.0, {"a": 150, "b": 40})
    series.add(4.0, {"a": 160, "b": 40})  # the point at t=1 is now older than 3 s
    out = series.series()
    assert out["t"] == [2.0, 3.0, 4.0]
    assert out["topics"] == {"a": [100.0, 0.0, 10.0], "b": [30.0, 0.0, 0.0]}


def test_series_uses_the_real_time_between_uneven_samples() -> None:
    series = RateSeries(["a"])
    series.add(10.0, {"a": 0})
    assert series.add(10.5, {"a": 100}) == {"a": 200.0}
    assert series.add(12.5, {"a": 300}) == {"a": 100.0}


def test_lag_in_messages_sums_partitions_and_treats_no_commit_as_zero() -> None:
    parts = [PartitionLag(0, 100, 90), PartitionLag(1, 50, None), PartitionLag(2, 7, 7)]
    assert lag_messages(parts) == 10 + 50 + 0


def test_lag_in_seconds_is_the_age_of_the_oldest_unprocessed_message() -> None:
    now = 1_000_000
    parts = [
        PartitionLag(0, 100, 90, oldest_ms=now - 2_500),
        PartitionLag(1, 80, 70, oldest_ms=now - 9_000),
        PartitionLag(2, 7, 7, oldest_ms=now - 60_000),  # caught up: not counted
    ]
    assert lag_seconds(parts, now) == 9.0
    assert lag_seconds([PartitionLag(0, 5, 5)], now) == 0.0
    assert lag_seconds([PartitionLag(0, 6, 5, oldest_ms=None)], now) is None
    # A producer clock slightly ahead never gives a negative age.
    assert lag_seconds([PartitionLag(0, 6, 5, oldest_ms=now + 50)], now) == 0.0


@pytest.mark.parametrize(
    ("state", "members", "seconds", "expected"),
    [
        ("Stable", 1, 0.5, "ok"),
        ("Stable", 2, 45.0, "behind"),
        ("Stable", 1, None, "ok"),
        ("Empty", 0, 0.0, "down"),
        ("Dead", 0, 0.0, "down"),
        ("PreparingRebalance", 1, 0.0, "rebalancing"),
        ("CompletingRebalance", 0, 0.0, "rebalancing"),
        (None, 0, 0.0, "unknown"),
    ],
)
def test_health(state: str | None, members: int, seconds: float | None, expected: str) -> None:
    assert health(state, members, seconds, alert_s=30.0) == expected


def test_orders_per_minute_fills_every_minute_of_the_window() -> None:
    from datetime import UTC, datetime

    now = datetime(2025, 1, 6, 8, 14, 42, tzinfo=UTC)
    m = lambda minute: datetime(2025, 1, 6, 8, minute, tzinfo=UTC)  # noqa: E731
    rows = [
        {"minute": m(12), "status": "confirmed", "orders": 4, "revenue": 100},
        {"minute": m(12), "status": "rejected", "orders": 1, "revenue": 9},
        {"minute": m(14), "status": "confirmed", "orders": 2, "revenue": 30.5},
        {"minute": m(1), "status": "confirmed", "orders": 9, "revenue": 1},  # outside
    ]
    out = per_minute(rows, Window.whole_minutes(now, 3))
    assert out["minute"] == [m(12).timestamp(), m(13).timestamp(), m(14).timestamp()]
    assert out["confirmed"] == [4, 0, 2]
    assert out["rejected"] == [1, 0, 0]
    assert out["revenue"] == [100.0, 0.0, 30.5]  # confirmed orders only
    empty = per_minute([], Window.whole_minutes(now, 3))
    assert empty["confirmed"] == [0, 0, 0] and empty["minute"] == out["minute"]
