"""Who watches what, and when: taste clusters with time-of-day preferences.

Without structure no recommender can beat "the most popular titles", and an evaluation
would prove nothing. So each viewer belongs to one of a few taste *clusters*, and each
cluster prefers a few genres that *change with the time of day* (a cluster's mornings
may be documentaries, its late evenings thrillers). Each viewer also has a *usual* time
of day, when most of their viewing happens. Within a genre, titles keep the catalog's
Zipf popularity (the catalog lists them most watched first).

Everything is drawn from a seeded rng: a seed names one population. Used by the live
generator (:mod:`producers.simulators.viewing`) and by :func:`simulated_views`, a whole
viewing history at once for offline evaluation and the training benchmark.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import accumulate

from core.timeofday import BUCKETS, hours_of
from producers.simulators.catalog import Title, build_catalog
from producers.simulators.clock import EPOCH, seeded_rng
from producers.simulators.zipf import ZipfSampler

CLUSTERS = 4
FAVOURITES = 2  # genres a cluster prefers in one time-of-day bucket
FAVOURITE_WEIGHT = 20.0  # against 1.0 for every other genre
USUAL_SHARE = 0.7  # of a viewer's sessions fall in their usual bucket
USUAL_ACTIVITY = 4.0  # how much likelier a viewer starts a session in their usual bucket
COMPLETED_SHARE = 0.6  # of offline views that are watched to the end


@dataclass(frozen=True, slots=True)
class Viewer:
    user_id: str
    cluster: int
    usual: int  # time-of-day bucket


@dataclass(frozen=True, slots=True)
class View:
    """One viewing session as the read model stores it (offline populations)."""

    user_id: str
    title_id: str
    at: datetime
    completed: bool


class Tastes:
    """Clusters' genre preferences per time-of-day bucket, and each viewer's cluster."""

    def __init__(self, titles: Sequence[Title], viewers: Sequence[str], rng: random.Random):
        genres = sorted({t.genre for t in titles})
        self.genres = genres
        favourites = min(FAVOURITES, len(genres))
        # cluster -> bucket -> genre weights (aligned with self.genres)
        self.weights: list[list[list[float]]] = []
        for _ in range(CLUSTERS):
            per_bucket = []
            for _ in BUCKETS:
                liked = set(rng.sample(genres, favourites))
                per_bucket.append([FAVOURITE_WEIGHT if g in liked else 1.0 for g in genres])
            self.weights.append(per_bucket)
        self.by_genre = {g: ZipfSampler([t for t in titles if t.genre == g], s=0.9) for g in genres}
        self.viewers = [
            Viewer(v, rng.randrange(CLUSTERS), rng.randrange(len(BUCKETS))) for v in viewers
        ]
        self._by_id = {v.user_id: v for v in self.viewers}
        # Who starts a session in each bucket: usual-bucket viewers are likelier. Cumulative
        # weights, so a pick is a bisect rather than a sum over every viewer.
        self._activity = [
            list(accumulate(USUAL_ACTIVITY if v.usual == b else 1.0 for v in self.viewers))
            for b in range(len(BUCKETS))
        ]

    def viewer(self, user_id: str) -> Viewer:
        return self._by_id[user_id]

    def pick_viewer(self, rng: random.Random, bucket: int) -> Viewer:
        return rng.choices(self.viewers, cum_weights=self._activity[bucket])[0]

    def pick_title(self, rng: random.Random, viewer: Viewer, bucket: int) -> Title:
        genre = rng.choices(self.genres, weights=self.weights[viewer.cluster][bucket])[0]
        return self.by_genre[genre].sample(rng)

    def pick_bucket(self, rng: random.Random, viewer: Viewer) -> int:
        if rng.random() < USUAL_SHARE:
            return viewer.usual
        return rng.choice([b for b in range(len(BUCKETS)) if b != viewer.usual])


def simulated_views(
    seed: int,
    *,
    users: int = 500,
    titles: int = 200,
    views_per_user: int = 40,
    days: int = 28,
    start: datetime = EPOCH,
) -> list[View]:
    """A seeded population's whole viewing history, in time order.

    Each viewer's sessions are spread uniformly over ``days``; each session's hour falls
    in the viewer's usual bucket ``USUAL_SHARE`` of the time.
    """
    rng = seeded_rng(seed)
    catalog = build_catalog(rng, titles=titles, viewers=users)
    tastes = Tastes(catalog.titles, catalog.viewers, rng)
    views = []
    for viewer in tastes.viewers:
        for _ in range(views_per_user):
            bucket = tastes.pick_bucket(rng, viewer)
            low, high = hours_of(bucket)
            at = start.astimezone(UTC).replace(hour=0, minute=0) + timedelta(
                days=rng.randrange(days), hours=rng.randrange(low, high), minutes=rng.randrange(60)
            )
            title = tastes.pick_title(rng, viewer, bucket)
            views.append(View(viewer.user_id, title.title_id, at, rng.random() < COMPLETED_SHARE))
    views.sort(key=lambda v: (v.at, v.user_id))
    return views
