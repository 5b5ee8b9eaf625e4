"""The trained recommender against its baselines on a small seeded population."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from core.timeofday import bucket_of
from processors.recs.data import View, as_views
from processors.recs.evaluate import Metrics, evaluate, split
from processors.recs.model import top_k
from producers.simulators.tastes import simulated_views

pytestmark = pytest.mark.unit

T0 = datetime(2025, 1, 6, tzinfo=UTC)


@pytest.fixture(scope="module")
def population() -> list[View]:
    return as_views(simulated_views(1, users=300, views_per_user=40))


def test_the_model_beats_popularity_and_time_of_day_beats_none(population: list[View]) -> None:
    report = evaluate(population)
    r = report.results
    assert report.test_views > 1000
    assert r["model"].all.hit_rate >= 1.5 * r["popularity"].all.hit_rate, report.as_dict()
    # Where the time of day differs from the user's usual, the per-bucket factors show.
    assert r["model"].off_usual.views > 300
    assert r["model"].off_usual.hit_rate > r["model_no_time"].off_usual.hit_rate, report.as_dict()
    assert r["model"].off_usual.ndcg > r["model_no_time"].off_usual.ndcg, report.as_dict()


def test_a_seed_names_one_population() -> None:
    a = simulated_views(5, users=20, views_per_user=5)
    assert a == simulated_views(5, users=20, views_per_user=5)
    assert a != simulated_views(6, users=20, views_per_user=5)


def test_the_split_tests_each_users_later_new_titles() -> None:
    views = [View("u", f"t{n % 7}", T0 + timedelta(hours=n)) for n in range(20)]
    views += [View("short", "t1", T0)]
    train, test = split(views)
    assert [v.at for v in test] == sorted(v.at for v in test)
    last_train = max(v.at for v in train if v.user_id == "u")
    assert all(v.at > last_train for v in test)
    # 4 test views (20 %), of which t0..t6 were all watched in training: nothing new.
    assert test == []
    assert [v.user_id for v in train].count("short") == 1
    views = [View("u", f"t{n}", T0 + timedelta(hours=n)) for n in range(10)]
    views.append(View("u", "t9", T0 + timedelta(hours=11)))  # a rewatch counts once
    train, test = split(views)
    assert [v.title_id for v in test] == ["t9"] and len(train) == 9


def test_metrics_of_a_hit_at_rank_zero_and_a_miss() -> None:
    m = Metrics()
    m.add(0)
    m.add(None)
    m.add(2)
    assert m.hit_rate == pytest.approx(2 / 3)
    assert m.ndcg == pytest.approx((1.0 + 0.5) / 3)


def test_top_k_skips_excluded_and_breaks_ties_by_title_order() -> None:
    scores = np.array([1.0, 3.0, -np.inf, 3.0, 0.5])
    assert top_k(["a", "b", "c", "d", "e"], scores, 3) == [("b", 3.0), ("d", 3.0), ("a", 1.0)]
    assert [t for t, _ in top_k(["a", "b", "c"], np.array([1.0, -np.inf, 0.0]), 5)] == ["a", "c"]


def test_offline_views_follow_the_usual_time_of_day() -> None:
    views = simulated_views(2, users=50, views_per_user=40)
    by_user: dict[str, list[int]] = defaultdict(list)
    for v in views:
        by_user[v.user_id].append(bucket_of(v.at))
    usual_share = [max(bs.count(b) for b in set(bs)) / len(bs) for bs in by_user.values()]
    assert sum(usual_share) / len(usual_share) > 0.6
