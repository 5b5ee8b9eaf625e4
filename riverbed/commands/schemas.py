"""``riverbed schemas``: export, check and snapshot the event contracts.

Only wiring: the documents come from ``schemas.export``, the verdicts from
``schemas.compat`` and the files from ``schemas.snapshots``.
"""

from __future__ import annotations

from pathlib import Path

import click

from riverbed import __version__
from schemas.compat import check_published
from schemas.export import export_documents, json_schemas
from schemas.snapshots import PUBLISHED_DIR, load_published, plan_snapshots, write_documents

_published_option = click.option(
    "--published",
    "published_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=PUBLISHED_DIR,
    show_default=True,
    help="Directory of the published snapshots.",
)


@click.group(name="schemas")
def command() -> None:
    """Export, check and snapshot Riverbed's event contracts."""


@command.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def export(directory: Path) -> None:
    """Write a JSON Schema per event version and an AsyncAPI 3.0 document to DIRECTORY."""
    written = write_documents(directory, export_documents(app_version=__version__))
    click.echo(f"wrote {len(written)} files to {directory}")


@command.command("check")
@_published_option
def check(published_dir: Path) -> None:
    """Fail if a published version changed in a way that is not backward compatible."""
    report = check_published(load_published(published_dir), json_schemas())
    for name, breaks in report.breaks.items():
        for found in breaks:
            click.echo(f"BREAKING {name}: {found}", err=True)
    for name in report.unpublished:
        click.echo(f"not yet published: {name} (run `riverbed schemas snapshot`)")
    if not report.ok:
        raise click.ClickException(
            "published contracts changed incompatibly: add a new version instead"
        )
    click.echo(f"{len(report.breaks)} published versions checked: all backward compatible")


@command.command("snapshot")
@_published_option
@click.option(
    "--update-compatible",
    is_flag=True,
    help="Also refresh snapshots whose current schema is a compatible change of them.",
)
def snapshot(published_dir: Path, update_compatible: bool) -> None:
    """Publish the versions not yet snapshotted (never overwrites with a breaking change)."""
    current = json_schemas()
    published = load_published(published_dir) if published_dir.is_dir() else {}
    plan = plan_snapshots(published, current, update_compatible=update_compatible)
    names = plan.new + plan.updated
    write_documents(published_dir, {name: current[name] for name in names})
    for name in plan.new:
        click.echo(f"published {name}")
    for name in plan.updated:
        click.echo(f"refreshed {name}")
    for name, breaks in plan.refused.items():
        for found in breaks:
            click.echo(f"REFUSED {name}: {found}", err=True)
    if plan.refused:
        raise click.ClickException("some snapshots would break compatibility; not replaced")
    if not names:
        click.echo("nothing to publish")
