"""``riverbed deploy plan | helm | check``: the Helm charts under deploy/helm/."""

from __future__ import annotations

import sys

import click


@click.group("deploy")
def command() -> None:
    """Riverbed on Kubernetes: the charts' generated plan, Helm, and their offline check."""


@command.command()
@click.option("--write", is_flag=True, help="Write the plan into both charts.")
def plan(write: bool) -> None:
    """The Kafka plan (topics, worker kinds, ACLs) the charts render, from the code.

    Without --write: exit 1 when a chart's copy differs from the code.
    """
    from riverbed.deploy import plan as kafka_plan

    if write:
        for path in kafka_plan.write():
            click.echo(f"wrote {path}", err=True)
        return
    stale = kafka_plan.stale()
    for path in stale:
        click.echo(f"{path} differs from the code: run `riverbed deploy plan --write`", err=True)
    sys.exit(1 if stale else 0)


@command.command("helm")
@click.option(
    "--background",
    is_flag=True,
    help="Start the build in a detached process and return at once (make test does).",
)
def helm_path(background: bool) -> None:
    """Print the cached Helm binary, building it from its Go module first if missing."""
    from core.errors import StackError
    from core.settings import get_settings
    from riverbed.deploy.helm import build_log, helm, start_build

    if background:
        if start_build(get_settings()):
            click.echo(f"building helm in the background; log: {build_log(get_settings())}")
        return
    try:
        click.echo(str(helm(get_settings(), build=True)))
    except StackError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
