"""The baselines a trained model must beat: popularity and co-watch.

Both are scored like the model (a score per title) so the evaluation ranks them the
same way. Co-watch counts each pair of distinct titles once per user, from each user's
``HISTORY_LIMIT`` most recent titles, and seeds from the user's ``SEEDS`` most recent
distinct titles: the stream path's "because you watched" (processors.viewing.index,
dashboard.api.viewing), computed here from the training views.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from processors.recs.data import Interactions
from processors.viewing.profiles import HISTORY_LIMIT

SEEDS = 10


class Popularity:
    """Views per title over the whole training set: the same list for everyone."""

    def __init__(self, data: Interactions) -> None:
        self.titles = data.titles
        self.counts = np.bincount(data.title_ix, minlength=len(data.titles)).astype(np.float32)

    def scores(self, user_id: str, bucket: int) -> np.ndarray:
        return self.counts


class CoWatch:
    """Titles most co-watched (across users) with the user's recent titles."""

    def __init__(self, data: Interactions) -> None:
        self.titles = data.titles
        self._user = {u: n for n, u in enumerate(data.users)}
        # Views are in time order: each user's recent distinct titles, newest first.
        recent: list[list[int]] = [[] for _ in data.users]
        for u, t in zip(data.user_ix[::-1].tolist(), data.title_ix[::-1].tolist(), strict=True):
            if len(recent[u]) < HISTORY_LIMIT and t not in recent[u]:
                recent[u].append(t)
        self.recent = recent
        rows = np.repeat(np.arange(len(recent)), [len(r) for r in recent])
        cols = np.fromiter((t for r in recent for t in r), np.int32, len(rows))
        seen = sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=data.shape)
        pairs = (seen.T @ seen).toarray()
        np.fill_diagonal(pairs, 0)
        self.pairs = pairs

    def scores(self, user_id: str, bucket: int) -> np.ndarray:
        n = self._user.get(user_id)
        if n is None or not self.recent[n]:
            return np.zeros(len(self.titles), np.float32)
        scores: np.ndarray = self.pairs[self.recent[n][:SEEDS]].sum(axis=0)
        return scores
