"""``riverbed gateway [--host --port]`` serves the HTTP gateway;
``riverbed gateway keys create --name N | list | revoke N`` manages its API keys.

Only wiring: the app is :func:`producers.gateway.create_app`, the keys live in
:class:`producers.gateway.KeyStore` at ``settings.gateway_keys_file``.
"""

from __future__ import annotations

import sys

import click

from riverbed.settings import get_settings


@click.group("gateway", invoke_without_command=True)
@click.option("--host", default=None, help="Interface to bind [settings.gateway_host].")
@click.option("--port", type=int, default=None, help="Port to bind [settings.gateway_port].")
@click.pass_context
def command(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the HTTP gateway (one worker process), or manage its API keys."""
    if ctx.invoked_subcommand is not None:
        return
    from producers.gateway import create_app
    from producers.gateway.server import serve

    settings = get_settings()
    serve(
        create_app(settings),
        host=host or settings.gateway_host,
        port=port or settings.gateway_port,
        log_level=settings.log_level,
    )


@command.group("keys")
def keys() -> None:
    """Create, list and revoke API keys (stored as scrypt hashes, never in clear)."""


@keys.command("create")
@click.option("--name", required=True, help="Who uses the key; events get source gateway.NAME.")
def create(name: str) -> None:
    """Create a key and print it once: it cannot be shown again."""
    from producers.gateway import KeyStore, KeyStoreError

    store = KeyStore(get_settings().gateway_keys_file)
    try:
        key = store.create(name)
    except KeyStoreError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(
        f"created key {name!r} in {store.path}; store it now, it is not shown again:", err=True
    )
    click.echo(key)


@keys.command("list")
def list_() -> None:
    """Show every key's name, id and dates (never the key)."""
    from producers.gateway import KeyStore

    records = KeyStore(get_settings().gateway_keys_file).list()
    click.echo(f"{'NAME':<24} {'ID':<14} {'CREATED':<26} REVOKED")
    for r in records:
        revoked = r.revoked_at.isoformat(timespec="seconds") if r.revoked_at else "-"
        click.echo(
            f"{r.name:<24} {r.key_id:<14} {r.created_at.isoformat(timespec='seconds'):<26} {revoked}"
        )


@keys.command("revoke")
@click.argument("name")
def revoke(name: str) -> None:
    """Revoke the active key called NAME (a running gateway refuses it at once)."""
    from producers.gateway import KeyStore, KeyStoreError

    try:
        record = KeyStore(get_settings().gateway_keys_file).revoke(name)
    except KeyStoreError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"revoked {record.name} ({record.key_id})")
