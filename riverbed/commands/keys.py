"""``riverbed keys create --name N --types PATTERNS [--stores IDS] [--users IDS]
[--player-tokens] | list | revoke N | player-token --user U``, each with ``--reader``
for the dashboard's reader keys: the gateway's API keys, the event types each may publish
and the stores and users its events may name. Also reachable as ``riverbed gateway keys``.

Only wiring: the keys live in :class:`producers.gateway.KeyStore` at
``settings.gateway_keys_file`` (reader keys at ``settings.dashboard_keys_file``); the
rules are in :mod:`producers.gateway.scopes`, ``.objects`` and ``.player``.
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
@click.option(
    "--player-tokens",
    is_flag=True,
    help="Every request must carry X-Player-Token (signed with "
    "RIVERBED_GATEWAY_PLAYER_TOKEN_SECRET); events may name only its user.",
)
def create(
    name: str,
    reader: bool,
    types: tuple[str, ...],
    stores: str | None,
    users: str | None,
    player_tokens: bool,
) -> None:
    """Create a key and print it once: it cannot be shown again."""
    from producers.gateway import KeyStore, KeyStoreError
    from producers.gateway.scopes import ALL, check, split

    if reader and (types or stores or users or player_tokens):
        raise click.UsageError(
            "a reader key takes no --types, --stores, --users or --player-tokens"
        )
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
            player_tokens=player_tokens,
        )
    except KeyStoreError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    bound = "".join(
        f"; {label} {value}" for label, value in (("stores", stores), ("users", users)) if value
    ) + ("; player tokens required" if player_tokens else "")
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
        if r.player_tokens:
            types += " player-tokens"
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


@command.command("player-token")
@click.option("--user", "user_id", required=True, help="The user the token is issued to.")
@click.option("--ttl", type=click.IntRange(1), default=3600, show_default=True, help="Seconds.")
def player_token(user_id: str, ttl: int) -> None:
    """Print a signed player token (X-Player-Token) for USER, for keys made with
    --player-tokens. Needs RIVERBED_GATEWAY_PLAYER_TOKEN_SECRET, as the gateway does."""
    import time

    from producers.gateway.player import mint

    secret = get_settings().gateway_player_token_secret
    if secret is None:
        click.echo("error: RIVERBED_GATEWAY_PLAYER_TOKEN_SECRET is not set", err=True)
        sys.exit(1)
    try:
        click.echo(mint(secret.get_secret_value(), user_id, int(time.time()) + ttl))
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
