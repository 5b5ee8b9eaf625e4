"""``riverbed capacity [--from PATH] [--json]``: the capacity model from a bench JSON."""

from __future__ import annotations

import json
from pathlib import Path

import click

from core.settings import get_settings


def latest(directory: Path) -> Path:
    """The newest ``*.json`` of ``directory`` (where ``bench --json`` runs are kept)."""
    runs = sorted(directory.glob("*.json"), key=lambda p: p.stat().st_mtime)
    if not runs:
        raise click.ClickException(
            f"no bench JSON in {directory}: run `riverbed bench --json "
            f"{directory}/full.json` first, or pass --from PATH"
        )
    return runs[-1]


@click.command("capacity")
@click.option(
    "--from",
    "source",
    type=click.Path(path_type=Path),
    default=None,
    help="A `riverbed bench --json` file (default: the newest under <data_dir>/bench/).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the model as JSON instead.")
@click.option("--utilisation", type=click.FloatRange(0.05, 1.0), default=0.7, show_default=True)
@click.option("--broker-cores", type=click.FloatRange(min=1), default=8.0, show_default=True)
@click.option("--postgres-cores", type=click.FloatRange(min=1), default=16.0, show_default=True)
@click.option("--replication", type=click.IntRange(1, 7), default=3, show_default=True)
def command(
    source: Path | None,
    as_json: bool,
    utilisation: float,
    broker_cores: float,
    postgres_cores: float,
    replication: int,
) -> None:
    """Brokers, partitions, workers, gateways and PostgreSQL shards for 10k-1M events/s.

    Built from the measured figures of a bench run (CPU per event of each worker kind,
    PostgreSQL and the broker; the gateway's events per CPU-second; one producer's
    partition rate), so it moves with the code. Needs no stack.
    """
    from riverbed.bench import capacity as cap

    path = source or latest(get_settings().data_dir / "bench")
    try:
        figures = json.loads(path.read_text())
    except FileNotFoundError:
        raise click.ClickException(f"no bench JSON at {path}") from None
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"{path} is not JSON: {exc}") from None
    try:
        measured = cap.inputs(figures)
    except cap.MissingFigure as exc:
        raise click.ClickException(f"{path}: {exc}") from None
    assumed = cap.Assumptions(
        broker_cores=broker_cores,
        postgres_cores=postgres_cores,
        utilisation=utilisation,
        replication=replication,
    )
    rows = cap.model(measured, assumed)
    if as_json:
        click.echo(json.dumps(cap.as_json(measured, assumed, rows, str(path)), indent=2))
    else:
        click.echo(cap.render(measured, assumed, rows, str(path)))
