"""Views as the recommender sees them: who watched which title, when.

A view is one viewing session of the read model (``viewing_session_index``); the model
counts each (user, title) pair, and the time-of-day variant each (user, bucket, title).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np
from scipy import sparse

from core.timeofday import BUCKETS, bucket_of


@dataclass(frozen=True, slots=True)
class View:
    user_id: str
    title_id: str
    at: datetime
    completed: bool = False

    @property
    def bucket(self) -> int:
        return bucket_of(self.at)


class ViewLike(Protocol):
    @property
    def user_id(self) -> str: ...
    @property
    def title_id(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def completed(self) -> bool: ...


def as_views(items: Iterable[ViewLike]) -> list[View]:
    """Views from anything shaped like one (the simulator's offline population)."""
    return [View(i.user_id, i.title_id, i.at, i.completed) for i in items]


@dataclass
class Interactions:
    """Views indexed: users and titles as ints, and the count matrices the models use."""

    users: list[str]
    titles: list[str]
    user_ix: np.ndarray  # per view
    title_ix: np.ndarray  # per view
    bucket: np.ndarray  # per view

    @classmethod
    def of(cls, views: Sequence[View], titles: Sequence[str] | None = None) -> Interactions:
        users = sorted({v.user_id for v in views})
        all_titles = sorted(set(titles or ()) | {v.title_id for v in views})
        u = {x: n for n, x in enumerate(users)}
        t = {x: n for n, x in enumerate(all_titles)}
        return cls(
            users=users,
            titles=all_titles,
            user_ix=np.fromiter((u[v.user_id] for v in views), np.int32, len(views)),
            title_ix=np.fromiter((t[v.title_id] for v in views), np.int32, len(views)),
            bucket=np.fromiter((v.bucket for v in views), np.int32, len(views)),
        )

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.users), len(self.titles)

    def user_titles(self) -> sparse.csr_matrix:
        """(user, title) view counts."""
        ones = np.ones(len(self.user_ix), np.float32)
        return sparse.csr_matrix((ones, (self.user_ix, self.title_ix)), shape=self.shape)

    def user_bucket_titles(self) -> sparse.csr_matrix:
        """(user * buckets + bucket, title) view counts."""
        rows = self.user_ix * len(BUCKETS) + self.bucket
        ones = np.ones(len(rows), np.float32)
        shape = (len(self.users) * len(BUCKETS), len(self.titles))
        return sparse.csr_matrix((ones, (rows, self.title_ix)), shape=shape)
