"""``riverbed bench [--quick] [--only recs|dispatch|tracing] [--json PATH]``: benchmarks on the local stack."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from core.settings import get_settings


@click.command("bench")
@click.option("--quick", is_flag=True, help="Small counts, every figure: about two minutes.")
@click.option(
    "--json", "json_path", type=click.Path(path_type=Path), help="Also write the figures here."
)
@click.option("--check", is_flag=True, help="Exit 1 when a figure misses its target.")
@click.option(
    "--only",
    type=click.Choice(["recs", "dispatch", "tracing"]),
    default=None,
    help="Only this part: recs = the recommender's training time and serving p99; "
    "dispatch = dispatch latency and assignment quality; "
    "tracing = orders+inventory throughput with tracing on vs off.",
)
def command(quick: bool, json_path: Path | None, check: bool, only: str | None) -> None:
    """Publisher, gateway and workers, each next to a raw baseline from the same run.

    Needs the local stack (`riverbed stack up`); runs in isolated namespaces and cleans
    up after itself. Progress goes to stderr, the table to stdout.
    """
    from riverbed.bench.report import table, write_json
    from riverbed.bench.suite import FULL, QUICK, run, run_dispatch, run_recs, run_tracing

    plan = QUICK if quick else FULL
    runner = {"recs": run_recs, "dispatch": run_dispatch, "tracing": run_tracing}.get(
        only or "", run
    )
    figures = asyncio.run(runner(get_settings(), plan))
    click.echo(table(figures))
    if json_path is not None:
        write_json(figures, json_path)
    if check and any(f.met is False for f in figures):
        sys.exit(1)
