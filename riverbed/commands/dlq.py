"""``riverbed dlq list | replay``: inspect and re-publish dead-lettered events."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import click

from core.settings import get_settings
from processors.runtime.dlq_replay import read_all, replay, select


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 time, e.g. 2026-11-27T10:00:00Z"
        ) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@click.group("dlq")
def command() -> None:
    """The dead-letter topic: events that could not be processed, and why."""


@command.command("list")
@click.option("--type", "event_type", default=None, help="Only this event type.")
@click.option("--since", default=None, help="Only letters dead-lettered at or after this time.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_(event_type: str | None, since: str | None, as_json: bool) -> None:
    """Show dead letters, oldest first."""
    letters = select(
        asyncio.run(read_all(get_settings())), event_type=event_type, since=_since(since)
    )
    for d in letters:
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "partition": d.partition,
                        "offset": d.offset,
                        "at": d.header("riverbed-dlq-at"),
                        "type": d.event_type or None,
                        "origin": d.origin,
                        "exception": d.exception,
                        "reason": d.reason,
                    }
                )
            )
        else:
            click.echo(
                f"{d.header('riverbed-dlq-at')[:19]}  {d.event_type or '-':<20} {d.origin:<32} "
                f"{d.exception}: {d.reason}"
            )
    if not as_json:
        click.echo(f"{len(letters)} dead letter(s)", err=True)


@command.command("replay")
@click.option("--type", "event_type", default=None, help="Only this event type.")
@click.option("--since", default=None, help="Only letters dead-lettered at or after this time.")
def replay_(event_type: str | None, since: str | None) -> None:
    """Re-publish dead letters to their original topics (after fixing the cause)."""
    settings = get_settings()
    letters = select(asyncio.run(read_all(settings)), event_type=event_type, since=_since(since))
    count = asyncio.run(replay(settings, letters))
    click.echo(f"replayed {count} event(s)")
