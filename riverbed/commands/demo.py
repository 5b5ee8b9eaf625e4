"""``riverbed demo``: the README's main job.

For now it brings the local stack up and runs the smoke flow (publish, then consume
in a group); the processors, gateway, simulators and dashboard join it as they land.
"""

from __future__ import annotations

import asyncio
import sys

import click

from riverbed.commands.smoke import smoke
from riverbed.errors import StackError
from riverbed.settings import get_settings
from riverbed.stack.manager import Stack


@click.command("demo")
@click.option("--count", default=5000, show_default=True, help="Events in the smoke flow.")
def command(count: int) -> None:
    """Bring the stack up and push events through it."""
    settings = get_settings()
    try:
        rows = asyncio.run(Stack(settings).up(lambda m: click.echo(m, err=True)))
    except StackError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    for row in rows:
        click.echo(f"{row.name:<9} {row.address:<18} {row.state}")
    received, seconds = asyncio.run(smoke(settings, count, wait_seconds=60))
    click.echo(f"demo: published {count} events and consumed {received} in {seconds:.2f}s")
    sys.exit(0 if received == count else 1)
