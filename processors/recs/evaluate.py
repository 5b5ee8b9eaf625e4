"""Offline evaluation on a temporal split: do the recommendations predict later views?

Each user's views are put in time order; the earlier ``1 - TEST_SHARE`` train every
recommender, and the later ones are the test. A test view counts once per (user, title),
and only for a title the user had not watched in training (recommending an old title
back is not a prediction). For each test view the recommender ranks every title the
user has not watched, for the test view's user *and time of day*:

* hit-rate@10: the share of test views whose title is in the top 10;
* NDCG@10: ``1 / log2(rank + 2)`` for a hit at 0-based ``rank``, else 0, averaged.

Both are also reported on the test views whose time-of-day bucket differs from the
user's usual one (the bucket of most of their training views): there the time of day
must show, if anywhere.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from processors.recs.baselines import CoWatch, Popularity
from processors.recs.data import Interactions, View
from processors.recs.model import Params, TasteModel, top_k

K = 10
TEST_SHARE = 0.2
MIN_VIEWS = 5  # users with fewer views only train


class Scorer(Protocol):
    def scores(self, user_id: str, bucket: int) -> np.ndarray: ...


@dataclass
class Metrics:
    views: int = 0
    hits: int = 0
    gain: float = 0.0

    @property
    def hit_rate(self) -> float:
        return self.hits / self.views if self.views else 0.0

    @property
    def ndcg(self) -> float:
        return self.gain / self.views if self.views else 0.0

    def add(self, rank: int | None) -> None:
        self.views += 1
        if rank is not None:
            self.hits += 1
            self.gain += 1.0 / math.log2(rank + 2)

    def as_dict(self) -> dict[str, Any]:
        return {
            "views": self.views,
            "hit_rate_at_10": round(self.hit_rate, 4),
            "ndcg_at_10": round(self.ndcg, 4),
        }


@dataclass
class Result:
    all: Metrics = field(default_factory=Metrics)
    off_usual: Metrics = field(default_factory=Metrics)


@dataclass
class Report:
    train_views: int
    test_views: int
    users: int
    titles: int
    results: dict[str, Result]
    params: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "train_views": self.train_views,
            "test_views": self.test_views,
            "users": self.users,
            "titles": self.titles,
            "k": K,
            "params": self.params,
            "results": {
                name: {"all": r.all.as_dict(), "off_usual_time": r.off_usual.as_dict()}
                for name, r in self.results.items()
            },
        }

    def headline(self) -> dict[str, float]:
        """The model's figures stored with its version (``recs_models.metrics``)."""
        model, pop = self.results["model"], self.results["popularity"]
        return {
            "hit_rate_at_10": round(model.all.hit_rate, 4),
            "ndcg_at_10": round(model.all.ndcg, 4),
            "popularity_hit_rate_at_10": round(pop.all.hit_rate, 4),
            "test_views": self.test_views,
        }


def split(views: Sequence[View]) -> tuple[list[View], list[View]]:
    """(train, test): each user's later ``TEST_SHARE`` of views are the test."""
    by_user: dict[str, list[View]] = defaultdict(list)
    for v in views:
        by_user[v.user_id].append(v)
    train, test = [], []
    for user_views in by_user.values():
        user_views.sort(key=lambda v: v.at)
        cut = (
            len(user_views)
            if len(user_views) < MIN_VIEWS
            else len(user_views) - max(1, round(len(user_views) * TEST_SHARE))
        )
        train += user_views[:cut]
        seen = {v.title_id for v in user_views[:cut]}
        for v in user_views[cut:]:
            if v.title_id not in seen:
                seen.add(v.title_id)
                test.append(v)
    train.sort(key=lambda v: (v.at, v.user_id))
    return train, test


def score(
    scorer: Scorer,
    titles: list[str],
    test: Sequence[View],
    watched: dict[str, set[int]],
    usual: dict[str, int],
) -> Result:
    result = Result()
    lists: dict[tuple[str, int], list[str]] = {}
    for v in test:
        key = (v.user_id, v.bucket)
        if key not in lists:
            scores = np.array(scorer.scores(*key), np.float64)
            scores[list(watched[v.user_id])] = -np.inf
            lists[key] = [t for t, _ in top_k(titles, scores, K)]
        top = lists[key]
        rank = top.index(v.title_id) if v.title_id in top else None
        result.all.add(rank)
        if v.bucket != usual[v.user_id]:
            result.off_usual.add(rank)
    return result


def evaluate(
    views: Sequence[View],
    params: Params | None = None,
    *,
    progress: Callable[[str], None] = lambda _: None,
) -> Report:
    """Train the model, its variant without time of day and the baselines on the
    earlier views; score each on the later ones."""
    params = params or Params()
    train, test = split(views)
    data = Interactions.of(train, titles=[v.title_id for v in test])
    watched: dict[str, set[int]] = defaultdict(set)
    buckets: dict[str, Counter[int]] = defaultdict(Counter)
    for u, t, b in zip(
        data.user_ix.tolist(), data.title_ix.tolist(), data.bucket.tolist(), strict=True
    ):
        watched[data.users[u]].add(t)
        buckets[data.users[u]][b] += 1
    usual = {u: c.most_common(1)[0][0] for u, c in buckets.items()}
    scorers: dict[str, Scorer] = {}
    progress("training the model (time of day)")
    scorers["model"] = TasteModel.fit(data, params)
    progress("training the model without time of day")
    scorers["model_no_time"] = TasteModel.fit(
        data, Params(**{**params.as_dict(), "time_of_day": False})
    )
    scorers["co_watch"] = CoWatch(data)
    scorers["popularity"] = Popularity(data)
    progress("scoring")
    results = {name: score(s, data.titles, test, watched, usual) for name, s in scorers.items()}
    return Report(
        train_views=len(train),
        test_views=len(test),
        users=len(data.users),
        titles=len(data.titles),
        results=results,
        params=params.as_dict(),
    )
