"""One training: load the views, evaluate, fit on all of them, publish the version.

CPU-bound steps (evaluation, fitting, ranking) run in a thread, so a worker's event loop
that schedules a retraining keeps consuming meanwhile. A training with no views
publishes nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from pymongo.asynchronous.database import AsyncDatabase

from processors.recs import store
from processors.recs.data import Interactions, View
from processors.recs.evaluate import evaluate
from processors.recs.model import Params, TasteModel
from stores.mongo.client import Doc


@dataclass(frozen=True)
class Trained:
    version: int
    trained_at: datetime
    training_s: float  # fitting on all views (the figure ``riverbed bench`` reports)
    load_s: float
    publish_s: float  # PostgreSQL (version row, served rows) + MongoDB documents
    publish_pg_s: float
    views: int
    users: int
    titles: int
    metrics: dict[str, Any]


def fit_all(views: list[View], params: Params) -> tuple[TasteModel, float]:
    started = time.perf_counter()
    model = TasteModel.fit(Interactions.of(views), params)
    return model, time.perf_counter() - started


def metrics_of(views: list[View], params: Params) -> dict[str, Any]:
    """The temporal split's headline figures (empty when no user has a test view)."""
    report = evaluate(views, params)
    if not report.test_views:
        return {"test_views": 0}
    r = report.results
    return {
        **report.headline(),
        "no_time_hit_rate_at_10": round(r["model_no_time"].all.hit_rate, 4),
        "co_watch_hit_rate_at_10": round(r["co_watch"].all.hit_rate, 4),
        "off_usual_hit_rate_at_10": round(r["model"].off_usual.hit_rate, 4),
        "off_usual_no_time_hit_rate_at_10": round(r["model_no_time"].off_usual.hit_rate, 4),
    }


async def train(
    pool: asyncpg.Pool,
    db: AsyncDatabase[Doc] | None,
    params: Params | None = None,
    *,
    with_metrics: bool = True,
    say: Callable[[str], object] = lambda _: None,
) -> Trained | None:
    """Train and publish a new version; ``None`` when there is nothing to learn from."""
    params = params or Params()
    started = time.perf_counter()
    async with pool.acquire() as conn:
        views = await store.load_views(conn)
    load_s = time.perf_counter() - started
    if not views:
        say("no ended viewing sessions yet: nothing to train on")
        return None
    say(f"{len(views):,} views loaded in {load_s:.2f} s")
    metrics: dict[str, Any] = {}
    if with_metrics:
        metrics = await asyncio.to_thread(metrics_of, views, params)
        say(f"evaluated on a temporal split: {metrics}")
    model, training_s = await asyncio.to_thread(fit_all, views, params)
    say(f"fitted {len(model.users):,} users x {len(model.titles):,} titles in {training_s:.2f} s")
    lists = await asyncio.to_thread(model.all_top, store.SERVED)
    trained_at = datetime.now(UTC)
    started = time.perf_counter()
    async with pool.acquire() as conn:
        version = await store.save_version(
            conn,
            trained_at=trained_at,
            training_s=training_s,
            views=len(views),
            users=len(model.users),
            titles=len(model.titles),
            params=params.as_dict(),
            metrics=metrics,
            lists=lists,
        )
    publish_pg_s = time.perf_counter() - started
    if db is not None:
        await store.publish_documents(db, version, trained_at, lists)
    publish_s = time.perf_counter() - started
    say(f"published version {version} in {publish_s:.2f} s (PostgreSQL {publish_pg_s:.2f} s)")
    return Trained(
        version=version,
        trained_at=trained_at,
        training_s=training_s,
        load_s=load_s,
        publish_s=publish_s,
        publish_pg_s=publish_pg_s,
        views=len(views),
        users=len(model.users),
        titles=len(model.titles),
        metrics=metrics,
    )
