"""``riverbed dlq list | replay``: inspect and re-publish dead-lettered events."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime

import click

from core.settings import get_settings
from processors.runtime.dlq_replay import Plan, plan, read_all, replay, select


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


def _describe(planned: Plan) -> None:
    for topic, count in sorted(planned.by_topic().items()):
        click.echo(f"  {count} event(s) -> {topic}", err=True)
    for letter, why in planned.skipped:
        click.echo(f"  skipped {letter.partition}@{letter.offset}: {why}", err=True)


@command.command("replay")
@click.option("--type", "event_type", default=None, help="Only this event type.")
@click.option("--since", default=None, help="Only letters dead-lettered at or after this time.")
@click.option("--dry-run", is_flag=True, help="Show what would be replayed, and send nothing.")
@click.option(
    "--confirm",
    "confirm_count",
    type=int,
    default=None,
    metavar="N",
    help="Replay without asking if exactly N events would be sent (for scripts); "
    "otherwise the count is shown and must be typed back.",
)
def replay_(
    event_type: str | None, since: str | None, dry_run: bool, confirm_count: int | None
) -> None:
    """Re-publish dead letters to the input topic of their own event type (after fixing
    the cause). Letters of output types or without a known type are skipped."""
    settings = get_settings()
    letters = select(asyncio.run(read_all(settings)), event_type=event_type, since=_since(since))
    planned = plan(letters)
    count = len(planned.sends)
    click.echo(f"{count} event(s) to replay, {len(planned.skipped)} skipped:", err=True)
    _describe(planned)
    if dry_run or count == 0:
        click.echo(f"replayed 0 event(s){' (dry run)' if dry_run else ''}")
        return
    if confirm_count is None:
        confirm_count = click.prompt("type the number of events to replay", type=int)
    if confirm_count != count:
        click.echo(f"error: {count} event(s) would be replayed, not {confirm_count}", err=True)
        sys.exit(1)
    sent = asyncio.run(replay(settings, planned))
    click.echo(f"replayed {sent} event(s)")
