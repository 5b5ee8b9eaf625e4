"""``riverbed recs train | evaluate``: the trained recommender (processors/recs)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import click

from core.settings import Settings, get_settings
from processors.recs.data import View, as_views
from processors.recs.evaluate import Report, evaluate
from processors.recs.model import Params


@click.group("recs")
def command() -> None:
    """Recommendations that learn: train a model version, or evaluate against baselines."""


async def _train(settings: Settings, with_metrics: bool) -> dict[str, Any] | None:
    from processors.recs.train import train
    from stores.mongo.client import create_client, database
    from stores.postgres.pool import create_pool

    pool = await create_pool(
        settings.postgres_dsn.get_secret_value(), max_size=2, schema=settings.postgres_schema
    )
    client = create_client(settings)
    try:
        trained = await train(
            pool, database(client, settings), with_metrics=with_metrics, say=click.echo
        )
    finally:
        await client.close()
        await pool.close()
    if trained is None:
        return None
    return {
        "version": trained.version,
        "trained_at": trained.trained_at.isoformat(),
        "training_s": round(trained.training_s, 3),
        "views": trained.views,
        "users": trained.users,
        "titles": trained.titles,
        "metrics": trained.metrics,
    }


@command.command("train")
@click.option("--no-metrics", is_flag=True, help="Skip the temporal-split evaluation.")
def train_(no_metrics: bool) -> None:
    """Train on every stored view; store the version with its metrics and training time;
    write each user's titles per time of day to PostgreSQL and MongoDB."""
    result = asyncio.run(_train(get_settings(), not no_metrics))
    if result is None:
        raise click.ClickException("no ended viewing sessions stored: nothing to train on")
    click.echo(json.dumps(result))


async def _stored_views(settings: Settings) -> list[View]:
    from processors.recs.store import load_views
    from stores.postgres.pool import create_pool

    pool = await create_pool(
        settings.postgres_dsn.get_secret_value(), max_size=1, schema=settings.postgres_schema
    )
    try:
        async with pool.acquire() as conn:
            return await load_views(conn)
    finally:
        await pool.close()


def _table(report: Report) -> str:
    lines = [
        f"{report.train_views:,} training views, {report.test_views:,} test views, "
        f"{report.users:,} users, {report.titles:,} titles",
        f"{'recommender':<16}{'hit-rate@10':>12}{'NDCG@10':>10}   off usual time: "
        f"{'hit-rate@10':>11}{'NDCG@10':>9}",
    ]
    for name, r in report.results.items():
        lines.append(
            f"{name:<16}{r.all.hit_rate:>12.4f}{r.all.ndcg:>10.4f}   {'':16}"
            f"{r.off_usual.hit_rate:>11.4f}{r.off_usual.ndcg:>9.4f}"
        )
    return "\n".join(lines)


@command.command("evaluate")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.option(
    "--simulated",
    type=click.IntRange(min=10),
    default=None,
    metavar="USERS",
    help="Evaluate on a seeded simulated population of USERS viewers instead of the stored views.",
)
@click.option("--seed", type=int, default=1, show_default=True, help="With --simulated.")
@click.option(
    "--views-per-user",
    type=click.IntRange(min=5),
    default=40,
    show_default=True,
    help="With --simulated.",
)
def evaluate_(as_json: bool, simulated: int | None, seed: int, views_per_user: int) -> None:
    """Temporal split: train on each user's earlier views, test on their later ones.
    Hit-rate@10 and NDCG@10 of the model, the model without time of day, co-watch and
    popularity, overall and on test views off the user's usual time of day."""
    if simulated is not None:
        from producers.simulators.tastes import simulated_views

        views = as_views(simulated_views(seed, users=simulated, views_per_user=views_per_user))
    else:
        views = asyncio.run(_stored_views(get_settings()))
    if not views:
        raise click.ClickException("no ended viewing sessions stored: nothing to evaluate")
    report = evaluate(views, Params())
    if not report.test_views:
        raise click.ClickException(
            f"{len(views):,} views, but no user has a later view of a new title to test on"
        )
    click.echo(json.dumps(report.as_dict()) if as_json else _table(report))
