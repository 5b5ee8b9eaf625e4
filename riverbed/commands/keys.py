"""``riverbed keys create --name N --types PATTERNS [--stores IDS] [--users IDS] | list |
revoke N``: the gateway's API keys, the event types each may publish and the stores and
users its events may name. Also reachable as ``riverbed gateway keys``.

Only wiring: the keys live in :class:`producers.gateway.KeyStore` at
``settings.gateway_keys_file``; the pattern rules are in :mod:`producers.gateway.scopes`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from core.settings import get_settings

LEGACY_MARK = "* (legacy)"
READER_HELP = "Reader keys of the dashboard and read API (RIVERBED_DASHBOARD_KEYS_FILE)."


def _path(reader: bool) -> Path:
    settings = get_settings()
    return settings.dashboard_keys_file if reader else settings.gateway_keys_file


@click.group("keys")
def command() -> None:
    """Create, list and revoke the gateway's API keys (stored as hashes, never in clear),
    each limited to the event types it may publish and optionally to stores and users;
    with --reader, the keys that may read the dashboard and its read API."""


@command.command("create")
@click.option("--name", required=True, help="Who uses the key; events get source gateway.NAME.")
@click.option("--reader", is_flag=True, help=READER_HELP + " No --types.")
@click.option(
    "--types",
    "types",
    multiple=True,
    metavar="PATTERNS",
    help="Event types the key may publish, comma-separated: exact (order.placed), a prefix "
    "wildcard (order.*) or * for every type. Quote it in the shell: --types 'order.*,stock.*'. "
    "Required for a gateway key.",
)
@click.option(
    "--stores",
    default=None,
    metavar="IDS",
    help="Only events whose payload.store_id is one of these (comma-separated); default any.",
)
@click.option(
    "--users",
    default=None,
    metavar="IDS",
    help="Only events whose payload.user_id is one of these (comma-separated); default any.",
)
def create(
    name: str, reader: bool, types: tuple[str, ...], stores: str | None, users: str | None
) -> None:
    """Create a key and print it once: it cannot be shown again."""
    from producers.gateway import KeyStore, KeyStoreError
    from producers.gateway.scopes import ALL, check, split

    if reader and (types or stores or users):
        raise click.UsageError("a reader key takes no --types, --stores or --users")
    if not reader and not types:
        raise click.UsageError("Missing option '--types' (or --reader for a reader key).")
    patterns = [p for value in types for p in split(value)] if types else [ALL]
    store = KeyStore(_path(reader))
    try:
        key = store.create(
            name,
            types=patterns,
            stores=None if stores is None else split(stores),
            users=None if users is None else split(users),
        )
    except KeyStoreError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    bound = "".join(
        f"; {label} {value}" for label, value in (("stores", stores), ("users", users)) if value
    )
    what = "reader key" if reader else f"key for types {', '.join(check(patterns))}{bound}"
    click.echo(
        f"created {what} {name!r} in {store.path}; store it now, it is not shown again:",
        err=True,
    )
    click.echo(key)


@command.command("list")
@click.option("--reader", is_flag=True, help=READER_HELP)
def list_(reader: bool) -> None:
    """Show every key's name, id, dates, types and bound stores/users (never the key)."""
    from producers.gateway import KeyStore

    records = KeyStore(_path(reader)).list()
    click.echo(f"{'NAME':<24} {'ID':<14} {'CREATED':<26} {'REVOKED':<26} TYPES")
    for r in records:
        revoked = r.revoked_at.isoformat(timespec="seconds") if r.revoked_at else "-"
        types = LEGACY_MARK if r.scopes is None else ",".join(r.scopes)
        for label, ids in (("stores", r.stores), ("users", r.users)):
            if ids is not None:
                types += f" {label}={','.join(ids)}"
        created = r.created_at.isoformat(timespec="seconds")
        click.echo(f"{r.name:<24} {r.key_id:<14} {created:<26} {revoked:<26} {types}")
    if any(r.scopes is None and r.active for r in records):
        click.echo(
            f"\n{LEGACY_MARK}: created before keys had types; it may publish every type. "
            "Revoke it and create a new one with --types to narrow it.",
            err=True,
        )


@command.command("revoke")
@click.argument("name")
@click.option("--reader", is_flag=True, help=READER_HELP)
def revoke(name: str, reader: bool) -> None:
    """Revoke the active key called NAME (a running gateway or dashboard refuses it at once)."""
    from producers.gateway import KeyStore, KeyStoreError

    try:
        record = KeyStore(_path(reader)).revoke(name)
    except KeyStoreError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"revoked {record.name} ({record.key_id})")
