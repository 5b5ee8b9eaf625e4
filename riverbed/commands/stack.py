"""``riverbed stack up | down | status``."""

from __future__ import annotations

import asyncio
import sys
import time

import click

from riverbed.errors import StackError
from riverbed.settings import get_settings
from riverbed.stack.manager import ServiceStatus, Stack


def _say(message: str) -> None:
    click.echo(message, err=True)


def _table(rows: list[ServiceStatus]) -> None:
    click.echo(f"{'SERVICE':<10} {'ADDRESS':<18} {'STATE':<10} {'PID':<8} STARTUP")
    for r in rows:
        startup = f"{r.startup_seconds:.1f}s" if r.startup_seconds is not None else "-"
        click.echo(f"{r.name:<10} {r.address:<18} {r.state:<10} {r.pid or '-'!s:<8} {startup}")


@click.group("stack")
def command() -> None:
    """Run the local stack: Kafka (KRaft), PostgreSQL and FerretDB, no Docker needed."""


@command.command()
def up() -> None:
    """Provision (first run) and start every service; a no-op when all are up."""
    t0 = time.monotonic()
    try:
        rows = asyncio.run(Stack(get_settings()).up(_say))
    except StackError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    _table(rows)
    click.echo(f"stack up in {time.monotonic() - t0:.1f}s", err=True)


@command.command()
@click.option("--wipe", is_flag=True, help="Also delete all data under the data dir.")
def down(wipe: bool) -> None:
    """Stop the services this stack started (a user's own servers are left alone)."""
    asyncio.run(Stack(get_settings()).down(_say, wipe=wipe))


@command.command()
def status() -> None:
    """Health of each service over its own protocol; exit 1 unless all answer."""
    rows = asyncio.run(Stack(get_settings()).status())
    _table(rows)
    sys.exit(0 if all(r.state in ("running", "external") for r in rows) else 1)
