"""``riverbed chaos [--quick] [--json PATH] [--only FAULT]``: the fault-injection suite."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path

import click


@click.command("chaos")
@click.option("--quick", is_flag=True, help="Small streams (a few thousand events each).")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write results here.")
@click.option(
    "--only",
    multiple=True,
    type=click.Choice(
        [
            "workers",
            "broker",
            "postgres",
            "ferretdb",
            "slow-db",
            "poison",
            "leader-kill",
            "rolling",
            "two-down",
            "dispatch",
        ]
    ),
    help="Run only this scenario (repeatable).",
)
@click.option(
    "--cluster",
    is_flag=True,
    help="The broker-failure scenarios of a 3-node cluster (`stack up --brokers 3`): "
    "leader-kill, rolling, two-down.",
)
@click.option("--seed", default=7, show_default=True, help="Seed of the simulated input.")
def command(
    quick: bool, json_path: Path | None, only: tuple[str, ...], seed: int, cluster: bool
) -> None:
    """Inject faults while real workers process a seeded stream; count lost and
    duplicated effects against the decision logic. Restarts the local stack's services:
    run it against a stack nobody else is using."""
    from core.settings import get_settings
    from riverbed.chaos.runner import as_json, run_all, table

    # The checks read whole topics; aiokafka's INFO lines would bury the progress lines.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    if cluster:  # a node down is the point here: its refused connections are expected
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)

    def say(message: str) -> None:
        click.echo(message, err=True)

    from riverbed.chaos.scenarios import CLUSTER_KEYS

    cluster_only = sorted(set(only) & set(CLUSTER_KEYS))
    if cluster_only and not cluster:
        raise click.UsageError(f"{', '.join(cluster_only)}: a cluster scenario; add --cluster")
    if cluster and set(only) - set(CLUSTER_KEYS):
        raise click.UsageError("with --cluster, --only takes leader-kill, rolling or two-down")

    results = asyncio.run(
        run_all(get_settings(), quick=quick, only=only, say=say, seed=seed, cluster=cluster)
    )
    click.echo(table(results))
    if json_path is not None:
        json_path.write_text(json.dumps(as_json(results), indent=2, default=str))
    sys.exit(0 if results and all(r.passed for r in results) else 1)
