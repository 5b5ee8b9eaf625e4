"""``riverbed topics create | list``: Riverbed's topics as ``schemas.topics`` lays them out.

Only wiring: the work is in :mod:`producers.topic_admin`.
"""

from __future__ import annotations

import asyncio
import sys

import click

from core.errors import RetryableError
from core.settings import get_settings
from producers.errors import TopicLayoutError
from producers.topic_admin import describe_topics, ensure_topics


@click.group("topics")
def command() -> None:
    """Create and list Riverbed's Kafka topics."""


@command.command("create")
def create() -> None:
    """Create every missing topic with its partition count (safe to run again)."""
    settings = get_settings()
    try:
        created = asyncio.run(ensure_topics(settings))
    except (TopicLayoutError, RetryableError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    for name in created:
        click.echo(f"created {name}")
    if not created:
        click.echo("all topics exist with their partition counts")


@command.command("list")
@click.option("--all", "include_all", is_flag=True, help="Also list topics Riverbed does not own.")
def list_(include_all: bool) -> None:
    """Show each topic's partition count next to the expected one.

    Exits 1 unless every one of Riverbed's topics exists with its expected count.
    """
    try:
        rows = asyncio.run(describe_topics(get_settings(), include_all=include_all))
    except RetryableError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"{'TOPIC':<32} {'PARTITIONS':>10} {'EXPECTED':>8}  STATE")
    bad = False
    for row in rows:
        if row.partitions is None:
            state = "missing"
        elif row.expected is None or row.partitions == row.expected:
            state = "ok"
        else:
            state = "WRONG"
        bad = bad or state != "ok"
        found = "-" if row.partitions is None else str(row.partitions)
        expected = "-" if row.expected is None else str(row.expected)
        click.echo(f"{row.name:<32} {found:>10} {expected:>8}  {state}")
    sys.exit(1 if bad else 0)
