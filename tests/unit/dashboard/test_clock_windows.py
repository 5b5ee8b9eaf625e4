"""Time windows end at the dashboard's clock (now), never at the newest stored time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboard.clock import Window, wall_clock

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 1, 12, 34, 56, 789000, tzinfo=UTC)


def at(hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(2026, 3, 1, hh, mm, ss, tzinfo=UTC)


def test_whole_minutes_end_with_the_current_minute() -> None:
    w = Window.whole_minutes(NOW, 15)
    assert (w.since, w.until, w.now) == (at(12, 20), at(12, 35), NOW)
    assert w.minutes() == [at(12, 20) + timedelta(minutes=i) for i in range(15)]


def test_a_window_back_from_now_ends_with_the_current_minute() -> None:
    w = Window.back(NOW, 5)
    assert w.since == NOW - timedelta(minutes=5)
    assert w.until == at(12, 35)  # a few seconds' skew of another host's clock still counts
    assert w.minutes() == [at(12, m) for m in range(30, 35)]  # whole minutes after since


def test_the_wall_clock_is_now_in_utc() -> None:
    before = datetime.now(UTC)
    now = wall_clock()
    assert now.tzinfo is not None and before <= now <= datetime.now(UTC)
