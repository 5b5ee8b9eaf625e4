"""The trained recommender: ALS on implicit feedback, with per-time-of-day user factors.

Why ALS from ``implicit``: views are implicit feedback (watched or not, no ratings), and
ALS (Hu, Koren, Volinsky 2008) is the standard model for it; ``implicit`` is maintained,
ships manylinux wheels for CPython 3.11 and trains a 10k x 200 matrix of 1,000,000 views
in a few seconds on one core (``riverbed bench``).

Time of day: every user has one row *per bucket* (night, morning, afternoon, evening).
A (user, bucket) row holds the views in that bucket at full weight plus all the user's
views at ``all_buckets`` weight, so a bucket with few views still starts from the user's
overall taste, and one with many follows what the user watches then. The title factors
are shared, so "users like you, in the morning" is learnt across users. The variant
without time of day (``time_of_day=False``) has one row per user: the evaluation's
control.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from implicit.cpu.als import AlternatingLeastSquares
from scipy import sparse
from threadpoolctl import threadpool_limits

from core.timeofday import BUCKETS
from processors.recs.data import Interactions


@dataclass(frozen=True)
class Params:
    # Chosen on seeded populations (300 users x 40 views, seeds 1-3, `recs evaluate`):
    # 32 factors overfit (hit-rate@10 0.15, below popularity's 0.19); 8 gave 0.32 (1.8x
    # popularity); an all-buckets weight of 0.4 blurred the buckets (0.29), 0.2 did not.
    factors: int = 8
    iterations: int = 15
    regularization: float = 0.05
    alpha: float = 5.0  # confidence per view (Hu et al.'s alpha)
    all_buckets: float = 0.2  # weight of the user's views at any time in a bucket's row
    time_of_day: bool = True
    seed: int = 7

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class TasteModel:
    """User factors per (user, bucket) and title factors; scores are their dot products.

    Pure: fitting reads only the interactions; the same data and seed give the same model.
    """

    def __init__(
        self,
        users: list[str],
        titles: list[str],
        user_factors: np.ndarray,  # (users, buckets or 1, factors)
        title_factors: np.ndarray,  # (titles, factors)
        params: Params,
    ) -> None:
        self.users = users
        self.titles = titles
        self.user_factors = user_factors
        self.title_factors = title_factors
        self.params = params
        self._user = {u: n for n, u in enumerate(users)}
        self._title = {t: n for n, t in enumerate(titles)}

    @classmethod
    def fit(cls, data: Interactions, params: Params | None = None) -> TasteModel:
        params = params or Params()
        per_user = data.user_titles()
        if params.time_of_day:
            buckets = len(BUCKETS)
            everything = sparse.csr_matrix(
                per_user[np.repeat(np.arange(per_user.shape[0]), buckets)]
            )
            matrix = data.user_bucket_titles() + params.all_buckets * everything
        else:
            buckets = 1
            matrix = per_user
        matrix = sparse.csr_matrix(matrix * params.alpha, dtype=np.float32)
        # implicit warns (rightly) that a BLAS thread pool inside its own loop thrashes.
        with threadpool_limits(1, "blas"):
            als = AlternatingLeastSquares(
                factors=params.factors,
                iterations=params.iterations,
                regularization=params.regularization,
                random_state=params.seed,
                num_threads=1,  # 2 cores shared with Kafka, PostgreSQL and FerretDB
            )
            als.fit(matrix, show_progress=False)
        users = np.asarray(als.user_factors, np.float32)
        return cls(
            data.users,
            data.titles,
            users.reshape(len(data.users), buckets, -1),
            np.asarray(als.item_factors, np.float32),
            params,
        )

    def knows(self, user_id: str) -> bool:
        return user_id in self._user

    def scores(self, user_id: str, bucket: int) -> np.ndarray:
        """A score per title (``self.titles`` order) for the user at that time of day."""
        row = self.user_factors[self._user[user_id], bucket if self.params.time_of_day else 0]
        scores: np.ndarray = self.title_factors @ row
        return scores

    def top(
        self, user_id: str, bucket: int, k: int, exclude: Iterable[str] = ()
    ) -> list[tuple[str, float]]:
        scores = self.scores(user_id, bucket).copy()
        for t in exclude:
            if (n := self._title.get(t)) is not None:
                scores[n] = -np.inf
        return top_k(self.titles, scores, k)

    def all_top(self, k: int) -> dict[str, list[list[tuple[str, float]]]]:
        """Every user's top ``k`` per bucket (without exclusions: served ones drop what
        the user finished at read time, so a title finished since still goes)."""
        found: dict[str, list[list[tuple[str, float]]]] = {}
        buckets = self.user_factors.shape[1]
        scores = self.user_factors.reshape(-1, self.title_factors.shape[1]) @ self.title_factors.T
        k = min(k, len(self.titles))
        best = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        for n, user in enumerate(self.users):
            rows = []
            for b in range(len(BUCKETS)):
                r = n * buckets + (b if buckets > 1 else 0)
                rows.append([(self.titles[i], float(scores[r, i])) for i in best[r]])
            found[user] = rows
        return found


def top_k(titles: list[str], scores: np.ndarray, k: int) -> list[tuple[str, float]]:
    """The ``k`` best finite scores, best first (ties by title order)."""
    k = min(k, len(titles))
    if k <= 0:
        return []
    part = np.argpartition(-scores, k - 1)[:k]
    order = part[np.lexsort((part, -scores[part]))]
    return [(titles[i], float(scores[i])) for i in order if np.isfinite(scores[i])]
